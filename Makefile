# The README's commands. `make test` is what CI runs.
.PHONY: test build run bench fuzz web web-test load

GO ?= go

build:
	$(GO) build -o bin/gridledger ./cmd/gridledger

test:
	@unformatted=$$(gofmt -l cmd internal web/embed.go); if [ -n "$$unformatted" ]; then echo "not gofmt-ed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	$(MAKE) web-test

# The dashboard: web/src built by Vite into web/dist, which is committed
# (the binary embeds it, so running gridledger needs no Node).
web/node_modules: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch web/node_modules

web: web/node_modules
	cd web && npm run build

# The browser tests: Debian's Chromium driven by playwright-core against a
# real `gridledger run`. The committed web/dist must be what web/src builds.
web-test: web build
	@if [ -n "$$(git status --porcelain -- web/dist)" ]; then git status --short -- web/dist; echo "web/dist is not what web/src builds: run 'make web' and commit web/dist"; exit 1; fi
	cd web && GRIDLEDGER_BIN=$(CURDIR)/bin/gridledger npm test

# Requests per second the API serves while the community runs (wrk).
load:
	scripts/api-load.sh

run:
	$(GO) run ./cmd/gridledger run

# Benchmarks whose figures the closing notes report.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/market ./internal/contract ./internal/meter/format
	$(GO) test -run '^$$' -bench GatewayReadings -benchtime=300000x ./internal/meter
	$(GO) run ./cmd/gridledger bench tx --txs 30000
	$(GO) run ./cmd/gridledger bench tx --txs 70000 --rate 3500 --members 500
	SIM_SITES=1000 SIM_DAYS=7 $(GO) test -run '^$$' -bench Simulate -benchtime 1x -timeout 0 ./internal/sim

# A short run of every fuzz target.
fuzz:
	@for pkg in ./internal/market ./internal/contract ./internal/reading ./internal/meter ./internal/meter/format; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep ^Fuzz); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg || exit 1; \
	  done; \
	done

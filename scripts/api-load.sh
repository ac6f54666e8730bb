#!/usr/bin/env bash
# Load figures for the REST API (closing note of issue 6): starts the whole
# system (`gridledger run`: validator, broker, a dozen simulated members
# trading every 5 s), then drives the API's read endpoints with Debian's
# wrk while the community runs, one endpoint at a time and then a mix.
#
#   scripts/api-load.sh [seconds per endpoint, default 15] [connections, default 32]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
conns=${2:-32}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
go build -o bin/gridledger ./cmd/gridledger
home=$(mktemp -d)
out=$(mktemp)
bin/gridledger run --home "$home" --api-addr 127.0.0.1:0 --output json >"$out" 2>"$home/run.log" &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$home" "$out"' EXIT
for _ in $(seq 100); do grep -q '"dashboard"' "$out" && break; sleep 0.3; done
url=$(grep -o '"url":"[^"]*"' "$out" | head -1 | cut -d'"' -f4)
[ -n "$url" ] || { echo "gridledger run printed no URL" >&2; cat "$home/run.log" >&2; exit 1; }
echo "API at $url; warming up while the first intervals clear"
sleep 20
mix=$(mktemp --suffix .lua)
cat >"$mix" <<'LUA'
local paths = {"/api/info", "/api/listings/open", "/api/participants", "/api/blocks", "/api/trades", "/api/kpis", "/api/dr", "/"}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA
printf '%-28s %10s %10s %10s\n' endpoint req/s p50 p99
for p in api/info api/listings/open api/participants api/blocks api/kpis "" mix; do
  if [ "$p" = mix ]; then
    res=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$mix" "$url")
  else
    res=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "$url$p")
  fi
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$res")
  p50=$(awk '$1=="50%" {print $2}' <<<"$res")
  p99=$(awk '$1=="99%" {print $2}' <<<"$res")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$res")
  printf '%-28s %10s %10s %10s %s\n' "/$p" "$rps" "$p50" "$p99" "${non2xx:+non-2xx: $non2xx}"
done
rm -f "$mix"
# The community kept trading under the load: the ledger kept clearing.
grep -c '"event":"clearing"' "$out" | xargs echo "clearings printed during the run:"

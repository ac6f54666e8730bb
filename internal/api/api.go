// Package api serves gridledger over HTTP: a REST API described by an
// OpenAPI document (/api/openapi.json), a live stream of what each block
// did (server-sent events, /api/events), and the embedded dashboard at /.
//
// It is a thin adapter around a CometBFT node: reads are ledger queries
// and the node's block store, writes are transactions the member signed
// elsewhere (in the browser, the CLI or an EMS), relayed as they are. The
// API holds no key and signs nothing. Public data (listings, clearing,
// prices, blocks) is open; a member's meter readings, plans and statement
// need a request signed by that member, the operator or the DSO (auth.go).
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	rpcclient "github.com/cometbft/cometbft/rpc/client"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contacts"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/plan"
	"github.com/gridledger/gridledger/internal/kpi"
	"github.com/gridledger/gridledger/internal/reqsig"
)

// Config is what a Server serves.
type Config struct {
	// Node is the validator or full node: in-process (rpc/client/local)
	// or over HTTP.
	Node rpcclient.Client
	// ChainID is signed into every request signature.
	ChainID string
	// Dashboard is the built dashboard (index.html at its root); nil
	// serves the API alone.
	Dashboard fs.FS
	// KPIs, when set, gives the community's KPIs from what the sites
	// really used and made (the simulator knows; a real ledger only sees
	// meters). Nil computes them from the ledger's settlements.
	KPIs func() KPIs
	// Site, when set, gives the site a member's EMS planned the day
	// holding market time t with, for the advice's load-shifting figures.
	Site func(member string, t int64) (plan.Site, bool)
	// App, when the node runs in this process, reports how long blocks
	// take to execute (/metrics).
	App *chain.App
	// Contacts is the operator's off-ledger store of participants'
	// e-mail addresses (internal/contacts); nil on a node that keeps none.
	Contacts *contacts.Store
	// Currency is shown beside money ("€" by default).
	Currency string
	Log      *slog.Logger
	// Now is the wall clock request signatures are checked against.
	Now func() time.Time
}

// KPIs are the community's key figures and its interval-by-interval sums.
type KPIs struct {
	// Source is "simulation" (true loads and generation) or "ledger"
	// (meters only: load is net import, generation net export).
	Source    string          `json:"source"`
	Intervals int64           `json:"intervals"`
	Community kpi.Community   `json:"community"`
	Hours     []kpi.HourPoint `json:"hours"`
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	stream  *stream
	routes  []route
	openapi []byte
	// seen remembers the request signatures already used.
	seen reqsig.Seen
}

// New builds a server; Run starts its live stream.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Currency == "" {
		cfg.Currency = "€"
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.stream = newStream(s)
	s.routes = s.table()
	s.openapi, _ = json.MarshalIndent(s.OpenAPI(), "", "  ")
	for _, rt := range s.routes {
		s.mux.HandleFunc(rt.Method+" "+rt.Path, s.handle(rt))
	}
	s.mux.HandleFunc("GET /api/openapi.json", s.serveOpenAPI)
	s.mux.HandleFunc("GET /api/events", s.stream.serve)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", s.metricsHandler())
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound("no API endpoint %s %s (see /api/openapi.json)", r.Method, r.URL.Path))
	})
	if cfg.Dashboard != nil {
		s.mux.Handle("/", dashboard(cfg.Dashboard))
	}
	return s
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Run follows the node's blocks for the live stream until ctx ends.
func (s *Server) Run(ctx context.Context) { s.stream.run(ctx) }

// Serve serves on l until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelWarn)}
	go s.Run(ctx)
	go func() {
		<-ctx.Done()
		// Live streams never end on their own: give them a moment, then
		// cut them.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if hs.Shutdown(sctx) != nil {
			hs.Close()
		}
	}()
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// dashboard serves the built dashboard; its hashed assets are immutable.
func dashboard(files fs.FS) http.Handler {
	fsrv := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the dashboard is read-only", http.StatusMethodNotAllowed)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		fsrv.ServeHTTP(w, r)
	})
}

// Error is the JSON body of every refusal: the ledger's stable code and
// name where the ledger refused, or one of the API's own (CodeNotFound,
// CodeUnavailable), and a human message.
type Error struct {
	Code    contract.Code `json:"code"`
	Name    string        `json:"name"`
	Message string        `json:"message"`
	status  int
}

// The API's own codes, past the ledger's.
const (
	CodeNotFound    contract.Code = 100
	CodeUnavailable contract.Code = 101
)

// apiCodes are the API's own codes with their names and messages.
var apiCodes = []CodeInfo{
	{CodeNotFound, "not_found", "no such endpoint or object"},
	{CodeUnavailable, "unavailable", "the node did not answer"},
}

// apiError is a refusal with one of the API's own codes.
func apiError(c contract.Code, status int, msg string) *Error {
	return &Error{Code: c, Name: apiCodes[c-CodeNotFound].Name, Message: msg, status: status}
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Name, e.Message) }

func errNotFound(format string, args ...any) *Error {
	return apiError(CodeNotFound, http.StatusNotFound, fmt.Sprintf(format, args...))
}

func errUnavailable(err error) *Error {
	return apiError(CodeUnavailable, http.StatusServiceUnavailable, "the node did not answer: "+err.Error())
}

// badRequest is a malformed request: a bad parameter or body.
func badRequest(format string, args ...any) *Error {
	return ledgerError(contract.CodeMalformed, fmt.Sprintf(format, args...))
}

// ledgerError is a refusal with one of the ledger's codes, with the HTTP
// status a client expects for it.
func ledgerError(c contract.Code, msg string) *Error {
	status := http.StatusUnprocessableEntity
	switch c {
	case contract.CodeMalformed, contract.CodeBadQuantity, contract.CodeBadParams, contract.CodeWrongChain:
		status = http.StatusBadRequest
	case contract.CodeBadSignature:
		status = http.StatusUnauthorized
	case contract.CodeWrongRole, contract.CodeNotOwner, contract.CodeSuspended:
		status = http.StatusForbidden
	case contract.CodeUnknownParticipant, contract.CodeUnknownRES, contract.CodeUnknownListing,
		contract.CodeUnknownOrder, contract.CodeUnknownMeter, contract.CodeUnknownDR:
		status = http.StatusNotFound
	case contract.CodeReplay, contract.CodeDuplicate, contract.CodeGateClosed:
		status = http.StatusConflict
	case contract.CodeRateLimited:
		status = http.StatusTooManyRequests
	}
	return &Error{Code: c, Name: c.Name(), Message: msg, status: status}
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: contract.CodeMalformed, Name: "internal", Message: err.Error(), status: http.StatusInternalServerError}
	}
	writeJSON(w, e.status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if raw, ok := v.(json.RawMessage); ok {
		w.Write(raw)
		return
	}
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

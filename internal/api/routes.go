package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gridledger/gridledger/internal/contacts"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/advice"
	"github.com/gridledger/gridledger/internal/ems/plan"
)

// access is who may call a route.
type access int

const (
	public access = iota
	// private routes name a member ({id}); only that member, the
	// operator and the DSO may read them.
	private
)

// param is a query or path parameter, for the OpenAPI document.
type param struct {
	Name, In, Doc string
	Integer       bool
}

// route is one endpoint: the mux pattern, its documentation, and the
// handler. The OpenAPI document is generated from the same table, so the
// two cannot drift apart.
type route struct {
	Method, Path  string
	Tag, Summary  string
	Access        access
	Params        []param
	Body          any // request body, for the schema
	Resp          any // a value of the response type, for the schema
	fn            func(r *http.Request, c *caller) (any, error)
	successStatus int
}

var (
	pFrom        = param{"from", "query", "Start of the range, market-time UTC seconds (inclusive).", true}
	pTo          = param{"to", "query", "End of the range, market-time UTC seconds (exclusive).", true}
	pStart       = param{"start", "path", "Start of the delivery interval, market-time UTC seconds.", true}
	pID          = param{"id", "path", "Participant id.", false}
	pParticipant = param{"participant", "query", "Only this participant's.", false}
)

func (s *Server) table() []route {
	return []route{
		{Method: "GET", Path: "/api/info", Tag: "ledger", Summary: "Ledger summary: height, market time, money supply, counts, and the market's timing.",
			Resp: Info{}, fn: s.info},
		{Method: "GET", Path: "/api/params", Tag: "ledger", Summary: "The community's parameters: mechanism, tariffs by local hour, interval and gate closure.",
			Resp: contract.Params{}, fn: s.rawPath("/params")},
		{Method: "GET", Path: "/api/codes", Tag: "ledger", Summary: "Every refusal code with its stable name and message.",
			Resp: []CodeInfo{}, fn: s.codes},
		{Method: "GET", Path: "/api/participants", Tag: "registry", Summary: "Participants with their wallets (balance and escrow, nano-units).",
			Resp: []contract.Participant{}, fn: s.rawPath("/participants")},
		{Method: "GET", Path: "/api/participants/{id}", Tag: "registry", Summary: "One participant and its wallet.",
			Params: []param{pID}, Resp: contract.Participant{}, fn: s.participant},
		{Method: "GET", Path: "/api/res", Tag: "registry", Summary: "Renewable generation assets, and whether the DSO approved them.",
			Resp: []contract.RES{}, fn: s.rawPath("/res")},
		{Method: "GET", Path: "/api/batteries", Tag: "registry", Summary: "Batteries: capacity (Wh), maximum charge and discharge power (W), and whether the DSO approved them.",
			Resp: []contract.Battery{}, fn: s.rawPath("/batteries")},
		{Method: "GET", Path: "/api/meters", Tag: "registry", Summary: "Meters and their owners; their last registers only for the operator, the DSO, the meter's owner and its gateway's owner.",
			Resp: []contract.Meter{}, fn: s.meters},
		{Method: "GET", Path: "/api/gateways", Tag: "registry", Summary: "Gateways that sign readings of meters that cannot sign.",
			Resp: []contract.Gateway{}, fn: s.rawPath("/gateways")},
		{Method: "GET", Path: "/api/listings", Tag: "market", Summary: "Listings (one per delivery interval) with their clearing, without books. Default: the last 48 hours and every open one.",
			Params: []param{pFrom, pTo}, Resp: []contract.ListingView{}, fn: s.listings},
		{Method: "GET", Path: "/api/listings/open", Tag: "market", Summary: "The listings still taking orders, with their order books.",
			Resp: []contract.ListingView{}, fn: s.openListings},
		{Method: "GET", Path: "/api/listings/{start}", Tag: "market", Summary: "One listing with its order book and clearing (trades, MCP, grid flows).",
			Params: []param{pStart}, Resp: contract.ListingView{}, fn: s.listing},
		{Method: "GET", Path: "/api/trades", Tag: "market", Summary: "Trades of the listings in a range. Default: the last 48 hours.",
			Params: []param{pFrom, pTo, pParticipant}, Resp: []contract.TradeView{}, fn: s.trades},
		{Method: "GET", Path: "/api/settlements", Tag: "settlement", Summary: "Delivery settlements: totals for everyone; meter readings and members' parts for the operator, DSO and utility, and a member's own part for it. Default: the last 48 hours.",
			Params: []param{pFrom, pTo}, Resp: []contract.Settlement{}, fn: s.settlements},
		{Method: "GET", Path: "/api/settlements/{start}", Tag: "settlement", Summary: "One interval's settlement (same visibility as the list).",
			Params: []param{pStart}, Resp: contract.Settlement{}, fn: s.settlement},
		{Method: "GET", Path: "/api/dr", Tag: "demand response", Summary: "Demand-response requests, members' commitments and their verified response.",
			Resp: []contract.DRRequest{}, fn: s.rawPath("/dr")},
		{Method: "GET", Path: "/api/dr/{id}", Tag: "demand response", Summary: "One demand-response request.",
			Params: []param{{"id", "path", "Request id.", false}}, Resp: contract.DRRequest{}, fn: s.drRequest},
		{Method: "GET", Path: "/api/validators", Tag: "governance", Summary: "The consortium's validator set: each validator's consensus key, voting power and the participant it votes as.",
			Resp: []contract.Validator{}, fn: s.rawPath("/validators")},
		{Method: "GET", Path: "/api/proposals", Tag: "governance", Summary: "Governance proposals (add or remove a validator, new parameters) and their votes; more than 2/3 of the voting power decides.",
			Resp: []contract.Proposal{}, fn: s.rawPath("/proposals")},
		{Method: "GET", Path: "/api/kpis", Tag: "community", Summary: "The community's KPIs (docs/kpis.md) and its load and generation, with and without demand response, interval by interval.",
			Resp: KPIs{}, fn: s.kpis},
		{Method: "GET", Path: "/api/members/{id}/contact", Tag: "members", Summary: "A member's e-mail, kept off the ledger on the operator's node (the ledger holds only its salted hash); empty where none is kept. Only the member and the operator.",
			Access: private, Params: []param{pID}, Resp: contacts.Contact{}, fn: s.contact},
		{Method: "GET", Path: "/api/members/{id}/statement", Tag: "members", Summary: "A member's settled intervals: traded, metered, paid, tokens and savings against the utility alone. Private.",
			Access: private, Params: []param{pID, pFrom, pTo}, Resp: []contract.StatementRow{}, fn: s.memberQuery("/statement")},
		{Method: "GET", Path: "/api/members/{id}/readings", Tag: "members", Summary: "A member's meter readings closing each settled interval. Private.",
			Access: private, Params: []param{pID, pFrom, pTo}, Resp: []contract.IntervalReading{}, fn: s.memberQuery("/readings")},
		{Method: "GET", Path: "/api/members/{id}/plans", Tag: "members", Summary: "A member's committed plans per interval still to settle: net import and flexibility, and for a home with a battery (has_battery) its planned energy (grid side, charged positive) and state of charge at the interval's end. Private.",
			Access: private, Params: []param{pID, pFrom, pTo}, Resp: []contract.PlanEntry{}, fn: s.memberQuery("/plans")},
		{Method: "GET", Path: "/api/members/{id}/advice", Tag: "members", Summary: "A member's advice: savings this month, what its deviations from its trades cost or earned it and what the community netted of them, what shifting each appliance saves, prices to bid and offer. Private.",
			Access: private, Params: []param{pID}, Resp: advice.Advice{}, fn: s.advice},
		{Method: "GET", Path: "/api/blocks", Tag: "explorer", Summary: "The latest blocks, newest first (at most 20).",
			Params: []param{{"before", "query", "Only blocks below this height.", true}, {"limit", "query", "How many (1-20, default 20).", true}},
			Resp:   []BlockSummary{}, fn: s.blocks},
		{Method: "GET", Path: "/api/blocks/{height}", Tag: "explorer", Summary: "One committed block and its transactions, decoded, with their results. A member's plan and demand-response answers show only to a request signed by the member, the operator or the DSO.",
			Params: []param{{"height", "path", "Block height.", true}}, Resp: Block{}, fn: s.block},
		{Method: "GET", Path: "/api/txs/{hash}", Tag: "explorer", Summary: "One committed transaction, decoded, with the Merkle proof that it is in its block, checked against the block header. A member's plan and demand-response answers show only to a request signed by the member, the operator or the DSO.",
			Params: []param{{"hash", "path", "Transaction hash (hex, SHA-256 of its bytes).", false}}, Resp: TxDetail{}, fn: s.tx},
		{Method: "POST", Path: "/api/txs", Tag: "ledger", Summary: "Relay a transaction signed by its participant (see docs/ledger.md for the wire format). The API never signs.",
			Params: []param{{"wait", "query", "\"commit\" waits until the transaction is in a block; otherwise the answer comes once the mempool took it.", false}},
			Body:   SubmitRequest{}, Resp: SubmitResult{}, fn: s.submit, successStatus: http.StatusAccepted},
	}
}

// handle wraps a route: it checks a request signature if one came, the
// route's access, and writes the answer or the error as JSON.
func (s *Server) handle(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r)
		if err == nil && rt.Access == private {
			err = c.mayRead(r.PathValue("id"))
		}
		if err != nil {
			writeError(w, err)
			return
		}
		v, err := rt.fn(r, c)
		if err != nil {
			writeError(w, err)
			return
		}
		status := http.StatusOK
		if rt.successStatus != 0 {
			status = rt.successStatus
		}
		if rt.Access == private || c != nil {
			w.Header().Set("Cache-Control", "private, no-store")
		}
		writeJSON(w, status, v)
	}
}

// raw runs a ledger query and returns its JSON as it is.
func (s *Server) raw(ctx context.Context, path string) (json.RawMessage, error) {
	res, err := s.cfg.Node.ABCIQuery(ctx, path, nil)
	if err != nil {
		return nil, errUnavailable(err)
	}
	if res.Response.Code != 0 {
		return nil, ledgerError(contract.Code(res.Response.Code), res.Response.Log)
	}
	return res.Response.Value, nil
}

func (s *Server) query(ctx context.Context, path string, v any) error {
	raw, err := s.raw(ctx, path)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

func (s *Server) rawPath(path string) func(*http.Request, *caller) (any, error) {
	return func(r *http.Request, _ *caller) (any, error) { return s.raw(r.Context(), path) }
}

// Info is the ledger summary with the market's timing.
type Info struct {
	contract.Info
	Mechanism        string `json:"mechanism"`
	IntervalS        int64  `json:"interval_s"`
	GateClosureS     int64  `json:"gate_closure_s"`
	HorizonIntervals int64  `json:"horizon_intervals"`
	Currency         string `json:"currency"`
	// LatestBlockTime is the wall-clock time of the last block; market
	// time runs TimeScale times faster from there.
	LatestBlockTime time.Time `json:"latest_block_time"`
	Moniker         string    `json:"moniker"`
	CatchingUp      bool      `json:"catching_up"`
}

func (s *Server) info(r *http.Request, _ *caller) (any, error) {
	var in Info
	if err := s.query(r.Context(), "/info", &in.Info); err != nil {
		return nil, err
	}
	var p contract.Params
	if err := s.query(r.Context(), "/params", &p); err != nil {
		return nil, err
	}
	st, err := s.cfg.Node.Status(r.Context())
	if err != nil {
		return nil, errUnavailable(err)
	}
	in.Mechanism, in.IntervalS, in.GateClosureS, in.HorizonIntervals = string(p.Mechanism), p.IntervalS, p.GateClosureS, p.HorizonIntervals
	in.Currency, in.LatestBlockTime, in.Moniker, in.CatchingUp = s.cfg.Currency, st.SyncInfo.LatestBlockTime, st.NodeInfo.Moniker, st.SyncInfo.CatchingUp
	return in, nil
}

// CodeInfo is one refusal code.
type CodeInfo struct {
	Code    contract.Code `json:"code"`
	Name    string        `json:"name"`
	Message string        `json:"message"`
}

func (s *Server) codes(*http.Request, *caller) (any, error) {
	var out []CodeInfo
	for _, c := range contract.Codes() {
		out = append(out, CodeInfo{c.Code, c.Name, c.Message})
	}
	return append(out, apiCodes...), nil
}

func pathID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if err := contract.CheckID(name, v); err != nil {
		return "", badRequest("%v", err)
	}
	return v, nil
}

func pathInt(r *http.Request, name string) (int64, error) {
	v, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil {
		return 0, badRequest("%s %q is not an integer", name, r.PathValue(name))
	}
	return v, nil
}

// queryInt reads an optional integer query parameter.
func queryInt(r *http.Request, name string, def int64) (int64, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, badRequest("%s %q is not an integer", name, raw)
	}
	return v, nil
}

// rangeOf reads from and to (market-time UTC seconds), defaulting to the
// last 48 hours of market time and everything after.
func (s *Server) rangeOf(r *http.Request) (from, to int64, err error) {
	if from, err = queryInt(r, "from", -1); err != nil {
		return 0, 0, err
	}
	if to, err = queryInt(r, "to", 1<<62); err != nil {
		return 0, 0, err
	}
	if from < 0 {
		var in contract.Info
		if err := s.query(r.Context(), "/info", &in); err != nil {
			return 0, 0, err
		}
		from = max(0, in.MarketTime-48*3600)
	}
	return from, to, nil
}

func (s *Server) participant(r *http.Request, _ *caller) (any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return s.raw(r.Context(), "/participants/"+id)
}

// meters asks the ledger with the caller's signature: it drops the
// registers of the meters the caller may not read.
func (s *Server) meters(r *http.Request, c *caller) (any, error) {
	return s.raw(r.Context(), c.signed("/meters"))
}

func (s *Server) listings(r *http.Request, _ *caller) (any, error) {
	from, to, err := s.rangeOf(r)
	if err != nil {
		return nil, err
	}
	return s.raw(r.Context(), fmt.Sprintf("/listings?from=%d&to=%d", from, to))
}

func (s *Server) openListings(r *http.Request, _ *caller) (any, error) {
	var in contract.Info
	if err := s.query(r.Context(), "/info", &in); err != nil {
		return nil, err
	}
	var ls []contract.ListingView
	if err := s.query(r.Context(), fmt.Sprintf("/listings?from=%d&book=1", in.MarketTime), &ls); err != nil {
		return nil, err
	}
	open := []contract.ListingView{}
	for _, l := range ls {
		if l.State == contract.StateAuthorizeOffers && in.MarketTime < l.GateClosure {
			open = append(open, l)
		}
	}
	return open, nil
}

func (s *Server) listing(r *http.Request, _ *caller) (any, error) {
	start, err := pathInt(r, "start")
	if err != nil {
		return nil, err
	}
	return s.raw(r.Context(), fmt.Sprintf("/listing/%d", start))
}

func (s *Server) trades(r *http.Request, _ *caller) (any, error) {
	from, to, err := s.rangeOf(r)
	if err != nil {
		return nil, err
	}
	v := url.Values{"from": {strconv.FormatInt(from, 10)}, "to": {strconv.FormatInt(to, 10)}}
	if p := r.URL.Query().Get("participant"); p != "" {
		if err := contract.CheckID("participant", p); err != nil {
			return nil, badRequest("%v", err)
		}
		v.Set("participant", p)
	}
	return s.raw(r.Context(), "/trades?"+v.Encode())
}

// settlements and settlement ask the ledger with the caller's signature:
// the ledger keeps what the caller may see (contract.RedactSettlements).
func (s *Server) settlements(r *http.Request, c *caller) (any, error) {
	from, to, err := s.rangeOf(r)
	if err != nil {
		return nil, err
	}
	return s.raw(r.Context(), c.signed(fmt.Sprintf("/settlements?from=%d&to=%d", from, to)))
}

func (s *Server) settlement(r *http.Request, c *caller) (any, error) {
	start, err := pathInt(r, "start")
	if err != nil {
		return nil, err
	}
	return s.raw(r.Context(), c.signed(fmt.Sprintf("/settlement/%d", start)))
}

func (s *Server) drRequest(r *http.Request, _ *caller) (any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return s.raw(r.Context(), "/dr/"+id)
}

// memberQuery is a private ledger query about the member in the path,
// signed by the caller: the ledger checks who may read it.
func (s *Server) memberQuery(path string) func(*http.Request, *caller) (any, error) {
	return func(r *http.Request, c *caller) (any, error) {
		id, err := pathID(r, "id")
		if err != nil {
			return nil, err
		}
		from, to, err := s.rangeOf(r)
		if err != nil {
			return nil, err
		}
		v := url.Values{"member": {id}, "from": {strconv.FormatInt(from, 10)}, "to": {strconv.FormatInt(to, 10)}}
		return s.raw(r.Context(), c.signed(path+"?"+v.Encode()))
	}
}

func (s *Server) advice(r *http.Request, c *caller) (any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	l, err := advice.Read(r.Context(), s.query, func(ctx context.Context, path string, v any) error {
		return s.query(ctx, c.signed(path), v)
	}, id)
	if err != nil {
		return nil, err
	}
	var site *plan.Site
	if s.cfg.Site != nil {
		if st, ok := s.cfg.Site(id, l.MarketTime); ok {
			site = &st
		}
	}
	a, err := advice.Compute(id, l.Statement, l.Listings, site)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return a, nil
}

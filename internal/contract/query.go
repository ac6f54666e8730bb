package contract

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gridledger/gridledger/internal/market"
	"github.com/gridledger/gridledger/internal/reqsig"
)

// Info is the ledger's summary.
type Info struct {
	ChainID    string `json:"chain_id"`
	Height     int64  `json:"height"`
	MarketTime int64  `json:"market_time"`
	TimeScale  int64  `json:"time_scale"`
	// Issued − Redeemed is all the money on the ledger.
	Issued   int64 `json:"issued"`
	Redeemed int64 `json:"redeemed"`
	// Balances and Escrow add up every wallet; they must sum to Supply.
	Balances     int64 `json:"balances"`
	Escrow       int64 `json:"escrow"`
	Supply       int64 `json:"supply"`
	Participants int   `json:"participants"`
	Listings     int   `json:"listings"`
	OpenListings int   `json:"open_listings"`
	Orders       int   `json:"orders"`
	Meters       int   `json:"meters"`
	Gateways     int   `json:"gateways"`
	// Unsettled counts cleared listings waiting for delivery settlement.
	Unsettled        int              `json:"unsettled"`
	ReadingsAccepted int64            `json:"readings_accepted"`
	ReadingsRejected map[string]int64 `json:"readings_rejected"`
}

// Info summarises the state.
func (s *State) Info() Info {
	in := Info{
		ChainID: s.info.ChainID, Height: s.height, MarketTime: s.marketTime, TimeScale: s.info.TimeScale,
		Issued: s.info.Issued, Redeemed: s.info.Redeemed, Supply: s.info.Issued - s.info.Redeemed,
		Participants: len(s.participants), Listings: len(s.listings), OpenListings: len(s.open), Orders: len(s.orders),
		Meters: len(s.meters), Gateways: len(s.gateways), Unsettled: len(s.unsettled),
		ReadingsAccepted: s.info.ReadingsAccepted, ReadingsRejected: maps.Clone(s.info.ReadingsRejected),
	}
	for _, id := range sortedKeys(s.participants) {
		p := s.participants[id]
		in.Balances += p.Balance
		in.Escrow += p.Escrow
	}
	return in
}

// Params are the community's current parameters.
func (s *State) Params() Params { return s.params }

// Participant returns a copy of one participant.
func (s *State) Participant(id string) (Participant, bool) {
	p, ok := s.participants[id]
	if !ok {
		return Participant{}, false
	}
	return p.copy(), true
}

// copy is a participant that shares no map with the state's.
func (p *Participant) copy() Participant {
	c := *p
	c.Owes = maps.Clone(p.Owes)
	return c
}

// Participants lists every participant, sorted by id.
func (s *State) Participants() []Participant {
	out := make([]Participant, 0, len(s.participants))
	for _, id := range sortedKeys(s.participants) {
		out = append(out, s.participants[id].copy())
	}
	return out
}

// RESList lists every RES asset, sorted by id.
func (s *State) RESList() []RES {
	out := make([]RES, 0, len(s.res))
	for _, id := range sortedKeys(s.res) {
		out = append(out, *s.res[id])
	}
	return out
}

// Meters lists every meter, sorted by id.
func (s *State) Meters() []Meter {
	out := make([]Meter, 0, len(s.meters))
	for _, id := range sortedKeys(s.meters) {
		m := *s.meters[id]
		m.Last, m.Baseline, m.Rejected = clonePtr(m.Last), clonePtr(m.Baseline), maps.Clone(m.Rejected)
		out = append(out, m)
	}
	return out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// Gateways lists every gateway, sorted by id.
func (s *State) Gateways() []Gateway {
	out := make([]Gateway, 0, len(s.gateways))
	for _, id := range sortedKeys(s.gateways) {
		out = append(out, *s.gateways[id])
	}
	return out
}

// Settlement returns the settlement of the interval starting at start.
func (s *State) Settlement(start int64) (Settlement, bool) {
	st, ok := s.settlements[start]
	if !ok {
		return Settlement{}, false
	}
	return *st, true
}

// Settlements lists the settlements of intervals starting in [from, to).
func (s *State) Settlements(from, to int64) []Settlement {
	out := []Settlement{}
	for _, l := range s.Listings(from, to, false) {
		if st, ok := s.settlements[l.Start]; ok {
			out = append(out, *st)
		}
	}
	return out
}

// StatementRow is one settled interval of a member's statement: what it
// traded and paid in the market, what its meters measured, what it settled
// with the utility, and its energy tokens. Money in nano-units.
// Some JSON tags lack the unit the field name carries: see Units in the
// package doc.
type StatementRow struct {
	Interval int64 `json:"interval"`
	// Market (clearing).
	BoughtWh        int64  `json:"bought_wh"`
	SoldWh          int64  `json:"sold_wh"`
	PaidP2PNano     int64  `json:"paid_p2p"`
	ReceivedP2PNano int64  `json:"received_p2p"`
	MCPPerKWh       *int64 `json:"mcp"`
	// The interval's tariffs and, under the community imbalance rule, the
	// price its deviations netted at.
	GridPricePerKWh int64 `json:"grid_price_per_kwh"`
	FeedInPerKWh    int64 `json:"feed_in_per_kwh"`
	PoolPricePerKWh int64 `json:"pool_price_per_kwh,omitempty"`
	// Delivery (settlement).
	MemberSettlement
	// NetNano is everything received minus everything paid in the interval
	// (demand-response incentives and payments between members at
	// settlement included).
	NetNano int64 `json:"net"`
	// UtilityOnlyNano is what the same metered energy would have netted with
	// the utility alone (export × feed-in − import × grid): Net minus this
	// is what the community market saved the member.
	UtilityOnlyNano int64 `json:"utility_only"`
}

// Statement lists a member's settled intervals starting in [from, to).
func (s *State) Statement(member string, from, to int64) ([]StatementRow, error) {
	if _, ok := s.participants[member]; !ok {
		return nil, errf(ErrUnknownParticipant, "%q", member)
	}
	rows := []StatementRow{}
	for _, st := range s.Settlements(from, to) {
		l := s.listings[st.Start]
		row := StatementRow{Interval: st.Start, MCPPerKWh: l.Clearing.clone().MCP, GridPricePerKWh: st.GridPricePerKWh,
			FeedInPerKWh: st.FeedInPerKWh, PoolPricePerKWh: st.PoolPricePerKWh}
		found := false
		for _, m := range st.Members {
			if m.ID == member {
				row.MemberSettlement, found = m, true
			}
		}
		for _, t := range l.Clearing.Trades {
			v := mustValue(t.Wh, t.PricePerKWh)
			if t.Buyer == member {
				row.BoughtWh += t.Wh
				row.PaidP2PNano += v
				found = true
			}
			if t.Seller == member {
				row.SoldWh += t.Wh
				row.ReceivedP2PNano += v
				found = true
			}
		}
		if !found {
			continue
		}
		row.ID = member
		row.NetNano = row.ReceivedP2PNano - row.PaidP2PNano + row.ReceivedFromUtilityNano - row.PaidToUtilityNano + row.DRIncentiveNano +
			row.MembersReceivedNano - row.MembersPaidNano
		row.UtilityOnlyNano = cappedValue(row.ExportWh, st.FeedInPerKWh) - cappedValue(row.ImportWh, st.GridPricePerKWh)
		rows = append(rows, row)
	}
	return rows, nil
}

// MemberPlans lists a member's committed plans for intervals starting in
// [from, to), in time order.
func (s *State) MemberPlans(member string, from, to int64) ([]PlanEntry, error) {
	if _, ok := s.participants[member]; !ok {
		return nil, errf(ErrUnknownParticipant, "%q", member)
	}
	out := []PlanEntry{}
	for start, byMember := range s.plans {
		if p, ok := byMember[member]; ok && start >= from && start < to {
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(a, b PlanEntry) int { return cmp.Compare(a.Start, b.Start) })
	return out, nil
}

// MemberReadings lists the closing readings of a member's meters in the
// settled intervals starting in [from, to), in time order.
func (s *State) MemberReadings(member string, from, to int64) ([]IntervalReading, error) {
	if _, ok := s.participants[member]; !ok {
		return nil, errf(ErrUnknownParticipant, "%q", member)
	}
	out := []IntervalReading{}
	for _, st := range s.Settlements(from, to) {
		for _, r := range st.Readings {
			if m, ok := s.meters[r.Meter]; ok && m.Owner == member {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// ListingView is a listing with its order book.
type ListingView struct {
	Listing
	Book []Order `json:"book"`
}

// Listings returns the listings starting in [from, to), ascending, with
// their books when withBook is set.
func (s *State) Listings(from, to int64, withBook bool) []ListingView {
	i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i] >= from })
	var out []ListingView
	for ; i < len(s.starts) && s.starts[i] < to; i++ {
		out = append(out, s.listingView(s.listings[s.starts[i]], withBook))
	}
	return out
}

// ListingsBrief returns the listings starting in [from, to) without their
// books, and their clearings without trades and grid flows: the prices and
// totals an EMS reads every interval, at a fraction of the copying.
func (s *State) ListingsBrief(from, to int64) []ListingView {
	i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i] >= from })
	var out []ListingView
	for ; i < len(s.starts) && s.starts[i] < to; i++ {
		l := s.listings[s.starts[i]]
		v := ListingView{Listing: *l, Book: []Order{}}
		if c := l.Clearing; c != nil {
			brief := *c
			brief.MCP = clonePtr(c.MCP)
			brief.Trades, brief.GridImport, brief.GridExport = nil, nil, nil
			v.Clearing = &brief
		}
		out = append(out, v)
	}
	return out
}

// Listing returns one listing and its book.
func (s *State) Listing(start int64) (ListingView, bool) {
	l, ok := s.listings[start]
	if !ok {
		return ListingView{}, false
	}
	return s.listingView(l, true), true
}

func (s *State) listingView(l *Listing, withBook bool) ListingView {
	v := ListingView{Listing: *l, Book: []Order{}}
	v.Clearing = l.Clearing.clone() // callers must not reach into the state
	if withBook {
		for _, o := range l.orders {
			v.Book = append(v.Book, *o)
		}
	}
	return v
}

// clone copies a clearing record deeply enough that nothing is shared.
func (c *Clearing) clone() *Clearing {
	if c == nil {
		return nil
	}
	d := *c
	if c.MCP != nil {
		mcp := *c.MCP
		d.MCP = &mcp
	}
	d.Trades = slices.Clone(c.Trades)
	d.GridImport = slices.Clone(c.GridImport)
	d.GridExport = slices.Clone(c.GridExport)
	return &d
}

// Order returns one order.
func (s *State) Order(id string) (Order, bool) {
	o, ok := s.orders[id]
	if !ok {
		return Order{}, false
	}
	return *o, true
}

// TradeView is a trade with the listing it cleared in.
type TradeView struct {
	Listing int64 `json:"listing"`
	market.Trade
	// Value is what the buyer paid the seller, nano-units.
	Value int64 `json:"value"`
}

// Trades lists the trades of listings starting in [from, to), optionally
// only those of one participant.
func (s *State) Trades(from, to int64, participant string) []TradeView {
	out := []TradeView{}
	for _, l := range s.Listings(from, to, false) {
		if l.Clearing == nil {
			continue
		}
		for _, t := range l.Clearing.Trades {
			if participant == "" || t.Buyer == participant || t.Seller == participant {
				out = append(out, TradeView{Listing: l.Start, Trade: t, Value: mustValue(t.Wh, t.PricePerKWh)})
			}
		}
	}
	return out
}

// Query answers a read-only request by path, as the ABCI Query method and
// the API see it, in JSON; queryRoutes lists the paths.
//
// Query is the in-process reader's (the simulator's, the node's own
// services'): it serves everything, private data included, and ignores any
// request signature. Whatever answers outsiders (abci_query) must use
// PublicQuery.
func (s *State) Query(path string) ([]byte, error) {
	return s.query(path, nil, true)
}

// PublicQuery answers a query from outside the process, as the ABCI Query
// method does: private data (a member's /readings, /plans and /statement,
// the members' /plans/START, the members' part of /settlement/START and
// /settlements, and the meters' registers in /meters) only for a query signed by whom may read it
// (access.go); seen remembers the signatures already used.
func (s *State) PublicQuery(path string, seen *reqsig.Seen) ([]byte, error) {
	return s.query(path, seen, false)
}

// queryReq is one query, parsed: its path's arguments (the segments after
// the first), its parameters and who asks.
type queryReq struct {
	args    []string
	params  url.Values
	caller  *QueryCaller
	trusted bool // in-process: everything is served
}

// span is the from and to parameters (market-time seconds), by default
// everything.
func (r *queryReq) span() (from, to int64, err error) {
	from, to = 0, 1<<62
	for _, p := range []struct {
		name string
		v    *int64
	}{{"from", &from}, {"to", &to}} {
		if raw := r.params.Get(p.name); raw != "" {
			if *p.v, err = strconv.ParseInt(raw, 10, 64); err != nil {
				return 0, 0, fmt.Errorf("from and to must be integers (market-time seconds)")
			}
		}
	}
	return from, to, nil
}

// start is the path's argument i as an interval's start.
func (r *queryReq) start(i int, what string) (int64, error) {
	v, err := strconv.ParseInt(r.args[i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s start %q is not an integer", what, r.args[i])
	}
	return v, nil
}

// allowed refuses private data to whom may not read it (err is the
// caller's check); in-process queries read everything.
func (r *queryReq) allowed(err error) error {
	if r.trusted {
		return nil
	}
	return err
}

// memberSpan is the member, from and to of a member's private query,
// once the caller may read that member's data.
func (r *queryReq) memberSpan() (member string, from, to int64, err error) {
	if from, to, err = r.span(); err != nil {
		return "", 0, 0, err
	}
	member = r.params.Get("member")
	return member, from, to, r.allowed(r.caller.MayRead(member))
}

// queryRoutes are the query paths, with what each answers. A path is its
// first segment and a placeholder for each argument; parameters follow
// '?'. The private ones check their caller (access.go).
var queryRoutes = []struct {
	path, doc string
	answer    func(s *State, r *queryReq) (any, error)
}{
	{"/info", "ledger summary", func(s *State, _ *queryReq) (any, error) { return s.Info(), nil }},
	{"/params", "community parameters", func(s *State, _ *queryReq) (any, error) { return s.params, nil }},
	{"/participants", "participants with wallets", func(s *State, _ *queryReq) (any, error) { return s.Participants(), nil }},
	{"/participants/ID", "one participant", func(s *State, r *queryReq) (any, error) {
		p, ok := s.Participant(r.args[0])
		if !ok {
			return nil, errf(ErrUnknownParticipant, "%q", r.args[0])
		}
		return p, nil
	}},
	{"/res", "renewable assets", func(s *State, _ *queryReq) (any, error) { return s.RESList(), nil }},
	{"/batteries", "batteries: capacity, power, approval", func(s *State, _ *queryReq) (any, error) { return s.Batteries(), nil }},
	{"/meters", "meters; their registers only for whom may read them", func(s *State, r *queryReq) (any, error) {
		if r.trusted {
			return s.Meters(), nil
		}
		return s.redactMeters(r.caller, s.Meters()), nil
	}},
	{"/gateways", "gateway devices", func(s *State, _ *queryReq) (any, error) { return s.Gateways(), nil }},
	{"/departures", "members who left", func(s *State, _ *queryReq) (any, error) { return s.Departures(), nil }},
	{"/settlement/START", "one interval's settlement", func(s *State, r *queryReq) (any, error) {
		start, err := r.start(0, "settlement")
		if err != nil {
			return nil, err
		}
		st, ok := s.Settlement(start)
		if !ok {
			return nil, errf(ErrUnknownListing, "no settlement for the interval starting at %d", start)
		}
		return r.redact(s, []Settlement{st})[0], nil
	}},
	{"/settlements?from=&to=", "settlements", func(s *State, r *queryReq) (any, error) {
		from, to, err := r.span()
		if err != nil {
			return nil, err
		}
		return r.redact(s, s.Settlements(from, to)), nil
	}},
	{"/statement?member=&from=&to=", "a member's statement", func(s *State, r *queryReq) (any, error) {
		member, from, to, err := r.memberSpan()
		if err != nil {
			return nil, err
		}
		return s.Statement(member, from, to)
	}},
	{"/plans?member=&from=&to=", "a member's committed plans", func(s *State, r *queryReq) (any, error) {
		member, from, to, err := r.memberSpan()
		if err != nil {
			return nil, err
		}
		return s.MemberPlans(member, from, to)
	}},
	{"/readings?member=&from=&to=", "readings of a member's meters in settled intervals", func(s *State, r *queryReq) (any, error) {
		member, from, to, err := r.memberSpan()
		if err != nil {
			return nil, err
		}
		return s.MemberReadings(member, from, to)
	}},
	{"/plans/START", "every member's committed plan for an interval", func(s *State, r *queryReq) (any, error) {
		start, err := r.start(0, "plans")
		if err != nil {
			return nil, err
		}
		if err := r.allowed(r.caller.mayReadPlans()); err != nil {
			return nil, err
		}
		return s.Plans(start), nil
	}},
	{"/listings?from=&to=&book=1", "listings (market-time seconds)", func(s *State, r *queryReq) (any, error) {
		from, to, err := r.span()
		if err != nil {
			return nil, err
		}
		ls := s.Listings(from, to, r.params.Get("book") != "" && r.params.Get("book") != "0")
		if ls == nil {
			ls = []ListingView{}
		}
		return ls, nil
	}},
	{"/trades?from=&to=&participant=", "trades, of one participant or all", func(s *State, r *queryReq) (any, error) {
		from, to, err := r.span()
		if err != nil {
			return nil, err
		}
		return s.Trades(from, to, r.params.Get("participant")), nil
	}},
	{"/listing/START", "one listing with its book and clearing", func(s *State, r *queryReq) (any, error) {
		start, err := r.start(0, "listing")
		if err != nil {
			return nil, err
		}
		l, ok := s.Listing(start)
		if !ok {
			return nil, errf(ErrUnknownListing, "no listing starts at %d", start)
		}
		return l, nil
	}},
	{"/order/SIGNER/NONCE", "one order", func(s *State, r *queryReq) (any, error) {
		id := r.args[0] + "/" + r.args[1]
		o, ok := s.Order(id)
		if !ok {
			return nil, errf(ErrUnknownOrder, "%q", id)
		}
		return o, nil
	}},
	{"/validators", "the validator set", func(s *State, _ *queryReq) (any, error) { return s.Validators(), nil }},
	{"/proposals", "governance proposals", func(s *State, _ *queryReq) (any, error) { return s.Proposals(), nil }},
	{"/dr", "demand-response requests", func(s *State, _ *queryReq) (any, error) { return s.DRs(), nil }},
	{"/dr/ID", "one request, with commits and verification", func(s *State, r *queryReq) (any, error) {
		d, ok := s.DR(r.args[0])
		if !ok {
			return nil, errf(ErrUnknownDR, "%q", r.args[0])
		}
		return d, nil
	}},
}

// routeByShape indexes queryRoutes by a path's first segment and number of
// arguments ("participants/1").
var routeByShape = func() map[string]int {
	m := map[string]int{}
	for i, rt := range queryRoutes {
		path, _, _ := strings.Cut(rt.path, "?")
		parts := strings.Split(strings.Trim(path, "/"), "/")
		shape := fmt.Sprintf("%s/%d", parts[0], len(parts)-1)
		if _, dup := m[shape]; dup {
			panic("contract: two query routes of shape " + shape)
		}
		m[shape] = i
	}
	return m
}()

// redact is what the caller may see of settlements.
func (r *queryReq) redact(s *State, sts []Settlement) []Settlement {
	if r.trusted {
		return sts
	}
	return RedactSettlements(r.caller, sts, s.meterOwner)
}

func (s *State) query(path string, seen *reqsig.Seen, trusted bool) ([]byte, error) {
	u, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("bad query path %q: %v", path, err)
	}
	r := &queryReq{params: u.Query(), trusted: trusted}
	if !trusted {
		if r.caller, err = s.queryCaller(u, seen); err != nil {
			return nil, err
		}
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	i, ok := routeByShape[fmt.Sprintf("%s/%d", parts[0], len(parts)-1)]
	if !ok {
		return nil, fmt.Errorf("unknown query path %q", u.Path)
	}
	r.args = parts[1:]
	v, err := queryRoutes[i].answer(s, r)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

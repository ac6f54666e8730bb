package contract_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

// Delivery settlement (settle.go): its rules, one at a time with every
// figure worked out by hand, are testdata/script/settlement; here are the
// world the Go tests share and the tests that reload or copy state.
//
// The world: alice sells from her approved 10 kW PV (meter m-alice, own
// key, on pv-alice); bob buys (meter m-bob, read and signed by his home
// gateway gw-home); the utility holds 10 units to pay feed-in with. Every
// trade is in the 02:00 listing (hour 2: grid 65,000, feed-in 39,000 per
// kWh): alice offers at 40,000, bob bids at 50,000, so average-bid clears
// at MCP 50,000 and a Wh costs bob 50,000 nano-units. Each meter reads at
// 02:00 (before the first listing: its baseline) and at 03:00 (closing the
// interval (02:00, 03:00]), and the 03:00 block settles.

const (
	grid2 = 65_000 // hour 2's grid price, per kWh
	feed2 = 39_000 // hour 2's feed-in
	mcp2  = 50_000
)

type settleWorld struct {
	*harness
	alice, bob *device
}

// newSettleWorld settles by the utility imbalance rule, whose rules these
// tests state one by one; testdata/script/imbalance has the community rule's.
func newSettleWorld(t testing.TB, mutate ...func(*contract.Genesis)) *settleWorld {
	utilityRule := func(g *contract.Genesis) { g.Params.Imbalance = contract.ImbalanceUtility }
	return newWorld(t, append([]func(*contract.Genesis){utilityRule}, mutate...)...)
}

func newWorld(t testing.TB, mutate ...func(*contract.Genesis)) *settleWorld {
	h := newHarness(t, mutate...)
	h.members("alice", "bob", "carol")
	h.issue("bob", unit)
	h.issue("utility", 10*unit)
	h.approvedRES("alice", "pv-alice", 10_000)
	h.gateway("gw-home", "bob")
	w := &settleWorld{harness: h}
	w.alice = h.meterOwnKey("m-alice", "alice", "pv-alice")
	w.bob = h.meterVia("m-bob", "bob", "gw-home", "")
	return w
}

// trade has alice sell bob wh in the 02:00 listing, cleared at 01:00.
func (w *settleWorld) trade(wh int64) {
	w.t.Helper()
	w.offer("alice", "pv-alice", at(2, 0), wh, 40_000)
	w.bid("bob", at(2, 0), wh, mcp2)
	w.blockAt(at(1, 0))
	if c := w.listing(at(2, 0)).Clearing; c == nil || c.TradedWh != wh || *c.MCP != mcp2 {
		w.t.Fatalf("clearing %+v", c)
	}
}

// metered is what one meter measures in the 02:00 interval.
type metered struct {
	d              *device
	imp, exp, prod int64
}

// Baseline registers: a meter has measured something before 02:00, so
// that energy is always closing minus baseline, never the raw registers.
const baseImp, baseExp, baseProd = 7_000, 3_000, 11_000

// settle2 reads every meter at 02:00 and at 03:00, makes the 03:00 block
// and returns the settlement of the 02:00 interval.
func (w *settleWorld) settle2(ms ...metered) contract.Settlement {
	w.t.Helper()
	var base, closing []contract.ReadingEntry
	for _, m := range ms {
		base = append(base, m.d.read(at(2, 0), baseImp, baseExp, baseProd))
		closing = append(closing, m.d.read(at(3, 0), baseImp+m.imp, baseExp+m.exp, baseProd+m.prod))
	}
	w.readOK(at(1, 3500), base...)    // dated 02:00, within the 120 s skew
	w.readOK(at(2, 3500), closing...) // dated 03:00
	if _, ok := w.s.Settlement(at(2, 0)); ok {
		w.t.Fatal("settled before the interval ended")
	}
	w.blockAt(at(3, 0))
	st, ok := w.s.Settlement(at(2, 0))
	if !ok {
		w.t.Fatalf("02:00 not settled at 03:00: %+v", w.listing(at(2, 0)).State)
	}
	if l := w.listing(at(2, 0)); l.State != contract.StateSettled {
		w.t.Fatalf("listing %s after settlement", l.State)
	}
	return st
}

func member(t *testing.T, st contract.Settlement, id string) contract.MemberSettlement {
	t.Helper()
	for _, m := range st.Members {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("%s not in settlement %+v", id, st.Members)
	return contract.MemberSettlement{}
}

func expectMember(t *testing.T, st contract.Settlement, want contract.MemberSettlement) {
	t.Helper()
	if got := member(t, st, want.ID); got != want {
		t.Errorf("%s:\n got %+v\nwant %+v", want.ID, got, want)
	}
}

// The seed example, used by rules 1, 2 and 5: alice produced 3000 Wh,
// exported 2500 and sold bob 2000; bob imported exactly his 2000.
//
//	minted      3000 (rule 1: all production of an approved RES)
//	self-retired 500 = 3000 − 2500, used on site (rule 2)
//	delivered   2000 = min(sold 2000, min(3000, 2500)), sent to bob (rule 3)
//	exported     500 tokens; grid export 2500 − 2000 = 500 Wh at feed-in:
//	             500 × 39,000 = 19,500,000 (rule 5)
//	bob retires his 2000 received tokens against his 2000 Wh import (rule 6)
//
// Wallets: alice 2000 × 50,000 = 100,000,000 from clearing + 19,500,000;
// bob 1,000,000,000 − 100,000,000; the utility pays the 19,500,000.
func seedExample(t *testing.T) (*settleWorld, contract.Settlement) {
	w := newSettleWorld(t)
	w.trade(2000)
	return w, w.settle2(metered{w.alice, 0, 2500, 3000}, metered{w.bob, 2000, 0, 0})
}

func i64s(v int64) string { return strconv.FormatInt(v, 10) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A listing whose gate closes before an earlier listing's (the gate
// closure grew between their openings) clears first, but still settles
// after it: settlement follows delivery, not gate closure. And a node that
// reloads its state in between settles exactly as one that did not.
//
// Half-hour intervals with the gate at delivery (0 s), three ahead; at
// 00:00:03 the gate closure becomes an hour. The 02:00 listing, opened at
// 00:30:01, closes at 01:00, before 01:30's, which keeps its old gate.
// The meter reads at 01:00 (baseline), 02:00 (closing (01:30, 02:00]) and
// 02:30 (closing (02:00, 02:30]): 100 Wh then 200 Wh imported.
func TestIntervalsSettleInDeliveryOrderWhenGatesCross(t *testing.T) {
	const half = 1800
	h := newHarness(t, func(g *contract.Genesis) {
		g.Params.IntervalS, g.Params.GateClosureS, g.Params.HorizonIntervals = half, 0, 3
	})
	h.members("alice")
	h.issue("alice", unit)
	alice := h.meterOwnKey("m-alice", "alice", "")
	p := h.s.Params()
	p.GateClosureS = 3600
	h.ok("operator", &contract.MsgSetParams{Params: p})
	h.blockAt(at(0, half+1))
	if l := h.listing(at(2, 0)); l.GateClosure != at(1, 0) || h.listing(at(1, half)).GateClosure != at(1, half) {
		t.Fatalf("gates: 02:00 at %d, 01:30 at %d", l.GateClosure, h.listing(at(1, half)).GateClosure)
	}
	h.readOK(at(0, 3550), alice.read(at(1, 0), 0, 0, 0))
	h.blockAt(at(1, 0))    // 01:00 and 02:00 clear
	h.blockAt(at(1, half)) // 01:30 clears
	loaded, err := contract.Load(h.entries(), h.height, h.mt)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		mt      int64
		entries []contract.ReadingEntry
	}{
		{at(1, 3590), []contract.ReadingEntry{alice.read(at(2, 0), 100, 0, 0)}},
		{at(2, 0), nil}, // 01:30 has ended and its meter reported
		{at(2, half-10), []contract.ReadingEntry{alice.read(at(2, half), 300, 0, 0)}},
		{at(2, half), nil},
	}
	for _, st := range steps {
		var txs [][]byte
		if st.entries != nil {
			txs = append(txs, h.tx("operator", &contract.MsgReadings{Readings: st.entries}))
		}
		h.height++
		var commits [2]contract.Commitment
		for i, s := range []*contract.State{h.s, loaded} {
			s.BeginBlock(h.height, st.mt*ns)
			expectCodes(t, s.DeliverTxs(txs), make([]contract.Code, len(txs))...)
			commits[i], _ = s.EndBlock()
		}
		h.mt = st.mt
		h.record(commits[0])
		if !bytes.Equal(commits[0].AppHash, commits[1].AppHash) || !reflect.DeepEqual(commits[0].Writes, commits[1].Writes) {
			t.Fatalf("at %d the reloaded node diverges", st.mt)
		}
		if st.mt == at(2, 0) {
			if _, ok := h.s.Settlement(at(1, half)); !ok {
				t.Fatal("01:30 ended with its meter read, but waits behind 02:00")
			}
		}
	}
	st15, ok1 := h.s.Settlement(at(1, half))
	st2, ok2 := h.s.Settlement(at(2, 0))
	if !ok1 || !ok2 || st15.Height >= st2.Height {
		t.Fatalf("01:30 settled at %d, 02:00 at %d", st15.Height, st2.Height)
	}
	// 01:30 (hour 1: 65,000) and 02:00 (hour 2: 65,000).
	expectMember(t, st15, contract.MemberSettlement{ID: "alice", ImportWh: 100, GridImportWh: 100, PaidToUtilityNano: 100 * 65_000})
	expectMember(t, st2, contract.MemberSettlement{ID: "alice", ImportWh: 200, GridImportWh: 200, PaidToUtilityNano: 200 * grid2})
}

// The settlement queries answer what the accessors do (the statement's
// figures: testdata/script/settlement).
func TestSettlementQueries(t *testing.T) {
	w, st := seedExample(t)
	for path, want := range map[string]any{
		"/settlement/" + i64s(at(2, 0)): st,
		"/settlements":                  w.s.Settlements(0, forever),
		"/settlements?from=" + i64s(at(2, 0)) + "&to=" + i64s(at(2, 1)): []contract.Settlement{st},
		"/settlements?from=" + i64s(at(2, 1)) + "&to=" + i64s(at(3, 0)): []contract.Settlement{},
		"/gateways": []contract.Gateway{{ID: "gw-home", Owner: "bob", PubKey: pubOf(gwKeyID("gw-home"))}},
		"/statement?member=alice&from=" + i64s(at(2, 0)) + "&to=" + i64s(at(3, 0)): must(w.s.Statement("alice", 0, forever)),
		"/statement?member=bob&from=" + i64s(at(2, 0)) + "&to=" + i64s(at(3, 0)):   must(w.s.Statement("bob", 0, forever)),
	} {
		got, err := w.s.Query(path)
		if err != nil || !bytes.Equal(got, must(json.Marshal(want))) {
			t.Errorf("%s: %v\n%s", path, err, got)
		}
	}
	if _, err := w.s.Query("/settlement/" + i64s(at(3, 0))); contract.CodeOf(err) != contract.CodeUnknownListing {
		t.Errorf("unsettled interval: %v", err)
	}
	if _, err := w.s.Query("/settlement/x"); err == nil {
		t.Error("non-numeric start accepted")
	}
}

// With retain_intervals set, a settled listing stays queryable for that
// long after it ends, then leaves the state with its orders and its
// settlement; money is untouched and a node restarted from the persisted
// writes reaches the same app hash.
func TestSettledListingsArePrunedAfterTheirRetention(t *testing.T) {
	w := newSettleWorld(t, func(g *contract.Genesis) { g.Params.RetainIntervals = 36 })
	w.trade(1000)
	bid := w.lastOrder("bob")
	w.settle2(metered{w.alice, 0, 1000, 1000}, metered{w.bob, 1000, 0, 0})
	end := at(3, 0)
	w.blockAt(end + 36*3600 - 1)
	if _, ok := w.s.Settlement(at(2, 0)); !ok {
		t.Fatal("settlement pruned before its retention ended")
	}
	w.blockAt(end + 36*3600)
	if _, ok := w.s.Settlement(at(2, 0)); ok {
		t.Error("settlement kept past its retention")
	}
	if _, ok := w.s.Listing(at(2, 0)); ok {
		t.Error("listing kept past its retention")
	}
	if _, ok := w.s.Order(bid); ok {
		t.Error("order kept past its retention")
	}
	if ls := w.s.Listings(0, end+40*3600, false); len(ls) == 0 || ls[0].Start <= at(2, 0) {
		t.Errorf("listings from %v on remain", ls[0].Start)
	}
	w.conserved()
	loaded, err := contract.Load(w.entries(), w.height, w.mt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loaded.AppHash(), w.s.AppHash()) {
		t.Error("a restarted node's app hash differs after pruning")
	}
}

// ListingsBrief is Listings without books, trades and grid flows: the
// same listings, states, prices and clearing figures.
func TestListingsBriefKeepsThePricesAndDropsTheTrades(t *testing.T) {
	w := newSettleWorld(t)
	w.trade(1000)
	full, brief := w.s.Listings(0, at(30, 0), true), w.s.ListingsBrief(0, at(30, 0))
	if len(full) != len(brief) || len(full) == 0 {
		t.Fatalf("%d listings, %d brief", len(full), len(brief))
	}
	for i, f := range full {
		b := brief[i]
		if b.Start != f.Start || b.State != f.State || b.GridPricePerKWh != f.GridPricePerKWh || len(b.Book) != 0 {
			t.Errorf("listing %d: brief %+v, full %+v", f.Start, b.Listing, f.Listing)
		}
		if (f.Clearing == nil) != (b.Clearing == nil) {
			t.Fatalf("listing %d: clearing %v, brief %v", f.Start, f.Clearing, b.Clearing)
		}
		if c := b.Clearing; c != nil {
			if *c.MCP != *f.Clearing.MCP || c.TradedWh != f.Clearing.TradedWh || c.Trades != nil || len(f.Clearing.Trades) == 0 {
				t.Errorf("listing %d: brief clearing %+v", f.Start, c)
			}
			*c.MCP = 1 // the brief shares nothing with the state
		}
	}
	if c := w.listing(at(2, 0)).Clearing; *c.MCP != mcp2 {
		t.Errorf("changing a brief listing changed the state: MCP %d", *c.MCP)
	}
}

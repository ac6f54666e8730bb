package contract_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
)

// Delivery settlement (settle.go), one rule at a time, with every figure
// worked out by hand.
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
// tests state one by one; imbalance_test.go has the community rule's.
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

func expectTotals(t *testing.T, st contract.Settlement, want contract.SettlementTotals) {
	t.Helper()
	if st.Totals != want {
		t.Errorf("totals %+v, want %+v", st.Totals, want)
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

// Rule 1: tokens are minted, 1 per Wh, for the metered production of an
// approved RES: 3000 Wh produced, 3000 minted (and the ledger's totals
// say so). An unapproved RES mints nothing: TestSettleUnapprovedRESMintsNothing.
func TestSettleRule1MintsOnePerWhProduced(t *testing.T) {
	_, st := seedExample(t)
	if a := member(t, st, "alice"); a.ProductionWh != 3000 || a.TokensMintedWh != 3000 || st.Totals.MintedWh != 3000 {
		t.Errorf("alice %+v, totals %+v", a, st.Totals)
	}
	if b := member(t, st, "bob"); b.TokensMintedWh != 0 {
		t.Errorf("bob, with no RES, minted %d", b.TokensMintedWh)
	}
}

// Rule 2: what alice produced but did not export (3000 − 2500 = 500 Wh)
// was used on site: 500 tokens retired at once; the totals' 2500 retired
// are those 500 and bob's 2000.
func TestSettleRule2RetiresSelfConsumption(t *testing.T) {
	_, st := seedExample(t)
	if a := member(t, st, "alice"); a.TokensSelfRetiredWh != 500 || st.Totals.RetiredWh != 500+2000 {
		t.Errorf("alice %+v, totals %+v", a, st.Totals)
	}
}

// Rule 3: a seller delivers min(sold, min(production, export)), trade by
// trade in clearing order. alice offers 2000 Wh; bob, then carol, bid 1000
// each at 50,000 (equal prices: served in arrival order), so the trades
// are bob's 1000 then carol's 1000. alice produces and exports 1500:
//
//	delivered 1500: bob's trade gets 1000 tokens, carol's the other 500
//	shortfall 500 × 65,000 = 32,500,000 (rule 4)
//	bob and carol each imported 1000: they retire what they received
//	(1000 and 500), owe nothing more (they bought what they used)
//
// alice: 2000 × 50,000 − 32,500,000 = 67,500,000.
func TestSettleRule3DeliversTradeByTrade(t *testing.T) {
	w := newSettleWorld(t)
	w.issue("carol", unit)
	carol := w.meterOwnKey("m-carol", "carol", "")
	w.offer("alice", "pv-alice", at(2, 0), 2000, 40_000)
	w.bid("bob", at(2, 0), 1000, mcp2)
	w.bid("carol", at(2, 0), 1000, mcp2)
	w.blockAt(at(1, 0))
	if tr := w.listing(at(2, 0)).Clearing.Trades; len(tr) != 2 || tr[0].Buyer != "bob" || tr[1].Buyer != "carol" {
		t.Fatalf("trades %+v", tr)
	}
	st := w.settle2(metered{w.alice, 0, 1500, 1500}, metered{w.bob, 1000, 0, 0}, metered{carol, 1000, 0, 0})
	expectMember(t, st, contract.MemberSettlement{ID: "alice", ExportWh: 1500, ProductionWh: 1500, SoldWh: 2000,
		DeliveredWh: 1500, ShortfallWh: 500, TokensMintedWh: 1500, TokensSentWh: 1500, PaidToUtilityNano: 32_500_000})
	expectMember(t, st, contract.MemberSettlement{ID: "bob", ImportWh: 1000, BoughtWh: 1000, TokensReceivedWh: 1000, TokensRetiredWh: 1000})
	expectMember(t, st, contract.MemberSettlement{ID: "carol", ImportWh: 1000, BoughtWh: 1000, TokensReceivedWh: 500, TokensRetiredWh: 500})
	expectTotals(t, st, contract.SettlementTotals{MintedWh: 1500, TransferredWh: 1500, RetiredWh: 1500, ToUtilityNano: 32_500_000})
	w.wallet("alice", 67_500_000, 0)
	w.conserved()
}

// Rule 4: alice sold 2000 Wh but exported only 1200 (all she produced).
//
//	delivered 1200 = min(2000, min(1200, 1200)); shortfall 800, bought by
//	the utility for bob and paid by alice at the grid price:
//	800 × 65,000 = 52,000,000
//	bob receives and retires 1200 tokens; his 2000 Wh import is what he
//	bought, so he owes nothing more.
//
// alice: 100,000,000 − 52,000,000 = 48,000,000.
func TestSettleRule4ShortfallPaidAtGridPrice(t *testing.T) {
	w := newSettleWorld(t)
	w.trade(2000)
	st := w.settle2(metered{w.alice, 0, 1200, 1200}, metered{w.bob, 2000, 0, 0})
	expectMember(t, st, contract.MemberSettlement{ID: "alice", ExportWh: 1200, ProductionWh: 1200, SoldWh: 2000,
		DeliveredWh: 1200, ShortfallWh: 800, TokensMintedWh: 1200, TokensSentWh: 1200, PaidToUtilityNano: 52_000_000})
	expectMember(t, st, contract.MemberSettlement{ID: "bob", ImportWh: 2000, BoughtWh: 2000,
		TokensReceivedWh: 1200, TokensRetiredWh: 1200})
	expectTotals(t, st, contract.SettlementTotals{MintedWh: 1200, TransferredWh: 1200, RetiredWh: 1200, ToUtilityNano: 52_000_000})
	w.wallet("alice", 48_000_000, 0)
	w.wallet("utility", 10*unit+52_000_000, 0)
	w.conserved()
}

// Rule 5 (the seed example in full): alice's export beyond what she
// delivered, 2500 − 2000 = 500 Wh, goes to the utility at feed-in,
// 19,500,000, with her 500 unsold tokens.
func TestSettleRule5ExportBeyondDeliveryAtFeedIn(t *testing.T) {
	w, st := seedExample(t)
	expectMember(t, st, contract.MemberSettlement{ID: "alice", ExportWh: 2500, ProductionWh: 3000, SoldWh: 2000,
		DeliveredWh: 2000, GridExportWh: 500, TokensMintedWh: 3000, TokensSelfRetiredWh: 500, TokensSentWh: 2000,
		TokensExportedWh: 500, ReceivedFromUtilityNano: 19_500_000})
	expectMember(t, st, contract.MemberSettlement{ID: "bob", ImportWh: 2000, BoughtWh: 2000,
		TokensReceivedWh: 2000, TokensRetiredWh: 2000})
	expectTotals(t, st, contract.SettlementTotals{MintedWh: 3000, TransferredWh: 2000, RetiredWh: 2500, ExportedWh: 500,
		FromUtilityNano: 19_500_000})
	w.wallet("alice", 100_000_000+19_500_000, 0)
	w.wallet("bob", unit-100_000_000, 0)
	w.wallet("utility", 10*unit-19_500_000, 0)
	w.conserved()
	if st.Utility != "utility" || st.GridPricePerKWh != grid2 || st.FeedInPerKWh != feed2 || len(st.Missing) != 0 || len(st.Readings) != 2 {
		t.Errorf("settlement %+v", st)
	}
}

// unusedExample: bob bought 1500 Wh and imported only 1000; alice produced
// and exported 1500 and delivered it all.
func unusedExample(t *testing.T) (*settleWorld, contract.Settlement) {
	w := newSettleWorld(t)
	w.trade(1500)
	return w, w.settle2(metered{w.alice, 0, 1500, 1500}, metered{w.bob, 1000, 0, 0})
}

// Rule 6: bob retires min(received 1500, imported 1000) = 1000 tokens;
// the 500 he could not use go to the utility (his tokens exported).
func TestSettleRule6RetiresReceivedTokensAgainstImport(t *testing.T) {
	_, st := unusedExample(t)
	if b := member(t, st, "bob"); b.TokensReceivedWh != 1500 || b.TokensRetiredWh != 1000 || b.TokensExportedWh != 500 {
		t.Errorf("bob %+v", b)
	}
	expectTotals(t, st, contract.SettlementTotals{MintedWh: 1500, TransferredWh: 1500, RetiredWh: 1000, ExportedWh: 500,
		FromUtilityNano: 19_500_000})
}

// Rule 7: bob bought 1500 Wh and imported 2500: the 1000 beyond his
// purchase came from the utility at the grid price, 1000 × 65,000 =
// 65,000,000. He retires all 1500 tokens.
//
// bob: 1,000,000,000 − 75,000,000 − 65,000,000 = 860,000,000.
func TestSettleRule7ConsumptionBeyondPurchaseAtGridPrice(t *testing.T) {
	w := newSettleWorld(t)
	w.trade(1500)
	st := w.settle2(metered{w.alice, 0, 1500, 1500}, metered{w.bob, 2500, 0, 0})
	expectMember(t, st, contract.MemberSettlement{ID: "bob", ImportWh: 2500, BoughtWh: 1500, GridImportWh: 1000,
		TokensReceivedWh: 1500, TokensRetiredWh: 1500, PaidToUtilityNano: 65_000_000})
	expectTotals(t, st, contract.SettlementTotals{MintedWh: 1500, TransferredWh: 1500, RetiredWh: 1500, ToUtilityNano: 65_000_000})
	w.wallet("bob", 860_000_000, 0)
	w.wallet("utility", 10*unit+65_000_000, 0)
	w.conserved()
}

// Rule 8: of the 1500 Wh bob bought, the 500 he did not consume are sold
// back to the utility at feed-in: 500 × 39,000 = 19,500,000.
//
// bob: 1,000,000,000 − 1500 × 50,000 + 19,500,000 = 944,500,000.
func TestSettleRule8UnusedPurchaseSoldBackAtFeedIn(t *testing.T) {
	w, st := unusedExample(t)
	expectMember(t, st, contract.MemberSettlement{ID: "alice", ExportWh: 1500, ProductionWh: 1500, SoldWh: 1500,
		DeliveredWh: 1500, TokensMintedWh: 1500, TokensSentWh: 1500})
	expectMember(t, st, contract.MemberSettlement{ID: "bob", ImportWh: 1000, BoughtWh: 1500, UnusedWh: 500,
		TokensReceivedWh: 1500, TokensRetiredWh: 1000, TokensExportedWh: 500, ReceivedFromUtilityNano: 19_500_000})
	w.wallet("bob", 944_500_000, 0)
	w.wallet("alice", 75_000_000, 0)
	w.wallet("utility", 10*unit-19_500_000, 0)
	w.conserved()
}

// Rule 1's "approved": carol's PV is registered but not approved by the
// DSO, and its meter measures 3000 Wh produced and exported. No token is
// minted for it; the energy is still sold to the utility at feed-in
// (3000 × 39,000 = 117,000,000). alice, with the same figures on her
// approved PV and no trade, mints 3000 tokens, all exported.
func TestSettleUnapprovedRESMintsNothing(t *testing.T) {
	w := newSettleWorld(t)
	w.ok("carol", &contract.MsgRegisterRES{ID: "pv-carol", Kind: "PV", CapacityW: 10_000})
	carol := w.meterOwnKey("m-carol", "carol", "pv-carol")
	st := w.settle2(metered{w.alice, 0, 3000, 3000}, metered{w.bob, 0, 0, 0}, metered{carol, 0, 3000, 3000})
	expectMember(t, st, contract.MemberSettlement{ID: "carol", ExportWh: 3000, GridExportWh: 3000, ReceivedFromUtilityNano: 117_000_000})
	expectMember(t, st, contract.MemberSettlement{ID: "alice", ExportWh: 3000, ProductionWh: 3000, GridExportWh: 3000,
		TokensMintedWh: 3000, TokensExportedWh: 3000, ReceivedFromUtilityNano: 117_000_000})
	expectTotals(t, st, contract.SettlementTotals{MintedWh: 3000, ExportedWh: 3000, FromUtilityNano: 234_000_000})
	w.wallet("carol", 117_000_000, 0)
}

// An interval settles once it has ended and every meter has reported; a
// meter that has not holds it until the settlement deadline (900 s), when
// it settles with the meter listed as missing. The missing meter's energy
// is not lost: it counts in the next interval it reports in. A reading
// dated in the settled interval that arrives afterwards is stale.
func TestSettlementWaitsForEveryMeterThenTheDeadline(t *testing.T) {
	w := newSettleWorld(t)
	w.trade(1000)
	w.readOK(at(1, 3500), w.alice.read(at(2, 0), 0, 0, 0), w.bob.read(at(2, 0), 0, 0, 0))
	w.readOK(at(2, 3500), w.alice.read(at(3, 0), 0, 1000, 1000)) // bob's gateway is silent
	before := w.snapshot()
	for _, mt := range []int64{at(3, 0), at(3, 899)} {
		w.blockAt(mt)
		if l := w.listing(at(2, 0)); l.State != contract.StateBidsClosed || len(w.s.Settlements(0, forever)) != 0 {
			t.Fatalf("at %d: %s, settlements %+v", mt, l.State, w.s.Settlements(0, forever))
		}
	}
	if after := w.snapshot(); !reflect.DeepEqual(before.participants, after.participants) {
		t.Error("money moved before settlement")
	}
	w.blockAt(at(3, 900)) // the deadline
	st, ok := w.s.Settlement(at(2, 0))
	if !ok {
		t.Fatal("not settled at the deadline")
	}
	if !reflect.DeepEqual(st.Missing, []string{"m-bob"}) || len(st.Readings) != 1 || st.Readings[0].Meter != "m-alice" {
		t.Fatalf("missing %v, readings %+v", st.Missing, st.Readings)
	}
	// bob bought 1000 Wh and, with no reading, imported none that the
	// ledger knows of: unused 1000 at feed-in, 39,000,000.
	expectMember(t, st, contract.MemberSettlement{ID: "bob", BoughtWh: 1000, UnusedWh: 1000,
		TokensReceivedWh: 1000, TokensExportedWh: 1000, ReceivedFromUtilityNano: 39_000_000})
	if e := w.eventsOfType("settlement"); len(e) != 1 || attrs(e[0])["missing"] != "1" {
		t.Errorf("events %+v", e)
	}

	// bob's late reading for the settled hour is refused; his next one,
	// at 04:00, carries all he imported since 02:00 into 03:00's interval.
	if n, refused := w.readAt(at(3, 901), w.bob.read(at(2, 3000), 400, 0, 0)); n != 0 || len(refused) != 1 ||
		refused[0] != "m-bob/2:stale_reading" {
		t.Fatalf("late reading: %d accepted, refused %v", n, refused)
	}
	w.readOK(at(3, 3500), w.alice.read(at(4, 0), 0, 1000, 1000), w.bob.read(at(4, 0), 1800, 0, 0))
	w.blockAt(at(4, 0))
	st3, ok := w.s.Settlement(at(3, 0))
	if !ok || len(st3.Missing) != 0 {
		t.Fatalf("03:00: %+v", st3)
	}
	// Hour 3: grid 65,000. bob: 1800 Wh imported, none bought: 117,000,000.
	expectMember(t, st3, contract.MemberSettlement{ID: "bob", ImportWh: 1800, GridImportWh: 1800, PaidToUtilityNano: 117_000_000})
	expectMember(t, st3, contract.MemberSettlement{ID: "alice"})
}

// Intervals settle in delivery order: a later interval whose meters have
// all reported waits for an earlier one still waiting for a meter, and
// both settle in the block that reaches the earlier one's deadline, the
// earlier first. Here the deadline is two hours.
func TestIntervalsSettleInOrder(t *testing.T) {
	w := newSettleWorld(t, func(g *contract.Genesis) { g.Params.SettlementDeadlineS = 7200 })
	w.issue("alice", unit)
	w.readOK(at(1, 3500), w.alice.read(at(2, 0), 0, 0, 0), w.bob.read(at(2, 0), 0, 0, 0))
	w.readOK(at(2, 3500), w.alice.read(at(3, 0), 100, 0, 0))
	w.readOK(at(3, 3500), w.alice.read(at(4, 0), 300, 0, 0), w.bob.read(at(4, 0), 700, 0, 0))
	w.blockAt(at(4, 0))
	for _, start := range []int64{at(2, 0), at(3, 0)} {
		if _, ok := w.s.Settlement(start); ok {
			t.Fatalf("%d settled before 02:00's deadline although 02:00 lacks m-bob", start)
		}
	}
	w.blockAt(at(4, 3599))
	if n := len(w.s.Settlements(0, forever)); n != 0 {
		t.Fatalf("%d settled", n)
	}
	w.blockAt(at(5, 0)) // 03:00 + 7200
	ev := w.eventsOfType("settlement")
	if len(ev) != 2 || attrs(ev[0])["listing"] != i64s(at(2, 0)) || attrs(ev[1])["listing"] != i64s(at(3, 0)) {
		t.Fatalf("settlement events %+v", ev)
	}
	st2, _ := w.s.Settlement(at(2, 0))
	st3, _ := w.s.Settlement(at(3, 0))
	if !reflect.DeepEqual(st2.Missing, []string{"m-bob"}) || len(st3.Missing) != 0 {
		t.Fatalf("missing %v and %v", st2.Missing, st3.Missing)
	}
	// alice: 100 in hour 2, 200 in hour 3; bob: all 700 in hour 3.
	expectMember(t, st2, contract.MemberSettlement{ID: "alice", ImportWh: 100, GridImportWh: 100, PaidToUtilityNano: 100 * grid2})
	expectMember(t, st3, contract.MemberSettlement{ID: "alice", ImportWh: 200, GridImportWh: 200, PaidToUtilityNano: 200 * 65_000})
	expectMember(t, st3, contract.MemberSettlement{ID: "bob", ImportWh: 700, GridImportWh: 700, PaidToUtilityNano: 700 * 65_000})
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

// A payment a balance cannot cover is paid as far as it goes and the rest
// owed; no wallet goes negative; the debt is paid first at the next
// settlement once money arrives.
//
// dave has no money and one meter. Hour 2: he imports 1000 Wh, owing
// 1000 × 65,000 = 65,000,000. He is then issued 70,000,000. Hour 3: the
// old debt is paid first (65,000,000), leaving 5,000,000 against hour 3's
// 500 × 65,000 = 32,500,000: he owes 27,500,000 more (OwedNano in hour 3's
// settlement: were the new charge paid first, it would be 0). He is
// issued 100,000,000; hour 4 (no import) pays the 27,500,000 first and
// leaves 72,500,000.
func TestDebtOwedThenPaidFirst(t *testing.T) {
	h := newHarness(t)
	h.members("dave")
	dave := h.meterOwnKey("m-dave", "dave", "")
	h.readOK(at(1, 3500), dave.read(at(2, 0), 0, 0, 0))
	h.readOK(at(2, 3500), dave.read(at(3, 0), 1000, 0, 0))
	h.blockAt(at(3, 0))
	st2, _ := h.s.Settlement(at(2, 0))
	expectMember(t, st2, contract.MemberSettlement{ID: "dave", ImportWh: 1000, GridImportWh: 1000,
		PaidToUtilityNano: 65_000_000, OwedNano: 65_000_000})
	if p := h.p("dave"); p.Balance != 0 || !reflect.DeepEqual(p.Owes, map[string]int64{"utility": 65_000_000}) {
		t.Fatalf("dave %+v", p)
	}
	h.wallet("utility", 0, 0)
	h.conserved()

	h.issue("dave", 70_000_000)
	h.readOK(at(3, 3500), dave.read(at(4, 0), 1500, 0, 0))
	h.blockAt(at(4, 0))
	st3, _ := h.s.Settlement(at(3, 0))
	expectMember(t, st3, contract.MemberSettlement{ID: "dave", ImportWh: 500, GridImportWh: 500,
		PaidToUtilityNano: 32_500_000, OwedNano: 27_500_000})
	if p := h.p("dave"); p.Balance != 0 || !reflect.DeepEqual(p.Owes, map[string]int64{"utility": 27_500_000}) {
		t.Fatalf("dave %+v", p)
	}
	h.wallet("utility", 70_000_000, 0)

	h.issue("dave", 100_000_000)
	h.readOK(at(4, 3500), dave.read(at(5, 0), 1500, 0, 0))
	h.blockAt(at(5, 0))
	if p := h.p("dave"); p.Balance != 72_500_000 || p.Owes != nil {
		t.Fatalf("dave %+v", p)
	}
	h.wallet("utility", 97_500_000, 0)
	h.conserved()
}

// The utility's wallet moves by exactly the settlement's totals when every
// payer can pay: it receives ToUtilityNano and pays FromUtilityNano.
//
//	alice sold bob 2000, produced and exported 1200: shortfall 800 ×
//	65,000 = 52,000,000 to the utility
//	bob imported 1500 of the 2000 he bought: unused 500 × 39,000 =
//	19,500,000 from the utility
//	carol (no RES) exported 1000: 39,000,000 from the utility
//
// ToUtilityNano 52,000,000; FromUtilityNano 58,500,000; the utility's wallet
// changes by −6,500,000.
func TestUtilityWalletMovesByTheTotals(t *testing.T) {
	w := newSettleWorld(t)
	carol := w.meterOwnKey("m-carol", "carol", "")
	w.trade(2000)
	before := w.p("utility").Balance
	st := w.settle2(metered{w.alice, 0, 1200, 1200}, metered{w.bob, 1500, 0, 0}, metered{carol, 0, 1000, 0})
	expectTotals(t, st, contract.SettlementTotals{MintedWh: 1200, TransferredWh: 1200, RetiredWh: 1200,
		ToUtilityNano: 52_000_000, FromUtilityNano: 58_500_000})
	if d := w.p("utility").Balance - before; d != st.Totals.ToUtilityNano-st.Totals.FromUtilityNano || d != -6_500_000 {
		t.Errorf("utility's wallet moved by %d", d)
	}
	expectMember(t, st, contract.MemberSettlement{ID: "carol", ExportWh: 1000, GridExportWh: 1000, ReceivedFromUtilityNano: 39_000_000})
	w.conserved()
}

// A SETTLED listing never settles again: later blocks, however many,
// leave its record and the wallets it paid alone.
func TestSettledIntervalNeverSettlesAgain(t *testing.T) {
	w, st := seedExample(t)
	before := w.snapshot()
	for _, mt := range []int64{at(3, 1), at(3, 900), at(4, 0), at(6, 0), at(30, 0)} {
		w.blockAt(mt)
		for _, e := range w.eventsOfType("settlement") {
			if attrs(e)["listing"] == i64s(at(2, 0)) {
				t.Fatalf("02:00 settled again at %d", mt)
			}
		}
	}
	again, _ := w.s.Settlement(at(2, 0))
	if !reflect.DeepEqual(again, st) || w.listing(at(2, 0)).State != contract.StateSettled {
		t.Errorf("settlement changed:\n%+v\n%+v", st, again)
	}
	// Later intervals had no readings and no trades: nothing moved.
	if after := w.snapshot(); !reflect.DeepEqual(before.participants, after.participants) {
		t.Errorf("wallets moved:\n%+v\n%+v", before.participants, after.participants)
	}
	if n := len(w.s.Settlements(0, forever)); n < 20 {
		t.Errorf("only %d intervals settled by 30:00", n)
	}
}

// A statement row (the seed example): what alice and bob traded and
// paid, their settlement, NetNano (everything received less everything paid)
// and UtilityOnlyNano (the same meters with the utility alone: export ×
// feed-in − import × grid).
//
//	alice: received 100,000,000 P2P + 19,500,000 feed-in: Net 119,500,000;
//	       utility only: 2500 × 39,000 = 97,500,000 (the market saved her
//	       22,000,000)
//	bob:   paid 100,000,000 P2P: Net −100,000,000; utility only:
//	       −2000 × 65,000 = −130,000,000 (saved 30,000,000)
func TestStatementRowNetAndUtilityOnly(t *testing.T) {
	w, st := seedExample(t)
	mcp := int64(mcp2)
	for _, c := range []struct {
		id   string
		want contract.StatementRow
	}{
		{"alice", contract.StatementRow{Interval: at(2, 0), SoldWh: 2000, ReceivedP2PNano: 100_000_000, MCPPerKWh: &mcp, GridPricePerKWh: grid2, FeedInPerKWh: feed2,
			MemberSettlement: member(t, st, "alice"), NetNano: 119_500_000, UtilityOnlyNano: 97_500_000}},
		{"bob", contract.StatementRow{Interval: at(2, 0), BoughtWh: 2000, PaidP2PNano: 100_000_000, MCPPerKWh: &mcp, GridPricePerKWh: grid2, FeedInPerKWh: feed2,
			MemberSettlement: member(t, st, "bob"), NetNano: -100_000_000, UtilityOnlyNano: -130_000_000}},
	} {
		rows, err := w.s.Statement(c.id, 0, forever)
		if err != nil || len(rows) != 1 || !reflect.DeepEqual(rows[0], c.want) {
			t.Errorf("%s: %v\n got %+v\nwant %+v", c.id, err, rows, c.want)
		}
		q, err := w.s.Query("/statement?member=" + c.id + "&from=" + i64s(at(2, 0)) + "&to=" + i64s(at(3, 0)))
		if err != nil || !bytes.Equal(q, must(json.Marshal(rows))) {
			t.Errorf("%s: query %s, %v", c.id, q, err)
		}
	}
	if rows, err := w.s.Statement("carol", 0, forever); err != nil || len(rows) != 0 {
		t.Errorf("carol, in no settled interval: %+v %v", rows, err)
	}
	if _, err := w.s.Statement("ghost", 0, forever); contract.CodeOf(err) != contract.CodeUnknownParticipant {
		t.Errorf("ghost: %v", err)
	}
	if rows, _ := w.s.Statement("alice", at(3, 0), forever); len(rows) != 0 {
		t.Errorf("alice from 03:00: %+v", rows)
	}
}

// The settlement queries answer what the accessors do.
func TestSettlementQueries(t *testing.T) {
	w, st := seedExample(t)
	for path, want := range map[string]any{
		"/settlement/" + i64s(at(2, 0)): st,
		"/settlements":                  w.s.Settlements(0, forever),
		"/settlements?from=" + i64s(at(2, 0)) + "&to=" + i64s(at(2, 1)): []contract.Settlement{st},
		"/settlements?from=" + i64s(at(2, 1)) + "&to=" + i64s(at(3, 0)): []contract.Settlement{},
		"/gateways": []contract.Gateway{{ID: "gw-home", Owner: "bob", PubKey: pubOf(gwKeyID("gw-home"))}},
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

// Readings near the registers' 10 TWh limit must not overflow settlement's
// arithmetic and halt every validator: bob's grid import of ~10 TWh at the
// grid price is ~9.5e20 nano-units, beyond int64; the amount due is capped
// at MaxSettlementNano, only what his wallet holds moves, and money stays
// conserved.
func TestSettlementOfAbsurdReadingsIsCappedNotOverflowed(t *testing.T) {
	// A tariff of 1 currency unit per kWh at every hour (valid, if dear):
	// 10 TWh × 1,000,000 µ/kWh = 1e19 nano-units, past int64.
	w := newSettleWorld(t, func(g *contract.Genesis) {
		for h := range 24 {
			g.Params.GridPricePerKWh[h] = 1_000_000
		}
	})
	w.trade(2000)
	st := w.settle2(metered{w.alice, 0, 2000, 2000}, metered{w.bob, reading.MaxRegisterWh - 1_000_000, 0, 0})
	for _, m := range st.Members {
		if m.ID == "bob" && m.PaidToUtilityNano != contract.MaxSettlementNano {
			t.Fatalf("bob owes the utility %d, want the cap %d", m.PaidToUtilityNano, int64(contract.MaxSettlementNano))
		}
	}
	w.conserved()
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

package contract_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

// A member leaves (offboard.go): bob bought 1000 Wh from alice for 02:00
// and has a bid open for 04:00; at 01:30 he leaves. His open bid is
// cancelled at once and its escrow refunded; he signs nothing more; his
// meter goes on reporting until 02:00-03:00, the interval he traded in, is
// settled at 03:00. In that block he is paid out — his balance redeemed —
// and his meter, his gateway and his plans leave the state; member_left
// names the meter for the nodes to delete what they keep off the ledger.
func TestMemberLeavesAfterItsTradesSettleAndIsPaidOut(t *testing.T) {
	w := newWorld(t)
	w.trade(1000)
	w.ok("bob", &contract.MsgPlan{Start: at(5, 0), NetWh: []int64{1200}, FlexWh: []int64{0}})
	bid := w.bid("bob", at(4, 0), 500, 60_000)
	before := w.s.Info()
	w.blockAt(at(1, 1800), w.tx("bob", &contract.MsgOffboard{Member: "bob"}))
	if o := w.order(bid); !o.Cancelled || o.Escrow != 0 {
		t.Errorf("bob's open bid after he left: %+v", o)
	}
	w.wallet("bob", unit-50_000_000, 0) // the 02:00 purchase stays paid
	// He signs nothing more.
	w.want(contract.CodeSuspended, "bob", &contract.MsgBid{Listing: at(4, 0), Wh: 100, PricePerKWh: 60_000})
	w.want(contract.CodeDuplicate, "operator", &contract.MsgOffboard{Member: "bob"})
	// His meter still settles 02:00-03:00: he used the 1000 Wh he bought.
	st := w.settleCommunity(metered{w.alice, 0, 1000, 1000}, metered{w.bob, 1000, 0, 0})
	if b := member(t, st, "bob"); b.RealisedBoughtWh != 1000 {
		t.Errorf("bob's last interval: %+v", b)
	}
	left := w.eventsOfType("member_left")
	if len(left) != 1 || attrs(left[0])["member"] != "bob" || attrs(left[0])["meters"] != "m-bob" ||
		attrs(left[0])["paid_out"] != i64s(unit-50_000_000) {
		t.Fatalf("member_left events %v", left)
	}
	w.wallet("bob", 0, 0)
	after := w.s.Info()
	if after.Redeemed-before.Redeemed != unit-50_000_000 {
		t.Errorf("redeemed %d → %d", before.Redeemed, after.Redeemed)
	}
	w.conserved()
	if p := w.p("bob"); !p.Suspended {
		t.Errorf("bob after leaving: %+v", p)
	}
	for _, m := range w.s.Meters() {
		if m.Owner == "bob" {
			t.Errorf("bob's meter %s is still on the ledger", m.ID)
		}
	}
	for _, g := range w.s.Gateways() {
		if g.Owner == "bob" {
			t.Errorf("bob's gateway %s is still on the ledger", g.ID)
		}
	}
	if plans, err := w.s.MemberPlans("bob", 0, forever); err != nil || len(plans) != 0 {
		t.Errorf("bob's plans after leaving: %v %v", plans, err)
	}
	if d := w.s.Departures(); len(d) != 1 || !d[0].Done || d[0].By != "bob" || d[0].Until != at(3, 0) {
		t.Errorf("departures %+v", d)
	}
	// A reading from his meter is refused: it is no longer known.
	if n, refused := w.readAt(at(3, 60), w.bob.read(at(3, 60), baseImp+1100, baseExp, baseProd)); n != 0 ||
		len(refused) != 1 || !strings.HasSuffix(refused[0], ":unknown_meter") {
		t.Errorf("reading after leaving: %d accepted, %v", n, refused)
	}
	// The state reloads to the same hash.
	loaded, err := contract.Load(w.entries(), w.height, w.mt)
	if err != nil || !bytes.Equal(loaded.AppHash(), w.s.AppHash()) {
		t.Fatalf("reload after a departure: %v", err)
	}
}

// Only the member itself or the operator may take a member out, and only
// a member leaves this way.
func TestOffboardIsTheMembersOrTheOperatorsToAsk(t *testing.T) {
	w := newWorld(t)
	w.want(contract.CodeWrongRole, "alice", &contract.MsgOffboard{Member: "bob"})
	w.want(contract.CodeWrongRole, "dso", &contract.MsgOffboard{Member: "bob"})
	w.want(contract.CodeWrongRole, "operator", &contract.MsgOffboard{Member: "dso"})
	w.want(contract.CodeUnknownParticipant, "operator", &contract.MsgOffboard{Member: "nobody"})
	w.ok("operator", &contract.MsgOffboard{Member: "carol"})
	if d := w.s.Departures(); len(d) != 1 || d[0].Member != "carol" || d[0].By != "operator" {
		t.Errorf("departures %+v", d)
	}
}

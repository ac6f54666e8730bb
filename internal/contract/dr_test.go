package contract_test

import (
	"bytes"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

// Demand response (dr.go), rule by rule, with the figures worked out by
// hand. The world is settle_test.go's: alice (PV, own-key meter) and bob
// (meter via his home gateway), the 02:00 interval. The DSO holds 1 unit
// to pay incentives with and asks for 1000 W less in 02:00–03:00 at
// 200,000 per kWh: a budget of 1000 Wh × 200,000 = 200,000,000 nano-units.

const (
	drIncentive = 200_000
	drBudget    = 1000 * drIncentive
)

func drWorld(t *testing.T) *settleWorld {
	w := newSettleWorld(t)
	w.issue("dso", unit)
	return w
}

func (w *settleWorld) planFor(member string, net int64) {
	w.t.Helper()
	w.ok(member, &contract.MsgPlan{Start: at(2, 0), NetWh: []int64{net}, FlexWh: []int64{net / 2}})
}

func drMsg(targets ...contract.DRTarget) *contract.MsgDRRequest {
	return &contract.MsgDRRequest{ID: "dr-1", Start: at(2, 0), Intervals: 1, ReductionW: 1000,
		IncentivePerKWh: drIncentive, Targets: targets}
}

// Rule 2: the request escrows its whole budget from the DSO.
func TestDRRequestEscrowsTheBudget(t *testing.T) {
	w := drWorld(t)
	w.ok("dso", drMsg())
	w.wallet("dso", unit-drBudget, drBudget)
	r, ok := w.s.DR("dr-1")
	if !ok || r.State != contract.DROpen || r.ReductionWh != 1000 || r.BudgetNano != drBudget || r.End != at(3, 0) {
		t.Fatalf("request %+v", r)
	}
	w.conserved()
}

// Rules 1, 3 and 4: bob planned 3000 Wh, promised 1000 less and imported
// 2200: verified min(1000, 3000 − 2200) = 800 Wh, paid 800 × 200,000 =
// 160,000,000; the 40,000,000 left goes back to the DSO.
func TestDRPaysTheReductionVerifiedAgainstThePlan(t *testing.T) {
	w := drWorld(t)
	w.planFor("bob", 3000)
	w.ok("dso", drMsg())
	w.ok("bob", &contract.MsgDRCommit{Request: "dr-1", ReductionWh: []int64{1000}})
	bobBefore := w.p("bob").Balance
	st := w.settle2(metered{w.alice, 0, 0, 0}, metered{w.bob, 2200, 0, 0})

	if len(st.DR) != 1 {
		t.Fatalf("settlement DR %+v", st.DR)
	}
	want := contract.DRPayment{Request: "dr-1", Member: "bob", BaselineWh: 3000, MeteredWh: 2200,
		PromisedWh: 1000, VerifiedWh: 800, PaidNano: 800 * drIncentive}
	if st.DR[0] != want {
		t.Errorf("payment %+v, want %+v", st.DR[0], want)
	}
	if m := member(t, st, "bob"); m.DRVerifiedWh != 800 || m.DRIncentiveNano != 800*drIncentive {
		t.Errorf("bob's settlement %+v", m)
	}
	// bob pays 2200 Wh at the grid price and receives the incentive.
	if got, want := w.p("bob").Balance, bobBefore-2200*grid2+800*drIncentive; got != want {
		t.Errorf("bob's balance %d, want %d", got, want)
	}
	w.wallet("dso", unit-800*drIncentive, 0)
	r, _ := w.s.DR("dr-1")
	if r.State != contract.DRDone || r.PaidNano != 800*drIncentive || r.Commits["bob"].VerifiedWh[0] != 800 {
		t.Errorf("request after delivery %+v", r)
	}
	if len(w.s.Plans(at(2, 0))) != 0 {
		t.Errorf("plans of a settled interval kept: %+v", w.s.Plans(at(2, 0)))
	}
	// A done request leaves the live ones, on this node and on one that
	// loads the state.
	loaded, err := contract.Load(w.entries(), w.height, w.mt)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*contract.State{w.s, loaded} {
		if live, all := s.LiveDRs(), s.DRs(); len(live) != 0 || len(all) != 1 {
			t.Errorf("live %+v, all %d: want none live of one", live, len(all))
		}
	}
	w.conserved()
}

// Rule 4: the payment is capped by the promise, the target share and the
// reduction requested; a member who used more than planned gets nothing.
func TestDRPaymentIsCapped(t *testing.T) {
	for _, c := range []struct {
		name                  string
		promised, share, imp  int64
		wantVerified, targets int64
	}{
		{"by the promise", 300, 0, 1000, 300, 0},
		{"by the target share", 1000, 400, 1000, 400, 1},
		{"by the reduction requested", 5000, 0, 0, 1000, 0},
		{"nothing above the baseline", 1000, 0, 3500, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := drWorld(t)
			w.planFor("bob", 3000)
			msg := drMsg()
			if c.targets > 0 {
				msg.Targets = []contract.DRTarget{{Member: "bob", ReductionWh: c.share}}
			}
			w.ok("dso", msg)
			w.ok("bob", &contract.MsgDRCommit{Request: "dr-1", ReductionWh: []int64{c.promised}})
			st := w.settle2(metered{w.alice, 0, 0, 0}, metered{w.bob, c.imp, 0, 0})
			if got := st.DR[0].VerifiedWh; got != c.wantVerified {
				t.Errorf("verified %d, want %d", got, c.wantVerified)
			}
			w.wallet("dso", unit-c.wantVerified*drIncentive, 0)
			w.conserved()
		})
	}
}

// Rule 4: with one of its meters missing, a member's reduction cannot be
// verified (its energy would count later): nothing is paid.
func TestDRNotPaidWithoutTheMeters(t *testing.T) {
	w := drWorld(t)
	w.planFor("bob", 3000)
	w.ok("dso", drMsg())
	w.ok("bob", &contract.MsgDRCommit{Request: "dr-1", ReductionWh: []int64{1000}})
	// Only alice reports; the deadline passes.
	w.readOK(at(1, 3500), w.alice.read(at(2, 0), baseImp, baseExp, baseProd))
	w.readOK(at(2, 3500), w.alice.read(at(3, 0), baseImp, baseExp, baseProd))
	w.blockAt(at(3, 0) + w.s.Params().SettlementDeadlineS)
	st, ok := w.s.Settlement(at(2, 0))
	if !ok || len(st.DR) != 1 || !st.DR[0].Missing || st.DR[0].PaidNano != 0 {
		t.Fatalf("settlement %v DR %+v", ok, st.DR)
	}
	w.wallet("dso", unit, 0)
	w.conserved()
}

// Rule 1: a plan is frozen once a request covers its interval, so the
// baseline was set before the member knew of the request.
func TestDRFreezesPlansUnderARequest(t *testing.T) {
	w := drWorld(t)
	w.planFor("bob", 3000)
	w.ok("bob", &contract.MsgPlan{Start: at(2, 0), NetWh: []int64{3500}}) // replaced before the request
	w.ok("dso", drMsg())
	before := w.snapshot()
	w.want(contract.CodePlanFrozen, "bob", &contract.MsgPlan{Start: at(1, 0), NetWh: []int64{1, 9000}})
	before.sameExceptParticipants(t, w.snapshot())
	if p := w.s.Plans(at(2, 0)); len(p) != 1 || p[0].NetWh != 3500 {
		t.Errorf("plans %+v", p)
	}
	// Other intervals stay open.
	w.ok("bob", &contract.MsgPlan{Start: at(3, 0), NetWh: []int64{100}})
}

// Every refusal has its code and changes nothing.
func TestDRRefusals(t *testing.T) {
	w := drWorld(t)
	w.ok("operator", &contract.MsgRegisterParticipant{ID: "dave", Role: contract.RoleMember,
		NodeType: contract.NodeHousehold, PubKey: pubOf("dave"), Feeder: "f2"})
	w.planFor("bob", 3000)
	w.planFor("dave", 3000)
	w.ok("dso", drMsg(contract.DRTarget{Member: "bob", ReductionWh: 500}))
	w.ok("dso", &contract.MsgDRRequest{ID: "dr-f1", Start: at(2, 0), Intervals: 1, Feeder: "f1", ReductionW: 10, IncentivePerKWh: 1})
	w.ok("dso", &contract.MsgDRRequest{ID: "dr-all", Start: at(2, 0), Intervals: 1, ReductionW: 10, IncentivePerKWh: 1})
	commit := func(req string, wh ...int64) *contract.MsgDRCommit {
		return &contract.MsgDRCommit{Request: req, ReductionWh: wh}
	}
	for _, c := range []struct {
		name   string
		code   contract.Code
		signer string
		msg    contract.Msg
	}{
		{"member asks", contract.CodeWrongRole, "bob", &contract.MsgDRRequest{ID: "x", Start: at(2, 0), Intervals: 1, ReductionW: 1, IncentivePerKWh: 1}},
		{"id reused", contract.CodeDuplicate, "dso", drMsg()},
		{"interval begun", contract.CodeGateClosed, "dso", &contract.MsgDRRequest{ID: "x", Start: at(0, 0), Intervals: 1, ReductionW: 1, IncentivePerKWh: 1}},
		{"off the interval grid", contract.CodeBadQuantity, "dso", &contract.MsgDRRequest{ID: "x", Start: at(2, 60), Intervals: 1, ReductionW: 1, IncentivePerKWh: 1}},
		{"budget above balance", contract.CodeInsufficientFunds, "dso", &contract.MsgDRRequest{ID: "x", Start: at(2, 0), Intervals: 24, ReductionW: 1_000_000, IncentivePerKWh: 1_000_000}},
		{"shares above the request", contract.CodeBadQuantity, "dso", &contract.MsgDRRequest{ID: "x", Start: at(2, 0), Intervals: 1, ReductionW: 100, IncentivePerKWh: 1, Targets: []contract.DRTarget{{Member: "bob", ReductionWh: 101}}}},
		{"unknown target", contract.CodeUnknownParticipant, "dso", &contract.MsgDRRequest{ID: "x", Start: at(2, 0), Intervals: 1, ReductionW: 100, IncentivePerKWh: 1, Targets: []contract.DRTarget{{Member: "zed", ReductionWh: 1}}}},
		{"target off the feeder", contract.CodeNotInScope, "dso", &contract.MsgDRRequest{ID: "x", Start: at(2, 0), Intervals: 1, Feeder: "f1", ReductionW: 100, IncentivePerKWh: 1, Targets: []contract.DRTarget{{Member: "dave", ReductionWh: 1}}}},
		{"zero intervals", contract.CodeBadQuantity, "dso", &contract.MsgDRRequest{ID: "x", Start: at(2, 0), ReductionW: 1, IncentivePerKWh: 1}},
		{"unknown request", contract.CodeUnknownDR, "bob", commit("nope", 1)},
		{"not targeted", contract.CodeNotInScope, "dave", commit("dr-1", 1)},
		{"off the feeder", contract.CodeNotInScope, "bob", commit("dr-f1", 1)},
		{"no plan before the request", contract.CodeNoPlan, "carol", commit("dr-all", 1)},
		{"wrong number of intervals", contract.CodeBadQuantity, "bob", commit("dr-1", 1, 2)},
		{"negative reduction", contract.CodeBadQuantity, "bob", commit("dr-1", -1)},
		{"operator commits", contract.CodeWrongRole, "operator", commit("dr-1", 1)},
		{"plan net absurd", contract.CodeBadQuantity, "bob", &contract.MsgPlan{Start: at(5, 0), NetWh: []int64{contract.MaxOrderWh + 1}}},
		{"plan flex mismatched", contract.CodeMalformed, "bob", &contract.MsgPlan{Start: at(5, 0), NetWh: []int64{1}, FlexWh: []int64{1, 2}}},
		{"plan for the past", contract.CodeGateClosed, "bob", &contract.MsgPlan{Start: at(0, 0), NetWh: []int64{1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := w.snapshot()
			drs := w.s.DRs()
			w.want(c.code, c.signer, c.msg)
			before.sameExceptParticipants(t, w.snapshot())
			if after := w.s.DRs(); len(after) != len(drs) || len(after[0].Commits) != len(drs[0].Commits) {
				t.Errorf("requests changed: %+v", after)
			}
		})
	}
	// After the start nobody may commit.
	w.blockAt(at(2, 0))
	w.want(contract.CodeGateClosed, "bob", commit("dr-1", 1))
	w.conserved()
}

// The request and its commits survive a reload bit for bit, and blocks
// after the reload give the same app hash.
func TestDRSurvivesReload(t *testing.T) {
	w := drWorld(t)
	w.planFor("bob", 3000)
	w.ok("dso", drMsg())
	w.ok("bob", &contract.MsgDRCommit{Request: "dr-1", ReductionWh: []int64{1000}})
	loaded, err := contract.Load(w.entries(), w.height, w.mt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loaded.AppHash(), w.s.AppHash()) {
		t.Fatal("app hash differs after load")
	}
	if live := loaded.LiveDRs(); len(live) != 1 || live[0].ID != "dr-1" {
		t.Fatalf("live requests after load %+v, want dr-1", live)
	}
	a, _ := w.s.DR("dr-1")
	b, _ := loaded.DR("dr-1")
	if a.Commits["bob"].BaselineWh[0] != b.Commits["bob"].BaselineWh[0] || a.BudgetNano != b.BudgetNano {
		t.Errorf("request after load %+v, want %+v", b, a)
	}
	for _, s := range []*contract.State{w.s, loaded} {
		s.BeginBlock(w.height+1, at(2, 5)*ns)
		s.EndBlock()
	}
	if !bytes.Equal(loaded.AppHash(), w.s.AppHash()) {
		t.Error("app hash differs a block after load")
	}
}

// A plan may carry the home battery's schedule: kept per interval with
// the plan, refused (changing nothing) when it does not match the plan.
func TestPlanCarriesTheBatterySchedule(t *testing.T) {
	w := drWorld(t)
	w.ok("bob", &contract.MsgPlan{Start: at(2, 0), NetWh: []int64{3000, -500}, FlexWh: []int64{0, 0},
		BatteryWh: []int64{2000, -1500}, BatterySoCWh: []int64{6900, 5320}})
	ps := w.s.Plans(at(3, 0))
	if len(ps) != 1 || ps[0].BatteryWh != -1500 || ps[0].BatterySoCWh != 5320 || ps[0].NetWh != -500 || !ps[0].HasBattery {
		t.Fatalf("plans of 03:00 %+v", ps)
	}
	// An idle, empty battery is still a schedule; a plan without one is not.
	w.ok("bob", &contract.MsgPlan{Start: at(4, 0), NetWh: []int64{100}, BatteryWh: []int64{0}, BatterySoCWh: []int64{0}})
	w.ok("alice", &contract.MsgPlan{Start: at(4, 0), NetWh: []int64{100}})
	if ps := w.s.Plans(at(4, 0)); len(ps) != 2 || ps[0].Member != "alice" || ps[0].HasBattery || ps[1].Member != "bob" || !ps[1].HasBattery {
		t.Fatalf("plans of 04:00 %+v", ps)
	}
	before := w.snapshot()
	for name, m := range map[string]*contract.MsgPlan{
		"schedule without state of charge": {Start: at(2, 0), NetWh: []int64{1}, BatteryWh: []int64{1}},
		"state of charge without schedule": {Start: at(2, 0), NetWh: []int64{1}, BatterySoCWh: []int64{1}},
		"schedule shorter than the plan":   {Start: at(2, 0), NetWh: []int64{1, 2}, BatteryWh: []int64{1}, BatterySoCWh: []int64{1}},
		"negative state of charge":         {Start: at(2, 0), NetWh: []int64{1}, BatteryWh: []int64{1}, BatterySoCWh: []int64{-1}},
		"absurd battery energy":            {Start: at(2, 0), NetWh: []int64{1}, BatteryWh: []int64{1 << 50}, BatterySoCWh: []int64{1}},
	} {
		res := w.block(w.tx("bob", m))[0]
		if res.Code != contract.CodeMalformed && res.Code != contract.CodeBadQuantity {
			t.Errorf("%s: %s (%s)", name, res.Code.Name(), res.Log)
		}
	}
	before.sameExceptParticipants(t, w.snapshot())
}

package contract_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

// Batteries (battery.go). Registration, refusals and the token rule are
// testdata/script/battery, figure by figure; here are demand response from
// a battery, the reload, and the encoding of a ledger without batteries.

// batteryWorld is drWorld with bob's 10 kWh, 5 kW battery behind his grid
// meter, on a sub-meter with its own key.
func batteryWorld(t *testing.T) (*settleWorld, *device) {
	w := drWorld(t)
	w.ok("bob", &contract.MsgRegisterBattery{ID: "bat-bob", CapacityWh: 10_000, MaxChargeW: 5000, MaxDischargeW: 5000})
	w.ok("dso", &contract.MsgApproveBattery{ID: "bat-bob"})
	w.ok("operator", &contract.MsgRegisterMeter{ID: "m-bat-bob", Owner: "bob", PubKey: pubOf(devKeyID("m-bat-bob")), Battery: "bat-bob"})
	return w, &device{t: t, meter: "m-bat-bob", keyID: devKeyID("m-bat-bob")}
}

// "A DR request is answered by discharging or by not charging, verified by
// the meters like any other reduction." bob's plan for 02:00 is 3000 Wh:
// his house's 1000 and a 2000 Wh charge. The DSO asks 3000 W less; bob
// promises 3000 Wh. The reduction is measured at his grid meter, which the
// battery sits behind: a skipped charge and a discharge both lower it. The
// battery's sub-meter only has to report (like every meter of a member
// whose reduction is verified).
func TestDRAnsweredByABattery(t *testing.T) {
	for _, c := range []struct {
		name string
		// grid meter import and export; battery sub-meter charge and
		// discharge, over the interval
		imp, exp, charge, discharge int64
		batteryReports              bool
		wantVerified                int64
	}{
		// Planned: 1000 house + 2000 charge. Did: the house only.
		{"the charge skipped", 1000, 0, 0, 0, true, 2000},
		// The charge skipped and 800 Wh discharged into the house:
		// import 200, 3000 − 200 = 2800.
		{"skipped and discharged", 200, 0, 0, 800, true, 2800},
		// Discharged 2500: 1500 exported, net −1500; capped at the
		// promise.
		{"discharged past the house", 0, 1500, 0, 2500, true, 3000},
		// Charged as planned: no reduction.
		{"charged anyway", 3000, 0, 2000, 0, true, 0},
		// The sub-meter did not report: unverified, nothing paid.
		{"battery meter missing", 200, 0, 0, 800, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, bat := batteryWorld(t)
			w.planFor("bob", 3000)
			w.ok("dso", &contract.MsgDRRequest{ID: "dr-1", Start: at(2, 0), Intervals: 1, ReductionW: 3000, IncentivePerKWh: drIncentive})
			w.ok("bob", &contract.MsgDRCommit{Request: "dr-1", ReductionWh: []int64{3000}})
			var st contract.Settlement
			if c.batteryReports {
				st = w.settle2(metered{w.alice, 0, 0, 0}, metered{w.bob, c.imp, c.exp, 0}, metered{bat, c.charge, c.discharge, 0})
			} else {
				w.readOK(at(1, 3500), w.alice.read(at(2, 0), baseImp, baseExp, baseProd), w.bob.read(at(2, 0), baseImp, baseExp, baseProd),
					bat.read(at(2, 0), baseImp, baseExp, baseProd))
				w.readOK(at(2, 3500), w.alice.read(at(3, 0), baseImp, baseExp, baseProd), w.bob.read(at(3, 0), baseImp+c.imp, baseExp+c.exp, baseProd))
				w.blockAt(at(3, 0) + w.s.Params().SettlementDeadlineS)
				var ok bool
				if st, ok = w.s.Settlement(at(2, 0)); !ok {
					t.Fatal("not settled at the deadline")
				}
			}
			if len(st.DR) != 1 {
				t.Fatalf("DR payments %+v", st.DR)
			}
			want := contract.DRPayment{Request: "dr-1", Member: "bob", BaselineWh: 3000, MeteredWh: c.imp - c.exp, PromisedWh: 3000,
				VerifiedWh: c.wantVerified, PaidNano: c.wantVerified * drIncentive, Missing: !c.batteryReports}
			if st.DR[0] != want {
				t.Errorf("payment %+v\nwant    %+v", st.DR[0], want)
			}
			// The battery's flows are recorded beside the grid meter's,
			// never added to them.
			m := member(t, st, "bob")
			if m.ImportWh != c.imp || m.ExportWh != c.exp || m.TokensMintedWh != 0 {
				t.Errorf("bob's settlement %+v", m)
			}
			if c.batteryReports && (m.BatteryChargeWh != c.charge || m.BatteryDischargeWh != c.discharge) {
				t.Errorf("bob's battery flows %+v", m)
			}
			w.wallet("dso", unit-c.wantVerified*drIncentive, 0)
			w.conserved()
		})
	}
}

// A battery, its approval and its meter survive a reload bit for bit, and
// a block after it gives the same app hash.
func TestBatterySurvivesReload(t *testing.T) {
	w, _ := batteryWorld(t)
	loaded, err := contract.Load(w.entries(), w.height, w.mt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loaded.AppHash(), w.s.AppHash()) {
		t.Fatal("app hash differs after load")
	}
	if a, b := w.s.Batteries(), loaded.Batteries(); !reflect.DeepEqual(a, b) || len(a) != 1 || !a[0].Approved {
		t.Errorf("batteries after load %+v, want %+v", b, a)
	}
	if a, b := w.s.Meters(), loaded.Meters(); !reflect.DeepEqual(a, b) {
		t.Errorf("meters after load %+v, want %+v", b, a)
	}
	// The loaded state refuses a second meter on the battery as the
	// original does.
	for _, s := range []*contract.State{w.s, loaded} {
		s.BeginBlock(w.height+1, at(0, 100)*ns)
		raw := w.sign(keyOf("operator"), testChain, "operator", w.nonces["operator"]+1, contract.TypeRegisterMeter,
			&contract.MsgRegisterMeter{ID: "m-2", Owner: "bob", PubKey: pubOf("m-2"), Battery: "bat-bob"})
		if r := s.DeliverTxs([][]byte{raw}); r[0].Code != contract.CodeDuplicate {
			t.Errorf("second meter on the battery: %s %s", r[0].Code.Name(), r[0].Log)
		}
		s.EndBlock()
	}
	if !bytes.Equal(loaded.AppHash(), w.s.AppHash()) {
		t.Error("app hash differs a block after load")
	}
}

// "The state encoding changes only for new data": a ledger without
// batteries writes no battery entry and no battery field, so its app hash
// is what it was before batteries existed.
func TestNoBatteryNoNewEncoding(t *testing.T) {
	w, _ := seedExample(t)
	for k, v := range w.writes {
		if strings.HasPrefix(k, "b/") || bytes.Contains(v, []byte(`"battery`)) {
			t.Errorf("entry %s mentions a battery: %s", k, v)
		}
	}
	if len(w.writes) == 0 {
		t.Fatal("no writes recorded")
	}
}

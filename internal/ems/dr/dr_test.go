package dr

import (
	"reflect"
	"slices"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/plan"
)

func flat(v int64) []int64 {
	out := make([]int64, plan.HoursPerDay)
	for h := range out {
		out[h] = v
	}
	return out
}

// evening is a home whose cheapest plan charges its EV and runs its
// washer in the evening (night tariff from 18 h), without PV.
func evening() plan.Site {
	buy := flat(95_000)
	for h := 18; h < 24; h++ {
		buy[h] = 60_000
	}
	ev := int64(14_000)
	return plan.Site{
		BaseWh: flat(400), PVWh: flat(0), BuyMicroPerKWh: buy, SellMicroPerKWh: flat(39_000),
		Appliances: []plan.Appliance{
			{Name: "ev", Start: 18, End: 7, Flexible: true, PowerW: 7000, EnergyWh: &ev, MaxPowerW: 7000},
			{Name: "washer", Start: 17, End: 23, Flexible: true, PowerW: 2000, Hours: 2},
			{Name: "fridge", Start: 0, End: 0, Flexible: false, PowerW: 100, Hours: 24},
		},
	}
}

// A request at 18–20 h paying more than the tariff gap moves the EV and
// the washer out of those hours: the promise is what left them, and the
// plan without the request is unchanged.
func TestRespondMovesFlexibleLoadOutOfTheRequest(t *testing.T) {
	s := evening()
	var inc [plan.HoursPerDay]int64
	inc[18], inc[19] = 200_000, 200_000
	r, err := Respond(s, inc)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := plan.Plan(s)
	if !reflect.DeepEqual(r.Base, base) {
		t.Errorf("base plan differs from Plan")
	}
	for _, h := range []int{18, 19} {
		if r.Base.NetWh[h] <= 500 {
			t.Fatalf("base plan leaves hour %d empty (%d Wh): the test needs load to move", h, r.Base.NetWh[h])
		}
		if r.WithDR.NetWh[h] != 500 { // base 400 + fridge 100 only
			t.Errorf("hour %d with DR: %d Wh, want 500", h, r.WithDR.NetWh[h])
		}
		if want := r.Base.NetWh[h] - 500; r.PromisedWh[h] != want {
			t.Errorf("promised %d in hour %d, want %d", r.PromisedWh[h], h, want)
		}
	}
	for h := range plan.HoursPerDay {
		if h != 18 && h != 19 && r.PromisedWh[h] != 0 {
			t.Errorf("promise outside the request, hour %d", h)
		}
	}
	if slices.Max(r.WithDR.NetWh) > 7000+2000+500 {
		t.Errorf("net %v", r.WithDR.NetWh)
	}
	// Energy is kept: the day's total is the same with and without DR.
	if sum(r.Base.NetWh) != sum(r.WithDR.NetWh) {
		t.Errorf("day's energy %d with DR, %d without", sum(r.WithDR.NetWh), sum(r.Base.NetWh))
	}
	if r.DRCostNano < r.BaseCostNano {
		t.Errorf("the DR plan is cheaper at the site's own prices (%d < %d): the base was not optimal", r.DRCostNano, r.BaseCostNano)
	}
	if r.DRCostNano != Cost(s, r.WithDR.NetWh) || r.WithDR.CostNano != r.DRCostNano {
		t.Errorf("DR cost %d, recomputed %d", r.DRCostNano, Cost(s, r.WithDR.NetWh))
	}
	if want := (r.PromisedWh[18] + r.PromisedWh[19]) * 200_000; r.IncentiveNano != want {
		t.Errorf("incentive %d, want %d", r.IncentiveNano, want)
	}
}

// An incentive below what moving costs changes nothing and promises
// nothing.
func TestRespondIgnoresAnIncentiveThatDoesNotPay(t *testing.T) {
	s := evening()
	for h := range plan.HoursPerDay {
		s.BuyMicroPerKWh[h] = 60_000 // no cheaper hour to move to
	}
	var inc [plan.HoursPerDay]int64
	inc[18] = 1
	r, err := Respond(s, inc)
	if err != nil {
		t.Fatal(err)
	}
	// Moving out of 18 h costs nothing here, so even 1 µ/kWh moves the
	// load: the plan follows the incentive whenever it is free to.
	if r.WithDR.NetWh[18] != 500 || r.IncentiveNano != r.PromisedWh[18] {
		t.Errorf("with DR %v promised %v", r.WithDR.NetWh, r.PromisedWh)
	}
	// When 18 h is 10,000 per kWh cheaper than any other hour, 1 µ/kWh
	// does not pay for the move: the plan stays and nothing is promised.
	s = evening()
	s.BuyMicroPerKWh[18] = 50_000
	r, _ = Respond(s, inc)
	if r.PromisedWh != [plan.HoursPerDay]int64{} || !reflect.DeepEqual(r.WithDR.NetWh, r.Base.NetWh) {
		t.Errorf("moved for an incentive that does not pay: %v", r.PromisedWh)
	}
}

func TestRespondRefusesANegativeIncentive(t *testing.T) {
	var inc [plan.HoursPerDay]int64
	inc[3] = -1
	if _, err := Respond(evening(), inc); err == nil {
		t.Error("negative incentive accepted")
	}
}

func TestFlexCountsFlexibleLoadOnly(t *testing.T) {
	s := evening()
	r, _ := plan.Plan(s)
	f := FlexWh(s, r)
	var total int64
	for _, v := range f {
		total += v
	}
	if total != 14_000+2*2000 {
		t.Errorf("flexibility %d Wh over the day, want the EV's 14000 and the washer's 4000", total)
	}
}

func TestImbalanceFindsTheFirstRunAboveTheLimit(t *testing.T) {
	for _, c := range []struct {
		net      []int64
		first, n int
		excess   int64
		limit    int64
		name     string
	}{
		{[]int64{5, 12, 15, 9, 20}, 1, 2, 5, 10, "run in the middle"},
		{[]int64{1, 2, 3}, 0, 0, 0, 10, "balanced"},
		{[]int64{11}, 0, 1, 1, 10, "single"},
	} {
		f, n, e := Imbalance(c.net, c.limit)
		if f != c.first || n != c.n || e != c.excess {
			t.Errorf("%s: got %d,%d,%d want %d,%d,%d", c.name, f, n, e, c.first, c.n, c.excess)
		}
	}
}

func TestRankMostFlexibleFirstUpToTheWant(t *testing.T) {
	got := Rank(map[string]int64{"a": 500, "b": 3000, "c": 3000, "d": 0, "e": 100}, 6200)
	want := []contract.DRTarget{{Member: "b", ReductionWh: 3000}, {Member: "c", ReductionWh: 3000}, {Member: "a", ReductionWh: 200}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rank %+v, want %+v", got, want)
	}
	if got := Rank(map[string]int64{"a": 10}, 100); len(got) != 1 || got[0].ReductionWh != 10 {
		t.Errorf("short of the want: %+v", got)
	}
}

func TestMemberFlexIsTheLeastOverTheIntervals(t *testing.T) {
	got := MemberFlex([][]contract.PlanEntry{
		{{Member: "a", FlexWh: 500}, {Member: "b", FlexWh: 900}, {Member: "c", FlexWh: 50}},
		{{Member: "a", FlexWh: 700}, {Member: "b", FlexWh: 100}},
	})
	want := map[string]int64{"a": 500, "b": 100}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flex %v, want %v", got, want)
	}
}

func sum(v []int64) int64 {
	var t int64
	for _, x := range v {
		t += x
	}
	return t
}

// A battery's flexibility in an hour is what the plan charges then plus
// what more it could discharge: within its power, and within what it
// holds above its reserve when the hour starts.
func TestFlexCountsTheBattery(t *testing.T) {
	// A lossless battery of 100 Wh steps with nothing to serve and an
	// export worth nothing: moving it gains nothing.
	b := plan.Battery{CapacityWh: 10_000, MinSoCWh: 1000, InitialSoCWh: 5000, FinalSoCWh: 1000, MaxChargeW: 3000, MaxDischargeW: 3000,
		ChargeEfficiencyPermille: 1000, DischargeEfficiencyPermille: 1000}
	for _, c := range []struct {
		initial, want int64
	}{
		{5000, 3000}, // power-bound: 30 steps of the 40 it holds
		{2000, 1000}, // charge-bound: 10 steps above the reserve
		{1000, 0},    // empty
	} {
		b.InitialSoCWh = c.initial
		s := plan.Site{BaseWh: flat(0), PVWh: flat(0), BuyMicroPerKWh: flat(100_000), SellMicroPerKWh: flat(0), Battery: &b}
		r, err := plan.Plan(s)
		if err != nil {
			t.Fatal(err)
		}
		// Any discharge costs nothing either: check against the schedule
		// planned, and the figures above where it is idle.
		soc, idle := c.initial, 0
		for h, f := range FlexWh(s, r) {
			out := max(0, -r.Battery.Steps[h])
			want := r.Battery.ChargeWh[h] + max(0, min(30-out, (soc-1000)/100-out))*100
			if f != want {
				t.Fatalf("initial %d, hour %d: flex %d, want %d (plan %+v)", c.initial, h, f, want, r.Battery)
			}
			if r.Battery.Steps[h] == 0 && soc == c.initial {
				if idle++; f != c.want {
					t.Fatalf("initial %d, hour %d: flex %d while idle, want %d", c.initial, h, f, c.want)
				}
			}
			soc = r.Battery.SoCWh[h]
		}
		if idle == 0 {
			t.Fatalf("initial %d: never idle at its initial charge: %+v", c.initial, r.Battery)
		}
	}
}

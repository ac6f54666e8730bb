package agent

import (
	"context"
	"log/slog"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/plan"
)

const batteryDay = int64(20 * 86400)

// batteryHome is a home using 500 Wh an hour whose 3 kW of PV make 3000 Wh
// an hour from 9 to 15, with a 10 kWh battery (1 kWh reserve, 5 kW, 95 %
// each way), local time UTC; soc, when set, is its battery's reading.
func batteryHome(soc *int64) (*Agent, *plansLedger) {
	l := &plansLedger{}
	utc := 0
	a := &Agent{Home: Home{Member: "H1", UTCOffsetH: &utc, RES: "H1-pv", CapacityW: 3000,
		Battery: &Battery{CapacityWh: 10_000, MinSoCWh: 1000, MaxChargeW: 5000, MaxDischargeW: 5000,
			ChargeEfficiencyPermille: 950, DischargeEfficiencyPermille: 950, InitialSoCWh: 1000}},
		Ledger: l, Log: slog.New(slog.DiscardHandler), LeadIntervals: 1,
		Forecast: func(int64) (base, pv [plan.HoursPerDay]int64, err error) {
			for h := range base {
				base[h] = 500
				if h >= 9 && h < 16 {
					pv[h] = 3000
				}
			}
			return base, pv, nil
		}}
	if soc != nil {
		a.BatterySoCWh = func() int64 { return *soc }
	}
	return a, l
}

func plansSent(l *plansLedger) []*contract.MsgPlan {
	var out []*contract.MsgPlan
	for _, m := range l.sent {
		if p, ok := m.(*contract.MsgPlan); ok {
			out = append(out, p)
		}
	}
	return out
}

// The day's plan stores the midday surplus and uses it in the evening;
// the plan on the ledger carries the battery's schedule and state of
// charge, and its net import includes the battery. The next day starts
// from what the battery reads now plus what today's plan still moves.
func TestAgentPlansItsBattery(t *testing.T) {
	soc := int64(1000)
	a, l := batteryHome(&soc)
	ctx := context.Background()
	p := contract.DefaultParams()
	if err := a.Step(ctx, Snapshot{MarketTime: batteryDay - 12*3600, Params: p}); err != nil {
		t.Fatal(err)
	}
	d, ok := a.Plan(batteryDay)
	if !ok || d.Current.Battery == nil || d.Site.Battery == nil {
		t.Fatalf("day not planned with its battery: %+v", d)
	}
	if b := d.Site.Battery; b.InitialSoCWh != 1000 || b.FinalSoCWh != 1000 || b.MinSoCWh != 1000 {
		t.Fatalf("planned from %d to %d (reserve %d)", b.InitialSoCWh, b.FinalSoCWh, b.MinSoCWh)
	}
	bp := d.Current.Battery
	var middayIn, eveningOut int64
	for h := range plan.HoursPerDay {
		if h >= 9 && h < 16 {
			middayIn += bp.ChargeWh[h]
		}
		if h >= 16 {
			eveningOut += bp.DischargeWh[h]
		}
	}
	if middayIn == 0 || eveningOut == 0 {
		t.Fatalf("the battery neither stores the surplus nor meets the evening: %+v", bp)
	}
	var m *contract.MsgPlan
	for _, s := range plansSent(l) {
		if s.Start == batteryDay {
			m = s
		}
	}
	if m == nil {
		t.Fatal("the day's plan was not sent")
	}
	if len(m.BatteryWh) != plan.HoursPerDay || len(m.BatterySoCWh) != plan.HoursPerDay {
		t.Fatalf("plan without the battery's schedule: %+v", m)
	}
	for h := range plan.HoursPerDay {
		pvWh := int64(0)
		if h >= 9 && h < 16 {
			pvWh = 3000
		}
		if m.BatteryWh[h] != bp.ChargeWh[h]-bp.DischargeWh[h] || m.NetWh[h] != 500-pvWh+m.BatteryWh[h] || m.BatterySoCWh[h] != bp.SoCWh[h] {
			t.Fatalf("hour %d: net %d, battery %d, soc %d; plan %+v", h, m.NetWh[h], m.BatteryWh[h], m.BatterySoCWh[h], bp)
		}
		if got, net := a.BatteryWh(batteryDay+int64(h)*3600+1800, p); got != m.BatteryWh[h] || net != m.NetWh[h] {
			t.Fatalf("hour %d: the battery is asked %d toward %d, the plan says %d toward %d", h, got, net, m.BatteryWh[h], m.NetWh[h])
		}
	}
	// At noon the battery reads 300 Wh more than the plan expected at the
	// end of hour 11: tomorrow starts that much above where today ends.
	soc = bp.SoCWh[11] + 300
	if err := a.Step(ctx, Snapshot{MarketTime: batteryDay + 12*3600, Params: p}); err != nil {
		t.Fatal(err)
	}
	next, ok := a.Plan(batteryDay + 86400)
	if !ok || next.Site.Battery == nil {
		t.Fatal("the next day is not planned with its battery")
	}
	if want := bp.SoCWh[23] + 300; next.Site.Battery.InitialSoCWh != want {
		t.Errorf("the next day starts at %d, want %d", next.Site.Battery.InitialSoCWh, want)
	}
}

// Without a reading, the first day starts from the battery's
// InitialSoCWh and each day after where the plan before leaves it.
func TestAgentChainsTheBatteryWithoutAReading(t *testing.T) {
	a, _ := batteryHome(nil)
	a.Home.Battery.InitialSoCWh = 6000
	p := contract.DefaultParams()
	// The day in progress at start-up, and the next.
	if err := a.Step(context.Background(), Snapshot{MarketTime: batteryDay - 12*3600, Params: p}); err != nil {
		t.Fatal(err)
	}
	d0, _ := a.Plan(batteryDay - 86400)
	d1, ok := a.Plan(batteryDay)
	if !ok || d0.Site.Battery.InitialSoCWh != 6000 || d1.Site.Battery.InitialSoCWh != d0.Current.Battery.SoCWh[23] {
		t.Fatalf("day 0 from %d to %d, day 1 from %d", d0.Site.Battery.InitialSoCWh, d0.Current.Battery.SoCWh[23], d1.Site.Battery.InitialSoCWh)
	}
	// The reserve is all a day must leave: day 0 spends what it started with.
	if d0.Current.Battery.SoCWh[23] >= 6000 {
		t.Errorf("day 0 keeps %d Wh it could have used", d0.Current.Battery.SoCWh[23])
	}
}

// A demand-response request for the evening is answered by the battery
// (the home has no appliances): the re-plan gives more from it over the
// requested hours, and the reduction committed in each hour is at most
// what the new plan takes off its net there.
func TestAgentAnswersDemandResponseWithItsBattery(t *testing.T) {
	a, l := batteryHome(nil)
	p := contract.DefaultParams()
	ctx := context.Background()
	if err := a.Step(ctx, Snapshot{MarketTime: batteryDay - 12*3600, Params: p}); err != nil {
		t.Fatal(err)
	}
	r := contract.DRRequest{ID: "dr1", Start: batteryDay + 18*3600, End: batteryDay + 21*3600, IntervalS: 3600, ReductionWh: 2000,
		IncentivePerKWh: 100_000, State: contract.DROpen}
	if err := a.Step(ctx, Snapshot{MarketTime: batteryDay - 10*3600, Params: p, DR: []contract.DRRequest{r}}); err != nil {
		t.Fatal(err)
	}
	var commit *contract.MsgDRCommit
	for _, m := range l.sent {
		if c, ok := m.(*contract.MsgDRCommit); ok {
			commit = c
		}
	}
	if commit == nil {
		t.Fatal("no reduction committed")
	}
	d, _ := a.Plan(batteryDay)
	var total, gaveBefore, gives int64
	c, n := d.Committed.Battery, d.Current.Battery
	for i, wh := range commit.ReductionWh {
		h := 18 + i
		if drop := d.Committed.NetWh[h] - d.Current.NetWh[h]; wh < 0 || wh > 2000 || wh > max(0, drop) {
			t.Errorf("hour %d: promised %d of the net's fall %d", h, wh, drop)
		}
		total += wh
		gaveBefore += c.DischargeWh[h] - c.ChargeWh[h]
		gives += n.DischargeWh[h] - n.ChargeWh[h]
	}
	if total == 0 || gives <= gaveBefore {
		t.Errorf("promised %d Wh; the battery gives %d in the requested hours, %d without the request", total, gives, gaveBefore)
	}
}

// An order is never of the battery's discharge: a surplus is offered only
// beyond it, and a surplus that is all the battery's is not offered.
func TestOrderableLeavesTheBatterysExportOut(t *testing.T) {
	r := plan.Result{Battery: &plan.BatteryPlan{DischargeWh: make([]int64, plan.HoursPerDay), ChargeWh: make([]int64, plan.HoursPerDay)}}
	r.Battery.DischargeWh[5] = 800
	for _, c := range []struct {
		h        int
		net      int64
		want     int64
		wantSell bool
	}{
		{5, 1200, 1200, true},   // a deficit: bid it
		{5, -2000, -1200, true}, // offer what the PV exports beyond the battery
		{5, -800, 0, false},     // all of it the battery's
		{5, -300, 0, false},
		{6, -2000, -2000, true}, // no discharge: the plan's surplus
	} {
		got, ok := orderable(c.net, r, c.h)
		if got != c.want || ok != c.wantSell {
			t.Errorf("net %d in hour %d: %d %v, want %d %v", c.net, c.h, got, ok, c.want, c.wantSell)
		}
	}
	if got, ok := orderable(-500, plan.Result{}, 3); got != -500 || !ok {
		t.Errorf("without a battery: %d %v", got, ok)
	}
}

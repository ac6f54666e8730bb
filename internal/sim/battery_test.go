package sim

import (
	"math/rand/v2"
	"testing"
)

// Whatever it is asked, a battery stays in its window and its power,
// never charges and discharges at once, stores what it draws at its
// efficiency and gives what it withdraws at its own, and does all it is
// asked when its power and window allow.
func TestBatteryRunKeepsItsLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 3))
	for range 2000 {
		capWh := rng.Int64N(20_000) + 1000
		b := &Battery{CapacityWh: capWh, MinSoCWh: capWh * rng.Int64N(50) / 100, MaxChargeW: rng.Int64N(6000) + 1,
			MaxDischargeW: rng.Int64N(6000) + 1, ChargePermille: 500 + rng.Int64N(501), DischargePermille: 500 + rng.Int64N(501)}
		b.SoCWh = b.MinSoCWh + rng.Int64N(capWh-b.MinSoCWh+1)
		for range 48 {
			ask := rng.Int64N(16_000) - 8000
			before := b.SoCWh
			c, d := b.Run(ask)
			if c < 0 || d < 0 || (c > 0 && d > 0) {
				t.Fatalf("%+v asked %d: drew %d, gave %d", b, ask, c, d)
			}
			if b.SoCWh < b.MinSoCWh || b.SoCWh > b.CapacityWh {
				t.Fatalf("%+v asked %d: state of charge %d outside %d..%d", b, ask, b.SoCWh, b.MinSoCWh, b.CapacityWh)
			}
			if c > b.MaxChargeW || d > b.MaxDischargeW || (ask >= 0 && (d > 0 || c > ask)) || (ask <= 0 && (c > 0 || d > -ask)) {
				t.Fatalf("%+v asked %d: drew %d, gave %d", b, ask, c, d)
			}
			if want := before + c*b.ChargePermille/1000 - (d*1000+b.DischargePermille-1)/b.DischargePermille; b.SoCWh != want {
				t.Fatalf("state of charge %d after drawing %d and giving %d from %d, want %d", b.SoCWh, c, d, before, want)
			}
			// All of it when the limits allow.
			if ask > 0 && ask <= b.MaxChargeW && before+ask*b.ChargePermille/1000 <= b.CapacityWh && c != ask {
				t.Fatalf("%+v asked to draw %d with room: drew %d", b, ask, c)
			}
			if ask < 0 && -ask <= b.MaxDischargeW && before-(-ask*1000+b.DischargePermille-1)/b.DischargePermille >= b.MinSoCWh && d != -ask {
				t.Fatalf("%+v asked to give %d with charge: gave %d", b, -ask, d)
			}
		}
	}
}

// A round trip loses what the efficiencies say: 10 kWh at 95 % each way.
func TestBatteryRoundTrip(t *testing.T) {
	b := &Battery{CapacityWh: 10_000, MinSoCWh: 1000, MaxChargeW: 5000, MaxDischargeW: 5000, ChargePermille: 950, DischargePermille: 950, SoCWh: 1000}
	if c, _ := b.Run(4000); c != 4000 || b.SoCWh != 4800 {
		t.Fatalf("drew %d, stored %d", c, b.SoCWh)
	}
	if _, d := b.Run(-5000); d != 3610 || b.SoCWh != 1000 {
		t.Fatalf("gave %d, left %d: want 3800 × 0.95 = 3610 and the reserve", d, b.SoCWh)
	}
}

// A battery following its plan aims for the planned net import, in the
// plan's direction and up to the plan's amount.
func TestSetpoint(t *testing.T) {
	for _, c := range []struct{ plan, planNet, actual, want int64 }{
		{2000, -500, -2500, 2000}, // as forecast: store 2000, export 500
		{2000, -500, -1800, 1300}, // less sun: store less, still export the 500 sold
		{2000, -500, -4000, 2000}, // more sun: the plan's 2000, the rest exported
		{2000, -500, 300, 0},      // no surplus at all: draw nothing from the grid
		{1500, 1500, 0, 1500},     // charging from the grid as planned
		{-600, 0, 600, -600},      // meet the evening load
		{-600, 0, 250, -250},      // less load: do not export
		{-600, 0, -100, 0},        // a surplus: give nothing
		{-600, 0, 900, -600},      // more load: the plan's 600
		{0, 300, 900, 0},          // idle stays idle
	} {
		if got := Setpoint(c.plan, c.planNet, c.actual); got != c.want {
			t.Errorf("plan %d toward %d, actual %d: %d, want %d", c.plan, c.planNet, c.actual, got, c.want)
		}
	}
}

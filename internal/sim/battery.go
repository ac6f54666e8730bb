package sim

import "github.com/gridledger/gridledger/internal/community"

// Battery is a simulated home battery: its state of charge hour by hour,
// moved by what the site's EMS asks of it within what it can do. Energy
// drawn from the site's connection is stored at the charge efficiency;
// energy withdrawn reaches the site at the discharge efficiency. Integer
// Wh throughout, rounded so that the state of charge never leaves its
// window: what is stored rounds down, what is withdrawn to deliver an
// amount rounds up.
type Battery struct {
	CapacityWh, MinSoCWh int64
	MaxChargeW           int64
	MaxDischargeW        int64
	// Efficiencies, ‰.
	ChargePermille, DischargePermille int64
	// SoCWh is the energy stored now.
	SoCWh int64
}

// NewBattery is a site's battery as the community describes it, at its
// initial state of charge.
func NewBattery(b community.Battery) *Battery {
	return &Battery{CapacityWh: b.CapacityWh, MinSoCWh: b.MinSoCWh(), MaxChargeW: b.MaxChargeW, MaxDischargeW: b.MaxDischargeW,
		ChargePermille: community.EfficiencyPermille(b.ChargeEfficiency), DischargePermille: community.EfficiencyPermille(b.DischargeEfficiency),
		SoCWh: b.InitialSoCWh()}
}

// Setpoint is what a battery following its plan draws (positive) or
// delivers (negative) in an hour, as an inverter holding the site at a
// grid setpoint does: it aims for the net import the plan expects
// (planNetWh) given the site's actual net import without the battery
// (actualNetWh), but only in the plan's direction and never beyond the
// plan's own amount (planWh). So a forecast error is absorbed where the
// plan lets it, never made worse: a battery planned to store a surplus
// that does not come does not draw it from the grid at the peak price,
// and one planned to meet a load that is not there does not export.
func Setpoint(planWh, planNetWh, actualNetWh int64) int64 {
	switch {
	case planWh > 0:
		return min(planWh, max(0, planNetWh-actualNetWh))
	case planWh < 0:
		return -min(-planWh, max(0, actualNetWh-planNetWh))
	}
	return 0
}

// Run moves the battery for one hour as asked: gridWh > 0 charges that
// much from the site's connection, gridWh < 0 discharges that much into
// it, each clamped to the power limit and to what the window lets it
// store or give. It returns what it really drew and delivered (one of
// them 0).
func (b *Battery) Run(gridWh int64) (chargeWh, dischargeWh int64) {
	switch {
	case gridWh > 0:
		// The most it can draw whose stored part, rounded down, fits.
		room := max(0, b.CapacityWh-b.SoCWh)
		chargeWh = min(gridWh, b.MaxChargeW, ((room+1)*1000-1)/b.ChargePermille)
		b.SoCWh += chargeWh * b.ChargePermille / 1000
	case gridWh < 0:
		avail := max(0, b.SoCWh-b.MinSoCWh)
		dischargeWh = min(-gridWh, b.MaxDischargeW, avail*b.DischargePermille/1000)
		b.SoCWh -= (dischargeWh*1000 + b.DischargePermille - 1) / b.DischargePermille
	}
	return chargeWh, dischargeWh
}

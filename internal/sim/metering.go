package sim

import (
	"sync/atomic"

	"github.com/gridledger/gridledger/internal/reading"
)

// Meter accumulates a site's registers interval by interval (hourly: the
// site's model and its EMS are). The site's load and production are
// spread evenly over an interval, so the registers at any moment inside it
// are known; net import or export is settled per interval, as a meter's
// netting register would over the span.
type Meter struct {
	Site      Site
	IntervalS int64
	// ApplianceWh, if set, is what the site's planned appliances draw in
	// the interval starting at a time (its EMS's plan, as its relays run
	// them), added to the profile's load.
	ApplianceWh func(start int64) int64
	// Battery, if set, is the site's home battery: in each interval it
	// draws or delivers what BatteryWh (the EMS's plan: what to move and
	// the net import expected) asks through Setpoint, run once at the
	// interval's start as the offline simulator does at its end. What it
	// moves is in the site's registers and in BatteryAt's.
	Battery   *Battery
	BatteryWh func(start int64) (planWh, planNetWh int64)
	base      reading.Registers // registers at the start of interval `at`
	at        int64             // start of the interval base refers to; 0 = not started
	// The battery's sub-meter registers at the start of interval `at`,
	// and what it moves in the interval ranAt (0: not run yet).
	batBase           reading.Registers
	ranAt             int64
	chargeWh, dischWh int64
	// soc, if set, is kept at the battery's state of charge at the start
	// of the latest interval run: the reading its EMS plans from, read
	// from another goroutine.
	soc *atomic.Int64
}

// At returns the registers at market time t, dated t (t must not go back
// in time across calls; the caller numbers them).
func (m *Meter) At(t int64) reading.Registers {
	start := t - ((t%m.IntervalS)+m.IntervalS)%m.IntervalS
	if m.at == 0 {
		m.at = start
	}
	for m.at < start {
		m.base = m.add(m.base, m.at, m.IntervalS)
		m.batBase = m.addBattery(m.batBase, m.at, m.IntervalS)
		m.at += m.IntervalS
	}
	r := m.add(m.base, start, t-start)
	r.Time = t
	return r
}

// BatteryAt returns the battery's sub-meter registers at market time t,
// dated t: what it charged as import, what it discharged as export. Call
// it after At(t) (it reads the same intervals).
func (m *Meter) BatteryAt(t int64) reading.Registers {
	r := m.At(t)
	start := t - ((t%m.IntervalS)+m.IntervalS)%m.IntervalS
	b := m.addBattery(m.batBase, start, t-start)
	b.Time = r.Time
	return b
}

// runBattery moves the battery for the interval at start, once, given the
// site's net import without it.
func (m *Meter) runBattery(start, netWh int64) (chargeWh, dischargeWh int64) {
	if m.Battery == nil {
		return 0, 0
	}
	if start > m.ranAt {
		var planWh, planNetWh int64
		if m.BatteryWh != nil {
			planWh, planNetWh = m.BatteryWh(start)
		}
		m.ranAt = start
		if m.soc != nil {
			m.soc.Store(m.Battery.SoCWh)
		}
		m.chargeWh, m.dischWh = m.Battery.Run(Setpoint(planWh, planNetWh, netWh))
	}
	return m.chargeWh, m.dischWh
}

// addBattery returns the battery registers r plus the first elapsed
// seconds of the interval at start (after add has run it).
func (m *Meter) addBattery(r reading.Registers, start, elapsed int64) reading.Registers {
	if m.Battery == nil || m.ranAt != start {
		return r
	}
	r.ImportWh += m.chargeWh * elapsed / m.IntervalS
	r.ExportWh += m.dischWh * elapsed / m.IntervalS
	return r
}

// add returns r plus the first elapsed seconds of the interval at start.
func (m *Meter) add(r reading.Registers, start, elapsed int64) reading.Registers {
	load, gen := m.Site.Actual(start)
	if m.ApplianceWh != nil {
		load += m.ApplianceWh(start)
	}
	frac := func(v int64) int64 { return v * elapsed / m.IntervalS }
	r.ProductionWh += frac(gen)
	c, d := m.runBattery(start, load-gen)
	if net := load + c - d - gen; net > 0 {
		r.ImportWh += frac(net)
	} else {
		r.ExportWh += frac(-net)
	}
	return r
}

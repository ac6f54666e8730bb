package sim

import "github.com/gridledger/gridledger/internal/reading"

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
	base        reading.Registers // registers at the start of interval `at`
	at          int64             // start of the interval base refers to; 0 = not started
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
		m.at += m.IntervalS
	}
	r := m.add(m.base, start, t-start)
	r.Time = t
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
	if net := load - gen; net > 0 {
		r.ImportWh += frac(net)
	} else {
		r.ExportWh += frac(-net)
	}
	return r
}

package sim

// MeterRegisters are a site meter's cumulative registers in Wh.
type MeterRegisters struct {
	ImportWh, ExportWh, ProductionWh int64
}

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
	base        MeterRegisters // registers at the start of interval `at`
	at          int64          // start of the interval base refers to; 0 = not started
}

// At returns the registers at market time t (which must not go back in
// time across calls).
func (m *Meter) At(t int64) MeterRegisters {
	start := t - ((t%m.IntervalS)+m.IntervalS)%m.IntervalS
	if m.at == 0 {
		m.at = start
	}
	for m.at < start {
		m.base = m.add(m.base, m.at, m.IntervalS)
		m.at += m.IntervalS
	}
	return m.add(m.base, start, t-start)
}

// add returns r plus the first elapsed seconds of the interval at start.
func (m *Meter) add(r MeterRegisters, start, elapsed int64) MeterRegisters {
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

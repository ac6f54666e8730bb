package sim

// What a site really consumes and produces differs from what it expected
// when it bid: the weather and the household do not follow the forecast.
// Actual models that deviation; Meter turns it into the cumulative
// registers a smart meter would show at any moment.

// Actual is the site's metered consumption and production over an
// interval: its expectation, with a further ±15 % for load and ±20 % for
// production that nobody could have forecast.
func (s Site) Actual(start, intervalS int64, hour int) (loadWh, genWh int64) {
	load, gen := s.Expected(start, intervalS, hour)
	load = load * (85 + noise(s.ID, start, "actual-load", 31)) / 100
	gen = gen * (80 + noise(s.ID, start, "actual-gen", 41)) / 100
	return load, gen
}

// MeterRegisters are a site meter's cumulative registers in Wh.
type MeterRegisters struct {
	ImportWh, ExportWh, ProductionWh int64
}

// Meter accumulates a site's registers interval by interval. The site's
// load and production are spread evenly over an interval, so the
// registers at any moment inside it are known; net import or export is
// settled per interval, as a meter's netting register would over the span.
type Meter struct {
	Site      Site
	IntervalS int64
	// UTCOffsetS maps market time to the local hour of the site's profile.
	UTCOffsetS int64
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
	hour := int(((start+m.UTCOffsetS)%86400 + 86400) % 86400 / 3600)
	load, gen := m.Site.Actual(start, m.IntervalS, hour)
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

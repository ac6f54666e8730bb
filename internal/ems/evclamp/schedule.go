package evclamp

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gridledger/gridledger/internal/ems/plan"
)

// Durations in seconds.
const (
	HourS = 3600
	DayS  = 24 * HourS
)

// Learning parameters; the package comment says why.
const (
	// MinProfileSessions is the fewest sessions a weekday or weekend
	// profile needs to have hours and energies of its own.
	MinProfileSessions = 3
	// EnergyPercentile is the session energy the planner is given.
	EnergyPercentile = 80
	// PowerPercentile of the session plateaus is the charger's power.
	PowerPercentile = 90
	// Weekday and weekend differ when their plug-in times are this far
	// apart, their median energies differ by this fraction of the larger,
	// or their sessions per day by this much, and the difference is at
	// significant at |z| ≥ DifferZ (see Learn).
	DifferPlugInS      = HourS
	DifferEnergyFrac   = 0.25
	DifferSessionsRate = 0.25
	DifferZ            = 2.5
)

// Coverage is how much data a series holds, in days, split by the kind of
// local day: the denominator of sessions per day, so that an outage is
// not mistaken for days without charging.
type Coverage struct {
	WeekdayDays float64 `json:"weekday_days"`
	WeekendDays float64 `json:"weekend_days"`
}

// Observe measures a series' coverage: the time between consecutive
// samples that are not a data gap (GapLimitS), split at local midnights
// (opt.UTCOffsetH). Samples are assumed checked (CheckSamples).
func Observe(samples []Sample, opt Options) Coverage {
	var wdS, weS int64
	off := int64(opt.UTCOffsetH) * HourS
	gapS := GapLimitS(samples, opt.MaxGapS)
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1].UnixS, samples[i].UnixS
		if b-a > gapS {
			continue
		}
		// The first day's part, whole days, the last day's part.
		for a < b {
			day := floorDiv(a+off, DayS)
			if end := (day+1)*DayS - off; a == end-DayS && b >= end {
				whole := (b - a) / DayS
				we := weekendDays(day, whole)
				weS += we * DayS
				wdS += (whole - we) * DayS
				a += whole * DayS
				continue
			}
			seg := min(b, (day+1)*DayS-off) - a
			if weekendDay(day) {
				weS += seg
			} else {
				wdS += seg
			}
			a += seg
		}
	}
	return Coverage{WeekdayDays: float64(wdS) / DayS, WeekendDays: float64(weS) / DayS}
}

// Schedule is an EV's usual charging, learned from its sessions: what the
// planner needs to plan a night's charging.
type Schedule struct {
	// Sessions learned from (cut ones counted, but not used for times and
	// energies), and the days of data they came from.
	Sessions       int     `json:"sessions"`
	Days           float64 `json:"days"`
	SessionsPerDay float64 `json:"sessions_per_day"`
	// PlugInS and ChargeEndS are local times of day in seconds after
	// midnight: the circular medians of the sessions' starts and ends.
	PlugInS    int64 `json:"plug_in_s"`
	ChargeEndS int64 `json:"charge_end_s"`
	// PlugInSDS is the spread of the plug-in times: the median circular
	// distance from PlugInS, scaled by 1.4826 to estimate a standard
	// deviation robustly.
	PlugInSDS int64 `json:"plug_in_sd_s"`
	// EnergyMedianWh is the median session energy, EnergyP80Wh its 80th
	// percentile: the energy the planner is given. EnergySDWh is the
	// robust spread (1.4826 × the median absolute deviation).
	EnergyMedianWh int64 `json:"energy_median_wh"`
	EnergyP80Wh    int64 `json:"energy_p80_wh"`
	EnergySDWh     int64 `json:"energy_sd_wh"`
	// MaxPowerW is the 90th percentile of the sessions' PlateauW: the
	// charger's power.
	MaxPowerW int64 `json:"max_power_w"`
	// StartHour and DepartureHour are the planner's window, local hours:
	// the first whole hour after the typical plug-in, and the departure
	// hour of the options unless the typical charge ran past it, in which
	// case the hour after the typical end of charging (DepartureRaised).
	StartHour       int  `json:"start_hour"`
	DepartureHour   int  `json:"departure_hour"`
	DepartureRaised bool `json:"departure_raised"`
	// Borrowed: the profile had fewer than MinProfileSessions complete
	// (not Cut) sessions, so its hours, energies and power are those of all
	// sessions; its Sessions, Days and SessionsPerDay are its own.
	Borrowed bool `json:"borrowed"`
}

// Learned is the schedule of all sessions and of the sessions plugged in
// on weekdays (Monday to Friday, local) and at weekends.
type Learned struct {
	All     Schedule `json:"all"`
	Weekday Schedule `json:"weekday"`
	Weekend Schedule `json:"weekend"`
	// WeekendDiffers says whether weekday and weekend should be planned
	// apart, and Why gives the differences found (empty when they agree).
	WeekendDiffers bool   `json:"weekend_differs"`
	Why            string `json:"why"`
}

// For returns the schedule to plan a local day with: the weekend's or the
// weekdays' when they differ, otherwise the schedule of all sessions.
func (l Learned) For(weekend bool) Schedule {
	switch {
	case !l.WeekendDiffers:
		return l.All
	case weekend:
		return l.Weekend
	default:
		return l.Weekday
	}
}

// Learn learns the usual schedule from sessions (in any order) and the
// coverage of the series they came from.
func Learn(sessions []Session, cov Coverage, opt Options) (Learned, error) {
	if err := opt.Validate(); err != nil {
		return Learned{}, err
	}
	if len(sessions) == 0 {
		return Learned{}, fmt.Errorf("%w to learn a schedule from", ErrNoSessions)
	}
	off := int64(opt.UTCOffsetH) * HourS
	var wd, we []Session
	for _, s := range sessions {
		if s.EndUnixS < s.StartUnixS {
			return Learned{}, fmt.Errorf("%w: session %s ends before it starts", ErrInvalidSamples, utc(s.StartUnixS))
		}
		if weekendDay(floorDiv(s.StartUnixS+off, DayS)) {
			we = append(we, s)
		} else {
			wd = append(wd, s)
		}
	}
	// Times and energies come from the complete sessions (all of them if
	// every one is cut); counts from all.
	allC := complete(sessions)
	if len(allC) == 0 {
		allC = sessions
	}
	all := profile(allC, len(sessions), cov.WeekdayDays+cov.WeekendDays, opt)
	l := Learned{All: all, Weekday: all, Weekend: all}
	wdC, weC := complete(wd), complete(we)
	for _, p := range []struct {
		s    *Schedule
		ss   []Session
		c    []Session
		days float64
	}{{&l.Weekday, wd, wdC, cov.WeekdayDays}, {&l.Weekend, we, weC, cov.WeekendDays}} {
		if len(p.c) >= MinProfileSessions {
			*p.s = profile(p.c, len(p.ss), p.days, opt)
		} else {
			p.s.Borrowed = true
			p.s.Sessions, p.s.Days, p.s.SessionsPerDay = len(p.ss), p.days, perDay(len(p.ss), p.days)
		}
	}
	l.Why = differences(wdC, weC, l.Weekday, l.Weekend, off)
	l.WeekendDiffers = l.Why != ""
	return l, nil
}

// differences lists how weekday and weekend differ, or returns "". A
// difference counts when it matters (DifferPlugInS, DifferEnergyFrac,
// DifferSessionsRate) and is not noise: plug-in times and energies are
// compared by a rank test (Mann–Whitney U, which assumes no distribution:
// energies pile up at a full battery, arrivals are skewed), sessions per
// day as Poisson rates, each at |z| ≥ DifferZ.
func differences(wdS, weS []Session, wd, we Schedule, off int64) string {
	var why []string
	if !wd.Borrowed && !we.Borrowed {
		// Times of day, unrolled around the common plug-in time so that
		// the ranks do not break at midnight.
		pooled := CircularMedianS(append(startsOfDay(wdS, off), startsOfDay(weS, off)...))
		unroll := func(ss []Session) []int64 {
			out := startsOfDay(ss, off)
			for i, x := range out {
				out[i] = floorMod(x-pooled+DayS/2, DayS)
			}
			return out
		}
		if d := circularDistS(wd.PlugInS, we.PlugInS); d >= DifferPlugInS && math.Abs(mannWhitneyZ(unroll(wdS), unroll(weS))) >= DifferZ {
			why = append(why, fmt.Sprintf("plug-in %s vs %s", ClockHHMM(wd.PlugInS), ClockHHMM(we.PlugInS)))
		}
		energies := func(ss []Session) []int64 {
			out := make([]int64, len(ss))
			for i, s := range ss {
				out[i] = s.EnergyWh
			}
			return out
		}
		if a, b := wd.EnergyMedianWh, we.EnergyMedianWh; math.Abs(float64(a-b)) >= DifferEnergyFrac*float64(max(a, b)) &&
			math.Abs(mannWhitneyZ(energies(wdS), energies(weS))) >= DifferZ {
			why = append(why, fmt.Sprintf("median energy %d vs %d Wh", a, b))
		}
	}
	// Rates need a week of data at least (two weekend days) to compare.
	if wd.Days >= 2 && we.Days >= 2 {
		d := math.Abs(wd.SessionsPerDay - we.SessionsPerDay)
		rate := float64(wd.Sessions+we.Sessions) / (wd.Days + we.Days)
		se := math.Sqrt(rate/wd.Days + rate/we.Days)
		if d >= DifferSessionsRate && (se == 0 || d >= DifferZ*se) {
			why = append(why, fmt.Sprintf("%.2f vs %.2f sessions per day", wd.SessionsPerDay, we.SessionsPerDay))
		}
	}
	return strings.Join(why, "; ")
}

func startsOfDay(ss []Session, off int64) []int64 {
	out := make([]int64, len(ss))
	for i, s := range ss {
		out[i] = floorMod(s.StartUnixS+off, DayS)
	}
	return out
}

// mannWhitneyZ is the normal approximation of the Mann–Whitney U statistic
// of a against b, with mid-ranks for ties and the tie-corrected variance;
// 0 when it is undefined (an empty side, or all values equal).
func mannWhitneyZ(a, b []int64) float64 {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return 0
	}
	type v struct {
		x    int64
		inA  bool
		rank float64
	}
	vs := make([]v, 0, n1+n2)
	for _, x := range a {
		vs = append(vs, v{x: x, inA: true})
	}
	for _, x := range b {
		vs = append(vs, v{x: x})
	}
	slices.SortFunc(vs, func(p, q v) int { return cmp.Compare(p.x, q.x) })
	var ties float64
	for i := 0; i < len(vs); {
		j := i
		for j < len(vs) && vs[j].x == vs[i].x {
			j++
		}
		for k := i; k < j; k++ {
			vs[k].rank = float64(i+j+1) / 2 // mid-rank of positions i+1..j
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	var r1 float64
	for _, x := range vs {
		if x.inA {
			r1 += x.rank
		}
	}
	n := float64(n1 + n2)
	u := r1 - float64(n1)*float64(n1+1)/2
	mean := float64(n1) * float64(n2) / 2
	variance := float64(n1) * float64(n2) / 12 * ((n + 1) - ties/(n*(n-1)))
	if variance <= 0 {
		return 0
	}
	return (u - mean) / math.Sqrt(variance)
}

// complete returns the sessions that are not cut.
func complete(ss []Session) []Session {
	var out []Session
	for _, s := range ss {
		if !s.Cut {
			out = append(out, s)
		}
	}
	return out
}

// profile summarises sessions (at least one) for times and energies, and
// n sessions in days of data for the rate.
func profile(ss []Session, n int, days float64, opt Options) Schedule {
	off := int64(opt.UTCOffsetH) * HourS
	starts := make([]int64, len(ss))
	ends := make([]int64, len(ss))
	energies := make([]int64, len(ss))
	plateaus := make([]int64, len(ss))
	for i, s := range ss {
		starts[i] = floorMod(s.StartUnixS+off, DayS)
		ends[i] = floorMod(s.EndUnixS+off, DayS)
		energies[i], plateaus[i] = s.EnergyWh, s.PlateauW
	}
	sc := Schedule{
		Sessions:       n,
		Days:           days,
		SessionsPerDay: perDay(n, days),
		PlugInS:        CircularMedianS(starts),
		ChargeEndS:     CircularMedianS(ends),
		EnergyMedianWh: Percentile(energies, 50),
		EnergyP80Wh:    Percentile(energies, EnergyPercentile),
		MaxPowerW:      Percentile(plateaus, PowerPercentile),
	}
	dev := make([]int64, len(ss))
	for i := range ss {
		dev[i] = circularDistS(starts[i], sc.PlugInS)
	}
	sc.PlugInSDS = robustSD(dev)
	for i := range ss {
		dev[i] = abs64(energies[i] - sc.EnergyMedianWh)
	}
	sc.EnergySDWh = robustSD(dev)
	sc.StartHour, sc.DepartureHour, sc.DepartureRaised = window(sc.PlugInS, sc.ChargeEndS, opt.DepartureHour)
	return sc
}

// window places the planner's window. It starts at the first whole hour
// after the plug-in (the car is not there before it) and ends at the
// departure hour, unless the typical charge ends after it: a car that is
// still charging has not left, so uncontrolled charging proves it stays at
// least until then, and the window then ends at the hour after that end.
// Should the window come out empty (a short charge within one hour), it
// starts at the plug-in's own hour instead.
func window(plugInS, endS int64, departureHour int) (start, end int, raised bool) {
	start = int((plugInS+HourS-1)/HourS) % 24
	end = departureHour
	if floorMod(int64(departureHour)*HourS-plugInS, DayS) < floorMod(endS-plugInS, DayS) {
		end, raised = int((endS+HourS-1)/HourS)%24, true
	}
	if start == end {
		start = int(plugInS / HourS)
	}
	return start, end, raised
}

// Appliance is the planner's energy-based appliance for this schedule:
// flexible, in the window StartHour–DepartureHour, taking EnergyP80Wh at up
// to MaxPowerW. The energy is capped at what that power can deliver in the
// window, which is all the car could take there and keeps the planner from
// refusing the site. Hours is the number of hours at full power, for
// records shared with hour-based planners.
func (s Schedule) Appliance(name string) plan.Appliance {
	e := s.EnergyP80Wh
	if capWh := s.MaxPowerW * int64(len(plan.Window(s.StartHour, s.DepartureHour))); e > capWh {
		e = capWh
	}
	hours := 0
	if s.MaxPowerW > 0 {
		hours = int((e + s.MaxPowerW - 1) / s.MaxPowerW)
	}
	return plan.Appliance{
		Name:       name,
		Start:      s.StartHour,
		End:        s.DepartureHour,
		Flexible:   true,
		PowerW:     s.MaxPowerW,
		Hours:      hours,
		Splittable: true,
		EnergyWh:   &e,
		MaxPowerW:  s.MaxPowerW,
	}
}

// robustSD estimates a standard deviation from absolute deviations from
// the median: 1.4826 × their median, exact for a normal distribution.
func robustSD(absDev []int64) int64 {
	return int64(math.Round(1.4826 * float64(Percentile(absDev, 50))))
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func perDay(n int, days float64) float64 {
	if days <= 0 {
		return 0
	}
	return float64(n) / days
}

// CircularMedianS is the median of times of day (seconds after midnight,
// 0..86399) on the clock face: the circle is cut in the middle of its
// widest empty stretch, unrolled into a line, and the ordinary median taken
// there. For times within 12 hours of one another, as a habit's are, this
// is the circular median (the time of day with the least total distance
// around the clock to the others): 23:00 and 01:00 give 00:00, not 12:00.
// It returns 0 for no times.
func CircularMedianS(todS []int64) int64 {
	n := len(todS)
	if n == 0 {
		return 0
	}
	xs := slices.Clone(todS)
	for i := range xs {
		xs[i] = floorMod(xs[i], DayS)
	}
	slices.Sort(xs)
	cut, widest := n-1, xs[0]+DayS-xs[n-1] // the gap across midnight
	for i := 1; i < n; i++ {
		if g := xs[i] - xs[i-1]; g > widest {
			cut, widest = i-1, g
		}
	}
	line := make([]int64, n)
	for k := range line {
		j := cut + 1 + k
		line[k] = xs[j%n]
		if j >= n {
			line[k] += DayS
		}
	}
	return floorMod(median(line), DayS)
}

// median of sorted values (the lower middle's floor for even counts).
func median(sorted []int64) int64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return floorDiv(sorted[n/2-1]+sorted[n/2], 2)
}

// Percentile is the p-th percentile (0..100) of values, interpolated
// linearly between order statistics and rounded: 50 is the median. It
// returns 0 for no values.
func Percentile(values []int64, p float64) int64 {
	if len(values) == 0 {
		return 0
	}
	xs := slices.Clone(values)
	slices.Sort(xs)
	pos := p / 100 * float64(len(xs)-1)
	i := int(math.Floor(pos))
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	if i < 0 {
		return xs[0]
	}
	f := pos - float64(i)
	return int64(math.Round(float64(xs[i]) + f*float64(xs[i+1]-xs[i])))
}

// ClockHHMM renders seconds after midnight as HH:MM (rounded to the minute).
func ClockHHMM(todS int64) string {
	m := floorMod((todS+30)/60, 24*60)
	return fmt.Sprintf("%02d:%02d", m/60, m%60)
}

func circularDistS(a, b int64) int64 {
	d := floorMod(a-b, DayS)
	return min(d, DayS-d)
}

// weekendDay says whether the day with this index (days since 1970-01-01,
// a Thursday) is a Saturday or a Sunday.
func weekendDay(day int64) bool {
	wd := floorMod(day+4, 7) // 0 = Sunday
	return wd == 0 || wd == 6
}

// weekendDays counts the Saturdays and Sundays among n days from day.
func weekendDays(day, n int64) int64 {
	c := n / 7 * 2
	for d := day + n/7*7; d < day+n; d++ {
		if weekendDay(d) {
			c++
		}
	}
	return c
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// Analysis is what a clamp series says about its EV.
type Analysis struct {
	Sessions []Session `json:"sessions"`
	Coverage Coverage  `json:"coverage"`
	Learned  Learned   `json:"schedule"`
}

// Analyze detects the sessions of a series, measures its coverage and
// learns the schedule. With no session found it returns the (empty)
// detection and coverage with an error wrapping ErrNoSessions.
func Analyze(samples []Sample, opt Options) (Analysis, error) {
	ss, err := Detect(samples, opt)
	if err != nil {
		return Analysis{}, err
	}
	a := Analysis{Sessions: ss, Coverage: Observe(samples, opt)}
	a.Learned, err = Learn(ss, a.Coverage, opt)
	return a, err
}

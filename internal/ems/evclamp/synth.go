package evclamp

import (
	"errors"
	"fmt"
	"math"
)

// Rand is the random source Synthesize draws from, supplied and seeded by
// the caller: *math/rand.Rand and *math/rand/v2.Rand both satisfy it. The
// package itself holds no random source.
type Rand interface {
	Float64() float64
	NormFloat64() float64
}

// Habit is how an EV is charged on one kind of local day.
type Habit struct {
	// Prob is the chance of a session on such a day.
	Prob float64
	// ArrivalHour (local, may pass 24 to arrive after midnight) and its
	// standard deviation: arrivals are normal.
	ArrivalHour, ArrivalSDHour float64
	// EnergyWh and its standard deviation: energies are normal, held
	// between SynthConfig.MinEnergyWh and what 16 hours can deliver.
	EnergyWh, EnergySDWh float64
}

// SynthConfig describes a synthetic clamp series.
type SynthConfig struct {
	// StartUnixS is the first sample (UTC); the series lasts Days days.
	StartUnixS int64
	Days       int
	UTCOffsetH int
	// PeriodS is the nominal sample period; each interval is
	// PeriodS·(1 + JitterFrac·u), u uniform in [-1, 1), at least 1 s.
	PeriodS    int64
	JitterFrac float64
	// ChargerW is the constant-current power. The last TaperS seconds of a
	// charge are the constant-voltage phase: the power falls linearly to
	// TaperEndFrac·ChargerW, then charging stops.
	ChargerW     float64
	TaperS       int64
	TaperEndFrac float64
	// StandbyW is drawn between sessions; every sample gets normal noise of
	// standard deviation NoiseW (and is then held at 0 or more).
	StandbyW float64
	NoiseW   float64
	// PauseProb is the chance that a session pauses once, at a random time
	// of its constant-current phase, for 1 minute to PauseMaxS; the charge
	// then resumes and ends that much later.
	PauseProb float64
	PauseMaxS int64
	// DropFrac is the chance that any one sample is lost. Outages of
	// OutageS each are placed at random between sessions, at least an hour
	// from any, so that the truth stays observable (gaps inside sessions
	// have tests of their own).
	DropFrac float64
	Outages  int
	OutageS  int64
	// MinEnergyWh is the least energy of a session.
	MinEnergyWh float64
	// Weekday is the habit of Monday to Friday, Weekend of Saturday and
	// Sunday (by the local day of arrival).
	Weekday, Weekend Habit
}

// DefaultSynthConfig is a commuter with a 7.4 kW (32 A single-phase)
// wallbox: 28 days from 2024-03-04 (a Monday) 00:00 local, UTC+1, one
// sample a minute with 20 % jitter, 1 % of samples lost, two 3-hour
// outages; home at 18:30 ± 45 min on 85 % of weekdays with 12 ± 4 kWh, at
// 11:00 ± 2 h on 40 % of weekend days with 20 ± 6 kWh; a 15-minute taper to
// 20 %; 3 W standby; 40 W noise; a third of sessions pause for up to 6 min.
func DefaultSynthConfig() SynthConfig {
	return SynthConfig{
		StartUnixS:   1709506800, // 2024-03-04T00:00:00+01:00
		Days:         28,
		UTCOffsetH:   1,
		PeriodS:      60,
		JitterFrac:   0.2,
		ChargerW:     7400,
		TaperS:       15 * 60,
		TaperEndFrac: 0.2,
		StandbyW:     3,
		NoiseW:       40,
		PauseProb:    1.0 / 3,
		PauseMaxS:    6 * 60,
		DropFrac:     0.01,
		Outages:      2,
		OutageS:      3 * HourS,
		MinEnergyWh:  6000,
		Weekday:      Habit{Prob: 0.85, ArrivalHour: 18.5, ArrivalSDHour: 0.75, EnergyWh: 12000, EnergySDWh: 4000},
		Weekend:      Habit{Prob: 0.4, ArrivalHour: 11, ArrivalSDHour: 2, EnergyWh: 20000, EnergySDWh: 6000},
	}
}

// synthSession is one true session with its power profile.
type synthSession struct {
	startS, ccEndS float64 // constant current until ccEndS (pause included)
	pauseS, pauseD float64 // pause [pauseS, pauseS+pauseD); pauseD 0 if none
	endS           float64 // ccEndS + taper
	energyWh       float64
}

// powerAt is the session's power at t (0 outside it).
func (s synthSession) powerAt(t float64, c SynthConfig) float64 {
	switch {
	case t < s.startS || t >= s.endS:
		return 0
	case s.pauseD > 0 && t >= s.pauseS && t < s.pauseS+s.pauseD:
		return 0
	case t < s.ccEndS:
		return c.ChargerW
	default:
		f := (t - s.ccEndS) / float64(c.TaperS)
		return c.ChargerW * (1 - f*(1-c.TaperEndFrac))
	}
}

func (c SynthConfig) validate() error {
	switch {
	case c.Days <= 0 || c.Days > 3660:
		return fmt.Errorf("days %d, want 1..3660", c.Days)
	case c.PeriodS <= 0:
		return fmt.Errorf("period %d s, want above 0", c.PeriodS)
	case !(c.JitterFrac >= 0 && c.JitterFrac < 1):
		return fmt.Errorf("jitter %v, want 0 ≤ jitter < 1", c.JitterFrac)
	case !(c.ChargerW > 0 && c.ChargerW <= MaxSampleW):
		return fmt.Errorf("charger %v W, want above 0 and at most %d", c.ChargerW, MaxSampleW)
	case c.TaperS <= 0 || !(c.TaperEndFrac >= 0 && c.TaperEndFrac <= 1):
		return errors.New("taper: want TaperS > 0 and 0 ≤ TaperEndFrac ≤ 1")
	case c.StandbyW < 0 || c.NoiseW < 0 || c.DropFrac < 0 || c.DropFrac >= 1 || c.PauseProb < 0:
		return errors.New("standby, noise, drop fraction and pause probability must be ≥ 0 (drop fraction < 1)")
	case c.PauseProb > 0 && c.PauseMaxS < 60:
		return errors.New("pauses need PauseMaxS ≥ 60")
	case c.Outages < 0 || c.Outages > 0 && c.OutageS <= 0:
		return errors.New("outages need OutageS > 0")
	case c.UTCOffsetH < -12 || c.UTCOffsetH > 14:
		return fmt.Errorf("UTC offset %d h, want -12..14", c.UTCOffsetH)
	}
	return nil
}

// Synthesize makes a clamp series from c, drawing from r, and returns it
// with the true sessions. A true session's energy is the exact integral of
// its power profile (pauses and standby excluded); a day's session is
// skipped if it would start less than an hour after the previous one ended
// or end after the series does.
func Synthesize(r Rand, c SynthConfig) ([]Sample, []Session, error) {
	if err := c.validate(); err != nil {
		return nil, nil, fmt.Errorf("evclamp: synthesize: %w", err)
	}
	off := int64(c.UTCOffsetH) * HourS
	endS := c.StartUnixS + int64(c.Days)*DayS
	firstDay := floorDiv(c.StartUnixS+off, DayS)
	taperWh := c.ChargerW * (1 + c.TaperEndFrac) / 2 * float64(c.TaperS) / HourS
	var ss []synthSession
	prevEnd := math.Inf(-1)
	for d := firstDay; d < firstDay+int64(c.Days)+1; d++ {
		h := c.Weekday
		if weekendDay(d) {
			h = c.Weekend
		}
		// Draw everything a day may need, so that one day's choices do
		// not shift the next day's draws.
		u, za, ze, up, upt, upd := r.Float64(), r.NormFloat64(), r.NormFloat64(), r.Float64(), r.Float64(), r.Float64()
		if u >= h.Prob {
			continue
		}
		start := math.Round(float64(d*DayS-off) + (h.ArrivalHour+h.ArrivalSDHour*za)*HourS)
		e := h.EnergyWh + h.EnergySDWh*ze
		e = max(e, c.MinEnergyWh, taperWh)
		e = min(e, max(c.ChargerW*16, taperWh))
		cc := math.Round((e - taperWh) / c.ChargerW * HourS) // constant-current seconds
		s := synthSession{startS: start, ccEndS: start + cc}
		if up < c.PauseProb && cc > 120 {
			s.pauseD = math.Round(60 + upd*float64(c.PauseMaxS-60))
			s.pauseS = math.Round(start + 60 + upt*(cc-120))
			s.ccEndS += s.pauseD
		}
		s.endS = s.ccEndS + float64(c.TaperS)
		s.energyWh = c.ChargerW*cc/HourS + taperWh
		if start < float64(c.StartUnixS) || start < prevEnd+HourS || s.endS > float64(endS) {
			continue
		}
		ss = append(ss, s)
		prevEnd = s.endS
	}
	// Outages: between sessions, an hour clear of any.
	type outage struct{ from, to int64 }
	var outs []outage
	for k := 0; k < c.Outages; k++ {
		for try := 0; try < 100; try++ {
			from := c.StartUnixS + int64(r.Float64()*float64(endS-c.OutageS-c.StartUnixS))
			o := outage{from, from + c.OutageS}
			clear := true
			for _, s := range ss {
				if float64(o.from) < s.endS+HourS && float64(o.to) > s.startS-HourS {
					clear = false
					break
				}
			}
			if clear {
				outs = append(outs, o)
				break
			}
		}
	}
	var samples []Sample
	next := 0 // first session that has not ended before t
	for t := c.StartUnixS; t < endS; {
		drop, noise, jitter := r.Float64(), r.NormFloat64(), r.Float64()
		lost := drop < c.DropFrac
		for _, o := range outs {
			lost = lost || t >= o.from && t < o.to
		}
		if !lost {
			for next < len(ss) && ss[next].endS <= float64(t) {
				next++
			}
			p := c.StandbyW
			if next < len(ss) && float64(t) >= ss[next].startS {
				if q := ss[next].powerAt(float64(t), c); q > 0 {
					p = q
				}
			}
			samples = append(samples, Sample{UnixS: t, PowerW: max(0, p+c.NoiseW*noise)})
		}
		t += max(1, int64(math.Round(float64(c.PeriodS)*(1+c.JitterFrac*(2*jitter-1)))))
	}
	truth := make([]Session, len(ss))
	for i, s := range ss {
		d := s.endS - s.startS
		truth[i] = Session{
			StartUnixS: int64(s.startS),
			EndUnixS:   int64(s.endS),
			EnergyWh:   int64(math.Round(s.energyWh)),
			PeakW:      int64(math.Round(c.ChargerW)),
			PlateauW:   int64(math.Round(c.ChargerW)),
			MeanW:      int64(math.Round(s.energyWh * HourS / d)),
		}
	}
	return samples, truth, nil
}

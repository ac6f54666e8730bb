package evclamp

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// MaxSampleW bounds a sample's power (1 MW, the planner's power bound): a
// clamp on a home's charger circuit reading more is reporting in the wrong
// unit or garbage.
const MaxSampleW = 1_000_000

// Defaults of Options; the package comment says why.
const (
	DefaultOnThresholdW  = 1000
	DefaultMaxDipS       = 10 * 60
	DefaultMinSessionS   = 5 * 60
	DefaultMaxGapS       = 30 * 60
	DefaultDepartureHour = 7
)

var (
	// ErrInvalidSamples reports samples out of time order, repeated
	// timestamps, times before 1970 or after 9999, or a power that is
	// negative, not finite or above MaxSampleW.
	ErrInvalidSamples = errors.New("invalid samples")
	// ErrInvalidOptions reports options out of range.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrNoSessions reports that there is nothing to learn a schedule from.
	ErrNoSessions = errors.New("no charging sessions")
)

// Sample is one clamp reading: the power on the charger's circuit at UnixS
// (UTC unix seconds).
type Sample struct {
	UnixS  int64
	PowerW float64
}

// Session is one charging session found in a clamp series.
type Session struct {
	StartUnixS int64 `json:"start_unix_s"`
	EndUnixS   int64 `json:"end_unix_s"`
	// EnergyWh is the trapezoidal integral of the power over the session,
	// including its pauses, rounded to the nearest Wh.
	EnergyWh int64 `json:"energy_wh"`
	// PeakW is the highest sample of the session, MeanW its energy over
	// its duration (0 for a session of no duration), and PlateauW the
	// median of its samples above the threshold: the charger's
	// constant-current power, which noise lifts PeakW above and the taper
	// and pauses pull MeanW below.
	PeakW    int64 `json:"peak_w"`
	MeanW    int64 `json:"mean_w"`
	PlateauW int64 `json:"plateau_w"`
	// Cut: the session begins or ends at a data gap or at an end of the
	// series, so its true start, end or energy is not known. Learn counts
	// it but does not take times or energies from it.
	Cut bool `json:"cut"`
}

// DurationS is the session's length in seconds.
func (s Session) DurationS() int64 { return s.EndUnixS - s.StartUnixS }

// Options are the detection and learning parameters. Start from
// DefaultOptions: the zero value is refused, since a threshold and a gap
// limit of zero mean nothing.
type Options struct {
	// OnThresholdW: the charger is on while the power is above it.
	OnThresholdW float64 `json:"on_threshold_w"`
	// MaxDipS: a dip below the threshold ends a session only when the
	// samples below the threshold span more than this.
	MaxDipS int64 `json:"max_dip_s"`
	// MinSessionS: shorter sessions (after merging dips) are dropped.
	MinSessionS int64 `json:"min_session_s"`
	// MaxGapS: two consecutive samples further apart than this (or than
	// 2.5 median intervals of the series, if longer: see GapLimitS) are a
	// data gap. Nothing is integrated across a gap, and a gap ends a
	// session.
	MaxGapS int64 `json:"max_gap_s"`
	// UTCOffsetH: local time = UTC + this many hours (fixed, no daylight
	// saving), -12..14.
	UTCOffsetH int `json:"utc_offset_h"`
	// DepartureHour is the local hour (0..23) the car usually leaves. The
	// learned departure is never before the typical end of charging: see
	// Schedule.DepartureHour.
	DepartureHour int `json:"departure_hour"`
}

// DefaultOptions returns the defaults: 1000 W, 10 min dips, 5 min
// sessions, 30 min gaps, UTC, departure at 07:00.
func DefaultOptions() Options {
	return Options{
		OnThresholdW:  DefaultOnThresholdW,
		MaxDipS:       DefaultMaxDipS,
		MinSessionS:   DefaultMinSessionS,
		MaxGapS:       DefaultMaxGapS,
		DepartureHour: DefaultDepartureHour,
	}
}

// Validate checks that every option is in range.
func (o Options) Validate() error {
	switch {
	case !(o.OnThresholdW > 0 && o.OnThresholdW <= MaxSampleW):
		return fmt.Errorf("%w: on threshold %v W, want above 0 and at most %d (start from DefaultOptions)", ErrInvalidOptions, o.OnThresholdW, MaxSampleW)
	case o.MaxGapS <= 0:
		return fmt.Errorf("%w: max gap %d s, want above 0 (start from DefaultOptions)", ErrInvalidOptions, o.MaxGapS)
	case o.MaxDipS < 0:
		return fmt.Errorf("%w: max dip %d s is negative", ErrInvalidOptions, o.MaxDipS)
	case o.MinSessionS < 0:
		return fmt.Errorf("%w: min session %d s is negative", ErrInvalidOptions, o.MinSessionS)
	case o.UTCOffsetH < -12 || o.UTCOffsetH > 14:
		return fmt.Errorf("%w: UTC offset %d h, want -12..14", ErrInvalidOptions, o.UTCOffsetH)
	case o.DepartureHour < 0 || o.DepartureHour > 23:
		return fmt.Errorf("%w: departure hour %d, want 0..23", ErrInvalidOptions, o.DepartureHour)
	}
	return nil
}

// CheckSamples reports the first sample that is out of time order, repeats
// a timestamp, lies before 1970 or after 9999, or has a power that is
// negative, not finite or above MaxSampleW.
func CheckSamples(samples []Sample) error {
	for i, s := range samples {
		if s.UnixS < 0 || s.UnixS > maxUnixS {
			return fmt.Errorf("%w: sample %d at unix second %d: want 1970..9999", ErrInvalidSamples, i, s.UnixS)
		}
		if !(s.PowerW >= 0 && s.PowerW <= MaxSampleW) { // also catches NaN
			what := "out of range"
			if s.PowerW < 0 {
				what = "negative"
			}
			return fmt.Errorf("%w: sample %d at %s: power %v W is %s (want 0..%d)",
				ErrInvalidSamples, i, utc(s.UnixS), s.PowerW, what, MaxSampleW)
		}
		if i == 0 {
			continue
		}
		switch prev := samples[i-1].UnixS; {
		case s.UnixS == prev:
			return fmt.Errorf("%w: samples %d and %d share the timestamp %s", ErrInvalidSamples, i-1, i, utc(s.UnixS))
		case s.UnixS < prev:
			return fmt.Errorf("%w: sample %d at %s is before sample %d at %s: samples must be in time order",
				ErrInvalidSamples, i, utc(s.UnixS), i-1, utc(prev))
		}
	}
	return nil
}

func utc(unixS int64) string { return time.Unix(unixS, 0).UTC().Format(time.RFC3339) }

// GapLimitS is the longest interval between two samples that is not a data
// gap: maxGapS, or two and a half times the series' median interval when
// that is longer, so that a clamp reporting every 15 minutes may lose one
// report without splitting a session. The median is taken over at most
// 4096 intervals spread evenly through the series. Samples are assumed
// checked (CheckSamples).
func GapLimitS(samples []Sample, maxGapS int64) int64 {
	n := len(samples) - 1
	if n < 1 {
		return maxGapS
	}
	step := (n + 4095) / 4096
	iv := make([]int64, 0, 4096)
	for i := 1; i <= n; i += step {
		iv = append(iv, samples[i].UnixS-samples[i-1].UnixS)
	}
	slices.Sort(iv)
	return max(maxGapS, iv[len(iv)/2]*5/2)
}

// run is a maximal stretch of consecutive samples above the threshold with
// no data gap inside.
type run struct {
	first, last int
	// gapBefore: a data gap lies between the previous run's last sample and
	// this run's first.
	gapBefore bool
}

// span is a session being built: its estimated start and end and the
// sample range [lo, hi] its energy is integrated over.
type span struct {
	startS, endS int64
	lo, hi       int
	cut          bool
}

// Detect finds the charging sessions in a clamp series, in time order. The
// package comment describes the method.
func Detect(samples []Sample, opt Options) ([]Session, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if err := CheckSamples(samples); err != nil {
		return nil, err
	}
	gapS := GapLimitS(samples, opt.MaxGapS)
	runs := findRuns(samples, opt.OnThresholdW, gapS)
	var out []Session
	var cur span
	var on []float64
	open := false
	for _, r := range runs {
		sp := edges(samples, r, gapS)
		// The samples between two runs without a gap are all below the
		// threshold; the dip is proven only as long as they span.
		if open && !r.gapBefore && samples[sp.lo].UnixS-samples[cur.hi].UnixS <= opt.MaxDipS {
			cur.endS, cur.hi = sp.endS, sp.hi
			cur.cut = cur.cut || sp.cut // cur's start or the new end
			continue
		}
		if open {
			out = appendSession(out, samples, cur, opt.MinSessionS, opt.OnThresholdW, &on)
		}
		cur, open = sp, true
	}
	if open {
		out = appendSession(out, samples, cur, opt.MinSessionS, opt.OnThresholdW, &on)
	}
	return out, nil
}

func findRuns(samples []Sample, onW float64, gapS int64) []run {
	var runs []run
	inRun, gapSeen := false, false
	for i, s := range samples {
		gap := i > 0 && s.UnixS-samples[i-1].UnixS > gapS
		on := s.PowerW > onW
		if inRun {
			if on && !gap {
				runs[len(runs)-1].last = i
				continue
			}
			inRun = false
		}
		if gap {
			gapSeen = true
		}
		if on {
			runs = append(runs, run{first: i, last: i, gapBefore: gapSeen})
			inRun, gapSeen = true, false
		}
	}
	return runs
}

// edges estimates when a run started and ended: halfway between the last
// sample below the threshold and the first above it (and the other way
// round at the end), which is also where a step change would have to be for
// the trapezoid over that interval to be its exact energy. Where the
// neighbour is missing or beyond a data gap, the run's own sample is the
// edge and nothing is extrapolated.
func edges(samples []Sample, r run, maxGapS int64) span {
	sp := span{startS: samples[r.first].UnixS, endS: samples[r.last].UnixS, lo: r.first, hi: r.last, cut: true}
	startOK, endOK := false, false
	if f := r.first; f > 0 && samples[f].UnixS-samples[f-1].UnixS <= maxGapS {
		sp.startS = samples[f-1].UnixS + (samples[f].UnixS-samples[f-1].UnixS)/2
		sp.lo, startOK = f-1, true
	}
	if l := r.last; l+1 < len(samples) && samples[l+1].UnixS-samples[l].UnixS <= maxGapS {
		sp.endS = samples[l].UnixS + (samples[l+1].UnixS-samples[l].UnixS)/2
		sp.hi, endOK = l+1, true
	}
	sp.cut = !startOK || !endOK
	return sp
}

// appendSession integrates a span and appends it unless it is too short;
// on is scratch space for the samples above the threshold.
func appendSession(out []Session, samples []Sample, sp span, minS int64, onW float64, on *[]float64) []Session {
	d := sp.endS - sp.startS
	if d < minS {
		return out
	}
	var ws, peak float64
	*on = (*on)[:0]
	for i := sp.lo; i <= sp.hi; i++ {
		p := samples[i].PowerW
		peak = max(peak, p)
		if p > onW {
			*on = append(*on, p)
		}
		if i > sp.lo {
			a := samples[i-1]
			ws += (a.PowerW + p) / 2 * float64(samples[i].UnixS-a.UnixS)
		}
	}
	slices.Sort(*on)
	plateau := (*on)[len(*on)/2]
	if len(*on)%2 == 0 {
		plateau = ((*on)[len(*on)/2-1] + plateau) / 2
	}
	s := Session{StartUnixS: sp.startS, EndUnixS: sp.endS, EnergyWh: int64(math.Round(ws / 3600)),
		PeakW: int64(math.Round(peak)), PlateauW: int64(math.Round(plateau)), Cut: sp.cut}
	if d > 0 {
		s.MeanW = int64(math.Round(ws / float64(d)))
	}
	return append(out, s)
}

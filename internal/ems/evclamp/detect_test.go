package evclamp

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// seg is n samples of w watts.
type seg struct {
	n int
	w float64
}

// series lays segments out one period apart from t0.
func series(t0, periodS int64, segs ...seg) []Sample {
	var out []Sample
	t := t0
	for _, s := range segs {
		for range s.n {
			out = append(out, Sample{UnixS: t, PowerW: s.w})
			t += periodS
		}
	}
	return out
}

func detect(t *testing.T, samples []Sample, edit func(*Options)) []Session {
	t.Helper()
	opt := DefaultOptions()
	if edit != nil {
		edit(&opt)
	}
	ss, err := Detect(samples, opt)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func wantOne(t *testing.T, ss []Session) Session {
	t.Helper()
	if len(ss) != 1 {
		t.Fatalf("%d sessions %+v, want 1", len(ss), ss)
	}
	return ss[0]
}

func TestConstantPowerEnergyIsExact(t *testing.T) {
	// Off, 121 samples at 7400 W a minute apart, off: the edges are the
	// midpoints 30 s either side, and the energy is power × duration.
	s := wantOne(t, detect(t, series(0, 60, seg{1, 0}, seg{121, 7400}, seg{1, 0}), nil))
	want := Session{StartUnixS: 30, EndUnixS: 7290, EnergyWh: 14923, PeakW: 7400, MeanW: 7400, PlateauW: 7400} // 7400 × 7260 / 3600 = 14923.3
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	// A series that begins and ends charging is not extrapolated.
	s = wantOne(t, detect(t, series(0, 60, seg{121, 7400}), nil))
	if want := (Session{StartUnixS: 0, EndUnixS: 7200, EnergyWh: 14800, PeakW: 7400, MeanW: 7400, PlateauW: 7400, Cut: true}); s != want {
		t.Errorf("charging throughout: got %+v, want %+v", s, want)
	}
}

func TestTaperIsIntegratedAsTrapezoids(t *testing.T) {
	// One hour at 7400 W, then the constant-voltage phase: a linear fall to
	// 1480 W over 15 minutes (16 samples, the first at full power), then off.
	samples := series(0, 60, seg{1, 0}, seg{60, 7400})
	for k := 0; k <= 15; k++ {
		samples = append(samples, Sample{UnixS: int64(61+k) * 60, PowerW: 7400 - float64(k)*(7400-1480)/15})
	}
	samples = append(samples, Sample{UnixS: 77 * 60, PowerW: 0}, Sample{UnixS: 78 * 60, PowerW: 0})
	s := wantOne(t, detect(t, samples, nil))
	// A step at 30 s, 7400 W until 61 min, the linear fall to 76 min, and
	// 1480 W for the half interval to the end estimate at 76.5 min.
	wantWs := 7400*(61*60-30) + (7400+1480)/2*900 + 1480*30
	if want := int64(math.Round(float64(wantWs) / 3600)); s.EnergyWh != want || s.StartUnixS != 30 || s.EndUnixS != 76*60+30 {
		t.Errorf("got %+v, want %d Wh from 30 s to %d s", s, want, 76*60+30)
	}
	if want := int64(math.Round(float64(wantWs) / float64(s.DurationS()))); s.PeakW != 7400 || s.MeanW != want {
		t.Errorf("peak %d W, mean %d W: want 7400 and %d", s.PeakW, s.MeanW, want)
	}
}

func TestPauseShorterThanMaxDipMerges(t *testing.T) {
	for _, tc := range []struct {
		offSamples int
		want       int
	}{
		{5, 1},  // a 5-minute pause
		{11, 1}, // low samples spanning exactly 10 minutes: not proven longer
		{12, 2}, // spanning 11 minutes: unplugged
		{20, 2},
	} {
		samples := series(0, 60, seg{1, 0}, seg{60, 7400}, seg{tc.offSamples, 2}, seg{60, 7400}, seg{1, 0})
		ss := detect(t, samples, nil)
		if len(ss) != tc.want {
			t.Errorf("%d low samples: %d sessions %+v, want %d", tc.offSamples, len(ss), ss, tc.want)
			continue
		}
		if tc.want == 1 {
			// The pause's standby draw belongs to the session.
			wantWs := 7400.0*60*60*2 + 2*60*float64(tc.offSamples)
			if want := int64(math.Round(wantWs / 3600)); ss[0].EnergyWh != want {
				t.Errorf("%d low samples: %d Wh, want %d", tc.offSamples, ss[0].EnergyWh, want)
			}
		}
	}
	// With 15-minute samples a single low reading is a pause, two are not.
	one := series(0, 900, seg{1, 0}, seg{8, 7400}, seg{1, 0}, seg{8, 7400}, seg{1, 0})
	if ss := detect(t, one, nil); len(ss) != 1 {
		t.Errorf("15-minute samples, one low: %d sessions, want 1", len(ss))
	}
	two := series(0, 900, seg{1, 0}, seg{8, 7400}, seg{2, 0}, seg{8, 7400}, seg{1, 0})
	if ss := detect(t, two, nil); len(ss) != 2 {
		t.Errorf("15-minute samples, two low: %d sessions, want 2", len(ss))
	}
}

func TestBlipShorterThanMinSessionIsDropped(t *testing.T) {
	blip := series(0, 60, seg{10, 3}, seg{4, 2000}, seg{10, 3}) // 4 minutes: self-test, kettle
	if ss := detect(t, blip, nil); len(ss) != 0 {
		t.Errorf("4-minute blip: %+v, want none", ss)
	}
	five := series(0, 60, seg{10, 3}, seg{5, 2000}, seg{10, 3})
	if s := wantOne(t, detect(t, five, nil)); s.DurationS() != 300 {
		t.Errorf("5-minute run lasts %d s, want 300", s.DurationS())
	}
	// A blip beside a session is part of it (a restart after a pause).
	near := series(0, 60, seg{10, 3}, seg{2, 2000}, seg{3, 3}, seg{60, 7400}, seg{10, 3})
	if s := wantOne(t, detect(t, near, nil)); s.StartUnixS != 9*60+30 {
		t.Errorf("blip before a session: starts %d, want %d", s.StartUnixS, 9*60+30)
	}
}

func TestDataGapSplitsSession(t *testing.T) {
	// An hour on, 40 minutes without data, an hour on.
	a := series(0, 60, seg{1, 0}, seg{60, 7400})
	b := series(a[len(a)-1].UnixS+40*60, 60, seg{60, 7400}, seg{1, 0})
	ss := detect(t, append(a, b...), nil)
	if len(ss) != 2 {
		t.Fatalf("%d sessions %+v, want 2", len(ss), ss)
	}
	// No extrapolation into the gap: each half ends or starts at the sample
	// beside it, and holds only its own measured energy.
	if ss[0].EndUnixS != a[len(a)-1].UnixS || ss[1].StartUnixS != b[0].UnixS {
		t.Errorf("edges %d and %d, want the samples beside the gap %d and %d",
			ss[0].EndUnixS, ss[1].StartUnixS, a[len(a)-1].UnixS, b[0].UnixS)
	}
	for i, s := range ss {
		if !s.Cut {
			t.Errorf("session %d beside the gap is not marked cut", i)
		}
		if want := int64(math.Round(7400 * (59*60 + 30) / 3600.0)); s.EnergyWh != want {
			t.Errorf("session %d: %d Wh, want %d (59.5 minutes at 7400 W)", i, s.EnergyWh, want)
		}
	}
	// A hole shorter than the max gap is bridged: charging went on.
	c := series(a[len(a)-1].UnixS+20*60, 60, seg{60, 7400}, seg{1, 0})
	s := wantOne(t, detect(t, append(a, c...), nil))
	if want := int64(math.Round(7400 * float64(s.DurationS()) / 3600)); s.EnergyWh != want {
		t.Errorf("bridged: %d Wh, want %d", s.EnergyWh, want)
	}
	// The limit grows with the sample period: a 15-minute clamp may lose
	// one report (here 35 minutes apart) without splitting a session, but
	// not two; every interval counts as a gap for no clamp.
	q := series(0, 900, seg{1, 0}, seg{8, 7400})
	q = append(q, series(q[len(q)-1].UnixS+35*60, 900, seg{8, 7400}, seg{1, 0})...)
	if GapLimitS(q, DefaultMaxGapS) != 2250 || len(detect(t, q, nil)) != 1 {
		t.Errorf("15-minute clamp, one lost report: limit %d s, %d sessions; want 2250 and 1", GapLimitS(q, DefaultMaxGapS), len(detect(t, q, nil)))
	}
	q2 := series(0, 900, seg{1, 0}, seg{8, 7400})
	q2 = append(q2, series(q2[len(q2)-1].UnixS+45*60, 900, seg{8, 7400}, seg{1, 0})...)
	if ss := detect(t, q2, nil); len(ss) != 2 {
		t.Errorf("15-minute clamp, two lost reports: %d sessions, want 2", len(ss))
	}
	hourly := series(0, 3600, seg{2, 0}, seg{3, 7400}, seg{2, 0})
	if s := wantOne(t, detect(t, hourly, nil)); s.DurationS() != 3*3600 {
		t.Errorf("hourly clamp: %+v, want a 3-hour session", s)
	}
	// A gap inside a dip also splits, however short the dip.
	d := series(a[len(a)-1].UnixS+60, 60, seg{1, 0})
	e := series(d[0].UnixS+31*60, 60, seg{1, 0}, seg{60, 7400}, seg{1, 0})
	if ss := detect(t, append(append(a, d...), e...), nil); len(ss) != 2 {
		t.Errorf("gap inside a dip: %d sessions, want 2", len(ss))
	}
}

func TestSessionCrossingMidnight(t *testing.T) {
	// UTC+1: plug-in at 23:10 local on 2024-03-05, three hours at 11 kW.
	const midnight = 1709679600 // 2024-03-06T00:00:00+01:00
	t0 := int64(midnight - 2*HourS)
	samples := series(t0, 60, seg{70, 4}, seg{180, 11000}, seg{120, 4})
	s := wantOne(t, detect(t, samples, nil))
	if s.StartUnixS != midnight-50*60+30-60 || s.DurationS() != 180*60 {
		t.Errorf("session %+v, want 23:09:30 local for 3 h", s)
	}
	if s.EnergyWh != 33000 { // 11 kW × 3 h (and 0.07 Wh of standby in the edges)
		t.Errorf("%d Wh, want 33000", s.EnergyWh)
	}
	opt := DefaultOptions()
	opt.UTCOffsetH = 1
	l, err := Learn([]Session{s}, Coverage{WeekdayDays: 1}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := ClockHHMM(l.All.PlugInS); got != "23:10" {
		t.Errorf("plug-in %s local, want 23:10", got)
	}
	if got := ClockHHMM(l.All.ChargeEndS); got != "02:10" {
		t.Errorf("charge end %s local, want 02:10", got)
	}
}

func TestIrregularSampling(t *testing.T) {
	// Intervals from 10 s to 15 min. Inside a constant-power session the
	// trapezoids are exact whatever the spacing, and so is power × duration
	// between the midpoint edges.
	gaps := []int64{10, 900, 37, 600, 10, 10, 300, 899, 45, 120, 10, 700, 13}
	var samples []Sample
	tt := int64(1_700_000_000)
	add := func(w float64, n int) {
		for range n {
			samples = append(samples, Sample{UnixS: tt, PowerW: w})
			tt += gaps[len(samples)%len(gaps)]
		}
	}
	add(0, 5)
	add(3700, 40)
	add(0, 5)
	s := wantOne(t, detect(t, samples, nil))
	if want := int64(math.Round(3700 * float64(s.DurationS()) / 3600)); s.EnergyWh != want {
		t.Errorf("%d Wh over %d s, want %d", s.EnergyWh, s.DurationS(), want)
	}
	if s.StartUnixS <= samples[4].UnixS || s.StartUnixS >= samples[5].UnixS {
		t.Errorf("start %d not between the straddling samples %d and %d", s.StartUnixS, samples[4].UnixS, samples[5].UnixS)
	}
}

func TestStandbyAndNoiseAreNotSessions(t *testing.T) {
	var samples []Sample
	for i := range 24 * 60 {
		w := 3 + 40*math.Sin(float64(i)*1.7) // idle draw with ±40 W of noise
		samples = append(samples, Sample{UnixS: int64(i) * 60, PowerW: max(0, w)})
	}
	samples[700].PowerW = 2500 // one spike
	if ss := detect(t, samples, nil); len(ss) != 0 {
		t.Errorf("idle day: %+v, want no session", ss)
	}
	// The threshold is an option: a 900 W granny charger needs a lower one.
	granny := series(0, 60, seg{5, 3}, seg{120, 900}, seg{5, 3})
	if ss := detect(t, granny, nil); len(ss) != 0 {
		t.Errorf("900 W at the default threshold: %+v, want none", ss)
	}
	if s := wantOne(t, detect(t, granny, func(o *Options) { o.OnThresholdW = 500 })); s.PeakW != 900 {
		t.Errorf("900 W at a 500 W threshold: %+v", s)
	}
}

func TestDetectRejectsBadInput(t *testing.T) {
	ok := series(0, 60, seg{3, 0}, seg{10, 7400}, seg{3, 0})
	mod := func(f func([]Sample)) []Sample {
		c := append([]Sample(nil), ok...)
		f(c)
		return c
	}
	for name, tc := range map[string]struct {
		samples []Sample
		edit    func(*Options)
		is      error
		want    string
	}{
		"unsorted":    {mod(func(s []Sample) { s[5].UnixS = 10 }), nil, ErrInvalidSamples, "before sample 4"},
		"duplicate":   {mod(func(s []Sample) { s[5].UnixS = s[4].UnixS }), nil, ErrInvalidSamples, "share the timestamp"},
		"negative":    {mod(func(s []Sample) { s[2].PowerW = -1 }), nil, ErrInvalidSamples, "power -1 W is negative"},
		"NaN":         {mod(func(s []Sample) { s[2].PowerW = math.NaN() }), nil, ErrInvalidSamples, "NaN"},
		"infinite":    {mod(func(s []Sample) { s[2].PowerW = math.Inf(1) }), nil, ErrInvalidSamples, "out of range"},
		"too big":     {mod(func(s []Sample) { s[2].PowerW = 2e6 }), nil, ErrInvalidSamples, "out of range"},
		"before 1970": {mod(func(s []Sample) { s[0].UnixS = -60 }), nil, ErrInvalidSamples, "want 1970..9999"},
		"zero opts":   {ok, func(o *Options) { *o = Options{} }, ErrInvalidOptions, "DefaultOptions"},
		"bad hour":    {ok, func(o *Options) { o.DepartureHour = 24 }, ErrInvalidOptions, "departure hour 24"},
		"bad offset":  {ok, func(o *Options) { o.UTCOffsetH = 15 }, ErrInvalidOptions, "UTC offset 15"},
	} {
		opt := DefaultOptions()
		if tc.edit != nil {
			tc.edit(&opt)
		}
		_, err := Detect(tc.samples, opt)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %v containing %q", name, err, tc.is, tc.want)
		}
	}
	if ss, err := Detect(nil, DefaultOptions()); err != nil || len(ss) != 0 {
		t.Errorf("no samples: %v, %v; want nothing and no error", ss, err)
	}
}

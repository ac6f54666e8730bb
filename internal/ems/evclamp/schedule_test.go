package evclamp

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/ems/plan"
)

func hm(h, m int64) int64 { return h*HourS + m*60 }

func TestCircularMedianAcrossMidnight(t *testing.T) {
	for _, tc := range []struct {
		tod  []int64
		want int64
	}{
		{[]int64{hm(23, 0), hm(1, 0)}, 0}, // not 12:00
		{[]int64{hm(1, 0), hm(23, 0)}, 0}, // in any order
		{[]int64{hm(23, 30), hm(0, 30), hm(1, 0)}, hm(0, 30)},
		{[]int64{hm(22, 0), hm(23, 0), hm(0, 0), hm(1, 0), hm(2, 0)}, 0},
		{[]int64{hm(18, 0), hm(18, 30), hm(19, 0), hm(23, 0)}, hm(18, 45)},
		{[]int64{hm(12, 0)}, hm(12, 0)},
		{[]int64{hm(6, 0), hm(7, 0), hm(8, 0)}, hm(7, 0)},
		{[]int64{hm(23, 50), hm(23, 55), hm(0, 20)}, hm(23, 55)},
	} {
		if got := CircularMedianS(tc.tod); got != tc.want {
			t.Errorf("CircularMedianS(%v) = %s, want %s", clocks(tc.tod), ClockHHMM(got), ClockHHMM(tc.want))
		}
	}
	// Sessions at 23:00 and 01:00 local learn a plug-in at 00:00.
	opt := DefaultOptions()
	opt.UTCOffsetH = -5
	day := int64(1709528400) // 2024-03-04T00:00:00-05:00
	ss := []Session{
		{StartUnixS: day + hm(23, 0), EndUnixS: day + hm(25, 0), EnergyWh: 10000, PeakW: 7100, PlateauW: 7000},
		{StartUnixS: day + DayS + hm(25, 0), EndUnixS: day + DayS + hm(27, 0), EnergyWh: 10000, PeakW: 7100, PlateauW: 7000},
	}
	l, err := Learn(ss, Coverage{WeekdayDays: 2}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if l.All.PlugInS != 0 || l.All.StartHour != 0 {
		t.Errorf("plug-in %s, window from %d h: want 00:00 and 0", ClockHHMM(l.All.PlugInS), l.All.StartHour)
	}
}

func clocks(tod []int64) []string {
	var s []string
	for _, x := range tod {
		s = append(s, ClockHHMM(x))
	}
	return s
}

func TestPercentile(t *testing.T) {
	v := []int64{40, 10, 30, 20, 50}
	for p, want := range map[float64]int64{0: 10, 50: 30, 80: 42, 90: 46, 100: 50} {
		if got := Percentile(v, p); got != want {
			t.Errorf("P%v = %d, want %d", p, got, want)
		}
	}
	if Percentile([]int64{10, 20}, 50) != 15 || Percentile(nil, 50) != 0 {
		t.Error("even count or empty")
	}
}

// learnSynthetic synthesizes weeks of c and learns from them.
func learnSynthetic(t *testing.T, c SynthConfig, seed uint64) Analysis {
	t.Helper()
	samples, _, err := Synthesize(rand.New(rand.NewPCG(seed, 99)), c)
	if err != nil {
		t.Fatal(err)
	}
	opt := DefaultOptions()
	opt.UTCOffsetH = c.UTCOffsetH
	a, err := Analyze(samples, opt)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func near(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }

func TestLearnWeekdayWeekendDiffer(t *testing.T) {
	c := DefaultSynthConfig()
	c.Days = 12 * 7
	a := learnSynthetic(t, c, 1)
	l := a.Learned
	if !l.WeekendDiffers || !strings.Contains(l.Why, "plug-in") {
		t.Fatalf("weekday and weekend not told apart: %+v", l)
	}
	wd, we := l.Weekday, l.Weekend
	if wd.Borrowed || we.Borrowed {
		t.Fatalf("borrowed profiles: %+v", l)
	}
	if !near(float64(wd.PlugInS), float64(hm(18, 30)), 1800) || !near(float64(we.PlugInS), float64(hm(11, 0)), 2*3600) {
		t.Errorf("plug-ins %s and %s, want about 18:30 and 11:00 (± 2 h: few weekend sessions, sd 2 h)", ClockHHMM(wd.PlugInS), ClockHHMM(we.PlugInS))
	}
	if !near(wd.SessionsPerDay, 0.85, 0.15) || !near(we.SessionsPerDay, 0.4, 0.2) {
		t.Errorf("sessions per day %.2f and %.2f, want about 0.85 and 0.4", wd.SessionsPerDay, we.SessionsPerDay)
	}
	if !near(float64(wd.EnergyMedianWh), 12000, 2000) || !near(float64(we.EnergyMedianWh), 20000, 4000) {
		t.Errorf("median energies %d and %d Wh, want about 12000 and 20000", wd.EnergyMedianWh, we.EnergyMedianWh)
	}
	if wd.EnergyP80Wh <= wd.EnergyMedianWh {
		t.Errorf("P80 %d not above the median %d", wd.EnergyP80Wh, wd.EnergyMedianWh)
	}
	if !near(float64(wd.MaxPowerW), 7400, 30) {
		t.Errorf("max power %d W, want about 7400", wd.MaxPowerW)
	}
	if wd.StartHour != 19 || wd.DepartureHour != 7 || wd.DepartureRaised {
		t.Errorf("weekday window %d–%d (raised %v), want 19–7", wd.StartHour, wd.DepartureHour, wd.DepartureRaised)
	}
	if l.For(true) != we || l.For(false) != wd {
		t.Error("For does not pick the profiles apart")
	}
	if days := a.Coverage.WeekdayDays + a.Coverage.WeekendDays; !near(days, 84-0.25, 0.05) {
		t.Errorf("coverage %.2f days, want 84 less two 3-hour outages", days)
	}
}

func TestLearnSameHabitDoesNotSplit(t *testing.T) {
	c := DefaultSynthConfig()
	c.Days = 8 * 7
	c.Weekend = c.Weekday
	for seed := uint64(1); seed <= 3; seed++ {
		l := learnSynthetic(t, c, seed).Learned
		if l.WeekendDiffers {
			t.Errorf("seed %d: one habit split: %s", seed, l.Why)
		}
		if l.For(true) != l.All || l.For(false) != l.All {
			t.Errorf("seed %d: For does not give the common schedule", seed)
		}
	}
	// No weekend charging at all is a difference of rate alone; the
	// weekend profile borrows the hours.
	c.Weekend.Prob = 0
	l := learnSynthetic(t, c, 1).Learned
	if !l.WeekendDiffers || !l.Weekend.Borrowed || l.Weekend.Sessions != 0 || !strings.Contains(l.Why, "sessions per day") {
		t.Errorf("no weekend charging: %+v", l)
	}
}

func TestDepartureNeverBeforeChargeEnd(t *testing.T) {
	mk := func(startH, endH int64, n int) []Session {
		var ss []Session
		day := int64(1709510400) // a Monday 00:00 UTC
		for i := range n {
			d := day + int64(i)*DayS
			ss = append(ss, Session{StartUnixS: d + hm(startH, 0), EndUnixS: d + hm(endH, 30), EnergyWh: 30000, PeakW: 11100, PlateauW: 11000})
		}
		return ss
	}
	for _, tc := range []struct {
		name             string
		startH, endH     int64
		departure        int
		wantStart, wantD int
		raised           bool
	}{
		{"evening commuter", 18, 21, 7, 18, 7, false},
		{"big battery, late plug-in", 23, 32, 7, 23, 9, true}, // charges until 08:30
		{"early departure asked", 18, 21, 5, 18, 5, false},
		{"night shift", 8, 11, 7, 8, 7, false}, // home at 08:00, leaves the next morning
		{"departure inside the charge", 1, 6, 3, 1, 7, true},
	} {
		opt := DefaultOptions()
		opt.DepartureHour = tc.departure
		l, err := Learn(mk(tc.startH, tc.endH, 5), Coverage{WeekdayDays: 5}, opt)
		if err != nil {
			t.Fatal(err)
		}
		s := l.All
		if s.StartHour != tc.wantStart || s.DepartureHour != tc.wantD || s.DepartureRaised != tc.raised {
			t.Errorf("%s: window %d–%d raised %v, want %d–%d raised %v",
				tc.name, s.StartHour, s.DepartureHour, s.DepartureRaised, tc.wantStart, tc.wantD, tc.raised)
		}
	}
}

func TestApplianceFeedsThePlanner(t *testing.T) {
	c := DefaultSynthConfig()
	c.Days = 4 * 7
	l := learnSynthetic(t, c, 3).Learned
	a := l.Weekday.Appliance("ev")
	if a.Name != "ev" || !a.Flexible || a.Start != 19 || a.End != 7 || a.EnergyWh == nil ||
		*a.EnergyWh != l.Weekday.EnergyP80Wh || a.MaxPowerW != l.Weekday.MaxPowerW || a.PowerW != a.MaxPowerW {
		t.Fatalf("appliance %+v from %+v", a, l.Weekday)
	}
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"energy_wh":`, `"max_power_w":`, `"start":19`, `"end":7`, `"flexible":true`} {
		if !strings.Contains(string(data), k) {
			t.Errorf("appliance JSON %s lacks %s", data, k)
		}
	}
	// The planner accepts it and gives it its energy in its window.
	fill := func(v int64) []int64 {
		a := make([]int64, plan.HoursPerDay)
		for i := range a {
			a[i] = v
		}
		return a
	}
	buy := fill(300_000)
	buy[2], buy[3], buy[4] = 100_000, 100_000, 100_000
	site := plan.Site{BaseWh: fill(400), PVWh: fill(0), BuyMicroPerKWh: buy, SellMicroPerKWh: fill(40_000),
		Appliances: []plan.Appliance{a, l.Weekend.Appliance("ev-weekend")}}
	if err := site.Validate(); err != nil {
		t.Fatalf("the planner refuses the learned appliances: %v", err)
	}
	r, err := plan.Plan(site)
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	for _, wh := range r.Appliances[0].WhByHour {
		got += wh
	}
	if got != *a.EnergyWh {
		t.Errorf("planned %d Wh, want %d", got, *a.EnergyWh)
	}
}

func TestApplianceEnergyCappedByWindow(t *testing.T) {
	s := Schedule{StartHour: 6, DepartureHour: 7, EnergyP80Wh: 20000, MaxPowerW: 7400}
	a := s.Appliance("ev")
	if *a.EnergyWh != 7400 || a.Hours != 1 {
		t.Errorf("one-hour window at 7400 W: %d Wh in %d h, want 7400 in 1", *a.EnergyWh, a.Hours)
	}
	site := plan.Site{BaseWh: make([]int64, 24), PVWh: make([]int64, 24), BuyMicroPerKWh: make([]int64, 24),
		SellMicroPerKWh: make([]int64, 24), Appliances: []plan.Appliance{a}}
	if err := site.Validate(); err != nil {
		t.Error(err)
	}
}

func TestObserveCountsCoveredDaysOnly(t *testing.T) {
	// Monday 2024-03-04 00:00 UTC+2 for 7 days at 10 minutes, less Tuesday.
	opt := DefaultOptions()
	opt.UTCOffsetH = 2
	mon := int64(1709503200)
	var samples []Sample
	for ts := mon; ts <= mon+7*DayS; ts += 600 {
		if ts > mon+DayS && ts < mon+2*DayS {
			continue
		}
		samples = append(samples, Sample{UnixS: ts})
	}
	c := Observe(samples, opt)
	if !near(c.WeekdayDays, 4, 1e-9) || !near(c.WeekendDays, 2, 1e-9) {
		t.Errorf("coverage %+v, want 4 weekdays (Tuesday lost) and 2 weekend days", c)
	}
}

func TestLearnNoSessions(t *testing.T) {
	if _, err := Learn(nil, Coverage{WeekdayDays: 7}, DefaultOptions()); !errors.Is(err, ErrNoSessions) {
		t.Errorf("error %v, want ErrNoSessions", err)
	}
	a, err := Analyze(series(0, 60, seg{100, 3}), DefaultOptions())
	if !errors.Is(err, ErrNoSessions) || a.Coverage.WeekdayDays == 0 {
		t.Errorf("Analyze of an idle series: %+v, %v", a, err)
	}
}

func TestMannWhitneyZ(t *testing.T) {
	// Fully separated 3 against 3: U = 0, mean 4.5, variance 3·3·7/12.
	if z := mannWhitneyZ([]int64{1, 2, 3}, []int64{4, 5, 6}); !near(z, -4.5/math.Sqrt(5.25), 1e-12) {
		t.Errorf("z = %v", z)
	}
	if z := mannWhitneyZ([]int64{4, 5, 6}, []int64{1, 2, 3}); !near(z, 4.5/math.Sqrt(5.25), 1e-12) {
		t.Errorf("z = %v", z)
	}
	if z := mannWhitneyZ([]int64{7, 7}, []int64{7, 7, 7}); z != 0 {
		t.Errorf("all equal: z = %v", z)
	}
	if z := mannWhitneyZ([]int64{1, 5, 9}, []int64{2, 5, 8}); !near(z, 0, 1e-12) {
		t.Errorf("interleaved: z = %v", z)
	}
}

func TestLearnTakesNoTimesFromCutSessions(t *testing.T) {
	day := int64(1709510400) // Monday 2024-03-04 00:00 UTC
	var ss []Session
	for i := range int64(4) {
		d := day + i*DayS
		ss = append(ss, Session{StartUnixS: d + hm(18, 0), EndUnixS: d + hm(20, 0), EnergyWh: 14000, PeakW: 7500, PlateauW: 7400})
	}
	// The series began mid-charge: the first session is known only from
	// the first sample, at 00:00, with a fraction of its energy.
	ss = append([]Session{{StartUnixS: day - DayS, EndUnixS: day - DayS + hm(1, 0), EnergyWh: 900, PeakW: 7500, PlateauW: 7400, Cut: true}}, ss...)
	l, err := Learn(ss, Coverage{WeekdayDays: 5}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if a := l.All; a.Sessions != 5 || a.SessionsPerDay != 1 || a.PlugInS != hm(18, 0) || a.EnergyMedianWh != 14000 || a.EnergyP80Wh != 14000 {
		t.Errorf("schedule %+v: want 5 sessions a day, plug-in 18:00, 14000 Wh", a)
	}
}

package forecast

import (
	"errors"
	"math"
	"os"
	"testing"
	"time"
)

// synth builds a series over the `days` local days before dayStartS with
// value(k, h) where k = days before the forecast day (1 = yesterday).
func synth(dayStartS int64, days int, value func(k, h int) int64) Series {
	s := Series{}
	for k := 1; k <= days; k++ {
		for h := range 24 {
			s[dayStartS-int64(k)*DayS+int64(h)*HourS] = value(k, h)
		}
	}
	return s
}

func TestBaselinesExact(t *testing.T) {
	for _, off := range []int{0, 10, -5} {
		day := LocalMidnight(2024, 1, 15, off)
		s := synth(day, 28, func(k, h int) int64 { return int64(1000*k + h) })
		want := map[Method]func(h int) int64{
			SameHourYesterday: func(h int) int64 { return int64(1000 + h) },
			SameHourLastWeek:  func(h int) int64 { return int64(7000 + h) },
			Mean4Weekdays:     func(h int) int64 { return int64(17500 + h) }, // (7+14+21+28)/4 = 17.5
		}
		for m, w := range want {
			f, err := Forecast(s, day, off, m)
			if err != nil {
				t.Fatalf("%s off %d: %v", m, off, err)
			}
			for h := range 24 {
				if f[h] != w(h) {
					t.Errorf("%s off %d hour %d: got %d want %d", m, off, h, f[h], w(h))
				}
			}
		}
	}
}

func TestBaselinesMissingHours(t *testing.T) {
	day := LocalMidnight(2024, 1, 15, 1)
	s := synth(day, 28, func(k, h int) int64 { return int64(1000*k + h) })
	delete(s, day-DayS+5*HourS)  // yesterday 05:00 → falls back to the day before
	delete(s, day-WeekS+3*HourS) // last week 03:00 → falls back to two weeks ago; mean of 3 weeks
	f, err := Forecast(s, day, 1, SameHourYesterday)
	if err != nil || f[5] != 2005 || f[6] != 1006 {
		t.Errorf("yesterday with a gap: %v %d %d", err, f[5], f[6])
	}
	f, err = Forecast(s, day, 1, SameHourLastWeek)
	if err != nil || f[3] != 14003 {
		t.Errorf("last week with a gap: %v %d", err, f[3])
	}
	f, err = Forecast(s, day, 1, Mean4Weekdays)
	if err != nil || f[3] != 21003 { // (14+21+28)/3
		t.Errorf("mean-4-weekdays with a gap: %v %d", err, f[3])
	}
}

func TestNotEnoughHistory(t *testing.T) {
	day := LocalMidnight(2024, 1, 15, 0)
	short := synth(day, 10, func(k, h int) int64 { return 100 })
	for _, m := range Methods() {
		if _, err := Forecast(Series{}, day, 0, m); !errors.Is(err, ErrNotEnoughHistory) {
			t.Errorf("%s on empty series: %v", m, err)
		}
	}
	for _, m := range []Method{Prophet, ProphetLevel} {
		if _, err := Forecast(short, day, 0, m); !errors.Is(err, ErrNotEnoughHistory) {
			t.Errorf("%s on 10 days: %v", m, err)
		}
	}
	// Auto falls back to the baselines when the models lack history.
	if _, err := Forecast(short, day, 0, Auto); err != nil {
		t.Errorf("auto on 10 days: %v", err)
	}
	if _, err := Forecast(short, day+HourS, 0, SameHourYesterday); err == nil {
		t.Error("a day start that is not local midnight was accepted")
	}
	if _, err := Forecast(short, day, 0, "magic"); err == nil {
		t.Error("unknown method accepted")
	}
}

func TestDesignRow(t *testing.T) {
	const off = 10
	day := LocalMidnight(2024, 1, 15, off) // a Monday
	// Saturday 2024-01-13 06:00 local: weekend, daily phase a quarter turn.
	ts := LocalMidnight(2024, 1, 13, off) + 6*HourS
	x := make([]float64, numFeatures)
	designRow(x, ts, day, off*HourS)
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("intercept", x[0], 1)
	near("trend", x[1], -(2*24-6)/(fitWindowDays*24.0))
	near("daily sin k=1", x[2], 1)
	near("daily cos k=1", x[3], 0)
	near("daily sin k=2", x[4], 0)
	near("daily cos k=2", x[5], -1)
	w := 2 + 2*dailyOrder
	// 2024-01-13 06:00 is 2 days 6 hours after Thursday 00:00.
	phase := (2 + 6/24.0) / 7
	near("weekly sin k=1", x[w], math.Sin(2*math.Pi*phase))
	near("weekly cos k=3", x[w+5], math.Cos(6*math.Pi*phase))
	we := w + 2*weeklyOrder
	near("weekend", x[we], 1)
	near("weekend×sin k=1", x[we+1], 1)
	// Monday: no weekend terms; Thursday 00:00 local: weekly phase 0.
	designRow(x, LocalMidnight(2024, 1, 11, off), day, off*HourS)
	near("weekday weekend", x[we], 0)
	near("weekday weekend×cos", x[we+2], 0)
	near("thursday weekly sin", x[w], 0)
	near("thursday weekly cos", x[w+1], 1)
}

// TestProphetRecoversModel: a series that is exactly trend + daily + weekend
// shapes is forecast within the ridge shrinkage (which deliberately pulls the
// trend and the collinear weekend/weekly terms in by a few Wh).
func TestProphetRecoversModel(t *testing.T) {
	const off = 1
	day := LocalMidnight(2024, 3, 4, off)
	truth := func(k, h int) float64 {
		wd := weekday((day+off*HourS)/DayS - int64(k))
		v := 500 + 150*math.Sin(2*math.Pi*float64(h)/24) - 2*float64(k)
		if wd == time.Saturday || wd == time.Sunday {
			v += 80 + 40*math.Cos(2*math.Pi*float64(h)/24)
		}
		return v
	}
	s := synth(day, fitWindowDays, func(k, h int) int64 { return int64(math.Round(truth(k, h))) })
	for _, m := range []Method{Prophet, ProphetLevel} {
		f, err := Forecast(s, day, off, m)
		if err != nil {
			t.Fatal(err)
		}
		for h := range 24 {
			if d := math.Abs(float64(f[h]) - truth(0, h)); d > 10 {
				t.Errorf("%s hour %d: got %d want %.1f", m, h, f[h], truth(0, h))
			}
		}
	}
}

// TestPVClampAndDark: PV is never negative and dark hours are exactly 0.
func TestPVClampAndDark(t *testing.T) {
	day := LocalMidnight(2024, 4, 1, 1)
	s := synth(day, fitWindowDays, func(k, h int) int64 {
		if h < 7 || h > 18 {
			return 0
		}
		// A sharp bell a Fourier fit undershoots around, plus some cloudy days.
		v := 3000 * math.Pow(math.Sin(math.Pi*float64(h-6)/13), 3)
		if k%3 == 0 {
			v *= 0.2
		}
		return int64(v)
	})
	for _, m := range Methods() {
		f, err := Forecast(s, day, 1, m)
		if err != nil {
			t.Fatal(m, err)
		}
		for h := range 24 {
			if f[h] < 0 {
				t.Errorf("%s hour %d: negative %d", m, h, f[h])
			}
			if (h < 7 || h > 18) && f[h] != 0 {
				t.Errorf("%s hour %d: dark hour forecast %d", m, h, f[h])
			}
		}
	}
}

// loadFixture reads a testdata CSV into series per site.
func loadFixture(tb testing.TB, name string) map[string]Series {
	tb.Helper()
	file, err := os.Open("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	defer file.Close()
	out, err := ReadHourlyCSV(file)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestOnlyPastData poisons everything from the forecast day on and checks
// that no method's forecast moves.
func TestOnlyPastData(t *testing.T) {
	s := loadFixture(t, "consumption.csv")["opsd_res4"]
	day := LocalMidnight(2016, 3, 25, 1)
	poisoned := Series{}
	for ts, v := range s {
		if ts >= day {
			v = 1_000_000
		}
		poisoned[ts] = v
	}
	for k := range 24 * 14 { // also fill the gaps after midnight
		poisoned[day+int64(k)*HourS] = 1_000_000
	}
	for _, m := range Methods() {
		a, errA := Forecast(s, day, 1, m)
		b, errB := Forecast(poisoned, day, 1, m)
		if errA != nil || errB != nil {
			t.Fatal(m, errA, errB)
		}
		if a != b {
			t.Errorf("%s: forecast changed with future data:\n%v\n%v", m, a, b)
		}
	}
}

func TestNewSeriesRejects(t *testing.T) {
	for _, ps := range [][]Point{
		{{UnixS: 1800, Wh: 1}},
		{{UnixS: 3600, Wh: -1}},
		{{UnixS: 3600, Wh: 1}, {UnixS: 3600, Wh: 2}},
	} {
		if _, err := NewSeries(ps); err == nil {
			t.Errorf("%v accepted", ps)
		}
	}
}

func TestBacktestSameHours(t *testing.T) {
	day := LocalMidnight(2024, 1, 15, 0)
	s := synth(day, 28, func(k, h int) int64 { return int64(100 + 10*(k%2)) })
	// Actual of the day: 100 every hour but one missing.
	for h := range 24 {
		if h != 4 {
			s[day+int64(h)*HourS] = 100
		}
	}
	res, err := Backtest(s, day, day+DayS, 0, []Method{SameHourYesterday, SameHourLastWeek})
	if err != nil {
		t.Fatal(err)
	}
	// Yesterday (k=1) was 110: |err| 10 on 23 hours; last week (k=7) 110 too.
	for _, sc := range res.Scores {
		if sc.Hours != 23 || math.Abs(sc.NMAE-0.1) > 1e-12 || math.Abs(sc.RMSEWh-10) > 1e-12 {
			t.Errorf("%+v", sc)
		}
	}
	if res.Days != 1 {
		t.Errorf("days %d", res.Days)
	}
}

// TestQualityOnRealData backtests the last three weeks of the fixtures.
func TestQualityOnRealData(t *testing.T) {
	if testing.Short() {
		t.Skip("backtest of 3 weeks × 3 series")
	}
	methods := []Method{SameHourYesterday, SameHourLastWeek, Mean4Weekdays, Prophet, ProphetLevel, Auto}
	run := func(file, site string, off int, from, to int64) map[Method]Score {
		res, err := Backtest(loadFixture(t, file)[site], from, to, off, methods)
		if err != nil {
			t.Fatal(err)
		}
		out := map[Method]Score{}
		for _, s := range res.Scores {
			out[s.Method] = s
			t.Logf("%s %s %-20s nMAE %.3f RMSE %4.0f Wh hours %d", file, site, s.Method, s.NMAE, s.RMSEWh, s.Hours)
		}
		return out
	}
	bestBaseline := func(sc map[Method]Score) float64 {
		return math.Min(sc[SameHourYesterday].NMAE, math.Min(sc[SameHourLastWeek].NMAE, sc[Mean4Weekdays].NMAE))
	}

	// opsd_res4 consumption (heat pump, EV): the recent level matters most.
	// Measured: prophet-level 0.487, best baseline 0.559.
	sc := run("consumption.csv", "opsd_res4", 1, LocalMidnight(2016, 3, 11, 1), LocalMidnight(2016, 4, 1, 1))
	const bound = 0.52
	if sc[ProphetLevel].NMAE >= bound {
		t.Errorf("opsd_res4: prophet-level nMAE %.3f, want < %.2f", sc[ProphetLevel].NMAE, bound)
	}
	if b := bestBaseline(sc); b < bound {
		t.Errorf("opsd_res4: a baseline reached nMAE %.3f < %.2f: the bound no longer separates", b, bound)
	}
	if sc[Auto].NMAE > bestBaseline(sc) {
		t.Errorf("opsd_res4: auto nMAE %.3f worse than the best baseline %.3f", sc[Auto].NMAE, bestBaseline(sc))
	}

	// sgsc_10006704: in these three weeks mean-4-weekdays (0.518) beats
	// prophet-level (0.555) — over the site's last 8 weeks it is the other
	// way round (0.569 vs 0.533). auto (0.524) must stay close to the best.
	sc = run("consumption.csv", "sgsc_10006704", 10, LocalMidnight(2014, 2, 10, 10), LocalMidnight(2014, 3, 3, 10))
	if sc[Auto].NMAE > 1.03*bestBaseline(sc) {
		t.Errorf("sgsc: auto nMAE %.3f more than 3 %% worse than the best baseline %.3f", sc[Auto].NMAE, bestBaseline(sc))
	}
	if sc[ProphetLevel].NMAE > 1.10*bestBaseline(sc) {
		t.Errorf("sgsc: prophet-level nMAE %.3f more than 10 %% worse than the best baseline %.3f", sc[ProphetLevel].NMAE, bestBaseline(sc))
	}

	// PV: without a weather forecast every method is close; check sanity only.
	sc = run("pv.csv", "opsd_res4", 1, LocalMidnight(2016, 3, 11, 1), LocalMidnight(2016, 4, 1, 1))
	if sc[Prophet].NMAE > 1.05*bestBaseline(sc) {
		t.Errorf("pv: prophet nMAE %.3f more than 5 %% worse than the best baseline %.3f", sc[Prophet].NMAE, bestBaseline(sc))
	}
}

// BenchmarkForecast measures one site-day forecast per method (8-week fit).
func BenchmarkForecast(b *testing.B) {
	s := loadFixture(b, "consumption.csv")["opsd_res4"]
	day := LocalMidnight(2016, 3, 25, 1)
	for _, m := range []Method{Mean4Weekdays, Prophet, ProphetLevel, Auto} {
		b.Run(string(m), func(b *testing.B) {
			for b.Loop() {
				if _, err := Forecast(s, day, 1, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A Model refitting every day is Forecast's ProphetLevel exactly; one
// refitting weekly is exact on its refit days and, between them, forecasts
// real households about as well (nMAE within a few points).
func TestModelRefitsItsSeasonalStageEveryRefitDays(t *testing.T) {
	s := loadFixture(t, "consumption.csv")["opsd_res4"]
	first := LocalMidnight(2016, 3, 1, 1)
	daily := &Model{UTCOffsetH: 1, RefitDays: 1}
	weekly := &Model{UTCOffsetH: 1, RefitDays: 7}
	var errDaily, errWeekly, actual float64
	for d := range int64(21) {
		day := first + d*DayS
		want, err := Forecast(s, day, 1, ProphetLevel)
		if err != nil {
			t.Fatal(err)
		}
		got, err := daily.Forecast(s, day)
		if err != nil || got != want {
			t.Fatalf("day %d: refit daily %v (%v), Forecast %v", d, got, err, want)
		}
		wk, err := weekly.Forecast(s, day)
		if err != nil {
			t.Fatal(err)
		}
		if refit := d%7 == 0; refit != (wk == want) {
			t.Errorf("day %d: weekly model equals the daily forecast: %v, a refit day: %v", d, wk == want, refit)
		}
		for h := range 24 {
			if v, ok := s[day+int64(h)*HourS]; ok {
				errDaily += math.Abs(float64(want[h] - v))
				errWeekly += math.Abs(float64(wk[h] - v))
				actual += float64(v)
			}
		}
	}
	if d, w := errDaily/actual, errWeekly/actual; w > d+0.03 {
		t.Errorf("nMAE refitting weekly %.3f, daily %.3f", w, d)
	}
}

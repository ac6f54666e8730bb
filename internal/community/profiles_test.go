package community

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestEmbeddedProfiles(t *testing.T) {
	want := []string{"household-1", "household-2", "household-3", "household-4", "household-5",
		"household-average", "household-heatpump-ev"}
	if got := LoadProfiles(); !slices.Equal(got, want) {
		t.Fatalf("load profiles %v, want %v", got, want)
	}
	if got := PVProfiles(); !slices.Equal(got, []string{"clear-sky", "pv-konstanz"}) {
		t.Fatalf("pv profiles %v", got)
	}
	all := map[string]*loadProfile{}
	for name, p := range loadProfiles {
		all[name] = p
	}
	for name, p := range shapes {
		all["synthetic/"+name] = p
	}
	for name, p := range all {
		if m := yearMean(&p.rel); math.Abs(m-1) > 1e-12 {
			t.Errorf("%s: year mean %v, want 1", name, m)
		}
		var resid float64
		for i, r := range p.resid {
			resid += r / residuals
			if r < 0 || i > 0 && r < p.resid[i-1] {
				t.Errorf("%s: residual quantiles not rising from 0: %v", name, p.resid)
				break
			}
		}
		if math.Abs(resid-1) > 1e-12 || math.Abs(p.residualMean(1)-1) > 1e-3 {
			t.Errorf("%s: residual mean %v, sampled %v", name, resid, p.residualMean(1))
		}
		if p.dayCV < 0 || p.dayCV > 1 || p.dayLag1 < 0 || p.dayLag1 >= 1 || p.shared < 0 || p.shared > 1 {
			t.Errorf("%s: day cv %v, lag-1 %v, shared %v", name, p.dayCV, p.dayLag1, p.shared)
		}
		for w := range 2 {
			for m := range 12 {
				for h := range 24 {
					if v := p.rel[w][m][h]; !(v > 0) || v > 10 {
						t.Errorf("%s: rel[%d][%d][%d] = %v", name, w, m, h, v)
					}
				}
			}
		}
	}
	pv := pvProfiles["pv-konstanz"]
	for m := range 12 {
		var day float64
		for h := range 24 {
			v := pv.whPerW[m][h]
			if v < 0 || v > 1 || (h < 4 || h > 21) && v != 0 {
				t.Errorf("pv-konstanz month %d hour %d: %v Wh/W", m+1, h, v)
			}
			day += v
		}
		if m == 5 && day < 3 || m == 11 && day > 2 {
			t.Errorf("pv-konstanz month %d: %.2f kWh/kWp a day", m+1, day)
		}
	}
}

func TestCalendar(t *testing.T) {
	for d := int64(-40000); d < 60000; d += 13 {
		tm := time.Unix(d*86400, 0).UTC()
		c := calendar(d)
		wd := tm.Weekday()
		if c.year != tm.Year() || c.month != int(tm.Month())-1 || c.dom != tm.Day()-1 || c.doy != tm.YearDay()-1 ||
			c.weekend != (wd == time.Saturday || wd == time.Sunday) {
			t.Fatalf("day %d: %+v, want %v", d, c, tm)
		}
		if c.monthN != time.Date(tm.Year(), tm.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day() {
			t.Fatalf("day %d: month of %d days", d, c.monthN)
		}
	}
	for y := int64(1850); y < 2150; y++ {
		if got, want := yearStart(y), time.Date(int(y), 1, 1, 0, 0, 0, 0, time.UTC).Unix()/86400; got != want {
			t.Fatalf("yearStart(%d) = %d, want %d", y, got, want)
		}
	}
}

func TestNoise(t *testing.T) {
	var xs []float64
	for i := range int64(200_000) {
		xs = append(xs, gaussOf(hashAt(12345, i)))
	}
	m, sd := meanSD(xs)
	if math.Abs(m) > 0.01 || math.Abs(sd-1) > 0.01 {
		t.Errorf("gaussOf: mean %v, sd %v", m, sd)
	}
	for _, s := range []smoother{smoothDays, smoothCloud, smoothWind36} {
		var ys []float64
		for i := range int64(100_000) {
			ys = append(ys, s.at(777, i))
		}
		m, sd := meanSD(ys)
		if math.Abs(m) > 0.05 || math.Abs(sd-1) > 0.05 {
			t.Errorf("smoother %d: mean %v, sd %v", s.l, m, sd)
		}
		if r, want := corr(ys[:len(ys)-1], ys[1:]), s.lag1(); math.Abs(r-want) > 0.03 {
			t.Errorf("smoother %d: lag-1 %v, computed %v", s.l, r, want)
		}
	}
}

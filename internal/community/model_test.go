package community

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// hoursOf2025 are the UTC starts of the hours of local 2025 at UTC+1.
func hoursOf2025() []int64 {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600)).Unix()
	hs := make([]int64, 365*24)
	for i := range hs {
		hs[i] = start + int64(i)*3600
	}
	return hs
}

// localTime is an hour's local date and hour at utcOffsetH.
func localTime(hourStart int64, utcOffsetH int) time.Time {
	return time.Unix(hourStart, 0).In(time.FixedZone("", utcOffsetH*3600))
}

func siteModel1(t *testing.T, c *Community, seed uint64) *Model {
	t.Helper()
	m, err := c.Model(seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModelDeterministic(t *testing.T) {
	c, err := Parse(readExample(t))
	if err != nil {
		t.Fatal(err)
	}
	a, b, other := siteModel1(t, c, 7), siteModel1(t, c, 7), siteModel1(t, c, 8)
	hours := hoursOf2025()
	differ := make([]int, len(c.Sites))
	// b is asked in reverse order: a value must not depend on what was
	// asked before it.
	for i := range c.Sites {
		for k := len(hours) - 1; k >= 0; k-- {
			h := hours[k]
			la, pa := a.BaseLoadWh(i, h), a.ProductionWh(i, h)
			if lb, pb := b.BaseLoadWh(i, h), b.ProductionWh(i, h); la != lb || pa != pb {
				t.Fatalf("site %s at %d: (%d, %d) then (%d, %d) for the same seed", c.Sites[i].ID, h, la, pa, lb, pb)
			}
			if lo, po := other.BaseLoadWh(i, h), other.ProductionWh(i, h); lo != la || po != pa {
				differ[i]++
			}
		}
	}
	for i, s := range c.Sites {
		// Street lights only flicker between seeds; everything else moves.
		if differ[i] < len(hours)/4 {
			t.Errorf("site %s: only %d of %d hours differ between seeds 7 and 8", s.ID, differ[i], len(hours))
		}
	}
	// Mid-hour times are the hour they fall in.
	if a.BaseLoadWh(0, hours[100]+1799) != a.BaseLoadWh(0, hours[100]) {
		t.Error("a time inside an hour is not that hour")
	}
}

// community builds a one-type community from sites, for model tests.
func communityOf(t *testing.T, sites ...Site) *Community {
	t.Helper()
	c := newWithDefaults()
	c.Sites = sites
	f, err := c.withDefaults()
	if err == nil {
		err = f.validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func loadSite(id, profile, shape string, annualKWh float64) Site {
	return Site{ID: id, Type: TypeHousehold, Load: &Load{Profile: profile, Shape: shape, AnnualKWh: annualKWh}}
}

func TestAnnualEnergyMatchesAnnualKWh(t *testing.T) {
	var sites []Site
	for _, p := range LoadProfiles() {
		sites = append(sites, loadSite(p, p, "", 4000))
	}
	sites = append(sites,
		loadSite("home", ProfileSynthetic, ShapeHome, 3000),
		Site{ID: "office", Type: TypeNonResidential, Load: &Load{Profile: ProfileSynthetic, Shape: ShapeOffice, AnnualKWh: 30000, ShiftH: 2}},
		Site{ID: "lights", Type: TypePublicLighting, Load: &Load{Profile: ProfileSynthetic, Shape: ShapeLighting, AnnualKWh: 10000}},
		Site{ID: "station", Type: TypeEVCharging, Load: &Load{Profile: ProfileSynthetic, Shape: ShapeEVStation, AnnualKWh: 60000}},
		Site{ID: "jumpy", Type: TypeHousehold, Load: &Load{Profile: "household-3", AnnualKWh: 5000, ShiftH: -3, Variability: ptr(2.0)}},
	)
	c := communityOf(t, sites...)
	hours := hoursOf2025()
	for seed := uint64(1); seed <= 3; seed++ {
		m := siteModel1(t, c, seed)
		for i, s := range c.Sites {
			var sum int64
			for _, h := range hours {
				wh := m.BaseLoadWh(i, h)
				if wh < 0 {
					t.Fatalf("%s: %d Wh at %d", s.ID, wh, h)
				}
				sum += wh
			}
			if got := float64(sum) / 1000 / s.Load.AnnualKWh; got < 0.9 || got > 1.1 {
				t.Errorf("seed %d, %s: %.0f kWh in 2025, %.0f %% of annual_kwh %.0f", seed, s.ID, float64(sum)/1000, 100*got, s.Load.AnnualKWh)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// monthlyWh sums a site's hourly values by local month over 2025.
func monthlyWh(m *Model, site int, f func(m *Model, site int, h int64) int64) [12]int64 {
	var out [12]int64
	for _, h := range hoursOf2025() {
		out[localTime(h, 1).Month()-1] += f(m, site, h)
	}
	return out
}

func load(m *Model, site int, h int64) int64 { return m.BaseLoadWh(site, h) }
func prod(m *Model, site int, h int64) int64 { return m.ProductionWh(site, h) }

func TestPV(t *testing.T) {
	c := communityOf(t,
		Site{ID: "roof", Type: TypeProsumer, PV: &Generator{CapacityW: 5000}},
		Site{ID: "konstanz", Type: TypeProsumer, PV: &Generator{CapacityW: 5000, Profile: "pv-konstanz"}},
		Site{ID: "park", Type: TypeProducer, PV: &Generator{CapacityW: 1_000_000}})
	for seed := uint64(1); seed <= 3; seed++ {
		m := siteModel1(t, c, seed)
		for i, s := range c.Sites {
			capWh := s.PV.CapacityW
			var year int64
			peakHours := map[int]int64{}
			for _, h := range hoursOf2025() {
				wh := m.ProductionWh(i, h)
				lt := localTime(h, 1)
				if wh < 0 || wh > capWh {
					t.Fatalf("%s: %d Wh at %v, capacity %d W", s.ID, wh, lt, capWh)
				}
				// At 47.7° N the sun is down before 4 h and after 21 h
				// local standard time all year (the Konstanz roof, as
				// metered, an hour later).
				if (lt.Hour() < 4 || lt.Hour() >= 22 || lt.Hour() == 21 && s.ID != "konstanz") && wh != 0 {
					t.Fatalf("%s: %d Wh at night, %v", s.ID, wh, lt)
				}
				if lt.Month() == time.June {
					peakHours[lt.Hour()] += wh
				}
				year += wh
			}
			month := monthlyWh(m, i, prod)
			if month[5] < 2*month[11] {
				t.Errorf("seed %d, %s: June %d Wh, December %d Wh: want June well above December", seed, s.ID, month[5], month[11])
			}
			// Central Europe: about 1,000 kWh per kWp in a year.
			if y := float64(year) / float64(capWh); y < 850 || y > 1350 {
				t.Errorf("seed %d, %s: %.0f kWh/kWp in a year", seed, s.ID, y)
			}
			best := 0
			for hr, wh := range peakHours {
				if wh > peakHours[best] {
					best = hr
				}
			}
			// The clear-sky sun peaks at solar noon, ~12:25 local standard
			// time at 9.2° E (passing clouds may favour the next hour); the
			// Konstanz roof, as metered, two hours later.
			want := map[string][2]int{"roof": {12, 13}, "park": {12, 13}, "konstanz": {13, 15}}[s.ID]
			if best < want[0] || best > want[1] {
				t.Errorf("seed %d, %s: June's best hour is %d h", seed, s.ID, best)
			}
		}
	}
}

func TestPVSouthernHemisphere(t *testing.T) {
	c := communityOf(t, Site{ID: "roof", Type: TypeProsumer, PV: &Generator{CapacityW: 5000}})
	c.Latitude, c.Longitude, c.UTCOffsetH = -33.9, 151.2, 10
	m := siteModel1(t, c, 1)
	var june, december int64
	for _, h := range hoursOf2025() {
		switch localTime(h, 10).Month() {
		case time.June:
			june += m.ProductionWh(0, h)
		case time.December:
			december += m.ProductionWh(0, h)
		}
	}
	if december < june*3/2 {
		t.Errorf("Sydney: December %d Wh, June %d Wh: want the southern summer sunnier", december, june)
	}
}

// The cloudiness is the community's: two roofs have sunny and dull days
// together.
func TestPVSharesTheWeather(t *testing.T) {
	c := communityOf(t,
		Site{ID: "a", Type: TypeProsumer, PV: &Generator{CapacityW: 5000}},
		Site{ID: "b", Type: TypeProsumer, PV: &Generator{CapacityW: 5000}})
	m := siteModel1(t, c, 3)
	var a, b []float64
	var dayA, dayB int64
	for k, h := range hoursOf2025() {
		dayA += m.ProductionWh(0, h)
		dayB += m.ProductionWh(1, h)
		if k%24 == 23 {
			a, b = append(a, float64(dayA)), append(b, float64(dayB))
			dayA, dayB = 0, 0
		}
	}
	if r := corr(a, b); r < 0.9 {
		t.Errorf("daily PV of two roofs correlates %.2f", r)
	}
	if r := corr(a[:len(a)-1], a[1:]); r < 0.3 {
		t.Errorf("a roof's daily PV correlates %.2f from one day to the next: want spells of weather", r)
	}
}

func corr(x, y []float64) float64 {
	mx, sx := meanSD(x)
	my, sy := meanSD(y)
	var c float64
	for i := range x {
		c += (x[i] - mx) * (y[i] - my)
	}
	return c / float64(len(x)) / sx / sy
}

func TestLightingOnAtNightOnly(t *testing.T) {
	c := communityOf(t, Site{ID: "lights", Type: TypePublicLighting})
	m := siteModel1(t, c, 1)
	var juneLit, decemberLit int
	for _, h := range hoursOf2025() {
		wh := m.BaseLoadWh(0, h)
		lt := localTime(h, 1)
		switch hr := lt.Hour(); {
		case hr >= 9 && hr < 16:
			if wh != 0 {
				t.Fatalf("street lights on in daylight, %v: %d Wh", lt, wh)
			}
		case hr < 4 || hr >= 22:
			if wh <= 0 {
				t.Fatalf("street lights off at night, %v", lt)
			}
		}
		if wh > 0 && lt.Month() == time.June {
			juneLit++
		}
		if wh > 0 && lt.Month() == time.December {
			decemberLit++
		}
	}
	// Nights at 47.7° N: ~8 h in June, ~16 h in December (whole or part hours).
	if juneLit > 30*10 || decemberLit < 31*15 {
		t.Errorf("lit hours: June %d, December %d", juneLit, decemberLit)
	}
}

func TestWind(t *testing.T) {
	c := communityOf(t, Site{ID: "w", Type: TypeProducer, Wind: &Generator{CapacityW: 2_000_000}},
		Site{ID: "w2", Type: TypeProducer, Wind: &Generator{CapacityW: 2_000_000, MeanSpeedMS: ptr(8.0)}})
	m := siteModel1(t, c, 5)
	var series [2][]float64
	var zero, full [2]int
	for _, h := range hoursOf2025() {
		for i := range 2 {
			wh := m.ProductionWh(i, h)
			if wh < 0 || wh > 2_000_000 {
				t.Fatalf("wind %d Wh", wh)
			}
			zero[i] += b2i(wh == 0)
			full[i] += b2i(wh == 2_000_000)
			series[i] = append(series[i], float64(wh))
		}
	}
	for i := range 2 {
		mean, _ := meanSD(series[i])
		cf := mean / 2_000_000
		if cf < 0.12 || cf > 0.55 {
			t.Errorf("site %d: capacity factor %.2f", i, cf)
		}
		if zero[i] < 100 || full[i] < 50 {
			t.Errorf("site %d: %d calm hours, %d at full power: want both", i, zero[i], full[i])
		}
		if r := corr(series[i][:len(series[i])-1], series[i][1:]); r < 0.8 {
			t.Errorf("site %d: hour-to-hour correlation %.2f: the wind should change gradually", i, r)
		}
	}
	if m0, m1 := mean(series[0]), mean(series[1]); m1 <= m0 {
		t.Errorf("a windier site makes less: %.0f vs %.0f", m1, m0)
	}
	if jan, jul := monthlyWh(m, 0, prod), monthlyWh(m, 0, prod); jan[0]+jan[1]+jan[11] <= jul[5]+jul[6]+jul[7] {
		t.Errorf("winter %d Wh, summer %d Wh: want windier winters", jan[0]+jan[1]+jan[11], jul[5]+jul[6]+jul[7])
	}
}

func mean(x []float64) float64 { m, _ := meanSD(x); return m }

func TestWeeklyShape(t *testing.T) {
	c := communityOf(t,
		Site{ID: "office", Type: TypeNonResidential},
		Site{ID: "home", Type: TypeHousehold, Load: &Load{Profile: "household-2", AnnualKWh: 3000}})
	m := siteModel1(t, c, 2)
	var weekday, weekend [2]float64
	var nWeekday, nWeekend float64
	var officeHours, officeNight float64
	for _, h := range hoursOf2025() {
		lt := localTime(h, 1)
		for i := range 2 {
			wh := float64(m.BaseLoadWh(i, h))
			if lt.Weekday() == time.Saturday || lt.Weekday() == time.Sunday {
				weekend[i] += wh
			} else {
				weekday[i] += wh
			}
		}
		if lt.Weekday() == time.Saturday || lt.Weekday() == time.Sunday {
			nWeekend++
		} else {
			nWeekday++
			if lt.Hour() >= 9 && lt.Hour() < 16 {
				officeHours += float64(m.BaseLoadWh(0, h))
			} else if lt.Hour() < 5 {
				officeNight += float64(m.BaseLoadWh(0, h))
			}
		}
	}
	wd, we := weekday[0]/nWeekday, weekend[0]/nWeekend
	if we > 0.5*wd {
		t.Errorf("office: %.0f Wh an hour at weekends, %.0f on weekdays", we, wd)
	}
	if officeHours/7 < 3*officeNight/5 {
		t.Errorf("office: open hours %.0f, night %.0f", officeHours/7, officeNight/5)
	}
	// A home's weekend differs from its weekdays, though less.
	if r := (weekend[1] / nWeekend) / (weekday[1] / nWeekday); math.Abs(r-1) > 0.5 {
		t.Errorf("home: weekend/weekday %.2f", r)
	}
}

func TestSeasons(t *testing.T) {
	c := communityOf(t,
		loadSite("hp", "household-heatpump-ev", "", 6000),
		loadSite("avg", "household-average", "", 4000),
		loadSite("home", ProfileSynthetic, ShapeHome, 4000))
	m := siteModel1(t, c, 4)
	for i, s := range c.Sites {
		month := monthlyWh(m, i, load)
		// The Australian homes' winter was moved to January: all three
		// use more in the northern winter than in summer.
		if month[0] <= month[6] {
			t.Errorf("%s: January %d Wh, July %d Wh", s.ID, month[0], month[6])
		}
	}
}

func TestShiftAndVariability(t *testing.T) {
	still := ptr(0.0)
	c := communityOf(t,
		Site{ID: "a", Type: TypeHousehold, Load: &Load{Profile: "household-1", AnnualKWh: 4000, Variability: still}},
		Site{ID: "b", Type: TypeHousehold, Load: &Load{Profile: "household-1", AnnualKWh: 4000, Variability: still, ShiftH: 2}})
	m := siteModel1(t, c, 1)
	hours := hoursOf2025()
	for k := 2; k < len(hours); k++ {
		if a, b := m.BaseLoadWh(0, hours[k-2]), m.BaseLoadWh(1, hours[k]); a != b {
			t.Fatalf("shifted by 2 h: %d Wh at %v, unshifted %d Wh two hours earlier", b, localTime(hours[k], 1), a)
		}
	}
	// Without variability the load is the profile itself: the same for
	// any seed.
	other := siteModel1(t, c, 99)
	for _, h := range hours {
		if a, b := m.BaseLoadWh(0, h), other.BaseLoadWh(0, h); a != b {
			t.Fatalf("variability 0: %d Wh with seed 1, %d with seed 99 at %v", a, b, localTime(h, 1))
		}
	}
}

func TestModelRefusesInvalid(t *testing.T) {
	c := &Community{Start: DefaultStart, Mechanism: "uniform", DR: DR{LimitPct: 150}, Sites: []Site{{ID: "x", Type: "castle"}}}
	if _, err := c.Model(1); err == nil {
		t.Fatal("a model of an invalid community")
	}
}

func BenchmarkModelYear1000Sites(b *testing.B) {
	c := Generate(1000, 1)
	m, err := c.Model(1)
	if err != nil {
		b.Fatal(err)
	}
	start := c.StartUnix()
	var sink int64
	b.ResetTimer()
	for range b.N {
		for h := int64(0); h < 8760; h++ {
			t := start + h*3600
			for i := range m.Sites() {
				sink += m.BaseLoadWh(i, t) + m.ProductionWh(i, t)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(1000*8760*2), "ns/call")
	_ = fmt.Sprint(sink)
}

func BenchmarkModelBuild1000Sites(b *testing.B) {
	c := Generate(1000, 1)
	for range b.N {
		if _, err := c.Model(1); err != nil {
			b.Fatal(err)
		}
	}
}

package plan

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// ---- helpers, written independently of the planner ----

func fill(v int64) []int64 {
	a := make([]int64, HoursPerDay)
	for h := range a {
		a[h] = v
	}
	return a
}

func ptr(v int64) *int64 { return &v }

// winT is the window, computed here without Window.
func winT(start, end int) []int {
	var hs []int
	h := start
	for {
		hs = append(hs, h)
		h = (h + 1) % 24
		if h == end {
			return hs
		}
	}
}

// costT is the brief's formula, literally.
func costT(s Site, net []int64) int64 {
	var c int64
	for h, n := range net {
		c += max(n, 0)*s.BuyMicroPerKWh[h] - max(-n, 0)*s.SellMicroPerKWh[h]
	}
	return c
}

// placementsT lists every load profile an appliance may have.
func placementsT(a Appliance) [][24]int64 {
	win := winT(a.Start, a.End)
	var out [][24]int64
	if a.EnergyWh != nil {
		maxWh := a.MaxPowerW
		if maxWh == 0 {
			maxWh = a.PowerW
		}
		if !a.Flexible {
			var p [24]int64
			left := *a.EnergyWh
			for _, h := range win {
				p[h] = min(left, maxWh)
				left -= p[h]
			}
			return [][24]int64{p}
		}
		var rec func(i int, left int64, p [24]int64)
		rec = func(i int, left int64, p [24]int64) {
			if i == len(win) {
				if left == 0 {
					out = append(out, p)
				}
				return
			}
			for x := int64(0); x <= min(left, maxWh); x++ {
				p[win[i]] = x
				rec(i+1, left-x, p)
			}
		}
		rec(0, *a.EnergyWh, [24]int64{})
		return out
	}
	if !a.Flexible {
		var p [24]int64
		for _, h := range win[:a.Hours] {
			p[h] = a.PowerW
		}
		return [][24]int64{p}
	}
	if !a.Splittable {
		for off := 0; off+a.Hours <= len(win); off++ {
			var p [24]int64
			for _, h := range win[off : off+a.Hours] {
				p[h] = a.PowerW
			}
			out = append(out, p)
		}
		return out
	}
	var rec func(i, need int, p [24]int64)
	rec = func(i, need int, p [24]int64) {
		if need == 0 {
			out = append(out, p)
			return
		}
		if len(win)-i < need {
			return
		}
		p2 := p
		p2[win[i]] = a.PowerW
		rec(i+1, need-1, p2)
		rec(i+1, need, p)
	}
	rec(0, a.Hours, [24]int64{})
	return out
}

// bruteForce enumerates every combination of placements and, for a site
// with a battery, every schedule of the battery for each (batteryBestT).
func bruteForce(s Site) (int64, bool) {
	all := make([][][24]int64, len(s.Appliances))
	for i, a := range s.Appliances {
		all[i] = placementsT(a)
	}
	best, found := int64(math.MaxInt64), false
	net := make([]int64, 24)
	var rec func(i int)
	rec = func(i int) {
		if i == len(all) {
			if s.Battery != nil {
				if c, ok := batteryBestT(s, net); ok && c < best {
					best, found = c, true
				}
				return
			}
			if s.PeakImportWh != nil {
				for _, n := range net {
					if n > *s.PeakImportWh {
						return
					}
				}
			}
			if c := costT(s, net); c < best {
				best, found = c, true
			}
			return
		}
		for _, p := range all[i] {
			for h := range 24 {
				net[h] += p[h]
			}
			rec(i + 1)
			for h := range 24 {
				net[h] -= p[h]
			}
		}
	}
	for h := range 24 {
		net[h] = s.BaseWh[h] - s.PVWh[h]
	}
	rec(0)
	return best, found
}

// checkPlan verifies that r is a feasible plan of s and that its net, peak
// and cost recompute to what it reports.
func checkPlan(t *testing.T, s Site, r Result) {
	t.Helper()
	if len(r.Appliances) != len(s.Appliances) || len(r.NetWh) != 24 {
		t.Fatalf("result shape: %d appliances, %d net", len(r.Appliances), len(r.NetWh))
	}
	net := make([]int64, 24)
	for h := range net {
		net[h] = s.BaseWh[h] - s.PVWh[h]
	}
	for i, a := range s.Appliances {
		ap := r.Appliances[i]
		if ap.Name != a.Name {
			t.Fatalf("appliance %d named %q, want %q", i, ap.Name, a.Name)
		}
		win := winT(a.Start, a.End)
		pos := make(map[int]int)
		for k, h := range win {
			pos[h] = k
		}
		for k, h := range ap.Hours {
			if _, ok := pos[h]; !ok {
				t.Fatalf("%s runs at %d outside window %v", a.Name, h, win)
			}
			if k > 0 && pos[h] <= pos[ap.Hours[k-1]] {
				t.Fatalf("%s hours %v not in window order", a.Name, ap.Hours)
			}
		}
		if a.EnergyWh != nil {
			maxWh := a.MaxPowerW
			if maxWh == 0 {
				maxWh = a.PowerW
			}
			var sum int64
			for h, x := range ap.WhByHour {
				if x < 0 || x > maxWh {
					t.Fatalf("%s takes %d Wh in hour %d (max %d)", a.Name, x, h, maxWh)
				}
				if _, ok := pos[h]; !ok && x != 0 {
					t.Fatalf("%s charges at %d outside window", a.Name, h)
				}
				if (x > 0) != slices.Contains(ap.Hours, h) {
					t.Fatalf("%s hours %v disagree with wh_by_hour %v", a.Name, ap.Hours, ap.WhByHour)
				}
				sum += x
				net[h] += x
			}
			if sum != *a.EnergyWh {
				t.Fatalf("%s takes %d Wh, wants %d", a.Name, sum, *a.EnergyWh)
			}
			if !a.Flexible {
				if want := placementsT(a)[0]; !slices.Equal(want[:], ap.WhByHour) {
					t.Fatalf("non-flexible %s charges %v, want %v", a.Name, ap.WhByHour, want)
				}
			}
			continue
		}
		if ap.WhByHour != nil {
			t.Fatalf("%s: wh_by_hour for an hour-based appliance", a.Name)
		}
		if len(ap.Hours) != a.Hours {
			t.Fatalf("%s runs %d hours, want %d", a.Name, len(ap.Hours), a.Hours)
		}
		if len(ap.Hours) > 0 {
			first := pos[ap.Hours[0]]
			if !a.Flexible && first != 0 {
				t.Fatalf("non-flexible %s starts at %d, want window start %d", a.Name, ap.Hours[0], a.Start)
			}
			if !a.Flexible || !a.Splittable {
				for k, h := range ap.Hours {
					if pos[h] != first+k {
						t.Fatalf("%s run %v not contiguous in window %v", a.Name, ap.Hours, win)
					}
				}
			}
		}
		for _, h := range ap.Hours {
			net[h] += a.PowerW
		}
	}
	var wearN int64
	if s.Battery != nil {
		wearN = checkBattery(t, *s.Battery, r, net)
	} else if r.Battery != nil {
		t.Fatalf("a battery plan for a site without one")
	}
	if !slices.Equal(net, r.NetWh) {
		t.Fatalf("net %v, recomputed %v", r.NetWh, net)
	}
	var peak int64
	for _, n := range net {
		peak = max(peak, n)
		if s.PeakImportWh != nil && n > *s.PeakImportWh {
			t.Fatalf("net %d above peak limit %d", n, *s.PeakImportWh)
		}
	}
	if peak != r.PeakImportWh {
		t.Fatalf("peak_import_wh %d, recomputed %d", r.PeakImportWh, peak)
	}
	if c := costT(s, net) + wearN; c != r.CostNano {
		t.Fatalf("cost %d, recomputed %d", r.CostNano, c)
	}
}

// flat is a site with constant base, no PV and flat prices.
func flat() Site {
	return Site{BaseWh: fill(500), PVWh: fill(0), BuyMicroPerKWh: fill(300_000), SellMicroPerKWh: fill(50_000)}
}

func mustPlan(t *testing.T, s Site) Result {
	t.Helper()
	r, err := Plan(s)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, s, r)
	return r
}

// ---- named rules ----

func TestWindowWrapsPastMidnight(t *testing.T) {
	if got := Window(22, 2); !slices.Equal(got, []int{22, 23, 0, 1}) {
		t.Fatalf("Window(22,2) = %v", got)
	}
	if got := Window(7, 7); len(got) != 24 || got[0] != 7 || got[23] != 6 {
		t.Fatalf("Window(7,7) = %v, want the whole day from 7", got)
	}
	if got := Window(9, 17); len(got) != 8 || got[7] != 16 {
		t.Fatalf("Window(9,17) = %v", got)
	}
	// Cheapest hours 1 and 2 lie after midnight inside the 21–4 window;
	// hour 12 is cheaper still but outside it.
	s := flat()
	s.BuyMicroPerKWh[1], s.BuyMicroPerKWh[2], s.BuyMicroPerKWh[12] = 100_000, 100_000, 10_000
	s.SellMicroPerKWh[12] = 10_000
	s.Appliances = []Appliance{{Name: "heater", Start: 21, End: 4, Flexible: true, PowerW: 1000, Hours: 2, Splittable: true}}
	r := mustPlan(t, s)
	if got := r.Appliances[0].Hours; !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("hours %v, want [1 2]", got)
	}
}

func TestNonSplittableRunsContiguousAcrossMidnight(t *testing.T) {
	// Hours 23, 0, 1 are cheap and contiguous across midnight; hour 21 is
	// cheapest of all but isolated, so a 3-hour run must take 23–1.
	s := flat()
	for _, h := range []int{23, 0, 1} {
		s.BuyMicroPerKWh[h] = 100_000
	}
	s.BuyMicroPerKWh[21] = 20_000
	s.SellMicroPerKWh[21] = 20_000
	s.Appliances = []Appliance{
		{Name: "dryer", Start: 20, End: 4, Flexible: true, PowerW: 2000, Hours: 3},
		{Name: "boiler", Start: 20, End: 4, Flexible: true, PowerW: 2000, Hours: 3, Splittable: true},
	}
	r := mustPlan(t, s)
	if got := r.Appliances[0].Hours; !slices.Equal(got, []int{23, 0, 1}) {
		t.Fatalf("dryer hours %v, want [23 0 1]", got)
	}
	if got := r.Appliances[1].Hours; !slices.Contains(got, 21) {
		t.Fatalf("splittable boiler hours %v should take the isolated cheap hour 21", got)
	}
}

func TestNonFlexibleRunsFromWindowStart(t *testing.T) {
	s := flat()
	s.BuyMicroPerKWh[3] = 1 // tempting, but a non-flexible load does not move
	s.SellMicroPerKWh[3] = 1
	s.Appliances = []Appliance{
		{Name: "oven", Start: 22, End: 2, Flexible: false, PowerW: 3000, Hours: 3},
		{Name: "car", Start: 18, End: 6, Flexible: false, EnergyWh: ptr(10_000), MaxPowerW: 4000},
	}
	r := mustPlan(t, s)
	if got := r.Appliances[0].Hours; !slices.Equal(got, []int{22, 23, 0}) {
		t.Fatalf("oven hours %v, want [22 23 0]", got)
	}
	if got := r.Appliances[1].WhByHour; got[18] != 4000 || got[19] != 4000 || got[20] != 2000 || got[21] != 0 {
		t.Fatalf("non-flexible car charges %v, want 4000,4000,2000 from 18", got)
	}
}

func TestPeakLimitRespected(t *testing.T) {
	// Without a limit both 3 kW loads would sit in the one cheap hour 10;
	// a 4 kWh limit forces one of them out.
	s := flat()
	s.BaseWh = fill(1000)
	s.BuyMicroPerKWh[10], s.SellMicroPerKWh[10] = 10_000, 10_000
	s.Appliances = []Appliance{
		{Name: "a", Start: 8, End: 14, Flexible: true, PowerW: 3000, Hours: 1},
		{Name: "b", Start: 8, End: 14, Flexible: true, PowerW: 3000, Hours: 1, Splittable: true},
		{Name: "ev", Start: 8, End: 14, Flexible: true, EnergyWh: ptr(5000), MaxPowerW: 7000},
	}
	free := mustPlan(t, s)
	if free.NetWh[10] != 1000+3000+3000+5000 {
		t.Fatalf("unlimited: hour 10 net %d, want everything there", free.NetWh[10])
	}
	s.PeakImportWh = ptr(4000)
	r := mustPlan(t, s)
	if r.PeakImportWh > 4000 {
		t.Fatalf("peak %d above limit", r.PeakImportWh)
	}
	if r.CostNano <= free.CostNano {
		t.Fatalf("limited cost %d not above unlimited %d", r.CostNano, free.CostNano)
	}
	if want, ok := bruteForceSmall(t, s); ok && want != r.CostNano {
		t.Fatalf("cost %d, brute force %d", r.CostNano, want)
	}
}

// bruteForceSmall runs the brute force when the EV's enumeration is small
// enough, scaling nothing: used by hand-made tests.
func bruteForceSmall(t *testing.T, s Site) (int64, bool) {
	t.Helper()
	// Scale Wh down by 1000 (all values here are whole kWh) so the EV's
	// integer allocations are few; cost scales by exactly 1000.
	sc := s
	div := func(a []int64) []int64 {
		out := slices.Clone(a)
		for i := range out {
			if out[i]%1000 != 0 {
				return nil
			}
			out[i] /= 1000
		}
		return out
	}
	sc.BaseWh, sc.PVWh = div(s.BaseWh), div(s.PVWh)
	if sc.BaseWh == nil || sc.PVWh == nil {
		return 0, false
	}
	if s.PeakImportWh != nil {
		sc.PeakImportWh = ptr(*s.PeakImportWh / 1000)
	}
	sc.Appliances = slices.Clone(s.Appliances)
	for i := range sc.Appliances {
		a := &sc.Appliances[i]
		a.PowerW /= 1000
		a.MaxPowerW /= 1000
		if a.EnergyWh != nil {
			a.EnergyWh = ptr(*a.EnergyWh / 1000)
		}
	}
	c, ok := bruteForce(sc)
	return c * 1000, ok
}

func TestPeakLimitInfeasible(t *testing.T) {
	s := flat()
	s.BaseWh = fill(1000)
	s.PeakImportWh = ptr(3500)
	// Each load fits alone in any hour, but the two 2 kW loads cannot both
	// run in the single hour of their window.
	s.Appliances = []Appliance{
		{Name: "a", Start: 10, End: 11, Flexible: true, PowerW: 2000, Hours: 1},
		{Name: "b", Start: 10, End: 11, Flexible: true, PowerW: 2000, Hours: 1},
	}
	if _, err := Plan(s); !errors.Is(err, ErrInfeasible) || !strings.Contains(err.Error(), "peak") {
		t.Fatalf("err %v, want ErrInfeasible about the peak", err)
	}
	// The base alone above the limit.
	s.Appliances = nil
	s.BaseWh[5] = 4000
	if _, err := Plan(s); !errors.Is(err, ErrInfeasible) || !strings.Contains(err.Error(), "hour 5") {
		t.Fatalf("err %v, want ErrInfeasible naming hour 5", err)
	}
	// An EV whose energy does not fit under the limit.
	s.BaseWh[5] = 1000
	s.Appliances = []Appliance{{Name: "ev", Start: 0, End: 2, Flexible: true, EnergyWh: ptr(6000), MaxPowerW: 7000}}
	if _, err := Plan(s); !errors.Is(err, ErrInfeasible) {
		t.Fatalf("err %v, want ErrInfeasible", err)
	}
}

func TestEVEnergyByDeparture(t *testing.T) {
	// Plugged in 18–7; cheap night hours 1–4 can hold 4×3 kWh, but the car
	// needs 14 kWh, so 2 kWh go to the next cheapest hour before departure.
	s := flat()
	for h := 1; h <= 4; h++ {
		s.BuyMicroPerKWh[h] = 100_000
	}
	s.BuyMicroPerKWh[6] = 200_000
	s.BuyMicroPerKWh[8] = 1 // after departure: unusable
	s.SellMicroPerKWh[8] = 1
	s.Appliances = []Appliance{{Name: "ev", Start: 18, End: 7, Flexible: true, EnergyWh: ptr(14_000), MaxPowerW: 3000}}
	r := mustPlan(t, s)
	want := make([]int64, 24)
	want[1], want[2], want[3], want[4], want[6] = 3000, 3000, 3000, 3000, 2000
	if got := r.Appliances[0].WhByHour; !slices.Equal(got, want) {
		t.Fatalf("wh_by_hour %v, want %v", got, want)
	}
	if got := r.Appliances[0].Hours; !slices.Equal(got, []int{1, 2, 3, 4, 6}) {
		t.Fatalf("hours %v", got)
	}
	// Not reachable by departure.
	s.Appliances[0].EnergyWh = ptr(13*3000 + 1)
	if _, err := Plan(s); !errors.Is(err, ErrInfeasible) || !strings.Contains(err.Error(), "ev") {
		t.Fatalf("err %v, want ErrInfeasible naming ev", err)
	}
}

func TestTwoEVsShareCheapHoursOptimally(t *testing.T) {
	// Hour 2 is cheapest but only car "a" can use it; both can use hour 3,
	// under a peak that leaves room for one car there. Charging b first at 3
	// (greedy per car) would push a elsewhere: the joint flow must not.
	s := flat()
	s.BaseWh = fill(0)
	s.PeakImportWh = ptr(4000)
	s.BuyMicroPerKWh[2], s.BuyMicroPerKWh[3], s.BuyMicroPerKWh[5] = 50_000, 60_000, 200_000
	for h := range 24 {
		s.SellMicroPerKWh[h] = min(s.SellMicroPerKWh[h], s.BuyMicroPerKWh[h])
	}
	s.Appliances = []Appliance{
		{Name: "a", Start: 1, End: 4, Flexible: true, EnergyWh: ptr(6000), MaxPowerW: 4000},
		{Name: "b", Start: 3, End: 6, Flexible: true, EnergyWh: ptr(6000), MaxPowerW: 4000},
	}
	r := mustPlan(t, s)
	want, ok := bruteForceSmall(t, s)
	if !ok || want != r.CostNano {
		t.Fatalf("cost %d, brute force %d (%v)", r.CostNano, want, ok)
	}
}

func TestSellAboveBuyRefused(t *testing.T) {
	s := flat()
	s.SellMicroPerKWh[13] = s.BuyMicroPerKWh[13] + 1
	if _, err := Plan(s); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "hour 13") {
		t.Fatalf("err %v, want ErrInvalid naming hour 13", err)
	}
}

func TestRepeatedNamesRefused(t *testing.T) {
	s := flat()
	s.Appliances = []Appliance{
		{Name: "pump", Start: 0, End: 0, Flexible: true, PowerW: 500, Hours: 2},
		{Name: "pump", Start: 0, End: 0, Flexible: true, PowerW: 500, Hours: 2},
	}
	if _, err := Plan(s); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"pump" repeated`) {
		t.Fatalf("err %v, want ErrInvalid about the repeated name", err)
	}
}

func TestHoursLongerThanWindowRefused(t *testing.T) {
	s := flat()
	s.Appliances = []Appliance{{Name: "dishwasher", Start: 22, End: 1, Flexible: true, PowerW: 1500, Hours: 4}}
	if _, err := Plan(s); !errors.Is(err, ErrInfeasible) || !strings.Contains(err.Error(), "dishwasher") {
		t.Fatalf("err %v, want ErrInfeasible naming the dishwasher", err)
	}
	s.Appliances[0].Hours = 3 // exactly the window
	r := mustPlan(t, s)
	if got := r.Appliances[0].Hours; !slices.Equal(got, []int{22, 23, 0}) {
		t.Fatalf("hours %v", got)
	}
}

func TestMalformedRefused(t *testing.T) {
	good := `{"base_wh":` + js(fill(1)) + `,"pv_wh":` + js(fill(0)) + `,"buy":` + js(fill(2)) + `,"sell":` + js(fill(1)) +
		`,"peak_import_wh":null,"appliances":[%s]}`
	cases := map[string]string{
		"unknown field":   strings.Replace(good, `"appliances"`, `"colour":1,"appliances"`, 1),
		"unknown in app":  strings.Replace(good, "%s", `{"name":"x","start":0,"end":1,"hours":1,"power_w":1,"color":2}`, 1),
		"short array":     strings.Replace(good, `"pv_wh":`+js(fill(0)), `"pv_wh":[0,0]`, 1),
		"start 24":        strings.Replace(good, "%s", `{"name":"x","start":24,"end":1,"hours":1,"power_w":1}`, 1),
		"negative power":  strings.Replace(good, "%s", `{"name":"x","start":0,"end":1,"hours":1,"power_w":-1}`, 1),
		"negative hours":  strings.Replace(good, "%s", `{"name":"x","start":0,"end":1,"hours":-1,"power_w":1}`, 1),
		"hours 25":        strings.Replace(good, "%s", `{"name":"x","start":0,"end":1,"hours":25,"power_w":1}`, 1),
		"no name":         strings.Replace(good, "%s", `{"start":0,"end":1,"hours":1,"power_w":1}`, 1),
		"negative energy": strings.Replace(good, "%s", `{"name":"x","start":0,"end":1,"energy_wh":-1,"max_power_w":1}`, 1),
		"trailing":        strings.Replace(good, "%s", "", 1) + "{}",
		"negative peak":   strings.Replace(strings.Replace(good, "%s", "", 1), "null", "-1", 1),
		"not json":        "{",
	}
	for name, in := range cases {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
	if _, err := Parse([]byte(strings.Replace(good, "%s", "", 1))); err != nil {
		t.Fatalf("good site refused: %v", err)
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestParseBriefExample(t *testing.T) {
	in := `{"base_wh":` + js(fill(400)) + `, "pv_wh":` + js(fill(0)) + `, "buy":` + js(fill(250000)) +
		`, "sell":` + js(fill(40000)) + `, "peak_import_wh": 9000,
 "appliances":[{"name":"washer","start":9,"end":17,"flexible":true,"power_w":2000,"hours":2,"splittable":false},
               {"name":"ev","start":19,"end":7,"flexible":true,"power_w":7400,"hours":4,"splittable":true}]}`
	s, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	r := mustPlan(t, s)
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"appliances":[{"name":"washer","hours":[`, `"net_wh":[`, `"cost":`, `"peak_import_wh":`} {
		if !strings.Contains(string(out), key) {
			t.Errorf("output %s lacks %s", out, key)
		}
	}
	if strings.Contains(string(out), "wh_by_hour") {
		t.Errorf("hour-based output has wh_by_hour: %s", out)
	}
}

func TestCostExactNanoUnits(t *testing.T) {
	// base 1000 Wh every hour; PV 3000 Wh at 12 and 1500 Wh at 3; a fixed
	// 2000 W load at 12–13. Buy 250000 µ/kWh (0.25/kWh) except 400000 at
	// 13; sell 80000.
	//   hour 3:  net −500  → −500 × 80000     =    −40,000,000
	//   hour 12: net 0     → 0
	//   hour 13: net 3000  → 3000 × 400000    =  1,200,000,000
	//   21 other hours: 1000 × 250000 × 21    =  5,250,000,000
	//   total                                 =  6,410,000,000 nano-units
	s := Site{BaseWh: fill(1000), PVWh: fill(0), BuyMicroPerKWh: fill(250_000), SellMicroPerKWh: fill(80_000)}
	s.PVWh[12], s.PVWh[3] = 3000, 1500
	s.BuyMicroPerKWh[13] = 400_000
	s.Appliances = []Appliance{{Name: "kiln", Start: 12, End: 14, PowerW: 2000, Hours: 2}}
	r := mustPlan(t, s)
	if r.CostNano != 6_410_000_000 {
		t.Fatalf("cost %d, want 6410000000", r.CostNano)
	}
	if r.PeakImportWh != 3000 || r.NetWh[3] != -500 || r.NetWh[12] != 0 {
		t.Fatalf("peak %d net %v", r.PeakImportWh, r.NetWh)
	}
}

// ---- optimality against brute force ----

// randomHome draws a small home whose placements brute force can
// enumerate: up to 4 appliances of every kind, small windows, Wh small
// enough that the kink and the peak limit bind often.
func randomHome(rng *rand.Rand) Site {
	s := Site{BaseWh: make([]int64, 24), PVWh: make([]int64, 24), BuyMicroPerKWh: make([]int64, 24), SellMicroPerKWh: make([]int64, 24)}
	for h := range 24 {
		s.BaseWh[h] = rng.Int64N(8)
		if rng.IntN(2) == 0 {
			s.PVWh[h] = rng.Int64N(14)
		}
		s.BuyMicroPerKWh[h] = rng.Int64N(60) - 5 // negative prices happen
		s.SellMicroPerKWh[h] = s.BuyMicroPerKWh[h] - rng.Int64N(40)
	}
	if rng.IntN(3) > 0 {
		s.PeakImportWh = ptr(6 + rng.Int64N(12))
	}
	n := 1 + rng.IntN(4)
	for i := range n {
		a := Appliance{Name: string(rune('a' + i)), Start: rng.IntN(24), Flexible: rng.IntN(6) > 0}
		w := 1 + rng.IntN(6)
		if rng.IntN(12) == 0 {
			w = 24
		}
		a.End = (a.Start + w) % 24
		if rng.IntN(4) == 0 {
			e := rng.Int64N(7)
			a.EnergyWh, a.MaxPowerW = &e, 1+rng.Int64N(4)
			if rng.IntN(2) == 0 {
				a.PowerW, a.MaxPowerW = a.MaxPowerW, 0
			}
			if e > a.maxPowerW()*int64(min(w, 4)) || w > 5 {
				a.End = (a.Start + 3) % 24
				e = min(e, a.maxPowerW()*3)
				a.EnergyWh = &e
			}
		} else {
			a.PowerW = rng.Int64N(9)
			a.Hours = rng.IntN(min(w, 6) + 1)
			a.Splittable = rng.IntN(2) == 0
			if w == 24 && a.Splittable {
				a.Hours = min(a.Hours, 3)
			}
		}
		s.Appliances = append(s.Appliances, a)
	}
	return s
}

func TestPlanMatchesBruteForce(t *testing.T) {
	const homes = 4000
	rng := rand.New(rand.NewPCG(7, 2026))
	infeasible := 0
	for i := range homes {
		s := randomHome(rng)
		want, ok := bruteForce(s)
		r, err := Plan(s)
		if !ok {
			infeasible++
			if !errors.Is(err, ErrInfeasible) {
				t.Fatalf("home %d: brute force finds no plan, Plan says %v\n%s", i, err, js(s))
			}
			continue
		}
		if err != nil {
			t.Fatalf("home %d: %v; brute force cost %d\n%s", i, err, want, js(s))
		}
		checkPlan(t, s, r)
		if r.CostNano != want {
			t.Fatalf("home %d: cost %d, brute force %d\n%s\n%s", i, r.CostNano, want, js(s), js(r))
		}
	}
	t.Logf("%d homes agree with brute force (%d infeasible)", homes, infeasible)
	if infeasible == 0 || infeasible > homes/2 {
		t.Errorf("%d infeasible homes: the generator does not exercise both outcomes", infeasible)
	}
}

// ---- 12 appliances: speed ----

// home12 is a realistic 12-appliance home: PV at midday, a peak tariff in
// the evening, mixed contiguous and splittable loads, windows wrapping past
// midnight, two EVs, and a peak limit that binds.
func home12() Site {
	s := Site{BaseWh: make([]int64, 24), PVWh: make([]int64, 24), BuyMicroPerKWh: make([]int64, 24), SellMicroPerKWh: make([]int64, 24)}
	pv := []int64{0, 0, 0, 0, 0, 0, 200, 900, 2100, 3500, 4700, 5500, 5800, 5500, 4700, 3500, 2100, 900, 200, 0, 0, 0, 0, 0}
	for h := range 24 {
		s.BaseWh[h] = 350 + int64(h%5)*40
		if h >= 17 && h <= 21 {
			s.BaseWh[h] += 900
		}
		s.PVWh[h] = pv[h]
		s.BuyMicroPerKWh[h] = 180_000
		if h >= 13 && h <= 22 {
			s.BuyMicroPerKWh[h] = 310_000 + int64(h)*1000
		}
		if h < 6 {
			s.BuyMicroPerKWh[h] = 120_000 + int64(h)*3000
		}
		s.SellMicroPerKWh[h] = 39_000
	}
	s.PeakImportWh = ptr(7000)
	s.Appliances = []Appliance{
		{Name: "washer", Start: 8, End: 20, Flexible: true, PowerW: 2000, Hours: 2},
		{Name: "dryer", Start: 10, End: 23, Flexible: true, PowerW: 2500, Hours: 2},
		{Name: "dishwasher", Start: 20, End: 7, Flexible: true, PowerW: 1800, Hours: 2},
		{Name: "boiler", Start: 0, End: 0, Flexible: true, PowerW: 2000, Hours: 4, Splittable: true},
		{Name: "heatpump", Start: 0, End: 0, Flexible: true, PowerW: 1500, Hours: 8, Splittable: true},
		{Name: "pool", Start: 6, End: 20, Flexible: true, PowerW: 1100, Hours: 5, Splittable: true},
		{Name: "ev", Start: 18, End: 8, Flexible: true, EnergyWh: ptr(22_000), MaxPowerW: 7400},
		{Name: "ebike", Start: 19, End: 7, Flexible: true, EnergyWh: ptr(1_000), MaxPowerW: 400},
		{Name: "oven", Start: 18, End: 20, PowerW: 2400, Hours: 1},
		{Name: "fridge-defrost", Start: 23, End: 3, Flexible: true, PowerW: 600, Hours: 2},
		{Name: "dehumidifier", Start: 9, End: 17, Flexible: true, PowerW: 700, Hours: 3, Splittable: true},
		{Name: "bread", Start: 2, End: 7, Flexible: true, PowerW: 600, Hours: 2},
	}
	return s
}

// randomMixedHome draws a home with more appliances than randomHome, of
// every kind at once: contiguous and splittable runs (some identical, some
// over the whole day or across midnight), EVs sharing a PV surplus or a
// peak limit, and flat stretches of price, where many plans tie. It keeps
// the brute force's enumeration below maxCombos.
func randomMixedHome(rng *rand.Rand, maxCombos int) Site {
	for {
		s := Site{BaseWh: make([]int64, 24), PVWh: make([]int64, 24), BuyMicroPerKWh: make([]int64, 24), SellMicroPerKWh: make([]int64, 24)}
		flat := rng.IntN(2) == 0
		buy, sell := 20+rng.Int64N(40), rng.Int64N(20)
		for h := range 24 {
			s.BaseWh[h] = rng.Int64N(5)
			if h >= 8 && h <= 16 && rng.IntN(3) > 0 {
				s.PVWh[h] = rng.Int64N(16)
			}
			if !flat || rng.IntN(6) == 0 {
				buy, sell = rng.Int64N(60)-5, rng.Int64N(30)-10
			}
			s.BuyMicroPerKWh[h], s.SellMicroPerKWh[h] = buy, min(sell, buy)
		}
		if rng.IntN(2) == 0 {
			s.PeakImportWh = ptr(5 + rng.Int64N(10))
		}
		n := 3 + rng.IntN(4)
		for i := range n {
			a := Appliance{Name: string(rune('a' + i)), Start: rng.IntN(24), Flexible: rng.IntN(8) > 0}
			w := 1 + rng.IntN(7)
			if rng.IntN(10) == 0 {
				w = 24
			}
			a.End = (a.Start + w) % 24
			switch {
			case i > 0 && rng.IntN(6) == 0:
				// An identical twin of the appliance before.
				a = s.Appliances[i-1]
				a.Name = string(rune('a' + i))
			case rng.IntN(4) == 0:
				a.End = (a.Start + 1 + rng.IntN(4)) % 24
				a.MaxPowerW = 1 + rng.Int64N(3)
				e := rng.Int64N(a.MaxPowerW*int64(len(Window(a.Start, a.End))) + 1)
				a.EnergyWh = &e
			default:
				a.PowerW = 1 + rng.Int64N(8)
				a.Hours = rng.IntN(min(w, 3) + 1)
				a.Splittable = rng.IntN(2) == 0
			}
			s.Appliances = append(s.Appliances, a)
		}
		combos := 1
		for _, a := range s.Appliances {
			combos *= max(len(placementsT(a)), 1)
			if combos > maxCombos {
				break
			}
		}
		if combos <= maxCombos {
			return s
		}
	}
}

// agreesWithBruteForce plans s (with its battery, if any) and compares the
// plan with brute force; it reports whether s has a plan at all.
func agreesWithBruteForce(t *testing.T, s Site) bool {
	t.Helper()
	want, ok := bruteForce(s)
	r, err := Plan(s)
	if !ok {
		if !errors.Is(err, ErrInfeasible) {
			t.Fatalf("brute force finds no plan, Plan says %v\n%s", err, js(s))
		}
		return false
	}
	if err != nil {
		t.Fatalf("%v; brute force cost %d\n%s", err, want, js(s))
	}
	checkPlan(t, s, r)
	if r.CostNano != want {
		t.Fatalf("cost %d, brute force %d\n%s\n%s", r.CostNano, want, js(s), js(r))
	}
	return true
}

func TestPlanMatchesBruteForceMixed(t *testing.T) {
	const homes = 3000
	rng := rand.New(rand.NewPCG(11, 2026))
	infeasible := 0
	for range homes {
		if !agreesWithBruteForce(t, randomMixedHome(rng, 20_000)) {
			infeasible++
		}
	}
	t.Logf("%d homes agree with brute force (%d infeasible)", homes, infeasible)
	if infeasible == 0 || infeasible > homes/2 {
		t.Errorf("%d infeasible homes: the generator does not exercise both outcomes", infeasible)
	}
}

// TestSearchLimitsMatchBruteForce plans mixed homes with the search's
// limits at their least, so that it reorders the hours at once, or
// enumerates every plan below the best past its first price vectors: the
// plans must still be optimal.
func TestSearchLimitsMatchBruteForce(t *testing.T) {
	saved := limits
	defer func() { limits = saved }()
	for _, l := range []struct{ cuts, nodesPerState int }{{maxCuts, 0}, {1, 4}, {2, 0}} {
		limits.cuts, limits.nodesPerState = l.cuts, l.nodesPerState
		rng := rand.New(rand.NewPCG(13, 2026))
		for range 1000 {
			agreesWithBruteForce(t, randomMixedHome(rng, 20_000))
		}
	}
}

// FuzzPlanMatchesBruteForce draws mixed homes from fuzzed seeds.
func FuzzPlanMatchesBruteForce(f *testing.F) {
	for _, seed := range [][2]uint64{{1, 2}, {3, 4}, {2026, 11}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		agreesWithBruteForce(t, randomMixedHome(rand.New(rand.NewPCG(a, b)), 5_000))
	})
}

func TestExtremeValuesDoNotOverflow(t *testing.T) {
	// Every value at its bound: the cost is above 2^60 nano-units. Every
	// Wh imports at the highest price but in hour 3, where importing earns
	// it; only the splittable copies can get there, once each.
	s := Site{BaseWh: fill(MaxEnergyWh), PVWh: fill(0), BuyMicroPerKWh: fill(MaxPriceMicroPerKWh), SellMicroPerKWh: fill(-MaxPriceMicroPerKWh)}
	s.BuyMicroPerKWh[3] = -MaxPriceMicroPerKWh
	s.Appliances = []Appliance{
		{Name: "a", Start: 8, End: 20, Flexible: true, PowerW: MaxPowerW, Hours: 3},
		{Name: "b", Start: 0, End: 0, Flexible: true, PowerW: MaxPowerW, Hours: 5, Splittable: true},
		{Name: "c", Start: 0, End: 0, Flexible: true, PowerW: MaxPowerW, Hours: 5, Splittable: true},
		{Name: "ev", Start: 10, End: 16, Flexible: true, EnergyWh: ptr(4 * MaxPowerW), MaxPowerW: MaxPowerW},
	}
	r := mustPlan(t, s)
	base := costT(s, s.BaseWh)
	if want := base + (15-2)*MaxPowerW*MaxPriceMicroPerKWh; r.CostNano != want || r.NetWh[3] != MaxEnergyWh+2*MaxPowerW {
		t.Fatalf("cost %d, want %d; net %v", r.CostNano, want, r.NetWh)
	}
}

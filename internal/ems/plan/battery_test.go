package plan

import (
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// ---- the battery model, written here from the package doc ----

// batteryStepsT returns a battery's step and the grid Wh of a step
// charged and of a step discharged.
func batteryStepsT(b Battery) (step, chargeWh, dischargeWh int64) {
	step = b.StepWh
	if step == 0 {
		step = 100
	}
	chargeWh = (step*1000 + b.ChargeEfficiencyPermille - 1) / b.ChargeEfficiencyPermille
	return step, chargeWh, step * b.DischargeEfficiencyPermille / 1000
}

func maxSoCT(b Battery) int64 {
	if b.MaxSoCWh == 0 {
		return b.CapacityWh
	}
	return b.MaxSoCWh
}

// checkBattery verifies r's battery schedule against b: steps, grid sides
// and states of charge agree; no hour both charges and discharges; the
// powers, the window and the final state hold. It adds the battery's grid
// side to net and returns the day's wear.
func checkBattery(t *testing.T, b Battery, r Result, net []int64) int64 {
	t.Helper()
	bp := r.Battery
	if bp == nil || len(bp.Steps) != 24 || len(bp.ChargeWh) != 24 || len(bp.DischargeWh) != 24 || len(bp.SoCWh) != 24 {
		t.Fatalf("battery plan shape: %+v", bp)
	}
	step, cw, dw := batteryStepsT(b)
	soc, wear := b.InitialSoCWh, int64(0)
	for h, k := range bp.Steps {
		c, d := bp.ChargeWh[h], bp.DischargeWh[h]
		if c > 0 && d > 0 {
			t.Fatalf("hour %d charges %d Wh and discharges %d Wh", h, c, d)
		}
		if c != max(k, 0)*cw || d != max(-k, 0)*dw || k < 0 && dw == 0 {
			t.Fatalf("hour %d: %d steps, charge %d Wh, discharge %d Wh; a step is %d Wh in, %d Wh out", h, k, c, d, cw, dw)
		}
		if c > b.MaxChargeW || d > b.MaxDischargeW {
			t.Fatalf("hour %d: charge %d Wh, discharge %d Wh, limits %d and %d", h, c, d, b.MaxChargeW, b.MaxDischargeW)
		}
		soc += k * step
		if soc != bp.SoCWh[h] || soc < b.MinSoCWh || soc > maxSoCT(b) {
			t.Fatalf("hour %d: state of charge %d, reported %d, window %d..%d", h, soc, bp.SoCWh[h], b.MinSoCWh, maxSoCT(b))
		}
		net[h] += c - d
		wear += max(k, -k) * step * b.CycleCostMicroPerKWh
	}
	if soc < b.FinalSoCWh {
		t.Fatalf("ends the day at %d Wh, wants at least %d", soc, b.FinalSoCWh)
	}
	if wear != bp.CycleCostNano {
		t.Fatalf("cycle cost %d, recomputed %d", bp.CycleCostNano, wear)
	}
	return wear
}

// batteryBestT is the least cost of a day of net (without the battery)
// over every schedule of the battery: a walk over every state of charge,
// hour by hour, from the last hour back. ok is false when no schedule
// keeps the window, the final state and the peak limit.
func batteryBestT(s Site, net []int64) (int64, bool) {
	b := *s.Battery
	step, cw, dw := batteryStepsT(b)
	lo, hi := b.MinSoCWh, maxSoCT(b)
	const none = int64(math.MaxInt64)
	next := make([]int64, hi-lo+1)
	for soc := lo; soc <= hi; soc++ {
		next[soc-lo] = none
		if soc >= b.FinalSoCWh {
			next[soc-lo] = 0
		}
	}
	for h := 23; h >= 0; h-- {
		cur := make([]int64, len(next))
		for soc := lo; soc <= hi; soc++ {
			best := none
			for k := -hi; k <= hi; k++ {
				g := k * cw
				if k < 0 {
					g = k * dw
					if dw == 0 || -g > b.MaxDischargeW {
						continue
					}
				} else if g > b.MaxChargeW {
					continue
				}
				to := soc + k*step
				if to < lo || to > hi || next[to-lo] == none {
					continue
				}
				n := net[h] + g
				if s.PeakImportWh != nil && n > *s.PeakImportWh {
					continue
				}
				c := max(n, 0)*s.BuyMicroPerKWh[h] - max(-n, 0)*s.SellMicroPerKWh[h] + max(k, -k)*step*b.CycleCostMicroPerKWh
				best = min(best, c+next[to-lo])
			}
			cur[soc-lo] = best
		}
		next = cur
	}
	c := next[b.InitialSoCWh-lo]
	return c, c != none
}

// randomBattery draws a battery small enough for brute force: a few steps
// of 1 to 3 Wh, efficiencies from 50 to 100 %, powers that bind, windows
// not on the steps' grid, sometimes wear.
func randomBattery(rng *rand.Rand) *Battery {
	step := 1 + rng.Int64N(3)
	lo := rng.Int64N(4)
	hi := lo + (1+rng.Int64N(5))*step + rng.Int64N(step)
	b := &Battery{
		CapacityWh: hi + rng.Int64N(3), MinSoCWh: lo, MaxSoCWh: hi,
		InitialSoCWh: lo + rng.Int64N(hi-lo+1), FinalSoCWh: rng.Int64N(hi + 1),
		MaxChargeW: rng.Int64N(4*step + 4), MaxDischargeW: rng.Int64N(4*step + 4),
		ChargeEfficiencyPermille: 500 + rng.Int64N(501), DischargeEfficiencyPermille: 500 + rng.Int64N(501),
		StepWh: step,
	}
	if rng.IntN(3) == 0 {
		b.CycleCostMicroPerKWh = rng.Int64N(20)
	}
	if rng.IntN(6) == 0 {
		b.MaxSoCWh = 0 // the capacity
	}
	if rng.IntN(4) == 0 {
		b.FinalSoCWh = min(b.InitialSoCWh, maxSoCT(*b)) // as much as it started with
	}
	return b
}

// combosT counts the combinations of placements brute force walks.
func combosT(s Site) int {
	n := 1
	for _, a := range s.Appliances {
		n *= max(len(placementsT(a)), 1)
	}
	return n
}

// withoutEVs drops a site's flexible energy-based appliances.
func withoutEVs(s Site) Site {
	var as []Appliance
	for _, a := range s.Appliances {
		if a.EnergyWh == nil || !a.Flexible {
			as = append(as, a)
		}
	}
	s.Appliances = as
	return s
}

// TestBatteryPlanMatchesBruteForce plans 4,000 small homes with a battery,
// a quarter of them with EVs too.
// batteryHomes is how many random homes TestBatteryPlanMatchesBruteForce
// checks: enough for every run of the suite by default; the closing
// figures were checked with -plan.battery-homes 4000 (about 2.5 min).
var batteryHomes = flag.Int("plan.battery-homes", 150, "random homes with a battery checked against brute force")

func TestBatteryPlanMatchesBruteForce(t *testing.T) {
	homes := *batteryHomes
	rng := rand.New(rand.NewPCG(17, 2026))
	infeasible, moved, evs := 0, 0, 0
	for i := range homes {
		// Few enough placements that brute force, which walks the
		// battery's states for each, stays quick.
		s := randomMixedHome(rng, 300)
		if i%2 == 0 {
			for s = randomHome(rng); combosT(s) > 300; s = randomHome(rng) {
			}
		}
		s.Battery = randomBattery(rng)
		if i%4 != 0 {
			s = withoutEVs(s)
		} else if len(withoutEVs(s).Appliances) < len(s.Appliances) {
			evs++
		}
		if !agreesWithBruteForce(t, s) {
			infeasible++
			continue
		}
		if r, _ := Plan(s); strings.ContainsAny(js(r.Battery.Steps), "123456789") {
			moved++
		}
	}
	t.Logf("%d homes agree with brute force (%d infeasible, %d with EVs, %d where the battery moves)", homes, infeasible, evs, moved)
	if infeasible == 0 || infeasible > homes/2 || moved < homes/4 || evs < homes/20 {
		t.Errorf("%d infeasible homes, %d with EVs, %d batteries that move: the generator does not exercise the battery", infeasible, evs, moved)
	}
}

// FuzzBatteryPlanMatchesBruteForce draws small homes with a battery and no
// EV from fuzzed seeds. (With EVs too, it finds homes whose search tails
// for minutes, seed 2297, 89 among them: see the package doc,
// "Performance".)
func FuzzBatteryPlanMatchesBruteForce(f *testing.F) {
	for _, seed := range [][2]uint64{{1, 2}, {3, 4}, {2026, 17}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		rng := rand.New(rand.NewPCG(a, b))
		s := withoutEVs(randomMixedHome(rng, 300))
		s.Battery = randomBattery(rng)
		agreesWithBruteForce(t, s)
	})
}

// ---- named rules ----

func TestBatteryShiftsSurplusToTheEvening(t *testing.T) {
	// 2.5 kWh of surplus in each of hours 10–14, sold at 0.05; 500 Wh of
	// load an hour, imported at 0.30, at 0.40 in hours 18–21. A lossless
	// 5 kWh, 2 kW battery, empty at both ends, stores what the 9 hours
	// after the sun take, 4.5 kWh: 2 kWh of the evening at 0.40 and 2.5 kWh
	// of the other hours at 0.30.
	s := flat()
	for h := 10; h <= 14; h++ {
		s.PVWh[h] = 3000
	}
	for h := 18; h <= 21; h++ {
		s.BuyMicroPerKWh[h] = 400_000
	}
	without := mustPlan(t, s)
	s.Battery = &Battery{CapacityWh: 5000, MaxChargeW: 2000, MaxDischargeW: 2000,
		ChargeEfficiencyPermille: 1000, DischargeEfficiencyPermille: 1000}
	r := mustPlan(t, s)
	if saved := without.CostNano - r.CostNano; saved != 2000*350_000+2500*250_000 {
		t.Fatalf("the battery saves %d nano-units, want %d\n%s", saved, 2000*350_000+2500*250_000, js(r))
	}
	for h := 18; h <= 21; h++ {
		if r.NetWh[h] != 0 {
			t.Fatalf("hour %d still imports %d Wh\n%s", h, r.NetWh[h], js(r))
		}
	}
}

func TestBatteryKeepsThePeakLimit(t *testing.T) {
	s := flat()
	s.BaseWh[18] = 3000
	s.PeakImportWh = ptr(2000)
	if _, err := Plan(s); !errors.Is(err, ErrInfeasible) {
		t.Fatalf("without a battery: %v, want ErrInfeasible", err)
	}
	// 95 % each way, steps of 100 Wh: a step delivers 95 Wh, so 11 steps
	// (1045 Wh) bring hour 18 under the limit. It may not charge.
	s.Battery = &Battery{CapacityWh: 4000, InitialSoCWh: 1100, MaxDischargeW: 3000,
		ChargeEfficiencyPermille: 950, DischargeEfficiencyPermille: 950}
	r := mustPlan(t, s)
	if r.NetWh[18] > 2000 || r.Battery.DischargeWh[18] < 1000 {
		t.Fatalf("hour 18 imports %d Wh with %d Wh from the battery", r.NetWh[18], r.Battery.DischargeWh[18])
	}
	s.Battery.InitialSoCWh = 1000 // 10 steps deliver 950 Wh: not enough
	if _, err := Plan(s); !errors.Is(err, ErrInfeasible) {
		t.Fatalf("with 1000 Wh stored: %v, want ErrInfeasible", err)
	}
}

func TestBatteryDoesNotExportWorthlessEnergy(t *testing.T) {
	// A full battery free to empty itself, feed-in worth nothing: it
	// covers the load and exports nothing, though it could.
	s := flat()
	for h := range 24 {
		s.SellMicroPerKWh[h] = 0
		s.BaseWh[h] = 200
	}
	s.Battery = &Battery{CapacityWh: 10_000, InitialSoCWh: 10_000, MaxChargeW: 3000, MaxDischargeW: 3000,
		ChargeEfficiencyPermille: 1000, DischargeEfficiencyPermille: 1000}
	r := mustPlan(t, s)
	for h, n := range r.NetWh {
		if n < 0 {
			t.Fatalf("hour %d exports %d Wh of battery energy at no price\n%s", h, -n, js(r))
		}
	}
	if got := r.Battery.SoCWh[23]; got != 10_000-24*200 {
		t.Fatalf("ends at %d Wh, want %d", got, 10_000-24*200)
	}
}

func TestBatteryRefusesBadFields(t *testing.T) {
	good := Battery{CapacityWh: 10_000, MinSoCWh: 1000, InitialSoCWh: 5000, FinalSoCWh: 5000, MaxChargeW: 5000,
		MaxDischargeW: 5000, ChargeEfficiencyPermille: 950, DischargeEfficiencyPermille: 950}
	for _, c := range []struct {
		name   string
		mod    func(b *Battery)
		want   error
		phrase string
	}{
		{"no capacity", func(b *Battery) { b.CapacityWh = 0 }, ErrInvalid, "capacity_wh"},
		{"max above capacity", func(b *Battery) { b.MaxSoCWh = 11_000 }, ErrInvalid, "max_soc_wh"},
		{"min above max", func(b *Battery) { b.MaxSoCWh = 900 }, ErrInvalid, "min_soc_wh"},
		{"initial below the window", func(b *Battery) { b.InitialSoCWh = 500 }, ErrInvalid, "initial_soc_wh"},
		{"final above the window", func(b *Battery) { b.FinalSoCWh = 10_001 }, ErrInvalid, "final_soc_wh"},
		{"negative power", func(b *Battery) { b.MaxChargeW = -1 }, ErrInvalid, "max_charge_w"},
		{"efficiency 0", func(b *Battery) { b.ChargeEfficiencyPermille = 0 }, ErrInvalid, "charge_efficiency"},
		{"efficiency above 1000", func(b *Battery) { b.DischargeEfficiencyPermille = 1001 }, ErrInvalid, "discharge_efficiency"},
		{"negative wear", func(b *Battery) { b.CycleCostMicroPerKWh = -1 }, ErrInvalid, "cycle_cost"},
		{"steps too fine", func(b *Battery) { b.StepWh = 1 }, ErrInvalid, "step_wh"},
		{"final out of reach", func(b *Battery) { b.MaxChargeW, b.InitialSoCWh = 100, 2000 }, ErrInfeasible, "final_soc_wh"},
	} {
		b := good
		c.mod(&b)
		s := flat()
		s.Battery = &b
		_, err := Plan(s)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.phrase) {
			t.Errorf("%s: %v, want %v naming %s", c.name, err, c.want, c.phrase)
		}
	}
	s := flat()
	s.Battery = &good
	mustPlan(t, s)
	// Unknown battery fields are refused like any other.
	if _, err := Parse([]byte(strings.Replace(js(s), `"capacity_wh"`, `"capacity_kwh":1,"capacity_wh"`, 1))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown field: %v", err)
	}
}

// TestSearchStepsLimitApproximates lowers the search's step limit: home12
// without a battery is refused with ErrInvalid, saying why, and
// with its battery, under the least power of two at which its stages
// plan (below what its exact search needs), it is planned approximately,
// keeping every rule at its own exact cost, no cheaper than the exact plan.
func TestSearchStepsLimitApproximates(t *testing.T) {
	s := withoutEVs(home12Battery())
	exact := mustPlan(t, s)
	if exact.Approximate {
		t.Fatal("home12 with a battery planned approximately under the real limit")
	}
	without := s
	without.Battery = nil
	defer func(n int) { limits.nodes = n }(limits.nodes)
	limits.nodes = 5
	if _, err := Plan(home12()); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "more than 5 search steps") {
		t.Fatalf("home12 without a battery, with 5 steps: %v, want ErrInvalid about search steps", err)
	}
	for limits.nodes = 1; ; limits.nodes *= 2 {
		if _, ok := byStages(s); ok {
			break
		}
	}
	r := mustPlan(t, s)
	if !r.Approximate || r.CostNano < exact.CostNano {
		t.Fatalf("with %d steps: approximate %v, cost %d; exact cost %d", limits.nodes, r.Approximate, r.CostNano, exact.CostNano)
	}
	t.Logf("with %d steps: approximate cost %d, exact %d", limits.nodes, r.CostNano, exact.CostNano)
}

// TestApproximatePlansKeepTheRules plans small random homes with a battery
// (EVs too) under a lowered step limit — the site's or the inner
// planner's, to the least power of two at which the home's stages
// plan — so that many run out of it. Each plan keeps every rule at
// its own exact cost, never below brute force's, and equals it whenever
// it is not marked approximate.
func TestApproximatePlansKeepTheRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2026))
	defer func(n, in int) { limits.nodes, limits.innerNodes = n, in }(limits.nodes, limits.innerNodes)
	homes := 1000
	var approx, above [2]int
	for i := range homes {
		s := randomMixedHome(rng, 300)
		s.Battery = randomBattery(rng)
		want, ok := bruteForce(s)
		if _, two := byStages(s); !ok || !two {
			continue
		}
		limit := &limits.nodes
		if i%2 == 1 {
			limit = &limits.innerNodes
		}
		for *limit = 1; ; *limit *= 2 {
			if _, ok := byStages(s); ok {
				break
			}
		}
		r, err := Plan(s)
		limits.nodes, limits.innerNodes = maxNodes, maxInnerNodes
		if err != nil {
			t.Fatalf("%v; brute force cost %d\n%s", err, want, js(s))
		}
		checkPlan(t, s, r)
		if r.CostNano < want || !r.Approximate && r.CostNano != want {
			t.Fatalf("cost %d (approximate %v), brute force %d\n%s", r.CostNano, r.Approximate, want, js(s))
		}
		if k := min(i%2, 1); r.Approximate {
			approx[k]++
			if r.CostNano > want {
				above[k]++
			}
		}
	}
	t.Logf("%d homes: %v planned approximately under the site's and the inner limit, %v of them above the optimum", homes, approx, above)
	for k, what := range []string{"site's", "inner planner's"} {
		if approx[k] < 5 || above[k] == 0 {
			t.Errorf("%d approximate, %d above the optimum: the %s limit does not exercise the approximation", approx[k], above[k], what)
		}
	}
}

package plan

import (
	"math/rand/v2"
	"testing"
)

// realisticHome draws a home of n appliances (at most 15) from a catalogue
// of typical loads — washer, dryer and dishwasher runs, a boiler and a heat
// pump over the whole day, a pool pump, two EVs and an e-bike, an oven
// that does not move — with PV or none, a flat, time-of-use or hourly
// market tariff, and a peak limit or none.
func realisticHome(rng *rand.Rand, n int) Site {
	s := Site{BaseWh: make([]int64, 24), PVWh: make([]int64, 24), BuyMicroPerKWh: make([]int64, 24), SellMicroPerKWh: make([]int64, 24)}
	kwp := int64(0)
	if rng.IntN(10) < 7 {
		kwp = 2000 + rng.Int64N(9000)
	}
	shape := []int64{0, 0, 0, 0, 0, 2, 8, 20, 38, 58, 76, 90, 98, 100, 95, 83, 66, 46, 26, 10, 2, 0, 0, 0}
	shift := rng.IntN(3) - 1
	for h := range 24 {
		s.BaseWh[h] = 200 + rng.Int64N(300)
		if h >= 6 && h <= 8 || h >= 17 && h <= 22 {
			s.BaseWh[h] += 300 + rng.Int64N(900)
		}
		if kwp > 0 {
			cloud := 60 + rng.Int64N(41)
			s.PVWh[h] = kwp * shape[(h+shift+24)%24] / 100 * cloud / 100
		}
	}
	switch rng.IntN(3) {
	case 0: // flat
		b := 200_000 + rng.Int64N(200_000)
		for h := range 24 {
			s.BuyMicroPerKWh[h] = b
		}
	case 1: // time of use
		off, mid, peak := 100_000+rng.Int64N(80_000), 200_000+rng.Int64N(80_000), 300_000+rng.Int64N(150_000)
		for h := range 24 {
			switch {
			case h < 7 || h >= 23:
				s.BuyMicroPerKWh[h] = off
			case h >= 16 && h < 21:
				s.BuyMicroPerKWh[h] = peak
			default:
				s.BuyMicroPerKWh[h] = mid
			}
		}
	default: // hourly market price plus fees
		p := 80_000 + rng.Int64N(120_000)
		for h := range 24 {
			p += rng.Int64N(60_001) - 30_000
			if h >= 10 && h <= 14 && kwp > 0 {
				p -= rng.Int64N(30_000)
			}
			p = max(p, -50_000)
			s.BuyMicroPerKWh[h] = p + 150_000
		}
	}
	feed := rng.Int64N(120_000)
	for h := range 24 {
		s.SellMicroPerKWh[h] = min(feed, s.BuyMicroPerKWh[h])
	}
	if rng.IntN(2) == 0 {
		s.PeakImportWh = ptr(6000 + rng.Int64N(8000))
	}
	type maker func() Appliance
	win := func(a Appliance, start, length int) Appliance {
		a.Start, a.End = (start+24)%24, (start+length+24)%24
		return a
	}
	cat := []maker{
		func() Appliance {
			return win(Appliance{Name: "washer", Flexible: true, PowerW: 1800 + rng.Int64N(600), Hours: 1 + rng.IntN(2)}, 7+rng.IntN(3), 10+rng.IntN(5))
		},
		func() Appliance {
			return win(Appliance{Name: "dryer", Flexible: true, PowerW: 2000 + rng.Int64N(1000), Hours: 1 + rng.IntN(2)}, 9+rng.IntN(3), 10+rng.IntN(5))
		},
		func() Appliance {
			return win(Appliance{Name: "dishwasher", Flexible: true, PowerW: 1500 + rng.Int64N(500), Hours: 2}, 19+rng.IntN(3), 9+rng.IntN(4))
		},
		func() Appliance {
			return win(Appliance{Name: "boiler", Flexible: true, PowerW: 2000 + rng.Int64N(1000), Hours: 2 + rng.IntN(4), Splittable: true}, 0, 24)
		},
		func() Appliance {
			return win(Appliance{Name: "heatpump", Flexible: true, PowerW: 800 + rng.Int64N(1200), Hours: 4 + rng.IntN(7), Splittable: true}, 0, 24)
		},
		func() Appliance {
			return win(Appliance{Name: "pool", Flexible: true, PowerW: 700 + rng.Int64N(800), Hours: 3 + rng.IntN(5), Splittable: true}, 6+rng.IntN(3), 12+rng.IntN(3))
		},
		func() Appliance {
			return win(Appliance{Name: "dehumidifier", Flexible: true, PowerW: 300 + rng.Int64N(500), Hours: 2 + rng.IntN(4), Splittable: true}, 8+rng.IntN(4), 6+rng.IntN(8))
		},
		func() Appliance {
			e := 8000 + rng.Int64N(30000)
			return win(Appliance{Name: "ev", Flexible: true, EnergyWh: &e, MaxPowerW: []int64{3700, 7400, 11000}[rng.IntN(3)]}, 17+rng.IntN(4), 11+rng.IntN(4))
		},
		func() Appliance {
			e := 300 + rng.Int64N(900)
			return win(Appliance{Name: "ebike", Flexible: true, EnergyWh: &e, MaxPowerW: 250 + rng.Int64N(300)}, 18+rng.IntN(3), 10+rng.IntN(4))
		},
		func() Appliance {
			return win(Appliance{Name: "oven", PowerW: 2000 + rng.Int64N(1500), Hours: 1}, 17+rng.IntN(3), 2)
		},
		func() Appliance {
			return win(Appliance{Name: "bread", Flexible: true, PowerW: 500 + rng.Int64N(300), Hours: 2 + rng.IntN(2)}, 1+rng.IntN(2), 5+rng.IntN(2))
		},
		func() Appliance {
			return win(Appliance{Name: "defrost", Flexible: true, PowerW: 400 + rng.Int64N(400), Hours: 1 + rng.IntN(2)}, 22+rng.IntN(3), 4+rng.IntN(3))
		},
		func() Appliance {
			return win(Appliance{Name: "towel-rail", Flexible: true, PowerW: 300 + rng.Int64N(300), Hours: 2 + rng.IntN(3), Splittable: true}, 5+rng.IntN(2), 4+rng.IntN(4))
		},
		func() Appliance {
			e := 5000 + rng.Int64N(15000)
			return win(Appliance{Name: "car2", Flexible: true, EnergyWh: &e, MaxPowerW: 3700 + rng.Int64N(4000)}, 8+rng.IntN(2), 8+rng.IntN(3))
		},
		func() Appliance {
			return win(Appliance{Name: "water-softener", Flexible: true, PowerW: 200 + rng.Int64N(200), Hours: 1}, 0, 24)
		},
	}
	for _, k := range rng.Perm(len(cat))[:min(n, len(cat))] {
		s.Appliances = append(s.Appliances, cat[k]())
	}
	return s
}

// realisticHomes draws n homes of 3 to 12 appliances, or of exactly 12
// when twelve is set, always the same ones.
func realisticHomes(n int, twelve bool) []Site {
	rng := rand.New(rand.NewPCG(1, 2))
	homes := make([]Site, n)
	for i := range homes {
		k := 3 + rng.IntN(10)
		if twelve {
			k = 12
		}
		homes[i] = realisticHome(rng, k)
	}
	return homes
}

func TestRealisticHomesArePlanned(t *testing.T) {
	for i, s := range realisticHomes(300, false) {
		r, err := Plan(s)
		if err != nil {
			t.Fatalf("home %d: %v\n%s", i, err, js(s))
		}
		checkPlan(t, s, r)
		// Same input, same plan: ties keep the first found.
		again, err := Plan(s)
		if err != nil || js(again) != js(r) {
			t.Fatalf("home %d: planned twice, got\n%s\nthen\n%s", i, js(r), js(again))
		}
	}
}

// TestSearchLimitsKeepCosts plans realistic homes again with the search's
// limits at their least, so that it reorders the hours at once and, past
// its first price vector, enumerates every plan below the best: the costs
// must not change.
func TestSearchLimitsKeepCosts(t *testing.T) {
	homes := realisticHomes(150, false)
	want := make([]int64, len(homes))
	for i, s := range homes {
		r, err := Plan(s)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = r.CostNano
	}
	saved := limits
	defer func() { limits = saved }()
	for _, l := range []struct{ cuts, nodesPerState int }{{maxCuts, 0}, {2, 4}} {
		limits.cuts, limits.nodesPerState = l.cuts, l.nodesPerState
		for i, s := range homes {
			r, err := Plan(s)
			if err != nil || r.CostNano != want[i] {
				t.Fatalf("limits %+v, home %d: cost %d (%v), want %d\n%s", l, i, r.CostNano, err, want[i], js(s))
			}
		}
	}
}

// BenchmarkPlan12Appliances plans the 12-appliance home of the tests (two
// EVs, a binding peak limit, PV to share). The target is 50 ms; see the
// package doc, "Performance".
func BenchmarkPlan12Appliances(b *testing.B) {
	s := home12()
	for b.Loop() {
		if _, err := Plan(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanRealistic12 plans realistic 12-appliance homes, a different
// one each time round: ns/op is the mean per home.
func BenchmarkPlanRealistic12(b *testing.B) {
	homes := realisticHomes(200, true)
	i := 0
	for b.Loop() {
		if _, err := Plan(homes[i%len(homes)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPlan1000Homes plans 1,000 realistic homes of 3 to 12
// appliances per op.
func BenchmarkPlan1000Homes(b *testing.B) {
	homes := realisticHomes(1000, false)
	for b.Loop() {
		for _, s := range homes {
			if _, err := Plan(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// realisticBattery draws a home battery: 5 to 15 kWh with a 5 to 10 %
// reserve, 2.5 to 5 kW, efficiencies about 95 %, half full at midnight
// and wanted back there by the end of the day, sometimes wear priced.
func realisticBattery(rng *rand.Rand) *Battery {
	kwh := 5 + rng.Int64N(11)
	b := &Battery{
		CapacityWh: kwh * 1000, MinSoCWh: kwh * (50 + rng.Int64N(51)),
		MaxChargeW: 2500 + rng.Int64N(2501), ChargeEfficiencyPermille: 940 + rng.Int64N(21),
		DischargeEfficiencyPermille: 940 + rng.Int64N(21),
	}
	b.MaxDischargeW = b.MaxChargeW
	b.InitialSoCWh = b.CapacityWh / 2
	b.FinalSoCWh = b.InitialSoCWh
	if rng.IntN(2) == 0 {
		b.CycleCostMicroPerKWh = 10_000 + rng.Int64N(40_000)
	}
	return b
}

// realisticHomesWithBatteries draws the homes of realisticHomes, each
// with a battery drawn from its own stream.
func realisticHomesWithBatteries(n int, twelve bool) []Site {
	homes := realisticHomes(n, twelve)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range homes {
		homes[i].Battery = realisticBattery(rng)
	}
	return homes
}

// home12Battery is home12 with a 10 kWh, 5 kW battery.
func home12Battery() Site {
	s := home12()
	s.Battery = &Battery{CapacityWh: 10_000, MinSoCWh: 1000, InitialSoCWh: 5000, FinalSoCWh: 5000,
		MaxChargeW: 5000, MaxDischargeW: 5000, ChargeEfficiencyPermille: 950, DischargeEfficiencyPermille: 950,
		CycleCostMicroPerKWh: 20_000}
	return s
}

// BenchmarkPlan12AppliancesBattery plans home12 with a battery. The
// target is 50 ms; see the package doc, "Performance".
func BenchmarkPlan12AppliancesBattery(b *testing.B) {
	s := home12Battery()
	for b.Loop() {
		if _, err := Plan(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlan1000HomesBattery plans the 1,000 realistic homes of
// BenchmarkPlan1000Homes, each with a battery and without its EVs, per
// op. The target is 3 s. Homes planned approximately (their exact search
// ran out of steps) are counted.
func BenchmarkPlan1000HomesBattery(b *testing.B) {
	homes := realisticHomesWithBatteries(1000, false)
	for i := range homes {
		homes[i] = withoutEVs(homes[i])
	}
	benchmarkHomes(b, homes)
}

// BenchmarkPlan200HomesBatteryEVs plans the first 200 of those homes with
// their EVs too. Homes planned approximately are counted.
func BenchmarkPlan200HomesBatteryEVs(b *testing.B) {
	benchmarkHomes(b, realisticHomesWithBatteries(200, false))
}

// benchmarkHomes plans homes per op, and reports how many were planned
// approximately.
func benchmarkHomes(b *testing.B, homes []Site) {
	for b.Loop() {
		approximate := 0
		for _, s := range homes {
			r, err := Plan(s)
			if err != nil {
				b.Fatal(err)
			}
			if r.Approximate {
				approximate++
			}
		}
		b.ReportMetric(float64(approximate), "approximate")
	}
}

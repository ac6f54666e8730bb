package community

import (
	"fmt"
	"math"
)

// rng is a splitmix64 stream: Generate's dice, deterministic in the seed
// (the package takes no random source).
type rng struct{ state uint64 }

func (r *rng) next() uint64 {
	r.state += golden
	return mix(r.state)
}

// unit is uniform in [0, 1).
func (r *rng) unit() float64 { return unitOf(r.next()) }

// between is uniform in [lo, hi].
func (r *rng) between(lo, hi int64) int64 { return lo + int64(r.next()%uint64(hi-lo+1)) }

// chance is true with probability p.
func (r *rng) chance(p float64) bool { return r.unit() < p }

// logNormal is a positive value around median, spread by a factor
// e^sigma (one standard deviation), clamped to [lo, hi].
func (r *rng) logNormal(median, sigma, lo, hi float64) float64 {
	return min(hi, max(lo, median*math.Exp(sigma*gaussOf(r.next()))))
}

// mixShares is the generated community's share of each site type.
var mixShares = []struct {
	typ    string
	share  float64
	prefix string
}{
	{TypeHousehold, 0.55, "h"},
	{TypeProsumer, 0.25, "p"},
	{TypeNonResidential, 0.08, "b"},
	{TypePublicLighting, 0.04, "l"},
	{TypeEVCharging, 0.04, "e"},
	{TypeProducer, 0.04, "g"},
}

// sitesPerFeeder is the typical number of sites on one feeder.
const sitesPerFeeder = 50

// Generate makes a realistic community of n sites, deterministic in
// (n, seed): about 55 % households (a third with an EV to charge), 25 %
// prosumers with 3–10 kW of PV, 8 % non-residential buildings (half with
// PV), 4 % street lighting, 4 % public EV charging stations and 4 %
// producers (PV parks, every third a wind turbine); at least one of each
// type when n ≥ 6; about 40 % of the prosumers have a home battery of
// 5–15 kWh (drawn apart from the rest: without them the sites are the
// same). Sites vary in profile, consumption, timing and
// appliances, and sit on feeders F1, F2, … of about 50 sites each. The
// community is explicit (defaults filled in), as Parse returns one. n
// must be at least 1; below 6 the sites are one each of the first n types.
func Generate(n int, seed uint64) *Community {
	r := &rng{state: mix(seed ^ 0x67656e6572617465)} // "generate"
	if n < 1 {
		panic(fmt.Sprintf("community: Generate(%d): want at least one site", n))
	}
	// One of each type (as far as n goes), then each further site to the
	// type furthest below its share.
	counts := make([]int, len(mixShares))
	for i := range min(n, len(counts)) {
		counts[i] = 1
	}
	for k := len(mixShares); k < n; k++ {
		best, gap := 0, math.Inf(-1)
		for i, m := range mixShares {
			if g := m.share*float64(n) - float64(counts[i]); g > gap {
				best, gap = i, g
			}
		}
		counts[best]++
	}
	feeders := max(1, (n+sitesPerFeeder/2)/sitesPerFeeder)
	width := len(fmt.Sprint(n))
	c := newWithDefaults()
	c.Name = fmt.Sprintf("generated-%d-%d", n, seed)
	for t, cnt := range counts {
		for k := 1; k <= cnt; k++ {
			s := generateSite(r, mixShares[t].typ, k)
			s.ID = fmt.Sprintf("%s%0*d", mixShares[t].prefix, width, k)
			c.Sites = append(c.Sites, s)
		}
	}
	// Feeders in turn, so each carries a mix of types.
	for i := range c.Sites {
		c.Sites[i].Feeder = fmt.Sprintf("F%d", i%feeders+1)
	}
	// Batteries come from a stream of their own, so the sites are those a
	// community without batteries has.
	rb := &rng{state: mix(seed ^ 0x62617474657279)} // "battery"
	for i := range c.Sites {
		if s := &c.Sites[i]; s.Type == TypeProsumer && rb.chance(batteryShare) {
			s.Battery = generateBattery(rb, s.PV.CapacityW)
		}
	}
	f, err := c.withDefaults()
	if err == nil {
		err = f.validate()
	}
	if err != nil {
		panic(fmt.Sprintf("community: Generate made an invalid community: %v", err))
	}
	// The batteries are generated but not simulated unless asked for
	// (--batteries on, --compare batteries=on,off): the planner is exact
	// with a battery but not yet fast enough for every realistic home
	// (internal/ems/plan, "Performance"), and a year of 1,000 sites must
	// not wait on it.
	f.Batteries = BatteriesOff
	return f
}

// batteryShare is the share of generated prosumers with a home battery:
// about half of the rooftop PV installed in Germany since 2020 came with
// one (HTW Berlin, Stromspeicher-Inspektion 2021; the
// Marktstammdatenregister), fewer of the older roofs.
const batteryShare = 0.4

// generateBattery sizes a home battery for a PV array of pvW: about 1 to
// 1.6 kWh per kW of PV, 5–15 kWh in steps of 0.5 kWh (the
// Marktstammdatenregister's home batteries average about 9–10 kWh), with
// 0.3–0.5 of its capacity as power each way, 2.5–5 kW; 93–97 %
// efficient each way (the Stromspeicher-Inspektion measures about 95 %
// for current inverters) and a 10 % reserve.
func generateBattery(r *rng, pvW int64) *Battery {
	capWh := min(15_000, max(5_000, pvW*r.between(100, 160)/100/500*500))
	powerW := min(5_000, max(2_500, capWh*r.between(30, 50)/100/500*500))
	ce, de := float64(r.between(93, 97))/100, float64(r.between(93, 97))/100
	return &Battery{CapacityWh: capWh, MaxChargeW: powerW, MaxDischargeW: powerW, ChargeEfficiency: &ce,
		DischargeEfficiency: &de, MinSoC: fptr(DefaultBatteryMinSoC)}
}

// householdProfiles are the learned profiles a generated home draws from.
var householdProfiles = []string{"household-1", "household-2", "household-3", "household-4", "household-5", "household-average"}

func generateSite(r *rng, typ string, k int) Site {
	one := 1.0
	s := Site{Type: typ}
	switch typ {
	case TypeHousehold, TypeProsumer:
		l := &Load{Profile: householdProfiles[r.between(0, int64(len(householdProfiles)-1))], Variability: &one,
			AnnualKWh: math.Round(r.logNormal(3500, 0.35, 1200, 9000)), ShiftH: int(r.between(-2, 2))}
		if r.chance(0.1) {
			// A heat pump and an EV of its own, metered with them.
			l.Profile, l.AnnualKWh = "household-heatpump-ev", math.Round(r.logNormal(7000, 0.2, 4000, 12000))
		}
		s.Load = l
		s.Appliances = homeAppliances(r, typ == TypeProsumer)
		if typ == TypeProsumer {
			s.PV = &Generator{CapacityW: r.between(30, 100) * 100, Profile: ProfileClearSky}
			if r.chance(0.2) {
				s.PV.Profile = "pv-konstanz"
			}
		}
	case TypeNonResidential:
		s.Load = &Load{Profile: ProfileSynthetic, Shape: ShapeOffice, Variability: &one,
			AnnualKWh: math.Round(r.logNormal(30000, 0.5, 8000, 200000)), ShiftH: int(r.between(-1, 1))}
		if r.chance(0.5) {
			s.PV = &Generator{CapacityW: r.between(10, 60) * 1000, Profile: ProfileClearSky}
		}
	case TypePublicLighting:
		s.Load = &Load{Profile: ProfileSynthetic, Shape: ShapeLighting, Variability: &one,
			AnnualKWh: math.Round(r.logNormal(10000, 0.5, 2000, 60000))}
	case TypeEVCharging:
		s.Load = &Load{Profile: ProfileSynthetic, Shape: ShapeEVStation, Variability: &one,
			AnnualKWh: math.Round(r.logNormal(40000, 0.5, 10000, 200000))}
	case TypeProducer:
		// Sized for the community (about one producer per 25 sites): all
		// of them together make about what the community uses in a year.
		if k%4 == 3 {
			speed := math.Round(r.logNormal(6.5, 0.1, 5, 8)*10) / 10
			s.Wind = &Generator{CapacityW: r.between(2, 8) * 25_000, Profile: ProfileWeibull, MeanSpeedMS: &speed}
		} else {
			s.PV = &Generator{CapacityW: r.between(3, 15) * 10_000, Profile: ProfileClearSky}
		}
	}
	// Each EMS prices its orders its own way: from near the market
	// price to well into the spread.
	margin := float64(r.between(2, 40)) / 100
	s.BidMargin = &margin
	return s
}

// homeAppliances are the kinds internal/sim gives its homes (the seed's
// Table 8): a washing machine and a dishwasher in most, a fridge in all,
// and an EV to charge overnight in a third of households (half of the
// prosumers), with windows that vary from home to home.
func homeAppliances(r *rng, prosumer bool) []Appliance {
	var as []Appliance
	if r.chance(0.85) {
		as = append(as, Appliance{Name: "washer", Start: int(r.between(7, 10)), End: int(r.between(18, 21)), Flexible: true,
			PowerW: 2000, Hours: 2})
	}
	if r.chance(0.7) {
		as = append(as, Appliance{Name: "dishwasher", Start: int(r.between(19, 21)), End: int(r.between(6, 8)), Flexible: true,
			PowerW: 1200, Hours: 2})
	}
	as = append(as, Appliance{Name: "fridge", Start: 0, End: 0, PowerW: r.between(40, 90), Hours: 24})
	evShare := 1.0 / 3
	if prosumer {
		evShare = 0.5
	}
	if r.chance(evShare) {
		e := r.between(4, 9) * 1000
		as = append(as, Appliance{Name: "ev", Start: int(r.between(16, 19)), End: int(r.between(6, 8)), Flexible: true,
			PowerW: 3700, MaxPowerW: 3700, EnergyWh: &e})
	}
	return as
}

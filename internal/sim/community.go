// Package sim simulates an energy community: synthetic sites with load and
// PV profiles, the orders they place in each listing, and the live loop
// that drives them against a running node. The site models are pure
// (deterministic for a seed); the live loop is the I/O around them.
package sim

import (
	"fmt"
	"hash/fnv"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/forecast"
	"github.com/gridledger/gridledger/internal/ems/plan"
)

// Site is one simulated member: its node type, typical hourly load and,
// for prosumers and producers, a PV (or wind) asset.
type Site struct {
	ID       string
	NodeType contract.NodeType
	// LoadWh is the typical consumption in each local hour of the day.
	LoadWh [24]int64
	// RES is the site's generation asset, if any.
	RES       string
	RESKind   string
	CapacityW int64
	// Appliances are the flexible and fixed loads its EMS plans, on top
	// of LoadWh.
	Appliances []plan.Appliance
}

// DemoCommunity is a dozen sites of every kind the seed names: households,
// prosumers with rooftop PV, a non-residential building, an EV charging
// station, public lighting and a community PV producer.
func DemoCommunity() []Site {
	home := shape(1100, [24]int64{6, 5, 5, 5, 5, 6, 9, 12, 10, 8, 7, 7, 8, 7, 7, 8, 10, 14, 16, 15, 13, 11, 9, 7})
	office := shape(9000, [24]int64{3, 3, 3, 3, 3, 3, 4, 8, 14, 16, 16, 16, 15, 16, 16, 15, 13, 8, 4, 3, 3, 3, 3, 3})
	ev := shape(14000, [24]int64{2, 1, 1, 1, 1, 1, 1, 2, 4, 6, 6, 6, 6, 6, 6, 7, 9, 12, 14, 14, 12, 8, 5, 3})
	light := shape(1500, [24]int64{10, 10, 10, 10, 10, 10, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 8, 10, 10, 10, 10, 10})
	var sites []Site
	for i := 1; i <= 5; i++ {
		sites = append(sites, Site{ID: fmt.Sprintf("H%02d", i), NodeType: contract.NodeHousehold, LoadWh: scale(home, 80+10*int64(i)),
			Appliances: homeAppliances(i)})
	}
	for i := 1; i <= 3; i++ {
		sites = append(sites, Site{ID: fmt.Sprintf("P%02d", i), NodeType: contract.NodeHousehold, LoadWh: scale(home, 90+5*int64(i)),
			RES: fmt.Sprintf("P%02d-PV", i), RESKind: "pv", CapacityW: 4000 + 1000*int64(i), Appliances: homeAppliances(5 + i)})
	}
	sites = append(sites,
		Site{ID: "B01", NodeType: contract.NodeNonResidential, LoadWh: office,
			RES: "B01-PV", RESKind: "pv", CapacityW: 15000},
		Site{ID: "E01", NodeType: contract.NodeEVCharging, LoadWh: ev},
		Site{ID: "L01", NodeType: contract.NodePublicLighting, LoadWh: light},
		Site{ID: "G01", NodeType: contract.NodeProducer, RES: "G01-PV", RESKind: "pv", CapacityW: 30000},
	)
	return sites
}

// homeAppliances are the seed's Table 8 kinds of appliance for the i-th
// home: every home a washing machine and a dishwasher; every other one an
// EV charged by its departure at 7 h.
func homeAppliances(i int) []plan.Appliance {
	as := []plan.Appliance{
		{Name: "washer", Start: 8, End: 20, Flexible: true, PowerW: 2000, Hours: 2},
		{Name: "dishwasher", Start: 19, End: 7, Flexible: true, PowerW: 1200, Hours: 2},
		{Name: "fridge", Start: 0, End: 0, PowerW: 60, Hours: 24},
	}
	if i%2 == 1 {
		e := int64(6000 + 1000*int64(i%4))
		as = append(as, plan.Appliance{Name: "ev", Start: 17, End: 7, Flexible: true, PowerW: 3700, MaxPowerW: 3700, EnergyWh: &e})
	}
	return as
}

func shape(peakWh int64, rel [24]int64) [24]int64 {
	var out [24]int64
	for h, r := range rel {
		out[h] = peakWh * r / 16
	}
	return out
}

func scale(v [24]int64, pct int64) [24]int64 {
	for h := range v {
		v[h] = v[h] * pct / 100
	}
	return v
}

// clearSkyPermille is PV output per hour as ‰ of capacity on a clear day
// (a bell from 6 to 19 h local, peaking at solar noon).
var clearSkyPermille = [24]int64{0, 0, 0, 0, 0, 0, 20, 90, 220, 380, 520, 610, 640, 610, 520, 380, 220, 90, 20, 0, 0, 0, 0, 0}

// noise is a deterministic pseudo-random number in [0, n) for a site and
// interval, so a simulation is reproducible and needs no random source.
func noise(id string, start int64, salt string, n int64) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%d|%s", id, start, salt)
	return int64(h.Sum64() % uint64(n))
}

// Expected is the site's expected consumption and production (Wh) for an
// interval starting at start (market seconds) with the given local hour.
func (s Site) Expected(start, intervalS int64, hour int) (loadWh, genWh int64) {
	frac := func(v int64) int64 { return v * intervalS / 3600 }
	loadWh = frac(s.LoadWh[hour] * (85 + noise(s.ID, start, "load", 31)) / 100)
	if s.CapacityW > 0 {
		// Clouds take 0-60 % off a clear sky, the same for the whole day.
		cloud := noise("sky", start/86400, "cloud", 61)
		genWh = frac(s.CapacityW * clearSkyPermille[hour] / 1000 * (100 - cloud) / 100)
	}
	return loadWh, genWh
}

// Order is what a site places in one listing.
type Order struct {
	Side        contract.Side
	Wh          int64
	PricePerKWh int64
}

// Decide is a simple bidder: buy the expected deficit, sell the expected
// surplus, pricing between the feed-in and grid tariffs (buyers bid in the
// upper half of that spread, sellers ask in the lower part), so that trading
// beats the utility on both sides. It returns false when the site has
// nothing to trade. The EMS replaces it with bids from an optimised plan.
func (s Site) Decide(start, intervalS int64, hour int, gridPrice, feedIn int64) (Order, bool) {
	load, gen := s.Expected(start, intervalS, hour)
	spread := gridPrice - feedIn
	switch net := load - gen; {
	case net > 0:
		return Order{contract.SideBid, net, feedIn + spread*(50+noise(s.ID, start, "bid", 50))/100}, true
	case net < 0:
		return Order{contract.SideOffer, -net, feedIn + spread*(5+noise(s.ID, start, "ask", 55))/100}, true
	}
	return Order{}, false
}

// History is what the site's meter would have recorded, hour by hour,
// over [fromS, toS): its consumption without the planned appliances, and
// its production. The site's EMS learns its forecasts from it.
func (s Site) History(fromS, toS, utcOffsetS int64) (load, gen forecast.Series) {
	load, gen = forecast.Series{}, forecast.Series{}
	for t := fromS; t < toS; t += 3600 {
		hour := int(((t+utcOffsetS)%86400 + 86400) % 86400 / 3600)
		l, g := s.Actual(t, 3600, hour)
		load[t] = l
		if s.CapacityW > 0 {
			gen[t] = g
		}
	}
	return load, gen
}

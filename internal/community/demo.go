package community

import "fmt"

// DemoWindW is the demo's wind turbine: it makes a third to a half of
// what the dozen uses in a year, so there is something to trade at night.
const DemoWindW = 20_000

// Demo is the community `gridledger run` shows when given none: the
// generated dozen (Generate(12, seed)) and a wind producer, so its market
// has generation when the sun is down too. Its prosumers keep the home
// batteries the generator gave them, and at least demoBatteries have one,
// so a newcomer sees a battery's plan and state of charge.
func Demo(seed uint64) *Community {
	c := Generate(12, seed)
	c.Name = "demo"
	c.Batteries = BatteriesOn
	have := 0
	for _, s := range c.Sites {
		if s.Battery != nil {
			have++
		}
	}
	for i := range c.Sites {
		if s := &c.Sites[i]; have < demoBatteries && s.Type == TypeProsumer && s.Battery == nil {
			// The generator's sizing, from a stream of the site's own.
			s.Battery = generateBattery(&rng{state: mix(seed ^ uint64(i+1)<<32 ^ 0x62617474657279)}, s.PV.CapacityW)
			have++
		}
	}
	speed, margin := DefaultMeanSpeedMS, DefaultBidMargin
	c.Sites = append(c.Sites, Site{ID: "g02", Type: TypeProducer, Feeder: "F1",
		Wind:      &Generator{CapacityW: DemoWindW, Profile: ProfileWeibull, MeanSpeedMS: &speed},
		BidMargin: &margin})
	f, err := c.withDefaults()
	if err == nil {
		err = f.validate()
	}
	if err != nil {
		panic(fmt.Sprintf("community: Demo made an invalid community: %v", err))
	}
	return f
}

// demoBatteries is how many of the demo's prosumers have a battery at
// least.
const demoBatteries = 2

// DemoHour is the local hour a demo's market day begins: late morning,
// the sun well up, so the first intervals cleared are around noon.
const DemoHour = 10

// demoWatchedHours is how much of the demo day a newcomer watches first:
// at 720× these six hours pass in the first half-minute.
const demoWatchedHours = 6

// DemoStart is the market time (UTC seconds) a demonstration of the
// community begins at: DemoHour, local standard time, on the day of the
// year from its Start whose first watched hours could trade the most
// between members, by the model: in each hour the lesser of what the
// sites with a surplus have to spare and what the others lack. That is a
// sunny day (or a windy one, where the community uses much in winter):
// there are sellers and buyers from the first interval. The earliest such
// day wins a tie; the choice depends only on the community and the
// model's seed.
func (c *Community) DemoStart(m *Model) int64 {
	first := c.StartUnix() + DemoHour*3600
	best, bestWh := first, int64(-1)
	for d := range int64(365) {
		at := first + d*86400
		var wh int64
		for h := range int64(demoWatchedHours) {
			var surplus, lack int64
			for i := range m.Sites() {
				net := m.BaseLoadWh(i, at+h*3600) - m.ProductionWh(i, at+h*3600)
				if net > 0 {
					lack += net
				} else {
					surplus -= net
				}
			}
			wh += min(surplus, lack)
		}
		if wh > bestWh {
			best, bestWh = at, wh
		}
	}
	return best
}

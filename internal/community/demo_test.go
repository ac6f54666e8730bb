package community

import (
	"reflect"
	"testing"
	"time"
)

// The demo is the generated dozen, batteries on and at least two of its
// prosumers with one (the generator's, kept, and more where it gave
// fewer), and a wind producer.
func TestDemoIsTheDozenAndAWindProducer(t *testing.T) {
	for _, seed := range []uint64{1, 2, 7} {
		c, dozen := Demo(seed), Generate(12, seed)
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if len(c.Sites) != 13 || !c.SimulatesBatteries() {
			t.Fatalf("seed %d: %d sites, batteries %q", seed, len(c.Sites), c.Batteries)
		}
		batteries := 0
		for i, s := range c.Sites[:12] {
			g := dozen.Sites[i]
			if s.Battery != nil {
				batteries++
				if s.Type != TypeProsumer || g.Battery != nil && !reflect.DeepEqual(s.Battery, g.Battery) {
					t.Errorf("seed %d: site %s's battery %+v, generated %+v", seed, s.ID, s.Battery, g.Battery)
				}
			} else if g.Battery != nil {
				t.Errorf("seed %d: site %s lost its generated battery", seed, s.ID)
			}
			s.Battery, g.Battery = nil, nil
			if !reflect.DeepEqual(s, g) {
				t.Errorf("seed %d: site %d is not Generate(12)'s: %+v", seed, i, s)
			}
		}
		if batteries < demoBatteries {
			t.Errorf("seed %d: %d batteries, want at least %d", seed, batteries, demoBatteries)
		}
		w := c.Sites[12]
		if w.Type != TypeProducer || w.Wind == nil || w.Wind.Profile != ProfileWeibull || w.Wind.CapacityW != DemoWindW || w.PV != nil {
			t.Errorf("seed %d: the last site is not a wind producer: %+v", seed, w)
		}
		if w.RESKind() != "wind" {
			t.Errorf("registered as %q", w.RESKind())
		}
	}
}

// tradeableWh is what the members could trade among themselves in the
// hour at t, by the model: the lesser of the sites' surplus and lack.
func tradeableWh(m *Model, t int64) (surplus, lack int64) {
	for i := range m.Sites() {
		if net := m.BaseLoadWh(i, t) - m.ProductionWh(i, t); net > 0 {
			lack += net
		} else {
			surplus -= net
		}
	}
	return surplus, lack
}

// The demo begins at DemoHour on the day of its year that could trade the
// most in the hours a newcomer watches first, and in each of them there
// are sellers and buyers.
func TestDemoStartIsTheDayWithMostToTrade(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		c := Demo(seed)
		m, err := c.Model(seed)
		if err != nil {
			t.Fatal(err)
		}
		start := c.DemoStart(m)
		if again := c.DemoStart(m); again != start {
			t.Fatalf("seed %d: %d then %d", seed, start, again)
		}
		local := time.Unix(start+int64(c.UTCOffsetH)*3600, 0).UTC()
		if local.Hour() != DemoHour || local.Minute() != 0 || start < c.StartUnix() || start >= c.StartUnix()+365*86400 {
			t.Fatalf("seed %d: starts at %s local", seed, local)
		}
		day := func(at int64) (wh int64) {
			for h := range int64(demoWatchedHours) {
				s, l := tradeableWh(m, at+h*3600)
				wh += min(s, l)
			}
			return wh
		}
		best := day(start)
		for d := range int64(365) {
			if at := c.StartUnix() + DemoHour*3600 + d*86400; day(at) > best || (day(at) == best && at < start) {
				t.Errorf("seed %d: %s could trade %d Wh, more than (or as much as, earlier) the demo's %s with %d",
					seed, time.Unix(at, 0).UTC(), day(at), local, best)
			}
		}
		for h := range int64(demoWatchedHours) {
			if s, l := tradeableWh(m, start+h*3600); s == 0 || l == 0 {
				t.Errorf("seed %d: at %s +%d h a surplus of %d Wh and a lack of %d: nothing to trade", seed, local, h, s, l)
			}
		}
		t.Logf("seed %d: the demo begins %s local", seed, local.Format(time.DateTime))
	}
}

package community

import (
	"reflect"
	"testing"
)

func TestGenerateMix(t *testing.T) {
	for _, n := range []int{6, 7, 20, 100, 1000} {
		c := Generate(n, 42)
		if len(c.Sites) != n {
			t.Fatalf("Generate(%d) made %d sites", n, len(c.Sites))
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Generate(%d): %v", n, err)
		}
		count := map[string]int{}
		feeders := map[string]int{}
		for _, s := range c.Sites {
			count[s.Type]++
			feeders[s.Feeder]++
		}
		for _, typ := range Types {
			if count[typ] == 0 {
				t.Errorf("Generate(%d) has no %s: %v", n, typ, count)
			}
		}
		for f, k := range feeders {
			if k > 75 {
				t.Errorf("Generate(%d): feeder %s has %d sites", n, f, k)
			}
		}
		if n == 1000 {
			want := map[string][2]int{TypeHousehold: {500, 600}, TypeProsumer: {220, 280}, TypeNonResidential: {60, 100},
				TypePublicLighting: {30, 50}, TypeEVCharging: {30, 50}, TypeProducer: {30, 50}}
			for typ, r := range want {
				if count[typ] < r[0] || count[typ] > r[1] {
					t.Errorf("Generate(1000): %d %s, want %d..%d", count[typ], typ, r[0], r[1])
				}
			}
			if len(feeders) != 20 {
				t.Errorf("Generate(1000): %d feeders", len(feeders))
			}
		}
	}
	for n := 1; n < 6; n++ {
		if c := Generate(n, 1); len(c.Sites) != n {
			t.Errorf("Generate(%d) made %d sites", n, len(c.Sites))
		}
	}
}

func TestGenerateVariety(t *testing.T) {
	c := Generate(1000, 3)
	var homes, withEV, wind, pvPark int
	profiles, shifts := map[string]bool{}, map[int]bool{}
	for _, s := range c.Sites {
		switch s.Type {
		case TypeHousehold:
			homes++
			for _, a := range s.Appliances {
				if a.Name == "ev" {
					withEV++
				}
			}
		case TypeProsumer:
			if w := s.PV.CapacityW; w < 3000 || w > 10000 {
				t.Errorf("%s: %d W of PV", s.ID, w)
			}
		case TypeProducer:
			if s.Wind != nil {
				wind++
			} else {
				pvPark++
			}
		}
		if s.Load != nil {
			profiles[s.Load.Profile+"/"+s.Load.Shape] = true
			shifts[s.Load.ShiftH] = true
		}
		if len(s.Appliances) > 0 && s.Type != TypeHousehold && s.Type != TypeProsumer {
			t.Errorf("%s (%s) has appliances", s.ID, s.Type)
		}
	}
	if share := float64(withEV) / float64(homes); share < 0.25 || share > 0.42 {
		t.Errorf("%d of %d households charge an EV", withEV, homes)
	}
	if wind == 0 || pvPark <= wind {
		t.Errorf("%d wind producers, %d PV parks", wind, pvPark)
	}
	if len(profiles) < 9 || len(shifts) < 5 {
		t.Errorf("little variety: profiles %v, shifts %v", profiles, shifts)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, b := Generate(200, 9), Generate(200, 9)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Generate(200, 9) differs between calls")
	}
	c := Generate(200, 10)
	same := 0
	for i := range a.Sites {
		if reflect.DeepEqual(a.Sites[i], c.Sites[i]) {
			same++
		}
	}
	if same > 20 {
		t.Errorf("seeds 9 and 10 give %d identical sites of 200", same)
	}
}

// About 40 % of the generated prosumers have a battery, sized in the
// documented ranges, and no other site has one.
func TestGenerateBatteries(t *testing.T) {
	c := Generate(2000, 5)
	var prosumers, with int
	for _, s := range c.Sites {
		if s.Type == TypeProsumer {
			prosumers++
		}
		b := s.Battery
		if b == nil {
			continue
		}
		with++
		if s.Type != TypeProsumer {
			t.Fatalf("%s (%s) has a battery", s.ID, s.Type)
		}
		if b.CapacityWh < 5000 || b.CapacityWh > 15000 || b.CapacityWh%500 != 0 {
			t.Errorf("%s: capacity %d Wh", s.ID, b.CapacityWh)
		}
		if b.MaxChargeW < 2500 || b.MaxChargeW > 5000 || b.MaxDischargeW != b.MaxChargeW {
			t.Errorf("%s: power %d/%d W", s.ID, b.MaxChargeW, b.MaxDischargeW)
		}
		for _, e := range []float64{*b.ChargeEfficiency, *b.DischargeEfficiency} {
			if e < 0.93 || e > 0.97 {
				t.Errorf("%s: efficiency %v", s.ID, e)
			}
		}
		if b.MinSoCWh() != b.CapacityWh/10 || b.InitialSoCWh() != b.MinSoCWh() || b.CycleCostMicroPerKWh() != 0 {
			t.Errorf("%s: reserve %d, initial %d Wh, wear %d", s.ID, b.MinSoCWh(), b.InitialSoCWh(), b.CycleCostMicroPerKWh())
		}
		if s.BatteryID() != s.ID+"-battery" || s.BatteryMeterID() != s.ID+"-battery-meter" {
			t.Errorf("%s: ids %q %q", s.ID, s.BatteryID(), s.BatteryMeterID())
		}
	}
	if share := float64(with) / float64(prosumers); share < 0.35 || share > 0.45 {
		t.Errorf("%d of %d prosumers have a battery", with, prosumers)
	}
	if c.SimulatesBatteries() || c.Batteries != BatteriesOff {
		t.Errorf("batteries %q: a generated community simulates them only when asked", c.Batteries)
	}
	// Another seed puts them on other homes.
	other := Generate(2000, 6)
	differ := 0
	for i := range c.Sites {
		if (c.Sites[i].Battery == nil) != (other.Sites[i].Battery == nil) {
			differ++
		}
	}
	if differ == 0 {
		t.Error("seeds 5 and 6 put batteries on the same homes")
	}
}

// A site's battery key is parsed with its defaults and "batteries = off"
// keeps it in the file while the community says it is not simulated.
func TestParseBattery(t *testing.T) {
	c, err := Parse([]byte("batteries = \"off\"\n[[site]]\nid = \"p1\"\ntype = \"prosumer\"\n[site.pv]\ncapacity_w = 5000\n" +
		"[site.battery]\ncapacity_wh = 10000\nmax_charge_w = 4000\nmax_discharge_w = 3000\ninitial_soc = 0.5\ncycle_cost = 0.02\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Sites[0].Battery
	if b == nil || *b.ChargeEfficiency != 0.95 || *b.DischargeEfficiency != 0.95 || b.MinSoCWh() != 1000 ||
		b.InitialSoCWh() != 5000 || b.CycleCostMicroPerKWh() != 20_000 || b.MaxDischargeW != 3000 {
		t.Fatalf("battery %+v", b)
	}
	if c.SimulatesBatteries() {
		t.Error("batteries = off simulates them")
	}
	roundTrip(t, c)
}

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

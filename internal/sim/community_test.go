package sim

import (
	"testing"

	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/reading"
)

// A meter's registers never run backwards, add up interval by interval,
// and at an interval's end equal the sum of that interval's actual energy.
func TestMeterRegistersAccumulateActualEnergy(t *testing.T) {
	const interval = 3600
	sites, err := Sites(community.Generate(12, 3), 3)
	if err != nil {
		t.Fatal(err)
	}
	start := int64(1_750_118_400) // mid-June: the roofs export
	exported := false
	for _, s := range sites {
		appliance := int64(100 * s.Index)
		m := &Meter{Site: s, IntervalS: interval, ApplianceWh: func(int64) int64 { return appliance }}
		prev := m.At(start)
		var want reading.Registers
		for k := int64(0); k < 24; k++ {
			for q := int64(1); q <= 4; q++ {
				r := m.At(start + k*interval + q*interval/4)
				if r.ImportWh < prev.ImportWh || r.ExportWh < prev.ExportWh || r.ProductionWh < prev.ProductionWh {
					t.Fatalf("%s: registers ran backwards %+v → %+v", s.ID, prev, r)
				}
				prev = r
			}
			load, gen := s.Actual(start + k*interval)
			load += appliance
			want.ProductionWh += gen
			if load > gen {
				want.ImportWh += load - gen
			} else {
				want.ExportWh += gen - load
			}
			want.Time = start + (k+1)*interval
			if got := m.At(want.Time); got != want {
				t.Fatalf("%s after hour %d: %+v, want %+v", s.ID, k, got, want)
			}
		}
		exported = exported || want.ExportWh > 0
	}
	if !exported {
		t.Error("no site exported on a June day")
	}
}

// A site's history is its model's, and has production only with a
// generator.
func TestSiteHistoryIsTheModels(t *testing.T) {
	sites, err := Sites(community.Generate(12, 4), 4)
	if err != nil {
		t.Fatal(err)
	}
	from := int64(1_750_118_400)
	for _, s := range sites {
		load, gen := s.History(from, from+2*86400)
		if len(load) != 48 || (len(gen) == 48) != (s.CapacityW() > 0) || (len(gen) == 0) != (s.CapacityW() == 0) {
			t.Errorf("%s: %d load hours, %d production hours, capacity %d W", s.ID, len(load), len(gen), s.CapacityW())
		}
		for ts, v := range load {
			if l, _ := s.Actual(ts); l != v {
				t.Fatalf("%s at %d: history %d, model %d", s.ID, ts, v, l)
			}
		}
	}
}

package sim

import (
	"sync/atomic"
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

// A live meter with a battery runs it once an interval as the offline
// simulator does (Setpoint of the plan, then Battery.Run): the site's
// registers net in what it charged and discharged, its sub-meter's count
// them as import and export, both never run backwards, and the state of
// charge read by the EMS is the battery's at the interval's start.
func TestMeterRunsTheBatteryAsTheSimulatorDoes(t *testing.T) {
	const interval = 3600
	c := community.Demo(1)
	sites, err := Sites(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	start := int64(1_750_118_400) // mid-June
	ran := 0
	for _, s := range sites {
		if s.Battery == nil {
			continue
		}
		ran++
		// Store at midday, deliver in the evening, as far as it can.
		plan := func(t int64) (int64, int64) {
			switch h := (t - start) / 3600 % 24; {
			case h >= 9 && h < 15:
				return 2000, 1 << 40
			case h >= 17 && h < 23:
				return -2000, -(1 << 40)
			}
			return 0, 0
		}
		m := &Meter{Site: s, IntervalS: interval, Battery: NewBattery(*s.Battery), BatteryWh: plan}
		var soc atomic.Int64
		m.soc = &soc
		model := NewBattery(*s.Battery)
		var want, wantBat reading.Registers
		prev, prevBat := m.At(start), m.BatteryAt(start)
		var charged, discharged int64
		for k := int64(0); k < 24; k++ {
			h := start + k*interval
			for q := int64(1); q <= 4; q++ {
				r, b := m.At(h+q*interval/4), m.BatteryAt(h+q*interval/4)
				if r.ImportWh < prev.ImportWh || r.ExportWh < prev.ExportWh || b.ImportWh < prevBat.ImportWh || b.ExportWh < prevBat.ExportWh {
					t.Fatalf("%s: registers ran backwards %+v %+v → %+v %+v", s.ID, prev, prevBat, r, b)
				}
				if q == 1 && soc.Load() != model.SoCWh {
					t.Fatalf("%s hour %d: state of charge read %d, the battery's at the start %d", s.ID, k, soc.Load(), model.SoCWh)
				}
				prev, prevBat = r, b
			}
			load, gen := s.Actual(h)
			planWh, planNetWh := plan(h)
			ch, dis := model.Run(Setpoint(planWh, planNetWh, load-gen))
			if model.SoCWh < model.MinSoCWh || model.SoCWh > model.CapacityWh {
				t.Fatalf("%s: state of charge %d left its window", s.ID, model.SoCWh)
			}
			charged, discharged = charged+ch, discharged+dis
			want.ProductionWh += gen
			if net := load + ch - dis - gen; net > 0 {
				want.ImportWh += net
			} else {
				want.ExportWh -= net
			}
			wantBat.ImportWh, wantBat.ExportWh = charged, discharged
			want.Time, wantBat.Time = h+interval, h+interval
			if got, gotBat := m.At(want.Time), m.BatteryAt(want.Time); got != want || gotBat != wantBat {
				t.Fatalf("%s after hour %d: %+v %+v, want %+v %+v", s.ID, k, got, gotBat, want, wantBat)
			}
		}
		if charged == 0 || discharged == 0 {
			t.Errorf("%s: charged %d, discharged %d Wh in a June day", s.ID, charged, discharged)
		}
	}
	if ran < 2 {
		t.Errorf("%d sites with a battery in the demo", ran)
	}
}

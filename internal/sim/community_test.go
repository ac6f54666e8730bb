package sim

import (
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

// The demo community has every node type the seed names.
func TestDemoCommunityHasEveryNodeType(t *testing.T) {
	seen := map[contract.NodeType]int{}
	ids := map[string]bool{}
	for _, s := range DemoCommunity() {
		seen[s.NodeType]++
		if ids[s.ID] {
			t.Fatalf("site id %s twice", s.ID)
		}
		ids[s.ID] = true
		if (s.RES == "") != (s.CapacityW == 0) {
			t.Errorf("%s: asset %q with capacity %d", s.ID, s.RES, s.CapacityW)
		}
	}
	for _, nt := range contract.NodeTypes {
		if seen[nt] == 0 {
			t.Errorf("no %s site", nt)
		}
	}
	if n := len(DemoCommunity()); n != 12 {
		t.Errorf("%d sites, want a dozen", n)
	}
}

// Simulated members never pay more than the utility would charge nor sell
// for less than it would pay, never offer more than their asset can make,
// and decide the same way every time for the same interval.
func TestDecideStaysWithinTariffsAndCapacity(t *testing.T) {
	const grid, feedIn, interval = 95_000, 39_000, 3600
	start := int64(1_795_651_200) // a midnight UTC
	var bids, offers int
	for _, s := range DemoCommunity() {
		for h := range 24 {
			at := start + int64(h)*interval
			o, ok := s.Decide(at, interval, h, grid, feedIn)
			again, ok2 := s.Decide(at, interval, h, grid, feedIn)
			if o != again || ok != ok2 {
				t.Fatalf("%s hour %d: %+v then %+v", s.ID, h, o, again)
			}
			if !ok {
				continue
			}
			if o.Wh <= 0 || o.PricePerKWh < feedIn || o.PricePerKWh > grid {
				t.Errorf("%s hour %d: %+v outside [%d, %d] or not positive", s.ID, h, o, feedIn, grid)
			}
			switch o.Side {
			case contract.SideBid:
				bids++
			case contract.SideOffer:
				offers++
				if s.CapacityW == 0 || o.Wh > s.CapacityW*interval/3600 {
					t.Errorf("%s hour %d offers %d Wh from capacity %d W", s.ID, h, o.Wh, s.CapacityW)
				}
				if h < 6 || h > 18 {
					t.Errorf("%s offers PV at %d h", s.ID, h)
				}
			}
		}
	}
	if bids == 0 || offers == 0 {
		t.Fatalf("a day of the community has %d bids and %d offers", bids, offers)
	}
}

// A meter's registers never run backwards, add up interval by interval,
// and at an interval's end equal the sum of that interval's actual energy.
func TestMeterRegistersAccumulateActualEnergy(t *testing.T) {
	const interval = 3600
	start := int64(1_795_651_200)
	for _, s := range DemoCommunity() {
		m := &Meter{Site: s, IntervalS: interval}
		prev := m.At(start)
		var want MeterRegisters
		for k := int64(0); k < 24; k++ {
			for q := int64(1); q <= 4; q++ {
				r := m.At(start + k*interval + q*interval/4)
				if r.ImportWh < prev.ImportWh || r.ExportWh < prev.ExportWh || r.ProductionWh < prev.ProductionWh {
					t.Fatalf("%s: registers ran backwards %+v → %+v", s.ID, prev, r)
				}
				prev = r
			}
			load, gen := s.Actual(start+k*interval, interval, int(k))
			want.ProductionWh += gen
			if load > gen {
				want.ImportWh += load - gen
			} else {
				want.ExportWh += gen - load
			}
			if got := m.At(start + (k+1)*interval); got != want {
				t.Fatalf("%s after hour %d: %+v, want %+v", s.ID, k, got, want)
			}
		}
	}
}

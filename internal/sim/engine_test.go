package sim

import (
	"bytes"
	"context"
	"testing"

	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/kpi"
)

// A simulated month conserves money and energy: every interval's energy
// tokens sent reach buyers, what members paid each other adds up, each
// meter measured exactly what its site used and made, and at the end the
// wallets hold all the money issued. The ledger refuses nothing the
// homes and meters send.
func TestAMonthConservesMoneyAndEnergy(t *testing.T) {
	c := community.Generate(7, 2)
	var intervals, traded int
	var cleared int
	res, err := Run(context.Background(), Options{Community: c, Seed: 2, From: c.StartUnix(), Days: 30,
		OnInterval: func(iv kpi.Interval) {
			intervals++
			if iv.Start != c.StartUnix()+int64(intervals-1)*3600 {
				t.Fatalf("interval %d starts at %d", intervals, iv.Start)
			}
			var sent, received, paid, got int64
			for _, m := range iv.Members {
				if m.ImportWh-m.ExportWh != m.ConsumptionWh+m.BatteryChargeWh-m.BatteryDischargeWh-m.ProductionWh || m.ImportWh < 0 || m.ExportWh < 0 {
					t.Errorf("%d %s: meter %d in %d out, site used %d made %d, its battery drew %d gave %d", iv.Start, m.ID, m.ImportWh, m.ExportWh,
						m.ConsumptionWh, m.ProductionWh, m.BatteryChargeWh, m.BatteryDischargeWh)
				}
				if m.SoldP2PWh > min(m.ProductionWh, max(0, m.ExportWh-m.BatteryDischargeWh)) {
					t.Errorf("%d %s: delivered %d Wh, produced %d, exported %d", iv.Start, m.ID, m.SoldP2PWh, m.ProductionWh, m.ExportWh)
				}
				sent, received = sent+m.SoldP2PWh, received+m.BoughtP2PWh
				paid, got = paid+m.PaidP2PNano, got+m.ReceivedP2PNano
			}
			if sent != received || paid != got {
				t.Errorf("%d: %d Wh of tokens sent, %d received; %d paid, %d received", iv.Start, sent, received, paid, got)
			}
			if iv.MCPPerKWh != nil {
				cleared++
				if sent > 0 {
					traded++
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if intervals != 30*24 {
		t.Errorf("%d intervals reported, want %d", intervals, 30*24)
	}
	if res.Supply != res.Holdings || res.Supply == 0 {
		t.Errorf("%d issued, %d held at the end", res.Supply, res.Holdings)
	}
	if len(res.Refused) != 0 {
		t.Errorf("the ledger refused %v", res.Refused)
	}
	if cleared < 100 || traded < 50 {
		t.Errorf("a month with %d clearings and %d hours of energy traded", cleared, traded)
	}
}

// The homes' EMS runs on several goroutines; the ledger must not notice:
// one worker or two, the same app hash.
func TestWorkersDoNotChangeTheLedger(t *testing.T) {
	c := community.Generate(9, 5)
	var hashes [][]byte
	for _, w := range []int{1, 2, 3} {
		res, err := Run(context.Background(), Options{Community: c, Seed: 5, From: c.StartUnix(), Days: 2, Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, res.AppHash)
	}
	if !bytes.Equal(hashes[0], hashes[1]) || !bytes.Equal(hashes[0], hashes[2]) {
		t.Errorf("app hashes %X", hashes)
	}
}

package sim

import (
	"bytes"
	"context"
	"testing"

	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/kpi"
)

// Both bidding modes run and are deterministic, and with perfect
// foresight every site orders, in every interval, exactly the net import
// its meter records: a bid for a deficit (within the ledger's most), an
// offer of a surplus from an approved asset (within its capacity) beyond
// what its battery discharged (no token comes of a battery's energy),
// nothing otherwise; what it trades is at most that, on the same side.
func TestPerfectForesightOrdersWhatTheMeterRecords(t *testing.T) {
	base := community.Generate(6, 11)
	run := func(mode string) (*Result, map[int64]map[string]contract.Order, map[int64]kpi.Interval) {
		c := *base
		c.Bidding = mode
		orders := map[int64]map[string]contract.Order{}
		ivs := map[int64]kpi.Interval{}
		o := Options{Community: &c, Seed: 3, From: c.StartUnix(), Days: 2, Workers: 2,
			OnInterval: func(iv kpi.Interval) { ivs[iv.Start] = iv },
			onListing: func(lv contract.ListingView) {
				byMember := map[string]contract.Order{}
				for _, o := range lv.Book {
					if _, dup := byMember[o.Participant]; dup {
						t.Errorf("%d: %s placed two orders", lv.Start, o.Participant)
					}
					byMember[o.Participant] = o
				}
				orders[lv.Start] = byMember
			}}
		res, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Refused) != 0 {
			t.Errorf("%s: the ledger refused %v (%v)", mode, res.Refused, res.RefusedFirst)
		}
		return res, orders, ivs
	}
	capWh := map[string]int64{}
	for _, s := range base.Sites {
		if s.RESID() != "" {
			capWh[s.ID] = s.CapacityW()
		}
	}
	for _, mode := range []string{"", community.BiddingPerfectForesight} {
		a, _, _ := run(mode)
		b, orders, ivs := run(mode)
		if !bytes.Equal(a.AppHash, b.AppHash) {
			t.Errorf("%q: app hashes %X and %X", mode, a.AppHash, b.AppHash)
		}
		if mode != community.BiddingPerfectForesight {
			continue
		}
		if len(ivs) != 48 {
			t.Fatalf("%d intervals reported", len(ivs))
		}
		var checked, full, traded, moved int
		for start, iv := range ivs {
			for _, m := range iv.Members {
				net := m.ImportWh - m.ExportWh
				if m.ConsumptionNoDRWh != m.ConsumptionWh {
					moved++ // demand response re-planned the hour (before the order)
				}
				want, ok := contract.Order{}, false
				switch {
				case net > 0:
					want, ok = contract.Order{Side: contract.SideBid, Wh: min(net, contract.MaxOrderWh)}, true
				case net < 0 && capWh[m.ID] > 0 && -net > m.BatteryDischargeWh:
					want, ok = contract.Order{Side: contract.SideOffer, Wh: min(-net-m.BatteryDischargeWh, capWh[m.ID])}, true
				}
				got, placed := orders[start][m.ID]
				if placed != ok || (ok && (got.Side != want.Side || got.Wh != want.Wh)) {
					t.Errorf("%d %s: metered net %d Wh; ordered %v %s %d Wh, want %v %s %d Wh",
						start, m.ID, net, placed, got.Side, got.Wh, ok, want.Side, want.Wh)
					continue
				}
				checked++
				tradedWh := m.TradedBoughtWh
				if got.Side == contract.SideOffer {
					tradedWh = m.TradedSoldWh
				}
				if (got.Side == contract.SideOffer && m.TradedBoughtWh > 0) || (got.Side == contract.SideBid && m.TradedSoldWh > 0) || tradedWh > got.Wh {
					t.Errorf("%d %s: ordered %s %d Wh, traded %d bought %d sold", start, m.ID, got.Side, got.Wh, m.TradedBoughtWh, m.TradedSoldWh)
				}
				if tradedWh > 0 {
					traded++
					if tradedWh == got.Wh {
						full++
					}
				}
			}
		}
		t.Logf("perfect foresight: %d site-intervals checked (%d re-planned for demand response), %d traded, %d of them their whole metered net",
			checked, moved, traded, full)
		if traded == 0 {
			t.Error("nothing traded in two days")
		}
	}
}

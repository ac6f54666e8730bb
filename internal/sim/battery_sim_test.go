package sim

import (
	"context"
	"testing"

	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/forecast"
	"github.com/gridledger/gridledger/internal/kpi"
)

// A community whose prosumers all have a battery, over three days in June:
// the ledger takes every battery, sub-meter reading and plan; each battery
// stores midday sun and gives it back, never both in an hour; every
// sub-meter reports every interval; and no energy token comes of a
// battery. The tokens minted are the RES production, the same with the
// batteries as without them, and never more than the sites made; what a
// member delivers to others never exceeds what it exported beyond its
// battery's discharge.
func TestBatteriesMintNoTokens(t *testing.T) {
	c := community.Generate(12, 4)
	withBattery := 0
	for i := range c.Sites {
		if s := &c.Sites[i]; s.Type == community.TypeProsumer {
			s.Battery = &community.Battery{CapacityWh: 8000, MaxChargeW: 4000, MaxDischargeW: 4000}
			withBattery++
		}
	}
	if err := c.Validate(); err != nil || withBattery < 2 {
		t.Fatalf("%d batteries: %v", withBattery, err)
	}
	c, _ = reparse(t, c)
	from := forecast.LocalMidnight(2025, 6, 1, c.UTCOffsetH)
	type run struct {
		minted, produced, charged, discharged int64
		kpis                                  kpi.Report
	}
	simulate := func(batteries string) run {
		cc := *c
		cc.Batteries = batteries
		var r run
		truth := map[int64]map[string]int64{} // production by interval and member
		acc := kpi.NewAccumulator(kpi.SiteMembers(cc.SimSites()))
		res, err := Run(context.Background(), Options{Community: &cc, Seed: 4, From: from, Days: 3,
			OnInterval: func(iv kpi.Interval) {
				acc.Add(iv)
				truth[iv.Start] = map[string]int64{}
				for _, m := range iv.Members {
					truth[iv.Start][m.ID] = m.ProductionWh
					r.produced += m.ProductionWh
					if m.BatteryChargeWh > 0 && m.BatteryDischargeWh > 0 {
						t.Errorf("%d %s: the battery drew %d and gave %d in one hour", iv.Start, m.ID, m.BatteryChargeWh, m.BatteryDischargeWh)
					}
				}
			},
			onSettlement: func(st contract.Settlement) {
				for _, m := range st.Members {
					r.minted += m.TokensMintedWh
					r.charged += m.BatteryChargeWh
					r.discharged += m.BatteryDischargeWh
					if m.BatteryUnmeteredWh != 0 {
						t.Errorf("%d %s: a battery's sub-meter did not report", st.Start, m.ID)
					}
					if p, ok := truth[st.Start][m.ID]; ok && m.TokensMintedWh > p {
						t.Errorf("%d %s: %d tokens minted, the site made %d Wh", st.Start, m.ID, m.TokensMintedWh, p)
					}
					if m.TokensSentWh > m.RenewableExportWh() || m.RenewableExportWh() > max(0, m.ExportWh-m.BatteryDischargeWh) {
						t.Errorf("%d %s: %d tokens sent, renewable export %d of %d exported, %d from its battery", st.Start, m.ID,
							m.TokensSentWh, m.RenewableExportWh(), m.ExportWh, m.BatteryDischargeWh)
					}
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Refused) != 0 {
			t.Errorf("batteries %s: the ledger refused %v (%v)", batteries, res.Refused, res.RefusedFirst)
		}
		r.kpis = acc.Report(0, 0)
		return r
	}
	on, off := simulate(community.BatteriesOn), simulate(community.BatteriesOff)
	if on.charged == 0 || on.discharged == 0 || on.discharged >= on.charged {
		t.Errorf("the batteries drew %d Wh and gave %d", on.charged, on.discharged)
	}
	if off.charged != 0 || off.discharged != 0 || off.kpis.Community.BatteryCycles != nil {
		t.Errorf("with batteries off they drew %d and gave %d", off.charged, off.discharged)
	}
	if on.minted != off.minted || on.minted > on.produced || on.minted == 0 {
		t.Errorf("%d tokens minted with batteries, %d without, of %d Wh produced", on.minted, off.minted, on.produced)
	}
	k := on.kpis.Community
	if k.BatteryCapacityWh != int64(withBattery)*8000 || k.BatteryChargeWh != on.charged || k.BatteryCycles == nil || *k.BatteryCycles <= 0 {
		t.Errorf("battery KPIs: %d Wh, %d charged, %v cycles", k.BatteryCapacityWh, k.BatteryChargeWh, k.BatteryCycles)
	}
}

// reparse is the community through its file, as sim reads it.
func reparse(t *testing.T, c *community.Community) (*community.Community, []byte) {
	t.Helper()
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := community.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return again, b
}

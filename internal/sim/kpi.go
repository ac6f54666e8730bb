package sim

import (
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/kpi"
	"github.com/gridledger/gridledger/internal/market"
)

// Use is what a simulated site really used and made in an interval: what
// its meter measured and what only the simulation knows (the load without
// demand response, the forecast its EMS planned with).
type Use struct {
	ID            string
	ConsumptionWh int64 // its load, appliances included
	NoDRWh        int64 // the load had its EMS ignored demand response
	ProductionWh  int64
	// BaseWh is the load without the EMS's appliances; PVWh the PV part
	// of the production (for the forecast's error).
	BaseWh, PVWh int64
	// Forecast: the EMS had planned the hour, with these forecasts.
	Forecast                     bool
	ForecastBaseWh, ForecastPVWh int64
}

// Interval is a settled interval as the KPIs take it: the ledger's
// settlement and clearing, with what the sites really used and made, in
// the order of uses. A settled member uses lacks (a real site, whose
// meter alone is known) comes after them, its load and generation taken
// from its meter: production as the RES register says, load as net import
// plus production.
func Interval(st contract.Settlement, c *contract.Clearing, uses []Use) kpi.Interval {
	iv := kpi.Interval{Start: st.Start, GridPricePerKWh: st.GridPricePerKWh, FeedInPerKWh: st.FeedInPerKWh,
		Members: make([]kpi.Member, len(uses))}
	byID := make(map[string]int, len(uses))
	for i, u := range uses {
		byID[u.ID] = i
		m := kpi.Member{ID: u.ID, ConsumptionWh: u.ConsumptionWh, ConsumptionNoDRWh: u.NoDRWh, ProductionWh: u.ProductionWh}
		if u.Forecast {
			m.ForecastLoadWh, m.ActualBaseLoadWh = u.ForecastBaseWh, u.BaseWh
			m.ForecastPVWh, m.ActualPVWh = u.ForecastPVWh, u.PVWh
		}
		iv.Members[i] = m
	}
	for _, ms := range st.Members {
		i, ok := byID[ms.ID]
		if !ok {
			i = len(iv.Members)
			byID[ms.ID] = i
			iv.Members = append(iv.Members, kpi.Member{ID: ms.ID, ProductionWh: ms.ProductionWh,
				ConsumptionWh: max(0, ms.ImportWh-ms.ExportWh+ms.ProductionWh)})
			iv.Members[i].ConsumptionNoDRWh = iv.Members[i].ConsumptionWh
		}
		m := &iv.Members[i]
		m.ImportWh, m.ExportWh = ms.ImportWh, ms.ExportWh
		m.BoughtP2PWh, m.SoldP2PWh = ms.TokensReceived, ms.TokensSent
		m.PaidUtilityNano, m.ReceivedUtilityNano = ms.PaidToUtility, ms.ReceivedFromUtility
		m.PaidMembersNano, m.ReceivedMembersNano = ms.MembersPaidNano, ms.MembersReceivedNano
		m.PoolImportWh, m.PoolExportWh = ms.PoolImportWh, ms.PoolExportWh
		m.DRIncentiveNano, m.DRVerifiedWh = ms.DRIncentive, ms.DRVerifiedWh
	}
	if c == nil {
		return iv
	}
	iv.MCPPerKWh = c.MCP
	for _, t := range c.Trades {
		v, _ := market.Value(t.Wh, t.PricePerKWh)
		if i, ok := byID[t.Buyer]; ok {
			iv.Members[i].TradedBoughtWh += t.Wh
			iv.Members[i].PaidP2PNano += v
		}
		if i, ok := byID[t.Seller]; ok {
			iv.Members[i].TradedSoldWh += t.Wh
			iv.Members[i].ReceivedP2PNano += v
		}
	}
	return iv
}

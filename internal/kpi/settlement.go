package kpi

import (
	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
)

// Use is what a site really used and made in an interval beyond what its
// meter measured, as only a simulation knows it: its load, the load
// without demand response, the forecast its EMS planned with.
type Use struct {
	ID            string
	ConsumptionWh int64 // its load, appliances included
	// NoDRWh is the load had its EMS ignored demand response (and what
	// its battery would then have drawn beyond what it did).
	NoDRWh       int64
	ProductionWh int64
	// BaseWh is the load without the EMS's appliances; PVWh the PV part
	// of the production (for the forecast's error).
	BaseWh, PVWh int64
	// Forecast: the EMS had planned the hour, with these forecasts.
	Forecast                     bool
	ForecastBaseWh, ForecastPVWh int64
}

// FromSettlement is a settled interval as the KPIs take it: the ledger's
// settlement and clearing (c, nil if the interval did not clear), with
// what the sites really used and made, in the order of uses. A settled
// member uses lacks (a real site, whose meter alone is known) comes after
// them, its load and generation taken from its meter: production as the
// RES register says, load as net import plus production.
func FromSettlement(st contract.Settlement, c *contract.Clearing, uses []Use) Interval {
	iv := Interval{Start: st.Start, GridPricePerKWh: st.GridPricePerKWh, FeedInPerKWh: st.FeedInPerKWh,
		Members: make([]Member, len(uses))}
	byID := make(map[string]int, len(uses))
	for i, u := range uses {
		byID[u.ID] = i
		m := Member{ID: u.ID, ConsumptionWh: u.ConsumptionWh, ConsumptionNoDRWh: u.NoDRWh, ProductionWh: u.ProductionWh}
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
			iv.Members = append(iv.Members, Member{ID: ms.ID, ProductionWh: ms.ProductionWh,
				ConsumptionWh: max(0, ms.ImportWh-ms.ExportWh+ms.ProductionWh)})
			iv.Members[i].ConsumptionNoDRWh = iv.Members[i].ConsumptionWh
		}
		m := &iv.Members[i]
		m.ImportWh, m.ExportWh = ms.ImportWh, ms.ExportWh
		m.BoughtP2PWh, m.SoldP2PWh = ms.TokensReceivedWh, ms.TokensSentWh
		m.PaidUtilityNano, m.ReceivedUtilityNano = ms.PaidToUtilityNano, ms.ReceivedFromUtilityNano
		m.PaidMembersNano, m.ReceivedMembersNano = ms.MembersPaidNano, ms.MembersReceivedNano
		m.PoolImportWh, m.PoolExportWh = ms.PoolImportWh, ms.PoolExportWh
		m.DRIncentiveNano, m.DRVerifiedWh = ms.DRIncentiveNano, ms.DRVerifiedWh
		m.BatteryChargeWh, m.BatteryDischargeWh = ms.BatteryChargeWh, ms.BatteryDischargeWh
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

// SiteMembers are a community's sites as the KPIs list their members, in
// the community's order, with their batteries' capacity (pass the sites
// as simulated: community.SimSites).
func SiteMembers(sites []community.Site) []MemberInfo {
	members := make([]MemberInfo, 0, len(sites))
	for _, s := range sites {
		mi := MemberInfo{ID: s.ID, NodeType: s.Type}
		if s.Battery != nil {
			mi.BatteryCapacityWh = s.Battery.CapacityWh
		}
		members = append(members, mi)
	}
	return members
}

// Ledger is the KPIs of the settlements the ledger holds, in their order,
// from its meters alone (no simulated uses): each interval's community
// sums and the community's KPIs. listings give each interval's clearing;
// the participants in the member role are the members, in their order.
func Ledger(sts []contract.Settlement, listings []contract.ListingView, participants []contract.Participant) ([]HourPoint, Community) {
	clearing := map[int64]*contract.Clearing{}
	for _, l := range listings {
		clearing[l.Start] = l.Clearing
	}
	var members []MemberInfo
	for _, p := range participants {
		if p.Role == contract.RoleMember {
			members = append(members, MemberInfo{ID: p.ID, NodeType: string(p.NodeType)})
		}
	}
	acc := NewAccumulator(members)
	hours := []HourPoint{}
	for _, st := range sts {
		hours = append(hours, acc.Add(FromSettlement(st, clearing[st.Start], nil)))
	}
	return hours, acc.Report(0, 0).Community
}

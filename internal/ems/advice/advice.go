// Package advice turns a member's own ledger data into advice (SYSTEM.md
// part 8, seed §4.3): what the community market saved it against buying
// everything from the utility, what moving each flexible appliance to its
// best hours saves, what price to bid or offer next, and how the market
// has been going. Read gathers the member's statement and the listings
// through the caller's query functions (the CLI's node client, the API's
// ledger reads): the package holds no client and does no I/O of its own.
// Compute is pure: it takes them and (optionally) the home's site;
// nothing here is canned text.
package advice

import (
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/bidding"
	"github.com/gridledger/gridledger/internal/ems/plan"
	"github.com/gridledger/gridledger/internal/market"
)

// Advice is one member's advice. Energy in Wh, money in nano-units,
// prices in micro-units per kWh.
type Advice struct {
	Member    string `json:"member"`
	Intervals int    `json:"intervals"`
	// Savings: Net is what the member received minus paid (market,
	// utility, other members at settlement, DR incentives); UtilityOnly
	// what the same metered energy would have netted with the utility
	// alone. Saved = Net − UtilityOnly.
	NetNano         int64 `json:"net"`
	UtilityOnlyNano int64 `json:"utility_only"`
	SavedNano       int64 `json:"saved"`
	DRIncentiveNano int64 `json:"dr_incentive"`
	ImportWh        int64 `json:"import_wh"`
	ExportWh        int64 `json:"export_wh"`
	BoughtP2PWh     int64 `json:"bought_p2p_wh"`
	SoldP2PWh       int64 `json:"sold_p2p_wh"`
	// Deviations: the money of the settlement after delivery, received
	// from the utility and from other members minus paid to them: what
	// deviating from its traded positions earned the member (negative:
	// cost it), refunds of its unrealised trades included.
	DeviationsNetNano int64 `json:"deviations_net"`
	// Netted: the energy of its deviations the settlement netted with
	// other members' in the community's pool (community imbalance rule)
	// instead of settling it with the utility, bought from them and sold
	// to them, and what that was worth against the tariffs:
	// PoolImportWh × (grid − pool price) + PoolExportWh × (pool price −
	// feed-in), interval by interval.
	PoolImportWh  int64 `json:"pool_import_wh"`
	PoolExportWh  int64 `json:"pool_export_wh"`
	NettedWh      int64 `json:"netted_wh"`
	PoolValueNano int64 `json:"pool_value"`
	// Shifts: what running each flexible appliance at its best hours
	// saves a day against starting it at the start of its window.
	Shifts []Shift `json:"shifts"`
	// Suggested prices for the next listing.
	NextListing    int64  `json:"next_listing"`
	SuggestedBid   int64  `json:"suggested_bid"`
	SuggestedOffer int64  `json:"suggested_offer"`
	Market         Market `json:"market"`
}

// Shift is one appliance's advice.
type Shift struct {
	Appliance  string `json:"appliance"`
	NaiveHours []int  `json:"naive_hours"`
	BestHours  []int  `json:"best_hours"`
	SavingNano int64  `json:"saving_per_day"`
}

// Market is how the recent listings went.
type Market struct {
	Listings      int   `json:"listings"`
	Cleared       int   `json:"cleared"`
	MeanMCP       int64 `json:"mean_mcp"`
	MinMCP        int64 `json:"min_mcp"`
	MaxMCP        int64 `json:"max_mcp"`
	OfferedWh     int64 `json:"offered_wh"`
	WantedWh      int64 `json:"wanted_wh"`
	TradedWh      int64 `json:"traded_wh"`
	MeanGridPrice int64 `json:"mean_grid_price"`
	MeanFeedIn    int64 `json:"mean_feed_in"`
}

// Compute builds the advice from the member's statement rows, the recent
// listings (oldest first, cleared or open) and, if the home's site is
// given, its appliances.
func Compute(member string, rows []contract.StatementRow, listings []contract.ListingView, site *plan.Site) (Advice, error) {
	a := Advice{Member: member, Intervals: len(rows), Shifts: []Shift{}}
	for _, r := range rows {
		a.NetNano += r.NetNano
		a.UtilityOnlyNano += r.UtilityOnlyNano
		a.DRIncentiveNano += r.DRIncentiveNano
		a.ImportWh += r.ImportWh
		a.ExportWh += r.ExportWh
		a.BoughtP2PWh += r.BoughtWh
		a.SoldP2PWh += r.SoldWh
		a.DeviationsNetNano += r.ReceivedFromUtilityNano + r.MembersReceivedNano - r.PaidToUtilityNano - r.MembersPaidNano
		a.PoolImportWh += r.PoolImportWh
		a.PoolExportWh += r.PoolExportWh
		a.PoolValueNano += value(r.PoolImportWh, r.GridPricePerKWh-r.PoolPricePerKWh) + value(r.PoolExportWh, r.PoolPricePerKWh-r.FeedInPerKWh)
	}
	a.SavedNano = a.NetNano - a.UtilityOnlyNano
	a.NettedWh = a.PoolImportWh + a.PoolExportWh

	var mcps []*int64
	var sumMCP, sumGrid, sumFeed int64
	for _, l := range listings {
		if l.Clearing == nil {
			if a.NextListing == 0 {
				a.NextListing = l.Start
				a.SuggestedBid = bidding.Price(contract.SideBid, l.GridPricePerKWh, l.FeedInPerKWh, mcps)
				a.SuggestedOffer = bidding.Price(contract.SideOffer, l.GridPricePerKWh, l.FeedInPerKWh, mcps)
			}
			continue
		}
		m := &a.Market
		m.Listings++
		sumGrid += l.GridPricePerKWh
		sumFeed += l.FeedInPerKWh
		c := l.Clearing
		m.OfferedWh += c.AvailableWh
		m.WantedWh += c.WantedWh
		m.TradedWh += c.TradedWh
		mcps = append(mcps, c.MCP)
		if c.MCP == nil {
			continue
		}
		if m.Cleared == 0 || *c.MCP < m.MinMCP {
			m.MinMCP = *c.MCP
		}
		m.MaxMCP = max(m.MaxMCP, *c.MCP)
		m.Cleared++
		sumMCP += *c.MCP
	}
	if a.Market.Cleared > 0 {
		a.Market.MeanMCP = sumMCP / int64(a.Market.Cleared)
	}
	if a.Market.Listings > 0 {
		a.Market.MeanGridPrice = sumGrid / int64(a.Market.Listings)
		a.Market.MeanFeedIn = sumFeed / int64(a.Market.Listings)
	}
	if site != nil {
		shifts, err := Shifts(*site)
		if err != nil {
			return a, err
		}
		a.Shifts = shifts
	}
	return a, nil
}

// value is wh × price in nano-units as the ledger computes it, 0 if it
// does not fit (no real interval comes near).
func value(wh, pricePerKWh int64) int64 {
	v, err := market.Value(wh, pricePerKWh)
	if err != nil {
		return 0
	}
	return v
}

// Shifts prices each flexible appliance's flexibility: the best plan's
// cost against the same plan with that one appliance started at the
// start of its window (as a home without an EMS would run it).
func Shifts(s plan.Site) ([]Shift, error) {
	best, err := plan.Plan(s)
	if err != nil {
		return nil, err
	}
	out := []Shift{}
	for i, ap := range s.Appliances {
		if !ap.Flexible {
			continue
		}
		naive := s
		naive.Appliances = append([]plan.Appliance(nil), s.Appliances...)
		naive.Appliances[i].Flexible = false
		r, err := plan.Plan(naive)
		if err != nil {
			continue // fixed at its window start it breaks the peak limit: no naive baseline
		}
		out = append(out, Shift{Appliance: ap.Name, NaiveHours: r.Appliances[i].Hours, BestHours: best.Appliances[i].Hours,
			SavingNano: r.CostNano - best.CostNano})
	}
	return out, nil
}

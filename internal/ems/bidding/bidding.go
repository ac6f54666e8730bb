// Package bidding turns a home's plan into its orders (SYSTEM.md part 7):
// for each listing, a bid for the planned deficit or an offer of the
// planned surplus, priced from the recent market clearing prices and kept
// between the feed-in and the grid tariff, so that trading in the
// community never costs a member more than the utility would. Pure: no
// I/O, no clock.
package bidding

import (
	"slices"

	"github.com/gridledger/gridledger/internal/contract"
)

// History is how many recent clearing prices the price reference uses.
const History = 24

// Order is what a site places in one listing.
type Order struct {
	Side        contract.Side `json:"side"`
	Wh          int64         `json:"wh"`
	PricePerKWh int64         `json:"price"`
}

// Reference is the price the market has been clearing at: the median of
// the last History clearing prices (nil entries, listings that did not
// clear, are skipped), or ok false without any.
func Reference(recentMCP []*int64) (price int64, ok bool) {
	var ps []int64
	for i := len(recentMCP) - 1; i >= 0 && len(ps) < History; i-- {
		if recentMCP[i] != nil {
			ps = append(ps, *recentMCP[i])
		}
	}
	if len(ps) == 0 {
		return 0, false
	}
	slices.Sort(ps)
	return ps[len(ps)/2], true
}

// Price is the price per kWh for one side of a listing. A buyer bids a
// tenth of the tariff spread above the reference and a seller asks a tenth
// below it, so both stay near where the market clears but are likely to
// match; without history both start from the middle of the spread. The
// result is always within [feedIn, grid]: a bid above the grid tariff or
// an offer below the feed-in would be worse than the utility.
func Price(side contract.Side, gridPerKWh, feedInPerKWh int64, recentMCP []*int64) int64 {
	spread := max(gridPerKWh-feedInPerKWh, 0)
	ref, ok := Reference(recentMCP)
	if !ok {
		ref = feedInPerKWh + spread/2
	}
	p := ref - spread/10
	if side == contract.SideBid {
		p = ref + spread/10
	}
	return max(feedInPerKWh, min(p, gridPerKWh))
}

// ForInterval is the order for one interval with the planned net import
// netWh: a bid for a deficit, an offer of a surplus when the site has an
// approved asset (offers are capped at what it can make, capacityWh), or
// nothing.
func ForInterval(netWh int64, hasRES bool, capacityWh, gridPerKWh, feedInPerKWh int64, recentMCP []*int64) (Order, bool) {
	switch {
	case netWh > 0:
		return Order{contract.SideBid, min(netWh, contract.MaxOrderWh), Price(contract.SideBid, gridPerKWh, feedInPerKWh, recentMCP)}, true
	case netWh < 0 && hasRES && capacityWh > 0:
		return Order{contract.SideOffer, min(-netWh, capacityWh), Price(contract.SideOffer, gridPerKWh, feedInPerKWh, recentMCP)}, true
	}
	return Order{}, false
}

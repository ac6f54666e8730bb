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

// DefaultMarginPermille is how far from the reference a home prices by
// default: a tenth of the tariff spread.
const DefaultMarginPermille = 100

// Price is the price per kWh for one side of a listing with the default
// margin (see PriceAt).
func Price(side contract.Side, gridPerKWh, feedInPerKWh int64, recentMCP []*int64) int64 {
	return PriceAt(side, gridPerKWh, feedInPerKWh, recentMCP, DefaultMarginPermille)
}

// PriceAt is the price per kWh for one side of a listing: a buyer bids
// marginPermille ‰ of the tariff spread above the reference and a seller
// asks as much below it, so both stay near where the market clears but
// are likely to match (a small margin trades less and at better prices, a
// large one more surely); without history both start from the middle of
// the spread. The result is always within [feedIn, grid]: a bid above the
// grid tariff or an offer below the feed-in would be worse than the
// utility.
func PriceAt(side contract.Side, gridPerKWh, feedInPerKWh int64, recentMCP []*int64, marginPermille int64) int64 {
	spread := max(gridPerKWh-feedInPerKWh, 0)
	ref, ok := Reference(recentMCP)
	if !ok {
		ref = feedInPerKWh + spread/2
	}
	margin := spread * max(0, min(marginPermille, 1000)) / 1000
	p := ref - margin
	if side == contract.SideBid {
		p = ref + margin
	}
	return max(feedInPerKWh, min(p, gridPerKWh))
}

// ForInterval is the order for one interval with the planned net import
// netWh, priced with the home's margin (PriceAt): a bid for a deficit, an offer of a surplus when the site has an
// approved asset (offers are capped at what it can make, capacityWh), or
// nothing.
func ForInterval(netWh int64, hasRES bool, capacityWh, gridPerKWh, feedInPerKWh int64, recentMCP []*int64, marginPermille int64) (Order, bool) {
	switch {
	case netWh > 0:
		return Order{contract.SideBid, min(netWh, contract.MaxOrderWh), PriceAt(contract.SideBid, gridPerKWh, feedInPerKWh, recentMCP, marginPermille)}, true
	case netWh < 0 && hasRES && capacityWh > 0:
		return Order{contract.SideOffer, min(-netWh, capacityWh), PriceAt(contract.SideOffer, gridPerKWh, feedInPerKWh, recentMCP, marginPermille)}, true
	}
	return Order{}, false
}

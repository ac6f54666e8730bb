// Package bidding turns a home's plan into its orders (SYSTEM.md part 7).
// For each listing the site either bids for a deficit or offers a surplus
// (never both: the ledger takes one side per member and listing), and
// what the bidding guarantees is this:
//
//   - Prices: a bid is never above the grid tariff nor an offer below the
//     feed-in (PriceAt), priced from the recent market clearing prices.
//   - Quantities: the plan's net import corrected by the site's own
//     recent forecast errors, at the quantile that minimises the expected
//     cost of committing too little or too much under the imbalance rule
//     the listing settles by (RiskAware: a newsvendor; Quantile, Costs).
//     Without a sample of errors a site bids or offers its plan.
//
// The bids do not by themselves guarantee that trading in the community
// never costs a member more than the utility alone would: a quantity sized
// for the risk is still a forecast, and a member's deviations are priced
// at settlement. That individual-rationality guarantee is the settlement
// rule's: the community imbalance settlement (internal/contract/imbalance.go,
// docs/ledger.md). Pure: no I/O, no clock.
package bidding

import (
	"math"
	"math/bits"
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

// ForInterval is the order for one interval with the net import netWh
// taken as certain, priced with the home's margin (PriceAt): a bid for a
// deficit (at most contract.MaxOrderWh), an offer of a surplus when the
// site has an approved asset (at most what it can make, capacityWh), or
// nothing. It is RiskAware without a sample of errors.
func ForInterval(netWh int64, hasRES bool, capacityWh, gridPerKWh, feedInPerKWh int64, recentMCP []*int64, marginPermille int64) (Order, bool) {
	return RiskAware(Input{PlannedWh: netWh, HasRES: hasRES, CapacityWh: capacityWh, GridPerKWh: gridPerKWh,
		FeedInPerKWh: feedInPerKWh, RecentMCP: recentMCP, MarginPermille: marginPermille})
}

// Input is what RiskAware sizes and prices one listing's order from.
type Input struct {
	// PlannedWh is the plan's net import for the interval (import −
	// export; negative: a surplus).
	PlannedWh int64
	// ErrorsWh are the site's own recent errors, one per past interval:
	// the net import its meter recorded minus the one it had planned.
	ErrorsWh []int64
	// Rule is the imbalance rule the listing settles by
	// (contract.ImbalanceCommunity, the default when empty, or
	// contract.ImbalanceUtility).
	Rule string
	// HasRES: the site has an approved asset to offer from, which can make
	// CapacityWh in the interval.
	HasRES     bool
	CapacityWh int64
	// The listing's tariffs and the recent clearing prices, oldest first.
	GridPerKWh, FeedInPerKWh int64
	RecentMCP                []*int64
	// MarginPermille: see PriceAt.
	MarginPermille int64
}

// RiskAware is the order for one listing, sized for the risk of the
// site's own forecast errors (a newsvendor on each side):
//
//   - a bid of PlannedWh + Quantile(ErrorsWh, the buyer's Costs), at most
//     contract.MaxOrderWh;
//   - an offer of −PlannedWh + Quantile(−ErrorsWh, the seller's Costs),
//     at most CapacityWh, and only from an approved asset (HasRES);
//
// where the Costs are those of the listing's Rule at the ExpectedPrice (a
// side for which both are 0 keeps its plan), each priced by PriceAt; a quantity of 0 or less is no order on that
// side. The ledger takes one side per member and listing: when both sides
// have an order, the site takes the side its median outcome is on
// (PlannedWh plus the median error: a deficit bids, a surplus offers; on
// exactly 0, the plan's side, a bid when the plan is balanced too).
// Without errors it is the plan: a bid for a deficit, an offer of a
// surplus, nothing for a balanced interval.
func RiskAware(in Input) (Order, bool) {
	p := ExpectedPrice(in.GridPerKWh, in.FeedInPerKWh, in.RecentMCP)
	buy := Costs(in.Rule, contract.SideBid, p, in.GridPerKWh, in.FeedInPerKWh)
	sell := Costs(in.Rule, contract.SideOffer, p, in.GridPerKWh, in.FeedInPerKWh)
	negated := make([]int64, len(in.ErrorsWh))
	for i, e := range in.ErrorsWh {
		negated[i] = neg(e)
	}
	bidWh := satAdd(in.PlannedWh, correction(in.ErrorsWh, buy))
	offerWh := satAdd(neg(in.PlannedWh), correction(negated, sell))
	canBid := bidWh > 0
	canOffer := offerWh > 0 && in.HasRES && in.CapacityWh > 0
	if canBid && canOffer {
		median := satAdd(in.PlannedWh, lowerMedian(in.ErrorsWh))
		switch {
		case median > 0:
			canOffer = false
		case median < 0:
			canBid = false
		case in.PlannedWh < 0:
			canBid = false
		default:
			canOffer = false
		}
	}
	switch {
	case canBid:
		return Order{contract.SideBid, min(bidWh, contract.MaxOrderWh), PriceAt(contract.SideBid, in.GridPerKWh, in.FeedInPerKWh, in.RecentMCP, in.MarginPermille)}, true
	case canOffer:
		return Order{contract.SideOffer, min(offerWh, in.CapacityWh), PriceAt(contract.SideOffer, in.GridPerKWh, in.FeedInPerKWh, in.RecentMCP, in.MarginPermille)}, true
	}
	return Order{}, false
}

// correction is the newsvendor's Quantile of the errors for the costs,
// except when neither way of erring costs anything (the expected price at
// the tariff the side falls back on, e.g. a buyer expecting the grid
// tariff under the community rule): every quantity is then as good, and
// the site keeps its plan rather than Quantile's smallest.
func correction(errorsWh []int64, c DeviationCosts) int64 {
	if c.UnderPerKWh <= 0 && c.OverPerKWh <= 0 {
		return 0
	}
	return Quantile(errorsWh, c.UnderPerKWh, c.OverPerKWh)
}

// ExpectedPrice is the clearing price a site expects for a listing: the
// Reference, kept within [feedIn, grid], or without one the middle of the
// tariffs.
func ExpectedPrice(gridPerKWh, feedInPerKWh int64, recentMCP []*int64) int64 {
	ref, ok := Reference(recentMCP)
	if !ok {
		ref = feedInPerKWh + max(gridPerKWh-feedInPerKWh, 0)/2
	}
	return max(feedInPerKWh, min(ref, max(gridPerKWh, feedInPerKWh)))
}

// DeviationCosts are what one kWh committed wrongly costs a side, in
// micro-units per kWh, both non-negative: UnderPerKWh for each kWh the
// site turns out to need (buyer) or to make (seller) beyond what it
// committed, OverPerKWh for each kWh it committed beyond that.
type DeviationCosts struct {
	UnderPerKWh, OverPerKWh int64
}

// Costs are the DeviationCosts of a side under an imbalance rule, with the
// expected clearing price p (ExpectedPrice), the grid tariff g and the
// feed-in f:
//
//   - contract.ImbalanceUtility: a buyer's missing purchase is bought at g
//     (under: g − p) and its unused purchase sold back at f (over: p − f);
//     a seller's extra export is paid f (under: p − f) and its shortfall
//     paid at g (over: g − p).
//   - contract.ImbalanceCommunity (the default, and any other rule): an
//     unrealised trade is unwound and refunded at its price, so
//     over-committing costs nothing (over: 0). What a member did not
//     commit is netted with the other members' deviations at the clearing
//     price, and only the community's net remainder goes to the utility.
//     Whether the pool nets a member's part depends on the others, which
//     the site cannot know; it assumes the worst, that the pool may not
//     net it: a buyer's missing purchase then costs g − p, a seller's
//     unsold export p − f (under). An upper bound on the cost of
//     under-committing, so the quantity it gives errs on committing more,
//     which costs nothing.
func Costs(rule string, side contract.Side, p, gridPerKWh, feedInPerKWh int64) DeviationCosts {
	aboveFeedIn := max(p-feedInPerKWh, 0)
	belowGrid := max(gridPerKWh-p, 0)
	var c DeviationCosts
	switch {
	case rule == contract.ImbalanceUtility && side == contract.SideBid:
		c = DeviationCosts{belowGrid, aboveFeedIn}
	case rule == contract.ImbalanceUtility:
		c = DeviationCosts{aboveFeedIn, belowGrid}
	case side == contract.SideBid:
		c = DeviationCosts{belowGrid, 0}
	default:
		c = DeviationCosts{aboveFeedIn, 0}
	}
	return c
}

// Quantile is the newsvendor's correction to a plan: the smallest q of
// the sample that minimises the empirical expected cost
//
//	Σ_x  under·(x − q)⁺ + over·(q − x)⁺
//
// over the sample's errors x, with under and over the per-kWh costs of
// committing too little and too much (negative costs count as 0). The
// cost is convex and piecewise linear with its breaks at the sample, so
// this is the sample's quantile at the critical ratio under/(under+over):
// the k-th smallest error for the smallest k with k·(under+over) ≥
// under·n. When over is 0 it is the sample's maximum, when under is 0
// its minimum (the cost is then 0 for every q up to it); without a sample,
// 0 (the plan). Exact integer arithmetic; the sample is not modified.
func Quantile(errorsWh []int64, underPerKWh, overPerKWh int64) int64 {
	n := len(errorsWh)
	if n == 0 {
		return 0
	}
	xs := slices.Clone(errorsWh)
	slices.Sort(xs)
	under, over := uint64(max(underPerKWh, 0)), uint64(max(overPerKWh, 0))
	// The first k (1-based) whose right derivative is no longer negative:
	// k·(under+over) ≥ under·n, in 128 bits (under+over fits 64 bits).
	k := 1
	for ; k < n; k++ {
		if !less128(uint64(k), under+over, under, uint64(n)) {
			break
		}
	}
	return xs[k-1]
}

// less128 reports a·b < c·d, exactly.
func less128(a, b, c, d uint64) bool {
	h1, l1 := bits.Mul64(a, b)
	h2, l2 := bits.Mul64(c, d)
	return h1 < h2 || (h1 == h2 && l1 < l2)
}

// lowerMedian is the ⌈n/2⌉-th smallest value, 0 for none.
func lowerMedian(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func neg(v int64) int64 {
	if v == math.MinInt64 {
		return math.MaxInt64
	}
	return -v
}

func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

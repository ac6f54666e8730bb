// Package market clears the order book of one delivery interval: offers and
// bids in, trades and the utility's residual flows out. It is pure Go with no
// I/O, clock, randomness or floating point, so every validator that clears the
// same book gets the same result to the last Wh and micro-unit.
//
// Units: energy in integer Wh; prices in integer micro-units of currency per
// kWh (0.095 €/kWh is 95000). Wh × price-per-kWh is then an exact amount in
// nano-units of currency (see Value).
package market

// Mechanism names a clearing rule.
type Mechanism string

// The clearing rules a community can choose from.
const (
	// AverageBid is the seed paper's rule (after Pipattanasomporn et al.): the
	// clearing price is the volume-weighted mean buy bid price, bids served
	// highest price first, offers first-in first-out. The default.
	AverageBid Mechanism = "average-bid"
	// Uniform is a uniform-price double auction: the merit-order crossing,
	// every trade at the midpoint of the last matched bid and offer.
	Uniform Mechanism = "uniform"
	// PayAsBid matches like Uniform; each trade is priced at its bid.
	PayAsBid Mechanism = "pay-as-bid"
)

// Mechanisms lists every mechanism, the default first.
var Mechanisms = []Mechanism{AverageBid, Uniform, PayAsBid}

// Order is one offer (sell) or bid (buy). Its position in Book.Offers or
// Book.Bids is its arrival order. Its price's JSON tag (and Trade's) lacks
// the unit the field name carries: it is part of the ledger's state
// encoding and wire format (see package contract), so it stays.
type Order struct {
	ID          string `json:"id"`
	Participant string `json:"participant"`
	Wh          int64  `json:"wh"`
	PricePerKWh int64  `json:"price"`
}

// Book is the order book of one delivery interval.
type Book struct {
	// GridPricePerKWh is what the utility charges for energy the community
	// lacks; FeedInPerKWh what it pays for surplus.
	GridPricePerKWh int64
	FeedInPerKWh    int64
	Offers          []Order
	Bids            []Order
}

// Trade moves Wh from an offer's seller to a bid's buyer at PricePerKWh.
type Trade struct {
	BidID       string `json:"bid"`
	OfferID     string `json:"offer"`
	Buyer       string `json:"buyer"`
	Seller      string `json:"seller"`
	Wh          int64  `json:"wh"`
	PricePerKWh int64  `json:"price"`
}

// GridFlow is the part of one order the community did not match: bought from
// the utility at the grid tariff (a bid's remainder) or sold to it at the
// feed-in tariff (an offer's remainder).
type GridFlow struct {
	OrderID     string `json:"order"`
	Participant string `json:"participant"`
	Wh          int64  `json:"wh"`
}

// Result is the outcome of clearing one book.
type Result struct {
	Mechanism Mechanism
	// MCP is the market clearing price per kWh; nil when the rule yields none
	// (no bids or no offers, or for the double auctions no crossing).
	MCP         *int64
	AvailableWh int64 // Σ offered Wh (the seed's kWhavailable)
	WantedWh    int64 // Σ bid Wh (the seed's kWhwanted)
	TradedWh    int64
	Trades      []Trade
	// GridImport has one entry per bid left (partly) unfilled, in bid arrival
	// order; GridExport one per offer left (partly) unsold, in offer arrival
	// order. Zero-Wh entries are omitted.
	GridImport []GridFlow
	GridExport []GridFlow
}

package market

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Errors returned by Validate and Clear. They are wrapped with the offending
// order (or tariff) in the message; test for them with errors.Is.
var (
	// ErrUnknownMechanism means the mechanism is not one of Mechanisms.
	ErrUnknownMechanism = errors.New("unknown mechanism")
	// ErrEmptyID means an order has no id.
	ErrEmptyID = errors.New("id is empty")
	// ErrEmptyParticipant means an order has no participant.
	ErrEmptyParticipant = errors.New("participant is empty")
	// ErrNonPositiveWh means an order's energy is zero or negative.
	ErrNonPositiveWh = errors.New("wh must be positive")
	// ErrNegativePrice means an order's price is negative.
	ErrNegativePrice = errors.New("price must not be negative")
	// ErrDuplicateID means an id is used twice, across offers and bids
	// together.
	ErrDuplicateID = errors.New("id used more than once")
	// ErrBothSides means one participant has both an offer and a bid.
	ErrBothSides = errors.New("participant has both an offer and a bid")
	// ErrNegativeTariff means the grid price or the feed-in tariff is
	// negative.
	ErrNegativeTariff = errors.New("tariff must not be negative")
	// ErrFeedInAboveGrid means the feed-in tariff exceeds the grid price.
	ErrFeedInAboveGrid = errors.New("feed-in tariff above grid price")
	// ErrOverflow means an amount does not fit in an int64.
	ErrOverflow = errors.New("int64 overflow")
)

// Value returns wh × pricePerKWh, the exact amount in nano-units of currency
// (Wh × micro-units/kWh = 10⁻³ kWh × 10⁻⁶ units/kWh). It returns ErrOverflow
// if the product does not fit in an int64.
func Value(wh, pricePerKWh int64) (int64, error) {
	neg := (wh < 0) != (pricePerKWh < 0)
	hi, lo := bits.Mul64(magnitude(wh), magnitude(pricePerKWh))
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // -2⁶³ is representable
	}
	if hi != 0 || lo > limit {
		return 0, ErrOverflow
	}
	if neg {
		return int64(-lo), nil
	}
	return int64(lo), nil
}

// magnitude returns |x| as a uint64; it is exact for math.MinInt64 too.
func magnitude(x int64) uint64 {
	if x < 0 {
		return -uint64(x)
	}
	return uint64(x)
}

// Validate reports the first problem with the book, checking the tariffs and
// then each offer and each bid in arrival order; nil if the book can be
// cleared. An empty book is valid.
//
// Overflow policy: every order's wh × price and wh × grid price must fit in an
// int64, and so must Σ wh on each side. Every trade is priced at most at
// max(its bid's price, the grid price) and moves at most its orders' Wh, and
// feed-in ≤ grid price, so every per-trade and per-grid-flow value a clearing
// implies fits too. Σ(wh × price) over bids, needed for the average-bid
// price, is not bounded here: Clear computes it in 128 bits.
func (b Book) Validate() error {
	if b.GridPricePerKWh < 0 {
		return fmt.Errorf("grid price %d: %w", b.GridPricePerKWh, ErrNegativeTariff)
	}
	if b.FeedInPerKWh < 0 {
		return fmt.Errorf("feed-in %d: %w", b.FeedInPerKWh, ErrNegativeTariff)
	}
	if b.FeedInPerKWh > b.GridPricePerKWh {
		return fmt.Errorf("feed-in %d > grid price %d: %w", b.FeedInPerKWh, b.GridPricePerKWh, ErrFeedInAboveGrid)
	}
	// The maps are only looked up, never iterated, so their order is moot.
	ids := make(map[string]struct{}, len(b.Offers)+len(b.Bids))
	sellers := make(map[string]struct{}, len(b.Offers))
	var offeredWh int64
	for i, o := range b.Offers {
		if err := b.checkOrder(o, ids, &offeredWh); err != nil {
			return fmt.Errorf("offer %s: %w", orderName(i, o.ID), err)
		}
		sellers[o.Participant] = struct{}{}
	}
	var wantedWh int64
	for i, o := range b.Bids {
		if err := b.checkOrder(o, ids, &wantedWh); err != nil {
			return fmt.Errorf("bid %s: %w", orderName(i, o.ID), err)
		}
		if _, ok := sellers[o.Participant]; ok {
			return fmt.Errorf("bid %s: %w: %q", orderName(i, o.ID), ErrBothSides, o.Participant)
		}
	}
	return nil
}

// checkOrder validates one order, records its id in ids and adds its Wh to
// *sideWh.
func (b Book) checkOrder(o Order, ids map[string]struct{}, sideWh *int64) error {
	switch {
	case o.ID == "":
		return ErrEmptyID
	case o.Participant == "":
		return ErrEmptyParticipant
	case o.Wh <= 0:
		return ErrNonPositiveWh
	case o.PricePerKWh < 0:
		return ErrNegativePrice
	}
	if _, dup := ids[o.ID]; dup {
		return ErrDuplicateID
	}
	ids[o.ID] = struct{}{}
	if _, err := Value(o.Wh, o.PricePerKWh); err != nil {
		return fmt.Errorf("wh × price: %w", err)
	}
	if _, err := Value(o.Wh, b.GridPricePerKWh); err != nil {
		return fmt.Errorf("wh × grid price: %w", err)
	}
	if *sideWh > math.MaxInt64-o.Wh { // o.Wh > 0 here
		return fmt.Errorf("total wh: %w", ErrOverflow)
	}
	*sideWh += o.Wh
	return nil
}

// orderName names an order in an error message: its quoted id, or its
// position when it has none.
func orderName(i int, id string) string {
	if id == "" {
		return fmt.Sprintf("[%d]", i)
	}
	return fmt.Sprintf("%q", id)
}

// Clear validates the book and clears it under mechanism m.
//
//   - AverageBid: MCP is the volume-weighted mean of all bid prices, rounded
//     half up and clamped into [FeedInPerKWh, GridPricePerKWh]. Bids priced at
//     or above MCP are served highest price first (ties by arrival), each
//     taking from the offers priced at or below MCP in arrival order until it
//     is filled or they run out. Every trade is at MCP. MCP is set whenever
//     the book has a bid and an offer, even if nothing trades.
//   - Uniform: bids by price descending, offers ascending (ties by arrival),
//     matched while the bid's price is at least the offer's, each step trading
//     the smaller remainder. MCP is the midpoint of the last matched bid's and
//     offer's prices, rounded half up; every trade is at MCP. No match, no MCP.
//   - PayAsBid: matched as Uniform, each trade at its bid's price. MCP is
//     reported as for Uniform, as the marginal reference price; no trade is
//     priced at it.
//
// Whatever a bid did not get is imported from the grid, whatever an offer did
// not sell is exported to it.
func Clear(m Mechanism, b Book) (Result, error) {
	if !slices.Contains(Mechanisms, m) {
		return Result{}, fmt.Errorf("%q: %w", m, ErrUnknownMechanism)
	}
	if err := b.Validate(); err != nil {
		return Result{}, err
	}
	c := clearing{
		book:        b,
		bidLeftWh:   make([]int64, len(b.Bids)),
		offerLeftWh: make([]int64, len(b.Offers)),
		res: Result{
			Mechanism: m,
			Trades:    make([]Trade, 0, min(len(b.Bids), len(b.Offers))),
		},
	}
	for i, o := range b.Bids {
		c.bidLeftWh[i] = o.Wh
		c.res.WantedWh += o.Wh
	}
	for i, o := range b.Offers {
		c.offerLeftWh[i] = o.Wh
		c.res.AvailableWh += o.Wh
	}
	switch m {
	case AverageBid:
		c.averageBid()
	case Uniform, PayAsBid:
		c.meritOrder(m == PayAsBid)
	}
	c.gridFlows()
	return c.res, nil
}

// clearing is the state of one Clear call.
type clearing struct {
	book        Book
	bidLeftWh   []int64 // by bid arrival index
	offerLeftWh []int64 // by offer arrival index
	res         Result
}

// trade moves wh from offer oi to bid bi at pricePerKWh.
func (c *clearing) trade(bi, oi int, wh, pricePerKWh int64) {
	bid, offer := &c.book.Bids[bi], &c.book.Offers[oi]
	c.bidLeftWh[bi] -= wh
	c.offerLeftWh[oi] -= wh
	c.res.TradedWh += wh
	c.res.Trades = append(c.res.Trades, Trade{
		BidID:       bid.ID,
		OfferID:     offer.ID,
		Buyer:       bid.Participant,
		Seller:      offer.Participant,
		Wh:          wh,
		PricePerKWh: pricePerKWh,
	})
}

// averageBid clears by the seed paper's rule.
func (c *clearing) averageBid() {
	b := c.book
	if len(b.Bids) == 0 || len(b.Offers) == 0 {
		return
	}
	mcp := min(max(meanBidPrice(b.Bids), b.FeedInPerKWh), b.GridPricePerKWh)
	c.res.MCP = &mcp

	bids := make([]ranked, 0, len(b.Bids))
	for i, o := range b.Bids {
		if o.PricePerKWh >= mcp {
			bids = append(bids, ranked{o.PricePerKWh, i})
		}
	}
	slices.SortFunc(bids, highestFirst)
	offers := make([]int, 0, len(b.Offers))
	for i, o := range b.Offers {
		if o.PricePerKWh <= mcp {
			offers = append(offers, i)
		}
	}

	next := 0 // the current offer, in offers
	for _, bid := range bids {
		for c.bidLeftWh[bid.index] > 0 && next < len(offers) {
			oi := offers[next]
			c.trade(bid.index, oi, min(c.bidLeftWh[bid.index], c.offerLeftWh[oi]), mcp)
			if c.offerLeftWh[oi] == 0 {
				next++
			}
		}
		if next == len(offers) {
			break
		}
	}
}

// meanBidPrice returns Σ(wh × price) / Σ wh over bids, rounded half up. The
// numerator is summed in 128 bits; the quotient is at most the highest bid
// price, so it fits in 64. bids must be non-empty and valid.
func meanBidPrice(bids []Order) int64 {
	var sumHi, sumLo, whSum uint64
	for _, o := range bids {
		hi, lo := bits.Mul64(uint64(o.Wh), uint64(o.PricePerKWh))
		var carry uint64
		sumLo, carry = bits.Add64(sumLo, lo, 0)
		sumHi += hi + carry
		whSum += uint64(o.Wh)
	}
	q, r := bits.Div64(sumHi, sumLo, whSum)
	if r >= whSum-r { // remainder ≥ half the divisor: round up
		q++
	}
	return int64(q)
}

// meritOrder matches bids by price descending against offers by price
// ascending, as long as they cross; with payAsBid each trade is priced at its
// bid, otherwise all at MCP.
func (c *clearing) meritOrder(payAsBid bool) {
	b := c.book
	bids := make([]ranked, len(b.Bids))
	for i, o := range b.Bids {
		bids[i] = ranked{o.PricePerKWh, i}
	}
	slices.SortFunc(bids, highestFirst)
	offers := make([]ranked, len(b.Offers))
	for i, o := range b.Offers {
		offers[i] = ranked{o.PricePerKWh, i}
	}
	slices.SortFunc(offers, lowestFirst)

	var lastBid, lastOffer ranked
	i, j := 0, 0
	for i < len(bids) && j < len(offers) && bids[i].pricePerKWh >= offers[j].pricePerKWh {
		bi, oi := bids[i].index, offers[j].index
		c.trade(bi, oi, min(c.bidLeftWh[bi], c.offerLeftWh[oi]), bids[i].pricePerKWh)
		lastBid, lastOffer = bids[i], offers[j]
		if c.bidLeftWh[bi] == 0 {
			i++
		}
		if c.offerLeftWh[oi] == 0 {
			j++
		}
	}
	if len(c.res.Trades) == 0 {
		return
	}
	mcp := midpoint(lastBid.pricePerKWh, lastOffer.pricePerKWh)
	c.res.MCP = &mcp
	if !payAsBid {
		for k := range c.res.Trades {
			c.res.Trades[k].PricePerKWh = mcp
		}
	}
}

// midpoint returns (a+b)/2 rounded half up, without overflow, for a, b ≥ 0.
func midpoint(a, b int64) int64 {
	return a/2 + b/2 + (a%2+b%2+1)/2
}

// ranked is an order's place in a merit order: its price and arrival index.
type ranked struct {
	pricePerKWh int64
	index       int
}

// highestFirst orders by price descending, then arrival. It is a total order
// (indexes are distinct), so any sort algorithm yields the same sequence.
// Spelled out rather than with cmp.Or: sorting is the hot spot.
func highestFirst(a, b ranked) int {
	switch {
	case a.pricePerKWh > b.pricePerKWh:
		return -1
	case a.pricePerKWh < b.pricePerKWh:
		return 1
	}
	return a.index - b.index
}

// lowestFirst orders by price ascending, then arrival.
func lowestFirst(a, b ranked) int {
	switch {
	case a.pricePerKWh < b.pricePerKWh:
		return -1
	case a.pricePerKWh > b.pricePerKWh:
		return 1
	}
	return a.index - b.index
}

// gridFlows records each order's unmatched remainder, in arrival order.
func (c *clearing) gridFlows() {
	c.res.GridImport = residues(c.book.Bids, c.bidLeftWh)
	c.res.GridExport = residues(c.book.Offers, c.offerLeftWh)
}

// residues returns one GridFlow per order with Wh left, in arrival order;
// never nil.
func residues(orders []Order, leftWh []int64) []GridFlow {
	n := 0
	for _, wh := range leftWh {
		if wh > 0 {
			n++
		}
	}
	flows := make([]GridFlow, 0, n)
	for i, wh := range leftWh {
		if wh > 0 {
			flows = append(flows, GridFlow{OrderID: orders[i].ID, Participant: orders[i].Participant, Wh: wh})
		}
	}
	return flows
}

package contract

import (
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/gridledger/gridledger/internal/market"

	"github.com/gridledger/gridledger/internal/sigs"
)

// Event is something a block did, for subscribers (CometBFT events).
type Event struct {
	Type  string `json:"type"`
	Attrs []Attr `json:"attrs"`
}

// Attr is one key/value of an event.
type Attr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func event(typ string, kv ...string) Event {
	e := Event{Type: typ, Attrs: make([]Attr, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, Attr{kv[i], kv[i+1]})
	}
	return e
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

// TxResult is the outcome of one transaction in a block.
type TxResult struct {
	Code   Code
	Log    string
	Events []Event
}

// MarketTimeAt maps a block time to market time (UTC seconds): market
// time runs timeScale times faster than block time from genesis, starting
// at marketStart (0: the genesis time). Every node computes it so;
// clients that follow the chain use it too.
func MarketTimeAt(genesisNs, marketStart, timeScale, blockTimeNs int64) int64 {
	if marketStart == 0 {
		marketStart = genesisNs / 1_000_000_000
	}
	elapsedMs := (blockTimeNs - genesisNs) / 1_000_000
	return marketStart + elapsedMs*timeScale/1000
}

// toMarketTime is MarketTimeAt with this chain's genesis, start and scale.
func (s *State) toMarketTime(blockTimeNs int64) int64 {
	return MarketTimeAt(s.info.GenesisTimeNs, s.info.MarketStartS, s.info.TimeScale, blockTimeNs)
}

// MarketTime is the market time of the last block.
func (s *State) MarketTime() int64 { return s.marketTime }

// BeginBlock starts a block: it advances the clock, closes and clears every
// listing whose gate has closed, and opens listings up to the horizon. It
// runs before the block's transactions, so an order in a block stamped after
// gate closure is refused.
func (s *State) BeginBlock(height, blockTimeNs int64) {
	s.height = height
	s.marketTime = s.toMarketTime(blockTimeNs)
	s.blockEvents = s.blockEvents[:0]
	s.closeListings()
	s.closeDR()
	s.settleListings()
	s.completeDepartures()
	s.openListings()
}

// EndBlock finishes the block: the commitment (app hash and writes) and the
// block-level events.
func (s *State) EndBlock() (Commitment, []Event) {
	ev := s.blockEvents
	s.blockEvents = nil
	return s.commit(), ev
}

func (s *State) openListings() {
	p, mt := s.params, s.marketTime
	next := s.info.NextListing
	if next == 0 {
		next = (mt/p.IntervalS + 1) * p.IntervalS
	}
	// After a long halt, skip intervals whose gate has already closed
	// rather than opening dead listings.
	if next-p.GateClosureS <= mt {
		next += ((mt+p.GateClosureS-next)/p.IntervalS + 1) * p.IntervalS
	}
	for next < mt+p.HorizonIntervals*p.IntervalS {
		h := p.TariffHour(next)
		l := &Listing{
			Start: next, End: next + p.IntervalS, GateClosure: next - p.GateClosureS,
			State: StateAuthorizeOffers, Mechanism: p.Mechanism, Imbalance: p.ImbalanceRule(),
			GridPricePerKWh: p.GridPricePerKWh[h], FeedInPerKWh: p.FeedInPerKWh[h],
			OpenedHeight: s.height,
		}
		l.initDerived()
		s.listings[next] = l
		s.starts = append(s.starts, next)
		s.open = append(s.open, next)
		s.touch(keyListing(next), l, false)
		s.blockEvents = append(s.blockEvents, event("AuthorizeOfferCom",
			"listing", i64(l.Start), "end", i64(l.End), "gate_closure", i64(l.GateClosure),
			"mechanism", string(l.Mechanism), "grid_price", i64(l.GridPricePerKWh), "feed_in", i64(l.FeedInPerKWh)))
		next += p.IntervalS
	}
	if next != s.info.NextListing {
		s.touch(keyInfo, &s.info, true)
		s.info.NextListing = next
	}
}

func (s *State) closeListings() {
	kept := s.open[:0]
	for _, start := range s.open {
		l := s.listings[start]
		if l.GateClosure > s.marketTime {
			kept = append(kept, start)
			continue
		}
		s.closeBidding(l)
	}
	s.open = kept
}

// closeBidding moves a listing to BIDS_CLOSED and clears it: sellers are
// paid from the buyers' escrow at the clearing price and the rest of the
// escrow is refunded, all in this block.
func (s *State) closeBidding(l *Listing) {
	s.touch(keyListing(l.Start), l, true)
	l.State = StateBidsClosed
	book := market.Book{GridPricePerKWh: l.GridPricePerKWh, FeedInPerKWh: l.FeedInPerKWh}
	for _, o := range l.orders {
		if o.Cancelled {
			continue
		}
		mo := market.Order{ID: o.ID, Participant: o.Participant, Wh: o.Wh, PricePerKWh: o.PricePerKWh}
		if o.Side == SideBid {
			book.Bids = append(book.Bids, mo)
		} else {
			book.Offers = append(book.Offers, mo)
		}
	}
	res, err := market.Clear(l.Mechanism, book)
	if err != nil {
		// Every order was checked on entry; a book the market refuses
		// means the contract let in something it must not have.
		panic(fmt.Sprintf("contract: clearing listing %d: %v", l.Start, err))
	}
	c := &Clearing{
		Height: s.height, MarketTime: s.marketTime, MCP: res.MCP,
		AvailableWh: res.AvailableWh, WantedWh: res.WantedWh, TradedWh: res.TradedWh,
		Trades: res.Trades, GridImport: res.GridImport, GridExport: res.GridExport,
	}
	for _, t := range res.Trades {
		v := mustValue(t.Wh, t.PricePerKWh)
		bid, buyer, seller := s.orders[t.BidID], s.participants[t.Buyer], s.participants[t.Seller]
		s.touch(keyOrder(bid), bid, true)
		s.touch(keyParticipant(buyer.ID), buyer, true)
		s.touch(keyParticipant(seller.ID), seller, true)
		bid.Escrow -= v
		buyer.Escrow -= v
		seller.Balance += v
		c.PaidNano += v
		if bid.Escrow < 0 || buyer.Escrow < 0 {
			panic(fmt.Sprintf("contract: trade %+v overdraws escrow", t))
		}
	}
	for _, o := range l.orders {
		if o.Side != SideBid || o.Escrow == 0 {
			continue
		}
		buyer := s.participants[o.Participant]
		s.touch(keyOrder(o), o, true)
		s.touch(keyParticipant(buyer.ID), buyer, true)
		buyer.Escrow -= o.Escrow
		buyer.Balance += o.Escrow
		c.RefundedNano += o.Escrow
		o.Escrow = 0
	}
	l.Clearing = c
	// Settlement follows delivery order, not gate closure: a listing
	// opened after the gate closure grew can close before an earlier one.
	i := sort.Search(len(s.unsettled), func(i int) bool { return s.unsettled[i] > l.Start })
	s.unsettled = slices.Insert(s.unsettled, i, l.Start)
	mcp := "null"
	if c.MCP != nil {
		mcp = i64(*c.MCP)
	}
	s.blockEvents = append(s.blockEvents, event("CloseBidding",
		"listing", i64(l.Start), "mechanism", string(l.Mechanism), "mcp", mcp,
		"available_wh", i64(c.AvailableWh), "wanted_wh", i64(c.WantedWh), "traded_wh", i64(c.TradedWh),
		"trades", strconv.Itoa(len(c.Trades)), "grid_import_wh", i64(sumFlows(c.GridImport)),
		"grid_export_wh", i64(sumFlows(c.GridExport))))
}

func sumFlows(fs []market.GridFlow) int64 {
	var n int64
	for _, f := range fs {
		n += f.Wh
	}
	return n
}

func mustValue(wh, price int64) int64 {
	v, err := market.Value(wh, price)
	if err != nil {
		panic(fmt.Sprintf("contract: value of %d Wh at %d: %v", wh, price, err))
	}
	return v
}

// DeliverTxs applies a block's transactions in order. Signatures of signers
// known at the start of the block are checked in one batch first.
func (s *State) DeliverTxs(raws [][]byte) []TxResult {
	return s.DeliverChecked(s.CheckTxs(raws))
}

// Checked is a block's transactions decoded, with their signatures checked
// against the keys their signers had when the block began.
type Checked struct {
	txs   []*Tx
	errs  []error
	keys  [][]byte // the key a signature was checked against; nil: not checked
	valid []bool
}

// CheckTxs decodes transactions and checks their signatures in one batch:
// the part of delivering a block that depends on no transaction before it.
// It only reads the state, so a chain adapter may check the parts of a
// block side by side, join them in order (JoinChecked) and deliver them
// (DeliverChecked): the result is the same as DeliverTxs'. A signature
// the state's Seen remembers (see UseSeen) is not verified again; the
// result is the same either way, so validators that remember and
// validators that verify agree.
func (s *State) CheckTxs(raws [][]byte) Checked {
	c := Checked{txs: make([]*Tx, len(raws)), errs: make([]error, len(raws)), keys: make([][]byte, len(raws)), valid: make([]bool, len(raws))}
	bv := sigs.NewBatch()
	var in []int
	for i, raw := range raws {
		c.txs[i], c.errs[i] = DecodeTx(raw)
		if c.errs[i] != nil {
			continue
		}
		tx := c.txs[i]
		if p, ok := s.participants[tx.Signer]; ok {
			c.keys[i] = p.PubKey
			if s.seen.Has(p.PubKey, tx.SignBytes, tx.Signature) {
				c.valid[i] = true
			} else if bv.Add(p.PubKey, tx.SignBytes, tx.Signature) {
				in = append(in, i)
			}
		}
	}
	valid := bv.Verify()
	for j, i := range in {
		c.valid[i] = valid[j]
	}
	return c
}

// UseSeen makes the state take seen's word for the signatures it
// remembers (of transactions and of the readings in them): a node that
// verified them when they entered its mempool, or a simulator that
// verified what its homes and meters signed, need not verify them again.
// seen is a cache, not state: nil verifies everything.
func (s *State) UseSeen(seen *sigs.Seen) { s.seen = seen }

// JoinChecked puts checked parts of a block back together, in order.
func JoinChecked(parts ...Checked) Checked {
	var c Checked
	for _, p := range parts {
		c.txs, c.errs = append(c.txs, p.txs...), append(c.errs, p.errs...)
		c.keys, c.valid = append(c.keys, p.keys...), append(c.valid, p.valid...)
	}
	return c
}

// DeliverChecked applies checked transactions in order.
func (s *State) DeliverChecked(c Checked) []TxResult {
	out := make([]TxResult, len(c.txs))
	for i, tx := range c.txs {
		if c.errs[i] != nil {
			out[i] = TxResult{Code: CodeOf(c.errs[i]), Log: c.errs[i].Error()}
			continue
		}
		// The batch vouches for a signature only against the key the
		// signer had at the start of the block.
		out[i] = s.deliver(tx, c.keys[i], c.keys[i] != nil && c.valid[i])
	}
	return out
}

// DeliverTx applies one transaction.
func (s *State) DeliverTx(raw []byte) TxResult {
	return s.DeliverTxs([][]byte{raw})[0]
}

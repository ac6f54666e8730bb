package contract_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

// Property tests: random sequences of transactions and blocks (see gen_test.go),
// with the ledger's invariants checked after every block:
//
//   - money is conserved: Σ balances + Σ escrow = Issued − Redeemed, and
//     only an accepted issue or redeem changes that total;
//   - no balance, escrow or order escrow is negative; a live bid in an open
//     listing holds exactly Wh × price; a cancelled bid, an offer and every
//     bid of a cleared listing hold nothing; each participant's escrow is
//     the sum of its orders';
//   - per cleared listing: Σ trade Wh = traded ≤ available and ≤ wanted,
//     available and wanted are the live book's; no order trades more than
//     it asked; nobody pays above their bid; PaidNano = Σ Wh × price and
//     PaidNano + RefundedNano is all the listing's escrow;
//   - each trade's value moved from its buyer to its seller: every
//     participant's money (balance + escrow) changed in the block by
//     exactly what it was issued, redeemed, paid and was paid.

func TestPropertyLedgerInvariants(t *testing.T) {
	seen := map[contract.Code]int{}
	for seed := range uint64(24) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			runProperty(t, seed+1000, 600, seen)
		})
	}
	// The generator must reach every way a transaction can be refused
	// that it tries for, or the properties above prove little.
	for c := contract.CodeOK; c <= contract.CodeNotOwner; c++ {
		if c == contract.CodeBadParams {
			continue // the generator only sets valid parameters
		}
		if seen[c] == 0 {
			t.Errorf("no transaction got code %s", c.Name())
		}
	}
	t.Logf("codes: %v", seen)
}

func runProperty(t *testing.T, seed uint64, nTx int, seen map[contract.Code]int) {
	g := newGen(t, seed)
	s, _, err := contract.NewGenesis(testChain, genGenesis(), T0*ns)
	if err != nil {
		t.Fatal(err)
	}
	for height, sent := int64(1), 0; sent < nTx; height++ {
		b := g.next()
		sent += len(b.txs)
		before := money(s)
		s.BeginBlock(height, b.mt*ns)
		res := s.DeliverTxs(rawTxs(b))
		_, events := s.EndBlock()

		// What each participant's money should have become.
		want := before
		for i, r := range res {
			seen[r.Code]++
			if r.Code != contract.CodeOK {
				continue
			}
			switch m := b.txs[i].msg.(type) {
			case *contract.MsgIssue:
				want[m.To] += m.Amount
			case *contract.MsgRedeem:
				want[m.From] -= m.Amount
			}
		}
		closed := map[int64]bool{}
		for _, e := range events {
			if e.Type == "CloseBidding" {
				start, _ := strconv.ParseInt(attrs(e)["listing"], 10, 64)
				closed[start] = true
			}
		}
		for _, l := range s.Listings(0, forever, true) {
			if l.Clearing == nil || l.Clearing.Height != height {
				continue
			}
			if !closed[l.Start] {
				t.Fatalf("block %d cleared listing %d without a CloseBidding event", height, l.Start)
			}
			delete(closed, l.Start)
			checkClearing(t, l)
			for _, tr := range l.Clearing.Trades {
				v := tr.Wh * tr.PricePerKWh
				want[tr.Buyer] -= v
				want[tr.Seller] += v
			}
		}
		if len(closed) != 0 {
			t.Fatalf("block %d: CloseBidding for listings not cleared: %v", height, closed)
		}
		// Participants registered in the block start with nothing.
		got := money(s)
		for id := range got {
			want[id] += 0
		}
		for id, v := range want {
			if got[id] != v {
				t.Fatalf("block %d (seed %d): %s has %d, want %d", height, seed, id, got[id], v)
			}
		}
		checkInvariants(t, s, height)
	}
}

// money is each participant's balance plus escrow.
func money(s *contract.State) map[string]int64 {
	out := map[string]int64{}
	for _, p := range s.Participants() {
		out[p.ID] = p.Balance + p.Escrow
	}
	return out
}

func checkInvariants(t *testing.T, s *contract.State, height int64) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("block %d: %s", height, fmt.Sprintf(format, args...))
	}
	in := s.Info()
	if in.Balances+in.Escrow != in.Issued-in.Redeemed || in.Supply != in.Issued-in.Redeemed {
		fail("money not conserved: %+v", in)
	}
	escrow := map[string]int64{}
	for _, p := range s.Participants() {
		if p.Balance < 0 || p.Escrow < 0 {
			fail("negative wallet %+v", p)
		}
	}
	open := 0
	for _, l := range s.Listings(0, forever, true) {
		if l.State == contract.StateAuthorizeOffers {
			open++
			if l.Clearing != nil {
				fail("open listing %d has a clearing", l.Start)
			}
		} else if l.Clearing == nil {
			fail("closed listing %d has no clearing", l.Start)
		}
		if int64(len(l.Book)) != l.Orders {
			fail("listing %d: %d orders in the book, Orders = %d", l.Start, len(l.Book), l.Orders)
		}
		for _, o := range l.Book {
			escrow[o.Participant] += o.Escrow
			switch {
			case o.Escrow < 0:
				fail("order %+v: negative escrow", o)
			case o.Side == contract.SideOffer || o.Cancelled || l.State == contract.StateBidsClosed:
				if o.Escrow != 0 {
					fail("order %+v in %s listing holds escrow", o, l.State)
				}
			case o.Escrow != o.Wh*o.PricePerKWh:
				fail("live bid %+v holds %d, want %d", o, o.Escrow, o.Wh*o.PricePerKWh)
			}
		}
	}
	if open != in.OpenListings {
		fail("%d open listings, info says %d", open, in.OpenListings)
	}
	for _, p := range s.Participants() {
		if p.Escrow != escrow[p.ID] {
			fail("%s escrow %d, its orders hold %d", p.ID, p.Escrow, escrow[p.ID])
		}
	}
}

// checkClearing checks one cleared listing against its own book.
func checkClearing(t *testing.T, l contract.ListingView) {
	t.Helper()
	c := l.Clearing
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("listing %d (%s): %s\nclearing %+v", l.Start, l.Mechanism, fmt.Sprintf(format, args...), c)
	}
	if l.State != contract.StateBidsClosed {
		fail("cleared but %s", l.State)
	}
	orders := map[string]contract.Order{}
	var available, wanted, escrowed int64
	for _, o := range l.Book {
		if o.Cancelled {
			continue
		}
		orders[o.ID] = o
		if o.Side == contract.SideBid {
			wanted += o.Wh
			escrowed += o.Wh * o.PricePerKWh
		} else {
			available += o.Wh
		}
	}
	if c.AvailableWh != available || c.WantedWh != wanted {
		fail("available %d wanted %d, the live book has %d and %d", c.AvailableWh, c.WantedWh, available, wanted)
	}
	var traded, paid int64
	filled := map[string]int64{}
	for _, tr := range c.Trades {
		bid, okB := orders[tr.BidID]
		offer, okO := orders[tr.OfferID]
		if !okB || !okO || bid.Side != contract.SideBid || offer.Side != contract.SideOffer {
			fail("trade %+v names no live bid and offer of the listing", tr)
		}
		if tr.Buyer != bid.Participant || tr.Seller != offer.Participant || tr.Wh <= 0 {
			fail("trade %+v does not match its orders", tr)
		}
		if tr.PricePerKWh > bid.PricePerKWh || tr.PricePerKWh < 0 {
			fail("trade %+v priced above its bid %d", tr, bid.PricePerKWh)
		}
		filled[tr.BidID] += tr.Wh
		filled[tr.OfferID] += tr.Wh
		traded += tr.Wh
		paid += tr.Wh * tr.PricePerKWh
	}
	for id, wh := range filled {
		if wh > orders[id].Wh {
			fail("order %s traded %d of %d Wh", id, wh, orders[id].Wh)
		}
	}
	if traded != c.TradedWh || traded > available || traded > wanted {
		fail("traded %d (Σ trades %d), available %d, wanted %d", c.TradedWh, traded, available, wanted)
	}
	if c.PaidNano != paid {
		fail("paid %d, Σ Wh × price = %d", c.PaidNano, paid)
	}
	if c.PaidNano+c.RefundedNano != escrowed {
		fail("paid %d + refunded %d ≠ escrowed %d", c.PaidNano, c.RefundedNano, escrowed)
	}
}

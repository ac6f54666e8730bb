package market

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// randomBook returns a valid book with up to maxOrders orders per side.
// Prices come from a narrow grid so that ties are common; a seller may have
// several offers and a buyer several bids, but nobody is on both sides.
func randomBook(rng *rand.Rand, maxOrders int) Book {
	grid := int64(rng.IntN(12)) * 10000
	b := Book{GridPricePerKWh: grid, FeedInPerKWh: rng.Int64N(grid + 1)}
	price := func() int64 { return int64(rng.IntN(13)) * 10000 }
	if rng.IntN(4) == 0 {
		price = func() int64 { return rng.Int64N(150000) }
	}
	for i := range rng.IntN(maxOrders + 1) {
		b.Offers = append(b.Offers, Order{
			ID:          fmt.Sprintf("o%d", i),
			Participant: fmt.Sprintf("S%d", rng.IntN(5)),
			Wh:          1 + rng.Int64N(3000),
			PricePerKWh: price(),
		})
	}
	for i := range rng.IntN(maxOrders + 1) {
		b.Bids = append(b.Bids, Order{
			ID:          fmt.Sprintf("b%d", i),
			Participant: fmt.Sprintf("B%d", rng.IntN(5)),
			Wh:          1 + rng.Int64N(3000),
			PricePerKWh: price(),
		})
	}
	return b
}

// checkInvariants checks the properties every clearing of a valid book must
// have, independently of how Clear computed it.
func checkInvariants(t testing.TB, m Mechanism, b Book, r Result) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s on %+v:\nresult %+v\n%s", m, b, r, fmt.Sprintf(format, args...))
	}
	if r.Mechanism != m {
		fail("mechanism %q", r.Mechanism)
	}
	if r.Trades == nil || r.GridImport == nil || r.GridExport == nil {
		fail("nil slice")
	}
	bidIndex := make(map[string]int, len(b.Bids))
	for i, o := range b.Bids {
		bidIndex[o.ID] = i
	}
	offerIndex := make(map[string]int, len(b.Offers))
	for i, o := range b.Offers {
		offerIndex[o.ID] = i
	}
	bidGot := make([]int64, len(b.Bids))
	offerSold := make([]int64, len(b.Offers))
	var traded int64
	for _, tr := range r.Trades {
		bi, ok1 := bidIndex[tr.BidID]
		oi, ok2 := offerIndex[tr.OfferID]
		if !ok1 || !ok2 {
			fail("trade %+v names unknown orders", tr)
		}
		bid, off := b.Bids[bi], b.Offers[oi]
		if tr.Buyer != bid.Participant || tr.Seller != off.Participant {
			fail("trade %+v: wrong participants", tr)
		}
		if tr.Buyer == tr.Seller {
			fail("trade %+v: buyer is its own seller", tr)
		}
		if tr.Wh <= 0 {
			fail("trade %+v: non-positive wh", tr)
		}
		bidGot[bi] += tr.Wh
		offerSold[oi] += tr.Wh
		traded += tr.Wh
		switch m {
		case AverageBid:
			if r.MCP == nil || tr.PricePerKWh != *r.MCP || bid.PricePerKWh < *r.MCP || off.PricePerKWh > *r.MCP {
				fail("trade %+v: price not MCP, or orders on the wrong side of it", tr)
			}
		case Uniform:
			if r.MCP == nil || tr.PricePerKWh != *r.MCP || bid.PricePerKWh < *r.MCP || *r.MCP < off.PricePerKWh {
				fail("trade %+v: want bid ≥ price = MCP ≥ offer", tr)
			}
		case PayAsBid:
			if tr.PricePerKWh != bid.PricePerKWh || tr.PricePerKWh < off.PricePerKWh {
				fail("trade %+v: want price = bid ≥ offer", tr)
			}
		}
	}
	checkFlows(t, "import", b.Bids, bidGot, r.GridImport, fail)
	checkFlows(t, "export", b.Offers, offerSold, r.GridExport, fail)

	var available, wanted int64
	for _, o := range b.Offers {
		available += o.Wh
	}
	for _, o := range b.Bids {
		wanted += o.Wh
	}
	if r.AvailableWh != available || r.WantedWh != wanted || r.TradedWh != traded {
		fail("totals: want available %d wanted %d traded %d", available, wanted, traded)
	}
	if traded > available || traded > wanted {
		fail("traded more than available or wanted")
	}

	switch m {
	case AverageBid:
		if (r.MCP != nil) != (len(b.Bids) > 0 && len(b.Offers) > 0) {
			fail("MCP presence")
		}
		if r.MCP == nil {
			break
		}
		if want := refAverageBidMCP(b); *r.MCP != want {
			fail("MCP %d, want %d", *r.MCP, want)
		}
		if *r.MCP < b.FeedInPerKWh || *r.MCP > b.GridPricePerKWh {
			fail("MCP outside [feed-in, grid]")
		}
		// Every eligible bid is served until the eligible offers run out.
		var demand, supply int64
		for _, o := range b.Bids {
			if o.PricePerKWh >= *r.MCP {
				demand += o.Wh
			}
		}
		for _, o := range b.Offers {
			if o.PricePerKWh <= *r.MCP {
				supply += o.Wh
			}
		}
		if traded != min(demand, supply) {
			fail("traded %d, want min(eligible demand %d, supply %d)", traded, demand, supply)
		}
	case Uniform, PayAsBid:
		if (r.MCP != nil) != (len(r.Trades) > 0) {
			fail("MCP presence")
		}
		if want := bruteForceMeritVolume(b); traded != want {
			fail("traded %d, want merit-order volume %d", traded, want)
		}
	}
}

// checkFlows checks that each order's grid flow is exactly what it did not
// trade, listed in arrival order, with no zero entries.
func checkFlows(t testing.TB, kind string, orders []Order, tradedWh []int64, flows []GridFlow, fail func(string, ...any)) {
	t.Helper()
	k := 0
	for i, o := range orders {
		left := o.Wh - tradedWh[i]
		if left < 0 {
			fail("%s: order %q traded %d > its %d Wh", kind, o.ID, tradedWh[i], o.Wh)
		}
		if left == 0 {
			continue
		}
		want := GridFlow{OrderID: o.ID, Participant: o.Participant, Wh: left}
		if k >= len(flows) || flows[k] != want {
			fail("%s #%d: want %+v", kind, k, want)
		}
		k++
	}
	if k != len(flows) {
		fail("%s: %d extra entries", kind, len(flows)-k)
	}
}

// refAverageBidMCP recomputes the average-bid MCP with math/big.
func refAverageBidMCP(b Book) int64 {
	num, den := new(big.Int), new(big.Int)
	for _, o := range b.Bids {
		num.Add(num, new(big.Int).Mul(big.NewInt(o.Wh), big.NewInt(o.PricePerKWh)))
		den.Add(den, big.NewInt(o.Wh))
	}
	// round half up: floor((2·num + den) / (2·den))
	num.Add(num.Lsh(num, 1), den)
	mean := num.Div(num, den.Lsh(den, 1)).Int64()
	return min(max(mean, b.FeedInPerKWh), b.GridPricePerKWh)
}

// bruteForceMeritVolume is the volume where the aggregate demand and supply
// curves cross: the maximum over every order price p of min(Σ bid Wh priced
// ≥ p, Σ offer Wh priced ≤ p).
func bruteForceMeritVolume(b Book) int64 {
	var best int64
	for _, side := range [][]Order{b.Bids, b.Offers} {
		for _, at := range side {
			var demand, supply int64
			for _, o := range b.Bids {
				if o.PricePerKWh >= at.PricePerKWh {
					demand += o.Wh
				}
			}
			for _, o := range b.Offers {
				if o.PricePerKWh <= at.PricePerKWh {
					supply += o.Wh
				}
			}
			best = max(best, min(demand, supply))
		}
	}
	return best
}

// refClear is a naive O(n²) restatement of the rules, to compare Clear's
// full output against: at each step it scans for the next bid and offer.
func refClear(m Mechanism, b Book) Result {
	bidLeft := make([]int64, len(b.Bids))
	offerLeft := make([]int64, len(b.Offers))
	r := Result{Mechanism: m, Trades: []Trade{}}
	for i, o := range b.Bids {
		bidLeft[i] = o.Wh
		r.WantedWh += o.Wh
	}
	for i, o := range b.Offers {
		offerLeft[i] = o.Wh
		r.AvailableWh += o.Wh
	}
	// nextBid: the unfilled bid with the highest price, earliest on ties.
	nextBid := func(minPrice int64) int {
		best := -1
		for i, o := range b.Bids {
			if bidLeft[i] > 0 && o.PricePerKWh >= minPrice && (best < 0 || o.PricePerKWh > b.Bids[best].PricePerKWh) {
				best = i
			}
		}
		return best
	}
	trade := func(bi, oi int, price int64) {
		wh := min(bidLeft[bi], offerLeft[oi])
		bidLeft[bi] -= wh
		offerLeft[oi] -= wh
		r.TradedWh += wh
		r.Trades = append(r.Trades, Trade{b.Bids[bi].ID, b.Offers[oi].ID, b.Bids[bi].Participant, b.Offers[oi].Participant, wh, price})
	}
	switch m {
	case AverageBid:
		if len(b.Bids) == 0 || len(b.Offers) == 0 {
			break
		}
		mcp := refAverageBidMCP(b)
		r.MCP = &mcp
		for {
			bi := nextBid(mcp)
			oi := -1 // the first offer, in arrival order, with Wh left at or below MCP
			for i, o := range b.Offers {
				if offerLeft[i] > 0 && o.PricePerKWh <= mcp {
					oi = i
					break
				}
			}
			if bi < 0 || oi < 0 {
				break
			}
			trade(bi, oi, mcp)
		}
	case Uniform, PayAsBid:
		var lastBid, lastOffer int64
		for {
			bi := nextBid(0)
			oi := -1
			for i, o := range b.Offers {
				if offerLeft[i] > 0 && (oi < 0 || o.PricePerKWh < b.Offers[oi].PricePerKWh) {
					oi = i
				}
			}
			if bi < 0 || oi < 0 || b.Bids[bi].PricePerKWh < b.Offers[oi].PricePerKWh {
				break
			}
			lastBid, lastOffer = b.Bids[bi].PricePerKWh, b.Offers[oi].PricePerKWh
			trade(bi, oi, lastBid)
		}
		if len(r.Trades) > 0 {
			mcp := (lastBid + lastOffer + 1) / 2
			r.MCP = &mcp
			if m == Uniform {
				for k := range r.Trades {
					r.Trades[k].PricePerKWh = mcp
				}
			}
		}
	}
	r.GridImport, r.GridExport = []GridFlow{}, []GridFlow{}
	for i, o := range b.Bids {
		if bidLeft[i] > 0 {
			r.GridImport = append(r.GridImport, GridFlow{o.ID, o.Participant, bidLeft[i]})
		}
	}
	for i, o := range b.Offers {
		if offerLeft[i] > 0 {
			r.GridExport = append(r.GridExport, GridFlow{o.ID, o.Participant, offerLeft[i]})
		}
	}
	return r
}

func TestPropertiesRandomBooks(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261125, 1400))
	withTrades := map[Mechanism]int{} // guards the generator's usefulness
	const books = 3000
	for n := range books {
		maxOrders := 8
		if n%10 == 0 {
			maxOrders = 60
		}
		b := randomBook(rng, maxOrders)
		if err := b.Validate(); err != nil {
			t.Fatalf("generated an invalid book: %v", err)
		}
		for _, m := range Mechanisms {
			r, err := Clear(m, b)
			if err != nil {
				t.Fatalf("%s: %v on %+v", m, err, b)
			}
			checkInvariants(t, m, b, r)
			if len(r.Trades) > 1 {
				withTrades[m]++
			}
			again, _ := Clear(m, b)
			if !reflect.DeepEqual(r, again) {
				t.Fatalf("%s: clearing twice differs:\n%+v\n%+v", m, r, again)
			}
			if want := refClear(m, b); !reflect.DeepEqual(r, want) {
				t.Fatalf("%s on %+v:\ngot  %+v\nwant %+v (naive reference)", m, b, r, want)
			}
		}
	}
	for _, m := range Mechanisms {
		t.Logf("%s: %d of %d books had several trades", m, withTrades[m], books)
		if withTrades[m] < books/10 {
			t.Errorf("%s: only %d of %d random books had several trades", m, withTrades[m], books)
		}
	}
}

// TestClearDoesNotModifyBook: the caller's slices are read, never written.
func TestClearDoesNotModifyBook(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		b := randomBook(rng, 20)
		offers, bids := slices.Clone(b.Offers), slices.Clone(b.Bids)
		for _, m := range Mechanisms {
			if _, err := Clear(m, b); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(b.Offers, offers) || !slices.Equal(b.Bids, bids) {
				t.Fatalf("%s modified the book", m)
			}
		}
	}
}

// bookFromBytes builds a book, valid or not, from fuzzer bytes: two bytes of
// tariffs, then five bytes per order.
func bookFromBytes(data []byte) Book {
	var b Book
	if len(data) >= 2 {
		b.GridPricePerKWh = int64(data[0]) * 1000
		b.FeedInPerKWh = int64(data[1]) * 1000
		data = data[2:]
	}
	for k := 0; len(data) >= 5; k, data = k+1, data[5:] {
		flags := data[0]
		o := Order{
			ID:          fmt.Sprintf("x%d", k),
			Participant: fmt.Sprintf("P%d", flags>>1&7),
			Wh:          int64(data[1])<<8 | int64(data[2]),
			PricePerKWh: (int64(data[3])<<8 | int64(data[4])) * 10,
		}
		switch flags >> 4 {
		case 1:
			o.Wh = math.MaxInt64 / max(o.Wh, 1) // huge, possibly overflowing
		case 2:
			o.PricePerKWh = -o.PricePerKWh
		case 3:
			o.ID = "x0" // possibly a duplicate
		case 4:
			o.Wh = -o.Wh
		case 5:
			o.PricePerKWh = math.MaxInt64 - o.PricePerKWh
		}
		if flags&1 == 0 {
			b.Offers = append(b.Offers, o)
		} else {
			b.Bids = append(b.Bids, o)
		}
	}
	return b
}

func FuzzClear(f *testing.F) {
	f.Add([]byte{95, 39, 0, 0, 100, 0x13, 0x88, 1, 0, 200, 0x1b, 0x58})
	f.Add([]byte{95, 39, 0, 0, 100, 0x13, 0x88, 3, 0, 200, 0x1b, 0x58, 5, 1, 0, 0x10, 0})
	f.Add([]byte{95, 96, 0, 0, 100, 0x13, 0x88})
	f.Add([]byte{255, 0, 0x10, 0, 1, 0, 1, 0x11, 0, 1, 0, 1})
	f.Add([]byte{0, 0, 0x50, 0, 1, 0, 1, 0x51, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := bookFromBytes(data)
		verr := b.Validate()
		for _, m := range Mechanisms {
			r, err := Clear(m, b)
			if (err == nil) != (verr == nil) {
				t.Fatalf("%s: Clear error %v, Validate error %v", m, err, verr)
			}
			if err == nil {
				checkInvariants(t, m, b, r)
			}
		}
	})
}

// benchBook returns n orders, half bids and half offers, with prices in
// 40000–95000 and 100–5000 Wh each.
func benchBook(n int) Book {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	b := Book{GridPricePerKWh: 95000, FeedInPerKWh: 39000,
		Offers: make([]Order, n/2), Bids: make([]Order, n-n/2)}
	for i := range b.Offers {
		b.Offers[i] = Order{ID: fmt.Sprintf("o%d", i), Participant: fmt.Sprintf("S%d", i),
			Wh: 100 + rng.Int64N(4901), PricePerKWh: 40000 + rng.Int64N(55001)}
	}
	for i := range b.Bids {
		b.Bids[i] = Order{ID: fmt.Sprintf("b%d", i), Participant: fmt.Sprintf("B%d", i),
			Wh: 100 + rng.Int64N(4901), PricePerKWh: 40000 + rng.Int64N(55001)}
	}
	return b
}

func BenchmarkClear(b *testing.B) {
	for _, m := range Mechanisms {
		b.Run(string(m), func(b *testing.B) {
			for _, n := range []int{100, 1000, 10000, 100000} {
				book := benchBook(n)
				b.Run(fmt.Sprint(n), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := Clear(m, book); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/order")
				})
			}
		})
	}
}

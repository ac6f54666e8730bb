package market

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// One test per clearing rule, in the manner of etcd raft's
// raft_paper_test.go. Every expectation is computed by hand in the comments.

const (
	testGrid  = 95000
	testFeed  = 39000
	testWhBig = math.MaxInt64 / 2
)

// bid and offer build orders whose participant is derived from the id, so
// that trades can be written compactly with tr.
func bid(id string, wh, price int64) Order {
	return Order{ID: id, Participant: "buyer-" + id, Wh: wh, PricePerKWh: price}
}

func offer(id string, wh, price int64) Order {
	return Order{ID: id, Participant: "seller-" + id, Wh: wh, PricePerKWh: price}
}

func tr(bidID, offerID string, wh, price int64) Trade {
	return Trade{BidID: bidID, OfferID: offerID, Buyer: "buyer-" + bidID, Seller: "seller-" + offerID, Wh: wh, PricePerKWh: price}
}

func imp(bidID string, wh int64) GridFlow {
	return GridFlow{OrderID: bidID, Participant: "buyer-" + bidID, Wh: wh}
}

func exp(offerID string, wh int64) GridFlow {
	return GridFlow{OrderID: offerID, Participant: "seller-" + offerID, Wh: wh}
}

func testBook(offers, bids []Order) Book {
	return Book{GridPricePerKWh: testGrid, FeedInPerKWh: testFeed, Offers: offers, Bids: bids}
}

func mustClear(t *testing.T, m Mechanism, b Book) Result {
	t.Helper()
	r, err := Clear(m, b)
	if err != nil {
		t.Fatalf("Clear(%s): %v", m, err)
	}
	if r.Mechanism != m {
		t.Errorf("Mechanism = %q, want %q", r.Mechanism, m)
	}
	return r
}

func ptr(v int64) *int64 { return &v }

// check compares the parts of r that a rule determines.
func check(t *testing.T, r Result, mcp *int64, trades []Trade, imports, exports []GridFlow) {
	t.Helper()
	switch {
	case mcp == nil && r.MCP != nil:
		t.Errorf("MCP = %d, want nil", *r.MCP)
	case mcp != nil && r.MCP == nil:
		t.Errorf("MCP = nil, want %d", *mcp)
	case mcp != nil && *mcp != *r.MCP:
		t.Errorf("MCP = %d, want %d", *r.MCP, *mcp)
	}
	if !slices.Equal(r.Trades, trades) {
		t.Errorf("Trades =\n\t%+v\nwant\n\t%+v", r.Trades, trades)
	}
	if !slices.Equal(r.GridImport, imports) {
		t.Errorf("GridImport = %+v, want %+v", r.GridImport, imports)
	}
	if !slices.Equal(r.GridExport, exports) {
		t.Errorf("GridExport = %+v, want %+v", r.GridExport, exports)
	}
}

func TestAverageBidNoTradesWithoutBids(t *testing.T) {
	r := mustClear(t, AverageBid, testBook([]Order{offer("o1", 500, 40000), offer("o2", 700, 60000)}, nil))
	check(t, r, nil, []Trade{}, []GridFlow{}, []GridFlow{exp("o1", 500), exp("o2", 700)})
}

func TestAverageBidNoTradesWithoutOffers(t *testing.T) {
	r := mustClear(t, AverageBid, testBook(nil, []Order{bid("b1", 500, 90000), bid("b2", 700, 60000)}))
	check(t, r, nil, []Trade{}, []GridFlow{imp("b1", 500), imp("b2", 700)}, []GridFlow{})
}

func TestAverageBidMCPIsVolumeWeightedMeanRoundedHalfUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		bids []Order
		want int64
	}{
		// (1000×70000 + 3000×80001) / 4000 = 310003000/4000 = 77500.75
		{"above half", []Order{bid("b1", 1000, 70000), bid("b2", 3000, 80001)}, 77501},
		// (1×70000 + 1×70001) / 2 = 70000.5
		{"exactly half", []Order{bid("b1", 1, 70000), bid("b2", 1, 70001)}, 70001},
		// (3×70000 + 1×70001) / 4 = 70000.25
		{"below half", []Order{bid("b1", 3, 70000), bid("b2", 1, 70001)}, 70000},
		// Weighted, not plain: (1×40000 + 9×90000) / 10 = 85000, not 65000.
		{"weighted by volume", []Order{bid("b1", 1, 40000), bid("b2", 9, 90000)}, 85000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustClear(t, AverageBid, testBook([]Order{offer("o1", 1, 0)}, tc.bids))
			if r.MCP == nil || *r.MCP != tc.want {
				t.Errorf("MCP = %v, want %d", r.MCP, tc.want)
			}
		})
	}
}

func TestAverageBidMCPHugeVolumesNoOverflow(t *testing.T) {
	// Σ wh × price is about 2.8e24, far beyond int64; the 128-bit mean is
	// exact: (W×60000 + W×70001) / 2W = 65000.5 → 65001.
	b := Book{GridPricePerKWh: 95000, FeedInPerKWh: 0,
		Offers: []Order{offer("o1", 1, 0)},
		Bids:   []Order{bid("b1", testWhBig/95000, 60000), bid("b2", testWhBig/95000, 70001)}}
	r := mustClear(t, AverageBid, b)
	if r.MCP == nil || *r.MCP != 65001 {
		t.Errorf("MCP = %v, want 65001", r.MCP)
	}
}

func TestAverageBidMCPClampedToFeedIn(t *testing.T) {
	// The mean 10000 is below the feed-in 39000: MCP is 39000. No bid is at
	// or above it, so nothing trades, but MCP is still reported.
	r := mustClear(t, AverageBid, testBook(
		[]Order{offer("o1", 500, 0)},
		[]Order{bid("b1", 500, 10000)}))
	check(t, r, ptr(testFeed), []Trade{}, []GridFlow{imp("b1", 500)}, []GridFlow{exp("o1", 500)})
}

func TestAverageBidMCPClampedToGridPrice(t *testing.T) {
	// The mean 120000 is above the grid price 95000: MCP is 95000.
	r := mustClear(t, AverageBid, testBook(
		[]Order{offer("o1", 500, 90000)},
		[]Order{bid("b1", 300, 120000)}))
	check(t, r, ptr(testGrid), []Trade{tr("b1", "o1", 300, testGrid)}, []GridFlow{}, []GridFlow{exp("o1", 200)})
}

func TestAverageBidServesHighestBidFirst(t *testing.T) {
	// MCP = (500×70000 + 800×80000 + 1000×40000) / 2300 = 139000000/2300
	// = 60434.78 → 60435. b3 is below it. b2 (80000) goes before b1 (70000):
	// b2 takes 800 of o1's 1000, b1 the remaining 200.
	r := mustClear(t, AverageBid, testBook(
		[]Order{offer("o1", 1000, 40000)},
		[]Order{bid("b1", 500, 70000), bid("b2", 800, 80000), bid("b3", 1000, 40000)}))
	check(t, r, ptr(60435),
		[]Trade{tr("b2", "o1", 800, 60435), tr("b1", "o1", 200, 60435)},
		[]GridFlow{imp("b1", 300), imp("b3", 1000)}, []GridFlow{})
}

func TestAverageBidTiesByArrival(t *testing.T) {
	// MCP = (600×70000×2 + 1000×40000) / 2200 = 56363.6 → 56364. b1 and b2
	// tie at 70000; b1 arrived first and gets 600 of 800, b2 the other 200.
	r := mustClear(t, AverageBid, testBook(
		[]Order{offer("o1", 800, 40000)},
		[]Order{bid("b1", 600, 70000), bid("b2", 600, 70000), bid("b3", 1000, 40000)}))
	check(t, r, ptr(56364),
		[]Trade{tr("b1", "o1", 600, 56364), tr("b2", "o1", 200, 56364)},
		[]GridFlow{imp("b2", 400), imp("b3", 1000)}, []GridFlow{})
}

func TestAverageBidOffersFIFO(t *testing.T) {
	// MCP = 60000 (one bid). o1 arrived first, so it sells before the
	// cheaper o2: b1 takes 500 from o1, then 100 from o2.
	r := mustClear(t, AverageBid, testBook(
		[]Order{offer("o1", 500, 50000), offer("o2", 500, 30000)},
		[]Order{bid("b1", 600, 60000)}))
	check(t, r, ptr(60000),
		[]Trade{tr("b1", "o1", 500, 60000), tr("b1", "o2", 100, 60000)},
		[]GridFlow{}, []GridFlow{exp("o2", 400)})
}

func TestAverageBidExcludesOffersAboveMCP(t *testing.T) {
	// MCP = 60000. o1 at 65000 is above it and sells nothing, although it
	// arrived first; b1 gets o2's 500 and imports 100.
	r := mustClear(t, AverageBid, testBook(
		[]Order{offer("o1", 500, 65000), offer("o2", 500, 50000)},
		[]Order{bid("b1", 600, 60000)}))
	check(t, r, ptr(60000),
		[]Trade{tr("b1", "o2", 500, 60000)},
		[]GridFlow{imp("b1", 100)}, []GridFlow{exp("o1", 500)})
}

func TestAverageBidIncludesOrdersAtMCP(t *testing.T) {
	// MCP = 60000; a bid and an offer priced exactly at it take part.
	r := mustClear(t, AverageBid, testBook(
		[]Order{offer("o1", 500, 60000)},
		[]Order{bid("b1", 400, 60000)}))
	check(t, r, ptr(60000), []Trade{tr("b1", "o1", 400, 60000)}, []GridFlow{}, []GridFlow{exp("o1", 100)})
}

func TestAverageBidExcludesBidsBelowMCP(t *testing.T) {
	// MCP = (1000×50000 + 1000×70000) / 2000 = 60000: b1 at 50000 buys
	// nothing although o1 could serve it.
	r := mustClear(t, AverageBid, testBook(
		[]Order{offer("o1", 3000, 40000)},
		[]Order{bid("b1", 1000, 50000), bid("b2", 1000, 70000)}))
	check(t, r, ptr(60000),
		[]Trade{tr("b2", "o1", 1000, 60000)},
		[]GridFlow{imp("b1", 1000)}, []GridFlow{exp("o1", 2000)})
}

func TestAverageBidBidTakesFromCurrentOfferUntilFilled(t *testing.T) {
	// MCP = 60000. b1 (1000) drains o1 (300) and o2 (300) and takes 400 of
	// o3; b2 (500) continues with o3, leaving it 100.
	r := mustClear(t, AverageBid, testBook(
		[]Order{offer("o1", 300, 40000), offer("o2", 300, 41000), offer("o3", 1000, 42000)},
		[]Order{bid("b1", 1000, 60000), bid("b2", 500, 60000)}))
	check(t, r, ptr(60000),
		[]Trade{tr("b1", "o1", 300, 60000), tr("b1", "o2", 300, 60000), tr("b1", "o3", 400, 60000), tr("b2", "o3", 500, 60000)},
		[]GridFlow{}, []GridFlow{exp("o3", 100)})
}

// meritBook: bids by price b2 80000, b1 60000, b3 45000; offers o2 40000,
// o1 50000, o3 70000. b2 takes all of o2 (1000); b1 takes 1000 of o1 (1500);
// b3 (45000) does not cross o1 (50000). Last matched pair b1/o1: the
// midpoint is 55000.
func meritBook() Book {
	return testBook(
		[]Order{offer("o1", 1500, 50000), offer("o2", 1000, 40000), offer("o3", 1000, 70000)},
		[]Order{bid("b1", 1000, 60000), bid("b2", 1000, 80000), bid("b3", 1000, 45000)})
}

func TestUniformMatchesMeritOrder(t *testing.T) {
	r := mustClear(t, Uniform, meritBook())
	check(t, r, ptr(55000),
		[]Trade{tr("b2", "o2", 1000, 55000), tr("b1", "o1", 1000, 55000)},
		[]GridFlow{imp("b3", 1000)}, []GridFlow{exp("o1", 500), exp("o3", 1000)})
}

func TestUniformTiesByArrival(t *testing.T) {
	// b1/b2 tie, o1/o2 tie: earlier arrivals first on both sides.
	// MCP = (60000+50000)/2 = 55000.
	r := mustClear(t, Uniform, testBook(
		[]Order{offer("o1", 300, 50000), offer("o2", 300, 50000)},
		[]Order{bid("b1", 400, 60000), bid("b2", 400, 60000)}))
	check(t, r, ptr(55000),
		[]Trade{tr("b1", "o1", 300, 55000), tr("b1", "o2", 100, 55000), tr("b2", "o2", 200, 55000)},
		[]GridFlow{imp("b2", 200)}, []GridFlow{})
}

func TestUniformMCPIsMidpointRoundedHalfUp(t *testing.T) {
	for _, tc := range []struct {
		bid, offer, want int64
	}{
		{60000, 50000, 55000},
		{60001, 50000, 55001}, // 55000.5 rounds up
		{50000, 50000, 50000},
		{1, 0, 1},
		{0, 0, 0},
	} {
		b := Book{GridPricePerKWh: testGrid, FeedInPerKWh: testFeed,
			Offers: []Order{offer("o1", 100, tc.offer)}, Bids: []Order{bid("b1", 100, tc.bid)}}
		r := mustClear(t, Uniform, b)
		if r.MCP == nil || *r.MCP != tc.want {
			t.Errorf("bid %d, offer %d: MCP = %v, want %d", tc.bid, tc.offer, r.MCP, tc.want)
		}
	}
}

func TestMidpointNoOverflow(t *testing.T) {
	for _, tc := range []struct{ a, b, want int64 }{
		{math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64}, // …x.5 rounds up
		{math.MaxInt64, 0, math.MaxInt64/2 + 1},
		{3, 4, 4},
		{3, 3, 3},
		{0, 0, 0},
	} {
		if got := midpoint(tc.a, tc.b); got != tc.want {
			t.Errorf("midpoint(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestUniformNoCrossingNoMCP(t *testing.T) {
	r := mustClear(t, Uniform, testBook(
		[]Order{offer("o1", 100, 50000)},
		[]Order{bid("b1", 100, 40000)}))
	check(t, r, nil, []Trade{}, []GridFlow{imp("b1", 100)}, []GridFlow{exp("o1", 100)})
}

func TestPayAsBidPricesAtBid(t *testing.T) {
	// Same matching as TestUniformMatchesMeritOrder; each trade at its bid's
	// price, MCP still the last pair's midpoint.
	r := mustClear(t, PayAsBid, meritBook())
	check(t, r, ptr(55000),
		[]Trade{tr("b2", "o2", 1000, 80000), tr("b1", "o1", 1000, 60000)},
		[]GridFlow{imp("b3", 1000)}, []GridFlow{exp("o1", 500), exp("o3", 1000)})
}

func TestPayAsBidNoCrossingNoMCP(t *testing.T) {
	r := mustClear(t, PayAsBid, testBook(
		[]Order{offer("o1", 100, 50000)},
		[]Order{bid("b1", 100, 49999)}))
	check(t, r, nil, []Trade{}, []GridFlow{imp("b1", 100)}, []GridFlow{exp("o1", 100)})
}

func TestUnmatchedBidsImportFromGrid(t *testing.T) {
	// Under every rule b2 is the only bid served (average-bid: MCP =
	// 225000000/2800 = 80357.1 → 80357; merit order: b2 is the highest), and
	// it exhausts o1. Imports follow bid arrival order, not merit order.
	b := testBook(
		[]Order{offer("o1", 1000, 40000)},
		[]Order{bid("b1", 300, 50000), bid("b2", 2000, 90000), bid("b3", 500, 60000)})
	for _, m := range Mechanisms {
		r := mustClear(t, m, b)
		want := []GridFlow{imp("b1", 300), imp("b2", 1000), imp("b3", 500)}
		if !slices.Equal(r.GridImport, want) {
			t.Errorf("%s: GridImport = %+v, want %+v", m, r.GridImport, want)
		}
		if len(r.GridExport) != 0 {
			t.Errorf("%s: GridExport = %+v, want none", m, r.GridExport)
		}
	}
}

func TestUnsoldOffersExportToGrid(t *testing.T) {
	// b1 wants 1000 at 90000. Average-bid (MCP 90000) takes offers in arrival
	// order: o1 300, o2 700. The merit order takes the cheapest, o2, for all
	// 1000. Exports follow offer arrival order and omit sold-out offers.
	b := testBook(
		[]Order{offer("o1", 300, 80000), offer("o2", 2000, 40000), offer("o3", 500, 85000)},
		[]Order{bid("b1", 1000, 90000)})
	for _, tc := range []struct {
		m    Mechanism
		want []GridFlow
	}{
		{AverageBid, []GridFlow{exp("o2", 1300), exp("o3", 500)}},
		{Uniform, []GridFlow{exp("o1", 300), exp("o2", 1000), exp("o3", 500)}},
		{PayAsBid, []GridFlow{exp("o1", 300), exp("o2", 1000), exp("o3", 500)}},
	} {
		r := mustClear(t, tc.m, b)
		if !slices.Equal(r.GridExport, tc.want) {
			t.Errorf("%s: GridExport = %+v, want %+v", tc.m, r.GridExport, tc.want)
		}
		if len(r.GridImport) != 0 {
			t.Errorf("%s: GridImport = %+v, want none", tc.m, r.GridImport)
		}
	}
}

func TestReportsAvailableWantedTraded(t *testing.T) {
	// Offers 1500+1000+1000 = 3500 Wh, bids 3×1000 = 3000 Wh; 2000 trade
	// under the merit order. Average-bid: MCP = (60000+80000+45000)/3 =
	// 61666.7 → 61667; b2 alone is at or above it and takes o1 (50000 ≤
	// MCP) for 1000.
	for _, tc := range []struct {
		m      Mechanism
		traded int64
	}{{AverageBid, 1000}, {Uniform, 2000}, {PayAsBid, 2000}} {
		r := mustClear(t, tc.m, meritBook())
		if r.AvailableWh != 3500 || r.WantedWh != 3000 || r.TradedWh != tc.traded {
			t.Errorf("%s: available/wanted/traded = %d/%d/%d, want 3500/3000/%d",
				tc.m, r.AvailableWh, r.WantedWh, r.TradedWh, tc.traded)
		}
	}
}

func TestEmptyBookClearsToNothing(t *testing.T) {
	for _, m := range Mechanisms {
		r := mustClear(t, m, Book{})
		check(t, r, nil, []Trade{}, []GridFlow{}, []GridFlow{})
		if r.Trades == nil || r.GridImport == nil || r.GridExport == nil {
			t.Errorf("%s: nil slices in %+v", m, r)
		}
		if r.AvailableWh != 0 || r.WantedWh != 0 || r.TradedWh != 0 {
			t.Errorf("%s: non-zero totals in %+v", m, r)
		}
	}
}

func TestClearUnknownMechanism(t *testing.T) {
	for _, m := range []Mechanism{"", "Uniform", "vickrey"} {
		if _, err := Clear(m, Book{}); !errors.Is(err, ErrUnknownMechanism) {
			t.Errorf("Clear(%q) error = %v, want ErrUnknownMechanism", m, err)
		}
	}
}

func TestClearRejectsInvalidBook(t *testing.T) {
	b := testBook([]Order{offer("o1", 0, 40000)}, nil)
	for _, m := range Mechanisms {
		if _, err := Clear(m, b); !errors.Is(err, ErrNonPositiveWh) {
			t.Errorf("%s: error = %v, want ErrNonPositiveWh", m, err)
		}
	}
}

func TestValue(t *testing.T) {
	for _, tc := range []struct {
		wh, price, want int64
		overflow        bool
	}{
		{2500, 52000, 130000000, false},
		{0, math.MaxInt64, 0, false},
		{1, math.MaxInt64, math.MaxInt64, false},
		{2, math.MaxInt64/2 + 1, 0, true},
		{math.MaxInt64, 2, 0, true},
		{1 << 32, 1 << 31, 0, true}, // exactly 2⁶³
		{-1, math.MaxInt64, -math.MaxInt64, false},
		{-(1 << 32), 1 << 31, math.MinInt64, false}, // exactly -2⁶³
		{-1, math.MinInt64, 0, true},
		{math.MinInt64, -1, 0, true},
		{-3, -4, 12, false},
	} {
		got, err := Value(tc.wh, tc.price)
		if tc.overflow {
			if !errors.Is(err, ErrOverflow) {
				t.Errorf("Value(%d, %d) = %d, %v; want ErrOverflow", tc.wh, tc.price, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Value(%d, %d) = %d, %v; want %d", tc.wh, tc.price, got, err, tc.want)
		}
	}
}

// Validation: one case per sentinel, each naming the offending order.
func TestValidate(t *testing.T) {
	ok := func() Book {
		return testBook([]Order{offer("o1", 100, 40000)}, []Order{bid("b1", 100, 60000)})
	}
	for _, tc := range []struct {
		name    string
		edit    func(*Book)
		want    error
		mention string
	}{
		{"negative grid price", func(b *Book) { b.GridPricePerKWh = -1; b.FeedInPerKWh = -2 }, ErrNegativeTariff, "grid price -1"},
		{"negative feed-in", func(b *Book) { b.FeedInPerKWh = -1 }, ErrNegativeTariff, "feed-in -1"},
		{"feed-in above grid", func(b *Book) { b.FeedInPerKWh = testGrid + 1 }, ErrFeedInAboveGrid, "feed-in 95001"},
		{"empty offer id", func(b *Book) { b.Offers[0].ID = "" }, ErrEmptyID, "offer [0]"},
		{"empty bid id", func(b *Book) { b.Bids = append(b.Bids, bid("", 1, 1)) }, ErrEmptyID, "bid [1]"},
		{"empty participant", func(b *Book) { b.Bids[0].Participant = "" }, ErrEmptyParticipant, `bid "b1"`},
		{"zero wh", func(b *Book) { b.Bids[0].Wh = 0 }, ErrNonPositiveWh, `bid "b1"`},
		{"negative wh", func(b *Book) { b.Offers[0].Wh = -5 }, ErrNonPositiveWh, `offer "o1"`},
		{"negative price", func(b *Book) { b.Offers[0].PricePerKWh = -1 }, ErrNegativePrice, `offer "o1"`},
		{"duplicate id within a side", func(b *Book) { b.Offers = append(b.Offers, offer("o1", 1, 1)) }, ErrDuplicateID, `offer "o1"`},
		{"duplicate id across sides", func(b *Book) { b.Bids = append(b.Bids, Order{ID: "o1", Participant: "x", Wh: 1, PricePerKWh: 1}) }, ErrDuplicateID, `bid "o1"`},
		{"both sides", func(b *Book) { b.Bids[0].Participant = "seller-o1" }, ErrBothSides, `bid "b1": participant has both an offer and a bid: "seller-o1"`},
		{"value overflow", func(b *Book) { b.Bids[0].Wh = math.MaxInt64 / 60000 * 2 }, ErrOverflow, `bid "b1": wh × price`},
		{"value at grid price overflow", func(b *Book) { b.Offers[0].Wh = math.MaxInt64/testGrid + 1 }, ErrOverflow, `offer "o1": wh × grid price`},
		{"offered wh sum overflow", func(b *Book) {
			b.GridPricePerKWh, b.FeedInPerKWh = 0, 0
			b.Offers = []Order{offer("o1", math.MaxInt64, 0), offer("o2", 1, 0)}
		}, ErrOverflow, `offer "o2": total wh`},
		{"wanted wh sum overflow", func(b *Book) {
			b.GridPricePerKWh, b.FeedInPerKWh = 0, 0
			b.Bids = []Order{bid("b1", math.MaxInt64/2+1, 0), bid("b2", math.MaxInt64/2+1, 0)}
		}, ErrOverflow, `bid "b2": total wh`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ok()
			if err := b.Validate(); err != nil {
				t.Fatalf("base book: %v", err)
			}
			tc.edit(&b)
			err := b.Validate()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate() = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("Validate() = %q, want it to mention %q", err, tc.mention)
			}
		})
	}
}

func TestValidateAcceptsEdgeCases(t *testing.T) {
	for _, b := range []Book{
		{},                                      // empty book
		{GridPricePerKWh: 0, FeedInPerKWh: 0},   // free grid
		{GridPricePerKWh: 50, FeedInPerKWh: 50}, // feed-in equal to grid
		testBook([]Order{offer("o1", 1, 0)}, []Order{bid("b1", 1, 0)}),                                   // zero prices
		testBook([]Order{offer("o1", 1, 1), offer("o2", 1, 1)}, nil),                                     // same price
		testBook([]Order{{ID: "o1", Participant: "p", Wh: 1}, {ID: "o2", Participant: "p", Wh: 1}}, nil), // one seller, two offers
		{GridPricePerKWh: 1, Offers: []Order{offer("o1", math.MaxInt64, 1)}},                             // value exactly MaxInt64
	} {
		if err := b.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", b, err)
		}
	}
}

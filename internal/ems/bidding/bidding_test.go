package bidding

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

func p(v int64) *int64 { return &v }

func TestReferenceIsTheMedianOfRecentClearings(t *testing.T) {
	if _, ok := Reference(nil); ok {
		t.Error("reference without history")
	}
	if r, _ := Reference([]*int64{p(10), nil, p(30), p(20)}); r != 20 {
		t.Errorf("reference %d, want 20", r)
	}
	// Only the last History prices count.
	old := make([]*int64, 100)
	for i := range old {
		old[i] = p(1)
	}
	for range History {
		old = append(old, p(50))
	}
	if r, _ := Reference(old); r != 50 {
		t.Errorf("reference %d, want 50 from the recent prices", r)
	}
}

func TestPriceFollowsTheMarket(t *testing.T) {
	const grid, feed = 95_000, 39_000 // spread 56,000: a tenth is 5,600
	if got := Price(contract.SideBid, grid, feed, nil); got != 67_000+5_600 {
		t.Errorf("bid without history %d", got)
	}
	hist := []*int64{p(60_000), p(62_000), p(61_000)}
	if got := Price(contract.SideBid, grid, feed, hist); got != 61_000+5_600 {
		t.Errorf("bid %d", got)
	}
	if got := Price(contract.SideOffer, grid, feed, hist); got != 61_000-5_600 {
		t.Errorf("offer %d", got)
	}
}

// Property: never a bid above the grid tariff nor an offer below the
// feed-in, whatever the history says.
func TestPriceStaysBetweenTheTariffs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10_000 {
		feed := r.Int64N(100_000)
		grid := feed + r.Int64N(100_000)
		var hist []*int64
		for range r.IntN(30) {
			if r.IntN(5) == 0 {
				hist = append(hist, nil)
			} else {
				hist = append(hist, p(r.Int64N(300_000)))
			}
		}
		for _, side := range []contract.Side{contract.SideBid, contract.SideOffer} {
			if got := Price(side, grid, feed, hist); got < feed || got > grid {
				t.Fatalf("%s at %d outside [%d, %d]", side, got, feed, grid)
			}
		}
	}
}

func TestForIntervalSides(t *testing.T) {
	if o, ok := ForInterval(1200, false, 0, 95_000, 39_000, nil, DefaultMarginPermille); !ok || o.Side != contract.SideBid || o.Wh != 1200 {
		t.Errorf("deficit: %+v %v", o, ok)
	}
	if o, ok := ForInterval(-3000, true, 2000, 95_000, 39_000, nil, DefaultMarginPermille); !ok || o.Side != contract.SideOffer || o.Wh != 2000 {
		t.Errorf("surplus capped at capacity: %+v %v", o, ok)
	}
	if _, ok := ForInterval(-3000, false, 0, 95_000, 39_000, nil, DefaultMarginPermille); ok {
		t.Error("offer without an asset")
	}
	if _, ok := ForInterval(0, true, 5000, 95_000, 39_000, nil, DefaultMarginPermille); ok {
		t.Error("order for a balanced interval")
	}
}

// A wider margin bids higher and asks lower, always within the tariffs;
// margin 0 prices at the reference.
func TestMarginWidensThePriceAroundTheReference(t *testing.T) {
	mcp := int64(60_000)
	hist := []*int64{&mcp}
	var lastBid, lastAsk int64 = 0, 1 << 62
	for _, m := range []int64{0, 50, 100, 400, 1000, 5000} {
		bid := PriceAt(contract.SideBid, 95_000, 39_000, hist, m)
		ask := PriceAt(contract.SideOffer, 95_000, 39_000, hist, m)
		if bid < lastBid || ask > lastAsk || bid < 39_000 || bid > 95_000 || ask < 39_000 || ask > 95_000 {
			t.Errorf("margin %d‰: bid %d ask %d", m, bid, ask)
		}
		lastBid, lastAsk = bid, ask
	}
	if b := PriceAt(contract.SideBid, 95_000, 39_000, hist, 0); b != mcp {
		t.Errorf("margin 0 bids %d, want the reference %d", b, mcp)
	}
	if b := PriceAt(contract.SideBid, 95_000, 39_000, hist, 100); b != mcp+5_600 {
		t.Errorf("margin 100‰ bids %d, want %d", b, mcp+5_600)
	}
	if Price(contract.SideOffer, 95_000, 39_000, hist) != PriceAt(contract.SideOffer, 95_000, 39_000, hist, DefaultMarginPermille) {
		t.Error("Price is not PriceAt with the default margin")
	}
}

// cost is the empirical expected cost (times n) of committing q.
func cost(xs []int64, under, over, q int64) int64 {
	var c int64
	for _, x := range xs {
		if x > q {
			c += under * (x - q)
		} else {
			c += over * (q - x)
		}
	}
	return c
}

// Property: Quantile is the smallest minimiser of the empirical expected
// cost, found by brute force over every integer q across the sample (and
// a margin around it, where the cost is never lower), on thousands of
// random error distributions and costs.
func TestQuantileMinimisesTheExpectedCost(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	costOf := func() int64 {
		switch r.IntN(6) {
		case 0:
			return 0
		case 1:
			return r.Int64N(5)
		}
		return r.Int64N(100_000)
	}
	for trial := range 5_000 {
		n := 1 + r.IntN(120)
		xs := make([]int64, n)
		spread := 1 + r.Int64N(600)
		for i := range xs {
			switch trial % 3 {
			case 0: // uniform, many ties when the spread is small
				xs[i] = r.Int64N(spread) - spread/2
			case 1: // right-skewed, like a home's load
				xs[i] = int64(r.ExpFloat64()*float64(spread)/4) - spread/8
			default: // a few distinct values
				xs[i] = (r.Int64N(4) - 2) * spread / 3
			}
		}
		under, over := costOf(), costOf()
		before := slices.Clone(xs)
		got := Quantile(xs, under, over)
		if !slices.Equal(xs, before) {
			t.Fatal("Quantile modified its sample")
		}
		lo, hi := slices.Min(xs), slices.Max(xs)
		best, bestQ := int64(math.MaxInt64), int64(0)
		for q := lo; q <= hi; q++ {
			if c := cost(xs, under, over, q); c < best {
				best, bestQ = c, q
			}
		}
		for q := lo - 5; q <= hi+5; q++ {
			if c := cost(xs, under, over, q); c < best {
				t.Fatalf("trial %d: q = %d costs %d, below the minimum %d over the sample's range", trial, q, c, best)
			}
		}
		if got != bestQ {
			t.Fatalf("trial %d: n %d under %d over %d: Quantile %d (cost %d), brute force %d (cost %d)",
				trial, n, under, over, got, cost(xs, under, over, got), bestQ, best)
		}
	}
}

// The same on large values and costs, the candidates being the sample's
// values and their neighbours (the cost is linear between them).
func TestQuantileOnLargeValues(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 2_000 {
		n := 1 + r.IntN(300)
		xs := make([]int64, n)
		for i := range xs {
			xs[i] = r.Int64N(20_000_000) - 5_000_000
		}
		under, over := r.Int64N(contract.MaxPricePerKWh), r.Int64N(contract.MaxPricePerKWh)
		if trial%10 == 0 {
			under = 0
		} else if trial%10 == 1 {
			over = 0
		}
		// Costs up to 1e5 keep the brute force's sums within int64.
		under, over = under/1000, over/1000
		got := Quantile(xs, under, over)
		var best, bestQ int64 = math.MaxInt64, 0
		for _, x := range xs {
			for _, q := range []int64{x - 1, x, x + 1} {
				if c := cost(xs, under, over, q); c < best || (c == best && q < bestQ) {
					best, bestQ = c, q
				}
			}
		}
		if bestQ < slices.Min(xs) {
			bestQ = slices.Min(xs) // cost flat below the minimum: under is 0
		}
		if got != bestQ {
			t.Fatalf("trial %d: Quantile %d, brute force %d", trial, got, bestQ)
		}
	}
}

func TestQuantileEdgeCases(t *testing.T) {
	xs := []int64{-300, 50, 50, 120, 900}
	for _, c := range []struct {
		name        string
		xs          []int64
		under, over int64
		want        int64
	}{
		{"no sample: the plan", nil, 10, 10, 0},
		{"empty sample: the plan", []int64{}, 0, 5, 0},
		{"over-committing free: the maximum", xs, 1, 0, 900},
		{"under-committing free: the minimum", xs, 0, 1, -300},
		{"no cost either way: the minimum", xs, 0, 0, -300},
		{"negative costs count as 0", xs, -4, 7, -300},
		{"one error", []int64{42}, 3, 8, 42},
		{"equal costs: the lower median", []int64{4, 1, 3, 2}, 5, 5, 2},
		{"equal costs, odd sample: the median", xs, 5, 5, 50},
		{"ratio 3/4 on four: the third", []int64{40, 10, 30, 20}, 3, 1, 30},
		{"ratio 1/4 on four: the first", []int64{40, 10, 30, 20}, 1, 3, 10},
		{"ties", []int64{7, 7, 7, 7}, 1, 9, 7},
		{"huge costs do not overflow", xs, math.MaxInt64, math.MaxInt64, 50},
		{"huge under", xs, math.MaxInt64, 1, 900},
	} {
		if got := Quantile(c.xs, c.under, c.over); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func TestCostsFollowTheRule(t *testing.T) {
	const g, f, mcp = 95_000, 39_000, 60_000
	for _, c := range []struct {
		rule string
		side contract.Side
		want DeviationCosts
	}{
		{contract.ImbalanceUtility, contract.SideBid, DeviationCosts{g - mcp, mcp - f}},
		{contract.ImbalanceUtility, contract.SideOffer, DeviationCosts{mcp - f, g - mcp}},
		{contract.ImbalanceCommunity, contract.SideBid, DeviationCosts{g - mcp, 0}},
		{contract.ImbalanceCommunity, contract.SideOffer, DeviationCosts{mcp - f, 0}},
		{"", contract.SideBid, DeviationCosts{g - mcp, 0}},
	} {
		if got := Costs(c.rule, c.side, mcp, g, f); got != c.want {
			t.Errorf("%q %s: %+v, want %+v", c.rule, c.side, got, c.want)
		}
	}
	// A price outside the tariffs costs nothing on the side it favours.
	if got := Costs(contract.ImbalanceUtility, contract.SideBid, 100_000, g, f); got.UnderPerKWh != 0 {
		t.Errorf("price above the grid tariff: %+v", got)
	}
	if got := ExpectedPrice(g, f, nil); got != (g+f)/2 {
		t.Errorf("expected price without history %d", got)
	}
	if got := ExpectedPrice(g, f, []*int64{p(200_000)}); got != g {
		t.Errorf("expected price above the grid tariff: %d", got)
	}
}

func TestRiskAwareSizesForTheRule(t *testing.T) {
	const g, f = 95_000, 39_000
	errs := []int64{-400, -100, 0, 100, 200, 1500} // right-skewed
	in := Input{PlannedWh: 1000, ErrorsWh: errs, GridPerKWh: g, FeedInPerKWh: f, MarginPermille: DefaultMarginPermille}
	// Community rule: over-committing is free, so the buyer covers its
	// worst error seen.
	if o, ok := RiskAware(in); !ok || o.Side != contract.SideBid || o.Wh != 2500 {
		t.Errorf("community bid %+v %v, want 2500 Wh", o, ok)
	}
	// Utility rule at the middle of the tariffs: equal costs, the lower
	// median error.
	in.Rule = contract.ImbalanceUtility
	if o, ok := RiskAware(in); !ok || o.Wh != 1000 {
		t.Errorf("utility bid %+v %v, want 1000 Wh", o, ok)
	}
	// A seller under the community rule offers its surplus plus the most
	// it has made beyond plan (400), within its capacity.
	in = Input{PlannedWh: -2000, ErrorsWh: errs, HasRES: true, CapacityWh: 5000, GridPerKWh: g, FeedInPerKWh: f}
	if o, ok := RiskAware(in); !ok || o.Side != contract.SideOffer || o.Wh != 2400 {
		t.Errorf("community offer %+v %v, want 2400 Wh", o, ok)
	}
	in.CapacityWh = 2100
	if o, ok := RiskAware(in); !ok || o.Wh != 2100 {
		t.Errorf("offer %+v %v, want the capacity 2100 Wh", o, ok)
	}
	// Both sides positive: the median outcome (-2000 + 0) is a surplus.
	in.PlannedWh = -1000
	if o, ok := RiskAware(in); !ok || o.Side != contract.SideOffer {
		t.Errorf("surplus at the median: %+v %v", o, ok)
	}
	// The same without an asset: no offer, but the bid for the chance of
	// a deficit (-1000 + 1500).
	in.HasRES = false
	if o, ok := RiskAware(in); !ok || o.Side != contract.SideBid || o.Wh != 500 {
		t.Errorf("no asset: %+v %v, want a 500 Wh bid", o, ok)
	}
	// A negative result is no order: a surplus site without an asset
	// whose errors never reach a deficit.
	in.ErrorsWh = []int64{-100, 0, 300}
	if o, ok := RiskAware(in); ok {
		t.Errorf("order %+v for a certain surplus without an asset", o)
	}
	// Expecting to clear at the grid tariff, a buyer under the community
	// rule loses nothing either way: it keeps its plan (Quantile alone
	// would give the smallest error).
	in = Input{PlannedWh: 1000, ErrorsWh: errs, GridPerKWh: g, FeedInPerKWh: f, RecentMCP: []*int64{p(g)}}
	if o, ok := RiskAware(in); !ok || o.Wh != 1000 {
		t.Errorf("buyer expecting the grid tariff: %+v %v, want its plan, 1000 Wh", o, ok)
	}
	// Under the utility rule over-committing still costs it p - f: the
	// smallest error.
	in.Rule = contract.ImbalanceUtility
	if o, ok := RiskAware(in); !ok || o.Wh != 600 {
		t.Errorf("utility buyer expecting the grid tariff: %+v %v, want 600 Wh", o, ok)
	}
	// A bid is capped at the ledger's most.
	in = Input{PlannedWh: contract.MaxOrderWh, ErrorsWh: []int64{5000}, GridPerKWh: g, FeedInPerKWh: f}
	if o, _ := RiskAware(in); o.Wh != contract.MaxOrderWh {
		t.Errorf("bid %d above the ledger's most", o.Wh)
	}
}

// Property: whatever the plan, errors and rule, one side at most, prices
// within the tariffs, quantities positive and within the caps, offers
// only from an asset; without errors, exactly ForInterval's old rule.
func TestRiskAwareStaysWithinTheRules(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	rules := []string{"", contract.ImbalanceCommunity, contract.ImbalanceUtility}
	for range 10_000 {
		feed := r.Int64N(100_000)
		in := Input{PlannedWh: r.Int64N(20_000) - 10_000, Rule: rules[r.IntN(3)], HasRES: r.IntN(2) == 0,
			CapacityWh: r.Int64N(8_000), GridPerKWh: feed + r.Int64N(100_000), FeedInPerKWh: feed,
			MarginPermille: r.Int64N(1001)}
		for range r.IntN(200) {
			in.ErrorsWh = append(in.ErrorsWh, int64(r.NormFloat64()*1500))
		}
		if r.IntN(3) > 0 {
			in.RecentMCP = []*int64{p(r.Int64N(300_000))}
		}
		o, ok := RiskAware(in)
		if !ok {
			continue
		}
		if o.Wh <= 0 || o.PricePerKWh < in.FeedInPerKWh || o.PricePerKWh > in.GridPerKWh {
			t.Fatalf("%+v from %+v", o, in)
		}
		if o.Side == contract.SideOffer && (!in.HasRES || o.Wh > in.CapacityWh) {
			t.Fatalf("offer %+v from %+v", o, in)
		}
		if o.Side == contract.SideBid && o.Wh > contract.MaxOrderWh {
			t.Fatalf("bid %+v", o)
		}
		plain := in
		plain.ErrorsWh = nil
		po, pok := RiskAware(plain)
		switch {
		case in.PlannedWh > 0:
			if !pok || po.Side != contract.SideBid || po.Wh != in.PlannedWh {
				t.Fatalf("plan %d: %+v %v", in.PlannedWh, po, pok)
			}
		case in.PlannedWh < 0 && in.HasRES && in.CapacityWh > 0:
			if !pok || po.Side != contract.SideOffer || po.Wh != min(-in.PlannedWh, in.CapacityWh) {
				t.Fatalf("plan %d: %+v %v", in.PlannedWh, po, pok)
			}
		default:
			if pok {
				t.Fatalf("plan %d: %+v", in.PlannedWh, po)
			}
		}
	}
}

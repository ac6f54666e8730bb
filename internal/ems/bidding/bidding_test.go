package bidding

import (
	"math/rand/v2"
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

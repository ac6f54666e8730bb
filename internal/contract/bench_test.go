package contract_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

// benchCommunity is a harness with 50 funded buyers (b0..b49) and 50
// sellers (s0..s49) with a 1 GW asset each, and no rate limit to speak of,
// so that blocks of thousands of orders are all accepted.
func benchCommunity(b *testing.B) *harness {
	h := newHarness(b, func(g *contract.Genesis) { g.Params.MaxTxPerInterval = 1_000_000 })
	// Three blocks: registrations; money and assets; approvals. Each is
	// signed just before it is delivered, so nonces arrive in order.
	for step := range 3 {
		var txs [][]byte
		for i := range 50 {
			buyer, seller := fmt.Sprintf("b%d", i), fmt.Sprintf("s%d", i)
			switch step {
			case 0:
				txs = append(txs,
					h.tx("operator", registerMsg(buyer, contract.RoleMember, contract.NodeHousehold)),
					h.tx("operator", registerMsg(seller, contract.RoleMember, contract.NodeProducer)))
			case 1:
				txs = append(txs,
					h.tx("operator", &contract.MsgIssue{To: buyer, Amount: contract.MaxAmount}),
					h.tx(seller, &contract.MsgRegisterRES{ID: "pv-" + seller, Kind: "PV", CapacityW: contract.MaxCapacityW}))
			case 2:
				txs = append(txs, h.tx("dso", &contract.MsgApproveRES{ID: "pv-" + seller}))
			}
		}
		for i, r := range h.block(txs...) {
			if r.Code != contract.CodeOK {
				b.Fatalf("setup step %d tx %d: %s %s", step, i, r.Code.Name(), r.Log)
			}
		}
	}
	return h
}

// benchOrders signs n orders, half bids and half offers, spread over the
// listings in starts, with prices that cross.
func benchOrders(h *harness, rng *rand.Rand, n int, starts []int64) [][]byte {
	txs := make([][]byte, n)
	for i := range txs {
		l := starts[rng.IntN(len(starts))]
		wh := 100 + rng.Int64N(900)
		if i%2 == 0 {
			txs[i] = h.tx(fmt.Sprintf("b%d", rng.IntN(50)), &contract.MsgBid{Listing: l, Wh: wh, PricePerKWh: 30_000 + rng.Int64N(60_000)})
		} else {
			s := fmt.Sprintf("s%d", rng.IntN(50))
			txs[i] = h.tx(s, &contract.MsgOffer{Listing: l, RES: "pv-" + s, Wh: wh, PricePerKWh: 20_000 + rng.Int64N(60_000)})
		}
	}
	return txs
}

// BenchmarkDeliverBlock: one block of 1,000 signed bids and offers spread
// over the open listings, through BeginBlock, DeliverTxs (decoding, one
// batch signature check, escrow, order book) and EndBlock (app hash).
// Signing is outside the timer.
func BenchmarkDeliverBlock(b *testing.B) {
	const perBlock = 1000
	h := benchCommunity(b)
	var starts []int64
	for hr := int64(2); hr <= 24; hr++ {
		starts = append(starts, at(hr, 0))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		txs := benchOrders(h, rng, perBlock, starts)
		h.height++
		h.mt++
		if h.mt >= at(1, 0) {
			b.Fatal("benchmark ran into gate closure; lower -benchtime")
		}
		b.StartTimer()
		h.s.BeginBlock(h.height, h.mt*ns)
		res := h.s.DeliverTxs(txs)
		h.s.EndBlock()
		b.StopTimer()
		for j, r := range res {
			if r.Code != contract.CodeOK {
				b.Fatalf("tx %d: %s %s", j, r.Code.Name(), r.Log)
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perBlock), "ns/tx")
}

// BenchmarkClearListing: the gate-closure block of a listing holding 10,000
// orders (5,000 bids, 5,000 offers, average-bid): closing, market.Clear,
// paying and refunding every order and committing the writes. Each round
// starts from a state loaded from the persisted writes; loading is outside
// the timer.
func BenchmarkClearListing(b *testing.B) {
	const orders = 10_000
	h := benchCommunity(b)
	rng := rand.New(rand.NewPCG(3, 4))
	l := at(2, 0)
	for range orders / 1000 {
		for j, r := range h.block(benchOrders(h, rng, 1000, []int64{l})...) {
			if r.Code != contract.CodeOK {
				b.Fatalf("tx %d: %s %s", j, r.Code.Name(), r.Log)
			}
		}
	}
	if n := h.listing(l).Orders; n != orders {
		b.Fatalf("%d orders", n)
	}
	entries, height := h.entries(), h.height
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := contract.Load(entries, height, h.mt)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s.BeginBlock(height+1, at(1, 0)*ns) // 02:00's gate closure
		s.EndBlock()
		b.StopTimer()
		if c, _ := s.Listing(l); c.Clearing == nil || c.Clearing.TradedWh == 0 {
			b.Fatalf("not cleared: %+v", c.Clearing)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*orders), "ns/order")
}

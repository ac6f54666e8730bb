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

// bulk delivers txs in one block a second after the last, all of which
// must be accepted.
func (h *harness) bulk(txs [][]byte) {
	h.t.Helper()
	for i, r := range h.block(txs...) {
		if r.Code != contract.CodeOK {
			h.t.Fatalf("tx %d: %s %s", i, r.Code.Name(), r.Log)
		}
	}
}

// bulkEach signs one tx per i in [0, n) with mk and delivers them in
// blocks of at most per.
func (h *harness) bulkEach(n, per int, mk func(i int) []byte) {
	h.t.Helper()
	for lo := 0; lo < n; lo += per {
		txs := make([][]byte, 0, per)
		for i := lo; i < min(n, lo+per); i++ {
			txs = append(txs, mk(i))
		}
		h.bulk(txs)
	}
}

// BenchmarkSettle10kMeters: the block that settles an interval of a
// 10,000-member community, every member with a meter: even members sell
// from an approved PV (their meter on it), odd ones buy; a quarter of the
// meters are read by one of 10 gateways, the rest sign for themselves.
// The 02:00 listing clears with the sellers' 5,000 offers against the
// buyers' 5,000 bids; every meter reads at 02:00 and at 03:00 (MsgReadings
// of 5,000), and the timed block at 03:00 settles: baselines, metered
// energy, tokens minted and delivered trade by trade, money with the
// utility, the settlement record and the app hash. Each round starts from
// a state loaded from the persisted writes, outside the timer.
func BenchmarkSettle10kMeters(b *testing.B) {
	const n = 10_000
	h := newHarness(b, func(g *contract.Genesis) { g.Params.MaxTxPerInterval = 1_000_000 })
	id := func(i int) string { return fmt.Sprintf("u%05d", i) }
	gw := func(i int) string { return fmt.Sprintf("gw%d", i%10) }
	devs := make([]*device, n)
	h.bulkEach(10, 10, func(i int) []byte {
		return h.tx("operator", &contract.MsgRegisterGateway{ID: gw(i), Owner: "operator", PubKey: pubOf(gwKeyID(gw(i)))})
	})
	h.bulkEach(n, 5000, func(i int) []byte {
		return h.tx("operator", registerMsg(id(i), contract.RoleMember, contract.NodeHousehold))
	})
	h.bulkEach(n, 5000, func(i int) []byte {
		if i%2 == 0 {
			return h.tx(id(i), &contract.MsgRegisterRES{ID: "pv-" + id(i), Kind: "PV", CapacityW: 10_000})
		}
		return h.tx("operator", &contract.MsgIssue{To: id(i), Amount: 10 * unit})
	})
	h.bulkEach(n/2, 5000, func(i int) []byte { return h.tx("dso", &contract.MsgApproveRES{ID: "pv-" + id(2*i)}) })
	h.issue("utility", 1000*unit)
	h.bulkEach(n, 5000, func(i int) []byte {
		m := &contract.MsgRegisterMeter{ID: "m-" + id(i), Owner: id(i)}
		devs[i] = &device{t: b, meter: m.ID, keyID: devKeyID(m.ID)}
		if i%2 == 0 {
			m.RES = "pv-" + id(i)
		}
		if i%4 == 1 || i%4 == 2 {
			m.Gateway = gw(i)
			devs[i].keyID = gwKeyID(m.Gateway)
		} else {
			m.PubKey = pubOf(devKeyID(m.ID))
		}
		return h.tx("operator", m)
	})
	rng := rand.New(rand.NewPCG(5, 6))
	l := at(2, 0)
	h.bulkEach(n, 5000, func(i int) []byte {
		wh := 500 + rng.Int64N(1500)
		if i%2 == 0 {
			return h.tx(id(i), &contract.MsgOffer{Listing: l, RES: "pv-" + id(i), Wh: wh, PricePerKWh: 30_000 + rng.Int64N(10_000)})
		}
		return h.tx(id(i), &contract.MsgBid{Listing: l, Wh: wh, PricePerKWh: 60_000 + rng.Int64N(20_000)})
	})
	h.blockAt(at(1, 0))
	c := h.listing(l).Clearing
	if c == nil || len(c.Trades) < n/2 {
		b.Fatalf("clearing: %+v", c)
	}
	read := func(mt, t int64, regs func(i int) (int64, int64, int64)) {
		for lo := 0; lo < n; lo += contract.MaxReadingsPerTx {
			msg := &contract.MsgReadings{}
			for i := lo; i < lo+contract.MaxReadingsPerTx; i++ {
				imp, exp, prod := regs(i)
				msg.Readings = append(msg.Readings, devs[i].read(t, imp, exp, prod))
			}
			h.height++
			h.s.BeginBlock(h.height, mt*ns)
			res := h.s.DeliverTx(h.tx("operator", msg))
			cm, _ := h.s.EndBlock()
			h.record(cm)
			h.mt = mt
			if acc, refused := readingOutcomes(b, res, len(msg.Readings)); res.Code != contract.CodeOK || len(refused) != 0 {
				b.Fatalf("readings: %s %s, %d accepted, refused %v", res.Code.Name(), res.Log, acc, refused[:min(5, len(refused))])
			}
			mt++
		}
	}
	read(at(1, 3500), at(2, 0), func(i int) (int64, int64, int64) { return 10_000, 5_000, 20_000 })
	read(at(2, 3500), at(3, 0), func(i int) (int64, int64, int64) {
		if i%2 == 0 { // a producer: export up to production
			p := rng.Int64N(2500)
			return 10_000 + rng.Int64N(500), 5_000 + rng.Int64N(p+1), 20_000 + p
		}
		return 10_000 + rng.Int64N(3000), 5_000, 20_000
	})
	entries, height, mt := h.entries(), h.height, h.mt
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := contract.Load(entries, height, mt)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s.BeginBlock(height+1, at(3, 0)*ns)
		s.EndBlock()
		b.StopTimer()
		st, ok := s.Settlement(l)
		if !ok || len(st.Readings) != n || len(st.Missing) != 0 || st.Totals.TransferredWh == 0 {
			b.Fatalf("not settled: %v, %d readings, %d missing, %+v", ok, len(st.Readings), len(st.Missing), st.Totals)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/meter")
}

// BenchmarkReadings5000: one MsgReadings of 5,000 readings (half signed
// by the meters' own keys, half by their gateways) through DeliverTx, in
// a block of its own: decoding, one batch signature check, each reading's
// checks, the closing readings written and the app hash. Signing is
// outside the timer.
func BenchmarkReadings5000(b *testing.B) {
	const n = contract.MaxReadingsPerTx
	h := newHarness(b)
	h.members("owner")
	h.bulkEach(10, 10, func(i int) []byte {
		g := fmt.Sprintf("gw%d", i)
		return h.tx("operator", &contract.MsgRegisterGateway{ID: g, Owner: "owner", PubKey: pubOf(gwKeyID(g))})
	})
	devs := make([]*device, n)
	h.bulkEach(n, 5000, func(i int) []byte {
		m := &contract.MsgRegisterMeter{ID: fmt.Sprintf("m-%05d", i), Owner: "owner"}
		devs[i] = &device{t: b, meter: m.ID, keyID: devKeyID(m.ID)}
		if i%2 == 1 {
			m.Gateway = fmt.Sprintf("gw%d", i%10)
			devs[i].keyID = gwKeyID(m.Gateway)
		} else {
			m.PubKey = pubOf(devKeyID(m.ID))
		}
		return h.tx("operator", m)
	})
	h.blockAt(at(2, 0))
	var bytesPerTx int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		mt := h.mt + 1
		if mt > at(3, 0) {
			b.Fatal("ran past the interval; lower -benchtime")
		}
		msg := &contract.MsgReadings{Readings: make([]contract.ReadingEntry, n)}
		for j, d := range devs {
			msg.Readings[j] = d.read(mt, int64(100*i+j), int64(i), 0)
		}
		raw := h.tx("operator", msg)
		bytesPerTx = len(raw)
		h.height++
		b.StartTimer()
		h.s.BeginBlock(h.height, mt*ns)
		res := h.s.DeliverTx(raw)
		cm, _ := h.s.EndBlock()
		b.StopTimer()
		h.record(cm)
		h.mt = mt
		if acc, refused := readingOutcomes(b, res, n); res.Code != contract.CodeOK || acc != n {
			b.Fatalf("%s %s: refused %v", res.Code.Name(), res.Log, refused[:min(5, len(refused))])
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/reading")
	b.ReportMetric(float64(bytesPerTx), "tx-bytes")
}

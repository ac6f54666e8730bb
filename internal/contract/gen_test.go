package contract_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
)

// A seeded generator of random blocks of transactions, shared by the
// property and metamorphic tests. It knows nothing of the contract's state:
// it works from its own record of what it sent and the market time it
// chose, so many of its transactions are refused — some by chance (a bid
// that outruns its funds, an order in a listing that has just closed), some
// on purpose (wrong signers, replays, forgeries, bad quantities, junk).

// genHorizon and genMaxTx are the random community's parameters: a short
// horizon keeps few listings open, a low rate limit makes it bite.
const (
	genHorizon = 6
	genMaxTx   = 5
)

func genGenesis() contract.Genesis {
	p := contract.DefaultParams()
	p.HorizonIntervals = genHorizon
	p.MaxTxPerInterval = genMaxTx
	g := contract.Genesis{Params: p, TimeScale: 1, Participants: genesisParticipants()}
	// m0..m3 are members from genesis; m4 and m5 may be registered later.
	for i := range 4 {
		id := fmt.Sprintf("m%d", i)
		g.Participants = append(g.Participants, contract.Participant{
			ID: id, Role: contract.RoleMember, NodeType: contract.NodeHousehold, PubKey: pubOf(id)})
	}
	return g
}

// genTx is one generated transaction: its bytes, and the intent behind
// them, which the reference model reads instead of decoding the bytes.
type genTx struct {
	raw    []byte
	junk   bool   // bytes that cannot decode
	chain  string // chain id signed for
	signer string // claimed signer
	keyID  string // id whose key signed
	nonce  uint64
	typ    string
	msg    contract.Msg
	what   string // for failure messages
}

type genBlock struct {
	mt  int64
	txs []genTx
}

type genRES struct {
	id, owner string
	capW      int64
}

type gen struct {
	t       testing.TB
	rng     *rand.Rand
	mt      int64
	nonce   map[string]uint64
	members []string
	ghosts  []string
	res     []genRES
	orders  []string // every bid or offer id sent, accepted or not
	sent    []genTx
	params  contract.Params
	blocks  int
}

func newGen(t testing.TB, seed uint64) *gen {
	g := &gen{
		t:      t,
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		mt:     T0,
		nonce:  map[string]uint64{},
		ghosts: []string{"ghost0", "ghost1"},
		params: genGenesis().Params,
	}
	for i := range 6 {
		g.members = append(g.members, fmt.Sprintf("m%d", i))
	}
	return g
}

func (g *gen) pick(ids []string) string { return ids[g.rng.IntN(len(ids))] }

// sign signs msg as signer with keyID's key at the signer's next nonce.
func (g *gen) sign(signer, keyID, chain, typ string, msg contract.Msg, what string) genTx {
	g.nonce[signer]++
	n := g.nonce[signer]
	return genTx{
		raw:   signTx(g.t, keyOf(keyID), chain, signer, n, typ, msg),
		chain: chain, signer: signer, keyID: keyID, nonce: n, typ: typ, msg: msg, what: what,
	}
}

func (g *gen) signed(signer string, msg contract.Msg, what string) genTx {
	return g.sign(signer, signer, testChain, contract.TypeOf(msg), msg, what)
}

// listingFor picks a listing start: mostly one open at the generator's
// market time, sometimes one whose gate has closed, sometimes none at all.
func (g *gen) listingFor() int64 {
	I, G, H := g.params.IntervalS, g.params.GateClosureS, g.params.HorizonIntervals
	switch r := g.rng.IntN(10); {
	case r < 8:
		// Open: aligned, gate after mt, start before mt + horizon.
		lo := (g.mt+G)/I + 1
		hi := (g.mt + H*I - 1) / I
		if hi < lo {
			return lo * I
		}
		return (lo + g.rng.Int64N(hi-lo+1)) * I
	case r < 9:
		// Gate closed (or never opened, before the first listing).
		return ((g.mt+G)/I - g.rng.Int64N(3)) * I
	default:
		return g.mt + g.rng.Int64N(10*I) // mostly not an interval start
	}
}

func (g *gen) wh() int64 {
	if g.rng.IntN(20) == 0 {
		return []int64{0, -1 - g.rng.Int64N(1000), contract.MaxOrderWh + 1}[g.rng.IntN(3)]
	}
	return 1 + g.rng.Int64N(4000)
}

func (g *gen) price() int64 {
	if g.rng.IntN(25) == 0 {
		return []int64{-1, contract.MaxPricePerKWh + 1}[g.rng.IntN(2)]
	}
	if g.rng.IntN(3) == 0 {
		return g.rng.Int64N(13) * 10_000 // coarse: ties are common
	}
	return g.rng.Int64N(120_001)
}

func (g *gen) amount() int64 {
	if g.rng.IntN(20) == 0 {
		return 0
	}
	return 1 + g.rng.Int64N(2*unit)
}

// bidMsg is a random bid, used also as the body of forgeries.
func (g *gen) bidMsg() *contract.MsgBid {
	return &contract.MsgBid{Listing: g.listingFor(), Wh: g.wh(), PricePerKWh: g.price()}
}

// tx generates one transaction.
func (g *gen) tx() genTx {
	r := g.rng.IntN(100)
	switch {
	case r < 10:
		signer := "operator"
		if g.rng.IntN(10) == 0 {
			signer = g.pick([]string{"dso", "m0", "m1"})
		}
		to := g.pick(g.members)
		if g.rng.IntN(15) == 0 {
			to = "ghost0"
		}
		return g.signed(signer, &contract.MsgIssue{To: to, Amount: g.amount()}, "issue")
	case r < 14:
		return g.signed("operator", &contract.MsgRedeem{From: g.pick(g.members), Amount: g.amount() / 2}, "redeem")
	case r < 17:
		signer := "operator"
		if g.rng.IntN(8) == 0 {
			signer = g.pick(g.members)
		}
		id := g.pick(g.members)
		return g.signed(signer, registerMsg(id, contract.RoleMember, contract.NodeHousehold), "register")
	case r < 21:
		signer := g.pick(g.members)
		id := fmt.Sprintf("res%d", len(g.res))
		if len(g.res) > 0 && g.rng.IntN(10) == 0 {
			id = g.res[g.rng.IntN(len(g.res))].id
		} else {
			g.res = append(g.res, genRES{id: id, owner: signer, capW: 1000 + g.rng.Int64N(7000)})
		}
		capW := int64(3000)
		for _, r := range g.res {
			if r.id == id {
				capW = r.capW
			}
		}
		return g.signed(signer, &contract.MsgRegisterRES{ID: id, Kind: "PV", CapacityW: capW}, "register_res")
	case r < 25:
		signer := "dso"
		if g.rng.IntN(7) == 0 {
			signer = g.pick([]string{"operator", "m2"})
		}
		id := "res-none"
		if len(g.res) > 0 && g.rng.IntN(10) != 0 {
			id = g.res[g.rng.IntN(len(g.res))].id
		}
		return g.signed(signer, &contract.MsgApproveRES{ID: id}, "approve")
	case r < 27:
		owner := g.pick(g.members)
		m := &contract.MsgRegisterMeter{ID: fmt.Sprintf("meter%d", g.rng.IntN(6)), Owner: owner, PubKey: pubOf("meter")}
		if len(g.res) > 0 && g.rng.IntN(2) == 0 {
			m.RES = g.res[g.rng.IntN(len(g.res))].id
		}
		return g.signed("operator", m, "meter")
	case r < 50:
		signer := g.pick(g.members)
		tx := g.signed(signer, g.bidMsg(), "bid")
		g.orders = append(g.orders, fmt.Sprintf("%s/%d", signer, tx.nonce))
		return tx
	case r < 68:
		signer := g.pick(g.members)
		var own []genRES
		for _, r := range g.res {
			if r.owner == signer {
				own = append(own, r)
			}
		}
		res, wh := "res-none", g.wh()
		switch {
		case len(own) > 0 && g.rng.IntN(8) != 0:
			r := own[g.rng.IntN(len(own))]
			res = r.id
			if wh > 0 && wh <= contract.MaxOrderWh {
				wh = 1 + g.rng.Int64N(r.capW*11/10) // sometimes above capacity
			}
		case len(g.res) > 0:
			res = g.res[g.rng.IntN(len(g.res))].id
		}
		tx := g.signed(signer, &contract.MsgOffer{Listing: g.listingFor(), RES: res, Wh: wh, PricePerKWh: g.price()}, "offer")
		g.orders = append(g.orders, fmt.Sprintf("%s/%d", signer, tx.nonce))
		return tx
	case r < 76:
		signer := g.pick(g.members)
		order := fmt.Sprintf("%s/%d", signer, 100_000+g.rng.IntN(10))
		if len(g.orders) > 0 && g.rng.IntN(6) != 0 {
			order = g.orders[g.rng.IntN(len(g.orders))]
			if g.rng.IntN(4) != 0 { // prefer the signer's own
				for i := len(g.orders) - 1; i >= 0; i-- {
					if len(g.orders[i]) > len(signer) && g.orders[i][:len(signer)+1] == signer+"/" {
						order = g.orders[i]
						break
					}
				}
			}
		}
		return g.signed(signer, &contract.MsgCancel{Order: order}, "cancel")
	case r < 78:
		signer := "operator"
		if g.rng.IntN(8) == 0 {
			signer = g.pick(g.members)
		}
		target := g.pick(slices.Concat(g.members, []string{"operator", "ghost0"}))
		typ := contract.TypeSuspendParticipant
		if g.rng.IntN(2) == 0 {
			typ = contract.TypeReinstateParticipant
		}
		return g.sign(signer, signer, testChain, typ, &contract.MsgSetSuspended{ID: target}, "suspend")
	case r < 80:
		p := g.params
		p.Mechanism = market.Mechanisms[g.rng.IntN(len(market.Mechanisms))]
		peak := []int64{70_000, 95_000, 120_000}[g.rng.IntN(3)]
		for h := 13; h < 23; h++ {
			p.GridPricePerKWh[h] = peak
		}
		if g.rng.IntN(4) == 0 {
			// Now and then the listing schedule changes too: listings
			// already open keep theirs, and one interval may no longer
			// line up with the next.
			p.IntervalS = []int64{1800, 3600, 7200}[g.rng.IntN(3)]
			p.GateClosureS = []int64{0, 1800, 3600}[g.rng.IntN(3)]
			p.HorizonIntervals = []int64{3, genHorizon}[g.rng.IntN(2)]
			p.MaxTxPerInterval = []int64{3, genMaxTx, 50}[g.rng.IntN(3)]
			p.TariffUTCOffsetS = []int64{0, 3600, -7200}[g.rng.IntN(3)]
		}
		signer := "operator"
		if g.rng.IntN(6) == 0 {
			signer = "dso"
		} else {
			g.params = p
		}
		return g.signed(signer, &contract.MsgSetParams{Params: p}, "set_params")
	case r < 85:
		if len(g.sent) > 0 {
			tx := g.sent[g.rng.IntN(len(g.sent))]
			tx.what = "replay of " + tx.what
			return tx
		}
		return g.junk()
	case r < 88:
		signer := g.pick(g.members)
		other := g.pick(slices.Concat(g.members, []string{"operator"}))
		if other == signer {
			other = "ghost1"
		}
		return g.sign(signer, other, testChain, contract.TypeBid, g.bidMsg(), "forged bid")
	case r < 90:
		signer := g.pick(g.members)
		return g.sign(signer, signer, "other-community", contract.TypeBid, g.bidMsg(), "other chain")
	case r < 92:
		ghost := g.pick(g.ghosts)
		return g.sign(ghost, ghost, testChain, contract.TypeBid, g.bidMsg(), "ghost bid")
	case r < 96:
		return g.junk()
	default:
		// A fresh signature on a nonce already used (or skipped).
		signer := g.pick(g.members)
		last := g.nonce[signer]
		if last == 0 {
			return g.junk()
		}
		n := 1 + g.rng.Uint64N(last)
		msg := g.bidMsg()
		return genTx{
			raw:   signTx(g.t, keyOf(signer), testChain, signer, n, contract.TypeBid, msg),
			chain: testChain, signer: signer, keyID: signer, nonce: n, typ: contract.TypeBid, msg: msg, what: "stale nonce",
		}
	}
}

// junk is bytes that cannot decode: random bytes, or a signed transaction
// cut inside its body (a prefix of a JSON object is never a whole one).
func (g *gen) junk() genTx {
	if g.rng.IntN(2) == 0 || len(g.sent) == 0 {
		b := make([]byte, g.rng.IntN(120))
		for i := range b {
			b[i] = byte(g.rng.IntN(256))
		}
		return genTx{raw: b, junk: true, what: "random bytes"}
	}
	src := g.sent[g.rng.IntN(len(g.sent))].raw
	if len(src) <= 1+64+1 {
		return genTx{raw: []byte{1}, junk: true, what: "one byte"}
	}
	cut := 1 + 64 + g.rng.IntN(len(src)-1-64)
	return genTx{raw: src[:cut], junk: true, what: "truncated"}
}

// next generates the next block: a later market time and 0..10 txs.
func (g *gen) next() genBlock {
	var dt int64
	switch r := g.rng.IntN(10); {
	case g.blocks == 0:
		dt = 1
	case r < 6:
		dt = 1 + g.rng.Int64N(120)
	case r < 9:
		dt = 300 + g.rng.Int64N(1500)
	case g.rng.IntN(10) == 0:
		// A halt longer than the horizon: every open listing clears and
		// the intervals whose gates passed meanwhile are never opened.
		dt = 86400 + g.rng.Int64N(2*86400)
	default:
		dt = 3600 + g.rng.Int64N(5400)
	}
	g.blocks++
	g.mt += dt
	b := genBlock{mt: g.mt}
	for range g.rng.IntN(11) {
		tx := g.tx()
		b.txs = append(b.txs, tx)
		g.sent = append(g.sent, tx)
	}
	return b
}

func rawTxs(b genBlock) [][]byte {
	out := make([][]byte, len(b.txs))
	for i, tx := range b.txs {
		out[i] = tx.raw
	}
	return out
}

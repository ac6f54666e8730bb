package contract_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
	"github.com/gridledger/gridledger/internal/reading"
)

// A seeded generator of random blocks of transactions, shared by the
// property and metamorphic tests. It knows nothing of the contract's state:
// it works from its own record of what it sent and the market time it
// chose, so many of its transactions are refused — some by chance (a bid
// that outruns its funds, an order in a listing that has just closed), some
// on purpose (wrong signers, replays, forgeries, bad quantities, junk).
//
// It also runs the community's devices: gateways, meters with their own
// key or read by a gateway (some measuring a RES), each with cumulative
// registers that only rise, and batches of their signed readings — mostly
// good, some bad on purpose (forged bytes, the wrong key, a replayed
// sequence number, dated in the future or before the meter's last reading,
// registers running backwards, an unknown meter, malformed).

// genHorizon and genMaxTx are the random community's parameters: a short
// horizon keeps few listings open, a low rate limit makes it bite.
const (
	genHorizon = 6
	genMaxTx   = 5
)

// genesisMembers are members from genesis; m4 and m5 may be registered
// later.
var genesisMembers = []string{"m0", "m1", "m2", "m3"}

func genGenesis() contract.Genesis {
	p := contract.DefaultParams()
	p.HorizonIntervals = genHorizon
	p.MaxTxPerInterval = genMaxTx
	g := contract.Genesis{Params: p, TimeScale: 1, Participants: genesisParticipants()}
	for _, id := range genesisMembers {
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
	// registered is the signer's registration height the tx is bound to.
	registered int64
	nonce      uint64
	typ        string
	msg        contract.Msg
	what       string // for failure messages
	// readings is the intent behind each entry of a MsgReadings.
	readings []genReading
}

// genReading is what one entry of a MsgReadings means: the reading its
// bytes say, the key id that signed, and how it was spoiled.
type genReading struct {
	malformed bool            // fails to parse
	r         reading.Reading // what the bytes say
	keyID     string          // id whose key signed
	forged    bool            // bytes changed after signing
	fine      []byte
	what      string
}

// genMeter is a device the generator runs: its registration as first
// sent, and what it has signed so far.
type genMeter struct {
	id, owner, res, gateway string
	battery                 string
	seq                     uint64
	time                    int64
	imp, exp, prod          int64
}

type genLater struct {
	at int64
	tx func() genTx
}

// Key ids of devices: a meter's own key, a gateway's key.
func devKeyID(meter string) string  { return "dev-key/" + meter }
func gwKeyID(gateway string) string { return "gw-key/" + gateway }

type genBlock struct {
	mt  int64
	txs []genTx
}

type genRES struct {
	id, owner string
	capW      int64
}

// genBattery is a battery the generator registered (or tried to).
type genBattery struct {
	id, owner   string
	capWh, maxW int64
}

type gen struct {
	t     testing.TB
	rng   *rand.Rand
	mt    int64
	nonce map[string]uint64
	// regAt is the height of the block each id's registration went out
	// in, as far as the generator knows (0 for the genesis's): what its
	// transactions are signed for.
	regAt   map[string]int64
	members []string
	ghosts  []string
	res     []genRES
	bats    []genBattery
	orders  []string // every bid or offer id sent, accepted or not
	sent    []genTx
	params  contract.Params
	blocks  int
	// busy (every other seed) is a market where orders crowd the next
	// listing to close and bids outbid offers, so that trades, and their
	// delivery, are common.
	busy bool
	// queue holds transactions to generate next (a busy market's trade).
	queue []func() genTx
	// later is a transaction to send first in the first block at or
	// after a market time.
	later *genLater

	gateways []string
	meters   []*genMeter          // in order of first registration
	meterBy  map[string]*genMeter // by id
	entries  []contract.ReadingEntry
	intents  []genReading // entries[i]'s intent, for replays
}

func newGen(t testing.TB, seed uint64) *gen {
	g := &gen{
		t:       t,
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		mt:      T0,
		nonce:   map[string]uint64{},
		regAt:   map[string]int64{},
		ghosts:  []string{"ghost0", "ghost1"},
		params:  genGenesis().Params,
		meterBy: map[string]*genMeter{},
		busy:    seed%2 == 1,
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
	return g.signAt(signer, keyID, chain, g.nonce[signer], typ, msg, what)
}

// signAt signs msg as signer with keyID's key at nonce n, for the
// signer's registration as the generator knows it.
func (g *gen) signAt(signer, keyID, chain string, n uint64, typ string, msg contract.Msg, what string) genTx {
	reg := g.regAt[signer]
	return genTx{
		raw:   signBodyTx(g.t, keyOf(keyID), contract.Body{ChainID: chain, Signer: signer, Registered: reg, Nonce: n, Type: typ}, msg),
		chain: chain, signer: signer, keyID: keyID, registered: reg, nonce: n, typ: typ, msg: msg, what: what,
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
		// Open: aligned, gate after mt, start before mt + horizon. A busy
		// market puts most orders in the next listing to close.
		lo := (g.mt+G)/I + 1
		hi := (g.mt + H*I - 1) / I
		if hi < lo || (g.busy && g.rng.IntN(3) != 0) {
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
	p := g.price()
	if g.busy && p >= 0 && p <= contract.MaxPricePerKWh {
		p = max(p, 60_000)
	}
	return &contract.MsgBid{Listing: g.listingFor(), Wh: g.wh(), PricePerKWh: p}
}

// tx generates one transaction.
func (g *gen) tx() genTx {
	if len(g.queue) > 0 {
		tx := g.queue[0]()
		g.queue = g.queue[1:]
		return tx
	}
	if g.busy && len(g.res) > 0 && g.rng.IntN(8) == 0 {
		g.trade()
		return g.tx()
	}
	switch r := g.rng.IntN(100); {
	case r < 2:
		return g.registerGateway()
	case r < 5:
		return g.registerMeter()
	case r < 22:
		return g.readingsTx()
	case r < 23:
		return g.batteryTx()
	}
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
		tx := g.signed(signer, registerMsg(id, contract.RoleMember, contract.NodeHousehold), "register")
		if _, known := g.regAt[id]; !known && signer == "operator" && !slices.Contains(genesisMembers, id) {
			g.regAt[id] = int64(g.blocks) // this block's height
		}
		return tx
	case r < 21:
		signer := g.pick(g.members)
		if g.busy {
			signer = g.pick(g.members[:4])
		}
		id := fmt.Sprintf("res%d", len(g.res))
		if len(g.res) > 0 && g.rng.IntN(10) == 0 {
			id = g.res[g.rng.IntN(len(g.res))].id
		} else if len(g.bats) > 0 && g.rng.IntN(20) == 0 {
			id = g.bats[g.rng.IntN(len(g.bats))].id // a battery's id: duplicate
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
			if g.busy && g.rng.IntN(2) == 0 {
				id = g.res[len(g.res)-1].id
			}
		}
		return g.signed(signer, &contract.MsgApproveRES{ID: id}, "approve")
	case r < 27:
		return g.registerMeter()
	case r < 50:
		signer := g.pick(g.members)
		tx := g.signed(signer, g.bidMsg(), "bid")
		g.orders = append(g.orders, fmt.Sprintf("%s/%d", signer, tx.nonce))
		return tx
	case r < 68:
		signer := g.pick(g.members)
		if g.busy && len(g.res) > 0 && g.rng.IntN(3) != 0 {
			signer = g.res[g.rng.IntN(len(g.res))].owner // a producer
		}
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
		case len(g.bats) > 0 && g.rng.IntN(4) == 0:
			res = g.bats[g.rng.IntN(len(g.bats))].id // a battery: battery_not_res
		case len(g.res) > 0:
			res = g.res[g.rng.IntN(len(g.res))].id
		}
		price := g.price()
		if g.busy && price >= 0 && price <= contract.MaxPricePerKWh {
			price /= 3
		}
		tx := g.signed(signer, &contract.MsgOffer{Listing: g.listingFor(), RES: res, Wh: wh, PricePerKWh: price}, "offer")
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
		if g.rng.IntN(10) == 0 {
			target = "utility" // no counterparty: settlement moves no money
		}
		typ := contract.TypeSuspendParticipant
		if g.rng.IntN(2) == 0 || (g.busy && g.rng.IntN(3) != 0) {
			typ = contract.TypeReinstateParticipant
		}
		return g.sign(signer, signer, testChain, typ, &contract.MsgSetSuspended{ID: target}, "suspend")
	case r < 80:
		p := g.params
		p.Mechanism = market.Mechanisms[g.rng.IntN(len(market.Mechanisms))]
		p.Imbalance = contract.ImbalanceRules[g.rng.IntN(len(contract.ImbalanceRules))]
		peak := []int64{70_000, 95_000, 120_000}[g.rng.IntN(3)]
		for h := 13; h < 23; h++ {
			p.GridPricePerKWh[h] = peak
		}
		if g.rng.IntN(3) == 0 {
			// Now and then the listing schedule changes too: listings
			// already open keep theirs, and one interval may no longer
			// line up with the next. Half-hour intervals whose gate
			// closure jumps from 0 to an hour make a later listing close
			// before an earlier one.
			p.IntervalS = []int64{1800, 1800, 3600, 7200}[g.rng.IntN(4)]
			p.GateClosureS = []int64{0, 1800, 3600, 3600}[g.rng.IntN(4)]
			p.HorizonIntervals = []int64{3, genHorizon}[g.rng.IntN(2)]
			p.MaxTxPerInterval = []int64{3, genMaxTx, 50}[g.rng.IntN(3)]
			p.TariffUTCOffsetS = []int64{0, 3600, -7200}[g.rng.IntN(3)]
		}
		signer := "operator"
		if g.rng.IntN(6) == 0 {
			signer = "dso"
		} else {
			if g.rng.IntN(3) == 0 {
				// Gates that cross: half-hour intervals closing at
				// delivery, and once such listings are open (the horizon
				// has moved on), closing an hour ahead: the next listing
				// closes before the last one opened before the change.
				p.IntervalS, p.GateClosureS, p.HorizonIntervals = 1800, 0, genHorizon
				g.later = &genLater{at: g.mt + 4*3600, tx: func() genTx {
					q := g.params
					q.GateClosureS = 3600
					g.params = q
					return g.signed("operator", &contract.MsgSetParams{Params: q}, "set_params (gate jump)")
				}}
			}
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
		return g.signAt(signer, signer, testChain, n, contract.TypeBid, g.bidMsg(), "stale nonce")
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
	if g.later != nil && g.mt >= g.later.at {
		tx := g.later.tx()
		g.later = nil
		b.txs = append(b.txs, tx)
		g.sent = append(g.sent, tx)
	}
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

// registerGateway registers one of a few gateways, to a member or the
// operator; now and then under a meter's id (a duplicate).
func (g *gen) registerGateway() genTx {
	id := fmt.Sprintf("gw%d", g.rng.IntN(3))
	if len(g.meters) > 0 && g.rng.IntN(12) == 0 {
		id = g.meters[g.rng.IntN(len(g.meters))].id
	}
	owner := g.pick(g.members)
	if g.rng.IntN(5) == 0 {
		owner = g.pick([]string{"operator", "ghost0"})
	}
	signer := "operator"
	if g.rng.IntN(10) == 0 {
		signer = g.pick([]string{"dso", "m1"})
	}
	if !slices.Contains(g.gateways, id) {
		g.gateways = append(g.gateways, id)
	}
	return g.signed(signer, &contract.MsgRegisterGateway{ID: id, Owner: owner, PubKey: pubOf(gwKeyID(id))}, "register_gateway")
}

// registerMeter registers one of a few meters. Each meter id has one
// configuration, chosen the first time: mostly a genesis member's, half on
// one of its owner's RES, about half read by a gateway and the rest with
// a key of their own. Every registration of the id sends it again (so one
// refused for a RES not yet registered succeeds later) unless spoiled on
// purpose (an unknown owner, RES or gateway, a key and a gateway both).
func (g *gen) registerMeter() genTx {
	id := fmt.Sprintf("meter%d", g.rng.IntN(8))
	if len(g.gateways) > 0 && g.rng.IntN(15) == 0 {
		id = g.pick(g.gateways) // a gateway's id: duplicate
	}
	gm, ok := g.meterBy[id]
	if !ok {
		gm = &genMeter{id: id, owner: g.pick(g.members[:4])}
		switch r := g.rng.IntN(20); {
		case r == 0:
			gm.owner = "utility"
		case r < 3:
			gm.owner = g.pick(g.members)
		}
		if len(g.res) > 0 && (g.rng.IntN(2) == 0 || g.busy) {
			res := g.res[g.rng.IntN(len(g.res))]
			gm.res, gm.owner = res.id, res.owner
		}
		if len(g.bats) > 0 && g.rng.IntN(3) == 0 {
			// A battery's sub-meter (maybe of a battery metered already:
			// refused as a duplicate every time).
			b := g.bats[g.rng.IntN(len(g.bats))]
			gm.battery, gm.res, gm.owner = b.id, "", b.owner
		}
		if len(g.gateways) > 0 && g.rng.IntN(2) == 0 {
			gm.gateway = g.pick(g.gateways)
		}
		if !slices.Contains(g.gateways, id) {
			g.meterBy[id] = gm
			g.meters = append(g.meters, gm)
		}
	}
	m := &contract.MsgRegisterMeter{ID: id, Owner: gm.owner, RES: gm.res, Gateway: gm.gateway, Battery: gm.battery}
	if m.Gateway == "" {
		m.PubKey = pubOf(devKeyID(id))
	}
	switch r := g.rng.IntN(30); {
	case r == 0:
		m.Owner = "ghost1"
	case r == 1:
		m.RES = "res-none"
	case r == 2 && len(g.res) > 0:
		m.RES = g.res[g.rng.IntN(len(g.res))].id // maybe another's: not_owner
	case r == 3:
		m.Gateway, m.PubKey = "gw-none", nil
	case r == 4:
		m.Gateway, m.PubKey = "gw0", pubOf(devKeyID(id)) // both: malformed
	case r == 5:
		m.Battery = "bat-none" // unknown_battery (or malformed, with a RES)
	case r == 6 && len(g.bats) > 0:
		m.RES = g.bats[g.rng.IntN(len(g.bats))].id // a battery as RES: battery_not_res, or malformed
	}
	signer := "operator"
	if g.rng.IntN(12) == 0 {
		signer = g.pick([]string{"dso", "m0"})
	}
	return g.signed(signer, m, "register_meter")
}

// readingsTx is a batch of 1..6 readings, mostly sent by the operator.
func (g *gen) readingsTx() genTx {
	signer := "operator"
	switch r := g.rng.IntN(10); {
	case r < 2:
		signer = g.pick(g.members)
	case r < 3:
		signer = g.pick([]string{"dso", "utility"}) // wrong role
	}
	n := 1 + g.rng.IntN(6)
	msg := &contract.MsgReadings{}
	var intents []genReading
	for range n {
		e, in := g.reading()
		msg.Readings = append(msg.Readings, e)
		intents = append(intents, in)
	}
	if g.rng.IntN(40) == 0 {
		msg.Readings[0].FineHash = []byte("not a sha-256") // whole batch malformed
	}
	tx := g.signed(signer, msg, "readings")
	tx.readings = intents
	return tx
}

// regsTime is when a device reads its registers: mostly at an interval's
// end or just before the block, sometimes well back.
func (g *gen) regsTime(m *genMeter) int64 {
	I, skew := g.params.IntervalS, g.params.ReadingSkewS
	var t int64
	switch r := g.rng.IntN(10); {
	case r < 4:
		t = (g.mt + skew) / I * I // the last interval end within the skew
	case r < 8:
		t = g.mt - g.rng.Int64N(600)
	default:
		t = g.mt - g.rng.Int64N(4*3600)
	}
	return max(t, m.time, 1)
}

// reading generates one entry of a batch and its intent.
func (g *gen) reading() (contract.ReadingEntry, genReading) {
	var fine []byte
	if g.rng.IntN(2) == 0 {
		fine = make([]byte, 32)
		for i := range fine {
			fine[i] = byte(g.rng.IntN(256))
		}
	}
	kind := g.rng.IntN(100)
	switch {
	case kind < 6 && len(g.entries) > 0:
		// A replay of an entry sent before, byte for byte.
		i := g.rng.IntN(len(g.entries))
		in := g.intents[i]
		in.what = "replay of " + in.what
		return g.entries[i], in
	case kind < 10 || len(g.meters) == 0:
		r := reading.Reading{Meter: "meter-ghost", Registers: reading.Registers{Seq: 1 + g.rng.Uint64N(5), Time: g.mt, ImportWh: g.rng.Int64N(1000)}}
		return g.signReading(r, devKeyID("meter-ghost"), false, fine, "unknown meter")
	case kind < 14:
		return g.malformedReading(fine)
	}
	m := g.meters[g.rng.IntN(len(g.meters))]
	key := devKeyID(m.id)
	if m.gateway != "" {
		key = gwKeyID(m.gateway)
	}
	m.seq++
	r := reading.Reading{Meter: m.id, Registers: reading.Registers{Seq: m.seq, Time: g.regsTime(m)}}
	next := func() {
		m.imp += g.rng.Int64N(2500)
		if m.battery != "" {
			// Charged and discharged; a production register is ignored.
			m.exp += g.rng.Int64N(3000)
			if g.rng.IntN(10) == 0 {
				m.prod += g.rng.Int64N(500)
			}
		} else if m.res != "" {
			p := g.rng.Int64N(4000)
			m.prod += p
			m.exp += g.rng.Int64N(p + 1)
		} else {
			m.exp += g.rng.Int64N(300)
			if g.rng.IntN(10) == 0 {
				m.prod += g.rng.Int64N(500) // production on a meter with no RES: ignored
			}
		}
		m.time = r.Time
		r.ImportWh, r.ExportWh, r.ProductionWh = m.imp, m.exp, m.prod
	}
	switch {
	case kind < 19:
		// Signed by the other kind of key: the gateway's for a meter with
		// its own, the meter's own for one read by a gateway; or a stranger's.
		next()
		switch {
		case g.rng.IntN(3) == 0:
			key = "mallory"
		case m.gateway == "" && len(g.gateways) > 0:
			key = gwKeyID(g.pick(g.gateways))
		default:
			key = devKeyID(m.id)
			if m.gateway == "" {
				key = "mallory"
			}
		}
		return g.signReading(r, key, false, fine, "wrong key")
	case kind < 24:
		next()
		return g.signReading(r, key, true, fine, "forged")
	case kind < 29:
		// Dated beyond the skew; the device's clock and registers stay.
		r.Time = g.mt + g.params.ReadingSkewS + 1 + g.rng.Int64N(3600)
		r.ImportWh, r.ExportWh, r.ProductionWh = m.imp, m.exp, m.prod
		return g.signReading(r, key, false, fine, "future")
	case kind < 34:
		// Registers below the device's last.
		r.ImportWh, r.ExportWh, r.ProductionWh = max(0, m.imp-1-g.rng.Int64N(500)), m.exp, m.prod
		if g.rng.IntN(2) == 0 {
			r.ImportWh, r.ExportWh = m.imp, max(0, m.exp-1-g.rng.Int64N(500))
		}
		return g.signReading(r, key, false, fine, "backwards")
	case kind < 39:
		// Dated before the device's last reading.
		r.Time = max(1, m.time-1-g.rng.Int64N(1800))
		r.ImportWh, r.ExportWh, r.ProductionWh = m.imp, m.exp, m.prod
		return g.signReading(r, key, false, fine, "older")
	}
	next()
	return g.signReading(r, key, false, fine, "reading")
}

// signReading signs r with keyID's key; forged, it then sends r with one
// more Wh imported under the same signature.
func (g *gen) signReading(r reading.Reading, keyID string, forged bool, fine []byte, what string) (contract.ReadingEntry, genReading) {
	sr, err := reading.Sign(keyOf(keyID), r)
	if err != nil {
		g.t.Fatalf("sign reading %+v: %v", r, err)
	}
	if forged {
		r.ImportWh++
		b, err := json.Marshal(r)
		if err != nil {
			g.t.Fatal(err)
		}
		sr.Reading = b
	}
	e := contract.ReadingEntry{Signed: sr, FineHash: fine}
	in := genReading{r: r, keyID: keyID, forged: forged, fine: fine, what: what}
	g.entries = append(g.entries, e)
	g.intents = append(g.intents, in)
	return e, in
}

// malformedReading is an entry that does not parse: a short signature, a
// sequence number 0, an unknown field, or no reading at all.
func (g *gen) malformedReading(fine []byte) (contract.ReadingEntry, genReading) {
	sig := make([]byte, 64)
	var raw json.RawMessage
	switch g.rng.IntN(4) {
	case 0:
		sr, err := reading.Sign(keyOf("mallory"), reading.Reading{Meter: "meter0", Registers: reading.Registers{Seq: 1, Time: g.mt}})
		if err != nil {
			g.t.Fatal(err)
		}
		raw, sig = sr.Reading, sr.Sig[:10]
	case 1:
		raw = json.RawMessage(fmt.Sprintf(`{"meter":"meter0","seq":0,"time":%d,"import_wh":0,"export_wh":0,"production_wh":0}`, g.mt))
	case 2:
		raw = json.RawMessage(fmt.Sprintf(`{"meter":"meter1","seq":9,"time":%d,"import_wh":0,"export_wh":0,"production_wh":0,"extra":1}`, g.mt))
	default:
		raw = json.RawMessage(`null`)
	}
	return contract.ReadingEntry{Signed: reading.Signed{Reading: raw, Sig: sig}, FineHash: fine},
		genReading{malformed: true, what: "malformed"}
}

// trade queues what it takes for a producer and a consumer to trade in the
// next listing to close: the asset's approval, money for the buyer, an offer
// and a crossing bid. Each is still checked like any other transaction.
func (g *gen) trade() {
	res := g.res[g.rng.IntN(len(g.res))]
	buyer := g.pick(g.members[:4])
	listing := func() int64 {
		I, G := g.params.IntervalS, g.params.GateClosureS
		return ((g.mt+G)/I + 1) * I
	}
	g.queue = append(g.queue,
		func() genTx { return g.signed("dso", &contract.MsgApproveRES{ID: res.id}, "approve") },
		func() genTx { return g.signed("operator", &contract.MsgIssue{To: buyer, Amount: unit}, "issue") },
		func() genTx {
			wh := 1 + g.rng.Int64N(res.capW*g.params.IntervalS/3600)
			tx := g.signed(res.owner, &contract.MsgOffer{Listing: listing(), RES: res.id, Wh: wh, PricePerKWh: g.rng.Int64N(40_000)}, "offer")
			g.orders = append(g.orders, fmt.Sprintf("%s/%d", res.owner, tx.nonce))
			return tx
		},
		func() genTx {
			tx := g.signed(buyer, &contract.MsgBid{Listing: listing(), Wh: 1 + g.rng.Int64N(4000), PricePerKWh: 60_000 + g.rng.Int64N(40_000)}, "bid")
			g.orders = append(g.orders, fmt.Sprintf("%s/%d", buyer, tx.nonce))
			return tx
		})
}

// batteryTx registers or approves a battery: mostly valid, some by the
// wrong role, with bad ratings, an id taken (by a battery or a RES) or
// unknown.
func (g *gen) batteryTx() genTx {
	if len(g.bats) > 0 && g.rng.IntN(5) < 2 {
		signer := "dso"
		if g.rng.IntN(7) == 0 {
			signer = g.pick([]string{"operator", "m1"})
		}
		id := g.bats[g.rng.IntN(len(g.bats))].id
		if g.rng.IntN(8) == 0 {
			id = "bat-none"
		}
		return g.signed(signer, &contract.MsgApproveBattery{ID: id}, "approve_battery")
	}
	// Owners: any member, so that most sellers keep their renewable
	// export whole (a battery without a meter takes its rated power
	// from it every interval).
	signer := g.pick(g.members)
	if g.rng.IntN(10) == 0 {
		signer = g.pick([]string{"operator", "dso"})
	}
	capWh := 2000 + g.rng.Int64N(18_000)
	b := genBattery{id: fmt.Sprintf("bat%d", len(g.bats)), owner: signer, capWh: capWh, maxW: 1 + g.rng.Int64N(capWh/4)}
	msg := &contract.MsgRegisterBattery{ID: b.id, CapacityWh: b.capWh, MaxChargeW: b.maxW, MaxDischargeW: b.maxW}
	switch r := g.rng.IntN(12); {
	case r == 0:
		msg.CapacityWh = []int64{0, -1, contract.MaxBatteryWh + 1}[g.rng.IntN(3)]
	case r == 1:
		msg.MaxDischargeW = contract.MaxBatteryCRate*msg.CapacityWh + 1 + g.rng.Int64N(1000)
	case r == 2 && len(g.res) > 0:
		msg.ID = g.res[g.rng.IntN(len(g.res))].id // a RES's id: duplicate
	case r == 3 && len(g.bats) > 0:
		msg.ID = g.bats[g.rng.IntN(len(g.bats))].id // duplicate
	default:
		g.bats = append(g.bats, b)
	}
	return g.signed(signer, msg, "register_battery")
}

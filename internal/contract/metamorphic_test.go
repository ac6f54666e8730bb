package contract_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
	"github.com/gridledger/gridledger/internal/reading"
)

// The metamorphic test, in the manner of pebble's: one seeded random stream
// of transactions and blocks (gen_test.go) is run
//
//	(a) through the real State;
//	(b) through refModel, a small reference model written here with plain
//	    maps: the contract's bookkeeping (validation order, nonces, rate
//	    limit, escrow, payments, refunds, listing schedule, gateways and
//	    meters, each reading's acceptance, closing readings, delivery
//	    settlement by settle.go's rules 1-8 with debts) done again without
//	    its code, sharing only market.Clear for the clearing arithmetic;
//	(c) through the real State persisted and reloaded halfway: every
//	    commitment's writes are collected as the chain adapter keeps them
//	    (a nil value deletes) and Load rebuilds a state from them (in
//	    shuffled order) that takes over.
//
// (a) and (b) must agree on every transaction's code, every reading's
// outcome and, after every block, on every wallet and debt, nonce, order,
// listing, meter (last reading, baseline, counters) and settlement; (a)
// and (c) on every result, write, event and app hash after the reload.

// Exploring: -meta.seeds and -meta.txs set how many streams run and how
// long each is, -meta.seed the first seed (the defaults are the CI run).
// A stream that fails is written to a file (in -meta.out, or a new
// temporary directory), named in the failure; -meta.replay FILE runs
// exactly that stream again. docs/ledger.md "Tests" gives a long run.
var (
	metaSeeds  = flag.Int("meta.seeds", 24, "metamorphic: how many seeded streams to run")
	metaSeed   = flag.Uint64("meta.seed", 0, "metamorphic: the first seed")
	metaTxs    = flag.Int("meta.txs", 500, "metamorphic: transactions per stream")
	metaOut    = flag.String("meta.out", "", "metamorphic: directory for failing streams (default: a new temporary directory)")
	metaReplay = flag.String("meta.replay", "", "metamorphic: replay the stream in this file instead of generating")
)

func TestMetamorphic(t *testing.T) {
	seen := map[string]int{}
	if *metaReplay != "" {
		st, err := loadMetaStream(*metaReplay)
		if err != nil {
			t.Fatal(err)
		}
		next := 0
		runStream(t, st.Seed, st.Txs, func() (genBlock, bool) {
			if next == len(st.Blocks) {
				return genBlock{}, false
			}
			next++
			return st.Blocks[next-1].block(t), true
		}, seen)
		return
	}
	for seed := *metaSeed; seed < *metaSeed+uint64(*metaSeeds); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runMetamorphic(t, seed, *metaTxs, seen) })
	}
	if *metaSeeds*(*metaTxs) < 24*500 {
		return // too short a run to ask for coverage
	}
	// The stream must reach every reading outcome and every settlement
	// rule, or agreement with the model proves little.
	want := []string{"reading/ok/device", "reading/ok/gateway", "reading/gap", "reading/second_in_interval", "reading/stale_settled",
		"settle", "settle/missing", "settle/no_utility", "settle/debt", "settle/debt_paid", "settle/minted", "settle/delivered",
		"settle/shortfall", "settle/unused", "settle/grid_import", "settle/buyer_exported", "settle/self_retired", "settle/grid_export",
		"settle/pool", "tx/wrong_registration",
		"settle/battery_metered", "settle/battery_unmetered", "settle/battery_not_renewable",
		"tx/unknown_battery", "tx/battery_not_res"}
	for _, c := range contract.Codes() {
		switch c.Code {
		case contract.CodeMalformed, contract.CodeUnknownMeter, contract.CodeSuspended, contract.CodeBadSignature, contract.CodeReplay,
			contract.CodeFutureReading, contract.CodeStaleReading, contract.CodeRegistersBackwards:
			want = append(want, "reading/"+c.Name)
		}
	}
	for _, w := range want {
		if seen[w] == 0 {
			t.Errorf("the random stream never reached %s", w)
		}
	}
	t.Logf("coverage: %v", seen)
}

// runMetamorphic runs one generated stream, and writes it to a file if it
// fails.
func runMetamorphic(t *testing.T, seed uint64, nTx int, seen map[string]int) {
	gen := newGen(t, seed)
	rec := metaStream{Seed: seed, Txs: nTx}
	defer func() {
		if t.Failed() {
			rec.save(t)
		}
	}()
	runStream(t, seed, nTx, func() (genBlock, bool) {
		b := gen.next()
		rec.Blocks = append(rec.Blocks, recordBlock(t, b))
		return b, true
	}, seen)
}

// runStream runs the blocks next gives, until nTx transactions have gone
// or next has no more.
func runStream(t *testing.T, seed uint64, nTx int, next func() (genBlock, bool), seen map[string]int) {
	genesis := genGenesis()
	a, ca, err := contract.NewGenesis(testChain, genesis, T0*ns)
	if err != nil {
		t.Fatal(err)
	}
	model := newRefModel(genesis)
	writes := map[string][]byte{}
	keep := func(c contract.Commitment) { keepWrites(writes, c) }
	keep(ca)
	var c *contract.State // (c), once reloaded
	sent := 0
	ended := false
	for height := int64(1); sent < nTx; height++ {
		b, ok := next()
		if !ok {
			ended = true
			break
		}
		sent += len(b.txs)
		raws := rawTxs(b)

		a.BeginBlock(height, b.mt*ns)
		resA := a.DeliverTxs(raws)
		commitA, eventsA := a.EndBlock()
		keep(commitA)

		model.begin(height, b.mt)
		for i, tx := range b.txs {
			code := model.deliver(tx)
			model.seen["tx/"+code.Name()]++
			if code != resA[i].Code {
				t.Fatalf("block %d tx %d (%s by %s, nonce %d): state %s (%s), model %s",
					height, i, tx.what, tx.signer, tx.nonce, resA[i].Code.Name(), resA[i].Log, code.Name())
			}
			if resA[i].Code == contract.CodeOK && tx.typ == contract.TypeReadings {
				compareReadings(t, height, i, tx, model.outcomes, resA[i].Events)
			}
		}
		model.compare(t, a, height)

		if c != nil {
			c.BeginBlock(height, b.mt*ns)
			resC := c.DeliverTxs(raws)
			commitC, eventsC := c.EndBlock()
			if !reflect.DeepEqual(resA, resC) {
				t.Fatalf("block %d: results differ after reload\n%+v\n%+v", height, resA, resC)
			}
			if !bytes.Equal(commitA.AppHash, commitC.AppHash) || !reflect.DeepEqual(commitA.Writes, commitC.Writes) ||
				!reflect.DeepEqual(commitA.Accounts, commitC.Accounts) || !reflect.DeepEqual(eventsA, eventsC) {
				t.Fatalf("block %d: commitment or events differ after reload", height)
			}
		} else if sent >= nTx/2 {
			c = reload(t, writes, commitA, seed)
			if !bytes.Equal(c.AppHash(), a.AppHash()) {
				t.Fatalf("block %d: reloaded app hash differs", height)
			}
		}
	}
	if c == nil {
		if ended {
			return // a replayed stream cut short before its reload
		}
		t.Fatal("never reloaded")
	}
	if !reflect.DeepEqual(a.Participants(), c.Participants()) || !reflect.DeepEqual(a.Info(), c.Info()) ||
		!reflect.DeepEqual(a.Meters(), c.Meters()) || !reflect.DeepEqual(a.Gateways(), c.Gateways()) ||
		!reflect.DeepEqual(a.Settlements(0, forever), c.Settlements(0, forever)) {
		t.Error("final states of (a) and (c) differ")
	}
	model.compare(t, c, -1)
	for k, v := range model.seen {
		seen[k] += v
	}
}

// compareReadings checks each reading's outcome in a readings transaction
// against the model's: the refusals in order (code, and meter and seq of
// those that parsed), then the batch's counts.
func compareReadings(t *testing.T, height int64, i int, tx genTx, want []readingOutcome, events []contract.Event) {
	t.Helper()
	var rejected []contract.Event
	for _, e := range events {
		if e.Type == "reading_rejected" {
			rejected = append(rejected, e)
		}
	}
	accepted, k := 0, 0
	for j, o := range want {
		if o.code == contract.CodeOK {
			accepted++
			continue
		}
		if k >= len(rejected) {
			t.Fatalf("block %d tx %d reading %d (%s): model %s, state accepted it", height, i, j, tx.readings[j].what, o.code.Name())
		}
		a := attrs(rejected[k])
		k++
		if a["code"] != o.code.Name() || (o.code != contract.CodeMalformed && (a["meter"] != o.meter || a["seq"] != fmt.Sprint(o.seq))) {
			t.Fatalf("block %d tx %d reading %d (%s): state %v, model %s %s/%d", height, i, j, tx.readings[j].what, a, o.code.Name(), o.meter, o.seq)
		}
	}
	if k != len(rejected) {
		t.Fatalf("block %d tx %d: state refused %d readings, model %d", height, i, len(rejected), k)
	}
	last := attrs(events[len(events)-1])
	if events[len(events)-1].Type != "readings" || last["accepted"] != fmt.Sprint(accepted) || last["rejected"] != fmt.Sprint(len(want)-accepted) {
		t.Fatalf("block %d tx %d: summary %v, model accepted %d of %d", height, i, last, accepted, len(want))
	}
}

// reload rebuilds a state from the persisted writes, handed over in a
// shuffled order (Load takes them "in any order").
func reload(t *testing.T, writes map[string][]byte, last contract.Commitment, seed uint64) *contract.State {
	t.Helper()
	keys := slices.Sorted(maps.Keys(writes))
	rand.New(rand.NewPCG(seed, 1)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	entries := make([]contract.KV, len(keys))
	for i, k := range keys {
		entries[i] = contract.KV{Key: k, Value: bytes.Clone(writes[k])}
	}
	s, err := contract.Load(entries, last.Height, last.MarketTime)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// refModel is the reference model.
type refModel struct {
	chain            string
	params           contract.Params
	height           int64
	mt, next         int64
	issued, redeemed int64
	parts            map[string]*refPart
	res              map[string]*refRES
	batteries        map[string]*refBattery
	meters           map[string]*refMeter
	gateways         map[string]*refGateway
	listings         map[int64]*refListing
	orders           map[string]*refOrder
	clearedNow       []int64 // listings cleared by the current block
	settledNow       []int64 // listings settled by the current block

	// closings[start][meter] is the last reading accepted dated inside
	// the listing's interval (start, end], until it settles.
	closings    map[int64]map[string]contract.IntervalReading
	settlements map[int64]*contract.Settlement
	accepted    int64
	rejected    map[string]int64
	// outcomes of the last readings transaction delivered, one per entry.
	outcomes []readingOutcome
	// seen counts every reading outcome and settlement feature, for
	// coverage.
	seen map[string]int
}

type refPart struct {
	role            contract.Role
	key             string // id whose key the participant registered
	registered      int64  // height of its registration
	nonce           uint64
	suspended       bool
	balance, escrow int64
	window, count   int64
	owes            map[string]int64
}

type refBattery struct {
	owner         string
	maxDischargeW int64
	approved      bool
}

type refMeter struct {
	owner, res, gateway string
	battery             string
	pub                 []byte // its own key, when it has one
	last, base          *reading.Registers
	accepted            int64
	rejected            map[string]int64
}

type refGateway struct {
	owner string
	pub   []byte
}

type readingOutcome struct {
	code  contract.Code
	meter string
	seq   uint64
}

type refRES struct {
	owner    string
	capW     int64
	approved bool
}

type refListing struct {
	start, end, gate int64
	open             bool
	mech             market.Mechanism
	imbalance        string
	grid, feed       int64
	orders           []*refOrder // arrival order
	result           *market.Result
	settled          bool
}

type refOrder struct {
	id, who, res string
	listing      int64
	bid          bool
	wh, price    int64
	escrow       int64
	cancelled    bool
}

func newRefModel(g contract.Genesis) *refModel {
	m := &refModel{
		chain: testChain, params: g.Params,
		parts: map[string]*refPart{}, res: map[string]*refRES{}, batteries: map[string]*refBattery{}, meters: map[string]*refMeter{},
		gateways: map[string]*refGateway{}, listings: map[int64]*refListing{}, orders: map[string]*refOrder{},
		closings: map[int64]map[string]contract.IntervalReading{}, settlements: map[int64]*contract.Settlement{},
		rejected: map[string]int64{}, seen: map[string]int{},
	}
	for _, p := range g.Participants {
		m.parts[p.ID] = &refPart{role: p.Role, key: p.ID}
	}
	return m
}

// begin starts a block: close and clear what reached gate closure, settle
// what was delivered, then open every interval whose gate is still ahead,
// up to the horizon.
func (m *refModel) begin(height, mt int64) {
	m.height, m.mt = height, mt
	m.clearedNow = m.clearedNow[:0]
	m.settledNow = m.settledNow[:0]
	var closing []int64
	for start, l := range m.listings {
		if l.open && l.gate <= mt {
			closing = append(closing, start)
		}
	}
	slices.Sort(closing)
	for _, start := range closing {
		m.clear(m.listings[start])
	}
	m.settleDue()
	I, G := m.params.IntervalS, m.params.GateClosureS
	if m.next == 0 {
		m.next = (mt/I + 1) * I
	}
	for ; m.next < mt+m.params.HorizonIntervals*I; m.next += I {
		if m.next-G <= mt {
			continue // would open already closed
		}
		hod := ((m.next+m.params.TariffUTCOffsetS)%86400 + 86400) % 86400 / 3600
		m.listings[m.next] = &refListing{
			start: m.next, end: m.next + I, gate: m.next - G, open: true, mech: m.params.Mechanism, imbalance: m.params.Imbalance,
			grid: m.params.GridPricePerKWh[hod], feed: m.params.FeedInPerKWh[hod],
		}
	}
}

func (m *refModel) clear(l *refListing) {
	book := market.Book{GridPricePerKWh: l.grid, FeedInPerKWh: l.feed}
	for _, o := range l.orders {
		if o.cancelled {
			continue
		}
		mo := market.Order{ID: o.id, Participant: o.who, Wh: o.wh, PricePerKWh: o.price}
		if o.bid {
			book.Bids = append(book.Bids, mo)
		} else {
			book.Offers = append(book.Offers, mo)
		}
	}
	res, err := market.Clear(l.mech, book)
	if err != nil {
		panic(fmt.Sprintf("model: clearing %d: %v", l.start, err))
	}
	for _, tr := range res.Trades {
		v := tr.Wh * tr.PricePerKWh
		m.orders[tr.BidID].escrow -= v
		m.parts[tr.Buyer].escrow -= v
		m.parts[tr.Seller].balance += v
	}
	for _, o := range l.orders {
		if o.bid && o.escrow > 0 {
			m.parts[o.who].escrow -= o.escrow
			m.parts[o.who].balance += o.escrow
			o.escrow = 0
		}
	}
	l.open, l.result = false, &res
	m.clearedNow = append(m.clearedNow, l.start)
}

// shape is what decoding alone refuses.
func shape(tx genTx) contract.Code {
	if tx.junk {
		return contract.CodeMalformed
	}
	in := func(v, max int64) bool { return v >= 1 && v <= max }
	price := func(p int64) bool { return p >= 0 && p <= contract.MaxPricePerKWh }
	ok := true
	switch msg := tx.msg.(type) {
	case *contract.MsgBid:
		ok = in(msg.Wh, contract.MaxOrderWh) && price(msg.PricePerKWh)
	case *contract.MsgOffer:
		ok = in(msg.Wh, contract.MaxOrderWh) && price(msg.PricePerKWh)
	case *contract.MsgIssue:
		ok = in(msg.Amount, contract.MaxAmount)
	case *contract.MsgRedeem:
		ok = in(msg.Amount, contract.MaxAmount)
	case *contract.MsgRegisterRES:
		ok = in(msg.CapacityW, contract.MaxCapacityW)
	case *contract.MsgRegisterBattery:
		c := msg.CapacityWh
		ok = in(c, contract.MaxBatteryWh) && in(msg.MaxChargeW, contract.MaxCapacityW) && in(msg.MaxDischargeW, contract.MaxCapacityW) &&
			msg.MaxChargeW <= 4*c && msg.MaxDischargeW <= 4*c
	case *contract.MsgRegisterMeter:
		if msg.Gateway != "" && len(msg.PubKey) != 0 || msg.RES != "" && msg.Battery != "" {
			return contract.CodeMalformed
		}
	case *contract.MsgReadings:
		for _, e := range msg.Readings {
			if len(e.FineHash) != 0 && len(e.FineHash) != 32 {
				return contract.CodeMalformed
			}
		}
	}
	if !ok {
		return contract.CodeBadQuantity
	}
	return contract.CodeOK
}

// deliver applies one transaction, checking in the contract's order:
// shape, chain, signer, signature, nonce (spent from here on), suspension,
// rate limit, then the message's own rules.
func (m *refModel) deliver(tx genTx) contract.Code {
	if c := shape(tx); c != contract.CodeOK {
		return c
	}
	if tx.chain != m.chain {
		return contract.CodeWrongChain
	}
	p, ok := m.parts[tx.signer]
	if !ok {
		return contract.CodeUnknownParticipant
	}
	if tx.keyID != p.key {
		return contract.CodeBadSignature
	}
	if tx.registered != p.registered {
		return contract.CodeWrongRegistration
	}
	if tx.nonce <= p.nonce {
		return contract.CodeReplay
	}
	p.nonce = tx.nonce
	if p.suspended {
		return contract.CodeSuspended
	}
	if p.role == contract.RoleMember {
		if w := m.mt / m.params.IntervalS; p.window != w {
			p.window, p.count = w, 0
		}
		if p.count >= m.params.MaxTxPerInterval {
			return contract.CodeRateLimited
		}
		p.count++
	}
	return m.apply(tx, p)
}

func (m *refModel) apply(tx genTx, p *refPart) contract.Code {
	role := func(r contract.Role) bool { return p.role == r }
	switch msg := tx.msg.(type) {
	case *contract.MsgRegisterParticipant:
		switch {
		case !role(contract.RoleOperator):
			return contract.CodeWrongRole
		case m.parts[msg.ID] != nil:
			return contract.CodeDuplicate
		}
		m.parts[msg.ID] = &refPart{role: msg.Role, key: msg.ID, registered: m.height}
	case *contract.MsgSetSuspended:
		suspend := tx.typ == contract.TypeSuspendParticipant
		target := m.parts[msg.ID]
		switch {
		case !role(contract.RoleOperator):
			return contract.CodeWrongRole
		case target == nil:
			return contract.CodeUnknownParticipant
		case msg.ID == tx.signer:
			return contract.CodeWrongRole
		case target.suspended == suspend:
			return contract.CodeDuplicate
		}
		target.suspended = suspend
	case *contract.MsgRegisterRES:
		switch {
		case !role(contract.RoleMember):
			return contract.CodeWrongRole
		case m.res[msg.ID] != nil, m.batteries[msg.ID] != nil:
			return contract.CodeDuplicate
		}
		m.res[msg.ID] = &refRES{owner: tx.signer, capW: msg.CapacityW}
	case *contract.MsgRegisterBattery:
		switch {
		case !role(contract.RoleMember):
			return contract.CodeWrongRole
		case m.batteries[msg.ID] != nil, m.res[msg.ID] != nil:
			return contract.CodeDuplicate
		}
		m.batteries[msg.ID] = &refBattery{owner: tx.signer, maxDischargeW: msg.MaxDischargeW}
	case *contract.MsgApproveBattery:
		b := m.batteries[msg.ID]
		switch {
		case !role(contract.RoleDSO):
			return contract.CodeWrongRole
		case b == nil:
			return contract.CodeUnknownBattery
		case b.approved:
			return contract.CodeDuplicate
		}
		b.approved = true
	case *contract.MsgApproveRES:
		r := m.res[msg.ID]
		switch {
		case !role(contract.RoleDSO):
			return contract.CodeWrongRole
		case r == nil:
			return contract.CodeUnknownRES
		case r.approved:
			return contract.CodeDuplicate
		}
		r.approved = true
	case *contract.MsgRegisterMeter:
		switch {
		case !role(contract.RoleOperator):
			return contract.CodeWrongRole
		case m.meters[msg.ID] != nil:
			return contract.CodeDuplicate
		case m.parts[msg.Owner] == nil:
			return contract.CodeUnknownParticipant
		case msg.RES != "" && m.res[msg.RES] == nil && m.batteries[msg.RES] != nil:
			return contract.CodeBatteryNotRES
		case msg.RES != "" && m.res[msg.RES] == nil:
			return contract.CodeUnknownRES
		case msg.RES != "" && m.res[msg.RES].owner != msg.Owner:
			return contract.CodeNotOwner
		case m.gateways[msg.ID] != nil:
			return contract.CodeDuplicate
		case msg.Gateway != "" && m.gateways[msg.Gateway] == nil:
			return contract.CodeUnknownMeter
		case msg.Battery != "" && m.batteries[msg.Battery] == nil:
			return contract.CodeUnknownBattery
		case msg.Battery != "" && m.batteries[msg.Battery].owner != msg.Owner:
			return contract.CodeNotOwner
		case msg.Battery != "" && slices.ContainsFunc(slices.Collect(maps.Values(m.meters)), func(x *refMeter) bool { return x.battery == msg.Battery }):
			return contract.CodeDuplicate
		}
		m.meters[msg.ID] = &refMeter{owner: msg.Owner, res: msg.RES, gateway: msg.Gateway, battery: msg.Battery, pub: msg.PubKey}
	case *contract.MsgRegisterGateway:
		switch {
		case !role(contract.RoleOperator):
			return contract.CodeWrongRole
		case m.gateways[msg.ID] != nil, m.meters[msg.ID] != nil:
			return contract.CodeDuplicate
		case m.parts[msg.Owner] == nil:
			return contract.CodeUnknownParticipant
		}
		m.gateways[msg.ID] = &refGateway{owner: msg.Owner, pub: msg.PubKey}
	case *contract.MsgReadings:
		if !role(contract.RoleOperator) && !role(contract.RoleMember) {
			return contract.CodeWrongRole
		}
		m.outcomes = m.outcomes[:0]
		for _, in := range tx.readings {
			m.outcomes = append(m.outcomes, m.reading(in))
		}
	case *contract.MsgIssue:
		switch {
		case !role(contract.RoleOperator):
			return contract.CodeWrongRole
		case m.parts[msg.To] == nil:
			return contract.CodeUnknownParticipant
		}
		m.parts[msg.To].balance += msg.Amount
		m.issued += msg.Amount
	case *contract.MsgRedeem:
		switch {
		case !role(contract.RoleOperator):
			return contract.CodeWrongRole
		case m.parts[msg.From] == nil:
			return contract.CodeUnknownParticipant
		case m.parts[msg.From].balance < msg.Amount:
			return contract.CodeInsufficientFunds
		}
		m.parts[msg.From].balance -= msg.Amount
		m.redeemed += msg.Amount
	case *contract.MsgSetParams:
		if !role(contract.RoleOperator) {
			return contract.CodeWrongRole
		}
		m.params = msg.Params
	case *contract.MsgOffer:
		if !role(contract.RoleMember) {
			return contract.CodeWrongRole
		}
		l, code := m.openListing(msg.Listing)
		if code != contract.CodeOK {
			return code
		}
		r := m.res[msg.RES]
		switch {
		case r == nil && m.batteries[msg.RES] != nil:
			return contract.CodeBatteryNotRES
		case r == nil:
			return contract.CodeUnknownRES
		case r.owner != tx.signer:
			return contract.CodeNotOwner
		case !r.approved:
			return contract.CodeRESNotApproved
		case m.onSide(l, tx.signer, true):
			return contract.CodeDuplicate
		}
		offered := msg.Wh
		for _, o := range l.orders {
			if !o.bid && !o.cancelled && o.res == msg.RES {
				offered += o.wh
			}
		}
		if offered > r.capW*(l.end-l.start)/3600 {
			return contract.CodeAboveCapacity
		}
		m.add(l, &refOrder{id: fmt.Sprintf("%s/%d", tx.signer, tx.nonce), who: tx.signer, res: msg.RES, wh: msg.Wh, price: msg.PricePerKWh})
	case *contract.MsgBid:
		if !role(contract.RoleMember) {
			return contract.CodeWrongRole
		}
		l, code := m.openListing(msg.Listing)
		if code != contract.CodeOK {
			return code
		}
		if m.onSide(l, tx.signer, false) {
			return contract.CodeDuplicate
		}
		v := msg.Wh * msg.PricePerKWh
		if p.balance < v {
			return contract.CodeInsufficientFunds
		}
		p.balance -= v
		p.escrow += v
		m.add(l, &refOrder{id: fmt.Sprintf("%s/%d", tx.signer, tx.nonce), who: tx.signer, bid: true, wh: msg.Wh, price: msg.PricePerKWh, escrow: v})
	case *contract.MsgCancel:
		o := m.orders[msg.Order]
		switch {
		case o == nil || o.cancelled:
			return contract.CodeUnknownOrder
		case o.who != tx.signer:
			return contract.CodeNotOwner
		case !m.listings[o.listing].open:
			return contract.CodeGateClosed
		}
		o.cancelled = true
		p.balance += o.escrow
		p.escrow -= o.escrow
		o.escrow = 0
	default:
		panic(fmt.Sprintf("model: no rule for %T", msg))
	}
	return contract.CodeOK
}

func (m *refModel) openListing(start int64) (*refListing, contract.Code) {
	l := m.listings[start]
	switch {
	case l == nil:
		return nil, contract.CodeUnknownListing
	case !l.open:
		return nil, contract.CodeGateClosed
	}
	return l, contract.CodeOK
}

// onSide reports whether who has a live order on the other side of the
// one it is placing: a bid when offering, an offer when bidding.
func (m *refModel) onSide(l *refListing, who string, offering bool) bool {
	for _, o := range l.orders {
		if o.who == who && !o.cancelled && o.bid == offering {
			return true
		}
	}
	return false
}

func (m *refModel) add(l *refListing, o *refOrder) {
	o.listing = l.start
	l.orders = append(l.orders, o)
	m.orders[o.id] = o
}

// compare checks a state against the model: wallets, nonces, suspensions,
// supply, open listings, every order, and the listings cleared in this
// block (height -1: every cleared listing).
func (m *refModel) compare(t *testing.T, s *contract.State, height int64) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("block %d: %s", height, fmt.Sprintf(format, args...))
	}
	parts := s.Participants()
	if len(parts) != len(m.parts) {
		fail("%d participants, model %d", len(parts), len(m.parts))
	}
	for _, p := range parts {
		r := m.parts[p.ID]
		if r == nil || p.Balance != r.balance || p.Escrow != r.escrow || p.Nonce != r.nonce || p.Registered != r.registered || p.Suspended != r.suspended ||
			!maps.Equal(p.Owes, r.owes) {
			fail("%s: state %+v, model %+v", p.ID, p, r)
		}
	}
	in := s.Info()
	if in.Issued != m.issued || in.Redeemed != m.redeemed {
		fail("issued %d redeemed %d, model %d %d", in.Issued, in.Redeemed, m.issued, m.redeemed)
	}
	if in.ReadingsAccepted != m.accepted || !maps.Equal(in.ReadingsRejected, m.rejected) {
		fail("readings accepted %d rejected %v, model %d %v", in.ReadingsAccepted, in.ReadingsRejected, m.accepted, m.rejected)
	}
	if gws := s.Gateways(); len(gws) != len(m.gateways) {
		fail("%d gateways, model %d", len(gws), len(m.gateways))
	} else {
		for _, g := range gws {
			if r := m.gateways[g.ID]; r == nil || r.owner != g.Owner || !bytes.Equal(r.pub, g.PubKey) {
				fail("gateway %+v, model %+v", g, r)
			}
		}
	}
	meters := s.Meters()
	if len(meters) != len(m.meters) {
		fail("%d meters, model %d", len(meters), len(m.meters))
	}
	for _, mt := range meters {
		r := m.meters[mt.ID]
		if r == nil || mt.Owner != r.owner || mt.RES != r.res || mt.Gateway != r.gateway || mt.Battery != r.battery || !bytes.Equal(mt.PubKey, r.pub) ||
			!reflect.DeepEqual(mt.Last, r.last) || !reflect.DeepEqual(mt.Baseline, r.base) ||
			mt.Accepted != r.accepted || !maps.Equal(mt.Rejected, r.rejected) {
			fail("meter %s: state %+v, model %+v", mt.ID, mt, r)
		}
	}
	var open, modelOpen []int64
	for _, l := range s.Listings(0, forever, false) {
		if l.State == contract.StateAuthorizeOffers {
			open = append(open, l.Start)
		}
	}
	for start, l := range m.listings {
		if l.open {
			modelOpen = append(modelOpen, start)
		}
	}
	slices.Sort(modelOpen)
	if !slices.Equal(open, modelOpen) {
		fail("open listings %v, model %v", open, modelOpen)
	}
	if n := s.Info().Orders; n != len(m.orders) {
		fail("%d orders, model %d", n, len(m.orders))
	}
	for id, o := range m.orders {
		so, ok := s.Order(id)
		if !ok || so.Escrow != o.escrow || so.Cancelled != o.cancelled || so.Wh != o.wh || so.Listing != o.listing {
			fail("order %s: state %+v, model %+v", id, so, o)
		}
	}
	cleared := m.clearedNow
	if height < 0 {
		cleared = nil
		for start, l := range m.listings {
			if l.result != nil {
				cleared = append(cleared, start)
			}
		}
	}
	for _, start := range cleared {
		l, ok := s.Listing(start)
		r := m.listings[start].result
		if !ok || l.Clearing == nil || !reflect.DeepEqual(l.Clearing.MCP, r.MCP) ||
			l.Clearing.TradedWh != r.TradedWh || !reflect.DeepEqual(l.Clearing.Trades, r.Trades) {
			fail("listing %d: state %+v, model %+v", start, l.Clearing, r)
		}
	}
	// Settlements: the ones of this block (every one at the end) equal
	// the model's, field by field; and the listings in SETTLED are the
	// model's settled ones.
	var settled, modelSettled []int64
	for _, l := range s.Listings(0, forever, false) {
		if l.State == contract.StateSettled {
			settled = append(settled, l.Start)
		}
	}
	for start, l := range m.listings {
		if l.settled {
			modelSettled = append(modelSettled, start)
		}
	}
	slices.Sort(modelSettled)
	if !slices.Equal(settled, modelSettled) {
		fail("settled listings %v, model %v", settled, modelSettled)
	}
	if n := len(s.Settlements(0, forever)); n != len(m.settlements) {
		fail("%d settlements, model %d", n, len(m.settlements))
	}
	check := m.settledNow
	if height < 0 {
		check = modelSettled
	}
	for _, start := range check {
		got, ok := s.Settlement(start)
		if want := m.settlements[start]; !ok || !reflect.DeepEqual(&got, want) {
			fail("settlement %d:\nstate %+v\nmodel %+v", start, got, want)
		}
	}
}

// reading accepts or refuses one reading, checking as settle.go's doc and
// the ledger docs say: it parses; its meter is known; the meter's owner is
// not suspended; it is signed by the meter's own key or, for a meter read
// by a gateway, the gateway's; its seq is above the last accepted; it is
// dated no further ahead than the skew, not before the last accepted, with
// no register below the last; and not inside an interval already settled.
func (m *refModel) reading(in genReading) readingOutcome {
	out := readingOutcome{meter: in.r.Meter, seq: in.r.Seq}
	refuse := func(mt *refMeter, c contract.Code) readingOutcome {
		m.rejected[c.Name()]++
		if mt != nil {
			if mt.rejected == nil {
				mt.rejected = map[string]int64{}
			}
			mt.rejected[c.Name()]++
		}
		m.seen["reading/"+c.Name()]++
		out.code = c
		return out
	}
	if in.malformed {
		return refuse(nil, contract.CodeMalformed)
	}
	mt := m.meters[in.r.Meter]
	if mt == nil {
		return refuse(nil, contract.CodeUnknownMeter)
	}
	want, by := mt.pub, "device"
	if mt.gateway != "" {
		want, by = m.gateways[mt.gateway].pub, "gateway"
	}
	r := in.r
	switch {
	case m.parts[mt.owner].suspended:
		return refuse(mt, contract.CodeSuspended)
	case in.forged || !bytes.Equal(pubOf(in.keyID), want):
		return refuse(mt, contract.CodeBadSignature)
	case mt.last != nil && r.Seq <= mt.last.Seq:
		return refuse(mt, contract.CodeReplay)
	case r.Time > m.mt+m.params.ReadingSkewS:
		return refuse(mt, contract.CodeFutureReading)
	case mt.last != nil && r.Time < mt.last.Time:
		return refuse(mt, contract.CodeStaleReading)
	case mt.last != nil && (r.ImportWh < mt.last.ImportWh || r.ExportWh < mt.last.ExportWh || r.ProductionWh < mt.last.ProductionWh):
		return refuse(mt, contract.CodeRegistersBackwards)
	}
	var during *refListing
	for _, l := range m.listings {
		if l.start < r.Time && r.Time <= l.end {
			during = l
		}
	}
	if during != nil && during.settled {
		m.seen["reading/stale_settled"]++
		return refuse(mt, contract.CodeStaleReading)
	}
	regs := r.Registers
	if mt.base == nil {
		b := regs
		mt.base = &b
	}
	mt.last = &regs
	mt.accepted++
	m.accepted++
	m.seen["reading/ok/"+by]++
	if during == nil {
		m.seen["reading/gap"]++
	} else {
		if m.closings[during.start] == nil {
			m.closings[during.start] = map[string]contract.IntervalReading{}
		}
		if _, ok := m.closings[during.start][r.Meter]; ok {
			m.seen["reading/second_in_interval"]++
		}
		m.closings[during.start][r.Meter] = contract.IntervalReading{Meter: r.Meter, Interval: during.start, Registers: regs, SignedBy: by, FineHash: in.fine}
	}
	out.code = contract.CodeOK
	return out
}

// settleDue settles, oldest first, every cleared listing whose interval
// has ended and for which every meter has a closing reading, or whose
// settlement deadline has passed; a listing that must wait holds back
// every later one.
func (m *refModel) settleDue() {
	var due []int64
	for start, l := range m.listings {
		if l.result != nil && !l.settled {
			due = append(due, start)
		}
	}
	slices.Sort(due)
	for _, start := range due {
		l := m.listings[start]
		if m.mt < l.end {
			return
		}
		if len(m.closings[start]) < len(m.meters) && m.mt-l.end < m.params.SettlementDeadlineS {
			return
		}
		m.settle(l)
	}
}

// refValue is wh × price per kWh in nano-units, exactly (big integers),
// failing the test on an int64 overflow rather than wrapping.
func refValue(wh, price int64) int64 {
	v := new(big.Int).Mul(big.NewInt(wh), big.NewInt(price))
	if !v.IsInt64() {
		panic(fmt.Sprintf("model: %d Wh × %d overflows", wh, price))
	}
	return v.Int64()
}

// pay moves amount from one participant to another as far as the payer's
// balance goes and records the rest as owed; it returns what is owed.
func (m *refModel) pay(from, to string, amount int64) int64 {
	if amount == 0 {
		return 0
	}
	f, t := m.parts[from], m.parts[to]
	moved := amount
	if f.balance < moved {
		moved = f.balance
	}
	f.balance -= moved
	t.balance += moved
	if rest := amount - moved; rest > 0 {
		if f.owes == nil {
			f.owes = map[string]int64{}
		}
		f.owes[to] += rest
		m.seen["settle/debt"]++
		return rest
	}
	return 0
}

// settle settles one listing's interval.
func (m *refModel) settle(l *refListing) {
	st := &contract.Settlement{Start: l.start, End: l.end, Height: m.height, MarketTime: m.mt,
		GridPricePerKWh: l.grid, FeedInPerKWh: l.feed,
		Missing: []string{}, Readings: []contract.IntervalReading{}, Members: []contract.MemberSettlement{}}
	// The utility: the first unsuspended one by id.
	ids := slices.Sorted(maps.Keys(m.parts))
	for _, id := range ids {
		if p := m.parts[id]; p.role == contract.RoleUtility && !p.suspended {
			st.Utility = id
			break
		}
	}
	// Old debts first, each debtor's creditors by id, as far as it can.
	for _, id := range ids {
		p := m.parts[id]
		for _, c := range slices.Sorted(maps.Keys(p.owes)) {
			amt := min(p.owes[c], p.balance)
			if amt == 0 {
				break
			}
			p.balance -= amt
			m.parts[c].balance += amt
			p.owes[c] -= amt
			m.seen["settle/debt_paid"]++
			if p.owes[c] == 0 {
				delete(p.owes, c)
			}
		}
		if len(p.owes) == 0 {
			p.owes = nil
		}
	}

	// Metered energy: closing reading minus baseline, by owner.
	ms := map[string]*contract.MemberSettlement{}
	mem := func(id string) *contract.MemberSettlement {
		if ms[id] == nil {
			ms[id] = &contract.MemberSettlement{ID: id}
		}
		return ms[id]
	}
	batteryRead := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(m.meters)) {
		mt := m.meters[id]
		c, ok := m.closings[l.start][id]
		if !ok {
			st.Missing = append(st.Missing, id)
			m.seen["settle/missing"]++
			continue
		}
		x := mem(mt.owner)
		if mt.battery != "" {
			// A battery's sub-meter: charged and discharged, beside the
			// grid meter's flows, not in them.
			x.BatteryChargeWh += c.ImportWh - mt.base.ImportWh
			x.BatteryDischargeWh += c.ExportWh - mt.base.ExportWh
			batteryRead[mt.battery] = true
			m.seen["settle/battery_metered"]++
		} else {
			x.ImportWh += c.ImportWh - mt.base.ImportWh
			x.ExportWh += c.ExportWh - mt.base.ExportWh
		}
		if r := m.res[mt.res]; mt.res != "" && r != nil && r.approved {
			x.ProductionWh += c.ProductionWh - mt.base.ProductionWh
		}
		b := c.Registers
		mt.base = &b
		st.Readings = append(st.Readings, c)
	}
	delete(m.closings, l.start)
	// A battery whose sub-meter did not report may have discharged at its
	// rated power all interval long, for a member with metered energy.
	for id, b := range m.batteries {
		if x := ms[b.owner]; x != nil && !batteryRead[id] {
			x.BatteryUnmeteredWh += b.maxDischargeW * (l.end - l.start) / 3600
			m.seen["settle/battery_unmetered"]++
		}
	}
	for _, x := range ms {
		if refRenewable(x) < min(x.ProductionWh, x.ExportWh) {
			m.seen["settle/battery_not_renewable"]++ // export the battery's, not the RES's
		}
	}

	// Positions, then delivery trade by trade in clearing order, each
	// seller's deliverable energy being min(sold, production, export).
	for _, tr := range l.result.Trades {
		mem(tr.Seller).SoldWh += tr.Wh
		mem(tr.Buyer).BoughtWh += tr.Wh
	}
	if l.imbalance == contract.ImbalanceUtility {
		m.settleUtilityRule(l, st, ms)
	} else {
		m.settleCommunityRule(l, st, ms)
	}
	if st.Utility == "" {
		m.seen["settle/no_utility"]++
	}
	m.seen["settle"]++
	l.settled = true
	m.settlements[l.start] = st
	m.settledNow = append(m.settledNow, l.start)
}

// settleUtilityRule: delivery trade by trade in clearing order, each
// seller's deliverable energy being min(sold, production, export), and
// every deviation with the utility (settle.go's rules 3-8).
func (m *refModel) settleUtilityRule(l *refListing, st *contract.Settlement, ms map[string]*contract.MemberSettlement) {
	can := map[string]int64{}
	for id, x := range ms {
		can[id] = min(x.SoldWh, refRenewable(x))
	}
	for _, tr := range l.result.Trades {
		d := min(tr.Wh, can[tr.Seller])
		can[tr.Seller] -= d
		ms[tr.Seller].TokensSentWh += d
		ms[tr.Buyer].TokensReceivedWh += d
	}
	for _, id := range slices.Sorted(maps.Keys(ms)) {
		x := ms[id]
		left := refRenewable(x)                                 // tokens that left the site
		x.TokensMintedWh = x.ProductionWh                       // rule 1
		x.TokensSelfRetiredWh = x.ProductionWh - left           // rule 2
		x.DeliveredWh = x.TokensSentWh                          // rule 3
		x.ShortfallWh = x.SoldWh - x.DeliveredWh                // rule 4
		x.GridExportWh = x.ExportWh - x.DeliveredWh             // rule 5
		x.TokensRetiredWh = min(x.TokensReceivedWh, x.ImportWh) // rule 6
		x.TokensExportedWh = left - x.DeliveredWh + x.TokensReceivedWh - x.TokensRetiredWh
		if x.ImportWh > x.BoughtWh { // rule 7
			x.GridImportWh = x.ImportWh - x.BoughtWh
		} else { // rule 8
			x.UnusedWh = x.BoughtWh - x.ImportWh
		}
		x.PaidToUtilityNano = refValue(x.ShortfallWh, l.grid) + refValue(x.GridImportWh, l.grid)
		x.ReceivedFromUtilityNano = refValue(x.GridExportWh, l.feed) + refValue(x.UnusedWh, l.feed)
		if st.Utility != "" && id != st.Utility {
			x.OwedNano = m.pay(id, st.Utility, x.PaidToUtilityNano)
			m.pay(st.Utility, id, x.ReceivedFromUtilityNano)
		}
		for k, v := range map[string]int64{"minted": x.TokensMintedWh, "shortfall": x.ShortfallWh, "unused": x.UnusedWh,
			"delivered": x.DeliveredWh, "grid_import": x.GridImportWh, "buyer_exported": x.TokensReceivedWh - x.TokensRetiredWh,
			"self_retired": x.TokensSelfRetiredWh, "grid_export": x.GridExportWh} {
			if v > 0 {
				m.seen["settle/"+k]++
			}
		}
		addMember(st, x)
	}
}

// refRenewable is what of a member's export may carry tokens: the export
// beyond what its batteries gave (discharged, or assumed where unmetered),
// up to its production; a battery's Wh never counts as renewable.
func refRenewable(x *contract.MemberSettlement) int64 {
	notFromBattery := x.ExportWh - x.BatteryDischargeWh - x.BatteryUnmeteredWh
	if notFromBattery < 0 {
		notFromBattery = 0
	}
	if x.ProductionWh < notFromBattery {
		return x.ProductionWh
	}
	return notFromBattery
}

// settleCommunityRule is the community imbalance rule written again
// plainly, with exact rationals for every share: realise the smaller side,
// water-fill the larger by metered energy; trades in clearing order, the
// rest refunded at the trade's price; leftover realised energy paired at
// the pool price; the pool; the rest with the utility.
func (m *refModel) settleCommunityRule(l *refListing, st *contract.Settlement, ms map[string]*contract.MemberSettlement) {
	ids := slices.Sorted(maps.Keys(ms))
	price := l.feed + (l.grid-l.feed)/2
	if l.result.MCP != nil {
		price = min(max(*l.result.MCP, l.feed), l.grid)
	}
	st.Imbalance, st.PoolPricePerKWh = contract.ImbalanceCommunity, price
	pay := func(from, to string, v int64) {
		if v > 0 {
			ms[from].OwedNano += m.pay(from, to, v)
			ms[from].MembersPaidNano += v
			ms[to].MembersReceivedNano += v
		}
	}
	renew := refRenewable
	// Realise.
	var capB, wB, capS, wS []int64
	var sumB, sumS int64
	for _, id := range ids {
		x := ms[id]
		capB, wB = append(capB, min(x.BoughtWh, x.ImportWh)), append(wB, x.ImportWh)
		capS, wS = append(capS, min(x.SoldWh, renew(x))), append(wS, renew(x))
		sumB += capB[len(capB)-1]
		sumS += capS[len(capS)-1]
	}
	v := min(sumB, sumS)
	rb, rs := refWaterFill(v, capB, wB), refWaterFill(v, capS, wS)
	leftB, leftS := map[string]int64{}, map[string]int64{}
	for i, id := range ids {
		x := ms[id]
		x.RealisedBoughtWh, x.DeliveredWh = rb[i], rs[i]
		x.UnusedWh, x.ShortfallWh = x.BoughtWh-rb[i], x.SoldWh-rs[i]
		leftB[id], leftS[id] = rb[i], rs[i]
	}
	for _, tr := range l.result.Trades {
		r := min(tr.Wh, leftB[tr.Buyer], leftS[tr.Seller])
		leftB[tr.Buyer] -= r
		leftS[tr.Seller] -= r
		ms[tr.Seller].TokensSentWh += r
		ms[tr.Buyer].TokensReceivedWh += r
		pay(tr.Seller, tr.Buyer, refValue(tr.Wh-r, tr.PricePerKWh))
	}
	refPair(ids, leftB, leftS, func(b, s string, wh int64) {
		ms[s].TokensSentWh += wh
		ms[b].TokensReceivedWh += wh
		pay(b, s, refValue(wh, price))
	})
	// The pool.
	var short, long []int64
	var sumShort, sumLong int64
	for _, id := range ids {
		x := ms[id]
		var a, b int64
		if id != st.Utility {
			a, b = x.ImportWh-x.RealisedBoughtWh, x.ExportWh-x.DeliveredWh
		}
		short, long = append(short, a), append(long, b)
		sumShort, sumLong = sumShort+a, sumLong+b
	}
	q := min(sumShort, sumLong)
	st.PoolWh = q
	in, out := refWaterFill(q, short, short), refWaterFill(q, long, long)
	var tokens int64
	inBy, outBy := map[string]int64{}, map[string]int64{}
	for i, id := range ids {
		x := ms[id]
		x.PoolImportWh, x.PoolExportWh = in[i], out[i]
		inBy[id], outBy[id] = in[i], out[i]
		tk := min(out[i], renew(x)-x.DeliveredWh)
		x.TokensSentWh += tk
		tokens += tk
	}
	for i, got := range refWaterFill(tokens, in, in) {
		ms[ids[i]].TokensReceivedWh += got
	}
	refPair(ids, inBy, outBy, func(b, s string, wh int64) {
		if b != s {
			pay(b, s, refValue(wh, price))
		}
	})
	for i, id := range ids {
		x := ms[id]
		x.TokensMintedWh = x.ProductionWh
		x.TokensSelfRetiredWh = x.ProductionWh - renew(x)
		x.GridImportWh, x.GridExportWh = short[i]-in[i], long[i]-out[i]
		x.TokensRetiredWh = x.TokensReceivedWh
		x.TokensExportedWh = renew(x) - x.TokensSentWh
		x.PaidToUtilityNano = refValue(x.GridImportWh, l.grid)
		x.ReceivedFromUtilityNano = refValue(x.GridExportWh, l.feed)
		if st.Utility != "" && id != st.Utility {
			x.OwedNano += m.pay(id, st.Utility, x.PaidToUtilityNano)
			m.pay(st.Utility, id, x.ReceivedFromUtilityNano)
		}
		for k, v := range map[string]int64{"minted": x.TokensMintedWh, "shortfall": x.ShortfallWh, "unused": x.UnusedWh,
			"delivered": x.DeliveredWh, "grid_import": x.GridImportWh, "pool": x.PoolImportWh,
			"self_retired": x.TokensSelfRetiredWh, "grid_export": x.GridExportWh} {
			if v > 0 {
				m.seen["settle/"+k]++
			}
		}
		addMember(st, x)
	}
}

// refWaterFill shares total as min(cap, λ × weight) with exact rationals:
// members are capped until the level settles, the others get the floor
// of their exact share and the Wh left go to the largest fractional
// parts, ties to the earlier member.
func refWaterFill(total int64, caps, weights []int64) []int64 {
	out := make([]int64, len(caps))
	capped := make([]bool, len(caps))
	for changed := true; changed; {
		changed = false
		left, weight := big.NewRat(total, 1), new(big.Rat)
		for i := range caps {
			if capped[i] {
				left.Sub(left, big.NewRat(caps[i], 1))
			} else {
				weight.Add(weight, big.NewRat(weights[i], 1))
			}
		}
		for i := range caps {
			// capped when cap ≤ left × weight_i / weight (a zero weight has
			// a zero cap: capped at once).
			if !capped[i] && (weights[i] == 0 || new(big.Rat).Mul(big.NewRat(caps[i], 1), weight).Cmp(new(big.Rat).Mul(left, big.NewRat(weights[i], 1))) <= 0) {
				capped[i], changed = true, true
			}
		}
	}
	left, weight := big.NewInt(total), new(big.Int)
	for i := range caps {
		if capped[i] {
			out[i] = caps[i]
			left.Sub(left, big.NewInt(caps[i]))
		} else {
			weight.Add(weight, big.NewInt(weights[i]))
		}
	}
	if weight.Sign() == 0 {
		return out
	}
	type frac struct {
		i   int
		rem *big.Int
	}
	var fr []frac
	rest := left.Int64()
	for i := range caps {
		if capped[i] {
			continue
		}
		q, r := new(big.Int).QuoRem(new(big.Int).Mul(left, big.NewInt(weights[i])), weight, new(big.Int))
		out[i] = q.Int64()
		rest -= out[i]
		fr = append(fr, frac{i, r})
	}
	slices.SortStableFunc(fr, func(a, b frac) int { return b.rem.Cmp(a.rem) })
	for k := range rest {
		out[fr[k].i]++
	}
	return out
}

// refPair pairs what is left on two sides, both in id order, a Wh at a
// time in effect: the first with something left on each side.
func refPair(ids []string, a, b map[string]int64, pair func(x, y string, wh int64)) {
	i, j := 0, 0
	for i < len(ids) && j < len(ids) {
		if a[ids[i]] == 0 {
			i++
			continue
		}
		if b[ids[j]] == 0 {
			j++
			continue
		}
		wh := min(a[ids[i]], b[ids[j]])
		a[ids[i]] -= wh
		b[ids[j]] -= wh
		pair(ids[i], ids[j], wh)
	}
}

// addMember adds a member's part to a settlement and its totals.
func addMember(st *contract.Settlement, x *contract.MemberSettlement) {
	st.Totals.MintedWh += x.TokensMintedWh
	st.Totals.TransferredWh += x.TokensSentWh
	st.Totals.RetiredWh += x.TokensSelfRetiredWh + x.TokensRetiredWh
	st.Totals.ExportedWh += x.TokensExportedWh
	st.Totals.ToUtilityNano += x.PaidToUtilityNano
	st.Totals.FromUtilityNano += x.ReceivedFromUtilityNano
	st.Totals.BetweenMembersNano += x.MembersPaidNano
	st.Members = append(st.Members, *x)
}

// metaStream is a generated stream as a file: the seed and length it was
// run with (the seed also shuffles the reload) and every block, each
// transaction with its bytes and the intent the model reads.
type metaStream struct {
	Seed   uint64      `json:"seed"`
	Txs    int         `json:"txs"`
	Blocks []metaBlock `json:"blocks"`
}

type metaBlock struct {
	MarketTime int64    `json:"market_time"`
	Txs        []metaTx `json:"txs"`
}

// metaTx is genTx with exported fields; Msg is the message's JSON, of
// type Type.
type metaTx struct {
	Raw        []byte          `json:"raw"`
	Junk       bool            `json:"junk,omitempty"`
	Chain      string          `json:"chain"`
	Signer     string          `json:"signer"`
	KeyID      string          `json:"key_id"`
	Registered int64           `json:"registered,omitempty"`
	Nonce      uint64          `json:"nonce"`
	Type       string          `json:"type"`
	Msg        json.RawMessage `json:"msg,omitempty"`
	What       string          `json:"what"`
	Readings   []metaReading   `json:"readings,omitempty"`
}

type metaReading struct {
	Malformed bool            `json:"malformed,omitempty"`
	Reading   reading.Reading `json:"reading"`
	KeyID     string          `json:"key_id"`
	Forged    bool            `json:"forged,omitempty"`
	Fine      []byte          `json:"fine,omitempty"`
	What      string          `json:"what"`
}

func recordBlock(t *testing.T, b genBlock) metaBlock {
	out := metaBlock{MarketTime: b.mt}
	for _, tx := range b.txs {
		m := metaTx{Raw: tx.raw, Junk: tx.junk, Chain: tx.chain, Signer: tx.signer, KeyID: tx.keyID,
			Registered: tx.registered, Nonce: tx.nonce, Type: tx.typ, What: tx.what}
		if tx.msg != nil {
			raw, err := json.Marshal(tx.msg)
			if err != nil {
				t.Fatal(err)
			}
			m.Msg = raw
		}
		for _, r := range tx.readings {
			m.Readings = append(m.Readings, metaReading{Malformed: r.malformed, Reading: r.r, KeyID: r.keyID,
				Forged: r.forged, Fine: r.fine, What: r.what})
		}
		out.Txs = append(out.Txs, m)
	}
	return out
}

// metaMsgs are an empty message of each transaction type, for decoding.
var metaMsgs = func() map[string]func() contract.Msg {
	out := map[string]func() contract.Msg{}
	for _, m := range []contract.Msg{
		&contract.MsgRegisterParticipant{}, &contract.MsgSetSuspended{}, &contract.MsgRegisterRES{},
		&contract.MsgApproveRES{}, &contract.MsgRegisterMeter{}, &contract.MsgRegisterGateway{},
		&contract.MsgReadings{}, &contract.MsgRotateDeviceKey{}, &contract.MsgIssue{}, &contract.MsgRedeem{},
		&contract.MsgSetParams{}, &contract.MsgOffer{}, &contract.MsgBid{}, &contract.MsgCancel{},
		&contract.MsgPlan{}, &contract.MsgDRRequest{}, &contract.MsgDRCommit{}, &contract.MsgPropose{},
		&contract.MsgVote{}, &contract.MsgOffboard{},
	} {
		typ := reflect.TypeOf(m).Elem()
		out[contract.TypeOf(m)] = func() contract.Msg { return reflect.New(typ).Interface().(contract.Msg) }
	}
	out[contract.TypeReinstateParticipant] = out[contract.TypeSuspendParticipant]
	return out
}()

func (b metaBlock) block(t *testing.T) genBlock {
	out := genBlock{mt: b.MarketTime}
	for _, m := range b.Txs {
		tx := genTx{raw: m.Raw, junk: m.Junk, chain: m.Chain, signer: m.Signer, keyID: m.KeyID,
			registered: m.Registered, nonce: m.Nonce, typ: m.Type, what: m.What}
		if m.Msg != nil {
			mk, ok := metaMsgs[m.Type]
			if !ok {
				t.Fatalf("stream file: unknown transaction type %q", m.Type)
			}
			tx.msg = mk()
			if err := json.Unmarshal(m.Msg, tx.msg); err != nil {
				t.Fatalf("stream file: %s message: %v", m.Type, err)
			}
		}
		for _, r := range m.Readings {
			tx.readings = append(tx.readings, genReading{malformed: r.Malformed, r: r.Reading, keyID: r.KeyID,
				forged: r.Forged, fine: r.Fine, what: r.What})
		}
		out.txs = append(out.txs, tx)
	}
	return out
}

// save writes the stream where -meta.out says and names the file.
func (st metaStream) save(t *testing.T) {
	dir := *metaOut
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "gridledger-meta-"); err != nil {
			t.Logf("cannot keep the failing stream: %v", err)
			return
		}
	}
	path := filepath.Join(dir, fmt.Sprintf("stream-%d.json", st.Seed))
	raw, err := json.MarshalIndent(st, "", " ")
	if err == nil {
		err = os.WriteFile(path, raw, 0o644)
	}
	if err != nil {
		t.Logf("cannot keep the failing stream: %v", err)
		return
	}
	t.Logf("failing stream (%d blocks) written to %s; replay it with\n\tgo test ./internal/contract/ -run 'TestMetamorphic$' -meta.replay %s",
		len(st.Blocks), path, path)
}

func loadMetaStream(path string) (metaStream, error) {
	var st metaStream
	raw, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(raw, &st)
}

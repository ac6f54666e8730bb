package contract_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
)

// The metamorphic test, in the manner of pebble's: one seeded random stream
// of transactions and blocks (gen_test.go) is run
//
//	(a) through the real State;
//	(b) through refModel, a small reference model written here with plain
//	    maps: the contract's bookkeeping (validation order, nonces, rate
//	    limit, escrow, payments, refunds, listing schedule) done again
//	    without its code, sharing only market.Clear for the clearing
//	    arithmetic;
//	(c) through the real State persisted and reloaded halfway: every
//	    commitment's writes are collected as the chain adapter keeps them
//	    and Load rebuilds a state from them (in shuffled order) that takes
//	    over.
//
// (a) and (b) must agree on every transaction's code and, after every
// block, on every wallet, nonce, order and listing; (a) and (c) on every
// result, write, event and app hash after the reload.

func TestMetamorphic(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runMetamorphic(t, seed, 400) })
	}
}

func runMetamorphic(t *testing.T, seed uint64, nTx int) {
	gen := newGen(t, seed)
	genesis := genGenesis()
	a, ca, err := contract.NewGenesis(testChain, genesis, T0*ns)
	if err != nil {
		t.Fatal(err)
	}
	model := newRefModel(genesis)
	writes := map[string][]byte{}
	keep := func(c contract.Commitment) {
		for _, kv := range c.Writes {
			writes[kv.Key] = kv.Value
		}
	}
	keep(ca)
	var c *contract.State // (c), once reloaded
	sent := 0
	for height := int64(1); sent < nTx; height++ {
		b := gen.next()
		sent += len(b.txs)
		raws := rawTxs(b)

		a.BeginBlock(height, b.mt*ns)
		resA := a.DeliverTxs(raws)
		commitA, eventsA := a.EndBlock()
		keep(commitA)

		model.begin(b.mt)
		for i, tx := range b.txs {
			if code := model.deliver(tx); code != resA[i].Code {
				t.Fatalf("block %d tx %d (%s by %s, nonce %d): state %s (%s), model %s",
					height, i, tx.what, tx.signer, tx.nonce, resA[i].Code.Name(), resA[i].Log, code.Name())
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
		t.Fatal("never reloaded")
	}
	if !reflect.DeepEqual(a.Participants(), c.Participants()) || !reflect.DeepEqual(a.Info(), c.Info()) {
		t.Error("final states of (a) and (c) differ")
	}
	model.compare(t, c, -1)
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
	mt, next         int64
	issued, redeemed int64
	parts            map[string]*refPart
	res              map[string]*refRES
	meters           map[string]bool
	listings         map[int64]*refListing
	orders           map[string]*refOrder
	clearedNow       []int64 // listings cleared by the current block
}

type refPart struct {
	role            contract.Role
	key             string // id whose key the participant registered
	nonce           uint64
	suspended       bool
	balance, escrow int64
	window, count   int64
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
	grid, feed       int64
	orders           []*refOrder // arrival order
	result           *market.Result
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
		parts: map[string]*refPart{}, res: map[string]*refRES{}, meters: map[string]bool{},
		listings: map[int64]*refListing{}, orders: map[string]*refOrder{},
	}
	for _, p := range g.Participants {
		m.parts[p.ID] = &refPart{role: p.Role, key: p.ID}
	}
	return m
}

// begin starts a block: close and clear what reached gate closure, then
// open every interval whose gate is still ahead, up to the horizon.
func (m *refModel) begin(mt int64) {
	m.mt = mt
	m.clearedNow = m.clearedNow[:0]
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
			start: m.next, end: m.next + I, gate: m.next - G, open: true, mech: m.params.Mechanism,
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
		m.parts[msg.ID] = &refPart{role: msg.Role, key: msg.ID}
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
		case m.res[msg.ID] != nil:
			return contract.CodeDuplicate
		}
		m.res[msg.ID] = &refRES{owner: tx.signer, capW: msg.CapacityW}
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
		case m.meters[msg.ID]:
			return contract.CodeDuplicate
		case m.parts[msg.Owner] == nil:
			return contract.CodeUnknownParticipant
		case msg.RES != "" && m.res[msg.RES] == nil:
			return contract.CodeUnknownRES
		case msg.RES != "" && m.res[msg.RES].owner != msg.Owner:
			return contract.CodeNotOwner
		}
		m.meters[msg.ID] = true
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
		if r == nil || p.Balance != r.balance || p.Escrow != r.escrow || p.Nonce != r.nonce || p.Suspended != r.suspended {
			fail("%s: state %+v, model %+v", p.ID, p, r)
		}
	}
	if in := s.Info(); in.Issued != m.issued || in.Redeemed != m.redeemed {
		fail("issued %d redeemed %d, model %d %d", in.Issued, in.Redeemed, m.issued, m.redeemed)
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
}

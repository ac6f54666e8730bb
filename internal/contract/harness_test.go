package contract_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
)

// The test harness: a genesis with an operator, a DSO and a utility, and
// helpers that sign transactions, make blocks at chosen market times, keep
// the persisted writes the way the chain adapter does, and assert codes.
//
// Time: genesis is at T0 with TimeScale 1, so a block stamped at market time
// mt is stamped mt seconds UTC. T0 is a midnight, so the listing starting at
// at(h, 0) delivers in hour h of the day (h mod 24), which is also its tariff
// hour.

const (
	// T0 is 2024-06-01T00:00:00Z, the genesis time of every test chain.
	T0        int64 = 1_717_200_000
	hour      int64 = 3600
	testChain       = "gridledger-test"
	// unit is one currency unit in nano-units.
	unit int64 = 1_000_000_000
	// forever is an upper bound for Listings' range.
	forever int64 = 1 << 62
	// ns and ms are a second and a millisecond in nanoseconds, the unit
	// of block times.
	ns int64 = 1_000_000_000
	ms int64 = 1_000_000
)

// at is the market time h hours and s seconds after genesis.
func at(h, s int64) int64 { return T0 + h*hour + s }

var keys sync.Map // id → ed25519.PrivKey

// keyOf is the deterministic key of an id: tests and their failures are
// reproducible, and the reference model can tell keys apart by id.
func keyOf(id string) ed25519.PrivKey {
	if k, ok := keys.Load(id); ok {
		return k.(ed25519.PrivKey)
	}
	k := ed25519.GenPrivKeyFromSecret([]byte("gridledger-test/" + id))
	keys.Store(id, k)
	return k
}

func pubOf(id string) []byte { return keyOf(id).PubKey().Bytes() }

// signTx signs a message as signer with key, for chain, at nonce.
func signTx(t testing.TB, key ed25519.PrivKey, chain, signer string, nonce uint64, typ string, msg contract.Msg) []byte {
	t.Helper()
	return signBodyTx(t, key, contract.Body{ChainID: chain, Signer: signer, Nonce: nonce, Type: typ}, msg)
}

// signBodyTx signs msg under b (for a participant registered after the
// genesis: b.Registered).
func signBodyTx(t testing.TB, key ed25519.PrivKey, b contract.Body, msg contract.Msg) []byte {
	t.Helper()
	raw, err := contract.SignBody(key, b, msg)
	if err != nil {
		t.Fatalf("sign %s: %v", b.Type, err)
	}
	return raw
}

// signBody frames body bytes as a transaction signed with key, for tests
// that need bodies Sign would never produce.
func signBody(t testing.TB, key ed25519.PrivKey, body []byte) []byte {
	t.Helper()
	sig, err := key.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte{contract.TxVersion}, sig...), body...)
}

func genesisParticipants() []contract.Participant {
	return []contract.Participant{
		{ID: "operator", Role: contract.RoleOperator, PubKey: pubOf("operator")},
		{ID: "dso", Role: contract.RoleDSO, PubKey: pubOf("dso")},
		{ID: "utility", Role: contract.RoleUtility, PubKey: pubOf("utility")},
	}
}

type harness struct {
	t      testing.TB
	s      *contract.State
	height int64
	mt     int64             // market time of the last block (genesis: T0)
	nonces map[string]uint64 // last nonce the harness signed per signer
	writes map[string][]byte // every commitment's writes, later ones replacing earlier
	last   contract.Commitment
	events []contract.Event // the last block's block-level events
}

// newGenesisHarness builds the state at genesis. mutate, if any, edits the
// genesis first (its TimeScale must stay 1 for blockAt).
func newGenesisHarness(t testing.TB, mutate ...func(*contract.Genesis)) *harness {
	t.Helper()
	g := contract.Genesis{Params: contract.DefaultParams(), TimeScale: 1, Participants: genesisParticipants()}
	for _, m := range mutate {
		m(&g)
	}
	if g.TimeScale != 1 {
		t.Fatalf("harness needs TimeScale 1, not %d", g.TimeScale)
	}
	s, c, err := contract.NewGenesis(testChain, g, T0*ns)
	if err != nil {
		t.Fatalf("genesis: %v", err)
	}
	h := &harness{t: t, s: s, mt: T0, nonces: map[string]uint64{}, writes: map[string][]byte{}}
	h.record(c)
	return h
}

// newHarness is newGenesisHarness plus a first, empty block one second
// after genesis, which opens the listings 02:00 to 24:00 (see
// testdata/script/market).
func newHarness(t testing.TB, mutate ...func(*contract.Genesis)) *harness {
	t.Helper()
	h := newGenesisHarness(t, mutate...)
	h.blockAt(at(0, 1))
	return h
}

func (h *harness) record(c contract.Commitment) {
	h.last = c
	keepWrites(h.writes, c)
}

// keepWrites folds a commitment's writes into the persisted entries the way
// the chain adapter does: a nil Value deletes its key.
func keepWrites(into map[string][]byte, c contract.Commitment) {
	for _, kv := range c.Writes {
		if kv.Value == nil {
			delete(into, kv.Key)
			continue
		}
		into[kv.Key] = kv.Value
	}
}

// entries is the persisted state as the chain adapter would hand it to Load.
func (h *harness) entries() []contract.KV {
	out := make([]contract.KV, 0, len(h.writes))
	for _, k := range slices.Sorted(maps.Keys(h.writes)) {
		out = append(out, contract.KV{Key: k, Value: h.writes[k]})
	}
	return out
}

// blockAt makes a block stamped at market time mt with the given txs.
func (h *harness) blockAt(mt int64, txs ...[]byte) []contract.TxResult {
	h.t.Helper()
	if mt < h.mt {
		h.t.Fatalf("block at %d is before the last one at %d", mt, h.mt)
	}
	h.height++
	h.s.BeginBlock(h.height, mt*ns)
	res := h.s.DeliverTxs(txs)
	c, ev := h.s.EndBlock()
	h.record(c)
	h.events = ev
	h.mt = mt
	if got := h.s.MarketTime(); got != mt {
		h.t.Fatalf("market time %d, want %d", got, mt)
	}
	return res
}

// block makes a block one second after the last.
func (h *harness) block(txs ...[]byte) []contract.TxResult {
	h.t.Helper()
	return h.blockAt(h.mt+1, txs...)
}

// tx signs msg as signer with the signer's next nonce, for its
// registration as the state has it now.
func (h *harness) tx(signer string, msg contract.Msg) []byte {
	h.t.Helper()
	return h.txType(signer, "", msg)
}

func (h *harness) txType(signer, typ string, msg contract.Msg) []byte {
	h.t.Helper()
	h.nonces[signer]++
	return h.sign(keyOf(signer), testChain, signer, h.nonces[signer], typ, msg)
}

// sign signs msg with key as signer at nonce, bound to the signer's
// registration as the state has it now (none for an unknown signer).
func (h *harness) sign(key ed25519.PrivKey, chain, signer string, nonce uint64, typ string, msg contract.Msg) []byte {
	h.t.Helper()
	b := contract.Body{ChainID: chain, Signer: signer, Nonce: nonce, Type: typ}
	if raw, err := h.s.Query("/participants/" + signer); err == nil {
		var p contract.Participant
		if err := json.Unmarshal(raw, &p); err != nil {
			h.t.Fatal(err)
		}
		b.Registered = p.Registered
	}
	return signBodyTx(h.t, key, b, msg)
}

// lastOrder is the id of the order the signer's last signed tx would create.
func (h *harness) lastOrder(signer string) string {
	return fmt.Sprintf("%s/%d", signer, h.nonces[signer])
}

// do delivers one tx in a block of its own and checks its code.
func (h *harness) do(want contract.Code, raw []byte) contract.TxResult {
	h.t.Helper()
	r := h.block(raw)[0]
	if r.Code != want {
		h.t.Fatalf("code %s (%s), want %s", r.Code.Name(), r.Log, want.Name())
	}
	return r
}

func (h *harness) ok(signer string, msg contract.Msg) contract.TxResult {
	h.t.Helper()
	return h.do(contract.CodeOK, h.tx(signer, msg))
}

func (h *harness) want(code contract.Code, signer string, msg contract.Msg) contract.TxResult {
	h.t.Helper()
	return h.do(code, h.tx(signer, msg))
}

func expectCodes(t testing.TB, res []contract.TxResult, want ...contract.Code) {
	t.Helper()
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d", len(res), len(want))
	}
	for i := range res {
		if res[i].Code != want[i] {
			t.Errorf("tx %d: code %s (%s), want %s", i, res[i].Code.Name(), res[i].Log, want[i].Name())
		}
	}
}

func registerMsg(id string, role contract.Role, nt contract.NodeType) *contract.MsgRegisterParticipant {
	return &contract.MsgRegisterParticipant{ID: id, Role: role, NodeType: nt, PubKey: pubOf(id)}
}

// members registers household members.
func (h *harness) members(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		h.ok("operator", registerMsg(id, contract.RoleMember, contract.NodeHousehold))
	}
}

func (h *harness) issue(id string, amount int64) {
	h.t.Helper()
	h.ok("operator", &contract.MsgIssue{To: id, Amount: amount})
}

// approvedRES registers a RES for owner and has the DSO approve it.
func (h *harness) approvedRES(owner, id string, capacityW int64) {
	h.t.Helper()
	h.ok(owner, &contract.MsgRegisterRES{ID: id, Kind: "PV", CapacityW: capacityW})
	h.ok("dso", &contract.MsgApproveRES{ID: id})
}

// bid places a bid that must be accepted and returns its order id.
func (h *harness) bid(who string, listing, wh, price int64) string {
	h.t.Helper()
	h.ok(who, &contract.MsgBid{Listing: listing, Wh: wh, PricePerKWh: price})
	return h.lastOrder(who)
}

// offer places an offer that must be accepted and returns its order id.
func (h *harness) offer(who, res string, listing, wh, price int64) string {
	h.t.Helper()
	h.ok(who, &contract.MsgOffer{Listing: listing, RES: res, Wh: wh, PricePerKWh: price})
	return h.lastOrder(who)
}

func (h *harness) p(id string) contract.Participant {
	h.t.Helper()
	p, ok := h.s.Participant(id)
	if !ok {
		h.t.Fatalf("no participant %q", id)
	}
	return p
}

func (h *harness) listing(start int64) contract.ListingView {
	h.t.Helper()
	l, ok := h.s.Listing(start)
	if !ok {
		h.t.Fatalf("no listing at %d", start)
	}
	return l
}

func (h *harness) order(id string) contract.Order {
	h.t.Helper()
	o, ok := h.s.Order(id)
	if !ok {
		h.t.Fatalf("no order %q", id)
	}
	return o
}

// wallet checks one participant's balance and escrow, in nano-units.
func (h *harness) wallet(id string, balance, escrow int64) {
	h.t.Helper()
	p := h.p(id)
	if p.Balance != balance || p.Escrow != escrow {
		h.t.Errorf("%s: balance %d escrow %d, want %d and %d", id, p.Balance, p.Escrow, balance, escrow)
	}
}

// conserved checks that all money on the ledger is what was issued less
// what was redeemed.
func (h *harness) conserved() {
	h.t.Helper()
	in := h.s.Info()
	if in.Balances+in.Escrow != in.Issued-in.Redeemed || in.Supply != in.Issued-in.Redeemed {
		h.t.Errorf("money not conserved: %+v", in)
	}
}

// eventsOfType returns the last block's block-level events of one type.
func (h *harness) eventsOfType(typ string) []contract.Event {
	var out []contract.Event
	for _, e := range h.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// attrs turns an event's attributes into a map.
func attrs(e contract.Event) map[string]string {
	m := map[string]string{}
	for _, a := range e.Attrs {
		m[a.Key] = a.Value
	}
	return m
}

// snapshot is everything a refused transaction must leave alone.
type snapshot struct {
	info         contract.Info
	participants []contract.Participant
	listings     string // JSON of every listing with its book
	res, meters  string
	batteries    string
	params       contract.Params
	hash         []byte
	entries      map[string][]byte
}

func (h *harness) snapshot() snapshot {
	h.t.Helper()
	in := h.s.Info()
	in.Height, in.MarketTime = 0, 0 // they move with every block
	js := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			h.t.Fatal(err)
		}
		return string(b)
	}
	return snapshot{
		info:         in,
		participants: h.s.Participants(),
		listings:     js(h.s.Listings(0, forever, true)),
		res:          js(h.s.RESList()),
		batteries:    js(h.s.Batteries()),
		meters:       js(h.s.Meters()),
		params:       h.s.Params(),
		hash:         h.s.AppHash(),
		entries:      maps.Clone(h.writes),
	}
}

// sameExceptParticipants compares everything but the participants.
func (a snapshot) sameExceptParticipants(t testing.TB, b snapshot) {
	t.Helper()
	if !reflect.DeepEqual(a.info, b.info) {
		t.Errorf("info changed:\n%+v\n%+v", a.info, b.info)
	}
	if a.listings != b.listings {
		t.Errorf("listings or orders changed:\n%s\n%s", a.listings, b.listings)
	}
	if a.res != b.res || a.batteries != b.batteries || a.meters != b.meters {
		t.Errorf("registry changed")
	}
	if !reflect.DeepEqual(a.params, b.params) {
		t.Errorf("params changed")
	}
}

// Devices. A meter with its own key signs with devKeyID(meter)'s key, a
// gateway with gwKeyID(gateway)'s (gen_test.go).

// gateway registers a gateway owned by owner.
func (h *harness) gateway(id, owner string) {
	h.t.Helper()
	h.ok("operator", &contract.MsgRegisterGateway{ID: id, Owner: owner, PubKey: pubOf(gwKeyID(id))})
}

// meterOwnKey registers a meter that signs with its own key, measuring
// res if not empty.
func (h *harness) meterOwnKey(id, owner, res string) *device {
	h.t.Helper()
	h.ok("operator", &contract.MsgRegisterMeter{ID: id, Owner: owner, PubKey: pubOf(devKeyID(id)), RES: res})
	return &device{t: h.t, meter: id, keyID: devKeyID(id)}
}

// meterVia registers a meter read by a gateway, which signs for it.
func (h *harness) meterVia(id, owner, gateway, res string) *device {
	h.t.Helper()
	h.ok("operator", &contract.MsgRegisterMeter{ID: id, Owner: owner, Gateway: gateway, RES: res})
	return &device{t: h.t, meter: id, keyID: gwKeyID(gateway)}
}

// device signs a meter's readings with the key that must sign them, each
// with the next sequence number.
type device struct {
	t     testing.TB
	meter string
	keyID string
	seq   uint64
}

// read is the device's next reading: registers at market time t.
func (d *device) read(t, imp, exp, prod int64) contract.ReadingEntry {
	d.t.Helper()
	d.seq++
	return signedReading(d.t, d.keyID, reading.Reading{Meter: d.meter, Registers: reading.Registers{Seq: d.seq, Time: t, ImportWh: imp, ExportWh: exp, ProductionWh: prod}})
}

func signedReading(t testing.TB, keyID string, r reading.Reading) contract.ReadingEntry {
	t.Helper()
	s, err := reading.Sign(keyOf(keyID), r)
	if err != nil {
		t.Fatalf("sign reading %+v: %v", r, err)
	}
	return contract.ReadingEntry{Signed: s}
}

// readAt delivers readings in one MsgReadings signed by the operator, in a
// block at market time mt, and returns how many were accepted and the
// refusals, in order, as "meter/seq:code".
func (h *harness) readAt(mt int64, entries ...contract.ReadingEntry) (int, []string) {
	h.t.Helper()
	res := h.blockAt(mt, h.tx("operator", &contract.MsgReadings{Readings: entries}))[0]
	if res.Code != contract.CodeOK {
		h.t.Fatalf("readings: %s (%s)", res.Code.Name(), res.Log)
	}
	return readingOutcomes(h.t, res, len(entries))
}

// readingOutcomes reads a readings transaction's events: one per refusal,
// in order, and the batch's counts.
func readingOutcomes(t testing.TB, res contract.TxResult, n int) (int, []string) {
	t.Helper()
	var refused []string
	var summary map[string]string
	for _, e := range res.Events {
		switch a := attrs(e); e.Type {
		case "reading_rejected":
			refused = append(refused, a["meter"]+"/"+a["seq"]+":"+a["code"])
		case "readings":
			summary = a
		}
	}
	accepted := n - len(refused)
	if summary == nil || summary["rejected"] != fmt.Sprint(len(refused)) || summary["accepted"] != fmt.Sprint(accepted) {
		t.Fatalf("readings summary %v, %d refused of %d", summary, len(refused), n)
	}
	return accepted, refused
}

// readOK delivers readings that must all be accepted.
func (h *harness) readOK(mt int64, entries ...contract.ReadingEntry) {
	h.t.Helper()
	if n, refused := h.readAt(mt, entries...); n != len(entries) {
		h.t.Fatalf("readings refused: %v", refused)
	}
}

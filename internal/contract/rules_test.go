package contract_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reqsig"
)

// The rules of SYSTEM.md (parts 2–4) are scripts in testdata/script
// (script_test.go). What stays here needs Go: genesis files, raw bytes,
// another TimeScale, the app hash and persisted writes, reloading, and
// tables pinned across the trust boundary.

// The genesis is held to the same rules: unique IDgrids, valid members, and
// an operator to run the community.
func TestGenesisNeedsAnOperatorAndUniqueIDs(t *testing.T) {
	ok := contract.Genesis{Params: contract.DefaultParams(), TimeScale: 1, Participants: genesisParticipants()}
	cases := map[string]struct {
		chain    string
		edit     func(*contract.Genesis)
		sentinel error
	}{
		"no operator": {testChain, func(g *contract.Genesis) { g.Participants = g.Participants[1:] }, contract.ErrBadParams},
		"duplicate id": {testChain, func(g *contract.Genesis) {
			g.Participants = append(g.Participants, contract.Participant{ID: "dso", Role: contract.RoleDSO, PubKey: pubOf("x")})
		}, contract.ErrDuplicate},
		"member without node type": {testChain, func(g *contract.Genesis) {
			g.Participants = append(g.Participants, contract.Participant{ID: "alice", Role: contract.RoleMember, PubKey: pubOf("alice")})
		}, contract.ErrMalformed},
		"time scale 0":             {testChain, func(g *contract.Genesis) { g.TimeScale = 0 }, contract.ErrBadParams},
		"market start before 1970": {testChain, func(g *contract.Genesis) { g.MarketStart = -1 }, contract.ErrBadParams},
		"market start after 9999":  {testChain, func(g *contract.Genesis) { g.MarketStart = contract.MaxMarketStart + 1 }, contract.ErrBadParams},
		"bad params":               {testChain, func(g *contract.Genesis) { g.Params.IntervalS = 0 }, contract.ErrBadParams},
		"bad chain id":             {"no spaces allowed", func(*contract.Genesis) {}, contract.ErrMalformed},
	}
	for name, c := range cases {
		g := ok
		g.Participants = slices.Clone(ok.Participants)
		c.edit(&g)
		if _, _, err := contract.NewGenesis(c.chain, g, T0*ns); !errors.Is(err, c.sentinel) {
			t.Errorf("%s: error %v, want %v", name, err, c.sentinel)
		}
	}
	// Wallets and nonces in a genesis file are ignored: money enters only
	// by issue, so Issued − Redeemed stays all the money there is.
	g := ok
	g.Participants = slices.Clone(ok.Participants)
	g.Participants[0].Balance, g.Participants[0].Nonce = 5*unit, 7
	s, _, err := contract.NewGenesis(testChain, g, T0*ns)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Participant("operator"); p.Balance != 0 || p.Nonce != 0 {
		t.Errorf("operator at genesis %+v", p)
	}
	if in := s.Info(); in.Balances != 0 || in.Supply != 0 {
		t.Errorf("info at genesis %+v", in)
	}
}

// "… a unique IDgrid (and an optional e-mail)": the ledger keeps only a
// salted hash of the e-mail, never the address (docs/privacy.md).
func TestEmailIsOptionalAndOnlyItsSaltedHashIsKept(t *testing.T) {
	h := newHarness(t)
	salt := []byte("0123456789abcdef")
	hash := contract.EmailHash(salt, "alice@example.org")
	with := registerMsg("alice", contract.RoleMember, contract.NodeHousehold)
	with.EmailHash = hash
	h.ok("operator", with)
	h.ok("operator", registerMsg("bob", contract.RoleMember, contract.NodeHousehold))
	if got := h.p("alice").EmailHash; got != hash {
		t.Errorf("alice's email hash %q, want %q", got, hash)
	}
	if got := h.p("bob").EmailHash; got != "" {
		t.Errorf("bob's email hash %q, want none", got)
	}
	if contract.EmailHash(salt, " Alice@Example.org ") != hash || contract.EmailHash([]byte("another salt 123"), "alice@example.org") == hash {
		t.Error("the hash depends on the address's case or spaces, or not on the salt")
	}
	// The address in clear, or anything but a hash, is refused.
	for _, v := range []string{"carol@example.org", "not-a-hash", strings.ToUpper(hash)} {
		bad := registerMsg("carol", contract.RoleMember, contract.NodeHousehold)
		bad.EmailHash = v
		h.want(contract.CodeMalformed, "operator", bad)
	}
	if err := contract.CheckEmail("not-an-address"); err == nil {
		t.Error("CheckEmail took not-an-address")
	}
}

// bookOrders are the ids of the worked example's orders.
type bookOrders struct{ carol, dave, alice, bob, erin string }

// workedExample registers and funds the worked example's participants:
// buyers alice, bob and erin with one unit each, sellers carol and dave
// with a 5000 W asset each.
func workedExample(h *harness) {
	h.members("alice", "bob", "erin", "carol", "dave")
	for _, id := range []string{"alice", "bob", "erin"} {
		h.issue(id, unit)
	}
	h.approvedRES("carol", "pv-carol", 5000)
	h.approvedRES("dave", "wind-dave", 5000)
}

// placeBook puts the worked example's book into listing l:
//
//	offers (arrival order): carol 3000 Wh at 50,000; dave 2000 Wh at 60,000
//	bids:   alice 2000 Wh at 70,000 (escrow 140,000,000)
//	        bob   2000 Wh at 62,000 (escrow 124,000,000)
//	        erin  1000 Wh at 40,000 (escrow  40,000,000)
//
// 304,000,000 escrowed in all.
func placeBook(h *harness, l int64) bookOrders {
	var b bookOrders
	b.carol = h.offer("carol", "pv-carol", l, 3000, 50_000)
	b.dave = h.offer("dave", "wind-dave", l, 2000, 60_000)
	b.alice = h.bid("alice", l, 2000, 70_000)
	b.bob = h.bid("bob", l, 2000, 62_000)
	b.erin = h.bid("erin", l, 1000, 40_000)
	return b
}

// Bytes that are not a well-formed transaction are refused as malformed and
// change nothing.
func TestMalformedBytesAreRefused(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	op := keyOf("operator")
	valid := signTx(t, op, testChain, "operator", 100, contract.TypeIssue, &contract.MsgIssue{To: "alice", Amount: 5})
	body := func(s string) []byte { return signBody(t, op, []byte(s)) }
	withVersion := func(v byte) []byte { b := bytes.Clone(valid); b[0] = v; return b }
	const head = `{"chain_id":"gridledger-test","signer":"operator","nonce":100,`
	cases := map[string][]byte{
		"empty":              nil,
		"one byte":           {contract.TxVersion},
		"header only":        valid[:1+64],
		"version 0":          withVersion(0),
		"version 2":          withVersion(2),
		"body not JSON":      body("hello"),
		"body not an object": body(`[1,2]`),
		"unknown body field": body(head + `"type":"issue","msg":{"to":"alice","amount":5},"fee":1}`),
		"trailing data":      append(bytes.Clone(valid), []byte(" {}")...),
		"truncated body":     valid[:len(valid)-1],
		"unknown type":       body(head + `"type":"mint","msg":{"to":"alice","amount":5}}`),
		"missing msg":        body(head + `"type":"issue"}`),
		"unknown msg field":  body(head + `"type":"issue","msg":{"to":"alice","amount":5,"memo":"x"}}`),
		"wrong field type":   body(head + `"type":"issue","msg":{"to":"alice","amount":"5"}}`),
		"bad signer id":      body(`{"chain_id":"gridledger-test","signer":"bad id!","nonce":100,"type":"issue","msg":{"to":"alice","amount":5}}`),
		"nonce zero":         body(`{"chain_id":"gridledger-test","signer":"operator","nonce":0,"type":"issue","msg":{"to":"alice","amount":5}}`),
		"negative nonce":     body(`{"chain_id":"gridledger-test","signer":"operator","nonce":-1,"type":"issue","msg":{"to":"alice","amount":5}}`),
		"cancel without /":   body(head + `"type":"cancel","msg":{"order":"alice-3"}}`),
		"short public key":   body(head + `"type":"register_participant","msg":{"id":"bob","role":"member","node_type":"household","pub_key":"AAAA"}}`),
		"unknown role":       signTx(t, op, testChain, "operator", 100, contract.TypeRegisterParticipant, registerMsg("bob", "king", "")),
		"id too long":        signTx(t, op, testChain, "operator", 100, contract.TypeIssue, &contract.MsgIssue{To: string(bytes.Repeat([]byte("a"), 65)), Amount: 5}),
		"over MaxTxBytes":    append(bytes.Clone(valid), bytes.Repeat([]byte(" "), contract.MaxTxBytes)...),
	}
	for name, raw := range cases {
		before := h.snapshot()
		r := h.block(raw)[0]
		if r.Code != contract.CodeMalformed || r.Log == "" {
			t.Errorf("%s: code %s (%q), want malformed", name, r.Code.Name(), r.Log)
		}
		if len(h.last.Writes) != 0 {
			t.Errorf("%s: wrote %d entries", name, len(h.last.Writes))
		}
		after := h.snapshot()
		before.sameExceptParticipants(t, after)
		if !reflect.DeepEqual(before.participants, after.participants) || !bytes.Equal(before.hash, after.hash) {
			t.Errorf("%s: state changed", name)
		}
	}
	// The untouched original is fine.
	h.do(contract.CodeOK, valid)
	h.wallet("alice", 5, 0)
}

// "TimeScale makes market time run faster than block time, for demos":
// market time = genesis + (block time − genesis) × TimeScale.
func TestTimeScaleMapsBlockTimeToMarketTime(t *testing.T) {
	g := contract.Genesis{Params: contract.DefaultParams(), TimeScale: 720, Participants: genesisParticipants()}
	s, _, err := contract.NewGenesis(testChain, g, T0*ns)
	if err != nil {
		t.Fatal(err)
	}
	if s.MarketTime() != T0 {
		t.Fatalf("genesis market time %d", s.MarketTime())
	}
	// 5 s × 720 = 3600 s: an hour of market time.
	s.BeginBlock(1, T0*ns+5*ns)
	_, ev := s.EndBlock()
	if got := s.MarketTime(); got != at(1, 0) {
		t.Errorf("5 s after genesis: market time %d, want %d", got, at(1, 0))
	}
	if in := s.Info(); in.MarketTime != at(1, 0) || in.TimeScale != 720 {
		t.Errorf("info %+v", in)
	}
	// At 01:00:00 the 02:00 listing's gate has closed, so the first to
	// open is 03:00, the last 24:00 (before 01:00 + 24 h): 22 listings.
	if len(ev) != 22 || attrs(ev[0])["listing"] != strconv.FormatInt(at(3, 0), 10) ||
		attrs(ev[21])["listing"] != strconv.FormatInt(at(24, 0), 10) {
		t.Errorf("%d listings opened, first %v", len(ev), ev)
	}
	// 7.5 s × 720 = 5400 s; 7.5 s + 1 ms: the millisecond is 0.72 s,
	// which truncates to nothing.
	s.BeginBlock(2, T0*ns+7_500*ms)
	s.EndBlock()
	if got := s.MarketTime(); got != at(1, 1800) {
		t.Errorf("7.5 s: market time %d, want %d", got, at(1, 1800))
	}
	s.BeginBlock(3, T0*ns+7_501*ms)
	s.EndBlock()
	if got := s.MarketTime(); got != at(1, 1800) {
		t.Errorf("7.501 s: market time %d, want %d", got, at(1, 1800))
	}
	// And with TimeScale 1, 5 s is 5 s.
	h := newGenesisHarness(t)
	h.blockAt(T0 + 5)
	if got := h.s.MarketTime(); got != T0+5 {
		t.Errorf("scale 1: %d", got)
	}
}

// "MarketStart is the market time at genesis": a demo's market day begins
// where it chooses — here half a year before the genesis — and runs
// TimeScale times faster from there, on every node, after a reload too;
// signed queries still check against the real block time.
func TestMarketStartBeginsTheMarketDayElsewhere(t *testing.T) {
	start := at(9, 0) - 180*24*hour // 09:00, 180 days before genesis
	g := contract.Genesis{Params: contract.DefaultParams(), TimeScale: 720, MarketStart: start, Participants: genesisParticipants()}
	s, c, err := contract.NewGenesis(testChain, g, T0*ns)
	if err != nil {
		t.Fatal(err)
	}
	writes := map[string][]byte{}
	keepWrites(writes, c)
	if s.MarketTime() != start {
		t.Fatalf("genesis market time %d, want %d", s.MarketTime(), start)
	}
	// 5 s × 720 from the start, not from the genesis time.
	s.BeginBlock(1, T0*ns+5*ns)
	c, ev := s.EndBlock()
	keepWrites(writes, c)
	if got := s.MarketTime(); got != start+hour {
		t.Errorf("5 s after genesis: market time %d, want %d", got, start+hour)
	}
	// At 10:00 the first listing to open is 12:00 (11:00's gate has closed).
	if len(ev) != 22 || attrs(ev[0])["listing"] != strconv.FormatInt(start+3*hour, 10) {
		t.Errorf("%d listings opened, first %v", len(ev), ev)
	}
	// Private queries are signed at the wall clock: the ledger checks them
	// against the block's real time, not the market's.
	q := "/plans/" + strconv.FormatInt(start+3*hour, 10)
	for _, c := range []struct {
		name string
		at   int64
		want contract.Code
	}{{"at the block time", T0 + 5, contract.CodeOK}, {"at the market time", start + hour, contract.CodeBadSignature}} {
		signed, err := reqsig.SignedURL(keyOf("dso"), testChain, "dso", q, time.Unix(c.at, 0))
		if err != nil {
			t.Fatal(err)
		}
		var seen reqsig.Seen
		if _, err := s.PublicQuery(signed, &seen); contract.CodeOf(err) != c.want {
			t.Errorf("signed %s: %v, want %s", c.name, err, c.want.Name())
		}
	}
	// A node restarting from its store keeps the start.
	var entries []contract.KV
	for _, k := range slices.Sorted(maps.Keys(writes)) {
		entries = append(entries, contract.KV{Key: k, Value: writes[k]})
	}
	loaded, err := contract.Load(entries, 1, s.MarketTime())
	if err != nil {
		t.Fatal(err)
	}
	loaded.BeginBlock(2, T0*ns+10*ns)
	loaded.EndBlock()
	if got := loaded.MarketTime(); got != start+2*hour {
		t.Errorf("reloaded, 10 s after genesis: market time %d, want %d", got, start+2*hour)
	}
	// Without a start (a real deployment) the stored info is what it
	// always was: the same app hash as before MarketStart existed.
	g.MarketStart = 0
	_, c, err = contract.NewGenesis(testChain, g, T0*ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range c.Writes {
		if kv.Key == "info" && bytes.Contains(kv.Value, []byte("market_start")) {
			t.Errorf("info at real time carries a market start: %s", kv.Value)
		}
	}
	if !bytes.Contains(writes["info"], []byte(`"market_start_s":`+strconv.FormatInt(start, 10))) {
		t.Errorf("info does not keep the market start: %s", writes["info"])
	}
}

// "Keeping [height and market time] out of the hash lets an idle chain's
// app hash stand still": an idle block leaves the app hash alone and
// writes nothing; anything that changes state moves it.
func TestAppHashOnlyMovesWithState(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	idle := h.s.AppHash()
	h.blockAt(at(0, 100))
	h.blockAt(at(0, 3000))
	if !bytes.Equal(h.s.AppHash(), idle) || !bytes.Equal(h.last.AppHash, idle) || len(h.last.Writes) != 0 || len(h.events) != 0 {
		t.Fatalf("idle blocks changed the state: writes %v", h.last.Writes)
	}
	// An issue writes alice's wallet, the supply and the operator's nonce.
	h.issue("alice", 1)
	if bytes.Equal(h.last.AppHash, idle) || !sameKeys(h.last.Writes, "info", "p/alice", "p/operator") {
		t.Errorf("issue: writes %v", keysOf(h.last.Writes))
	}
	moved := h.last.AppHash
	// Gate closure of the empty 02:00 listing writes it as cleared.
	h.blockAt(at(1, 0))
	if bytes.Equal(h.last.AppHash, moved) || !sameKeys(h.last.Writes, "l/00000000001717207200") {
		t.Errorf("gate closure: writes %v", keysOf(h.last.Writes))
	}
	moved = h.last.AppHash
	// Opening 25:00 (1717290000) writes it and the next-listing pointer.
	h.blockAt(at(1, 1))
	if bytes.Equal(h.last.AppHash, moved) || !sameKeys(h.last.Writes, "info", "l/00000000001717290000") {
		t.Errorf("listing opened: writes %v", keysOf(h.last.Writes))
	}
	// Two chains fed the same blocks agree.
	h2 := newHarness(t)
	h2.members("alice")
	h2.blockAt(at(0, 100))
	h2.blockAt(at(0, 3000))
	h2.issue("alice", 1)
	h2.blockAt(at(1, 0))
	h2.blockAt(at(1, 1))
	if !bytes.Equal(h.s.AppHash(), h2.s.AppHash()) {
		t.Error("same blocks, different app hash")
	}
}

func keysOf(kvs []contract.KV) []string {
	var out []string
	for _, kv := range kvs {
		out = append(out, kv.Key)
	}
	return out
}

func sameKeys(kvs []contract.KV, keys ...string) bool {
	return reflect.DeepEqual(keysOf(kvs), keys)
}

// Load rebuilds from the persisted writes the state that wrote them: same
// app hash, same answers, and the same next block.
func TestLoadRebuildsTheSameState(t *testing.T) {
	h := newHarness(t)
	workedExample(h)
	placeBook(h, at(2, 0))
	open := placeBook(h, at(3, 0))
	h.blockAt(at(1, 0)) // 02:00 clears, 03:00 stays open with its book
	loaded, err := contract.Load(h.entries(), h.height, h.mt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loaded.AppHash(), h.s.AppHash()) {
		t.Fatal("loaded app hash differs")
	}
	if !reflect.DeepEqual(loaded.Accounts(), h.s.Accounts()) || loaded.ChainID() != testChain || loaded.Height() != h.height {
		t.Error("loaded accounts, chain id or height differ")
	}
	for _, q := range []string{
		"/info", "/params", "/participants", "/participants/carol", "/res", "/meters",
		"/listings?book=1", "/listings?from=1717207200&to=1717210800", "/listing/1717207200",
		"/order/" + open.bob, "/trades", "/trades?participant=carol",
	} {
		a, err1 := h.s.Query(q)
		b, err2 := loaded.Query(q)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("query %s: %v %v\n%s\n%s", q, err1, err2, a, b)
		}
	}
	// The next blocks, delivered to both, give the same commitments: one
	// cancels an order of the loaded book (refunding erin's 40,000,000),
	// the next clears the 03:00 listing at its gate closure.
	blocks := []struct {
		mt  int64
		txs [][]byte
	}{
		{at(1, 1), [][]byte{h.tx("erin", &contract.MsgCancel{Order: open.erin}), h.tx("bob", &contract.MsgCancel{Order: open.bob})}},
		{at(2, 0), nil},
	}
	for i, b := range blocks {
		var commits [2]contract.Commitment
		var events [2][]contract.Event
		for j, s := range []*contract.State{h.s, loaded} {
			s.BeginBlock(h.height+1+int64(i), b.mt*ns)
			expectCodes(t, s.DeliverTxs(b.txs), make([]contract.Code, len(b.txs))...)
			commits[j], events[j] = s.EndBlock()
		}
		if !bytes.Equal(commits[0].AppHash, commits[1].AppHash) || !reflect.DeepEqual(commits[0].Writes, commits[1].Writes) ||
			!reflect.DeepEqual(events[0], events[1]) {
			t.Errorf("block %d differs after load", i)
		}
	}
	if c := loaded.Info(); c.Balances != 3*unit || c.Escrow != 0 {
		t.Errorf("loaded state after clearing: %+v", c)
	}
}

// "Codes are stable: clients and auditors match on them, so a code's number
// never changes meaning." The table is errors.go's order, pinned.
func TestCodesAreStable(t *testing.T) {
	want := []string{
		"ok", "malformed", "bad_signature", "replay", "unknown_participant", "suspended",
		"wrong_role", "unknown_res", "res_not_approved", "above_capacity", "insufficient_funds",
		"gate_closed", "bad_quantity", "unknown_listing", "duplicate", "rate_limited",
		"unknown_order", "bad_params", "wrong_chain", "not_owner",
		"unknown_meter", "reading_from_future", "registers_backwards", "stale_reading",
		"plan_frozen", "no_plan", "unknown_dr_request", "not_in_scope",
		"unknown_proposal", "proposal_closed", "wrong_registration",
		"unknown_battery", "battery_not_res",
	}
	for n, name := range want {
		if got := contract.Code(n).Name(); got != name {
			t.Errorf("code %d is %q, want %q", n, got, name)
		}
	}
	if got := contract.Code(len(want)).Name(); got != "code_33" {
		t.Errorf("code 33 is %q", got)
	}
	codes := contract.Codes()
	if len(codes) != len(want)-1 {
		t.Fatalf("Codes lists %d, want %d", len(codes), len(want)-1)
	}
	for i, c := range codes {
		if int(c.Code) != i+1 || c.Name != want[i+1] || c.Message == "" {
			t.Errorf("Codes()[%d] = %+v", i, c)
		}
		if got := contract.CodeOf(fmt.Errorf("wrapped: %w", errors.New(c.Message))); got != contract.CodeMalformed {
			t.Errorf("an unrelated error with %s's message maps to %s", c.Name, got.Name())
		}
	}
	if contract.CodeOf(nil) != contract.CodeOK || contract.CodeOf(errors.New("other")) != contract.CodeMalformed ||
		contract.CodeOf(fmt.Errorf("x: %w", contract.ErrGateClosed)) != contract.CodeGateClosed {
		t.Error("CodeOf")
	}
}

// The dashboard signs transactions itself (web/src/sign.js), checked
// against web/tests/fixtures.json; every transaction there must be what
// SignBody makes of its fields, so the two signers agree byte for byte,
// the registration height included.
func TestWebTxFixturesAreTheGoSignature(t *testing.T) {
	raw, err := os.ReadFile("../../web/tests/fixtures.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		ChainID string `json:"chain_id"`
		KeyFile struct {
			ID      string `json:"id"`
			PrivKey []byte `json:"priv_key"`
		} `json:"key_file"`
		Txs []struct {
			Type       string `json:"type"`
			Registered int64  `json:"registered"`
			Nonce      uint64 `json:"nonce"`
			Tx         []byte `json:"tx"`
		} `json:"txs"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	registered := 0
	for _, c := range fx.Txs {
		tx, err := contract.DecodeTx(c.Tx)
		if err != nil {
			t.Fatalf("%s nonce %d: %v", c.Type, c.Nonce, err)
		}
		b := contract.Body{ChainID: fx.ChainID, Signer: fx.KeyFile.ID, Registered: c.Registered, Nonce: c.Nonce, Type: c.Type}
		if again := signBodyTx(t, ed25519.PrivKey(fx.KeyFile.PrivKey), b, tx.Message); !bytes.Equal(again, c.Tx) {
			t.Errorf("%s nonce %d: the fixture is not SignBody's\n%s\n%s", c.Type, c.Nonce, c.Tx, again)
		}
		if c.Registered != 0 {
			registered++
		}
	}
	if registered == 0 {
		t.Error("no fixture is signed for a registration after the genesis")
	}
}

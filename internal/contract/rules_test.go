package contract_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
)

// One named test per rule of SYSTEM.md (parts 2–4) that the contract
// enforces, in the manner of etcd raft's raft_paper_test.go. Every expected
// number is worked out by hand in the comments: money is in nano-units, so
// Wh × price per kWh (in micro-units) is the amount exactly.

// --- Part 2: identity and registry ---

// "Every participant has a unique IDgrid."
func TestParticipantIDGridIsUnique(t *testing.T) {
	h := newHarness(t)
	r := h.ok("operator", registerMsg("alice", contract.RoleMember, contract.NodeHousehold))
	if len(r.Events) != 1 || r.Events[0].Type != "participant_registered" ||
		!reflect.DeepEqual(attrs(r.Events[0]), map[string]string{"id": "alice", "role": "member", "node_type": "household"}) {
		t.Errorf("events %+v", r.Events)
	}
	// The same IDgrid again, even with another key, is refused and the
	// first registration stands.
	dup := registerMsg("alice", contract.RoleMember, contract.NodeProducer)
	dup.PubKey = pubOf("mallory")
	h.want(contract.CodeDuplicate, "operator", dup)
	if p := h.p("alice"); !bytes.Equal(p.PubKey, pubOf("alice")) || p.NodeType != contract.NodeHousehold {
		t.Errorf("alice was overwritten: %+v", p)
	}
	// A genesis participant's id is taken too.
	h.want(contract.CodeDuplicate, "operator", registerMsg("dso", contract.RoleMember, contract.NodeHousehold))
	// operator, dso, utility and alice.
	if n := h.s.Info().Participants; n != 4 {
		t.Errorf("%d participants, want 4", n)
	}
}

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
		"time scale 0": {testChain, func(g *contract.Genesis) { g.TimeScale = 0 }, contract.ErrBadParams},
		"bad params":   {testChain, func(g *contract.Genesis) { g.Params.IntervalS = 0 }, contract.ErrBadParams},
		"bad chain id": {"no spaces allowed", func(*contract.Genesis) {}, contract.ErrMalformed},
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

// "The community operator (admin): registers members" — and nobody else.
func TestOnlyOperatorRegistersParticipants(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	for _, signer := range []string{"alice", "dso", "utility"} {
		h.want(contract.CodeWrongRole, signer, registerMsg("mallory", contract.RoleMember, contract.NodeHousehold))
	}
	if _, ok := h.s.Participant("mallory"); ok {
		t.Error("mallory was registered")
	}
	// A new operator may register in turn.
	h.ok("operator", registerMsg("operator2", contract.RoleOperator, ""))
	h.ok("operator2", registerMsg("bob", contract.RoleMember, contract.NodeHousehold))
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

// "Each site is a node of the grid" — a member needs a node type; the
// operator, DSO and utility need none.
func TestMemberNeedsANodeType(t *testing.T) {
	h := newHarness(t)
	h.want(contract.CodeMalformed, "operator", registerMsg("alice", contract.RoleMember, ""))
	h.want(contract.CodeMalformed, "operator", registerMsg("alice", contract.RoleMember, "spaceship"))
	if _, ok := h.s.Participant("alice"); ok {
		t.Fatal("alice registered without a valid node type")
	}
	for i, nt := range contract.NodeTypes {
		id := "member" + strconv.Itoa(i)
		h.ok("operator", registerMsg(id, contract.RoleMember, nt))
		if got := h.p(id).NodeType; got != nt {
			t.Errorf("%s: node type %q, want %q", id, got, nt)
		}
	}
	h.ok("operator", registerMsg("dso2", contract.RoleDSO, ""))
}

// "Generation assets (RES: RESid, owner, kind, capacity) are registered and
// approved by the DSO": the owner registers, only the DSO approves.
func TestRESRegisteredByOwnerApprovedByDSO(t *testing.T) {
	h := newHarness(t)
	h.members("alice", "bob")
	h.ok("alice", &contract.MsgRegisterRES{ID: "pv-alice", Kind: "PV", CapacityW: 5000})
	want := contract.RES{ID: "pv-alice", Owner: "alice", Kind: "PV", CapacityW: 5000}
	if got := h.s.RESList(); !reflect.DeepEqual(got, []contract.RES{want}) {
		t.Fatalf("RES list %+v, want %+v", got, want)
	}
	// Assets belong to members; the operator has none to register.
	h.want(contract.CodeWrongRole, "operator", &contract.MsgRegisterRES{ID: "pv-op", Kind: "PV", CapacityW: 5000})
	// An id is taken once.
	h.want(contract.CodeDuplicate, "bob", &contract.MsgRegisterRES{ID: "pv-alice", Kind: "wind", CapacityW: 1})
	// Approval: not the operator, not the owner, not the utility.
	for _, signer := range []string{"operator", "alice", "utility"} {
		h.want(contract.CodeWrongRole, signer, &contract.MsgApproveRES{ID: "pv-alice"})
	}
	if h.s.RESList()[0].Approved {
		t.Fatal("approved by someone other than the DSO")
	}
	r := h.ok("dso", &contract.MsgApproveRES{ID: "pv-alice"})
	want.Approved, want.ApprovedBy = true, "dso"
	if got := h.s.RESList(); !reflect.DeepEqual(got, []contract.RES{want}) {
		t.Errorf("RES list %+v, want %+v", got, want)
	}
	if len(r.Events) != 1 || r.Events[0].Type != "res_approved" {
		t.Errorf("events %+v", r.Events)
	}
	h.want(contract.CodeDuplicate, "dso", &contract.MsgApproveRES{ID: "pv-alice"})
	h.want(contract.CodeUnknownRES, "dso", &contract.MsgApproveRES{ID: "pv-ghost"})
}

// "Energy tokens only from DSO-approved assets": an unapproved RES cannot
// sell.
func TestUnapprovedRESCannotSell(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	h.ok("alice", &contract.MsgRegisterRES{ID: "pv-alice", Kind: "PV", CapacityW: 5000})
	offer := &contract.MsgOffer{Listing: at(2, 0), RES: "pv-alice", Wh: 1000, PricePerKWh: 50000}
	h.want(contract.CodeRESNotApproved, "alice", offer)
	if n := h.listing(at(2, 0)).Orders; n != 0 {
		t.Fatalf("%d orders in the listing, want 0", n)
	}
	h.ok("dso", &contract.MsgApproveRES{ID: "pv-alice"})
	h.ok("alice", offer)
}

// A RES cannot offer more than its capacity over the interval, summed over
// all its live offers in the listing; a cancelled offer frees its share.
func TestOfferAboveCapacityIsRefused(t *testing.T) {
	h := newHarness(t)
	h.members("alice", "bob")
	// 5000 W over a 3600 s interval: 5000 × 3600 / 3600 = 5000 Wh.
	h.approvedRES("alice", "pv-alice", 5000)
	l := at(2, 0)
	offer := func(code contract.Code, who, res string, wh int64) string {
		h.want(code, who, &contract.MsgOffer{Listing: l, RES: res, Wh: wh, PricePerKWh: 40000})
		return h.lastOrder(who)
	}
	offer(contract.CodeAboveCapacity, "alice", "pv-alice", 5001)
	first := offer(contract.CodeOK, "alice", "pv-alice", 3000)
	offer(contract.CodeAboveCapacity, "alice", "pv-alice", 2001) // 3000 + 2001 = 5001
	offer(contract.CodeOK, "alice", "pv-alice", 2000)            // 3000 + 2000 = 5000
	offer(contract.CodeAboveCapacity, "alice", "pv-alice", 1)    // 5001
	// Capacity is per interval: the next listing has all 5000 Wh.
	h.ok("alice", &contract.MsgOffer{Listing: at(3, 0), RES: "pv-alice", Wh: 5000, PricePerKWh: 40000})
	// Cancelling the 3000 Wh offer leaves 2000 offered: 3000 more fit.
	h.ok("alice", &contract.MsgCancel{Order: first})
	offer(contract.CodeOK, "alice", "pv-alice", 3000)
	offer(contract.CodeAboveCapacity, "alice", "pv-alice", 1)
	// Only the owner offers from a RES, and only from one that exists.
	offer(contract.CodeNotOwner, "bob", "pv-alice", 1)
	offer(contract.CodeUnknownRES, "alice", "pv-ghost", 1)
	// Accepted in 02:00: 3000 (cancelled), 2000, 3000 → 3 orders, 5000 Wh live.
	lv := h.listing(l)
	var live int64
	for _, o := range lv.Book {
		if !o.Cancelled {
			live += o.Wh
		}
	}
	if lv.Orders != 3 || live != 5000 {
		t.Errorf("listing has %d orders, %d Wh live; want 3 and 5000", lv.Orders, live)
	}
}

// "Meters are registered to a participant with their own device key" — by
// the operator, to a participant that exists.
func TestMetersRegisteredByOperatorToExistingParticipant(t *testing.T) {
	h := newHarness(t)
	h.members("alice", "bob")
	h.approvedRES("bob", "pv-bob", 3000)
	h.approvedRES("alice", "pv-alice", 3000)
	m := &contract.MsgRegisterMeter{ID: "m-alice", Owner: "alice", PubKey: pubOf("m-alice")}
	h.ok("operator", m)
	h.want(contract.CodeWrongRole, "alice", &contract.MsgRegisterMeter{ID: "m-2", Owner: "alice", PubKey: pubOf("m-2")})
	h.want(contract.CodeWrongRole, "dso", &contract.MsgRegisterMeter{ID: "m-2", Owner: "alice", PubKey: pubOf("m-2")})
	h.want(contract.CodeUnknownParticipant, "operator", &contract.MsgRegisterMeter{ID: "m-2", Owner: "ghost", PubKey: pubOf("m-2")})
	h.want(contract.CodeDuplicate, "operator", &contract.MsgRegisterMeter{ID: "m-alice", Owner: "bob", PubKey: pubOf("m-alice")})
	// A generation meter names a RES of its own owner.
	h.want(contract.CodeUnknownRES, "operator", &contract.MsgRegisterMeter{ID: "m-pv", Owner: "alice", PubKey: pubOf("m-pv"), RES: "pv-ghost"})
	h.want(contract.CodeNotOwner, "operator", &contract.MsgRegisterMeter{ID: "m-pv", Owner: "alice", PubKey: pubOf("m-pv"), RES: "pv-bob"})
	h.ok("operator", &contract.MsgRegisterMeter{ID: "m-pv", Owner: "alice", PubKey: pubOf("m-pv"), RES: "pv-alice"})
	want := []contract.Meter{
		{ID: "m-alice", Owner: "alice", PubKey: pubOf("m-alice")},
		{ID: "m-pv", Owner: "alice", PubKey: pubOf("m-pv"), RES: "pv-alice"},
	}
	if got := h.s.Meters(); !reflect.DeepEqual(got, want) {
		t.Errorf("meters %+v, want %+v", got, want)
	}
}

// The operator suspends a participant, whose transactions are then refused,
// and reinstates it, after which they work again.
func TestOperatorSuspendsAndReinstates(t *testing.T) {
	h := newHarness(t)
	h.members("alice", "bob")
	h.issue("alice", unit)
	bid := &contract.MsgBid{Listing: at(2, 0), Wh: 1000, PricePerKWh: 50000} // escrows 50,000,000
	h.ok("operator", &contract.MsgSetSuspended{ID: "alice", Reason: "meter tampering"})
	if !h.p("alice").Suspended {
		t.Fatal("alice not suspended")
	}
	h.want(contract.CodeSuspended, "alice", bid)
	// The refused tx spent its nonce and nothing else.
	if p := h.p("alice"); p.Nonce != h.nonces["alice"] || p.Balance != unit || p.Escrow != 0 {
		t.Errorf("after a refused bid: %+v", p)
	}
	// Only the operator suspends, and never itself; twice is a duplicate.
	h.want(contract.CodeWrongRole, "dso", &contract.MsgSetSuspended{ID: "bob"})
	h.want(contract.CodeWrongRole, "bob", &contract.MsgSetSuspended{ID: "alice"})
	h.want(contract.CodeWrongRole, "operator", &contract.MsgSetSuspended{ID: "operator"})
	h.want(contract.CodeDuplicate, "operator", &contract.MsgSetSuspended{ID: "alice"})
	h.want(contract.CodeUnknownParticipant, "operator", &contract.MsgSetSuspended{ID: "ghost"})

	h.do(contract.CodeOK, h.txType("operator", contract.TypeReinstateParticipant, &contract.MsgSetSuspended{ID: "alice"}))
	if h.p("alice").Suspended {
		t.Fatal("alice still suspended")
	}
	h.do(contract.CodeDuplicate, h.txType("operator", contract.TypeReinstateParticipant, &contract.MsgSetSuspended{ID: "alice"}))
	h.ok("alice", bid)
	h.wallet("alice", unit-50_000_000, 50_000_000) // 1000 Wh × 50,000
}

// --- Part 3: tokens (currency) ---

// "The community operator … issues and redeems currency tokens against real
// money" — only it, and never more than the wallet holds.
func TestCurrencyIssuedAndRedeemedOnlyByOperator(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	h.issue("alice", unit)
	h.wallet("alice", 1_000_000_000, 0)
	for _, signer := range []string{"dso", "utility", "alice"} {
		h.want(contract.CodeWrongRole, signer, &contract.MsgIssue{To: "alice", Amount: 1})
		h.want(contract.CodeWrongRole, signer, &contract.MsgRedeem{From: "alice", Amount: 1})
	}
	h.ok("operator", &contract.MsgRedeem{From: "alice", Amount: 400_000_000})
	h.wallet("alice", 600_000_000, 0) // 1,000,000,000 − 400,000,000
	in := h.s.Info()
	if in.Issued != 1_000_000_000 || in.Redeemed != 400_000_000 || in.Supply != 600_000_000 {
		t.Errorf("info %+v", in)
	}
	h.want(contract.CodeInsufficientFunds, "operator", &contract.MsgRedeem{From: "alice", Amount: 600_000_001})
	h.wallet("alice", 600_000_000, 0)
	h.ok("operator", &contract.MsgRedeem{From: "alice", Amount: 600_000_000})
	h.wallet("alice", 0, 0)
	h.want(contract.CodeUnknownParticipant, "operator", &contract.MsgIssue{To: "ghost", Amount: 1})
	h.want(contract.CodeUnknownParticipant, "operator", &contract.MsgRedeem{From: "ghost", Amount: 1})
	if in := h.s.Info(); in.Supply != 0 || in.Issued != 1_000_000_000 || in.Redeemed != 1_000_000_000 {
		t.Errorf("info %+v", in)
	}
}

// Money held in escrow is locked: a bid with funds reserved cannot be
// redeemed from under it.
func TestRedeemCannotTouchEscrow(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	h.issue("alice", unit)
	h.bid("alice", at(2, 0), 1000, 100_000) // 1000 × 100,000 = 100,000,000 escrowed
	h.want(contract.CodeInsufficientFunds, "operator", &contract.MsgRedeem{From: "alice", Amount: 900_000_001})
	h.ok("operator", &contract.MsgRedeem{From: "alice", Amount: 900_000_000})
	h.wallet("alice", 0, 100_000_000)
	h.conserved()
}

// --- Part 4: the market ---

// "Buyers must hold the funds for their bid (escrowed when the bid is
// accepted)": a bid escrows Wh × price, and is refused when funds are short.
func TestBidEscrowsWhTimesPrice(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	h.issue("alice", unit)
	l := at(2, 0)
	// 2000 Wh at 0.095/kWh: 2000 × 95,000 = 190,000,000 (0.19 units).
	b1 := h.bid("alice", l, 2000, 95_000)
	h.wallet("alice", 810_000_000, 190_000_000)
	if o := h.order(b1); o.Escrow != 190_000_000 || o.Side != contract.SideBid || o.Wh != 2000 || o.PricePerKWh != 95_000 {
		t.Errorf("order %+v", o)
	}
	// 9000 × 95,000 = 855,000,000 > 810,000,000.
	h.want(contract.CodeInsufficientFunds, "alice", &contract.MsgBid{Listing: l, Wh: 9000, PricePerKWh: 95_000})
	h.wallet("alice", 810_000_000, 190_000_000)
	// 9000 × 90,000 = 810,000,000: exactly all that is left.
	b2 := h.bid("alice", l, 9000, 90_000)
	h.wallet("alice", 0, 1_000_000_000)
	// 1 Wh × 1 = 1 nano-unit more than the 0 left.
	h.want(contract.CodeInsufficientFunds, "alice", &contract.MsgBid{Listing: l, Wh: 1, PricePerKWh: 1})
	// A bid at price 0 escrows 1000 × 0 = 0 and is accepted.
	b3 := h.bid("alice", l, 1000, 0)
	for id, want := range map[string]int64{b1: 190_000_000, b2: 810_000_000, b3: 0} {
		if got := h.order(id).Escrow; got != want {
			t.Errorf("order %s escrow %d, want %d", id, got, want)
		}
	}
	h.conserved()
}

// A bid cancelled before gate closure gets its escrow back to the
// nano-unit, and takes no part in the clearing.
func TestCancelBeforeGateClosureRefundsEscrowExactly(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	h.issue("alice", unit)
	l := at(2, 0)
	first := h.bid("alice", l, 1500, 70_000)    // 1500 × 70,000 = 105,000,000
	second := h.bid("alice", l, 500, 80_000)    // 500 × 80,000 = 40,000,000
	h.wallet("alice", 855_000_000, 145_000_000) // 1e9 − 145,000,000
	r := h.ok("alice", &contract.MsgCancel{Order: first})
	h.wallet("alice", 960_000_000, 40_000_000) // 105,000,000 back
	if o := h.order(first); !o.Cancelled || o.Escrow != 0 {
		t.Errorf("cancelled order %+v", o)
	}
	if len(r.Events) != 1 || r.Events[0].Type != "order_cancelled" || attrs(r.Events[0])["order"] != first {
		t.Errorf("events %+v", r.Events)
	}
	// A cancelled order cannot be cancelled again.
	h.want(contract.CodeUnknownOrder, "alice", &contract.MsgCancel{Order: first})
	h.want(contract.CodeUnknownOrder, "alice", &contract.MsgCancel{Order: "alice/999"})
	// At gate closure the live bid, with no offer to match, is refunded
	// whole; the cancelled one is not in the book (wanted 500, not 2000).
	h.blockAt(at(1, 0))
	c := h.listing(l).Clearing
	if c == nil || c.WantedWh != 500 || c.AvailableWh != 0 || c.MCP != nil || len(c.Trades) != 0 || c.RefundedNano != 40_000_000 {
		t.Fatalf("clearing %+v", c)
	}
	if want := []market.GridFlow{{OrderID: second, Participant: "alice", Wh: 500}}; !reflect.DeepEqual(c.GridImport, want) {
		t.Errorf("grid import %+v, want %+v", c.GridImport, want)
	}
	h.wallet("alice", unit, 0)
}

// Only an order's owner may cancel it.
func TestCancelByNonOwnerIsRefused(t *testing.T) {
	h := newHarness(t)
	h.members("alice", "bob")
	h.issue("alice", unit)
	b := h.bid("alice", at(2, 0), 1000, 60_000) // 60,000,000 escrowed
	h.want(contract.CodeNotOwner, "bob", &contract.MsgCancel{Order: b})
	h.want(contract.CodeNotOwner, "operator", &contract.MsgCancel{Order: b})
	if o := h.order(b); o.Cancelled || o.Escrow != 60_000_000 {
		t.Errorf("order %+v", o)
	}
	h.wallet("alice", 940_000_000, 60_000_000)
}

// "At gate closure [the listing] moves to BIDS_CLOSED": an order in a block
// stamped at or after gate closure is refused, and so is a cancel.
func TestBidAfterGateClosureIsRefused(t *testing.T) {
	h := newHarness(t)
	h.members("alice", "carol")
	h.issue("alice", unit)
	h.approvedRES("carol", "pv-carol", 5000)
	l := at(2, 0) // delivery 02:00–03:00, gate closure 01:00
	bid := &contract.MsgBid{Listing: l, Wh: 1000, PricePerKWh: 50_000}
	// Stamped 00:59:59, one second before gate closure: accepted.
	expectCodes(t, h.blockAt(at(0, 3599), h.tx("alice", bid)), contract.CodeOK)
	early := h.lastOrder("alice")
	// Stamped 01:00:00: BeginBlock closed and cleared the listing before
	// the block's transactions ran.
	res := h.blockAt(at(1, 0),
		h.tx("alice", bid),
		h.tx("carol", &contract.MsgOffer{Listing: l, RES: "pv-carol", Wh: 1000, PricePerKWh: 40_000}),
		h.tx("alice", &contract.MsgCancel{Order: early}))
	expectCodes(t, res, contract.CodeGateClosed, contract.CodeGateClosed, contract.CodeGateClosed)
	if st := h.listing(l).State; st != contract.StateBidsClosed {
		t.Errorf("state %s", st)
	}
	h.want(contract.CodeGateClosed, "alice", bid)
	// The early bid met no offer and was refunded whole; the next
	// listing (gate closure 02:00) still takes orders.
	h.wallet("alice", unit, 0)
	h.bid("alice", at(3, 0), 1000, 50_000)
	h.wallet("alice", unit-50_000_000, 50_000_000)
}

// A bid or offer naming a listing that was never opened is refused.
func TestBidOnUnknownListingIsRefused(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	h.issue("alice", unit)
	h.approvedRES("alice", "pv-alice", 5000)
	for _, l := range []int64{
		at(2, 1800), // not an interval start
		at(25, 0),   // beyond the horizon: opens after 01:00:00
		at(1, 0),    // its gate closed at genesis: never opened
		T0, 0, -hour,
	} {
		h.want(contract.CodeUnknownListing, "alice", &contract.MsgBid{Listing: l, Wh: 100, PricePerKWh: 50_000})
		h.want(contract.CodeUnknownListing, "alice", &contract.MsgOffer{Listing: l, RES: "pv-alice", Wh: 100, PricePerKWh: 50_000})
	}
	h.wallet("alice", unit, 0)
	if n := h.s.Info().Orders; n != 0 {
		t.Errorf("%d orders", n)
	}
}

// "A listing opens in state AUTHORIZE_OFFERS (the AuthorizeOfferCom notice
// invites every member to bid)": listings open on their own, one interval
// at a time, a horizon (24 intervals by default) ahead.
func TestListingsOpenAHorizonAhead(t *testing.T) {
	h := newGenesisHarness(t)
	if n := len(h.s.Listings(0, forever, false)); n != 0 {
		t.Fatalf("%d listings at genesis", n)
	}
	h.blockAt(at(0, 1))
	// Market time 00:00:01. The 01:00 listing's gate closed at 00:00, so
	// the first is 02:00; the last starts before 00:00:01 + 24 h, so it is
	// 24:00. 02:00 … 24:00 is 23 listings, in order, one event each.
	if len(h.events) != 23 {
		t.Fatalf("%d events, want 23", len(h.events))
	}
	for i, e := range h.events {
		start := at(int64(i)+2, 0)
		grid := int64(65_000)
		if hod := (i + 2) % 24; hod >= 13 && hod < 23 {
			grid = 95_000
		}
		want := map[string]string{
			"listing": strconv.FormatInt(start, 10), "end": strconv.FormatInt(start+hour, 10),
			"gate_closure": strconv.FormatInt(start-hour, 10), "mechanism": "average-bid",
			"grid_price": strconv.FormatInt(grid, 10), "feed_in": "39000",
		}
		if e.Type != "AuthorizeOfferCom" || !reflect.DeepEqual(attrs(e), want) {
			t.Errorf("event %d: %s %v, want AuthorizeOfferCom %v", i, e.Type, attrs(e), want)
		}
	}
	ls := h.s.Listings(0, forever, false)
	if len(ls) != 23 {
		t.Fatalf("%d listings", len(ls))
	}
	for i, l := range ls {
		start := at(int64(i)+2, 0)
		if l.Start != start || l.End != start+hour || l.GateClosure != start-hour ||
			l.State != contract.StateAuthorizeOffers || l.Mechanism != market.AverageBid ||
			l.OpenedHeight != 1 || l.Orders != 0 || l.Clearing != nil {
			t.Errorf("listing %d: %+v", i, l.Listing)
		}
	}
	if in := h.s.Info(); in.Listings != 23 || in.OpenListings != 23 {
		t.Errorf("info %+v", in)
	}
	// Later in the same hour nothing opens or closes.
	h.blockAt(at(0, 2))
	if len(h.events) != 0 {
		t.Errorf("idle block events %+v", h.events)
	}
	// At 01:00:00 the 02:00 listing closes; 25:00 is not yet inside the
	// horizon (it must start before 01:00:00 + 24 h).
	h.blockAt(at(1, 0))
	if len(h.events) != 1 || h.events[0].Type != "CloseBidding" || attrs(h.events[0])["listing"] != strconv.FormatInt(at(2, 0), 10) {
		t.Errorf("events at 01:00:00: %+v", h.events)
	}
	if n := h.s.Info().OpenListings; n != 22 {
		t.Errorf("%d open listings, want 22", n)
	}
	// One second later 25:00 opens.
	h.blockAt(at(1, 1))
	if len(h.events) != 1 || h.events[0].Type != "AuthorizeOfferCom" || attrs(h.events[0])["listing"] != strconv.FormatInt(at(25, 0), 10) {
		t.Errorf("events at 01:00:01: %+v", h.events)
	}
	if in := h.s.Info(); in.Listings != 24 || in.OpenListings != 23 {
		t.Errorf("info %+v", in)
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

// bookEscrowed checks the buyers' wallets after one placeBook.
func bookEscrowed(h *harness) {
	h.t.Helper()
	h.wallet("alice", 860_000_000, 140_000_000)
	h.wallet("bob", 876_000_000, 124_000_000)
	h.wallet("erin", 960_000_000, 40_000_000)
}

// "At gate closure [the listing] moves to BIDS_CLOSED, and CloseBidding
// clears it inside the ledger": in the block whose time reaches gate
// closure, sellers are paid at the clearing price out of the buyers' escrow
// and the rest of the escrow goes back. Average-bid, the seed's rule.
func TestGateClosureClearsListingInSameBlock(t *testing.T) {
	h := newHarness(t)
	workedExample(h)
	l := at(2, 0)
	b := placeBook(h, l)
	bookEscrowed(h)
	h.blockAt(at(0, 3599))
	if lv := h.listing(l); lv.State != contract.StateAuthorizeOffers || lv.Clearing != nil {
		t.Fatalf("cleared before gate closure: %+v", lv.Listing)
	}
	h.blockAt(at(1, 0))
	gate := h.height
	// MCP = Σ Wh×price / Σ Wh over bids
	//     = (2000×70,000 + 2000×62,000 + 1000×40,000) / 5000
	//     = 304,000,000 / 5000 = 60,800, inside [39,000, 65,000].
	// Bids at or above 60,800, highest first: alice 70,000, bob 62,000.
	// Offers at or below 60,800, first in first out: carol, dave.
	//   alice takes 2000 from carol (carol has 1000 left)
	//   bob takes 1000 from carol, then 1000 from dave (dave 1000 left)
	// Every trade at 60,800: 2000 → 121,600,000; 1000 → 60,800,000.
	const mcp = 60_800
	wantTrades := []market.Trade{
		{BidID: b.alice, OfferID: b.carol, Buyer: "alice", Seller: "carol", Wh: 2000, PricePerKWh: mcp},
		{BidID: b.bob, OfferID: b.carol, Buyer: "bob", Seller: "carol", Wh: 1000, PricePerKWh: mcp},
		{BidID: b.bob, OfferID: b.dave, Buyer: "bob", Seller: "dave", Wh: 1000, PricePerKWh: mcp},
	}
	lv := h.listing(l)
	c := lv.Clearing
	if lv.State != contract.StateBidsClosed || c == nil {
		t.Fatalf("not cleared at gate closure: %+v", lv.Listing)
	}
	if c.Height != gate || c.MarketTime != at(1, 0) || c.MCP == nil || *c.MCP != mcp ||
		c.AvailableWh != 5000 || c.WantedWh != 5000 || c.TradedWh != 4000 ||
		// paid 121,600,000 + 60,800,000 + 60,800,000
		c.PaidNano != 243_200_000 ||
		// refunded alice 140,000,000 − 121,600,000 = 18,400,000
		//          bob   124,000,000 − 121,600,000 =  2,400,000
		//          erin                              40,000,000
		c.RefundedNano != 60_800_000 {
		t.Errorf("clearing %+v", c)
	}
	if !reflect.DeepEqual(c.Trades, wantTrades) {
		t.Errorf("trades %+v, want %+v", c.Trades, wantTrades)
	}
	if want := []market.GridFlow{{OrderID: b.erin, Participant: "erin", Wh: 1000}}; !reflect.DeepEqual(c.GridImport, want) {
		t.Errorf("grid import %+v, want %+v", c.GridImport, want)
	}
	if want := []market.GridFlow{{OrderID: b.dave, Participant: "dave", Wh: 1000}}; !reflect.DeepEqual(c.GridExport, want) {
		t.Errorf("grid export %+v, want %+v", c.GridExport, want)
	}
	want := map[string]string{
		"listing": strconv.FormatInt(l, 10), "mechanism": "average-bid", "mcp": "60800",
		"available_wh": "5000", "wanted_wh": "5000", "traded_wh": "4000", "trades": "3",
		"grid_import_wh": "1000", "grid_export_wh": "1000",
	}
	if len(h.events) != 1 || h.events[0].Type != "CloseBidding" || !reflect.DeepEqual(attrs(h.events[0]), want) {
		t.Errorf("events %+v, want one CloseBidding %v", h.events, want)
	}
	h.wallet("alice", 878_400_000, 0) // 1e9 − 121,600,000
	h.wallet("bob", 878_400_000, 0)   // 1e9 − 60,800,000 × 2
	h.wallet("erin", 1_000_000_000, 0)
	h.wallet("carol", 182_400_000, 0) // 121,600,000 + 60,800,000
	h.wallet("dave", 60_800_000, 0)
	for _, id := range []string{b.alice, b.bob, b.erin} {
		if e := h.order(id).Escrow; e != 0 {
			t.Errorf("bid %s keeps escrow %d after clearing", id, e)
		}
	}
	h.conserved()
}

// "Other mechanisms (uniform-price double auction, pay-as-bid) are
// selectable per community": set_params picks the mechanism, and it applies
// to listings opened afterwards; listings already open keep theirs.
func TestMechanismSetByParamsAppliesToLaterListings(t *testing.T) {
	// The worked example's book in each mechanism. Uniform and pay-as-bid
	// match bids by price descending against offers ascending while they
	// cross: alice 70,000 × carol 50,000 → 2000; bob 62,000 × carol → 1000;
	// bob 62,000 × dave 60,000 → 1000; erin 40,000 < dave 60,000 stops.
	// MCP = midpoint of the last matched bid and offer = (62,000+60,000)/2
	// = 61,000.
	cases := []struct {
		mech, genesis market.Mechanism
		mcp           int64
		prices        [3]int64 // alice←carol 2000, bob←carol 1000, bob←dave 1000
		paid          int64
		wallets       map[string]int64
	}{
		{
			// The worked example of TestGateClosureClearsListingInSameBlock.
			mech: market.AverageBid, genesis: market.Uniform, mcp: 60_800,
			prices: [3]int64{60_800, 60_800, 60_800},
			paid:   243_200_000,
			wallets: map[string]int64{"alice": 878_400_000, "bob": 878_400_000, "erin": unit,
				"carol": 182_400_000, "dave": 60_800_000},
		},
		{
			// Every trade at 61,000: 2000 → 122,000,000; 1000 → 61,000,000.
			mech: market.Uniform, genesis: market.AverageBid, mcp: 61_000,
			prices: [3]int64{61_000, 61_000, 61_000},
			paid:   244_000_000, // 122,000,000 + 61,000,000 × 2
			wallets: map[string]int64{"alice": 878_000_000, "bob": 878_000_000, "erin": unit,
				"carol": 183_000_000, "dave": 61_000_000},
		},
		{
			// Each trade at its bid: 2000 × 70,000 = 140,000,000;
			// 1000 × 62,000 = 62,000,000 twice.
			mech: market.PayAsBid, genesis: market.AverageBid, mcp: 61_000,
			prices: [3]int64{70_000, 62_000, 62_000},
			paid:   264_000_000,
			wallets: map[string]int64{"alice": 860_000_000, "bob": 876_000_000, "erin": unit,
				"carol": 202_000_000, "dave": 62_000_000},
		},
	}
	for _, tc := range cases {
		t.Run(string(tc.mech), func(t *testing.T) {
			h := newHarness(t, func(g *contract.Genesis) { g.Params.Mechanism = tc.genesis })
			workedExample(h)
			p := h.s.Params()
			p.Mechanism = tc.mech
			r := h.ok("operator", &contract.MsgSetParams{Params: p})
			if len(r.Events) != 1 || attrs(r.Events[0])["mechanism"] != string(tc.mech) {
				t.Errorf("events %+v", r.Events)
			}
			if m := h.listing(at(3, 0)).Mechanism; m != tc.genesis {
				t.Errorf("listing opened before set_params has %s, want %s", m, tc.genesis)
			}
			h.blockAt(at(1, 1)) // opens 25:00 under the new params
			l := at(25, 0)
			if m := h.listing(l).Mechanism; m != tc.mech {
				t.Fatalf("listing opened after set_params has %s, want %s", m, tc.mech)
			}
			b := placeBook(h, l)
			bookEscrowed(h)
			h.blockAt(at(24, 0)) // 25:00's gate closure
			c := h.listing(l).Clearing
			if c == nil || c.MCP == nil || *c.MCP != tc.mcp || c.TradedWh != 4000 ||
				c.PaidNano != tc.paid || c.RefundedNano != 304_000_000-tc.paid {
				t.Fatalf("clearing %+v", c)
			}
			want := []market.Trade{
				{BidID: b.alice, OfferID: b.carol, Buyer: "alice", Seller: "carol", Wh: 2000, PricePerKWh: tc.prices[0]},
				{BidID: b.bob, OfferID: b.carol, Buyer: "bob", Seller: "carol", Wh: 1000, PricePerKWh: tc.prices[1]},
				{BidID: b.bob, OfferID: b.dave, Buyer: "bob", Seller: "dave", Wh: 1000, PricePerKWh: tc.prices[2]},
			}
			if !reflect.DeepEqual(c.Trades, want) {
				t.Errorf("trades %+v, want %+v", c.Trades, want)
			}
			for id, bal := range tc.wallets {
				h.wallet(id, bal, 0)
			}
			h.conserved()
		})
	}
}

// "What the community cannot match is bought from or sold to the utility at
// the grid tariff (seed default 0.095 €/kWh in the 13–23 h peak) or the
// feed-in tariff (0.039 €/kWh)": each listing copies the tariffs of its
// hour when it opens.
func TestTariffsByHourAreCopiedIntoListings(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct{ h, grid int64 }{
		{2, 65_000}, {12, 65_000}, // off-peak (our default, the seed gives none)
		{13, 95_000}, {22, 95_000}, // the seed's peak, 13:00 to 23:00
		{23, 65_000}, {24, 65_000}, // 24:00 is 00:00 of the next day
	} {
		l := h.listing(at(c.h, 0))
		if l.GridPricePerKWh != c.grid || l.FeedInPerKWh != contract.SeedFeedInPerKWh {
			t.Errorf("%02d:00: grid %d feed-in %d, want %d and 39000", c.h, l.GridPricePerKWh, l.FeedInPerKWh, c.grid)
		}
	}
	// New tariffs, by local hour two hours ahead of UTC, reach only
	// listings opened afterwards.
	p := h.s.Params()
	for hr := range 24 {
		p.GridPricePerKWh[hr] = 60_000 + 1000*int64(hr)
		p.FeedInPerKWh[hr] = 30_000 + 100*int64(hr)
	}
	p.TariffUTCOffsetS = 2 * hour
	h.ok("operator", &contract.MsgSetParams{Params: p})
	h.blockAt(at(1, 1))
	// 25:00 UTC is 01:00 UTC on day 2, 03:00 local: 60,000 + 3,000 and
	// 30,000 + 300.
	if l := h.listing(at(25, 0)); l.GridPricePerKWh != 63_000 || l.FeedInPerKWh != 30_300 {
		t.Errorf("25:00: grid %d feed-in %d, want 63000 and 30300", l.GridPricePerKWh, l.FeedInPerKWh)
	}
	// This block also closed 02:00; it opened only 25:00.
	if ev := h.eventsOfType("AuthorizeOfferCom"); len(ev) != 1 || attrs(ev[0])["grid_price"] != "63000" || attrs(ev[0])["feed_in"] != "30300" {
		t.Errorf("AuthorizeOfferCom %v", ev)
	}
	if l := h.listing(at(24, 0)); l.GridPricePerKWh != 65_000 || l.FeedInPerKWh != 39_000 {
		t.Errorf("24:00 changed after it opened: %d %d", l.GridPricePerKWh, l.FeedInPerKWh)
	}
}

// "MaxTxPerInterval caps the transactions one member may sign per interval
// of market time (operator, DSO and utility are exempt)". Every tx that gets
// past the signature and nonce checks counts, refused or not.
func TestRateLimitPerMemberPerInterval(t *testing.T) {
	h := newHarness(t, func(g *contract.Genesis) { g.Params.MaxTxPerInterval = 3 })
	h.members("alice", "bob")
	h.issue("alice", unit)
	l := at(3, 0)
	bid := func(who string) []byte {
		return h.tx(who, &contract.MsgBid{Listing: l, Wh: 100, PricePerKWh: 50_000}) // 5,000,000 each
	}
	// All in hour 0 (market time 00:00:xx): three bids, then the limit.
	first := bid("alice")
	res := h.block(first, bid("alice"), bid("alice"), bid("alice"))
	expectCodes(t, res, contract.CodeOK, contract.CodeOK, contract.CodeOK, contract.CodeRateLimited)
	window := at(0, 0) / hour
	if p := h.p("alice"); p.Nonce != 4 || p.RateWindow != window || p.RateCount != 3 || p.Escrow != 15_000_000 {
		t.Errorf("alice %+v", p)
	}
	// A replay and a forgery are refused for what they are, before the
	// limit is looked at, and do not count.
	forged := h.sign(keyOf("bob"), testChain, "alice", 10, contract.TypeBid, &contract.MsgBid{Listing: l, Wh: 1, PricePerKWh: 1})
	expectCodes(t, h.block(first, forged), contract.CodeReplay, contract.CodeBadSignature)
	// bob's unfunded bids are refused but count: the fourth hits the limit.
	expectCodes(t, h.block(bid("bob"), bid("bob"), bid("bob"), bid("bob")),
		contract.CodeInsufficientFunds, contract.CodeInsufficientFunds, contract.CodeInsufficientFunds, contract.CodeRateLimited)
	// The operator is exempt.
	var issues [][]byte
	for range 5 {
		issues = append(issues, h.tx("operator", &contract.MsgIssue{To: "bob", Amount: 1}))
	}
	expectCodes(t, h.block(issues...), contract.CodeOK, contract.CodeOK, contract.CodeOK, contract.CodeOK, contract.CodeOK)
	// A new interval of market time starts a new count.
	expectCodes(t, h.blockAt(at(1, 0), bid("alice")), contract.CodeOK)
	if p := h.p("alice"); p.RateWindow != window+1 || p.RateCount != 1 || p.Escrow != 20_000_000 {
		t.Errorf("alice %+v", p)
	}
}

// Every transaction is signed by its signer's key; a forged or altered one
// is refused and spends nothing, so the genuine one can still go through.
func TestBadSignatureIsRefused(t *testing.T) {
	h := newHarness(t)
	h.members("alice", "bob")
	h.issue("alice", unit)
	h.issue("bob", unit)
	msg := &contract.MsgBid{Listing: at(2, 0), Wh: 1000, PricePerKWh: 50_000}
	n := h.nonces["alice"] + 1
	forged := h.sign(keyOf("bob"), testChain, "alice", n, contract.TypeBid, msg)
	genuine := h.sign(keyOf("alice"), testChain, "alice", n, contract.TypeBid, msg)
	badSig := bytes.Clone(genuine)
	badSig[10] ^= 1
	// Altering the body after signing: 1000 Wh becomes 9000 Wh.
	altered := bytes.Replace(genuine, []byte(`"wh":1000`), []byte(`"wh":9000`), 1)
	if bytes.Equal(altered, genuine) {
		t.Fatal("test did not alter the body")
	}
	before := h.s.AppHash()
	expectCodes(t, h.block(forged, badSig, altered),
		contract.CodeBadSignature, contract.CodeBadSignature, contract.CodeBadSignature)
	if p := h.p("alice"); p.Nonce != n-1 || p.Escrow != 0 {
		t.Errorf("alice after forgeries %+v", p)
	}
	if !bytes.Equal(h.s.AppHash(), before) {
		t.Error("app hash moved")
	}
	// Valid and forged in one block: the batch check falls back to
	// telling them apart.
	h.nonces["alice"] = n
	bobBid := h.tx("bob", msg)
	forged2 := h.sign(keyOf("bob"), testChain, "alice", n+1, contract.TypeBid, msg)
	expectCodes(t, h.block(genuine, forged2, bobBid), contract.CodeOK, contract.CodeBadSignature, contract.CodeOK)
	h.wallet("alice", 950_000_000, 50_000_000)
	h.wallet("bob", 950_000_000, 50_000_000)
}

// "The nonce, strictly increasing per signer, stops [a transaction] being
// replayed": the same bytes again, or a lower or equal nonce, is refused.
func TestReplayIsRefused(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	h.issue("alice", unit)
	msg := &contract.MsgBid{Listing: at(2, 0), Wh: 100, PricePerKWh: 100_000} // 10,000,000
	once := h.tx("alice", msg)
	h.do(contract.CodeOK, once)
	h.do(contract.CodeReplay, once)
	twice := h.tx("alice", msg)
	expectCodes(t, h.block(twice, twice), contract.CodeOK, contract.CodeReplay)
	last := h.nonces["alice"]
	h.do(contract.CodeReplay, h.sign(keyOf("alice"), testChain, "alice", 1, contract.TypeBid, msg))
	h.do(contract.CodeReplay, h.sign(keyOf("alice"), testChain, "alice", last, contract.TypeBid, msg))
	// Nonces may skip ahead; what was skipped is then spent.
	h.do(contract.CodeOK, h.sign(keyOf("alice"), testChain, "alice", last+10, contract.TypeBid, msg))
	h.do(contract.CodeReplay, h.sign(keyOf("alice"), testChain, "alice", last+5, contract.TypeBid, msg))
	if p := h.p("alice"); p.Nonce != last+10 {
		t.Errorf("nonce %d, want %d", p.Nonce, last+10)
	}
	h.wallet("alice", unit-30_000_000, 30_000_000) // three bids accepted
}

// "The chain id inside the body stops a transaction signed for one
// community being replayed on another."
func TestWrongChainIsRefused(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	msg := &contract.MsgRegisterRES{ID: "pv-alice", Kind: "PV", CapacityW: 5000}
	n := h.nonces["alice"] + 1
	h.do(contract.CodeWrongChain, h.sign(keyOf("alice"), "other-community", "alice", n, contract.TypeRegisterRES, msg))
	if p := h.p("alice"); p.Nonce != n-1 {
		t.Errorf("nonce %d spent by another chain's tx", p.Nonce)
	}
	if len(h.s.RESList()) != 0 {
		t.Error("RES registered")
	}
	h.do(contract.CodeOK, h.sign(keyOf("alice"), testChain, "alice", n, contract.TypeRegisterRES, msg))
}

// Only registered participants sign transactions. An unknown signer has no
// nonce to spend, so its refused bytes stay in the block for anyone to
// replay; but they were signed before the registration, so they name no
// registration height (or a wrong one) and stay refused once the operator
// registers that id with that key, without changing anything.
func TestUnknownSignerIsRefused(t *testing.T) {
	h := newHarness(t)
	before := h.snapshot()
	h.want(contract.CodeUnknownParticipant, "ghost", &contract.MsgRegisterRES{ID: "pv-ghost", Kind: "PV", CapacityW: 5000})
	h.want(contract.CodeUnknownParticipant, "ghost", registerMsg("ghost", contract.RoleMember, contract.NodeHousehold))
	after := h.snapshot()
	before.sameExceptParticipants(t, after)
	if !reflect.DeepEqual(before.participants, after.participants) || !bytes.Equal(before.hash, after.hash) {
		t.Error("state changed")
	}
	res := &contract.MsgRegisterRES{ID: "pv-ghost", Kind: "PV", CapacityW: 5000}
	early := h.sign(keyOf("ghost"), testChain, "ghost", 1, contract.TypeRegisterRES, res)
	// A guess of the height it would be registered at, signed early too,
	// that missed by a block.
	guess := signBodyTx(t, keyOf("ghost"), contract.Body{ChainID: testChain, Signer: "ghost", Registered: h.height + 1, Nonce: 1, Type: contract.TypeRegisterRES}, res)
	h.do(contract.CodeUnknownParticipant, early)
	h.ok("operator", registerMsg("ghost", contract.RoleMember, contract.NodeHousehold))
	registered := h.p("ghost")
	if registered.Registered != h.height || registered.Nonce != 0 {
		t.Fatalf("ghost registered %+v, want at height %d with no nonce used", registered, h.height)
	}
	before = h.snapshot()
	expectCodes(t, h.block(early, guess), contract.CodeWrongRegistration, contract.CodeWrongRegistration)
	if after := h.snapshot(); !reflect.DeepEqual(before.participants, after.participants) || !bytes.Equal(before.hash, after.hash) {
		t.Error("a transaction signed before the registration changed the state")
	}
	// Signed now, for this registration, the same message goes through
	// at the same nonce.
	h.do(contract.CodeOK, h.sign(keyOf("ghost"), testChain, "ghost", 1, contract.TypeRegisterRES, res))
}

// "A member may not bid and offer in the same listing" (market.ErrBothSides
// at clearing; the contract refuses the second side up front).
func TestMemberMayNotBidAndOfferInSameListing(t *testing.T) {
	h := newHarness(t)
	h.members("carol")
	h.issue("carol", unit)
	h.approvedRES("carol", "pv-carol", 5000)
	offer := h.offer("carol", "pv-carol", at(2, 0), 1000, 40_000)
	h.want(contract.CodeDuplicate, "carol", &contract.MsgBid{Listing: at(2, 0), Wh: 100, PricePerKWh: 50_000})
	h.bid("carol", at(3, 0), 100, 50_000) // another listing: fine
	h.want(contract.CodeDuplicate, "carol", &contract.MsgOffer{Listing: at(3, 0), RES: "pv-carol", Wh: 100, PricePerKWh: 40_000})
	// Once the offer is withdrawn, carol may buy in 02:00.
	h.ok("carol", &contract.MsgCancel{Order: offer})
	h.bid("carol", at(2, 0), 100, 50_000)
	h.wallet("carol", unit-10_000_000, 10_000_000) // two bids of 100 × 50,000
}

// Quantities must be positive and within MaxOrderWh, prices within
// 0..MaxPricePerKWh, amounts within 1..MaxAmount and capacities within
// 1..MaxCapacityW: beyond them a number is a typo or an attack.
func TestQuantitiesOutOfRangeAreRefused(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	h.issue("alice", unit)
	h.approvedRES("alice", "pv-alice", 5000)
	l := at(2, 0)
	cases := []struct {
		name   string
		signer string
		msg    contract.Msg
	}{
		{"bid zero Wh", "alice", &contract.MsgBid{Listing: l, Wh: 0, PricePerKWh: 1}},
		{"bid negative Wh", "alice", &contract.MsgBid{Listing: l, Wh: -1, PricePerKWh: 1}},
		{"bid above MaxOrderWh", "alice", &contract.MsgBid{Listing: l, Wh: contract.MaxOrderWh + 1, PricePerKWh: 1}},
		{"bid negative price", "alice", &contract.MsgBid{Listing: l, Wh: 1, PricePerKWh: -1}},
		{"bid above MaxPricePerKWh", "alice", &contract.MsgBid{Listing: l, Wh: 1, PricePerKWh: contract.MaxPricePerKWh + 1}},
		{"offer zero Wh", "alice", &contract.MsgOffer{Listing: l, RES: "pv-alice", Wh: 0, PricePerKWh: 1}},
		{"offer negative Wh", "alice", &contract.MsgOffer{Listing: l, RES: "pv-alice", Wh: -5, PricePerKWh: 1}},
		{"offer above MaxOrderWh", "alice", &contract.MsgOffer{Listing: l, RES: "pv-alice", Wh: contract.MaxOrderWh + 1, PricePerKWh: 1}},
		{"offer negative price", "alice", &contract.MsgOffer{Listing: l, RES: "pv-alice", Wh: 1, PricePerKWh: -1}},
		{"issue zero", "operator", &contract.MsgIssue{To: "alice", Amount: 0}},
		{"issue negative", "operator", &contract.MsgIssue{To: "alice", Amount: -1}},
		{"issue above MaxAmount", "operator", &contract.MsgIssue{To: "alice", Amount: contract.MaxAmount + 1}},
		{"redeem zero", "operator", &contract.MsgRedeem{From: "alice", Amount: 0}},
		{"redeem negative", "operator", &contract.MsgRedeem{From: "alice", Amount: -1}},
		{"capacity zero", "alice", &contract.MsgRegisterRES{ID: "pv-2", Kind: "PV", CapacityW: 0}},
		{"capacity above MaxCapacityW", "alice", &contract.MsgRegisterRES{ID: "pv-2", Kind: "PV", CapacityW: contract.MaxCapacityW + 1}},
	}
	for _, c := range cases {
		before := h.snapshot()
		r := h.block(h.tx(c.signer, c.msg))[0]
		if r.Code != contract.CodeBadQuantity {
			t.Errorf("%s: code %s (%s), want bad_quantity", c.name, r.Code.Name(), r.Log)
		}
		after := h.snapshot()
		before.sameExceptParticipants(t, after)
		// Refused while decoding: the signer is not even looked up.
		if !reflect.DeepEqual(before.participants, after.participants) || !bytes.Equal(before.hash, after.hash) {
			t.Errorf("%s: state changed", c.name)
		}
	}
	// The bounds themselves are accepted (a zero-price bid escrows 0).
	h.bid("alice", l, contract.MaxOrderWh, 0)
	h.ok("operator", &contract.MsgIssue{To: "alice", Amount: contract.MaxAmount})
	h.wallet("alice", unit+contract.MaxAmount, 0)
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

// "The community operator … sets market parameters and tariffs": incoherent
// parameters are refused whole, before the signer's nonce is looked at, and
// the old ones stay.
func TestIncoherentParamsAreRefused(t *testing.T) {
	h := newHarness(t)
	edit := map[string]func(*contract.Params){
		"unknown mechanism":         func(p *contract.Params) { p.Mechanism = "lottery" },
		"feed-in above grid":        func(p *contract.Params) { p.FeedInPerKWh[5] = p.GridPricePerKWh[5] + 1 },
		"negative feed-in":          func(p *contract.Params) { p.FeedInPerKWh[0] = -1 },
		"interval not dividing day": func(p *contract.Params) { p.IntervalS = 7 * 60 },
		"gate beyond the horizon":   func(p *contract.Params) { p.GateClosureS = p.HorizonIntervals * p.IntervalS },
		// Listings open a horizon ahead; a gate closing less than one
		// interval after that would close listings before they open.
		"gate within an interval of the horizon": func(p *contract.Params) { p.GateClosureS = (p.HorizonIntervals-1)*p.IntervalS + 1 },
		"no horizon":                             func(p *contract.Params) { p.HorizonIntervals = 0 },
		"no transactions allowed":                func(p *contract.Params) { p.MaxTxPerInterval = 0 },
		"offset of a day":                        func(p *contract.Params) { p.TariffUTCOffsetS = 86400 },
	}
	for name, e := range edit {
		p := contract.DefaultParams()
		e(&p)
		before := h.snapshot()
		r := h.block(h.tx("operator", &contract.MsgSetParams{Params: p}))[0]
		if r.Code != contract.CodeBadParams {
			t.Errorf("%s: code %s (%s), want bad_params", name, r.Code.Name(), r.Log)
		}
		after := h.snapshot()
		before.sameExceptParticipants(t, after)
		if !reflect.DeepEqual(before.participants, after.participants) || !bytes.Equal(before.hash, after.hash) {
			t.Errorf("%s: state changed", name)
		}
	}
	if !reflect.DeepEqual(h.s.Params(), contract.DefaultParams()) {
		t.Error("params changed")
	}
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
	}
	for n, name := range want {
		if got := contract.Code(n).Name(); got != name {
			t.Errorf("code %d is %q, want %q", n, got, name)
		}
	}
	if got := contract.Code(len(want)).Name(); got != "code_31" {
		t.Errorf("code 31 is %q", got)
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

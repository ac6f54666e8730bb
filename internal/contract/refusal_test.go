package contract_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

// Every refused transaction leaves balances, escrow, orders, the registry
// and the app hash as they were — except, for a transaction refused after
// its signature and nonce were checked, the signer's nonce (and a member's
// rate count). The nonce is spent on purpose: a refused transaction must
// not be replayable later, when it might succeed against its signer's
// intent (an unfunded bid going through a week later, once money arrives).

// refusalWorld is a small community in hour 1 (market time 01:00:0x) with
// something for every refusal to trip over:
//
//	alice  1 unit, approved pv-alice 5000 W, offers 3000 Wh in 03:00, meter m-alice,
//	       approved battery bat-alice (10 kWh, 5 kW) on meter m-bat-alice
//	bob    1 unit, approved pv-bob 4000 W, bid in 02:00 (cleared), bid in 03:00
//	carol  no money, unapproved pv-carol, unapproved battery bat-carol
//	dave   suspended
//	frank  at the rate limit (5 zero-price bids this hour)
//
// 02:00 is closed and cleared; 03:00 takes orders.
func refusalWorld(t testing.TB) (h *harness, orders map[string]string) {
	h = newHarness(t, func(g *contract.Genesis) { g.Params.MaxTxPerInterval = 5 })
	orders = map[string]string{}
	h.members("alice", "bob", "carol", "dave", "frank")
	h.issue("alice", unit)
	h.issue("bob", unit)
	h.approvedRES("alice", "pv-alice", 5000)
	h.approvedRES("bob", "pv-bob", 4000)
	h.ok("carol", &contract.MsgRegisterRES{ID: "pv-carol", Kind: "PV", CapacityW: 2000})
	h.ok("operator", &contract.MsgRegisterMeter{ID: "m-alice", Owner: "alice", PubKey: pubOf("m-alice")})
	h.ok("alice", &contract.MsgRegisterBattery{ID: "bat-alice", CapacityWh: 10_000, MaxChargeW: 5000, MaxDischargeW: 5000})
	h.ok("dso", &contract.MsgApproveBattery{ID: "bat-alice"})
	h.ok("operator", &contract.MsgRegisterMeter{ID: "m-bat-alice", Owner: "alice", PubKey: pubOf("m-bat-alice"), Battery: "bat-alice"})
	h.ok("carol", &contract.MsgRegisterBattery{ID: "bat-carol", CapacityWh: 5000, MaxChargeW: 2500, MaxDischargeW: 2500})
	orders["bob-02"] = h.bid("bob", at(2, 0), 1000, 50_000)
	h.ok("operator", &contract.MsgSetSuspended{ID: "dave"})
	h.blockAt(at(1, 1)) // 02:00 clears (bob refunded), 25:00 opens
	orders["alice-03"] = h.offer("alice", "pv-alice", at(3, 0), 3000, 40_000)
	orders["bob-03"] = h.bid("bob", at(3, 0), 1000, 60_000)
	for range 5 {
		h.bid("frank", at(3, 0), 100, 0)
	}
	return h, orders
}

func TestRefusedTxChangesNothingButTheNonce(t *testing.T) {
	l3 := at(3, 0)
	cases := []struct {
		name   string
		signer string
		typ    string // empty: contract.TypeOf(msg)
		msg    func(orders map[string]string) contract.Msg
		code   contract.Code
	}{
		{"member registers a participant", "alice", "", func(map[string]string) contract.Msg {
			return registerMsg("zed", contract.RoleMember, contract.NodeHousehold)
		}, contract.CodeWrongRole},
		{"dso registers a participant", "dso", "", func(map[string]string) contract.Msg {
			return registerMsg("zed", contract.RoleMember, contract.NodeHousehold)
		}, contract.CodeWrongRole},
		{"duplicate IDgrid", "operator", "", func(map[string]string) contract.Msg {
			return registerMsg("alice", contract.RoleMember, contract.NodeHousehold)
		}, contract.CodeDuplicate},
		{"member suspends", "alice", "", func(map[string]string) contract.Msg {
			return &contract.MsgSetSuspended{ID: "bob"}
		}, contract.CodeWrongRole},
		{"operator suspends itself", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgSetSuspended{ID: "operator"}
		}, contract.CodeWrongRole},
		{"reinstate a participant not suspended", "operator", contract.TypeReinstateParticipant, func(map[string]string) contract.Msg {
			return &contract.MsgSetSuspended{ID: "bob"}
		}, contract.CodeDuplicate},
		{"suspend an unknown participant", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgSetSuspended{ID: "ghost"}
		}, contract.CodeUnknownParticipant},
		{"RES registered by the operator", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterRES{ID: "pv-op", Kind: "PV", CapacityW: 1}
		}, contract.CodeWrongRole},
		{"duplicate RES", "bob", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterRES{ID: "pv-alice", Kind: "PV", CapacityW: 1}
		}, contract.CodeDuplicate},
		{"RES approved by the operator", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgApproveRES{ID: "pv-carol"}
		}, contract.CodeWrongRole},
		{"RES approved twice", "dso", "", func(map[string]string) contract.Msg {
			return &contract.MsgApproveRES{ID: "pv-alice"}
		}, contract.CodeDuplicate},
		{"unknown RES approved", "dso", "", func(map[string]string) contract.Msg {
			return &contract.MsgApproveRES{ID: "pv-ghost"}
		}, contract.CodeUnknownRES},
		{"meter registered by a member", "alice", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterMeter{ID: "m-2", Owner: "alice", PubKey: pubOf("m-2")}
		}, contract.CodeWrongRole},
		{"meter of an unknown owner", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterMeter{ID: "m-2", Owner: "ghost", PubKey: pubOf("m-2")}
		}, contract.CodeUnknownParticipant},
		{"duplicate meter", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterMeter{ID: "m-alice", Owner: "bob", PubKey: pubOf("m-2")}
		}, contract.CodeDuplicate},
		{"meter on another's RES", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterMeter{ID: "m-2", Owner: "alice", PubKey: pubOf("m-2"), RES: "pv-bob"}
		}, contract.CodeNotOwner},
		{"battery registered by the operator", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterBattery{ID: "bat-op", CapacityWh: 1000, MaxChargeW: 1000, MaxDischargeW: 1000}
		}, contract.CodeWrongRole},
		{"battery registered by the DSO", "dso", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterBattery{ID: "bat-dso", CapacityWh: 1000, MaxChargeW: 1000, MaxDischargeW: 1000}
		}, contract.CodeWrongRole},
		{"duplicate battery", "bob", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterBattery{ID: "bat-alice", CapacityWh: 1000, MaxChargeW: 1000, MaxDischargeW: 1000}
		}, contract.CodeDuplicate},
		{"battery under a RES's id", "bob", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterBattery{ID: "pv-bob", CapacityWh: 1000, MaxChargeW: 1000, MaxDischargeW: 1000}
		}, contract.CodeDuplicate},
		{"RES under a battery's id", "carol", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterRES{ID: "bat-carol", Kind: "PV", CapacityW: 1}
		}, contract.CodeDuplicate},
		{"battery approved by the operator", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgApproveBattery{ID: "bat-carol"}
		}, contract.CodeWrongRole},
		{"battery approved by its owner", "carol", "", func(map[string]string) contract.Msg {
			return &contract.MsgApproveBattery{ID: "bat-carol"}
		}, contract.CodeWrongRole},
		{"battery approved twice", "dso", "", func(map[string]string) contract.Msg {
			return &contract.MsgApproveBattery{ID: "bat-alice"}
		}, contract.CodeDuplicate},
		{"unknown battery approved", "dso", "", func(map[string]string) contract.Msg {
			return &contract.MsgApproveBattery{ID: "bat-ghost"}
		}, contract.CodeUnknownBattery},
		{"meter on another's battery", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterMeter{ID: "m-2", Owner: "alice", PubKey: pubOf("m-2"), Battery: "bat-carol"}
		}, contract.CodeNotOwner},
		{"second meter on a battery", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterMeter{ID: "m-2", Owner: "alice", PubKey: pubOf("m-2"), Battery: "bat-alice"}
		}, contract.CodeDuplicate},
		{"meter on an unknown battery", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterMeter{ID: "m-2", Owner: "alice", PubKey: pubOf("m-2"), Battery: "bat-ghost"}
		}, contract.CodeUnknownBattery},
		{"meter on a battery as its RES", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterMeter{ID: "m-2", Owner: "carol", PubKey: pubOf("m-2"), RES: "bat-carol"}
		}, contract.CodeBatteryNotRES},
		{"issue by the DSO", "dso", "", func(map[string]string) contract.Msg {
			return &contract.MsgIssue{To: "alice", Amount: 1}
		}, contract.CodeWrongRole},
		{"issue to an unknown participant", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgIssue{To: "ghost", Amount: 1}
		}, contract.CodeUnknownParticipant},
		{"redeem above the balance", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgRedeem{From: "alice", Amount: unit + 1}
		}, contract.CodeInsufficientFunds},
		{"params set by a member", "alice", "", func(map[string]string) contract.Msg {
			return &contract.MsgSetParams{Params: contract.DefaultParams()}
		}, contract.CodeWrongRole},
		{"unfunded bid", "carol", "", func(map[string]string) contract.Msg {
			return &contract.MsgBid{Listing: l3, Wh: 1000, PricePerKWh: 50_000}
		}, contract.CodeInsufficientFunds},
		{"bid on an unknown listing", "bob", "", func(map[string]string) contract.Msg {
			return &contract.MsgBid{Listing: at(2, 1800), Wh: 1, PricePerKWh: 1}
		}, contract.CodeUnknownListing},
		{"bid after gate closure", "bob", "", func(map[string]string) contract.Msg {
			return &contract.MsgBid{Listing: at(2, 0), Wh: 1, PricePerKWh: 1}
		}, contract.CodeGateClosed},
		{"bid by the operator", "operator", "", func(map[string]string) contract.Msg {
			return &contract.MsgBid{Listing: l3, Wh: 1, PricePerKWh: 1}
		}, contract.CodeWrongRole},
		{"offer by the utility", "utility", "", func(map[string]string) contract.Msg {
			return &contract.MsgOffer{Listing: l3, RES: "pv-alice", Wh: 1, PricePerKWh: 1}
		}, contract.CodeWrongRole},
		{"offer from an unknown RES", "bob", "", func(map[string]string) contract.Msg {
			return &contract.MsgOffer{Listing: l3, RES: "pv-ghost", Wh: 1, PricePerKWh: 1}
		}, contract.CodeUnknownRES},
		{"offer from another's RES", "bob", "", func(map[string]string) contract.Msg {
			return &contract.MsgOffer{Listing: l3, RES: "pv-alice", Wh: 1, PricePerKWh: 1}
		}, contract.CodeNotOwner},
		{"offer from a battery", "alice", "", func(map[string]string) contract.Msg {
			return &contract.MsgOffer{Listing: l3, RES: "bat-alice", Wh: 1, PricePerKWh: 1}
		}, contract.CodeBatteryNotRES},
		{"offer from an unapproved RES", "carol", "", func(map[string]string) contract.Msg {
			return &contract.MsgOffer{Listing: l3, RES: "pv-carol", Wh: 1, PricePerKWh: 1}
		}, contract.CodeRESNotApproved},
		{"offer above capacity", "alice", "", func(map[string]string) contract.Msg {
			return &contract.MsgOffer{Listing: l3, RES: "pv-alice", Wh: 2001, PricePerKWh: 1} // 3000 + 2001 > 5000
		}, contract.CodeAboveCapacity},
		{"bid where one offers", "alice", "", func(map[string]string) contract.Msg {
			return &contract.MsgBid{Listing: l3, Wh: 1, PricePerKWh: 1}
		}, contract.CodeDuplicate},
		{"offer where one bids", "bob", "", func(map[string]string) contract.Msg {
			return &contract.MsgOffer{Listing: l3, RES: "pv-bob", Wh: 1, PricePerKWh: 1}
		}, contract.CodeDuplicate},
		{"cancel another's order", "bob", "", func(o map[string]string) contract.Msg {
			return &contract.MsgCancel{Order: o["alice-03"]}
		}, contract.CodeNotOwner},
		{"cancel an unknown order", "bob", "", func(map[string]string) contract.Msg {
			return &contract.MsgCancel{Order: "bob/999"}
		}, contract.CodeUnknownOrder},
		{"cancel after gate closure", "bob", "", func(o map[string]string) contract.Msg {
			return &contract.MsgCancel{Order: o["bob-02"]}
		}, contract.CodeGateClosed},
		{"suspended signer", "dave", "", func(map[string]string) contract.Msg {
			return &contract.MsgRegisterRES{ID: "pv-dave", Kind: "PV", CapacityW: 1}
		}, contract.CodeSuspended},
		{"rate limited", "frank", "", func(map[string]string) contract.Msg {
			return &contract.MsgBid{Listing: l3, Wh: 100, PricePerKWh: 0}
		}, contract.CodeRateLimited},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, orders := refusalWorld(t)
			msg := c.msg(orders)
			typ := c.typ
			if typ == "" {
				typ = contract.TypeOf(msg)
			}
			raw := h.txType(c.signer, typ, msg)
			nonce := h.nonces[c.signer]
			before := h.snapshot()
			res := h.block(raw)
			if res[0].Code != c.code {
				t.Fatalf("code %s (%s), want %s", res[0].Code.Name(), res[0].Log, c.code.Name())
			}
			if len(res[0].Events) != 0 || len(h.events) != 0 {
				t.Errorf("events %+v %+v", res[0].Events, h.events)
			}
			after := h.snapshot()
			before.sameExceptParticipants(t, after)

			// The signer's entry is the block's only write, and it is
			// the old one with the nonce spent and, for a member that
			// got past suspension and the rate limit, one more counted.
			var want contract.Participant
			for _, p := range before.participants {
				if p.ID == c.signer {
					want = p
				}
			}
			want.Nonce = nonce
			if want.Role == contract.RoleMember && c.code != contract.CodeSuspended {
				if w := h.mt / hour; want.RateWindow != w {
					want.RateWindow, want.RateCount = w, 0
				}
				if c.code != contract.CodeRateLimited {
					want.RateCount++
				}
			}
			wantParts := make([]contract.Participant, len(before.participants))
			for i, p := range before.participants {
				wantParts[i] = p
				if p.ID == c.signer {
					wantParts[i] = want
				}
			}
			if !reflect.DeepEqual(after.participants, wantParts) {
				t.Errorf("participants\n%+v\nwant\n%+v", after.participants, wantParts)
			}
			wantValue, err := json.Marshal(&want)
			if err != nil {
				t.Fatal(err)
			}
			if len(h.last.Writes) != 1 || h.last.Writes[0].Key != "p/"+c.signer || !bytes.Equal(h.last.Writes[0].Value, wantValue) {
				t.Fatalf("writes %v, want only p/%s = %s", h.last.Writes, c.signer, wantValue)
			}
			// The mempool hears of the spent nonce.
			wantAccount := []contract.Account{{ID: want.ID, PubKey: want.PubKey, Registered: want.Registered, Nonce: nonce, Suspended: want.Suspended}}
			if !reflect.DeepEqual(h.last.Accounts, wantAccount) {
				t.Errorf("accounts %+v, want %+v", h.last.Accounts, wantAccount)
			}
			// So the app hash is exactly that of the old state with the
			// signer's entry replaced: rebuild one and compare.
			entries := maps.Clone(before.entries)
			entries["p/"+c.signer] = wantValue
			var kvs []contract.KV
			for k, v := range entries {
				kvs = append(kvs, contract.KV{Key: k, Value: v})
			}
			rebuilt, err := contract.Load(kvs, h.height, h.mt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rebuilt.AppHash(), after.hash) || bytes.Equal(after.hash, before.hash) {
				t.Error("app hash is not the old state's with only the nonce spent")
			}

			// The nonce is spent: the same bytes are a replay from now
			// on, even once what refused them is gone.
			h.issue("carol", unit)
			h.ok("dso", &contract.MsgApproveRES{ID: "pv-carol"})
			h.do(contract.CodeReplay, raw)
			if len(h.last.Writes) != 0 {
				t.Errorf("replay wrote %v", keysOf(h.last.Writes))
			}
		})
	}
}

// A transaction refused before its nonce is checked — malformed, out of
// range, for another chain, from an unknown signer, badly signed, or a
// replay — changes nothing at all, not even a nonce: none of them proves
// the signer meant it at this nonce.
func TestRefusedBeforeTheNonceChangesNothing(t *testing.T) {
	h, _ := refusalWorld(t)
	old := h.tx("alice", &contract.MsgIssue{To: "alice", Amount: 1}) // wrong role: spends the nonce
	h.do(contract.CodeWrongRole, old)
	bid := &contract.MsgBid{Listing: at(3, 0), Wh: 100, PricePerKWh: 1}
	next := h.nonces["bob"] + 1
	cases := map[string]struct {
		raw  []byte
		code contract.Code
	}{
		"malformed":        {[]byte("\x01not a transaction"), contract.CodeMalformed},
		"bad quantity":     {h.sign(keyOf("bob"), testChain, "bob", next, contract.TypeBid, &contract.MsgBid{Listing: at(3, 0), Wh: 0, PricePerKWh: 1}), contract.CodeBadQuantity},
		"battery too fast": {h.sign(keyOf("bob"), testChain, "bob", next, contract.TypeRegisterBattery, &contract.MsgRegisterBattery{ID: "b", CapacityWh: 1000, MaxChargeW: 4001, MaxDischargeW: 1}), contract.CodeBadQuantity},
		"battery of 0 Wh":  {h.sign(keyOf("bob"), testChain, "bob", next, contract.TypeRegisterBattery, &contract.MsgRegisterBattery{ID: "b", MaxChargeW: 1, MaxDischargeW: 1}), contract.CodeBadQuantity},
		"meter on a RES and a battery": {h.sign(keyOf("operator"), testChain, "operator", h.nonces["operator"]+1, contract.TypeRegisterMeter,
			&contract.MsgRegisterMeter{ID: "m-3", Owner: "alice", PubKey: pubOf("m-3"), RES: "pv-alice", Battery: "bat-alice"}), contract.CodeMalformed},
		"wrong chain":      {h.sign(keyOf("bob"), "other-community", "bob", next, contract.TypeBid, bid), contract.CodeWrongChain},
		"unknown signer":   {h.sign(keyOf("ghost"), testChain, "ghost", 1, contract.TypeBid, bid), contract.CodeUnknownParticipant},
		"bad signature":    {h.sign(keyOf("alice"), testChain, "bob", next, contract.TypeBid, bid), contract.CodeBadSignature},
		"replay":           {old, contract.CodeReplay},
		"stale nonce":      {h.sign(keyOf("bob"), testChain, "bob", 1, contract.TypeBid, bid), contract.CodeReplay},
		"suspended forger": {h.sign(keyOf("alice"), testChain, "dave", 99, contract.TypeBid, bid), contract.CodeBadSignature},
	}
	for name, c := range cases {
		before := h.snapshot()
		r := h.block(c.raw)[0]
		if r.Code != c.code {
			t.Errorf("%s: code %s (%s), want %s", name, r.Code.Name(), r.Log, c.code.Name())
		}
		after := h.snapshot()
		before.sameExceptParticipants(t, after)
		if !reflect.DeepEqual(before.participants, after.participants) || !bytes.Equal(before.hash, after.hash) || len(h.last.Writes) != 0 {
			t.Errorf("%s: state changed (writes %v)", name, keysOf(h.last.Writes))
		}
	}
	// bob's next nonce is still free for a genuine transaction.
	h.do(contract.CodeOK, h.sign(keyOf("bob"), testChain, "bob", next, contract.TypeBid, bid))
}

// The most targets a DR request may name, with the longest ids, fit a
// transaction: the limits agree.
func TestALargestDRRequestFitsATransaction(t *testing.T) {
	h := newHarness(t)
	m := &contract.MsgDRRequest{ID: strings.Repeat("r", 64), Start: at(30, 0), Intervals: contract.MaxDRIntervals,
		Feeder: strings.Repeat("f", 64), ReductionW: contract.MaxCapacityW, IncentivePerKWh: contract.MaxPricePerKWh}
	for i := range contract.MaxDRTargets {
		m.Targets = append(m.Targets, contract.DRTarget{Member: fmt.Sprintf("%064d", i), ReductionWh: contract.MaxOrderWh})
	}
	if raw := h.tx("dso", m); len(raw) > contract.MaxTxBytes {
		t.Errorf("a DR request with %d targets takes %d bytes, limit %d", len(m.Targets), len(raw), contract.MaxTxBytes)
	}
}

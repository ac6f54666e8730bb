package contract_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
)

// corpusMsgs is one message of every transaction type, with its type.
func corpusMsgs() []struct {
	typ string
	msg contract.Msg
} {
	params := contract.DefaultParams()
	params.Mechanism = market.Uniform
	return []struct {
		typ string
		msg contract.Msg
	}{
		{contract.TypeRegisterParticipant, &contract.MsgRegisterParticipant{ID: "zed", Email: "zed@example.org", Role: contract.RoleMember, NodeType: contract.NodeEVCharging, PubKey: pubOf("zed")}},
		{contract.TypeSuspendParticipant, &contract.MsgSetSuspended{ID: "bob", Reason: "audit"}},
		{contract.TypeReinstateParticipant, &contract.MsgSetSuspended{ID: "dave"}},
		{contract.TypeRegisterRES, &contract.MsgRegisterRES{ID: "wind-1", Kind: "wind", CapacityW: 2000}},
		{contract.TypeApproveRES, &contract.MsgApproveRES{ID: "pv-carol"}},
		{contract.TypeRegisterMeter, &contract.MsgRegisterMeter{ID: "m-9", Owner: "alice", PubKey: pubOf("m-9"), RES: "pv-alice"}},
		{contract.TypeIssue, &contract.MsgIssue{To: "carol", Amount: unit}},
		{contract.TypeRedeem, &contract.MsgRedeem{From: "alice", Amount: 1000}},
		{contract.TypeSetParams, &contract.MsgSetParams{Params: params}},
		{contract.TypeOffer, &contract.MsgOffer{Listing: at(3, 0), RES: "pv-alice", Wh: 1000, PricePerKWh: 45_000}},
		{contract.TypeBid, &contract.MsgBid{Listing: at(3, 0), Wh: 500, PricePerKWh: 70_000}},
		{contract.TypeCancel, &contract.MsgCancel{Order: "bob/9"}},
	}
}

// FuzzDecodeTx: DecodeTx never panics, refuses with a decoding code only,
// and what it accepts is exactly what the bytes say.
func FuzzDecodeTx(f *testing.F) {
	for i, c := range corpusMsgs() {
		raw := signTx(f, keyOf("operator"), testChain, "operator", uint64(i+1), c.typ, c.msg)
		f.Add(raw)
		body := raw[1+64:]
		f.Add(raw[:len(raw)/2])
		f.Add(append(bytes.Clone(raw), '}'))
		flipped := bytes.Clone(raw)
		flipped[1+64+len(body)/2] ^= 0x20
		f.Add(flipped)
		f.Add(append([]byte{2}, raw[1:]...))
		f.Add(signBody(f, keyOf("operator"), bytes.Replace(body, []byte(`"msg":{`), []byte(`"msg":{"x":1,`), 1)))
		f.Add(signBody(f, keyOf("operator"), bytes.Replace(body, []byte(`"nonce":`), []byte(`"nonce":-`), 1)))
	}
	f.Add([]byte{})
	f.Add([]byte{contract.TxVersion})
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := contract.DecodeTx(raw)
		if err != nil {
			switch contract.CodeOf(err) {
			case contract.CodeMalformed, contract.CodeBadQuantity, contract.CodeBadParams:
			default:
				t.Fatalf("decoding error with code %s: %v", contract.CodeOf(err).Name(), err)
			}
			if tx != nil {
				t.Fatal("a transaction with an error")
			}
			return
		}
		if len(raw) > contract.MaxTxBytes || raw[0] != contract.TxVersion || tx.Nonce == 0 || tx.Message == nil {
			t.Fatalf("accepted %q as %+v", raw, tx)
		}
		if !bytes.Equal(tx.Signature, raw[1:1+64]) || !bytes.Equal(tx.SignBytes, raw[1+64:]) {
			t.Fatal("signature or signed bytes are not the wire's")
		}
		if want := contract.TypeOf(tx.Message); want != tx.Type &&
			!(tx.Type == contract.TypeReinstateParticipant && want == contract.TypeSuspendParticipant) {
			t.Fatalf("type %q carries a %T", tx.Type, tx.Message)
		}
		if err := tx.Message.ValidateBasic(); err != nil {
			t.Fatalf("accepted a message that fails its own checks: %v", err)
		}
		again, err := contract.DecodeTx(bytes.Clone(raw))
		if err != nil || !reflect.DeepEqual(tx, again) {
			t.Fatalf("decoding the same bytes twice differs: %v", err)
		}
	})
}

// FuzzDeliverTx: delivering anything to a live state never panics and
// never creates or destroys money. Half the inputs are delivered as raw
// bytes; the other half are wrapped in a body and signed by a participant
// (or a stranger), so that the fuzzer reaches the message rules and not
// only the signature check.
func FuzzDeliverTx(f *testing.F) {
	h, _ := refusalWorld(f)
	entries, height, mt := h.entries(), h.height, h.mt
	signers := []string{"operator", "dso", "utility", "alice", "bob", "carol", "dave", "frank", "ghost"}
	for i, c := range corpusMsgs() {
		msg, err := json.Marshal(c.msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(1), uint8(i%len(signers)), uint64(1000+i), c.typ, msg)
		f.Add(uint8(3), uint8(3), uint64(1000+i), c.typ, msg)
		f.Add(uint8(0), uint8(0), uint64(0), "", signTx(f, keyOf("operator"), testChain, "operator", 1000, c.typ, c.msg))
	}
	f.Fuzz(func(t *testing.T, mode, who uint8, nonce uint64, typ string, msg []byte) {
		s, err := contract.Load(entries, height, mt)
		if err != nil {
			t.Fatal(err)
		}
		raw := msg
		signer := signers[int(who)%len(signers)]
		if mode%2 == 1 {
			body, err := json.Marshal(contract.Body{ChainID: testChain, Signer: signer, Nonce: nonce, Type: typ, Msg: msg})
			if err == nil {
				key := keyOf(signer)
				if mode%4 == 3 {
					key = keyOf("mallory")
				}
				raw = signBody(t, key, body)
			}
		}
		before := s.Participants()
		beforeInfo, beforeListings := s.Info(), listingsJSON(t, s)
		s.BeginBlock(height+1, (mt+1)*ns) // nothing opens or closes
		res := s.DeliverTx(raw)
		s.EndBlock()

		in := s.Info()
		if in.Balances+in.Escrow != in.Issued-in.Redeemed {
			t.Fatalf("money not conserved: %+v", in)
		}
		after := map[string]contract.Participant{}
		for _, p := range s.Participants() {
			if p.Balance < 0 || p.Escrow < 0 {
				t.Fatalf("negative wallet %+v", p)
			}
			after[p.ID] = p
		}
		if tx, err := contract.DecodeTx(raw); err == nil {
			typ = tx.Type // what was delivered, whichever way it was built
		}
		moved := res.Code == contract.CodeOK && (typ == contract.TypeIssue || typ == contract.TypeRedeem)
		if !moved {
			if in.Issued != beforeInfo.Issued || in.Redeemed != beforeInfo.Redeemed {
				t.Fatalf("%s (%s) changed the supply", typ, res.Code.Name())
			}
			for _, p := range before {
				if a := after[p.ID]; a.Balance+a.Escrow != p.Balance+p.Escrow {
					t.Fatalf("%s (%s) changed %s's money from %d to %d", typ, res.Code.Name(), p.ID, p.Balance+p.Escrow, a.Balance+a.Escrow)
				}
			}
		}
		if res.Code != contract.CodeOK {
			in.Height, in.MarketTime = beforeInfo.Height, beforeInfo.MarketTime
			if in != beforeInfo || listingsJSON(t, s) != beforeListings {
				t.Fatalf("refused tx (%s) changed the ledger", res.Code.Name())
			}
		}
	})
}

func listingsJSON(t testing.TB, s *contract.State) string {
	b, err := json.Marshal(s.Listings(0, forever, true))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

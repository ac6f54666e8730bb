package contract_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
	"github.com/gridledger/gridledger/internal/reading"
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
		{contract.TypeRegisterParticipant, &contract.MsgRegisterParticipant{ID: "zed", EmailHash: contract.EmailHash([]byte("zed's 16B salt.."), "zed@example.org"), Role: contract.RoleMember, NodeType: contract.NodeEVCharging, PubKey: pubOf("zed")}},
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
		{contract.TypeRegisterGateway, &contract.MsgRegisterGateway{ID: "gw-1", Owner: "bob", PubKey: pubOf(gwKeyID("gw-1"))}},
		{contract.TypeRegisterMeter, &contract.MsgRegisterMeter{ID: "m-10", Owner: "bob", Gateway: "gw-1"}},
		{contract.TypeReadings, corpusReadings()},
		{contract.TypeRegisterBattery, &contract.MsgRegisterBattery{ID: "bat-2", CapacityWh: 13_500, MaxChargeW: 5000, MaxDischargeW: 5000}},
		{contract.TypeApproveBattery, &contract.MsgApproveBattery{ID: "bat-carol"}},
		{contract.TypeRegisterMeter, &contract.MsgRegisterMeter{ID: "m-11", Owner: "carol", PubKey: pubOf("m-11"), Battery: "bat-carol"}},
	}
}

// corpusReadings is a batch for refusalWorld's meter m-alice (signed with
// its key, "m-alice"): a good reading, the same again (replay), one
// dated far ahead, one with a fine hash, one forged, one for an unknown
// meter.
func corpusReadings() *contract.MsgReadings {
	signedReading := func(keyID string, r reading.Reading) contract.ReadingEntry {
		return contract.ReadingEntry{Signed: must(reading.Sign(keyOf(keyID), r))}
	}
	mt := at(1, 20)
	r := func(seq uint64, time, imp int64) reading.Reading {
		return reading.Reading{Meter: "m-alice", Registers: reading.Registers{Seq: seq, Time: time, ImportWh: imp, ExportWh: 10, ProductionWh: 20}}
	}
	good := signedReading("m-alice", r(1, mt, 100))
	fine := signedReading("m-alice", r(3, mt, 300))
	fine.FineHash = bytes.Repeat([]byte{7}, 32)
	forged := signedReading("m-alice", r(4, mt, 400))
	forged.Reading = bytes.Replace(forged.Reading, []byte(`"import_wh":400`), []byte(`"import_wh":401`), 1)
	return &contract.MsgReadings{Readings: []contract.ReadingEntry{
		good, good, signedReading("m-alice", r(2, mt+86400, 200)), fine, forged,
		signedReading("m-ghost", reading.Reading{Meter: "m-ghost", Registers: reading.Registers{Seq: 1, Time: mt}}),
	}}
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
		if len(raw) > contract.MaxReadingsTxBytes || (len(raw) > contract.MaxTxBytes && tx.Type != contract.TypeReadings) ||
			raw[0] != contract.TxVersion || tx.Nonce == 0 || tx.Message == nil {
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
		beforeInfo, beforeListings, beforeAssets := s.Info(), listingsJSON(t, s), assetsJSON(t, s)
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
			if !reflect.DeepEqual(in, beforeInfo) || listingsJSON(t, s) != beforeListings || assetsJSON(t, s) != beforeAssets {
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

// readingDomain is what a reading's signature covers before its bytes
// (docs/ledger.md), for signing bytes reading.Sign would not produce.
const readingDomain = "gridledger/reading/v1\n"

// FuzzReadings: whatever a MsgReadings carries — readings of known or
// unknown meters, signed by the right key or another, forged, replayed,
// out of range, dated anywhere, arbitrary JSON signed as a reading —
// delivering it never panics, every reading is either accepted or refused
// (accepted + refused = the batch), the counters say so, no meter's
// registers or sequence go back, no money moves; and the settlement that
// follows keeps money conserved and no wallet negative.
//
// The world: the settlement world after 02:00 settled (newSettleWorld):
// m-alice (own key, on approved pv-alice), m-bob (read by gw-home),
// m-carol (own key, carol suspended); the clock at 03:00.
func FuzzReadings(f *testing.F) {
	w := newSettleWorld(f)
	w.trade(1000)
	w.settle2(metered{w.alice, 100, 900, 1000}, metered{w.bob, 1200, 0, 0})
	w.members("dave")
	w.meterOwnKey("m-carol", "carol", "")
	w.ok("operator", &contract.MsgSetSuspended{ID: "carol"})
	entries, height, mt := w.entries(), w.height, w.mt
	registered := map[string]int64{"dave": w.p("dave").Registered}
	seqs := map[string]uint64{}
	for _, m := range w.s.Meters() {
		if m.Last != nil {
			seqs[m.ID] = m.Last.Seq
		}
	}

	f.Add(uint8(0), uint8(0), uint64(3), int64(10), int64(5000), int64(2000), int64(3000), uint8(0), uint8(0), []byte(nil))
	f.Add(uint8(7), uint8(0x1b), uint64(1), int64(-4000), int64(1), int64(0), int64(0), uint8(1), uint8(5), []byte(`{"meter":"m-bob","seq":9,"time":1717214410,"import_wh":99999,"export_wh":0,"production_wh":0}`))
	f.Add(uint8(3), uint8(0xe4), uint64(1<<63), int64(1<<40), int64(-1), int64(reading.MaxRegisterWh), int64(reading.MaxRegisterWh+1), uint8(2), uint8(4), []byte(`{"meter":"m-alice"}`))
	f.Add(uint8(1), uint8(0x55), uint64(0), int64(200), int64(0), int64(0), int64(0), uint8(0x18), uint8(2), []byte(`[]`))
	f.Add(uint8(2), uint8(0xff), uint64(5), int64(0), int64(1e12), int64(1e12), int64(1e12), uint8(0x08), uint8(7), []byte(`{"meter":"m-carol","seq":9,"time":1717214401,"import_wh":0,"export_wh":0,"production_wh":0}`))
	f.Fuzz(func(t *testing.T, meterSel, keySel uint8, seq uint64, dt, imp, exp, prod int64, mode, n uint8, raw []byte) {
		s, err := contract.Load(entries, height, mt)
		if err != nil {
			t.Fatal(err)
		}
		meters := []string{"m-alice", "m-bob", "m-carol", "m-ghost", "gw-home"}
		keyFor := func(meter string, sel int) string {
			switch sel {
			case 0: // the right one
				if meter == "m-bob" {
					return gwKeyID("gw-home")
				}
				return devKeyID(meter)
			case 1:
				return gwKeyID("gw-home")
			case 2:
				return devKeyID("m-alice")
			}
			return "mallory"
		}
		msg := &contract.MsgReadings{}
		for i := range 1 + int(n%8) {
			meter := meters[(int(meterSel)+i)%len(meters)]
			r := reading.Reading{Meter: meter, Registers: reading.Registers{Seq: seq + uint64(i), Time: mt + dt + int64(i)*60,
				ImportWh: imp + int64(i)*100, ExportWh: exp, ProductionWh: prod + int64(i)*50}}
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if i == 1 && json.Valid(raw) && len(raw) <= reading.MaxPayloadBytes {
				var c bytes.Buffer
				if json.Compact(&c, raw) == nil {
					b = c.Bytes() // arbitrary JSON, signed as a reading
				}
			}
			sig, err := keyOf(keyFor(meter, int(keySel>>(2*(i%4)))&3)).Sign(append([]byte(readingDomain), b...))
			if err != nil {
				t.Fatal(err)
			}
			e := contract.ReadingEntry{Signed: reading.Signed{Reading: b, Sig: sig}}
			if mode&1 != 0 {
				e.FineHash = bytes.Repeat([]byte{byte(i)}, 32)
			}
			if mode&4 != 0 && i == 0 {
				e.Sig = bytes.Clone(e.Sig)
				e.Sig[int(keySel)%len(e.Sig)] ^= 1
			}
			if mode&32 != 0 && i == 2 && len(msg.Readings) > 0 {
				e = msg.Readings[0] // the first again: a replay within the batch
			}
			msg.Readings = append(msg.Readings, e)
		}
		if mode&2 != 0 {
			msg.Readings[0].FineHash = []byte{1, 2, 3} // not a SHA-256
		}
		signer := "operator"
		switch {
		case mode&16 != 0:
			signer = "dso"
		case mode&8 != 0:
			signer = "dave"
		}
		tx := signBodyTx(t, keyOf(signer), contract.Body{ChainID: testChain, Signer: signer, Registered: registered[signer], Nonce: 1000, Type: contract.TypeReadings}, msg)
		before, beforeInfo, beforeMeters := s.Participants(), s.Info(), s.Meters()
		s.BeginBlock(height+1, (mt+1)*ns)
		res := s.DeliverTx(tx)
		s.EndBlock()
		in := s.Info()
		switch {
		case mode&2 != 0:
			if res.Code != contract.CodeMalformed {
				t.Fatalf("bad fine hash: %s", res.Code.Name())
			}
		case signer == "dso":
			if res.Code != contract.CodeWrongRole {
				t.Fatalf("readings from the DSO: %s", res.Code.Name())
			}
		case res.Code != contract.CodeOK:
			t.Fatalf("batch refused: %s (%s)", res.Code.Name(), res.Log)
		}
		accepted, refused := 0, 0
		if res.Code == contract.CodeOK {
			a, r := readingOutcomes(t, res, len(msg.Readings))
			accepted, refused = a, len(r)
			for _, x := range r {
				switch code := x[strings.LastIndex(x, ":")+1:]; code {
				case "malformed", "unknown_meter", "suspended", "bad_signature", "replay", "reading_from_future",
					"stale_reading", "registers_backwards":
				default:
					t.Fatalf("reading refused with %s", code)
				}
			}
		}
		if accepted+refused != len(msg.Readings) && res.Code == contract.CodeOK {
			t.Fatalf("%d accepted + %d refused of %d", accepted, refused, len(msg.Readings))
		}
		var nRej, nRejBefore int64
		for _, v := range in.ReadingsRejected {
			nRej += v
		}
		for _, v := range beforeInfo.ReadingsRejected {
			nRejBefore += v
		}
		if in.ReadingsAccepted-beforeInfo.ReadingsAccepted != int64(accepted) || nRej-nRejBefore != int64(refused) {
			t.Fatalf("counters moved by %d accepted, %d refused; the batch had %d and %d",
				in.ReadingsAccepted-beforeInfo.ReadingsAccepted, nRej-nRejBefore, accepted, refused)
		}
		var meterAccepted int64
		for i, m := range s.Meters() {
			b := beforeMeters[i]
			meterAccepted += m.Accepted - b.Accepted
			if b.Last != nil && (m.Last.Seq < b.Last.Seq || m.Last.Time < b.Last.Time || m.Last.ImportWh < b.Last.ImportWh ||
				m.Last.ExportWh < b.Last.ExportWh || m.Last.ProductionWh < b.Last.ProductionWh) {
				t.Fatalf("%s went back: %+v → %+v", m.ID, b.Last, m.Last)
			}
			if m.Last != nil && m.Last.Seq > seqs[m.ID] && m.Last.Time > mt+1+contract.DefaultParams().ReadingSkewS {
				t.Fatalf("%s accepted a reading from the future: %+v", m.ID, m.Last)
			}
		}
		if meterAccepted != int64(accepted) {
			t.Fatalf("meters counted %d accepted, the batch %d", meterAccepted, accepted)
		}
		for i, p := range s.Participants() {
			if p.Balance != before[i].Balance || p.Escrow != before[i].Escrow {
				t.Fatalf("%s's money moved", p.ID)
			}
		}
		// Settle what was accepted: 03:00's interval at its deadline.
		s.BeginBlock(height+2, at(4, 900)*ns)
		s.EndBlock()
		if _, ok := s.Settlement(at(3, 0)); !ok {
			t.Fatal("03:00 not settled at its deadline")
		}
		in = s.Info()
		if in.Balances+in.Escrow != in.Issued-in.Redeemed {
			t.Fatalf("money not conserved: %+v", in)
		}
		for _, p := range s.Participants() {
			if p.Balance < 0 || p.Escrow < 0 {
				t.Fatalf("negative wallet %+v", p)
			}
		}
	})
}

// assetsJSON is the registry: RES, batteries and meters.
func assetsJSON(t testing.TB, s *contract.State) string {
	b, err := json.Marshal([]any{s.RESList(), s.Batteries(), s.Meters()})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

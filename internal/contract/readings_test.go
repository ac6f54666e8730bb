package contract_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
	"github.com/gridledger/gridledger/internal/sigs"
)

// Meter readings (readings.go): who may sign them and how they close
// intervals are testdata/script/readings; here, each way one is refused,
// checked down to the app hash (a refused reading changes nothing but the
// counters that make refusals visible), and the limits and copies.

// readingWorld: alice's meter (own key, 02:00 interval cleared), bob's
// (read by gw-home), dave's (dave suspended after his baseline). Every
// meter has a baseline reading at 01:00:00 (seq 1: import 100, export 50,
// production 70), and the block clock stands at 01:00:01.
func readingWorld(t *testing.T) (*settleWorld, *device) {
	w := newSettleWorld(t)
	w.members("dave")
	dave := w.meterOwnKey("m-dave", "dave", "")
	w.readOK(at(0, 3590), w.alice.read(at(1, 0), 100, 50, 70), w.bob.read(at(1, 0), 100, 50, 70), dave.read(at(1, 0), 100, 50, 70))
	w.ok("operator", &contract.MsgSetSuspended{ID: "dave"})
	w.blockAt(at(1, 0))
	w.blockAt(at(1, 1)) // opens 25:00: the next block at 01:00:01 opens nothing
	return w, dave
}

// Each way a reading is refused. The refused reading changes nothing but
// the counters: the state's writes are the operator's spent nonce, the
// ledger's refusal count and (for a known meter) the meter's, and the app
// hash is the old state's with exactly those entries replaced.
func TestReadingRefusalsChangeOnlyTheCounters(t *testing.T) {
	now := at(1, 1) // the block the reading is delivered in
	forge := func(e contract.ReadingEntry) contract.ReadingEntry {
		e.Reading = bytes.Replace(bytes.Clone(e.Reading), []byte(`"import_wh":200`), []byte(`"import_wh":900`), 1)
		return e
	}
	raw := func(s string) contract.ReadingEntry {
		return contract.ReadingEntry{Signed: reading.Signed{Reading: json.RawMessage(s), Sig: make([]byte, 64)}}
	}
	cases := []struct {
		name  string
		entry func(w *settleWorld, dave *device) contract.ReadingEntry
		meter string // "" when the reading names no known meter
		code  contract.Code
	}{
		{"own-key meter signed by the gateway", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return signedReading(t, gwKeyID("gw-home"), reading.Reading{Meter: "m-alice", Registers: reading.Registers{Seq: 2, Time: now, ImportWh: 200, ExportWh: 50, ProductionWh: 70}})
		}, "m-alice", contract.CodeBadSignature},
		{"gateway meter signed by a device key", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return signedReading(t, devKeyID("m-bob"), reading.Reading{Meter: "m-bob", Registers: reading.Registers{Seq: 2, Time: now, ImportWh: 200, ExportWh: 50, ProductionWh: 70}})
		}, "m-bob", contract.CodeBadSignature},
		{"another meter's key", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return signedReading(t, devKeyID("m-dave"), reading.Reading{Meter: "m-alice", Registers: reading.Registers{Seq: 2, Time: now, ImportWh: 200, ExportWh: 50, ProductionWh: 70}})
		}, "m-alice", contract.CodeBadSignature},
		{"forged registers", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return forge(w.alice.read(now, 200, 50, 70))
		}, "m-alice", contract.CodeBadSignature},
		{"replayed reading", func(w *settleWorld, _ *device) contract.ReadingEntry {
			e := w.alice.read(now, 200, 50, 70)
			w.readOK(now, e)
			return e
		}, "m-alice", contract.CodeReplay},
		{"sequence not above the last", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return signedReading(t, devKeyID("m-alice"), reading.Reading{Meter: "m-alice", Registers: reading.Registers{Seq: 1, Time: now, ImportWh: 200, ExportWh: 50, ProductionWh: 70}})
		}, "m-alice", contract.CodeReplay},
		{"dated beyond the skew", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return w.alice.read(now+121, 200, 50, 70)
		}, "m-alice", contract.CodeFutureReading},
		{"import ran backwards", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return w.alice.read(now, 99, 50, 70)
		}, "m-alice", contract.CodeRegistersBackwards},
		{"export ran backwards", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return w.bob.read(now, 100, 49, 70)
		}, "m-bob", contract.CodeRegistersBackwards},
		{"production ran backwards", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return w.alice.read(now, 100, 50, 69)
		}, "m-alice", contract.CodeRegistersBackwards},
		{"older than the last", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return w.alice.read(at(0, 3599), 200, 50, 70)
		}, "m-alice", contract.CodeStaleReading},
		{"unknown meter", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return signedReading(t, devKeyID("m-ghost"), reading.Reading{Meter: "m-ghost", Registers: reading.Registers{Seq: 1, Time: now}})
		}, "", contract.CodeUnknownMeter},
		{"suspended owner", func(w *settleWorld, dave *device) contract.ReadingEntry {
			return dave.read(now, 200, 50, 70)
		}, "m-dave", contract.CodeSuspended},
		{"sequence 0", func(*settleWorld, *device) contract.ReadingEntry {
			return raw(`{"meter":"m-alice","seq":0,"time":1717203601,"import_wh":0,"export_wh":0,"production_wh":0}`)
		}, "", contract.CodeMalformed},
		{"unknown field", func(*settleWorld, *device) contract.ReadingEntry {
			return raw(`{"meter":"m-alice","seq":5,"time":1717203601,"import_wh":0,"export_wh":0,"production_wh":0,"kvar":1}`)
		}, "", contract.CodeMalformed},
		{"short signature", func(w *settleWorld, _ *device) contract.ReadingEntry {
			e := w.alice.read(now, 200, 50, 70)
			e.Sig = e.Sig[:63]
			return e
		}, "", contract.CodeMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, dave := readingWorld(t)
			entry := c.entry(w, dave)
			before := w.snapshot()
			beforeMeters := w.s.Meters()
			n, refused := w.readAt(now, entry)
			if n != 0 || len(refused) != 1 || !strings.HasSuffix(refused[0], ":"+c.code.Name()) {
				t.Fatalf("accepted %d, refused %v; want %s", n, refused, c.code.Name())
			}
			if c.meter != "" && !strings.HasPrefix(refused[0], c.meter+"/") {
				t.Errorf("refusal %s names the wrong meter", refused[0])
			}
			// Counters.
			in := w.s.Info()
			if in.ReadingsRejected[c.code.Name()] != before.info.ReadingsRejected[c.code.Name()]+1 || in.ReadingsAccepted != before.info.ReadingsAccepted {
				t.Errorf("info counts %d accepted, %v refused; before %d, %v", in.ReadingsAccepted, in.ReadingsRejected,
					before.info.ReadingsAccepted, before.info.ReadingsRejected)
			}
			wantMeters := beforeMeters
			for i, m := range wantMeters {
				if m.ID == c.meter {
					m.Rejected = maps.Clone(m.Rejected)
					if m.Rejected == nil {
						m.Rejected = map[string]int64{}
					}
					m.Rejected[c.code.Name()]++
					wantMeters[i] = m
				}
			}
			if got := w.s.Meters(); !reflect.DeepEqual(got, wantMeters) {
				t.Errorf("meters\n%+v\nwant\n%+v", got, wantMeters)
			}
			// Only the counters and the operator's nonce were written, and
			// the app hash is the old state's with those replaced.
			wantKeys := []string{"info", "p/operator"}
			if c.meter != "" {
				wantKeys = []string{"info", "m/" + c.meter, "p/operator"}
			}
			if !sameKeys(w.last.Writes, wantKeys...) {
				t.Errorf("writes %v, want %v", keysOf(w.last.Writes), wantKeys)
			}
			entries := maps.Clone(before.entries)
			for _, kv := range w.last.Writes {
				entries[kv.Key] = kv.Value
			}
			var kvs []contract.KV
			for k, v := range entries {
				kvs = append(kvs, contract.KV{Key: k, Value: v})
			}
			rebuilt, err := contract.Load(kvs, w.height, w.mt)
			if err != nil || !bytes.Equal(rebuilt.AppHash(), w.s.AppHash()) {
				t.Errorf("app hash is not the old state's with only the counters changed (%v)", err)
			}
			before.sameExceptParticipantsAndInfo(t, w.snapshot())
			if got := w.p("operator").Nonce; got != w.nonces["operator"] {
				t.Errorf("operator nonce %d", got)
			}
		})
	}
}

// sameExceptParticipantsAndInfo compares listings, registry (meters aside)
// and params.
func (a snapshot) sameExceptParticipantsAndInfo(t testing.TB, b snapshot) {
	t.Helper()
	if a.listings != b.listings || a.res != b.res || !reflect.DeepEqual(a.params, b.params) {
		t.Errorf("listings, RES or params changed")
	}
}

// A gateway batches up to MaxReadingsPerTx readings in one transaction:
// the largest batch, with the longest ids and registers, still fits what
// DecodeTx accepts.
func TestLargestReadingsBatchDecodes(t *testing.T) {
	id := strings.Repeat("m", 64)
	e := signedReading(t, devKeyID(id), reading.Reading{Meter: id, Registers: reading.Registers{Seq: 1<<64 - 1, Time: 1<<62 + 12345,
		ImportWh: reading.MaxRegisterWh, ExportWh: reading.MaxRegisterWh, ProductionWh: reading.MaxRegisterWh}})
	fine := sha256.Sum256(nil)
	e.FineHash = fine[:]
	msg := &contract.MsgReadings{Readings: make([]contract.ReadingEntry, contract.MaxReadingsPerTx)}
	for i := range msg.Readings {
		msg.Readings[i] = e
	}
	raw, err := contract.Sign(keyOf("operator"), testChain, "operator", 1, msg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := contract.DecodeTx(raw); err != nil {
		t.Fatalf("%d readings, %d bytes: %v", len(msg.Readings), len(raw), err)
	}
	msg.Readings = append(msg.Readings, e)
	raw, _ = contract.Sign(keyOf("operator"), testChain, "operator", 1, msg)
	if _, err := contract.DecodeTx(raw); contract.CodeOf(err) != contract.CodeMalformed {
		t.Fatalf("%d readings: %v", len(msg.Readings), err)
	}
	// Other transactions keep the small limit.
	body := bytes.Repeat([]byte(" "), contract.MaxTxBytes)
	issue := signTx(t, keyOf("operator"), testChain, "operator", 1, contract.TypeIssue, &contract.MsgIssue{To: "x", Amount: 1})
	if _, err := contract.DecodeTx(append(issue, body...)); contract.CodeOf(err) != contract.CodeMalformed {
		t.Fatalf("an issue of %d bytes: %v", len(issue)+len(body), err)
	}
}

// What the state hands out is a copy: changing it changes nothing in the
// ledger (its answers, and its app hash on the next change).
func TestQueriesReturnCopies(t *testing.T) {
	w, _ := readingWorld(t)
	w.readAt(at(1, 1), w.alice.read(at(1, 1), 0, 0, 0)) // backwards: counted
	w.readOK(at(2, 3500), w.alice.read(at(3, 0), 2100, 50, 70), w.bob.read(at(3, 0), 100, 50, 70))
	w.blockAt(at(3, 900)) // 02:00 settles without dave's meter; alice, with no money, owes for 2000 Wh
	hash := w.s.AppHash()
	js := func(v any) string { return string(must(json.Marshal(v))) }
	info, alice, meters := js(w.s.Info()), js(w.p("alice")), js(w.s.Meters())

	in := w.s.Info()
	in.ReadingsRejected["registers_backwards"] = 99
	p := w.p("alice")
	if len(p.Owes) == 0 {
		t.Fatalf("alice owes nothing: %+v", p)
	}
	p.Owes["utility"] = 1
	for _, m := range w.s.Meters() {
		if m.Last != nil {
			m.Last.ImportWh = -1
			m.Baseline.ImportWh = -1
		}
		if m.Rejected != nil {
			m.Rejected["x"] = 1
		}
	}
	if js(w.s.Info()) != info || js(w.p("alice")) != alice || js(w.s.Meters()) != meters || !bytes.Equal(w.s.AppHash(), hash) {
		t.Error("changing a returned value changed the state")
	}
	// The next blocks touch the meters, the info and alice: the app hash
	// must be that of the entries written.
	w.readAt(at(3, 901), w.alice.read(at(3, 901), 2200, 50, 70), w.bob.read(at(3, 901), 100, 50, 70), w.alice.read(at(3, 901), 0, 0, 0))
	w.issue("alice", unit)
	loaded, err := contract.Load(w.entries(), w.height, w.mt)
	if err != nil || !bytes.Equal(loaded.AppHash(), w.s.AppHash()) {
		t.Fatalf("app hash no longer matches the persisted state (%v)", err)
	}
}

// A listing returned by a query is a copy: changing its clearing changes
// nothing in the state.
func TestListingViewsAreCopies(t *testing.T) {
	w := newSettleWorld(t)
	w.trade(1000)
	l, _ := w.s.Listing(at(2, 0))
	*l.Clearing.MCP = 1
	l.Clearing.Trades[0].Wh = 999_999
	again, _ := w.s.Listing(at(2, 0))
	if *again.Clearing.MCP == 1 || again.Clearing.Trades[0].Wh == 999_999 {
		t.Fatalf("a query's copy reached into the state: %+v", again.Clearing)
	}
}

// A state that takes Seen's word for the signatures it remembers reaches
// the same results and app hash as one that verifies every one: Seen
// vouches only for the exact key, message and signature it was given, so
// neither a forged reading nor a good signature under another meter's key
// passes for a remembered one.
func TestSeenSignaturesGiveTheSameBlock(t *testing.T) {
	run := func(remember, vouchForged bool) ([]contract.TxResult, []byte) {
		w, _ := readingWorld(t)
		now := at(1, 1)
		good := w.alice.read(now, 200, 50, 70)
		forged := w.bob.read(now, 150, 50, 70)
		forged.Reading = bytes.Replace(bytes.Clone(forged.Reading), []byte(`"import_wh":150`), []byte(`"import_wh":950`), 1)
		// Signed by m-alice's key but naming m-dave: valid under the
		// wrong key only.
		wrongKey := signedReading(t, devKeyID("m-alice"), reading.Reading{Meter: "m-dave", Registers: reading.Registers{Seq: 9, Time: now, ImportWh: 1}})
		tx := w.tx("operator", &contract.MsgReadings{Readings: []contract.ReadingEntry{good, forged, wrongKey}})
		if remember {
			seen := sigs.NewSeen(16)
			seen.Add(pubOf(devKeyID("m-alice")), good.SignBytes(), good.Sig)
			seen.Add(pubOf(devKeyID("m-alice")), wrongKey.SignBytes(), wrongKey.Sig)
			sig, msg, _ := contract.SignedParts(tx)
			seen.Add(pubOf("operator"), msg, sig)
			if vouchForged {
				seen.Add(pubOf(gwKeyID("gw-home")), forged.SignBytes(), forged.Sig)
			}
			w.s.UseSeen(seen)
		}
		res := w.blockAt(now, tx)
		return res, w.s.AppHash()
	}
	verified, hash := run(false, false)
	remembered, hash2 := run(true, false)
	if !reflect.DeepEqual(verified, remembered) || !bytes.Equal(hash, hash2) {
		t.Fatalf("results differ:\nverified   %+v\nremembered %+v", verified, remembered)
	}
	n, refused := readingOutcomes(t, remembered[0], 3)
	if n != 1 || len(refused) != 2 {
		t.Fatalf("accepted %d, refused %v; want the good reading only", n, refused)
	}
	// The block does take Seen's word (which is why only signatures
	// verified may be added): a forged reading it vouches for passes.
	trusted, _ := run(true, true)
	if n, _ := readingOutcomes(t, trusted[0], 3); n != 2 {
		t.Fatalf("accepted %d with the forgery vouched for: the block verified again what Seen remembered", n)
	}
}

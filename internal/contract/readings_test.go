package contract_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
)

// Meter readings (readings.go): who may sign them, and each way one is
// refused. A refused reading changes nothing but the counters that make
// refusals visible.

// "Meters are registered with their own device key, or naming the gateway
// that reads them" — and gateways by the operator, to a participant.
func TestGatewaysAndGatewayMetersAreRegisteredByTheOperator(t *testing.T) {
	h := newHarness(t)
	h.members("alice")
	gw := &contract.MsgRegisterGateway{ID: "gw-1", Owner: "alice", PubKey: pubOf(gwKeyID("gw-1"))}
	h.want(contract.CodeWrongRole, "alice", gw)
	h.want(contract.CodeUnknownParticipant, "operator", &contract.MsgRegisterGateway{ID: "gw-1", Owner: "ghost", PubKey: pubOf("x")})
	h.want(contract.CodeMalformed, "operator", &contract.MsgRegisterGateway{ID: "gw-1", Owner: "alice", PubKey: []byte{1, 2}})
	h.ok("operator", gw)
	h.want(contract.CodeDuplicate, "operator", gw)
	h.want(contract.CodeUnknownMeter, "operator", &contract.MsgRegisterMeter{ID: "m-1", Owner: "alice", Gateway: "gw-ghost"})
	h.want(contract.CodeMalformed, "operator", &contract.MsgRegisterMeter{ID: "m-1", Owner: "alice", Gateway: "gw-1", PubKey: pubOf("m-1")})
	h.want(contract.CodeMalformed, "operator", &contract.MsgRegisterMeter{ID: "m-1", Owner: "alice"}) // neither key nor gateway
	h.want(contract.CodeDuplicate, "operator", &contract.MsgRegisterMeter{ID: "gw-1", Owner: "alice", PubKey: pubOf("m-1")})
	h.ok("operator", &contract.MsgRegisterMeter{ID: "m-1", Owner: "alice", Gateway: "gw-1"})
	h.want(contract.CodeDuplicate, "operator", &contract.MsgRegisterGateway{ID: "m-1", Owner: "alice", PubKey: pubOf("x")})
	if got, want := h.s.Gateways(), []contract.Gateway{{ID: "gw-1", Owner: "alice", PubKey: pubOf(gwKeyID("gw-1"))}}; !reflect.DeepEqual(got, want) {
		t.Errorf("gateways %+v", got)
	}
	if got, want := h.s.Meters(), []contract.Meter{{ID: "m-1", Owner: "alice", Gateway: "gw-1"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("meters %+v", got)
	}
	if in := h.s.Info(); in.Gateways != 1 || in.Meters != 1 {
		t.Errorf("info %+v", in)
	}
}

// A reading signed by the meter's own key, and one signed by the gateway
// of a meter that cannot sign, are accepted; the closing reading records
// who signed it, and the first reading is the meter's baseline.
func TestReadingsSignedByDeviceOrGatewayAreAccepted(t *testing.T) {
	w := newSettleWorld(t)
	a1, b1 := w.alice.read(at(2, 0), 10, 20, 30), w.bob.read(at(2, 0), 40, 0, 0)
	w.readOK(at(1, 3500), a1, b1)
	regs := contract.Registers{Seq: 1, Time: at(2, 0), ImportWh: 10, ExportWh: 20, ProductionWh: 30}
	for _, m := range w.s.Meters() {
		if m.ID == "m-alice" && (!reflect.DeepEqual(m.Last, &regs) || !reflect.DeepEqual(m.Baseline, &regs) || m.Accepted != 1 || m.Rejected != nil) {
			t.Errorf("m-alice %+v", m)
		}
	}
	w.readOK(at(2, 3500), w.alice.read(at(3, 0), 10, 20, 30), w.bob.read(at(3, 0), 40, 0, 0))
	if in := w.s.Info(); in.ReadingsAccepted != 4 || len(in.ReadingsRejected) != 0 {
		t.Errorf("info %+v", in)
	}
	w.blockAt(at(3, 0))
	st, _ := w.s.Settlement(at(2, 0))
	if len(st.Readings) != 2 || st.Readings[0].Meter != "m-alice" || st.Readings[0].SignedBy != "device" ||
		st.Readings[1].Meter != "m-bob" || st.Readings[1].SignedBy != "gateway" || st.Readings[0].Interval != at(2, 0) {
		t.Errorf("readings %+v", st.Readings)
	}
}

// A member's gateway may carry readings (of any meter: they are signed by
// the devices); the DSO and the utility may not.
func TestReadingsComeFromMembersOrTheOperator(t *testing.T) {
	w := newSettleWorld(t)
	r := w.do(contract.CodeOK, w.tx("bob", &contract.MsgReadings{Readings: []contract.ReadingEntry{w.bob.read(at(0, 100), 1, 0, 0)}}))
	if n, refused := readingOutcomes(t, r, 1); n != 1 {
		t.Errorf("refused %v", refused)
	}
	for _, who := range []string{"dso", "utility"} {
		w.want(contract.CodeWrongRole, who, &contract.MsgReadings{Readings: []contract.ReadingEntry{w.bob.read(at(0, 100), 2, 0, 0)}})
	}
	w.want(contract.CodeMalformed, "operator", &contract.MsgReadings{})
	bad := w.alice.read(at(0, 100), 1, 0, 0)
	bad.FineHash = []byte("short")
	w.want(contract.CodeMalformed, "operator", &contract.MsgReadings{Readings: []contract.ReadingEntry{bad}})
	if m := w.s.Meters(); m[0].Accepted != 0 || m[1].Accepted != 1 {
		t.Errorf("meters %+v", m)
	}
}

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
			return signedReading(t, gwKeyID("gw-home"), reading.Reading{Meter: "m-alice", Seq: 2, Time: now, ImportWh: 200, ExportWh: 50, ProductionWh: 70})
		}, "m-alice", contract.CodeBadSignature},
		{"gateway meter signed by a device key", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return signedReading(t, devKeyID("m-bob"), reading.Reading{Meter: "m-bob", Seq: 2, Time: now, ImportWh: 200, ExportWh: 50, ProductionWh: 70})
		}, "m-bob", contract.CodeBadSignature},
		{"another meter's key", func(w *settleWorld, _ *device) contract.ReadingEntry {
			return signedReading(t, devKeyID("m-dave"), reading.Reading{Meter: "m-alice", Seq: 2, Time: now, ImportWh: 200, ExportWh: 50, ProductionWh: 70})
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
			return signedReading(t, devKeyID("m-alice"), reading.Reading{Meter: "m-alice", Seq: 1, Time: now, ImportWh: 200, ExportWh: 50, ProductionWh: 70})
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
			return signedReading(t, devKeyID("m-ghost"), reading.Reading{Meter: "m-ghost", Seq: 1, Time: now})
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

// The skew: a reading may be dated up to ReadingSkewS (120 s) ahead of
// the block's market time, and not one second more.
func TestReadingSkewBoundary(t *testing.T) {
	w, _ := readingWorld(t)
	now := at(1, 1)
	if n, refused := w.readAt(now, w.alice.read(now+121, 200, 50, 70), w.alice.read(now+120, 200, 50, 70)); n != 1 ||
		!reflect.DeepEqual(refused, []string{"m-alice/2:reading_from_future"}) {
		t.Fatalf("accepted %d, refused %v", n, refused)
	}
	if m := w.s.Meters()[0]; m.Last.Time != now+120 || m.Last.Seq != 3 {
		t.Errorf("m-alice last %+v", m.Last)
	}
}

// Several readings of one meter in one batch are taken in order, each
// against the last accepted: the second is checked against the first.
func TestReadingsInOneBatchAreCheckedInOrder(t *testing.T) {
	w, _ := readingWorld(t)
	now := at(1, 1)
	r2 := w.alice.read(now, 200, 50, 70)
	r3 := w.alice.read(now, 150, 50, 70) // below r2
	r4 := w.alice.read(now, 300, 60, 80)
	n, refused := w.readAt(now, r2, r3, r2, r4)
	if n != 2 || !reflect.DeepEqual(refused, []string{"m-alice/3:registers_backwards", "m-alice/2:replay"}) {
		t.Fatalf("accepted %d, refused %v", n, refused)
	}
	m := w.s.Meters()[0]
	if m.Accepted != 3 || m.Last.Seq != 4 || m.Last.ImportWh != 300 || m.Baseline.ImportWh != 100 ||
		!reflect.DeepEqual(m.Rejected, map[string]int64{"registers_backwards": 1, "replay": 1}) {
		t.Errorf("m-alice %+v", m)
	}
}

// A reading for an interval already settled is stale, even when it is
// newer than the meter's last reading; the meter counts the refusal.
func TestReadingForASettledIntervalIsStale(t *testing.T) {
	w := newSettleWorld(t)
	w.settle2(metered{w.alice, 100, 0, 0}, metered{w.bob, 100, 0, 0})
	// m-bob's last reading is at 03:00 (closing 02:00); a reading at
	// 02:59:59 is older: stale too, for the other reason.
	n, refused := w.readAt(at(3, 1), w.alice.read(at(2, 3599), 1_000_000, 0, 0))
	if n != 0 || !reflect.DeepEqual(refused, []string{"m-alice/3:stale_reading"}) {
		t.Fatalf("accepted %d, refused %v", n, refused)
	}
	// A fresh meter with no reading yet, dated inside the settled hour.
	carol := w.meterOwnKey("m-carol", "carol", "")
	n, refused = w.readAt(at(3, 2), carol.read(at(2, 1800), 5, 0, 0))
	if n != 0 || !reflect.DeepEqual(refused, []string{"m-carol/1:stale_reading"}) {
		t.Fatalf("accepted %d, refused %v", n, refused)
	}
	if in := w.s.Info(); in.ReadingsRejected["stale_reading"] != 2 {
		t.Errorf("info %v", in.ReadingsRejected)
	}
	for _, m := range w.s.Meters() {
		if (m.ID == "m-alice" || m.ID == "m-carol") && m.Rejected["stale_reading"] != 1 {
			t.Errorf("%s rejected %v", m.ID, m.Rejected)
		}
		if m.ID == "m-carol" && (m.Last != nil || m.Baseline != nil) {
			t.Errorf("refused first reading set %+v", m)
		}
	}
}

// The closing reading of an interval is the last accepted reading dated
// inside it (start, end], and carries the fine data's hash it came with.
// A reading dated exactly at an interval's start belongs to the interval
// before.
func TestLaterReadingIsTheClosingReadingWithItsFineHash(t *testing.T) {
	w := newSettleWorld(t)
	fine1, fine2 := sha256.Sum256([]byte("minute data 02:00-02:30")), sha256.Sum256([]byte("minute data 02:30-03:00"))
	base := w.alice.read(at(2, 0), 1000, 0, 0) // 02:00: before the first listing's interval
	w.readOK(at(1, 3500), base, w.bob.read(at(2, 0), 0, 0, 0))
	mid := w.alice.read(at(2, 1800), 1400, 0, 0)
	mid.FineHash = fine1[:]
	w.readOK(at(2, 1800), mid)
	end := w.alice.read(at(3, 0), 1900, 0, 0)
	end.FineHash = fine2[:]
	w.readOK(at(2, 3500), end, w.bob.read(at(3, 0), 0, 0, 0))
	w.blockAt(at(3, 0))
	st, _ := w.s.Settlement(at(2, 0))
	want := contract.IntervalReading{Meter: "m-alice", Interval: at(2, 0), SignedBy: "device", FineHash: fine2[:],
		Registers: contract.Registers{Seq: 3, Time: at(3, 0), ImportWh: 1900}}
	if !reflect.DeepEqual(st.Readings[0], want) {
		t.Errorf("closing reading %+v, want %+v", st.Readings[0], want)
	}
	// 1900 − 1000: both readings' energy, counted once.
	expectMember(t, st, contract.MemberSettlement{ID: "alice", ImportWh: 900, GridImportWh: 900, PaidToUtilityNano: 900 * grid2, OwedNano: 900 * grid2})
	if st.Readings[1].FineHash != nil {
		t.Errorf("bob's reading had no fine hash: %+v", st.Readings[1])
	}
}

// A reading dated in a gap with no listing (intervals skipped after a
// halt) is accepted and its energy counts in the next interval settled
// with a closing reading of the meter — never in an interval settled
// while the meter was missing.
//
// The chain halts from 00:00:xx to 30:00: the listings 02:00-24:00 settle
// at 30:00 with every meter missing, and 25:00-31:00 are never opened.
// bob's meter read 0 at 00:01:40; it reads 1000 at 28:00 (the gap) and
// again 1000 at 33:00 (closing 32:00's interval): 32:00's settlement
// counts the 1000 Wh imported before the gap reading.
func TestGapReadingCountsInTheNextSettledInterval(t *testing.T) {
	h := newHarness(t)
	h.members("bob")
	h.issue("bob", unit)
	bob := h.meterOwnKey("m-bob", "bob", "")
	h.readOK(at(0, 100), bob.read(at(0, 100), 0, 0, 0))
	h.blockAt(at(30, 0))
	if _, ok := h.s.Listing(at(28, 0)); ok {
		t.Fatal("28:00 was opened")
	}
	if n := len(h.s.Settlements(0, forever)); n != 23 {
		t.Fatalf("%d settled by 30:00, want 02:00..24:00", n)
	}
	h.readOK(at(30, 1), bob.read(at(28, 0), 1000, 0, 0))
	if m := h.s.Meters()[0]; m.Last.ImportWh != 1000 || m.Baseline.ImportWh != 0 {
		t.Fatalf("meter %+v", m)
	}
	for _, kv := range h.last.Writes {
		if strings.HasPrefix(kv.Key, "mi/") {
			t.Errorf("a gap reading closed an interval: %s", kv.Key)
		}
	}
	h.readOK(at(32, 3500), bob.read(at(33, 0), 1000, 0, 0))
	h.blockAt(at(33, 0))
	st, ok := h.s.Settlement(at(32, 0))
	if !ok {
		t.Fatal("32:00 not settled")
	}
	// Hour 32 is 08:00 local: 65,000 per kWh.
	expectMember(t, st, contract.MemberSettlement{ID: "bob", ImportWh: 1000, GridImportWh: 1000, PaidToUtilityNano: 65_000_000})
}

// A gateway batches up to MaxReadingsPerTx readings in one transaction:
// the largest batch, with the longest ids and registers, still fits what
// DecodeTx accepts.
func TestLargestReadingsBatchDecodes(t *testing.T) {
	id := strings.Repeat("m", 64)
	e := signedReading(t, devKeyID(id), reading.Reading{Meter: id, Seq: 1<<64 - 1, Time: 1<<62 + 12345,
		ImportWh: reading.MaxRegisterWh, ExportWh: reading.MaxRegisterWh, ProductionWh: reading.MaxRegisterWh})
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

// Meter and gateway ids share one namespace; so readings name either
// without ambiguity. (Guards readingKey's lookup.)
func TestReadingNamingAGatewayIsUnknownMeter(t *testing.T) {
	w, _ := readingWorld(t)
	n, refused := w.readAt(at(1, 1), signedReading(t, gwKeyID("gw-home"), reading.Reading{Meter: "gw-home", Seq: 1, Time: at(1, 1)}))
	if n != 0 || !reflect.DeepEqual(refused, []string{"gw-home/1:unknown_meter"}) {
		t.Fatalf("accepted %d, refused %v", n, refused)
	}
	if fmt.Sprint(w.s.Info().ReadingsRejected) != "map[unknown_meter:1]" {
		t.Errorf("info %v", w.s.Info().ReadingsRejected)
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

// Rotating a device key: readings signed with the old key are refused,
// with the new one accepted; a meter read by a gateway that gets a key of
// its own signs for itself. Only the operator rotates, known devices only.
func TestRotatingADeviceKey(t *testing.T) {
	w := newSettleWorld(t)
	w.readOK(at(1, 3500), w.alice.read(at(2, 0), 10, 0, 0))
	w.want(contract.CodeWrongRole, "alice", &contract.MsgRotateDeviceKey{ID: "m-alice", PubKey: pubOf("m-alice-2")})
	w.want(contract.CodeUnknownMeter, "operator", &contract.MsgRotateDeviceKey{ID: "m-ghost", PubKey: pubOf("x")})
	w.want(contract.CodeMalformed, "operator", &contract.MsgRotateDeviceKey{ID: "m-alice", PubKey: []byte{1}})
	w.ok("operator", &contract.MsgRotateDeviceKey{ID: "m-alice", PubKey: pubOf("m-alice-2")})
	old := w.alice.read(at(2, 100), 20, 0, 0)
	r := w.do(contract.CodeOK, w.tx("operator", &contract.MsgReadings{Readings: []contract.ReadingEntry{old}}))
	if n, refused := readingOutcomes(t, r, 1); n != 0 || len(refused) != 1 {
		t.Fatalf("reading signed with the retired key: accepted %d, refused %v", n, refused)
	}
	w.alice.keyID = "m-alice-2"
	w.readOK(at(2, 200), w.alice.read(at(2, 200), 30, 0, 0))
	// bob's meter was read by gw-home; with a key of its own it signs itself.
	w.ok("operator", &contract.MsgRotateDeviceKey{ID: "m-bob", PubKey: pubOf("m-bob-own")})
	for _, m := range w.s.Meters() {
		if m.ID == "m-bob" && (m.Gateway != "" || !bytes.Equal(m.PubKey, pubOf("m-bob-own"))) {
			t.Errorf("m-bob after rotation: %+v", m)
		}
	}
	w.bob.keyID = "m-bob-own"
	w.readOK(at(2, 300), w.bob.read(at(2, 300), 5, 0, 0))
}

package meter

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
)

// entry is one canonical message: who publishes what, and what becomes of
// it. Built from fixed keys, so every run publishes the same bytes.
type entry struct {
	name    string
	device  string // the publishing device (its connection)
	topic   string // default: the device's reading topic
	payload []byte
	want    contract.Code // at the gateway; CodeOK = accepted
	// broker, if set, is why the embedded broker refuses the device's
	// connection: the message never reaches the gateway there.
	broker string
}

func signed(keyName string, r reading.Reading) []byte {
	return must(reading.Sign(key(keyName), r)).Marshal()
}

// signRaw signs reading bytes as given (reading.Sign would re-encode).
func signRaw(keyName, raw string) []byte {
	s := reading.Signed{Reading: []byte(raw)}
	s.Sig = must(key(keyName).Sign(s.SignBytes()))
	return s.Marshal()
}

// catalogue is run in order: replay and register checks depend on what
// was accepted before. The gateway's clock reads T0+600; skew is 120 s.
func catalogue() []entry {
	alice := func(seq uint64, tm, imp int64) reading.Reading {
		return reading.Reading{Meter: "m-alice", Registers: reading.Registers{Seq: seq, Time: tm, ImportWh: imp, ExportWh: 7}}
	}
	valid1 := signed("m-alice", alice(1, T0+60, 1000))
	forged := signed("m-alice", alice(3, T0+180, 1200))
	forged = bytes.Replace(forged, []byte(`"import_wh":1200`), []byte(`"import_wh":9200`), 1)
	// Compact JSON (json.RawMessage is re-encoded compactly by Marshal) is
	// checked by the signature; this one is spaced inside the signed bytes.
	spaced := `{"meter": "m-alice", "seq": 3, "time": ` + itoa(T0+180) + `, "import_wh": 1200, "export_wh": 7, "production_wh": 0}`
	spacedPayload := []byte(`{"reading":` + spaced + `,"sig":"` + sigOf(signRaw("m-alice", spaced)) + `"}`)
	return []entry{
		{name: "valid", device: "m-alice", payload: valid1},
		{name: "valid, later", device: "m-alice", payload: signed("m-alice", alice(2, T0+120, 1100))},
		{name: "forged: bytes changed after signing", device: "m-alice", payload: forged, want: contract.CodeBadSignature},
		{name: "signed by another meter's key", device: "m-alice", payload: signed("m-carol", alice(3, T0+180, 1200)), want: contract.CodeBadSignature},
		{name: "signed by the gateway for a meter with its own key", device: "m-alice", payload: signed("gw-1", alice(3, T0+180, 1200)), want: contract.CodeBadSignature},
		{name: "replayed: the first reading again", device: "m-alice", payload: valid1, want: contract.CodeReplay},
		{name: "old seq, new data", device: "m-alice", payload: signed("m-alice", alice(2, T0+180, 1300)), want: contract.CodeReplay},
		{name: "skewed: from the future", device: "m-alice", payload: signed("m-alice", alice(3, T0+600+121, 1300)), want: contract.CodeFutureReading},
		{name: "at the skew limit", device: "m-alice", payload: signed("m-alice", alice(3, T0+600+120, 1300))},
		{name: "dated before the last", device: "m-alice", payload: signed("m-alice", alice(4, T0+300, 1400)), want: contract.CodeStaleReading},
		{name: "registers backwards", device: "m-alice", payload: signed("m-alice", alice(5, T0+720, 1250)), want: contract.CodeRegistersBackwards},
		{name: "export backwards", device: "m-alice", payload: signed("m-alice", reading.Reading{Meter: "m-alice", Registers: reading.Registers{Seq: 5, Time: T0 + 720, ImportWh: 1400, ExportWh: 6}}), want: contract.CodeRegistersBackwards},
		{name: "malformed: not JSON", device: "m-alice", payload: []byte("import=1500"), want: contract.CodeMalformed},
		{name: "malformed: truncated", device: "m-alice", payload: valid1[:len(valid1)-9], want: contract.CodeMalformed},
		{name: "malformed: unknown field", device: "m-alice", payload: []byte(`{"reading":{"meter":"m-alice","seq":9,"time":1,"import_wh":1,"export_wh":1,"production_wh":0,"x":1},"sig":"` + strings.Repeat("A", 86) + `=="}`), want: contract.CodeMalformed},
		{name: "malformed: negative register", device: "m-alice", payload: signRaw("m-alice", `{"meter":"m-alice","seq":9,"time":`+itoa(T0+720)+`,"import_wh":-1,"export_wh":7,"production_wh":0}`), want: contract.CodeMalformed},
		{name: "malformed: signed bytes not compact", device: "m-alice", payload: spacedPayload, want: contract.CodeMalformed},
		{name: "malformed: another meter's reading on this topic", device: "m-alice", payload: signed("m-carol", reading.Reading{Meter: "m-carol", Registers: reading.Registers{Seq: 1, Time: T0 + 60, ImportWh: 1}}), want: contract.CodeMalformed},
		{name: "unknown meter", device: "m-ghost", payload: signed("m-ghost", reading.Reading{Meter: "m-ghost", Registers: reading.Registers{Seq: 1, Time: T0 + 60, ImportWh: 1}}), want: contract.CodeUnknownMeter, broker: refuseUnknown},
		{name: "suspended owner", device: "m-bob", payload: signed("m-bob", reading.Reading{Meter: "m-bob", Registers: reading.Registers{Seq: 1, Time: T0 + 60, ImportWh: 1}}), want: contract.CodeSuspended, broker: refuseSuspended},
		{name: "valid after all that", device: "m-alice", payload: signed("m-alice", alice(4, T0+720, 1500))},
		{name: "carol's first reading is still fresh", device: "m-carol", payload: signed("m-carol", reading.Reading{Meter: "m-carol", Registers: reading.Registers{Seq: 1, Time: T0 + 60, ImportWh: 1}})},
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// sigOf extracts the "sig" of a signed payload.
func sigOf(payload []byte) string {
	_, rest, _ := strings.Cut(string(payload), `"sig":"`)
	sig, _, _ := strings.Cut(rest, `"`)
	return sig
}

// runCatalogue publishes every entry over MQTT from the entry's device, one
// at a time, and checks what the gateway made of it.
func runCatalogue(t *testing.T, e *env, embedded bool) {
	type result struct {
		payload []byte
		code    contract.Code
		skip    bool
	}
	results := make(chan result, 64)
	e.gw.onResult = func(_ string, payload []byte, it item) { results <- result{payload, it.code, it.skip} }
	e.start(t)
	cat := catalogue()
	devices := map[string]*Device{}
	want := Stats{Rejected: map[contract.Code]int64{}}
	var stored = map[string][]byte{}
	for _, c := range cat {
		d := devices[c.device]
		if d == nil {
			d = &Device{ID: c.device, Key: key(c.device), Community: community, Broker: e.url, QoS: 1}
			err := d.Connect(context.Background())
			if embedded && c.broker != "" {
				if err == nil {
					t.Fatalf("%s: the broker let %s connect", c.name, c.device)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(d.Close)
			devices[c.device] = d
		}
		topic := c.topic
		if topic == "" {
			topic = readingTopic(community, c.device)
		}
		if err := d.publish(context.Background(), topic, c.payload, 1); err != nil {
			t.Fatalf("%s: publish: %v", c.name, err)
		}
		select {
		case r := <-results:
			if !bytes.Equal(r.payload, c.payload) {
				t.Fatalf("%s: gateway saw %q", c.name, r.payload)
			}
			if r.skip || r.code != c.want {
				t.Errorf("%s: %s (ignored %v), want %s", c.name, r.code.Name(), r.skip, c.want.Name())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: never reached the gateway", c.name)
		}
		if c.want == contract.CodeOK {
			want.Accepted++
			stored[c.device] = append(append(stored[c.device], c.payload...), '\n')
		} else {
			want.Rejected[c.want]++
		}
	}
	got := e.gw.Stats()
	if got.Accepted != want.Accepted || len(got.Rejected) != len(want.Rejected) {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	for c, n := range want.Rejected {
		if got.Rejected[c] != n {
			t.Errorf("rejected %s: %d, want %d", c.Name(), got.Rejected[c], n)
		}
	}
	// Exactly the accepted readings are stored, byte for byte, each in
	// the file of its interval; nothing of a refused one.
	for _, id := range []string{"m-alice", "m-carol", "m-bob", "m-ghost"} {
		var all []byte
		files, _ := filepath.Glob(filepath.Join(e.store, id, "*.jsonl"))
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
			}
			all = append(all, readFile(t, f)...)
		}
		if !bytes.Equal(all, stored[id]) {
			t.Errorf("%s: stored\n%s\nwant\n%s", id, all, stored[id])
		}
	}
}

func TestCatalogueEmbeddedBroker(t *testing.T) {
	noLeaks(t)
	runCatalogue(t, newEnv(t, testRegistry()), true)
}

// Through an external broker that lets anyone publish anything, the
// gateway alone keeps out what the embedded broker refuses at the door.
func TestCatalogueMosquitto(t *testing.T) {
	noLeaks(t)
	m := startMosquitto(t)
	e := newExternalEnv(t, testRegistry(), m.url())
	runCatalogue(t, e, false)
}

// newExternalEnv is a gateway reading from an external broker at url.
func newExternalEnv(t testing.TB, reg *Registry, url string) *env {
	t.Helper()
	e := &env{reg: reg, clock: newFakeClock(T0 + 600), rec: &recorder{}, store: t.TempDir(), url: url}
	e.gw = NewGateway(GatewayConfig{Community: community, DeviceID: "gw-1", DeviceKey: key("gw-1"), MQTTURL: url,
		StoreDir: e.store, Clock: e.clock, IntervalS: 3600, SkewS: 120, FlushEvery: time.Hour}, reg, e.rec, testLog(t))
	t.Cleanup(func() { e.gw.Close() })
	return e
}

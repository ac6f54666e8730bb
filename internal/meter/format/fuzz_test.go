package format

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// Run one fuzzer at a time, for example:
//
//	go test -run '^$' -fuzz '^FuzzDSMR$' -fuzztime 20s ./internal/meter/format
//
// Inputs that once broke an invariant live in testdata/fuzz/<FuzzName>.

func FuzzTasmota(f *testing.F)    { fuzzFormat(f, Tasmota) }
func FuzzShellyGen1(f *testing.F) { fuzzFormat(f, ShellyGen1) }
func FuzzShellyGen2(f *testing.F) { fuzzFormat(f, ShellyGen2) }
func FuzzDSMR(f *testing.F)       { fuzzFormat(f, DSMR) }

// fuzzFormat seeds a fuzzer with the format's catalogue (topic and payload)
// and checks decodeInvariants on whatever the fuzzer makes of them.
func fuzzFormat(f *testing.F, format Format) {
	for _, e := range loadCatalogue(f) {
		if e.Format == format {
			f.Add(e.Topic, readPayload(f, e.File))
		}
	}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		decodeInvariants(t, format, topic, payload)
	})
}

// decodeInvariants: Decode never panics; it is deterministic; an error
// wraps one of the package's sentinels and comes with zero Registers; what
// decodes is in range, its channels add up to its totals, its notes are
// valid text, its time is a real date, its device is the topic's, and it
// survives a JSON round trip.
func decodeInvariants(t *testing.T, f Format, topic string, payload []byte) {
	r, err := Decode(f, topic, payload)
	again, err2 := Decode(f, topic, payload)
	if !reflect.DeepEqual(r, again) || errString(err) != errString(err2) {
		t.Fatalf("not deterministic: %s, %v then %s, %v", asJSON(r), err, asJSON(again), err2)
	}
	if err != nil {
		known := false
		for _, s := range sentinels {
			known = known || errors.Is(err, s)
		}
		if !known {
			t.Fatalf("error %q wraps no sentinel", err)
		}
		if !reflect.DeepEqual(r, Registers{}) {
			t.Fatalf("error %v with registers %s", err, asJSON(r))
		}
		return
	}
	if r.Format != f {
		t.Fatalf("format %q, want %q", r.Format, f)
	}
	inRange := func(v int64) bool { return v >= 0 && v <= MaxWh }
	if !inRange(r.ImportWh) || !inRange(r.ExportWh) {
		t.Fatalf("totals out of range: %s", asJSON(r))
	}
	if len(r.Channels) > 0 {
		var imp, exp int64
		names := map[string]bool{}
		for _, c := range r.Channels {
			if !inRange(c.ImportWh) || !inRange(c.ExportWh) || c.Name == "" || names[c.Name] {
				t.Fatalf("bad channel %+v in %s", c, asJSON(r))
			}
			names[c.Name] = true
			imp += c.ImportWh
			exp += c.ExportWh
		}
		if imp != r.ImportWh || exp != r.ExportWh {
			t.Fatalf("channels add up to %d/%d Wh, totals say %d/%d: %s", imp, exp, r.ImportWh, r.ExportWh, asJSON(r))
		}
	}
	for _, n := range r.Notes {
		if n.Field == "" || n.Why == "" || !utf8.ValidString(n.Field) || !utf8.ValidString(n.Raw) || len(n.Raw) > 3*maxNoteRaw {
			t.Fatalf("bad note %+v", n)
		}
	}
	if r.Time != nil && (*r.Time < minPlausibleUnix || *r.Time >= maxPlausibleUnix) {
		t.Fatalf("implausible time %d", *r.Time)
	}
	if topic != "" {
		tf, dev, ok := Identify(topic)
		if !ok || tf != f || dev != r.DeviceID {
			t.Fatalf("decoded on topic %q, which Identify calls %q, %q, %v; device %q", topic, tf, dev, ok, r.DeviceID)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Registers
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("JSON round trip: %s gave %s, %v", b, asJSON(back), err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Benchmarks decode one typical payload per format.
func BenchmarkDecodeTasmota(b *testing.B) {
	benchDecode(b, Tasmota, "tele/plug-kitchen/SENSOR", "tasmota/sensor_single.json")
}

func BenchmarkDecodeShellyGen1(b *testing.B) {
	benchDecode(b, ShellyGen1, "shellies/shellyem-B9A4C2/info", "shelly-gen1/em_info.json")
}

func BenchmarkDecodeShellyGen2(b *testing.B) {
	benchDecode(b, ShellyGen2, "shellyplus1pm-a8032ab12345/events/rpc", "shelly-gen2/notify_status_switch.json")
}

func BenchmarkDecodeDSMR(b *testing.B) {
	benchDecode(b, DSMR, "dsmr/home-12/telegram", "dsmr/nl_dsmr5.txt")
}

func benchDecode(b *testing.B, f Format, topic, file string) {
	payload := readPayload(b, file)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(f, topic, payload); err != nil {
			b.Fatal(err)
		}
	}
}

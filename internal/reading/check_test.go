package reading

import (
	"encoding/json"
	"testing"
)

// The reading's wire form is flat, in this order, whatever the Go layout:
// signatures cover these bytes and the ledger's state keeps Registers.
func TestWireFormIsFlat(t *testing.T) {
	b, _ := json.Marshal(valid())
	want := `{"meter":"MTR-1","seq":7,"time":1795690800,"import_wh":12345,"export_wh":678,"production_wh":9000}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(valid().Registers)
	if want := `{"seq":7,"time":1795690800,"import_wh":12345,"export_wh":678,"production_wh":9000}`; string(b) != want {
		t.Fatalf("registers: got %s, want %s", b, want)
	}
}

func TestCheck(t *testing.T) {
	const now, skew = 10_000, 120
	last := &Registers{Seq: 5, Time: 9_000, ImportWh: 100, ExportWh: 20, ProductionWh: 30}
	at := func(seq uint64, time, imp, exp, prod int64) Reading {
		return Reading{Meter: "m-1", Registers: Registers{Seq: seq, Time: time, ImportWh: imp, ExportWh: exp, ProductionWh: prod}}
	}
	for _, c := range []struct {
		name string
		r    Reading
		last *Registers
		want Fault
		why  string
	}{
		{"first reading", at(1, now, 0, 0, 0), nil, OK, ""},
		{"first reading from the future", at(1, now+skew+1, 0, 0, 0), nil, FromFuture,
			`meter "m-1" dated 10121, ledger time 10000, skew 120 s`},
		{"next reading", at(6, now+skew, 100, 20, 30), last, OK, ""},
		{"same seq", at(5, now, 200, 20, 30), last, Replay, `meter "m-1" seq 5, last accepted 5`},
		// Sequence before date: a replayed reading is a replay however dated.
		{"replay from the future", at(4, now+skew+1, 200, 20, 30), last, Replay, `meter "m-1" seq 4, last accepted 5`},
		{"from the future", at(6, now+skew+1, 200, 20, 30), last, FromFuture,
			`meter "m-1" dated 10121, ledger time 10000, skew 120 s`},
		{"before the last", at(6, 8_999, 200, 20, 30), last, Stale, `meter "m-1" dated 8999, before its last reading at 9000`},
		// Date before registers.
		{"stale and backwards", at(6, 8_999, 99, 20, 30), last, Stale, `meter "m-1" dated 8999, before its last reading at 9000`},
		{"same time", at(6, 9_000, 100, 20, 30), last, OK, ""},
		{"import backwards", at(6, now, 99, 20, 30), last, Backwards,
			`meter "m-1": import 100→99, export 20→20, production 30→30`},
		{"export backwards", at(6, now, 100, 19, 30), last, Backwards,
			`meter "m-1": import 100→100, export 20→19, production 30→30`},
		{"production backwards", at(6, now, 100, 20, 29), last, Backwards,
			`meter "m-1": import 100→100, export 20→20, production 30→29`},
	} {
		f, why := Check(c.r, c.last, now, skew)
		if f != c.want || why != c.why {
			t.Errorf("%s: got %d %q, want %d %q", c.name, f, why, c.want, c.why)
		}
	}
}

// Registers read at an interval's end close it; a second later they open
// the next.
func TestIntervalStart(t *testing.T) {
	for _, c := range []struct{ t, want int64 }{
		{3600, 0}, {3601, 3600}, {7199, 3600}, {7200, 3600}, {7201, 7200}, {1, 0},
	} {
		if got := IntervalStart(c.t, 3600); got != c.want {
			t.Errorf("IntervalStart(%d) = %d, want %d", c.t, got, c.want)
		}
	}
}

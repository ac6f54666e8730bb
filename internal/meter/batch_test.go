package meter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
)

// batchGateway is a gateway driven directly (no broker), with a fake
// clock and a recording submitter.
func batchGateway(t *testing.T, reg *Registry) (*Gateway, *fakeClock, *recorder, string) {
	t.Helper()
	store, clock, rec := t.TempDir(), newFakeClock(T0+600), &recorder{}
	g := NewGateway(GatewayConfig{Community: community, DeviceID: "gw-1", DeviceKey: key("gw-1"),
		StoreDir: store, Clock: clock, IntervalS: 3600, SkewS: 120}, reg, rec, testLog(t))
	t.Cleanup(func() { g.Close() })
	return g, clock, rec, store
}

func mustAccept(t *testing.T, g *Gateway, keyName string, r reading.Reading) []byte {
	t.Helper()
	p := signed(keyName, r)
	if it := g.handle(readingTopic(community, r.Meter), p); it.code != 0 || it.skip {
		t.Fatalf("%s seq %d: %s (%s)", r.Meter, r.Seq, it.code.Name(), it.why)
	}
	return p
}

// checkBatch checks one MsgReadings: the meters' last readings as given,
// each with the SHA-256 of its interval file, and that it goes through the
// ledger's transaction encoding with every signature intact.
func checkBatch(t *testing.T, m *contract.MsgReadings, store string, start int64, want map[string][]byte) {
	t.Helper()
	if err := m.ValidateBasic(); err != nil {
		t.Fatal(err)
	}
	if len(m.Readings) != len(want) {
		t.Fatalf("batch of %d readings, want %d", len(m.Readings), len(want))
	}
	tx, err := contract.SignType(key("op"), community, "op", 1, contract.TypeReadings, m)
	if err != nil {
		t.Fatal(err)
	}
	dtx, err := contract.DecodeTx(tx)
	if err != nil {
		t.Fatalf("ledger would refuse the batch: %v", err)
	}
	for i, e := range dtx.Message.(*contract.MsgReadings).Readings {
		var r reading.Reading
		if err := e.Parse(&r); err != nil {
			t.Fatal(err)
		}
		k := pub(r.Meter)
		if r.Meter == "plug-1" || r.Meter == "pv-1" {
			k = pub("gw-1")
		}
		if !e.Verify(k) {
			t.Errorf("%s: signature broken by the transaction encoding", r.Meter)
		}
		if got := m.Readings[i].Marshal(); !bytes.Equal(got, want[r.Meter]) {
			t.Errorf("%s: batch carries %s, want %s", r.Meter, got, want[r.Meter])
		}
		file := readFile(t, filepath.Join(store, r.Meter, fmt.Sprintf("%d.jsonl", start)))
		if h := sha256.Sum256(file); !bytes.Equal(e.FineHash, h[:]) {
			t.Errorf("%s: fine hash %x, want SHA-256 of the file %x", r.Meter, e.FineHash, h)
		}
	}
}

func TestBatching(t *testing.T) {
	noLeaks(t)
	g, clock, rec, store := batchGateway(t, testRegistry())
	ctx := context.Background()
	al := func(seq uint64, tm, imp int64) reading.Reading {
		return reading.Reading{Meter: "m-alice", Registers: reading.Registers{Seq: seq, Time: tm, ImportWh: imp}}
	}
	ca := func(seq uint64, tm, exp int64) reading.Reading {
		return reading.Reading{Meter: "m-carol", Registers: reading.Registers{Seq: seq, Time: tm, ExportWh: exp}}
	}
	mustAccept(t, g, "m-alice", al(1, T0+100, 10))
	mustAccept(t, g, "m-carol", ca(1, T0+200, 5))
	clock.Set(T0 + 3500)
	mustAccept(t, g, "m-alice", al(2, T0+3000, 20))
	// Registers read at the end of an interval describe that interval.
	a3 := mustAccept(t, g, "m-alice", al(3, T0+3600, 30))
	clock.Set(T0 + 3600)
	g.flush(ctx)
	if n := len(rec.all()); n != 0 {
		t.Fatalf("%d batches before the interval ended", n)
	}
	mustAccept(t, g, "m-alice", al(4, T0+3700, 40)) // next interval, before the flush
	clock.Set(T0 + 3601)
	g.flush(ctx)
	msgs := rec.all()
	if len(msgs) != 1 {
		t.Fatalf("%d batches for the first interval, want 1", len(msgs))
	}
	c1 := signed("m-carol", ca(1, T0+200, 5))
	checkBatch(t, msgs[0], store, T0, map[string][]byte{"m-alice": a3, "m-carol": c1})
	g.flush(ctx)
	if n := len(rec.all()); n != 1 {
		t.Fatalf("an interval was submitted twice (%d batches)", n)
	}

	// A reading dated in the submitted interval arrives late: the interval
	// is due again, with the newer reading and the longer file.
	c2 := mustAccept(t, g, "m-carol", ca(2, T0+3500, 8))
	// A transport failure keeps it due; the next flush submits it.
	rec.err = errors.New("connection refused")
	g.flush(ctx)
	g.flush(ctx)
	msgs = rec.all()
	if len(msgs) != 2 {
		t.Fatalf("%d batches, want 2", len(msgs))
	}
	checkBatch(t, msgs[1], store, T0, map[string][]byte{"m-carol": c2})

	// Second interval.
	clock.Set(T0 + 7000)
	mustAccept(t, g, "m-carol", ca(3, T0+4000, 9))
	mustAccept(t, g, "m-alice", al(5, T0+7000, 50))
	clock.Set(T0 + 7201)
	// A refusal by the ledger is not retried.
	rec.err = &chain.TxError{Code: contract.CodeWrongRole, Log: "test"}
	g.flush(ctx)
	g.flush(ctx)
	if n := len(rec.all()); n != 2 {
		t.Fatalf("a refused batch was retried")
	}
	// A later reading of the interval makes it due again.
	a6 := mustAccept(t, g, "m-alice", al(6, T0+7100, 60))
	g.flush(ctx)
	msgs = rec.all()
	if len(msgs) != 3 {
		t.Fatalf("%d batches, want 3", len(msgs))
	}
	checkBatch(t, msgs[2], store, T0+3600, map[string][]byte{"m-alice": a6})
	st := g.Stats()
	if st.Batches != 3 || st.Submitted != 4 || st.Accepted != 9 {
		t.Errorf("stats %+v", st)
	}
}

// An interval with more meters than fit in one transaction goes out in
// several, each within the ledger's size limit.
func TestBatchSplit(t *testing.T) {
	noLeaks(t)
	reg := NewRegistry()
	const n = contract.MaxReadingsPerTx + 100
	for i := range n {
		id := fmt.Sprintf("m-%05d", i)
		reg.SetMeter(id, "alice", pub(id), "", "")
	}
	g, clock, rec, _ := batchGateway(t, reg)
	for i := range n {
		id := fmt.Sprintf("m-%05d", i)
		mustAccept(t, g, id, reading.Reading{Meter: id, Registers: reading.Registers{Seq: 1, Time: T0 + 60, ImportWh: int64(i)}})
	}
	clock.Set(T0 + 3601)
	g.flush(context.Background())
	msgs := rec.all()
	total := 0
	for _, m := range msgs {
		tx, err := contract.SignType(key("op"), community, "op", 1<<60, contract.TypeReadings, m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := contract.DecodeTx(tx); err != nil {
			t.Fatalf("batch of %d: %v", len(m.Readings), err)
		}
		total += len(m.Readings)
	}
	if total != n || len(msgs) < 2 {
		t.Fatalf("%d readings in %d transactions", total, len(msgs))
	}
	t.Logf("%d readings in %d transactions of at most %d bytes", n, len(msgs), contract.MaxReadingsTxBytes)
}

// The gateway's own loop flushes when the clock passes an interval.
func TestFlushLoop(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, testRegistry())
	e.gw.cfg.FlushEvery = 10 * time.Millisecond
	e.start(t)
	d := e.device(t, "m-alice")
	pubReading(t, d, 1, T0+60, 10)
	eventually(t, 5*time.Second, "the reading", func() bool { return e.gw.Stats().Accepted == 1 })
	e.clock.Set(T0 + 3601)
	eventually(t, 5*time.Second, "the batch", func() bool { return len(e.rec.all()) == 1 })
}

// With a grace period the gateway holds an interval's batch until readings
// dated at its end have had time to arrive: submitting at the end itself
// would let the ledger settle the interval without them.
func TestBatchWaitsForGrace(t *testing.T) {
	noLeaks(t)
	reg := NewRegistry()
	reg.SetMeter("m-1", "alice", pub("m-1"), "", "")
	g, clock, rec, _ := batchGateway(t, reg)
	g.cfg.GraceS = 300
	mustAccept(t, g, "m-1", reading.Reading{Meter: "m-1", Registers: reading.Registers{Seq: 1, Time: T0 + 60, ImportWh: 10}})
	clock.Set(T0 + 3600 + 299)
	g.flush(context.Background())
	if n := len(rec.all()); n != 0 {
		t.Fatalf("%d batches inside the grace period", n)
	}
	mustAccept(t, g, "m-1", reading.Reading{Meter: "m-1", Registers: reading.Registers{Seq: 2, Time: T0 + 3600, ImportWh: 25}})
	clock.Set(T0 + 3600 + 301)
	g.flush(context.Background())
	msgs := rec.all()
	if len(msgs) != 1 || len(msgs[0].Readings) != 1 {
		t.Fatalf("batches after the grace period: %+v", msgs)
	}
	var r reading.Reading
	if err := msgs[0].Readings[0].Parse(&r); err != nil || r.Seq != 2 || r.ImportWh != 25 {
		t.Fatalf("batched reading %+v (%v), want the one dated at the interval's end", r, err)
	}
}

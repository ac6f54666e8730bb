package meter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/freeport"
)

const community = "test-community"

// T0 is the market time the tests start at: an interval boundary.
const T0 = int64(1_767_225_600) // 2026-01-01T00:00:00Z

// key is a fixed key per name, so catalogue payloads are the same on
// every run (ed25519 signatures are deterministic).
func key(name string) ed25519.PrivKey {
	return ed25519.GenPrivKeyFromSecret([]byte("gridledger-test/" + name))
}

func pub(name string) []byte { return key(name).PubKey().Bytes() }

// fakeClock is a settable market clock.
type fakeClock struct{ t atomic.Int64 }

func newFakeClock(t int64) *fakeClock {
	c := &fakeClock{}
	c.t.Store(t)
	return c
}

func (c *fakeClock) Now() int64      { return c.t.Load() }
func (c *fakeClock) Set(t int64)     { c.t.Store(t) }
func (c *fakeClock) Advance(d int64) { c.t.Add(d) }

// recorder is a Submitter that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	msgs []*contract.MsgReadings
	err  error // returned (once) if set
}

func (r *recorder) Submit(_ context.Context, m *contract.MsgReadings) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.err; err != nil {
		r.err = nil
		return err
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) all() []*contract.MsgReadings {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*contract.MsgReadings(nil), r.msgs...)
}

// testLog logs to the test at debug when -v, else discards.
func testLog(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// community registry used by most tests:
//
//	alice (member)  meter m-alice, own key
//	bob (suspended) meter m-bob, own key
//	carol (member)  meter m-carol, own key
//	op (operator)   gateway gw-1; meters plug-1 (consumption) and pv-1 (RES alice-pv), read by gw-1
func testRegistry() *Registry {
	r := NewRegistry()
	r.SetMeter("m-alice", "alice", pub("m-alice"), "", "")
	r.SetMeter("m-bob", "bob", pub("m-bob"), "", "")
	r.SetMeter("m-carol", "carol", pub("m-carol"), "", "")
	r.SetGateway("gw-1", "op", pub("gw-1"))
	r.SetMeter("plug-1", "alice", nil, "gw-1", "")
	r.SetMeter("pv-1", "alice", nil, "gw-1", "alice-pv")
	r.SetSuspended("bob", true)
	return r
}

// env is a broker and a gateway on it.
type env struct {
	reg    *Registry
	broker *Broker
	gw     *Gateway
	clock  *fakeClock
	rec    *recorder
	store  string
	url    string
}

func newEnv(t testing.TB, reg *Registry) *env {
	t.Helper()
	e := &env{reg: reg, clock: newFakeClock(T0 + 600), rec: &recorder{}, store: t.TempDir()}
	b, err := NewBroker(BrokerConfig{Addr: "127.0.0.1:0", Community: community}, reg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	e.broker, e.url = b, "tcp://"+b.Addr()
	e.gw = NewGateway(GatewayConfig{Community: community, DeviceID: "gw-1", DeviceKey: key("gw-1"), Broker: b,
		StoreDir: e.store, Clock: e.clock, IntervalS: 3600, SkewS: 120, FlushEvery: time.Hour}, reg, e.rec, testLog(t))
	t.Cleanup(func() {
		e.gw.Close()
		b.Close()
	})
	return e
}

func (e *env) start(t testing.TB) {
	t.Helper()
	if err := e.gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (e *env) device(t testing.TB, id string) *Device {
	t.Helper()
	d := &Device{ID: id, Key: key(id), Community: community, Broker: e.url, QoS: 1}
	if err := d.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noLeaks fails the test if goroutines of this package, mochi or paho
// started during it are still running shortly after its cleanups. (Other
// libraries' goroutines, such as CometBFT's in TestLedger, are theirs to
// manage.)
func noLeaks(t *testing.T) {
	before := ours()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for {
			now := ours()
			if len(now) <= len(before) {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutines leaked: %d before, %d after\n%s", len(before), len(now), strings.Join(now, "\n\n"))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// ours lists the stacks of running goroutines that involve this package,
// mochi or paho, except the caller's.
func ours() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // the caller
		}
		if strings.Contains(g, "internal/meter.") || strings.Contains(g, "mochi-mqtt") || strings.Contains(g, "paho.mqtt") {
			out = append(out, g)
		}
	}
	return out
}

// freePort finds a free loopback port (internal/freeport).
func freePort(t testing.TB) int {
	t.Helper()
	p, err := freeport.Range(1)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return v
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

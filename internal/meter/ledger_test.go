package meter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
)

// The whole path on a real node: the registry and the clock come from
// the ledger, a device's signed reading and a Tasmota plug's payload go
// through the embedded broker and the gateway, and the ChainSubmitter
// puts them on the ledger, which accepts them (device- and
// gateway-signed).
func TestLedger(t *testing.T) {
	noLeaks(t)
	home := t.TempDir()
	o, err := chain.FastInitOptions() // a 15-minute interval every 2 s
	if err != nil {
		t.Fatal(err)
	}
	o.ChainID = community
	if err := chain.Init(home, o); err != nil {
		t.Fatal(err)
	}
	node, err := chain.StartNode(context.Background(), home, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer node.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := chain.Dial(node.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	op, err := chain.LoadKey(home, "operator")
	if err != nil {
		t.Fatal(err)
	}
	alice := chain.NewKey("alice", contract.RoleMember)
	for _, m := range []contract.Msg{
		&contract.MsgRegisterParticipant{ID: "alice", Role: contract.RoleMember, NodeType: contract.NodeTypes[0], PubKey: alice.PubKey()},
		&contract.MsgRegisterGateway{ID: "gw-1", Owner: "alice", PubKey: pub("gw-1")},
		&contract.MsgRegisterMeter{ID: "m-alice", Owner: "alice", PubKey: pub("m-alice")},
		&contract.MsgRegisterMeter{ID: "plug-1", Owner: "alice", Gateway: "gw-1"},
	} {
		if _, err := cl.Submit(ctx, op, "", m); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
	}

	reg := NewRegistry()
	reg.Reader = &op
	if err := reg.Refresh(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if s := reg.view(); s.intervalS != 900 || s.meters["plug-1"].Gateway != "gw-1" || len(s.gateways["gw-1"].PubKey) != 32 {
		t.Fatalf("registry %+v", s)
	}
	clock := &LedgerClock{Client: cl}
	if err := clock.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { clock.Run(runCtx, 100*time.Millisecond, testLog(t)); close(done) }()
	defer func() { stop(); <-done }()

	b, err := NewBroker(BrokerConfig{Addr: "127.0.0.1:0", Community: community}, reg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	store := t.TempDir()
	g := NewGateway(GatewayConfig{Community: community, DeviceID: "gw-1", DeviceKey: key("gw-1"), Broker: b,
		StoreDir: store, Clock: clock, FlushEvery: 50 * time.Millisecond},
		reg, ChainSubmitter{Client: cl, Key: alice, Log: testLog(t)}, testLog(t))
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	d := &Device{ID: "m-alice", Key: key("m-alice"), Community: community, Broker: "tcp://" + b.Addr(), QoS: 1}
	if err := d.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	plug := &Device{ID: "plug-1", Community: community, Broker: "tcp://" + b.Addr(), Password: Password(key("gw-1"), community, "plug-1")}
	if err := plug.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer plug.Close()
	if err := d.PublishReading(ctx, reading.Reading{Registers: reading.Registers{Seq: 1, Time: clock.Now(), ImportWh: 100, ExportWh: 3}}); err != nil {
		t.Fatal(err)
	}
	if err := plug.publish(ctx, "tele/plug-1/SENSOR", []byte(tasmotaSensor("4.2")), 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "both readings at the gateway", func() bool { return g.Stats().Accepted == 2 })
	var meters []contract.Meter
	eventually(t, 30*time.Second, "both readings on the ledger", func() bool {
		if err := cl.QueryAs(ctx, op, "/meters", &meters); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range meters {
			if m.Last != nil {
				n++
			}
		}
		return n == 2
	})
	for _, m := range meters {
		want := reading.Registers{Seq: 1, ImportWh: 100, ExportWh: 3}
		if m.ID == "plug-1" {
			want = reading.Registers{Seq: m.Last.Seq, ImportWh: 4200}
		}
		want.Time = m.Last.Time
		if *m.Last != want {
			t.Errorf("%s on the ledger: %+v, want %+v", m.ID, *m.Last, want)
		}
	}
	if st := g.Stats(); st.Submitted != 2 || len(st.Rejected) != 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("ledger meters: %s", fmt.Sprint(meters))

	// alice leaves: once her intervals are settled her meters leave the
	// ledger, and the gateway erases their fine data — not before.
	if erased := g.EraseDeparted(); len(erased) != 0 {
		t.Fatalf("erased %v while alice is a member", erased)
	}
	for _, id := range []string{"m-alice", "plug-1"} {
		if _, err := os.Stat(filepath.Join(store, id)); err != nil {
			t.Fatalf("no fine data of %s: %v", id, err)
		}
	}
	if _, err := cl.Submit(ctx, op, "", &contract.MsgOffboard{Member: "alice"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "alice's meters off the ledger", func() bool {
		if err := cl.Query(ctx, "/meters", &meters); err != nil {
			t.Fatal(err)
		}
		return len(meters) == 0
	})
	if err := reg.Refresh(ctx, cl); err != nil {
		t.Fatal(err)
	}
	erased := g.EraseDeparted()
	slices.Sort(erased)
	if !slices.Equal(erased, []string{"m-alice", "plug-1"}) {
		t.Errorf("erased %v", erased)
	}
	for _, id := range []string{"m-alice", "plug-1"} {
		if _, err := os.Stat(filepath.Join(store, id)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("fine data of %s after alice left: %v", id, err)
		}
	}
}

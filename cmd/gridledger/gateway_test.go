package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
	"github.com/gridledger/gridledger/internal/rpcguard"
)

// startMosquitto runs Debian's broker on a free loopback port, anonymous
// access allowed (the gateway checks every reading's signature itself).
func startMosquitto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto" // not always on PATH
	}
	addr := strings.TrimPrefix(freeAddr(t), "tcp://")
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	os.WriteFile(conf, []byte("listener "+port+" 127.0.0.1\nallow_anonymous true\npersistence false\n"), 0o600)
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatalf("mosquitto (apt-get install mosquitto): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatal("mosquitto did not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGatewaysPerFeederThroughMosquitto: two feeders, each with its own
// mosquitto broker and its own gateway process (gridledger gateway), feed
// one chain. Each meter's signed reading, published with Debian's
// mosquitto_pub to its feeder's broker, reaches the ledger in a readings
// transaction signed by that feeder's gateway operator.
func TestGatewaysPerFeederThroughMosquitto(t *testing.T) {
	home := t.TempDir()
	h := []string{"--home", home}
	ok(t, append([]string{"init", "--time-scale", "1800", "--rpc-laddr", freeAddr(t), "--p2p-laddr", freeAddr(t),
		"--mqtt-addr", strings.TrimPrefix(freeAddr(t), "tcp://"), "--api-addr", "off"}, h...)...)
	defer startNode(t, h)()
	cfg, _, err := chain.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	rpc := cfg.RPC.ListenAddress
	cl, err := chain.Dial(rpc)
	if err != nil {
		t.Fatal(err)
	}
	type feeder struct {
		name, broker, gwHome string
		meter                chain.Key
	}
	feeders := []*feeder{{name: "f1"}, {name: "f2"}}
	for _, f := range feeders {
		f.broker = startMosquitto(t)
		f.gwHome = t.TempDir()
		g := []string{"--home", f.gwHome}
		signer, device := "gw-"+f.name, "gw-"+f.name+"-device"
		ok(t, append([]string{"keys", "add", signer}, g...)...)
		ok(t, append([]string{"keys", "add", device}, g...)...)
		sk := okJSON[struct {
			PubKey string `json:"pub_key"`
		}](t, append([]string{"keys", "show", signer, "--output", "json"}, g...)...)
		dk := okJSON[struct {
			PubKey string `json:"pub_key"`
		}](t, append([]string{"keys", "show", device, "--output", "json"}, g...)...)
		// The operator registers the feeder's gateway operator and its device.
		ok(t, append([]string{"tx", "register", "--id", signer, "--pub-key", sk.PubKey, "--node-type", "non-residential"}, h...)...)
		ok(t, append([]string{"tx", "register-gateway", "--id", device, "--owner", signer, "--pub-key", dk.PubKey}, h...)...)
		// A household on the feeder, with a meter that signs.
		member := "home-" + f.name
		f.meter = chain.NewKey(member+"-meter", "")
		ok(t, append([]string{"keys", "add", member}, h...)...)
		ok(t, append([]string{"tx", "register", "--key", member}, h...)...)
		ok(t, append([]string{"tx", "register-meter", "--id", f.meter.ID, "--owner", member, "--pub-key", base64.StdEncoding.EncodeToString(f.meter.PubKey())}, h...)...)
		gw := exec.Command(binary, append([]string{"gateway", "--node", rpc, "--mqtt-url", "tcp://" + f.broker, "--id", device, "--signer", signer, "--device-key", device, "--log-level", "warn"}, g...)...)
		var errb strings.Builder
		gw.Stderr = &errb
		if err := gw.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			gw.Process.Signal(os.Interrupt)
			gw.Wait()
			if t.Failed() {
				t.Logf("gateway %s:\n%s", f.name, errb.String())
			}
		}()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	// Each meter publishes readings to its own feeder's broker until the
	// ledger has one: those published before its gateway subscribed are
	// lost, the next ones are not.
	accepted := func(meter string) int64 {
		var ms []contract.Meter
		cl.Query(ctx, "/meters", &ms)
		for _, m := range ms {
			if m.ID == meter {
				return m.Accepted
			}
		}
		return 0
	}
	for seq := uint64(1); ; seq++ {
		var in contract.Info
		if err := cl.Query(ctx, "/info", &in); err != nil {
			t.Fatal(err)
		}
		done := true
		for _, f := range feeders {
			if accepted(f.meter.ID) > 0 {
				continue
			}
			done = false
			s, err := reading.Sign(f.meter.PrivKey, reading.Reading{Meter: f.meter.ID, Registers: reading.Registers{Seq: seq, Time: in.MarketTime, ImportWh: int64(seq) * 100}})
			if err != nil {
				t.Fatal(err)
			}
			host, port, _ := net.SplitHostPort(f.broker)
			topic := fmt.Sprintf("gridledger/%s/meters/%s/reading", cl.ChainID, f.meter.ID)
			if out, err := exec.CommandContext(ctx, "mosquitto_pub", "-h", host, "-p", port, "-q", "1", "-t", topic, "-m", string(s.Marshal())).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_pub: %v %s", err, out)
			}
		}
		if done {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("readings never reached the ledger: f1 %d, f2 %d", accepted(feeders[0].meter.ID), accepted(feeders[1].meter.ID))
		}
		time.Sleep(time.Second)
	}
	// Each reading came in a transaction signed by its own feeder's gateway.
	// Blocks are the consortium's to read (the node's RPC is guarded): read
	// them as the operator.
	op, err := chain.LoadKey(home, "operator")
	if err != nil {
		t.Fatal(err)
	}
	ocl, err := rpcguard.NewClient(rpc, rpcguard.Signer{ChainID: cl.ChainID, ID: op.ID, Key: op.PrivKey}, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := cl.RPC.Status(ctx)
	carriedBy := map[string]string{}
	for hgt := int64(1); hgt <= st.SyncInfo.LatestBlockHeight; hgt++ {
		b, err := ocl.Block(ctx, &hgt)
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range b.Block.Txs {
			tx, err := contract.DecodeTx(raw)
			if err != nil || tx.Type != contract.TypeReadings {
				continue
			}
			for _, e := range tx.Message.(*contract.MsgReadings).Readings {
				var r reading.Reading
				if e.Parse(&r) == nil {
					carriedBy[r.Meter] = tx.Signer
				}
			}
		}
	}
	for _, f := range feeders {
		if got := carriedBy[f.meter.ID]; got != "gw-"+f.name {
			t.Errorf("%s's readings came signed by %q, want gw-%s (all: %v)", f.meter.ID, got, f.name, carriedBy)
		}
	}
}

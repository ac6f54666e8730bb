package meter

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
)

func tasmotaSensor(totalKWh string) string {
	return `{"Time":"2026-01-01T00:10:00","ENERGY":{"TotalStartTime":"2025-01-01T00:00:00","Total":` + totalKWh +
		`,"Yesterday":1.200,"Today":0.300,"Power":450,"ApparentPower":460,"ReactivePower":90,"Factor":0.98,"Voltage":230,"Current":1.957}}`
}

// storedReadings decodes a meter's stored readings, in order.
func storedReadings(t testing.TB, store, meter string) []reading.Signed {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(store, meter, "*.jsonl"))
	var out []reading.Signed
	for _, f := range files {
		sc := bufio.NewScanner(bytes.NewReader(readFile(t, f)))
		for sc.Scan() {
			s, _, err := reading.Decode(sc.Bytes())
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, s)
		}
	}
	return out
}

func parse(t testing.TB, s reading.Signed) reading.Reading {
	t.Helper()
	var r reading.Reading
	if err := s.Parse(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

// Debian's mosquitto_pub plays a Tasmota plug: it logs in with the
// password its gateway derived for it and publishes tele/<id>/SENSOR; the
// gateway turns that into a reading signed with its own device key.
func TestMosquittoPubTasmota(t *testing.T) {
	noLeaks(t)
	e := newEnv(t, testRegistry())
	e.start(t)
	host, port, _ := strings.Cut(e.broker.Addr(), ":")
	pubAs := func(id, topic, payload string) {
		mosquittoPub(t, "-h", host, "-p", port, "-V", "mqttv311", "-q", "1", "-i", id,
			"-u", id, "-P", Password(key("gw-1"), community, id), "-t", topic, "-m", payload)
	}
	pubAs("plug-1", "tele/plug-1/SENSOR", tasmotaSensor("12.345"))
	eventually(t, 5*time.Second, "plug-1's reading", func() bool { return e.gw.Stats().Accepted == 1 })
	e.clock.Advance(60)
	pubAs("plug-1", "tele/plug-1/SENSOR", tasmotaSensor("12.400"))
	// A RES meter: what the clamp measures is production.
	pubAs("pv-1", "tele/pv-1/SENSOR", tasmotaSensor("3.21"))
	// Not energy: ignored, not refused.
	pubAs("plug-1", "shellies/plug-1/relay/0", "on")
	// plug-1 may not speak for pv-1: the broker drops it (QoS 0).
	mosquittoPub(t, "-h", host, "-p", port, "-V", "mqttv311", "-q", "0", "-i", "plug-1",
		"-u", "plug-1", "-P", Password(key("gw-1"), community, "plug-1"), "-t", "tele/pv-1/SENSOR", "-m", tasmotaSensor("99"))
	eventually(t, 5*time.Second, "three readings", func() bool { return e.gw.Stats().Accepted == 3 })
	eventually(t, 5*time.Second, "the relay state message", func() bool { return e.gw.Stats().Ignored == 1 })
	if st := e.gw.Stats(); len(st.Rejected) != 0 {
		t.Errorf("refused: %v", st.Rejected)
	}
	eventually(t, 5*time.Second, "the ACL refusal", func() bool { return e.broker.Refused()[refuseACLPublish] == 1 })

	plug := storedReadings(t, e.store, "plug-1")
	if len(plug) != 2 {
		t.Fatalf("plug-1: %d readings stored", len(plug))
	}
	for i, want := range []reading.Reading{
		{Meter: "plug-1", Registers: reading.Registers{Time: T0 + 600, ImportWh: 12345}},
		{Meter: "plug-1", Registers: reading.Registers{Time: T0 + 660, ImportWh: 12400}},
	} {
		s := plug[i]
		if !s.Verify(pub("gw-1")) || s.Verify(pub("m-alice")) {
			t.Errorf("reading %d does not verify under the gateway's key (only)", i)
		}
		r := parse(t, s)
		want.Seq = r.Seq
		if r != want || r.Seq == 0 || (i > 0 && r.Seq <= parse(t, plug[i-1]).Seq) {
			t.Errorf("reading %d: %+v, want %+v with a rising seq", i, r, want)
		}
	}
	pv := storedReadings(t, e.store, "pv-1")
	if len(pv) != 1 {
		t.Fatalf("pv-1: %d readings stored", len(pv))
	}
	if r := parse(t, pv[0]); r.ProductionWh != 3210 || r.ImportWh != 0 || r.ExportWh != 0 || !pv[0].Verify(pub("gw-1")) {
		t.Errorf("pv-1 reading %+v", r)
	}

	// Demand response: the gateway switches the plug with Tasmota's own
	// command, which mosquitto_sub (as the plug) receives.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sub := exec.CommandContext(ctx, "mosquitto_sub", "-h", host, "-p", port, "-V", "mqttv311", "-i", "plug-1-sub",
		"-u", "plug-1", "-P", Password(key("gw-1"), community, "plug-1"), "-t", "cmnd/plug-1/#", "-C", "1", "-v")
	var out bytes.Buffer
	sub.Stdout = &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sub.Wait() }()
	// Until mosquitto_sub has subscribed the command goes nowhere: repeat.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		if err := e.gw.SwitchRelay(ctx, "plug-1", false); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("mosquitto_sub: %v", err)
			}
			break wait
		case <-tick.C:
		}
	}
	if got := strings.TrimSpace(out.String()); got != "cmnd/plug-1/POWER OFF" {
		t.Errorf("mosquitto_sub got %q", got)
	}
}

// A restarted gateway continues its sequence numbers above anything it
// signed before (persisted in the store) and refuses replays of readings
// it accepted before the restart, though the ledger never saw them.
func TestGatewayRestart(t *testing.T) {
	noLeaks(t)
	reg := testRegistry()
	store := t.TempDir()
	clock := newFakeClock(T0 + 600)
	newGW := func() *Gateway {
		return NewGateway(GatewayConfig{Community: community, DeviceID: "gw-1", DeviceKey: key("gw-1"),
			StoreDir: store, Clock: clock, IntervalS: 3600, SkewS: 120}, reg, &recorder{}, testLog(t))
	}
	g := newGW()
	if err := g.seqs.load(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if it := g.handle("tele/plug-1/SENSOR", []byte(tasmotaSensor(fmt.Sprint(10+i)))); it.code != 0 || it.skip {
			t.Fatalf("native reading %d: %s", i, it.code.Name())
		}
	}
	alice := signed("m-alice", reading.Reading{Meter: "m-alice", Registers: reading.Registers{Seq: 5, Time: T0 + 60, ImportWh: 10}})
	if it := g.handle(readingTopic(community, "m-alice"), alice); it.code != 0 {
		t.Fatalf("alice: %s", it.code.Name())
	}
	lastSeq := parse(t, storedReadings(t, store, "plug-1")[2]).Seq
	g.Close()

	g = newGW()
	if err := g.seqs.load(); err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if it := g.handle(readingTopic(community, "m-alice"), alice); it.code != contract.CodeReplay {
		t.Errorf("alice's reading replayed after a restart: %s, want replay", it.code.Name())
	}
	if it := g.handle("tele/plug-1/SENSOR", []byte(tasmotaSensor("13"))); it.code != 0 {
		t.Fatalf("native reading after restart: %s", it.code.Name())
	}
	rs := storedReadings(t, store, "plug-1")
	if seq := parse(t, rs[3]).Seq; seq <= lastSeq {
		t.Errorf("seq %d after restart, last before %d", seq, lastSeq)
	}
	// A counter that went back (the plug was reset) is refused.
	if it := g.handle("tele/plug-1/SENSOR", []byte(tasmotaSensor("1"))); it.code != contract.CodeRegistersBackwards {
		t.Errorf("reset counter: %s", it.code.Name())
	}
	// The interval the ledger has not seen is still due after the restart.
	clock.Set(T0 + 3601)
	rec := &recorder{}
	g.submit = rec
	g.flush(context.Background())
	msgs := rec.all()
	if len(msgs) != 1 || len(msgs[0].Readings) != 2 {
		t.Fatalf("after restart submitted %d batches %v", len(msgs), msgs)
	}
	if r := parse(t, msgs[0].Readings[1].Signed); r.Meter != "plug-1" || r.ImportWh != 13000 {
		t.Errorf("plug-1's interval reading %+v", r)
	}
}

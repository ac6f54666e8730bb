package meter

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/reading"
)

// lockedBuffer is a log sink the gateway's goroutines write to while the
// test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// catalogueFile is a payload of internal/meter/format's catalogue.
func catalogueFile(name string) string {
	return filepath.Join("format", "testdata", filepath.FromSlash(name))
}

// Payloads other meters than the plugs of the other tests publish, through
// Debian's mosquitto and published by Debian's mosquitto_pub: a Shelly's
// component status on <prefix>/status/switch:0 (the status object without
// its key: the gateway knows it from the topic), a DSMR 2.2 telegram without
// CRC, and a Kaifa DSMR 4.2 telegram whose equipment id is plain digits. All
// three become readings signed by the gateway; the unusual fields are
// logged, once per topic while they do not change, and cost no energy.
func TestGatewayReadsEveryCommonMeterThroughMosquitto(t *testing.T) {
	noLeaks(t)
	m := startMosquitto(t)
	reg := testRegistry()
	for _, id := range []string{"shelly-1", "p1-22", "p1-42"} {
		reg.SetMeter(id, "carol", nil, "gw-1", "")
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e := &env{reg: reg, clock: newFakeClock(T0 + 600), rec: &recorder{}, store: t.TempDir(), url: m.url()}
	e.gw = NewGateway(GatewayConfig{Community: community, DeviceID: "gw-1", DeviceKey: key("gw-1"), MQTTURL: m.url(),
		StoreDir: e.store, Clock: e.clock, IntervalS: 3600, SkewS: 120, FlushEvery: time.Hour}, reg, e.rec, log)
	t.Cleanup(func() { e.gw.Close() })
	e.start(t)
	host, port, _ := strings.Cut(strings.TrimPrefix(m.url(), "tcp://"), ":")
	publish := func(id, topic, file string) {
		mosquittoPub(t, "-h", host, "-p", port, "-V", "mqttv311", "-q", "1", "-i", id+"-pub", "-t", topic, "-f", catalogueFile(file))
	}

	publish("shelly-1", "shelly-1/status/switch:0", "shelly-gen2/status_switch_plus1pm.json")
	publish("p1-22", "dsmr/p1-22/telegram", "dsmr/nl_dsmr22_iskra_mt382.txt")
	publish("p1-42", "dsmr/p1-42/telegram", "dsmr/nl_dsmr42_kaifa_digits_id.txt")
	// Power only: skipped, not refused.
	mosquittoPub(t, "-h", host, "-p", port, "-V", "mqttv311", "-q", "1", "-t", "shelly-1/status/em:0", "-m", `{"id":0,"total_act_power":5}`)
	eventually(t, 10*time.Second, "three readings", func() bool { return e.gw.Stats().Accepted == 3 })
	eventually(t, 10*time.Second, "the em:0 status", func() bool { return e.gw.Stats().Ignored == 1 })
	for id, want := range map[string]reading.Registers{
		"shelly-1": {ImportWh: 123457, ExportWh: 13},     // aenergy 123456.532 Wh, ret_aenergy 12.5 Wh
		"p1-22":    {ImportWh: 9753777, ExportWh: 35801}, // 4321.123 + 5432.654 kWh; 12.345 + 23.456 kWh
		"p1-42":    {ImportWh: 4516829, ExportWh: 0},     // 2581.123 + 1935.706 kWh
	} {
		got := e.gw.lastAccepted(id)
		if got == nil || got.ImportWh != want.ImportWh || got.ExportWh != want.ExportWh || got.Time != T0+600 {
			t.Errorf("%s: last reading %+v, want %d/%d Wh at the gateway's time", id, got, want.ImportWh, want.ExportWh)
		}
		rs := storedReadings(t, e.store, id)
		if len(rs) != 1 || !rs[0].Verify(pub("gw-1")) {
			t.Errorf("%s: %d readings stored, or not signed by the gateway", id, len(rs))
		}
	}

	// The same telegram again, and a DSO-exchanged meter's new one: the
	// unchanged note is not logged again.
	e.clock.Advance(60)
	publish("p1-42", "dsmr/p1-42/telegram", "dsmr/nl_dsmr42_kaifa_digits_id.txt")
	eventually(t, 10*time.Second, "the repeated telegram", func() bool { return e.gw.Stats().Accepted == 4 })
	out := logs.String()
	for _, want := range []string{
		`meter=p1-42 topic=dsmr/p1-42/telegram field=0-0:96.1.1 raw=3960221976967177081234567890123456 why="equipment id is not hex-encoded ASCII: kept as written"`,
		`meter=p1-22 topic=dsmr/p1-22/telegram field=0-0:96.1.1 raw=00000000000000 why="equipment id is not hex-encoded ASCII: no device id read from it"`,
	} {
		if strings.Count(out, want) != 1 {
			t.Errorf("log has %d times\n%s\nwant once; log:\n%s", strings.Count(out, want), want, out)
		}
	}
	if strings.Contains(out, "meter=shelly-1") && strings.Contains(out, "tolerated") {
		t.Errorf("the Shelly status on its topic needs no note:\n%s", out)
	}
	if st := e.gw.Stats(); len(st.Rejected) != 0 {
		t.Errorf("refused: %v", st.Rejected)
	}
}

package meter

import (
	"log/slog"
	"testing"

	"github.com/gridledger/gridledger/internal/meter/format"
	"github.com/gridledger/gridledger/internal/reading"
)

// FuzzHandlePayload feeds arbitrary topics and payloads to the gateway's
// handler: it must never panic, and a message counts as accepted only if
// it is a reading signed by its meter's registered key, or a native
// payload of a meter this gateway reads (which the gateway signs itself).
func FuzzHandlePayload(f *testing.F) {
	for _, c := range catalogue() {
		f.Add(readingTopic(community, c.device), c.payload)
	}
	f.Add("tele/plug-1/SENSOR", []byte(tasmotaSensor("12.345")))
	f.Add("tele/pv-1/SENSOR", []byte(tasmotaSensor("1")))
	f.Add("tele/m-alice/SENSOR", []byte(tasmotaSensor("1")))
	f.Add("shellies/plug-1/emeter/0/total", []byte("1234.5"))
	f.Add("plug-1/events/rpc", []byte(`{"src":"plug-1","method":"NotifyStatus","params":{"ts":1767225600,"switch:0":{"aenergy":{"total":10.5}}}}`))
	f.Add("dsmr/plug-1/telegram", []byte("/ISk5\\2MT382-1000\r\n\r\n1-0:1.8.1(000123.456*kWh)\r\n!0000\r\n"))
	f.Add("gridledger/"+community+"/devices/m-alice/cmd", []byte(`{"relay":"on"}`))
	// A component status on its topic, and telegrams with tolerated fields.
	for topic, file := range map[string]string{
		"plug-1/status/switch:0": "shelly-gen2/status_switch_plus1pm.json",
		"plug-1/status/emdata:0": "shelly-gen2/status_emdata_pro3em.json",
		"plug-1/status/em:0":     "shelly-gen2/status_em_pro3em.json",
		"dsmr/plug-1/telegram":   "dsmr/nl_dsmr22_iskra_mt382.txt",
		"dsmr/pv-1/telegram":     "dsmr/nl_dsmr42_kaifa_digits_id.txt",
		"dsmr/plug-1/telegram/x": "dsmr/nl_dsmr5_iskra_stx_header.txt",
	} {
		f.Add(topic, readFile(f, catalogueFile(file)))
	}
	reg := testRegistry()
	g := NewGateway(GatewayConfig{Community: community, DeviceID: "gw-1", DeviceKey: key("gw-1"),
		Clock: newFakeClock(T0 + 600), IntervalS: 3600, SkewS: 120}, reg, &recorder{}, slog.New(slog.DiscardHandler)) // f.Log may not be called from the target
	f.Cleanup(func() { g.Close() })
	snap := reg.view()
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		before := g.Stats().Accepted
		it := g.handle(topic, payload)
		accepted := g.Stats().Accepted - before
		if accepted != 0 && (it.skip || it.code != 0) || accepted > 1 {
			t.Fatalf("counted %d accepted for an outcome %+v", accepted, it)
		}
		if accepted == 0 {
			return
		}
		kind, id := parseTopic(community, topic)
		switch kind {
		case topicReading:
			s, r, err := reading.Decode(payload)
			if err != nil || r.Meter != id {
				t.Fatalf("accepted %q on %s: %v", payload, topic, err)
			}
			m := snap.meters[r.Meter]
			k := m.PubKey
			if m.Gateway != "" {
				k = snap.gateways[m.Gateway].PubKey
			}
			if !s.Verify(k) {
				t.Fatalf("accepted a reading that does not verify: %q", payload)
			}
		case topicNative:
			fm, dev, ok := format.Identify(topic)
			if !ok || dev != id || snap.meters[id].Gateway != "gw-1" {
				t.Fatalf("accepted native %q on %s", payload, topic)
			}
			if _, err := format.Decode(fm, topic, payload); err != nil {
				t.Fatalf("accepted undecodable native %q on %s: %v", payload, topic, err)
			}
			if !it.signed.Verify(pub("gw-1")) {
				t.Fatal("gateway-signed reading does not verify")
			}
		default:
			t.Fatalf("accepted a message on %q", topic)
		}
	})
}

package format

import (
	"errors"
	"strings"
	"testing"
)

func notify(method, params string) string {
	return `{"src":"shellypro4pm-f008d1d8b8b8","dst":"shellypro4pm-f008d1d8b8b8/events","method":"` + method + `","params":{` + params + `}}`
}

const pro4pm = "shellypro4pm-f008d1d8b8b8/events/rpc"

func TestShellyGen2AenergyIsWh(t *testing.T) {
	for _, comp := range []string{"switch:0", "cover:0", "light:0", "pm1:0"} {
		r := mustDecode(t, ShellyGen2, pro4pm, notify("NotifyStatus", `"ts":1795615380.99,"`+comp+`":{"id":0,"aenergy":{"total":1234.5,"by_minute":[1,2,3],"minute_ts":1795615380},"ret_aenergy":{"total":0.5}}`))
		if r.ImportWh != 1235 || r.ExportWh != 1 || len(r.Channels) != 1 || r.Channels[0] != (Channel{comp, 1235, 1}) || r.Time == nil || *r.Time != 1795615380 {
			t.Errorf("%s: %s", comp, asJSON(r))
		}
	}
	// Older firmware has no ret_aenergy: nothing returned.
	r := mustDecode(t, ShellyGen2, "shellyplus1pm-a8032ab12345/status/switch:0", `{"id":0,"output":true,"aenergy":{"total":0.25}}`)
	if r.ImportWh != 0 || r.ExportWh != 0 || r.Channels[0].Name != "switch:0" || r.Time != nil {
		t.Errorf("no ret_aenergy: %s", asJSON(r))
	}
}

func TestShellyGen2ChannelsAreSortedAndSummed(t *testing.T) {
	// A Pro 4PM's full status, components in JSON order switch:10, switch:2, switch:0.
	r := mustDecode(t, ShellyGen2, pro4pm, notify("NotifyFullStatus", `"ts":1795615380.01,
		"switch:10":{"aenergy":{"total":10}},"sys":{"unixtime":1},"switch:2":{"aenergy":{"total":2.5}},"input:0":{"state":false},
		"switch:0":{"aenergy":{"total":1000.4},"ret_aenergy":{"total":7}},"switch:3":null,"switch:1":{"output":false}`))
	want := []Channel{{"switch:0", 1000, 7}, {"switch:2", 3, 0}, {"switch:10", 10, 0}}
	if asJSON(r.Channels) != asJSON(want) || r.ImportWh != 1013 || r.ExportWh != 7 {
		t.Errorf("got %s, want channels %s", asJSON(r), asJSON(want))
	}
}

func TestShellyGen2EnergyMetersNeedBothRegisters(t *testing.T) {
	full := `"emdata:0":{"a_total_act_energy":1.4,"a_total_act_ret_energy":0,"b_total_act_energy":2.5,"b_total_act_ret_energy":0.5,"c_total_act_energy":3,"c_total_act_ret_energy":"4 Wh","total_act":6.9,"total_act_ret":4.5}`
	r := mustDecode(t, ShellyGen2, "shellypro3em-c8f09e8a1b2c/events/rpc", notify("NotifyStatus", full))
	if asJSON(r.Channels) != asJSON([]Channel{{"a", 1, 0}, {"b", 3, 1}, {"c", 3, 4}}) || r.ImportWh != 7 || r.ExportWh != 5 {
		t.Errorf("emdata: %s", asJSON(r))
	}
	// Deltas that lack a register are skipped, not read as zero.
	wantErr(t, ShellyGen2, "shellypro3em-c8f09e8a1b2c/events/rpc", notify("NotifyStatus", `"emdata:0":{"a_total_act_energy":1.4,"total_act":6.9}`), ErrNoEnergy)
	wantErr(t, ShellyGen2, "shellyproem50-08f9e0a1b2c3/events/rpc", notify("NotifyStatus", `"em1data:0":{"total_act_energy":1.4}`), ErrNoEnergy)
	wantErr(t, ShellyGen2, "shellyproem50-08f9e0a1b2c3/status/em1data:0", `{"id":0,"total_act_ret_energy":1.4}`, ErrNoEnergy)
	// ... while the complete ones in the same frame are read.
	r = mustDecode(t, ShellyGen2, "shellyproem50-08f9e0a1b2c3/events/rpc",
		notify("NotifyStatus", `"em1data:0":{"total_act_energy":1.4},"em1data:1":{"total_act_energy":10,"total_act_ret_energy":20}`))
	if asJSON(r.Channels) != asJSON([]Channel{{"em1data:1", 10, 20}}) {
		t.Errorf("em1data: %s", asJSON(r))
	}
	// emdata:0 also on a component topic.
	r = mustDecode(t, ShellyGen2, "shellypro3em-c8f09e8a1b2c/status/emdata:0", "{"+full[len(`"emdata:0":{`):])
	if r.ImportWh != 7 || r.ExportWh != 5 {
		t.Errorf("status/emdata:0: %s", asJSON(r))
	}
}

func TestShellyGen2TimeAndDevice(t *testing.T) {
	for _, tc := range []struct {
		topic, payload string
		device         string
		time           int64
	}{
		{"", notify("NotifyStatus", `"ts":1795615380.999,"switch:0":{"aenergy":{"total":1}}`), "shellypro4pm-f008d1d8b8b8", 1795615380},
		{"custom/prefix/events/rpc", notify("NotifyStatus", `"ts":1795615380,"switch:0":{"aenergy":{"total":1}}`), "custom/prefix", 1795615380},
		{"", notify("NotifyStatus", `"ts":31.5,"switch:0":{"aenergy":{"total":1}}`), "shellypro4pm-f008d1d8b8b8", 0}, // clock not set
		// A Shelly.GetStatus body (HTTP): sys.unixtime, no device id.
		{"", `{"switch:0":{"aenergy":{"total":1}},"sys":{"mac":"F008D1D8B8B8","unixtime":1795615380}}`, "", 1795615380},
		{"", `{"switch:0":{"aenergy":{"total":1}},"sys":{"unixtime":null}}`, "", 0},
		// An RPC response to Shelly.GetStatus.
		{"", `{"id":1,"src":"shellyplus1pm-a8032ab12345","dst":"gridledger","result":{"switch:0":{"aenergy":{"total":1}},"sys":{"unixtime":1795615380}}}`, "shellyplus1pm-a8032ab12345", 1795615380},
	} {
		r := mustDecode(t, ShellyGen2, tc.topic, tc.payload)
		if r.DeviceID != tc.device || (tc.time == 0) != (r.Time == nil) || (r.Time != nil && *r.Time != tc.time) {
			t.Errorf("%s: %s, want device %q time %d", tc.payload, asJSON(r), tc.device, tc.time)
		}
	}
}

func TestShellyGen2Errors(t *testing.T) {
	for _, tc := range []struct {
		topic, payload string
		err            error
	}{
		{pro4pm, notify("NotifyEvent", `"ts":1,"events":[{"component":"input:0","event":"single_push"}]`), ErrNoEnergy},
		{pro4pm, notify("NotifyStatus", `"ts":1,"wifi":{"rssi":-60}`), ErrNoEnergy},
		{pro4pm, notify("NotifyStatus", `"ts":1,"switch:0":{"id":0,"aenergy":{"by_minute":[0,0,0]}}`), ErrNoEnergy}, // no total
		{pro4pm, `{"src":"x","method":"NotifyStatus"}`, ErrMalformed},                                               // no params
		{pro4pm, `{"src":"x","method":"NotifyStatus","params":[1]}`, ErrMalformed},
		{pro4pm, `{"switch:0":{"aenergy":{"total":1}}}`, ErrMalformed}, // events/rpc carries notifications only
		{pro4pm, `{"method":7,"params":{}}`, ErrMalformed},
		{pro4pm, notify("NotifyStatus", `"ts":"now","switch:0":{"aenergy":{"total":1}}`), ErrMalformed},
		{pro4pm, notify("NotifyStatus", `"switch:0":{"aenergy":{"total":-1}}`), ErrMalformed},
		{pro4pm, notify("NotifyStatus", `"switch:0":{"aenergy":{"total":1e14}}`), ErrMalformed},
		{pro4pm, notify("NotifyStatus", `"switch:0":{"aenergy":{"total":"1 kW"}}`), ErrUnknownUnits},
		{pro4pm, notify("NotifyStatus", `"switch:0":{"aenergy":5}`), ErrMalformed},
		{pro4pm, notify("NotifyStatus", `"switch:0":"on"`), ErrMalformed},
		{pro4pm, notify("NotifyStatus", `"switch:0":{"aenergy":{"total":9000000000000},"ret_aenergy":{"total":0}},"switch:1":{"aenergy":{"total":9000000000000}}`), ErrMalformed}, // sum > 10 TWh
		{"shellypro3em-c8f09e8a1b2c/events/rpc", notify("NotifyFullStatus",
			`"emdata:0":{"a_total_act_energy":1,"a_total_act_ret_energy":0,"b_total_act_energy":1,"b_total_act_ret_energy":0,"c_total_act_energy":1,"c_total_act_ret_energy":0},`+
				`"emdata:1":{"a_total_act_energy":1,"a_total_act_ret_energy":0,"b_total_act_energy":1,"b_total_act_ret_energy":0,"c_total_act_energy":1,"c_total_act_ret_energy":0}`), ErrMalformed}, // two phase "a"
		{"shellyplus1-a8032abe54dc/status/switch:0", `{"id":0,"output":false}`, ErrNoEnergy}, // Plus 1: no metering
		{"shellyplus1-a8032abe54dc/status/sys", `{"unixtime":1795615380}`, ErrNoEnergy},
		{pro4pm, `{"src":"x","method":"NotifyStatus","params":{"switch:0":{"aenergy":{"total":1`, ErrTruncated},
	} {
		wantErr(t, ShellyGen2, tc.topic, tc.payload, tc.err)
	}
	_, err := Decode(ShellyGen2, "shellypro3em-c8f09e8a1b2c/events/rpc", []byte(notify("NotifyStatus", `"emdata:0":{"a_total_act_energy":1.4}`)))
	if err == nil || !strings.Contains(err.Error(), "only what changed") {
		t.Errorf("a partial delta should say why it is skipped: %v", err)
	}
}

// A component's status published alone on <prefix>/status/<component> has
// no key around it: the topic says what it is; without a topic (a file, an
// HTTP body) its fields do, with a Note saying so.
func TestShellyGen2BareComponent(t *testing.T) {
	for _, tc := range []struct {
		payload string
		key     string
		imp     int64
		exp     int64
	}{
		{`{"id":0,"source":"init","output":true,"apower":8.9,"aenergy":{"total":1234.5,"by_minute":[1,2,3],"minute_ts":1795615380}}`, "switch:0", 1235, 0},
		{`{"id":2,"output":false,"aenergy":{"total":10},"ret_aenergy":{"total":2.5}}`, "switch:2", 10, 3},
		{`{"id":0,"state":"stopped","current_pos":50,"aenergy":{"total":7}}`, "cover:0", 7, 0},
		{`{"id":0,"output":true,"brightness":53,"aenergy":{"total":8}}`, "light:0", 8, 0},
		{`{"id":0,"voltage":230.1,"apower":5,"aenergy":{"total":9},"ret_aenergy":{"total":1}}`, "pm1:0", 9, 1},
		{`{"id":0,"a_total_act_energy":1,"a_total_act_ret_energy":2,"b_total_act_energy":3,"b_total_act_ret_energy":4,"c_total_act_energy":5,"c_total_act_ret_energy":6,"total_act":9,"total_act_ret":12}`, "emdata:0", 9, 12},
		{`{"id":1,"total_act_energy":456789.123,"total_act_ret_energy":98765.5}`, "em1data:1", 456789, 98766},
	} {
		r := mustDecode(t, ShellyGen2, "", tc.payload)
		if r.ImportWh != tc.imp || r.ExportWh != tc.exp || len(r.Notes) != 1 || !strings.Contains(r.Notes[0].Why, "bare "+tc.key+" status") {
			t.Errorf("%s: %s; want %s, %d/%d Wh and a note", tc.payload, asJSON(r), tc.key, tc.imp, tc.exp)
		}
		if tc.key != "emdata:0" && (len(r.Channels) != 1 || r.Channels[0].Name != tc.key) {
			t.Errorf("%s: channels %s, want %s", tc.payload, asJSON(r.Channels), tc.key)
		}
		// On its topic: the same registers, no guess, no note.
		onTopic := mustDecode(t, ShellyGen2, "shellyplus1pm-a8032ab12345/status/"+tc.key, tc.payload)
		if onTopic.ImportWh != tc.imp || onTopic.ExportWh != tc.exp || onTopic.Notes != nil || onTopic.DeviceID != "shellyplus1pm-a8032ab12345" {
			t.Errorf("%s on its topic: %s", tc.key, asJSON(onTopic))
		}
	}
	// An RPC response whose result is one component (Switch.GetStatus).
	r := mustDecode(t, ShellyGen2, "", `{"id":1,"src":"shellyplus1pm-a8032ab12345","result":{"id":0,"output":true,"aenergy":{"total":42}}}`)
	if r.ImportWh != 42 || r.DeviceID != "shellyplus1pm-a8032ab12345" || r.Channels[0].Name != "switch:0" {
		t.Errorf("Switch.GetStatus response: %s", asJSON(r))
	}
	// What cannot be told apart is refused, saying why.
	for _, tc := range []struct{ payload, says string }{
		{`{"id":0,"a_act_power":-18,"total_act_power":-18.017}`, "em status carries power, not energy"},
		{`{"id":0,"act_power":0,"current":0.027}`, "em1 status carries power, not energy"},
		{`{"id":0,"state":false}`, "nor a component status"},
		{`{"id":0,"output":true}`, "give the topic it came on"},
		{`{"id":0,"total_act_energy":5}`, "without its energy counters"}, // half an em1data
	} {
		_, err := Decode(ShellyGen2, "", []byte(tc.payload))
		if !errors.Is(err, ErrNoEnergy) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want ErrNoEnergy saying %q", tc.payload, err, tc.says)
		}
	}
	// Energy stays strict in a bare component too.
	wantErr(t, ShellyGen2, "", `{"id":0,"output":true,"aenergy":{"total":-1}}`, ErrMalformed)
	wantErr(t, ShellyGen2, "", `{"id":0,"output":true,"aenergy":{"total":"5 kvarh"}}`, ErrUnknownUnits)
	// em and em1 topics carry power: the message points at the energy.
	_, err := Decode(ShellyGen2, "shellypro3em-c8f09e8a1b2c/status/em:0", []byte(`{"id":0,"total_act_power":1}`))
	if !errors.Is(err, ErrNoEnergy) || !strings.Contains(err.Error(), "shellypro3em-c8f09e8a1b2c/status/emdata:0") {
		t.Errorf("em:0: %v", err)
	}
	_, err = Decode(ShellyGen2, "shellyproem50-08f9e0a1b2c3/status/em1:1", []byte(`{"id":1,"act_power":1}`))
	if !errors.Is(err, ErrNoEnergy) || !strings.Contains(err.Error(), "status/em1data:1") {
		t.Errorf("em1:1: %v", err)
	}
}

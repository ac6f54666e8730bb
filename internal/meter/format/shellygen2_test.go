package format

import (
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

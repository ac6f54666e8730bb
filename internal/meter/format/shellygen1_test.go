package format

import (
	"strings"
	"testing"
)

func TestShellyGen1CountersAreWattMinutes(t *testing.T) {
	for _, tc := range []struct {
		wmin string
		want int64
	}{
		{"0", 0}, {"29", 0}, {"30", 1}, {"59", 1}, {"60", 1}, {"89", 1}, {"90", 2}, {"1000", 17},
		{"123456789", 2057613}, // 2057613.15
		{"1000\n", 17},         // a trailing newline
		{"1000.0", 17},         // a decimal, still Wmin
	} {
		for _, kind := range []string{"relay/1", "roller/0", "light/0"} {
			topic := "shellies/shellyswitch25-1A2B3C/" + kind + "/energy"
			r := mustDecode(t, ShellyGen1, topic, tc.wmin)
			ch := kind[len(kind)-1:]
			if r.ImportWh != tc.want || r.ExportWh != 0 || len(r.Channels) != 1 || r.Channels[0] != (Channel{ch, tc.want, 0}) || r.DeviceID != "shellyswitch25-1A2B3C" {
				t.Errorf("%s %q Wmin: %s, want %d Wh on channel %s", kind, tc.wmin, asJSON(r), tc.want, ch)
			}
		}
	}
}

func TestShellyGen1EmeterTopicsAreWh(t *testing.T) {
	r := mustDecode(t, ShellyGen1, "shellies/shellyem3-B9A4C2/emeter/2/total", "0.5")
	if r.ImportWh != 1 || r.Channels[0] != (Channel{"2", 1, 0}) {
		t.Errorf("total: %s", asJSON(r))
	}
	r = mustDecode(t, ShellyGen1, "shellies/shellyem3-B9A4C2/emeter/2/total_returned", "1234.49")
	if r.ExportWh != 1234 || r.ImportWh != 0 || r.Channels[0] != (Channel{"2", 0, 1234}) {
		t.Errorf("total_returned: %s", asJSON(r))
	}
	r = mustDecode(t, ShellyGen1, "shellies/shellyem3-B9A4C2/emeter/0/total", "1.2345 kWh") // a bridge that states its unit
	if r.ImportWh != 1235 {
		t.Errorf("stated kWh: %s", asJSON(r))
	}
}

func TestShellyGen1EmeterEnergyIsNotACounter(t *testing.T) {
	for _, topic := range []string{"shellies/shellyem-B9A4C2/emeter/0/energy", "shellies/shellyem-B9A4C2/emeter/0/returned_energy"} {
		_, err := Decode(ShellyGen1, topic, []byte("1234"))
		if err == nil || !strings.Contains(err.Error(), "not a cumulative counter") {
			t.Errorf("%s: %v, want ErrNoEnergy saying why", topic, err)
		}
		wantErr(t, ShellyGen1, topic, "1234", ErrNoEnergy)
	}
}

func TestShellyGen1Status(t *testing.T) {
	// Shelly 2.5: two metered relays, Wmin.
	r := mustDecode(t, ShellyGen1, "shellies/shellyswitch25-1A2B3C/info",
		`{"unixtime":1795615380,"mac":"1A2B3C4D5E6F","meters":[{"power":0,"is_valid":true,"total":90},{"power":5,"is_valid":true,"total":150}]}`)
	if r.ImportWh != 5 || len(r.Channels) != 2 || r.Channels[0] != (Channel{"0", 2, 0}) || r.Channels[1] != (Channel{"1", 3, 0}) ||
		r.DeviceID != "shellyswitch25-1A2B3C" || r.Time == nil || *r.Time != 1795615380 {
		t.Errorf("2.5: %s", asJSON(r))
	}
	// Shelly 3EM: emeters in Wh, and emeters win over any meters (the same energy).
	r = mustDecode(t, ShellyGen1, "", `{"mac":"ABC","meters":[{"total":600000}],"emeters":[{"total":1.5,"total_returned":0.4},{"total":2,"total_returned":"3"},{"total":0.49}]}`)
	if r.ImportWh != 4 || r.ExportWh != 3 || len(r.Channels) != 3 || r.Channels[0] != (Channel{"0", 2, 0}) || r.DeviceID != "ABC" {
		t.Errorf("3EM: %s", asJSON(r))
	}
	// An unmetered channel among metered ones keeps the others' names.
	r = mustDecode(t, ShellyGen1, "", `{"meters":[{"power":0,"is_valid":true},{"power":1,"total":60}]}`)
	if len(r.Channels) != 1 || r.Channels[0] != (Channel{"1", 1, 0}) || r.DeviceID != "" || r.Time != nil {
		t.Errorf("unmetered channel 0: %s", asJSON(r))
	}
	// unixtime 0: the clock was never synced.
	r = mustDecode(t, ShellyGen1, "", `{"unixtime":0,"meters":[{"total":60}]}`)
	if r.Time != nil {
		t.Errorf("unixtime 0 gave time %d", *r.Time)
	}
}

func TestShellyGen1Errors(t *testing.T) {
	for _, tc := range []struct {
		topic, payload string
		err            error
	}{
		{"shellies/plug/relay/0/energy", "", ErrTruncated},
		{"shellies/plug/relay/0/energy", "  \n", ErrTruncated},
		{"shellies/plug/relay/0/energy", "nan", ErrMalformed},
		{"shellies/plug/relay/0/energy", "-60", ErrMalformed},
		{"shellies/plug/relay/0/energy", "1e20", ErrMalformed},
		{"shellies/plug/relay/0/energy", `{"total":60}`, ErrMalformed},
		{"shellies/plug/relay/0/energy", "60 W", ErrUnknownUnits},
		{"shellies/plug/relay/0/power", "12.5", ErrNoEnergy},
		{"shellies/plug/online", "true", ErrNoEnergy},
		{"shellies/plug/info", `{"meters":[{"total":60,"is_valid":false}]}`, ErrMalformed}, // the meter's self-check failed
		{"shellies/plug/info", `{"meters":[]}`, ErrNoEnergy},
		{"shellies/plug/info", `{"meters":{"total":60}}`, ErrMalformed},
		{"shellies/plug/info", `{"meters":[null]}`, ErrMalformed},
		{"shellies/plug/info", `{"meters":[{"total":"lots"}]}`, ErrMalformed},
		{"shellies/plug/info", `{"meters":[{"total":60}],"unixtime":"now"}`, ErrMalformed},
		{"shellies/plug/info", `{"emeters":[{"total":1,"total_returned":-1}]}`, ErrMalformed},
		{"shellies/plug/info", `{"wifi_sta":{"connected":true}}`, ErrNoEnergy},
		{"", "1000", ErrMalformed}, // a bare counter means nothing without its topic
	} {
		wantErr(t, ShellyGen1, tc.topic, tc.payload, tc.err)
	}
}

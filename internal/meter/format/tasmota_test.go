package format

import (
	"errors"
	"strings"
	"testing"
)

// mustDecode decodes or fails the test.
func mustDecode(t *testing.T, f Format, topic, payload string) Registers {
	t.Helper()
	r, err := Decode(f, topic, []byte(payload))
	if err != nil {
		t.Fatalf("Decode(%s, %q, %s): %v", f, topic, payload, err)
	}
	return r
}

// wantErr decodes and checks the error wraps want.
func wantErr(t *testing.T, f Format, topic, payload string, want error) {
	t.Helper()
	r, err := Decode(f, topic, []byte(payload))
	if !errors.Is(err, want) {
		t.Errorf("Decode(%s, %q, %s) = %s, %v; want %v", f, topic, payload, asJSON(r), err, want)
	}
}

func tasmotaSensor(energy string) string {
	return `{"Time":"2026-11-25T14:03:00","ENERGY":{"TotalStartTime":"2024-01-01T00:00:00",` + energy + `,"Power":450}}`
}

func TestTasmotaTotalIsKWhAtAnyResolution(t *testing.T) {
	for _, tc := range []struct {
		total string
		want  int64
	}{
		{"1", 1000},                // EnergyRes 0
		{"12.3", 12300},            // EnergyRes 1
		{"123.456", 123456},        // the default, 3 decimals: exact
		{"0.0015", 2},              // 1.5 Wh: half up
		{"12.34567", 12346},        // EnergyRes 5: 12345.67
		{"129.0005", 129001},       // float64 would say 129000
		{"10000000000", MaxWh},     // 10 TWh
		{"0.000000001", 0},         //
		{"99999.99999", 100000000}, // 99999999.99 Wh
	} {
		r := mustDecode(t, Tasmota, "tele/plug/SENSOR", tasmotaSensor(`"Total":`+tc.total))
		if r.ImportWh != tc.want || r.ExportWh != 0 || r.Channels != nil {
			t.Errorf("Total %s kWh: %s, want import %d Wh", tc.total, asJSON(r), tc.want)
		}
	}
}

func TestTasmotaExportActive(t *testing.T) {
	// A scalar export on a single-channel device.
	r := mustDecode(t, Tasmota, "tele/pv/SENSOR", tasmotaSensor(`"Total":1.5,"ExportActive":2.25`))
	if r.ImportWh != 1500 || r.ExportWh != 2250 {
		t.Errorf("scalar: %s", asJSON(r))
	}
	// Total summed (SetOption129 off) but ExportActive per phase: the export is their sum.
	r = mustDecode(t, Tasmota, "tele/pv/SENSOR", tasmotaSensor(`"Total":3.0,"ExportActive":[0.1,0.2,0.3]`))
	if r.ImportWh != 3000 || r.ExportWh != 600 || r.Channels != nil {
		t.Errorf("summed total, export array: %s", asJSON(r))
	}
	// Total per channel, ExportActive a scalar: Tasmota prints channel 1's.
	r = mustDecode(t, Tasmota, "tele/pv/SENSOR", tasmotaSensor(`"Total":[1,2],"ExportActive":0.5`))
	if r.ImportWh != 3000 || r.ExportWh != 500 || len(r.Channels) != 2 || r.Channels[0].ExportWh != 500 || r.Channels[1].ExportWh != 0 {
		t.Errorf("total array, scalar export: %s", asJSON(r))
	}
	wantErr(t, Tasmota, "tele/pv/SENSOR", tasmotaSensor(`"Total":[1,2],"ExportActive":[1,2,3]`), ErrMalformed)
	wantErr(t, Tasmota, "tele/pv/SENSOR", tasmotaSensor(`"Total":1,"ExportActive":-0.001`), ErrMalformed)
	wantErr(t, Tasmota, "tele/pv/SENSOR", tasmotaSensor(`"Total":1,"ExportActive":true`), ErrMalformed)
}

func TestTasmotaChannels(t *testing.T) {
	r := mustDecode(t, Tasmota, "tele/shelly25/SENSOR", tasmotaSensor(`"Total":[0.0005,0.0004]`))
	if r.ImportWh != 1 || len(r.Channels) != 2 || r.Channels[0] != (Channel{"1", 1, 0}) || r.Channels[1] != (Channel{"2", 0, 0}) {
		t.Errorf("each channel is rounded, then summed: %s", asJSON(r))
	}
	for _, bad := range []string{`"Total":[]`, `"Total":[1,null]`, `"Total":[1,"x"]`, `"Total":[1,[2]]`, `"Total":[10000000000,1]`} {
		wantErr(t, Tasmota, "tele/x/SENSOR", tasmotaSensor(bad), ErrMalformed)
	}
}

func TestTasmotaTime(t *testing.T) {
	for _, tc := range []struct {
		fields string
		want   int64 // 0: no time
	}{
		{`"Time":"2026-11-25T14:03:00"`, 1795615380},                           // no zone: UTC
		{`"Time":"2026-11-25T15:03:00","TimeZone":"+01:00"`, 1795615380},       // CET
		{`"Time":"2026-11-25T09:33:00","TimeZone":"-04:30"`, 1795615380},       //
		{`"Time":"2026-11-25T16:03:00","Timezone":2`, 1795615380},              // whole hours, Tasmota's spelling
		{`"Time":"2026-11-25T15:03:00+01:00"`, 1795615380},                     // SetOption52
		{`"Time":"2026-11-25T15:03:00+01:00","TimeZone":"+05:00"`, 1795615380}, // the time's own zone wins
		{`"Time":"2026-11-25T14:03:00.734"`, 1795615380},                       // milliseconds
		{`"Time":"1970-01-01T00:05:12"`, 0},                                    // before NTP sync: no time
		{`"Uptime":"0T00:05:12"`, 0},                                           // no Time at all
	} {
		r := mustDecode(t, Tasmota, "tele/plug/SENSOR", `{`+tc.fields+`,"ENERGY":{"Total":1}}`)
		if got := r.Time; (tc.want == 0) != (got == nil) || (got != nil && *got != tc.want) {
			t.Errorf("%s: time %s, want %d", tc.fields, asJSON(got), tc.want)
		}
	}
	for _, bad := range []string{`"Time":"yesterday"`, `"Time":1795615380`, `"Time":"2026-11-25T14:03:00","TimeZone":"CET"`,
		`"Time":"2026-11-25T14:03:00","TimeZone":99`, `"Time":"2026-11-25T14:03:00","TimeZone":"+1:00"`, `"Time":"2026-13-25T14:03:00"`} {
		wantErr(t, Tasmota, "tele/plug/SENSOR", `{`+bad+`,"ENERGY":{"Total":1}}`, ErrMalformed)
	}
}

func TestTasmotaStatus10And8(t *testing.T) {
	for _, topic := range []string{"stat/plug/STATUS10", "stat/plug/STATUS8", ""} {
		r := mustDecode(t, Tasmota, topic, `{"StatusSNS":{"Time":"2026-11-25T14:03:00","TimeZone":"+00:00","ENERGY":{"Total":0.25}}}`)
		if r.ImportWh != 250 || r.Time == nil || *r.Time != 1795615380 {
			t.Errorf("%q: %s", topic, asJSON(r))
		}
	}
	wantErr(t, Tasmota, "stat/plug/STATUS10", `{"StatusSNS":{"Time":"2026-11-25T14:03:00"}}`, ErrNoEnergy)
	wantErr(t, Tasmota, "stat/plug/STATUS10", `{"StatusSNS":"x"}`, ErrMalformed)
}

func TestTasmotaErrors(t *testing.T) {
	for _, tc := range []struct {
		payload string
		err     error
	}{
		{`{"Time":"2026-11-25T14:03:00","AM2301":{"Temperature":21.3}}`, ErrNoEnergy},
		{`{"ENERGY":{"Power":450,"Voltage":230}}`, ErrNoEnergy},         // no Total
		{`{"ENERGY":{"Total":null}}`, ErrNoEnergy},                      // null is absent
		{`{"ENERGY":{"total":1.5}}`, ErrNoEnergy},                       // keys are case-sensitive
		{`{"ENERGY":null}`, ErrNoEnergy},                                //
		{`{"ENERGY":[1]}`, ErrMalformed},                                //
		{`{"ENERGY":{"Total":"abc"}}`, ErrMalformed},                    //
		{`{"ENERGY":{"Total":"12.5 kW"}}`, ErrUnknownUnits},             // power
		{`{"ENERGY":{"Total":"12.5 kWh"}}`, nil},                        // a bridge's text with the right unit
		{`{"ENERGY":{"Total":-1}}`, ErrMalformed},                       //
		{`{"ENERGY":{"Total":1e11}}`, ErrMalformed},                     // 100 TWh
		{`{"ENERGY":{"Total":1}} {"ENERGY":{"Total":2}}`, ErrMalformed}, // two objects
		{`{"ENERGY":{"Total":1}}garbage`, ErrMalformed},                 //
		{`[{"ENERGY":{"Total":1}}]`, ErrMalformed},                      //
		{`null`, ErrMalformed},                                          //
		{`"ENERGY"`, ErrMalformed},                                      //
		{`{"ENERGY":{"Total":NaN}}`, ErrMalformed},                      // Tasmota has printed nan
		{`{"ENERGY":{"Total":1.`, ErrTruncated},                         //
		{`{"ENERGY":{"Total":1`, ErrTruncated},                          //
		{``, ErrTruncated},                                              //
		{" \r\n", ErrTruncated},                                         //
	} {
		_, err := Decode(Tasmota, "tele/plug/SENSOR", []byte(tc.payload))
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tc.payload, err, tc.err)
		}
		if err != nil && !strings.Contains(err.Error(), ": ") {
			t.Errorf("%s: error %q does not say what is wrong", tc.payload, err)
		}
	}
}

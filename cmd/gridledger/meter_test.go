package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/meter/format"
)

// meterTestdata is the payload catalogue of internal/meter/format.
var meterTestdata = filepath.Join("..", "..", "internal", "meter", "format", "testdata")

// meterCatalogueEntry is one entry of the catalogue's index.
type meterCatalogueEntry struct {
	File   string            `json:"file"`
	Format format.Format     `json:"format"`
	Topic  string            `json:"topic"`
	Want   *format.Registers `json:"want"`
	Error  string            `json:"error"`
}

func loadMeterCatalogue(t *testing.T) []meterCatalogueEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(meterTestdata, "catalogue.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cat []meterCatalogueEntry
	if err := json.Unmarshal(data, &cat); err != nil {
		t.Fatal(err)
	}
	if len(cat) < 20 {
		t.Fatalf("catalogue has only %d entries", len(cat))
	}
	return cat
}

func TestMeterDecodeCatalogueAsJSON(t *testing.T) {
	for _, e := range loadMeterCatalogue(t) {
		path := filepath.Join(meterTestdata, filepath.FromSlash(e.File))
		args := []string{"meter", "decode", "--format", string(e.Format), "--file", path, "--output", "json"}
		if e.Topic != "" {
			args = append(args, "--topic", e.Topic)
		}
		stdout, stderr, err := runRoot(t, "", args...)
		if stderr != "" {
			t.Errorf("%s: stderr %q", e.File, stderr)
		}
		if e.Want == nil {
			if err == nil {
				t.Errorf("%s on %q: no error, want %s; printed %q", e.File, e.Topic, e.Error, stdout)
				continue
			}
			if stdout != "" {
				t.Errorf("%s: printed %q with an error", e.File, stdout)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "meter decode: "+path+": ") || strings.Contains(msg, "\n") {
				t.Errorf("%s: error %q is not one line naming the file", e.File, msg)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s on %q: %v", e.File, e.Topic, err)
			continue
		}
		var got format.Registers
		dec := json.NewDecoder(strings.NewReader(stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Errorf("%s: output is not Registers JSON: %v\n%s", e.File, err, stdout)
			continue
		}
		if !reflect.DeepEqual(got, *e.Want) {
			t.Errorf("%s on %q: printed %s, want %+v", e.File, e.Topic, stdout, *e.Want)
		}
	}
}

func TestMeterDecodeJSONFields(t *testing.T) {
	path := filepath.Join(meterTestdata, "dsmr", "nl_dsmr5.txt")
	stdout, _, err := runRoot(t, "", "meter", "decode", "--format", "dsmr", "--file", path, "--topic", "dsmr/home-12/telegram", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"format": "dsmr", "device_id": "home-12", "time": 1795615380.0, "import_wh": 3580245.0, "export_wh": 358023.0,
		"channels": []any{
			map[string]any{"name": "T1", "import_wh": 1234567.0, "export_wh": 123456.0},
			map[string]any{"name": "T2", "import_wh": 2345678.0, "export_wh": 234567.0},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %s", stdout)
	}
}

func TestMeterDecodeText(t *testing.T) {
	path := filepath.Join(meterTestdata, "dsmr", "nl_dsmr5.txt")
	stdout, _, err := runRoot(t, "", "meter", "decode", "--format", "dsmr", "--file", path, "--topic", "dsmr/home-12/telegram")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"format  dsmr\n", "device  home-12\n", "time    2026-11-25T14:03:00Z\n", "import  3580245 Wh\n",
		"export  358023 Wh\n", "channel  import Wh  export Wh\n", "T1       1234567    123456\n", "T2       2345678    234567\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, stdout)
		}
	}
	// No device, no time, no channels.
	stdout, _, err = runRoot(t, "", "meter", "decode", "--format", "tasmota", "--file", "-")
	if err == nil {
		t.Errorf("empty stdin decoded: %q", stdout)
	}
	stdout, _, err = runRoot(t, `{"ENERGY":{"Total":1.5}}`, "meter", "decode", "--format", "tasmota", "--file", "-")
	if err != nil || stdout != "format  tasmota\ndevice  -\ntime    -\nimport  1500 Wh\nexport  0 Wh\n" {
		t.Errorf("got %q, %v", stdout, err)
	}
}

func TestMeterDecodeStdin(t *testing.T) {
	telegram, err := os.ReadFile(filepath.Join(meterTestdata, "dsmr", "be_emucs.txt"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runRoot(t, string(telegram), "meter", "decode", "--format=dsmr", "--file=-", "--output=json")
	if err != nil {
		t.Fatal(err)
	}
	var got format.Registers
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.DeviceID != "1SAG3101021605" || got.ImportWh != 358023 {
		t.Errorf("got %s, %v", stdout, err)
	}
	_, _, err = runRoot(t, "/ISK5\\2M550T-1012\r\n1-0:1.8.1(1*kWh)\r\n!0000\r\n", "meter", "decode", "--format", "dsmr", "--file", "-")
	if err == nil || !strings.HasPrefix(err.Error(), "meter decode: stdin: bad CRC: telegram says 0000, computed ") {
		t.Errorf("stdin bad CRC: %v", err)
	}
}

func TestMeterDecodeBadCRCMessage(t *testing.T) {
	path := filepath.Join(meterTestdata, "dsmr", "bad_crc.txt")
	stdout, _, err := runRoot(t, "", "meter", "decode", "--format", "dsmr", "--file", path, "--output", "json")
	if err == nil || err.Error() != "meter decode: "+path+": bad CRC: telegram says E558, computed E459" {
		t.Errorf("err = %v", err)
	}
	if stdout != "" {
		t.Errorf("printed %q", stdout)
	}
}

func TestMeterDecodeRefusesBadArguments(t *testing.T) {
	good := filepath.Join(meterTestdata, "tasmota", "sensor_single.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"meter", "decode", "--format", "modbus", "--file", good}, `--format "modbus": want one of`},
		{[]string{"meter", "decode", "--file", good}, `--format not set, and no --topic of a known device family`},
		{[]string{"meter", "decode", "--file", good, "--topic", "zigbee2mqtt/plug"}, `--format not set, and no --topic of a known device family`},
		{[]string{"meter", "decode", "--format", "tasmota"}, `"file" not set`},
		{[]string{"meter", "decode", "--format", "tasmota", "--file", filepath.Join(t.TempDir(), "none.json")}, "no such file"},
		{[]string{"meter", "decode", "--format", "tasmota", "--file", good, "--topic", "shellies/x/info"}, "is not a tasmota topic"},
		{[]string{"meter", "decode", "--format", "tasmota", "--file", good, "--output", "yaml"}, `--output "yaml"`},
		{[]string{"meter", "decode", "extra", "--format", "tasmota", "--file", good}, "unknown command"},
	} {
		stdout, _, err := runRoot(t, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || stdout != "" {
			t.Errorf("%v: %q, %v; want an error containing %q", tc.args, stdout, err, tc.want)
		}
	}
}

// A Shelly Gen2 component status, as published on <prefix>/status/switch:0:
// with --topic (and no --format) the topic says what it is; without a topic
// its fields do, and the output says so.
func TestMeterDecodeShellyComponentStatus(t *testing.T) {
	path := filepath.Join(meterTestdata, "shelly-gen2", "status_switch_plus1pm.json")
	stdout, _, err := runRoot(t, "", "meter", "decode", "--file", path, "--topic", "shellyplus1pm-a8032ab12345/status/switch:0", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got format.Registers
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.Format != format.ShellyGen2 || got.DeviceID != "shellyplus1pm-a8032ab12345" ||
		got.ImportWh != 123457 || got.ExportWh != 13 || got.Notes != nil {
		t.Errorf("with --topic: %s, %v", stdout, err)
	}
	stdout, _, err = runRoot(t, "", "meter", "decode", "--format", "shelly-gen2", "--file", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"import  123457 Wh\n", "switch:0  123457     13\n", "\nnotes\n",
		"topic: no topic: read as a bare switch:0 status, recognised by aenergy (give the topic to be sure)\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("without a topic the output lacks %q:\n%s", want, stdout)
		}
	}
	// What it cannot recognise, it says so.
	_, _, err = runRoot(t, `{"id":0,"state":false}`, "meter", "decode", "--format", "shelly-gen2", "--file", "-")
	if err == nil || !strings.Contains(err.Error(), "give the topic it came on") {
		t.Errorf("bare input status: %v", err)
	}
	_, _, err = runRoot(t, `{"id":0,"total_act_power":5}`, "meter", "decode", "--topic", "shellypro3em-c8f09e8a1b2c/status/em:0", "--file", "-")
	if err == nil || !strings.Contains(err.Error(), "carries power, not energy: the energy totals are on shellypro3em-c8f09e8a1b2c/status/emdata:0") {
		t.Errorf("em:0: %v", err)
	}
}

// Notes are printed in the text output, the raw field quoted.
func TestMeterDecodeTextNotes(t *testing.T) {
	path := filepath.Join(meterTestdata, "dsmr", "nl_dsmr42_kaifa_digits_id.txt")
	stdout, _, err := runRoot(t, "", "meter", "decode", "--file", path, "--topic", "dsmr/home-42/telegram")
	if err != nil {
		t.Fatal(err)
	}
	want := "\nnotes\n0-0:96.1.1 \"3960221976967177081234567890123456\": equipment id is not hex-encoded ASCII: kept as written\n"
	if !strings.HasSuffix(stdout, want) || !strings.Contains(stdout, "import  4516829 Wh\n") {
		t.Errorf("got\n%s\nwant it to end with\n%s", stdout, want)
	}
}

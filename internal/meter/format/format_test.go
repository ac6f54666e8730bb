package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// catalogueEntry is one line of testdata/catalogue.json: a payload file, the
// topic it is decoded with, and the Registers or the error expected.
type catalogueEntry struct {
	File   string     `json:"file"`
	Format Format     `json:"format"`
	Topic  string     `json:"topic"`
	Want   *Registers `json:"want"`
	Error  string     `json:"error"`
	Reset  string     `json:"reset"` // "first" or "second" of a counter reset pair
	Note   string     `json:"note"`
	Source string     `json:"source"` // where the payload comes from (see testdata/README.md)
}

// sentinels by the name the catalogue uses.
var sentinels = map[string]error{
	"ErrTruncated": ErrTruncated, "ErrBadCRC": ErrBadCRC, "ErrUnknownUnits": ErrUnknownUnits,
	"ErrMalformed": ErrMalformed, "ErrNoEnergy": ErrNoEnergy, "ErrUnknownFormat": ErrUnknownFormat, "ErrNoRelay": ErrNoRelay,
}

func loadCatalogue(tb testing.TB) []catalogueEntry {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "catalogue.json"))
	if err != nil {
		tb.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var cat []catalogueEntry
	if err := dec.Decode(&cat); err != nil {
		tb.Fatalf("catalogue.json: %v", err)
	}
	return cat
}

func readPayload(tb testing.TB, file string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(file)))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCatalogue(t *testing.T) {
	for _, e := range loadCatalogue(t) {
		t.Run(e.File+"@"+e.Topic, func(t *testing.T) {
			if (e.Want == nil) == (e.Error == "") {
				t.Fatal("catalogue entry needs exactly one of want and error")
			}
			got, err := Decode(e.Format, e.Topic, readPayload(t, e.File))
			if e.Error != "" {
				sentinel, known := sentinels[e.Error]
				if !known {
					t.Fatalf("unknown error name %q", e.Error)
				}
				if !errors.Is(err, sentinel) {
					t.Fatalf("err = %v, want %s", err, e.Error)
				}
				if !reflect.DeepEqual(got, Registers{}) {
					t.Errorf("with an error Decode returned %s", asJSON(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, *e.Want) {
				t.Errorf("got  %s\nwant %s\n(%s)", asJSON(got), asJSON(*e.Want), e.Note)
			}
		})
	}
}

// The catalogue is what other packages' end-to-end tests reuse: every file
// must be in catalogue.json and README.md, and every format must have each
// kind of case.
func TestCatalogueIsComplete(t *testing.T) {
	cat := loadCatalogue(t)
	readme, err := os.ReadFile(filepath.Join("testdata", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	inCat := map[string]bool{}
	for _, e := range cat {
		inCat[e.File] = true
		if e.Source == "" {
			t.Errorf("%s: no source", e.File)
		}
		if !slices.Contains(Formats, e.Format) || !strings.HasPrefix(e.File, string(e.Format)+"/") {
			t.Errorf("%s: format %q does not match its directory", e.File, e.Format)
		}
		if !bytes.Contains(readme, []byte("`"+e.File+"`")) {
			t.Errorf("%s is not described in testdata/README.md", e.File)
		}
	}
	for _, f := range Formats {
		files, err := os.ReadDir(filepath.Join("testdata", string(f)))
		if err != nil {
			t.Fatal(err)
		}
		for _, fi := range files {
			if !inCat[string(f)+"/"+fi.Name()] {
				t.Errorf("testdata/%s/%s is not in catalogue.json", f, fi.Name())
			}
		}
		has := map[string]bool{}
		for _, e := range cat {
			if e.Format != f {
				continue
			}
			switch {
			case e.Want != nil && e.Reset == "":
				has["valid"] = true
			case e.Reset != "":
				has["reset "+e.Reset] = true
			default:
				has[e.Error] = true
			}
			if strings.Contains(e.File, "garbage") {
				has["garbage"] = true
			}
		}
		for _, kind := range []string{"valid", "ErrTruncated", "ErrUnknownUnits", "garbage", "reset first", "reset second"} {
			if !has[kind] {
				t.Errorf("%s: no %s case in the catalogue", f, kind)
			}
		}
		if f == DSMR && !has["ErrBadCRC"] {
			t.Errorf("dsmr: no bad CRC case in the catalogue")
		}
	}
}

// A counter reset is not Decode's business: both payloads decode, and the
// second total is lower. Downstream compares readings and sees it.
func TestCatalogueCounterResetPairs(t *testing.T) {
	cat := loadCatalogue(t)
	for _, f := range Formats {
		var pair [2]*catalogueEntry
		for i := range cat {
			if cat[i].Format == f && cat[i].Reset != "" {
				pair[map[string]int{"first": 0, "second": 1}[cat[i].Reset]] = &cat[i]
			}
		}
		if pair[0] == nil || pair[1] == nil {
			t.Errorf("%s: no counter reset pair", f)
			continue
		}
		first, err := Decode(f, pair[0].Topic, readPayload(t, pair[0].File))
		if err != nil {
			t.Fatalf("%s: %v", pair[0].File, err)
		}
		second, err := Decode(f, pair[1].Topic, readPayload(t, pair[1].File))
		if err != nil {
			t.Fatalf("%s: %v", pair[1].File, err)
		}
		if second.ImportWh >= first.ImportWh {
			t.Errorf("%s: second import %d Wh is not lower than first %d Wh", f, second.ImportWh, first.ImportWh)
		}
		if first.DeviceID != second.DeviceID || first.DeviceID == "" {
			t.Errorf("%s: device %q then %q, want the same one", f, first.DeviceID, second.DeviceID)
		}
	}
}

func TestParseWhRoundsExactlyHalfUp(t *testing.T) {
	for _, tc := range []struct {
		text  string
		pow10 int
		div   int64
		want  int64
	}{
		{"123.4567", 3, 1, 123457}, // kWh → Wh, .7 up
		{"123.4564", 3, 1, 123456},
		{"0.0005", 3, 1, 1}, // exactly half: up
		{"0.0004999", 3, 1, 0},
		{"129.0005", 3, 1, 129001},             // float64: 129000.49999… → 129000
		{"0.49999999999999999999", 0, 1, 0},    // float64: 0.5 → 1
		{"0.50000000000000000001", 0, 1, 1},    // more digits than float64 holds
		{"2.5", 0, 1, 3},                       // half up, not to even
		{"1000", 0, 60, 17},                    // Wmin: 16.67
		{"29", 0, 60, 0},                       // 0.483
		{"30", 0, 60, 1},                       // 0.5 exactly
		{"90", 0, 60, 2},                       // 1.5 exactly
		{"89.99", 0, 60, 1},                    // 1.49983
		{"29.999999999999999999999", 0, 60, 0}, // just under half
		{"1e3", 3, 1, 1000000},                 // exponent
		{"1.2345E2", 0, 1, 123},                // 123.45
		{"12E-1", 0, 1, 1},                     // 1.2
		{"1e-400", 3, 1, 0},                    // tiny
		{"000123.000", 3, 1, 123000},           // DSMR's leading zeros
		{"0", 3, 1, 0},                         //
		{"-0.000", 3, 1, 0},                    // negative zero is zero
		{"10000000000", 3, 1, MaxWh},           // 10 TWh is the bound itself
		{"600000000000000", 0, 60, MaxWh},      // the bound in Wmin
		{"0.000000000000000000000000001", 0, 1, 0},
	} {
		got, err := parseWh(tc.text, "v", tc.pow10, tc.div)
		if err != nil || got != tc.want {
			t.Errorf("parseWh(%q, %d, %d) = %d, %v; want %d", tc.text, tc.pow10, tc.div, got, err, tc.want)
		}
	}
}

func TestParseWhRefusesNonNumbersNegativesAndAbsurdValues(t *testing.T) {
	for _, text := range []string{
		"", "NaN", "nan", "Infinity", "-Inf", "inf", "+1", "1.", ".5", "1e", "1e+", "0x10", "1,5", " 1", "1 ",
		"12abc", `"12"`, "true", "null", "--1", "1..2",
		"-1", "-0.001", // negative
		"10000000000.001", "1e400", "99999999999999999999999", // absurd
	} {
		if got, err := parseWh(text, "v", 3, 1); !errors.Is(err, ErrMalformed) {
			t.Errorf("parseWh(%q) = %d, %v; want ErrMalformed", text, got, err)
		}
	}
	// 10 TWh and one more Wh, in watt-minutes.
	if got, err := parseWh("600000000000060", "v", 0, 60); !errors.Is(err, ErrMalformed) {
		t.Errorf("parseWh(600000000000060 Wmin) = %d, %v; want ErrMalformed", got, err)
	}
}

func TestStatedUnitsWinOverImpliedOnes(t *testing.T) {
	for _, tc := range []struct {
		text  string
		pow10 int
		div   int64
		want  int64
		err   error
	}{
		{"1.234 kWh", 0, 1, 1234, nil},    // a Wh register written in kWh
		{"1.5kWh", 0, 60, 1500, nil},      // a Wmin register written in kWh
		{"1234 Wh", 3, 1, 1234, nil},      // a kWh register written in Wh
		{"1234.5 wh", 3, 1, 1235, nil},    // case does not matter
		{"1234", 0, 60, 21, nil},          // no unit: the implied one (Wmin)
		{"5 W", 0, 1, 0, ErrUnknownUnits}, // power, not energy
		{"5 kW", 3, 1, 0, ErrUnknownUnits},
		{"5 kvarh", 3, 1, 0, ErrUnknownUnits},
		{"5 MWh", 3, 1, 0, ErrUnknownUnits}, // refused rather than guessed
		{"5 m3", 3, 1, 0, ErrUnknownUnits},
		{"nan kWh", 3, 1, 0, ErrMalformed},
		{"-5 kWh", 3, 1, 0, ErrMalformed},
	} {
		got, err := parseRegister(tc.text, "v", tc.pow10, tc.div)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("parseRegister(%q) = %d, %v; want %d, %v", tc.text, got, err, tc.want, tc.err)
		}
	}
}

func TestIdentify(t *testing.T) {
	for _, tc := range []struct {
		topic  string
		format Format
		device string
		ok     bool
	}{
		{"tele/plug-kitchen/SENSOR", Tasmota, "plug-kitchen", true},
		{"stat/plug-kitchen/STATUS10", Tasmota, "plug-kitchen", true},
		{"stat/plug-kitchen/STATUS8", Tasmota, "plug-kitchen", true},
		{"tele/plug-kitchen/STATE", Tasmota, "plug-kitchen", false},
		{"tele/plug-kitchen/LWT", Tasmota, "plug-kitchen", false},
		{"stat/plug-kitchen/RESULT", Tasmota, "plug-kitchen", false},
		{"stat/plug-kitchen/POWER", Tasmota, "plug-kitchen", false},
		{"cmnd/plug-kitchen/POWER", Tasmota, "plug-kitchen", false},
		{"tele/plug-kitchen/SENSOR/extra", "", "", false},
		{"tele//SENSOR", "", "", false},
		{"tele/+/SENSOR", "", "", false},

		{"shellies/shellyplug-s-C8C9A3/info", ShellyGen1, "shellyplug-s-C8C9A3", true},
		{"shellies/shelly1pm-84CCA8/relay/0/energy", ShellyGen1, "shelly1pm-84CCA8", true},
		{"shellies/shellyswitch25-1A2B3C/relay/1/energy", ShellyGen1, "shellyswitch25-1A2B3C", true},
		{"shellies/shellyswitch25-1A2B3C/roller/0/energy", ShellyGen1, "shellyswitch25-1A2B3C", true},
		{"shellies/shellydimmer2-4D5E6F/light/0/energy", ShellyGen1, "shellydimmer2-4D5E6F", true},
		{"shellies/shellyem-B9A4C2/emeter/0/total", ShellyGen1, "shellyem-B9A4C2", true},
		{"shellies/shellyem3-B9A4C2/emeter/2/total_returned", ShellyGen1, "shellyem3-B9A4C2", true},
		{"shellies/shellyem-B9A4C2/emeter/0/energy", ShellyGen1, "shellyem-B9A4C2", false}, // not cumulative
		{"shellies/shellyem-B9A4C2/emeter/0/returned_energy", ShellyGen1, "shellyem-B9A4C2", false},
		{"shellies/shellyem-B9A4C2/emeter/0/power", ShellyGen1, "shellyem-B9A4C2", false},
		{"shellies/shelly1pm-84CCA8/relay/0/power", ShellyGen1, "shelly1pm-84CCA8", false},
		{"shellies/shelly1pm-84CCA8/relay/0", ShellyGen1, "shelly1pm-84CCA8", false},
		{"shellies/shelly1pm-84CCA8/relay/x/energy", ShellyGen1, "shelly1pm-84CCA8", false},
		{"shellies/shelly1pm-84CCA8/relay/00/energy", ShellyGen1, "shelly1pm-84CCA8", false},
		{"shellies/shelly1pm-84CCA8/online", ShellyGen1, "shelly1pm-84CCA8", false},
		{"shellies/shelly1pm-84CCA8/announce", ShellyGen1, "shelly1pm-84CCA8", false},
		{"shellies/announce", ShellyGen1, "", false},

		{"shellyplus1pm-a8032ab12345/events/rpc", ShellyGen2, "shellyplus1pm-a8032ab12345", true},
		{"home/garage/shellyplus1pm-a8032ab12345/events/rpc", ShellyGen2, "home/garage/shellyplus1pm-a8032ab12345", true},
		{"shellyplus1pm-a8032ab12345/status/switch:0", ShellyGen2, "shellyplus1pm-a8032ab12345", true},
		{"shellypro4pm-f008d1d8b8b8/status/switch:3", ShellyGen2, "shellypro4pm-f008d1d8b8b8", true},
		{"shellyplus2pm-a8032ab1e2f0/status/cover:0", ShellyGen2, "shellyplus2pm-a8032ab1e2f0", true},
		{"shellypmmini-348518e0e8d4/status/pm1:0", ShellyGen2, "shellypmmini-348518e0e8d4", true},
		{"shellypro3em-c8f09e8a1b2c/status/emdata:0", ShellyGen2, "shellypro3em-c8f09e8a1b2c", true},
		{"shellyproem50-08f9e0a1b2c3/status/em1data:1", ShellyGen2, "shellyproem50-08f9e0a1b2c3", true},
		{"shellypro3em-c8f09e8a1b2c/status/em:0", ShellyGen2, "shellypro3em-c8f09e8a1b2c", false}, // power only
		{"shellyplus1pm-a8032ab12345/status/sys", ShellyGen2, "shellyplus1pm-a8032ab12345", false},
		{"shellyplus1pm-a8032ab12345/status/input:0", ShellyGen2, "shellyplus1pm-a8032ab12345", false},
		{"shellyplus1pm-a8032ab12345/online", "", "", false},
		{"shellyplus1pm-a8032ab12345/rpc", "", "", false},
		{"/events/rpc", "", "", false},
		{"a//b/events/rpc", "", "", false},
		{"#/events/rpc", "", "", false},

		{"dsmr/home-12/telegram", DSMR, "home-12", true},
		{"dsmr/home-12/power", DSMR, "home-12", false},
		{"dsmr/home-12", "", "", false},

		{"dsmr/\x83/telegram", "", "", false}, // MQTT topics are UTF-8
		{"", "", "", false},
		{"homeassistant/sensor/x/config", "", "", false},
		{"zigbee2mqtt/plug", "", "", false},
	} {
		f, dev, ok := Identify(tc.topic)
		if f != tc.format || dev != tc.device || ok != tc.ok {
			t.Errorf("Identify(%q) = %q, %q, %v; want %q, %q, %v", tc.topic, f, dev, ok, tc.format, tc.device, tc.ok)
		}
	}
}

// Decode checks the topic against the format: a foreign topic is a caller's
// mistake, a topic of the right family without energy is nothing to sign.
func TestDecodeChecksTheTopic(t *testing.T) {
	sensor := readPayload(t, "tasmota/sensor_single.json")
	for _, tc := range []struct {
		f     Format
		topic string
		err   error
	}{
		{Tasmota, "tele/plug-kitchen/STATE", ErrNoEnergy},
		{Tasmota, "shellies/plug/info", ErrMalformed},
		{Tasmota, "dsmr/home-12/telegram", ErrMalformed},
		{ShellyGen1, "tele/plug-kitchen/SENSOR", ErrMalformed},
		{ShellyGen1, "shellies/shelly1pm-84CCA8/relay/0/power", ErrNoEnergy},
		{ShellyGen2, "tele/plug-kitchen/SENSOR", ErrMalformed},
		{ShellyGen2, "x/status/sys", ErrNoEnergy},
		{DSMR, "tele/plug-kitchen/SENSOR", ErrMalformed},
		{DSMR, "dsmr/home-12/power", ErrNoEnergy},
		{"modbus", "", ErrUnknownFormat},
	} {
		if _, err := Decode(tc.f, tc.topic, sensor); !errors.Is(err, tc.err) {
			t.Errorf("Decode(%s, %q) = %v, want %v", tc.f, tc.topic, err, tc.err)
		}
	}
	if _, err := Decode(Tasmota, "", bytes.Repeat([]byte(" "), MaxPayloadBytes+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversized payload: %v, want ErrMalformed", err)
	}
}

func TestRelayCommand(t *testing.T) {
	for _, tc := range []struct {
		f       Format
		id      string
		on      bool
		topic   string
		payload string
	}{
		{Tasmota, "plug-kitchen", true, "cmnd/plug-kitchen/POWER", "ON"},
		{Tasmota, "plug-kitchen", false, "cmnd/plug-kitchen/POWER", "OFF"},
		{ShellyGen1, "shellyplug-s-C8C9A3", true, "shellies/shellyplug-s-C8C9A3/relay/0/command", "on"},
		{ShellyGen1, "shellyplug-s-C8C9A3", false, "shellies/shellyplug-s-C8C9A3/relay/0/command", "off"},
		{ShellyGen2, "shellyplus1pm-a8032ab12345", true, "shellyplus1pm-a8032ab12345/rpc",
			`{"id":1,"src":"gridledger","method":"Switch.Set","params":{"id":0,"on":true}}`},
		{ShellyGen2, "home/shellyplus1pm-a8032ab12345", false, "home/shellyplus1pm-a8032ab12345/rpc",
			`{"id":1,"src":"gridledger","method":"Switch.Set","params":{"id":0,"on":false}}`},
	} {
		topic, payload, err := RelayCommand(tc.f, tc.id, tc.on)
		if err != nil || topic != tc.topic || string(payload) != tc.payload {
			t.Errorf("RelayCommand(%s, %q, %v) = %q, %q, %v; want %q, %q", tc.f, tc.id, tc.on, topic, payload, err, tc.topic, tc.payload)
		}
		if tc.f == ShellyGen2 && !json.Valid(payload) {
			t.Errorf("Shelly Gen2 command is not JSON: %s", payload)
		}
	}
	for _, tc := range []struct {
		f   Format
		id  string
		err error
	}{
		{DSMR, "home-12", ErrNoRelay},
		{"modbus", "x", ErrUnknownFormat},
		{Tasmota, "", ErrMalformed},
		{Tasmota, "a/b", ErrMalformed},
		{ShellyGen1, "+", ErrMalformed},
		{ShellyGen2, "a//b", ErrMalformed},
		{ShellyGen2, "#", ErrMalformed},
	} {
		topic, payload, err := RelayCommand(tc.f, tc.id, true)
		if !errors.Is(err, tc.err) || topic != "" || payload != nil {
			t.Errorf("RelayCommand(%s, %q) = %q, %q, %v; want %v", tc.f, tc.id, topic, payload, err, tc.err)
		}
	}
}

// The package promises no I/O, clock, goroutines or floating point: check
// its source, as internal/deptest does for the ledger's cores.
func TestPackageIsPure(t *testing.T) {
	forbidden := []string{"os", "io/ioutil", "net", "net/http", "os/exec", "log", "log/slog", "sync", "math/rand", "math/rand/v2", "crypto/rand", "unsafe", "math"}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); slices.Contains(forbidden, p) {
				t.Errorf("%s imports %s", name, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Ident:
				if n.Name == "float32" || n.Name == "float64" {
					t.Errorf("%s: %s uses floating point", fset.Position(n.Pos()), n.Name)
				}
			case *ast.GoStmt:
				t.Errorf("%s: starts a goroutine", fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "time" && slices.Contains([]string{"Now", "Since", "Until", "Sleep", "After", "Tick", "NewTimer", "NewTicker", "AfterFunc", "Local"}, n.Sel.Name) {
					t.Errorf("%s: time.%s reads the clock", fset.Position(n.Pos()), n.Sel.Name)
				}
			case *ast.BasicLit:
				if n.Kind == token.FLOAT {
					t.Errorf("%s: float literal %s", fset.Position(n.Pos()), n.Value)
				}
			}
			return true
		})
	}
}

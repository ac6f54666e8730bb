package format

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// telegram joins lines with \r\n and closes them with "!" and their CRC, as
// a meter does.
func telegram(lines ...string) string {
	body := strings.Join(lines, "\r\n") + "\r\n!"
	return fmt.Sprintf("%s%04X\r\n", body, crc16([]byte(body)))
}

// p1 is a minimal DSMR 5 telegram with the given register lines.
func p1(registers ...string) string {
	return telegram(append([]string{`/ISK5\2M550T-1012`, "", "1-3:0.2.8(50)"}, registers...)...)
}

const topicP1 = "dsmr/home-12/telegram"

func TestCRC16IsARC(t *testing.T) {
	if got := crc16([]byte("123456789")); got != 0xBB3D { // CRC-16/ARC's check value
		t.Errorf("crc16(123456789) = %04X, want BB3D", got)
	}
	tel := string(readPayload(t, "dsmr/nl_dsmr5.txt"))
	if !strings.HasSuffix(tel, "!E459\r\n") || crc16([]byte(tel[:strings.IndexByte(tel, '!')+1])) != 0xE459 {
		t.Errorf("nl_dsmr5.txt: CRC over / through ! is not E459")
	}
}

func TestDSMRBadCRCSaysBothValues(t *testing.T) {
	_, err := Decode(DSMR, topicP1, readPayload(t, "dsmr/bad_crc.txt"))
	if err == nil || err.Error() != "bad CRC: telegram says E558, computed E459" {
		t.Errorf("err = %v", err)
	}
	// One flipped digit in a register.
	tel := strings.Replace(p1("1-0:1.8.1(001234.567*kWh)"), "001234.567", "001234.568", 1)
	wantErr(t, DSMR, topicP1, tel, ErrBadCRC)
	// Line endings converted by a transport: the CRC no longer matches.
	wantErr(t, DSMR, topicP1, strings.ReplaceAll(p1("1-0:1.8.1(001234.567*kWh)"), "\r\n", "\n"), ErrBadCRC)
}

func TestDSMRUnits(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  int64
		err   error
	}{
		{"001234.567*kWh", 1234567, nil},
		{"001234.5675*kWh", 1234568, nil}, // more decimals than DSMR uses: half up
		{"1234567*Wh", 1234567, nil},      // a meter that counts in Wh
		{"1234.5*Wh", 1235, nil},          //
		{"001234.567*KWH", 1234567, nil},  // case
		{"001234.567*MWh", 0, ErrUnknownUnits},
		{"001234.567*kvarh", 0, ErrUnknownUnits},
		{"001234.567*m3", 0, ErrUnknownUnits},
		{"001234.567*kW", 0, ErrUnknownUnits},
		{"001234.567*", 0, ErrUnknownUnits},
		{"001234.567", 0, ErrUnknownUnits},
		{"-00001.000*kWh", 0, ErrMalformed},
		{"0012x4.567*kWh", 0, ErrMalformed},
		{"*kWh", 0, ErrMalformed},
		{"99999999999.999*kWh", 0, ErrMalformed}, // beyond 10 TWh
	} {
		r, err := Decode(DSMR, topicP1, []byte(p1("1-0:1.8.1("+tc.value+")")))
		if tc.err != nil {
			if err == nil || !errors.Is(err, tc.err) {
				t.Errorf("%s: %s, %v; want %v", tc.value, asJSON(r), err, tc.err)
			}
			continue
		}
		if err != nil || r.ImportWh != tc.want || r.Channels[0] != (Channel{"T1", tc.want, 0}) {
			t.Errorf("%s: %s, %v; want %d Wh", tc.value, asJSON(r), err, tc.want)
		}
	}
}

func TestDSMRTariffs(t *testing.T) {
	// Three tariffs, export only on one, out of order.
	r := mustDecode(t, DSMR, topicP1, p1("1-0:1.8.3(000003.000*kWh)", "1-0:1.8.1(000001.000*kWh)", "1-0:2.8.2(000002.000*kWh)", "1-0:1.8.2(000002.000*kWh)"))
	want := []Channel{{"T1", 1000, 0}, {"T2", 2000, 2000}, {"T3", 3000, 0}}
	if asJSON(r.Channels) != asJSON(want) || r.ImportWh != 6000 || r.ExportWh != 2000 {
		t.Errorf("got %s, want %s", asJSON(r), asJSON(want))
	}
	// A meter without tariffs: 1-0:1.8.0 and 2.8.0, no channels.
	r = mustDecode(t, DSMR, topicP1, p1("1-0:1.8.0(000123.456*kWh)", "1-0:2.8.0(000001.001*kWh)"))
	if r.ImportWh != 123456 || r.ExportWh != 1001 || r.Channels != nil {
		t.Errorf("1.8.0: %s", asJSON(r))
	}
	// With tariffs, the tariff-less total is not counted again.
	r = mustDecode(t, DSMR, topicP1, p1("1-0:1.8.0(000003.000*kWh)", "1-0:1.8.1(000001.000*kWh)", "1-0:1.8.2(000002.000*kWh)"))
	if r.ImportWh != 3000 {
		t.Errorf("1.8.0 with tariffs: %s", asJSON(r))
	}
	// Lines that merely mention an energy OBIS code are not registers.
	r = mustDecode(t, DSMR, topicP1, p1("1-0:1.8.1(000001.000*kWh)", "0-0:98.1.0(1)(1-0:1.8.1)(1-0:1.8.1)(260601000000S)(260520183000S)(05.012*kWh)", "1-0:1.8.10(000009.000*kWh)"))
	if r.ImportWh != 1000 {
		t.Errorf("mentions: %s", asJSON(r))
	}
	wantErr(t, DSMR, topicP1, p1("1-0:1.8.1(000001.000*kWh)", "1-0:1.8.1(000002.000*kWh)"), ErrMalformed) // twice
	wantErr(t, DSMR, topicP1, p1("1-0:1.8.1(000001.000*kWh)(000002.000*kWh)"), ErrMalformed)
	wantErr(t, DSMR, topicP1, p1("1-0:1.7.0(00.455*kW)", "0-1:24.2.1(261125150000W)(01234.567*m3)"), ErrNoEnergy)
	wantErr(t, DSMR, topicP1, p1("1-0:1.8.1(000000.000*kWh)", "1-0:1.8.2(009999999.999*kWh)", "1-0:1.8.3(000000.001*kWh)"), nil)
	wantErr(t, DSMR, topicP1, p1("1-0:1.8.1(9999999999.999*kWh)", "1-0:1.8.2(009999999.999*kWh)"), ErrMalformed) // sum > 10 TWh
}

func TestDSMRTime(t *testing.T) {
	for _, tc := range []struct {
		stamp string
		want  int64
	}{
		{"261125150300W", 1795615380}, // winter: UTC+1
		{"260715101530S", 1784103330}, // summer: UTC+2
		{"261025025959S", 1792889999}, // the last summer second before the clocks go back...
		{"261025020000W", 1792890000}, // ...and the first winter one, the same wall clock hour
		{"240229120000W", 1709204400}, // a leap day
	} {
		r := mustDecode(t, DSMR, topicP1, p1("0-0:1.0.0("+tc.stamp+")", "1-0:1.8.1(000001.000*kWh)"))
		if r.Time == nil || *r.Time != tc.want {
			t.Errorf("%s: time %s, want %d", tc.stamp, asJSON(r.Time), tc.want)
		}
	}
	r := mustDecode(t, DSMR, topicP1, p1("1-0:1.8.1(000001.000*kWh)"))
	if r.Time != nil {
		t.Errorf("no 0-0:1.0.0: time %d", *r.Time)
	}
	// The clock is not energy: a bad one is a Note and no Time, never a
	// refusal of the registers.
	for _, bad := range []string{"261125150300", "261125150300X", "261131150300W", "250229120000W", "261125250300W", "2611251503000W", "26112515030AW", "(261125150300W)"} {
		r := mustDecode(t, DSMR, topicP1, p1("0-0:1.0.0("+bad+")", "1-0:1.8.1(000001.000*kWh)"))
		want := []Note{{Field: "0-0:1.0.0", Raw: "(" + bad + ")", Why: "not one (YYMMDDhhmmssS|W): no time read"}}
		if r.Time != nil || r.ImportWh != 1000 || !reflect.DeepEqual(r.Notes, want) {
			t.Errorf("clock %s: %s, want no time, 1000 Wh and the note %s", bad, asJSON(r), asJSON(want))
		}
	}
}

func TestDSMREquipmentID(t *testing.T) {
	lines := []string{"0-0:96.1.1(4530303434303037313331363530323136)", "1-0:1.8.1(000001.000*kWh)"}
	if r := mustDecode(t, DSMR, "", p1(lines...)); r.DeviceID != "E0044007131650216" {
		t.Errorf("no topic: device %q", r.DeviceID)
	}
	if r := mustDecode(t, DSMR, topicP1, p1(lines...)); r.DeviceID != "home-12" {
		t.Errorf("topic: device %q, want the topic's", r.DeviceID)
	}
	if r := mustDecode(t, DSMR, "", p1(lines[1])); r.DeviceID != "" {
		t.Errorf("no id at all: device %q", r.DeviceID)
	}
	// An id that is not hex-encoded ASCII is not energy: used as written
	// when it can name a device, with a Note, or left out.
	for _, tc := range []struct{ line, device, why string }{
		{"0-0:96.1.1(3960221976967177085551037881335799)", "3960221976967177085551037881335799", "kept as written"}, // Kaifa DSMR 4.2
		{"0-0:96.1.1(4530ZZ)", "4530ZZ", "kept as written"},
		{"0-0:96.1.1(453)", "453", "kept as written"},
		{"0-0:96.1.1(2F2F)", "2F2F", "kept as written"},                 // hex of "//", not one topic level
		{"0-0:96.1.1(00000000000000)", "", "no device id read from it"}, // DSMR 2.2 placeholder
		{"0-0:96.1.1(00)", "", "no device id read from it"},
		{"0-0:96.1.1(a/b)", "", "no device id read from it"},
		{"0-0:96.1.1(45)(30)", "", "no equipment id read"},
	} {
		r := mustDecode(t, DSMR, "", p1(tc.line, lines[1]))
		if r.DeviceID != tc.device || r.ImportWh != 1000 || len(r.Notes) != 1 || !strings.Contains(r.Notes[0].Why, tc.why) {
			t.Errorf("%s: %s; want device %q and a note %q", tc.line, asJSON(r), tc.device, tc.why)
		}
		// With a topic the topic names the device; the note stays.
		if r := mustDecode(t, DSMR, topicP1, p1(tc.line, lines[1])); r.DeviceID != "home-12" || len(r.Notes) != 1 {
			t.Errorf("%s on a topic: %s", tc.line, asJSON(r))
		}
	}
}

// DSMR 2.2 and 3 have no CRC and no version line; DSMR 4 and later always
// have both. A CRC is checked whenever it is there.
func TestDSMRCRCByVersion(t *testing.T) {
	legacy := []string{`/ISk5\2MT382-1000`, "", "1-0:1.8.1(12345.678*kWh)", "1-0:2.8.1(00001.001*kWh)"}
	bare := strings.Join(legacy, "\r\n") + "\r\n!\r\n"
	r := mustDecode(t, DSMR, topicP1, bare)
	if r.ImportWh != 12345678 || r.ExportWh != 1001 || r.Notes != nil {
		t.Errorf("DSMR 3 without CRC: %s", asJSON(r))
	}
	// The same with a CRC: checked, and refused when wrong.
	mustDecode(t, DSMR, topicP1, telegram(legacy...))
	wrong := strings.Replace(telegram(legacy...), "12345.678", "12345.679", 1)
	wantErr(t, DSMR, topicP1, wrong, ErrBadCRC)
	// A version line means a CRC was sent: a bare "!" lost it.
	for _, version := range []string{"1-3:0.2.8(42)", "1-3:0.2.8(50)", "0-0:96.1.4(50217)"} {
		tel := strings.Join(append([]string{legacy[0], "", version}, legacy[2:]...), "\r\n") + "\r\n!\r\n"
		if _, err := Decode(DSMR, topicP1, []byte(tel)); !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "always has one") {
			t.Errorf("%s without CRC: %v, want ErrTruncated saying a CRC is due", version, err)
		}
	}
	// Without the "!" a telegram is cut short, whatever its version.
	wantErr(t, DSMR, topicP1, strings.Join(legacy, "\r\n")+"\r\n", ErrTruncated)
}

// Energy registers stay strict: only a DSMR 2.2/3 telegram may leave out the
// unit, and then only as the standard's kWh with three decimals.
func TestDSMRLegacyUnitlessRegisters(t *testing.T) {
	legacy := func(reg string) string {
		return strings.Join([]string{`/ISk5\2MT382-1004`, "", reg}, "\r\n") + "\r\n!\r\n"
	}
	r := mustDecode(t, DSMR, topicP1, legacy("1-0:1.8.1(01234.567)"))
	want := []Note{{Field: "1-0:1.8.1", Raw: "(01234.567)", Why: "no unit: read as kWh, as the DSMR 2.2/3 standard fixes for this register"}}
	if r.ImportWh != 1234567 || !reflect.DeepEqual(r.Notes, want) {
		t.Errorf("unitless DSMR 2.2 register: %s", asJSON(r))
	}
	for _, bad := range []string{"1-0:1.8.1(01234.56)", "1-0:1.8.1(01234)", "1-0:1.8.1(01234.5678)", "1-0:1.8.1(01234.567*kvarh)", "1-0:1.8.1(-1234.567)"} {
		if _, err := Decode(DSMR, topicP1, []byte(legacy(bad))); !errors.Is(err, ErrUnknownUnits) && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want a refusal", bad, err)
		}
	}
	// A DSMR 4+ telegram states its units.
	wantErr(t, DSMR, topicP1, p1("1-0:1.8.1(001234.567)"), ErrUnknownUnits)
}

func TestDSMRStructure(t *testing.T) {
	good := p1("1-0:1.8.1(000001.000*kWh)")
	body := good[:strings.IndexByte(good, '!')+1]
	crc := good[len(body) : len(body)+4]
	for _, tc := range []struct {
		name, payload string
		err           error
	}{
		{"as is", good, nil},
		{"leading blank lines", "\r\n\r\n" + good, nil},
		{"no line end after the CRC", strings.TrimSuffix(good, "\r\n"), nil},
		{"lower-case CRC", body + strings.ToLower(crc), nil},
		{"\\n line ends throughout", func() string {
			b := strings.ReplaceAll(body, "\r\n", "\n")
			return fmt.Sprintf("%s%04X\n", b, crc16([]byte(b)))
		}(), nil},
		{"empty", "", ErrTruncated},
		{"cut before !", good[:len(body)-3], ErrTruncated},
		{"no CRC (DSMR 2.2)", body + "\r\n", ErrTruncated},
		{"CRC cut short", body + crc[:2], ErrTruncated},
		{"no header", good[strings.Index(good, "1-3:"):], ErrTruncated},
		{"five CRC digits", body + crc + "0\r\n", ErrMalformed},
		{"CRC not hex", body + "XYZW\r\n", ErrMalformed},
		{"data after the CRC", good + "/ISK5\\2M550T-1012\r\n", ErrMalformed},
		{"two telegrams", good + good, ErrMalformed},
		{"not a telegram", "hello, meter", ErrMalformed},
		{"JSON", `{"1-0:1.8.1":1234.567}`, ErrMalformed},
		{"register lines without header", "1-0:1.8.1(000001.000*kWh)\r\n!ABCD\r\n", ErrTruncated},
	} {
		_, err := Decode(DSMR, topicP1, []byte(tc.payload))
		if (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	// The header is not energy: an unusual one is a Note, under a CRC
	// that still covers it.
	for _, h := range []string{"/12345", "/ISK5", "/ISK5\x02M550T-1012", "/ISK5\x01AB"} {
		r := mustDecode(t, DSMR, topicP1, telegram(h, "1-0:1.8.1(000001.000*kWh)"))
		want := []Note{{Field: "header", Raw: h, Why: "not /XXXn<identification> (three-letter manufacturer, baud-rate digit): not read"}}
		if r.ImportWh != 1000 || !reflect.DeepEqual(r.Notes, want) {
			t.Errorf("header %q: %s", h, asJSON(r))
		}
	}
	// A line that is not OBIS(value) is a Note; a DSMR 2.2 gas value line is not.
	r := mustDecode(t, DSMR, topicP1, p1("1-0:1.8.1(000001.000*kWh)", "0-1:24.3.0(161107190000)(00)(60)(1)(0-1:24.2.1)(m3)", "(00001.001)", "hello"))
	if want := []Note{{Field: "line", Raw: "hello", Why: "not OBIS(value): not read"}}; !reflect.DeepEqual(r.Notes, want) {
		t.Errorf("odd lines: %s", asJSON(r.Notes))
	}
}

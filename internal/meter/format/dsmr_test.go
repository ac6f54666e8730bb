package format

import (
	"errors"
	"fmt"
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
	for _, bad := range []string{"261125150300", "261125150300X", "261131150300W", "250229120000W", "261125250300W", "2611251503000W", "26112515030AW", "(261125150300W)"} {
		wantErr(t, DSMR, topicP1, p1("0-0:1.0.0("+bad+")", "1-0:1.8.1(000001.000*kWh)"), ErrMalformed)
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
	for _, bad := range []string{"0-0:96.1.1(4530ZZ)", "0-0:96.1.1(453)", "0-0:96.1.1(00)", "0-0:96.1.1(2F2F)"} {
		wantErr(t, DSMR, "", p1(bad, lines[1]), ErrMalformed)
	}
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
		{"bad header", telegram("/12345", "1-0:1.8.1(000001.000*kWh)"), ErrMalformed},
		{"short header", telegram("/ISK5", "1-0:1.8.1(000001.000*kWh)"), ErrMalformed},
		{"header with control byte", telegram("/ISK5\x01AB", "1-0:1.8.1(000001.000*kWh)"), ErrMalformed},
		{"not a telegram", "hello, meter", ErrMalformed},
		{"JSON", `{"1-0:1.8.1":1234.567}`, ErrMalformed},
		{"register lines without header", "1-0:1.8.1(000001.000*kWh)\r\n!ABCD\r\n", ErrTruncated},
	} {
		_, err := Decode(DSMR, topicP1, []byte(tc.payload))
		if (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
}

package format

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A DSMR P1 telegram (Dutch DSMR 2.2, 3, 4 and 5, Belgian eMUCs, and the
// meters of other countries that copied it) is text, lines ending in \r\n,
// published as is on dsmr/<id>/telegram (this project's convention, as the
// usual P1-to-MQTT readers do):
//
//	/ISK5\2M550T-1012
//
//	1-3:0.2.8(50)
//	0-0:1.0.0(261125150300W)
//	0-0:96.1.1(4530303434303037313331363530323136)
//	1-0:1.8.1(001234.567*kWh)
//	1-0:1.8.2(002345.678*kWh)
//	1-0:2.8.1(000123.456*kWh)
//	1-0:2.8.2(000234.567*kWh)
//	…
//	!ABCD
//
// The telegram runs from "/" to "!". DSMR 4 and later follow the "!" with a
// CRC-16/ARC (polynomial 0xA001 reflected, initial value 0) of every byte
// from "/" through "!", as four hex digits; DSMR 2.2 and 3 have none. The
// CRC is checked whenever it is there, and required when the telegram says
// it is DSMR 4 or later (a 1-3:0.2.8 version line, or the Belgian
// 0-0:96.1.4): such a telegram ending in a bare "!" lost its CRC. A telegram
// without its "!" is cut short, whatever its version.
//
// 1-0:1.8.n is energy delivered to the client (import) and 1-0:2.8.n energy
// delivered by the client (export) in tariff n, kWh (or Wh if the line says
// *Wh): channels "T1", "T2", … and totals are their sums. Only a meter
// without tariff registers is read from 1-0:1.8.0 and 1-0:2.8.0 (no
// channels). These registers are read strictly: a unit other than kWh or
// Wh, a malformed value or a register given twice refuses the telegram. A
// DSMR 2.2/3 telegram (no version line) may write them without a unit; the
// companion standard fixes them as kWh with three decimals, so exactly that
// is accepted, with a Note.
//
// Everything else is tolerated (see Note): the header is "/" with a
// three-letter manufacturer, a baud-rate digit and an identification, but
// one carrying a control byte or another shape is kept as a Note;
// 0-0:1.0.0 is the meter's clock, YYMMDDhhmmss then S (summer, UTC+2) or W
// (winter, UTC+1), and a clock without its letter or out of range is a Note
// and no Time; 0-0:96.1.1 is the equipment id, hex-encoded ASCII, used as
// DeviceID when there is no topic, and an id written in plain digits (a
// Kaifa DSMR 4.2) is used as written, with a Note. Other lines are not read;
// a line that is not OBIS(value) is a Note, except the "(value)"
// continuation lines of DSMR 2.2/3 gas records.

// dsmrTopic parses dsmr/<id>/telegram.
func dsmrTopic(topic string) (topicInfo, bool) {
	seg := strings.Split(topic, "/")
	if len(seg) != 3 || seg[0] != "dsmr" || !validSegment(seg[1]) {
		return topicInfo{}, false
	}
	return topicInfo{format: DSMR, device: seg[1], energy: seg[2] == "telegram"}, true
}

// crcTable is CRC-16/ARC's table for the reflected polynomial 0xA001.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc16 is CRC-16/ARC, the P1 telegram's CRC.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc>>8 ^ crcTable[byte(crc)^c]
	}
	return crc
}

func decodeDSMR(topic string, payload []byte) (Registers, error) {
	r := Registers{Format: DSMR}
	if topic != "" {
		t, err := topicFor(DSMR, topic)
		if err != nil {
			return Registers{}, err
		}
		r.DeviceID = t.device
	}
	tel := bytes.TrimLeft(payload, " \t\r\n")
	if len(tel) == 0 {
		return Registers{}, fmt.Errorf("%w: empty payload", ErrTruncated)
	}
	if tel[0] != '/' {
		if hasOBISLine(tel) {
			return Registers{}, fmt.Errorf("%w: telegram without its /header line", ErrTruncated)
		}
		return Registers{}, fmt.Errorf("%w: not a DSMR telegram (no /header)", ErrMalformed)
	}
	end := bytes.IndexByte(tel, '!')
	if end < 0 {
		return Registers{}, fmt.Errorf("%w: telegram without its closing !", ErrTruncated)
	}
	lines := strings.Split(string(tel[:end]), "\n")
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	version := dsmrVersion(lines[1:])

	tail := tel[end+1:]
	crcText := tail[:len(tail)-len(bytes.TrimLeft(tail, "0123456789ABCDEFabcdef"))]
	if rest := tail[len(crcText):]; len(bytes.Trim(rest, " \t\r\n")) != 0 {
		return Registers{}, fmt.Errorf("%w: %q after the CRC", ErrMalformed, clip(rest))
	}
	switch {
	case len(crcText) == 0 && version != "":
		return Registers{}, fmt.Errorf("%w: no CRC after \"!\", but the telegram says it is %s, which always has one", ErrTruncated, version)
	case len(crcText) == 0:
		// DSMR 2.2 or 3: the standard gave them no CRC.
	case len(crcText) < 4:
		return Registers{}, fmt.Errorf("%w: CRC %q is cut short", ErrTruncated, crcText)
	case len(crcText) > 4:
		return Registers{}, fmt.Errorf("%w: CRC %q is not four hex digits", ErrMalformed, clip(crcText))
	default:
		want, _ := strconv.ParseUint(string(crcText), 16, 16)
		if got := crc16(tel[:end+1]); uint16(want) != got {
			return Registers{}, fmt.Errorf("%w: telegram says %04X, computed %04X", ErrBadCRC, want, got)
		}
	}

	if h := lines[0]; !dsmrHeader(h) {
		r.note("header", h, "not /XXXn<identification> (three-letter manufacturer, baud-rate digit): not read")
	}
	var imp, exp [10]*int64 // by tariff; 0 is the tariff-less total
	var equipment string
	for _, line := range lines[1:] {
		if line == "" {
			continue
		}
		obis, value, found := strings.Cut(line, "(")
		switch {
		case !found:
			r.note("line", line, "not OBIS(value): not read")
			continue
		case obis == "":
			continue // the value line of a DSMR 2.2/3 gas record
		}
		value = "(" + value
		switch {
		case obis == "0-0:1.0.0":
			v, err := dsmrGroup(obis, value)
			if err == nil {
				r.Time, err = dsmrTime(v)
			}
			if err != nil {
				r.note(obis, value, "not one (YYMMDDhhmmssS|W): no time read")
			}
		case obis == "0-0:96.1.1":
			v, err := dsmrGroup(obis, value)
			if err != nil {
				r.note(obis, value, "not one (value): no equipment id read")
				continue
			}
			equipment = v
		case len(obis) == 9 && (strings.HasPrefix(obis, "1-0:1.8.") || strings.HasPrefix(obis, "1-0:2.8.")) && obis[8] >= '0' && obis[8] <= '9':
			regs := &imp
			if obis[4] == '2' {
				regs = &exp
			}
			n := obis[8] - '0'
			if regs[n] != nil {
				return Registers{}, fmt.Errorf("%w: %s appears twice", ErrMalformed, obis)
			}
			v, err := dsmrEnergy(&r, obis, value, version == "")
			if err != nil {
				return Registers{}, err
			}
			regs[n] = &v
		}
	}
	for n := 1; n < 10; n++ {
		if imp[n] != nil || exp[n] != nil {
			ch := Channel{Name: "T" + strconv.Itoa(n)}
			if imp[n] != nil {
				ch.ImportWh = *imp[n]
			}
			if exp[n] != nil {
				ch.ExportWh = *exp[n]
			}
			r.Channels = append(r.Channels, ch)
		}
	}
	switch {
	case len(r.Channels) > 0:
		if err := r.totals(); err != nil {
			return Registers{}, err
		}
	case imp[0] != nil || exp[0] != nil:
		if imp[0] != nil {
			r.ImportWh = *imp[0]
		}
		if exp[0] != nil {
			r.ExportWh = *exp[0]
		}
	default:
		return Registers{}, fmt.Errorf("%w: no 1-0:1.8.x or 1-0:2.8.x register in the telegram", ErrNoEnergy)
	}
	if equipment != "" {
		dsmrEquipment(&r, equipment)
	}
	return r, nil
}

// dsmrVersion is what the telegram says of its version, "" for none (DSMR
// 2.2 and 3 have no version line): "DSMR 4.2" from 1-3:0.2.8(42), "eMUCs"
// for the Belgian 0-0:96.1.4.
func dsmrVersion(lines []string) string {
	for _, line := range lines {
		if v, ok := strings.CutPrefix(line, "1-3:0.2.8("); ok {
			v, _, _ = strings.Cut(v, ")")
			if len(v) == 2 && v[0] >= '0' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9' {
				return "DSMR " + v[:1] + "." + v[1:]
			}
			return "DSMR " + clip([]byte(v))
		}
		if strings.HasPrefix(line, "0-0:96.1.4(") {
			return "eMUCs (Belgian DSMR 5)"
		}
	}
	return ""
}

// dsmrEquipment reads the equipment id 0-0:96.1.1, hex-encoded ASCII. It
// names the device when there is no topic. One written as plain text (a
// Kaifa DSMR 4.2 writes digits) is used as written, with a Note; one that is
// neither names nothing.
func dsmrEquipment(r *Registers, equipment string) {
	if id, err := hex.DecodeString(equipment); err == nil && printable(id) {
		if s := strings.TrimSpace(string(id)); s != "" && validSegment(s) {
			if r.DeviceID == "" {
				r.DeviceID = s
			}
			return
		}
	}
	if strings.Trim(equipment, "0") == "" || !printable([]byte(equipment)) || !validSegment(equipment) {
		r.note("0-0:96.1.1", equipment, "equipment id is not hex-encoded ASCII: no device id read from it")
		return
	}
	r.note("0-0:96.1.1", equipment, "equipment id is not hex-encoded ASCII: kept as written")
	if r.DeviceID == "" {
		r.DeviceID = equipment
	}
}

// hasOBISLine says whether some line starts like a register, "1-0:1.8.1(":
// a telegram whose start was lost rather than something else.
func hasOBISLine(b []byte) bool {
	for line := range bytes.Lines(b) {
		obis, _, found := bytes.Cut(line, []byte("("))
		if found && isOBIS(string(obis)) {
			return true
		}
	}
	return false
}

// isOBIS is an OBIS reduced ID as P1 writes it: A-B:C.D.E, all numbers.
func isOBIS(s string) bool {
	for _, sep := range []byte{'-', ':', '.', '.', 0} {
		n := 0
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			n++
		}
		if n == 0 {
			return false
		}
		if s = s[n:]; sep == 0 {
			return s == ""
		}
		if s == "" || s[0] != sep {
			return false
		}
		s = s[1:]
	}
	return false
}

// dsmrHeader is "/" then a three-letter manufacturer, a baud-rate digit and
// an identification.
func dsmrHeader(h string) bool {
	if len(h) < 6 || h[0] != '/' || h[4] < '0' || h[4] > '9' {
		return false
	}
	for _, c := range []byte(h[1:4]) {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return printable([]byte(h))
}

// dsmrGroup is the one "(value)" group of a line.
func dsmrGroup(obis, groups string) (string, error) {
	v, ok := strings.CutPrefix(groups, "(")
	if v, ok2 := strings.CutSuffix(v, ")"); ok && ok2 && !strings.ContainsAny(v, "()") {
		return v, nil
	}
	return "", fmt.Errorf("%w: %s%s is not one (value)", ErrMalformed, obis, clip([]byte(groups)))
}

// dsmrEnergy reads "(001234.567*kWh)" as Wh. In a DSMR 2.2/3 telegram
// (legacy) a value without a unit is read as the kWh the standard fixes,
// if it has the standard's three decimals, with a Note.
func dsmrEnergy(r *Registers, obis, groups string, legacy bool) (int64, error) {
	v, err := dsmrGroup(obis, groups)
	if err != nil {
		return 0, err
	}
	num, unit, found := strings.Cut(v, "*")
	if !found {
		dot := strings.IndexByte(v, '.')
		if !legacy || dot < 0 || len(v)-dot != 4 {
			return 0, fmt.Errorf("%w: %s(%s) has no unit (want *kWh)", ErrUnknownUnits, obis, clip([]byte(v)))
		}
		wh, err := parseWh(v, obis, 3, 1)
		if err == nil {
			r.note(obis, groups, "no unit: read as kWh, as the DSMR 2.2/3 standard fixes for this register")
		}
		return wh, err
	}
	pow10, ok := unitScale(unit)
	if !ok {
		return 0, fmt.Errorf("%w: %s is in %q (want kWh or Wh)", ErrUnknownUnits, obis, clip([]byte(unit)))
	}
	return parseWh(num, obis, pow10, 1)
}

// dsmrTime reads YYMMDDhhmmss followed by S (summer, UTC+2) or W (winter,
// UTC+1).
func dsmrTime(v string) (*int64, error) {
	bad := fmt.Errorf("%w: 0-0:1.0.0 %q is not YYMMDDhhmmss[SW]", ErrMalformed, clip([]byte(v)))
	if len(v) != 13 || (v[12] != 'S' && v[12] != 'W') {
		return nil, bad
	}
	f := [6]int{}
	for i := range f {
		d0, d1 := v[2*i], v[2*i+1]
		if d0 < '0' || d0 > '9' || d1 < '0' || d1 > '9' {
			return nil, bad
		}
		f[i] = int(d0-'0')*10 + int(d1-'0')
	}
	local := time.Date(2000+f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], 0, time.UTC)
	// time.Date normalises 31 April into 1 May: a date that moved was invalid.
	if local.Month() != time.Month(f[1]) || local.Day() != f[2] || local.Hour() != f[3] || local.Minute() != f[4] || local.Second() != f[5] {
		return nil, bad
	}
	offset := int64(3600)
	if v[12] == 'S' {
		offset = 7200
	}
	return plausible(local.Unix() - offset), nil
}

// printable is every byte visible ASCII or a space.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// clip shortens what a message quotes from a payload.
func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

package format

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A DSMR P1 telegram (Dutch DSMR 4 and 5, Belgian eMUCs) is text, lines
// ending in \r\n, published as is on dsmr/<id>/telegram (this project's
// convention, as the usual P1-to-MQTT readers do):
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
// The header is "/" with a three-letter manufacturer and a baud-rate digit;
// the telegram ends with "!" and a CRC-16/ARC (polynomial 0xA001 reflected,
// initial value 0) of every byte from "/" through "!", as four hex digits.
// The CRC is required: DSMR 2.2 and 3 telegrams, which have none, are
// refused as truncated, since without it a cut or garbled telegram cannot be
// told from a good one.
//
// 1-0:1.8.n is energy delivered to the client (import) and 1-0:2.8.n energy
// delivered by the client (export) in tariff n, kWh (or Wh if the line says
// *Wh): channels "T1", "T2", … and totals are their sums. Only a meter
// without tariff registers is read from 1-0:1.8.0 and 1-0:2.8.0 (no
// channels). 0-0:1.0.0 is the meter's clock, YYMMDDhhmmss then S (summer,
// UTC+2) or W (winter, UTC+1): Dutch and Belgian local time. 0-0:96.1.1 is
// the equipment id, hex-encoded ASCII, used as DeviceID when there is no
// topic.

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
		return Registers{}, fmt.Errorf("%w: telegram without its closing !CRC", ErrTruncated)
	}
	tail := tel[end+1:]
	crcText := tail[:len(tail)-len(bytes.TrimLeft(tail, "0123456789ABCDEFabcdef"))]
	if rest := tail[len(crcText):]; len(bytes.Trim(rest, " \t\r\n")) != 0 {
		return Registers{}, fmt.Errorf("%w: %q after the CRC", ErrMalformed, clip(rest))
	}
	switch {
	case len(crcText) == 0:
		return Registers{}, fmt.Errorf("%w: no CRC after \"!\" (DSMR 2.2/3 telegrams without CRC are not accepted)", ErrTruncated)
	case len(crcText) < 4:
		return Registers{}, fmt.Errorf("%w: CRC %q is cut short", ErrTruncated, crcText)
	case len(crcText) > 4:
		return Registers{}, fmt.Errorf("%w: CRC %q is not four hex digits", ErrMalformed, clip(crcText))
	}
	want, _ := strconv.ParseUint(string(crcText), 16, 16)
	if got := crc16(tel[:end+1]); uint16(want) != got {
		return Registers{}, fmt.Errorf("%w: telegram says %04X, computed %04X", ErrBadCRC, want, got)
	}

	lines := strings.Split(string(tel[:end]), "\n")
	if h := strings.TrimSuffix(lines[0], "\r"); !dsmrHeader(h) {
		return Registers{}, fmt.Errorf("%w: header %q is not /XXXn<id>", ErrMalformed, clip([]byte(h)))
	}
	var imp, exp [10]*int64 // by tariff; 0 is the tariff-less total
	var equipment string
	for _, line := range lines[1:] {
		line = strings.TrimSuffix(line, "\r")
		obis, value, found := strings.Cut(line, "(")
		if !found {
			continue
		}
		value = "(" + value
		switch {
		case obis == "0-0:1.0.0":
			v, err := dsmrGroup(obis, value)
			if err == nil {
				r.Time, err = dsmrTime(v)
			}
			if err != nil {
				return Registers{}, err
			}
		case obis == "0-0:96.1.1":
			v, err := dsmrGroup(obis, value)
			if err != nil {
				return Registers{}, err
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
			v, err := dsmrEnergy(obis, value)
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
	if r.DeviceID == "" && equipment != "" {
		id, err := hex.DecodeString(equipment)
		if err != nil || !validSegment(string(id)) || strings.TrimSpace(string(id)) == "" || !printable(id) {
			return Registers{}, fmt.Errorf("%w: 0-0:96.1.1 %q is not hex-encoded ASCII", ErrMalformed, clip([]byte(equipment)))
		}
		r.DeviceID = strings.TrimSpace(string(id))
	}
	return r, nil
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

// dsmrEnergy reads "(001234.567*kWh)" as Wh.
func dsmrEnergy(obis, groups string) (int64, error) {
	v, err := dsmrGroup(obis, groups)
	if err != nil {
		return 0, err
	}
	num, unit, found := strings.Cut(v, "*")
	if !found {
		return 0, fmt.Errorf("%w: %s(%s) has no unit (want *kWh)", ErrUnknownUnits, obis, v)
	}
	pow10, ok := unitScale(unit)
	if !ok {
		return 0, fmt.Errorf("%w: %s is in %q (want kWh or Wh)", ErrUnknownUnits, obis, unit)
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

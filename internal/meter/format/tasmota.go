package format

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Tasmota publishes its energy sensor on tele/<topic>/SENSOR every
// TelePeriod, and answers "Status 10" (older firmware "Status 8") on
// stat/<topic>/STATUS10 with the same ENERGY object inside StatusSNS
// (Sonoff-Tasmota 5.x answered STATUS8 with it in a top-level StatusPWR):
//
//	{"Time":"2026-11-25T14:03:00","ENERGY":{"TotalStartTime":"2024-01-01T00:00:00",
//	 "Total":123.456,"Yesterday":1.2,"Today":0.3,"Power":450,"Voltage":230,"Current":1.9}}
//
// Total and ExportActive are kWh with EnergyRes decimals (3 by default).
// On multi-channel devices Total is the sum of the channels unless
// SetOption129 is on, which makes it an array [ch1,ch2,…]; ExportActive is
// an array when every channel has one, otherwise a scalar holding channel 1's
// export (Tasmota prints export_active[0]). Time is local time without a zone
// unless SetOption52 appends one; a "TimeZone" (or "Timezone") field, "+01:00"
// or whole hours, gives the offset, otherwise it is taken as UTC.

// tasmotaTopic parses tele/<topic>/<kind>, stat/<topic>/<kind> and
// cmnd/<topic>/<command> (Tasmota's default FullTopic %prefix%/%topic%/).
func tasmotaTopic(topic string) (topicInfo, bool) {
	seg := strings.Split(topic, "/")
	if len(seg) != 3 || (seg[0] != "tele" && seg[0] != "stat" && seg[0] != "cmnd") || !validSegment(seg[1]) || seg[2] == "" {
		return topicInfo{}, false
	}
	t := topicInfo{format: Tasmota, device: seg[1], kind: seg[2]}
	t.energy = (seg[0] == "tele" && seg[2] == "SENSOR") || (seg[0] == "stat" && (seg[2] == "STATUS10" || seg[2] == "STATUS8"))
	return t, true
}

func decodeTasmota(topic string, payload []byte) (Registers, error) {
	r := Registers{Format: Tasmota}
	if topic != "" {
		t, err := topicFor(Tasmota, topic)
		if err != nil {
			return Registers{}, err
		}
		r.DeviceID = t.device
	}
	top, err := parseObject(payload)
	if err != nil {
		return Registers{}, err
	}
	body := top
	if sns, ok, err := top.obj("StatusSNS", "StatusSNS"); err != nil {
		return Registers{}, err
	} else if ok {
		body = sns
	}
	energy, ok, err := body.obj("ENERGY", "ENERGY")
	if err != nil {
		return Registers{}, err
	}
	if !ok {
		// Sonoff-Tasmota 5.x answered Status 8 with the same registers in
		// StatusPWR.
		if energy, ok, err = top.obj("StatusPWR", "StatusPWR"); err != nil {
			return Registers{}, err
		}
	}
	if !ok {
		return Registers{}, fmt.Errorf("%w: no ENERGY object (not an energy monitoring device?)", ErrNoEnergy)
	}
	imports, importArray, ok, err := tasmotaKWh(energy, "Total")
	if err != nil {
		return Registers{}, err
	}
	if !ok {
		return Registers{}, fmt.Errorf("%w: ENERGY has no Total", ErrNoEnergy)
	}
	exports, exportArray, _, err := tasmotaKWh(energy, "ExportActive")
	if err != nil {
		return Registers{}, err
	}
	if importArray {
		if exportArray && len(exports) != len(imports) {
			return Registers{}, fmt.Errorf("%w: ENERGY.Total has %d channels but ExportActive %d", ErrMalformed, len(imports), len(exports))
		}
		r.Channels = make([]Channel, len(imports))
		for i, v := range imports {
			r.Channels[i] = Channel{Name: strconv.Itoa(i + 1), ImportWh: v}
			if i < len(exports) { // a scalar ExportActive is channel 1's
				r.Channels[i].ExportWh = exports[i]
			}
		}
		err = r.totals()
	} else {
		r.ImportWh = imports[0]
		for _, v := range exports {
			if err = addWh(&r.ExportWh, v, "ENERGY.ExportActive"); err != nil {
				break
			}
		}
	}
	if err != nil {
		return Registers{}, err
	}
	if r.Time, err = tasmotaTime(top, body); err != nil {
		return Registers{}, err
	}
	return r, nil
}

// tasmotaKWh reads ENERGY[key], a kWh number or an array of them, as Wh.
func tasmotaKWh(energy object, key string) (wh []int64, isArray, ok bool, err error) {
	what := "ENERGY." + key
	raw := energy[key]
	if isNull(raw) {
		return nil, false, false, nil
	}
	if raw[0] != '[' {
		v, _, err := energy.wh(key, what, 3, 1)
		return []int64{v}, false, err == nil, err
	}
	elems, _, err := energy.array(key, what)
	if err != nil {
		return nil, true, false, err
	}
	if len(elems) == 0 {
		return nil, true, false, fmt.Errorf("%w: %s is an empty array", ErrMalformed, what)
	}
	wh = make([]int64, len(elems))
	for i, e := range elems {
		name := fmt.Sprintf("%s[%d]", what, i)
		if isNull(e) {
			return nil, true, false, fmt.Errorf("%w: %s is null", ErrMalformed, name)
		}
		if wh[i], _, err = (object{"v": e}).wh("v", name, 3, 1); err != nil {
			return nil, true, false, err
		}
	}
	return wh, true, true, nil
}

// tasmotaTime reads Time (in StatusSNS for a status response) with the
// TimeZone offset if the payload has one.
func tasmotaTime(top, body object) (*int64, error) {
	clock, ok, err := body.str("Time", "Time")
	if err != nil || !ok {
		return nil, err
	}
	offset := 0
	for _, o := range []object{body, top} {
		for _, key := range []string{"TimeZone", "Timezone"} {
			if raw := o[key]; !isNull(raw) {
				if offset, err = tasmotaOffset(raw, key); err != nil {
					return nil, err
				}
				return parseClock(clock, offset, "Time")
			}
		}
	}
	return parseClock(clock, offset, "Time")
}

// tasmotaOffset reads a zone offset: "+01:00", "-05:30", "Z" or whole hours.
func tasmotaOffset(raw json.RawMessage, key string) (int, error) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		// Whole hours, as Tasmota's Timezone command takes them.
		h, err := strconv.Atoi(string(raw))
		if err != nil || h < -12 || h > 14 {
			return 0, fmt.Errorf("%w: %s %s is not an offset from UTC", ErrMalformed, key, raw)
		}
		return h * 3600, nil
	}
	if s == "Z" || s == "+00:00" || s == "-00:00" {
		return 0, nil
	}
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
		return 0, fmt.Errorf("%w: %s %q is not an offset from UTC (want +hh:mm)", ErrMalformed, key, s)
	}
	h, errH := strconv.Atoi(s[1:3])
	m, errM := strconv.Atoi(s[4:6])
	if errH != nil || errM != nil || h > 14 || m > 59 || s[1] == '+' || s[1] == '-' || s[4] == '+' || s[4] == '-' {
		return 0, fmt.Errorf("%w: %s %q is not an offset from UTC (want +hh:mm)", ErrMalformed, key, s)
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, nil
}

package format

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Shelly Gen1 devices publish each value on its own topic under
// shellies/<id>/, and their whole status (the HTTP /status body) on
// shellies/<id>/info. Units differ by model:
//
//   - Plugs, relays, rollers and dimmers (Plug S, 1PM, 2.5, Dimmer) count
//     energy in watt-minutes: relay/<i>/energy (roller/<i>/energy,
//     light/<i>/energy) is an integer Wmin counter, and so is meters[].total
//     in the status. The counter restarts from zero when the device reboots.
//   - Energy meters (EM, 3EM) count Wh: emeter/<i>/total (consumed) and
//     emeter/<i>/total_returned (returned), decimal text, and
//     emeters[].total and total_returned in the status.
//   - emeter/<i>/energy and returned_energy are watt-minutes since the last
//     report, not counters: a lost message would lose energy for good and a
//     repeated one count it twice, so they are not registers (Identify says
//     ok=false).
//
// The status carries "unixtime" (0 until the device has synced its clock)
// and "mac".

// Kinds of Shelly Gen1 energy topics.
const (
	gen1Info      = "info"           // the status JSON
	gen1Wmin      = "energy"         // relay|roller|light/<i>/energy: Wmin counter
	gen1Import    = "total"          // emeter/<i>/total: Wh consumed
	gen1Export    = "total_returned" // emeter/<i>/total_returned: Wh returned
	notCumulative = "carries watt-minutes since the last report, not a cumulative counter: use emeter/<i>/total"
)

// gen1Topic parses shellies/<id>/... topics.
func gen1Topic(topic string) (topicInfo, bool) {
	seg := strings.Split(topic, "/")
	if len(seg) < 2 || seg[0] != "shellies" {
		return topicInfo{}, false
	}
	t := topicInfo{format: ShellyGen1}
	if len(seg) < 3 || !validSegment(seg[1]) {
		return t, true // shellies/announce, shellies/command: every device, no energy
	}
	t.device = seg[1]
	switch {
	case len(seg) == 3 && seg[2] == gen1Info:
		t.energy, t.kind = true, gen1Info
	case len(seg) == 5 && (seg[2] == "relay" || seg[2] == "roller" || seg[2] == "light") && isIndex(seg[3]) && seg[4] == "energy":
		t.energy, t.kind, t.index = true, gen1Wmin, seg[3]
	case len(seg) == 5 && seg[2] == "emeter" && isIndex(seg[3]) && (seg[4] == gen1Import || seg[4] == gen1Export):
		t.energy, t.kind, t.index = true, seg[4], seg[3]
	case len(seg) == 5 && seg[2] == "emeter" && (seg[4] == "energy" || seg[4] == "returned_energy"):
		t.why = notCumulative
	}
	return t, true
}

func decodeShellyGen1(topic string, payload []byte) (Registers, error) {
	r := Registers{Format: ShellyGen1}
	var t topicInfo
	if topic != "" {
		var err error
		if t, err = topicFor(ShellyGen1, topic); err != nil {
			return Registers{}, err
		}
		r.DeviceID = t.device
	}
	if t.kind == "" || t.kind == gen1Info {
		return decodeGen1Status(r, payload)
	}
	// One register of one channel, as plain decimal text.
	text := string(bytes.TrimSpace(payload))
	if text == "" {
		return Registers{}, fmt.Errorf("%w: empty payload", ErrTruncated)
	}
	what := topic[len("shellies/"+t.device+"/"):]
	ch := Channel{Name: t.index}
	var err error
	switch t.kind {
	case gen1Wmin:
		ch.ImportWh, err = parseRegister(text, what+" (Wmin)", 0, 60)
	case gen1Import:
		ch.ImportWh, err = parseRegister(text, what+" (Wh)", 0, 1)
	case gen1Export:
		ch.ExportWh, err = parseRegister(text, what+" (Wh)", 0, 1)
	}
	if err != nil {
		return Registers{}, err
	}
	r.Channels = []Channel{ch}
	r.ImportWh, r.ExportWh = ch.ImportWh, ch.ExportWh
	return r, nil
}

// decodeGen1Status reads the status JSON (shellies/<id>/info or HTTP
// /status): emeters (Wh) on energy meters, otherwise meters (Wmin). A device
// with both would count the same energy twice, so emeters win.
func decodeGen1Status(r Registers, payload []byte) (Registers, error) {
	top, err := parseObject(payload)
	if err != nil {
		return Registers{}, err
	}
	key, div := "emeters", int64(1)
	list, ok, err := top.array(key, key)
	if err == nil && (!ok || len(list) == 0) {
		key, div = "meters", 60
		list, _, err = top.array(key, key)
	}
	if err != nil {
		return Registers{}, err
	}
	for i, raw := range list {
		what := fmt.Sprintf("%s[%d]", key, i)
		m, err := rawObject(raw, what)
		if err != nil {
			return Registers{}, err
		}
		ch := Channel{Name: strconv.Itoa(i)}
		unit := " (Wh)"
		if div == 60 {
			unit = " (Wmin)"
		}
		if ch.ImportWh, ok, err = m.wh("total", what+".total"+unit, 0, div); err != nil {
			return Registers{}, err
		}
		if !ok {
			continue // a relay without metering (Shelly 1): no energy on this channel
		}
		if div == 1 {
			if ch.ExportWh, _, err = m.wh("total_returned", what+".total_returned"+unit, 0, 1); err != nil {
				return Registers{}, err
			}
		}
		// The device's own metering self-check: a gateway must not sign what
		// the meter itself does not trust.
		if string(m["is_valid"]) == "false" {
			return Registers{}, fmt.Errorf("%w: %s.is_valid is false (metering self-check failed)", ErrMalformed, what)
		}
		r.Channels = append(r.Channels, ch)
	}
	if len(r.Channels) == 0 {
		return Registers{}, fmt.Errorf("%w: no meters[].total or emeters[].total in the status", ErrNoEnergy)
	}
	if err := r.totals(); err != nil {
		return Registers{}, err
	}
	if text, ok, err := top.number("unixtime", "unixtime"); err != nil {
		return Registers{}, err
	} else if ok {
		if r.Time, err = unixSeconds(text, "unixtime"); err != nil {
			return Registers{}, err
		}
	}
	if r.DeviceID == "" {
		mac, ok, err := top.str("mac", "mac")
		if err != nil {
			return Registers{}, err
		}
		if ok && validSegment(mac) {
			r.DeviceID = mac
		}
	}
	return r, nil
}

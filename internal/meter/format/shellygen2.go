package format

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Shelly Gen2 devices (Plus, Pro, Gen3, Gen4) speak JSON-RPC. Over MQTT they
// publish notifications on <prefix>/events/rpc, where the prefix is the
// device id (shellyplus1pm-a8032ab12345) unless configured otherwise:
//
//	{"src":"shellyplus1pm-a8032ab12345","dst":"shellyplus1pm-a8032ab12345/events",
//	 "method":"NotifyStatus","params":{"ts":1700000000.12,
//	 "switch:0":{"id":0,"aenergy":{"total":1234.567,"by_minute":[…],"minute_ts":1700000000}}}}
//
// and, with "generic status update" on, each component's whole status on
// <prefix>/status/<component>. Every energy counter is Wh, decimal:
//
//	switch:N, cover:N, light:N, pm1:N   aenergy.total (import), ret_aenergy.total (export, newer firmware)
//	emdata:N  (Pro 3EM, 3-phase)        a_total_act_energy, a_total_act_ret_energy, b_…, c_… → channels a, b, c
//	em1data:N (Pro EM, 3EM monophase)   total_act_energy, total_act_ret_energy
//
// A NotifyStatus is a delta: it carries only the components, and the
// attributes, that changed. A switch's aenergy and ret_aenergy both change
// every minute (by_minute, minute_ts), so they arrive together; an energy
// meter's import and export totals do not, so an emdata or em1data that
// lacks one of its registers is skipped rather than read as zero (which
// downstream would take for a counter reset). NotifyFullStatus and the
// status topics carry complete components. Channels are named by component
// ("switch:0"), or by phase for emdata; the emdata totals (total_act,
// total_act_ret) are the sums of the phases and are not read, so that the
// channels always add up to ImportWh and ExportWh.
//
// Time is params.ts (float seconds, truncated to the second), or, without
// it (a Shelly.GetStatus body), sys.unixtime; a component status has none.
//
// A component status read from a file or HTTP body, without the topic that
// names it, is recognised by its fields (see gen2Bare), with a Note.

// Kinds of Shelly Gen2 energy topics.
const (
	gen2RPC       = "rpc"       // <prefix>/events/rpc: a notification frame
	gen2Component = "component" // <prefix>/status/<component>: one component's status
)

// gen2EnergyTypes are the components with energy counters.
var gen2EnergyTypes = []string{"switch", "cover", "light", "pm1", "emdata", "em1data"}

// gen2Key splits a component key "switch:0" into its type and id.
func gen2Key(key string) (typ string, id int, ok bool) {
	typ, num, found := strings.Cut(key, ":")
	if !found || !isIndex(num) {
		return typ, 0, false
	}
	id, _ = strconv.Atoi(num)
	return typ, id, true
}

// gen2EnergyKey is a component key of a type with energy counters.
func gen2EnergyKey(key string) bool {
	typ, _, ok := gen2Key(key)
	return ok && slices.Contains(gen2EnergyTypes, typ)
}

// gen2Topic parses <prefix>/events/rpc and <prefix>/status/<component>.
func gen2Topic(topic string) (topicInfo, bool) {
	if prefix, ok := strings.CutSuffix(topic, "/events/rpc"); ok && validPrefix(prefix) {
		return topicInfo{format: ShellyGen2, device: prefix, energy: true, kind: gen2RPC}, true
	}
	i := strings.LastIndex(topic, "/status/")
	if i <= 0 {
		return topicInfo{}, false
	}
	prefix, comp := topic[:i], topic[i+len("/status/"):]
	if !validPrefix(prefix) || !validSegment(comp) {
		return topicInfo{}, false
	}
	t := topicInfo{format: ShellyGen2, device: prefix, kind: gen2Component, index: comp, energy: gen2EnergyKey(comp)}
	if typ, id, ok := gen2Key(comp); ok && (typ == "em" || typ == "em1") {
		t.why = fmt.Sprintf("carries power, not energy: the energy totals are on %s/status/%sdata:%d", prefix, typ, id)
	}
	return t, true
}

func decodeShellyGen2(topic string, payload []byte) (Registers, error) {
	r := Registers{Format: ShellyGen2}
	var t topicInfo
	if topic != "" {
		var err error
		if t, err = topicFor(ShellyGen2, topic); err != nil {
			return Registers{}, err
		}
		r.DeviceID = t.device
	}
	top, err := parseObject(payload)
	if err != nil {
		return Registers{}, err
	}
	if t.kind == gen2Component {
		chs, incomplete, err := gen2Channels(t.index, top)
		if err != nil {
			return Registers{}, err
		}
		if len(chs) == 0 {
			return Registers{}, fmt.Errorf("%w: %s has no energy counter%s", ErrNoEnergy, t.index, incomplete)
		}
		r.Channels = chs
		return r, r.totals()
	}

	status := top
	method, hasMethod, err := top.str("method", "method")
	if err != nil {
		return Registers{}, err
	}
	switch {
	case hasMethod:
		if method != "NotifyStatus" && method != "NotifyFullStatus" {
			return Registers{}, fmt.Errorf("%w: a %q notification carries no component status", ErrNoEnergy, method)
		}
		params, ok, err := top.obj("params", "params")
		if err != nil {
			return Registers{}, err
		}
		if !ok {
			return Registers{}, fmt.Errorf("%w: %s without params", ErrMalformed, method)
		}
		status = params
	case t.kind == gen2RPC:
		return Registers{}, fmt.Errorf("%w: not a JSON-RPC notification (no method)", ErrMalformed)
	default: // no topic: an RPC response, or a Shelly.GetStatus body itself
		if res, ok, err := top.obj("result", "result"); err != nil {
			return Registers{}, err
		} else if ok {
			status = res
		}
	}
	if r.DeviceID == "" {
		if src, ok, err := top.str("src", "src"); err != nil {
			return Registers{}, err
		} else if ok && validPrefix(src) {
			r.DeviceID = src
		}
	}

	keys := slices.SortedFunc(func(yield func(string) bool) {
		for k := range status {
			if gen2EnergyKey(k) && !yield(k) {
				return
			}
		}
	}, func(a, b string) int {
		ta, ia, _ := gen2Key(a)
		tb, ib, _ := gen2Key(b)
		return cmp.Or(strings.Compare(ta, tb), cmp.Compare(ia, ib))
	})
	var incomplete string
	for _, k := range keys {
		c, ok, err := status.obj(k, k)
		if err != nil {
			return Registers{}, err
		}
		if !ok {
			continue // a component that disappeared, "switch:0": null
		}
		chs, inc, err := gen2Channels(k, c)
		if err != nil {
			return Registers{}, err
		}
		incomplete += inc
		for _, ch := range chs {
			if slices.ContainsFunc(r.Channels, func(o Channel) bool { return o.Name == ch.Name }) {
				return Registers{}, fmt.Errorf("%w: two channels named %q", ErrMalformed, ch.Name)
			}
			r.Channels = append(r.Channels, ch)
		}
	}
	if len(r.Channels) == 0 && t.kind == "" && !hasMethod && incomplete == "" {
		// No topic: perhaps one component's status published alone on
		// <prefix>/status/<component>, without its key around it.
		key, why := gen2Bare(status)
		if key == "" {
			return Registers{}, fmt.Errorf("%w: %s (give the topic it came on)", ErrNoEnergy, why)
		}
		chs, inc, err := gen2Channels(key, status)
		if err != nil {
			return Registers{}, err
		}
		if len(chs) == 0 {
			return Registers{}, fmt.Errorf("%w: a bare %s status (recognised by %s) without its energy counters%s", ErrNoEnergy, key, why, inc)
		}
		r.Channels = chs
		r.note("topic", "", fmt.Sprintf("no topic: read as a bare %s status, recognised by %s (give the topic to be sure)", key, why))
		return r, r.totals()
	}
	if len(r.Channels) == 0 {
		return Registers{}, fmt.Errorf("%w: no component with an energy counter%s", ErrNoEnergy, incomplete)
	}
	if err := r.totals(); err != nil {
		return Registers{}, err
	}
	r.Time, err = gen2Time(status)
	return r, err
}

// gen2Bare recognises a component's status published without its key, as
// <prefix>/status/<component> carries it, by its fields: emdata by its
// phase totals, em1data by its totals, and the metered outputs by aenergy
// (light by brightness, cover by current_pos, switch by output, pm1 by
// having none of them). Its id is the status's "id", 0 without one. em and
// em1 (power only) are recognised, to say so. key is "" when nothing fits;
// why says what was recognised, or why not.
func gen2Bare(c object) (key, why string) {
	id := 0
	if text, ok, _ := c.number("id", "id"); ok && isIndex(text) {
		id, _ = strconv.Atoi(text)
	}
	has := func(fields ...string) string {
		for _, f := range fields {
			if _, ok := c[f]; ok {
				return f
			}
		}
		return ""
	}
	var typ string
	switch {
	case has("a_total_act_energy", "a_total_act_ret_energy", "b_total_act_energy", "c_total_act_energy") != "":
		typ, why = "emdata", "its phase totals (a_total_act_energy…)"
	case has("total_act_energy", "total_act_ret_energy") != "":
		typ, why = "em1data", "total_act_energy"
	case has("aenergy") != "":
		switch f := has("brightness", "current_pos", "output"); f {
		case "output":
			typ = "switch"
		case "current_pos":
			typ = "cover"
		case "brightness":
			typ = "light"
		default:
			typ = "pm1"
		}
		why = "aenergy"
	case has("a_act_power", "total_act_power") != "":
		return "", "a bare em status carries power, not energy: the energy totals are on emdata"
	case has("act_power") != "":
		return "", "a bare em1 status carries power, not energy: the energy totals are on em1data"
	default:
		return "", "no component with an energy counter, nor a component status with aenergy, total_act_energy or a_total_act_energy"
	}
	return fmt.Sprintf("%s:%d", typ, id), why
}

// gen2Channels reads the energy counters of component key. A component
// without them gives no channel; one with only some of them says so in
// incomplete (for the error message).
func gen2Channels(key string, c object) (chs []Channel, incomplete string, err error) {
	typ, _, _ := gen2Key(key)
	switch typ {
	case "emdata":
		found := 0 // of the six phase registers
		for _, p := range []string{"a", "b", "c"} {
			ch := Channel{Name: p}
			var okI, okE bool
			if ch.ImportWh, okI, err = c.wh(p+"_total_act_energy", key+"."+p+"_total_act_energy (Wh)", 0, 1); err != nil {
				return nil, "", err
			}
			if ch.ExportWh, okE, err = c.wh(p+"_total_act_ret_energy", key+"."+p+"_total_act_ret_energy (Wh)", 0, 1); err != nil {
				return nil, "", err
			}
			found += btoi(okI) + btoi(okE)
			chs = append(chs, ch)
		}
		switch found {
		case 0:
			return nil, "", nil
		case 6:
			return chs, "", nil
		}
		return nil, fmt.Sprintf(" (%s has %d of its 6 phase totals: a NotifyStatus carries only what changed)", key, found), nil
	case "em1data":
		ch := Channel{Name: key}
		var okI, okE bool
		if ch.ImportWh, okI, err = c.wh("total_act_energy", key+".total_act_energy (Wh)", 0, 1); err != nil {
			return nil, "", err
		}
		if ch.ExportWh, okE, err = c.wh("total_act_ret_energy", key+".total_act_ret_energy (Wh)", 0, 1); err != nil {
			return nil, "", err
		}
		if okI != okE {
			return nil, fmt.Sprintf(" (%s has only one of its totals: a NotifyStatus carries only what changed)", key), nil
		}
		if !okI {
			return nil, "", nil
		}
		return []Channel{ch}, "", nil
	default: // switch, cover, light, pm1
		ch := Channel{Name: key}
		a, ok, err := c.obj("aenergy", key+".aenergy")
		if err != nil || !ok {
			return nil, "", err // a switch without metering (Plus 1)
		}
		if ch.ImportWh, ok, err = a.wh("total", key+".aenergy.total (Wh)", 0, 1); err != nil || !ok {
			return nil, "", err
		}
		if ret, ok, err := c.obj("ret_aenergy", key+".ret_aenergy"); err != nil {
			return nil, "", err
		} else if ok {
			if ch.ExportWh, _, err = ret.wh("total", key+".ret_aenergy.total (Wh)", 0, 1); err != nil {
				return nil, "", err
			}
		}
		return []Channel{ch}, "", nil
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// gen2Time reads params.ts, or sys.unixtime when there is no ts.
func gen2Time(status object) (*int64, error) {
	if text, ok, err := status.number("ts", "ts"); err != nil || ok {
		if err != nil {
			return nil, err
		}
		return unixSeconds(text, "ts")
	}
	sys, ok, err := status.obj("sys", "sys")
	if err != nil || !ok {
		return nil, err
	}
	text, ok, err := sys.number("unixtime", "sys.unixtime")
	if err != nil || !ok {
		return nil, err
	}
	return unixSeconds(text, "sys.unixtime")
}

// Package format reads the native payloads of cheap smart meters, smart
// plugs and relays, which cannot sign, so that a gateway can sign their
// readings on their behalf. It turns what a device publishes (an MQTT topic
// and payload, or an HTTP status body) into cumulative energy Registers in
// integer Wh, and builds the on/off command for devices with a relay.
//
// The package is pure: no I/O, no clock, no goroutines, no floating point.
// Decimals are read from their text and converted exactly, rounding half up
// to whole Wh.
//
// Formats and their units (they differ by model, which is the whole point):
//
//	format       register                                          unit
//	tasmota      ENERGY.Total (import), ENERGY.ExportActive         kWh, decimal (3 places by default)
//	             on tele/<t>/SENSOR, stat/<t>/STATUS10 and STATUS8
//	shelly-gen1  relay|roller|light/<i>/energy, meters[].total       watt-minutes, integer: Wh = Wmin/60
//	             (Plug S, 1PM, 2.5, Dimmer) in info and HTTP /status
//	shelly-gen1  emeter/<i>/total, total_returned,                  Wh, decimal
//	             emeters[].total, total_returned (EM, 3EM)
//	shelly-gen2  aenergy.total, ret_aenergy.total (switch, cover,    Wh, decimal
//	             light, pm1); emdata, em1data totals (Pro 3EM, Pro EM)
//	dsmr         1-0:1.8.n (import), 1-0:2.8.n (export), tariff n    kWh, or Wh when the line says *Wh
//	             (DSMR 2.2 and 3 without CRC, 4 and 5 with; eMUCs)
//
// Energy registers are read strictly: a unit that is not energy, a bad CRC,
// a cut payload, a negative or malformed register refuses the payload.
// Fields that are not energy are tolerated: one that is unusual (a DSMR
// equipment id in plain digits, a header with a control byte, a clock
// without its zone) is kept as raw text in Registers.Notes, for the gateway
// to log, and never refuses the payload.
//
// A value written as text with a unit, as DSMR always does and some bridges
// do ("1.234 kWh"), is read in that unit if it is kWh or Wh; any other unit
// (W, kvarh, m3, MWh) is ErrUnknownUnits, never a guess.
//
// Counter resets are not an error here: a single payload cannot know that its
// counter went backwards (a Shelly Gen1 relay counter restarts at every
// reboot, a Tasmota total can be reset by command). They are detected
// downstream, by comparing a reading with the meter's previous one.
//
// Some topics carry only part of a device's registers: the Shelly Gen1
// per-register topics (relay/<i>/energy, emeter/<i>/total, total_returned)
// carry one register of one channel, a Shelly Gen2 NotifyStatus carries only
// the components that changed, and a <prefix>/status/<component> topic one
// component. Decode reports exactly what the payload says, names the channel
// or component in Channels and leaves the rest zero; a gateway keys such
// readings by device and channel, or uses the topics that carry everything
// (Shelly Gen1 info, Shelly Gen2 NotifyFullStatus).
package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Format names a device payload format.
type Format string

// The payload formats Decode reads.
const (
	Tasmota    Format = "tasmota"     // Tasmota firmware: tele/<topic>/SENSOR JSON
	ShellyGen1 Format = "shelly-gen1" // Shelly Gen1: shellies/<id>/... topics and /status JSON
	ShellyGen2 Format = "shelly-gen2" // Shelly Gen2/Plus/Pro: JSON-RPC notifications and component status
	DSMR       Format = "dsmr"        // Dutch/Belgian smart meter P1 telegram (DSMR 2.2 to 5, eMUCs)
)

// Formats lists every format, in a stable order.
var Formats = []Format{Tasmota, ShellyGen1, ShellyGen2, DSMR}

// Channel is one measured channel or phase.
type Channel struct {
	Name     string `json:"name"`
	ImportWh int64  `json:"import_wh"`
	ExportWh int64  `json:"export_wh"`
}

// Registers is what a payload says: cumulative energy registers in integer Wh.
type Registers struct {
	Format   Format    `json:"format"`
	DeviceID string    `json:"device_id,omitempty"` // the meter or device id if the payload (or its topic) has one
	Time     *int64    `json:"time,omitempty"`      // the device's own timestamp, UTC unix seconds, if it has one
	ImportWh int64     `json:"import_wh"`           // total energy taken (consumed/imported), all channels
	ExportWh int64     `json:"export_wh"`           // total energy returned/exported, all channels
	Channels []Channel `json:"channels,omitempty"`  // per channel or phase where the device has several
	Notes    []Note    `json:"notes,omitempty"`     // fields that are not energy and were unusual: tolerated, kept raw
}

// Note is a field that is not energy and is not what its format says (an
// equipment id in plain digits, a header with a control byte, a clock
// without its zone letter) or something a reader should know about how the
// payload was read. It never refuses a payload: energy registers are read
// strictly, everything else is tolerated, kept here as raw text and logged
// by the gateway.
type Note struct {
	Field string `json:"field"` // what the note is about: an OBIS code, "header", "line", a JSON key
	Raw   string `json:"raw"`   // the field as it came (valid UTF-8, at most maxNoteRaw bytes)
	Why   string `json:"why"`   // what is unusual about it, or how it was read
}

// maxNoteRaw bounds what a Note keeps of a field.
const maxNoteRaw = 120

// note appends a Note to r, keeping raw as valid UTF-8 so that it survives
// a JSON round trip, and at most maxNoteRaw bytes of it.
func (r *Registers) note(field, raw, why string) {
	if len(raw) > maxNoteRaw {
		raw = raw[:maxNoteRaw]
	}
	r.Notes = append(r.Notes, Note{Field: strings.ToValidUTF8(field, "\ufffd"), Raw: strings.ToValidUTF8(raw, "\ufffd"), Why: why})
}

// Errors Decode and RelayCommand wrap, with a message saying what is wrong.
var (
	// ErrTruncated is an incomplete payload: empty, cut-off JSON, or a
	// telegram without its header or its closing !CRC.
	ErrTruncated = errors.New("truncated")
	// ErrBadCRC is a DSMR telegram whose CRC does not match its bytes.
	ErrBadCRC = errors.New("bad CRC")
	// ErrUnknownUnits is a register stated in a unit that is not energy in
	// kWh or Wh (W, kvarh, m3, MWh…).
	ErrUnknownUnits = errors.New("unknown units")
	// ErrMalformed is a payload or topic that is not what its format says:
	// bad syntax, wrong types, negative, non-finite or absurd values.
	ErrMalformed = errors.New("malformed")
	// ErrNoEnergy is a well-formed payload (or topic) without an energy
	// register: nothing to sign, skip it.
	ErrNoEnergy = errors.New("no energy register")
	// ErrUnknownFormat is a Format not in Formats.
	ErrUnknownFormat = errors.New("unknown format")
	// ErrNoRelay is a relay command for a device that has no relay.
	ErrNoRelay = errors.New("no relay")
)

// MaxWh bounds every register: 10 TWh, far beyond any meter (the same bound
// as the signed reading's registers). Larger values are rejected as absurd.
const MaxWh = 10_000_000_000_000

// MaxPayloadBytes bounds a payload: the largest real one (a Shelly Pro
// NotifyFullStatus) is a few KiB.
const MaxPayloadBytes = 64 << 10

// Device timestamps outside [2001-01-01, 2200-01-01) UTC are a clock that
// was never set (Tasmota counts from 1970 before NTP, Shelly Gen1 reports
// unixtime 0): Time is left nil and the gateway uses its own.
const (
	minPlausibleUnix = 978307200
	maxPlausibleUnix = 7258118400
)

// Decode reads one payload of format f published on topic. The topic names
// the device and, for Shelly Gen1 per-register topics and Shelly Gen2
// component topics, what the payload means; it may be "" (an HTTP body, a
// file), and then DeviceID comes only from the payload; with a topic, the
// topic's device id wins (the broker binds topics to device credentials, a
// payload's id is only a fallback). A topic of another format is
// ErrMalformed; a topic of this format that carries no energy registers is
// ErrNoEnergy. With an error the Registers are always zero.
func Decode(f Format, topic string, payload []byte) (Registers, error) {
	if len(payload) > MaxPayloadBytes {
		return Registers{}, fmt.Errorf("%w: payload of %d bytes, more than %d", ErrMalformed, len(payload), MaxPayloadBytes)
	}
	switch f {
	case Tasmota:
		return decodeTasmota(topic, payload)
	case ShellyGen1:
		return decodeShellyGen1(topic, payload)
	case ShellyGen2:
		return decodeShellyGen2(topic, payload)
	case DSMR:
		return decodeDSMR(topic, payload)
	}
	return Registers{}, fmt.Errorf("%w %q (want one of %v)", ErrUnknownFormat, f, Formats)
}

// Identify says which format and device a topic belongs to, and whether it
// carries energy registers (ok). Topics of a known family that carry none
// (Tasmota STATE and LWT, Shelly Gen1 power or per-report energy topics,
// Shelly Gen2 non-energy components) return the format and device with ok
// false; topics of no known family return "", "", false.
func Identify(topic string) (f Format, deviceID string, ok bool) {
	for _, parse := range []func(string) (topicInfo, bool){gen2Topic, tasmotaTopic, gen1Topic, dsmrTopic} {
		if t, known := parse(topic); known {
			return t.format, t.device, t.energy
		}
	}
	return "", "", false
}

// RelayCommand is the MQTT topic and payload that switch a device's first
// relay (or smart plug) on or off. A DSMR meter has no relay: ErrNoRelay.
func RelayCommand(f Format, deviceID string, on bool) (topic string, payload []byte, err error) {
	switch f {
	case Tasmota, ShellyGen1:
		if !validSegment(deviceID) {
			return "", nil, fmt.Errorf("%w: device id %q is not one MQTT topic level", ErrMalformed, deviceID)
		}
	case ShellyGen2:
		if !validPrefix(deviceID) {
			return "", nil, fmt.Errorf("%w: device id %q is not an MQTT topic prefix", ErrMalformed, deviceID)
		}
	}
	switch f {
	case Tasmota:
		return "cmnd/" + deviceID + "/POWER", []byte(onOff(on, "ON", "OFF")), nil
	case ShellyGen1:
		return "shellies/" + deviceID + "/relay/0/command", []byte(onOff(on, "on", "off")), nil
	case ShellyGen2:
		return deviceID + "/rpc", fmt.Appendf(nil, `{"id":1,"src":"gridledger","method":"Switch.Set","params":{"id":0,"on":%t}}`, on), nil
	case DSMR:
		return "", nil, fmt.Errorf("%w: a DSMR meter cannot be switched", ErrNoRelay)
	}
	return "", nil, fmt.Errorf("%w %q (want one of %v)", ErrUnknownFormat, f, Formats)
}

func onOff(on bool, yes, no string) string {
	if on {
		return yes
	}
	return no
}

// topicInfo is what a topic says.
type topicInfo struct {
	format Format
	device string
	energy bool   // the topic carries energy registers
	kind   string // format-specific: what the payload on it is
	index  string // channel index or component named by the topic
	why    string // for energy == false, why not (for the error message)
}

// topicFor parses a non-empty topic for format f, with the errors Decode
// returns for a foreign topic or one without energy.
func topicFor(f Format, topic string) (topicInfo, error) {
	parse := map[Format]func(string) (topicInfo, bool){Tasmota: tasmotaTopic, ShellyGen1: gen1Topic, ShellyGen2: gen2Topic, DSMR: dsmrTopic}[f]
	t, known := parse(topic)
	if !known || t.format != f {
		return t, fmt.Errorf("%w: topic %q is not a %s topic", ErrMalformed, topic, f)
	}
	if !t.energy {
		why := "carries no energy registers"
		if t.why != "" {
			why = t.why
		}
		return t, fmt.Errorf("%w: topic %q %s", ErrNoEnergy, topic, why)
	}
	return t, nil
}

// validSegment is one MQTT topic level usable as a device id: not empty,
// UTF-8 (as MQTT requires), no separator, no wildcard, no control character.
func validSegment(s string) bool {
	if s == "" || len(s) > 128 || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '/' || c == '+' || c == '#' || c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// validPrefix is one or more valid topic levels (a Shelly Gen2 topic prefix).
func validPrefix(s string) bool {
	if len(s) > 256 {
		return false
	}
	for seg := range strings.SplitSeq(s, "/") {
		if !validSegment(seg) {
			return false
		}
	}
	return true
}

// isIndex is a small channel index as devices write it: "0", "1", … "99".
func isIndex(s string) bool {
	if len(s) == 0 || len(s) > 2 || (len(s) == 2 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decimal is a number read exactly from its text: value = ±digits × 10^exp.
type decimal struct {
	neg    bool
	digits string // significant digits without leading zeros; "" is zero
	exp    int
}

// parseDecimal reads -?D+(.D+)?([eE][+-]?D+)?: JSON number syntax, with
// the leading zeros DSMR writes ("001234.567"). NaN, Inf, quoted strings and
// anything else are refused.
func parseDecimal(s string) (decimal, error) {
	var d decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[start:i]
	if intPart == "" {
		return d, fmt.Errorf("%q is not a finite decimal number", s)
	}
	frac := ""
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if frac = s[fs:i]; frac == "" {
			return d, fmt.Errorf("%q is not a finite decimal number", s)
		}
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		sign := 1
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			if s[i] == '-' {
				sign = -1
			}
			i++
		}
		es := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if exp < 1_000_000 { // beyond this the value is 0 or absurd anyway
				exp = exp*10 + int(s[i]-'0')
			}
			i++
		}
		if i == es {
			return d, fmt.Errorf("%q is not a finite decimal number", s)
		}
		exp *= sign
	}
	if i != len(s) {
		return d, fmt.Errorf("%q is not a finite decimal number", s)
	}
	d.digits = strings.TrimLeft(intPart+frac, "0")
	d.exp = exp - len(frac)
	return d, nil
}

// split returns floor(|d| × 10^pow10) and whether its fractional part is at
// least one half, refusing values of 10^18 or more.
func (d decimal) split(pow10 int) (floor int64, half bool, err error) {
	if d.digits == "" {
		return 0, false, nil
	}
	e := d.exp + pow10
	intLen := len(d.digits) + e // digits before the decimal point
	if intLen > 18 {
		return 0, false, errors.New("absurdly large")
	}
	intDigits := d.digits
	if e < 0 {
		switch {
		case intLen > 0:
			intDigits, half = d.digits[:intLen], d.digits[intLen] >= '5'
		case intLen == 0:
			intDigits, half = "", d.digits[0] >= '5'
		default:
			intDigits = ""
		}
	}
	for i := 0; i < len(intDigits); i++ {
		floor = floor*10 + int64(intDigits[i]-'0')
	}
	for ; e > 0; e-- {
		floor *= 10
	}
	return floor, half, nil
}

// wh converts d, an amount in 10^pow10/div Wh (kWh: 3, 1; Wh: 0, 1;
// watt-minutes: 0, 60), to whole Wh rounded half up, exactly: with
// v = d × 10^pow10, round(v/div) = floor((2v + div) / 2div), and
// floor(2v) is 2·floor(v) plus one if the fraction is at least a half.
func (d decimal) wh(pow10 int, div int64) (int64, error) {
	if d.neg && d.digits != "" {
		return 0, errors.New("negative")
	}
	floor, half, err := d.split(pow10)
	if err != nil {
		return 0, err
	}
	twice := 2 * floor
	if half {
		twice++
	}
	v := (twice + div) / (2 * div)
	if v > MaxWh {
		return 0, fmt.Errorf("absurd: %d Wh is more than 10 TWh", v)
	}
	return v, nil
}

// parseWh reads a decimal text in a unit (see decimal.wh) as whole Wh; what
// names the register in error messages, which wrap ErrMalformed.
func parseWh(text, what string, pow10 int, div int64) (int64, error) {
	d, err := parseDecimal(text)
	if err == nil {
		var v int64
		if v, err = d.wh(pow10, div); err == nil {
			return v, nil
		}
		err = fmt.Errorf("%s: %w", text, err)
	}
	return 0, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
}

// unitScale converts an energy unit a payload states to decimal.wh's pow10.
func unitScale(unit string) (pow10 int, ok bool) {
	switch {
	case strings.EqualFold(unit, "kWh"):
		return 3, true
	case strings.EqualFold(unit, "Wh"):
		return 0, true
	}
	return 0, false
}

// parseRegister reads a register written as text, as a Shelly Gen1 topic
// payload or a bridge's JSON string: a decimal in the unit the format implies
// (pow10, div), or a decimal followed by a unit ("1.234 kWh"), which then
// wins if it is kWh or Wh and is ErrUnknownUnits otherwise (W, kvarh, m3…).
func parseRegister(text, what string, pow10 int, div int64) (int64, error) {
	n := 0
	for n < len(text) && strings.IndexByte("0123456789+-.eE", text[n]) >= 0 {
		n++
	}
	if unit := strings.TrimSpace(text[n:]); n > 0 && unit != "" {
		p, ok := unitScale(unit)
		if !ok {
			return 0, fmt.Errorf("%w: %s: %q is not an energy unit (want kWh or Wh)", ErrUnknownUnits, what, clip([]byte(unit)))
		}
		text, pow10, div = text[:n], p, 1
	}
	return parseWh(text, what, pow10, div)
}

// unixSeconds reads a decimal timestamp in seconds ("1700000000.12") as
// whole seconds, truncated: the second the device saw. Implausible values
// give nil (a clock never set).
func unixSeconds(text, what string) (*int64, error) {
	d, err := parseDecimal(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if d.neg && d.digits != "" {
		return nil, nil
	}
	sec, _, err := d.split(0)
	if err != nil {
		return nil, nil
	}
	return plausible(sec), nil
}

// plausible returns &sec if sec is a real date, nil for a clock never set.
func plausible(sec int64) *int64 {
	if sec < minPlausibleUnix || sec >= maxPlausibleUnix {
		return nil
	}
	return &sec
}

// addWh adds v to *sum, refusing a sum beyond MaxWh.
func addWh(sum *int64, v int64, what string) error {
	if *sum += v; *sum > MaxWh {
		return fmt.Errorf("%w: %s: sum of channels is more than 10 TWh", ErrMalformed, what)
	}
	return nil
}

// totals sets r's import and export to the sums of its channels.
func (r *Registers) totals() error {
	r.ImportWh, r.ExportWh = 0, 0
	for _, c := range r.Channels {
		if err := addWh(&r.ImportWh, c.ImportWh, "import"); err != nil {
			return err
		}
		if err := addWh(&r.ExportWh, c.ExportWh, "export"); err != nil {
			return err
		}
	}
	return nil
}

// object is a JSON object with its values still raw, keys matched exactly
// (encoding/json's struct decoding would match them case-insensitively).
type object map[string]json.RawMessage

// parseObject reads a whole payload as one JSON object.
func parseObject(payload []byte) (object, error) {
	b := bytes.TrimSpace(payload)
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty payload", ErrTruncated)
	}
	var o object
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&o); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: JSON ends before it is complete", ErrTruncated)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%w: payload is a JSON %s, not an object", ErrMalformed, te.Value)
		}
		return nil, fmt.Errorf("%w: not JSON: %v", ErrMalformed, err)
	}
	if o == nil {
		return nil, fmt.Errorf("%w: payload is JSON null, not an object", ErrMalformed)
	}
	if dec.InputOffset() != int64(len(b)) {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	return o, nil
}

// isNull is an absent or null JSON value.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// obj returns o[key] as an object; ok is false when it is absent or null.
func (o object) obj(key, what string) (v object, ok bool, err error) {
	raw := o[key]
	if isNull(raw) {
		return nil, false, nil
	}
	if raw[0] != '{' {
		return nil, false, fmt.Errorf("%w: %s is not a JSON object", ErrMalformed, what)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return v, true, nil
}

// str returns o[key] as a string; ok is false when it is absent or null.
func (o object) str(key, what string) (s string, ok bool, err error) {
	raw := o[key]
	if isNull(raw) {
		return "", false, nil
	}
	if raw[0] != '"' {
		return "", false, fmt.Errorf("%w: %s is not a JSON string", ErrMalformed, what)
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return s, true, nil
}

// number returns the text of o[key], which must be a JSON number; ok is
// false when it is absent or null.
func (o object) number(key, what string) (text string, ok bool, err error) {
	raw := o[key]
	if isNull(raw) {
		return "", false, nil
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return "", false, fmt.Errorf("%w: %s is not a JSON number", ErrMalformed, what)
	}
	return string(raw), true, nil
}

// wh returns o[key] as Wh: a JSON number in the unit the format implies
// (see decimal.wh), or a string read by parseRegister.
func (o object) wh(key, what string, pow10 int, div int64) (v int64, ok bool, err error) {
	if raw := o[key]; !isNull(raw) && raw[0] == '"' {
		text, _, err := o.str(key, what)
		if err == nil {
			v, err = parseRegister(text, what, pow10, div)
		}
		return v, err == nil, err
	}
	text, ok, err := o.number(key, what)
	if !ok || err != nil {
		return 0, false, err
	}
	v, err = parseWh(text, what, pow10, div)
	return v, err == nil, err
}

// array returns o[key] as raw elements; ok is false when absent or null.
func (o object) array(key, what string) (v []json.RawMessage, ok bool, err error) {
	raw := o[key]
	if isNull(raw) {
		return nil, false, nil
	}
	if raw[0] != '[' {
		return nil, false, fmt.Errorf("%w: %s is not a JSON array", ErrMalformed, what)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return v, true, nil
}

// rawObject reads one array element as an object.
func rawObject(raw json.RawMessage, what string) (object, error) {
	o, ok, err := object{"v": raw}.obj("v", what)
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s is null", ErrMalformed, what)
	}
	return o, err
}

// parseClock reads an ISO 8601 date and time, "2006-01-02T15:04:05" with
// optional fractional seconds and optional zone ("Z", "+01:00"). Without a
// zone it is local time at offsetSec east of UTC.
func parseClock(s string, offsetSec int, what string) (*int64, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if t, err = time.Parse("2006-01-02T15:04:05", s); err != nil {
			return nil, fmt.Errorf("%w: %s %q is not a date and time", ErrMalformed, what, s)
		}
		t = t.Add(-time.Duration(offsetSec) * time.Second)
	}
	return plausible(t.Unix()), nil
}

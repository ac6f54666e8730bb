package meter

import (
	"regexp"
	"strings"
)

// topicKind is what a topic carries, as the ACL and the gateway see it.
type topicKind int

const (
	topicNone    topicKind = iota // not a device topic of this community
	topicReading                  // a signed reading
	topicNative                   // a native payload of a device that cannot sign
	topicCommand                  // a command to a device
)

// idPattern is the ledger's id syntax (contract and reading use the same):
// no '/', '+' or '#', so an id is always exactly one topic level and never
// a wildcard.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// validID reports whether id is a well-formed ledger id that is not one of
// the reserved first topic levels.
func validID(id string) bool {
	if !idPattern.MatchString(id) {
		return false
	}
	switch id {
	case "gridledger", "tele", "stat", "cmnd", "shellies", "dsmr":
		return false
	}
	return true
}

func readingTopic(community, meter string) string {
	return "gridledger/" + community + "/meters/" + meter + "/reading"
}

func commandTopic(community, device string) string {
	return "gridledger/" + community + "/devices/" + device + "/cmd"
}

// gatewayFilter is one subscription of the gateway and the first topic
// level its messages must start with ("" for Shelly Gen2, whose topics
// start with the device id).
type gatewayFilter struct {
	filter string
	first  string
}

// gatewayFilters are what the gateway subscribes to: every reading of the
// community and every native device topic. Shelly Gen2's filters start
// with a wildcard and so also match, say, shellies/status/rpc; a message
// is taken only through the filter of its own first level (see accepts),
// so none is handled twice.
func gatewayFilters(community string) []gatewayFilter {
	return []gatewayFilter{
		{"gridledger/" + community + "/meters/+/reading", "gridledger"},
		{"tele/+/SENSOR", "tele"},
		{"shellies/#", "shellies"},
		{"+/events/rpc", ""},
		{"+/status/#", ""},
		{"dsmr/+/telegram", "dsmr"},
	}
}

// accepts reports whether a message on topic belongs to this filter's
// family of topics.
func (f gatewayFilter) accepts(topic string) bool {
	first, _, _ := strings.Cut(topic, "/")
	if f.first != "" {
		return first == f.first
	}
	return validID(first)
}

// parseTopic names the one device a topic (or topic filter) belongs to and
// what it carries. The first level decides, so a topic is never read two
// ways; the ACL and the gateway both use this function and so agree on who
// may publish what.
func parseTopic(community, topic string) (topicKind, string) {
	lv := strings.Split(topic, "/")
	kind, id := topicNone, ""
	switch lv[0] {
	case "gridledger":
		if len(lv) == 5 && lv[1] == community {
			switch {
			case lv[2] == "meters" && lv[4] == "reading":
				kind, id = topicReading, lv[3]
			case lv[2] == "devices" && lv[4] == "cmd":
				kind, id = topicCommand, lv[3]
			}
		}
	case "tele", "stat": // Tasmota telemetry and status: tele/<id>/SENSOR
		if len(lv) == 3 {
			kind, id = topicNative, lv[1]
		}
	case "cmnd": // Tasmota commands: cmnd/<id>/POWER
		if len(lv) == 3 {
			kind, id = topicCommand, lv[1]
		}
	case "shellies": // Shelly Gen1: shellies/<id>/...
		switch {
		case len(lv) == 3 && lv[2] == "command",
			len(lv) == 5 && lv[2] == "relay" && lv[4] == "command":
			kind, id = topicCommand, lv[1]
		case len(lv) >= 3:
			kind, id = topicNative, lv[1]
		}
	case "dsmr": // DSMR P1 readers: dsmr/<id>/telegram
		if len(lv) == 3 {
			kind, id = topicNative, lv[1]
		}
	default: // Shelly Gen2: <id>/events/rpc, <id>/status/<component>, <id>/rpc
		switch {
		case len(lv) == 2 && lv[1] == "rpc":
			kind, id = topicCommand, lv[0]
		case len(lv) == 2 && lv[1] == "online",
			len(lv) == 3 && lv[1] == "events" && lv[2] == "rpc",
			len(lv) >= 3 && lv[1] == "status":
			kind, id = topicNative, lv[0]
		}
	}
	if kind == topicNone || !validID(id) {
		return topicNone, ""
	}
	return kind, id
}

// Package homeassistant shows a member's market in Home Assistant without
// custom code, through HA's MQTT discovery convention: it builds the
// discovery configs (retained on
// homeassistant/<component>/<node_id>/<object_id>/config), the states
// computed from what the member may read of the ledger, and reads the
// commands HA sends back (an appliance included in or excluded from the
// EMS's next plan). It is pure: no broker, no ledger, no clock; the
// adapter that publishes (internal/homeassistant/bridge) does the I/O.
//
// Topics of member M in community C (the chain id):
//
//	homeassistant/<component>/gridledger_<M>/<object_id>/config   discovery, retained
//	gridledger/C/ha/M/availability                               online / offline
//	gridledger/C/ha/M/<object_id>/state                          the state, retained
//	gridledger/C/ha/M/<object_id>/attributes                     JSON attributes, retained
//	gridledger/C/ha/M/<object_id>/set                            commands (switches)
//
// MemberOf maps each of them back to M, so the community broker's ACL
// (internal/meter) serves them to M's credentials only.
package homeassistant

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/advice"
	"github.com/gridledger/gridledger/internal/ems/bidding"
	"github.com/gridledger/gridledger/internal/units"
)

// DiscoveryPrefix is Home Assistant's default discovery prefix.
const DiscoveryPrefix = "homeassistant"

// Payloads of availability and of the switches (HA's defaults).
const (
	Online  = "online"
	Offline = "offline"
	On      = "ON"
	Off     = "OFF"
)

// PlanHours is how many hours ahead the planned import and export show.
const PlanHours = 12

// Member is whose market the entities show.
type Member struct {
	Community string // chain id
	Member    string // participant id
	// Currency is the ISO 4217 code of the community's money (default EUR).
	Currency string
	// Appliances are the EMS's controllable appliances, one switch each;
	// none without an EMS.
	Appliances []string
}

// Message is one MQTT message to publish.
type Message struct {
	Topic   string
	Payload []byte
	Retain  bool
}

// memberID is the ledger's id syntax: never '/', '+' or '#'.
var memberID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

func (m Member) check() error {
	if !memberID.MatchString(m.Member) {
		return fmt.Errorf("homeassistant: member id %q is not a ledger id", m.Member)
	}
	if m.Community == "" || strings.ContainsAny(m.Community, "/+#") {
		return fmt.Errorf("homeassistant: community %q cannot be a topic level", m.Community)
	}
	if c := m.currency(); !regexp.MustCompile(`^[A-Z]{3}$`).MatchString(c) {
		return fmt.Errorf("homeassistant: currency %q is not an ISO 4217 code", c)
	}
	seen := map[string]string{}
	for _, a := range m.Appliances {
		o, err := applianceObject(a)
		if err != nil {
			return err
		}
		if prev, dup := seen[o]; dup {
			return fmt.Errorf("homeassistant: appliances %q and %q have the same entity id", prev, a)
		}
		seen[o] = a
	}
	return nil
}

func (m Member) currency() string {
	if m.Currency == "" {
		return "EUR"
	}
	return m.Currency
}

// NodeID is the member's discovery node_id: HA takes only [a-zA-Z0-9_-],
// so '_', '.' and ':' of a ledger id are escaped as "__", "_d" and "_c",
// one-to-one (memberOfNode decodes it).
func NodeID(member string) string {
	r := strings.NewReplacer("_", "__", ".", "_d", ":", "_c")
	return "gridledger_" + r.Replace(member)
}

// memberOfNode inverts NodeID.
func memberOfNode(node string) (string, bool) {
	rest, ok := strings.CutPrefix(node, "gridledger_")
	if !ok {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c == '_' {
			if i++; i == len(rest) {
				return "", false
			}
			switch rest[i] {
			case '_':
			case 'd':
				c = '.'
			case 'c':
				c = ':'
			default:
				return "", false
			}
		}
		b.WriteByte(c)
	}
	m := b.String()
	return m, memberID.MatchString(m)
}

// Base is the first levels of the member's state, attribute and command
// topics.
func Base(community, member string) string {
	return "gridledger/" + community + "/ha/" + member
}

// AvailabilityTopic carries online/offline (the adapter's will).
func (m Member) AvailabilityTopic() string { return Base(m.Community, m.Member) + "/availability" }

func (m Member) topic(object, leaf string) string {
	return Base(m.Community, m.Member) + "/" + object + "/" + leaf
}

// CommandFilter is what the adapter subscribes to for commands.
func (m Member) CommandFilter() string { return Base(m.Community, m.Member) + "/+/set" }

// MemberOf names the member a topic (or a topic filter) of this package
// belongs to in a community: a discovery topic by its node_id, a state,
// attribute or command topic by its member level. ok is false for any
// other topic, and for a filter whose wildcards stand at or before the
// level that names the member (it names nobody).
func MemberOf(community, topic string) (member string, ok bool) {
	lv := strings.Split(topic, "/")
	switch {
	case len(lv) >= 4 && lv[0] == DiscoveryPrefix:
		return memberOfNode(lv[2])
	case len(lv) >= 5 && lv[0] == "gridledger" && lv[1] == community && lv[2] == "ha":
		return lv[3], memberID.MatchString(lv[3])
	}
	return "", false
}

// Object ids of the entities.
const (
	ObjNextPrice     = "next_price"
	ObjGateClosure   = "next_gate_closure"
	ObjClearingPrice = "clearing_price"
	ObjPlanImport    = "planned_import"
	ObjPlanExport    = "planned_export"
	ObjBalance       = "wallet_balance"
	ObjSavings       = "savings_month"
	ObjDR            = "demand_response"
	ObjImported      = "energy_imported"
	ObjExported      = "energy_exported"
)

// applianceObject is an appliance's switch object id.
func applianceObject(name string) (string, error) {
	o := "appliance_" + strings.ToLower(name)
	if name == "" || !idPart.MatchString(o) {
		return "", fmt.Errorf("homeassistant: appliance name %q: an entity id takes letters, digits, '_' and '-' only", name)
	}
	return o, nil
}

// Entity is one entity's discovery config.
type Entity struct {
	Component string
	ObjectID  string
	Config    map[string]any
}

// Topic is where the entity's config is published (retained).
func (e Entity) Topic(member string) string {
	return DiscoveryPrefix + "/" + e.Component + "/" + NodeID(member) + "/" + e.ObjectID + "/config"
}

// Entities are the member's entities, each config valid for HA (Validate).
func Entities(m Member) ([]Entity, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	cur := m.currency()
	device := map[string]any{
		"identifiers":  []string{"gridledger:" + m.Community + ":" + m.Member},
		"name":         "gridledger " + m.Member,
		"manufacturer": "gridledger",
		"model":        "energy community member (" + m.Community + ")",
	}
	base := func(object, name string) map[string]any {
		return map[string]any{
			"name":         name,
			"unique_id":    "gridledger:" + m.Community + ":" + m.Member + ":" + object,
			"object_id":    NodeID(m.Member) + "_" + object,
			"device":       device,
			"availability": []map[string]any{{"topic": m.AvailabilityTopic()}},
		}
	}
	sensor := func(object, name string, extra map[string]any) Entity {
		c := base(object, name)
		c["state_topic"] = m.topic(object, "state")
		c["json_attributes_topic"] = m.topic(object, "attributes")
		maps.Copy(c, extra)
		return Entity{Component: "sensor", ObjectID: object, Config: c}
	}
	price := map[string]any{"device_class": "monetary", "unit_of_measurement": cur + "/kWh", "suggested_display_precision": 3}
	es := []Entity{
		sensor(ObjNextPrice, "Next listing expected price", price),
		sensor(ObjGateClosure, "Next listing gate closure", map[string]any{"device_class": "timestamp"}),
		sensor(ObjClearingPrice, "Last clearing price", price),
		sensor(ObjPlanImport, "Planned import this hour", map[string]any{"device_class": "energy", "unit_of_measurement": "kWh"}),
		sensor(ObjPlanExport, "Planned export this hour", map[string]any{"device_class": "energy", "unit_of_measurement": "kWh"}),
		sensor(ObjBalance, "Wallet balance", map[string]any{"device_class": "monetary", "unit_of_measurement": cur, "state_class": "total", "suggested_display_precision": 2}),
		sensor(ObjSavings, "Savings this month", map[string]any{"device_class": "monetary", "unit_of_measurement": cur, "state_class": "total", "suggested_display_precision": 2}),
		sensor(ObjDR, "Demand-response requests", map[string]any{"icon": "mdi:transmission-tower-export"}),
		sensor(ObjImported, "Energy imported", map[string]any{"device_class": "energy", "unit_of_measurement": "kWh", "state_class": "total_increasing"}),
		sensor(ObjExported, "Energy exported", map[string]any{"device_class": "energy", "unit_of_measurement": "kWh", "state_class": "total_increasing"}),
	}
	for _, a := range m.Appliances {
		o, _ := applianceObject(a) // checked above
		c := base(o, "Plan "+a)
		c["command_topic"] = m.topic(o, "set")
		c["state_topic"] = m.topic(o, "state")
		c["payload_on"], c["payload_off"] = On, Off
		c["icon"] = "mdi:calendar-clock"
		es = append(es, Entity{Component: "switch", ObjectID: o, Config: c})
	}
	for _, e := range es {
		if err := Validate(e.Component, e.Config); err != nil {
			return nil, fmt.Errorf("%s: %w", e.ObjectID, err)
		}
	}
	return es, nil
}

// Discovery are the retained discovery messages of the member's entities.
func Discovery(m Member) ([]Message, error) {
	es, err := Entities(m)
	if err != nil {
		return nil, err
	}
	out := make([]Message, len(es))
	for i, e := range es {
		b, err := json.Marshal(e.Config)
		if err != nil {
			return nil, err
		}
		out[i] = Message{Topic: e.Topic(m.Member), Payload: b, Retain: true}
	}
	return out, nil
}

// Market is what the states are computed from: the ledger as the member
// may read it.
type Market struct {
	MarketTime int64
	// Listings from a week back on (the expected price is the median of
	// the recent clearing prices).
	Listings []contract.ListingView
	// Participant is the member, with its wallet and feeder.
	Participant contract.Participant
	// Statement is the member's statement since the start of the month
	// of MarketTime (UTC).
	Statement []contract.StatementRow
	// Plans are the member's committed plans from MarketTime on.
	Plans []contract.PlanEntry
	DR    []contract.DRRequest
	// Meters are the member's own meters, with their registers.
	Meters []contract.Meter
	// Appliances: whether each of the EMS's appliances is in its next plan.
	Appliances map[string]bool
}

func iso(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }

// States are the retained state and attribute messages for a market.
// A value the ledger does not have yet (no listing has cleared) is left
// out, so HA keeps it unknown or at its last value.
func States(m Member, mk Market) ([]Message, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	var out []Message
	put := func(object, state string, attrs map[string]any) error {
		out = append(out, Message{Topic: m.topic(object, "state"), Payload: []byte(state), Retain: true})
		if attrs != nil {
			b, err := json.Marshal(attrs)
			if err != nil {
				return err
			}
			out = append(out, Message{Topic: m.topic(object, "attributes"), Payload: b, Retain: true})
		}
		return nil
	}
	var errs []error
	add := func(object, state string, attrs map[string]any) { errs = append(errs, put(object, state, attrs)) }

	var next *contract.ListingView
	var last *contract.ListingView
	var mcps []*int64
	for i := range mk.Listings {
		l := &mk.Listings[i]
		if l.State == contract.StateAuthorizeOffers && l.GateClosure > mk.MarketTime && (next == nil || l.Start < next.Start) {
			next = l
		}
		if l.Clearing != nil && l.Clearing.MCP != nil {
			mcps = append(mcps, l.Clearing.MCP)
			if last == nil || l.Start > last.Start {
				last = l
			}
		}
	}
	if next != nil {
		attrs := map[string]any{"listing_start": iso(next.Start), "listing_end": iso(next.End),
			"grid_price": units.Price(next.GridPricePerKWh), "feed_in": units.Price(next.FeedInPerKWh)}
		// Expected: what the market has been clearing at, within the
		// listing's tariffs (as the EMS prices its orders); the grid
		// tariff before any clearing.
		exp, basis := next.GridPricePerKWh, "grid tariff (no clearing yet)"
		if ref, ok := bidding.Reference(mcps); ok {
			exp, basis = max(next.FeedInPerKWh, min(ref, next.GridPricePerKWh)), "median of recent clearing prices"
		}
		attrs["basis"] = basis
		add(ObjNextPrice, units.Price(exp), attrs)
		add(ObjGateClosure, iso(next.GateClosure), map[string]any{"listing_start": iso(next.Start), "listing_end": iso(next.End)})
	}
	if last != nil {
		add(ObjClearingPrice, units.Price(*last.Clearing.MCP), map[string]any{"listing_start": iso(last.Start),
			"traded_kwh": units.KWh(last.Clearing.TradedWh), "mechanism": string(last.Mechanism)})
	}

	// Planned import and export: the next hour's as the state, the next
	// PlanHours hours as attributes (kWh by interval start).
	imp, exp := map[string]any{}, map[string]any{}
	var nextPlan *contract.PlanEntry
	for i := range mk.Plans {
		p := &mk.Plans[i]
		if p.Start+3600 <= mk.MarketTime || p.Start >= mk.MarketTime+PlanHours*3600 {
			continue
		}
		if nextPlan == nil || p.Start < nextPlan.Start {
			nextPlan = p
		}
		imp[iso(p.Start)] = units.KWh(max(p.NetWh, 0))
		exp[iso(p.Start)] = units.KWh(max(-p.NetWh, 0))
	}
	if nextPlan != nil {
		add(ObjPlanImport, units.KWh(max(nextPlan.NetWh, 0)), imp)
		add(ObjPlanExport, units.KWh(max(-nextPlan.NetWh, 0)), exp)
	}

	add(ObjBalance, units.Money(mk.Participant.Balance), map[string]any{"escrow": units.Money(mk.Participant.Escrow)})
	adv, err := advice.Compute(m.Member, mk.Statement, nil, nil)
	if err != nil {
		return nil, err
	}
	month := time.Unix(mk.MarketTime, 0).UTC().Format("2006-01")
	add(ObjSavings, units.Money(adv.SavedNano), map[string]any{"month": month, "settled_intervals": adv.Intervals,
		"net": units.Money(adv.NetNano), "utility_only": units.Money(adv.UtilityOnlyNano), "dr_incentive": units.Money(adv.DRIncentiveNano)})

	var reqs []map[string]any
	for _, r := range mk.DR {
		if r.State == contract.DRDone || r.End <= mk.MarketTime || (r.Feeder != "" && r.Feeder != mk.Participant.Feeder) {
			continue
		}
		share, ok := r.Target(m.Member)
		if !ok {
			continue
		}
		q := map[string]any{"id": r.ID, "state": string(r.State), "start": iso(r.Start), "end": iso(r.End),
			"reduction_kwh_per_interval": units.KWh(share), "incentive_per_kwh": units.Price(r.IncentivePerKWh)}
		if c := r.Commits[m.Member]; c != nil {
			var sum int64
			for _, w := range c.PromisedWh {
				sum += w
			}
			q["promised_kwh"] = units.KWh(sum)
		}
		reqs = append(reqs, q)
	}
	add(ObjDR, fmt.Sprint(len(reqs)), map[string]any{"requests": reqsOrEmpty(reqs)})

	// Energy-dashboard totals: the member's meters' cumulative registers.
	var inWh, outWh int64
	var ids []string
	for _, mt := range mk.Meters {
		if mt.Owner != m.Member || mt.Last == nil {
			continue
		}
		inWh += mt.Last.ImportWh
		outWh += mt.Last.ExportWh
		ids = append(ids, mt.ID)
	}
	if len(ids) > 0 {
		slices.Sort(ids)
		add(ObjImported, units.KWh(inWh), map[string]any{"meters": ids})
		add(ObjExported, units.KWh(outWh), map[string]any{"meters": ids})
	}

	for _, a := range m.Appliances {
		o, _ := applianceObject(a)
		st := Off
		if mk.Appliances[a] {
			st = On
		}
		add(o, st, nil)
	}
	return out, errors.Join(errs...)
}

func reqsOrEmpty(r []map[string]any) []map[string]any {
	if r == nil {
		return []map[string]any{}
	}
	return r
}

// Command reads a message on the member's command topics: the appliance
// it names and whether HA turned it on (in the next plan) or off.
func Command(m Member, topic string, payload []byte) (appliance string, on bool, err error) {
	prefix, ok := strings.CutPrefix(topic, Base(m.Community, m.Member)+"/")
	object, ok2 := strings.CutSuffix(prefix, "/set")
	if !ok || !ok2 {
		return "", false, fmt.Errorf("homeassistant: %q is not a command topic of %s", topic, m.Member)
	}
	for _, a := range m.Appliances {
		if o, _ := applianceObject(a); o == object {
			appliance = a
		}
	}
	if appliance == "" {
		return "", false, fmt.Errorf("homeassistant: no appliance has entity %q", object)
	}
	switch string(payload) {
	case On:
		return appliance, true, nil
	case Off:
		return appliance, false, nil
	}
	return "", false, fmt.Errorf("homeassistant: command %q for %s: want %s or %s", payload, appliance, On, Off)
}

package homeassistant

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
)

var alice = Member{Community: "demo-net", Member: "alice", Appliances: []string{"ev", "washer"}}

// Every discovery payload, decoded from its JSON as HA receives it,
// validates against the keys HA documents for its component; the
// energy-dashboard sensors are energy, total_increasing, in kWh.
func TestDiscoveryPayloadsValidate(t *testing.T) {
	msgs, err := Discovery(alice)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 12 {
		t.Fatalf("%d entities, want 10 sensors and 2 switches", len(msgs))
	}
	uniq := map[string]bool{}
	for _, m := range msgs {
		lv := strings.Split(m.Topic, "/")
		if len(lv) != 5 || lv[0] != "homeassistant" || lv[2] != "gridledger_alice" || lv[4] != "config" || !m.Retain {
			t.Fatalf("discovery topic %q retain %v", m.Topic, m.Retain)
		}
		if !idPart.MatchString(lv[3]) {
			t.Errorf("object id %q", lv[3])
		}
		var cfg map[string]any
		if err := json.Unmarshal(m.Payload, &cfg); err != nil {
			t.Fatalf("%s: %v", m.Topic, err)
		}
		if err := Validate(lv[1], cfg); err != nil {
			t.Errorf("%s: %v\n%s", m.Topic, err, m.Payload)
		}
		id := cfg["unique_id"].(string)
		if uniq[id] {
			t.Errorf("unique_id %q twice", id)
		}
		uniq[id] = true
		for _, k := range []string{"state_topic", "command_topic", "json_attributes_topic"} {
			if tp, ok := cfg[k].(string); ok {
				if who, ok := MemberOf("demo-net", tp); !ok || who != "alice" {
					t.Errorf("%s %q belongs to %q %v", k, tp, who, ok)
				}
			}
		}
		if lv[3] == ObjImported || lv[3] == ObjExported {
			if cfg["device_class"] != "energy" || cfg["state_class"] != "total_increasing" || cfg["unit_of_measurement"] != "kWh" {
				t.Errorf("%s is not an energy-dashboard sensor: %s", lv[3], m.Payload)
			}
		}
	}
}

// Validate refuses what HA would refuse or ignore.
func TestValidateRefuses(t *testing.T) {
	good := func() map[string]any {
		return map[string]any{"state_topic": "a/b", "unique_id": "u", "device": map[string]any{"identifiers": []string{"d"}},
			"device_class": "energy", "unit_of_measurement": "kWh", "state_class": "total_increasing"}
	}
	if err := Validate("sensor", good()); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(c map[string]any){
		"unknown key":                 func(c map[string]any) { c["stat_topic"] = "x" },
		"platform (device discovery)": func(c map[string]any) { c["platform"] = "sensor" },
		"no state_topic":              func(c map[string]any) { delete(c, "state_topic") },
		"no unique_id":                func(c map[string]any) { delete(c, "unique_id") },
		"device without identifiers":  func(c map[string]any) { c["device"] = map[string]any{"name": "x"} },
		"unknown device key":          func(c map[string]any) { c["device"] = map[string]any{"identifiers": "d", "colour": "x"} },
		"energy as measurement":       func(c map[string]any) { c["state_class"] = "measurement" },
		"energy in W":                 func(c map[string]any) { c["unit_of_measurement"] = "W" },
		"monetary in kWh":             func(c map[string]any) { c["device_class"] = "monetary"; c["state_class"] = "total" },
		"monetary increasing": func(c map[string]any) {
			c["device_class"], c["unit_of_measurement"] = "monetary", "EUR"
		},
		"timestamp with a unit": func(c map[string]any) { c["device_class"] = "timestamp"; delete(c, "state_class") },
		"bad state class":       func(c map[string]any) { c["state_class"] = "sum" },
		"availability both ways": func(c map[string]any) {
			c["availability_topic"] = "x"
			c["availability"] = []any{map[string]any{"topic": "y"}}
		},
		"availability bad key": func(c map[string]any) { c["availability"] = []any{map[string]any{"topic": "y", "qos": 1}} },
	} {
		c := good()
		edit(c)
		if err := Validate("sensor", c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	sw := map[string]any{"command_topic": "c", "unique_id": "u", "device": map[string]any{"identifiers": []any{"d"}}}
	if err := Validate("switch", sw); err != nil {
		t.Errorf("switch: %v", err)
	}
	sw["unit_of_measurement"] = "kWh"
	if err := Validate("switch", sw); err == nil {
		t.Error("a switch with a unit accepted")
	}
	if err := Validate("light", sw); err == nil {
		t.Error("a light accepted")
	}
}

// Node ids are one-to-one with member ids and MemberOf inverts them, for
// the ids with '.' and ':' HA would not take as they are.
func FuzzNodeIDRoundTrip(f *testing.F) {
	for _, s := range []string{"alice", "a.b", "a:b", "a_db", "a__b", "H01", "x.y:z-1", "_d", "a_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		node := NodeID(id)
		got, ok := memberOfNode(node)
		if !memberID.MatchString(id) {
			if ok && got == id {
				t.Fatalf("%q is no ledger id but maps back", id)
			}
			return
		}
		if !idPart.MatchString(node) || !ok || got != id {
			t.Fatalf("%q → %q → %q %v", id, node, got, ok)
		}
		topic := DiscoveryPrefix + "/sensor/" + node + "/x/config"
		if m, ok := MemberOf("c", topic); !ok || m != id {
			t.Fatalf("MemberOf(%q) = %q %v", topic, m, ok)
		}
	})
}

func TestMemberOf(t *testing.T) {
	for topic, want := range map[string]string{
		"homeassistant/sensor/gridledger_bob/wallet_balance/config":  "bob",
		"homeassistant/switch/gridledger_a_db/appliance_ev/config":   "a.b",
		"homeassistant/switch/gridledger_a__b_c/appliance_ev/config": "a_b:",
		"homeassistant/switch/gridledger_a_x/appliance_ev/config":    "",
		"gridledger/demo-net/ha/bob/wallet_balance/state":            "bob",
		"gridledger/demo-net/ha/bob/#":                               "bob",
		"homeassistant/#":                                            "",
		"homeassistant/+/+/+/config":                                 "",
		"homeassistant/sensor/+/x/config":                            "",
		"gridledger/other/ha/bob/x/state":                            "",
		"gridledger/demo-net/ha/+/x/state":                           "",
		"gridledger/demo-net/meters/bob/reading":                     "",
		"homeassistant/status":                                       "",
	} {
		got, ok := MemberOf("demo-net", topic)
		if (want != "") != ok || got != want && ok {
			t.Errorf("MemberOf(%q) = %q %v, want %q", topic, got, ok, want)
		}
	}
}

func ptr(v int64) *int64 { return &v }

// States of a worked market, each figure worked out by hand.
func TestStatesOfAMarket(t *testing.T) {
	const now = int64(1_767_268_800) // 2026-01-01T12:00:00Z
	l := func(start int64, st contract.ListingState, mcp *int64) contract.ListingView {
		v := contract.ListingView{Listing: contract.Listing{Start: start, End: start + 3600, GateClosure: start - 3600, State: st,
			Mechanism: "average-bid", GridPricePerKWh: 95_000, FeedInPerKWh: 39_000}}
		if mcp != nil {
			v.Clearing = &contract.Clearing{MCP: mcp, TradedWh: 2500}
		}
		return v
	}
	mk := Market{
		MarketTime: now,
		Listings: []contract.ListingView{
			l(now-7200, contract.StateSettled, ptr(60_000)),
			l(now-3600, contract.StateBidsClosed, ptr(50_000)),
			l(now, contract.StateBidsClosed, ptr(70_000)),
			l(now+3600, contract.StateBidsClosed, nil),
			l(now+7200, contract.StateAuthorizeOffers, nil),
			l(now+10800, contract.StateAuthorizeOffers, nil),
		},
		Participant: contract.Participant{ID: "alice", Balance: 12_345_000_000, Escrow: 500_000_000, Feeder: "F1"},
		Statement: []contract.StatementRow{
			{Interval: now - 7200, NetNano: -100_000_000, UtilityOnlyNano: -150_000_000},
			{Interval: now - 3600, NetNano: 20_000_000, UtilityOnlyNano: 5_000_000},
		},
		Plans: []contract.PlanEntry{
			{Member: "alice", Start: now, NetWh: 1200},
			{Member: "alice", Start: now + 3600, NetWh: -800},
			{Member: "alice", Start: now + PlanHours*3600, NetWh: 5},
		},
		DR: []contract.DRRequest{
			{ID: "dr1", Start: now + 3600, End: now + 3*3600, IntervalS: 3600, ReductionWh: 1000, IncentivePerKWh: 200_000, State: contract.DROpen,
				Targets: []contract.DRTarget{{Member: "alice", ReductionWh: 400}}, Commits: map[string]*contract.DRCommit{"alice": {PromisedWh: []int64{300, 100}}}},
			{ID: "dr-other", Start: now + 3600, End: now + 7200, IntervalS: 3600, State: contract.DROpen, Targets: []contract.DRTarget{{Member: "bob", ReductionWh: 1}}},
			{ID: "dr-f2", Start: now + 3600, End: now + 7200, IntervalS: 3600, Feeder: "F2", State: contract.DROpen},
			{ID: "dr-done", Start: now - 7200, End: now - 3600, IntervalS: 3600, State: contract.DRDone},
		},
		Meters: []contract.Meter{
			{ID: "alice-main", Owner: "alice", Last: &reading.Registers{ImportWh: 1_234_567, ExportWh: 400_001}},
			{ID: "alice-pv", Owner: "alice", Last: &reading.Registers{ImportWh: 3, ExportWh: 1000}},
			{ID: "alice-new", Owner: "alice"},
		},
		Appliances: map[string]bool{"ev": true, "washer": false},
	}
	msgs, err := States(alice, mk)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range msgs {
		if !m.Retain {
			t.Errorf("%s not retained", m.Topic)
		}
		if who, ok := MemberOf("demo-net", m.Topic); !ok || who != "alice" {
			t.Errorf("%s is not alice's topic", m.Topic)
		}
		got[strings.TrimPrefix(m.Topic, "gridledger/demo-net/ha/alice/")] = string(m.Payload)
	}
	want := map[string]string{
		// median of 60, 50, 70 = 60 (within 39..95)
		"next_price/state":          "0.060",
		"next_gate_closure/state":   "2026-01-01T13:00:00Z",
		"clearing_price/state":      "0.070",
		"planned_import/state":      "1.200",
		"planned_export/state":      "0.000",
		"planned_import/attributes": `{"2026-01-01T12:00:00Z":"1.200","2026-01-01T13:00:00Z":"0.000"}`,
		"planned_export/attributes": `{"2026-01-01T12:00:00Z":"0.000","2026-01-01T13:00:00Z":"0.800"}`,
		"wallet_balance/state":      "12.345",
		"wallet_balance/attributes": `{"escrow":"0.50"}`,
		// (-0.10 - -0.15) + (0.02 - 0.005) = 0.065
		"savings_month/state":   "0.065",
		"demand_response/state": "1",
		"demand_response/attributes": `{"requests":[{"end":"2026-01-01T15:00:00Z","id":"dr1","incentive_per_kwh":"0.200","promised_kwh":"0.400",` +
			`"reduction_kwh_per_interval":"0.400","start":"2026-01-01T13:00:00Z","state":"open"}]}`,
		"energy_imported/state":  "1234.570",
		"energy_exported/state":  "401.001",
		"appliance_ev/state":     "ON",
		"appliance_washer/state": "OFF",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if a := got["next_price/attributes"]; !strings.Contains(a, `"listing_start":"2026-01-01T14:00:00Z"`) || !strings.Contains(a, "median") {
		t.Errorf("next price attributes %s", a)
	}
	if a := got["savings_month/attributes"]; !strings.Contains(a, `"month":"2026-01"`) || !strings.Contains(a, `"settled_intervals":2`) {
		t.Errorf("savings attributes %s", a)
	}

	// Before any clearing: the grid tariff, said so; no clearing price.
	mk.Listings = mk.Listings[4:]
	mk.Listings[0].Clearing = nil
	msgs, _ = States(alice, mk)
	got = map[string]string{}
	for _, m := range msgs {
		got[strings.TrimPrefix(m.Topic, "gridledger/demo-net/ha/alice/")] = string(m.Payload)
	}
	if got["next_price/state"] != "0.095" || !strings.Contains(got["next_price/attributes"], "no clearing yet") {
		t.Errorf("before clearing: %q %s", got["next_price/state"], got["next_price/attributes"])
	}
	if _, ok := got["clearing_price/state"]; ok {
		t.Error("a clearing price before any clearing")
	}
}

func TestCommand(t *testing.T) {
	base := "gridledger/demo-net/ha/alice/"
	for _, c := range []struct {
		topic, payload, app string
		on, ok              bool
	}{
		{base + "appliance_ev/set", "ON", "ev", true, true},
		{base + "appliance_washer/set", "OFF", "washer", false, true},
		{base + "appliance_washer/set", "on", "", false, false},
		{base + "appliance_dryer/set", "ON", "", false, false},
		{base + "wallet_balance/set", "ON", "", false, false},
		{"gridledger/demo-net/ha/bob/appliance_ev/set", "ON", "", false, false},
		{base + "appliance_ev/state", "ON", "", false, false},
	} {
		app, on, err := Command(alice, c.topic, []byte(c.payload))
		if (err == nil) != c.ok || app != c.app || on != c.on {
			t.Errorf("%s %s: %q %v %v", c.topic, c.payload, app, on, err)
		}
	}
}

func TestMemberChecks(t *testing.T) {
	for name, m := range map[string]Member{
		"bad member":        {Community: "c", Member: "a/b"},
		"wildcard in chain": {Community: "c/#", Member: "a"},
		"bad currency":      {Community: "c", Member: "a", Currency: "euro"},
		"bad appliance":     {Community: "c", Member: "a", Appliances: []string{"heat pump"}},
		"same entity":       {Community: "c", Member: "a", Appliances: []string{"EV", "ev"}},
	} {
		if _, err := Discovery(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

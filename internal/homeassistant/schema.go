package homeassistant

import (
	"fmt"
	"regexp"
	"slices"
)

// The keys Home Assistant's documentation lists for an MQTT entity's
// configuration, per component, as of these source files of
// github.com/home-assistant/home-assistant.io (the pages
// https://www.home-assistant.io/integrations/sensor.mqtt/ and
// https://www.home-assistant.io/integrations/switch.mqtt/):
//
//	source/_integrations/sensor.mqtt.markdown  commit 9e4a69ab998700a518e366a7f54551a150fccf94
//	source/_integrations/switch.mqtt.markdown  commit 53821638d65163c0c2cdb488b2d114de4c4dbc4b
//
// `platform` is listed there too, but "only allowed and required in MQTT
// auto discovery device messages": these configs are single-component
// discovery messages, so it is left out of both lists. The device classes,
// their units and state classes are those of
// https://www.home-assistant.io/integrations/sensor/#device-class and
// https://developers.home-assistant.io/docs/core/entity/sensor.
var (
	commonKeys = []string{
		"availability", "availability_mode", "availability_template", "availability_topic",
		"device", "device_class", "enabled_by_default", "encoding", "entity_category", "entity_picture",
		"icon", "json_attributes_template", "json_attributes_topic", "name", "object_id",
		"payload_available", "payload_not_available", "qos", "unique_id", "value_template",
	}
	componentKeys = map[string][]string{
		"sensor": append(slices.Clone(commonKeys), "expire_after", "force_update", "last_reset_value_template",
			"options", "suggested_display_precision", "state_class", "state_topic", "unit_of_measurement"),
		"switch": append(slices.Clone(commonKeys), "command_template", "command_topic", "optimistic",
			"payload_off", "payload_on", "retain", "state_off", "state_on", "state_topic"),
	}
	// requiredKeys: the documentation's required keys (sensor: state_topic;
	// switch: command_topic), and unique_id and device, which tie an
	// entity to the member's device in the registry (optional for HA, but
	// every entity published here must appear under the member's device).
	requiredKeys = map[string][]string{
		"sensor": {"state_topic", "unique_id", "device"},
		"switch": {"command_topic", "unique_id", "device"},
	}
	deviceKeys = []string{
		"configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model", "model_id",
		"name", "serial_number", "suggested_area", "sw_version", "via_device",
	}
	availabilityKeys = []string{"payload_available", "payload_not_available", "topic", "value_template"}

	// energyUnits are the units HA accepts for device_class energy.
	energyUnits = []string{"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"}
	// stateClasses per device class: HA refuses any other pairing.
	stateClasses = map[string][]string{
		"energy":    {"total", "total_increasing"},
		"monetary":  {"total"},
		"timestamp": {},
	}
	// idPart is what HA accepts as a discovery topic's node_id and object_id.
	idPart = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	// currencyUnit is an ISO 4217 code, alone or per kWh (a price).
	currencyUnit = regexp.MustCompile(`^[A-Z]{3}(/kWh)?$`)
)

// Validate checks one entity's discovery config against the keys Home
// Assistant documents for its component: required keys present, no key
// it does not know (at the top, in device and in availability), and
// device_class, unit_of_measurement and state_class consistent.
func Validate(component string, cfg map[string]any) error {
	allowed, ok := componentKeys[component]
	if !ok {
		return fmt.Errorf("homeassistant: component %q is not one this package publishes", component)
	}
	for _, k := range requiredKeys[component] {
		if _, ok := cfg[k]; !ok {
			return fmt.Errorf("homeassistant: %s config lacks required key %q", component, k)
		}
	}
	for k, v := range cfg {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("homeassistant: %s config has key %q, not in HA's documentation", component, k)
		}
		switch k {
		case "device":
			d, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("homeassistant: device is %T, not a map", v)
			}
			for dk := range d {
				if !slices.Contains(deviceKeys, dk) {
					return fmt.Errorf("homeassistant: device has key %q, not in HA's documentation", dk)
				}
			}
			if _, ok := d["identifiers"]; !ok {
				return fmt.Errorf("homeassistant: device lacks identifiers")
			}
		case "availability":
			as, ok := listOfMaps(v)
			if !ok || len(as) == 0 {
				return fmt.Errorf("homeassistant: availability is %T, not a non-empty list of maps", v)
			}
			for _, a := range as {
				if _, ok := a["topic"]; !ok {
					return fmt.Errorf("homeassistant: availability item lacks topic")
				}
				for ak := range a {
					if !slices.Contains(availabilityKeys, ak) {
						return fmt.Errorf("homeassistant: availability has key %q, not in HA's documentation", ak)
					}
				}
			}
		}
	}
	if _, both := cfg["availability_topic"]; both && cfg["availability"] != nil {
		return fmt.Errorf("homeassistant: availability and availability_topic must not be used together")
	}
	return checkClasses(cfg)
}

// checkClasses checks device_class against unit_of_measurement and
// state_class.
func checkClasses(cfg map[string]any) error {
	dc, _ := cfg["device_class"].(string)
	unit, hasUnit := cfg["unit_of_measurement"].(string)
	sc, hasSC := cfg["state_class"].(string)
	if hasSC && !slices.Contains([]string{"measurement", "total", "total_increasing"}, sc) {
		return fmt.Errorf("homeassistant: state_class %q is not one of HA's", sc)
	}
	if allowed, ok := stateClasses[dc]; ok && hasSC && !slices.Contains(allowed, sc) {
		return fmt.Errorf("homeassistant: device_class %s does not take state_class %s", dc, sc)
	}
	switch dc {
	case "energy":
		if !slices.Contains(energyUnits, unit) {
			return fmt.Errorf("homeassistant: device_class energy needs an energy unit, not %q", unit)
		}
	case "monetary":
		if !currencyUnit.MatchString(unit) {
			return fmt.Errorf("homeassistant: device_class monetary needs a currency unit, not %q", unit)
		}
	case "timestamp":
		if hasUnit || hasSC {
			return fmt.Errorf("homeassistant: device_class timestamp takes no unit or state_class")
		}
	case "":
	default:
		return fmt.Errorf("homeassistant: device_class %q is not one this package uses", dc)
	}
	return nil
}

// listOfMaps reads a list of maps as built here or as decoded from JSON.
func listOfMaps(v any) ([]map[string]any, bool) {
	switch l := v.(type) {
	case []map[string]any:
		return l, true
	case []any:
		out := make([]map[string]any, len(l))
		for i, e := range l {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out[i] = m
		}
		return out, true
	}
	return nil, false
}

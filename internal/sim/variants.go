package sim

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
)

// Variant is a community under one setting of a comparison.
type Variant struct {
	Label     string // key=value; empty without a comparison
	Community *community.Community
}

// Variants turns `sim --compare key=v1,v2` into one community per value:
// a clearing mechanism, demand response on or off, an imbalance rule, a
// bidding mode or the sites' batteries on or off. Without a spec it is the community alone.
func Variants(c *community.Community, spec string) ([]Variant, error) {
	if spec == "" {
		return []Variant{{"", c}}, nil
	}
	key, vals, ok := strings.Cut(spec, "=")
	if !ok || vals == "" {
		return nil, fmt.Errorf("--compare %q: want key=value,value (mechanism=…, dr=on,off, imbalance=…, bidding=… or batteries=on,off)", spec)
	}
	var out []Variant
	for _, v := range strings.Split(vals, ",") {
		v = strings.TrimSpace(v)
		cc := *c
		switch key {
		case "mechanism":
			if !slices.Contains(market.Mechanisms, market.Mechanism(v)) {
				return nil, fmt.Errorf("--compare mechanism=%s: want one of %v", v, market.Mechanisms)
			}
			cc.Mechanism = v
		case "dr":
			switch v {
			case "on":
				cc.DR.Enabled = true
			case "off":
				cc.DR.Enabled = false
			default:
				return nil, fmt.Errorf("--compare dr=%s: want on or off", v)
			}
		case "imbalance":
			if !slices.Contains(contract.ImbalanceRules, v) {
				return nil, fmt.Errorf("--compare imbalance=%s: want one of %v", v, contract.ImbalanceRules)
			}
			cc.Imbalance = v
		case "bidding":
			if !slices.Contains(community.BiddingModes, v) {
				return nil, fmt.Errorf("--compare bidding=%s: want one of %v", v, community.BiddingModes)
			}
			cc.Bidding = v
		case "batteries":
			if !slices.Contains(community.BatteriesModes, v) {
				return nil, fmt.Errorf("--compare batteries=%s: want on or off", v)
			}
			cc.Batteries = v
		default:
			return nil, fmt.Errorf("--compare %s: can compare mechanism, dr, imbalance, bidding or batteries", key)
		}
		out = append(out, Variant{key + "=" + v, &cc})
	}
	return out, nil
}

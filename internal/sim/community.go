// Package sim simulates an energy community. Run drives the contract's
// ABCI application block by block with every site's EMS and meters, as
// fast as the machine allows (gridledger sim); Live drives the sites of a
// community against a running node in market time (gridledger run). Both
// take their sites from internal/community: what a site uses and makes
// comes from its deterministic model, so a simulation is reproducible.
package sim

import (
	"fmt"

	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/ems/forecast"
)

// Site is a member of a simulated community: its description and the
// model of what it really uses and makes.
type Site struct {
	community.Site
	Model *community.Model
	// Index is the site's place in the community (and in Model).
	Index int
}

// Sites are a community's sites with their model for a seed.
func Sites(c *community.Community, seed uint64) ([]Site, error) {
	m, err := c.Model(seed)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	out := make([]Site, len(c.Sites))
	for i, s := range c.Sites {
		out[i] = Site{Site: s, Model: m, Index: i}
	}
	return out, nil
}

// Actual is the site's consumption (without its EMS's appliances) and
// production in the hour starting at start: what its meter measures
// besides the appliances.
func (s Site) Actual(start int64) (loadWh, genWh int64) {
	return s.Model.BaseLoadWh(s.Index, start), s.Model.ProductionWh(s.Index, start)
}

// History is what the site's meter would have recorded, hour by hour,
// over [fromS, toS): its consumption without the planned appliances, and
// its production (none for a site without a generator). The site's EMS
// learns its forecasts from it.
func (s Site) History(fromS, toS int64) (load, gen forecast.Series) {
	load, gen = forecast.Series{}, forecast.Series{}
	for t := fromS; t < toS; t += 3600 {
		l, g := s.Actual(t)
		load[t] = l
		if s.CapacityW() > 0 {
			gen[t] = g
		}
	}
	return load, gen
}

func ptr[T any](v T) *T { return &v }

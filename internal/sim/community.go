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
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/agent"
	"github.com/gridledger/gridledger/internal/ems/forecast"
	"github.com/gridledger/gridledger/internal/ems/plan"
	"github.com/gridledger/gridledger/internal/kpi"
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
	for i, s := range c.SimSites() {
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

// Home is the site as its EMS agent knows it.
func (s Site) Home() agent.Home {
	margin := s.BidMarginPermille()
	h := agent.Home{Member: s.ID, Feeder: s.Feeder, RES: s.RESID(), CapacityW: s.CapacityW(),
		Appliances: agent.AppliancesOf(s.PlanAppliances()), BidMarginPermille: &margin}
	if b := s.Battery; b != nil {
		h.Battery = &agent.Battery{CapacityWh: b.CapacityWh, MinSoCWh: b.MinSoCWh(), MaxChargeW: b.MaxChargeW,
			MaxDischargeW: b.MaxDischargeW, ChargeEfficiencyPermille: community.EfficiencyPermille(b.ChargeEfficiency),
			DischargeEfficiencyPermille: community.EfficiencyPermille(b.DischargeEfficiency),
			StepWh:                      BatteryStepWh(b.CapacityWh), CycleCostMicroPerKWh: b.CycleCostMicroPerKWh(), InitialSoCWh: b.InitialSoCWh()}
	}
	return h
}

// BatteryStepWh is the step a battery of capWh is planned in: the
// planner's default, 100 Wh (a home battery's window in at most 150
// steps), or coarser for a battery too large for it to tell apart its
// states of charge one by one.
func BatteryStepWh(capWh int64) int64 {
	return max(plan.DefaultBatteryStepWh, (capWh+plan.MaxBatteryLevels-1)/plan.MaxBatteryLevels)
}

// Forecaster is the site's EMS forecast: Prophet-level, learned from the
// four weeks its meter recorded before the day, its seasonal stage refit
// every refitDays (forecast.Model; 1 is forecast.Forecast's ProphetLevel
// exactly); the same hour yesterday while too little history is known
// for a fit. It is for one goroutine at a time, as an agent's Step is.
func (s Site) Forecaster(utcOffsetH int, refitDays int64) agent.ForecastFunc {
	load := &forecast.Model{UTCOffsetH: utcOffsetH, RefitDays: refitDays}
	gen := &forecast.Model{UTCOffsetH: utcOffsetH, RefitDays: refitDays}
	predict := func(m *forecast.Model, series forecast.Series, day int64) ([plan.HoursPerDay]int64, error) {
		f, err := m.Forecast(series, day)
		if err != nil {
			return forecast.Forecast(series, day, utcOffsetH, forecast.SameHourYesterday)
		}
		return f, nil
	}
	return func(day int64) (base, prod [plan.HoursPerDay]int64, err error) {
		ls, gs := s.History(day-28*86400, day)
		if base, err = predict(load, ls, day); err != nil || len(gs) == 0 {
			return base, prod, err
		}
		prod, err = predict(gen, gs, day)
		return base, prod, err
	}
}

// Use is what the site used and made in the hour starting at start with
// its EMS a running its plan, and what the simulation alone knows of it.
func (s Site) Use(a *agent.Agent, start int64, p contract.Params) kpi.Use {
	load, gen := s.Actual(start)
	u := kpi.Use{ID: s.ID, BaseWh: load, ConsumptionWh: load, NoDRWh: load, ProductionWh: gen}
	if d, h, ok := a.PlanAt(start, p); ok {
		u.ConsumptionWh += d.Current.ApplianceWh(d.Site, false)[h]
		u.NoDRWh += d.Committed.ApplianceWh(d.Site, false)[h]
		if c, b := d.Committed.Battery, d.Current.Battery; c != nil && b != nil {
			// What the battery would have drawn had the EMS ignored
			// demand response, beyond what it was asked to draw: counted
			// as load, so the peak without DR is the connection's.
			u.NoDRWh += c.ChargeWh[h] - c.DischargeWh[h] - (b.ChargeWh[h] - b.DischargeWh[h])
		}
		u.Forecast = true
		u.ForecastBaseWh = d.Site.BaseWh[h]
		if s.PV != nil {
			u.ForecastPVWh, u.PVWh = d.Site.PVWh[h], gen
		}
	}
	return u
}

// Package kpi computes the key performance indicators of a simulated (or
// real) energy community from its settled market intervals: how much of
// the community's production it uses itself, what the market traded and
// delivered, what members paid and saved against buying from the utility
// alone, how fairly the savings are spread, what demand response did to
// the peak, how good the EMS forecasts were and what the ledger costs in
// bytes. Accumulator sums a run interval by interval and returns each
// interval's community sums (the CSV and the charts use them); Compute
// does the same for a whole Input. FromSettlement turns the ledger's
// settlement of an interval into an Interval, so that the simulator, the
// live community and the API (Ledger) take the KPIs from it one way.
//
// Every KPI is defined once: in the doc comment of the field that holds
// it, repeated word for word in docs/kpis.md (a test keeps the two in
// step). The notation there: t is a market interval, m a member; Lₜ and
// Gₜ are the members' total consumption and production in t; I, X are a
// member's metered import and export, R and S the energy members delivered
// to it and it delivered to members (energy tokens received and sent).
//
// Units: energy in Wh and money in nano-units (int64), prices in
// micro-units per kWh; a Wh priced in micro-units per kWh is exactly one
// nano-unit (market.Value), so money is never divided by 1000. Averages of
// integers round to the nearest integer, halves away from zero. Ratios are
// float64 rounded to 4 decimals, and null (a nil pointer) when their
// denominator is zero. Sums are plain int64: a year of 10,000 members
// each moving 10 currency units an hour uses a tenth of their range.
//
// The package is pure and deterministic (internal/deptest checks it: no
// I/O, clock, randomness or goroutines): the same Input gives the same
// bytes of json.Marshal(Compute(in)), and the community KPIs do not depend
// on the order of the members.
package kpi

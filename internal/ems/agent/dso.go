package agent

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/dr"
)

// DSO is the DSO's side of demand response (seed §4.2, last paragraph):
// once the members have committed their plans for a day, it adds them up
// per interval, and where the community's planned net import is out of
// balance — above LimitWh — it asks for the excess back, from the members
// whose plans leave the most flexibility, paying IncentivePerKWh.
type DSO struct {
	Key    chain.Key
	Ledger Ledger
	Log    *slog.Logger
	// LimitWh is the most the feeder should carry in an interval; 0 means
	// LimitPct of the day's mean planned interval.
	LimitWh  int64
	LimitPct int64
	// Feeder scopes requests; "" is the whole community.
	Feeder          string
	IncentivePerKWh int64
	// DecideBeforeS: a day is examined this long before it starts
	// (after the homes' PlanAheadS, so their plans are in).
	DecideBeforeS int64
	UTCOffsetS    int64

	done map[int64]bool
	seq  int
}

// Step examines the next day once, when its time has come.
func (d *DSO) Step(ctx context.Context, snap Snapshot) error {
	if d.done == nil {
		d.done = map[int64]bool{}
	}
	today, _ := dayOf(snap.MarketTime, d.UTCOffsetS)
	day := today + 86400
	if d.done[day] || snap.MarketTime < day-d.DecideBeforeS {
		return nil
	}
	d.done[day] = true
	iv := snap.Params.IntervalS
	var totals []int64
	var plans [][]contract.PlanEntry
	for t := day; t < day+86400; t += iv {
		ps, err := chain.Reader{Q: d.Ledger, As: &d.Key}.Plans(ctx, t)
		if err != nil {
			return err
		}
		var sum int64
		for _, p := range ps {
			sum += p.NetWh
		}
		totals = append(totals, sum)
		plans = append(plans, ps)
	}
	limit := d.LimitWh
	if limit == 0 {
		var sum int64
		for _, v := range totals {
			sum += v
		}
		limit = max(1, sum/int64(len(totals))*d.LimitPct/100)
	}
	first, n, excess := dr.Imbalance(totals, limit)
	if n == 0 {
		d.Log.Info("DSO: planned load balanced", "day", day, "limit_wh", limit)
		return nil
	}
	n = min(n, contract.MaxDRIntervals)
	// The most flexible members, as many as a request may name.
	targets := dr.Rank(dr.MemberFlex(plans[first:first+n]), excess)
	targets = targets[:min(len(targets), contract.MaxDRTargets)]
	if len(targets) == 0 {
		d.Log.Info("DSO: load out of balance but no flexibility planned", "day", day, "excess_wh", excess)
		return nil
	}
	var share int64
	for _, t := range targets {
		share += t.ReductionWh
	}
	d.seq++
	msg := &contract.MsgDRRequest{ID: fmt.Sprintf("dr-%d-%d", day, d.seq), Start: day + int64(first)*iv, Intervals: n,
		Feeder: d.Feeder, ReductionW: share * 3600 / iv, IncentivePerKWh: d.IncentivePerKWh, Targets: targets}
	if err := d.Ledger.Send(ctx, d.Key, msg); err != nil {
		return fmt.Errorf("DSO: request %s: %w", msg.ID, err)
	}
	d.Log.Info("DSO: demand response requested", "id", msg.ID, "start", msg.Start, "intervals", n,
		"limit_wh", limit, "excess_wh", excess, "asked_wh", share, "targets", len(targets))
	return nil
}

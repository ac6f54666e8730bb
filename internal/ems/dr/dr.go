// Package dr is demand response as the EMS and the DSO see it (SYSTEM.md
// part 7, seed §4.2 and Figure 8): a home re-plans its day for a request
// and works out the reduction it can promise; the DSO finds the intervals
// where the community's planned load is out of balance and ranks the
// households by the flexibility their plans leave, so that the request
// goes where it helps. Pure: no I/O, no clock; the ledger's contract pays
// for the reduction it verifies from the meters (internal/contract, dr.go).
package dr

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/plan"
)

// Response is a home's answer to a request: its plan without and with the
// request, and the reduction it can promise per hour of the day.
type Response struct {
	Base   plan.Result `json:"base"`
	WithDR plan.Result `json:"with_dr"`
	// PromisedWh[h] = base net − DR net in the request's hours, never
	// below zero; zero elsewhere.
	PromisedWh [plan.HoursPerDay]int64 `json:"promised_wh"`
	// CostNano is the energy cost of each plan at the site's own prices
	// (without the incentive); IncentiveNano what the promise earns.
	BaseCostNano  int64 `json:"base_cost"`
	DRCostNano    int64 `json:"dr_cost"`
	IncentiveNano int64 `json:"incentive"`
}

// Respond re-plans a site's day for a request paying incentivePerKWh[h]
// (micro-units per kWh, 0 when hour h is not requested) for each Wh its
// net import falls. It plans with the incentive added to both the buy and
// the sell price of the requested hours: each Wh less imported (or more
// exported) there is then worth the incentive more, so the optimiser
// moves flexible load out of those hours exactly when the incentive pays
// for what the move costs elsewhere. Sell stays ≤ buy, so the plan is
// still exact. The promise is the fall in net import the new plan gives.
func Respond(s plan.Site, incentivePerKWh [plan.HoursPerDay]int64) (Response, error) {
	base, err := plan.Plan(s)
	if err != nil {
		return Response{}, err
	}
	d := s
	d.BuyMicroPerKWh = slices.Clone(s.BuyMicroPerKWh)
	d.SellMicroPerKWh = slices.Clone(s.SellMicroPerKWh)
	for h, inc := range incentivePerKWh {
		if inc < 0 || inc > plan.MaxPriceMicroPerKWh {
			return Response{}, fmt.Errorf("%w: incentive %d in hour %d", plan.ErrInvalid, inc, h)
		}
		d.BuyMicroPerKWh[h] = min(d.BuyMicroPerKWh[h]+inc, plan.MaxPriceMicroPerKWh)
		d.SellMicroPerKWh[h] = min(d.SellMicroPerKWh[h]+inc, d.BuyMicroPerKWh[h])
	}
	with, err := plan.Plan(d)
	if err != nil {
		return Response{}, err
	}
	r := Response{Base: base, WithDR: with, BaseCostNano: Cost(s, base.NetWh), DRCostNano: Cost(s, with.NetWh)}
	for h, inc := range incentivePerKWh {
		if inc > 0 {
			r.PromisedWh[h] = max(0, base.NetWh[h]-with.NetWh[h])
			r.IncentiveNano += r.PromisedWh[h] * inc
		}
	}
	// The re-planned cost in with.CostNano includes the incentive terms;
	// report the energy cost at the site's own prices instead.
	with.CostNano = r.DRCostNano
	r.WithDR = with
	return r, nil
}

// Cost is the day's energy cost of a net profile at the site's prices,
// nano-units: import at buy, export at sell.
func Cost(s plan.Site, netWh []int64) int64 {
	var c int64
	for h, n := range netWh {
		if n >= 0 {
			c += n * s.BuyMicroPerKWh[h]
		} else {
			c += n * s.SellMicroPerKWh[h]
		}
	}
	return c
}

// FlexWh is, per hour, what the site could still take out of its net
// import in that hour: the energy its flexible appliances use in it, and
// with a battery what the plan charges then plus what more the battery
// could discharge (within its power and what it holds above its reserve
// at the hour's start).
func FlexWh(s plan.Site, r plan.Result) [plan.HoursPerDay]int64 {
	flex := r.ApplianceWh(s, true)
	b, bp := s.Battery, r.Battery
	if b == nil || bp == nil {
		return flex
	}
	soc := b.InitialSoCWh
	for h := range plan.HoursPerDay {
		out := max(0, -bp.Steps[h]) // steps the plan already discharges
		more := min(b.MaxDischargeSteps()-out, (soc-b.MinSoCWh)/b.Step()-out)
		flex[h] += bp.ChargeWh[h] + max(0, more)*b.DischargeStepWh()
		soc = bp.SoCWh[h]
	}
	return flex
}

// Imbalance finds where the community's planned net import (per interval,
// in order) exceeds a limit: the first contiguous run of intervals above
// it, and the largest excess in that run (Wh per interval). n is 0 when
// every interval is within the limit.
func Imbalance(totalNetWh []int64, limitWh int64) (first, n int, excessWh int64) {
	first = -1
	for i, v := range totalNetWh {
		if v > limitWh {
			if first < 0 {
				first = i
			}
			n++
			excessWh = max(excessWh, v-limitWh)
		} else if first >= 0 {
			break
		}
	}
	if first < 0 {
		return 0, 0, 0
	}
	return first, n, excessWh
}

// Rank shares a reduction of wantWh per interval among members, most
// flexible first. flexWh[member] is the flexibility each member's plans
// leave in every interval of the request (the least over its intervals,
// so the share can be given in all of them). Members with none are left
// out; ties go by member id, so the ranking is deterministic. The shares
// add up to at most wantWh.
func Rank(flexWh map[string]int64, wantWh int64) []contract.DRTarget {
	type cand struct {
		id   string
		flex int64
	}
	var cs []cand
	for id, f := range flexWh {
		if f > 0 {
			cs = append(cs, cand{id, f})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if c := cmp.Compare(b.flex, a.flex); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	var out []contract.DRTarget
	left := wantWh
	for _, c := range cs {
		if left <= 0 {
			break
		}
		share := min(c.flex, left)
		out = append(out, contract.DRTarget{Member: c.id, ReductionWh: share})
		left -= share
	}
	return out
}

// MemberFlex is the least flexibility each member's committed plans leave
// across the given intervals' plans (one slice of entries per interval);
// a member missing from an interval has none.
func MemberFlex(plansByInterval [][]contract.PlanEntry) map[string]int64 {
	out := map[string]int64{}
	for i, entries := range plansByInterval {
		seen := map[string]bool{}
		for _, e := range entries {
			seen[e.Member] = true
			if i == 0 {
				out[e.Member] = e.FlexWh
			} else if f, ok := out[e.Member]; ok {
				out[e.Member] = min(f, e.FlexWh)
			}
		}
		for id := range out {
			if !seen[id] {
				delete(out, id)
			}
		}
	}
	return out
}

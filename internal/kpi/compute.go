package kpi

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"strings"

	"github.com/gridledger/gridledger/internal/market"
)

// secondsPerYear annualises the ledger's size: a year of 365 days.
const secondsPerYear = 365 * 86400

// hour is one interval's community sums: the one place the per-interval
// CSV, the charts (through Accumulator.Add) and the KPIs take them from.
func hour(iv Interval) HourPoint {
	h := HourPoint{Start: iv.Start, GridPricePerKWh: iv.GridPricePerKWh, FeedInPerKWh: iv.FeedInPerKWh}
	if iv.MCPPerKWh != nil {
		mcp := *iv.MCPPerKWh
		h.MCPPerKWh = &mcp
	}
	for _, m := range iv.Members {
		h.LoadWh += m.ConsumptionWh
		h.LoadNoDRWh += m.ConsumptionNoDRWh
		h.GenerationWh += m.ProductionWh
		h.GridImportWh += gridImport(m)
		h.GridExportWh += gridExport(m)
		h.P2PWh += m.BoughtP2PWh
		h.PoolWh += m.PoolImportWh
		h.BatteryChargeWh += m.BatteryChargeWh
		h.BatteryDischargeWh += m.BatteryDischargeWh
	}
	return h
}

// gridImport is a member's metered import that members did not deliver:
// what it bought from the utility. (Under the community imbalance rule
// the energy tokens follow the pool too, so what the pool netted to it is
// delivered.)
func gridImport(m Member) int64 { return max(0, m.ImportWh-m.BoughtP2PWh) }

// gridExport is a member's metered export it did not deliver to members,
// plus what members delivered to it beyond its import (the ledger sends
// those unused tokens to the utility): what it sold to the utility.
func gridExport(m Member) int64 {
	return max(0, m.ExportWh-m.SoldP2PWh) + max(0, m.BoughtP2PWh-m.ImportWh)
}

// acc is one member's sums over the intervals.
type acc struct {
	info                              MemberInfo
	c, p, imp, exp, selfUsed, selfMet int64
	local, r, s, paid, received       int64
	poolIn, poolOut                   int64
	utilityOnly, drWh, drNano         int64
	loadErr, loadAct, pvErr, pvAct    int64
	batCharge, batDischarge           int64
}

// Compute computes the KPIs of a run. It never panics: inconsistent
// inputs give inconsistent (but bounded where documented) figures.
func Compute(in Input) Report {
	a := NewAccumulator(in.Members)
	for _, iv := range in.Intervals {
		a.Add(iv)
	}
	return a.Report(in.LedgerBytes, in.SimulatedS)
}

// Accumulator computes the KPIs interval by interval, so that a long run
// need not keep its intervals: Add each in time order, then Report.
// Compute(in) is the same as adding in.Intervals one by one.
type Accumulator struct {
	// The members, in the order the results follow.
	accs []*acc
	byID map[string]*acc
	c    Community

	boughtWh, boughtAtGridNano, soldWh, soldAtFeedInNano int64
	paidNano, receivedNano                               int64
	sumMCP                                               int64
	// localNoBatteryWh is Σₜ min(Gₜ, Lₜ): local use had no battery moved.
	localNoBatteryWh int64
}

// NewAccumulator starts the sums for the members, in this order.
func NewAccumulator(members []MemberInfo) *Accumulator {
	a := &Accumulator{byID: map[string]*acc{}}
	for _, info := range members {
		a.member(info)
	}
	return a
}

func (a *Accumulator) member(info MemberInfo) *acc {
	m, ok := a.byID[info.ID]
	if !ok {
		m = &acc{info: info}
		a.byID[info.ID] = m
		a.accs = append(a.accs, m)
	}
	return m
}

// Add takes one interval into the sums and returns its community sums.
func (a *Accumulator) Add(iv Interval) HourPoint {
	c := &a.c
	h := hour(iv)
	c.Intervals++
	c.ConsumptionWh += h.LoadWh
	c.ConsumptionNoDRWh += h.LoadNoDRWh
	c.ProductionWh += h.GenerationWh
	// Batteries charging take up generation like load; discharging they
	// meet load that generation would otherwise have met.
	battery := h.BatteryChargeWh - h.BatteryDischargeWh
	c.LocalUseWh += max(0, min(h.GenerationWh, h.LoadWh+battery))
	a.localNoBatteryWh += max(0, min(h.GenerationWh, h.LoadWh))
	c.P2PDeliveredWh += h.P2PWh
	c.GridImportWh += h.GridImportWh
	c.GridExportWh += h.GridExportWh
	c.PoolWh += h.PoolWh
	c.PeakImportWh = max(c.PeakImportWh, h.LoadWh+battery-h.GenerationWh)
	c.PeakImportNoDRWh = max(c.PeakImportNoDRWh, h.LoadNoDRWh+battery-h.GenerationWh)
	c.BatteryChargeWh += h.BatteryChargeWh
	c.BatteryDischargeWh += h.BatteryDischargeWh
	bought := h.P2PWh + h.GridImportWh
	a.boughtWh += bought
	a.boughtAtGridNano += value(bought, h.GridPricePerKWh)
	if h.MCPPerKWh != nil {
		mcp := *h.MCPPerKWh
		if c.IntervalsCleared == 0 || mcp < *c.MinMCPPerKWh {
			c.MinMCPPerKWh = ptr(mcp)
		}
		if c.IntervalsCleared == 0 || mcp > *c.MaxMCPPerKWh {
			c.MaxMCPPerKWh = ptr(mcp)
		}
		c.IntervalsCleared++
		a.sumMCP += mcp
	}

	var sold int64
	for _, m := range iv.Members {
		ma := a.member(MemberInfo{ID: m.ID})
		ma.c += m.ConsumptionWh
		ma.p += m.ProductionWh
		ma.imp += m.ImportWh
		ma.exp += m.ExportWh
		ma.selfUsed += m.ProductionWh - m.ExportWh
		ma.selfMet += m.ConsumptionWh - m.ImportWh
		ma.local += m.ConsumptionWh - m.ImportWh + min(m.BoughtP2PWh, m.ImportWh)
		ma.r += m.BoughtP2PWh
		ma.s += m.SoldP2PWh
		ma.poolIn += m.PoolImportWh
		ma.poolOut += m.PoolExportWh
		ma.paid += paid(m)
		ma.received += received(m)
		ma.utilityOnly += value(m.ImportWh, iv.GridPricePerKWh) - value(m.ExportWh, iv.FeedInPerKWh)
		ma.drWh += m.DRVerifiedWh
		ma.drNano += m.DRIncentiveNano
		ma.loadErr += abs(m.ForecastLoadWh - m.ActualBaseLoadWh)
		ma.loadAct += m.ActualBaseLoadWh
		ma.pvErr += abs(m.ForecastPVWh - m.ActualPVWh)
		ma.pvAct += m.ActualPVWh
		ma.batCharge += m.BatteryChargeWh
		ma.batDischarge += m.BatteryDischargeWh

		c.P2PTradedWh += m.TradedBoughtWh
		c.DRVerifiedWh += m.DRVerifiedWh
		c.DRIncentiveNano += m.DRIncentiveNano
		// The averages take the money a member moved with other members
		// net, so that a refund undoes the payment it refunds.
		withMembers := m.ReceivedP2PNano + m.ReceivedMembersNano - m.PaidP2PNano - m.PaidMembersNano
		a.paidNano += max(0, -withMembers) + m.PaidUtilityNano
		a.receivedNano += max(0, withMembers) + m.ReceivedUtilityNano
		sold += m.SoldP2PWh
	}
	sold += h.GridExportWh
	a.soldWh += sold
	a.soldAtFeedInNano += value(sold, h.FeedInPerKWh)
	return h
}

// paid is what a member paid for energy in an interval: to sellers at
// clearing, to the utility and to other members at settlement.
func paid(m Member) int64 { return m.PaidP2PNano + m.PaidUtilityNano + m.PaidMembersNano }

// received is what it received for energy: from buyers at clearing, from
// the utility and from other members at settlement.
func received(m Member) int64 {
	return m.ReceivedP2PNano + m.ReceivedUtilityNano + m.ReceivedMembersNano
}

// Report computes the KPIs of the intervals added so far. ledgerBytes is
// what the ledger holds for the run and simulatedS the seconds it covers.
func (a *Accumulator) Report(ledgerBytes, simulatedS int64) Report {
	c := a.c
	c.SelfConsumption = share(c.LocalUseWh, c.ProductionWh)
	c.SelfSufficiency = share(c.LocalUseWh, c.ConsumptionWh)
	c.P2PShare = ratio(c.P2PDeliveredWh, c.ConsumptionWh)
	c.AvgPricePaidPerKWh = average(a.paidNano, a.boughtWh)
	c.AvgGridPricePerKWh = average(a.boughtAtGridNano, a.boughtWh)
	c.AvgPriceReceivedPerKWh = average(a.receivedNano, a.soldWh)
	c.AvgFeedInPerKWh = average(a.soldAtFeedInNano, a.soldWh)
	c.MeanMCPPerKWh = average(a.sumMCP, int64(c.IntervalsCleared))
	c.PeakReductionDRWh = c.PeakImportNoDRWh - c.PeakImportWh

	members := make([]MemberKPI, 0, len(a.accs))
	var loadErr, loadAct, pvErr, pvAct, grossNano int64
	savings := make([]int64, 0, len(a.accs))
	perKWh := []int64{}
	var losing []MemberKPI
	for _, a := range a.accs {
		k := MemberKPI{ID: a.info.ID, NodeType: a.info.NodeType,
			ConsumptionWh: a.c, ProductionWh: a.p, ImportWh: a.imp, ExportWh: a.exp,
			SelfConsumption: share(a.selfUsed, a.p), SelfSufficiency: share(a.selfMet, a.c), LocalShare: share(a.local, a.c),
			BoughtP2PWh: a.r, SoldP2PWh: a.s, PoolImportWh: a.poolIn, PoolExportWh: a.poolOut,
			PaidNano: a.paid, ReceivedNano: a.received,
			UtilityOnlyCostNano: a.utilityOnly, CostNano: a.paid - a.received - a.drNano,
			DRVerifiedWh: a.drWh, DRIncentiveNano: a.drNano,
			ForecastNMAELoad: ratio(a.loadErr, a.loadAct), ForecastNMAEPV: ratio(a.pvErr, a.pvAct),
			BatteryCapacityWh: a.info.BatteryCapacityWh, BatteryChargeWh: a.batCharge, BatteryDischargeWh: a.batDischarge,
			BatteryCycles: cycles(a.batCharge, a.batDischarge, a.info.BatteryCapacityWh)}
		k.SavingsNano = k.UtilityOnlyCostNano - k.CostNano
		k.SavingsPct = percent(k.SavingsNano, k.UtilityOnlyCostNano)
		k.SavingsPerKWh = average(k.SavingsNano, a.imp+a.exp)
		members = append(members, k)

		c.BatteryCapacityWh += k.BatteryCapacityWh
		c.UtilityOnlyCostNano += k.UtilityOnlyCostNano
		grossNano += abs(k.UtilityOnlyCostNano)
		c.CostNano += k.CostNano
		c.SavingsNano += k.SavingsNano
		switch {
		case k.SavingsNano < 0:
			c.MembersLosing++
			losing = append(losing, k)
		case k.SavingsNano > 0:
			c.MembersSaving++
		}
		savings = append(savings, k.SavingsNano)
		if k.SavingsPerKWh != nil {
			perKWh = append(perKWh, max(0, *k.SavingsPerKWh))
		}
		loadErr, loadAct, pvErr, pvAct = loadErr+a.loadErr, loadAct+a.loadAct, pvErr+a.pvErr, pvAct+a.pvAct
	}
	c.Members = len(members)
	c.BatteryCycles = cycles(c.BatteryChargeWh, c.BatteryDischargeWh, c.BatteryCapacityWh)
	if c.BatteryCapacityWh > 0 || c.BatteryChargeWh > 0 || c.BatteryDischargeWh > 0 {
		c.BatterySelfConsumption = ratio(c.LocalUseWh-a.localNoBatteryWh, c.ProductionWh)
	}
	slices.SortFunc(losing, func(x, y MemberKPI) int {
		if x.SavingsNano != y.SavingsNano {
			return cmp.Compare(x.SavingsNano, y.SavingsNano)
		}
		return strings.Compare(x.ID, y.ID)
	})
	c.MembersLosingIDs = make([]string, len(losing))
	for i, m := range losing {
		c.MembersLosingIDs[i] = m.ID
	}
	c.SavingsPct = percent(c.SavingsNano, grossNano)
	c.FairnessGini = Gini(perKWh)
	if n := len(savings); n > 0 {
		slices.Sort(savings)
		c.SavingsWorstNano, c.SavingsBestNano = ptr(savings[0]), ptr(savings[n-1])
		if n%2 == 1 {
			c.SavingsMedianNano = ptr(savings[n/2])
		} else {
			c.SavingsMedianNano = ptr(midpoint(savings[n/2-1], savings[n/2]))
		}
		c.SavingsP5Nano = ptr(Percentile(savings, 5))
		c.SavingsP25Nano = ptr(Percentile(savings, 25))
		c.SavingsP50Nano = ptr(Percentile(savings, 50))
		c.SavingsP75Nano = ptr(Percentile(savings, 75))
		c.SavingsP95Nano = ptr(Percentile(savings, 95))
	}
	c.ForecastNMAELoad = ratio(loadErr, loadAct)
	c.ForecastNMAEPV = ratio(pvErr, pvAct)
	c.LedgerBytesPerMemberYear = perMemberYear(ledgerBytes, int64(c.Members), simulatedS)
	return Report{Community: c, Members: members}
}

// cycles is a battery's throughput in capacities, (charged + discharged)
// / 2 / capacity; nil without capacity.
func cycles(chargeWh, dischargeWh, capacityWh int64) *float64 {
	if capacityWh <= 0 {
		return nil
	}
	return ptr(round4(float64(chargeWh+dischargeWh) / 2 / float64(capacityWh)))
}

// Gini is the Gini coefficient of non-negative values,
// Σᵢ (2i − n − 1) xᵢ / (n Σᵢ xᵢ) with x sorted ascending and i from 1:
// 0 when all are equal, (n − 1)/n when one holds everything. It is nil if
// there are no values, any is negative, or they sum to 0. The result does
// not depend on the order of xs (xs is not modified).
func Gini(xs []int64) *float64 {
	x := slices.Clone(xs)
	slices.Sort(x)
	var sum, weighted float64
	n := len(x)
	for i, v := range x {
		if v < 0 {
			return nil
		}
		sum += float64(v)
		weighted += float64(2*(i+1)-n-1) * float64(v)
	}
	if n == 0 || sum == 0 {
		return nil
	}
	return ptr(round4(weighted / (float64(n) * sum)))
}

// Percentile is the p-th percentile (0 ≤ p ≤ 100) of values sorted
// ascending, by linear interpolation between closest ranks: at
// h = (n − 1) p / 100 (from 0), x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]),
// rounded to the nearest integer, halves away from zero — numpy's default
// method and a spreadsheet's PERCENTILE.INC. The 50th is the median as
// midpoint takes it. Exact in 128-bit arithmetic; sorted must not be empty
// (p outside 0..100 is clamped).
func Percentile(sorted []int64, p int) int64 {
	p = min(max(p, 0), 100)
	pos := uint64(len(sorted)-1) * uint64(p)
	lo, frac := pos/100, pos%100
	x := sorted[lo]
	if frac == 0 {
		return x
	}
	d := uint64(sorted[lo+1]) - uint64(x) // exact as an unsigned difference
	hi, low := bits.Mul64(d, frac)        // d × frac < 100 × 2⁶⁴: the quotient fits
	q, r := bits.Div64(hi, low, 100)
	v := int64(uint64(x) + q) // between x and sorted[lo+1]
	if 2*r > 100 || 2*r == 100 && v >= 0 {
		v++ // round up, or a half away from zero
	}
	return v
}

// round4 rounds a ratio to 4 decimals: the one rounding of every float
// output.
func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// ratio is num/den rounded, nil if den is not positive.
func ratio(num, den int64) *float64 {
	if den <= 0 {
		return nil
	}
	return ptr(round4(float64(num) / float64(den)))
}

// share is num/den clamped to [0, 1], nil if den is not positive.
func share(num, den int64) *float64 {
	if den <= 0 {
		return nil
	}
	return ratio(min(max(num, 0), den), den)
}

// percent is 100 × num / |den|, nil if den is 0.
func percent(num, den int64) *float64 {
	if den == 0 {
		return nil
	}
	return ptr(round4(100 * float64(num) / math.Abs(float64(den))))
}

// average is num/den rounded to the nearest integer (halves away from
// zero), nil if den is not positive. Nano-units over Wh are micro-units
// per kWh.
func average(num, den int64) *int64 {
	if den <= 0 {
		return nil
	}
	q, r := num/den, num%den
	if abs(r) >= den-abs(r) {
		if num < 0 {
			q--
		} else {
			q++
		}
	}
	return &q
}

// midpoint is the mean of a ≤ b rounded like average, without overflow.
func midpoint(a, b int64) int64 {
	d := uint64(b) - uint64(a) // b − a, exact as an unsigned difference
	mid := a + int64(d/2)
	if d%2 == 1 && mid >= 0 {
		mid++ // a half: away from zero
	}
	return mid
}

// perMemberYear is bytes / members × secondsPerYear / simulatedS, rounded
// to the nearest byte in 128-bit arithmetic; nil without members or time,
// or if the result does not fit.
func perMemberYear(bytes, members, simulatedS int64) *int64 {
	if members <= 0 || simulatedS <= 0 || bytes < 0 {
		return nil
	}
	dhi, den := bits.Mul64(uint64(members), uint64(simulatedS))
	if dhi != 0 {
		return ptr(int64(0)) // more member-seconds than 2⁶⁴: under a byte each
	}
	hi, lo := bits.Mul64(uint64(bytes), secondsPerYear)
	lo, carry := bits.Add64(lo, den/2, 0)
	hi += carry
	if hi >= den {
		return nil
	}
	q, _ := bits.Div64(hi, lo, den)
	if q > math.MaxInt64 {
		return nil
	}
	return ptr(int64(q))
}

// value is wh × price in nano-units as the ledger computes it
// (market.Value), saturating instead of overflowing.
func value(wh, pricePerKWh int64) int64 {
	v, err := market.Value(wh, pricePerKWh)
	if err != nil {
		if (wh < 0) != (pricePerKWh < 0) {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return v
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func ptr[T any](v T) *T { return &v }

package plan

import (
	"math"
	"slices"
)

// The battery outside the programme (planner.batOut): the cuts price a
// step stored in hour h at q_h, a Lagrange multiplier of the state of
// charge limits, and each plan the search meets is priced exactly by an
// inner planner whose programme holds only the battery (see the package
// doc, "Battery").

// constN is the constant of the Lagrangian bound at step prices q: with
// s_t the state after t hours, the limits lo ≤ s_t ≤ hi (at the end of the
// day, the final state ≤ s_24) relaxed by β_t ≥ 0 below and α_t ≥ 0
// above, a step in hour h is priced q_h = Σ_{t>h} (β_t − α_t), so
// β_t − α_t = q_{t−1} − q_t (q_24 = 0), and the bound gains
// Σ_t β_t·lo_t − α_t·hi.
func (b *battery) constN(q *[HoursPerDay]int64) int64 {
	var c int64
	for t := 1; t <= HoursPerDay; t++ {
		lo, next := b.lo, int64(0)
		if t < HoursPerDay {
			next = q[t]
		} else {
			lo = max(lo, b.final)
		}
		if d := q[t-1] - next; d > 0 {
			c += d * lo
		} else {
			c += d * b.hi
		}
	}
	return c
}

// exactRest plans the battery and the EVs exactly against the levels of a
// plan's hour-based loads: an inner planner whose programme holds the
// battery alone, built once and run again for each plan. Its bestN is then
// the cost of those levels with the battery and EVs, when found; it is
// valid until the next call.
func (p *planner) exactRest(levels *[HoursPerDay]int64) *planner {
	in := p.in
	if in == nil {
		in = &planner{buy: p.buy, sell: p.sell, hasPeak: p.hasPeak, peakWh: p.peakWh, evs: p.evs, bat: p.bat, effort: &effort{}}
		in.bestEVWh = make([][HoursPerDay]int64, len(p.evs))
		in.flow.init(&in.buy, &in.sell)
		in.d = &dp{p: in}
		p.in = in
	}
	in.net = *levels
	in.found, in.bestN, in.bestPrices = false, math.MaxInt64, nil
	*in.effort = effort{limit: min(limits.innerNodes, p.effort.limit-p.effort.nodes)}
	if pr, ok := in.rootPrices(); ok {
		in.d.run(0, nil, pr, false)
	}
	// A run past its own limit stops the site's search too: the runs
	// after it tail alike.
	p.effort.add(in.effort.nodes)
	p.effort.over = p.effort.over || in.effort.over
	return in
}

// cutPrices returns the price vector of a cut at which a plan — levels
// of hour-based loads, with the battery and EVs that in planned exactly
// against them — is bounded by its own cost, as far as such prices exist:
// the EVs' prices, then the battery's per hour (see batteryPrices).
func (p *planner) cutPrices(levels *[HoursPerDay]int64, in *planner) []int64 {
	var all [HoursPerDay]int64
	for h := range HoursPerDay {
		all[h] = levels[h] + p.bat.GridWh(in.bestBatK[h])
	}
	// The EV prices at which the inner search bounded its plan by its own
	// cost, when it did; else prices at which the EVs are best against
	// the battery's schedule (see planner.prices).
	pi := in.bestPrices
	if pi == nil && len(p.evs) > 0 {
		r := p.evFlow()
		copy(r.xWh[:], in.bestEVWh)
		pi = p.prices(&all, r, 0)
	}
	q := p.batteryPrices(levels, &in.bestBatK, pi)
	return slices.Concat(pi, q[:])
}

// batteryPrices returns step prices q at which the battery's steps k,
// planned against levels with the EVs priced at pi, attain each hour's
// minimum of its term (wear and the hour's Lagrangian increment, less
// q_h·k) and the state of charge limits' multipliers are slack where the
// state is inside them: each q_h within the hour's interval, q_{t−1} =
// q_t where the state after t hours is strictly inside the window, ≤
// where it is at the top, ≥ at the bottom, and likewise q_23 against 0 at
// the end of the day. These are difference constraints; the midpoint of
// their least and greatest solution is taken. Where none exists (the
// hour's terms need not be convex, and the steps are whole) the prices
// still give a bound, only a weaker one.
func (p *planner) batteryPrices(levels, k *[HoursPerDay]int64, pi []int64) [HoursPerDay]int64 {
	b := p.bat
	maxPrice := int64(1)
	for h := range HoursPerDay {
		maxPrice = max(maxPrice, abs(p.buy[h])+1, abs(p.sell[h])+1)
	}
	bound := max(b.ChargeStepWh(), b.DischargeStepWh())*maxPrice + b.CycleCostNano(1) + 1
	node := func(h int) int { return 1 + h }
	var edges []diffEdge
	psi := make([]int64, b.maxDown+b.maxUp+1) // per move k + maxDown
	for h := range HoursPerDay {
		evAt := p.evsAt(h, pi)
		n := levels[h]
		for m := -b.maxDown; m <= b.maxUp; m++ {
			lv := n + b.grid(m)
			psi[m+b.maxDown] = inf
			if !p.hasPeak || lv <= p.peakWh {
				psi[m+b.maxDown] = p.evTerm(h, n, lv, pi, evAt) + b.wear(m)
			}
		}
		kh := k[h]
		at := psi[kh+b.maxDown]
		lo, hi := -bound, bound
		for m := -b.maxDown; m <= b.maxUp; m++ {
			v := psi[m+b.maxDown]
			switch {
			case v >= inf:
			case m < kh:
				lo = max(lo, ceilDiv(at-v, kh-m))
			case m > kh:
				hi = min(hi, floorDiv(v-at, m-kh))
			}
		}
		if lo > hi {
			lo = lo + (hi-lo)/2
			hi = lo
		}
		edges = append(edges, diffEdge{0, node(h), hi}, diffEdge{node(h), 0, -lo})
	}
	s := int64(0)
	for t := 1; t <= HoursPerDay; t++ {
		s += k[t-1]
		lo, a, c := b.lo, node(t-1), 0 // c: q_t's node, 0 for q_24 = 0
		if t < HoursPerDay {
			c = node(t)
		} else {
			lo = max(lo, b.final)
		}
		if s > lo { // β_t = 0: q_{t−1} ≤ q_t
			edges = append(edges, diffEdge{c, a, 0})
		}
		if s < b.hi { // α_t = 0: q_{t−1} ≥ q_t
			edges = append(edges, diffEdge{a, c, 0})
		}
	}
	hiSol := shortest(1+HoursPerDay, edges, false)
	loSol := shortest(1+HoursPerDay, edges, true)
	var q [HoursPerDay]int64
	for h := range HoursPerDay {
		a, c := -loSol[node(h)], hiSol[node(h)]
		q[h] = min(max(a+(c-a)/2, -bound), bound)
	}
	return q
}

package plan

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// flowUnit is one supply of the flow: totalWh to spread over the hours, at
// most capWh[h] in hour h.
type flowUnit struct {
	totalWh int64
	capWh   [HoursPerDay]int64
}

// segment is one linear piece of an hour's cost curve: cancelling export
// at sell_h, then importing at buy_h.
type segment struct {
	hour       int
	imports    bool
	priceMicro int64 // per kWh
}

// flow finds the least added cost of spreading its units' energy over the
// hours against a given net:
//
//	min Σ_h ( f_h(net_h + y_h) − f_h(net_h) ),  y_h = Σ_u x_uh,
//	0 ≤ x_uh ≤ capWh_uh,  Σ_h x_uh = totalWh_u,  net_h + y_h ≤ peak.
//
// It is a min-cost flow, source → unit → hour → sink, whose only costs are
// on the two arcs from each hour to the sink: export cancelled at sell_h
// up to the surplus −net_h, then import at buy_h up to the peak limit.
// Every path from the source therefore costs the price of its last arc,
// and successive shortest paths reduce to filling those 48 segments
// cheapest first, each as far as an augmenting path reaches it. Ties put
// an hour's export before its import (sell_h ≤ buy_h), so each hour fills
// its convex curve in order and the flow's cost is the exact added cost.
// All capacities are whole Wh, so the flow is too.
type flow struct {
	order []segment // all segments, cheapest first; fixed per site
	units []flowUnit
	xWh   [MaxAppliances][HoursPerDay]int64 // Wh of unit u in hour h
	remWh [MaxAppliances]int64              // Wh unit u has still to place

	freeUnits [HoursPerDay]uint32   // units that may add to hour h
	usedHours [MaxAppliances]uint32 // hours unit u puts Wh into
	toHour    [MaxAppliances]int    // path: hour a unit adds to
	fromUnit  [HoursPerDay]int      // path: unit an hour hands Wh back from
}

// init orders the segments by price: cheapest first, an hour's export
// before its import, then by hour (any order of ties gives the same cost).
func (r *flow) init(buy, sell *[HoursPerDay]int64) {
	r.order = make([]segment, 0, 2*HoursPerDay)
	for h := range HoursPerDay {
		r.order = append(r.order, segment{hour: h, priceMicro: sell[h]}, segment{hour: h, imports: true, priceMicro: buy[h]})
	}
	slices.SortStableFunc(r.order, func(a, b segment) int {
		if c := cmp.Compare(a.priceMicro, b.priceMicro); c != 0 {
			return c
		}
		if a.imports != b.imports {
			if a.imports {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.hour, b.hour)
	})
	r.units = make([]flowUnit, 0, MaxAppliances)
}

// solve spreads r.units against net and returns the least added cost in
// nano-units; ok is false when their energy cannot be delivered within the
// peak limit. The allocation is left in r.xWh.
func (r *flow) solve(net *[HoursPerDay]int64, hasPeak bool, peakWh int64) (int64, bool) {
	var leftWh int64
	r.freeUnits = [HoursPerDay]uint32{}
	for u := range r.units {
		un := &r.units[u]
		r.xWh[u] = [HoursPerDay]int64{}
		r.remWh[u] = un.totalWh
		r.usedHours[u] = 0
		leftWh += un.totalWh
		for h, c := range un.capWh {
			if c > 0 {
				r.freeUnits[h] |= 1 << u
			}
		}
	}
	var costN int64
	for _, sg := range r.order {
		if leftWh == 0 {
			break
		}
		n := net[sg.hour]
		var lenWh int64
		switch {
		case !sg.imports:
			lenWh = max(-n, 0)
		case hasPeak:
			lenWh = peakWh - max(n, 0)
		default:
			lenWh = leftWh
		}
		if lenWh = min(lenWh, leftWh); lenWh <= 0 {
			continue
		}
		got := r.fill(sg.hour, lenWh)
		costN += got * sg.priceMicro
		leftWh -= got
	}
	return costN, leftWh == 0
}

// fill moves up to wantWh more into hour h along augmenting paths from a
// unit with Wh left: directly, or through units that hand their Wh in
// other hours over to units that can take them (those hours' loads stay
// the same). It returns what it moved.
func (r *flow) fill(h int, wantWh int64) int64 {
	var got int64
	for got < wantWh {
		u, ok := r.path(h)
		if !ok {
			break
		}
		// Bottleneck along the path, then push.
		d := min(wantWh-got, r.remWh[u])
		for w := u; ; {
			v := r.toHour[w]
			d = min(d, r.units[w].capWh[v]-r.xWh[w][v])
			if v == h {
				break
			}
			w = r.fromUnit[v]
			d = min(d, r.xWh[w][v])
		}
		r.remWh[u] -= d
		for w := u; ; {
			v := r.toHour[w]
			r.add(w, v, d)
			if v == h {
				break
			}
			w = r.fromUnit[v]
			r.add(w, v, -d)
		}
		got += d
	}
	return got
}

// add changes unit u's Wh in hour h by d and keeps the masks in step.
func (r *flow) add(u, h int, d int64) {
	x := r.xWh[u][h] + d
	r.xWh[u][h] = x
	if x > 0 {
		r.usedHours[u] |= 1 << h
	} else {
		r.usedHours[u] &^= 1 << h
	}
	if x < r.units[u].capWh[h] {
		r.freeUnits[h] |= 1 << u
	} else {
		r.freeUnits[h] &^= 1 << u
	}
}

// path searches breadth first, backwards from hour h, for a unit with Wh
// left that can reach h: directly, or by adding to an hour that another
// unit on the path hands back, and so on. It fills toHour and fromUnit.
func (r *flow) path(h int) (int, bool) {
	var queue [HoursPerDay]int
	queue[0] = h
	tail := 1
	seenHours := uint32(1) << h
	var seenUnits uint32
	for head := 0; head < tail; head++ {
		v := queue[head]
		cand := r.freeUnits[v] &^ seenUnits
		seenUnits |= cand
		for ; cand != 0; cand &= cand - 1 {
			u := bits.TrailingZeros32(cand)
			r.toHour[u] = v
			if r.remWh[u] > 0 {
				return u, true
			}
			next := r.usedHours[u] &^ seenHours
			seenHours |= next
			for ; next != 0; next &= next - 1 {
				w := bits.TrailingZeros32(next)
				r.fromUnit[w] = u
				queue[tail] = w
				tail++
			}
		}
	}
	return 0, false
}

// prices returns multipliers for the EVs, units first, first+1, … of r,
// at which their allocation in r.xWh attains every hour's minimum in the
// Lagrangian bound (see the package doc), given the levels net + all
// units' Wh. They are the π of a solution of
//
//	μ_h between hour h's marginal costs below and above its level (∞
//	above at the peak limit),  π_e ≥ μ_h where EV e takes Wh,
//	π_e ≤ μ_h where it could take more,
//
// which exists because the allocation is a min-cost flow: the midpoint of
// the least and the greatest solution, both shortest paths over these
// difference constraints (all values kept within ±bound, beyond every
// price, which keeps them finite and feasible).
func (p *planner) prices(net *[HoursPerDay]int64, r *flow, first int) []int64 {
	n := len(p.evs)
	bound := int64(1)
	for h := range HoursPerDay {
		bound = max(bound, abs(p.buy[h])+1, abs(p.sell[h])+1)
	}
	// Node 0 is zero, 1+h hour h's μ, 1+24+e EV e's π; an edge a→b of
	// weight w says value_b − value_a ≤ w.
	var edges []diffEdge
	for h := range HoursPerDay {
		lv := net[h]
		for u := range r.units {
			lv += r.xWh[u][h]
		}
		below, above := p.sell[h], p.sell[h]
		if lv > 0 {
			below = p.buy[h]
		}
		if lv >= 0 {
			above = p.buy[h]
		}
		if p.hasPeak && lv >= p.peakWh {
			above = bound
		}
		edges = append(edges, diffEdge{0, 1 + h, above}, diffEdge{1 + h, 0, -below})
		for e := range n {
			x, c := r.xWh[first+e][h], p.evs[e].capWh[h]
			if x > 0 {
				edges = append(edges, diffEdge{1 + HoursPerDay + e, 1 + h, 0}) // μ_h ≤ π_e
			}
			if x < c {
				edges = append(edges, diffEdge{1 + h, 1 + HoursPerDay + e, 0}) // π_e ≤ μ_h
			}
		}
	}
	for e := range n {
		v := 1 + HoursPerDay + e
		edges = append(edges, diffEdge{0, v, bound}, diffEdge{v, 0, bound})
	}
	hi := shortest(1+HoursPerDay+n, edges, false)
	lo := shortest(1+HoursPerDay+n, edges, true)
	out := make([]int64, n)
	for e := range n {
		a, b := -lo[1+HoursPerDay+e], hi[1+HoursPerDay+e]
		out[e] = a + (b-a)/2
	}
	return out
}

// diffEdge is a difference constraint value_b − value_a ≤ w.
type diffEdge struct {
	a, b int
	w    int64
}

// shortest returns Bellman–Ford distances from node 0: the greatest
// solution of the constraints, or with reversed, minus the least.
func shortest(nodes int, edges []diffEdge, reversed bool) []int64 {
	const far = int64(math.MaxInt64 / 4)
	dist := make([]int64, nodes)
	for v := range dist {
		dist[v] = far
	}
	dist[0] = 0
	for range nodes {
		changed := false
		for _, e := range edges {
			a, b := e.a, e.b
			if reversed {
				a, b = b, a
			}
			if dist[a] < far && dist[a]+e.w < dist[b] {
				dist[b] = dist[a] + e.w
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	return dist
}

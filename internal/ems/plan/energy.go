package plan

import (
	"cmp"
	"slices"
)

// segment is a stretch of one hour's cost curve an energy-based appliance
// can take: Wh up to lenWh at a constant marginal price.
type segment struct {
	hour       int
	lenWh      int64
	priceMicro int64 // per kWh
}

// greedy allocates energy-based item it alone against the current net,
// cheapest marginal Wh first, and returns the added cost. For one appliance
// this is exact: the cost is separable and convex in each hour's Wh (first
// cancelling export at sell_h, then importing at buy_h ≥ sell_h, up to the
// peak limit), the only coupling is the total, so a unit exchanged from any
// hour to another cannot get cheaper than the cheapest-first fill, and all
// breakpoints are whole Wh. If out is non-nil it receives the Wh per hour.
func (p *planner) greedy(it *item, out *[HoursPerDay]int64) (int64, bool) {
	segs := p.segs[:0]
	for _, h := range it.window {
		n, room := p.net[h], p.room(h)
		var export int64
		if n < 0 {
			export = min(-n, it.maxWh)
			segs = append(segs, segment{hour: h, lenWh: export, priceMicro: p.sell[h]})
		}
		// Cancelling export never raises the import, so only the import
		// stretch is capped by the peak limit.
		if imp := min(it.maxWh, room) - export; imp > 0 {
			segs = append(segs, segment{hour: h, lenWh: imp, priceMicro: p.buy[h]})
		}
	}
	// Stable: an hour's export stretch stays before its import stretch
	// when the prices tie, so each hour fills in curve order.
	slices.SortStableFunc(segs, func(a, b segment) int { return cmp.Compare(a.priceMicro, b.priceMicro) })
	p.segs = segs
	if out != nil {
		*out = [HoursPerDay]int64{}
	}
	left := it.energyWh
	var cost int64
	for _, sg := range segs {
		if left == 0 {
			break
		}
		take := min(left, sg.lenWh)
		cost += take * sg.priceMicro
		left -= take
		if out != nil {
			out[sg.hour] += take
		}
	}
	return cost, left == 0
}

// flowEdge is an arc of the residual network, capacities in Wh and costs
// in micro-units per kWh (so flow × cost is nano-units).
type flowEdge struct {
	to      int
	capWh   int64
	origWh  int64
	costPer int64
	rev     int
}

// flowNet solves, as a min-cost flow, the allocation of energy to hours:
// source → unit (its total Wh) → window hour (its Wh per hour) → sink
// through an export-cancelling arc at sell_h and an import arc at buy_h
// (capped by the peak limit). A unit is an energy-based appliance (exact)
// or, for the search's lower bound, an hour-based appliance relaxed to
// powerWh×hours Wh spread over its window at most powerWh per hour: every
// real placement is such a spread, so the relaxation's optimum is a valid
// lower bound, and one that, unlike the per-appliance bound, sees the
// appliances compete for the same sunny or cheap hours.
//
// The topology is fixed per site; solve resets the capacities from the
// current net. Successive shortest paths (Bellman–Ford queue, since prices
// may be negative) give a min-cost flow; every capacity is a whole number
// of Wh, so that flow is integral, and with sell_h ≤ buy_h a min-cost flow
// never imports in an hour while it could still cancel that hour's export
// (that residual cycle would cost sell_h − buy_h ≤ 0), so its cost is
// exactly the added cost.
type flowNet struct {
	g          [][]flowEdge
	units      []item
	srcEdge    []int // index in g[src] of each unit's supply arc
	src, sink  int
	exportEdge [HoursPerDay]int // index in g[hourNode(h)] of the sell arc
	importEdge [HoursPerDay]int
	dist       []int64
	inQueue    []bool
	prevNode   []int
	prevEdge   []int
	queue      []int
}

func (f *flowNet) hourNode(h int) int { return 1 + len(f.units) + h }

func (f *flowNet) addEdge(from, to int, capWh, cost int64) int {
	f.g[from] = append(f.g[from], flowEdge{to: to, capWh: capWh, origWh: capWh, costPer: cost, rev: len(f.g[to])})
	f.g[to] = append(f.g[to], flowEdge{to: from, costPer: -cost, rev: len(f.g[from]) - 1})
	return len(f.g[from]) - 1
}

// init builds the network for units, hour-based ones relaxed.
func (f *flowNet) init(units []item) {
	f.units = units
	n := 2 + len(units) + HoursPerDay
	f.src, f.sink = 0, n-1
	f.g = make([][]flowEdge, n)
	f.srcEdge = make([]int, len(units))
	for u, it := range units {
		perHour, total := it.maxWh, it.energyWh
		if it.kind != kindEnergy {
			perHour, total = it.powerWh, it.powerWh*int64(it.hours)
		}
		f.srcEdge[u] = f.addEdge(f.src, 1+u, total, 0)
		for _, h := range it.window {
			f.addEdge(1+u, f.hourNode(h), perHour, 0)
		}
	}
	for h := range HoursPerDay {
		f.exportEdge[h] = f.addEdge(f.hourNode(h), f.sink, 0, 0)
		f.importEdge[h] = f.addEdge(f.hourNode(h), f.sink, 0, 0)
	}
	f.dist = make([]int64, n)
	f.inQueue = make([]bool, n)
	f.prevNode = make([]int, n)
	f.prevEdge = make([]int, n)
	f.queue = make([]int, 0, n)
}

// solve allocates the units with active[u] against p's current net and
// returns the least added cost; ok is false when their energy cannot be
// delivered within the peak limit. If out is non-nil, out[u] receives the
// Wh per hour of unit u.
func (f *flowNet) solve(p *planner, active []bool, out [][HoursPerDay]int64) (int64, bool) {
	for v := range f.g {
		for i := range f.g[v] {
			f.g[v][i].capWh = f.g[v][i].origWh
		}
	}
	var totalWh int64
	for u := range f.units {
		se := &f.g[f.src][f.srcEdge[u]]
		if !active[u] {
			se.capWh = 0
		}
		totalWh += se.capWh
	}
	for h := range HoursPerDay {
		hn := f.hourNode(h)
		var export int64
		if p.net[h] < 0 {
			export = -p.net[h]
		}
		imp := totalWh
		if p.hasPeak {
			imp = min(imp, p.peakWh-max(p.net[h], 0))
		}
		ex, im := &f.g[hn][f.exportEdge[h]], &f.g[hn][f.importEdge[h]]
		ex.capWh, ex.costPer = export, p.sell[h]
		im.capWh, im.costPer = imp, p.buy[h]
		f.g[f.sink][ex.rev].costPer = -p.sell[h]
		f.g[f.sink][im.rev].costPer = -p.buy[h]
	}
	var sent, cost int64
	for sent < totalWh {
		if !f.shortestPath() {
			return 0, false
		}
		push := totalWh - sent
		for v := f.sink; v != f.src; v = f.prevNode[v] {
			push = min(push, f.g[f.prevNode[v]][f.prevEdge[v]].capWh)
		}
		for v := f.sink; v != f.src; v = f.prevNode[v] {
			e := &f.g[f.prevNode[v]][f.prevEdge[v]]
			e.capWh -= push
			f.g[v][e.rev].capWh += push
		}
		sent += push
		cost += push * f.dist[f.sink]
	}
	if out != nil {
		for u := range f.units {
			out[u] = [HoursPerDay]int64{}
			for _, a := range f.g[1+u] {
				if a.origWh > 0 {
					out[u][a.to-1-len(f.units)] = a.origWh - a.capWh
				}
			}
		}
	}
	return cost, true
}

// shortestPath finds a cheapest residual path source → sink (queue-based
// Bellman–Ford; the residual graph has no negative cycle because every
// augmentation is along a shortest path).
func (f *flowNet) shortestPath() bool {
	const inf = int64(1) << 62
	for v := range f.dist {
		f.dist[v], f.inQueue[v], f.prevNode[v] = inf, false, -1
	}
	f.dist[f.src] = 0
	q := append(f.queue[:0], f.src)
	f.inQueue[f.src] = true
	for head := 0; head < len(q); head++ {
		v := q[head]
		f.inQueue[v] = false
		for i, e := range f.g[v] {
			if e.capWh > 0 && f.dist[v]+e.costPer < f.dist[e.to] {
				f.dist[e.to] = f.dist[v] + e.costPer
				f.prevNode[e.to], f.prevEdge[e.to] = v, i
				if !f.inQueue[e.to] {
					f.inQueue[e.to] = true
					q = append(q, e.to)
				}
			}
		}
	}
	f.queue = q[:0]
	return f.dist[f.sink] < inf
}

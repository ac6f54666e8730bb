package plan

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

type kind int

const (
	kindContiguous kind = iota // flexible, runs `hours` consecutive window hours
	kindSplittable             // flexible, any `hours` window hours
	kindEnergy                 // flexible, any Wh per hour up to a limit, exact total
)

// item is a flexible appliance as the search sees it.
type item struct {
	idx      int // index in Site.Appliances
	kind     kind
	window   []int // hours in window order
	powerWh  int64 // Wh per running hour (hour-based)
	hours    int
	energyWh int64 // energy-based: total to take
	maxWh    int64 // energy-based: most per hour
}

func (it *item) sameAs(o *item) bool {
	return it.kind == o.kind && it.powerWh == o.powerWh && it.hours == o.hours &&
		slices.Equal(it.window, o.window)
}

// option is one candidate placement of an hour-based item at a node.
type option struct {
	offset int   // contiguous: start offset in the window; splittable: window hour
	incN   int64 // its cost increment against the node's net, nano-units
}

// planner is the branch-and-bound state. Everything is sized at setup so
// the search does not allocate.
type planner struct {
	buy, sell [HoursPerDay]int64
	hasPeak   bool
	peakWh    int64

	net   [HoursPerDay]int64 // current net per hour
	costN int64              // Σ f_h(net_h), nano-units

	items []item // hour-based flexible appliances, in branching order
	evs   []item // energy-based flexible appliances

	chosen   [][]int // per item: the hours it runs in the current branch
	offsetOf []int   // per item: contiguous start offset in the current branch
	opts     [][]option

	found      bool
	bestN      int64
	bestChosen [][]int
	bestEVWh   [][HoursPerDay]int64

	evWh    [][HoursPerDay]int64 // leaf scratch: energy allocation
	segs    []segment            // greedy scratch
	flow    flowNet              // units: items, then evs
	active  []bool               // flow scratch: which units to allocate
	flowOut [][HoursPerDay]int64 // flow scratch: Wh per unit and hour
	nodes   int
}

// f is hour h's cost of a net of n Wh: import at buy, export at sell.
func (p *planner) f(h int, n int64) int64 {
	if n >= 0 {
		return n * p.buy[h]
	}
	return n * p.sell[h]
}

// inc is the cost of adding x Wh to hour h's net n.
func (p *planner) inc(h int, n, x int64) int64 { return p.f(h, n+x) - p.f(h, n) }

// room is how much more hour h may import: the peak limit less the
// current import (the export of a negative net can always be cancelled).
func (p *planner) room(h int) int64 {
	if !p.hasPeak {
		return math.MaxInt64
	}
	return p.peakWh - p.net[h]
}

// Plan returns a least-cost plan of s (see the package doc for the
// algorithm and why it is optimal). It validates s first.
func Plan(s Site) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	p := &planner{bestN: math.MaxInt64}
	copy(p.buy[:], s.BuyMicroPerKWh)
	copy(p.sell[:], s.SellMicroPerKWh)
	if s.PeakImportWh != nil {
		p.hasPeak, p.peakWh = true, *s.PeakImportWh
	}
	for h := range HoursPerDay {
		p.net[h] = s.BaseWh[h] - s.PVWh[h]
	}

	// Non-flexible appliances are load like the base; their Wh per hour
	// and the hours they run.
	fixedWh := make(map[int][HoursPerDay]int64)
	fixedHours := make(map[int][]int)
	for i, a := range s.Appliances {
		win := Window(a.Start, a.End)
		if a.EnergyWh != nil {
			it := item{idx: i, kind: kindEnergy, window: win, energyWh: *a.EnergyWh, maxWh: a.maxPowerW()}
			if a.Flexible {
				p.evs = append(p.evs, it)
				continue
			}
			// Charge at full power from plug-in until full.
			var wh [HoursPerDay]int64
			left := it.energyWh
			for _, h := range win {
				wh[h] = min(left, it.maxWh)
				left -= wh[h]
				if wh[h] > 0 {
					fixedHours[i] = append(fixedHours[i], h)
				}
			}
			fixedWh[i] = wh
			continue
		}
		if a.Flexible && a.Hours > 0 && a.PowerW > 0 {
			k := kindContiguous
			if a.Splittable && a.Hours < len(win) {
				k = kindSplittable
			}
			p.items = append(p.items, item{idx: i, kind: k, window: win, powerWh: a.PowerW, hours: a.Hours})
			continue
		}
		// Non-flexible, or nothing to place (no hours or no power): it runs
		// from its window start, where a flexible one costs the same as
		// anywhere (zero power) or does not run at all.
		var wh [HoursPerDay]int64
		for _, h := range win[:a.Hours] {
			wh[h] = a.PowerW
		}
		fixedWh[i] = wh
		fixedHours[i] = win[:a.Hours]
	}
	for _, wh := range fixedWh {
		for h := range HoursPerDay {
			p.net[h] += wh[h]
		}
	}
	if p.hasPeak {
		for h := range HoursPerDay {
			if p.net[h] > p.peakWh {
				return Result{}, fmt.Errorf("%w: hour %d imports %d Wh before any flexible load, above the peak limit %d Wh",
					ErrInfeasible, h, p.net[h], p.peakWh)
			}
		}
	}
	for h := range HoursPerDay {
		p.costN += p.f(h, p.net[h])
	}

	// Largest energy first: big loads decide the most, so good incumbents
	// come early and the bound cuts higher in the tree. Identical items end
	// up adjacent, which lets the search skip their mirror placements.
	slices.SortStableFunc(p.items, func(a, b item) int {
		if c := cmp.Compare(b.powerWh*int64(b.hours), a.powerWh*int64(a.hours)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.kind, b.kind); c != 0 {
			return c
		}
		if c := cmp.Compare(a.window[0], b.window[0]); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.window), len(b.window)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.powerWh, b.powerWh); c != 0 {
			return c
		}
		return cmp.Compare(a.idx, b.idx)
	})
	n := len(p.items)
	p.chosen = make([][]int, n)
	p.offsetOf = make([]int, n)
	p.opts = make([][]option, n)
	p.bestChosen = make([][]int, n)
	for k, it := range p.items {
		p.chosen[k] = make([]int, 0, it.hours)
		p.opts[k] = make([]option, 0, len(it.window))
		p.bestChosen[k] = make([]int, 0, it.hours)
	}
	p.evWh = make([][HoursPerDay]int64, len(p.evs))
	p.bestEVWh = make([][HoursPerDay]int64, len(p.evs))
	p.segs = make([]segment, 0, 2*HoursPerDay)
	p.flow.init(append(slices.Clone(p.items), p.evs...))
	p.active = make([]bool, len(p.items)+len(p.evs))
	p.flowOut = make([][HoursPerDay]int64, len(p.items)+len(p.evs))

	p.search(0)
	if !p.found {
		return Result{}, fmt.Errorf("%w: no placement keeps the peak limit of %d Wh", ErrInfeasible, p.peakWh)
	}
	return p.result(s, fixedWh, fixedHours), nil
}

// bestInc is the least cost item it can add to the current net on its own,
// keeping the peak limit; ok is false when it cannot be placed at all.
// By convexity it is a lower bound on what it adds in any completion.
func (p *planner) bestInc(it *item) (int64, bool) {
	switch it.kind {
	case kindContiguous:
		best, ok := int64(0), false
		for off := 0; off+it.hours <= len(it.window); off++ {
			if c, fits := p.runInc(it, off); fits && (!ok || c < best) {
				best, ok = c, true
			}
		}
		return best, ok
	case kindSplittable:
		var incs [HoursPerDay]int64
		n := 0
		for _, h := range it.window {
			if it.powerWh <= p.room(h) {
				incs[n] = p.inc(h, p.net[h], it.powerWh)
				n++
			}
		}
		if n < it.hours {
			return 0, false
		}
		slices.Sort(incs[:n])
		var sum int64
		for _, c := range incs[:it.hours] {
			sum += c
		}
		return sum, true
	default:
		c, ok := p.greedy(it, nil)
		return c, ok
	}
}

// runInc is the increment of a contiguous run from window offset off.
func (p *planner) runInc(it *item, off int) (int64, bool) {
	var sum int64
	for _, h := range it.window[off : off+it.hours] {
		if it.powerWh > p.room(h) {
			return 0, false
		}
		sum += p.inc(h, p.net[h], it.powerWh)
	}
	return sum, true
}

// search places items[k:] below the current node.
func (p *planner) search(k int) {
	p.nodes++
	lb := p.costN
	var incK int64
	for j := k; j < len(p.items); j++ {
		c, ok := p.bestInc(&p.items[j])
		if !ok {
			return
		}
		if j == k {
			incK = c
		}
		lb += c
	}
	for e := range p.evs {
		c, ok := p.greedy(&p.evs[e], nil)
		if !ok {
			return
		}
		lb += c
	}
	if lb >= p.bestN {
		return
	}
	if k == len(p.items) {
		p.leaf()
		return
	}
	// The per-appliance bound lets every appliance have the sunny hours to
	// itself; the flow relaxation shares them out.
	if k >= flowBoundDepth {
		p.searchOptions(k, lb-incK)
		return
	}
	for u := range p.active {
		p.active[u] = u >= k
	}
	c, ok := p.flow.solve(p, p.active, nil)
	if !ok || p.costN+c >= p.bestN {
		return
	}
	// What the others add is at least their bound against this node's net
	// (placing item k only raises their increments), so lb-incK plus an
	// option's own increment bounds every leaf below that option.
	rest := lb - incK
	// The same relaxation without item k, against this node's net, bounds
	// what the others add below any of its options, and much more tightly
	// than the per-appliance bounds: options are then cut before they are
	// applied.
	p.active[k] = false
	if c, ok := p.flow.solve(p, p.active, nil); !ok {
		return
	} else {
		rest = max(rest, p.costN+c)
	}
	p.searchOptions(k, rest)
}

// searchOptions branches on the placements of item k; rest bounds the
// node's cost without item k.
func (p *planner) searchOptions(k int, rest int64) {
	it := &p.items[k]
	opts := p.opts[k][:0]
	switch it.kind {
	case kindContiguous:
		for off := 0; off+it.hours <= len(it.window); off++ {
			// Identical items: keep only non-decreasing offsets, the
			// mirror placements cost the same.
			if k > 0 && it.sameAs(&p.items[k-1]) && off < p.offsetOf[k-1] {
				continue
			}
			if c, fits := p.runInc(it, off); fits {
				opts = append(opts, option{offset: off, incN: c})
			}
		}
		slices.SortStableFunc(opts, func(a, b option) int { return cmp.Compare(a.incN, b.incN) })
		p.opts[k] = opts
		for _, o := range opts {
			if rest+o.incN >= p.bestN {
				break // sorted: no later option can do better
			}
			p.offsetOf[k] = o.offset
			p.chosen[k] = append(p.chosen[k][:0], it.window[o.offset:o.offset+it.hours]...)
			p.apply(it.powerWh, p.chosen[k])
			p.search(k + 1)
			p.undo(it.powerWh, p.chosen[k])
		}
	case kindSplittable:
		for _, h := range it.window {
			if it.powerWh <= p.room(h) {
				opts = append(opts, option{offset: h, incN: p.inc(h, p.net[h], it.powerWh)})
			}
		}
		slices.SortStableFunc(opts, func(a, b option) int { return cmp.Compare(a.incN, b.incN) })
		p.opts[k] = opts
		p.chosen[k] = p.chosen[k][:0]
		p.pick(k, 0, it.hours, rest)
	}
}

// pick chooses need more hours of splittable item k from opts[i:] (sorted
// by increment, which does not depend on the item's other hours: it adds to
// each hour once), then searches on. base is the node's bound without item
// k plus the increments already picked.
func (p *planner) pick(k, i, need int, base int64) {
	opts := p.opts[k]
	if need == 0 {
		p.search(k + 1)
		return
	}
	if len(opts)-i < need {
		return
	}
	// The cheapest completion takes the next need options.
	lb := base
	for _, o := range opts[i : i+need] {
		lb += o.incN
	}
	if lb >= p.bestN {
		return
	}
	it := &p.items[k]
	h := opts[i].offset
	p.chosen[k] = append(p.chosen[k], h)
	p.apply(it.powerWh, p.chosen[k][len(p.chosen[k])-1:])
	p.pick(k, i+1, need-1, base+opts[i].incN)
	p.undo(it.powerWh, p.chosen[k][len(p.chosen[k])-1:])
	p.chosen[k] = p.chosen[k][:len(p.chosen[k])-1]
	p.pick(k, i+1, need, base)
}

func (p *planner) apply(wh int64, hours []int) {
	for _, h := range hours {
		p.costN += p.inc(h, p.net[h], wh)
		p.net[h] += wh
	}
}

func (p *planner) undo(wh int64, hours []int) {
	for _, h := range hours {
		p.net[h] -= wh
		p.costN -= p.inc(h, p.net[h], wh)
	}
}

// leaf completes a placement of every hour-based item with the optimal
// energy allocation and keeps it if it is strictly the cheapest so far.
func (p *planner) leaf() {
	total := p.costN
	switch len(p.evs) {
	case 0:
	case 1:
		c, ok := p.greedy(&p.evs[0], &p.evWh[0])
		if !ok {
			return
		}
		total += c
	default:
		for u := range p.active {
			p.active[u] = u >= len(p.items)
		}
		c, ok := p.flow.solve(p, p.active, p.flowOut)
		if !ok {
			return
		}
		copy(p.evWh, p.flowOut[len(p.items):])
		total += c
	}
	if total >= p.bestN {
		return
	}
	p.found, p.bestN = true, total
	for k := range p.items {
		p.bestChosen[k] = append(p.bestChosen[k][:0], p.chosen[k]...)
	}
	copy(p.bestEVWh, p.evWh)
}

// result assembles the output from the best plan, recomputing net and cost
// from scratch.
func (p *planner) result(s Site, fixedWh map[int][HoursPerDay]int64, fixedHours map[int][]int) Result {
	wh := make([][HoursPerDay]int64, len(s.Appliances))
	runs := make([][]int, len(s.Appliances))
	for i, w := range fixedWh {
		wh[i], runs[i] = w, fixedHours[i]
	}
	for k, it := range p.items {
		for _, h := range p.bestChosen[k] {
			wh[it.idx][h] = it.powerWh
		}
		// Splittable picks come cheapest first; list them in window order.
		for _, h := range it.window {
			if slices.Contains(p.bestChosen[k], h) {
				runs[it.idx] = append(runs[it.idx], h)
			}
		}
	}
	for e, it := range p.evs {
		wh[it.idx] = p.bestEVWh[e]
		for _, h := range it.window {
			if wh[it.idx][h] > 0 {
				runs[it.idx] = append(runs[it.idx], h)
			}
		}
	}
	r := Result{Appliances: make([]AppliancePlan, len(s.Appliances)), NetWh: make([]int64, HoursPerDay)}
	for h := range HoursPerDay {
		r.NetWh[h] = s.BaseWh[h] - s.PVWh[h]
	}
	for i, a := range s.Appliances {
		ap := AppliancePlan{Name: a.Name, Hours: append([]int{}, runs[i]...)}
		for h := range HoursPerDay {
			r.NetWh[h] += wh[i][h]
		}
		if a.EnergyWh != nil {
			ap.WhByHour = slices.Clone(wh[i][:])
		}
		r.Appliances[i] = ap
	}
	for h, n := range r.NetWh {
		r.CostNano += p.f(h, n)
		r.PeakImportWh = max(r.PeakImportWh, n)
	}
	return r
}

// flowBoundDepth is how deep the flow relaxation bounds nodes: it costs
// some µs a node and pays only where it cuts large subtrees.
const flowBoundDepth = 2

package plan

import (
	"cmp"
	"math"
	"slices"
)

// maxCuts bounds the EV price vectors of one programme; past them the
// search enumerates every plan below the best cost instead.
const maxCuts = 16

// maxStates bounds the states of a site's programmes, and maxCutStates
// the states times price vectors of one programme, which is what they
// take in memory (8 bytes each) and, roughly, in time (a few ns each,
// times the moves from a state).
const (
	maxStates    = 1 << 21
	maxCutStates = 1 << 24
)

// maxNodes bounds the search steps of a site's plan (limits.nodes; tests
// lower it): past it a site without a battery is refused with ErrInvalid
// rather than planned for minutes (a count, so the same site always gets
// the same answer).
const maxNodes = 1 << 23

// maxBatteryNodes bounds the search steps of a site with a battery, those
// of its inner planner included, past which it is planned approximately
// rather than refused (see Plan): among 200
// realistic homes with EVs and a battery, 3 more are planned approximately
// than under maxNodes, 1.4 cents a day dearer in all, and they take 18 s
// instead of 50.
const maxBatteryNodes = 1 << 21

// maxInnerNodes bounds the search steps of one run of the inner planner
// (exactRest): past it, the site's search stops as past maxNodes. A run
// that tails for want of joint EV and battery prices is followed by
// others that do, each of which would spend this much again.
const maxInnerNodes = 1 << 18

// effort counts a plan's search steps, up to its limit.
type effort struct {
	nodes, limit int
	over         bool
}

// spend counts a step and reports whether the limit is passed.
func (e *effort) spend() bool { return e.add(1) }

// add counts n steps and reports whether the limit is passed.
func (e *effort) add(n int) bool {
	e.nodes += n
	e.over = e.over || e.nodes > e.limit
	return e.over
}

// limits are the search's effort limits: tests lower them to exercise the
// ways on that they lead to, which must give the same plans.
var limits = struct {
	cuts          int // price vectors per programme, at most maxCuts
	nodesPerState int // search nodes, per programme state, before reorder
	nodes         int // search nodes of a site, at most maxNodes
	batteryNodes  int // search nodes of a site with a battery, at most nodes
	innerNodes    int // search nodes of one run of the inner planner
}{cuts: maxCuts, nodesPerState: 4, nodes: maxNodes, batteryNodes: maxBatteryNodes, innerNodes: maxInnerNodes}

// solve finds the best plan: it prices the EVs from the relaxation, picks
// the hour order, and runs the programme for each variant.
func (p *planner) solve() {
	p.lin = p.linear()
	p.flow.init(&p.buy, &p.sell)
	pr, ok := p.rootPrices()
	if !ok {
		return
	}
	r := p.chooseOrder()
	fixed := make([]int, len(p.items))
	for i := range fixed {
		fixed[i] = -1
	}
	vs := p.variants(r, 0, fixed, nil)
	d := &dp{p: p}
	for _, fixed := range vs {
		if d.setup(r, r, fixed) {
			p.states += d.states()
		}
	}
	if p.states > maxStates {
		return
	}
	if len(vs) > 1 {
		// A quick plan from every variant first: a low best cost spares
		// the others most of their search.
		for _, fixed := range vs {
			d.run(r, fixed, pr, true)
		}
	}
	for _, fixed := range vs {
		d.run(r, fixed, pr, false)
	}
}

// rootPrices returns the first cut's prices: the EVs' (rootEVPrices) and,
// with the battery priced by the cuts, the battery's.
func (p *planner) rootPrices() ([]int64, bool) {
	pr, ok := p.rootEVPrices()
	if ok && p.batOut {
		// The battery's, where it is best against the levels without the
		// hour-based items (zero when those break the peak limit).
		var q [HoursPerDay]int64
		if in := p.exactRest(&p.net); in.found {
			copy(q[:], p.cutPrices(&p.net, in)[len(p.evs):])
		}
		pr = append(pr, q[:]...)
	}
	return pr, ok
}

// rootEVPrices prices the EVs where the relaxation of the whole problem
// (every item spread fractionally over its window) leaves them; ok is
// false when even that breaks the peak limit, and so every plan does.
func (p *planner) rootEVPrices() ([]int64, bool) {
	if len(p.evs) == 0 {
		return nil, true
	}
	r := &p.flow
	r.units = r.units[:0]
	for i := range p.items {
		if it := &p.items[i]; !p.alone[i] {
			u := flowUnit{totalWh: int64(it.copies()*it.hours) * it.powerWh}
			for _, h := range it.window {
				u.capWh[h] = int64(it.copies()) * it.powerWh
			}
			r.units = append(r.units, u)
		}
	}
	first := len(r.units)
	for e := range p.evs {
		r.units = append(r.units, flowUnit{totalWh: p.evs[e].energyWh, capWh: p.evs[e].capWh})
	}
	if _, ok := r.solve(&p.net, p.hasPeak, p.peakWh); !ok {
		if p.bat != nil {
			// The battery, left out, may discharge below the limit. Any
			// prices give a bound; the cuts find better ones.
			return make([]int64, len(p.evs)), true
		}
		return nil, false
	}
	return p.prices(&p.net, r, first), true
}

// variants lists the programmes to run, as the offsets fixed[i] of the
// contiguous items they fix (−1 for none): one per choice, for each
// contiguous item from i on with runs across the order's start r, between
// its other runs and each of those. A programme over the hours in order
// cannot see a run that wraps round its start. It stops past maxStates
// variants, which already make too many states.
func (p *planner) variants(r, i int, fixed []int, out [][]int) [][]int {
	if len(out) > maxStates {
		return out
	}
	if i == len(p.items) {
		return append(out, slices.Clone(fixed))
	}
	it := &p.items[i]
	if p.alone[i] || it.kind != kindContiguous {
		return p.variants(r, i+1, fixed, out)
	}
	straight := false
	for off := 0; off+it.hours <= len(it.window); off++ {
		straight = straight || !crosses(it, off, r)
	}
	if straight {
		out = p.variants(r, i+1, fixed, out)
	}
	for off := 0; off+it.hours <= len(it.window); off++ {
		if crosses(it, off, r) {
			fixed[i] = off
			out = p.variants(r, i+1, fixed, out)
			fixed[i] = -1
		}
	}
	return out
}

// run solves one variant. It searches for the plan of least bound under
// the cuts so far; while that plan costs more than its bound, it adds a
// cut at the plan's own EV prices, where its bound is its cost, and
// searches again. Every plan costs at least its bound, so once the least
// bound is a plan's cost, no plan of the variant costs less than the best
// found. A quick run stops after the first search.
func (d *dp) run(r int, fixed []int, pr []int64, quick bool) {
	if !d.setup(r, r, fixed) {
		return
	}
	d.cuts = d.cuts[:0]
	first := pr
	reordered := false
	for {
		d.addCut(pr)
		d.budget = -1
		if len(d.cuts) > 1 && !reordered {
			// A search over several cuts may wander: past a few nodes per
			// state it stops, and starts again in another hour order.
			d.budget = 0
			for t := range HoursPerDay + 1 {
				d.budget += limits.nodesPerState * d.lay[t].size
			}
		}
		for {
			d.search()
			if quick || d.p.effort.over {
				return
			}
			if d.budget != 0 {
				break
			}
			reordered, d.budget = true, -1
			d.reorder(r, fixed, first, d.cuts[len(d.cuts)-1].priceMicro)
		}
		if d.minPrices == nil || len(d.cuts) >= min(limits.cuts, maxCutStates/d.states()) ||
			slices.ContainsFunc(d.cuts, func(c *cut) bool { return slices.Equal(c.priceMicro, d.minPrices) }) {
			break
		}
		pr = d.minPrices
	}
	if d.minPrices != nil {
		// Out of cuts: enumerate every plan whose bound is below the best
		// cost, without the least bound and the memo that go with it.
		d.memo, d.minBound, d.budget = nil, math.MaxInt64, -1
		d.descend(0, 0, 0)
	}
}

// search runs the enumeration for the least bound from the first state.
func (d *dp) search() {
	d.memo = map[int][]int64{}
	d.minBound, d.minPrices = math.MaxInt64, nil
	if d.rootBound() < d.threshold() {
		d.descend(0, 0, 0)
	}
}

// reorder starts the programme's hours afresh at the window start of the
// EV whose price moved most, weighted by its energy. Cuts differ most in
// its hours; the search meets the difference early when it decides those
// hours first, instead of at the end of many paths whose bound only then
// catches up. The order stays when a run of the variant would cross the
// new start.
func (d *dp) reorder(v int, fixed []int, from, to []int64) {
	p := d.p
	was := d.ord[0]
	r := was
	var most int64
	for e := range p.evs {
		if m := abs(to[e]-from[e]) * p.evs[e].energyWh; m > most {
			most, r = m, p.evs[e].start
		}
	}
	if r == was {
		return
	}
	old := d.cuts
	if !d.setup(r, v, fixed) && !d.setup(was, v, fixed) {
		panic("plan: the variant's programme cannot be rebuilt")
	}
	d.cuts = d.cuts[:0]
	for _, c := range old {
		d.addCut(c.priceMicro)
	}
}

// rootBound is the cuts' greatest bound on every plan of the variant,
// math.MaxInt64 when there is none.
func (d *dp) rootBound() int64 {
	b := int64(math.MinInt64)
	for _, c := range d.cuts {
		if c.val[0][0] >= inf {
			return math.MaxInt64
		}
		b = max(b, c.pre[0]+c.val[0][0])
	}
	return b
}

// threshold is what a plan's bound must be below for the search to take
// it: the best cost found, and the least bound found.
func (d *dp) threshold() int64 { return min(d.p.bestN, d.minBound) }

// bound is the cuts' greatest bound on the plans through configuration
// cfg at time t into the next layer's state next, math.MaxInt64 when there
// is none. (Costs so far may be large; the programme's increments and
// costs to go, below inf, are not.)
func (d *dp) bound(t, cfg, next int) int64 {
	b := int64(math.MinInt64)
	for _, c := range d.cuts {
		cost, rest := c.costN[t][cfg], c.val[t+1][next]
		if cost >= inf || rest >= inf {
			return math.MaxInt64
		}
		b = max(b, c.pre[t]+cost+rest)
	}
	return b
}

// child is one way on from a state of the search.
type child struct {
	boundN    int64
	cfg, next int
	extraN    int64
	pick      [MaxAppliances]int8 // move per acting item
}

// descend searches the plans through the state idx of layer t (its digit
// indices in nextDigit[t]) whose bound is below the threshold; hbN is the
// exact cost so far of the programme's loads.
func (d *dp) descend(t, idx int, hbN int64) {
	p := d.p
	if d.budget == 0 || p.effort.spend() {
		return
	}
	d.budget--
	if t == HoursPerDay {
		d.leaf(hbN)
		return
	}
	key, off := 0, -1
	if d.memo != nil {
		if key, off = d.remember(t, idx); off == skipState {
			return
		}
	}
	starved := d.starved
	s := &d.steps[t]
	digit := d.nextDigit[t]
	var k child
	d.kids[t] = d.kids[t][:0]
	d.children(t, s, digit, 0, 0, 0, 0, &k)
	kids := d.kids[t]
	slices.SortStableFunc(kids, func(a, b child) int { return cmp.Compare(a.boundN, b.boundN) })
	h := d.ord[t]
	next := d.nextDigit[t+1]
	for _, kid := range kids {
		if kid.boundN >= d.threshold() {
			break
		}
		for _, c := range d.cuts {
			c.pre[t+1] = c.pre[t] + c.costN[t][kid.cfg] + kid.extraN
		}
		for a, item := range s.acting {
			x := 0
			if j := s.openAt[a]; j >= 0 {
				x = digit[j]
			}
			d.delta[item][t] = s.moves[a][x][kid.pick[a]].delta
		}
		rest := kid.next
		for j := len(next) - 1; j >= 0; j-- {
			next[j] = rest / d.lay[t+1].stride[j]
			rest %= d.lay[t+1].stride[j]
		}
		y := s.cfgLoad[kid.cfg]
		d.hbWh[h] = y
		d.descend(t+1, kid.next, hbN+p.f(h, d.net[h]+y)-p.f(h, d.net[h])+kid.extraN)
		d.hbWh[h] = 0
	}
	for _, item := range s.acting {
		d.delta[item][t] = 0
	}
	if off >= 0 && d.starved != starved {
		d.memo[key][off] = math.MaxInt64 // withdrawn: see remember
	}
}

// maxRecords bounds the records remember keeps of a state; skipState and
// notRecorded are what it returns for a state to skip and one met anew
// but not recorded.
const (
	maxRecords  = 64
	skipState   = -1
	notRecorded = -2
)

// remember records that the search meets the state idx of layer t with
// the present cut costs so far, and returns where (skipState when the state
// was met before with costs that make the present ones no better: the
// search may skip it). A state met before had all its plans searched
// against a threshold no lower than now, each bounded no higher than the
// same hours after the present prefix: what is to come costs no more
// under higher prices, so cut k here counts as the greatest cost so far of
// a cut priced no higher. A record is withdrawn once a plan below it turns
// out not to be one (its EVs did not fit), as the same hours after another
// prefix may be.
func (d *dp) remember(t, idx int) (key, off int) {
	n := len(d.cuts)
	var reach [maxCuts]int64
	for k := range d.cuts {
		reach[k] = d.cuts[k].pre[t]
		for j := range d.cuts {
			if d.below[j][k] {
				reach[k] = max(reach[k], d.cuts[j].pre[t])
			}
		}
	}
	key = t*d.keyMul + idx
	recs := d.memo[key]
	for o := 0; o < len(recs); o += n {
		if atMost(recs[o:o+n], reach[:n]) {
			return key, skipState
		}
	}
	if len(recs) >= maxRecords*n {
		// Enough: cuts that disagree (the battery's prices) could leave a
		// state more records than scanning them saves.
		return key, notRecorded
	}
	off = len(recs)
	for k := range d.cuts {
		recs = append(recs, d.cuts[k].pre[t])
	}
	d.memo[key] = recs
	return key, off
}

// children lists in kids[t] the ways on from the acting items a on whose
// bound is below the threshold.
func (d *dp) children(t int, s *step, digit []int, a, cfg, next int, extraN int64, k *child) {
	if a == len(s.acting) {
		if b := d.bound(t, cfg, next); b != math.MaxInt64 && b+extraN < d.threshold() {
			k.boundN, k.cfg, k.next, k.extraN = b+extraN, cfg, next, extraN
			d.kids[t] = append(d.kids[t], *k)
		}
		return
	}
	x := 0
	if j := s.openAt[a]; j >= 0 {
		x = digit[j]
	}
	for mi, m := range s.moves[a][x] {
		k.pick[a] = int8(mi)
		d.children(t, s, digit, a+1, cfg+m.cfg, next+m.next, extraN+m.extraN, k)
	}
}

// leaf takes a complete plan of the programme whose bound is below the
// threshold: it becomes the plan of least bound, and is priced exactly,
// its EVs by the flow.
func (d *dp) leaf(hbN int64) {
	p := d.p
	lb, top := int64(math.MinInt64), -1
	for j, c := range d.cuts {
		if c.pre[HoursPerDay] > lb {
			lb, top = c.pre[HoursPerDay], j
		}
	}
	total := d.costN + hbN
	for h := range HoursPerDay {
		d.evNet[h] = d.net[h] + d.hbWh[h]
	}
	switch {
	case p.batOut:
		d.rest = p.exactRest(&d.evNet)
		if p.effort.over {
			return
		}
		if !d.rest.found {
			d.starved++ // not a plan: nothing fits under the peak limit
			return
		}
		// Its cost replaces that of the levels alone; the programme's
		// copy-hours in linear hours cost the same whatever it does.
		total += d.rest.bestN
		for h, n := range d.evNet {
			total -= p.f(h, n)
		}
	case len(p.evs) > 0:
		c, ok := p.evFlow().solve(&d.evNet, p.hasPeak, p.peakWh)
		if !ok {
			d.starved++ // not a plan: the EVs do not fit under the peak limit
			return
		}
		total += c
	}
	if d.memo != nil {
		d.minBound, d.minPrices = lb, nil
		switch {
		case total <= lb:
		case p.batOut:
			d.minPrices = p.cutPrices(&d.evNet, d.rest)
		default:
			d.minPrices = p.prices(&d.evNet, &p.flow, 0)
		}
	}
	if total < p.bestN {
		d.record(total)
		// Prices at which the plan is bounded by its cost, if any.
		p.bestPrices = nil
		if total <= lb && top >= 0 {
			p.bestPrices = d.cuts[top].priceMicro
		}
	}
}

// evFlow sets the flow's units to the EVs, and returns it.
func (p *planner) evFlow() *flow {
	r := &p.flow
	r.units = r.units[:0]
	for e := range p.evs {
		r.units = append(r.units, flowUnit{totalWh: p.evs[e].energyWh, capWh: p.evs[e].capWh})
	}
	return r
}

// record keeps the present plan, of cost totalN, as the best.
func (d *dp) record(totalN int64) {
	p := d.p
	p.found, p.bestN = true, totalN
	for i := range p.items {
		if !p.alone[i] {
			p.bestCount[i] = d.fixed[i]
		}
	}
	for k := range d.items {
		di := &d.items[k]
		if di.bat != nil {
			for t, n := range d.delta[k] {
				p.bestBatK[d.ord[t]] = int64(n)
			}
			continue
		}
		cnt := &p.bestCount[di.item]
		ran := 0
		for t, n := range d.delta[k] {
			cnt[d.ord[t]] += int8(n)
			ran += n
		}
		if di.splittable {
			for _, h := range di.linHours[:di.full-ran] {
				cnt[h]++
			}
		}
	}
	if p.batOut {
		p.bestBatK = d.rest.bestBatK
		copy(p.bestEVWh, d.rest.bestEVWh)
		return
	}
	for e := range p.evs {
		p.bestEVWh[e] = p.flow.xWh[e]
	}
}

// states counts the programme's states over all layers.
func (d *dp) states() int {
	n := 0
	for t := range HoursPerDay + 1 {
		n += d.lay[t].size
	}
	return n
}

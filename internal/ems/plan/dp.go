package plan

import (
	"cmp"
	"math"
	"slices"
)

// inf marks an impossible state or move; sums of a few stay below overflow.
const inf = math.MaxInt64 / 4

// dpItem is an item in the programme over the hours. Times are positions
// in the programme's hour order. Its digit, its part of the state, counts
// the hours (copy-hours) it has run in the programme so far.
type dpItem struct {
	item       int // index in planner.items
	splittable bool
	powerWh    int64
	full       int    // digit once complete
	copies     int    // most copies running at one time
	inWin      uint32 // times it may run
	starts     uint32 // contiguous: times a run may start
	first      int    // first time it may run
	last       int    // last time it may run
	// A splittable item runs its other copy-hours in linear hours (see
	// planner.linear): those copy-hours, cheapest first, and what the
	// first j of them cost.
	linHours []int
	linN     []int64
	// The battery is an item too, acting in every hour: its digit is its
	// state of charge in steps from the initial one.
	bat *battery
}

// valid lists the digits item di may have before time t.
func (di *dpItem) valid(t int) []int {
	var out []int
	switch {
	case di.bat != nil:
		// Within the window, reachable from the start in t hours, and the
		// final state reachable in the rest.
		b, t64 := di.bat, int64(t)
		lo := max(b.lo, -b.maxDown*t64, b.final-b.maxUp*(HoursPerDay-t64))
		hi := min(b.hi, b.maxUp*t64)
		for k := lo; k <= hi; k++ {
			out = append(out, int(k))
		}
	case t <= di.first:
		return []int{0}
	case t > di.last:
		return []int{di.full}
	case di.splittable:
		past := di.copies * bitsIn(di.inWin, 0, t)
		ahead := di.copies*bitsIn(di.inWin, t, HoursPerDay) + len(di.linHours)
		for c := max(0, di.full-ahead); c <= min(di.full, past); c++ {
			out = append(out, c)
		}
	default:
		// Not started, running since a start, or done.
		if di.starts>>t != 0 {
			out = append(out, 0)
		}
		for c := 1; c < di.full && c <= t; c++ {
			if di.starts>>(t-c)&1 == 1 {
				out = append(out, c)
			}
		}
		if t >= di.full && di.starts&(1<<(t-di.full+1)-1) != 0 {
			out = append(out, di.full)
		}
	}
	return out
}

// bitsIn counts the set bits of m at positions lo..hi−1.
func bitsIn(m uint32, lo, hi int) int {
	n := 0
	for t := lo; t < hi; t++ {
		n += int(m >> t & 1)
	}
	return n
}

// layer is the state before a time: a digit per open item (first < t ≤
// last), stored as the index of the digit among the item's valid ones.
type layer struct {
	open   []int   // items
	digits [][]int // per open item: its valid digits
	stride []int   // per open item
	size   int
}

// move is one way an acting item goes on from a digit.
type move struct {
	cfg    int   // offset in the time's configuration index
	next   int   // offset in the next layer's index
	delta  int   // copies it runs at this time
	extraN int64 // when it closes: its other copy-hours in linear hours
}

// step is what can happen at a time: the items acting then, their moves
// from each digit, and the load of each configuration (copies running per
// acting item).
type step struct {
	acting  []int
	openAt  []int      // per acting item: index in the layer's open list, −1 if not open
	moves   [][][]move // per acting item, per digit index
	cfgLoad []int64
}

// cut is one price vector for the EVs (and a battery priced by the cuts),
// with the programme's cost to go under it.
type cut struct {
	priceMicro []int64                  // per EV, per kWh; then batQ
	batQ       [HoursPerDay]int64       // battery: nano-units per step stored in hour h
	evAt       [HoursPerDay][]int       // EVs per hour, highest price first
	costN      [HoursPerDay][]int64     // per time and configuration
	val        [HoursPerDay + 1][]int64 // per layer and state: cost to go
	baseN      int64                    // Σ_e π_e·energy_e
	pre        [HoursPerDay + 1]int64   // search: the bound's cost so far
}

// dp is the dynamic programme of one hour order, and the search over it
// (see search.go).
type dp struct {
	p     *planner
	net   [HoursPerDay]int64  // planner net plus the runs the variant fixes
	fixed [][HoursPerDay]int8 // per item: the run the variant fixes
	costN int64               // Σ f_h(net_h)
	ord   [HoursPerDay]int    // hour at each time
	items []dpItem
	lay   [HoursPerDay + 1]layer
	steps [HoursPerDay]step
	cuts  []*cut
	below [maxCuts][maxCuts]bool // below[j][k]: cut j's prices are all at most cut k's

	// The search.
	hbWh      [HoursPerDay]int64 // programme load per hour
	delta     [][HoursPerDay]int // per item and time: copies running
	evNet     [HoursPerDay]int64
	kids      [HoursPerDay][]child
	nextDigit [HoursPerDay + 1][]int
	keyMul    int
	memo      map[int][]int64 // per time and state: cut costs so far met, len(cuts) each
	minBound  int64           // least bound of a plan met
	minPrices []int64         // that plan's EV prices, when it costs more
	budget    int             // nodes the search may still visit, −1 for any
	starved   int             // plans met whose EVs did not fit
	rest      *planner        // the last plan's battery and EVs (planner.batOut)

	// setup's last build.
	built          bool
	builtR, builtV int
	builtFixed     []int
}

// crosses reports whether the run of it from window offset off crosses the
// start r of the hour order.
func crosses(it *item, off, r int) bool {
	return (it.window[off]-r+HoursPerDay)%HoursPerDay+it.hours > HoursPerDay
}

// chooseOrder picks the hour the programme starts at: fewest contiguous
// items with runs across it (each costs a programme per such run), then
// fewest states.
func (p *planner) chooseOrder() int {
	if p.bat != nil && !p.batOut {
		return 0 // see setup
	}
	best, bestR := [2]int{math.MaxInt, math.MaxInt}, 0
	for r := range HoursPerDay {
		var first, last, radix [MaxAppliances]int
		viol := 0
		for i := range p.items {
			it := &p.items[i]
			first[i], last[i] = HoursPerDay, -1
			if p.alone[i] {
				continue
			}
			crossing := false
			for off, h := range it.window {
				t := (h - r + HoursPerDay) % HoursPerDay
				switch {
				case it.kind == kindSplittable && !p.lin[h]:
					first[i], last[i] = min(first[i], t), max(last[i], t)
				case it.kind == kindContiguous && off+it.hours <= len(it.window):
					if crosses(it, off, r) {
						crossing = true
						continue
					}
					first[i], last[i] = min(first[i], t), max(last[i], t+it.hours-1)
				}
			}
			if crossing {
				viol++
			}
			radix[i] = it.copies()*it.hours + 1
		}
		total := 0
		for t := range HoursPerDay {
			size := 1
			for i := range p.items {
				if first[i] < t && t <= last[i] {
					size = min(size*radix[i], math.MaxInt32)
				}
			}
			total = min(total+size, math.MaxInt32)
		}
		if c := [2]int{viol, total}; c[0] < best[0] || c[0] == best[0] && c[1] < best[1] {
			best, bestR = c, r
		}
	}
	return bestR
}

// setup builds the items, layers and steps for the hour order starting at
// r, for the variant of start v: the contiguous items with fixed[i] ≥ 0
// placed at that offset, the others kept to runs that do not cross v. It
// returns false when the variant has no plan, or one of its runs crosses r.
func (d *dp) setup(r, v int, fixed []int) bool {
	if d.built && d.builtR == r && d.builtV == v && slices.Equal(d.builtFixed, fixed) {
		return d.level()
	}
	d.built = false
	if !d.build(r, v, fixed) {
		return false
	}
	d.built, d.builtR, d.builtV, d.builtFixed = true, r, v, slices.Clone(fixed)
	return d.level()
}

// level sets the programme's net from the planner's, with the runs the
// variant fixes, and its cost; false when it breaks the peak limit with no
// battery to bring it down.
func (d *dp) level() bool {
	p := d.p
	d.net = p.net
	for i := range d.fixed {
		for h, n := range d.fixed[i] {
			d.net[h] += int64(n) * p.items[i].powerWh
		}
	}
	if p.bat == nil && p.hasPeak && slices.ContainsFunc(d.net[:], func(n int64) bool { return n > p.peakWh }) {
		return false
	}
	d.costN = 0
	for h := range HoursPerDay {
		d.costN += p.f(h, d.net[h])
	}
	return true
}

// build builds the items, layers and steps of setup, which depend on the
// hours and the variant only.
func (d *dp) build(r, v int, fixed []int) bool {
	p := d.p
	for t := range HoursPerDay {
		d.ord[t] = (r + t) % HoursPerDay
	}
	timeOf := func(h int) int { return (h - r + HoursPerDay) % HoursPerDay }
	d.items = d.items[:0]
	d.fixed = make([][HoursPerDay]int8, len(p.items))
	for i := range p.items {
		it := &p.items[i]
		if p.alone[i] {
			continue
		}
		di := dpItem{item: i, powerWh: it.powerWh, copies: it.copies(), full: it.copies() * it.hours, first: HoursPerDay, last: -1}
		switch {
		case fixed[i] >= 0:
			for _, h := range it.window[fixed[i] : fixed[i]+it.hours] {
				d.fixed[i][h] = 1
			}
			continue
		case it.kind == kindContiguous:
			for off := 0; off+it.hours <= len(it.window); off++ {
				if crosses(it, off, v) {
					continue
				}
				if crosses(it, off, r) {
					return false
				}
				t0 := timeOf(it.window[off])
				di.starts |= 1 << t0
				for t := t0; t < t0+it.hours; t++ {
					di.inWin |= 1 << t
				}
				di.first, di.last = min(di.first, t0), max(di.last, t0+it.hours-1)
			}
		default:
			di.splittable = true
			var linear []int
			for _, h := range it.window {
				if p.lin[h] {
					linear = append(linear, h)
					continue
				}
				t := timeOf(h)
				di.inWin |= 1 << t
				di.first, di.last = min(di.first, t), max(di.last, t)
			}
			di.linHours = p.cheapestHours(it, linear, len(linear)*it.copies())
			di.linN = make([]int64, len(di.linHours)+1)
			for j, h := range di.linHours {
				di.linN[j+1] = di.linN[j] + p.f(h, p.net[h]+it.powerWh) - p.f(h, p.net[h])
			}
		}
		d.items = append(d.items, di)
	}
	if p.bat != nil {
		// Its state of charge runs from midnight: the programme must too.
		// (Priced by the cuts instead, it may discharge below the peak.)
		if !p.batOut {
			if r != 0 {
				return false
			}
			d.items = append(d.items, dpItem{item: -1, bat: p.bat, first: 0, last: HoursPerDay - 1})
		}
	}
	d.keyMul = 1
	for t := 0; t <= HoursPerDay; t++ {
		l := &d.lay[t]
		*l = layer{size: 1}
		for k := range d.items {
			di := &d.items[k]
			if di.first < t && t <= di.last {
				v := di.valid(t)
				if len(v) == 0 {
					return false
				}
				l.open = append(l.open, k)
				l.digits = append(l.digits, v)
				l.stride = append(l.stride, l.size)
				l.size *= len(v)
			}
		}
		d.keyMul = max(d.keyMul, l.size)
		d.nextDigit[t] = make([]int, len(l.open))
	}
	for t := range HoursPerDay {
		d.setupStep(t)
	}
	d.delta = make([][HoursPerDay]int, len(d.items))
	return true
}

// setupStep lists time t's acting items and their moves.
func (d *dp) setupStep(t int) {
	s := &d.steps[t]
	*s = step{cfgLoad: []int64{0}}
	cur, next := &d.lay[t], &d.lay[t+1]
	cfgs := 1
	for k := range d.items {
		di := &d.items[k]
		if t < di.first || t > di.last {
			continue
		}
		s.acting = append(s.acting, k)
		j := slices.Index(cur.open, k)
		s.openAt = append(s.openAt, j)
		nj := slices.Index(next.open, k)
		if di.bat != nil {
			d.batteryStep(s, di, t, j, nj, cfgs)
			cfgs *= int(di.bat.maxDown + di.bat.maxUp + 1)
			continue
		}
		most := 0
		if di.inWin>>t&1 == 1 {
			most = di.copies
		}
		digits := []int{0}
		if j >= 0 {
			digits = cur.digits[j]
		}
		perDigit := make([][]move, len(digits))
		for x, c := range digits {
			var deltas []int
			switch {
			case di.splittable:
				for dl := 0; dl <= min(most, di.full-c); dl++ {
					deltas = append(deltas, dl)
				}
			case c > 0 && c < di.full:
				deltas = []int{1} // a run goes on
			case c == 0 && di.starts>>t&1 == 1:
				deltas = []int{0, 1}
			default:
				deltas = []int{0}
			}
			for _, dl := range deltas {
				nc := c + dl
				m := move{cfg: dl * cfgs, delta: dl}
				if nj >= 0 {
					q := slices.Index(next.digits[nj], nc)
					if q < 0 {
						continue
					}
					m.next = q * next.stride[nj]
				} else {
					// It closes: a run is complete; a splittable item's
					// other copy-hours go to its linear hours.
					rest := di.full - nc
					switch {
					case di.splittable && rest < len(di.linN):
						m.extraN = di.linN[rest]
					case di.splittable || rest != 0:
						continue
					}
				}
				perDigit[x] = append(perDigit[x], m)
			}
		}
		s.moves = append(s.moves, perDigit)
		// Configurations: 0..most copies of this item on top of those of
		// the acting items before it.
		ext := make([]int64, 0, len(s.cfgLoad)*(most+1))
		for dl := 0; dl <= most; dl++ {
			for _, y := range s.cfgLoad {
				ext = append(ext, y+int64(dl)*di.powerWh)
			}
		}
		s.cfgLoad = ext
		cfgs *= most + 1
	}
}

// batteryStep adds the battery's moves at time t to step s, whose
// configurations so far number cfgs: from each state of charge, every
// number of steps k within the power limits that keeps the next state
// valid (at the end of the day, the final state), idle first, then the
// fewer steps first. Its configuration index is k + maxDown.
func (d *dp) batteryStep(s *step, di *dpItem, t, j, nj, cfgs int) {
	b := di.bat
	digits := []int{0}
	if j >= 0 {
		digits = d.lay[t].digits[j]
	}
	var nextDigits []int
	var stride int
	if nj >= 0 {
		nextDigits, stride = d.lay[t+1].digits[nj], d.lay[t+1].stride[nj]
	} else {
		nextDigits, stride = di.valid(HoursPerDay), 0
	}
	var ks []int64
	for a := int64(0); a <= max(b.maxUp, b.maxDown); a++ {
		if a <= b.maxUp {
			ks = append(ks, a)
		}
		if a > 0 && a <= b.maxDown {
			ks = append(ks, -a)
		}
	}
	perDigit := make([][]move, len(digits))
	all := make([]move, 0, len(digits)*len(ks)) // one allocation for every digit's moves
	for x, c := range digits {
		from := len(all)
		for _, k := range ks {
			nc := c + int(k)
			if len(nextDigits) == 0 || nc < nextDigits[0] || nc > nextDigits[len(nextDigits)-1] {
				continue
			}
			all = append(all, move{
				cfg:    int(k+b.maxDown) * cfgs,
				next:   (nc - nextDigits[0]) * stride,
				delta:  int(k),
				extraN: b.wear(k),
			})
		}
		perDigit[x] = all[from:len(all):len(all)]
	}
	s.moves = append(s.moves, perDigit)
	ext := make([]int64, 0, len(s.cfgLoad)*int(b.maxDown+b.maxUp+1))
	for k := -b.maxDown; k <= b.maxUp; k++ {
		for _, y := range s.cfgLoad {
			ext = append(ext, y+b.grid(k))
		}
	}
	s.cfgLoad = ext
}

// hourCost is cut c's cost of y Wh of programme load in hour h: its exact
// increment, plus the EVs' Lagrangian term there (see the package doc),
// and, with the battery priced by the cuts, the least over its moves of
// their increment, wear and Lagrangian term; inf when no move keeps the
// peak limit.
func (d *dp) hourCost(c *cut, h int, y int64) int64 {
	p := d.p
	n := d.net[h]
	if !p.batOut {
		if p.hasPeak && n+y > p.peakWh {
			return inf
		}
		return p.evTerm(h, n, n+y, c.priceMicro, c.evAt[h])
	}
	b := p.bat
	best := int64(inf)
	for k := -b.maxDown; k <= b.maxUp; k++ {
		lv := n + y + b.grid(k)
		if p.hasPeak && lv > p.peakWh {
			break // and so does every larger charge
		}
		best = min(best, p.evTerm(h, n, lv, c.priceMicro, c.evAt[h])+b.wear(k)-c.batQ[h]*k)
	}
	return best
}

// evTerm is the increment f_h(lv) − f_h(n) plus the EVs' Lagrangian term
// at level lv, under EV prices pr (evAt: the EVs of hour h, dearest
// first); lv is within the peak limit.
func (p *planner) evTerm(h int, n, lv int64, pr []int64, evAt []int) int64 {
	cost := p.f(h, lv) - p.f(h, n)
	// The EVs take what is cheaper than their price, dearest EV first.
	for _, e := range evAt {
		pr, left := pr[e], p.evs[e].capWh[h]
		if pr <= p.sell[h] {
			break // sorted: the rest gain nothing either
		}
		if lv < 0 {
			t := min(left, -lv)
			left, lv = left-t, lv+t
			cost += t * (p.sell[h] - pr)
		}
		if left > 0 && pr > p.buy[h] {
			t := left
			if p.hasPeak {
				t = min(t, p.peakWh-lv)
			}
			lv += t
			cost += t * (p.buy[h] - pr)
		}
	}
	return cost
}

// evsAt lists the EVs of hour h, dearest first under prices pr.
func (p *planner) evsAt(h int, pr []int64) []int {
	var out []int
	for e := range p.evs {
		if p.evs[e].capWh[h] > 0 {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b int) int { return cmp.Compare(pr[b], pr[a]) })
	return out
}

// addCut adds price vector pr (see planner.cutPrices) and computes every
// state's cost to go under it, backwards over the layers.
func (d *dp) addCut(pr []int64) *cut {
	p := d.p
	if p.bat != nil && !p.batOut {
		// The inner planner's backward pass walks every state of charge in
		// every hour, as many as search steps: counted as such, so that
		// the limit bounds a site's time wherever it goes.
		p.effort.add(d.states())
	}
	c := &cut{priceMicro: pr}
	for e := range p.evs {
		c.baseN += pr[e] * p.evs[e].energyWh
	}
	if p.batOut {
		copy(c.batQ[:], pr[len(p.evs):])
		c.baseN += p.bat.constN(&c.batQ)
	}
	for h := range HoursPerDay {
		c.evAt[h] = p.evsAt(h, pr)
	}
	for t := range HoursPerDay {
		c.costN[t] = make([]int64, len(d.steps[t].cfgLoad))
		for x, y := range d.steps[t].cfgLoad {
			c.costN[t][x] = d.hourCost(c, d.ord[t], y)
		}
	}
	c.val[HoursPerDay] = []int64{0}
	for t := HoursPerDay - 1; t >= 0; t-- {
		c.val[t] = d.backward(c, t)
	}
	c.pre[0] = d.costN + c.baseN
	k := len(d.cuts)
	d.cuts = append(d.cuts, c)
	for j, o := range d.cuts {
		d.below[j][k] = p.pricedBelow(o.priceMicro, pr)
		d.below[k][j] = p.pricedBelow(pr, o.priceMicro)
	}
	return c
}

// pricedBelow reports whether every cost to go under price vector a is at
// least that under b: the EV prices of a are at most b's, and the battery's
// the same (higher battery prices lower some moves' terms, raise others').
func (p *planner) pricedBelow(a, b []int64) bool {
	e := len(p.evs)
	return atMost(a[:e], b[:e]) && slices.Equal(a[e:], b[e:])
}

// atMost reports whether a ≤ b in every component.
func atMost(a, b []int64) bool {
	for k := range a {
		if a[k] > b[k] {
			return false
		}
	}
	return true
}

// backward returns the cost to go of layer t's states under cut c: the
// least, over the acting items' moves, of the hour's cost, the closing
// items' linear costs and the next state's cost to go.
func (d *dp) backward(c *cut, t int) []int64 {
	l, s := &d.lay[t], &d.steps[t]
	cost, rest := c.costN[t], c.val[t+1]
	val := make([]int64, l.size)
	var digit [MaxAppliances]int // per open item: index into its digits
	var lists [MaxAppliances][]move
	var pick [MaxAppliances]int
	var cfgAt, nextAt [MaxAppliances + 1]int
	var extraAt [MaxAppliances + 1]int64
	for idx := range l.size {
		// Items with one move add their offsets once; the others take
		// turns on an odometer, the last fastest.
		n, dead := 0, false
		cfgAt[0], nextAt[0], extraAt[0] = 0, 0, 0
		for a, per := range s.moves {
			x := 0
			if j := s.openAt[a]; j >= 0 {
				x = digit[j]
			}
			switch ms := per[x]; len(ms) {
			case 0:
				dead = true // the state leads nowhere
			case 1:
				cfgAt[0], nextAt[0], extraAt[0] = cfgAt[0]+ms[0].cfg, nextAt[0]+ms[0].next, extraAt[0]+ms[0].extraN
			default:
				lists[n], pick[n] = ms, 0
				n++
			}
		}
		best := int64(inf)
		switch {
		case dead:
		case n == 0:
			best = cost[cfgAt[0]] + rest[nextAt[0]] + extraAt[0]
		default:
			last := lists[n-1]
			for a := 0; ; {
				for ; a < n-1; a++ {
					m := &lists[a][pick[a]]
					cfgAt[a+1], nextAt[a+1], extraAt[a+1] = cfgAt[a]+m.cfg, nextAt[a]+m.next, extraAt[a]+m.extraN
				}
				cf, nx, ex := cfgAt[n-1], nextAt[n-1], extraAt[n-1]
				for i := range last {
					m := &last[i]
					best = min(best, cost[cf+m.cfg]+rest[nx+m.next]+ex+m.extraN)
				}
				for a = n - 2; a >= 0; a-- {
					if pick[a]++; pick[a] < len(lists[a]) {
						break
					}
					pick[a] = 0
				}
				if a < 0 {
					break
				}
			}
		}
		val[idx] = min(best, inf)
		for j := range l.open {
			if digit[j]++; digit[j] < len(l.digits[j]) {
				break
			}
			digit[j] = 0
		}
	}
	return val
}

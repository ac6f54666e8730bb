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
)

// item is a flexible hour-based appliance, or several identical
// splittable ones: any per-hour counts of at most copies() that add up to
// copies()×hours can be dealt out to them (see result), so they are
// planned as one.
type item struct {
	idx     []int // indices in Site.Appliances
	kind    kind
	window  []int // hours in window order
	powerWh int64 // Wh per running hour
	hours   int   // running hours of each copy
}

func (it *item) copies() int { return len(it.idx) }

// ev is a flexible energy-based appliance.
type ev struct {
	idx      int
	start    int // first hour of its window
	energyWh int64
	capWh    [HoursPerDay]int64 // max_power_w in window hours, else 0
}

// planner holds a site's tariff and flexible loads, and the best plan.
type planner struct {
	buy, sell [HoursPerDay]int64
	hasPeak   bool
	peakWh    int64

	// net is base and fixed load less PV, plus the items placed on their
	// own (see placeAlone), per hour.
	net   [HoursPerDay]int64
	items []item
	alone []bool            // per item: placed on its own
	lin   [HoursPerDay]bool // per hour: linear (see linear), once alone items are placed
	evs   []ev
	flow  flow
	bat   *battery // nil for none
	// batOut: the battery is not an item of the programme but priced by
	// the cuts and planned exactly, with the EVs, for each plan the search
	// meets (see exactRest). An inner planner has it in its programme.
	batOut bool
	in     *planner // the inner planner of exactRest
	effort *effort  // the inner planner's steps count here too
	d      *dp      // an inner planner's programme

	states    int // of the programmes solve runs (see maxStates)
	found     bool
	bestN     int64                // cost of the best plan, nano-units
	bestCount [][HoursPerDay]int8  // per item: copies running in each hour
	bestEVWh  [][HoursPerDay]int64 // per EV: Wh in each hour
	bestBatK  [HoursPerDay]int64   // battery steps in each hour
	// bestPrices are EV prices at which the best plan's bound is its cost,
	// when the search met it so (nil otherwise).
	bestPrices []int64
}

// battery is the site's battery in steps (see Battery): the step counts
// relative to the initial state of charge that bound its window and the
// final state, and the most steps an hour may move either way.
type battery struct {
	Battery
	lo, hi, final  int64
	maxUp, maxDown int64
	// The grid side and wear of each move k, at k + maxDown: the search
	// asks for them in its innermost loops.
	gridWh, wearN []int64
}

// tabulate fills the battery's grid sides and wears per move.
func (b *battery) tabulate() {
	for k := -b.maxDown; k <= b.maxUp; k++ {
		b.gridWh = append(b.gridWh, b.GridWh(k))
		b.wearN = append(b.wearN, b.CycleCostNano(k))
	}
}

// grid is the grid side of k steps, and wear their wear.
func (b *battery) grid(k int64) int64 { return b.gridWh[k+b.maxDown] }
func (b *battery) wear(k int64) int64 { return b.wearN[k+b.maxDown] }

// f is hour h's cost of a net of n Wh: import at buy, export at sell.
func (p *planner) f(h int, n int64) int64 {
	if n >= 0 {
		return n * p.buy[h]
	}
	return n * p.sell[h]
}

// Plan returns a least-cost plan of s (see the package doc for the
// algorithm and why it is optimal). It validates s first.
func Plan(s Site) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	p := &planner{bestN: math.MaxInt64, effort: &effort{limit: limits.nodes}}
	copy(p.buy[:], s.BuyMicroPerKWh)
	copy(p.sell[:], s.SellMicroPerKWh)
	if s.PeakImportWh != nil {
		p.hasPeak, p.peakWh = true, *s.PeakImportWh
	}
	for h := range HoursPerDay {
		p.net[h] = s.BaseWh[h] - s.PVWh[h]
	}
	if b := s.Battery; b != nil {
		p.bat = &battery{Battery: *b, maxUp: b.MaxChargeSteps(), maxDown: b.MaxDischargeSteps()}
		p.bat.lo, p.bat.hi, p.bat.final = b.levels()
		// No hour moves more than the window holds.
		p.bat.maxUp, p.bat.maxDown = min(p.bat.maxUp, p.bat.hi-p.bat.lo), min(p.bat.maxDown, p.bat.hi-p.bat.lo)
		p.bat.tabulate()
		p.effort.limit = min(limits.nodes, limits.batteryNodes)
		p.batOut = true
	}

	// Non-flexible appliances are load like the base; their Wh per hour
	// and the hours they run.
	fixedWh := make(map[int][HoursPerDay]int64)
	fixedHours := make(map[int][]int)
	for i, a := range s.Appliances {
		win := Window(a.Start, a.End)
		if a.EnergyWh != nil {
			if a.Flexible {
				e := ev{idx: i, start: a.Start, energyWh: *a.EnergyWh}
				for _, h := range win {
					e.capWh[h] = a.maxPowerW()
				}
				p.evs = append(p.evs, e)
				continue
			}
			// Charge at full power from plug-in until full.
			var wh [HoursPerDay]int64
			left := *a.EnergyWh
			for _, h := range win {
				wh[h] = min(left, a.maxPowerW())
				left -= wh[h]
				if wh[h] > 0 {
					fixedHours[i] = append(fixedHours[i], h)
				}
			}
			fixedWh[i] = wh
			continue
		}
		if a.Flexible && a.Hours > 0 && a.PowerW > 0 {
			it := item{idx: []int{i}, kind: kindContiguous, window: win, powerWh: a.PowerW, hours: a.Hours}
			// A one-hour run is any one hour; a run as long as its window
			// has one place.
			if a.Splittable && a.Hours < len(win) || a.Hours == 1 {
				it.kind = kindSplittable
			}
			p.addItem(it)
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
	if p.hasPeak && p.bat == nil { // a battery may discharge below the limit
		for h := range HoursPerDay {
			if p.net[h] > p.peakWh {
				return Result{}, fmt.Errorf("%w: hour %d imports %d Wh before any flexible load, above the peak limit %d Wh",
					ErrInfeasible, h, p.net[h], p.peakWh)
			}
		}
	}
	p.bestCount = make([][HoursPerDay]int8, len(p.items))
	p.bestEVWh = make([][HoursPerDay]int64, len(p.evs))
	p.placeAlone()
	p.solve()
	if p.states > maxStates {
		return Result{}, fmt.Errorf("%w: planning it exactly takes %d states, more than %d: too many long flexible runs that may overlap",
			ErrInvalid, p.states, maxStates)
	}
	if p.effort.over {
		if r, ok := p.approximate(s, fixedWh, fixedHours); ok {
			return r, nil
		}
		return Result{}, fmt.Errorf("%w: planning it exactly takes more than %d search steps: too many plans cost nearly the same",
			ErrInvalid, p.effort.limit)
	}
	if !p.found {
		return Result{}, fmt.Errorf("%w: no placement keeps the peak limit of %d Wh", ErrInfeasible, p.peakWh)
	}
	return p.result(s, fixedWh, fixedHours), nil
}

// approximate plans a site with a battery whose exact search ran out of
// steps, rather than refuse it: the cheaper of the best plan the search
// found and byStages'. Either keeps every rule and is priced exactly; ok
// is false when neither exists.
func (p *planner) approximate(s Site, fixedWh map[int][HoursPerDay]int64, fixedHours map[int][]int) (Result, bool) {
	if p.bat == nil {
		return Result{}, false
	}
	var best Result
	found := p.found
	if found {
		best = p.result(s, fixedWh, fixedHours)
	}
	if len(s.Appliances) > 0 { // else the stages are this one again
		if r, ok := byStages(s); ok && (!found || r.CostNano < best.CostNano) {
			best, found = r, true
		}
	}
	best.Approximate = true
	return best, found
}

// maxStageRounds bounds the rounds of byStages.
const maxStageRounds = 4

// byStages plans a site with a battery in exact stages, the battery and
// the rest in turn: the appliances and EVs without the battery, then the
// battery against their hours (alone it plans quickly: no cut prices
// it), then the appliances and EVs again against the battery's hours, and
// so on while the day gets cheaper, for at most maxStageRounds rounds.
// Each stage is exact given the other, so no round costs more than the
// one before. ok is false when the first round finds no plan.
func byStages(s Site) (Result, bool) {
	var best Result
	found := false
	rest := s
	rest.Battery = nil
	for range maxStageRounds {
		r, err := Plan(rest)
		if err != nil {
			break
		}
		// The battery against the rest's hours, without the battery's
		// part of them.
		alone := Site{BaseWh: make([]int64, HoursPerDay), PVWh: make([]int64, HoursPerDay),
			BuyMicroPerKWh: s.BuyMicroPerKWh, SellMicroPerKWh: s.SellMicroPerKWh, PeakImportWh: s.PeakImportWh, Battery: s.Battery}
		for h, n := range r.NetWh {
			n -= (rest.BaseWh[h] - rest.PVWh[h]) - (s.BaseWh[h] - s.PVWh[h])
			alone.BaseWh[h], alone.PVWh[h] = max(n, 0), max(-n, 0)
		}
		b, err := Plan(alone)
		if err != nil || b.Approximate || found && b.CostNano >= best.CostNano {
			break
		}
		r.NetWh, r.CostNano, r.PeakImportWh, r.Battery = b.NetWh, b.CostNano, b.PeakImportWh, b.Battery
		best, found = r, true
		// The rest again, with the battery's hours as base load and PV.
		rest.BaseWh, rest.PVWh = slices.Clone(s.BaseWh), slices.Clone(s.PVWh)
		for h := range HoursPerDay {
			rest.BaseWh[h] += b.Battery.ChargeWh[h]
			rest.PVWh[h] += b.Battery.DischargeWh[h]
		}
	}
	return best, found
}

// addItem adds a flexible hour-based appliance, to the group of an
// identical splittable one if there is one.
func (p *planner) addItem(it item) {
	if it.kind == kindSplittable {
		for k := range p.items {
			o := &p.items[k]
			if o.kind == kindSplittable && o.powerWh == it.powerWh && o.hours == it.hours && slices.Equal(o.window, it.window) {
				o.idx = append(o.idx, it.idx[0])
				return
			}
		}
	}
	p.items = append(p.items, it)
}

// linear reports, per hour, whether every load the flexible appliances
// could put there together costs the same per Wh: the net stays on one
// side of zero and within the peak limit. Loads in such an hour do not
// interact.
func (p *planner) linear() (lin [HoursPerDay]bool) {
	var most [HoursPerDay]int64
	for i := range p.items {
		it := &p.items[i]
		if p.alone != nil && p.alone[i] {
			continue // its load is in the net
		}
		for _, h := range it.window {
			most[h] += int64(it.copies()) * it.powerWh
		}
	}
	for e := range p.evs {
		for h, c := range p.evs[e].capWh {
			most[h] += c
		}
	}
	// A battery may charge or discharge in any hour.
	var up, down int64
	if b := p.bat; b != nil {
		up, down = b.GridWh(b.maxUp), -b.GridWh(-b.maxDown)
	}
	for h := range HoursPerDay {
		n := p.net[h]
		hi := n + most[h] + up
		lin[h] = (n-down >= 0 || hi <= 0) && (!p.hasPeak || hi <= p.peakWh)
	}
	return lin
}

// placeAlone places every item whose window lies in linear hours where it
// is cheapest on its own: nothing else changes what it costs there, nor
// does it change what anything else costs. Its load joins the net.
func (p *planner) placeAlone() {
	lin := p.linear()
	p.alone = make([]bool, len(p.items))
	for i := range p.items {
		it := &p.items[i]
		if slices.ContainsFunc(it.window, func(h int) bool { return !lin[h] }) {
			continue
		}
		p.alone[i] = true
		cnt := &p.bestCount[i]
		switch it.kind {
		case kindContiguous:
			best, bestOff := int64(math.MaxInt64), 0
			for off := 0; off+it.hours <= len(it.window); off++ {
				var c int64
				for _, h := range it.window[off : off+it.hours] {
					c += p.f(h, p.net[h]+it.powerWh) - p.f(h, p.net[h])
				}
				if c < best {
					best, bestOff = c, off
				}
			}
			for _, h := range it.window[bestOff : bestOff+it.hours] {
				cnt[h] = 1
			}
		case kindSplittable:
			for _, h := range p.cheapestHours(it, it.window, it.copies()*it.hours) {
				cnt[h]++
			}
		}
		for h, n := range cnt {
			p.net[h] += int64(n) * it.powerWh
		}
	}
}

// cheapestHours lists the n cheapest copy-hours of it among hours, which
// are linear (each hour up to copies() times, at the same increment):
// cheapest first, ties in the order given.
func (p *planner) cheapestHours(it *item, hours []int, n int) []int {
	hs := slices.Clone(hours)
	slices.SortStableFunc(hs, func(a, b int) int {
		return cmp.Compare(p.f(a, p.net[a]+it.powerWh)-p.f(a, p.net[a]), p.f(b, p.net[b]+it.powerWh)-p.f(b, p.net[b]))
	})
	var out []int
	for _, h := range hs {
		for range it.copies() {
			if len(out) < n {
				out = append(out, h)
			}
		}
	}
	return out
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
		// Deal the copies running in each hour, in window order, to the
		// item's appliances in turn: each gets `hours` hours, and none an
		// hour twice, since an hour runs at most copies() of them.
		next := 0
		for _, h := range it.window {
			for range p.bestCount[k][h] {
				a := it.idx[next]
				next = (next + 1) % it.copies()
				runs[a] = append(runs[a], h)
				wh[a][h] = it.powerWh
			}
		}
	}
	for e, it := range p.evs {
		wh[it.idx] = p.bestEVWh[e]
		for _, h := range Window(s.Appliances[it.idx].Start, s.Appliances[it.idx].End) {
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
	if b := p.bat; b != nil {
		bp := &BatteryPlan{Steps: slices.Clone(p.bestBatK[:]), ChargeWh: make([]int64, HoursPerDay),
			DischargeWh: make([]int64, HoursPerDay), SoCWh: make([]int64, HoursPerDay)}
		soc := b.InitialSoCWh
		for h, k := range p.bestBatK {
			g := b.GridWh(k)
			bp.ChargeWh[h], bp.DischargeWh[h] = max(g, 0), max(-g, 0)
			r.NetWh[h] += g
			soc += k * b.Step()
			bp.SoCWh[h] = soc
			bp.CycleCostNano += b.CycleCostNano(k)
		}
		r.Battery = bp
		r.CostNano = bp.CycleCostNano
	}
	for h, n := range r.NetWh {
		r.CostNano += p.f(h, n)
		r.PeakImportWh = max(r.PeakImportWh, n)
	}
	return r
}

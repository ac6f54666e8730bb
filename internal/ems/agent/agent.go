// Package agent is a home's EMS at work: the thin loop that wires the pure
// EMS (forecast, plan, dr, bidding) to the ledger and the broker, in the
// input–process–output cycle OpenEMS uses. Each Step takes a snapshot of
// the ledger and, in priority order:
//
//  1. plans each local day ahead (at PlanAheadS before it starts; the day
//     in progress at start-up at once) from the forecasts, the tariffs and
//     the recent clearing prices, and commits the plan's net import and
//     flexibility per interval to the ledger (the DR baseline);
//  2. answers each demand-response request for a day that has not begun:
//     re-plans with the incentive, commits the reduction the new plan
//     gives (never more than its share), and follows the new plan;
//  3. switches the relays and smart plugs of its appliances over MQTT to
//     what the plan says for the hour in progress;
//  4. places, for each listing near gate closure, a bid for the planned
//     deficit or an offer of the planned surplus, sized for the risk of
//     its own forecast errors under the listing's imbalance rule and
//     priced from the recent clearing prices, between the feed-in and
//     grid tariff (bidding.RiskAware).
//
// A home battery is planned with the day (plan.Battery): the day starts
// from the state of charge the battery will have at midnight — its
// reading now (BatterySoCWh) plus what the plan being followed still
// moves until then — and may end at the bottom of its window. The plan's
// net import, and so the orders, include the battery; its schedule and
// state of charge go to the ledger with the plan (MsgPlan.BatteryWh,
// BatterySoCWh), and a demand-response re-plan moves it too (discharging,
// or not charging). A battery stores energy and makes none: the ledger
// mints tokens only from the RES's production, and counts what the
// battery discharges as the first of the site's export. So an offer is
// only ever of the planned export beyond the battery's planned discharge;
// the battery's own export reaches the neighbours through the community's
// pool (or the feed-in), as the settlement nets deviations.
//
// Requests for a day already under way are not answered: its plan has
// started running, and re-planning it would move load into hours gone by.
//
// The errors it sizes for are its own: for each interval it ordered in,
// it keeps the planned net import it ordered from (import − export, the
// plan being followed at the time), and once the interval is settled it
// reads from the snapshot what its meters recorded (Snapshot.Metered);
// the differences over the last ErrorWindowS are its sample. An agent
// starts with none, and bids its plan until intervals settle.
//
// One order per listing: each interval has a single listing, which clears
// once, at its gate closure, and is closed from then on. What a clearing
// leaves unmatched cannot be re-bid in a later listing for the same hour,
// so the agent places no further order for it; the remainder is settled
// after delivery by the listing's imbalance rule, against the meters.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/bidding"
	"github.com/gridledger/gridledger/internal/ems/dr"
	"github.com/gridledger/gridledger/internal/ems/plan"
)

// Relays switches a device's relay (meter.Gateway does, over MQTT). An
// agent without one logs each switch the plan calls for instead.
type Relays interface {
	SwitchRelay(ctx context.Context, deviceID string, on bool) error
}

// Ledger is what the EMS needs of the ledger: to read its state and to
// send a transaction signed with the member's key. A node's client
// (chain.Client) is one; the simulator, which puts the transaction in the
// next block it builds, is another.
type Ledger interface {
	Query(ctx context.Context, path string, v any) error
	Send(ctx context.Context, k chain.Key, msg contract.Msg) error
}

var _ Ledger = (*chain.Client)(nil)

// ForecastFunc forecasts a local day's hourly consumption (without the
// flexible appliances) and PV production, Wh, from its start (market
// seconds at local midnight).
type ForecastFunc func(dayStart int64) (baseWh, pvWh [plan.HoursPerDay]int64, err error)

// Snapshot is what one Step sees of the ledger.
type Snapshot struct {
	MarketTime int64
	Params     contract.Params
	// Listings from a day back on, without their books.
	Listings []contract.ListingView
	DR       []contract.DRRequest
	// Metered is what the meters recorded in intervals settled lately (a
	// day back is plenty: the agent remembers what it has seen), oldest
	// first. Read only: one snapshot may serve many agents at once.
	Metered []Metered
}

// Metered is one settled interval's metered net import (import − export,
// Wh) per member.
type Metered struct {
	Start int64
	NetWh map[string]int64
}

// MeteredOf is what a settlement says each member's meters recorded. A
// member owning a meter that did not report (owner maps a meter to its
// owner; it may be nil when none is missing) is left out: its energy
// counts in a later interval.
func MeteredOf(st contract.Settlement, owner func(meter string) string) Metered {
	m := Metered{Start: st.Start, NetWh: make(map[string]int64, len(st.Members))}
	missing := map[string]bool{}
	for _, id := range st.Missing {
		if owner != nil {
			missing[owner(id)] = true
		}
	}
	for _, ms := range st.Members {
		if !missing[ms.ID] {
			m.NetWh[ms.ID] = ms.ImportWh - ms.ExportWh
		}
	}
	return m
}

// TakeSnapshot queries the ledger for a Step; with members' keys, their
// statements of the last day, signed by each, fill Metered (an agent
// needs its own).
func TakeSnapshot(ctx context.Context, cl Ledger, members ...chain.Key) (Snapshot, error) {
	var s Snapshot
	rd := chain.Reader{Q: cl}
	info, err := rd.Info(ctx)
	if err != nil {
		return s, err
	}
	s.MarketTime = info.MarketTime
	if s.Params, err = rd.Params(ctx); err != nil {
		return s, err
	}
	if s.Listings, err = rd.Listings(ctx, info.MarketTime-86400); err != nil {
		return s, err
	}
	if s.DR, err = rd.DRs(ctx); err != nil {
		return s, err
	}
	byStart := map[int64]Metered{}
	for _, k := range members {
		rows, err := chain.Reader{Q: cl, As: &k}.Statement(ctx, k.ID, info.MarketTime-86400, info.MarketTime)
		var te *chain.TxError
		if errors.As(err, &te) && te.Code == contract.CodeUnknownParticipant {
			continue // not registered yet: nothing metered
		} else if err != nil {
			return s, err
		}
		// A statement does not say whether a meter missed the interval:
		// such an interval reads as a large error and the next as its
		// opposite, both within the window (rare: a missed reading).
		for _, r := range rows {
			m, ok := byStart[r.Interval]
			if !ok {
				m = Metered{Start: r.Interval, NetWh: map[string]int64{}}
				byStart[r.Interval] = m
			}
			m.NetWh[k.ID] = r.ImportWh - r.ExportWh
		}
	}
	for _, start := range slices.Sorted(maps.Keys(byStart)) {
		s.Metered = append(s.Metered, byStart[start])
	}
	return s, nil
}

// ErrorWindowS is how far back the errors an agent sizes its orders for
// go: a week, 168 hourly intervals.
const ErrorWindowS = 7 * 86400

// Agent is one home's EMS.
type Agent struct {
	Home     Home
	Key      chain.Key
	Ledger   Ledger
	Relays   Relays // nil: no devices to switch
	Forecast ForecastFunc
	Log      *slog.Logger
	// LeadIntervals: orders go in this many intervals before gate closure.
	LeadIntervals int64
	// PlanAheadS: a day is planned this long (market seconds) before it
	// starts (default 12 h).
	PlanAheadS int64
	// TrueNetWh, when set, is the net import (import − export, Wh) the
	// site's meter will record in the interval starting at a time: the
	// agent orders exactly that (bidding.ForInterval) instead of its plan
	// sized for its errors, at the same prices and caps. No EMS can know
	// it; the simulator sets it for its perfect-foresight yardstick.
	TrueNetWh func(start int64) int64
	// BatterySoCWh, for a home with a battery, reads its state of charge
	// now (the battery's management, or the simulator's model). Nil:
	// the agent takes the state its plans leave, from the battery's
	// InitialSoCWh.
	BatterySoCWh func() int64

	// mu guards days and what they hold against ApplianceWh, called from
	// a simulated meter's goroutine; Step itself runs on one goroutine.
	mu       sync.Mutex
	days     map[int64]*Day
	ordered  map[int64]bool
	answered map[string]bool
	relay    map[string]bool
	// excluded appliances are left out of the days planned from now on
	// (SetAppliance: a member's switch in Home Assistant).
	excluded map[string]bool
	// plannedWh is the planned net import each interval was ordered from,
	// until its metered net is known; errWh the metered minus planned net
	// of the intervals settled in the last ErrorWindowS.
	plannedWh map[int64]int64
	errWh     map[int64]int64
}

// Day is a planned local day.
type Day struct {
	Start int64
	Site  plan.Site
	// Committed is the plan put on the ledger (the DR baseline); Current
	// is the one the home follows (Committed re-planned for DR).
	Committed plan.Result
	Current   plan.Result
	// Incentive per hour from the requests answered.
	Incentive [plan.HoursPerDay]int64
	// PromisedWh per hour, over all requests answered.
	PromisedWh [plan.HoursPerDay]int64
}

func (a *Agent) init() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.days == nil {
		a.days, a.ordered, a.answered, a.relay = map[int64]*Day{}, map[int64]bool{}, map[string]bool{}, map[string]bool{}
		a.plannedWh, a.errWh = map[int64]int64{}, map[int64]int64{}
	}
	if a.PlanAheadS == 0 {
		a.PlanAheadS = 12 * 3600
	}
	if a.LeadIntervals == 0 {
		a.LeadIntervals = 2
	}
}

// offsetS is the home's local time offset from UTC.
func (a *Agent) offsetS(p contract.Params) int64 {
	if a.Home.UTCOffsetH != nil {
		return int64(*a.Home.UTCOffsetH) * 3600
	}
	return p.TariffUTCOffsetS
}

// dayOf is the start (market seconds) of the local day holding t, and the
// local hour of t in it.
func dayOf(t, offS int64) (start int64, hour int) {
	local := t + offS
	d := local - ((local%86400)+86400)%86400
	return d - offS, int((local - d) / 3600)
}

// Plan returns a copy of the day's plan, if made.
func (a *Agent) Plan(dayStart int64) (Day, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, ok := a.days[dayStart]
	if !ok {
		return Day{}, false
	}
	return *d, true
}

// PlanAt returns the planned day holding t and t's hour in it (false
// before the day is planned).
func (a *Agent) PlanAt(t int64, p contract.Params) (Day, int, bool) {
	start, h := dayOf(t, a.offsetS(p))
	d, ok := a.Plan(start)
	return d, h, ok
}

// ApplianceWh is what the home's flexible and fixed appliances draw in the
// hour holding t under the plan being followed (0 before it is planned):
// a simulated home's meter adds it to the rest of its load.
func (a *Agent) ApplianceWh(t int64, p contract.Params) int64 {
	d, h, ok := a.PlanAt(t, p)
	if !ok {
		return 0
	}
	return d.Current.ApplianceWh(d.Site, false)[h]
}

// BatteryWh is what the home battery should draw (positive) or deliver
// (negative) at the site's connection in the hour holding t under the
// plan being followed, and the net import the plan expects of the site
// then (both 0 before it is planned, or without a battery): a battery's
// orders for the hour (see sim.Setpoint).
func (a *Agent) BatteryWh(t int64, p contract.Params) (batteryWh, netWh int64) {
	d, h, ok := a.PlanAt(t, p)
	if !ok || d.Current.Battery == nil {
		return 0, 0
	}
	return d.Current.Battery.ChargeWh[h] - d.Current.Battery.DischargeWh[h], d.Current.NetWh[h]
}

// batterySoCAt is the state of charge the battery will start the day at
// dayStart with: its reading now plus what the day before's plan still
// moves until midnight; without a reading, what that plan leaves, or the
// battery's InitialSoCWh when there is none.
func (a *Agent) batterySoCAt(snap Snapshot, dayStart int64) int64 {
	b := a.Home.Battery
	prev, ok := a.days[dayStart-86400]
	var bp *plan.BatteryPlan
	if ok {
		bp = prev.Current.Battery
	}
	if a.BatterySoCWh == nil {
		if bp != nil {
			return bp.SoCWh[plan.HoursPerDay-1]
		}
		return b.InitialSoCWh
	}
	soc := a.BatterySoCWh()
	if bp != nil && snap.MarketTime >= prev.Start && snap.MarketTime < dayStart {
		// Now is the start of hour h: the plan's state at the end of h−1.
		_, h := dayOf(snap.MarketTime, a.offsetS(snap.Params))
		planned := prev.Site.Battery.InitialSoCWh
		if h > 0 {
			planned = bp.SoCWh[h-1]
		}
		soc += bp.SoCWh[plan.HoursPerDay-1] - planned
	}
	return soc
}

// Step runs one cycle against a snapshot.
func (a *Agent) Step(ctx context.Context, snap Snapshot) error {
	a.init()
	p := snap.Params
	if p.IntervalS != 3600 {
		return fmt.Errorf("agent: the EMS plans hourly intervals; this community's are %d s", p.IntervalS)
	}
	off := a.offsetS(p)
	today, _ := dayOf(snap.MarketTime, off)
	var errs []error
	for _, d := range []int64{today, today + 86400} {
		if _, ok := a.days[d]; ok || snap.MarketTime < d-a.PlanAheadS {
			continue
		}
		if err := a.planDay(ctx, snap, d); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range snap.DR {
		if err := a.answer(ctx, snap, r); err != nil {
			errs = append(errs, err)
		}
	}
	if err := a.switchRelays(ctx, snap); err != nil {
		errs = append(errs, err)
	}
	a.learn(snap)
	if err := a.placeOrders(ctx, snap); err != nil {
		errs = append(errs, err)
	}
	// Forget days long gone.
	a.mu.Lock()
	for d := range a.days {
		if d < today-86400 {
			delete(a.days, d)
		}
	}
	a.mu.Unlock()
	for l := range a.ordered {
		if l < today-86400 {
			delete(a.ordered, l)
		}
	}
	return errors.Join(errs...)
}

// learn records the error of each interval it ordered in that the
// snapshot has the metered net of, and forgets what is older than
// ErrorWindowS.
func (a *Agent) learn(snap Snapshot) {
	for _, m := range snap.Metered {
		planned, ok := a.plannedWh[m.Start]
		if !ok {
			continue
		}
		if net, ok := m.NetWh[a.Home.Member]; ok {
			a.errWh[m.Start] = net - planned
			delete(a.plannedWh, m.Start)
		}
	}
	for _, h := range []map[int64]int64{a.plannedWh, a.errWh} {
		for start := range h {
			if start < snap.MarketTime-ErrorWindowS {
				delete(h, start)
			}
		}
	}
}

// ErrorsWh are the agent's recent errors (metered minus planned net
// import, Wh), by interval start: the sample its orders are sized for.
// Not while a Step runs.
func (a *Agent) ErrorsWh() map[int64]int64 {
	return maps.Clone(a.errWh)
}

// mcps are the recent clearing prices, oldest first.
func mcps(ls []contract.ListingView) []*int64 {
	var out []*int64
	for _, l := range ls {
		if l.Clearing != nil {
			out = append(out, l.Clearing.MCP)
		}
	}
	return out
}

// site builds the planner's input for a day: the forecasts, the buy price
// (the grid tariff of each hour) and the sell price (what a surplus Wh is
// expected to fetch: the recent clearing price, at least the feed-in and
// at most the grid tariff).
func (a *Agent) site(snap Snapshot, dayStart int64) (plan.Site, error) {
	base, pv, err := a.Forecast(dayStart)
	if err != nil {
		return plan.Site{}, fmt.Errorf("agent %s: forecast: %w", a.Home.Member, err)
	}
	p := snap.Params
	ref, haveRef := bidding.Reference(mcps(snap.Listings))
	s := plan.Site{BaseWh: base[:], PVWh: pv[:], PeakImportWh: a.Home.PeakImportWh,
		BuyMicroPerKWh: make([]int64, plan.HoursPerDay), SellMicroPerKWh: make([]int64, plan.HoursPerDay)}
	for h := range plan.HoursPerDay {
		th := p.TariffHour(dayStart + int64(h)*3600)
		grid, feed := p.GridPricePerKWh[th], p.FeedInPerKWh[th]
		s.BuyMicroPerKWh[h], s.SellMicroPerKWh[h] = grid, feed
		if haveRef {
			s.SellMicroPerKWh[h] = max(feed, min(ref, grid))
		}
	}
	if b := a.Home.Battery; b != nil {
		pb := b.Plan(a.batterySoCAt(snap, dayStart))
		s.Battery = &pb
	}
	s.Appliances = []plan.Appliance{}
	a.mu.Lock()
	for _, ap := range a.Home.PlanAppliances() {
		if !a.excluded[ap.Name] {
			s.Appliances = append(s.Appliances, ap)
		}
	}
	a.mu.Unlock()
	return s, nil
}

// SetAppliance includes (on) or excludes a home appliance from the days
// the agent plans from now on; a day already planned keeps its plan. An
// excluded appliance's relay is switched off once its day comes.
func (a *Agent) SetAppliance(name string, on bool) error {
	if !slices.ContainsFunc(a.Home.Appliances, func(ap Appliance) bool { return ap.Name == name }) {
		return fmt.Errorf("agent %s: no appliance %q", a.Home.Member, name)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.excluded == nil {
		a.excluded = map[string]bool{}
	}
	if on {
		delete(a.excluded, name)
	} else {
		a.excluded[name] = true
	}
	return nil
}

// Appliances says, for each home appliance, whether the next plan
// includes it.
func (a *Agent) Appliances() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]bool, len(a.Home.Appliances))
	for _, ap := range a.Home.Appliances {
		out[ap.Name] = !a.excluded[ap.Name]
	}
	return out
}

func (a *Agent) planDay(ctx context.Context, snap Snapshot, dayStart int64) error {
	s, err := a.site(snap, dayStart)
	if err != nil {
		return err
	}
	r, err := plan.Plan(s)
	if err != nil {
		// A day no plan fits (a peak limit too tight for the forecast):
		// run without the flexible appliances rather than not at all.
		a.Log.Warn("no plan fits the day; planning without appliances", "member", a.Home.Member, "day", dayStart, "err", err)
		s.Appliances, s.PeakImportWh = nil, nil
		if r, err = plan.Plan(s); err != nil {
			return err
		}
	}
	d := &Day{Start: dayStart, Site: s, Committed: r, Current: r}
	a.mu.Lock()
	a.days[dayStart] = d
	a.mu.Unlock()
	// Commit the hours still to come as the DR baseline.
	flex := dr.FlexWh(s, r)
	first := 0
	for first < plan.HoursPerDay && dayStart+int64(first)*3600 <= snap.MarketTime {
		first++
	}
	if first == plan.HoursPerDay {
		return nil
	}
	msg := &contract.MsgPlan{Start: dayStart + int64(first)*3600, NetWh: slices.Clone(r.NetWh[first:]), FlexWh: slices.Clone(flex[first:])}
	if b := r.Battery; b != nil {
		msg.BatteryWh = make([]int64, 0, plan.HoursPerDay-first)
		for h := first; h < plan.HoursPerDay; h++ {
			msg.BatteryWh = append(msg.BatteryWh, b.ChargeWh[h]-b.DischargeWh[h])
		}
		msg.BatterySoCWh = slices.Clone(b.SoCWh[first:])
	}
	if err := a.send(ctx, msg); err != nil {
		return fmt.Errorf("agent %s: commit plan: %w", a.Home.Member, err)
	}
	if r.Approximate {
		a.Log.Warn("day planned approximately: the exact search ran out of steps", "member", a.Home.Member, "day", dayStart)
	}
	a.Log.Info("day planned", "member", a.Home.Member, "day", dayStart, "cost", r.CostNano, "peak_import_wh", r.PeakImportWh)
	return nil
}

// answer responds to a demand-response request once.
func (a *Agent) answer(ctx context.Context, snap Snapshot, r contract.DRRequest) error {
	if a.answered[r.ID] || r.State != contract.DROpen || snap.MarketTime >= r.Start {
		return nil
	}
	a.answered[r.ID] = true
	if r.Feeder != "" && r.Feeder != a.Home.Feeder {
		return nil
	}
	share, ok := r.Target(a.Home.Member)
	if !ok {
		return nil
	}
	off := a.offsetS(snap.Params)
	dayStart, _ := dayOf(r.Start, off)
	d, planned := a.days[dayStart]
	if !planned || snap.MarketTime >= dayStart {
		a.Log.Info("demand response not answered: its day is not planned ahead or has begun", "member", a.Home.Member, "request", r.ID)
		return nil
	}
	inc := d.Incentive
	n := int((r.End - r.Start) / r.IntervalS)
	for i := range n {
		if ds, h := dayOf(r.Start+int64(i)*r.IntervalS, off); ds == dayStart {
			inc[h] += r.IncentivePerKWh
		}
	}
	resp, err := dr.Respond(d.Site, inc)
	if err != nil {
		return fmt.Errorf("agent %s: demand response %s: %w", a.Home.Member, r.ID, err)
	}
	promised := make([]int64, n)
	var total int64
	for i := range n {
		ds, h := dayOf(r.Start+int64(i)*r.IntervalS, off)
		if ds != dayStart {
			continue
		}
		promised[i] = max(0, min(share, d.Committed.NetWh[h]-resp.WithDR.NetWh[h]-d.PromisedWh[h]))
		total += promised[i]
	}
	if total == 0 {
		a.Log.Info("demand response: nothing to give", "member", a.Home.Member, "request", r.ID)
		return nil
	}
	if err := a.send(ctx, &contract.MsgDRCommit{Request: r.ID, ReductionWh: promised}); err != nil {
		return fmt.Errorf("agent %s: commit to %s: %w", a.Home.Member, r.ID, err)
	}
	a.mu.Lock()
	for i := range n {
		if ds, h := dayOf(r.Start+int64(i)*r.IntervalS, off); ds == dayStart {
			d.PromisedWh[h] += promised[i]
		}
	}
	d.Incentive, d.Current = inc, resp.WithDR
	a.mu.Unlock()
	a.Log.Info("demand response committed", "member", a.Home.Member, "request", r.ID, "promised_wh", total, "incentive", resp.IncentiveNano)
	return nil
}

// switchRelays sets each switchable appliance to what the plan being
// followed says for the hour in progress, sending only changes.
func (a *Agent) switchRelays(ctx context.Context, snap Snapshot) error {
	start, h := dayOf(snap.MarketTime, a.offsetS(snap.Params))
	d, ok := a.days[start]
	if !ok {
		return nil
	}
	var errs []error
	for _, ap := range a.Home.Appliances {
		if ap.Relay == "" {
			continue
		}
		// The day's plan may lack it (excluded, or planned without
		// appliances): then it stays off.
		on := false
		if j := slices.IndexFunc(d.Site.Appliances, func(p plan.Appliance) bool { return p.Name == ap.Name }); j >= 0 {
			pl := d.Current.Appliances[j]
			on = slices.Contains(pl.Hours, h) || (pl.WhByHour != nil && pl.WhByHour[h] > 0)
		}
		if was, known := a.relay[ap.Relay]; known && was == on {
			continue
		}
		if a.Relays == nil {
			// No MQTT connection: say what the home should do by hand.
			a.relay[ap.Relay] = on
			a.Log.Info("relay not connected; switch by hand", "member", a.Home.Member, "appliance", ap.Name, "device", ap.Relay, "on", on, "hour", h)
			continue
		}
		if err := a.Relays.SwitchRelay(ctx, ap.Relay, on); err != nil {
			errs = append(errs, fmt.Errorf("agent %s: relay %s: %w", a.Home.Member, ap.Relay, err))
			continue
		}
		a.relay[ap.Relay] = on
		a.Log.Info("relay switched", "member", a.Home.Member, "appliance", ap.Name, "device", ap.Relay, "on", on, "hour", h)
	}
	return errors.Join(errs...)
}

func (a *Agent) placeOrders(ctx context.Context, snap Snapshot) error {
	hist := mcps(snap.Listings)
	off := a.offsetS(snap.Params)
	var sample []int64 // its order does not matter (the quantiles sort it)
	for _, start := range slices.Sorted(maps.Keys(a.errWh)) {
		sample = append(sample, a.errWh[start])
	}
	var errs []error
	for _, l := range snap.Listings {
		if l.State != contract.StateAuthorizeOffers || a.ordered[l.Start] || l.GateClosure <= snap.MarketTime ||
			l.GateClosure-snap.MarketTime > a.LeadIntervals*(l.End-l.Start) {
			continue
		}
		a.ordered[l.Start] = true
		ds, h := dayOf(l.Start, off)
		d, ok := a.days[ds]
		if !ok {
			continue
		}
		capWh := a.Home.CapacityW * (l.End - l.Start) / 3600
		margin := int64(bidding.DefaultMarginPermille)
		if a.Home.BidMarginPermille != nil {
			margin = *a.Home.BidMarginPermille
		}
		var o bidding.Order
		if a.TrueNetWh != nil {
			net, sells := orderable(a.TrueNetWh(l.Start), d.Current, h)
			if !sells {
				continue
			}
			o, ok = bidding.ForInterval(net, a.Home.RES != "", capWh, l.GridPricePerKWh, l.FeedInPerKWh, hist, margin)
		} else {
			a.plannedWh[l.Start] = d.Current.NetWh[h]
			net, sells := orderable(d.Current.NetWh[h], d.Current, h)
			if !sells {
				continue
			}
			o, ok = bidding.RiskAware(bidding.Input{PlannedWh: net, ErrorsWh: sample, Rule: l.Imbalance,
				HasRES: a.Home.RES != "", CapacityWh: capWh, GridPerKWh: l.GridPricePerKWh, FeedInPerKWh: l.FeedInPerKWh,
				RecentMCP: hist, MarginPermille: margin})
		}
		if !ok {
			continue
		}
		var msg contract.Msg = &contract.MsgBid{Listing: l.Start, Wh: o.Wh, PricePerKWh: o.PricePerKWh}
		if o.Side == contract.SideOffer {
			msg = &contract.MsgOffer{Listing: l.Start, RES: a.Home.RES, Wh: o.Wh, PricePerKWh: o.PricePerKWh}
		}
		if err := a.send(ctx, msg); err != nil {
			errs = append(errs, fmt.Errorf("agent %s: order for %d: %w", a.Home.Member, l.Start, err))
		}
	}
	return errors.Join(errs...)
}

// orderable is the net import an order is placed for in hour h of plan
// r, from the expected net netWh: a surplus only beyond what the battery
// is planned to discharge (the ledger counts the battery's discharge as
// the first of the export, and no token comes of it), and false when the
// whole surplus is the battery's: no order then, its export goes to the
// pool or the feed-in.
func orderable(netWh int64, r plan.Result, h int) (int64, bool) {
	if netWh >= 0 || r.Battery == nil || r.Battery.DischargeWh[h] == 0 {
		return netWh, true
	}
	if net := netWh + r.Battery.DischargeWh[h]; net < 0 {
		return net, true
	}
	return 0, false
}

// send signs a message with the home's key and hands it to the ledger.
func (a *Agent) send(ctx context.Context, msg contract.Msg) error {
	return a.Ledger.Send(ctx, a.Key, msg)
}

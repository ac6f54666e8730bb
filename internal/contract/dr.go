package contract

import (
	"slices"
	"strconv"

	"github.com/gridledger/gridledger/internal/market"
)

// Demand response (SYSTEM.md part 6–7, seed §4.2 and Figure 8), as a paid
// object verified against the meters:
//
//  1. Each member's EMS commits its plan: the net import (import − export,
//     Wh) it expects for each coming interval, and the flexibility it
//     could still give (Wh it could shed or shift). A plan can be replaced
//     until a demand-response request covers its interval; from then on
//     it is frozen, so the baseline a reduction is measured against was
//     fixed before the member knew of the request.
//  2. The DSO posts a request: intervals, the feeder (or the whole
//     community), the reduction wanted in W, the incentive per kWh and,
//     optionally, the members it targets with their share (ranked by the
//     flexibility their plans leave). The whole incentive budget moves to
//     the DSO's escrow.
//  3. Members in scope commit the reduction they promise per interval,
//     before the first interval starts. The commit copies their plan as
//     the baseline.
//  4. At each interval's settlement, for every commit: verified =
//     min(promised, target share, baseline − metered net), not below 0,
//     and 0 when one of the member's meters is missing (its energy would
//     land in a later interval). The incentive for the verified Wh moves
//     from the DSO's escrow to the member, the interval's payments
//     together never above the reduction requested. After the last
//     interval the rest of the escrow goes back to the DSO.

// DRState is a demand-response request's phase.
type DRState string

// The phases of a request.
const (
	// DROpen: members may commit, until the first interval starts.
	DROpen DRState = "open"
	// DRActive: the intervals are being delivered and settled.
	DRActive DRState = "active"
	// DRDone: every interval is settled and the escrow returned.
	DRDone DRState = "done"
)

// Limits on plans and requests.
const (
	// MaxPlanIntervals bounds one plan message (two days of hours).
	MaxPlanIntervals = 48
	// MaxDRIntervals bounds one request (a day of hours).
	MaxDRIntervals = 24
	// MaxDRTargets bounds the members one request names: 64 targets with
	// the longest ids still fit a transaction (MaxTxBytes). A DSO wanting
	// more sends a request per feeder.
	MaxDRTargets = 64
)

// PlanEntry is a member's committed plan for one interval.
type PlanEntry struct {
	Member string `json:"member"`
	Start  int64  `json:"start"`
	// NetWh is the planned import minus export; FlexWh what the plan
	// could still reduce it by.
	NetWh  int64 `json:"net_wh"`
	FlexWh int64 `json:"flex_wh"`
	// BatteryWh and BatterySoCWh are the battery's planned energy (grid
	// side, charged positive) and state of charge at the interval's end,
	// for a home with a battery (MsgPlan). HasBattery says the plan gave
	// them: zeros are then an idle, empty battery, not a plan without one.
	BatteryWh    int64 `json:"battery_wh,omitempty"`
	BatterySoCWh int64 `json:"battery_soc_wh,omitempty"`
	HasBattery   bool  `json:"has_battery,omitempty"`
	Height       int64 `json:"height"`
}

// DRTarget is a member a request names, with its share per interval.
type DRTarget struct {
	Member      string `json:"member"`
	ReductionWh int64  `json:"reduction_wh"`
}

// DRRequest is a demand-response request and what came of it. Its
// money's JSON tags (here, in DRCommit and in DRPayment) lack the unit the
// field name carries: see Units in the package doc.
type DRRequest struct {
	ID     string `json:"id"`
	DSO    string `json:"dso"`
	Height int64  `json:"height"`
	// Intervals are [Start, End) in steps of IntervalS.
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	IntervalS int64  `json:"interval_s"`
	Feeder    string `json:"feeder,omitempty"`
	// ReductionW is the reduction asked; ReductionWh the same per interval.
	ReductionW      int64      `json:"reduction_w"`
	ReductionWh     int64      `json:"reduction_wh"`
	IncentivePerKWh int64      `json:"incentive"`
	Targets         []DRTarget `json:"targets,omitempty"`
	// BudgetNano was escrowed from the DSO; PaidNano has gone to members.
	BudgetNano int64   `json:"budget"`
	PaidNano   int64   `json:"paid"`
	State      DRState `json:"state"`
	// Commits by member; Settled counts intervals settled.
	Commits map[string]*DRCommit `json:"commits"`
	Settled int                  `json:"settled"`
}

// DRCommit is one member's promise and its verification, per interval.
type DRCommit struct {
	Member      string  `json:"member"`
	Height      int64   `json:"height"`
	PromisedWh  []int64 `json:"promised_wh"`
	BaselineWh  []int64 `json:"baseline_wh"`
	MeteredWh   []int64 `json:"metered_wh"`
	VerifiedWh  []int64 `json:"verified_wh"`
	PaidNano    int64   `json:"paid"`
	MissingData []bool  `json:"missing_data"`
}

// DRPayment is a settlement's record of one member's verified reduction.
type DRPayment struct {
	Request    string `json:"request"`
	Member     string `json:"member"`
	BaselineWh int64  `json:"baseline_wh"`
	MeteredWh  int64  `json:"metered_wh"`
	PromisedWh int64  `json:"promised_wh"`
	VerifiedWh int64  `json:"verified_wh"`
	PaidNano   int64  `json:"paid"`
	// Missing: a meter of the member had no reading in the interval.
	Missing bool `json:"missing,omitempty"`
}

// intervals is how many intervals a request covers.
func (r *DRRequest) intervals() int { return int((r.End - r.Start) / r.IntervalS) }

// covers reports the index of the interval starting at start, if any.
func (r *DRRequest) covers(start int64) (int, bool) {
	if start < r.Start || start >= r.End || (start-r.Start)%r.IntervalS != 0 {
		return 0, false
	}
	return int((start - r.Start) / r.IntervalS), true
}

// Target is the member's share of the reduction per interval, or false
// if the request names other members.
func (r *DRRequest) Target(member string) (int64, bool) {
	if len(r.Targets) == 0 {
		return r.ReductionWh, true
	}
	for _, t := range r.Targets {
		if t.Member == member {
			return t.ReductionWh, true
		}
	}
	return 0, false
}

// frozen returns the first interval in [from, to) a live request covers,
// and the request.
func (s *State) frozen(from, to int64) (int64, string, bool) {
	for _, id := range s.liveDR {
		if r := s.dr[id]; r.Start < to && from < r.End {
			return max(from, r.Start), id, true
		}
	}
	return 0, "", false
}

func (s *State) plan(signer *Participant, m *MsgPlan) ([]Event, error) {
	if err := requireRole(signer, RoleMember); err != nil {
		return nil, err
	}
	iv := s.params.IntervalS
	if m.Start%iv != 0 {
		return nil, errf(ErrBadQuantity, "plan start %d is not on an interval boundary (%d s)", m.Start, iv)
	}
	if m.Start <= s.marketTime {
		return nil, errf(ErrGateClosed, "interval %d has begun (market time %d): plans are for coming intervals", m.Start, s.marketTime)
	}
	if start, id, ok := s.frozen(m.Start, m.Start+int64(len(m.NetWh))*iv); ok {
		return nil, errf(ErrPlanFrozen, "interval %d is under demand-response request %q", start, id)
	}
	for i, net := range m.NetWh {
		e := &PlanEntry{Member: signer.ID, Start: m.Start + int64(i)*iv, NetWh: net, Height: s.height}
		if m.FlexWh != nil {
			e.FlexWh = m.FlexWh[i]
		}
		if m.BatteryWh != nil {
			e.BatteryWh, e.BatterySoCWh, e.HasBattery = m.BatteryWh[i], m.BatterySoCWh[i], true
		}
		byMember := s.plans[e.Start]
		if byMember == nil {
			byMember = map[string]*PlanEntry{}
			s.plans[e.Start] = byMember
		}
		old, existed := byMember[signer.ID]
		if existed {
			s.touch(keyPlan(e.Start, signer.ID), old, true)
			*old = *e
		} else {
			byMember[signer.ID] = e
			s.touch(keyPlan(e.Start, signer.ID), e, false)
		}
	}
	return []Event{event("plan", "member", signer.ID, "start", i64(m.Start), "intervals", strconv.Itoa(len(m.NetWh)))}, nil
}

func (s *State) drRequest(signer *Participant, m *MsgDRRequest) ([]Event, error) {
	if err := requireRole(signer, RoleDSO); err != nil {
		return nil, err
	}
	if _, ok := s.dr[m.ID]; ok {
		return nil, errf(ErrDuplicate, "demand-response request %q", m.ID)
	}
	iv := s.params.IntervalS
	if m.Start%iv != 0 {
		return nil, errf(ErrBadQuantity, "start %d is not on an interval boundary (%d s)", m.Start, iv)
	}
	if m.Start <= s.marketTime {
		return nil, errf(ErrGateClosed, "interval %d has begun (market time %d): a request must come before it", m.Start, s.marketTime)
	}
	for _, t := range m.Targets {
		p, ok := s.participants[t.Member]
		if !ok {
			return nil, errf(ErrUnknownParticipant, "target %q", t.Member)
		}
		if p.Role != RoleMember {
			return nil, errf(ErrWrongRole, "target %q is %s, not a member", p.ID, p.Role)
		}
		if m.Feeder != "" && p.Feeder != m.Feeder {
			return nil, errf(ErrNotInScope, "target %q is on feeder %q, the request is for %q", p.ID, p.Feeder, m.Feeder)
		}
	}
	perInterval := m.ReductionW * iv / 3600
	if perInterval <= 0 {
		return nil, errf(ErrBadQuantity, "%d W over %d s is less than 1 Wh", m.ReductionW, iv)
	}
	var shares int64
	for _, t := range m.Targets {
		shares += t.ReductionWh
	}
	if shares > perInterval {
		return nil, errf(ErrBadQuantity, "targets' shares add up to %d Wh per interval, more than the %d Wh requested", shares, perInterval)
	}
	per, err := valueOf(perInterval, m.IncentivePerKWh)
	if err != nil {
		return nil, err
	}
	budget := per * int64(m.Intervals)
	if signer.Balance < budget {
		return nil, errf(ErrInsufficientFunds, "the incentive budget is %d, the balance %d", budget, signer.Balance)
	}
	s.touch(keyParticipant(signer.ID), signer, true)
	signer.Balance -= budget
	signer.Escrow += budget
	r := &DRRequest{
		ID: m.ID, DSO: signer.ID, Height: s.height,
		Start: m.Start, End: m.Start + int64(m.Intervals)*iv, IntervalS: iv, Feeder: m.Feeder,
		ReductionW: m.ReductionW, ReductionWh: perInterval, IncentivePerKWh: m.IncentivePerKWh,
		Targets: slices.Clone(m.Targets), BudgetNano: budget, State: DROpen, Commits: map[string]*DRCommit{},
	}
	s.dr[r.ID] = r
	s.addLiveDR(r.ID)
	s.touch(keyDR(r.ID), r, false)
	return []Event{event("DemandResponseRequest", "id", r.ID, "start", i64(r.Start), "end", i64(r.End),
		"feeder", r.Feeder, "reduction_w", i64(r.ReductionW), "incentive", i64(r.IncentivePerKWh),
		"targets", strconv.Itoa(len(r.Targets)), "budget", i64(budget))}, nil
}

func (s *State) drCommit(signer *Participant, m *MsgDRCommit) ([]Event, error) {
	if err := requireRole(signer, RoleMember); err != nil {
		return nil, err
	}
	r, ok := s.dr[m.Request]
	if !ok {
		return nil, errf(ErrUnknownDR, "%q", m.Request)
	}
	if r.State != DROpen || s.marketTime >= r.Start {
		return nil, errf(ErrGateClosed, "request %q started at %d: commits are taken before", r.ID, r.Start)
	}
	if r.Feeder != "" && signer.Feeder != r.Feeder {
		return nil, errf(ErrNotInScope, "%q is on feeder %q, the request is for %q", signer.ID, signer.Feeder, r.Feeder)
	}
	if _, ok := r.Target(signer.ID); !ok {
		return nil, errf(ErrNotInScope, "request %q names other members", r.ID)
	}
	n := r.intervals()
	if len(m.ReductionWh) != n {
		return nil, errf(ErrBadQuantity, "%d reductions for a request of %d intervals", len(m.ReductionWh), n)
	}
	c := &DRCommit{Member: signer.ID, Height: s.height, PromisedWh: slices.Clone(m.ReductionWh),
		BaselineWh: make([]int64, n), MeteredWh: make([]int64, n), VerifiedWh: make([]int64, n), MissingData: make([]bool, n)}
	for i := range n {
		start := r.Start + int64(i)*r.IntervalS
		// A plan for a covered interval cannot change after the request
		// (it is frozen), so whatever plan is here was made before it.
		e := s.plans[start][signer.ID]
		if e == nil {
			return nil, errf(ErrNoPlan, "%q committed no plan for interval %d before request %q", signer.ID, start, r.ID)
		}
		c.BaselineWh[i] = e.NetWh
	}
	s.touch(keyDR(r.ID), r, true)
	r.Commits[signer.ID] = c
	return []Event{event("DemandResponseCommit", "request", r.ID, "member", signer.ID,
		"promised_wh", i64(sum(c.PromisedWh)))}, nil
}

// valueOf is Wh × price per kWh in nano-units, refused when out of range.
func valueOf(wh, pricePerKWh int64) (int64, error) {
	v, err := market.Value(wh, pricePerKWh)
	if err != nil {
		return 0, errf(ErrBadQuantity, "%d Wh at %d per kWh: %v", wh, pricePerKWh, err)
	}
	return v, nil
}

func sum(v []int64) int64 {
	var t int64
	for _, x := range v {
		t = satAdd(t, x)
	}
	return t
}

// closeDR moves requests whose first interval has begun out of DROpen.
// They stay live (plans frozen) until every interval is settled.
func (s *State) closeDR() {
	for _, id := range s.liveDR {
		if r := s.dr[id]; r.State == DROpen && s.marketTime >= r.Start {
			s.touch(keyDR(id), r, true)
			r.State = DRActive
		}
	}
}

// settleDR pays the verified reductions of the interval settled in st and
// drops the interval's plans. members holds the metered energy per member.
func (s *State) settleDR(st *Settlement, members map[string]*MemberSettlement) {
	for _, member := range sortedKeys(s.plans[st.Start]) {
		s.remove(keyPlan(st.Start, member), s.plans[st.Start][member])
	}
	delete(s.plans, st.Start)
	var missing, reported map[string]bool // built for the first request covering the interval
	var done []string
	for _, id := range s.liveDR {
		r := s.dr[id]
		i, ok := r.covers(st.Start)
		if !ok {
			continue
		}
		if missing == nil {
			missing, reported = s.reportingOwners(st)
		}
		s.touch(keyDR(id), r, true)
		dso := s.participants[r.DSO]
		left := r.ReductionWh
		for _, member := range sortedKeys(r.Commits) {
			c := r.Commits[member]
			var net int64
			if ms := members[member]; ms != nil {
				net = ms.ImportWh - ms.ExportWh
			}
			share, _ := r.Target(member)
			c.MeteredWh[i] = net
			c.MissingData[i] = missing[member] || !reported[member]
			verified := max(0, min(c.PromisedWh[i], share, left, c.BaselineWh[i]-net))
			if c.MissingData[i] {
				verified = 0
			}
			paid := cappedValue(verified, r.IncentivePerKWh)
			paid = min(paid, r.BudgetNano-r.PaidNano)
			left -= verified
			c.VerifiedWh[i] = verified
			if p := s.participants[member]; p != nil && paid > 0 {
				s.touch(keyParticipant(dso.ID), dso, true)
				s.touch(keyParticipant(p.ID), p, true)
				dso.Escrow -= paid
				p.Balance += paid
				c.PaidNano += paid
				r.PaidNano += paid
			}
			st.DR = append(st.DR, DRPayment{Request: id, Member: member, BaselineWh: c.BaselineWh[i], MeteredWh: net,
				PromisedWh: c.PromisedWh[i], VerifiedWh: verified, PaidNano: paid, Missing: c.MissingData[i]})
			if ms := members[member]; ms != nil {
				ms.DRVerifiedWh += verified
				ms.DRIncentiveNano += paid
			}
		}
		if r.Settled++; r.Settled == r.intervals() {
			rest := r.BudgetNano - r.PaidNano
			s.touch(keyParticipant(dso.ID), dso, true)
			dso.Escrow -= rest
			dso.Balance += rest
			r.State = DRDone
			done = append(done, id)
			s.blockEvents = append(s.blockEvents, event("DemandResponseDone", "id", id,
				"paid", i64(r.PaidNano), "refunded", i64(rest)))
		}
	}
	s.liveDR = slices.DeleteFunc(s.liveDR, func(id string) bool { return slices.Contains(done, id) })
}

// reportingOwners are the members with a meter missing from a settlement,
// and those with a meter in it. A member's reduction is verified only when
// all its meters reported: a missing meter's energy would count in a
// later interval.
func (s *State) reportingOwners(st *Settlement) (missing, reported map[string]bool) {
	missing, reported = map[string]bool{}, map[string]bool{}
	for _, id := range st.Missing {
		if mt := s.meters[id]; mt != nil {
			missing[mt.Owner] = true
		}
	}
	for _, ir := range st.Readings {
		reported[s.meters[ir.Meter].Owner] = true
	}
	return missing, reported
}

// DR returns a demand-response request.
func (s *State) DR(id string) (DRRequest, bool) {
	r, ok := s.dr[id]
	if !ok {
		return DRRequest{}, false
	}
	return cloneDR(r), true
}

// addLiveDR records a request not yet done in liveDR, in id order.
func (s *State) addLiveDR(id string) {
	i, _ := slices.BinarySearch(s.liveDR, id)
	s.liveDR = slices.Insert(s.liveDR, i, id)
}

// LiveDRs returns the requests not yet done (open, or active until their
// last interval settles), by id: what an EMS answers or follows, without
// copying the history of every request ever made.
func (s *State) LiveDRs() []DRRequest {
	out := make([]DRRequest, 0, len(s.liveDR))
	for _, id := range s.liveDR {
		out = append(out, cloneDR(s.dr[id]))
	}
	return out
}

// DRs returns every request, by id.
func (s *State) DRs() []DRRequest {
	out := []DRRequest{}
	for _, id := range sortedKeys(s.dr) {
		out = append(out, cloneDR(s.dr[id]))
	}
	return out
}

// Plans returns the plans committed for the interval starting at start, by
// member.
func (s *State) Plans(start int64) []PlanEntry {
	out := []PlanEntry{}
	for _, id := range sortedKeys(s.plans[start]) {
		out = append(out, *s.plans[start][id])
	}
	return out
}

func cloneDR(r *DRRequest) DRRequest {
	c := *r
	c.Targets = slices.Clone(r.Targets)
	c.Commits = make(map[string]*DRCommit, len(r.Commits))
	for k, v := range r.Commits {
		cc := *v
		cc.PromisedWh, cc.BaselineWh = slices.Clone(v.PromisedWh), slices.Clone(v.BaselineWh)
		cc.MeteredWh, cc.VerifiedWh = slices.Clone(v.MeteredWh), slices.Clone(v.VerifiedWh)
		cc.MissingData = slices.Clone(v.MissingData)
		c.Commits[k] = &cc
	}
	return c
}

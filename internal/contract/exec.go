package contract

import (
	"math"
	"slices"
	"strconv"
)

// deliver applies one decoded transaction. verifiedKey, when verified is
// true, is the key a batch already checked the signature against.
//
// A transaction that fails its message checks changes nothing but its
// signer's nonce (and rate count): the nonce is spent so that a refused
// transaction cannot be replayed later, when it might succeed against the
// signer's intent.
func (s *State) deliver(tx *Tx, verifiedKey []byte, verified bool) TxResult {
	fail := func(err error) TxResult { return TxResult{Code: CodeOf(err), Log: err.Error()} }
	if tx.ChainID != s.info.ChainID {
		return fail(errf(ErrWrongChain, "chain %q, this is %q", tx.ChainID, s.info.ChainID))
	}
	signer, ok := s.participants[tx.Signer]
	if !ok {
		return fail(errf(ErrUnknownParticipant, "signer %q", tx.Signer))
	}
	if !(verified && string(verifiedKey) == string(signer.PubKey)) && !tx.Verify(signer.PubKey) {
		return fail(errf(ErrBadSignature, "not signed by %q's key", tx.Signer))
	}
	if err := signer.account().CheckReplay(tx); err != nil {
		return fail(err)
	}
	s.touch(keyParticipant(signer.ID), signer, true)
	signer.Nonce = tx.Nonce
	if signer.Suspended {
		return fail(errf(ErrSuspended, "%q", signer.ID))
	}
	if s.leaving(signer.ID) {
		return fail(errf(ErrSuspended, "%q is leaving the community: it signs nothing more", signer.ID))
	}
	if signer.Role == RoleMember {
		window := s.marketTime / s.params.IntervalS
		if signer.RateWindow != window {
			signer.RateWindow, signer.RateCount = window, 0
		}
		if signer.RateCount >= s.params.MaxTxPerInterval {
			return fail(errf(ErrRateLimited, "%d transactions this interval, limit %d", signer.RateCount, s.params.MaxTxPerInterval))
		}
		signer.RateCount++
	}
	ev, err := s.apply(signer, tx)
	if err != nil {
		return fail(err)
	}
	return TxResult{Code: CodeOK, Events: ev}
}

func requireRole(p *Participant, r Role) error {
	if p.Role != r {
		return errf(ErrWrongRole, "%q is %s, this needs the %s", p.ID, p.Role, r)
	}
	return nil
}

func (s *State) participant(id string) (*Participant, error) {
	p, ok := s.participants[id]
	if !ok {
		return nil, errf(ErrUnknownParticipant, "%q", id)
	}
	return p, nil
}

func (s *State) registerParticipant(signer *Participant, m *MsgRegisterParticipant) ([]Event, error) {
	if err := requireRole(signer, RoleOperator); err != nil {
		return nil, err
	}
	if _, ok := s.participants[m.ID]; ok {
		return nil, errf(ErrDuplicate, "participant %q", m.ID)
	}
	if m.Role == RoleValidator {
		return nil, errf(ErrWrongRole, "validators join by a governance proposal (%s), not by the operator", ActionAddValidator)
	}
	p := &Participant{ID: m.ID, EmailHash: m.EmailHash, Role: m.Role, NodeType: m.NodeType, PubKey: m.PubKey, Feeder: m.Feeder, Registered: s.height}
	s.participants[p.ID] = p
	s.touch(keyParticipant(p.ID), p, false)
	return []Event{event("participant_registered", "id", p.ID, "role", string(p.Role), "node_type", string(p.NodeType))}, nil
}

func (s *State) setSuspended(signer *Participant, m *MsgSetSuspended, suspend bool) ([]Event, error) {
	if err := requireRole(signer, RoleOperator); err != nil {
		return nil, err
	}
	p, err := s.participant(m.ID)
	if err != nil {
		return nil, err
	}
	if p.ID == signer.ID {
		return nil, errf(ErrWrongRole, "an operator cannot suspend or reinstate itself")
	}
	if p.Suspended == suspend {
		return nil, errf(ErrDuplicate, "%q already has suspended=%v", p.ID, suspend)
	}
	s.touch(keyParticipant(p.ID), p, true)
	p.Suspended = suspend
	typ := "participant_reinstated"
	if suspend {
		typ = "participant_suspended"
	}
	return []Event{event(typ, "id", p.ID, "reason", m.Reason)}, nil
}

func (s *State) registerRES(signer *Participant, m *MsgRegisterRES) ([]Event, error) {
	if err := requireRole(signer, RoleMember); err != nil {
		return nil, err
	}
	if _, ok := s.res[m.ID]; ok {
		return nil, errf(ErrDuplicate, "RES %q", m.ID)
	}
	if _, ok := s.batteries[m.ID]; ok {
		return nil, errf(ErrDuplicate, "%q is a battery: assets share one namespace", m.ID)
	}
	r := &RES{ID: m.ID, Owner: signer.ID, Kind: m.Kind, CapacityW: m.CapacityW}
	s.res[r.ID] = r
	s.touch(keyRES(r.ID), r, false)
	return []Event{event("res_registered", "id", r.ID, "owner", r.Owner, "kind", r.Kind, "capacity_w", i64(r.CapacityW))}, nil
}

func (s *State) approveRES(signer *Participant, m *MsgApproveRES) ([]Event, error) {
	if err := requireRole(signer, RoleDSO); err != nil {
		return nil, err
	}
	r, ok := s.res[m.ID]
	if !ok {
		return nil, errf(ErrUnknownRES, "%q", m.ID)
	}
	if r.Approved {
		return nil, errf(ErrDuplicate, "RES %q is already approved", r.ID)
	}
	s.touch(keyRES(r.ID), r, true)
	r.Approved, r.ApprovedBy = true, signer.ID
	return []Event{event("res_approved", "id", r.ID, "dso", signer.ID)}, nil
}

func (s *State) registerMeter(signer *Participant, m *MsgRegisterMeter) ([]Event, error) {
	if err := requireRole(signer, RoleOperator); err != nil {
		return nil, err
	}
	if _, ok := s.meters[m.ID]; ok {
		return nil, errf(ErrDuplicate, "meter %q", m.ID)
	}
	if _, err := s.participant(m.Owner); err != nil {
		return nil, err
	}
	if m.RES != "" {
		r, ok := s.res[m.RES]
		if !ok {
			if _, isBattery := s.batteries[m.RES]; isBattery {
				return nil, errf(ErrBatteryNotRES, "%q is a battery: bind its meter with battery, its production mints nothing", m.RES)
			}
			return nil, errf(ErrUnknownRES, "%q", m.RES)
		}
		if r.Owner != m.Owner {
			return nil, errf(ErrNotOwner, "RES %q belongs to %q, not %q", r.ID, r.Owner, m.Owner)
		}
	}
	if _, ok := s.gateways[m.ID]; ok {
		return nil, errf(ErrDuplicate, "%q is a gateway", m.ID)
	}
	if m.Gateway != "" {
		if _, ok := s.gateways[m.Gateway]; !ok {
			return nil, errf(ErrUnknownMeter, "gateway %q", m.Gateway)
		}
	}
	if m.Battery != "" {
		if err := s.checkMeterBattery(m); err != nil {
			return nil, err
		}
	}
	mt := &Meter{ID: m.ID, Owner: m.Owner, PubKey: m.PubKey, Gateway: m.Gateway, RES: m.RES, Battery: m.Battery}
	s.meters[mt.ID] = mt
	s.touch(keyMeter(mt.ID), mt, false)
	kv := []string{"id", mt.ID, "owner", mt.Owner, "res", mt.RES}
	if mt.Battery != "" {
		kv = append(kv, "battery", mt.Battery)
	}
	return []Event{event("meter_registered", kv...)}, nil
}

func (s *State) rotateDeviceKey(signer *Participant, m *MsgRotateDeviceKey) ([]Event, error) {
	if err := requireRole(signer, RoleOperator); err != nil {
		return nil, err
	}
	if mt, ok := s.meters[m.ID]; ok {
		s.touch(keyMeter(mt.ID), mt, true)
		mt.PubKey, mt.Gateway = slices.Clone(m.PubKey), ""
		return []Event{event("device_key_rotated", "id", mt.ID, "kind", "meter")}, nil
	}
	if g, ok := s.gateways[m.ID]; ok {
		s.touch(keyGateway(g.ID), g, true)
		g.PubKey = slices.Clone(m.PubKey)
		return []Event{event("device_key_rotated", "id", g.ID, "kind", "gateway")}, nil
	}
	return nil, errf(ErrUnknownMeter, "no meter or gateway %q", m.ID)
}

func (s *State) issue(signer *Participant, m *MsgIssue) ([]Event, error) {
	if err := requireRole(signer, RoleOperator); err != nil {
		return nil, err
	}
	p, err := s.participant(m.To)
	if err != nil {
		return nil, err
	}
	if p.Balance > math.MaxInt64/2-m.Amount || s.info.Issued > math.MaxInt64-m.Amount {
		return nil, errf(ErrBadQuantity, "issuing %d would overflow", m.Amount)
	}
	s.touch(keyParticipant(p.ID), p, true)
	s.touch(keyInfo, &s.info, true)
	p.Balance += m.Amount
	s.info.Issued += m.Amount
	return []Event{event("issued", "to", p.ID, "amount", i64(m.Amount))}, nil
}

func (s *State) redeem(signer *Participant, m *MsgRedeem) ([]Event, error) {
	if err := requireRole(signer, RoleOperator); err != nil {
		return nil, err
	}
	p, err := s.participant(m.From)
	if err != nil {
		return nil, err
	}
	if p.Balance < m.Amount {
		return nil, errf(ErrInsufficientFunds, "%q has %d, redeeming %d", p.ID, p.Balance, m.Amount)
	}
	s.touch(keyParticipant(p.ID), p, true)
	s.touch(keyInfo, &s.info, true)
	p.Balance -= m.Amount
	s.info.Redeemed += m.Amount
	return []Event{event("redeemed", "from", p.ID, "amount", i64(m.Amount))}, nil
}

func (s *State) setParams(signer *Participant, m *MsgSetParams) ([]Event, error) {
	if err := requireRole(signer, RoleOperator); err != nil {
		return nil, err
	}
	if len(s.validators) > 1 {
		return nil, errf(ErrWrongRole, "the community has %d validators: its parameters change by a governance proposal (%s)", len(s.validators), ActionSetParams)
	}
	s.touch(keyParams, &s.params, true)
	s.params = m.Params
	return []Event{event("params_set", "mechanism", string(m.Params.Mechanism), "interval_s", i64(m.Params.IntervalS))}, nil
}

// openListing finds a listing that still takes orders.
func (s *State) openListing(start int64) (*Listing, error) {
	l, ok := s.listings[start]
	if !ok {
		return nil, errf(ErrUnknownListing, "no listing starts at %d", start)
	}
	if l.State != StateAuthorizeOffers {
		return nil, errf(ErrGateClosed, "listing %d closed at %d", start, l.GateClosure)
	}
	return l, nil
}

func (s *State) addOrder(l *Listing, o *Order) {
	s.touch(keyListing(l.Start), l, true)
	o.Listing, o.Seq, o.Height = l.Start, l.Orders, s.height
	l.Orders++
	l.addDerived(o)
	s.orders[o.ID] = o
	s.touch(keyOrder(o), o, false)
}

func (s *State) offer(signer *Participant, nonce uint64, m *MsgOffer) ([]Event, error) {
	if err := requireRole(signer, RoleMember); err != nil {
		return nil, err
	}
	l, err := s.openListing(m.Listing)
	if err != nil {
		return nil, err
	}
	r, ok := s.res[m.RES]
	if !ok {
		if _, isBattery := s.batteries[m.RES]; isBattery {
			return nil, errf(ErrBatteryNotRES, "%q is a battery: its export is settled as non-renewable (feed-in or the pool); offers sell RES production", m.RES)
		}
		return nil, errf(ErrUnknownRES, "%q", m.RES)
	}
	if r.Owner != signer.ID {
		return nil, errf(ErrNotOwner, "RES %q belongs to %q", r.ID, r.Owner)
	}
	if !r.Approved {
		return nil, errf(ErrRESNotApproved, "%q", r.ID)
	}
	if l.bidders[signer.ID] > 0 {
		return nil, errf(ErrDuplicate, "%q already bids in listing %d: one side per listing", signer.ID, l.Start)
	}
	capWh := r.CapacityW * (l.End - l.Start) / 3600
	if l.resOffered[r.ID]+m.Wh > capWh {
		return nil, errf(ErrAboveCapacity, "RES %q can make %d Wh in the interval; %d offered already, %d more asked", r.ID, capWh, l.resOffered[r.ID], m.Wh)
	}
	o := &Order{ID: orderID(signer.ID, nonce), Side: SideOffer, Participant: signer.ID, RES: r.ID, Wh: m.Wh, PricePerKWh: m.PricePerKWh}
	s.addOrder(l, o)
	return []Event{orderEvent("RESOffer", o)}, nil
}

func (s *State) bid(signer *Participant, nonce uint64, m *MsgBid) ([]Event, error) {
	if err := requireRole(signer, RoleMember); err != nil {
		return nil, err
	}
	l, err := s.openListing(m.Listing)
	if err != nil {
		return nil, err
	}
	if l.sellers[signer.ID] > 0 {
		return nil, errf(ErrDuplicate, "%q already offers in listing %d: one side per listing", signer.ID, l.Start)
	}
	v := mustValue(m.Wh, m.PricePerKWh) // both bounded by ValidateBasic
	if signer.Balance < v {
		return nil, errf(ErrInsufficientFunds, "bid escrows %d, %q has %d", v, signer.ID, signer.Balance)
	}
	o := &Order{ID: orderID(signer.ID, nonce), Side: SideBid, Participant: signer.ID, Wh: m.Wh, PricePerKWh: m.PricePerKWh, Escrow: v}
	signer.Balance -= v // signer already touched by deliver
	signer.Escrow += v
	s.addOrder(l, o)
	return []Event{orderEvent("BuyOffer", o)}, nil
}

func (s *State) cancel(signer *Participant, m *MsgCancel) ([]Event, error) {
	o, ok := s.orders[m.Order]
	if !ok || o.Cancelled {
		return nil, errf(ErrUnknownOrder, "no live order %q", m.Order)
	}
	if o.Participant != signer.ID {
		return nil, errf(ErrNotOwner, "order %q is %q's", o.ID, o.Participant)
	}
	l, err := s.openListing(o.Listing)
	if err != nil {
		return nil, err
	}
	s.touch(keyOrder(o), o, true)
	o.Cancelled = true
	if o.Side == SideBid {
		signer.Balance += o.Escrow
		signer.Escrow -= o.Escrow
		o.Escrow = 0
		l.bidders[signer.ID]--
	} else {
		l.sellers[signer.ID]--
		l.resOffered[o.RES] -= o.Wh
	}
	return []Event{event("order_cancelled", "order", o.ID, "listing", i64(l.Start))}, nil
}

func orderEvent(typ string, o *Order) Event {
	return event(typ, "order", o.ID, "listing", i64(o.Listing), "participant", o.Participant,
		"wh", i64(o.Wh), "price", i64(o.PricePerKWh), "seq", strconv.FormatInt(o.Seq, 10))
}

package contract

import (
	"strconv"
	"strings"
)

// A member leaves the community (SYSTEM.md part 6; docs/privacy.md, "A
// member leaves"): the member itself (`leave`) or the operator
// (`offboard`, e.g. for a GDPR erasure request) sends MsgOffboard. From
// that block on the member places no orders or plans: its live orders are
// cancelled and their escrow refunded. Its meters go on reporting until
// every interval up to the one it left in, and every interval it traded
// in, is settled. Then, in the block that settles the last of them, the
// departure completes: its debts are paid as far as its balance goes, the
// rest of its balance is paid out (redeemed: the operator pays it in real
// money), its meters, gateways, assets and committed plans leave the
// state, and it is suspended for good. The event member_left names its
// meters, so that every node and gateway deletes the member's data it
// keeps off the ledger (fine readings, e-mail). What stays on the ledger
// is its id, key and settled money.

// Departure is a member on its way out.
type Departure struct {
	Member string `json:"member"`
	// By is who asked: the member or the operator. No reason is kept: a
	// member's reasons for leaving are its own, not the ledger's.
	By string `json:"by"`
	// Height and MarketTime of the request.
	Height     int64 `json:"height"`
	MarketTime int64 `json:"market_time"`
	// Until is the end of the last interval the member is settled for.
	Until int64 `json:"until"`
	// Done: the departure completed at DoneHeight, paying out PaidOutNano;
	// OwedNano is what its balance could not pay of its debts.
	Done        bool  `json:"done"`
	DoneHeight  int64 `json:"done_height,omitempty"`
	PaidOutNano int64 `json:"paid_out_nano,omitempty"`
	OwedNano    int64 `json:"owed_nano,omitempty"`
}

// MsgOffboard takes a member out of the community: signed by the member
// (leave) or the operator (offboard).
type MsgOffboard struct {
	Member string `json:"member"`
}

// ValidateBasic checks the member id.
func (m *MsgOffboard) ValidateBasic() error { return CheckID("member", m.Member) }

// leaving says whether a member is on its way out (or gone).
func (s *State) leaving(id string) bool {
	_, ok := s.departures[id]
	return ok
}

func (s *State) offboard(signer *Participant, m *MsgOffboard) ([]Event, error) {
	if signer.ID != m.Member && signer.Role != RoleOperator {
		return nil, errf(ErrWrongRole, "%q may not take %q out of the community: only the member itself or the operator may", signer.ID, m.Member)
	}
	p, err := s.participant(m.Member)
	if err != nil {
		return nil, err
	}
	if p.Role != RoleMember {
		return nil, errf(ErrWrongRole, "%q is %s: only members leave this way", p.ID, p.Role)
	}
	if s.leaving(p.ID) {
		return nil, errf(ErrDuplicate, "%q is already leaving the community", p.ID)
	}
	// Live orders are cancelled, their escrow refunded.
	s.touch(keyParticipant(p.ID), p, true)
	for _, start := range s.open {
		l := s.listings[start]
		for _, o := range l.orders {
			if o.Participant != p.ID || o.Cancelled {
				continue
			}
			if _, err := s.cancel(p, &MsgCancel{Order: o.ID}); err != nil {
				return nil, err
			}
		}
	}
	// Settled up to the end of the interval it leaves in, and of the last
	// interval it traded in.
	until := s.marketTime - mod(s.marketTime, s.params.IntervalS) + s.params.IntervalS
	for _, start := range s.unsettled {
		l := s.listings[start]
		for _, t := range l.Clearing.Trades {
			if t.Buyer == p.ID || t.Seller == p.ID {
				until = max(until, l.End)
			}
		}
	}
	d := &Departure{Member: p.ID, By: signer.ID, Height: s.height, MarketTime: s.marketTime, Until: until}
	s.departures[p.ID] = d
	s.touch(keyDeparture(p.ID), d, false)
	return []Event{event("member_leaving", "member", p.ID, "by", signer.ID, "until", i64(until))}, nil
}

func mod(a, b int64) int64 { return ((a % b) + b) % b }

// completeDepartures completes every departure whose intervals are all
// settled. It runs after settlement, in id order.
func (s *State) completeDepartures() {
	for _, id := range sortedKeys(s.departures) {
		d := s.departures[id]
		if d.Done || s.marketTime < d.Until || (len(s.unsettled) > 0 && s.listings[s.unsettled[0]].Start < d.Until) {
			continue
		}
		// Intervals before Until that never cleared are not in unsettled;
		// one still open (no orders) settles nothing for the member.
		p := s.participants[id]
		s.touch(keyDeparture(id), d, true)
		s.touch(keyParticipant(id), p, true)
		s.payDebts()
		d.Done, d.DoneHeight = true, s.height
		d.PaidOutNano = p.Balance
		for _, c := range sortedKeys(p.Owes) {
			d.OwedNano = satAdd(d.OwedNano, p.Owes[c])
		}
		s.touch(keyInfo, &s.info, true)
		s.info.Redeemed += p.Balance
		p.Balance = 0
		p.Suspended = true
		meters := removeOwned(s, s.meters, id, func(m *Meter) string { return m.Owner }, keyMeter)
		starts := sortedKeys(s.closings)
		for _, mid := range meters {
			for _, start := range starts {
				if r, ok := s.closings[start][mid]; ok {
					s.remove(keyClosing(start, mid), r)
					delete(s.closings[start], mid)
				}
			}
		}
		removeOwned(s, s.gateways, id, func(g *Gateway) string { return g.Owner }, keyGateway)
		removeOwned(s, s.res, id, func(r *RES) string { return r.Owner }, keyRES)
		removeOwned(s, s.batteries, id, func(b *Battery) string { return b.Owner }, keyBattery)
		for _, start := range sortedKeys(s.plans) {
			if pl, ok := s.plans[start][id]; ok {
				s.remove(keyPlan(start, id), pl)
				delete(s.plans[start], id)
			}
		}
		s.blockEvents = append(s.blockEvents, event("member_left", "member", id, "meters", strings.Join(meters, ","),
			"paid_out", i64(d.PaidOutNano), "owed", i64(d.OwedNano), "height", strconv.FormatInt(s.height, 10)))
	}
}

// Departures lists the members that left or are leaving, by id.
func (s *State) Departures() []Departure {
	out := make([]Departure, 0, len(s.departures))
	for _, id := range sortedKeys(s.departures) {
		out = append(out, *s.departures[id])
	}
	return out
}

// removeOwned takes every entry of m that owner owns out of m and the
// state, in id order, and returns their ids.
func removeOwned[T any](s *State, m map[string]*T, owner string, ownerOf func(*T) string, key func(string) string) []string {
	var ids []string
	for _, id := range sortedKeys(m) {
		if v := m[id]; ownerOf(v) == owner {
			ids = append(ids, id)
			s.remove(key(id), v)
			delete(m, id)
		}
	}
	return ids
}

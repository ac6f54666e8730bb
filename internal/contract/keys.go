package contract

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// The state's entries, by key. Every kind of entry has one prefix, here,
// and loaders says how Load reads it back: a new kind of state is a prefix,
// a key function and a row. Numbers in keys are zero-padded so that byte
// order is numeric.
const (
	keyInfo   = "info"
	keyParams = "params"

	prefixParticipant = "p/"
	prefixRES         = "r/"
	prefixBattery     = "b/"
	prefixMeter       = "m/"
	prefixGateway     = "g/"
	prefixClosing     = "mi/"
	prefixSettlement  = "st/"
	prefixListing     = "l/"
	prefixOrder       = "o/"
	prefixPlan        = "pl/"
	prefixDR          = "dr/"
	prefixValidator   = "v/"
	prefixProposal    = "gov/"
	prefixDeparture   = "lv/"
)

func keyParticipant(id string) string { return prefixParticipant + id }
func keyRES(id string) string         { return prefixRES + id }
func keyBattery(id string) string     { return prefixBattery + id }
func keyMeter(id string) string       { return prefixMeter + id }
func keyGateway(id string) string     { return prefixGateway + id }
func keyClosing(interval int64, meter string) string {
	return fmt.Sprintf("%s%020d/%s", prefixClosing, interval, meter)
}
func keySettlement(start int64) string { return fmt.Sprintf("%s%020d", prefixSettlement, start) }
func keyListing(start int64) string    { return fmt.Sprintf("%s%020d", prefixListing, start) }
func keyOrder(o *Order) string         { return fmt.Sprintf("%s%020d/%010d", prefixOrder, o.Listing, o.Seq) }
func keyPlan(start int64, member string) string {
	return fmt.Sprintf("%s%020d/%s", prefixPlan, start, member)
}
func keyDR(id string) string         { return prefixDR + id }
func keyValidator(pub []byte) string { return prefixValidator + hex.EncodeToString(pub) }
func keyProposal(id string) string   { return prefixProposal + id }
func keyDeparture(id string) string  { return prefixDeparture + id }

// loaders reads each kind of entry back into a state being loaded, by
// its key's prefix (up to and with the first '/'). Orders are only
// gathered here: Load adds them to their listings' books once every
// listing is in, in book order.
var loaders = map[string]func(s *State, value []byte) error{
	prefixParticipant: into(func(s *State, p *Participant) { s.participants[p.ID] = p }),
	prefixRES:         into(func(s *State, r *RES) { s.res[r.ID] = r }),
	prefixBattery:     into(func(s *State, b *Battery) { s.batteries[b.ID] = b }),
	prefixMeter:       into(func(s *State, m *Meter) { s.meters[m.ID] = m }),
	prefixGateway:     into(func(s *State, g *Gateway) { s.gateways[g.ID] = g }),
	prefixClosing:     into(func(s *State, r *IntervalReading) { s.closing(r.Interval)[r.Meter] = r }),
	prefixSettlement:  into(func(s *State, st *Settlement) { s.settlements[st.Start] = st }),
	prefixListing: into(func(s *State, l *Listing) {
		l.initDerived()
		s.listings[l.Start] = l
		s.starts = append(s.starts, l.Start)
		switch l.State {
		case StateAuthorizeOffers:
			s.open = append(s.open, l.Start)
		case StateBidsClosed:
			s.unsettled = append(s.unsettled, l.Start)
		}
	}),
	prefixOrder: into(func(s *State, o *Order) { s.orders[o.ID] = o }),
	prefixPlan: into(func(s *State, p *PlanEntry) {
		if s.plans[p.Start] == nil {
			s.plans[p.Start] = map[string]*PlanEntry{}
		}
		s.plans[p.Start][p.Member] = p
	}),
	prefixDR: into(func(s *State, r *DRRequest) {
		s.dr[r.ID] = r
		if r.State != DRDone {
			s.addLiveDR(r.ID)
		}
	}),
	prefixValidator: into(func(s *State, v *Validator) { s.validators[hex.EncodeToString(v.PubKey)] = v }),
	prefixProposal:  into(func(s *State, p *Proposal) { s.proposals[p.ID] = p }),
	prefixDeparture: into(func(s *State, d *Departure) { s.departures[d.Member] = d }),
}

// into decodes an entry as a T and puts it in the state.
func into[T any](put func(*State, *T)) func(*State, []byte) error {
	return func(s *State, value []byte) error {
		v := new(T)
		if err := json.Unmarshal(value, v); err != nil {
			return err
		}
		put(s, v)
		return nil
	}
}

// loadEntry reads one persisted entry into s.
func (s *State) loadEntry(key string, value []byte) error {
	switch key {
	case keyInfo:
		return json.Unmarshal(value, &s.info)
	case keyParams:
		return json.Unmarshal(value, &s.params)
	}
	if i := strings.IndexByte(key, '/'); i > 0 {
		if load, ok := loaders[key[:i+1]]; ok {
			return load(s, value)
		}
	}
	return fmt.Errorf("unknown key")
}

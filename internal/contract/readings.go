package contract

import (
	"sort"
	"strconv"

	"github.com/gridledger/gridledger/internal/reading"

	"github.com/gridledger/gridledger/internal/sigs"
)

func (s *State) registerGateway(signer *Participant, m *MsgRegisterGateway) ([]Event, error) {
	if err := requireRole(signer, RoleOperator); err != nil {
		return nil, err
	}
	if _, ok := s.gateways[m.ID]; ok {
		return nil, errf(ErrDuplicate, "gateway %q", m.ID)
	}
	if _, ok := s.meters[m.ID]; ok {
		return nil, errf(ErrDuplicate, "%q is a meter", m.ID)
	}
	if _, err := s.participant(m.Owner); err != nil {
		return nil, err
	}
	g := &Gateway{ID: m.ID, Owner: m.Owner, PubKey: m.PubKey}
	s.gateways[g.ID] = g
	s.touch(keyGateway(g.ID), g, false)
	return []Event{event("gateway_registered", "id", g.ID, "owner", g.Owner)}, nil
}

// readingCheck is one reading of a MsgReadings on its way through.
type readingCheck struct {
	entry ReadingEntry
	r     reading.Reading
	meter *Meter
	key   []byte // the key that must have signed it
	by    string // "device" or "gateway"
	err   error
	added bool // in the signature batch
	sigOK bool // seen, or valid in the batch
}

// readings accepts or refuses each reading of a batch on its own: a
// refused reading changes nothing but the counters that make refusals
// visible. Signatures are checked in one batch.
func (s *State) readings(signer *Participant, m *MsgReadings) ([]Event, error) {
	if signer.Role != RoleOperator && signer.Role != RoleMember {
		return nil, errf(ErrWrongRole, "%q is %s; readings come from gateways run by members or the operator", signer.ID, signer.Role)
	}
	checks := make([]readingCheck, len(m.Readings))
	bv := sigs.NewBatch()
	for i, e := range m.Readings {
		c := &checks[i]
		c.entry = e
		if c.err = e.Parse(&c.r); c.err != nil {
			c.err = errf(ErrMalformed, "%v", c.err)
			continue
		}
		c.meter, c.key, c.by, c.err = s.readingKey(c.r.Meter)
		if c.err == nil {
			switch msg := e.SignBytes(); {
			case s.seen.Has(c.key, msg, e.Sig):
				c.sigOK = true
			case bv.Add(c.key, msg, e.Sig):
				c.added = true
			default:
				c.err = errf(ErrBadSignature, "meter %q: a signature is %d bytes and a key %d; these are %d and %d", c.r.Meter, sigs.SignatureSize, sigs.PubKeySize, len(e.Sig), len(c.key))
				continue
			}
		}
	}
	valid := bv.Verify()
	j := 0
	events := make([]Event, 0, len(checks))
	accepted := 0
	for i := range checks {
		c := &checks[i]
		if c.added {
			c.sigOK = valid[j]
			j++
		}
		if c.added || c.sigOK {
			c.err = s.acceptReading(c)
		}
		if c.err != nil {
			s.countRejection(c.meter, c.err)
			events = append(events, event("reading_rejected", "meter", c.r.Meter, "seq", strconv.FormatUint(c.r.Seq, 10),
				"code", CodeOf(c.err).Name(), "reason", c.err.Error()))
			continue
		}
		accepted++
	}
	events = append(events, event("readings", "accepted", strconv.Itoa(accepted), "rejected", strconv.Itoa(len(checks)-accepted)))
	return events, nil
}

// readingKey finds the meter and the key its readings must be signed with.
func (s *State) readingKey(id string) (*Meter, []byte, string, error) {
	mt, ok := s.meters[id]
	if !ok {
		return nil, nil, "", errf(ErrUnknownMeter, "%q", id)
	}
	if mt.Gateway == "" {
		return mt, mt.PubKey, "device", nil
	}
	g, ok := s.gateways[mt.Gateway]
	if !ok {
		return mt, nil, "", errf(ErrUnknownMeter, "gateway %q of meter %q", mt.Gateway, id)
	}
	return mt, g.PubKey, "gateway", nil
}

func (s *State) acceptReading(c *readingCheck) error {
	mt, r := c.meter, c.r
	if owner := s.participants[mt.Owner]; owner == nil || owner.Suspended {
		return errf(ErrSuspended, "owner %q of meter %q", mt.Owner, mt.ID)
	}
	if !c.sigOK {
		return errf(ErrBadSignature, "reading of %q is not signed by its %s's key", mt.ID, c.by)
	}
	if f, why := reading.Check(r, mt.Last, s.marketTime, s.params.ReadingSkewS); f != reading.OK {
		return errf(codeInfo[FaultCode(f)].err, "%s", why)
	}
	interval, inListing := s.intervalOf(r.Time)
	if inListing {
		if l := s.listings[interval]; l.State == StateSettled {
			return errf(ErrStaleReading, "meter %q: interval %d is already settled", mt.ID, interval)
		}
	}
	regs := r.Registers
	s.touch(keyMeter(mt.ID), mt, true)
	if mt.Baseline == nil {
		// Energy before a meter's first reading is unknown: it starts here.
		b := regs
		mt.Baseline = &b
	}
	mt.Last = &regs
	mt.Accepted++
	s.touch(keyInfo, &s.info, true)
	s.info.ReadingsAccepted++
	if inListing {
		cl := s.closing(interval)
		ir, existed := cl[mt.ID]
		if !existed {
			ir = &IntervalReading{Meter: mt.ID, Interval: interval}
			cl[mt.ID] = ir
		}
		s.touch(keyClosing(interval, mt.ID), ir, existed)
		ir.Registers, ir.SignedBy, ir.FineHash = regs, c.by, c.entry.FineHash
	}
	return nil
}

// faultCodes are the result codes of the rules of reading.Check.
var faultCodes = [...]Code{
	reading.Replay:     CodeReplay,
	reading.FromFuture: CodeFutureReading,
	reading.Stale:      CodeStaleReading,
	reading.Backwards:  CodeRegistersBackwards,
}

// FaultCode is the result code of a reading that breaks a rule of
// reading.Check: the contract refuses it with this code, and so does the
// gateway, before the reading gets near the ledger.
func FaultCode(f reading.Fault) Code {
	if int(f) < len(faultCodes) {
		return faultCodes[f]
	}
	return CodeMalformed
}

func (s *State) countRejection(mt *Meter, err error) {
	name := CodeOf(err).Name()
	s.touch(keyInfo, &s.info, true)
	if s.info.ReadingsRejected == nil {
		s.info.ReadingsRejected = map[string]int64{}
	}
	s.info.ReadingsRejected[name]++
	if mt != nil {
		s.touch(keyMeter(mt.ID), mt, true)
		if mt.Rejected == nil {
			mt.Rejected = map[string]int64{}
		}
		mt.Rejected[name]++
	}
}

// intervalOf finds the listing whose delivery interval (start, end]
// contains t: registers read at t describe energy up to t. It reports
// false when no listing covers t (before the first, or a skipped gap);
// such a reading still counts, in the next interval settled.
func (s *State) intervalOf(t int64) (int64, bool) {
	i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i] >= t }) - 1
	if i < 0 {
		return 0, false
	}
	l := s.listings[s.starts[i]]
	return l.Start, t <= l.End
}

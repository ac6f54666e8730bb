package contract

import "fmt"

// kind is one transaction type: its name, its message and what it does to
// the state. kinds is the one table a new transaction type is added to
// (beside its message's ValidateBasic and its handler): decoding, signing
// and execution all read it.
type kind struct {
	typ   string
	new   func() Msg
	is    func(Msg) bool
	apply func(s *State, signer *Participant, tx *Tx) ([]Event, error)
}

// kinds, in no order that matters but TypeOf's: the first kind a message
// fits names it, so suspend comes before reinstate.
var kinds = []kind{
	by(TypeRegisterParticipant, (*State).registerParticipant),
	withTx(TypeSuspendParticipant, func(s *State, p *Participant, _ *Tx, m *MsgSetSuspended) ([]Event, error) {
		return s.setSuspended(p, m, true)
	}),
	withTx(TypeReinstateParticipant, func(s *State, p *Participant, _ *Tx, m *MsgSetSuspended) ([]Event, error) {
		return s.setSuspended(p, m, false)
	}),
	by(TypeRegisterRES, (*State).registerRES),
	by(TypeApproveRES, (*State).approveRES),
	by(TypeRegisterBattery, (*State).registerBattery),
	by(TypeApproveBattery, (*State).approveBattery),
	by(TypeRegisterMeter, (*State).registerMeter),
	by(TypeRotateDeviceKey, (*State).rotateDeviceKey),
	by(TypeRegisterGateway, (*State).registerGateway),
	by(TypeIssue, (*State).issue),
	by(TypeRedeem, (*State).redeem),
	by(TypeSetParams, (*State).setParams),
	// An order's id is its signer's and nonce.
	withTx(TypeOffer, func(s *State, p *Participant, tx *Tx, m *MsgOffer) ([]Event, error) { return s.offer(p, tx.Nonce, m) }),
	withTx(TypeBid, func(s *State, p *Participant, tx *Tx, m *MsgBid) ([]Event, error) { return s.bid(p, tx.Nonce, m) }),
	by(TypeCancel, (*State).cancel),
	by(TypeReadings, (*State).readings),
	by(TypePlan, (*State).plan),
	by(TypeDRRequest, (*State).drRequest),
	by(TypeDRCommit, (*State).drCommit),
	by(TypePropose, (*State).propose),
	by(TypeVote, (*State).vote),
	by(TypeOffboard, (*State).offboard),
}

// kindByType indexes kinds for decoding.
var kindByType = func() map[string]*kind {
	m := make(map[string]*kind, len(kinds))
	for i := range kinds {
		if m[kinds[i].typ] != nil {
			panic("contract: transaction type " + kinds[i].typ + " twice in kinds")
		}
		m[kinds[i].typ] = &kinds[i]
	}
	return m
}()

// withTx makes the kind of typ whose message is PM and whose handler needs
// the transaction too.
func withTx[M any, PM interface {
	*M
	Msg
}](typ string, apply func(s *State, signer *Participant, tx *Tx, m PM) ([]Event, error)) kind {
	return kind{
		typ: typ,
		new: func() Msg { return PM(new(M)) },
		is:  func(m Msg) bool { _, ok := m.(PM); return ok },
		apply: func(s *State, signer *Participant, tx *Tx) ([]Event, error) {
			return apply(s, signer, tx, tx.Message.(PM))
		},
	}
}

// by is withTx for a handler that needs only the signer and the message.
func by[M any, PM interface {
	*M
	Msg
}](typ string, handle func(s *State, signer *Participant, m PM) ([]Event, error)) kind {
	return withTx(typ, func(s *State, signer *Participant, _ *Tx, m PM) ([]Event, error) { return handle(s, signer, m) })
}

// newMsg returns an empty message of the named type.
func newMsg(typ string) (Msg, bool) {
	k, ok := kindByType[typ]
	if !ok {
		return nil, false
	}
	return k.new(), true
}

// TypeOf is a message's transaction type (suspend for MsgSetSuspended).
func TypeOf(m Msg) string {
	for i := range kinds {
		if kinds[i].is(m) {
			return kinds[i].typ
		}
	}
	panic(fmt.Sprintf("contract: unknown message %T", m))
}

// apply runs a decoded transaction's message against the state.
func (s *State) apply(signer *Participant, tx *Tx) ([]Event, error) {
	k, ok := kindByType[tx.Type]
	if !ok {
		return nil, errf(ErrMalformed, "unhandled type %q", tx.Type)
	}
	return k.apply(s, signer, tx)
}

// Package onboard is how a member joins the community on the ledger: the
// operator registers it and issues its money, the member registers its
// renewable asset and its battery, and the DSO approves them. It produces the signed
// steps, in stages, and leaves sending them to the caller: a node's client
// submits them one by one, the simulator signs them at block time through
// its outboxes, and a load generator sends each stage in bulk.
package onboard

import (
	"context"
	"fmt"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

// Member is who joins.
type Member struct {
	Key      chain.Key
	NodeType contract.NodeType
	Feeder   string
	// FundsNano is issued at registration (0: nothing).
	FundsNano int64
	// RES is the member's renewable asset, if it has one.
	RES *contract.MsgRegisterRES
	// Battery is the member's battery, if it has one.
	Battery *contract.MsgRegisterBattery
}

// Step is a message and who signs it.
type Step struct {
	Signer chain.Key
	Msg    contract.Msg
}

// Stages are a member's steps in the order the contract takes them. A
// stage may only be signed once the one before is in a block: the member
// signs once it is registered, the DSO approves an asset once it exists.
type Stages struct {
	Operator, Member, DSO []Step
}

// All is every step, stage after stage.
func (s Stages) All() []Step {
	return append(append(append([]Step{}, s.Operator...), s.Member...), s.DSO...)
}

// Steps are m's joining, with the operator's and the DSO's keys.
func Steps(op, dso chain.Key, m Member) Stages {
	s := Stages{Operator: []Step{{op, &contract.MsgRegisterParticipant{ID: m.Key.ID, Role: contract.RoleMember,
		NodeType: m.NodeType, Feeder: m.Feeder, PubKey: m.Key.PubKey()}}}}
	if m.FundsNano > 0 {
		s.Operator = append(s.Operator, Step{op, &contract.MsgIssue{To: m.Key.ID, Amount: m.FundsNano}})
	}
	if m.RES != nil {
		s.Member = append(s.Member, Step{m.Key, m.RES})
		s.DSO = append(s.DSO, Step{dso, &contract.MsgApproveRES{ID: m.RES.ID}})
	}
	if m.Battery != nil {
		s.Member = append(s.Member, Step{m.Key, m.Battery})
		s.DSO = append(s.DSO, Step{dso, &contract.MsgApproveBattery{ID: m.Battery.ID}})
	}
	return s
}

// Send sends every step, in order, each once the one before is done.
func Send(ctx context.Context, steps []Step, send func(context.Context, chain.Key, contract.Msg) error) error {
	for _, st := range steps {
		if err := send(ctx, st.Signer, st.Msg); err != nil {
			return fmt.Errorf("%s by %s: %w", contract.TypeOf(st.Msg), st.Signer.ID, err)
		}
	}
	return nil
}

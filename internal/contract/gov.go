package contract

import (
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// Governance: the validator set is the consortium's, and so are the
// community's parameters once it has more than one validator. Adding or
// removing a validator, or changing the parameters, takes a proposal and
// the votes of validators holding more than two thirds of the current
// voting power, as ledger transactions signed by the validators' own
// consensus keys (each validator is a participant of role "validator").
// A passed validator change reaches CometBFT through the block's
// validator updates.

// Governance actions.
const (
	ActionAddValidator    = "add_validator"
	ActionRemoveValidator = "remove_validator"
	ActionSetParams       = "set_params"
)

// ProposalTTLHeights is how many heights a proposal stays open for votes.
const ProposalTTLHeights = 10_000

// MaxValidatorPower bounds one validator's voting power.
const MaxValidatorPower = 1000

// Validator is a member of the validator set.
type Validator struct {
	// PubKey is the validator's Ed25519 consensus key.
	PubKey []byte `json:"pub_key"`
	Power  int64  `json:"power"`
	// Name is the participant (role validator) that votes with the key.
	Name string `json:"name"`
}

// ValidatorUpdate is a change to the validator set a block hands to
// CometBFT; power 0 removes the validator.
type ValidatorUpdate struct {
	PubKey []byte
	Power  int64
}

// Proposal is a governance proposal and its votes.
type Proposal struct {
	ID        string     `json:"id"`
	Proposer  string     `json:"proposer"`
	Action    string     `json:"action"`
	Validator *Validator `json:"validator,omitempty"`
	Params    *Params    `json:"params,omitempty"`
	Height    int64      `json:"height"`
	Expires   int64      `json:"expires"`
	// Votes by voting participant: true approves.
	Votes map[string]bool `json:"votes"`
	// State is open, passed or expired.
	State        string `json:"state"`
	PassedHeight int64  `json:"passed_height,omitempty"`
}

// Proposal states.
const (
	ProposalOpen    = "open"
	ProposalPassed  = "passed"
	ProposalExpired = "expired"
)

type (
	// MsgPropose proposes a governance action (validators only); the
	// proposer's vote approves it.
	MsgPropose struct {
		ID        string     `json:"id"`
		Action    string     `json:"action"`
		Validator *Validator `json:"validator,omitempty"`
		Params    *Params    `json:"params,omitempty"`
	}
	// MsgVote approves or rejects an open proposal (validators only).
	MsgVote struct {
		Proposal string `json:"proposal"`
		Approve  bool   `json:"approve"`
	}
)

// Transaction types of governance.
const (
	TypePropose = "propose"
	TypeVote    = "vote"
)

func (m *MsgPropose) ValidateBasic() error {
	if err := CheckID("proposal id", m.ID); err != nil {
		return err
	}
	switch m.Action {
	case ActionAddValidator, ActionRemoveValidator:
		if m.Validator == nil || m.Params != nil {
			return errf(ErrMalformed, "%s needs a validator and no params", m.Action)
		}
		if err := checkPubKey(m.Validator.PubKey); err != nil {
			return err
		}
		if m.Action == ActionAddValidator {
			if err := checkRange("validator power", m.Validator.Power, MaxValidatorPower); err != nil {
				return err
			}
			return CheckID("validator name", m.Validator.Name)
		}
	case ActionSetParams:
		if m.Params == nil || m.Validator != nil {
			return errf(ErrMalformed, "set_params needs params and no validator")
		}
		return m.Params.Validate()
	default:
		return errf(ErrMalformed, "unknown action %q (want %s, %s or %s)", m.Action, ActionAddValidator, ActionRemoveValidator, ActionSetParams)
	}
	return nil
}

func (m *MsgVote) ValidateBasic() error { return CheckID("proposal id", m.Proposal) }

// voter is the validator a participant votes for, with its power.
func (s *State) voter(p *Participant) (*Validator, error) {
	if err := requireRole(p, RoleValidator); err != nil {
		return nil, err
	}
	v, ok := s.validators[hex.EncodeToString(p.PubKey)]
	if !ok || v.Power == 0 {
		return nil, errf(ErrWrongRole, "%q is not in the validator set", p.ID)
	}
	return v, nil
}

func (s *State) propose(signer *Participant, m *MsgPropose) ([]Event, error) {
	if _, err := s.voter(signer); err != nil {
		return nil, err
	}
	if _, ok := s.proposals[m.ID]; ok {
		return nil, errf(ErrDuplicate, "proposal %q", m.ID)
	}
	if m.Validator != nil {
		_, in := s.validators[hex.EncodeToString(m.Validator.PubKey)]
		switch {
		case m.Action == ActionAddValidator && in:
			return nil, errf(ErrDuplicate, "that key is already a validator")
		case m.Action == ActionAddValidator && s.participants[m.Validator.Name] != nil:
			return nil, errf(ErrDuplicate, "participant %q exists", m.Validator.Name)
		case m.Action == ActionRemoveValidator && !in:
			return nil, errf(ErrBadParams, "that key is not a validator")
		case m.Action == ActionRemoveValidator && len(s.validators) == 1:
			return nil, errf(ErrBadParams, "the last validator cannot be removed")
		}
	}
	p := &Proposal{ID: m.ID, Proposer: signer.ID, Action: m.Action, Validator: clonePtr(m.Validator), Params: clonePtr(m.Params),
		Height: s.height, Expires: s.height + ProposalTTLHeights, Votes: map[string]bool{signer.ID: true}, State: ProposalOpen}
	s.proposals[p.ID] = p
	s.touch(keyProposal(p.ID), p, false)
	ev := []Event{event("proposal", "id", p.ID, "action", p.Action, "proposer", signer.ID)}
	return append(ev, s.tally(p)...), nil
}

func (s *State) vote(signer *Participant, m *MsgVote) ([]Event, error) {
	if _, err := s.voter(signer); err != nil {
		return nil, err
	}
	p, ok := s.proposals[m.Proposal]
	if !ok {
		return nil, errf(ErrUnknownProposal, "%q", m.Proposal)
	}
	if st := s.proposalState(p); st != ProposalOpen {
		return nil, errf(ErrProposalClosed, "proposal %q is %s", p.ID, st)
	}
	s.touch(keyProposal(p.ID), p, true)
	p.Votes[signer.ID] = m.Approve
	ev := []Event{event("vote", "proposal", p.ID, "voter", signer.ID, "approve", strconv.FormatBool(m.Approve))}
	return append(ev, s.tally(p)...), nil
}

// tally executes a proposal once the validators approving it hold more
// than two thirds of the voting power, and records it either way.
func (s *State) tally(p *Proposal) []Event {
	var yes, total int64
	for _, k := range sortedKeys(s.validators) {
		v := s.validators[k]
		total += v.Power
		if p.Votes[v.Name] {
			yes += v.Power
		}
	}
	if yes*3 <= total*2 {
		return nil
	}
	p.State, p.PassedHeight = ProposalPassed, s.height
	switch p.Action {
	case ActionAddValidator:
		v := *p.Validator
		s.validators[hex.EncodeToString(v.PubKey)] = &v
		s.touch(keyValidator(v.PubKey), &v, false)
		np := &Participant{ID: v.Name, Role: RoleValidator, PubKey: v.PubKey, Registered: s.height}
		s.participants[np.ID] = np
		s.touch(keyParticipant(np.ID), np, false)
		s.valUpdates = append(s.valUpdates, ValidatorUpdate{PubKey: v.PubKey, Power: v.Power})
	case ActionRemoveValidator:
		k := hex.EncodeToString(p.Validator.PubKey)
		s.remove(keyValidator(p.Validator.PubKey), s.validators[k])
		delete(s.validators, k)
		s.valUpdates = append(s.valUpdates, ValidatorUpdate{PubKey: p.Validator.PubKey, Power: 0})
	case ActionSetParams:
		s.params = *p.Params
		s.touch(keyParams, &s.params, true)
	}
	return []Event{event("proposal_passed", "id", p.ID, "action", p.Action, "yes_power", i64(yes), "total_power", i64(total))}
}

// proposalState is a proposal's state as of the current height: an open
// one past its last height has expired, whether or not anyone has voted
// since.
func (s *State) proposalState(p *Proposal) string {
	if p.State == ProposalOpen && s.height > p.Expires {
		return ProposalExpired
	}
	return p.State
}

// Validators lists the validator set, by key.
func (s *State) Validators() []Validator {
	out := []Validator{}
	for _, k := range sortedKeys(s.validators) {
		out = append(out, *s.validators[k])
	}
	return out
}

// Proposals lists every proposal, by id.
func (s *State) Proposals() []Proposal {
	out := []Proposal{}
	for _, id := range sortedKeys(s.proposals) {
		p := *s.proposals[id]
		p.State, p.Votes = s.proposalState(&p), maps.Clone(p.Votes)
		out = append(out, p)
	}
	return out
}

// genesisValidators puts the genesis validator set in the state, each
// with the participant it votes as: a genesis participant of role
// validator with its key, or one named for it.
func (s *State) genesisValidators(vs []Validator) error {
	byKey := map[string]string{}
	for _, id := range sortedKeys(s.participants) {
		if p := s.participants[id]; p.Role == RoleValidator {
			byKey[hex.EncodeToString(p.PubKey)] = p.ID
		}
	}
	for i, v := range vs {
		k := hex.EncodeToString(v.PubKey)
		if err := checkPubKey(v.PubKey); err != nil {
			return err
		}
		if name, ok := byKey[k]; ok {
			v.Name = name
		} else {
			v.Name = fmt.Sprintf("validator-%d", i)
			for s.participants[v.Name] != nil {
				v.Name += "x"
			}
			p := &Participant{ID: v.Name, Role: RoleValidator, PubKey: slices.Clone(v.PubKey)}
			s.participants[p.ID] = p
			s.touch(keyParticipant(p.ID), p, false)
		}
		s.validators[k] = &v
		s.touch(keyValidator(v.PubKey), &v, false)
	}
	return nil
}

package contract_test

import (
	"bytes"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

// A consortium of four validators of equal power, each voting as the
// participant v0…v3 with its consensus key.
func govHarness(t *testing.T) *harness {
	return newHarness(t, func(g *contract.Genesis) {
		for _, id := range []string{"v0", "v1", "v2", "v3"} {
			g.Participants = append(g.Participants, contract.Participant{ID: id, Role: contract.RoleValidator, PubKey: pubOf(id)})
			g.Validators = append(g.Validators, contract.Validator{PubKey: pubOf(id), Power: 10})
		}
	})
}

func validators(h *harness) map[string]int64 {
	out := map[string]int64{}
	for _, v := range h.s.Validators() {
		out[v.Name] = v.Power
	}
	return out
}

// "adding or removing a validator … takes a proposal and the votes of
// more than two thirds of the current validators' power, as ledger
// transactions."
func TestGovernanceAddsAValidatorWithMoreThanTwoThirds(t *testing.T) {
	h := govHarness(t)
	add := &contract.MsgPropose{ID: "add-v4", Action: contract.ActionAddValidator, Validator: &contract.Validator{PubKey: pubOf("v4"), Power: 10, Name: "v4"}}
	h.ok("v0", add)
	h.ok("v1", &contract.MsgVote{Proposal: "add-v4", Approve: true})
	// Two of four is half the power: not enough, nothing changes yet.
	if len(h.s.Validators()) != 4 || len(h.last.ValidatorUpdates) != 0 {
		t.Fatalf("passed with half the power: %v", validators(h))
	}
	h.ok("v2", &contract.MsgVote{Proposal: "add-v4", Approve: false})
	if len(h.s.Validators()) != 4 {
		t.Fatal("a rejection passed it")
	}
	// v2 changes its mind: three of four, 30 of 40 > 2/3.
	r := h.ok("v2", &contract.MsgVote{Proposal: "add-v4", Approve: true})
	if got := validators(h); got["v4"] != 10 || len(got) != 5 {
		t.Fatalf("validators after 3 of 4: %v", got)
	}
	if u := h.last.ValidatorUpdates; len(u) != 1 || !bytes.Equal(u[0].PubKey, pubOf("v4")) || u[0].Power != 10 {
		t.Errorf("validator updates: %+v", u)
	}
	if r.Events[len(r.Events)-1].Type != "proposal_passed" {
		t.Errorf("events: %+v", r.Events)
	}
	// The next block carries no update again.
	h.block()
	if len(h.last.ValidatorUpdates) != 0 {
		t.Errorf("updates repeated: %+v", h.last.ValidatorUpdates)
	}
	// The new validator votes from now on; a closed proposal takes no vote.
	h.want(contract.CodeProposalClosed, "v3", &contract.MsgVote{Proposal: "add-v4", Approve: true})
	// Removing takes 4 of 5 now (40 of 50 > 2/3; 30 of 50 is not).
	rm := &contract.MsgPropose{ID: "rm-v0", Action: contract.ActionRemoveValidator, Validator: &contract.Validator{PubKey: pubOf("v0")}}
	h.ok("v4", rm)
	h.ok("v1", &contract.MsgVote{Proposal: "rm-v0", Approve: true})
	h.ok("v2", &contract.MsgVote{Proposal: "rm-v0", Approve: true})
	if validators(h)["v0"] != 10 {
		t.Fatal("removed with 30 of 50")
	}
	h.ok("v3", &contract.MsgVote{Proposal: "rm-v0", Approve: true})
	if _, still := validators(h)["v0"]; still || len(h.last.ValidatorUpdates) != 1 || h.last.ValidatorUpdates[0].Power != 0 {
		t.Fatalf("v0 not removed: %v %+v", validators(h), h.last.ValidatorUpdates)
	}
	// v0 votes no more.
	h.want(contract.CodeWrongRole, "v0", &contract.MsgPropose{ID: "x", Action: contract.ActionRemoveValidator, Validator: &contract.Validator{PubKey: pubOf("v1")}})
	// The state reloads to the same hash, proposals and validators included.
	re, err := contract.Load(h.entries(), h.height, h.mt)
	if err != nil || !bytes.Equal(re.AppHash(), h.last.AppHash) {
		t.Fatalf("reload: %v, %X vs %X", err, re.AppHash(), h.last.AppHash)
	}
}

// "changing community parameters takes a proposal and the votes of more
// than two thirds": with more than one validator the operator alone
// cannot.
func TestGovernanceChangesParameters(t *testing.T) {
	h := govHarness(t)
	p := contract.DefaultParams()
	p.Mechanism = "uniform"
	h.want(contract.CodeWrongRole, "operator", &contract.MsgSetParams{Params: p})
	h.ok("v3", &contract.MsgPropose{ID: "uniform", Action: contract.ActionSetParams, Params: &p})
	h.ok("v2", &contract.MsgVote{Proposal: "uniform", Approve: true})
	if h.s.Params().Mechanism == "uniform" {
		t.Fatal("changed with half the power")
	}
	h.ok("v0", &contract.MsgVote{Proposal: "uniform", Approve: true})
	if h.s.Params().Mechanism != "uniform" {
		t.Fatal("not changed with 3 of 4")
	}
}

// Only validators propose and vote, on proposals that exist and are open;
// bad proposals change nothing.
func TestGovernanceRefusals(t *testing.T) {
	h := govHarness(t)
	add := &contract.MsgPropose{ID: "p", Action: contract.ActionAddValidator, Validator: &contract.Validator{PubKey: pubOf("v9"), Power: 10, Name: "v9"}}
	h.want(contract.CodeWrongRole, "operator", add)
	h.want(contract.CodeWrongRole, "dso", &contract.MsgVote{Proposal: "p", Approve: true})
	h.want(contract.CodeUnknownProposal, "v1", &contract.MsgVote{Proposal: "nope", Approve: true})
	h.want(contract.CodeDuplicate, "v1", &contract.MsgPropose{ID: "dup", Action: contract.ActionAddValidator, Validator: &contract.Validator{PubKey: pubOf("v2"), Power: 1, Name: "v9"}})
	h.want(contract.CodeBadQuantity, "v1", &contract.MsgPropose{ID: "big", Action: contract.ActionAddValidator, Validator: &contract.Validator{PubKey: pubOf("v9"), Power: contract.MaxValidatorPower + 1, Name: "v9"}})
	h.want(contract.CodeMalformed, "v1", &contract.MsgPropose{ID: "odd", Action: "make_me_king"})
	h.want(contract.CodeBadParams, "v1", &contract.MsgPropose{ID: "gone", Action: contract.ActionRemoveValidator, Validator: &contract.Validator{PubKey: pubOf("v9")}})
	h.want(contract.CodeWrongRole, "operator", registerMsg("v9", contract.RoleValidator, ""))
	if len(h.s.Proposals()) != 0 || len(h.s.Validators()) != 4 {
		t.Errorf("refusals changed the state: %d proposals", len(h.s.Proposals()))
	}
	// A proposal expires after ProposalTTLHeights.
	h.ok("v1", add)
	for range contract.ProposalTTLHeights {
		h.block()
	}
	h.want(contract.CodeProposalClosed, "v2", &contract.MsgVote{Proposal: "p", Approve: true})
	if p := h.s.Proposals()[0]; p.State != contract.ProposalExpired || len(p.Votes) != 1 || len(h.s.Validators()) != 4 {
		t.Errorf("after a vote on an expired proposal: %+v", p)
	}
}

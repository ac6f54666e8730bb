package onboard

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

// A seller joins in three stages signed by three keys; a member without
// funds or an asset is only registered; Send stops at the first refusal
// and names it.
func TestSteps(t *testing.T) {
	op, dso := chain.NewKey("operator", contract.RoleOperator), chain.NewKey("dso", contract.RoleDSO)
	m := chain.NewKey("m1", contract.RoleMember)
	st := Steps(op, dso, Member{Key: m, NodeType: contract.NodeHousehold, FundsNano: 5,
		RES: &contract.MsgRegisterRES{ID: "m1-pv", Kind: "pv", CapacityW: 1000}})
	var got []string
	for _, s := range st.All() {
		got = append(got, s.Signer.ID+":"+contract.TypeOf(s.Msg))
	}
	want := "operator:" + contract.TypeRegisterParticipant + " operator:" + contract.TypeIssue +
		" m1:" + contract.TypeRegisterRES + " dso:" + contract.TypeApproveRES
	if strings.Join(got, " ") != want {
		t.Fatalf("steps %v, want %s", got, want)
	}
	if a := st.DSO[0].Msg.(*contract.MsgApproveRES); a.ID != "m1-pv" {
		t.Fatalf("approves %q", a.ID)
	}
	// A battery is registered by its owner and approved by the DSO, after
	// the RES.
	st2 := Steps(op, dso, Member{Key: m, RES: &contract.MsgRegisterRES{ID: "m1-pv", Kind: "pv", CapacityW: 1000},
		Battery: &contract.MsgRegisterBattery{ID: "m1-battery", CapacityWh: 10000, MaxChargeW: 5000, MaxDischargeW: 5000}})
	if len(st2.Member) != 2 || st2.Member[1].Signer.ID != "m1" || contract.TypeOf(st2.Member[1].Msg) != contract.TypeRegisterBattery ||
		len(st2.DSO) != 2 || st2.DSO[1].Msg.(*contract.MsgApproveBattery).ID != "m1-battery" || st2.DSO[1].Signer.ID != "dso" {
		t.Fatalf("steps with a battery: %+v", st2)
	}
	if bare := Steps(op, dso, Member{Key: m}); len(bare.All()) != 1 {
		t.Fatalf("a bare member's steps: %+v", bare)
	}
	sent := 0
	err := Send(context.Background(), st.All(), func(_ context.Context, k chain.Key, msg contract.Msg) error {
		if sent++; sent == 2 {
			return errors.New("refused")
		}
		return nil
	})
	if sent != 2 || err == nil || !strings.Contains(err.Error(), contract.TypeIssue+" by operator") {
		t.Fatalf("sent %d, err %v", sent, err)
	}
}

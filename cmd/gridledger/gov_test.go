package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/p2p"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

// TestGovernanceVotesInAValidator: a running single-validator community
// votes a joining node's key into the validator set with a ledger
// transaction; CometBFT takes the update and both validators then make
// the blocks. With two validators a parameter change needs both votes,
// and the operator alone can no longer set parameters.
func TestGovernanceVotesInAValidator(t *testing.T) {
	homeA, homeB := t.TempDir(), t.TempDir()
	a, b := []string{"--home", homeA}, []string{"--home", homeB}
	ok(t, append([]string{"init", "--rpc-laddr", freeAddr(t), "--p2p-laddr", freeAddr(t),
		"--mqtt-addr", strings.TrimPrefix(freeAddr(t), "tcp://"), "--api-addr", "off"}, a...)...)
	defer startNode(t, a)()
	cfgA, _, err := chain.LoadConfig(homeA)
	if err != nil {
		t.Fatal(err)
	}
	nk, err := p2p.LoadNodeKey(cfgA.NodeKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	peer := string(nk.ID()) + "@" + strings.TrimPrefix(cfgA.P2P.ListenAddress, "tcp://")
	ok(t, append([]string{"join", "--genesis", filepath.Join(homeA, "config", "genesis.json"), "--peers", peer, "--no-state-sync",
		"--rpc-laddr", freeAddr(t), "--p2p-laddr", freeAddr(t), "--api-addr", "off"}, b...)...)
	defer startNode(t, b)()

	raw, err := os.ReadFile(filepath.Join(homeB, "config", "priv_validator_key.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pv struct {
		PubKey struct {
			Value string `json:"value"`
		} `json:"pub_key"`
	}
	if err := json.Unmarshal(raw, &pv); err != nil {
		t.Fatal(err)
	}
	// A's validator holds all the power: its proposal passes at once.
	ok(t, append([]string{"gov", "propose", "--id", "add-b", "--add-validator", pv.PubKey.Value, "--name", "validator-b", "--power", "10"}, a...)...)
	cl, err := chain.Dial(cfgA.RPC.ListenAddress)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, _ := cl.RPC.Status(t.Context())
		h := st.SyncInfo.LatestBlockHeight
		vs, err := cl.RPC.Validators(t.Context(), &h, nil, nil)
		if err == nil && len(vs.Validators) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CometBFT's validator set never grew: %v %v", vs, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	// Both sign now: the chain goes on only if B takes part.
	st, _ := cl.RPC.Status(t.Context())
	h0 := st.SyncInfo.LatestBlockHeight
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := cl.WaitHeight(ctx, h0+5); err != nil {
		t.Fatalf("the chain stalled with two validators: %v", err)
	}
	h := h0 + 4
	commit, err := cl.RPC.Commit(ctx, &h)
	if err != nil || len(commit.Commit.Signatures) != 2 {
		t.Fatalf("commit at %d: %v %v", h, commit, err)
	}
	signed := 0
	for _, s := range commit.Commit.Signatures {
		if len(s.Signature) > 0 {
			signed++
		}
	}
	if signed < 2 {
		t.Errorf("block %d signed by %d of 2 validators", h, signed)
	}

	// Parameters: the operator alone may not; a proposal needs both.
	if _, errs, code := cli(t, append([]string{"tx", "set-params", "--mechanism", "uniform"}, a...)...); code == 0 || !strings.Contains(errs, "wrong_role") {
		t.Errorf("operator set-params with two validators: exit %d %s", code, errs)
	}
	var cur contract.Params
	if err := cl.Query(ctx, "/params", &cur); err != nil {
		t.Fatal(err)
	}
	p := cur
	p.Mechanism = "uniform"
	pf := filepath.Join(t.TempDir(), "params.json")
	data, _ := json.Marshal(p)
	os.WriteFile(pf, data, 0o600)
	ok(t, append([]string{"gov", "propose", "--id", "uniform", "--params", pf}, a...)...)
	if err := cl.Query(ctx, "/params", &cur); err != nil || cur.Mechanism == "uniform" {
		t.Fatalf("half the power changed the parameters: %v %v", cur.Mechanism, err)
	}
	ok(t, append([]string{"gov", "vote", "uniform", "--node", cfgA.RPC.ListenAddress}, b...)...)
	if err := cl.Query(ctx, "/params", &cur); err != nil || cur.Mechanism != "uniform" {
		t.Fatalf("both validators voted, mechanism is %v %v", cur.Mechanism, err)
	}
	out := okJSON[struct {
		Validators []contract.Validator `json:"validators"`
		Proposals  []contract.Proposal  `json:"proposals"`
	}](t, append([]string{"gov", "list", "--output", "json"}, a...)...)
	if len(out.Validators) != 2 || len(out.Proposals) != 2 || out.Proposals[0].State != contract.ProposalPassed || out.Proposals[1].State != contract.ProposalPassed {
		t.Errorf("gov list: %+v", out)
	}
}

package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

// plansLedger is a fake ledger holding committed plans (pure logic: the
// DSO's decision), recording what is sent.
type plansLedger struct {
	plans map[string][]contract.PlanEntry
	sent  []contract.Msg
}

func (l *plansLedger) Query(_ context.Context, path string, v any) error {
	b, _ := json.Marshal(l.plans[path])
	return json.Unmarshal(b, v)
}

func (l *plansLedger) Send(_ context.Context, _ chain.Key, msg contract.Msg) error {
	l.sent = append(l.sent, msg)
	return nil
}

// A community of 300 flexible homes whose evening peaks far exceed the
// limit: the DSO asks the most flexible, as many as one request may name,
// and the request fits a transaction.
func TestDSORequestsFromTheMostFlexibleWithinOneTransaction(t *testing.T) {
	const day = int64(20 * 86400)
	l := &plansLedger{plans: map[string][]contract.PlanEntry{}}
	for h := range int64(24) {
		start := day + h*3600
		for m := range 300 {
			net, flex := int64(500), int64(0)
			if h >= 18 && h < 21 {
				net, flex = 3000, int64(100+m) // member m299 is the most flexible
			}
			l.plans[fmt.Sprintf("/plans/%d", start)] = append(l.plans[fmt.Sprintf("/plans/%d", start)],
				contract.PlanEntry{Member: fmt.Sprintf("m%03d", m), Start: start, NetWh: net, FlexWh: flex})
		}
	}
	key := chain.Key{ID: "dso", Role: contract.RoleDSO, PrivKey: ed25519.GenPrivKeyFromSecret([]byte("dso"))}
	d := &DSO{Key: key, Ledger: l, Log: slog.New(slog.DiscardHandler), LimitPct: 150, IncentivePerKWh: 100_000, DecideBeforeS: 10 * 3600}
	if err := d.Step(context.Background(), Snapshot{MarketTime: day - 10*3600, Params: contract.DefaultParams()}); err != nil {
		t.Fatal(err)
	}
	if len(l.sent) != 1 {
		t.Fatalf("%d requests sent", len(l.sent))
	}
	r := l.sent[0].(*contract.MsgDRRequest)
	if len(r.Targets) != contract.MaxDRTargets || r.Targets[0].Member != "m299" || !strings.HasPrefix(r.Targets[len(r.Targets)-1].Member, "m2") {
		t.Errorf("%d targets, first %+v last %+v", len(r.Targets), r.Targets[0], r.Targets[len(r.Targets)-1])
	}
	if r.Start != day+18*3600 || r.Intervals != 3 {
		t.Errorf("request for %d intervals from %d", r.Intervals, r.Start)
	}
	if err := r.ValidateBasic(); err != nil {
		t.Error(err)
	}
	raw, err := contract.Sign(key.PrivKey, "test-chain", key.ID, 1, r)
	if err != nil || len(raw) > contract.MaxTxBytes {
		t.Errorf("request is %d bytes (%v), limit %d", len(raw), err, contract.MaxTxBytes)
	}
	// Once a day.
	if err := d.Step(context.Background(), Snapshot{MarketTime: day - 9*3600, Params: contract.DefaultParams()}); err != nil || len(l.sent) != 1 {
		t.Errorf("a second step sent %d requests (%v)", len(l.sent), err)
	}
}

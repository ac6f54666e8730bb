package chain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/contract"
)

// The app checks a big block's signatures a part per core; the outcome
// must be the contract's own single pass: the same results, refusals in
// the same places, the same app hash.
func TestParallelCheckingChangesNothing(t *testing.T) {
	op := Key{ID: "operator", Role: contract.RoleOperator, PrivKey: ed25519.GenPrivKeyFromSecret([]byte("op"))}
	g := contract.Genesis{Params: contract.DefaultParams(), TimeScale: 1,
		Participants: []contract.Participant{{ID: op.ID, Role: op.Role, PubKey: op.PubKey()}}}
	state, _ := json.Marshal(g)
	genesis := time.Unix(1_750_000_000, 0).UTC()

	// 1,000 registrations and money for them, with bad ones sprinkled in:
	// a forged signature, garbage, a replayed nonce.
	var txs [][]byte
	nonce := uint64(0)
	other := ed25519.GenPrivKeyFromSecret([]byte("other"))
	for i := range 1000 {
		nonce++
		msg := &contract.MsgRegisterParticipant{ID: fmt.Sprintf("m%04d", i), Role: contract.RoleMember,
			NodeType: contract.NodeHousehold, PubKey: ed25519.GenPrivKeyFromSecret(fmt.Appendf(nil, "m%d", i)).PubKey().Bytes()}
		key := op.PrivKey
		if i%97 == 5 {
			key = other // forged
		}
		raw, err := contract.Sign(key, "c", op.ID, nonce, msg)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case i%131 == 7:
			raw = []byte("not a transaction")
		case i%149 == 11:
			txs = append(txs, raw) // replayed below
		}
		txs = append(txs, raw)
	}

	app, err := NewApp(dbm.NewMemDB(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.InitChain(context.Background(), &abci.InitChainRequest{ChainId: "c", AppStateBytes: state, Time: genesis}); err != nil {
		t.Fatal(err)
	}
	resp, err := app.FinalizeBlock(context.Background(), &abci.FinalizeBlockRequest{Height: 1, Time: genesis.Add(time.Second), Txs: txs})
	if err != nil {
		t.Fatal(err)
	}

	s, _, err := contract.NewGenesis("c", g, genesis.UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	s.BeginBlock(1, genesis.Add(time.Second).UnixNano())
	want := s.DeliverTxs(txs)
	cm, _ := s.EndBlock()
	refused := 0
	for i, r := range want {
		got := resp.TxResults[i]
		if got.Code != uint32(r.Code) || got.Log != r.Log {
			t.Fatalf("tx %d: app %d %q, contract %d %q", i, got.Code, got.Log, r.Code, r.Log)
		}
		if r.Code != contract.CodeOK {
			refused++
		}
	}
	if !bytes.Equal(resp.AppHash, cm.AppHash) {
		t.Errorf("app hash %X, contract's %X", resp.AppHash, cm.AppHash)
	}
	if refused < 20 || refused > 40 {
		t.Errorf("%d of %d refused: the bad transactions were not where they were put", refused, len(txs))
	}
}

// TestPrepareProposalPutsEachSignerInNonceOrder: a mempool holding a
// signer's later nonce first must not make its earlier one a replay, and
// the positions of every signer's transactions stay theirs.
func TestPrepareProposalPutsEachSignerInNonceOrder(t *testing.T) {
	a, b := NewKey("a", contract.RoleMember), NewKey("b", contract.RoleMember)
	sign := func(k Key, nonce uint64) []byte {
		tx, err := contract.Sign(k.PrivKey, "c", k.ID, nonce, &contract.MsgBid{Listing: 3600, Wh: 1, PricePerKWh: 1})
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	junk := []byte("not a transaction")
	in := [][]byte{sign(a, 40), sign(b, 2), junk, sign(a, 35), sign(b, 1), sign(a, 36)}
	want := [][]byte{in[3], in[4], junk, in[5], in[1], in[0]}
	app := &App{}
	res, err := app.PrepareProposal(context.Background(), &abci.PrepareProposalRequest{Txs: in, MaxTxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Txs) != len(want) {
		t.Fatalf("%d txs, want %d", len(res.Txs), len(want))
	}
	for i := range want {
		if !bytes.Equal(res.Txs[i], want[i]) {
			t.Errorf("position %d: got %q…", i, res.Txs[i][:min(20, len(res.Txs[i]))])
		}
	}
	// What does not fit is left out, in the mempool's order.
	res, _ = app.PrepareProposal(context.Background(), &abci.PrepareProposalRequest{Txs: in, MaxTxBytes: int64(len(in[0]) + len(in[1]) + 1)})
	if len(res.Txs) != 2 || !bytes.Equal(res.Txs[0], in[0]) || !bytes.Equal(res.Txs[1], in[1]) {
		t.Errorf("trimmed to %d txs", len(res.Txs))
	}
}

// TestBlockResultsDoNotDependOnTheSignatureCache: a block of good and
// forged transactions gives the same results and app hash on a node that
// verified them at CheckTx as on one that did not.
func TestBlockResultsDoNotDependOnTheSignatureCache(t *testing.T) {
	op := ed25519.GenPrivKeyFromSecret([]byte("op"))
	g := contract.Genesis{Params: contract.DefaultParams(), TimeScale: 1,
		Participants: []contract.Participant{{ID: "operator", Role: contract.RoleOperator, PubKey: op.PubKey().Bytes()}}}
	state, _ := json.Marshal(g)
	genesis := time.Unix(1_750_000_000, 0).UTC()
	run := func(warm bool) ([]*abci.ExecTxResult, []byte) {
		app, err := NewApp(dbm.NewMemDB(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.InitChain(context.Background(), &abci.InitChainRequest{ChainId: "c", AppStateBytes: state, Time: genesis}); err != nil {
			t.Fatal(err)
		}
		var txs [][]byte
		for i := range 600 { // enough to split across cores
			tx, _ := contract.Sign(op, "c", "operator", uint64(i+1), &contract.MsgIssue{To: "operator", Amount: 1})
			if i%7 == 3 {
				tx[10] ^= 1 // a forged signature
			}
			txs = append(txs, tx)
			if warm {
				app.CheckTx(context.Background(), &abci.CheckTxRequest{Tx: tx})
			}
		}
		res, err := app.FinalizeBlock(context.Background(), &abci.FinalizeBlockRequest{Height: 1, Time: genesis.Add(time.Second), Txs: txs})
		if err != nil {
			t.Fatal(err)
		}
		return res.TxResults, res.AppHash
	}
	cold, coldHash := run(false)
	warm, warmHash := run(true)
	if !bytes.Equal(coldHash, warmHash) {
		t.Fatalf("app hash %X with the cache, %X without", warmHash, coldHash)
	}
	bad := 0
	for i := range cold {
		if cold[i].Code != warm[i].Code {
			t.Errorf("tx %d: code %d cold, %d warm", i, cold[i].Code, warm[i].Code)
		}
		if cold[i].Code == uint32(contract.CodeBadSignature) {
			bad++
		}
	}
	if bad != 86 {
		t.Errorf("%d forged transactions refused, want 86", bad)
	}
}

// TestConcurrentCheckTxAnswersEachTransaction: CometBFT calls CheckTx
// from many goroutines at once, whose signatures are verified together in
// batches; each transaction still gets the answer (code and message) that
// CheckTx gives it alone, forged ones refused among good ones, and only
// the good ones are remembered as verified for the block.
func TestConcurrentCheckTxAnswersEachTransaction(t *testing.T) {
	op := ed25519.GenPrivKeyFromSecret([]byte("op"))
	g := contract.Genesis{Params: contract.DefaultParams(), TimeScale: 1,
		Participants: []contract.Participant{{ID: "operator", Role: contract.RoleOperator, PubKey: op.PubKey().Bytes()}}}
	state, _ := json.Marshal(g)
	newApp := func() *App {
		app, err := NewApp(dbm.NewMemDB(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.InitChain(context.Background(), &abci.InitChainRequest{ChainId: "c", AppStateBytes: state, Time: time.Unix(1_750_000_000, 0)}); err != nil {
			t.Fatal(err)
		}
		return app
	}
	var txs [][]byte
	for i := range 800 {
		tx, _ := contract.Sign(op, "c", "operator", uint64(i+1), &contract.MsgIssue{To: "operator", Amount: 1})
		if i%5 == 2 {
			tx[10] ^= 1 // a forged signature
		}
		txs = append(txs, tx)
	}
	alone := newApp()
	want := make([]*abci.CheckTxResponse, len(txs))
	for i, tx := range txs {
		want[i], _ = alone.CheckTx(context.Background(), &abci.CheckTxRequest{Tx: tx})
	}
	app := newApp()
	got := make([]*abci.CheckTxResponse, len(txs))
	const callers = 24
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < len(txs); i += callers {
				got[i], _ = app.CheckTx(context.Background(), &abci.CheckTxRequest{Tx: txs[i]})
			}
		}()
	}
	wg.Wait()
	forged := 0
	for i, tx := range txs {
		if got[i].Code != want[i].Code || got[i].Log != want[i].Log {
			t.Errorf("tx %d: code %d %q together, %d %q alone", i, got[i].Code, got[i].Log, want[i].Code, want[i].Log)
		}
		if got[i].Code == uint32(contract.CodeBadSignature) {
			forged++
		}
		d, err := contract.DecodeTx(tx)
		if err != nil {
			t.Fatal(err)
		}
		if remembered := app.Seen().Has(op.PubKey().Bytes(), d.SignBytes, d.Signature); remembered != (got[i].Code == abci.CodeTypeOK) {
			t.Errorf("tx %d (code %d): remembered as verified %v", i, got[i].Code, remembered)
		}
	}
	if forged != 160 {
		t.Errorf("%d forged transactions refused, want 160", forged)
	}
}

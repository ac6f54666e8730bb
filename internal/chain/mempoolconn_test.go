package chain

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abcicli "github.com/cometbft/cometbft/abci/client"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/contract"
)

var checkGenesis = time.Unix(1_750_000_000, 0).UTC()

// checkApp is an app at genesis with one operator.
func checkApp(t *testing.T, op ed25519.PrivKey) *App {
	t.Helper()
	g := contract.Genesis{Params: contract.DefaultParams(), TimeScale: 1,
		Participants: []contract.Participant{{ID: "operator", Role: contract.RoleOperator, PubKey: op.PubKey().Bytes()}}}
	state, _ := json.Marshal(g)
	app, err := NewApp(dbm.NewMemDB(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.InitChain(context.Background(), &abci.InitChainRequest{ChainId: "c", AppStateBytes: state, Time: checkGenesis}); err != nil {
		t.Fatal(err)
	}
	return app
}

// checkMix is transactions CheckTx accepts and refuses for every reason it
// has: good ones, forged signatures, garbage, another chain, an unknown
// signer, and (after block 1 commits nonces 1 to 3) replays.
func checkMix(t *testing.T, op ed25519.PrivKey) (committed, mix [][]byte) {
	t.Helper()
	sign := func(key ed25519.PrivKey, chain, signer string, nonce uint64) []byte {
		tx, err := contract.Sign(key, chain, signer, nonce, &contract.MsgIssue{To: "operator", Amount: 1})
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	for n := range uint64(3) {
		committed = append(committed, sign(op, "c", "operator", n+1))
	}
	other := ed25519.GenPrivKeyFromSecret([]byte("other"))
	for i := range 300 {
		n := uint64(i + 4)
		switch i % 10 {
		case 1:
			mix = append(mix, sign(other, "c", "operator", n)) // forged
		case 3:
			mix = append(mix, []byte("not a transaction"))
		case 5:
			mix = append(mix, sign(op, "elsewhere", "operator", n))
		case 7:
			mix = append(mix, sign(op, "c", "nobody", n))
		case 9:
			mix = append(mix, committed[i%3]) // its nonce is used by block 1
		default:
			mix = append(mix, sign(op, "c", "operator", n))
		}
	}
	return committed, mix
}

// commitBlock runs and commits a block of txs, all of which must pass.
func commitBlock(t *testing.T, app *App, txs [][]byte) {
	t.Helper()
	res, err := app.FinalizeBlock(context.Background(), &abci.FinalizeBlockRequest{Height: 1, Time: checkGenesis.Add(time.Second), Txs: txs})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.TxResults {
		if r.Code != abci.CodeTypeOK {
			t.Fatalf("block tx %d: %d %s", i, r.Code, r.Log)
		}
	}
	if _, err := app.Commit(context.Background(), &abci.CommitRequest{}); err != nil {
		t.Fatal(err)
	}
}

// checkPair returns the operator's key, checkMix's transactions to check,
// and two apps that have both committed its block: one to answer alone,
// one to test.
func checkPair(t *testing.T) (op ed25519.PrivKey, mix [][]byte, alone, other *App) {
	op = ed25519.GenPrivKeyFromSecret([]byte("op"))
	committed, mix := checkMix(t, op)
	alone, other = checkApp(t, op), checkApp(t, op)
	commitBlock(t, alone, committed)
	commitBlock(t, other, committed)
	return op, mix, alone, other
}

// TestCheckTxsAnswersAsCheckTxAlone: the mempool's batches give each
// transaction CheckTx's own answer, code and message, whatever else is in
// the batch: forged signatures are refused among good ones on their first
// check, a nonce a committed block used is a replay, and only the good
// signatures are remembered as verified.
func TestCheckTxsAnswersAsCheckTxAlone(t *testing.T) {
	op, mix, alone, batched := checkPair(t)

	got := batched.checkTxs(mix)
	codes := map[uint32]int{}
	for i, tx := range mix {
		want, _ := alone.CheckTx(context.Background(), &abci.CheckTxRequest{Tx: tx})
		if got[i].Code != want.Code || got[i].Log != want.Log || got[i].Info != want.Info || got[i].Codespace != want.Codespace {
			t.Errorf("tx %d: batched %d %q, alone %d %q", i, got[i].Code, got[i].Log, want.Code, want.Log)
		}
		codes[got[i].Code]++
		d, err := contract.DecodeTx(tx)
		if err != nil {
			continue
		}
		if seen := batched.Seen().Has(op.PubKey().Bytes(), d.SignBytes, d.Signature); seen != (got[i].Code == abci.CodeTypeOK) {
			t.Errorf("tx %d (code %d): remembered as verified %v", i, got[i].Code, seen)
		}
	}
	for c, n := range map[contract.Code]int{contract.CodeOK: 150, contract.CodeBadSignature: 30, contract.CodeMalformed: 30,
		contract.CodeWrongChain: 30, contract.CodeUnknownParticipant: 30, contract.CodeReplay: 30} {
		if codes[uint32(c)] != n {
			t.Errorf("%d transactions answered %s, want %d (all: %v)", codes[uint32(c)], c.Name(), n, codes)
		}
	}
}

// TestMempoolClientAnswersEveryRequestBeforeFlushReturns: transactions
// queued from many goroutines each get their own answer through their
// callback, and Flush, which CometBFT calls before it commits a block,
// returns only once every one queued before it is answered.
func TestMempoolClientAnswersEveryRequestBeforeFlushReturns(t *testing.T) {
	_, mix, alone, app := checkPair(t)
	c := newMempoolClient(abcicli.NewUnsyncLocalClient(app), app)

	got := make([]uint32, len(mix))
	var answered atomic.Int64
	const callers = 12
	var wg sync.WaitGroup
	for k := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < len(mix); i += callers {
				rr, err := c.CheckTxAsync(context.Background(), &abci.CheckTxRequest{Tx: mix[i], Type: abci.CHECK_TX_TYPE_CHECK})
				if err != nil {
					t.Error(err)
					return
				}
				rr.SetCallback(func(res *abci.Response) error {
					got[i] = res.GetCheckTx().Code
					answered.Add(1)
					return nil
				})
			}
		}()
	}
	wg.Wait()
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := answered.Load(); n != int64(len(mix)) {
		t.Fatalf("%d of %d answered when Flush returned", n, len(mix))
	}
	for i, tx := range mix {
		want, _ := alone.CheckTx(context.Background(), &abci.CheckTxRequest{Tx: tx})
		if got[i] != want.Code {
			t.Errorf("tx %d: code %d through the mempool's client, %d alone", i, got[i], want.Code)
		}
	}
}

// Package chain runs the contract on CometBFT: the ABCI application that
// wraps the contract's state machine and persists it, the embedded node,
// the node's home directory (keys, config, genesis), and a client that
// signs and broadcasts transactions and queries the ledger over RPC.
package chain

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reqsig"

	"github.com/gridledger/gridledger/internal/sigs"
)

// AppVersion is the application protocol version reported to CometBFT.
const AppVersion = 1

// App is the ABCI application. The consensus connection (FinalizeBlock,
// Commit) and queries share the contract state under mu. CheckTx never
// touches that state: it checks signatures and nonces against a copy of
// the committed accounts, so the mempool keeps admitting transactions while
// a block executes.
type App struct {
	abci.BaseApplication
	log *slog.Logger

	mu      sync.Mutex
	db      dbm.DB
	state   *contract.State
	pending map[string][]byte // entries written since the last Commit
	meta    contract.Commitment

	accMu    sync.RWMutex
	accounts map[string]contract.Account
	chainID  string

	// Snapshots, when set, are taken at Commit and served for state sync.
	Snapshots *Snapshots
	// RetainBlocks, when set, lets CometBFT prune blocks older than this
	// many heights (the ledger's state keeps what it needs; new nodes join
	// by state sync).
	RetainBlocks int64
	restore      *restoring

	// sigs remembers the signatures CheckTx verified, so that a block of
	// transactions this node's mempool admitted is not verified twice.
	sigs *sigs.Seen
	// seen remembers the request signatures private queries used, so that
	// each serves once (in memory, outside the consensus state).
	seen reqsig.Seen

	// For the operator's metrics only, never for the state: how many
	// blocks and transactions ran, and the wall time they took.
	execBlocks, execTxs, execNanos atomic.Int64
}

// ExecStats are the blocks and transactions the app has executed since it
// started and the wall time that took (clearing and settlement included).
type ExecStats struct {
	Blocks, Txs int64
	Seconds     float64
}

// ExecStats reports what FinalizeBlock has done so far.
func (a *App) ExecStats() ExecStats {
	return ExecStats{Blocks: a.execBlocks.Load(), Txs: a.execTxs.Load(), Seconds: float64(a.execNanos.Load()) / 1e9}
}

var _ abci.Application = (*App)(nil)

// DB keys: state entries under "s/", the last commit's meta under "meta".
const (
	statePrefix = "s/"
	metaKey     = "meta"
)

type persistedMeta struct {
	Height     int64  `json:"height"`
	MarketTime int64  `json:"market_time"`
	AppHash    []byte `json:"app_hash"`
}

// NewApp opens the application over db, loading the committed state if
// there is one and checking it still hashes to the app hash it committed.
func NewApp(db dbm.DB, log *slog.Logger) (*App, error) {
	a := &App{db: db, log: log, pending: map[string][]byte{}, accounts: map[string]contract.Account{}, sigs: sigs.NewSeen(200_000)}
	raw, err := db.Get([]byte(metaKey))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return a, nil
	}
	var m persistedMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("chain: corrupt meta: %w", err)
	}
	var entries []contract.KV
	it, err := dbm.IteratePrefix(db, []byte(statePrefix))
	if err != nil {
		return nil, err
	}
	for ; it.Valid(); it.Next() {
		entries = append(entries, contract.KV{Key: string(it.Key()[len(statePrefix):]), Value: bytes.Clone(it.Value())})
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	st, err := contract.Load(entries, m.Height, m.MarketTime)
	if err != nil {
		return nil, err
	}
	if got := st.AppHash(); !bytes.Equal(got, m.AppHash) {
		return nil, fmt.Errorf("chain: state on disk hashes to %X but height %d committed %X: the database was altered or is corrupt", got, m.Height, m.AppHash)
	}
	a.setState(st, st.ChainID())
	a.meta = contract.Commitment{Height: m.Height, MarketTime: m.MarketTime, AppHash: m.AppHash}
	for _, acc := range st.Accounts() {
		a.accounts[acc.ID] = acc
	}
	log.Info("state loaded", "height", m.Height, "app_hash", fmt.Sprintf("%X", m.AppHash), "entries", len(entries))
	return a, nil
}

// Info tells CometBFT how far the application got, so it replays the rest.
func (a *App) Info(context.Context, *abci.InfoRequest) (*abci.InfoResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return &abci.InfoResponse{
		Data: "gridledger", AppVersion: AppVersion,
		LastBlockHeight: a.meta.Height, LastBlockAppHash: a.meta.AppHash,
	}, nil
}

// InitChain builds the genesis state from the genesis file's app_state.
func (a *App) InitChain(_ context.Context, req *abci.InitChainRequest) (*abci.InitChainResponse, error) {
	var g contract.Genesis
	if err := json.Unmarshal(req.AppStateBytes, &g); err != nil {
		return nil, fmt.Errorf("chain: genesis app_state: %w", err)
	}
	for _, v := range req.Validators {
		g.Validators = append(g.Validators, contract.Validator{PubKey: v.PubKeyBytes, Power: v.Power})
	}
	st, c, err := contract.NewGenesis(req.ChainId, g, req.Time.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("chain: genesis: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.setState(st, req.ChainId)
	a.stage(c)
	a.setAccounts(c.Accounts)
	return &abci.InitChainResponse{AppHash: c.AppHash}, nil
}

// setState makes st the app's state, taking the word of the signatures
// this node already verified.
func (a *App) setState(st *contract.State, chainID string) {
	st.UseSeen(a.sigs)
	a.state, a.chainID = st, chainID
}

// Seen is the app's memory of verified signatures. The simulator, which
// runs blocks without a mempool, adds what its homes and meters signed
// once it has verified it while the previous block executed, as a node's
// CheckTx does while consensus runs.
func (a *App) Seen() *sigs.Seen { return a.sigs }

func (a *App) stage(c contract.Commitment) {
	for _, kv := range c.Writes {
		a.pending[kv.Key] = kv.Value
	}
	a.meta = c
}

// CheckTx admits a transaction to the mempool if it is well formed, for
// this chain, signed by a known and unsuspended participant with a fresh
// nonce. Funds, roles and gate closure are checked when the block runs.
// CometBFT's mempool asks checkTxs for its queue instead (mempoolClient);
// this answers the RPC's check_tx, one transaction.
func (a *App) CheckTx(_ context.Context, req *abci.CheckTxRequest) (*abci.CheckTxResponse, error) {
	return a.checkTxs([][]byte{req.Tx})[0], nil
}

// checkTxs answers CheckTx for each of txs, in order, as CheckTx would
// one by one, but verifies their signatures together as one batch (about
// 32 µs a signature for 64 against 70 alone).
func (a *App) checkTxs(txs [][]byte) []*abci.CheckTxResponse {
	out := make([]*abci.CheckTxResponse, len(txs))
	type queued struct {
		i   int
		tx  *contract.Tx
		key []byte
	}
	var q []queued
	b := sigs.NewBatch()
	for i, raw := range txs {
		tx, err := contract.DecodeTx(raw)
		var acc contract.Account
		if err == nil {
			acc, err = a.checkAccount(tx)
		}
		if err == nil && !b.Add(acc.PubKey, tx.SignBytes, tx.Signature) {
			err = badSignature(tx)
		}
		if err != nil {
			out[i] = refusal(err)
			continue
		}
		q = append(q, queued{i, tx, acc.PubKey})
	}
	valid := b.Verify()
	for j, e := range q {
		if !valid[j] {
			out[e.i] = refusal(badSignature(e.tx))
			continue
		}
		a.sigs.Add(e.key, e.tx.SignBytes, e.tx.Signature)
		out[e.i] = &abci.CheckTxResponse{Code: abci.CodeTypeOK}
	}
	return out
}

func refusal(err error) *abci.CheckTxResponse {
	c := contract.CodeOf(err)
	return &abci.CheckTxResponse{Code: uint32(c), Codespace: "gridledger", Log: err.Error(), Info: c.Name()}
}

func badSignature(tx *contract.Tx) error {
	return fmt.Errorf("%w: not signed by %q's key", contract.ErrBadSignature, tx.Signer)
}

// checkAccount checks what CheckTx needs of the committed accounts: the
// signer exists, is not suspended, and the nonce is fresh. The signature
// is the caller's to verify.
func (a *App) checkAccount(tx *contract.Tx) (contract.Account, error) {
	a.accMu.RLock()
	acc, ok := a.accounts[tx.Signer]
	chainID := a.chainID
	a.accMu.RUnlock()
	switch {
	case tx.ChainID != chainID:
		return acc, fmt.Errorf("%w: chain %q, this is %q", contract.ErrWrongChain, tx.ChainID, chainID)
	case !ok:
		return acc, fmt.Errorf("%w: signer %q", contract.ErrUnknownParticipant, tx.Signer)
	case acc.Suspended:
		return acc, fmt.Errorf("%w: %q", contract.ErrSuspended, tx.Signer)
	}
	return acc, acc.CheckReplay(tx)
}

// FinalizeBlock runs a decided block through the contract and stages its
// writes; Commit persists them.
func (a *App) FinalizeBlock(_ context.Context, req *abci.FinalizeBlockRequest) (*abci.FinalizeBlockResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := time.Now()
	defer func() {
		a.execBlocks.Add(1)
		a.execTxs.Add(int64(len(req.Txs)))
		a.execNanos.Add(int64(time.Since(start)))
	}()
	if a.state == nil {
		return nil, fmt.Errorf("chain: FinalizeBlock before InitChain")
	}
	a.state.BeginBlock(req.Height, req.Time.UnixNano())
	results := a.state.DeliverChecked(a.check(req.Txs))
	c, events := a.state.EndBlock()
	a.stage(c)
	resp := &abci.FinalizeBlockResponse{AppHash: c.AppHash, TxResults: make([]*abci.ExecTxResult, len(results)), Events: abciEvents(events)}
	for _, u := range c.ValidatorUpdates {
		resp.ValidatorUpdates = append(resp.ValidatorUpdates, abci.ValidatorUpdate{Power: u.Power, PubKeyType: "ed25519", PubKeyBytes: u.PubKey})
	}
	for i, r := range results {
		resp.TxResults[i] = &abci.ExecTxResult{Code: uint32(r.Code), Codespace: codespace(r.Code), Log: r.Log, Info: r.Code.Name(), Events: abciEvents(r.Events)}
	}
	return resp, nil
}

// PrepareProposal proposes the mempool's transactions (as many as fit)
// with each signer's in nonce order, keeping every other position.
// Validators check gossiped transactions concurrently, so a mempool can
// hold a signer's nonce 40 ahead of its 35; run in that order, 35 would be
// refused as a replay. Which positions a signer's transactions take does
// not change, so signers still go first come, first served.
func (a *App) PrepareProposal(_ context.Context, req *abci.PrepareProposalRequest) (*abci.PrepareProposalResponse, error) {
	txs := make([][]byte, 0, len(req.Txs))
	var total int64
	for _, tx := range req.Txs {
		if total += int64(len(tx)); total > req.MaxTxBytes {
			break
		}
		txs = append(txs, tx)
	}
	return &abci.PrepareProposalResponse{Txs: nonceOrder(txs)}, nil
}

// nonceOrder reorders txs so that each signer's come in nonce order, in
// the positions its transactions held. Undecodable ones stay where they
// are.
func nonceOrder(txs [][]byte) [][]byte {
	type entry struct {
		nonce uint64
		tx    []byte
	}
	bySigner := map[string][]int{} // positions, in order
	entries := make([]entry, len(txs))
	var signers []string
	for i, tx := range txs {
		signer, nonce, ok := contract.PeekSigner(tx)
		if !ok {
			continue
		}
		if _, seen := bySigner[signer]; !seen {
			signers = append(signers, signer)
		}
		bySigner[signer] = append(bySigner[signer], i)
		entries[i] = entry{nonce, tx}
	}
	out := slices.Clone(txs)
	for _, signer := range signers {
		pos := bySigner[signer]
		if len(pos) < 2 {
			continue
		}
		es := make([]entry, len(pos))
		for j, p := range pos {
			es[j] = entries[p]
		}
		slices.SortStableFunc(es, func(a, b entry) int { return cmp.Compare(a.nonce, b.nonce) })
		for j, p := range pos {
			out[p] = es[j].tx
		}
	}
	return out
}

// checkChunk is the fewest transactions worth a core of their own.
const checkChunk = 256

// check decodes a block's transactions and checks their signatures, a part
// per core: the contract's CheckTxs only reads the state, and the joined
// parts are what one CheckTxs of the whole block would give, so every
// validator reaches the same result whatever its core count.
func (a *App) check(txs [][]byte) contract.Checked {
	n := min(runtime.GOMAXPROCS(0), len(txs)/checkChunk)
	if n <= 1 {
		return a.state.CheckTxs(txs)
	}
	parts := make([]contract.Checked, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i] = a.state.CheckTxs(txs[i*len(txs)/n : (i+1)*len(txs)/n])
		}()
	}
	wg.Wait()
	return contract.JoinChecked(parts...)
}

func codespace(c contract.Code) string {
	if c == contract.CodeOK {
		return ""
	}
	return "gridledger"
}

// indexedAttrs are the event attributes CometBFT's transaction index
// keeps, for an auditor's `tx_search "BuyOffer.participant='alice'"`:
// who did something. Every indexed attribute is a database write per
// transaction on every node: with all of them indexed, 4 validators at
// 3,000 tx/s offered committed 2,730-2,790 tx/s with p99 1.5-2.2 s; with
// these three, 2,790-2,890 tx/s with p99 0.9-1.5 s.
var indexedAttrs = map[string]bool{"participant": true, "member": true, "id": true}

func abciEvents(evs []contract.Event) []abci.Event {
	out := make([]abci.Event, len(evs))
	for i, e := range evs {
		out[i] = abci.Event{Type: e.Type, Attributes: make([]abci.EventAttribute, len(e.Attrs))}
		for j, at := range e.Attrs {
			out[i].Attributes[j] = abci.EventAttribute{Key: at.Key, Value: at.Value, Index: indexedAttrs[at.Key]}
		}
	}
	return out
}

// Commit writes the staged entries and the new meta in one synced batch,
// then publishes the changed accounts to CheckTx.
func (a *App) Commit(context.Context, *abci.CommitRequest) (*abci.CommitResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.db.NewBatch()
	defer b.Close()
	keys := make([]string, 0, len(a.pending))
	for k := range a.pending {
		keys = append(keys, k)
	}
	for _, k := range keys {
		var err error
		if v := a.pending[k]; v == nil {
			err = b.Delete([]byte(statePrefix + k))
		} else {
			err = b.Set([]byte(statePrefix+k), v)
		}
		if err != nil {
			return nil, err
		}
	}
	meta := persistedMeta{Height: a.meta.Height, MarketTime: a.meta.MarketTime, AppHash: a.meta.AppHash}
	if err := setMeta(b, meta); err != nil {
		return nil, err
	}
	if err := b.WriteSync(); err != nil {
		return nil, fmt.Errorf("chain: commit height %d: %w", a.meta.Height, err)
	}
	clear(a.pending)
	a.setAccounts(a.meta.Accounts)
	if a.Snapshots.due(a.meta.Height) {
		start := time.Now()
		snap, err := a.Snapshots.take(a.db, meta)
		if err != nil {
			a.log.Error("snapshot", "height", a.meta.Height, "err", err)
		} else {
			a.log.Info("snapshot taken", "height", a.meta.Height, "chunks", snap.Chunks, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	var retain int64
	if a.RetainBlocks > 0 && a.meta.Height > a.RetainBlocks {
		retain = a.meta.Height - a.RetainBlocks + 1
	}
	return &abci.CommitResponse{RetainHeight: retain}, nil
}

// setMeta adds the commit's meta to a batch.
func setMeta(b dbm.Batch, m persistedMeta) error {
	raw, _ := json.Marshal(m)
	return b.Set([]byte(metaKey), raw)
}

func (a *App) setAccounts(accs []contract.Account) {
	a.accMu.Lock()
	defer a.accMu.Unlock()
	for _, acc := range accs {
		a.accounts[acc.ID] = acc
	}
}

// Query answers read-only requests from outside (abci_query): see
// contract.State.Query for paths and PublicQuery for the private ones.
func (a *App) Query(_ context.Context, req *abci.QueryRequest) (*abci.QueryResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state == nil {
		return &abci.QueryResponse{Code: 1, Log: "ledger not initialised"}, nil
	}
	v, err := a.state.PublicQuery(req.Path, &a.seen)
	if err != nil {
		c := contract.CodeOf(err)
		return &abci.QueryResponse{Code: uint32(c), Codespace: "gridledger", Log: err.Error(), Info: c.Name()}, nil
	}
	return &abci.QueryResponse{Code: abci.CodeTypeOK, Value: v, Height: a.meta.Height}, nil
}

// State runs f with the contract state locked, for in-process readers.
func (a *App) State(f func(*contract.State)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a.state)
}

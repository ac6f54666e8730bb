package chain

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/gridledger/gridledger/internal/contract"
)

// TestJoinByStateSync: a new node joins a running network from a
// validator's snapshot, checked against a trusted header, and ends with
// the same ledger without having replayed the blocks before it; a node
// joining without state sync replays them all. A snapshot whose chunk is
// altered is refused.
func TestJoinByStateSync(t *testing.T) {
	homeA := t.TempDir()
	a := testNode(t, homeA)
	a.Stop()
	if err := editAppConfig(homeA, func(ac *AppConfig) { ac.StateSync = StateSync{SnapshotInterval: 5, SnapshotKeepRecent: 30} }); err != nil {
		t.Fatal(err)
	}
	SnapshotChunkBytes = 512 // several chunks, even for a small ledger
	defer func() { SnapshotChunkBytes = 4 << 20 }()
	a = startTestNode(t, homeA)
	defer a.Stop()
	cl, err := Dial(a.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	op, _ := LoadKey(homeA, "operator")
	for i := range 6 {
		k := NewKey(fmt.Sprintf("m%d", i), contract.RoleMember)
		submit(t, cl, op, &contract.MsgRegisterParticipant{ID: k.ID, Role: contract.RoleMember, NodeType: contract.NodeHousehold, PubKey: k.PubKey()})
		submit(t, cl, op, &contract.MsgIssue{To: k.ID, Amount: int64(i+1) * 1_000_000_000})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, _ := cl.RPC.Status(ctx)
	if err := cl.WaitHeight(ctx, st.SyncInfo.LatestBlockHeight+6); err != nil {
		t.Fatal(err)
	}
	snaps, _ := filepath.Glob(filepath.Join(homeA, "data", "snapshots", "*.snap"))
	if len(snaps) < 2 || len(snaps) > 30 {
		t.Fatalf("snapshots kept: %v, want 2 to 30", snaps)
	}
	genesis, _ := os.ReadFile(filepath.Join(homeA, "config", "genesis.json"))
	peer := string(a.NodeInfo().ID()) + "@" + strings.TrimPrefix(a.Config.P2P.ListenAddress, "tcp://")
	rpc := strings.Replace(a.RPCAddr(), "tcp://", "http://", 1)

	join := func(stateSync bool) (*Node, time.Duration) {
		home := t.TempDir()
		o := JoinOptions{Genesis: genesis, Peers: peer, Moniker: "joiner", RPCAddr: freeAddr(t), P2PAddr: freeAddr(t), APIAddr: "off", StateSync: stateSync}
		if stateSync {
			st, _ := cl.RPC.Status(ctx)
			h := st.SyncInfo.LatestBlockHeight
			c, err := cl.RPC.Commit(ctx, &h)
			if err != nil {
				t.Fatal(err)
			}
			o.RPCServers, o.TrustHeight, o.TrustHash = []string{rpc}, h, c.SignedHeader.Commit.BlockID.Hash.String()
		}
		if err := InitJoin(home, o); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		n := startTestNode(t, home)
		jc, err := Dial(n.RPCAddr())
		if err != nil {
			t.Fatal(err)
		}
		// Caught up: the same app hash as the validator at a height both
		// have passed.
		for {
			ast, _ := cl.RPC.Status(ctx)
			jst, err := jc.RPC.Status(ctx)
			if err == nil && !jst.SyncInfo.CatchingUp && jst.SyncInfo.LatestBlockHeight >= ast.SyncInfo.LatestBlockHeight {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("the joining node did not catch up: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		took := time.Since(start)
		jinfo, _ := jc.RPC.ABCIInfo(ctx)
		h := jinfo.Response.LastBlockHeight + 1
		if err := cl.WaitHeight(ctx, h); err != nil {
			t.Fatal(err)
		}
		hdr, err := cl.RPC.Header(ctx, &h)
		if err != nil || !bytes.Equal(hdr.Header.AppHash, jinfo.Response.LastBlockAppHash) {
			t.Fatalf("joined node's state at %d hashes to %X, the chain committed %v (%v)", h-1, jinfo.Response.LastBlockAppHash, hdr, err)
		}
		var ps []contract.Participant
		if err := jc.Query(ctx, "/participants", &ps); err != nil || len(ps) != 10 {
			t.Fatalf("joined node's participants: %d %v", len(ps), err)
		}
		return n, took
	}
	synced, tookSync := join(true)
	defer synced.Stop()
	if base := synced.BlockStore().Base(); base <= 1 {
		t.Errorf("state-synced node's block store starts at %d: it replayed from genesis", base)
	}
	replayed, tookReplay := join(false)
	defer replayed.Stop()
	if base := replayed.BlockStore().Base(); base != 1 {
		t.Errorf("replaying node's block store starts at %d, want 1", base)
	}
	t.Logf("joined by state sync in %s, by replay in %s (chain at height %d)", tookSync.Round(time.Millisecond), tookReplay.Round(time.Millisecond), replayed.BlockStore().Height())
}

// TestSnapshotRestoreRefusesTampering: a chunk that does not match its
// hash is fetched again from another peer, and a snapshot whose state
// does not hash to the trusted app hash is refused.
func TestSnapshotRestoreRefusesTampering(t *testing.T) {
	home := t.TempDir()
	n := testNode(t, home)
	cl, err := Dial(n.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	op, _ := LoadKey(home, "operator")
	submit(t, cl, op, &contract.MsgIssue{To: "dso", Amount: 5_000_000_000})
	old := SnapshotChunkBytes
	SnapshotChunkBytes = 256
	defer func() { SnapshotChunkBytes = old }()
	snaps := &Snapshots{Dir: filepath.Join(home, "snaps"), Interval: 1, KeepRecent: 1}
	n.App.mu.Lock()
	meta := persistedMeta{Height: n.App.meta.Height, MarketTime: n.App.meta.MarketTime, AppHash: n.App.meta.AppHash}
	snap, err := snaps.take(n.App.db, meta)
	n.App.mu.Unlock()
	n.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if snap.Chunks < 3 {
		t.Fatalf("%d chunks, want several", snap.Chunks)
	}
	ctx := context.Background()
	fresh := func(appHash []byte) *App {
		a, err := NewApp(dbm.NewMemDB(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if res, _ := a.OfferSnapshot(ctx, &abci.OfferSnapshotRequest{Snapshot: snap, AppHash: appHash}); res.Result != abci.OFFER_SNAPSHOT_RESULT_ACCEPT {
			t.Fatalf("offer: %v", res.Result)
		}
		return a
	}
	apply := func(a *App, tamper func(i int, c []byte) []byte) abci.ApplySnapshotChunkResult {
		var last abci.ApplySnapshotChunkResult
		for i := range int(snap.Chunks) {
			c, err := snaps.chunk(meta.Height, i)
			if err != nil {
				t.Fatal(err)
			}
			res, _ := a.ApplySnapshotChunk(ctx, &abci.ApplySnapshotChunkRequest{Index: uint32(i), Chunk: tamper(i, c), Sender: "peer"})
			if last = res.Result; last != abci.APPLY_SNAPSHOT_CHUNK_RESULT_ACCEPT {
				return last
			}
		}
		return last
	}
	same := func(_ int, c []byte) []byte { return c }
	a := fresh(meta.AppHash)
	if got := apply(a, same); got != abci.APPLY_SNAPSHOT_CHUNK_RESULT_ACCEPT || !bytes.Equal(a.meta.AppHash, meta.AppHash) || a.state == nil {
		t.Fatalf("honest restore: %v, app hash %X", got, a.meta.AppHash)
	}
	// A node with a state takes no other.
	if res, _ := a.OfferSnapshot(ctx, &abci.OfferSnapshotRequest{Snapshot: snap, AppHash: meta.AppHash}); res.Result != abci.OFFER_SNAPSHOT_RESULT_ABORT {
		t.Errorf("offer to a node with a state: %v", res.Result)
	}
	a = fresh(meta.AppHash)
	altered := func(i int, c []byte) []byte {
		if i == 1 {
			c = bytes.Clone(c)
			c[0] ^= 1
		}
		return c
	}
	if got := apply(a, altered); got != abci.APPLY_SNAPSHOT_CHUNK_RESULT_RETRY || a.state != nil {
		t.Errorf("altered chunk: %v", got)
	}
	a = fresh(bytes.Repeat([]byte{7}, 32))
	if got := apply(a, same); got != abci.APPLY_SNAPSHOT_CHUNK_RESULT_REJECT_SNAPSHOT || a.state != nil {
		t.Errorf("snapshot the trusted header does not vouch for: %v", got)
	}
	// Another format is not ours.
	other := *snap
	other.Format = 9
	b, _ := NewApp(dbm.NewMemDB(), slog.New(slog.DiscardHandler))
	if res, _ := b.OfferSnapshot(ctx, &abci.OfferSnapshotRequest{Snapshot: &other, AppHash: meta.AppHash}); res.Result != abci.OFFER_SNAPSHOT_RESULT_REJECT_FORMAT {
		t.Errorf("format 9: %v", res.Result)
	}
}

// TestPruningKeepsRecentBlocks: with retain_blocks set, the node prunes
// older blocks from its store while the ledger's state stays whole.
func TestPruningKeepsRecentBlocks(t *testing.T) {
	home := t.TempDir()
	n := testNode(t, home)
	n.Stop()
	if err := editAppConfig(home, func(ac *AppConfig) { ac.Pruning.RetainBlocks = 10 }); err != nil {
		t.Fatal(err)
	}
	n = startTestNode(t, home)
	defer n.Stop()
	cl, err := Dial(n.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	op, _ := LoadKey(home, "operator")
	submit(t, cl, op, &contract.MsgIssue{To: "dso", Amount: 7_000_000_000})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// CometBFT's pruner runs every 10 s.
	deadline := time.Now().Add(60 * time.Second)
	for n.BlockStore().Base() <= 1 && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
	}
	base, height := n.BlockStore().Base(), n.BlockStore().Height()
	if base <= 1 || height-base > 40 {
		t.Fatalf("block store holds %d..%d with retain_blocks 10", base, height)
	}
	var p contract.Participant
	if err := cl.Query(ctx, "/participants/dso", &p); err != nil || p.Balance != 7_000_000_000 {
		t.Fatalf("state after pruning: %+v %v", p, err)
	}
}

// editAppConfig changes a home's gridledger.toml.
func editAppConfig(home string, edit func(*AppConfig)) error {
	ac, err := LoadAppConfig(home)
	if err != nil {
		return err
	}
	edit(&ac)
	return writeAppConfig(home, ac)
}

package rpcguard_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/rpcguard"
)

// TestStateSyncThroughTheGuard: a node joins by state sync from a
// validator whose RPC is guarded, unsigned: the light client's commit,
// validators and consensus_params are public (headers and keys, no
// transaction).
func TestStateSyncThroughTheGuard(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	guard := chain.StartOptions{GuardRPC: rpcguard.ForNode(log)}
	homeA := t.TempDir()
	p := contract.DefaultParams()
	if err := chain.InitNetwork(chain.Network{ChainID: "gridledger-guard-sync", TimeScale: 1, Params: p, SnapshotInterval: 3, SnapshotKeepRecent: 30,
		Nodes: []chain.NodeOptions{{Home: homeA, Moniker: "a", RPCAddr: freeAddr(t), P2PAddr: freeAddr(t), APIAddr: "off",
			Keys: []contract.Role{contract.RoleOperator, contract.RoleDSO, contract.RoleUtility}}}}); err != nil {
		t.Fatal(err)
	}
	a, err := chain.StartNodeWith(context.Background(), homeA, log, guard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	cl, err := chain.Dial(a.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	// Generous: on a loaded 2-core machine the joiner may wait for its
	// snapshot and the light client's headers a while.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	if err := cl.WaitHeight(ctx, 8); err != nil {
		t.Fatal(err)
	}
	st, err := cl.RPC.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := st.SyncInfo.LatestBlockHeight
	c, err := cl.RPC.Commit(ctx, &h) // `gridledger join` takes its trusted hash so
	if err != nil {
		t.Fatal(err)
	}
	genesis, _ := os.ReadFile(filepath.Join(homeA, "config", "genesis.json"))
	home := t.TempDir()
	if err := chain.InitJoin(home, chain.JoinOptions{Genesis: genesis, Moniker: "joiner",
		Peers:   string(a.NodeInfo().ID()) + "@" + strings.TrimPrefix(a.Config.P2P.ListenAddress, "tcp://"),
		RPCAddr: freeAddr(t), P2PAddr: freeAddr(t), APIAddr: "off", StateSync: true,
		RPCServers: []string{strings.Replace(a.RPCAddr(), "tcp://", "http://", 1)}, TrustHeight: h, TrustHash: c.SignedHeader.Commit.BlockID.Hash.String()}); err != nil {
		t.Fatal(err)
	}
	j, err := chain.StartNodeWith(context.Background(), home, log, guard)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Stop()
	jc, err := chain.Dial(j.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	for {
		jst, err := jc.RPC.Status(ctx)
		if err == nil && !jst.SyncInfo.CatchingUp && jst.SyncInfo.LatestBlockHeight > h {
			// Restored from a snapshot, not replayed from genesis.
			if jst.SyncInfo.EarliestBlockHeight <= 1 {
				t.Fatalf("the joiner replayed from genesis (earliest block %d)", jst.SyncInfo.EarliestBlockHeight)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the joiner did not catch up by state sync: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ji, _ := jc.RPC.ABCIInfo(ctx)
	hh := ji.Response.LastBlockHeight + 1
	if err := cl.WaitHeight(ctx, hh); err != nil {
		t.Fatal(err)
	}
	hdr, err := cl.RPC.Header(ctx, &hh)
	if err != nil || !bytes.Equal(hdr.Header.AppHash, ji.Response.LastBlockAppHash) {
		t.Fatalf("joined state at %d: %X, chain %v (%v)", hh-1, ji.Response.LastBlockAppHash, hdr, err)
	}
}

package chain

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	dbm "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
)

// Node is a running validator with the gridledger app embedded.
type Node struct {
	*node.Node
	App     *App
	Config  *cmtcfg.Config
	appDB   dbm.DB
	txIndex dbm.DB
}

// StartNode starts the validator of a home and returns once it runs.
func StartNode(ctx context.Context, home string, log *slog.Logger) (*Node, error) {
	cfg, ac, err := LoadConfig(home)
	if err != nil {
		return nil, err
	}
	appDB, err := dbm.NewDB("gridledger", dbm.GoLevelDBBackend, filepath.Join(home, "data"))
	if err != nil {
		return nil, fmt.Errorf("open app database: %w", err)
	}
	app, err := NewApp(appDB, log.With("module", "app"))
	if err != nil {
		appDB.Close()
		return nil, err
	}
	app.RetainBlocks = ac.Pruning.RetainBlocks
	if ac.StateSync.SnapshotInterval > 0 {
		app.Snapshots = &Snapshots{Dir: filepath.Join(home, "data", "snapshots"),
			Interval: ac.StateSync.SnapshotInterval, KeepRecent: ac.StateSync.SnapshotKeepRecent}
	}
	nodeKey, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
	if err != nil {
		appDB.Close()
		return nil, err
	}
	pv := privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	// CometBFT v1.0.1 never closes the tx index database it opens; keep
	// hold of it to close it ourselves, or the home stays locked until the
	// process exits.
	var txIndex dbm.DB
	dbProvider := func(c *cmtcfg.DBContext) (dbm.DB, error) {
		db, err := cmtcfg.DefaultDBProvider(c)
		if err == nil && c.ID == "tx_index" {
			txIndex = db
		}
		return db, err
	}
	n, err := node.NewNode(ctx, cfg, pv, nodeKey,
		// CheckTx and queries run beside block execution; the app
		// serialises what must be serialised itself.
		proxy.NewConsensusSyncLocalClientCreator(app),
		node.DefaultGenesisDocProviderFunc(cfg), dbProvider,
		node.DefaultMetricsProvider(cfg.Instrumentation), newCometLogger(log.With("module", "cometbft"), ac.CometLogLevel))
	if err != nil {
		appDB.Close()
		return nil, err
	}
	nd := &Node{Node: n, App: app, Config: cfg, appDB: appDB, txIndex: txIndex}
	if err := n.Start(); err != nil {
		nd.closeDBs()
		return nil, err
	}
	return nd, nil
}

// RPCAddr is the node's RPC listen address (tcp://host:port).
func (n *Node) RPCAddr() string { return n.Config.RPC.ListenAddress }

// Stop stops the node and closes its databases.
func (n *Node) Stop() error {
	err := n.Node.Stop()
	n.Node.Wait()
	if cerr := n.closeDBs(); err == nil {
		err = cerr
	}
	return err
}

func (n *Node) closeDBs() error {
	if n.txIndex != nil {
		n.txIndex.Close()
	}
	return n.appDB.Close()
}

// cometLogger adapts slog to CometBFT's logger, filtered at a level.
type cometLogger struct {
	l   *slog.Logger
	min slog.Level
}

func newCometLogger(l *slog.Logger, level string) cmtlog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelError
	}
	return cometLogger{l, lv}
}

func (c cometLogger) Debug(msg string, kv ...any) { c.log(slog.LevelDebug, msg, kv) }
func (c cometLogger) Info(msg string, kv ...any)  { c.log(slog.LevelInfo, msg, kv) }
func (c cometLogger) Error(msg string, kv ...any) { c.log(slog.LevelError, msg, kv) }
func (c cometLogger) With(kv ...any) cmtlog.Logger {
	return cometLogger{c.l.With(kv...), c.min}
}

func (c cometLogger) log(lv slog.Level, msg string, kv []any) {
	if lv >= c.min {
		c.l.Log(context.Background(), lv, msg, kv...)
	}
}

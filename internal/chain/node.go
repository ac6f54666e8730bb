package chain

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	rpcserver "github.com/cometbft/cometbft/rpc/jsonrpc/server"
)

// Node is a running validator with the gridledger app embedded.
type Node struct {
	*node.Node
	App     *App
	Config  *cmtcfg.Config
	appDB   dbm.DB
	txIndex dbm.DB
	rpcLs   []net.Listener
}

// StartOptions shape how a node is started.
type StartOptions struct {
	// GuardRPC wraps the handler of CometBFT's RPC routes before it is
	// served on the home's RPC address (config.toml [rpc] laddr); nil
	// serves the routes as they are (tests, tools). gridledger's commands
	// pass internal/rpcguard, which serves blocks, transactions and events
	// only to requests signed by a consortium key.
	GuardRPC func(n *Node, routes http.Handler) http.Handler
}

// StartNode starts the validator of a home and returns once it runs; its
// RPC is unguarded (StartNodeWith).
func StartNode(ctx context.Context, home string, log *slog.Logger) (*Node, error) {
	return StartNodeWith(ctx, home, log, StartOptions{})
}

// StartNodeWith starts the validator of a home and returns once it runs.
//
// CometBFT itself listens on no RPC address: the node serves CometBFT's
// safe RPC routes (never the unsafe ones, whatever config.toml says) on
// the home's RPC address through o.GuardRPC, so there is no unguarded RPC
// port at all, not even on loopback. In-process readers (the API, its
// explorer and stream) use rpc/client/local.
func StartNodeWith(ctx context.Context, home string, log *slog.Logger, o StartOptions) (*Node, error) {
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
	// CometBFT gets a copy of the configuration without an RPC listener;
	// serveRPC serves its routes on cfg's address.
	ncfg := *cfg
	rpcCfg := *cfg.RPC
	rpcCfg.ListenAddress, rpcCfg.Unsafe = "", false
	ncfg.RPC = &rpcCfg
	cometLog := newCometLogger(log.With("module", "cometbft"), ac.CometLogLevel)
	n, err := node.NewNode(ctx, &ncfg, pv, nodeKey,
		// CheckTx and queries run beside block execution; the app
		// serialises what must be serialised itself. The mempool's
		// CheckTx is asynchronous and batched (mempoolClient).
		newClientCreator(app),
		node.DefaultGenesisDocProviderFunc(cfg), dbProvider,
		node.DefaultMetricsProvider(cfg.Instrumentation), cometLog)
	if err != nil {
		appDB.Close()
		return nil, err
	}
	nd := &Node{Node: n, App: app, Config: cfg, appDB: appDB, txIndex: txIndex}
	if err := n.Start(); err != nil {
		nd.closeDBs()
		return nil, err
	}
	if err := nd.serveRPC(cometLog, o.GuardRPC); err != nil {
		nd.Stop()
		return nil, err
	}
	return nd, nil
}

// serveRPC serves CometBFT's RPC routes, unsafe ones excluded, as
// CometBFT's own startRPC would, through guard when there is one.
func (n *Node) serveRPC(cometLog cmtlog.Logger, guard func(*Node, http.Handler) http.Handler) error {
	addrs := strings.FieldsFunc(n.Config.RPC.ListenAddress, func(r rune) bool { return r == ',' || r == ' ' })
	if len(addrs) == 0 {
		return nil
	}
	env, err := n.ConfigureRPC()
	if err != nil {
		return err
	}
	routes := env.GetRoutes()
	sc := rpcserver.DefaultConfig()
	sc.MaxRequestBatchSize = n.Config.RPC.MaxRequestBatchSize
	sc.MaxBodyBytes = n.Config.RPC.MaxBodyBytes
	sc.MaxHeaderBytes = n.Config.RPC.MaxHeaderBytes
	sc.MaxOpenConnections = n.Config.RPC.MaxOpenConnections
	if sc.WriteTimeout <= n.Config.RPC.TimeoutBroadcastTxCommit {
		sc.WriteTimeout = n.Config.RPC.TimeoutBroadcastTxCommit + time.Second
	}
	rpcLog := cometLog.With("module", "rpc-server")
	mux := http.NewServeMux()
	wm := rpcserver.NewWebsocketManager(routes,
		rpcserver.OnDisconnect(func(remote string) { _ = env.EventBus.UnsubscribeAll(context.Background(), remote) }),
		rpcserver.ReadLimit(sc.MaxBodyBytes),
		rpcserver.WriteChanCapacity(n.Config.RPC.WebSocketWriteBufferSize))
	wm.SetLogger(rpcLog.With("protocol", "websocket"))
	mux.HandleFunc("/websocket", wm.WebsocketHandler)
	mux.HandleFunc("/v1/websocket", wm.WebsocketHandler)
	rpcserver.RegisterRPCFuncs(mux, routes, rpcLog)
	var h http.Handler = mux
	if guard != nil {
		h = guard(n, mux)
	}
	for _, a := range addrs {
		l, err := rpcserver.Listen(a, sc.MaxOpenConnections)
		if err != nil {
			return fmt.Errorf("RPC on %s: %w", a, err)
		}
		n.rpcLs = append(n.rpcLs, l)
		go func() { _ = rpcserver.Serve(l, h, rpcLog, sc) }()
	}
	return nil
}

// RPCAddr is the node's RPC listen address (tcp://host:port).
func (n *Node) RPCAddr() string { return n.Config.RPC.ListenAddress }

// Stop stops the node and closes its databases.
func (n *Node) Stop() error {
	for _, l := range n.rpcLs {
		l.Close()
	}
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

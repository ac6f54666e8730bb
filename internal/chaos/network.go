// Package chaos runs a gridledger network of validators as OS processes
// on loopback, under a steady load of signed market transactions and meter
// readings, injects faults — kill -9 and restart, SIGSTOP, a validator cut
// off from the others, two of four down, a tampered state — and checks
// afterwards that the network kept its promises: every committed
// transaction on every node, one app hash per height, money and energy
// conserved, and the market clearing every interval while at most one
// validator was down.
//
// `gridledger chaos` runs its long form; the fault test in cmd/gridledger
// its short form. Bench, `gridledger bench tx`, loads the same network (or
// an embedded node) as fast as it goes and measures throughput and latency.
package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttime "github.com/cometbft/cometbft/types/time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/freeport"
	"github.com/gridledger/gridledger/internal/rpcguard"
)

// Node is one validator process.
type Node struct {
	Index int
	Home  string
	RPC   string // http://host:port
	P2P   string // host:port
	bin   string
	log   io.Writer

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	exit   error
	paused bool
	client *rpchttp.HTTP
	// signer signs every RPC request as the operator: the checks read
	// blocks and transactions, which a node's guarded RPC serves only to
	// the consortium.
	signer rpcguard.Signer
}

// Start starts the node's process.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("node%d already running", n.Index)
	}
	cmd := exec.Command(n.bin, "start", "--home", n.Home, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = n.log, n.log
	if err := cmd.Start(); err != nil {
		return err
	}
	n.cmd, n.done, n.exit, n.paused = cmd, make(chan struct{}), nil, false
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		n.exit = err
		n.mu.Unlock()
		close(n.done)
	}()
	return nil
}

// Running says whether the process is up (paused counts as up).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Exited waits up to d for the process to end by itself and returns its
// exit error (nil: it is still running or exited cleanly).
func (n *Node) Exited(d time.Duration) (bool, error) {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return true, nil
	}
	select {
	case <-done:
		n.mu.Lock()
		defer n.mu.Unlock()
		n.cmd = nil
		return true, n.exit
	case <-time.After(d):
		return false, nil
	}
}

func (n *Node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("node%d is not running", n.Index)
	}
	return n.cmd.Process.Signal(sig)
}

// Kill kills the process with SIGKILL (kill -9) and waits for it.
func (n *Node) Kill() error {
	if err := n.signal(syscall.SIGKILL); err != nil {
		return err
	}
	n.Exited(time.Minute)
	return nil
}

// Stop stops the process gracefully (SIGINT), killing it after 30 s.
func (n *Node) Stop() error {
	if !n.Running() {
		n.Exited(0)
		return nil
	}
	n.Resume()
	if err := n.signal(syscall.SIGINT); err != nil {
		return err
	}
	if ok, _ := n.Exited(30 * time.Second); !ok {
		return n.Kill()
	}
	return nil
}

// Pause stops the process with SIGSTOP; Resume continues it.
func (n *Node) Pause() error {
	n.mu.Lock()
	n.paused = true
	n.mu.Unlock()
	return n.signal(syscall.SIGSTOP)
}

// Resume continues a paused process.
func (n *Node) Resume() error {
	n.mu.Lock()
	was := n.paused
	n.paused = false
	n.mu.Unlock()
	if !was {
		return nil
	}
	return n.signal(syscall.SIGCONT)
}

// Client is the node's RPC client.
func (n *Node) Client() *rpchttp.HTTP {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.client == nil {
		c, err := rpcguard.NewClient(n.RPC, n.signer, 3*time.Second)
		if err != nil {
			panic(err) // only for a malformed address, which we made
		}
		n.client = c
	}
	return n.client
}

// Query answers a ledger query from this node alone (a chain.Querier).
func (n *Node) Query(ctx context.Context, path string, v any) error {
	res, err := n.Client().ABCIQuery(ctx, path, nil)
	if err != nil {
		return err
	}
	if res.Response.Code != 0 {
		return errors.New(res.Response.Log)
	}
	return json.Unmarshal(res.Response.Value, v)
}

// Height is the node's latest height, or an error when it does not answer
// within a second.
func (n *Node) Height(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := n.Client().Status(ctx)
	if err != nil {
		return 0, err
	}
	return st.SyncInfo.LatestBlockHeight, nil
}

// Network is a testnet's validators, each reaching the others through a
// proxy the network controls, so that a validator can be cut off.
type Network struct {
	Layout      chain.Layout
	ChainID     string
	GenesisTime time.Time
	Nodes       []*Node
	proxies     []*proxy
}

// NewNetwork writes the homes of an n-validator testnet under dir, laid
// out as `gridledger testnet` lays them out (chain.Layout) on free
// loopback ports, routes every peer connection through a proxy, and
// returns it unstarted. Each node runs as a process of bin.
func NewNetwork(bin, dir string, n int, timeScale int64, p contract.Params, log io.Writer) (*Network, error) {
	return newNetwork(bin, dir, n, timeScale, p, log, true)
}

// NewDirectNetwork is NewNetwork with the validators peered directly, not
// through this process's proxies: what a benchmark measures, since every
// byte between validators passing through one more process on the same
// two cores is a cost no real consortium pays. Cut and Heal do nothing on
// it.
func NewDirectNetwork(bin, dir string, n int, timeScale int64, p contract.Params, log io.Writer) (*Network, error) {
	return newNetwork(bin, dir, n, timeScale, p, log, false)
}

func newNetwork(bin, dir string, n int, timeScale int64, p contract.Params, log io.Writer, proxied bool) (*Network, error) {
	base, err := freeport.Range(chain.PortsPerNode * n)
	if err != nil {
		return nil, err
	}
	net := &Network{Layout: chain.Layout{Dir: dir, Host: "127.0.0.1", BasePort: int64(base), Validators: n},
		ChainID: "gridledger-chaos", GenesisTime: cmttime.Now()}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := chain.InitNetwork(chain.Network{ChainID: net.ChainID, TimeScale: timeScale, Params: p,
		GenesisTime: net.GenesisTime, Nodes: net.Layout.Nodes()}); err != nil {
		return nil, err
	}
	op, err := net.Layout.LoadKey(contract.RoleOperator)
	if err != nil {
		return nil, err
	}
	signer := rpcguard.Signer{ChainID: net.ChainID, ID: op.ID, Key: op.PrivKey}
	ids := make([]p2p.ID, n)
	cfgs := make([]*cmtcfg.Config, n)
	for i := range n {
		home := net.Layout.Home(i)
		cfg, _, err := chain.LoadConfig(home)
		if err != nil {
			return nil, err
		}
		nk, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
		if err != nil {
			return nil, err
		}
		ids[i], cfgs[i] = nk.ID(), cfg
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("node%d.log", i)))
		if err != nil {
			return nil, err
		}
		nd := &Node{Index: i, Home: home, bin: bin, signer: signer, log: io.MultiWriter(logf, prefixed(log, fmt.Sprintf("node%d: ", i))),
			RPC: strings.Replace(cfg.RPC.ListenAddress, "tcp://", "http://", 1), P2P: strings.TrimPrefix(cfg.P2P.ListenAddress, "tcp://")}
		net.Nodes = append(net.Nodes, nd)
	}
	// Node i reaches node j at proxy (i, j).
	for i := range net.Nodes {
		var peers []string
		for j, other := range net.Nodes {
			if i == j {
				continue
			}
			if !proxied {
				peers = append(peers, string(ids[j])+"@"+other.P2P)
				continue
			}
			p, err := newProxy(i, j, other.P2P)
			if err != nil {
				net.Close()
				return nil, err
			}
			net.proxies = append(net.proxies, p)
			peers = append(peers, string(ids[j])+"@"+p.addr())
		}
		cfgs[i].P2P.PersistentPeers = strings.Join(peers, ",")
		if err := chain.WriteConfig(cfgs[i]); err != nil {
			net.Close()
			return nil, err
		}
	}
	return net, nil
}

// LoadKey loads the key of a consortium role from the node that holds it.
func (n *Network) LoadKey(role contract.Role) (chain.Key, error) { return n.Layout.LoadKey(role) }

// Cut cuts node i off from every other validator; Heal undoes it.
func (n *Network) Cut(i int) {
	for _, p := range n.proxies {
		if p.from == i || p.to == i {
			p.setBlocked(true)
		}
	}
}

// Heal reconnects node i.
func (n *Network) Heal(i int) {
	for _, p := range n.proxies {
		if p.from == i || p.to == i {
			p.setBlocked(false)
		}
	}
}

// Close stops every node and proxy.
func (n *Network) Close() error {
	var errs []error
	for _, nd := range n.Nodes {
		errs = append(errs, nd.Stop())
	}
	for _, p := range n.proxies {
		p.close()
	}
	return errors.Join(errs...)
}

// proxy forwards one node's connections to one peer; blocked, it drops
// them and refuses new ones, as a cut network would.
type proxy struct {
	from, to int
	target   string
	l        net.Listener
	mu       sync.Mutex
	blocked  bool
	conns    map[net.Conn]struct{}
}

func newProxy(from, to int, target string) (*proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{from: from, to: to, target: target, l: l, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	p.mu.Lock()
	blocked := p.blocked
	p.mu.Unlock()
	if blocked {
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	go pipe(up, c)
	go pipe(c, up)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

func (p *proxy) setBlocked(b bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = b
	if b {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *proxy) close() {
	p.l.Close()
	p.setBlocked(true)
}

// prefixed writes each line to w with a prefix.
func prefixed(w io.Writer, prefix string) io.Writer {
	if w == nil {
		return io.Discard
	}
	return &prefixWriter{w: w, prefix: prefix}
}

type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

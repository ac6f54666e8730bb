package chaos

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	dbm "github.com/cometbft/cometbft-db"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

// Config is one chaos run.
type Config struct {
	Binary     string // the gridledger binary
	Dir        string // where the network's homes go
	Validators int    // 4
	TimeScale  int64  // market seconds per second (720: an interval every 5 s)
	Members    int
	Rate       int // orders per second
	// KillEvery and Kills: kill -9 a validator (in turn) every KillEvery,
	// Kills times, restarting it half way to the next.
	KillEvery time.Duration
	Kills     int
	// Pause is how long a validator is stopped with SIGSTOP; Cut how long
	// one is cut off from the others; Halt how long two of four are down.
	Pause, Cut, Halt time.Duration
	Log              io.Writer
}

// Short is the form the tests run: about three minutes.
func Short(bin, dir string) Config {
	return Config{Binary: bin, Dir: dir, Validators: 4, TimeScale: 720, Members: 12, Rate: 40,
		KillEvery: 16 * time.Second, Kills: 2, Pause: 10 * time.Second, Cut: 10 * time.Second, Halt: 8 * time.Second}
}

// Long is `gridledger chaos`'s default: kill -9 every 30 s for 5 minutes.
func Long(bin, dir string) Config {
	c := Short(bin, dir)
	c.KillEvery, c.Kills, c.Pause, c.Cut, c.Halt, c.Rate = 30*time.Second, 10, 20*time.Second, 20*time.Second, 20*time.Second, 60
	return c
}

// Report is what a run found. Problems is empty when the network kept
// every promise.
type Report struct {
	Phases    []Phase          `json:"phases"`
	Sent      int64            `json:"sent"`
	Accepted  int              `json:"accepted"`
	Committed int              `json:"committed"`
	Refused   map[string]int64 `json:"refused"`
	Height    int64            `json:"height"`
	Listings  int              `json:"listings_cleared"`
	Supply    int64            `json:"supply"`
	// IndexGaps counts committed transactions a node has in its block but
	// not in its transaction index (killed between the two).
	IndexGaps int `json:"index_gaps"`
	// LongestStallS is the longest time the chain made no block while at
	// most one validator was down.
	LongestStallS float64  `json:"longest_stall_s"`
	Problems      []string `json:"problems"`
}

// Phase is one step of the run, with the heights it saw.
type Phase struct {
	Name       string  `json:"name"`
	Seconds    float64 `json:"seconds"`
	FromHeight int64   `json:"from_height"`
	ToHeight   int64   `json:"to_height"`
	MaxDown    int     `json:"max_down"`
	BlocksPerS float64 `json:"blocks_per_s"`
}

type runner struct {
	cfg   Config
	net   *Network
	load  *Load
	rep   Report
	logf  func(string, ...any)
	mu    sync.Mutex
	mt    int64 // market time, last seen
	stall time.Duration
	// okWhile is set while at most one validator is down: the chain must
	// keep making blocks.
	okWhile bool
	lastH   int64
	lastAt  time.Time
	// haltFrom and haltTo are the market times the chain was meant to be
	// stopped between (listings may clear late then).
	haltFrom, haltTo int64
	// loadFrom is the market time the load started: listings whose gate
	// closed before, while the network was still starting, may clear late.
	loadFrom int64
}

// Run builds the network, drives it through the faults and checks it.
func Run(ctx context.Context, cfg Config) (Report, error) {
	r := &runner{cfg: cfg, logf: func(f string, a ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "chaos: "+f+"\n", a...)
		}
	}}
	net, err := NewNetwork(cfg.Binary, cfg.Dir, cfg.Validators, cfg.TimeScale, contract.DefaultParams(), nil)
	if err != nil {
		return r.rep, err
	}
	r.net = net
	defer net.Close()
	for _, n := range net.Nodes {
		if err := n.Start(); err != nil {
			return r.rep, err
		}
	}
	r.logf("%d validators started in %s", len(net.Nodes), cfg.Dir)
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	r.load, err = NewLoad(sctx, net, cfg.Members, 1)
	cancel()
	if err != nil {
		return r.rep, err
	}
	r.logf("%d members registered; load %d orders/s and readings every interval", cfg.Members, cfg.Rate)
	mctx, stopMonitor := context.WithCancel(ctx)
	defer stopMonitor()
	go r.monitor(mctx)
	for r.height() == 0 && ctx.Err() == nil {
		sleep(ctx, 100*time.Millisecond)
	}
	r.loadFrom = r.marketTime()
	lctx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() { r.load.Run(lctx, cfg.Rate, r.marketTime); close(loadDone) }()

	err = r.faults(ctx)
	stopLoad()
	<-loadDone
	if err != nil {
		return r.rep, err
	}
	r.check(ctx)
	return r.rep, nil
}

func (r *runner) marketTime() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mt
}

// monitor follows the chain's height and market time and measures stalls
// while at most one validator is down.
func (r *runner) monitor(ctx context.Context) {
	for ctx.Err() == nil {
		var best int64
		var mt int64
		for _, n := range r.net.Nodes {
			if !n.Running() || n.isPaused() {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			st, err := n.Client().Status(cctx)
			cancel()
			if err == nil && st.SyncInfo.LatestBlockHeight > best {
				best = st.SyncInfo.LatestBlockHeight
				mt = r.toMarket(st.SyncInfo.LatestBlockTime)
			}
		}
		now := time.Now()
		r.mu.Lock()
		if mt > 0 {
			r.mt = mt
		}
		if best > r.lastH || !r.okWhile || r.lastAt.IsZero() {
			if best > r.lastH {
				r.lastH = best
			}
			r.lastAt = now
		} else if d := now.Sub(r.lastAt); d > r.stall {
			r.stall = d
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// toMarket maps a block time to market time as the contract does.
func (r *runner) toMarket(t time.Time) int64 {
	return contract.MarketTimeAt(r.net.GenesisTime.UnixNano(), 0, r.cfg.TimeScale, t.UnixNano())
}

func (r *runner) height() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastH
}

// phase runs f as a named step, allowing down validators at most.
func (r *runner) phase(ctx context.Context, name string, down int, f func() error) error {
	from, start := r.height(), time.Now()
	r.mu.Lock()
	r.okWhile = down <= 1
	r.lastAt = time.Now()
	r.mu.Unlock()
	err := f()
	to := r.height()
	secs := time.Since(start).Seconds()
	r.rep.Phases = append(r.rep.Phases, Phase{Name: name, Seconds: secs, FromHeight: from, ToHeight: to, MaxDown: down, BlocksPerS: float64(to-from) / secs})
	r.logf("%-38s %5.1fs  heights %d → %d", name, secs, from, to)
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// faults is the scenario: healthy, kill -9 in turn, SIGSTOP, a cut, two
// of four down, a tampered state.
func (r *runner) faults(ctx context.Context) error {
	c := r.cfg
	nodes := r.net.Nodes
	last := len(nodes) - 1
	if err := r.phase(ctx, "healthy", 0, func() error { return sleep(ctx, 10*time.Second) }); err != nil {
		return err
	}
	for k := range c.Kills {
		n := nodes[1+k%last]
		err := r.phase(ctx, fmt.Sprintf("kill -9 node%d, restart", n.Index), 1, func() error {
			if err := n.Kill(); err != nil {
				return err
			}
			if err := sleep(ctx, c.KillEvery/2); err != nil {
				return err
			}
			if err := n.Start(); err != nil {
				return err
			}
			return sleep(ctx, c.KillEvery/2)
		})
		if err != nil {
			return err
		}
	}
	if err := r.phase(ctx, fmt.Sprintf("SIGSTOP node%d for %s", last, c.Pause), 1, func() error {
		if err := nodes[last].Pause(); err != nil {
			return err
		}
		err := sleep(ctx, c.Pause)
		nodes[last].Resume()
		if err != nil {
			return err
		}
		return sleep(ctx, 5*time.Second)
	}); err != nil {
		return err
	}
	if err := r.phase(ctx, fmt.Sprintf("cut node1 off for %s, heal", c.Cut), 1, func() error {
		r.net.Cut(1)
		err := sleep(ctx, c.Cut)
		r.net.Heal(1)
		if err != nil {
			return err
		}
		return sleep(ctx, 5*time.Second)
	}); err != nil {
		return err
	}
	if len(nodes) == 4 {
		if err := r.haltAndResume(ctx); err != nil {
			return err
		}
	}
	if err := r.phase(ctx, fmt.Sprintf("tamper with node%d's state", last), 1, func() error { return r.tamper(ctx, nodes[last]) }); err != nil {
		return err
	}
	return r.phase(ctx, "healthy again", 0, func() error { return sleep(ctx, 10*time.Second) })
}

// haltAndResume takes two of four validators down: the chain must stop
// (safety over liveness), and go on when one returns.
func (r *runner) haltAndResume(ctx context.Context) error {
	a, b := r.net.Nodes[2], r.net.Nodes[3]
	return r.phase(ctx, "two of four down, then one back", 2, func() error {
		r.mu.Lock()
		r.haltFrom = r.mt
		r.mu.Unlock()
		if err := a.Kill(); err != nil {
			return err
		}
		if err := b.Kill(); err != nil {
			return err
		}
		// Let what was in flight settle, then watch the chain stand still.
		if err := sleep(ctx, 3*time.Second); err != nil {
			return err
		}
		h0 := r.height()
		if err := sleep(ctx, r.cfg.Halt); err != nil {
			return err
		}
		if h1 := r.height(); h1 > h0+1 {
			r.problem("with two of four validators down the chain went on from %d to %d", h0, h1)
		}
		if err := b.Start(); err != nil {
			return err
		}
		deadline := time.Now().Add(60 * time.Second)
		for r.height() <= h0+1 && time.Now().Before(deadline) {
			sleep(ctx, 500*time.Millisecond)
		}
		if r.height() <= h0+1 {
			r.problem("the chain did not resume within 60 s of a third validator returning")
		}
		if err := a.Start(); err != nil {
			return err
		}
		err := sleep(ctx, 8*time.Second)
		// The first blocks after the halt may carry the time of votes
		// cast before it: the window ends with the phase.
		r.mu.Lock()
		r.haltTo = r.mt
		r.mu.Unlock()
		return err
	})
}

// tamper stops a validator, alters one entry of its state on disk, and
// starts it: it must refuse to run (its state no longer hashes to what it
// committed) while the others go on; with the entry restored it rejoins.
func (r *runner) tamper(ctx context.Context, n *Node) error {
	// The others must be in step first (a validator restarted by the
	// previous phase may still be catching up), or stopping this one
	// leaves fewer than three making blocks.
	r.waitInStep(ctx)
	if err := n.Stop(); err != nil {
		return err
	}
	db, err := dbm.NewDB("gridledger", dbm.GoLevelDBBackend, filepath.Join(n.Home, "data"))
	if err != nil {
		return err
	}
	// chain.App keeps state entry K at s/K; a participant's is p/ID.
	key := []byte("s/p/m01")
	orig, err := db.Get(key)
	if err != nil || orig == nil {
		db.Close()
		return fmt.Errorf("node%d has no entry %s to tamper with: %v", n.Index, key, err)
	}
	forged := bytes.Replace(orig, []byte(`"balance":`), []byte(`"balance":1`), 1)
	if err := db.SetSync(key, forged); err != nil {
		db.Close()
		return err
	}
	db.Close()
	h0 := r.height()
	if err := n.Start(); err != nil {
		return err
	}
	exited, exitErr := n.Exited(30 * time.Second)
	switch {
	case !exited:
		r.problem("node%d ran on a tampered state", n.Index)
		n.Kill()
	case exitErr == nil:
		r.problem("node%d exited cleanly on a tampered state", n.Index)
	default:
		log, _ := os.ReadFile(filepath.Join(r.net.Layout.Dir, fmt.Sprintf("node%d.log", n.Index)))
		if !strings.Contains(string(log), "the database was altered or is corrupt") {
			r.problem("node%d stopped on a tampered state without saying why", n.Index)
		}
		r.logf("node%d refused its tampered state: %v", n.Index, exitErr)
	}
	for deadline := time.Now().Add(20 * time.Second); r.height() <= h0+2 && time.Now().Before(deadline); {
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	if r.height() <= h0+2 {
		r.problem("the others stopped while node%d's state was tampered with", n.Index)
	}
	db, err = dbm.NewDB("gridledger", dbm.GoLevelDBBackend, filepath.Join(n.Home, "data"))
	if err != nil {
		return err
	}
	err = db.SetSync(key, orig)
	db.Close()
	if err != nil {
		return err
	}
	if err := n.Start(); err != nil {
		return err
	}
	return sleep(ctx, 8*time.Second)
}

// waitInStep waits (up to a minute) until every running validator is
// within two blocks of the highest.
func (r *runner) waitInStep(ctx context.Context) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		lo, hi := int64(1<<62), int64(0)
		for _, n := range r.net.Nodes {
			if !n.Running() {
				continue
			}
			h, err := n.Height(ctx)
			if err != nil {
				h = 0
			}
			lo, hi = min(lo, h), max(hi, h)
		}
		if hi-lo <= 2 {
			return
		}
		if sleep(ctx, 300*time.Millisecond) != nil {
			return
		}
	}
}

func (r *runner) problem(f string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Problems = append(r.rep.Problems, fmt.Sprintf(f, a...))
	r.logf("PROBLEM: "+f, a...)
}

// check compares the validators once they have caught up.
func (r *runner) check(ctx context.Context) {
	r.rep.Sent, r.rep.Refused = r.load.Sent.Load(), r.load.RefusedBy()
	r.mu.Lock()
	r.rep.LongestStallS = r.stall.Seconds()
	r.mu.Unlock()
	// A validator lost as proposer costs a round or two (CometBFT's
	// timeouts, about 3 s each): 10 s leaves a margin over that.
	if r.rep.LongestStallS > 10 {
		r.problem("the chain made no block for %.1f s while at most one validator was down", r.rep.LongestStallS)
	}
	// Every validator reaches the same height.
	var target int64
	for _, n := range r.net.Nodes {
		if h, err := n.Height(ctx); err == nil {
			target = max(target, h)
		}
	}
	for _, n := range r.net.Nodes {
		deadline := time.Now().Add(60 * time.Second)
		for {
			h, err := n.Height(ctx)
			if err == nil && h >= target+1 {
				break
			}
			if time.Now().After(deadline) {
				r.problem("node%d did not reach height %d (at %d: %v)", n.Index, target+1, h, err)
				return
			}
			sleep(ctx, 300*time.Millisecond)
		}
	}
	r.rep.Height = target
	r.checkBlocks(ctx, target)
	r.checkTxs(ctx)
	r.checkLedger(ctx)
}

// checkBlocks: every height has one block hash, hence one app hash, on
// every node, and each node's own state is the one the chain committed.
func (r *runner) checkBlocks(ctx context.Context, top int64) {
	hashes := make([]map[int64]string, len(r.net.Nodes))
	for i, n := range r.net.Nodes {
		hashes[i] = map[int64]string{}
		for hi := top; hi >= 1; hi -= 20 {
			lo := max(1, hi-19)
			res, err := n.Client().BlockchainInfo(ctx, lo, hi)
			if err != nil {
				r.problem("node%d blockchain %d-%d: %v", i, lo, hi, err)
				return
			}
			for _, m := range res.BlockMetas {
				hashes[i][m.Header.Height] = m.BlockID.Hash.String() + "/" + m.Header.AppHash.String()
			}
		}
	}
	for h := int64(1); h <= top; h++ {
		for i := 1; i < len(hashes); i++ {
			if hashes[i][h] != hashes[0][h] {
				r.problem("height %d: node0 has %s, node%d %s", h, hashes[0][h], i, hashes[i][h])
				return
			}
		}
	}
	// Each node's app state after its last block is the app hash the
	// next block's header carries.
	for i, n := range r.net.Nodes {
		info, err := n.Client().ABCIInfo(ctx)
		if err != nil {
			r.problem("node%d abci_info: %v", i, err)
			continue
		}
		h := info.Response.LastBlockHeight + 1
		for range 50 {
			if _, err := r.net.Nodes[0].Client().Header(ctx, &h); err == nil {
				break
			}
			sleep(ctx, 200*time.Millisecond)
		}
		hdr, err := r.net.Nodes[0].Client().Header(ctx, &h)
		if err != nil {
			r.problem("header %d: %v", h, err)
			continue
		}
		if !bytes.Equal(hdr.Header.AppHash, info.Response.LastBlockAppHash) {
			r.problem("node%d's state at height %d hashes to %X, the chain committed %X", i, h-1, info.Response.LastBlockAppHash, hdr.Header.AppHash)
		}
	}
}

// checkTxs: every transaction a mempool accepted and the chain committed
// is on every node, in the same block. CometBFT indexes transactions
// after committing their block, so a node killed in between has the
// transaction in its block but not in its index: such gaps are counted,
// and the block itself is checked.
func (r *runner) checkTxs(ctx context.Context) {
	acc := r.load.Accepted()
	r.rep.Accepted = len(acc)
	blocks := map[[2]int64]map[string]bool{} // (node, height) → tx hashes
	inBlock := func(i int, height int64, hash string) bool {
		k := [2]int64{int64(i), height}
		if blocks[k] == nil {
			blocks[k] = map[string]bool{}
			if b, err := r.net.Nodes[i].Client().Block(ctx, &height); err == nil {
				for _, tx := range b.Block.Txs {
					blocks[k][hex.EncodeToString(tx.Hash())] = true
				}
			}
		}
		return blocks[k][hash]
	}
	for h := range acc {
		hash, _ := hex.DecodeString(h)
		// Where each node's index puts it (0: nowhere).
		at := make([]int64, len(r.net.Nodes))
		var height int64
		for i, n := range r.net.Nodes {
			if res, err := n.Client().Tx(ctx, hash, false); err == nil {
				at[i] = res.Height
				height = max(height, res.Height)
			}
		}
		if height == 0 {
			continue // accepted by a mempool that died before passing it on
		}
		r.rep.Committed++
		for i := range r.net.Nodes {
			if at[i] == height {
				continue
			}
			if !inBlock(i, height, h) {
				r.problem("tx %s is in block %d, but not on node%d", h, height, i)
				return
			}
			r.rep.IndexGaps++
		}
	}
	if r.rep.Committed < r.rep.Accepted*9/10 {
		r.problem("only %d of %d accepted transactions were committed", r.rep.Committed, r.rep.Accepted)
	}
}

// checkLedger: money and energy tokens are conserved on every node, and
// every listing whose gate closed was cleared, late only while the chain
// was meant to be stopped.
func (r *runner) checkLedger(ctx context.Context) {
	for i, n := range r.net.Nodes {
		in, err := chain.Reader{Q: n}.Info(ctx)
		if err != nil {
			r.problem("node%d /info: %v", i, err)
			continue
		}
		if in.Balances+in.Escrow != in.Supply || in.Issued-in.Redeemed != in.Supply {
			r.problem("node%d: money not conserved: balances %d + escrow %d, supply %d, issued %d − redeemed %d", i, in.Balances, in.Escrow, in.Supply, in.Issued, in.Redeemed)
		}
		r.rep.Supply = in.Supply
	}
	rd := chain.Reader{Q: r.net.Nodes[0]}
	ls, err := rd.Listings(ctx, 0)
	if err != nil {
		r.problem("listings: %v", err)
		return
	}
	sts, err := rd.Settlements(ctx, 0)
	if err != nil {
		r.problem("settlements: %v", err)
		return
	}
	for _, st := range sts {
		t := st.Totals
		if t.MintedWh != t.RetiredWh+t.ExportedWh || t.TransferredWh > t.MintedWh {
			r.problem("settlement %d: tokens not conserved: %+v", st.Start, t)
		}
	}
	mt := r.marketTime()
	p := r.load.params
	for _, l := range ls {
		if l.GateClosure > mt-p.IntervalS || l.GateClosure < r.loadFrom {
			continue
		}
		if l.Clearing == nil {
			r.problem("listing %d: gate closed at %d, never cleared", l.Start, l.GateClosure)
			continue
		}
		r.rep.Listings++
		late := l.Clearing.MarketTime - l.GateClosure
		halted := l.GateClosure >= r.haltFrom-2*p.IntervalS && l.GateClosure <= r.haltTo+p.IntervalS
		if late > p.IntervalS && !halted {
			r.problem("listing %d cleared %d s after its gate closed at %d, with at most one validator down (two were down from %d to %d, market time)",
				l.Start, late, l.GateClosure, r.haltFrom, r.haltTo)
		}
	}
	if len(sts) == 0 {
		r.problem("no interval was settled")
	}
}

// Print writes a report for people.
func (rep Report) Print(w io.Writer) {
	fmt.Fprintf(w, "%-40s %7s %9s %8s\n", "PHASE", "SECONDS", "HEIGHTS", "BLOCKS/S")
	for _, p := range rep.Phases {
		fmt.Fprintf(w, "%-40s %7.1f %4d→%-4d %8.2f\n", p.Name, p.Seconds, p.FromHeight, p.ToHeight, p.BlocksPerS)
	}
	keys := make([]string, 0, len(rep.Refused))
	for k := range rep.Refused {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var refused []string
	for _, k := range keys {
		refused = append(refused, fmt.Sprintf("%s %d", k, rep.Refused[k]))
	}
	fmt.Fprintf(w, "sent %d transactions, %d accepted by a mempool, %d committed (%d missing from a killed node's tx index, present in its blocks); refused: %s\n",
		rep.Sent, rep.Accepted, rep.Committed, rep.IndexGaps, strings.Join(refused, ", "))
	fmt.Fprintf(w, "height %d, %d listings cleared, money supply %d nano, longest stall with ≤1 validator down %.1f s\n", rep.Height, rep.Listings, rep.Supply, rep.LongestStallS)
	if len(rep.Problems) == 0 {
		fmt.Fprintln(w, "every committed transaction is on every node; one app hash per height; money and energy conserved; the market cleared every interval")
		return
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "PROBLEM:", p)
	}
}

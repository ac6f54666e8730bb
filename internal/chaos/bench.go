package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/freeport"
	"github.com/gridledger/gridledger/internal/onboard"
	"github.com/gridledger/gridledger/internal/units"
)

// BenchOptions shape a throughput benchmark (`gridledger bench tx`).
type BenchOptions struct {
	Txs     int // transactions to send
	Rate    int // offered per second (0: as fast as the node takes them)
	Members int // signing, half buyers, half sellers
	Conns   int // concurrent RPC connections
	Batch   int // transactions per JSON-RPC batch request
	// CPUProfile, when set, is where the sending phase's CPU profile goes.
	CPUProfile string
	// ValidatorCPUProfile, with Validators > 1, is where the CPU profile
	// of the first validator's process during the sending phase goes,
	// taken through CometBFT's pprof server (pprof_laddr).
	ValidatorCPUProfile string
	// Validators: 1 an embedded node; more a testnet of processes of
	// Binary, the load spread over them, one killed first with KillOne.
	Validators int
	KillOne    bool
	Binary     string
}

// BenchResult is what a benchmark measured.
type BenchResult struct {
	Sent       int     `json:"sent"`
	Committed  int     `json:"committed"`
	Refused    int     `json:"refused"`
	Seconds    float64 `json:"seconds"`
	TxPerSec   float64 `json:"tx_per_sec"`
	Blocks     int     `json:"blocks"`
	TxPerBlock float64 `json:"tx_per_block"`
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
}

// Bench signs orders of o.Members members in advance, sends them as fast
// as asked and measures how many the chain committed, how fast and with
// what latency.
func Bench(ctx context.Context, o BenchOptions, log *slog.Logger) (BenchResult, error) {
	var r BenchResult
	if o.ValidatorCPUProfile != "" && o.Validators <= 1 {
		return r, fmt.Errorf("a validator's CPU profile is for --validators N > 1; one embedded node is profiled with --cpuprofile")
	}
	home, err := os.MkdirTemp("", "gridledger-bench-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(home)
	cl, op, dso, senders, pprofAddr, stop, err := benchNetwork(ctx, home, o, log)
	if err != nil {
		return r, err
	}
	defer stop()

	// Set up members: registered and funded (operator), sellers' assets
	// registered (owner) and approved (DSO), each stage sent in bulk.
	log.Info("registering members", "members", o.Members)
	keys := make([]chain.Key, o.Members)
	// A stage is signed once the one before is in a block: a member
	// signs once registered.
	var stages [3][]onboard.Step
	for i := range keys {
		keys[i] = chain.NewKey(fmt.Sprintf("M%05d", i), contract.RoleMember)
		m := onboard.Member{Key: keys[i], NodeType: contract.NodeHousehold, FundsNano: 10_000 * units.NanoPerUnit}
		if i%2 == 0 {
			m.RES = &contract.MsgRegisterRES{ID: keys[i].ID + "-PV", Kind: "pv", CapacityW: contract.MaxCapacityW}
		}
		st := onboard.Steps(op, dso, m)
		stages[0], stages[1], stages[2] = append(stages[0], st.Operator...), append(stages[1], st.Member...), append(stages[2], st.DSO...)
	}
	for _, stage := range stages {
		if err := sendStage(ctx, cl, stage); err != nil {
			return r, err
		}
	}
	ls, err := chain.Reader{Q: cl}.Listings(ctx, 0)
	if err != nil {
		return r, err
	}
	var open []int64
	for _, l := range ls {
		if l.State == contract.StateAuthorizeOffers {
			open = append(open, l.Start)
		}
	}
	if len(open) == 0 {
		return r, fmt.Errorf("no open listing")
	}

	log.Info("pre-signing", "txs", o.Txs)
	txs := make([][]byte, o.Txs)
	for i := range txs {
		k := keys[i%o.Members]
		listing := open[(i/o.Members)%len(open)]
		var msg contract.Msg = &contract.MsgBid{Listing: listing, Wh: 100 + int64(i%900), PricePerKWh: 60_000 + int64(i%30_000)}
		if (i%o.Members)%2 == 0 {
			msg = &contract.MsgOffer{Listing: listing, RES: k.ID + "-PV", Wh: 100 + int64(i%900), PricePerKWh: 40_000 + int64(i%30_000)}
		}
		txs[i] = mustSign(ctx, cl, k, msg)
	}

	st, err := cl.RPC.Status(ctx)
	if err != nil {
		return r, err
	}
	firstHeight := st.SyncInfo.LatestBlockHeight + 1
	sent := make(map[string]time.Time, len(txs))
	var mu sync.Mutex
	var refusedAtMempool atomic.Int64

	log.Info("sending", "txs", len(txs), "rate", RateText(o.Rate), "conns", o.Conns)
	var logged atomic.Bool
	// Each member's transactions go down one connection, in nonce order:
	// spread over several, a later nonce could overtake an earlier one and
	// make it a replay.
	streams := make([][][]byte, o.Conns)
	for i, tx := range txs {
		w := (i % o.Members) % o.Conns
		streams[w] = append(streams[w], tx)
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return r, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return r, err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	var wg sync.WaitGroup
	if pprofAddr != "" {
		// Sending at the offered rate takes Txs/Rate seconds; the profile
		// covers twice that, so that it sees the backlog committed too
		// (a minute when the rate is unbounded).
		secs := 60
		if o.Rate > 0 {
			secs = max(1, 2*o.Txs/o.Rate)
		}
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			if err := fetchProfile(ctx, pprofAddr, secs, o.ValidatorCPUProfile); err != nil {
				log.Warn("validator CPU profile", "err", err)
			}
		}()
	}
	for w, stream := range streams {
		sender := senders[w%len(senders)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < len(stream); i += o.Batch {
				if o.Rate > 0 {
					due := start.Add(time.Duration(float64(i*o.Conns) / float64(o.Rate) * float64(time.Second)))
					time.Sleep(time.Until(due))
				}
				batch := stream[i:min(i+o.Batch, len(stream))]
				b := sender.NewBatch()
				mu.Lock()
				now := time.Now()
				for _, tx := range batch {
					sent[string(types.Tx(tx).Hash())] = now
				}
				mu.Unlock()
				for _, tx := range batch {
					_, _ = b.BroadcastTxSync(ctx, tx) // only queues; Send reports
				}
				res, err := b.Send(ctx)
				if err != nil {
					if !logged.Swap(true) {
						log.Warn("batch refused", "err", err)
					}
					refusedAtMempool.Add(int64(len(batch)))
					continue
				}
				refusedAtMempool.Add(int64(len(batch) - len(res)))
				for _, x := range res {
					if rr, ok := x.(*ctypes.ResultBroadcastTx); !ok || rr.Code != 0 {
						if !logged.Swap(true) {
							log.Warn("transaction refused", "result", x)
						}
						refusedAtMempool.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	want := len(txs) - int(refusedAtMempool.Load())
	// Read the blocks only once they are all in: reading a block's
	// results is heavy JSON on the node, and done while it still commits
	// the backlog it slowed the very figures it measures.
	if err := waitCommitted(ctx, cl, firstHeight, want); err != nil {
		return r, err
	}
	c, err := collectCommits(ctx, cl, firstHeight, sent, want)
	if err != nil {
		return r, err
	}
	lat := c.latencies
	r.Sent = len(txs)
	r.Committed = len(lat)
	r.Refused = c.refused + int(refusedAtMempool.Load())
	r.Seconds = c.last.Sub(start).Seconds()
	if r.Seconds > 0 {
		r.TxPerSec = float64(r.Committed) / r.Seconds
	}
	r.Blocks = c.blocks
	if c.blocks > 0 {
		r.TxPerBlock = float64(r.Committed) / float64(c.blocks)
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs = pct(0.5), pct(0.9), pct(0.99), pct(1)
	return r, nil
}

// benchNetwork starts what the benchmark loads: an embedded node, or a
// testnet of validators as processes (one killed with killOne). It
// returns a client of the first, the operator and DSO keys, and the RPC
// clients to spread the load over.
func benchNetwork(ctx context.Context, home string, o BenchOptions, log *slog.Logger) (_ *chain.Client, _, _ chain.Key, _ []*rpchttp.HTTP, pprofAddr string, _ func(), _ error) {
	var none chain.Key
	if o.Validators <= 1 {
		io := chain.DefaultInitOptions()
		io.Params.MaxTxPerInterval = 1_000_000
		io.APIAddr = "off"
		if err := chain.Init(home, io); err != nil {
			return nil, none, none, nil, "", nil, err
		}
		n, err := chain.StartNode(ctx, home, log)
		if err != nil {
			return nil, none, none, nil, "", nil, err
		}
		cl, err := chain.Dial(n.RPCAddr())
		if err != nil {
			n.Stop()
			return nil, none, none, nil, "", nil, err
		}
		op, _ := chain.LoadKey(home, "operator")
		dso, _ := chain.LoadKey(home, "dso")
		return cl, op, dso, []*rpchttp.HTTP{cl.RPC}, "", func() { n.Stop() }, nil
	}
	p := contract.DefaultParams()
	p.MaxTxPerInterval = 1_000_000
	net, err := NewDirectNetwork(o.Binary, home, o.Validators, 1, p, nil)
	if err != nil {
		return nil, none, none, nil, "", nil, err
	}
	if o.ValidatorCPUProfile != "" {
		if pprofAddr, err = servePprof(net.Nodes[0].Home); err != nil {
			net.Close()
			return nil, none, none, nil, "", nil, err
		}
	}
	for _, n := range net.Nodes {
		if err := n.Start(); err != nil {
			net.Close()
			return nil, none, none, nil, "", nil, err
		}
	}
	log.Info("testnet started", "validators", o.Validators, "dir", home)
	cl, err := DialWhenReady(ctx, net.Nodes[0])
	if err == nil {
		err = WaitForGateway(ctx, cl)
	}
	if err != nil {
		net.Close()
		return nil, none, none, nil, "", nil, err
	}
	op, _ := net.LoadKey(contract.RoleOperator)
	dso, _ := net.LoadKey(contract.RoleDSO)
	var senders []*rpchttp.HTTP
	for _, n := range net.Nodes {
		senders = append(senders, n.Client())
	}
	if o.KillOne {
		last := net.Nodes[len(net.Nodes)-1]
		if err := last.Kill(); err != nil {
			net.Close()
			return nil, none, none, nil, "", nil, err
		}
		senders = senders[:len(senders)-1]
		log.Info("killed one validator", "node", last.Index)
	}
	return cl, op, dso, senders, pprofAddr, func() { net.Close() }, nil
}

type commits struct {
	latencies []time.Duration
	refused   int
	blocks    int
	last      time.Time
}

// collectCommits reads the blocks from firstHeight on until want of the
// sent transactions are in them (or no new one arrives for 10 s). A block
// at height h is committed when block h+1 is proposed, so the header time
// of h+1 (the same clock as the sender's, on one machine) is its commit
// time.
// waitCommitted waits, reading only block headers, until blocks from
// firstHeight on hold want transactions and the block after the last of
// them is there too (its header time is the commit time), or until no new
// transaction arrives for 10 s.
func waitCommitted(ctx context.Context, cl *chain.Client, firstHeight int64, want int) error {
	got, next, lastTx, idle := 0, firstHeight, int64(0), time.Now()
	for time.Since(idle) < 10*time.Second {
		st, err := cl.RPC.Status(ctx)
		if err != nil {
			return err
		}
		top := st.SyncInfo.LatestBlockHeight
		for next <= top {
			last := min(top, next+19) // the most blockchain returns at once
			info, err := cl.RPC.BlockchainInfo(ctx, next, last)
			if err != nil {
				return err
			}
			for _, m := range info.BlockMetas {
				if m.NumTxs > 0 {
					got += m.NumTxs
					lastTx, idle = m.Header.Height, time.Now()
				}
			}
			next = last + 1
		}
		if got >= want && top > lastTx { // the next block's header is the commit time
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

func collectCommits(ctx context.Context, cl *chain.Client, firstHeight int64, sent map[string]time.Time, want int) (commits, error) {
	var c commits
	seen, idle := 0, time.Now()
	for h := firstHeight; seen < want && time.Since(idle) < 10*time.Second; {
		next := h + 1
		hdr, err := cl.RPC.Header(ctx, &next)
		if err != nil {
			time.Sleep(50 * time.Millisecond) // not there yet
			continue
		}
		blk, err := cl.RPC.Block(ctx, &h)
		if err != nil {
			return c, err
		}
		res, err := cl.RPC.BlockResults(ctx, &h)
		if err != nil {
			return c, err
		}
		at := hdr.Header.Time
		for i, tx := range blk.Block.Data.Txs {
			t0, ok := sent[string(tx.Hash())]
			if !ok {
				continue
			}
			seen++
			if res.TxResults[i].Code != 0 {
				c.refused++
				continue
			}
			c.latencies = append(c.latencies, at.Sub(t0))
			c.last = at
		}
		if len(blk.Block.Data.Txs) > 0 {
			c.blocks++
			idle = time.Now()
		}
		h++
	}
	return c, nil
}

func mustSign(ctx context.Context, cl *chain.Client, k chain.Key, msg contract.Msg) []byte {
	tx, err := cl.Sign(ctx, k, "", msg)
	if err != nil {
		panic(err)
	}
	return tx
}

// sendStage signs and broadcasts a stage's steps and waits until every one
// is in a block. With several validators, one signer's transactions may
// reach the proposer out of order (each validator gossips what it took,
// and a later one can arrive through another peer first); the one with
// the lower nonce is then refused as a replay. Those are signed again,
// with fresh nonces, and sent again.
func sendStage(ctx context.Context, cl *chain.Client, steps []onboard.Step) error {
	for range 5 {
		txs := make([][]byte, len(steps))
		for i, st := range steps {
			txs[i] = mustSign(ctx, cl, st.Signer, st.Msg)
		}
		replayed, err := sendAndWait(ctx, cl, txs)
		if err != nil || len(replayed) == 0 {
			return err
		}
		again := make([]onboard.Step, 0, len(replayed))
		for _, i := range replayed {
			again = append(again, steps[i])
		}
		steps = again
	}
	return fmt.Errorf("%d onboarding transactions refused as replays five times over", len(steps))
}

// sendAndWait broadcasts transactions and waits until every one is in a
// block: with several validators a later one may be committed first. It
// returns the indices of those the block refused as replays; any other
// refusal is an error.
func sendAndWait(ctx context.Context, cl *chain.Client, txs [][]byte) (replayed []int, err error) {
	for _, tx := range txs {
		if err := cl.BroadcastSync(ctx, tx); err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for i, tx := range txs {
		for {
			res, err := cl.RPC.Tx(ctx, types.Tx(tx).Hash(), false)
			if err == nil {
				switch c := contract.Code(res.TxResult.Code); c {
				case 0:
				case contract.CodeReplay:
					replayed = append(replayed, i)
				default:
					return nil, &chain.TxError{Code: c, Log: res.TxResult.Log}
				}
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("transaction %X not committed in 2 minutes: %w", types.Tx(tx).Hash(), err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return replayed, nil
}

// RateText is an offered rate as printed: "max" for as fast as it goes.
func RateText(r int) string {
	if r == 0 {
		return "max"
	}
	return fmt.Sprint(r)
}

// servePprof has the validator of home serve Go's profiles (CometBFT's
// pprof_laddr) on a free loopback port, and returns that address.
func servePprof(home string) (string, error) {
	addr, err := freeport.Addr()
	if err != nil {
		return "", err
	}
	cfg, _, err := chain.LoadConfig(home)
	if err != nil {
		return "", err
	}
	cfg.RPC.PprofListenAddress = addr
	return addr, chain.WriteConfig(cfg)
}

// fetchProfile writes a CPU profile of secs seconds, taken from the pprof
// server at addr, to path.
func fetchProfile(ctx context.Context, addr string, secs int, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof at %s: %s", addr, res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package chaos

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/onboard"
	"github.com/gridledger/gridledger/internal/reading"
	"github.com/gridledger/gridledger/internal/units"
)

// Load is a community driving the network: members signing bids and
// offers at a steady rate, and their meters' readings every interval, all
// sent to whichever validators are up.
type Load struct {
	net     *Network
	members []member
	// reader signs the readings transactions, as a member's gateway would.
	reader member
	params contract.Params

	// rng, the members' nonces and registers belong to Run's goroutine;
	// mu guards what the checks read from others.
	rng      *rand.Rand
	mu       sync.Mutex
	sent     map[string]time.Time // accepted by a mempool, by tx hash
	refused  map[string]int64     // by reason
	seq      uint64
	lastRead int64

	Sent atomic.Int64
}

type member struct {
	key   chain.Key
	meter chain.Key
	res   string
	// seq is its registration and the last nonce it used.
	seq chain.Sequence
	// Cumulative registers of its meter.
	importWh, exportWh int64
}

// NewLoad registers members (half with an approved PV asset, half funded
// buyers), their meters and a reader, through node 0.
func NewLoad(ctx context.Context, net *Network, members int, seed uint64) (*Load, error) {
	op, err := net.LoadKey(contract.RoleOperator)
	if err != nil {
		return nil, err
	}
	dso, err := net.LoadKey(contract.RoleDSO)
	if err != nil {
		return nil, err
	}
	cl, err := DialWhenReady(ctx, net.Nodes[net.Layout.KeyHolder(contract.RoleOperator)])
	if err != nil {
		return nil, err
	}
	l := &Load{net: net, sent: map[string]time.Time{}, refused: map[string]int64{}, rng: rand.New(rand.NewPCG(seed, 1))}
	if l.params, err = (chain.Reader{Q: cl}).Params(ctx); err != nil {
		return nil, err
	}
	if err := WaitForGateway(ctx, cl); err != nil {
		return nil, err
	}
	submit := func(ctx context.Context, k chain.Key, msg contract.Msg) error {
		_, err := cl.Submit(ctx, k, "", msg)
		var te *chain.TxError
		if errors.As(err, &te) && te.Code == contract.CodeReplay {
			// Another client used the key meanwhile; the client has
			// forgotten its nonce and starts again from the ledger's.
			_, err = cl.Submit(ctx, k, "", msg)
		}
		return err
	}
	all := make([]member, members+1)
	for i := range all {
		id := fmt.Sprintf("m%02d", i)
		if i == members {
			id = "reader"
		}
		m := member{key: chain.NewKey(id, contract.RoleMember), meter: chain.NewKey(id+"-meter", "")}
		// Half sell from an approved PV asset, half buy with money; the
		// reader only signs the readings.
		j := onboard.Member{Key: m.key, NodeType: contract.NodeHousehold}
		switch {
		case i == members:
		case i%2 == 0:
			m.res = id + "-pv"
			j.RES = &contract.MsgRegisterRES{ID: m.res, Kind: "pv", CapacityW: 1_000_000}
		default:
			j.FundsNano = 10_000 * units.NanoPerUnit
		}
		steps := onboard.Steps(op, dso, j).All()
		if i < members {
			steps = append(steps, onboard.Step{Signer: op, Msg: &contract.MsgRegisterMeter{ID: m.meter.ID, Owner: id, PubKey: m.meter.PubKey(), RES: m.res}})
		}
		if err := onboard.Send(ctx, steps, submit); err != nil {
			return nil, err
		}
		p, err := chain.Reader{Q: cl}.Participant(ctx, id)
		if err != nil {
			return nil, err
		}
		m.seq = chain.SequenceOf(p) // its asset's registration, if any, included
		all[i] = m
	}
	l.members, l.reader = all[:members], all[members]
	return l, nil
}

// WaitForGateway waits until node 0 has registered the community
// gateway, which it does with the operator's key once the network makes
// blocks: whoever else signs as the operator must wait for it, or the two
// race for the operator's nonces.
func WaitForGateway(ctx context.Context, cl *chain.Client) error {
	for {
		if gws, err := (chain.Reader{Q: cl}).Gateways(ctx); err == nil && len(gws) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node0 never registered its gateway: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// DialWhenReady dials a node once it answers and has made a block.
func DialWhenReady(ctx context.Context, n *Node) (*chain.Client, error) {
	for {
		if h, err := n.Height(ctx); err == nil && h > 1 {
			return chain.NewClient(n.Client())
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("node%d did not start: %w", n.Index, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// Run sends rate orders per second, and every interval one readings
// transaction for all meters, until ctx ends.
func (l *Load) Run(ctx context.Context, rate int, marketTime func() int64) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		mt := marketTime()
		if mt == 0 {
			continue
		}
		if iv := mt / l.params.IntervalS; iv != l.lastRead {
			l.lastRead = iv
			l.send(ctx, l.readings(mt))
		}
		l.send(ctx, l.order(mt))
	}
}

// order is a member's next bid or offer, for a listing whose gate closes
// at least an interval from now.
func (l *Load) order(mt int64) []byte {
	p := l.params
	listing := (mt/p.IntervalS+1)*p.IntervalS + p.GateClosureS + p.IntervalS
	m := &l.members[l.rng.IntN(len(l.members))]
	wh, price := 100+l.rng.Int64N(1900), 40_000+l.rng.Int64N(50_000)
	var msg contract.Msg = &contract.MsgBid{Listing: listing, Wh: wh, PricePerKWh: price}
	if m.res != "" {
		msg = &contract.MsgOffer{Listing: listing, RES: m.res, Wh: wh, PricePerKWh: price}
	}
	return m.sign(l.net.ChainID, msg)
}

// sign signs msg as m with its next nonce.
func (m *member) sign(chainID string, msg contract.Msg) []byte {
	m.seq.Nonce++
	tx, err := m.seq.Sign(m.key, chainID, "", msg)
	if err != nil {
		panic(err) // our own messages always encode
	}
	return tx
}

// readings is one readings transaction: every meter's registers at mt.
func (l *Load) readings(mt int64) []byte {
	l.seq++
	var msg contract.MsgReadings
	for i := range l.members {
		m := &l.members[i]
		if m.res != "" {
			m.exportWh += 500 + l.rng.Int64N(1500)
		} else {
			m.importWh += 300 + l.rng.Int64N(1200)
		}
		s, err := reading.Sign(m.meter.PrivKey, reading.Reading{Meter: m.meter.ID, Registers: reading.Registers{Seq: l.seq, Time: mt,
			ImportWh: m.importWh, ExportWh: m.exportWh, ProductionWh: m.exportWh}})
		if err != nil {
			panic(err)
		}
		msg.Readings = append(msg.Readings, contract.ReadingEntry{Signed: s})
	}
	return l.reader.sign(l.net.ChainID, &msg)
}

// send hands a transaction to an up validator's mempool, trying another
// if one does not answer.
func (l *Load) send(ctx context.Context, tx []byte) {
	start := int(l.Sent.Load())
	for try := range len(l.net.Nodes) {
		n := l.net.Nodes[(start+try)%len(l.net.Nodes)]
		if !n.Running() || n.isPaused() {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		res, err := n.Client().BroadcastTxSync(cctx, tx)
		cancel()
		if err != nil {
			continue
		}
		l.Sent.Add(1)
		l.mu.Lock()
		defer l.mu.Unlock()
		if res.Code != 0 {
			l.refused[contract.Code(res.Code).Name()]++
			return
		}
		l.sent[hex.EncodeToString(types.Tx(tx).Hash())] = time.Now()
		return
	}
	l.mu.Lock()
	l.refused["no_validator_answered"]++
	l.mu.Unlock()
}

func (n *Node) isPaused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused
}

// Accepted returns the hashes of the transactions a mempool accepted.
func (l *Load) Accepted() map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.sent)
}

// RefusedBy counts the refusals by reason.
func (l *Load) RefusedBy() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.refused)
}

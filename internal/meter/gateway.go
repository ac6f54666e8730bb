package meter

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
	"github.com/gridledger/gridledger/internal/sigs"
)

// GatewayConfig configures a gateway.
type GatewayConfig struct {
	// Community is the chain id (in topics and passwords).
	Community string
	// DeviceID and DeviceKey are the gateway's registered device identity:
	// it signs the readings of the meters registered with Gateway ==
	// DeviceID, which cannot sign for themselves.
	DeviceID  string
	DeviceKey ed25519.PrivKey

	// Broker is the embedded broker to read from (through its inline
	// client). Without it, MQTTURL names an external broker, e.g.
	// tcp://127.0.0.1:1883 or ssl://host:8883.
	Broker  *Broker
	MQTTURL string
	// MQTTUser and MQTTPassword log in to the external broker; by default
	// DeviceID and the password derived from DeviceKey.
	MQTTUser, MQTTPassword string
	// MQTTTLS configures an ssl:// broker URL (nil: system roots).
	MQTTTLS *tls.Config

	// StoreDir keeps the fine data (StoreDir/<meter>/<interval-start>.jsonl)
	// and the gateway's sequence counters. Empty keeps nothing: batches
	// then carry no fine hash, and gateway-signed sequence numbers restart
	// from what the ledger last saw.
	StoreDir string
	// Clock is market time. Required.
	Clock Clock
	// IntervalS and SkewS override the ledger's interval length and
	// allowed reading skew (taken from the registry after a Refresh, else
	// 3600 and 120).
	IntervalS, SkewS int64
	// FlushEvery is how often (wall time) the gateway looks for ended
	// intervals to submit; default 1 s.
	FlushEvery time.Duration
	// GraceS is how long (market seconds) after an interval ends the
	// gateway waits for readings dated at its end before submitting it:
	// the ledger settles an interval as soon as every meter has a reading
	// in it, so a batch sent too early settles it without the last ones.
	GraceS int64
	// Workers verify readings in parallel; default GOMAXPROCS.
	Workers int
}

// Submitter puts a batch of readings on the ledger.
type Submitter interface {
	Submit(ctx context.Context, m *contract.MsgReadings) error
}

// Stats counts what the gateway did with the messages it received.
type Stats struct {
	// Accepted readings passed every check and were stored.
	Accepted int64
	// Rejected counts refused readings by the contract's code.
	Rejected map[contract.Code]int64
	// Ignored messages were not readings: commands, status topics without
	// energy, other gateways' meters.
	Ignored int64
	// Submitted readings went to the ledger in Batches MsgReadings.
	Submitted, Batches int64
}

// Gateway verifies readings arriving over MQTT, keeps the fine data, and
// submits each meter's last reading per interval to the ledger.
type Gateway struct {
	cfg    GatewayConfig
	reg    *Registry
	submit Submitter
	log    *slog.Logger

	shards []*shard
	seqs   *seqStore

	accepted, ignored  atomic.Int64
	rejected           [64]atomic.Int64 // by contract.Code
	submitted, batches atomic.Int64

	flushMu sync.Mutex // one flush at a time
	summary struct {   // counters at the last info summary
		accepted int64
		rejected [64]int64
	}

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	client    paho.Client // external broker, nil with the embedded one
	started   atomic.Bool
	closeOnce sync.Once

	// onResult, if set (tests), sees every message's outcome.
	onResult func(topic string, payload []byte, it item)
}

// shard owns a subset of the meters (by hash of the id): one worker
// handles its messages in arrival order, so a meter's readings are checked
// in the order it sent them while different meters verify in parallel.
type shard struct {
	in chan inMsg
	mu sync.Mutex // guards meters: the worker, flush and SwitchRelay
	// meters is the gateway's memory of each meter it has seen.
	meters map[string]*meterState
}

type inMsg struct {
	kind    topicKind
	id      string
	topic   string
	payload []byte
}

// NewGateway makes a gateway; Start connects it.
func NewGateway(cfg GatewayConfig, reg *Registry, submit Submitter, log *slog.Logger) *Gateway {
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.MQTTUser == "" {
		cfg.MQTTUser = cfg.DeviceID
	}
	if cfg.MQTTPassword == "" && cfg.DeviceKey != nil {
		cfg.MQTTPassword = Password(cfg.DeviceKey, cfg.Community, cfg.DeviceID)
	}
	g := &Gateway{cfg: cfg, reg: reg, submit: submit, log: log.With("module", "gateway", "gateway", cfg.DeviceID),
		seqs: newSeqStore(cfg.StoreDir)}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.shards = make([]*shard, cfg.Workers)
	for i := range g.shards {
		g.shards[i] = &shard{in: make(chan inMsg, 256), meters: map[string]*meterState{}}
	}
	return g
}

// Start subscribes to every reading and native device topic and starts
// the workers and the batching loop. With an external broker it returns
// once the first connection is up and subscribed (or ctx ends); after
// that the client reconnects and resubscribes by itself.
func (g *Gateway) Start(ctx context.Context) error {
	if g.cfg.Clock == nil {
		return errors.New("meter: gateway needs a Clock")
	}
	if g.cfg.Broker == nil && g.cfg.MQTTURL == "" {
		return errors.New("meter: gateway needs a Broker or an MQTTURL")
	}
	if g.cfg.Community == "" {
		return errors.New("meter: gateway needs the community (chain id)")
	}
	if g.cfg.DeviceKey != nil && len(g.cfg.DeviceKey) != ed25519.PrivateKeySize {
		return fmt.Errorf("meter: gateway device key is %d bytes, want %d", len(g.cfg.DeviceKey), ed25519.PrivateKeySize)
	}
	if !g.started.CompareAndSwap(false, true) {
		return errors.New("meter: gateway already started")
	}
	if err := g.seqs.load(); err != nil {
		return err
	}
	g.recover()
	for _, sh := range g.shards {
		g.wg.Add(1)
		go g.work(sh)
	}
	g.wg.Add(1)
	go g.flushLoop()
	var err error
	if g.cfg.Broker != nil {
		err = g.subscribeInline()
	} else {
		err = g.connectExternal(ctx)
	}
	if err != nil {
		g.Close()
	}
	return err
}

func (g *Gateway) subscribeInline() error {
	for i, f := range gatewayFilters(g.cfg.Community) {
		if err := g.cfg.Broker.subscribe(f.filter, subID+i, func(topic string, payload []byte) {
			if f.accepts(topic) {
				g.deliver(topic, payload)
			}
		}); err != nil {
			return fmt.Errorf("meter: subscribe %s: %w", f.filter, err)
		}
	}
	return nil
}

// subID numbers the gateway's inline subscriptions (mochi keys them by
// filter and id).
const subID = 7100

func (g *Gateway) connectExternal(ctx context.Context) error {
	ready := make(chan struct{})
	var readyOnce sync.Once
	filters := gatewayFilters(g.cfg.Community)
	opts := paho.NewClientOptions().
		AddBroker(g.cfg.MQTTURL).
		SetClientID("gridledger-gw-" + g.cfg.DeviceID).
		SetUsername(g.cfg.MQTTUser).
		SetPassword(g.cfg.MQTTPassword).
		SetProtocolVersion(4).
		SetTLSConfig(g.cfg.MQTTTLS).
		// A restarted broker may have lost every session: subscribe
		// afresh on each connection instead of trusting a stored one.
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(500 * time.Millisecond).
		SetMaxReconnectInterval(2 * time.Second).
		SetKeepAlive(15 * time.Second).
		SetOnConnectHandler(func(c paho.Client) {
			for _, f := range filters {
				err := subscribe(c, f.filter, func(_ paho.Client, m paho.Message) {
					if f.accepts(m.Topic()) {
						g.deliver(m.Topic(), m.Payload())
					}
				})
				if err != nil {
					// The broker's ACL may not grant the gateway's user
					// this filter; nothing arrives from it until fixed.
					g.log.Error("subscribe failed", "filter", f.filter, "err", err)
					return
				}
			}
			g.log.Info("connected to MQTT broker", "url", g.cfg.MQTTURL)
			readyOnce.Do(func() { close(ready) })
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			g.log.Warn("lost MQTT broker; reconnecting", "url", g.cfg.MQTTURL, "err", err)
		})
	g.client = paho.NewClient(opts)
	g.client.Connect() // retries in the background until it succeeds
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("meter: gateway connecting to %s: %w", g.cfg.MQTTURL, ctx.Err())
	}
}

// Close stops the gateway: no more messages are read, workers and the
// batching loop end, files are closed. Intervals not yet submitted stay in
// the store and are submitted after a restart.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		if g.cfg.Broker != nil {
			for i, f := range gatewayFilters(g.cfg.Community) {
				_ = g.cfg.Broker.unsubscribe(f.filter, subID+i)
			}
		}
		if g.client != nil {
			g.client.Disconnect(250)
		}
		g.cancel()
		g.wg.Wait()
		for _, sh := range g.shards {
			sh.mu.Lock()
			for _, st := range sh.meters {
				st.closeFile()
			}
			sh.mu.Unlock()
		}
	})
	return nil
}

// Stats returns the gateway's counters.
func (g *Gateway) Stats() Stats {
	s := Stats{Accepted: g.accepted.Load(), Ignored: g.ignored.Load(), Submitted: g.submitted.Load(),
		Batches: g.batches.Load(), Rejected: map[contract.Code]int64{}}
	for c := range g.rejected {
		if n := g.rejected[c].Load(); n > 0 {
			s.Rejected[contract.Code(c)] = n
		}
	}
	return s
}

// deliver routes a message to the worker of its meter. It blocks when
// that worker is behind, which pushes back on the publisher's connection.
func (g *Gateway) deliver(topic string, payload []byte) {
	kind, id := parseTopic(g.cfg.Community, topic)
	if kind != topicReading && kind != topicNative {
		g.ignored.Add(1)
		return
	}
	select {
	case g.shardOf(id).in <- inMsg{kind: kind, id: id, topic: topic, payload: payload}:
	case <-g.ctx.Done():
	}
}

// handle processes one message synchronously (tests and fuzzing).
func (g *Gateway) handle(topic string, payload []byte) item {
	kind, id := parseTopic(g.cfg.Community, topic)
	if kind != topicReading && kind != topicNative {
		g.ignored.Add(1)
		return item{skip: true}
	}
	return g.process(g.shardOf(id), []inMsg{{kind: kind, id: id, topic: topic, payload: payload}})[0]
}

func (g *Gateway) shardOf(id string) *shard {
	h := fnv.New32a()
	h.Write([]byte(id))
	return g.shards[h.Sum32()%uint32(len(g.shards))]
}

// maxBatch is how many queued readings a worker verifies at once: ed25519
// batch verification costs about half of one-by-one at 16 or more.
const maxBatch = 64

func (g *Gateway) work(sh *shard) {
	defer g.wg.Done()
	batch := make([]inMsg, 0, maxBatch)
	for {
		select {
		case m := <-sh.in:
			batch = append(batch[:0], m)
		drain:
			for len(batch) < maxBatch {
				select {
				case m := <-sh.in:
					batch = append(batch, m)
				default:
					break drain
				}
			}
			g.process(sh, batch)
		case <-g.ctx.Done():
			return
		}
	}
}

// params are the interval length and allowed skew in force: the
// configured ones, else the ledger's (once the registry has read them),
// else the contract's defaults.
func (g *Gateway) params() (intervalS, skewS int64) {
	s := g.reg.view()
	def := contract.DefaultParams()
	intervalS, skewS = def.IntervalS, def.ReadingSkewS
	if s.intervalS > 0 {
		intervalS, skewS = s.intervalS, s.skewS
	}
	if g.cfg.IntervalS > 0 {
		intervalS = g.cfg.IntervalS
	}
	if g.cfg.SkewS > 0 {
		skewS = g.cfg.SkewS
	}
	return intervalS, skewS
}

// item is one message on its way through process.
type item struct {
	signed reading.Signed
	r      reading.Reading
	meter  contract.Meter
	key    []byte
	code   contract.Code // refused with this code (0: still going)
	skip   bool          // not a reading: ignored
	added  bool          // in the signature batch
	why    string
}

// process checks a batch of messages of one shard in arrival order, as
// the contract will (readings.go): known meter, owner not suspended,
// signature (one batch verification), sequence, time, registers. Accepted
// readings are stored and remembered for the interval's batch.
func (g *Gateway) process(sh *shard, batch []inMsg) []item {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := g.cfg.Clock.Now()
	intervalS, skewS := g.params()
	snap := g.reg.view()
	items := make([]item, len(batch))
	var bv *sigs.Batch
	n := 0
	for i, m := range batch {
		it := &items[i]
		switch m.kind {
		case topicReading:
			g.decodeSigned(it, m)
		case topicNative:
			g.decodeNative(sh, snap, it, m, now)
		default:
			it.skip = true
		}
		if it.skip || it.code != 0 {
			continue
		}
		var ok bool
		if it.meter, ok = snap.meters[it.r.Meter]; !ok {
			it.code, it.why = contract.CodeUnknownMeter, "meter not registered"
			continue
		}
		if it.meter.Gateway == "" {
			it.key = it.meter.PubKey
		} else if gw, ok := snap.gateways[it.meter.Gateway]; ok {
			it.key = gw.PubKey
		} else {
			it.code, it.why = contract.CodeUnknownMeter, "gateway "+it.meter.Gateway+" not registered"
			continue
		}
		if snap.suspended[it.meter.Owner] {
			it.code, it.why = contract.CodeSuspended, "owner "+it.meter.Owner+" is suspended"
			continue
		}
		if bv == nil {
			bv = sigs.NewBatch()
		}
		it.added = bv.Add(it.key, it.signed.SignBytes(), it.signed.Sig)
		if !it.added {
			it.code, it.why = contract.CodeBadSignature, "key or signature is malformed (wrong length, or the key is no curve point)"
			continue
		}
		n++
	}
	var valid []bool
	if n > 0 {
		valid = bv.Verify()
	}
	j := 0
	for i := range items {
		it := &items[i]
		if it.added {
			if !valid[j] {
				it.code, it.why = contract.CodeBadSignature, "not signed by the meter's key"
				if it.meter.Gateway != "" {
					it.why = "not signed by gateway " + it.meter.Gateway
				}
			}
			j++
			if it.code == 0 {
				g.accept(sh, it, now, intervalS, skewS)
			}
		}
		switch {
		case it.skip:
			g.ignored.Add(1)
		case it.code != 0:
			if int(it.code) < len(g.rejected) {
				g.rejected[it.code].Add(1)
			}
			g.log.Debug("reading refused", "topic", batch[i].topic, "meter", it.r.Meter, "seq", it.r.Seq,
				"code", it.code.Name(), "why", it.why)
		default:
			g.accepted.Add(1)
		}
		// After counting, so a test that has seen every result sees
		// every count too.
		if g.onResult != nil {
			g.onResult(batch[i].topic, batch[i].payload, *it)
		}
	}
	return items
}

// decodeSigned parses a signed reading published on a meter's topic.
func (g *Gateway) decodeSigned(it *item, m inMsg) {
	var err error
	it.signed, it.r, err = reading.Decode(m.payload)
	switch {
	case err != nil:
		it.code, it.why = contract.CodeMalformed, err.Error()
	case it.r.Meter != m.id:
		it.code, it.why = contract.CodeMalformed, "reading of "+it.r.Meter+" published on the topic of "+m.id
	case !compact(it.signed.Reading):
		// The ledger re-encodes the batch; only compact JSON keeps the
		// signed bytes intact through that.
		it.code, it.why = contract.CodeMalformed, "reading JSON is not compact"
	}
}

// accept runs the checks that need the meter's history (reading.Check, as
// the contract runs them) and, if they pass, stores the reading.
func (g *Gateway) accept(sh *shard, it *item, now, intervalS, skewS int64) {
	st := g.state(sh, it.meter)
	r := it.r
	if f, why := reading.Check(r, st.last, now, skewS); f != reading.OK {
		it.code, it.why = contract.FaultCode(f), why
		return
	}
	st.last = &r.Registers
	start := reading.IntervalStart(r.Time, intervalS)
	if err := g.store(st, it.meter.ID, start, it.signed); err != nil {
		g.log.Error("fine data not stored", "meter", it.meter.ID, "err", err)
	}
	rec := st.open[start]
	if rec == nil {
		rec = &intervalRec{}
		st.open[start] = rec
	}
	rec.last, rec.dirty = it.signed, true
}

// compact reports whether b is compact JSON: what json.Marshal would make
// of it when the ledger re-encodes the reading inside a transaction.
func compact(b []byte) bool {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return false
	}
	return bytes.Equal(buf.Bytes(), b)
}

package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/agent"
	"github.com/gridledger/gridledger/internal/kpi"
	"github.com/gridledger/gridledger/internal/onboard"
	"github.com/gridledger/gridledger/internal/reading"
	"github.com/gridledger/gridledger/internal/sigs"
	"github.com/gridledger/gridledger/internal/units"
)

// Options describe one simulation.
type Options struct {
	Community *community.Community
	// Seed drives the community's weather and households and the keys.
	Seed uint64
	// From is the first simulated local day's midnight (UTC seconds).
	From int64
	Days int
	// Workers run the homes' EMS side by side (default: every core).
	Workers int
	// Log receives the EMS agents' logs (nil: none).
	Log *slog.Logger
	// Progress is called after each simulated hour with hours done and
	// the total.
	Progress func(done, total int)
	// OnInterval receives each settled interval of the simulated days, in
	// order.
	OnInterval func(kpi.Interval)

	// onListing, for tests, receives each settled listing of the
	// simulated days with its book, in order.
	onListing func(contract.ListingView)
	// onSettlement, for tests, receives each settlement of the simulated
	// days, in order.
	onSettlement func(contract.Settlement)
}

// Result is what a simulation leaves besides its intervals.
type Result struct {
	// AppHash and Height are the ledger's at the end: the same community
	// and seed give the same hash.
	AppHash []byte
	Height  int64
	// Txs and TxBytes count every transaction in the blocks; StateBytes
	// is the ledger state's size at the end.
	Txs, TxBytes, StateBytes int64
	// Refused counts transactions the ledger refused, by code name;
	// RefusedFirst is the first one's message for each code.
	Refused      map[string]int64
	RefusedFirst map[string]string
	// Supply and Holdings are all money issued and what the wallets hold
	// (balances and escrow) at the end: equal when no money was created or
	// lost.
	Supply, Holdings int64
	// Timing splits the wall time between the parts.
	Timing Timing
}

// Timing is the wall time each stage took. The EMS and the meters of an
// hour run beside the ledger's block of the hour before, so the stages
// add up to more than the run.
type Timing struct {
	// EMS: forecasting, planning, bidding and signing the homes' and the
	// DSO's transactions; Meters: the meters' readings, signed; Checks:
	// verifying the homes' and meters' signatures before their block, as
	// a node's mempool does (the block then takes the checks' word);
	// Ledger: the contract executing and committing the blocks (clearing
	// and settlement included); Report: turning settlements into KPIs.
	EMS, Meters, Checks, Ledger, Report time.Duration
}

const chainID = "gridledger-sim"

// engine drives the contract's ABCI application block by block: no
// consensus, no network, the same state machine a validator runs.
type engine struct {
	o       Options
	c       *community.Community
	params  contract.Params
	app     *chain.App
	db      dbm.DB
	height  int64
	op, dso chain.Key
	sites   []*simSite
	dsoAg   *agent.DSO
	dsoBox  *outbox
	opBox   *outbox
	res     Result
	// pending holds what each site used and made per interval start,
	// until the interval is settled.
	pending   map[int64][]kpi.Use
	pendingMu sync.Mutex // decide adds while commit's report takes
	next      int64      // next interval to report
	// timing of the decide stage, which runs beside commit's.
	timing Timing
	// metered is what the meters recorded in the intervals settled in the
	// last day, per member, oldest first, for the EMS's snapshots;
	// meteredNext is where the next settled interval starts.
	metered     []agent.Metered
	meteredNext int64
}

type simSite struct {
	Site
	key   chain.Key
	meter ed25519.PrivKey
	ag    *agent.Agent
	box   *outbox
	regs  reading.Registers // its meter's, as last signed
	// battery, for a site with one, and its sub-meter.
	battery  *Battery
	batMeter ed25519.PrivKey
	batRegs  reading.Registers
	// meterNext is the start of the hour its meter measures next.
	meterNext int64
}

// outbox is a signer's way into the next block: it queues messages and
// signs them, in order, when the block is built, so that a member's first
// transactions are signed after the block that registers it (they name
// its registration height).
type outbox struct {
	e       *engine
	seq     map[string]chain.Sequence
	pending []queued
	// signers are the public keys of the last take's transactions.
	signers [][]byte
}

type queued struct {
	k   chain.Key
	msg contract.Msg
}

func (b *outbox) Query(_ context.Context, path string, v any) error {
	var raw []byte
	var err error
	b.e.app.State(func(s *contract.State) { raw, err = s.Query(path) })
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

func (b *outbox) Send(_ context.Context, k chain.Key, msg contract.Msg) error {
	b.pending = append(b.pending, queued{k, msg})
	return nil
}

// queue queues steps to sign.
func (b *outbox) queue(steps []onboard.Step) {
	for _, st := range steps {
		b.pending = append(b.pending, queued{st.Signer, st.Msg})
	}
}

// take signs what is queued.
func (b *outbox) take() ([][]byte, error) {
	txs := make([][]byte, 0, len(b.pending))
	b.signers = b.signers[:0]
	for _, q := range b.pending {
		seq, ok := b.seq[q.k.ID]
		if !ok {
			p, err := chain.Reader{Q: b}.Participant(context.Background(), q.k.ID)
			if err != nil {
				return nil, fmt.Errorf("sim: %s signs before it is registered: %w", q.k.ID, err)
			}
			seq = chain.SequenceOf(p)
		}
		seq.Nonce++
		b.seq[q.k.ID] = seq
		tx, err := seq.Sign(q.k, chainID, "", q.msg)
		if err != nil {
			return nil, fmt.Errorf("sim: signing %s: %w", contract.TypeOf(q.msg), err)
		}
		txs = append(txs, tx)
		b.signers = append(b.signers, q.k.PubKey())
	}
	b.pending = nil
	return txs, nil
}

// takeAll signs what the boxes queued, box by box.
func takeAll(boxes ...*outbox) ([][]byte, error) {
	var txs [][]byte
	for _, b := range boxes {
		signed, err := b.take()
		if err != nil {
			return nil, err
		}
		txs = append(txs, signed...)
	}
	return txs, nil
}

func (e *engine) siteBoxes() []*outbox {
	boxes := make([]*outbox, len(e.sites))
	for i, ss := range e.sites {
		boxes[i] = ss.box
	}
	return boxes
}

func key(seed uint64, id string, role contract.Role) chain.Key {
	return chain.Key{ID: id, Role: role, PrivKey: ed25519.GenPrivKeyFromSecret(fmt.Appendf(nil, "gridledger-sim/%d/%s", seed, id))}
}

// Run simulates the community over the days and returns the ledger's end
// state; the settled intervals go to o.OnInterval as they settle.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Days < 1 {
		return nil, errors.New("sim: at least one day")
	}
	if o.Workers < 1 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	e := &engine{o: o, c: o.Community, pending: map[int64][]kpi.Use{}, res: Result{Refused: map[string]int64{}, RefusedFirst: map[string]string{}}}
	e.params = e.c.Params()
	// Two days of settled listings in the state are plenty for the EMS (it
	// prices from the last day) and keep a year's memory flat: the state
	// holds every order of the retained listings, which for 10,000 sites
	// is most of the heap.
	e.params.RetainIntervals = 2 * 86400 / e.params.IntervalS
	if err := e.genesis(); err != nil {
		return nil, err
	}
	// A day of warm-up before the first reported one: the homes plan and
	// bid for it, the meters start, and the market has prices to learn from.
	warm := o.From - 86400
	sites, err := Sites(e.c, o.Seed)
	if err != nil {
		return nil, err
	}
	if err := e.register(warm, sites); err != nil {
		return nil, err
	}
	e.next = o.From
	end := o.From + int64(o.Days)*86400
	total := int((end + 2*3600 - warm) / 3600)
	done := 0
	// Hourly blocks until the last interval is settled (its readings go in
	// at its end, and it settles in the block after), in a pipeline of two
	// stages: while the block at t executes, the meters, the homes and the
	// DSO decide the block at t+1 from the ledger as the block before t
	// left it — an EMS a block behind, as on a real network.
	t := warm + 3600
	txs, err := e.decide(ctx, t, e.snapshot(t))
	if err != nil {
		return nil, err
	}
	for ; e.next < end; t += 3600 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		snap := e.snapshot(t + 3600)
		errc := make(chan error, 1)
		go func(t int64, txs [][]byte) { errc <- e.commit(t, txs) }(t, txs)
		var derr error
		txs, derr = e.decide(ctx, t+3600, snap)
		if err := errors.Join(<-errc, derr); err != nil {
			return nil, err
		}
		done++
		if o.Progress != nil {
			o.Progress(min(done, total), total)
		}
		if t > end+48*3600 {
			return nil, fmt.Errorf("sim: interval %d not settled two days after the end", e.next)
		}
	}
	e.res.Timing.EMS, e.res.Timing.Meters, e.res.Timing.Checks = e.timing.EMS, e.timing.Meters, e.timing.Checks
	e.app.State(func(s *contract.State) {
		e.res.AppHash, e.res.Height = s.AppHash(), s.Height()
		in := s.Info()
		e.res.Supply, e.res.Holdings = in.Supply, in.Balances+in.Escrow
	})
	if e.res.Supply != e.res.Holdings {
		return nil, fmt.Errorf("sim: money not conserved: %d issued, %d held", e.res.Supply, e.res.Holdings)
	}
	it, err := dbm.IteratePrefix(e.db, []byte("s/"))
	if err != nil {
		return nil, err
	}
	for ; it.Valid(); it.Next() {
		e.res.StateBytes += int64(len(it.Key()) + len(it.Value()))
	}
	it.Close()
	return &e.res, nil
}

func (e *engine) genesis() error {
	e.db = dbm.NewMemDB()
	app, err := chain.NewApp(e.db, e.o.Log)
	if err != nil {
		return err
	}
	e.app = app
	g := contract.Genesis{Params: e.params, TimeScale: 1}
	e.op = key(e.o.Seed, "operator", contract.RoleOperator)
	e.dso = key(e.o.Seed, "dso", contract.RoleDSO)
	util := key(e.o.Seed, "utility", contract.RoleUtility)
	for _, k := range []chain.Key{e.op, e.dso, util} {
		g.Participants = append(g.Participants, contract.Participant{ID: k.ID, Role: k.Role, PubKey: k.PubKey()})
	}
	state, err := json.Marshal(g)
	if err != nil {
		return err
	}
	_, err = app.InitChain(context.Background(), &abci.InitChainRequest{ChainId: chainID, AppStateBytes: state,
		Time: time.Unix(e.o.From-86400, 0).UTC(), InitialHeight: 1})
	return err
}

// register puts the community on the ledger in the first blocks of the
// warm-up day: members, their money, assets, approvals and meters.
func (e *engine) register(t int64, sites []Site) error {
	opBox := &outbox{e: e, seq: map[string]chain.Sequence{}}
	e.dsoBox = &outbox{e: e, seq: map[string]chain.Sequence{}}
	// Money is not what the simulation studies: every member, the DSO
	// (for incentives) and the utility (for what it buys) get more than a
	// year can use, so nobody ends in debt.
	fundsNano := int64(100_000) * units.NanoPerUnit
	for _, s := range sites {
		ss := &simSite{Site: s, key: key(e.o.Seed, s.ID, contract.RoleMember),
			meter: ed25519.GenPrivKeyFromSecret(fmt.Appendf(nil, "gridledger-sim/%d/meter/%s", e.o.Seed, s.ID))}
		ss.box = &outbox{e: e, seq: map[string]chain.Sequence{}}
		if s.Battery != nil {
			ss.battery = NewBattery(*s.Battery)
			ss.batMeter = ed25519.GenPrivKeyFromSecret(fmt.Appendf(nil, "gridledger-sim/%d/battery-meter/%s", e.o.Seed, s.ID))
		}
		e.sites = append(e.sites, ss)
		st := onboard.Steps(e.op, e.dso, member(s, ss.key, fundsNano))
		opBox.queue(st.Operator)
		ss.box.queue(st.Member)
		e.dsoBox.queue(st.DSO)
	}
	// Each step's transactions are signed after the block before it, so
	// the members sign once registered.
	step := 0
	blockOf := func(boxes ...*outbox) error {
		step++
		txs, err := takeAll(boxes...)
		if err != nil {
			return err
		}
		if err := e.block(t+int64(step), txs, true); err != nil {
			return fmt.Errorf("sim: registering the community: %w", err)
		}
		return nil
	}
	if err := blockOf(opBox); err != nil {
		return err
	}
	if err := blockOf(e.siteBoxes()...); err != nil {
		return err
	}
	if err := blockOf(e.dsoBox); err != nil {
		return err
	}
	for _, id := range []string{e.dso.ID, "utility"} {
		for range max(1, len(e.sites)/10) {
			_ = opBox.Send(context.Background(), e.op, &contract.MsgIssue{To: id, Amount: fundsNano})
		}
	}
	for _, ss := range e.sites {
		_ = opBox.Send(context.Background(), e.op, &contract.MsgRegisterMeter{ID: ss.ID + "-meter", Owner: ss.ID, RES: ss.RESID(),
			PubKey: ss.meter.PubKey().Bytes()})
		if ss.battery != nil {
			// Its sub-meter: the settlement learns from it how much of
			// the site's export came from the battery.
			_ = opBox.Send(context.Background(), e.op, &contract.MsgRegisterMeter{ID: ss.BatteryMeterID(), Owner: ss.ID,
				Battery: ss.BatteryID(), PubKey: ss.batMeter.PubKey().Bytes()})
		}
	}
	if err := blockOf(opBox); err != nil {
		return err
	}
	// Every later transaction of the operator signs the meters' batches.
	e.opBox = opBox
	off := int64(e.c.UTCOffsetH) * 3600
	for _, ss := range e.sites {
		// The seasonal stage refit weekly: the season moves little in a
		// week, and it halves a year's forecasting.
		ss.ag = &agent.Agent{Home: ss.Home(), Key: ss.key, Ledger: ss.box, Log: e.o.Log, LeadIntervals: 1,
			Forecast: ss.Forecaster(e.c.UTCOffsetH, 7)}
		if b := ss.battery; b != nil {
			// The agent reads it after the meter has run the hour.
			ss.ag.BatterySoCWh = func() int64 { return b.SoCWh }
		}
		if e.c.Bidding == community.BiddingPerfectForesight {
			ss.ag.TrueNetWh = e.trueNet(ss)
		}
	}
	if e.c.DR.Enabled {
		e.dsoAg = &agent.DSO{Key: e.dso, Ledger: e.dsoBox, Log: e.o.Log, LimitPct: e.c.DR.LimitPct,
			IncentivePerKWh: e.c.DR.IncentivePerKWh(), DecideBeforeS: 10 * 3600, UTCOffsetS: off}
	}
	return nil
}

// decide is what the sites' meters and EMS, and the DSO, send for the
// block at market time t: the meters' closing readings of the interval
// ending at t, and what each EMS and the DSO decide at t from snap. It
// reads nothing of the ledger but snap, so it may run while the block
// before executes.
func (e *engine) decide(ctx context.Context, t int64, snap agent.Snapshot) ([][]byte, error) {
	snap.MarketTime = t
	start := time.Now()
	// The DSO reads the members' plans from the ledger: it goes first,
	// while nothing else touches it.
	if e.dsoAg != nil {
		if err := e.dsoAg.Step(ctx, snap); err != nil {
			return nil, err
		}
	}
	entries := make([][]contract.ReadingEntry, len(e.sites))
	hours := make([]kpi.Use, len(e.sites))
	signed := make([][][]byte, len(e.sites))
	errs := make([]error, len(e.sites))
	var meterNs, emsNs, checkNs [64]int64 // per worker
	work := make(chan int)
	var wg sync.WaitGroup
	for w := range min(e.o.Workers, len(meterNs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var checks checker
			defer func() {
				t0 := time.Now()
				checks.verify(e.app.Seen())
				checkNs[w] += time.Since(t0).Nanoseconds()
			}()
			for i := range work {
				ss := e.sites[i]
				t0 := time.Now()
				entries[i], hours[i], errs[i] = e.meter(ss, t)
				t1 := time.Now()
				if errs[i] == nil {
					errs[i] = ss.ag.Step(ctx, snap)
				}
				if errs[i] == nil {
					// Each home signs its own, in parallel.
					signed[i], errs[i] = ss.box.take()
				}
				t2 := time.Now()
				if errs[i] == nil {
					checks.add(ss.meterKeys(), entries[i], ss.box.signers, signed[i])
				}
				meterNs[w] += t1.Sub(t0).Nanoseconds()
				emsNs[w] += t2.Sub(t1).Nanoseconds()
				checkNs[w] += time.Since(t2).Nanoseconds()
			}
		}()
	}
	for i := range e.sites {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sim: hour %d: %w", t, err)
	}
	// The workers' busy time, shared out of the wall time they took.
	var m, a, c int64
	for w := range meterNs {
		m, a, c = m+meterNs[w], a+emsNs[w], c+checkNs[w]
	}
	if wall, busy := time.Since(start), m+a+c; busy > 0 {
		e.timing.Meters += time.Duration(int64(wall) * m / busy)
		e.timing.EMS += time.Duration(int64(wall) * a / busy)
		e.timing.Checks += time.Duration(int64(wall) * c / busy)
	}
	if iv := t - 3600; iv >= e.o.From {
		e.pendingMu.Lock()
		e.pending[iv] = hours
		e.pendingMu.Unlock()
	}
	var all []contract.ReadingEntry
	for _, es := range entries {
		all = append(all, es...)
	}
	for i := 0; i < len(all); i += contract.MaxReadingsPerTx {
		msg := &contract.MsgReadings{Readings: all[i:min(i+contract.MaxReadingsPerTx, len(all))]}
		if err := e.opBox.Send(ctx, e.op, msg); err != nil {
			return nil, err
		}
	}
	txs, err := takeAll(e.opBox, e.dsoBox)
	if err != nil {
		return nil, err
	}
	for _, t := range signed {
		txs = append(txs, t...)
	}
	return txs, nil
}

// checker verifies, in one batch, the signatures a worker's homes and
// meters made for the next block, and has the app remember the good ones
// (chain.App.Seen), so that the block, which runs on the other core while
// the next hour is decided, does not verify them again. A signature that
// fails here is simply verified again in the block, and refused there.
type checker struct {
	b     *sigs.Batch
	parts [][3][]byte // key, message, signature
}

func (c *checker) add(meters [][]byte, rs []contract.ReadingEntry, signers, txs [][]byte) {
	if c.b == nil {
		c.b = sigs.NewBatch()
	}
	queue := func(pub, msg, sig []byte) {
		if c.b.Add(pub, msg, sig) {
			c.parts = append(c.parts, [3][]byte{pub, msg, sig})
		}
	}
	for i, r := range rs {
		queue(meters[i], r.SignBytes(), r.Sig)
	}
	for i, tx := range txs {
		if sig, msg, ok := contract.SignedParts(tx); ok {
			queue(signers[i], msg, sig)
		}
	}
}

func (c *checker) verify(seen *sigs.Seen) {
	if c.b == nil {
		return
	}
	for i, ok := range c.b.Verify() {
		if ok {
			p := c.parts[i]
			seen.Add(p[0], p[1], p[2])
		}
	}
}

// trueNet is the perfect-foresight yardstick's quantity for a site: the
// net import its meter will record in the interval starting at a time,
// computed as the meter does (Site.Use: the profile's load, the
// appliances of the plan being followed, the generation), and for a site
// with a battery what it draws or delivers following its plan (Setpoint),
// run on a copy of the battery from the hour its meter has not yet
// measured, so that its window cuts it short as it will. Called when the
// agent orders, two hours before delivery, it reads the plan as it is
// then; a demand-response answer could change the appliances after that,
// but none comes so late: the DSO asks 10 hours before a day starts, the
// homes answer in the snapshot after, and a day is not re-planned once
// begun. So the quantity is exactly what the meter records.
func (e *engine) trueNet(ss *simSite) func(start int64) int64 {
	return func(start int64) int64 {
		from := start
		var b Battery
		if ss.battery != nil {
			b, from = *ss.battery, ss.meterNext
		}
		if from <= 0 || from > start {
			from = start // nothing metered yet, or nothing in between
		}
		var net int64
		for h := from; h <= start; h += 3600 {
			u := ss.Use(ss.ag, h, e.params)
			net = u.ConsumptionWh - u.ProductionWh
			if ss.battery != nil {
				planWh, planNetWh := ss.ag.BatteryWh(h, e.params)
				c, d := b.Run(Setpoint(planWh, planNetWh, net))
				net += c - d
			}
		}
		return net
	}
}

// snapshot is what the EMS sees of the ledger: the listings from a day
// back, the demand-response requests, and what the meters recorded in the
// intervals settled in the last day.
func (e *engine) snapshot(t int64) agent.Snapshot {
	var snap agent.Snapshot
	e.app.State(func(s *contract.State) {
		snap = agent.Snapshot{MarketTime: t, Params: s.Params(), Listings: s.ListingsBrief(t-86400, t+2*86400), DR: s.LiveDRs()}
		var owners map[string]string
		owner := func(meter string) string {
			if owners == nil {
				owners = map[string]string{}
				for _, m := range s.Meters() {
					owners[m.ID] = m.Owner
				}
			}
			return owners[meter]
		}
		for _, st := range s.Settlements(max(e.meteredNext, t-86400), t) {
			e.metered = append(e.metered, agent.MeteredOf(st, owner))
			e.meteredNext = st.Start + e.params.IntervalS
		}
	})
	i := 0
	for i < len(e.metered) && e.metered[i].Start < t-86400 {
		i++
	}
	e.metered = e.metered[i:]
	// The agents read the maps, never write them: one copy serves all.
	snap.Metered = slices.Clone(e.metered)
	return snap
}

// commit runs the block at t and reports the intervals it settled.
func (e *engine) commit(t int64, txs [][]byte) error {
	start := time.Now()
	if err := e.block(t, txs, false); err != nil {
		return err
	}
	e.res.Timing.Ledger += time.Since(start)
	start = time.Now()
	e.report()
	e.res.Timing.Report += time.Since(start)
	return nil
}

// meterKeys are the public keys of the site's meters, in the order meter
// signs their readings.
func (ss *simSite) meterKeys() [][]byte {
	keys := [][]byte{ss.meter.PubKey().Bytes()}
	if ss.battery != nil {
		keys = append(keys, ss.batMeter.PubKey().Bytes())
	}
	return keys
}

// meter is the site's meter at t: what the site used and made in the hour
// before (its profile's load plus the appliances its EMS ran, its battery
// charging or discharging as its plan asked, and its generation), added to
// the registers and signed; and its battery's sub-meter, which counts the
// charge as import and the discharge as export.
func (e *engine) meter(ss *simSite, t int64) ([]contract.ReadingEntry, kpi.Use, error) {
	sh := ss.Use(ss.ag, t-3600, e.params)
	var chargeWh, dischargeWh int64
	if ss.battery != nil {
		planWh, planNetWh := ss.ag.BatteryWh(t-3600, e.params)
		chargeWh, dischargeWh = ss.battery.Run(Setpoint(planWh, planNetWh, sh.ConsumptionWh-sh.ProductionWh))
	}
	ss.meterNext = t
	if net := sh.ConsumptionWh + chargeWh - dischargeWh - sh.ProductionWh; net > 0 {
		ss.regs.ImportWh += net
	} else {
		ss.regs.ExportWh -= net
	}
	ss.regs.ProductionWh += sh.ProductionWh
	ss.regs.Seq++
	ss.regs.Time = t
	signed, err := reading.Sign(ss.meter, reading.Reading{Meter: ss.ID + "-meter", Registers: ss.regs})
	if err != nil || ss.battery == nil {
		return []contract.ReadingEntry{{Signed: signed}}, sh, err
	}
	ss.batRegs.ImportWh += chargeWh
	ss.batRegs.ExportWh += dischargeWh
	ss.batRegs.Seq++
	ss.batRegs.Time = t
	bat, err := reading.Sign(ss.batMeter, reading.Reading{Meter: ss.BatteryMeterID(), Registers: ss.batRegs})
	return []contract.ReadingEntry{{Signed: signed}, {Signed: bat}}, sh, err
}

// block runs one block through the ABCI application and commits it.
// Refusals are counted; during registration (strict) they are errors.
func (e *engine) block(t int64, txs [][]byte, strict bool) error {
	e.height++
	ctx := context.Background()
	resp, err := e.app.FinalizeBlock(ctx, &abci.FinalizeBlockRequest{Height: e.height, Time: time.Unix(t, 0).UTC(), Txs: txs})
	if err != nil {
		return err
	}
	for i, r := range resp.TxResults {
		if r.Code != abci.CodeTypeOK {
			if strict {
				return fmt.Errorf("tx %d: %s: %s", i, r.Info, r.Log)
			}
			if e.res.Refused[r.Info]++; e.res.Refused[r.Info] == 1 {
				e.res.RefusedFirst[r.Info] = fmt.Sprintf("block %d tx %d: %s", e.height, i, r.Log)
			}
		}
	}
	for _, tx := range txs {
		e.res.Txs++
		e.res.TxBytes += int64(len(tx))
	}
	_, err = e.app.Commit(ctx, &abci.CommitRequest{})
	return err
}

// report hands each interval settled so far to OnInterval, in order.
func (e *engine) report() {
	for {
		var st contract.Settlement
		var lv []contract.ListingView
		ok := false
		e.app.State(func(s *contract.State) {
			if st, ok = s.Settlement(e.next); ok {
				lv = s.Listings(e.next, e.next+1, e.o.onListing != nil)
			}
		})
		if !ok {
			return
		}
		e.pendingMu.Lock()
		hours := e.pending[e.next]
		delete(e.pending, e.next)
		e.pendingMu.Unlock()
		e.next += e.params.IntervalS
		if e.o.onListing != nil {
			e.o.onListing(lv[0])
		}
		if e.o.onSettlement != nil {
			e.o.onSettlement(st)
		}
		if hours == nil || e.o.OnInterval == nil {
			continue
		}
		e.o.OnInterval(kpi.FromSettlement(st, lv[0].Clearing, hours))
	}
}

package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/agent"
	"github.com/gridledger/gridledger/internal/ems/plan"
	"github.com/gridledger/gridledger/internal/kpi"
	"github.com/gridledger/gridledger/internal/onboard"
	"github.com/gridledger/gridledger/internal/units"
)

// Live drives simulated sites against a running node: each site signs its
// own orders with its own key, through the node's RPC like any member.
type Live struct {
	Client   *chain.Client
	Operator chain.Key
	DSO      chain.Key
	Sites    []Site
	Keys     map[string]chain.Key // site id → key
	Log      *slog.Logger
	// LeadIntervals is how many intervals before gate closure sites bid.
	LeadIntervals int64
	// FundsNano is what each member is issued at registration.
	FundsNano int64
	// OnClearing is called once for each listing cleared while running,
	// OnSettlement once for each interval settled.
	OnClearing   func(contract.ListingView)
	OnSettlement func(contract.Settlement)
	// Agents are the sites' EMS, one per site in order: they plan, answer
	// demand response and place the orders. DSOAgent, when given, asks for
	// demand response where the plans are out of balance.
	Agents   []*agent.Agent
	DSOAgent *agent.DSO
	// Params are the ledger's, as JoinLive found them.
	Params contract.Params

	bid      map[int64]bool
	reported map[int64]bool
	settled  map[int64]bool
	// metered: what the meters recorded in the intervals settled in the
	// last day, for the agents' snapshots.
	metered []agent.Metered
}

// JoinLive puts a simulated community on the running node of home (its
// client cl, the meters' broker at broker, the ledger's clock): every
// site a member with its own key (kept in HOME/keys), its EMS, and a
// meter reporting over MQTT — a cheap plug the gateway signs for at the
// public lighting and the EV charger, a meter that signs its own readings
// elsewhere — and the DSO funded and watching the plans for demand
// response. Run the two it returns together. A site's home battery is
// simulated with the offline simulator's model (Battery, Setpoint),
// following its EMS's plan, and reports on a sub-meter of its own that
// signs its readings, as the ledger requires of a battery.
func JoinLive(ctx context.Context, home string, cl *chain.Client, broker string, clock interface{ Now() int64 },
	sites []Site, lead int64, log *slog.Logger) (*Live, *Metering, error) {
	keys := map[string]chain.Key{}
	for _, name := range []string{"operator", "dso", "gateway"} {
		k, err := chain.LoadKey(home, name)
		if err != nil {
			return nil, nil, err
		}
		keys[name] = k
	}
	op, dso := keys["operator"], keys["dso"]
	live := &Live{Client: cl, Operator: op, DSO: dso, Sites: sites, Keys: map[string]chain.Key{},
		Log: log, LeadIntervals: lead, FundsNano: 50 * units.NanoPerUnit}
	rd := chain.Reader{Q: cl}
	var err error
	if live.Params, err = rd.Params(ctx); err != nil {
		return nil, nil, err
	}
	params := live.Params
	listings, err := rd.Listings(ctx, 0)
	if err != nil {
		return nil, nil, err
	}
	metering := &Metering{Community: cl.ChainID, Broker: broker, GatewayKey: keys["gateway"], Clock: clock,
		IntervalS: params.IntervalS, Log: log}
	if len(listings) > 0 {
		metering.From = listings[0].Start
	}
	meterOf := map[string]*SiteMeter{}
	for _, s := range live.Sites {
		k, err := loadOrMakeKey(home, s.ID, contract.RoleMember)
		if err != nil {
			return nil, nil, err
		}
		live.Keys[s.ID] = k
		sm := &SiteMeter{Site: s, ID: s.ID + "-plug", Plug: true}
		if s.Type != community.TypePublicLighting && s.Type != community.TypeEVCharging {
			mk, err := loadOrMakeKey(home, s.ID+"-meter", "")
			if err != nil {
				return nil, nil, err
			}
			sm = &SiteMeter{Site: s, ID: s.ID + "-meter", Key: mk}
		}
		metering.Meters = append(metering.Meters, sm)
		meterOf[s.ID] = sm
		if s.Battery != nil {
			bk, err := loadOrMakeKey(home, s.BatteryMeterID(), "")
			if err != nil {
				return nil, nil, err
			}
			metering.Meters = append(metering.Meters, NewBatteryMeter(sm, NewBattery(*s.Battery), s.BatteryMeterID(), bk))
		}
	}
	if err := live.Register(ctx); err != nil {
		return nil, nil, err
	}
	for _, s := range live.Sites {
		// Refit daily: a live EMS forecasts each day afresh.
		a := &agent.Agent{Home: s.Home(), Key: live.Keys[s.ID], Ledger: cl, Log: log, LeadIntervals: lead,
			Forecast: s.Forecaster(int(params.TariffUTCOffsetS/3600), 1)}
		live.Agents = append(live.Agents, a)
		sm := meterOf[s.ID]
		sm.ApplianceWh = func(start int64) int64 { return a.ApplianceWh(start, params) }
		if sm.Battery != nil {
			sm.BatteryWh = func(start int64) (int64, int64) { return a.BatteryWh(start, params) }
			a.BatterySoCWh = sm.BatterySoCWh
		}
	}
	if err := fundDSO(ctx, cl, op, dso); err != nil {
		return nil, nil, err
	}
	live.DSOAgent = &agent.DSO{Key: dso, Ledger: cl, Log: log, LimitPct: 150, IncentivePerKWh: 100_000,
		DecideBeforeS: 10 * 3600, UTCOffsetS: params.TariffUTCOffsetS}
	if err := metering.Register(ctx, cl, op, "gateway"); err != nil {
		return nil, nil, err
	}
	return live, metering, nil
}

func loadOrMakeKey(home, name string, role contract.Role) (chain.Key, error) {
	k, err := chain.LoadKey(home, name)
	if err == nil {
		return k, nil
	}
	k = chain.NewKey(name, role)
	return k, chain.SaveKey(home, name, k)
}

// fundDSO gives the DSO money for demand-response incentives once.
func fundDSO(ctx context.Context, cl *chain.Client, op, dso chain.Key) error {
	p, err := chain.Reader{Q: cl}.Participant(ctx, dso.ID)
	if err != nil {
		return err
	}
	if p.Balance+p.Escrow > 0 {
		return nil
	}
	_, err = cl.Submit(ctx, op, "", &contract.MsgIssue{To: dso.ID, Amount: 1000 * units.NanoPerUnit})
	return err
}

// Uses is what each site used and made in the interval starting at
// start: the same model its meter reports from.
func (l *Live) Uses(start int64) []kpi.Use {
	uses := make([]kpi.Use, len(l.Sites))
	for i, s := range l.Sites {
		uses[i] = s.Use(l.Agents[i], start, l.Params)
	}
	return uses
}

// PlanSite is the site a member's EMS planned for the hour holding t.
func (l *Live) PlanSite(member string, t int64) (plan.Site, bool) {
	for i, s := range l.Sites {
		if s.ID == member {
			d, _, ok := l.Agents[i].PlanAt(t, l.Params)
			return d.Site, ok
		}
	}
	return plan.Site{}, false
}

// Register puts the sites on the ledger: participants (operator), their
// assets (owner) approved by the DSO, and money to bid with. Sites already
// registered are left as they are.
func (l *Live) Register(ctx context.Context) error {
	for _, s := range l.Sites {
		k := l.Keys[s.ID]
		_, err := chain.Reader{Q: l.Client}.Participant(ctx, s.ID)
		var te *chain.TxError
		if err == nil {
			continue
		} else if !errors.As(err, &te) || te.Code != contract.CodeUnknownParticipant {
			return err
		}
		steps := onboard.Steps(l.Operator, l.DSO, member(s, k, l.FundsNano)).All()
		if err := onboard.Send(ctx, steps, func(ctx context.Context, k chain.Key, msg contract.Msg) error {
			_, err := l.Client.Submit(ctx, k, "", msg)
			return err
		}); err != nil {
			return fmt.Errorf("register %s: %w", s.ID, err)
		}
		l.Log.Info("member registered", "id", s.ID, "type", s.Type, "res", s.RESID(), "capacity_w", s.CapacityW())
	}
	return nil
}

// Run places each site's order in every listing as its gate closure
// approaches and reports each clearing, until ctx ends.
func (l *Live) Run(ctx context.Context) error {
	l.bid, l.reported, l.settled = map[int64]bool{}, map[int64]bool{}, map[int64]bool{}
	params, err := chain.Reader{Q: l.Client}.Params(ctx)
	if err != nil {
		return err
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := l.step(ctx, params); err != nil && ctx.Err() == nil {
			l.Log.Warn("simulation step", "err", err)
		}
	}
}

func (l *Live) step(ctx context.Context, p contract.Params) error {
	rd := chain.Reader{Q: l.Client}
	info, err := rd.Info(ctx)
	if err != nil {
		return err
	}
	ls, err := rd.Listings(ctx, info.MarketTime-24*p.IntervalS)
	if err != nil {
		return err
	}
	var owners map[string]string
	owner := func(meter string) string {
		if owners == nil {
			ms, _ := rd.Meters(ctx)
			owners = map[string]string{}
			for _, m := range ms {
				owners[m.ID] = m.Owner
			}
		}
		return owners[meter]
	}
	for _, lv := range ls {
		if lv.State == contract.StateSettled && !l.settled[lv.Start] {
			l.settled[lv.Start] = true
			report := l.OnSettlement != nil && l.bid[lv.Start]
			var st contract.Settlement
			if (report || len(l.Agents) > 0) && l.Client.QueryAs(ctx, l.Operator, fmt.Sprintf("/settlement/%d", lv.Start), &st) == nil {
				if report {
					l.OnSettlement(st)
				}
				l.metered = append(l.metered, agent.MeteredOf(st, owner))
			}
		}
		switch {
		case lv.State != contract.StateAuthorizeOffers && lv.Clearing != nil && !l.reported[lv.Start]:
			l.reported[lv.Start] = true
			if l.OnClearing != nil && l.bid[lv.Start] {
				l.OnClearing(lv)
			}
		case lv.State == contract.StateAuthorizeOffers && !l.bid[lv.Start] &&
			lv.GateClosure-info.MarketTime <= l.LeadIntervals*(lv.End-lv.Start):
			l.bid[lv.Start] = true
		}
	}
	kept := l.metered[:0]
	for _, m := range l.metered {
		if m.Start >= info.MarketTime-86400 {
			kept = append(kept, m)
		}
	}
	l.metered = kept
	snap := agent.Snapshot{MarketTime: info.MarketTime, Params: p, Listings: ls, Metered: slices.Clone(l.metered)}
	if snap.DR, err = rd.DRs(ctx); err != nil {
		return err
	}
	var errs []error
	for _, a := range l.Agents {
		errs = append(errs, a.Step(ctx, snap))
	}
	if l.DSOAgent != nil {
		errs = append(errs, l.DSOAgent.Step(ctx, snap))
	}
	return errors.Join(errs...)
}

// member is how a site joins: with its asset, if it has one.
func member(s Site, k chain.Key, fundsNano int64) onboard.Member {
	m := onboard.Member{Key: k, NodeType: s.NodeType(), Feeder: s.Feeder, FundsNano: fundsNano}
	if res := s.RESID(); res != "" {
		m.RES = &contract.MsgRegisterRES{ID: res, Kind: s.RESKind(), CapacityW: s.CapacityW()}
	}
	if b := s.Battery; b != nil {
		m.Battery = &contract.MsgRegisterBattery{ID: s.BatteryID(), CapacityWh: b.CapacityWh, MaxChargeW: b.MaxChargeW, MaxDischargeW: b.MaxDischargeW}
	}
	return m
}

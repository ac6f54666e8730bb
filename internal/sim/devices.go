package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/meter"
	"github.com/gridledger/gridledger/internal/reading"
	"github.com/gridledger/gridledger/internal/units"
)

// SiteMeter is a simulated site's smart meter on the MQTT broker: either a
// meter that signs its own readings, or a cheap Tasmota plug the gateway
// reads and signs for.
type SiteMeter struct {
	Site Site
	ID   string
	Key  chain.Key // the meter's device key; unused for a plug
	Plug bool      // a Tasmota plug read by the gateway
	// ApplianceWh, Battery, BatteryWh: see Meter.
	ApplianceWh func(start int64) int64
	Battery     *Battery
	BatteryWh   func(start int64) (planWh, planNetWh int64)
	// BatteryOf, if set, makes this the sub-meter of that site meter's
	// battery (a device signing its own readings): it reports what the
	// battery charged as import and discharged as export.
	BatteryOf *SiteMeter
	device    *meter.Device
	regs      *Meter
	soc       atomic.Int64
}

// NewBatteryMeter gives the site meter sm the battery b and returns the
// battery's sub-meter id, signing with key.
func NewBatteryMeter(sm *SiteMeter, b *Battery, id string, key chain.Key) *SiteMeter {
	sm.Battery = b
	sm.soc.Store(b.SoCWh)
	return &SiteMeter{Site: sm.Site, ID: id, Key: key, BatteryOf: sm}
}

// BatterySoCWh is the state of charge of the site's battery at the start
// of the latest interval metered (its initial one before): what its EMS
// reads. Safe to call while the meters run.
func (sm *SiteMeter) BatterySoCWh() int64 { return sm.soc.Load() }

// Metering publishes every site's meter registers over MQTT at each
// quarter of an interval of market time, as real meters report.
type Metering struct {
	Meters    []*SiteMeter
	Community string
	Broker    string // tcp://host:port
	// GatewayKey derives the plugs' MQTT passwords (the gateway signs for them).
	GatewayKey chain.Key
	Clock      interface{ Now() int64 }
	IntervalS  int64
	// From is when the meters start reporting (market time): the start of
	// the first listing, so that every Wh they report belongs to an
	// interval with a market (energy metered before the first listing
	// would otherwise count in the first settled interval).
	From int64
	Log  *slog.Logger
}

// Register puts each site meter on the ledger (operator), read by the
// gateway for plugs; meters already registered are left alone.
func (m *Metering) Register(ctx context.Context, cl *chain.Client, operator chain.Key, gateway string) error {
	have, err := chain.Reader{Q: cl}.Meters(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, mt := range have {
		known[mt.ID] = true
	}
	for _, sm := range m.Meters {
		if known[sm.ID] {
			continue
		}
		msg := &contract.MsgRegisterMeter{ID: sm.ID, Owner: sm.Site.ID, RES: sm.Site.RESID()}
		if sm.BatteryOf != nil {
			msg.RES, msg.Battery = "", sm.Site.BatteryID()
		}
		if sm.Plug {
			msg.Gateway = gateway
		} else {
			msg.PubKey = sm.Key.PubKey()
		}
		if _, err := cl.Submit(ctx, operator, "", msg); err != nil {
			return fmt.Errorf("register meter %s: %w", sm.ID, err)
		}
	}
	return nil
}

// Run connects every meter and publishes until ctx ends.
func (m *Metering) Run(ctx context.Context) error {
	for _, sm := range m.Meters {
		sm.regs = &Meter{Site: sm.Site, IntervalS: m.IntervalS, ApplianceWh: sm.ApplianceWh,
			Battery: sm.Battery, BatteryWh: sm.BatteryWh, soc: &sm.soc}
		sm.device = &meter.Device{ID: sm.ID, Key: sm.Key.PrivKey, Community: m.Community, Broker: m.Broker, QoS: 1}
		if sm.Plug {
			sm.device.Password = meter.Password(m.GatewayKey.PrivKey, m.Community, sm.ID)
		}
		if err := sm.device.Connect(ctx); err != nil {
			return fmt.Errorf("meter %s: %w", sm.ID, err)
		}
		defer sm.device.Close()
	}
	step := m.IntervalS / 4
	last := max(m.Clock.Now()/step*step, m.From-step)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		for b := last + step; b <= m.Clock.Now(); b += step {
			for _, sm := range m.Meters {
				if err := sm.publish(ctx, b); err != nil && ctx.Err() == nil {
					m.Log.Warn("meter publish", "meter", sm.ID, "err", err)
				}
			}
			last = b
		}
	}
}

// publish sends the registers at market time t: a signed reading, or for a
// plug the JSON a Tasmota device puts on tele/<topic>/SENSOR (kWh totals).
func (sm *SiteMeter) publish(ctx context.Context, t int64) error {
	if b := sm.BatteryOf; b != nil {
		r := b.regs.BatteryAt(t)
		r.Seq = uint64(t)
		return sm.device.PublishReading(ctx, reading.Reading{Registers: r})
	}
	r := sm.regs.At(t)
	if !sm.Plug {
		r.Seq = uint64(t)
		return sm.device.PublishReading(ctx, reading.Reading{Registers: r})
	}
	payload, _ := json.Marshal(map[string]any{
		"Time": time.Unix(t, 0).UTC().Format("2006-01-02T15:04:05"),
		"ENERGY": map[string]json.Number{
			"Total":        json.Number(units.KWh(r.ImportWh)),
			"ExportActive": json.Number(units.KWh(r.ExportWh)),
		},
	})
	return sm.device.Publish(ctx, "tele/"+sm.ID+"/SENSOR", payload)
}

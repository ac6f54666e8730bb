// Package bridge publishes a member's market to Home Assistant over MQTT:
// the discovery configs and states internal/homeassistant builds, on the
// member's own broker or the community's, refreshed whenever the ledger
// has a new block, and the switches' commands handed to the member's EMS.
// It reads the ledger as the member (its key signs the private queries:
// statement, plans, its meters' registers), so it publishes nothing the
// member could not read itself, and only on the member's own topics.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/homeassistant"
)

// EMS is what the switches control: the member's EMS agent (agent.Agent).
type EMS interface {
	SetAppliance(name string, on bool) error
	Appliances() map[string]bool
}

// Config configures a bridge.
type Config struct {
	// Key is the member's key: the member is Key.ID, and it signs the
	// ledger reads.
	Key    chain.Key
	Ledger chain.Querier
	// Broker is tcp://host:port (or ssl://…); Username and Password log
	// in (on the community broker: meter.MemberUser and meter.Password).
	Broker, Username, Password string
	// Currency is the ISO 4217 code of the community's money (default EUR).
	Currency string
	// EMS, if set, gets a switch per appliance; nil: sensors only.
	EMS EMS
	// Every is how often the ledger is asked for a new block (default 1 s).
	Every time.Duration
	Log   *slog.Logger
}

// timeout bounds each MQTT operation.
const timeout = 10 * time.Second

// Run publishes until ctx ends, then marks the member offline. It returns
// an error only if it cannot start (ledger or broker unreachable, a bad
// member).
func Run(ctx context.Context, cfg Config) error {
	if cfg.Every == 0 {
		cfg.Every = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	rd := chain.Reader{Q: cfg.Ledger, As: &cfg.Key}
	info, err := rd.Info(ctx)
	if err != nil {
		return fmt.Errorf("bridge: ledger: %w", err)
	}
	m := homeassistant.Member{Community: info.ChainID, Member: cfg.Key.ID, Currency: cfg.Currency}
	if cfg.EMS != nil {
		m.Appliances = slices.Sorted(maps.Keys(cfg.EMS.Appliances()))
	}
	discovery, err := homeassistant.Discovery(m)
	if err != nil {
		return err
	}
	b := &bridge{cfg: cfg, m: m, rd: rd, discovery: discovery, kick: make(chan struct{}, 1), connected: make(chan struct{}, 1)}
	opts := mqtt.NewClientOptions().AddBroker(cfg.Broker).SetClientID("gridledger-ha-"+m.Member).
		SetUsername(cfg.Username).SetPassword(cfg.Password).SetCleanSession(true).
		SetAutoReconnect(true).SetMaxReconnectInterval(10*time.Second).
		SetWill(m.AvailabilityTopic(), homeassistant.Offline, 1, true).
		SetOnConnectHandler(func(mqtt.Client) {
			select {
			case b.connected <- struct{}{}:
			default:
			}
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { cfg.Log.Warn("home assistant broker lost", "err", err) })
	b.client = mqtt.NewClient(opts)
	t := b.client.Connect()
	select {
	case <-t.Done():
		if err := t.Error(); err != nil {
			return fmt.Errorf("bridge: connect to %s: %w", cfg.Broker, err)
		}
	case <-ctx.Done():
		b.client.Disconnect(0)
		return ctx.Err()
	}
	defer func() {
		b.publish(homeassistant.Message{Topic: m.AvailabilityTopic(), Payload: []byte(homeassistant.Offline), Retain: true})
		b.client.Disconnect(250)
	}()
	b.loop(ctx)
	return nil
}

type bridge struct {
	cfg       Config
	m         homeassistant.Member
	rd        chain.Reader
	discovery []homeassistant.Message
	client    mqtt.Client
	kick      chan struct{} // a command changed a switch: publish now
	connected chan struct{} // (re)connected: announce everything again
	// last is what each state topic was last published with; states are
	// published only when they change, or all again after a reconnection.
	last   map[string]string
	height int64
}

// loop announces the entities on every (re)connection and publishes the
// states whenever the ledger has a new block or a switch changed.
func (b *bridge) loop(ctx context.Context) {
	tick := time.NewTicker(b.cfg.Every)
	defer tick.Stop()
	for {
		force := false
		select {
		case <-ctx.Done():
			return
		case <-b.connected:
			if err := b.announce(); err != nil {
				b.cfg.Log.Warn("home assistant discovery", "err", err)
				continue
			}
			b.last, force = map[string]string{}, true
		case <-b.kick:
			force = true
		case <-tick.C:
		}
		if err := b.refresh(ctx, force); err != nil && ctx.Err() == nil {
			b.cfg.Log.Warn("home assistant states", "err", err)
		}
	}
}

// announce publishes the discovery configs, subscribes to the commands
// and says the member is online.
func (b *bridge) announce() error {
	var errs []error
	for _, msg := range b.discovery {
		errs = append(errs, b.publish(msg))
	}
	if b.cfg.EMS != nil {
		t := b.client.Subscribe(b.m.CommandFilter(), 1, b.command)
		if !t.WaitTimeout(timeout) {
			errs = append(errs, errors.New("subscribe: no answer"))
		} else if err := t.Error(); err != nil {
			errs = append(errs, fmt.Errorf("subscribe %s: %w", b.m.CommandFilter(), err))
		}
	}
	errs = append(errs, b.publish(homeassistant.Message{Topic: b.m.AvailabilityTopic(), Payload: []byte(homeassistant.Online), Retain: true}))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	b.cfg.Log.Info("home assistant entities announced", "member", b.m.Member, "entities", len(b.discovery), "broker", b.cfg.Broker)
	return nil
}

// command hands a switch's command to the EMS (paho calls it on its own
// goroutine; the EMS guards itself).
func (b *bridge) command(_ mqtt.Client, msg mqtt.Message) {
	app, on, err := homeassistant.Command(b.m, msg.Topic(), msg.Payload())
	if err == nil {
		err = b.cfg.EMS.SetAppliance(app, on)
	}
	if err != nil {
		b.cfg.Log.Warn("home assistant command refused", "topic", msg.Topic(), "err", err)
		return
	}
	b.cfg.Log.Info("home assistant: appliance in next plan", "member", b.m.Member, "appliance", app, "on", on)
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// refresh reads the ledger as the member and publishes the states that
// changed, when there is a new block (or force).
func (b *bridge) refresh(ctx context.Context, force bool) error {
	if b.last == nil {
		return nil // not announced yet
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info, err := b.rd.Info(ctx)
	if err != nil {
		return err
	}
	if info.Height == b.height && !force {
		return nil
	}
	mk, err := Read(ctx, b.rd, b.m.Member, info.MarketTime)
	if err != nil {
		return err
	}
	if b.cfg.EMS != nil {
		mk.Appliances = b.cfg.EMS.Appliances()
	}
	msgs, err := homeassistant.States(b.m, mk)
	if err != nil {
		return err
	}
	var errs []error
	for _, msg := range msgs {
		if b.last[msg.Topic] == string(msg.Payload) {
			continue
		}
		if err := b.publish(msg); err != nil {
			errs = append(errs, err)
			continue
		}
		b.last[msg.Topic] = string(msg.Payload)
	}
	if len(errs) == 0 {
		b.height = info.Height
	}
	return errors.Join(errs...)
}

func (b *bridge) publish(msg homeassistant.Message) error {
	t := b.client.Publish(msg.Topic, 1, msg.Retain, msg.Payload)
	if !t.WaitTimeout(timeout) {
		return fmt.Errorf("publish %s: no acknowledgement", msg.Topic)
	}
	return t.Error()
}

// Package node runs what one gridledger process serves around its
// validator: the embedded CometBFT node, the meters' MQTT broker and the
// gateway that brings their readings onto the ledger, the REST API and
// dashboard, and the erasure of departed members' contacts. `gridledger
// start`, `run` and `gateway` are thin commands over it.
package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/cometbft/cometbft/rpc/client/local"

	"github.com/gridledger/gridledger/internal/api"
	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contacts"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/meter"
	"github.com/gridledger/gridledger/internal/rpcguard"
	"github.com/gridledger/gridledger/web"
)

// Services are what `start` and `run` run in one process: the validator,
// and around it the meters' MQTT broker and the gateway that brings their
// readings onto the ledger (DESIGN.md's data flow, top half). `gateway`
// runs the meters' part alone, beside a remote node.
type Services struct {
	Node     *chain.Node // nil for a gateway alone
	Client   *chain.Client
	Registry *meter.Registry
	Clock    *meter.LedgerClock
	Broker   *meter.Broker // nil with an external broker
	Gateway  *meter.Gateway
	MQTT     string // where devices connect: tcp://host:port
	apiAddr  string // where the API listens ("off": nowhere)
	home     string
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Start starts the node of a home, then the broker and gateway its
// gridledger.toml describes; a non-empty mqttURL overrides it with an
// external broker, a non-empty apiAddr the API's address (StartAPI).
func Start(ctx context.Context, home, mqttURL, apiAddr string, log *slog.Logger) (*Services, error) {
	_, ac, err := chain.LoadConfig(home)
	if err != nil {
		return nil, err
	}
	if mqttURL != "" {
		ac.MQTT.URL = mqttURL
	}
	if apiAddr != "" {
		ac.API.Addr = apiAddr
	}
	// The node serves its RPC through the guard: the public may query,
	// broadcast and check status; blocks, transactions and events only to
	// the consortium's signed requests (internal/rpcguard).
	n, err := chain.StartNodeWith(ctx, home, log, chain.StartOptions{GuardRPC: rpcguard.ForNode(log.With("module", "rpcguard"))})
	if err != nil {
		return nil, err
	}
	s := &Services{Node: n, apiAddr: ac.API.Addr, home: home}
	s.ctx, s.cancel = context.WithCancel(ctx)
	ctx = s.ctx
	// A member's e-mail leaves this home with the member (docs/privacy.md).
	store := contacts.Store{Dir: contacts.Dir(home)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		chain.FollowDepartures(ctx, n, func(member string, _ []string) {
			if err := store.Delete(member); err != nil {
				log.Error("contact of a departed member not erased", "member", member, "err", err)
				return
			}
			log.Info("member left: its contact is erased", "member", member)
		})
	}()
	if err := s.startMeters(ctx, home, n.RPCAddr(), ac, log); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// StartGateway starts the meters' part alone: the broker (or a
// connection to an external one) and the gateway of ac, feeding the node
// at rpcAddr. Without a broker in ac it runs no gateway (Gateway is nil).
func StartGateway(ctx context.Context, home, rpcAddr string, ac chain.AppConfig, log *slog.Logger) (*Services, error) {
	s := &Services{home: home}
	s.ctx, s.cancel = context.WithCancel(ctx)
	if err := s.startMeters(s.ctx, home, rpcAddr, ac, log); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// startMeters starts the broker (or connects to an external one) and the
// gateway of a home's gridledger.toml, feeding the node at rpcAddr.
func (s *Services) startMeters(ctx context.Context, home, rpcAddr string, ac chain.AppConfig, log *slog.Logger) error {
	cl, err := chain.Dial(rpcAddr)
	if err != nil {
		return err
	}
	s.Client = cl
	if ac.MQTT.Addr == "" && ac.MQTT.URL == "" {
		log.Info("no meters on this node: gridledger.toml [mqtt] names no broker")
		return nil
	}
	community := cl.ChainID
	signer, err := chain.LoadKey(home, ac.Gateway.Signer)
	if err != nil {
		return fmt.Errorf("gateway signer: %w", err)
	}
	device, err := chain.LoadKey(home, ac.Gateway.DeviceKey)
	if err != nil {
		return fmt.Errorf("gateway device key: %w", err)
	}
	// A validator of a network starts catching up with its peers, and
	// takes no transactions until it has: register the gateway once it
	// can, while the rest starts.
	if st, err := cl.RPC.Status(ctx); err == nil && st.SyncInfo.CatchingUp {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for ctx.Err() == nil {
				err := ensureGateway(ctx, cl, ac.Gateway.ID, signer, device, log)
				if err == nil {
					return
				}
				log.Debug("gateway not registered yet", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Second):
				}
			}
		}()
	} else if err := ensureGateway(ctx, cl, ac.Gateway.ID, signer, device, log); err != nil {
		return err
	}
	params, err := chain.Reader{Q: cl}.Params(ctx)
	if err != nil {
		return err
	}

	s.Registry = meter.NewRegistry()
	s.Registry.Reader = &signer // the meters' last registers are not public
	if err := s.Registry.Refresh(ctx, cl); err != nil {
		return err
	}
	s.Clock = &meter.LedgerClock{Client: cl}
	if err := s.Clock.Sync(ctx); err != nil {
		return err
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.Registry.Run(ctx, cl, 2*time.Second, log) }()
	go func() { defer s.wg.Done(); s.Clock.Run(ctx, 200*time.Millisecond, log) }()

	gc := meter.GatewayConfig{Community: community, DeviceID: ac.Gateway.ID, DeviceKey: device.PrivKey,
		StoreDir: ac.Gateway.Store, Clock: s.Clock,
		// Readings dated at an interval's end get a twelfth of an
		// interval to arrive before the batch goes to the ledger.
		GraceS: params.IntervalS / 12}
	if !filepath.IsAbs(gc.StoreDir) {
		gc.StoreDir = filepath.Join(home, gc.StoreDir)
	}
	switch {
	case ac.MQTT.URL != "":
		gc.MQTTURL, gc.MQTTUser, gc.MQTTPassword = ac.MQTT.URL, ac.MQTT.User, ac.MQTT.Password
		s.MQTT = ac.MQTT.URL
	default:
		s.Broker, err = meter.NewBroker(meter.BrokerConfig{Addr: ac.MQTT.Addr, Community: community,
			TLSCert: ac.MQTT.TLSCert, TLSKey: ac.MQTT.TLSKey}, s.Registry, log.With("module", "broker"))
		if err != nil {
			return fmt.Errorf("MQTT broker on %s: %w", ac.MQTT.Addr, err)
		}
		if err := s.Broker.Start(); err != nil {
			return err
		}
		gc.Broker = s.Broker
		s.MQTT = "tcp://" + s.Broker.Addr()
	}
	s.Gateway = meter.NewGateway(gc, s.Registry, meter.ChainSubmitter{Client: cl, Key: signer, Log: log.With("module", "gateway")}, log)
	if err := s.Gateway.Start(ctx); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	log.Info("meters", "mqtt", s.MQTT, "gateway", ac.Gateway.ID, "store", gc.StoreDir)
	return nil
}

// StartAPI serves the REST API, live stream and dashboard until the
// services close, and returns the dashboard's URL ("" when the API is
// off). cfg's node, chain and dashboard are filled in here.
func (s *Services) StartAPI(cfg api.Config, log *slog.Logger) (string, error) {
	if s.apiAddr == "off" || s.apiAddr == "" {
		return "", nil
	}
	l, err := net.Listen("tcp", s.apiAddr)
	if err != nil {
		return "", fmt.Errorf("API on %s: %w (set [api] addr in gridledger.toml or --api-addr)", s.apiAddr, err)
	}
	cfg.Node, cfg.ChainID, cfg.Dashboard, cfg.App = local.New(s.Node.Node), s.Node.GenesisDoc().ChainID, web.Dist(), s.Node.App
	cfg.Log = log.With("module", "api")
	if cfg.Contacts == nil {
		cfg.Contacts = &contacts.Store{Dir: contacts.Dir(s.home)}
	}
	srv := api.New(cfg)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(s.ctx, l); err != nil {
			log.Error("API stopped", "err", err)
		}
	}()
	url := "http://" + l.Addr().String() + "/"
	log.Info("API and dashboard", "url", url, "openapi", url+"api/openapi.json")
	return url, nil
}

// ensureGateway registers the community gateway's device key on first
// start, when this home holds the operator's key.
func ensureGateway(ctx context.Context, cl *chain.Client, id string, signer, device chain.Key, log *slog.Logger) error {
	gws, err := chain.Reader{Q: cl}.Gateways(ctx)
	if err != nil {
		return err
	}
	for _, g := range gws {
		if g.ID == id {
			if string(g.PubKey) != string(device.PubKey()) {
				return fmt.Errorf("gateway %q is registered with another key than this home's", id)
			}
			return nil
		}
	}
	if signer.Role != contract.RoleOperator {
		log.Warn("gateway not registered on the ledger; ask the operator to register it", "id", id)
		return nil
	}
	_, err = cl.Submit(ctx, signer, "", &contract.MsgRegisterGateway{ID: id, Owner: signer.ID, PubKey: device.PubKey()})
	if err == nil {
		log.Info("gateway registered", "id", id)
	}
	return err
}

// Close stops everything, the gateway first so its last batch can go out.
func (s *Services) Close() error {
	if s.Gateway != nil {
		s.Gateway.Close()
	}
	if s.Broker != nil {
		s.Broker.Close()
	}
	s.cancel()
	s.wg.Wait()
	if s.Node == nil {
		return nil
	}
	return s.Node.Stop()
}

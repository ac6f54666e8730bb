package meter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/gridledger/gridledger/internal/homeassistant"
)

// BrokerConfig configures the embedded MQTT broker.
type BrokerConfig struct {
	// Addr is the TCP listen address; default 127.0.0.1:1883. Port 0
	// picks a free port (Addr reports it).
	Addr string
	// Community is the chain id: it is in every topic and password.
	Community string
	// TLSCert and TLSKey are PEM files; with both set the listener speaks
	// MQTT over TLS only.
	TLSCert, TLSKey string
}

// Broker is the embedded MQTT broker (mochi-mqtt) with gridledger's
// policy: devices log in with credentials derived from their registered
// keys and may touch only their own topics.
type Broker struct {
	srv       *mqtt.Server
	tcp       *listeners.TCP
	hook      *policyHook
	community string
	closeOnce sync.Once
}

// Refusal reasons, as counted by Broker.Refused.
const (
	refuseUnknown      = "unknown_client"
	refuseBadPassword  = "bad_password"
	refuseSuspended    = "suspended"
	refuseACLPublish   = "acl_publish"
	refuseACLSubscribe = "acl_subscribe"
)

// maxPacketBytes bounds what a client may send in one packet: a DSMR
// telegram is about 1 KiB, a signed reading at most 2 KiB.
const maxPacketBytes = 64 << 10

// NewBroker creates the broker and binds its listener (so Addr is known
// at once); Start begins serving.
func NewBroker(cfg BrokerConfig, reg *Registry, log *slog.Logger) (*Broker, error) {
	if cfg.Community == "" {
		return nil, errors.New("meter: broker needs the community (chain id)")
	}
	if reg == nil {
		return nil, errors.New("meter: broker needs a registry")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:1883"
	}
	log = log.With("module", "mqtt")
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = maxPacketBytes
	// A device that vanishes without a clean session is forgotten after a
	// day instead of never.
	caps.MaximumSessionExpiryInterval = 24 * 3600
	srv := mqtt.New(&mqtt.Options{
		InlineClient: true,
		Capabilities: caps,
		// mochi logs every refused or dropped client at warn; our hook
		// logs the refusals that matter, so mochi's chatter goes to debug.
		Logger: slog.New(demote{log.Handler()}),
	})
	hook := &policyHook{community: cfg.Community, reg: reg, srv: srv, log: log, refused: map[string]int64{}}
	if err := srv.AddHook(hook, nil); err != nil {
		return nil, err
	}
	var tc *tls.Config
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("meter: broker TLS: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	tcp := listeners.NewTCP(listeners.Config{Type: listeners.TypeTCP, ID: "tcp", Address: cfg.Addr, TLSConfig: tc})
	if err := srv.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("meter: broker listen on %s: %w", cfg.Addr, err)
	}
	return &Broker{srv: srv, tcp: tcp, hook: hook, community: cfg.Community}, nil
}

// Addr is the address the broker listens on (host:port).
func (b *Broker) Addr() string { return b.tcp.Address() }

// Start serves clients; it returns at once.
func (b *Broker) Start() error { return b.srv.Serve() }

// Close disconnects every client and stops the broker; it returns once
// every client goroutine has ended.
func (b *Broker) Close() error {
	var err error
	b.closeOnce.Do(func() { err = b.srv.Close() })
	return err
}

// Refused counts refused connections and ACL denials by reason:
// unknown_client, bad_password, suspended, acl_publish, acl_subscribe.
func (b *Broker) Refused() map[string]int64 {
	b.hook.mu.Lock()
	defer b.hook.mu.Unlock()
	return maps.Clone(b.hook.refused)
}

// subscribe and publish go through mochi's inline client, which skips
// authentication and ACL: the gateway is part of the broker's process.
func (b *Broker) subscribe(filter string, id int, fn func(topic string, payload []byte)) error {
	return b.srv.Subscribe(filter, id, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		fn(pk.TopicName, pk.Payload)
	})
}

func (b *Broker) unsubscribe(filter string, id int) error { return b.srv.Unsubscribe(filter, id) }

func (b *Broker) publish(topic string, payload []byte) error {
	return b.srv.Publish(topic, payload, false, 1)
}

// policyHook is all of the broker's policy: who may connect, and who may
// publish and subscribe where.
type policyHook struct {
	mqtt.HookBase
	community string
	reg       *Registry
	srv       *mqtt.Server
	log       *slog.Logger

	mu      sync.Mutex
	refused map[string]int64
}

// ID names the hook.
func (h *policyHook) ID() string { return "gridledger-policy" }

// Provides lists the hook methods mochi should call.
func (h *policyHook) Provides(b byte) bool {
	return b == mqtt.OnConnect || b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *policyHook) refuse(reason string, cl *mqtt.Client, attrs ...any) {
	h.refuseAt(slog.LevelWarn, reason, cl, attrs...)
}

func (h *policyHook) refuseAt(level slog.Level, reason string, cl *mqtt.Client, attrs ...any) {
	h.mu.Lock()
	h.refused[reason]++
	n := h.refused[reason]
	h.mu.Unlock()
	attrs = append(attrs, "reason", reason, "user", string(cl.Properties.Username), "client", cl.ID, "remote", cl.Net.Remote, "count", n)
	h.log.Log(context.Background(), level, "mqtt refused", attrs...)
}

// admit decides whether a client may connect: a registered device (or
// gateway) presenting the password derived from its registered key (or
// its gateway's), whose owner is not suspended. It returns the refusal
// reason, "" to admit.
func (h *policyHook) admit(pk packets.Packet) (reason, owner string) {
	user := string(pk.Connect.Username)
	s := h.reg.view()
	pub, owner, ok := s.credential(user)
	switch {
	case !ok:
		return refuseUnknown, ""
	case !VerifyPassword(pub, h.community, user, string(pk.Connect.Password)):
		return refuseBadPassword, owner
	case s.suspended[owner]:
		return refuseSuspended, owner
	}
	return "", owner
}

// OnConnect refuses a client admit refuses, with a CONNACK that says why:
// "bad user name or password" for unknown ids and wrong passwords, "not
// authorized" for a suspended owner's device. (Refusing in
// OnConnectAuthenticate would answer "not authorized" to an MQTT 3 client
// in every case: mochi maps its v5 code 0x86 to the v3 code 0x05.)
func (h *policyHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	reason, owner := h.admit(pk)
	if reason == "" {
		// Client ids are the device's to choose (Tasmota's default is
		// DVES_xxxxxx); scope them by the authenticated user so that no
		// device can take over another's session by reusing its id.
		cl.ID = string(pk.Connect.Username) + "|" + cl.ID
		return nil
	}
	h.refuse(reason, cl, "owner", owner)
	v5 := cl.Properties.ProtocolVersion == 5
	var code packets.Code
	switch {
	case reason == refuseSuspended && v5:
		code = packets.ErrNotAuthorized // 0x87
	case reason == refuseSuspended:
		code = packets.ErrBadUsernameOrPassword // mochi sends v3 0x05, not authorized
	case v5:
		code = packets.ErrBadUsernameOrPassword // 0x86
	default:
		code = packets.ErrMalformedPassword // mochi sends v3 0x04, bad user name or password
	}
	if err := h.srv.SendConnack(cl, code, false, nil); err != nil {
		return err
	}
	return code
}

// OnConnectAuthenticate admits what OnConnect admitted (it runs after it):
// mochi refuses every client no hook authenticates.
func (h *policyHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	reason, _ := h.admit(pk)
	return reason == ""
}

// OnACLCheck lets a device publish its own readings and native topics and
// subscribe to its own command topics; a gateway also publishes and
// subscribes for the meters it reads, and commands them. mochi also calls
// it (write false) before delivering each message to a subscriber.
func (h *policyHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	s := h.reg.view()
	if member, ok := memberOfUser(user); ok {
		return h.memberACL(cl, s, member, topic, write)
	}
	kind, id := parseTopic(h.community, topic)
	_, owner, known := s.credential(user)
	ok := known && !s.suspended[owner] && kind != topicNone && s.speaksFor(user, id)
	if ok {
		isCmd := kind == topicCommand
		if write {
			// Devices publish data; only a gateway commands (its meters).
			ok = !isCmd || id != user
		} else {
			// Devices hear their own commands; a gateway hears its meters.
			ok = isCmd == (id == user)
		}
	}
	if !ok {
		reason := refuseACLSubscribe
		if write {
			reason = refuseACLPublish
		}
		h.refuse(reason, cl, "topic", topic)
	}
	return ok
}

// memberACL is what a member's own client may do: read and write its
// Home Assistant topics (discovery configs, states, commands;
// homeassistant.MemberOf names whose a topic is) and nobody else's.
// HA subscribes to its discovery prefix with wildcards (homeassistant/#):
// a filter that names nobody is granted, and mochi checks every message
// again before delivering it, so only the member's own arrive. HA's birth
// message (homeassistant/status) may be published, and is delivered to
// no client. Refusing another member's topic on delivery is routine for
// such a wildcard, so it is counted but logged at debug.
func (h *policyHook) memberACL(cl *mqtt.Client, s *regSnapshot, member, topic string, write bool) bool {
	if s.suspended[member] {
		h.refuse(refuseSuspended, cl, "topic", topic)
		return false
	}
	whose, named := homeassistant.MemberOf(h.community, topic)
	prefix := homeassistant.DiscoveryPrefix + "/"
	switch {
	case named && whose == member:
		return true
	case !named && !write && strings.HasPrefix(topic, prefix) && strings.ContainsAny(topic, "+#"):
		return true
	case !named && write && topic == prefix+"status":
		return true
	}
	reason, level := refuseACLSubscribe, slog.LevelWarn
	if write {
		reason = refuseACLPublish
	} else if named {
		level = slog.LevelDebug
	}
	h.refuseAt(level, reason, cl, "topic", topic)
	return false
}

// demote hands mochi's records to the real handler one level down (info
// and warn become debug), keeping errors as they are.
type demote struct{ h slog.Handler }

func (d demote) Enabled(ctx context.Context, l slog.Level) bool { return d.h.Enabled(ctx, d.level(l)) }
func (d demote) Handle(ctx context.Context, r slog.Record) error {
	r.Level = d.level(r.Level)
	return d.h.Handle(ctx, r)
}
func (d demote) WithAttrs(a []slog.Attr) slog.Handler { return demote{d.h.WithAttrs(a)} }
func (d demote) WithGroup(n string) slog.Handler      { return demote{d.h.WithGroup(n)} }
func (demote) level(l slog.Level) slog.Level {
	if l < slog.LevelError {
		return slog.LevelDebug
	}
	return l
}

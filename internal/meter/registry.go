package meter

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

// Registry is the broker's and the gateway's view of the ledger's meters,
// gateways and suspended participants. Reads are lock-free (an immutable
// snapshot swapped on every change), because the broker consults it on
// every publish and the gateway on every reading.
type Registry struct {
	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[regSnapshot]
	// Reader, when set, signs the /meters query: the ledger shows a
	// meter's last registers (which the gateway resumes its sequence
	// from) only to the operator, the DSO, its owner and its gateway's
	// owner. Set it before the first Refresh.
	Reader *chain.Key
}

type regSnapshot struct {
	meters    map[string]contract.Meter
	gateways  map[string]contract.Gateway
	suspended map[string]bool
	// participants' keys: a member's own client (Home Assistant, its
	// adapter) logs in as MemberUser(id) with a password its key signs.
	participants map[string][]byte
	// Community parameters, 0 until a Refresh reads them.
	intervalS, skewS int64
	// fromLedger: the snapshot is the ledger's whole registry (a
	// Refresh), so a meter it lacks is no longer on the ledger.
	fromLedger bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{}
	r.snap.Store(&regSnapshot{meters: map[string]contract.Meter{}, gateways: map[string]contract.Gateway{}, suspended: map[string]bool{},
		participants: map[string][]byte{}})
	return r
}

// Refresh replaces the registry with the ledger's current meters,
// gateways, suspended participants and reading parameters.
func (r *Registry) Refresh(ctx context.Context, c *chain.Client) error {
	rd := chain.Reader{Q: c, As: r.Reader}
	meters, err := rd.Meters(ctx)
	if err != nil {
		return fmt.Errorf("registry: meters: %w", err)
	}
	gateways, err := rd.Gateways(ctx)
	if err != nil {
		return fmt.Errorf("registry: gateways: %w", err)
	}
	parts, err := rd.Participants(ctx)
	if err != nil {
		return fmt.Errorf("registry: participants: %w", err)
	}
	params, err := rd.Params(ctx)
	if err != nil {
		return fmt.Errorf("registry: params: %w", err)
	}
	s := &regSnapshot{
		meters:       make(map[string]contract.Meter, len(meters)),
		gateways:     make(map[string]contract.Gateway, len(gateways)),
		suspended:    map[string]bool{},
		participants: make(map[string][]byte, len(parts)),
		intervalS:    params.IntervalS,
		skewS:        params.ReadingSkewS,
		fromLedger:   true,
	}
	for _, m := range meters {
		s.meters[m.ID] = m
	}
	for _, g := range gateways {
		s.gateways[g.ID] = g
	}
	for _, p := range parts {
		s.participants[p.ID] = p.PubKey
		if p.Suspended {
			s.suspended[p.ID] = true
		}
	}
	r.mu.Lock()
	r.snap.Store(s)
	r.mu.Unlock()
	return nil
}

// Run refreshes the registry every interval until ctx ends, logging
// failures (the last good view stays in force meanwhile).
func (r *Registry) Run(ctx context.Context, c *chain.Client, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := r.Refresh(ctx, c); err != nil && ctx.Err() == nil {
			log.Warn("registry refresh failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// update applies f to a copy of the current snapshot.
func (r *Registry) update(f func(s *regSnapshot)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	s := &regSnapshot{
		meters:       maps.Clone(old.meters),
		gateways:     maps.Clone(old.gateways),
		suspended:    maps.Clone(old.suspended),
		participants: maps.Clone(old.participants),
		intervalS:    old.intervalS,
		skewS:        old.skewS,
	}
	f(s)
	r.snap.Store(s)
}

// SetMeter adds or replaces a meter: one that signs has pubKey and no
// gateway; one read by a gateway has gateway and no key. res names the
// RES it measures, if any. For tests and for wiring without a ledger.
func (r *Registry) SetMeter(id, owner string, pubKey []byte, gateway, res string) {
	r.update(func(s *regSnapshot) {
		s.meters[id] = contract.Meter{ID: id, Owner: owner, PubKey: pubKey, Gateway: gateway, RES: res}
	})
}

// SetGateway adds or replaces a gateway device.
func (r *Registry) SetGateway(id, owner string, pubKey []byte) {
	r.update(func(s *regSnapshot) {
		s.gateways[id] = contract.Gateway{ID: id, Owner: owner, PubKey: pubKey}
	})
}

// SetParticipant adds or replaces a participant's key, for its member
// client (MemberUser).
func (r *Registry) SetParticipant(id string, pubKey []byte) {
	r.update(func(s *regSnapshot) { s.participants[id] = pubKey })
}

// SetSuspended marks a participant suspended or reinstated.
func (r *Registry) SetSuspended(participant string, suspended bool) {
	r.update(func(s *regSnapshot) {
		if suspended {
			s.suspended[participant] = true
		} else {
			delete(s.suspended, participant)
		}
	})
}

func (r *Registry) view() *regSnapshot { return r.snap.Load() }

// credential is the key that signs device id's MQTT password and the
// owner whose suspension locks it out: a meter's own key, its gateway's
// key, or a gateway's key; for a member client (MemberUser), the
// participant's own key.
func (s *regSnapshot) credential(id string) (pub []byte, owner string, ok bool) {
	if member, ok := memberOfUser(id); ok {
		pub, ok := s.participants[member]
		return pub, member, ok
	}
	if m, ok := s.meters[id]; ok {
		if m.Gateway == "" {
			return m.PubKey, m.Owner, true
		}
		g, ok := s.gateways[m.Gateway]
		return g.PubKey, m.Owner, ok
	}
	if g, ok := s.gateways[id]; ok {
		return g.PubKey, g.Owner, true
	}
	return nil, "", false
}

// speaksFor reports whether the client logged in as user may act for
// device id: itself, or a meter it reads when user is a gateway.
func (s *regSnapshot) speaksFor(user, id string) bool {
	if user == id {
		return true
	}
	m, ok := s.meters[id]
	return ok && m.Gateway != "" && m.Gateway == user
}

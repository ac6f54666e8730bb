// Package sigs verifies Ed25519 signatures as CometBFT does (ZIP-215
// rules, curve25519-voi), but so that no signature costs more than it must:
//
//   - every public key's expanded form (the decompressed point a
//     verification starts from) is kept for the life of the process, where
//     CometBFT keeps 4,096 in an LRU: a community of 10,000 sites has
//     20,000 keys (a member's and its meter's), and past 4,096 every
//     verification paid for the decompression again;
//   - Seen remembers the signatures already verified, so that a node that
//     verified one when it entered the mempool (or the simulator that
//     verified what its homes signed while the last block ran) does not
//     verify it again when the block runs;
//   - Batch verifies many signatures at once, for less than each alone.
//
// A verification's answer depends only on the key, message and signature,
// so a validator that remembers and one that verifies again agree: these
// are caches, never consensus state.
package sigs

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Sizes of keys and signatures, in bytes.
const (
	PubKeySize    = ed25519.PublicKeySize
	SignatureSize = ed25519.SignatureSize
)

// options are CometBFT's (crypto/ed25519): ZIP-215 verification.
var options = &ed25519.Options{Verify: ed25519.VerifyOptionsZIP_215}

// maxKeys bounds the expanded keys kept (about 1.5 KB each): far more than
// any community has, so the bound is only a guard against a flood of
// registrations; past it the cache starts again.
const maxKeys = 1 << 20

var keys = struct {
	sync.RWMutex
	m map[[PubKeySize]byte]*ed25519.ExpandedPublicKey
}{m: map[[PubKeySize]byte]*ed25519.ExpandedPublicKey{}}

// expanded is pub's expanded form, nil when pub is not a valid key.
func expanded(pub []byte) *ed25519.ExpandedPublicKey {
	if len(pub) != PubKeySize {
		return nil
	}
	k := [PubKeySize]byte(pub)
	keys.RLock()
	e, ok := keys.m[k]
	keys.RUnlock()
	if ok {
		return e
	}
	e, err := ed25519.NewExpandedPublicKey(ed25519.PublicKey(pub))
	if err != nil {
		e = nil
	}
	keys.Lock()
	if len(keys.m) >= maxKeys {
		clear(keys.m)
	}
	keys.m[k] = e
	keys.Unlock()
	return e
}

// Verify says whether sig is pub's signature of msg.
func Verify(pub, msg, sig []byte) bool {
	e := expanded(pub)
	return e != nil && len(sig) == SignatureSize && ed25519.VerifyExpandedWithOptions(e, msg, sig, options)
}

// Batch verifies many signatures at once, faster than one by one (and
// one by one when there are too few for a batch to pay).
type Batch struct {
	queued []queued
}

type queued struct {
	key      *ed25519.ExpandedPublicKey
	msg, sig []byte
}

// minBatch is the fewest signatures a batch verification is faster for.
const minBatch = 4

// NewBatch starts an empty batch.
func NewBatch() *Batch { return &Batch{} }

// Add queues a signature and says whether it was queued: a key or
// signature of the wrong length is not, and is simply invalid.
func (b *Batch) Add(pub, msg, sig []byte) bool {
	e := expanded(pub)
	if e == nil || len(sig) != SignatureSize {
		return false
	}
	b.queued = append(b.queued, queued{e, msg, sig})
	return true
}

// Len is the number of signatures queued.
func (b *Batch) Len() int { return len(b.queued) }

// Verify checks every queued signature and says, in the order they were
// added, which are valid.
func (b *Batch) Verify() []bool {
	if len(b.queued) == 0 {
		return nil
	}
	if len(b.queued) < minBatch {
		valid := make([]bool, len(b.queued))
		for i, q := range b.queued {
			valid[i] = ed25519.VerifyExpandedWithOptions(q.key, q.msg, q.sig, options)
		}
		return valid
	}
	bv := ed25519.NewBatchVerifier()
	for _, q := range b.queued {
		bv.AddExpandedWithOptions(q.key, q.msg, q.sig, options)
	}
	// On a failure curve25519-voi verifies one by one and says which.
	_, valid := bv.Verify(rand.Reader)
	return valid
}

// Seen is a bounded memory of signatures verified, forgetting the oldest
// first. It is safe for concurrent use.
type Seen struct {
	mu   sync.Mutex
	m    map[[sha256.Size]byte]struct{}
	ring [][sha256.Size]byte
	next int
}

// NewSeen remembers up to n signatures.
func NewSeen(n int) *Seen {
	return &Seen{m: make(map[[sha256.Size]byte]struct{}, n), ring: make([][sha256.Size]byte, n)}
}

// digest names a verified signature: the key, the signature and the
// message, so that neither a signature over another message nor one
// checked against another key is taken for it.
func digest(pub, msg, sig []byte) [sha256.Size]byte {
	h := sha256.New()
	// The lengths first, so that no part's bytes pass for another's.
	h.Write(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(len(pub))), uint64(len(sig))))
	h.Write(pub)
	h.Write(sig)
	h.Write(msg)
	return [sha256.Size]byte(h.Sum(nil))
}

// Add remembers that sig is pub's valid signature of msg. Call it only
// after verifying.
func (s *Seen) Add(pub, msg, sig []byte) {
	d := digest(pub, msg, sig)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[d]; ok {
		return
	}
	delete(s.m, s.ring[s.next])
	s.ring[s.next] = d
	s.next = (s.next + 1) % len(s.ring)
	s.m[d] = struct{}{}
}

// Has says whether sig was remembered as pub's valid signature of msg. A
// nil Seen remembers nothing.
func (s *Seen) Has(pub, msg, sig []byte) bool {
	if s == nil {
		return false
	}
	d := digest(pub, msg, sig)
	s.mu.Lock()
	_, ok := s.m[d]
	s.mu.Unlock()
	return ok
}

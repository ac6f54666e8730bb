package sigs

import (
	"fmt"
	"testing"

	"github.com/cometbft/cometbft/crypto/ed25519"
)

func key(i int) ed25519.PrivKey { return ed25519.GenPrivKeyFromSecret(fmt.Appendf(nil, "key-%d", i)) }

// TestVerifyAgreesWithCometBFT: a signature is valid here exactly when
// CometBFT's own verification says so, single or batched, for good
// signatures, signatures by another key, over another message, corrupted,
// truncated, and keys that are no point or of the wrong length.
func TestVerifyAgreesWithCometBFT(t *testing.T) {
	msg := []byte("a reading")
	type c struct {
		name          string
		pub, msg, sig []byte
	}
	var cases []c
	for i := range 5 {
		k := key(i)
		sig, _ := k.Sign(msg)
		bad := append([]byte(nil), sig...)
		bad[i] ^= 1
		notPoint := make([]byte, 32)
		notPoint[0] = 2 // y = 2 is not on the curve
		cases = append(cases,
			c{"good", k.PubKey().Bytes(), msg, sig},
			c{"another key", key(i + 1).PubKey().Bytes(), msg, sig},
			c{"another message", k.PubKey().Bytes(), []byte("another"), sig},
			c{"corrupted", k.PubKey().Bytes(), msg, bad},
			c{"truncated", k.PubKey().Bytes(), msg, sig[:63]},
			c{"short key", k.PubKey().Bytes()[:31], msg, sig},
			c{"no point", notPoint, msg, sig},
		)
	}
	b := NewBatch()
	var queued []int
	for i, tc := range cases {
		want := len(tc.pub) == 32 && ed25519.PubKey(tc.pub).VerifySignature(tc.msg, tc.sig)
		if got := Verify(tc.pub, tc.msg, tc.sig); got != want {
			t.Errorf("%s (%d): Verify %v, CometBFT %v", tc.name, i, got, want)
		}
		if b.Add(tc.pub, tc.msg, tc.sig) {
			queued = append(queued, i)
		} else if want {
			t.Errorf("%s (%d): a valid signature was not queued", tc.name, i)
		}
	}
	if b.Len() != len(queued) {
		t.Fatalf("Len %d, queued %d", b.Len(), len(queued))
	}
	valid := b.Verify()
	for j, i := range queued {
		tc := cases[i]
		if want := ed25519.PubKey(tc.pub).VerifySignature(tc.msg, tc.sig); valid[j] != want {
			t.Errorf("%s (%d): batch %v, CometBFT %v", tc.name, i, valid[j], want)
		}
	}
	if NewBatch().Verify() != nil {
		t.Error("an empty batch has results")
	}
	// Too few for a batch: verified one by one, with the same answers.
	small := NewBatch()
	small.Add(cases[0].pub, cases[0].msg, cases[0].sig) // good
	small.Add(cases[3].pub, cases[3].msg, cases[3].sig) // corrupted
	if v := small.Verify(); len(v) != 2 || !v[0] || v[1] {
		t.Errorf("a batch of two: %v, want [true false]", v)
	}
}

// TestSeenRemembersVerifiedSignatures: a block need not verify again what
// CheckTx verified, for the same key, message and signature only, and
// Seen forgets the oldest when full.
func TestSeenRemembersVerifiedSignatures(t *testing.T) {
	s := NewSeen(2)
	k1, k2 := []byte("key-one"), []byte("key-two")
	sig := []byte("sig")
	s.Add(k1, []byte("tx-a"), sig)
	if !s.Has(k1, []byte("tx-a"), sig) || s.Has(k2, []byte("tx-a"), sig) || s.Has(k1, []byte("tx-b"), sig) || s.Has(k1, []byte("tx-a"), []byte("other")) {
		t.Fatal("remembered the wrong triples")
	}
	// The parts are not simply concatenated: moving a byte from the
	// signature to the message names another triple.
	if s.Has(k1, []byte("gtx-a"), []byte("si")) {
		t.Fatal("a triple with the same bytes in other parts was taken for it")
	}
	s.Add(k1, []byte("tx-b"), sig)
	s.Add(k1, []byte("tx-c"), sig)
	if s.Has(k1, []byte("tx-a"), sig) || !s.Has(k1, []byte("tx-b"), sig) || !s.Has(k1, []byte("tx-c"), sig) {
		t.Error("Seen did not forget its oldest entry")
	}
	var none *Seen
	if none.Has(k1, []byte("tx-b"), sig) {
		t.Error("a nil Seen remembered something")
	}
}

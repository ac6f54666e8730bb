package sigs

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// signed is a test signature and whether it is valid.
type signed struct {
	pub, msg, sig []byte
	valid         bool
}

// mixed makes n signatures by a few keys, about one in bad of them
// invalid in one of the ways a transaction's can be.
func mixed(n, bad int, rng *rand.Rand) []signed {
	out := make([]signed, n)
	for i := range out {
		k := key(i % 7)
		msg := fmt.Appendf(nil, "tx %d", i)
		sig, _ := k.Sign(msg)
		s := signed{k.PubKey().Bytes(), msg, sig, true}
		if rng.IntN(bad) == 0 {
			s.valid = false
			switch rng.IntN(4) {
			case 0:
				s.sig = append([]byte(nil), sig...)
				s.sig[rng.IntN(len(sig))] ^= 1 << rng.IntN(8)
			case 1:
				s.pub = key(i%7 + 1).PubKey().Bytes()
			case 2:
				s.msg = fmt.Appendf(nil, "tx %d!", i)
			case 3:
				s.sig = sig[:rng.IntN(len(sig))]
			}
		}
		out[i] = s
	}
	return out
}

// TestCoalescerAnswersEachCaller: many callers at once, valid and invalid
// signatures mixed, each gets its own signature's answer, the one Verify
// gives, though most are verified in batches with others.
func TestCoalescerAnswersEachCaller(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sigs := mixed(2000, 5, rng)
	c := NewCoalescer(64)
	const callers = 32
	var wg sync.WaitGroup
	errs := make(chan error, len(sigs))
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(sigs); i += callers {
				s := sigs[i]
				if got := c.Verify(s.pub, s.msg, s.sig); got != s.valid {
					errs <- fmt.Errorf("signature %d: %v, want %v", i, got, s.valid)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c.busy != 0 || len(c.pending) != 0 {
		t.Errorf("after the callers: %d verifiers busy, %d requests pending", c.busy, len(c.pending))
	}
}

// TestCoalescerBatchesWhileBusy: requests that arrive while every
// verifier is busy wait and are verified together, as one batch (a failed
// one included), each with its own answer.
func TestCoalescerBatchesWhileBusy(t *testing.T) {
	c := NewCoalescer(64)
	c.workers = 1
	sigs := mixed(40, 3, rand.New(rand.NewPCG(3, 4)))
	// Hold the one verifier's place as a verifier at work would, queue
	// the requests behind it, then let it finish.
	c.busy = 1
	got := make([]bool, len(sigs))
	var wg sync.WaitGroup
	for i, s := range sigs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = c.Verify(s.pub, s.msg, s.sig)
		}()
	}
	// A signature or key of the wrong length is answered without a
	// verifier.
	want := 0
	for _, s := range sigs {
		if len(s.pub) == PubKeySize && len(s.sig) == SignatureSize {
			want++
		}
	}
	for queued := 0; queued < want; {
		c.mu.Lock()
		queued = len(c.pending)
		c.mu.Unlock()
		runtime.Gosched()
	}
	// The held verifier ends its (empty) batch and hands on the waiting.
	c.run(nil, nil)
	wg.Wait()
	for i, s := range sigs {
		if got[i] != s.valid {
			t.Errorf("signature %d: %v, want %v", i, got[i], s.valid)
		}
	}
	if b, n := c.Stats(); b != 1 || n != int64(want) {
		t.Errorf("%d signatures verified in %d batches, want %d in one", n, b, want)
	}
	if c.busy != 0 || len(c.pending) != 0 {
		t.Errorf("after the batch: %d verifiers busy, %d requests pending", c.busy, len(c.pending))
	}
}

// TestCoalescerLoneRequest: a request alone is answered at once, valid or
// not, without waiting for company.
func TestCoalescerLoneRequest(t *testing.T) {
	c := NewCoalescer(64)
	k := key(0)
	msg := []byte("alone")
	sig, _ := k.Sign(msg)
	if !c.Verify(k.PubKey().Bytes(), msg, sig) {
		t.Error("a lone valid signature was refused")
	}
	if c.Verify(k.PubKey().Bytes(), []byte("other"), sig) {
		t.Error("a lone signature of another message was accepted")
	}
	if c.Verify(k.PubKey().Bytes()[:31], msg, sig) || c.Verify(k.PubKey().Bytes(), msg, sig[:63]) {
		t.Error("a key or signature of the wrong length was accepted")
	}
}

// TestCoalescerAgreesWithVerify is a property: for random batches of
// random signatures (valid, corrupted, by another key, over another
// message, truncated), with random numbers of callers and batch sizes,
// the coalescer's answer is always Verify's.
func TestCoalescerAgreesWithVerify(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 30 {
		sigs := mixed(1+rng.IntN(300), 1+rng.IntN(10), rng)
		c := NewCoalescer(1 + rng.IntN(100))
		callers := 1 + rng.IntN(40)
		got := make([]bool, len(sigs))
		var wg sync.WaitGroup
		for g := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < len(sigs); i += callers {
					got[i] = c.Verify(sigs[i].pub, sigs[i].msg, sigs[i].sig)
				}
			}()
		}
		wg.Wait()
		for i, s := range sigs {
			if want := Verify(s.pub, s.msg, s.sig); got[i] != want {
				t.Fatalf("round %d, signature %d: coalescer %v, Verify %v", round, i, got[i], want)
			}
		}
	}
}

// BenchmarkCoalescer: signatures a second with N concurrent callers,
// through the coalescer and each verifying its own with Verify.
func BenchmarkCoalescer(b *testing.B) {
	sigs := mixed(1024, 1<<30, rand.New(rand.NewPCG(7, 8)))
	for _, callers := range []int{1, 4, 16, 64} {
		for _, way := range []string{"Verify", "Coalescer"} {
			b.Run(fmt.Sprintf("callers=%d/%s", callers, way), func(b *testing.B) {
				c := NewCoalescer(64)
				verify := Verify
				if way == "Coalescer" {
					verify = c.Verify
				}
				var wg sync.WaitGroup
				per := (b.N + callers - 1) / callers
				b.ResetTimer()
				for g := range callers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range per {
							s := sigs[(g*per+i)%len(sigs)]
							if !verify(s.pub, s.msg, s.sig) {
								panic("a valid signature was refused")
							}
						}
					}()
				}
				wg.Wait()
				if batches, n := c.Stats(); batches > 0 {
					b.ReportMetric(float64(n)/float64(batches), "sigs/batch")
				}
			})
		}
	}
}

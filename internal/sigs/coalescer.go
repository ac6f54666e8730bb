package sigs

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Coalescer verifies signatures for concurrent callers, each of which asks
// about one signature and waits for its answer, in batches: the requests
// that arrive while verifiers are busy are verified together, as one
// batch, by the next verifier free. Nothing waits for a batch to fill (no
// timer, no yield): a request that finds a verifier free is verified at
// once, alone, so an idle node answers as fast as Verify and a busy one
// verifies at the batch rate. It is safe for concurrent use.
//
// Its answers are Verify's: a batch that fails is verified one by one
// (Batch.Verify), so a bad signature fails only its own request.
type Coalescer struct {
	maxBatch, workers int

	mu      sync.Mutex
	busy    int        // verifiers at work, at most workers
	pending []*request // waiting for a verifier, oldest first

	batches, verified atomic.Int64
}

// Stats says how many batches (a lone request's included) the coalescer
// has verified and how many signatures they held.
func (c *Coalescer) Stats() (batches, signatures int64) {
	return c.batches.Load(), c.verified.Load()
}

// request is one caller's question; wake tells its caller either that the
// answer is in valid (nil) or that it is to verify the batch it is sent
// (which holds it).
type request struct {
	queued
	valid bool
	wake  chan []*request
}

// NewCoalescer verifies batches of up to maxBatch signatures (at least
// 1), with one verifier at work fewer than the process has processors
// (GOMAXPROCS), and at least one: the processor left over runs the callers
// that queue for the next batch; with none left, batches form only from
// callers that were already waiting.
func NewCoalescer(maxBatch int) *Coalescer {
	return &Coalescer{maxBatch: max(maxBatch, 1), workers: max(1, runtime.GOMAXPROCS(0)-1)}
}

var requests = sync.Pool{New: func() any { return &request{wake: make(chan []*request, 1)} }}

// Verify says whether sig is pub's signature of msg, as the package's
// Verify does, verifying it together with other callers' signatures when
// there are any waiting.
func (c *Coalescer) Verify(pub, msg, sig []byte) bool {
	e := expanded(pub)
	if e == nil || len(sig) != SignatureSize {
		return false
	}
	r := requests.Get().(*request)
	r.queued, r.valid = queued{e, msg, sig}, false
	c.mu.Lock()
	if c.busy < c.workers {
		// A free verifier means nothing is waiting (a verifier that
		// finishes hands the waiting requests on before it frees its
		// place), so r is verified alone, now.
		c.busy++
		c.mu.Unlock()
		c.run([]*request{r}, r)
	} else {
		c.pending = append(c.pending, r)
		c.mu.Unlock()
		if batch := <-r.wake; batch != nil {
			c.run(batch, r)
		}
	}
	valid := r.valid
	r.queued = queued{}
	requests.Put(r)
	return valid
}

// run verifies batch as its request self's caller, hands the requests
// waiting meanwhile on to one of them to verify next (or frees its
// verifier's place when none is), and answers the others of its batch.
func (c *Coalescer) run(batch []*request, self *request) {
	if len(batch) > 0 { // a test's stand-in for a verifier at work has none
		c.batches.Add(1)
		c.verified.Add(int64(len(batch)))
	}
	b := Batch{queued: make([]queued, len(batch))}
	for i, r := range batch {
		b.queued[i] = r.queued
	}
	valid := b.Verify() // one by one when too few to pay
	c.mu.Lock()
	next := c.take(c.maxBatch)
	if next == nil {
		c.busy--
	}
	c.mu.Unlock()
	if next != nil {
		next[0].wake <- next
	}
	for i, r := range batch {
		r.valid = valid[i]
		if r != self {
			r.wake <- nil
		}
	}
}

// take removes up to n of the oldest pending requests (nil when none);
// c.mu must be held.
func (c *Coalescer) take(n int) []*request {
	n = min(n, len(c.pending))
	if n == 0 {
		return nil
	}
	out := make([]*request, n, n+1)
	copy(out, c.pending)
	rest := copy(c.pending, c.pending[n:])
	clear(c.pending[rest:])
	c.pending = c.pending[:rest]
	return out
}

package meter

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
)

// Clock is market time in UTC seconds: the time readings are dated in and
// intervals are cut by. It runs faster than the wall clock in a simulated
// community (time_scale).
type Clock interface {
	Now() int64
}

// LedgerClock is the ledger's market time: it polls /info (market_time,
// time_scale) and interpolates between polls with the wall clock. It
// never goes backwards. The zero value with Client set is ready; call
// Sync once, then Run in the background.
type LedgerClock struct {
	Client *chain.Client

	mu    sync.Mutex
	base  int64     // market time at the last poll
	scale int64     // market seconds per wall second
	at    time.Time // wall time of the last poll
	last  int64     // the largest value Now returned
}

// Sync polls the ledger once.
func (c *LedgerClock) Sync(ctx context.Context) error {
	in, err := chain.Reader{Q: c.Client}.Info(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base, c.scale, c.at = in.MarketTime, max(in.TimeScale, 1), time.Now()
	return nil
}

// Run polls every interval until ctx ends, logging failures (the clock
// keeps interpolating meanwhile).
func (c *LedgerClock) Run(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.Sync(ctx); err != nil && ctx.Err() == nil {
				log.Warn("ledger clock poll failed", "err", err)
			}
		}
	}
}

// Now is the interpolated market time, 0 before the first Sync.
func (c *LedgerClock) Now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return c.last
	}
	v := c.base + int64(time.Since(c.at))*c.scale/int64(time.Second)
	c.last = max(c.last, v)
	return c.last
}

package meter

import (
	"context"
	"encoding/base64"
	"errors"
	"sort"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

func (g *Gateway) flushLoop() {
	defer g.wg.Done()
	t := time.NewTicker(g.cfg.FlushEvery)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-g.ctx.Done():
			return
		case <-t.C:
			g.flush(g.ctx)
			if n%eraseEvery == 0 {
				g.EraseDeparted()
			}
		}
	}
}

// eraseEvery is how many flushes pass between two looks for the fine data
// of meters that left the ledger.
const eraseEvery = 30

// pending is one meter's entry in an interval's batch.
type pending struct {
	sh    *shard
	meter string
	start int64
	rec   *intervalRec
	entry contract.ReadingEntry
}

// flush submits, for every interval that has ended in market time (and
// GraceS more), each
// reporting meter's last reading of it and the hash of its fine data: one
// MsgReadings per interval (more when it outgrows a transaction). A
// reading that arrives late for an interval already submitted makes the
// interval due again; the ledger keeps the newer reading.
func (g *Gateway) flush(ctx context.Context) {
	g.flushMu.Lock()
	defer g.flushMu.Unlock()
	now := g.cfg.Clock.Now()
	intervalS, _ := g.params()
	due := map[int64][]pending{}
	for _, sh := range g.shards {
		sh.mu.Lock()
		for id, st := range sh.meters {
			for start, rec := range st.open {
				if !rec.dirty || now <= start+intervalS+g.cfg.GraceS {
					continue
				}
				if st.file != nil && st.fileStart == start {
					st.closeFile() // the interval is over: free the descriptor
				}
				hash, err := g.fineHash(id, start)
				if err != nil {
					g.log.Error("fine hash", "meter", id, "interval", start, "err", err)
				}
				rec.dirty = false
				due[start] = append(due[start], pending{sh: sh, meter: id, start: start, rec: rec,
					entry: contract.ReadingEntry{Signed: rec.last, FineHash: hash}})
			}
		}
		sh.mu.Unlock()
	}
	starts := make([]int64, 0, len(due))
	for s := range due {
		starts = append(starts, s)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	for _, start := range starts {
		ps := due[start]
		sort.Slice(ps, func(i, j int) bool { return ps[i].meter < ps[j].meter })
		for _, chunk := range chunks(ps) {
			g.submitChunk(ctx, start, chunk)
		}
	}
	if len(starts) > 0 {
		g.logSummary(starts)
	}
}

// chunks splits an interval's entries into transactions that fit the
// ledger's limits: at most MaxReadingsPerTx readings and MaxReadingsTxBytes bytes.
func chunks(ps []pending) [][]pending {
	// Room for the transaction header and body around the readings.
	const budget = contract.MaxReadingsTxBytes - 4096
	var out [][]pending
	size, from := 0, 0
	for i, p := range ps {
		n := entrySize(p.entry)
		if i > from && (size+n > budget || i-from >= contract.MaxReadingsPerTx) {
			out = append(out, ps[from:i])
			from, size = i, 0
		}
		size += n
	}
	if from < len(ps) {
		out = append(out, ps[from:])
	}
	return out
}

// entrySize is an entry's length in the transaction's JSON:
// {"reading":…,"sig":"…","fine_hash":"…"}, with a comma.
func entrySize(e contract.ReadingEntry) int {
	return len(`{"reading":,"sig":"","fine_hash":""},`) + len(e.Reading) +
		base64.StdEncoding.EncodedLen(len(e.Sig)) + base64.StdEncoding.EncodedLen(len(e.FineHash))
}

func (g *Gateway) submitChunk(ctx context.Context, start int64, chunk []pending) {
	msg := &contract.MsgReadings{Readings: make([]contract.ReadingEntry, len(chunk))}
	for i, p := range chunk {
		msg.Readings[i] = p.entry
	}
	err := g.submit.Submit(ctx, msg)
	var refused *chain.TxError
	retry := err != nil && !errors.As(err, &refused)
	for _, p := range chunk {
		p.sh.mu.Lock()
		if st := p.sh.meters[p.meter]; st != nil && st.open[p.start] == p.rec {
			switch {
			case retry:
				p.rec.dirty = true // try again at the next flush
			case !p.rec.dirty:
				delete(st.open, p.start) // done, unless a late reading came in
			}
		}
		p.sh.mu.Unlock()
	}
	switch {
	case err == nil:
		g.batches.Add(1)
		g.submitted.Add(int64(len(chunk)))
		g.log.Debug("readings submitted", "interval", start, "readings", len(chunk))
	case retry:
		g.log.Warn("readings not submitted; will retry", "interval", start, "readings", len(chunk), "err", err)
	default:
		g.log.Error("ledger refused readings", "interval", start, "readings", len(chunk),
			"code", refused.Code.Name(), "err", err)
	}
}

// logSummary logs, at info, what happened since the last summary.
func (g *Gateway) logSummary(starts []int64) {
	s := g.Stats()
	rejected := map[string]int64{}
	for c, n := range s.Rejected {
		if d := n - g.summary.rejected[c]; d > 0 {
			rejected[c.Name()] = d
		}
		g.summary.rejected[c] = n
	}
	g.log.Info("interval readings", "intervals", starts, "accepted", s.Accepted-g.summary.accepted,
		"rejected", rejected, "submitted_total", s.Submitted, "batches_total", s.Batches)
	g.summary.accepted = s.Accepted
}

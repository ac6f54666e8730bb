package main

import (
	"testing"

	"github.com/gridledger/gridledger/internal/chaos"
)

// TestBenchTxCountsEveryCommit runs `bench tx` on a small load against a
// real embedded node: every transaction sent is found committed, in
// blocks, with a latency, so the figures it prints are of what it sent.
func TestBenchTxCountsEveryCommit(t *testing.T) {
	r := okJSON[chaos.BenchResult](t, "bench", "tx", "--txs", "600", "--members", "20", "--rate", "300")
	if r.Sent != 600 || r.Committed != 600 || r.Refused != 0 {
		t.Fatalf("sent %d, committed %d, refused %d", r.Sent, r.Committed, r.Refused)
	}
	if r.Blocks < 1 || r.TxPerSec <= 0 || r.P50Ms <= 0 || r.P50Ms > r.P99Ms || r.P99Ms > r.MaxMs {
		t.Fatalf("figures do not add up: %+v", r)
	}
}

package sim

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/kpi"
)

// BenchmarkSimulate runs a generated community of SIM_SITES sites (default
// 100) for SIM_DAYS days (default 7) and reports where the time went and
// the heap at the end. The closing note's year of 1,000 sites:
//
//	SIM_SITES=1000 SIM_DAYS=365 go test -run '^$' -bench Simulate -benchtime 1x -timeout 0 ./internal/sim
func BenchmarkSimulate(b *testing.B) {
	sites, days := envInt("SIM_SITES", 100), envInt("SIM_DAYS", 7)
	defer TuneGC(sites)() // as gridledger sim does
	c := community.Generate(sites, 1)
	b.Run(fmt.Sprintf("%dsites-%ddays", sites, days), func(b *testing.B) {
		for b.Loop() {
			acc := kpi.NewAccumulator(kpi.SiteMembers(c.Sites))
			res, err := Run(context.Background(), Options{Community: c, Seed: 1, From: c.StartUnix(), Days: days,
				OnInterval: func(iv kpi.Interval) { acc.Add(iv) }})
			if err != nil {
				b.Fatal(err)
			}
			rep := acc.Report(res.TxBytes+res.StateBytes, int64(days)*86400)
			if rep.Community.Intervals != days*24 {
				b.Fatalf("%d intervals", rep.Community.Intervals)
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			t := res.Timing
			b.ReportMetric(t.EMS.Seconds(), "ems-s")
			b.ReportMetric(t.Meters.Seconds(), "meters-s")
			b.ReportMetric(t.Checks.Seconds(), "checks-s")
			b.ReportMetric(t.Ledger.Seconds(), "ledger-s")
			// The heap the run left (garbage included): the process's
			// peak is what /usr/bin/time -v gridledger sim reports.
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(res.Txs), "txs")
		}
	})
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

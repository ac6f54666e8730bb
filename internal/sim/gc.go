package sim

import (
	"os"
	"runtime/debug"
)

// TuneGC trades memory for speed for a run of a community of sites, and
// returns what puts the collector back as it was. A simulation allocates
// fast and keeps a live heap of about 140 KiB a site (the homes' EMS
// history and the ledger's state of two days), so the collector runs
// when the heap grows to 5× the live one (GOGC 400) instead of 2×, and at
// the latest at the memory limit: 1.5 GiB, or 640 KiB a site for larger
// communities. A fixed 1.5 GiB limit held a 10,000-site run, whose live
// heap is near 1.4 GiB, at the limit: the collector ran almost without
// pause and took 40 % of the CPU, twice the cost per site-hour of a
// 1,000-site run. An explicit GOGC or GOMEMLIMIT wins.
func TuneGC(sites int) (restore func()) {
	gc, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(gc)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit(sites))
	}
	return func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	}
}

// MemoryLimit is the heap TuneGC lets a run of sites grow to, in bytes.
func MemoryLimit(sites int) int64 {
	return max(1536<<20, int64(sites)*640<<10)
}

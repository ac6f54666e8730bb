package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/ems/dr"
)

// TestEMSDRMovesTheEVOutOfTheRequest runs `ems dr` on the example home: a
// request at 23–01 h moves the EV's night charge out of those hours, the
// promise is the fall in net import, and the chart is written.
func TestEMSDRMovesTheEVOutOfTheRequest(t *testing.T) {
	svg := filepath.Join(t.TempDir(), "day.svg")
	r := okJSON[dr.Response](t, "ems", "dr", "--site", "../../docs/examples/home.json", "--from", "23", "--to", "1",
		"--incentive", "100000", "--chart", svg)
	for _, h := range []int{23, 0} {
		if r.PromisedWh[h] <= 0 || r.PromisedWh[h] != r.Base.NetWh[h]-r.WithDR.NetWh[h] {
			t.Errorf("hour %d: promised %d, base %d, with DR %d", h, r.PromisedWh[h], r.Base.NetWh[h], r.WithDR.NetWh[h])
		}
	}
	for h := 1; h < 23; h++ {
		if r.PromisedWh[h] != 0 {
			t.Errorf("promise outside the request at %d h", h)
		}
	}
	if r.IncentiveNano != (r.PromisedWh[23]+r.PromisedWh[0])*100_000 {
		t.Errorf("incentive %d", r.IncentiveNano)
	}
	b, err := os.ReadFile(svg)
	if err != nil || !strings.Contains(string(b), "with and without demand response") || !strings.Contains(string(b), "DR request") {
		t.Fatalf("chart: %v %.200s", err, b)
	}
	if _, errs, code := cli(t, "ems", "dr", "--site", "../../docs/examples/home.json", "--incentive", "-5"); code == 0 || !strings.Contains(errs, "incentive") {
		t.Errorf("negative incentive: exit %d %s", code, errs)
	}
}

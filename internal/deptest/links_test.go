package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

// servesNotSimulates lists what the production HTTP server must not link:
// the simulator, the agents and the simulated devices are for demos and
// reports, and take the KPIs from internal/kpi like the API does.
var servesNotSimulates = map[string][]string{
	"internal/api": {"internal/sim", "internal/ems/agent", "internal/meter"},
}

func TestAPIDoesNotLinkTheSimulator(t *testing.T) {
	const module = "github.com/gridledger/gridledger/"
	for pkg, banned := range servesNotSimulates {
		cmd := exec.Command("go", "list", "-deps", "./"+pkg)
		cmd.Dir = "../.."
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps ./%s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range banned {
				if dep == module+b {
					t.Errorf("%s links %s", pkg, b)
				}
			}
		}
	}
}

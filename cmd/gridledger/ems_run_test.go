package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/ems/agent"
	"github.com/gridledger/gridledger/internal/ems/forecast"
)

// The example site file loads, and its history feeds a forecast of a day
// after the history ends: consumption positive, PV never negative.
func TestEMSRunSiteFileForecasts(t *testing.T) {
	h, err := agent.LoadHome("../../docs/examples/home.toml")
	if err != nil {
		t.Fatal(err)
	}
	if h.Member != "alice" || len(h.Appliances) != 2 || h.Appliances[0].Relay != "alice-ev-plug" {
		t.Fatalf("home %+v", h)
	}
	fc, err := homeForecast(h, "../../docs/examples")
	if err != nil {
		t.Fatal(err)
	}
	day := forecast.LocalMidnight(2016, 3, 31, 1)
	base, pv, err := fc(day)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for hr := range base {
		sum += base[hr]
		if pv[hr] < 0 || base[hr] < 0 {
			t.Fatalf("negative forecast at %d: %d %d", hr, base[hr], pv[hr])
		}
	}
	if sum <= 0 {
		t.Errorf("consumption forecast %v", base)
	}
}

func TestEMSRunSiteFileRefusesUnknownKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "home.toml")
	if err := os.WriteFile(p, []byte("member = \"a\"\nconsumption_history = \"x.csv\"\nwasher = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.LoadHome(p); err == nil || !strings.Contains(err.Error(), "washer") {
		t.Errorf("unknown key: %v", err)
	}
}

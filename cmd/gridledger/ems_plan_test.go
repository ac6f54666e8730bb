package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/ems/plan"
)

func emsPlanSite(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	fill := func(v int) []int {
		a := make([]int, 24)
		for i := range a {
			a[i] = v
		}
		return a
	}
	buy := fill(300_000)
	buy[2], buy[3] = 100_000, 100_000
	site := map[string]any{
		"base_wh": fill(500), "pv_wh": fill(0), "buy": buy, "sell": fill(40_000), "peak_import_wh": 9000,
		"appliances": []map[string]any{
			{"name": "washer", "start": 22, "end": 6, "flexible": true, "power_w": 2000, "hours": 2, "splittable": false},
			{"name": "ev", "start": 19, "end": 7, "flexible": true, "energy_wh": 10000, "max_power_w": 7400},
		},
	}
	if edit != nil {
		edit(site)
	}
	data, err := json.Marshal(site)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "site.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEMSPlanJSON(t *testing.T) {
	path := emsPlanSite(t, nil)
	out, err := runRootQuiet(t, "", "ems", "plan", "--site", path, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r plan.Result
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(r.Appliances) != 2 || r.Appliances[0].Name != "washer" || len(r.NetWh) != 24 {
		t.Fatalf("plan %+v", r)
	}
	if got := r.Appliances[0].Hours; len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Errorf("washer hours %v, want the cheap hours [2 3]", got)
	}
	var ev int64
	for _, wh := range r.Appliances[1].WhByHour {
		ev += wh
	}
	if ev != 10000 {
		t.Errorf("ev takes %d Wh, want 10000", ev)
	}
	// The same site from stdin gives the same plan.
	data, _ := os.ReadFile(path)
	out2, err := runRootQuiet(t, string(data), "ems", "plan", "--site", "-", "-o", "json")
	if err != nil || out2 != out {
		t.Fatalf("stdin: %v\n%s\nwant\n%s", err, out2, out)
	}
}

func TestEMSPlanText(t *testing.T) {
	out, err := runRootQuiet(t, "", "ems", "plan", "--site", emsPlanSite(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"HOUR", "NET WH", "RUNNING", "washer", "ev(", "cost: ", "nano-units", "peak import: "} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 1+24+2 {
		t.Errorf("%d lines, want header, 24 hours, cost and peak:\n%s", n, out)
	}
}

func TestEMSPlanErrors(t *testing.T) {
	cases := map[string]struct {
		edit func(map[string]any)
		want string
	}{
		"sell above buy":  {func(s map[string]any) { s["sell"].([]int)[5] = 400_000 }, "sell 400000 above buy"},
		"unknown field":   {func(s map[string]any) { s["colour"] = "red" }, "unknown field"},
		"infeasible peak": {func(s map[string]any) { s["peak_import_wh"] = 100 }, "no feasible plan"},
		"repeated name": {func(s map[string]any) {
			a := s["appliances"].([]map[string]any)
			a[1]["name"] = "washer"
		}, "repeated"},
	}
	for name, c := range cases {
		path := emsPlanSite(t, c.edit)
		out, err := runRootQuiet(t, "", "ems", "plan", "--site", path, "-o", "json")
		if err == nil {
			t.Errorf("%s: no error; printed %q", name, out)
			continue
		}
		if out != "" {
			t.Errorf("%s: printed %q with an error", name, out)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "ems plan: "+path+": ") || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line naming the file and %q", name, msg, c.want)
		}
	}
	if _, err := runRootQuiet(t, "", "ems", "plan", "--site", filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
}

// TestEMSPlanBattery plans the test site with a battery: its schedule is
// in both outputs, and a cheap night fills it for the day.
func TestEMSPlanBattery(t *testing.T) {
	path := emsPlanSite(t, func(s map[string]any) {
		s["battery"] = map[string]any{"capacity_wh": 4000, "initial_soc_wh": 0, "final_soc_wh": 0,
			"max_charge_w": 2000, "max_discharge_w": 2000,
			"charge_efficiency_permille": 950, "discharge_efficiency_permille": 950}
	})
	out, err := runRootQuiet(t, "", "ems", "plan", "--site", path, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r plan.Result
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil || r.Battery == nil {
		t.Fatalf("%v in %s", err, out)
	}
	b := r.Battery
	// 0.10 at 2–3 h, 0.30 after: stored at night, delivered by day.
	if b.ChargeWh[2] == 0 || b.SoCWh[3] == 0 || b.SoCWh[23] != 0 || len(b.DischargeWh) != 24 {
		t.Errorf("battery plan %+v", b)
	}
	text, err := runRootQuiet(t, "", "ems", "plan", "--site", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"BATTERY WH", "SOC WH", "battery: ", "Wh charged"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	bad := emsPlanSite(t, func(s map[string]any) { s["battery"] = map[string]any{"capacity_wh": -1} })
	if _, err := runRootQuiet(t, "", "ems", "plan", "--site", bad); err == nil || !strings.Contains(err.Error(), "battery: capacity_wh") {
		t.Errorf("bad battery: %v", err)
	}
}

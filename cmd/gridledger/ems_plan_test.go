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

// planJSON runs `ems plan --site path -o json` and decodes its output,
// refusing unknown fields; it returns the output too.
func planJSON(t *testing.T, path string) (plan.Result, string) {
	t.Helper()
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
	return r, out
}

func TestEMSPlanJSON(t *testing.T) {
	path := emsPlanSite(t, nil)
	r, out := planJSON(t, path)
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
	r, out := planJSON(t, path)
	if r.Battery == nil {
		t.Fatalf("no battery plan in %s", out)
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

// approximateSite is a realistic home of the plan package's tests (flat
// tariff, a daytime EV sharing PV with a 15 kWh battery) whose exact
// search runs past its inner planner's step limit.
const approximateSite = `{"base_wh":[334,289,484,372,382,358,1512,900,1283,245,382,470,326,426,305,223,278,789,1121,1320,797,1050,1464,348],
"pv_wh":[0,0,0,0,68,247,857,1109,2128,3328,2707,2644,3406,3991,2276,2043,1933,943,442,82,0,0,0,0],
"buy":[286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476,286476],
"sell":[74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238,74238],
"peak_import_wh":7960,
"appliances":[{"name":"washer","start":8,"end":19,"flexible":true,"power_w":1955,"hours":2},
{"name":"dehumidifier","start":9,"end":20,"flexible":true,"power_w":541,"hours":3,"splittable":true},
{"name":"pool","start":7,"end":21,"flexible":true,"power_w":1279,"hours":6,"splittable":true},
{"name":"boiler","start":0,"end":0,"flexible":true,"power_w":2570,"hours":3,"splittable":true},
{"name":"car2","start":8,"end":16,"flexible":true,"energy_wh":11996,"max_power_w":7532},
{"name":"oven","start":19,"end":21,"flexible":false,"power_w":3424,"hours":1}],
"battery":{"capacity_wh":15000,"min_soc_wh":780,"initial_soc_wh":7500,"final_soc_wh":7500,"max_charge_w":3238,"max_discharge_w":3238,
"charge_efficiency_permille":948,"discharge_efficiency_permille":960,"cycle_cost":17290}}`

// TestEMSPlanSaysWhenApproximate plans a home whose exact search runs out
// of steps: the JSON says "approximate": true and the table says so in
// words; a home planned exactly says neither.
func TestEMSPlanSaysWhenApproximate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "site.json")
	if err := os.WriteFile(path, []byte(approximateSite), 0o600); err != nil {
		t.Fatal(err)
	}
	r, out := planJSON(t, path)
	if !r.Approximate || r.Battery == nil || !strings.Contains(out, `"approximate": true`) {
		t.Fatalf("not an approximate battery plan: %s", out)
	}
	text, err := runRootQuiet(t, "", "ems", "plan", "--site", path)
	if err != nil || !strings.Contains(text, "approximate: the exact search ran out of steps") {
		t.Fatalf("%v: %s", err, text)
	}
	exact, err := runRootQuiet(t, "", "ems", "plan", "--site", emsPlanSite(t, nil))
	if err != nil || strings.Contains(exact, "approximate") {
		t.Fatalf("%v: %s", err, exact)
	}
}

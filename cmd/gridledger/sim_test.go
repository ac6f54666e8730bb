package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/units"
)

// simReport runs `gridledger sim` in-process into a new directory.
func simReport(t *testing.T, args ...string) (dir, stdout string) {
	t.Helper()
	dir = t.TempDir()
	out, _, err := runRoot(t, "", append([]string{"sim", "--out", dir}, args...)...)
	if err != nil {
		t.Fatalf("sim %v: %v", args, err)
	}
	return dir, out
}

type kpisFile struct {
	Community string `json:"community"`
	Sites     int    `json:"sites"`
	Runs      []struct {
		Setting   string `json:"setting"`
		Mechanism string `json:"mechanism"`
		AppHash   string `json:"app_hash"`
		KPIs      struct {
			Community struct {
				Intervals   int   `json:"intervals"`
				SavingsNano int64 `json:"savings_nano"`
				P2PTradedWh int64 `json:"p2p_traded_wh"`
			} `json:"community"`
			Members []json.RawMessage `json:"members"`
		} `json:"kpis"`
	} `json:"runs"`
}

func readKPIs(t *testing.T, dir string) ([]byte, kpisFile) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "kpis.json"))
	if err != nil {
		t.Fatal(err)
	}
	var k kpisFile
	if err := json.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	return raw, k
}

// The same community and seed give the same report, byte for byte, and
// the same app hash; another seed gives another ledger.
func TestSimIsDeterministic(t *testing.T) {
	a, outA := simReport(t, "--sites", "8", "--days", "2", "--seed", "3")
	b, _ := simReport(t, "--sites", "8", "--days", "2", "--seed", "3", "--workers", "1")
	c, _ := simReport(t, "--sites", "8", "--days", "2", "--seed", "4")
	rawA, ka := readKPIs(t, a)
	rawB, _ := readKPIs(t, b)
	_, kc := readKPIs(t, c)
	if !bytes.Equal(rawA, rawB) {
		t.Fatal("kpis.json differs between two runs of the same community and seed")
	}
	for _, f := range []string{"intervals.csv", "members.csv", "index.html"} {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs of the same community and seed", f)
		}
	}
	if ka.Runs[0].AppHash == kc.Runs[0].AppHash {
		t.Error("seeds 3 and 4 ended in the same app hash")
	}
	if ka.Runs[0].KPIs.Community.Intervals != 48 || ka.Sites != 8 {
		t.Errorf("%d intervals for %d sites, want 48 for 8", ka.Runs[0].KPIs.Community.Intervals, ka.Sites)
	}
	if !strings.Contains(outA, "app hash "+ka.Runs[0].AppHash) || !strings.Contains(outA, filepath.Join(a, "index.html")) {
		t.Errorf("summary does not name the app hash and the report:\n%s", outA)
	}
}

// A three-site community, checked interval by interval: what the meters
// measured matches what the sites used and made, the market moved energy
// only between them, and every clearing price sits between the tariffs.
func TestSimThreeSitesIntervalByInterval(t *testing.T) {
	file := filepath.Join(t.TempDir(), "three.toml")
	if err := os.WriteFile(file, []byte(threeSites), 0o644); err != nil {
		t.Fatal(err)
	}
	dir, _ := simReport(t, "--community", file, "--days", "2", "--from", "2025-06-02")
	f, err := os.Open(filepath.Join(dir, "intervals.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	if len(rows) != 1+48 {
		t.Fatalf("%d intervals, want 48", len(rows)-1)
	}
	var traded, sunny int
	for _, r := range rows[1:] {
		v := func(name string) int64 {
			n, err := strconv.ParseInt(r[col[name]], 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", name, r[col[name]], err)
			}
			return n
		}
		p := func(name string) int64 {
			n, err := units.ParsePrice(r[col[name]])
			if err != nil {
				t.Fatalf("%s: %q: %v", name, r[col[name]], err)
			}
			return n
		}
		load, gen, imp, exp, p2p := v("load_wh"), v("generation_wh"), v("grid_import_wh"), v("grid_export_wh"), v("p2p_wh")
		if load <= 0 {
			t.Errorf("%s: load %d Wh: the homes always use something", r[col["start"]], load)
		}
		if load-gen != imp-exp {
			t.Errorf("%s: load − generation = %d Wh but the grid saw %d", r[col["start"]], load-gen, imp-exp)
		}
		if p2p < 0 || p2p > gen {
			t.Errorf("%s: %d Wh delivered between members with %d Wh generated", r[col["start"]], p2p, gen)
		}
		if gen > 0 {
			sunny++
		}
		if mcp := r[col["mcp_per_kwh"]]; mcp != "" {
			if m := p("mcp_per_kwh"); m < p("feed_in_per_kwh") || m > p("grid_price_per_kwh") {
				t.Errorf("%s: MCP %s outside the tariffs [%s, %s]", r[col["start"]], mcp, r[col["feed_in_per_kwh"]], r[col["grid_price_per_kwh"]])
			}
			if p2p > 0 {
				traded++
			}
		}
	}
	// June: the prosumer's roof makes more than it uses at midday, and
	// its neighbours buy it.
	if sunny < 20 || traded < 8 {
		t.Errorf("%d hours with generation and %d with energy traded in two June days", sunny, traded)
	}
	_, k := readKPIs(t, dir)
	if len(k.Runs[0].KPIs.Members) != 3 {
		t.Errorf("%d members in kpis.json", len(k.Runs[0].KPIs.Members))
	}
}

const threeSites = `
name = "Three houses"
start = "2025-06-01"
utc_offset_h = 1

[[site]]
id = "roof"
type = "prosumer"
load = { profile = "household-1", annual_kwh = 3000 }
pv = { capacity_w = 8000 }

[[site]]
id = "flat"
type = "household"
load = { profile = "household-2", annual_kwh = 2500 }

[[site]]
id = "shop"
type = "non-residential"
load = { profile = "synthetic", annual_kwh = 12000 }
`

// --compare runs the same community under each mechanism, side by side.
func TestSimComparesMechanisms(t *testing.T) {
	dir, out := simReport(t, "--sites", "10", "--days", "1", "--compare", "mechanism=average-bid,uniform,pay-as-bid")
	_, k := readKPIs(t, dir)
	if len(k.Runs) != 3 {
		t.Fatalf("%d runs, want 3", len(k.Runs))
	}
	for i, want := range []string{"average-bid", "uniform", "pay-as-bid"} {
		r := k.Runs[i]
		if r.Mechanism != want || r.Setting != "mechanism="+want {
			t.Errorf("run %d: mechanism %q setting %q, want %s", i, r.Mechanism, r.Setting, want)
		}
		if !strings.Contains(out, "mechanism="+want) {
			t.Errorf("summary lacks %s:\n%s", want, out)
		}
	}
	if k.Runs[0].AppHash == k.Runs[1].AppHash {
		t.Error("average-bid and uniform ended in the same ledger")
	}
	html, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	if !bytes.Contains(html, []byte(`id="chart-compare"`)) {
		t.Error("the report has no comparison chart")
	}
	for _, bad := range []string{"mechanism=sealed-bid", "dr=maybe", "colour=red", "mechanism", "imbalance=dso", "bidding=psychic"} {
		if _, _, err := runRoot(t, "", "sim", "--sites", "3", "--days", "1", "--out", t.TempDir(), "--compare", bad); err == nil {
			t.Errorf("--compare %s accepted", bad)
		}
	}
}

// --compare bidding=ems,perfect-foresight states the share of the
// attainable saving the EMSs captured, in the summary and the report, and
// every setting's members worse off; imbalance= sets the rule.
func TestSimComparesBiddingAndImbalance(t *testing.T) {
	file := filepath.Join(t.TempDir(), "three.toml")
	if err := os.WriteFile(file, []byte(strings.Replace(threeSites, "utc_offset_h = 1", "utc_offset_h = 1\nimbalance = \"utility\"", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	dir, out := simReport(t, "--community", file, "--days", "1", "--from", "2025-06-02", "--compare", "bidding=ems,perfect-foresight")
	raw, k := readKPIs(t, dir)
	var doc struct {
		Runs []struct {
			Bidding   string `json:"bidding"`
			Imbalance string `json:"imbalance"`
		} `json:"runs"`
		EMSCapture *struct {
			EMSSavingsNano     int64    `json:"ems_savings_nano"`
			PerfectSavingsNano int64    `json:"perfect_savings_nano"`
			Share              *float64 `json:"share"`
		} `json:"ems_capture"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 2 || doc.Runs[0].Bidding != "ems" || doc.Runs[1].Bidding != "perfect-foresight" || doc.Runs[0].Imbalance != "utility" {
		t.Fatalf("runs %+v", doc.Runs)
	}
	c := doc.EMSCapture
	if c == nil || c.EMSSavingsNano != k.Runs[0].KPIs.Community.SavingsNano || c.PerfectSavingsNano != k.Runs[1].KPIs.Community.SavingsNano {
		t.Fatalf("ems_capture %+v", c)
	}
	if c.Share != nil && !strings.Contains(out, fmt.Sprintf("EMS CAPTURED %.1f %%", *c.Share*100)) || !strings.Contains(out, "WORSE OFF") || !regexp.MustCompile(`bidding=ems +\S+ +\S+ %? *\d+/3 `).MatchString(out) {
		t.Errorf("summary:\n%s", out)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	if !bytes.Contains(html, []byte(`id="ems-capture"`)) || !bytes.Contains(html, []byte(`id="chart-savings-sorted"`)) {
		t.Error("the report lacks the EMS's share of the attainable saving or the sorted savings chart")
	}
	dir, out = simReport(t, "--community", file, "--days", "1", "--from", "2025-06-02", "--compare", "imbalance=community,utility")
	if _, k := readKPIs(t, dir); len(k.Runs) != 2 || k.Runs[0].AppHash == k.Runs[1].AppHash || strings.Contains(out, "EMS CAPTURED") {
		t.Errorf("imbalance=community,utility: %d runs, the same ledger, or a capture:\n%s", len(k.Runs), out)
	}
}

// The report opens in Debian's Chromium, headless, and lays out every
// chart; a screenshot of it is kept as a test artefact.
func TestSimReportRendersInChromium(t *testing.T) {
	dir, _ := simReport(t, "--sites", "12", "--days", "3")
	html, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	figures := bytes.Count(html, []byte(`<figure id="chart-`))
	if figures < 5 {
		t.Fatalf("%d charts in the page, want at least 5", figures)
	}
	for _, name := range []string{"mcp", "load", "peak-day", "traded", "savings"} {
		f, err := os.Open(filepath.Join(dir, "charts", name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 900 {
			t.Errorf("charts/%s.png: %v, %v", name, err, img.Bounds())
		}
	}
	page := "file://" + filepath.Join(dir, "index.html")
	dom := chromium(t, "--dump-dom", page)
	m := regexp.MustCompile(`data-charts-rendered="(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page's script did not run in Chromium:\n%.500s", dom)
	}
	if n, _ := strconv.Atoi(m[1]); n != figures {
		t.Errorf("Chromium laid out %s of %d charts", m[1], figures)
	}
	if !strings.Contains(dom, "Key figures") || !strings.Contains(dom, "saved") {
		t.Error("the rendered page lacks its summary and KPI table")
	}
	shot := filepath.Join(artefacts(t), "sim-report.png")
	chromium(t, "--screenshot="+shot, "--window-size=1000,2400", page)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// A blank page is one colour: the charts put many in.
	colours := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[r>>11<<10|g>>11<<5|bl>>11] = true
		}
	}
	if len(colours) < 8 {
		t.Errorf("the screenshot has %d colours: the page did not render", len(colours))
	}
}

// chromium runs Debian's Chromium headless with a fresh profile and the
// flags this machine's closed network needs, and returns its stdout.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--allow-file-access-from-files", "--user-data-dir=" + t.TempDir()}
	cmd := exec.Command("chromium", append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// artefacts is where tests keep what people may want to look at
// (screenshots): $GRIDLEDGER_ARTEFACTS, or the test's temporary directory.
func artefacts(t *testing.T) string {
	if d := os.Getenv("GRIDLEDGER_ARTEFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// --compare batteries=on,off runs the community with its batteries and
// without: the battery's throughput is in kpis.json, members.csv and the
// summary for the first, absent from the second, which --batteries off
// reproduces to the app hash.
func TestSimComparesBatteries(t *testing.T) {
	file := filepath.Join(t.TempDir(), "three.toml")
	withBattery := strings.Replace(threeSites, "pv = { capacity_w = 8000 }",
		"pv = { capacity_w = 8000 }\nbattery = { capacity_wh = 10000, max_charge_w = 5000, max_discharge_w = 5000 }", 1)
	if err := os.WriteFile(file, []byte(withBattery), 0o644); err != nil {
		t.Fatal(err)
	}
	dir, out := simReport(t, "--community", file, "--days", "2", "--from", "2025-06-02", "--compare", "batteries=on,off")
	raw, k := readKPIs(t, dir)
	var doc struct {
		Runs []struct {
			KPIs struct {
				Community map[string]any `json:"community"`
			} `json:"kpis"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(k.Runs) != 2 || k.Runs[0].Setting != "batteries=on" || k.Runs[1].Setting != "batteries=off" || k.Runs[0].AppHash == k.Runs[1].AppHash {
		t.Fatalf("runs %+v", k.Runs)
	}
	on, off := doc.Runs[0].KPIs.Community, doc.Runs[1].KPIs.Community
	if charged, _ := on["battery_charge_wh"].(float64); charged <= 0 || on["battery_capacity_wh"] != float64(10000) || on["battery_cycles"] == nil {
		t.Errorf("with batteries: %v charged, %v Wh, %v cycles", on["battery_charge_wh"], on["battery_capacity_wh"], on["battery_cycles"])
	}
	for key := range off {
		if strings.HasPrefix(key, "battery") {
			t.Errorf("without batteries kpis.json has %s", key)
		}
	}
	if !regexp.MustCompile(`batteries=on: batteries of 10\.000 kWh charged [0-9.]+ kWh`).MatchString(out) || !strings.Contains(out, "batteries=off: no batteries") {
		t.Errorf("summary:\n%s", out)
	}
	csvb, _ := os.ReadFile(filepath.Join(dir, "members.csv"))
	if !bytes.Contains(csvb, []byte("battery_cycles")) {
		t.Error("members.csv lacks the battery columns")
	}
	dir2, _ := simReport(t, "--community", file, "--days", "2", "--from", "2025-06-02", "--batteries", "off")
	if _, k2 := readKPIs(t, dir2); k2.Runs[0].AppHash != k.Runs[1].AppHash {
		t.Errorf("--batteries off ended at %s, batteries=off at %s", k2.Runs[0].AppHash, k.Runs[1].AppHash)
	}
	for _, bad := range [][]string{{"--compare", "batteries=maybe"}, {"--batteries", "maybe"}} {
		if _, _, err := runRoot(t, "", append([]string{"sim", "--community", file, "--days", "1", "--out", t.TempDir()}, bad...)...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

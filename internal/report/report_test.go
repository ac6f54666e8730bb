package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/kpi"
)

// Tariffs of the fixtures, micro-units per kWh.
const (
	grid   = 100_000
	feedIn = 40_000
)

// run is one setting over two hours of n members, each importing 1000 Wh
// an hour (100M nano at the grid tariff) and paying the utility
// paid(k) in the first hour and 100M in the second: member k saves
// 100M − paid(k).
func run(setting, bidding string, n int, paid func(k int) int64) Run {
	var members []kpi.MemberInfo
	for k := range n {
		members = append(members, kpi.MemberInfo{ID: fmt.Sprintf("m%03d", k), NodeType: "household"})
	}
	acc := kpi.NewAccumulator(members)
	var hours []kpi.HourPoint
	for t := range 2 {
		iv := kpi.Interval{Start: int64(t) * 3600, GridPricePerKWh: grid, FeedInPerKWh: feedIn}
		for k, m := range members {
			p := int64(100_000_000)
			if t == 0 {
				p = paid(k)
			}
			iv.Members = append(iv.Members, kpi.Member{ID: m.ID, ConsumptionWh: 1000, ConsumptionNoDRWh: 1000, ImportWh: 1000, PaidUtilityNano: p})
		}
		hours = append(hours, acc.Add(iv))
	}
	return Run{Setting: setting, Mechanism: "average-bid", Imbalance: contract.ImbalanceUtility, Bidding: bidding,
		KPIs: acc.Report(1000, 7200), Hours: hours}
}

func meta(n int) Meta {
	return Meta{Community: "Test", Sites: n, SitesByType: map[string]int{"household": n}, Seed: 1, From: "2025-01-01", Days: 1}
}

// Members 0..24 of 40 lose (k+1)M each, the others save (k−24)M: 25 losers,
// m024 the worst.
func losing(k int) int64 {
	if k < 25 {
		return 100_000_000 + int64(k+1)*1_000_000
	}
	return 100_000_000 - int64(k-24)*1_000_000
}

// The page names at most 20 of the members who lost, the largest loss
// first, and says how many more there are; kpis.json lists them all.
func TestLosersOnThePageAndAllInKPIs(t *testing.T) {
	dir := t.TempDir()
	runs := []Run{run("bidding=ems", community.BiddingEMS, 40, losing), run("bidding=perfect-foresight", community.BiddingPerfectForesight, 40, func(int) int64 { return 90_000_000 })}
	if err := Write(dir, meta(40), runs); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	page := string(html)
	var want []string
	for k := 24; k >= 5; k-- {
		want = append(want, fmt.Sprintf("m%03d", k))
	}
	line := "bidding=ems: 25 of 40 members lost against the utility alone: " + strings.Join(want, ", ") + " and 5 more"
	if !strings.Contains(page, line) {
		t.Errorf("the page lacks %q", line)
	}
	if strings.Contains(page, "m004,") || !strings.Contains(page, "bidding=perfect-foresight: no member lost") {
		t.Error("the page names a 21st loser, or does not say nobody lost under perfect foresight")
	}
	var doc struct {
		Runs []struct {
			KPIs struct {
				Community kpi.Community `json:"community"`
			} `json:"kpis"`
		} `json:"runs"`
		EMSCapture *Capture `json:"ems_capture"`
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "kpis.json"))
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	ids := doc.Runs[0].KPIs.Community.MembersLosingIDs
	if len(ids) != 25 || ids[0] != "m024" || ids[24] != "m000" || doc.Runs[0].KPIs.Community.MembersLosing != 25 {
		t.Errorf("kpis.json: %d losing, ids %v", doc.Runs[0].KPIs.Community.MembersLosing, ids)
	}
	// The EMS's members saved Σ 1..15M − Σ 1..25M = −205M; with perfect
	// foresight each saved 10M: no attainable saving is captured by a loss.
	c := doc.EMSCapture
	if c == nil || c.EMSSavingsNano != -205_000_000 || c.PerfectSavingsNano != 400_000_000 || c.Share == nil || *c.Share != -0.5125 {
		t.Fatalf("ems_capture %+v", c)
	}
	if !strings.Contains(page, `id="ems-capture"`) || !strings.Contains(page, "captured -51.2 % of the saving attainable with perfect foresight") {
		t.Error("the page does not state the share of the attainable saving the EMS captured")
	}
}

func TestEMSCapture(t *testing.T) {
	saves := func(m int64) func(int) int64 { return func(int) int64 { return 100_000_000 - m } }
	ems := run("bidding=ems", community.BiddingEMS, 4, saves(3_000_000))
	pf := run("bidding=perfect-foresight", community.BiddingPerfectForesight, 4, saves(4_000_000))
	c := EMSCapture([]Run{pf, ems})
	if c == nil || c.Share == nil || *c.Share != 0.75 || c.EMSSetting != "bidding=ems" || c.PerfectSetting != "bidding=perfect-foresight" {
		t.Fatalf("capture %+v", c)
	}
	if !strings.Contains(CaptureText(c), "captured 75.0 % of the saving attainable") {
		t.Errorf("text %q", CaptureText(c))
	}
	// Without both modes there is nothing to compare; without an
	// attainable saving there is no share.
	if EMSCapture([]Run{ems, ems}) != nil || EMSCapture([]Run{pf}) != nil || EMSCapture(nil) != nil {
		t.Error("a capture without both bidding modes")
	}
	none := run("bidding=perfect-foresight", community.BiddingPerfectForesight, 4, saves(0))
	if c := EMSCapture([]Run{ems, none}); c == nil || c.Share != nil || !strings.Contains(CaptureText(c), "no attainable saving") {
		t.Errorf("capture against no saving: %+v", c)
	}
	// Under the community imbalance rule the page says why the share is 1.
	ems.Imbalance, pf.Imbalance = contract.ImbalanceCommunity, contract.ImbalanceCommunity
	if !strings.Contains(CaptureText(EMSCapture([]Run{ems, pf})), "hardly depend on the bids") {
		t.Error("no caveat under the community rule")
	}
}

// The sorted savings chart has one ascending line per setting over the
// members' ranks and the zero line, and is written as a PNG with the others.
func TestSavingsSortedChart(t *testing.T) {
	runs := []Run{run("a", community.BiddingEMS, 40, losing), run("b", community.BiddingEMS, 40, func(k int) int64 { return int64(k) * 7_000_000 })}
	f := savingsSortedFigure(runs)
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(f.Lines) != 3 || len(f.X) != 40 || f.Lines[0].Name != "a" || f.Lines[1].Name != "b" {
		t.Fatalf("%d lines over %d members", len(f.Lines), len(f.X))
	}
	for _, s := range f.Lines[:2] {
		if !slices.IsSorted(s.Values) {
			t.Errorf("%s is not ascending: %v", s.Name, s.Values)
		}
	}
	// a: −25 € … −1 €, then 1 € … 15 €, as a share of each member's
	// utility-alone bill (2 kWh at the grid tariff).
	bill := 2 * float64(grid) / 1e6
	if v := f.Lines[0].Values; math.Abs(v[0]+100*0.025/bill) > 1e-9 || math.Abs(v[39]-100*0.015/bill) > 1e-9 {
		t.Errorf("a runs from %v to %v %%", v[0], v[39])
	}
	for _, v := range f.Lines[2].Values {
		if v != 0 {
			t.Fatalf("the zero line is at %v", v)
		}
	}
	dir := t.TempDir()
	if err := Write(dir, meta(40), runs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "charts", "savings-sorted.png"))
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() < 900 {
		t.Fatalf("savings-sorted.png: %v", err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	if !bytes.Contains(html, []byte(`id="chart-savings-sorted"`)) {
		t.Error("the page lacks the sorted savings chart")
	}
}

// The KPI table has the members better off and the savings percentiles
// per setting; members.csv keeps its columns.
func TestPercentilesAndMembersCSV(t *testing.T) {
	runs := []Run{run("x", community.BiddingEMS, 40, losing)}
	rows := map[string]string{}
	for _, r := range communityRows(runs) {
		rows[r.Name] = r.Values[0]
	}
	// Savings −25M … −1M, 1M … 15M; p5 at rank 1.95: −24M + 0.95 × 1M.
	for name, want := range map[string]string{"Members better off": "15", "Members who lost": "25",
		"Member savings, 5th percentile": "€ -0.02", "… median": "€ -0.01", "… 95th percentile": "€ 0.01"} {
		if rows[name] != want {
			t.Errorf("%s = %q, want %q", name, rows[name], want)
		}
	}
	c := runs[0].KPIs.Community
	if *c.SavingsP5Nano != -23_050_000 || *c.SavingsP50Nano != *c.SavingsMedianNano || *c.SavingsP95Nano != 13_050_000 {
		t.Errorf("percentiles %d %d %d", *c.SavingsP5Nano, *c.SavingsP50Nano, *c.SavingsP95Nano)
	}
	recs, err := csv.NewReader(bytes.NewReader(membersCSV(runs))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, name := range []string{"setting", "member", "savings", "pool_import_wh", "pool_export_wh"} {
		if _, ok := col[name]; !ok {
			t.Fatalf("members.csv lacks %s: %v", name, recs[0])
		}
	}
	if r := recs[1]; r[col["setting"]] != "x" || r[col["member"]] != "m000" || r[col["savings"]] != "-0.001" {
		t.Errorf("members.csv row %v", r)
	}
}

// A run with batteries adds their columns to members.csv and their rows
// to the KPI table; a run without them keeps both as they were.
func TestBatteriesInTheReport(t *testing.T) {
	plain := []Run{run("", community.BiddingEMS, 3, losing)}
	withBat := run("batteries=on", community.BiddingEMS, 3, losing)
	withBat.KPIs.Community.BatteryCapacityWh, withBat.KPIs.Community.BatteryChargeWh = 10_000, 4000
	withBat.KPIs.Members[1].BatteryCapacityWh, withBat.KPIs.Members[1].BatteryChargeWh = 10_000, 4000
	both := []Run{withBat, plain[0]}
	for _, c := range []struct {
		runs []Run
		want bool
	}{{plain, false}, {both, true}} {
		recs, err := csv.NewReader(bytes.NewReader(membersCSV(c.runs))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		head := strings.Join(recs[0], ",")
		if strings.Contains(head, "battery") != c.want || (c.want && !strings.HasSuffix(head, ",battery_capacity_wh,battery_charge_wh,battery_discharge_wh,battery_cycles")) {
			t.Errorf("batteries %v: members.csv columns %s", c.want, head)
		}
		if c.want && (recs[2][len(recs[0])-3] != "4000" || recs[1][len(recs[0])-3] != "0") {
			t.Errorf("members.csv rows %v", recs[1:3])
		}
		rows := map[string][]string{}
		for _, r := range communityRows(c.runs) {
			rows[r.Name] = r.Values
		}
		if got, ok := rows["Batteries charged"]; ok != c.want || (ok && got[0] != "4.000 kWh") {
			t.Errorf("batteries %v: row %v", c.want, got)
		}
	}
}

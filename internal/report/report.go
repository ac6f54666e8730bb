// Package report writes a simulation's results for people and for
// programs: kpis.json (the same bytes for the same community and seed),
// per-interval and per-member CSV, an HTML page with its charts inline,
// and the charts as PNG for papers. It formats; the KPIs themselves are
// defined in internal/kpi.
package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/kpi"
	"github.com/gridledger/gridledger/internal/units"
)

// Meta describes what was simulated.
type Meta struct {
	Community   string         `json:"community"`
	Sites       int            `json:"sites"`
	SitesByType map[string]int `json:"sites_by_type"`
	Seed        uint64         `json:"seed"`
	From        string         `json:"from"` // first local day, YYYY-MM-DD
	Days        int            `json:"days"`
	UTCOffsetH  int            `json:"utc_offset_h"`
}

// Run is one setting's results.
type Run struct {
	// Setting names what differs between compared runs
	// ("mechanism=uniform"); empty for a single run.
	Setting        string           `json:"setting,omitempty"`
	Mechanism      string           `json:"mechanism"`
	DemandResponse bool             `json:"demand_response"`
	Imbalance      string           `json:"imbalance"` // deviations settled: community or utility
	Bidding        string           `json:"bidding"`   // the sites bid: ems or perfect-foresight
	AppHash        string           `json:"app_hash"`
	Height         int64            `json:"height"`
	Transactions   int64            `json:"transactions"`
	Refused        map[string]int64 `json:"refused"`
	// RefusedFirst is the ledger's message for the first refusal of each
	// code: where to start looking.
	RefusedFirst map[string]string `json:"refused_first,omitempty"`
	KPIs         kpi.Report        `json:"kpis"`
	// Hours are the community's sums per interval (intervals.csv and the
	// charts); not repeated in kpis.json.
	Hours []kpi.HourPoint `json:"-"`
}

// Capture is how much of the saving the market can give the EMSs' bids
// captured: the community's savings with the sites bidding by their EMS
// against the same community bidding its true net load (perfect
// foresight), from a comparison of bidding=ems and
// bidding=perfect-foresight.
type Capture struct {
	EMSSetting     string `json:"ems_setting"`
	PerfectSetting string `json:"perfect_setting"`
	// Imbalance is the rule both runs settled by. Under the community
	// rule the community's savings do not depend on the bids (the utility
	// settles only its net deviation, and money between members cancels),
	// so the share is 1 but for orders priced outside the tariffs.
	Imbalance string `json:"imbalance"`
	// The community's savings_nano in each run.
	EMSSavingsNano     int64 `json:"ems_savings_nano"`
	PerfectSavingsNano int64 `json:"perfect_savings_nano"`
	// Share is EMSSavingsNano / PerfectSavingsNano, a ratio rounded to 4
	// decimals; null when perfect foresight saved nothing (no attainable
	// saving to share).
	Share *float64 `json:"share"`
}

// EMSCapture compares the first run bidding by EMS with the first bidding
// with perfect foresight; nil unless the runs have both.
func EMSCapture(runs []Run) *Capture {
	var ems, pf *Run
	for i := range runs {
		switch r := &runs[i]; r.Bidding {
		case community.BiddingEMS:
			if ems == nil {
				ems = r
			}
		case community.BiddingPerfectForesight:
			if pf == nil {
				pf = r
			}
		}
	}
	if ems == nil || pf == nil {
		return nil
	}
	c := &Capture{EMSSetting: ems.Setting, PerfectSetting: pf.Setting, Imbalance: ems.Imbalance,
		EMSSavingsNano: ems.KPIs.Community.SavingsNano, PerfectSavingsNano: pf.KPIs.Community.SavingsNano}
	if c.PerfectSavingsNano > 0 {
		share := math.Round(float64(c.EMSSavingsNano)/float64(c.PerfectSavingsNano)*1e4) / 1e4
		c.Share = &share
	}
	return c
}

// Write writes the report into dir, creating it.
func Write(dir string, meta Meta, runs []Run) error {
	if err := os.MkdirAll(filepath.Join(dir, "charts"), 0o755); err != nil {
		return err
	}
	doc := struct {
		Meta
		Runs []Run `json:"runs"`
		// EMSCapture is there when the runs compare bidding=ems with
		// bidding=perfect-foresight.
		EMSCapture *Capture `json:"ems_capture,omitempty"`
	}{meta, runs, EMSCapture(runs)}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	files := map[string][]byte{"kpis.json": append(js, '\n'), "intervals.csv": intervalsCSV(runs), "members.csv": membersCSV(runs)}
	charts, err := Charts(meta, runs)
	if err != nil {
		return err
	}
	for _, c := range charts {
		files[filepath.Join("charts", c.Name+".png")] = c.PNG
	}
	html, err := page(meta, runs, charts)
	if err != nil {
		return err
	}
	files["index.html"] = html
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func price(p *int64) string {
	if p == nil {
		return ""
	}
	return units.Price(*p)
}

func ratio(r *float64) string {
	if r == nil {
		return ""
	}
	return strconv.FormatFloat(*r, 'f', -1, 64)
}

// intervalsCSV has a row per run and interval; energy in Wh, prices in
// currency per kWh, times in the community's local time.
func intervalsCSV(runs []Run) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"setting", "start", "load_wh", "load_no_dr_wh", "generation_wh", "p2p_wh", "pool_wh", "grid_import_wh", "grid_export_wh",
		"mcp_per_kwh", "grid_price_per_kwh", "feed_in_per_kwh"})
	for _, r := range runs {
		for _, h := range r.Hours {
			i := strconv.FormatInt
			_ = w.Write([]string{r.Setting, time.Unix(h.Start, 0).UTC().Format(time.RFC3339), i(h.LoadWh, 10), i(h.LoadNoDRWh, 10),
				i(h.GenerationWh, 10), i(h.P2PWh, 10), i(h.PoolWh, 10), i(h.GridImportWh, 10), i(h.GridExportWh, 10),
				price(h.MCPPerKWh), units.Price(h.GridPricePerKWh), units.Price(h.FeedInPerKWh)})
		}
	}
	w.Flush()
	return b.Bytes()
}

// membersCSV has a row per run and member; energy in Wh, money in
// currency units. The battery columns come last, when a run has
// batteries.
func membersCSV(runs []Run) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	bat := hasBatteries(runs)
	head := []string{"setting", "member", "node_type", "consumption_wh", "production_wh", "import_wh", "export_wh",
		"bought_p2p_wh", "sold_p2p_wh", "self_consumption", "self_sufficiency", "local_share",
		"utility_only_cost", "cost", "savings", "savings_pct", "dr_verified_wh", "dr_incentive", "forecast_nmae_load", "forecast_nmae_pv",
		"pool_import_wh", "pool_export_wh"}
	if bat {
		head = append(head, "battery_capacity_wh", "battery_charge_wh", "battery_discharge_wh", "battery_cycles")
	}
	_ = w.Write(head)
	for _, r := range runs {
		for _, m := range r.KPIs.Members {
			i := func(v int64) string { return strconv.FormatInt(v, 10) }
			rec := []string{r.Setting, m.ID, m.NodeType, i(m.ConsumptionWh), i(m.ProductionWh), i(m.ImportWh), i(m.ExportWh),
				i(m.BoughtP2PWh), i(m.SoldP2PWh), ratio(m.SelfConsumption), ratio(m.SelfSufficiency), ratio(m.LocalShare),
				units.Money(m.UtilityOnlyCostNano), units.Money(m.CostNano), units.Money(m.SavingsNano), ratio(m.SavingsPct),
				i(m.DRVerifiedWh), units.Money(m.DRIncentiveNano), ratio(m.ForecastNMAELoad), ratio(m.ForecastNMAEPV),
				i(m.PoolImportWh), i(m.PoolExportWh)}
			if bat {
				rec = append(rec, i(m.BatteryCapacityWh), i(m.BatteryChargeWh), i(m.BatteryDischargeWh), ratio(m.BatteryCycles))
			}
			_ = w.Write(rec)
		}
	}
	w.Flush()
	return b.Bytes()
}

func kwh(wh int64) string { return fmt.Sprintf("%s kWh", units.KWh(wh)) }

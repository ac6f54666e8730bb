package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/forecast"
	"github.com/gridledger/gridledger/internal/kpi"
	"github.com/gridledger/gridledger/internal/report"
	"github.com/gridledger/gridledger/internal/sim"
	"github.com/gridledger/gridledger/internal/units"
)

func newSimCmd() *cobra.Command {
	var file, from, out, compare, batteries string
	var sites, days, workers int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate a community over days or a year and write a report with its KPIs and charts",
		Long: `sim runs the real ledger contract and every site's EMS over a community for
a period, as fast as the machine allows: the contract's ABCI application is
driven block by block, an hour a block, with no consensus or network in
the loop. Each hour the meters sign their readings, each home forecasts,
plans, answers the DSO's demand-response requests and bids, the auction
clears and the ledger settles against the readings.

The community comes from a file (--community, see docs/community.md and
'gridledger sim generate') or is generated (--sites N). The same community
and seed give the same report and the same final app hash.

--compare runs the same community under several settings side by side:
  --compare mechanism=average-bid,uniform,pay-as-bid
  --compare dr=on,off
  --compare imbalance=community,utility     how deviations are settled
  --compare bidding=ems,perfect-foresight   the EMSs' bids against the
                                            sites' true net load: the report
                                            says what share of the attainable
                                            saving the EMSs captured
  --compare batteries=on,off                the sites' home batteries against
                                            the same community without them

A generated community gives 40 % of its prosumers a home battery but
simulates them only with --batteries on (or --compare batteries=on,off):
the battery planner is exact but not yet fast enough for every realistic
home. --batteries off runs a community file's batteries out.

The report (--out) holds index.html (open it in a browser), kpis.json,
intervals.csv, members.csv and charts/*.png. Progress goes to stderr.`,
		Example: `  gridledger sim --sites 200 --days 30 --out report
  gridledger sim generate --sites 50 --seed 7 --out community.toml
  gridledger sim --community community.toml --days 365 --compare mechanism=average-bid,uniform,pay-as-bid`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadCommunity(file, sites, seed)
			if err != nil {
				return err
			}
			if batteries != "" {
				if !slices.Contains(community.BatteriesModes, batteries) {
					return fmt.Errorf("--batteries %q: want on or off", batteries)
				}
				c.Batteries = batteries
			}
			if from == "" {
				from = c.Start
			}
			day, err := time.Parse(time.DateOnly, from)
			if err != nil {
				return fmt.Errorf("--from %q: want YYYY-MM-DD", from)
			}
			if days < 1 || days > 3660 {
				return fmt.Errorf("--days %d: want 1..3660", days)
			}
			settings, err := sim.Variants(c, compare)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			defer sim.TuneGC(len(c.Sites))()
			meta := report.Meta{Community: c.Name, Sites: len(c.Sites), SitesByType: map[string]int{}, Seed: seed,
				From: day.Format(time.DateOnly), Days: days, UTCOffsetH: c.UTCOffsetH}
			for _, s := range c.Sites {
				meta.SitesByType[s.Type]++
			}
			fromS := forecast.LocalMidnight(day.Year(), day.Month(), day.Day(), c.UTCOffsetH)
			var runs []report.Run
			timing := map[string]any{}
			for i, st := range settings {
				label := st.Label
				if label == "" {
					label = "simulating"
				}
				bar := newProgress(cmd.ErrOrStderr(), fmt.Sprintf("[%d/%d] %s", i+1, len(settings), label))
				r, t, err := simulate(ctx, st.Community, seed, fromS, days, workers, bar.update)
				bar.done()
				if err != nil {
					return err
				}
				r.Setting = st.Label
				runs = append(runs, r)
				timing[orDefault(st.Label, "run")] = t
			}
			if err := report.Write(out, meta, runs); err != nil {
				return err
			}
			tj, _ := json.MarshalIndent(timing, "", "  ")
			if err := os.WriteFile(filepath.Join(out, "timing.json"), append(tj, '\n'), 0o644); err != nil {
				return err
			}
			return printSimSummary(cmd.OutOrStdout(), out, runs)
		},
	}
	cmd.Flags().StringVar(&file, "community", "", "community description (TOML); see docs/community.md")
	cmd.Flags().IntVar(&sites, "sites", 0, "generate a community of this many sites instead of reading one")
	cmd.Flags().IntVar(&days, "days", 30, "days to simulate")
	cmd.Flags().StringVar(&from, "from", "", "first day, YYYY-MM-DD (default: the community's start)")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the weather, the households and the keys")
	cmd.Flags().StringVar(&out, "out", "report", "directory to write the report into")
	cmd.Flags().StringVar(&compare, "compare", "", "run each setting side by side: mechanism=a,b,…, dr=on,off, imbalance=community,utility, bidding=ems,perfect-foresight or batteries=on,off")
	cmd.Flags().StringVar(&batteries, "batteries", "", "on or off: simulate the sites' batteries (default: the community's batteries key, on)")
	cmd.Flags().IntVar(&workers, "workers", 0, "goroutines running the homes' EMS (default: one per core)")
	cmd.AddCommand(newSimGenerateCmd())
	return cmd
}

// orDefault is a, or b when a is empty.
func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newSimGenerateCmd() *cobra.Command {
	var sites int
	var seed uint64
	var out string
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Print a generated community description (TOML) to edit and simulate",
		Long: `generate writes a realistic community of --sites sites: households (some
with an EV), prosumers with rooftop PV, non-residential buildings, public
lighting, EV charging stations and PV and wind producers, with their load
profiles, appliances and the seed's tariffs. The same --sites and --seed
give the same file. docs/community.md explains every key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sites < 1 || sites > 100_000 {
				return fmt.Errorf("--sites %d: want 1..100000", sites)
			}
			b, err := community.Generate(sites, seed).Encode()
			if err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			return os.WriteFile(out, b, 0o644)
		},
	}
	cmd.Flags().IntVar(&sites, "sites", 50, "number of sites")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed")
	cmd.Flags().StringVarP(&out, "out", "f", "", "write to this file instead of stdout")
	return cmd
}

func loadCommunity(file string, sites int, seed uint64) (*community.Community, error) {
	switch {
	case file != "" && sites > 0:
		return nil, fmt.Errorf("give --community or --sites, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		c, err := community.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return c, nil
	case sites > 0:
		if sites > 100_000 {
			return nil, fmt.Errorf("--sites %d: want at most 100000", sites)
		}
		return community.Generate(sites, seed), nil
	}
	return nil, fmt.Errorf("give --community FILE or --sites N")
}

// simulate runs one setting and turns it into a report run.
func simulate(ctx context.Context, c *community.Community, seed uint64, from int64, days, workers int, progress func(int, int)) (report.Run, map[string]string, error) {
	// The KPIs are summed as the intervals settle: a year of a thousand
	// sites is never held in memory.
	acc := kpi.NewAccumulator(kpi.SiteMembers(c.SimSites()))
	var hours []kpi.HourPoint
	start := time.Now()
	res, err := sim.Run(ctx, sim.Options{Community: c, Seed: seed, From: from, Days: days, Workers: workers, Progress: progress,
		OnInterval: func(iv kpi.Interval) { hours = append(hours, acc.Add(iv)) }})
	if err != nil {
		return report.Run{}, nil, err
	}
	k := acc.Report(res.TxBytes+res.StateBytes, int64(days)*86400)
	wall := time.Since(start)
	t := res.Timing
	timing := map[string]string{"wall": wall.Round(time.Millisecond).String(), "ems": t.EMS.Round(time.Millisecond).String(),
		"meters": t.Meters.Round(time.Millisecond).String(), "checks": t.Checks.Round(time.Millisecond).String(), "ledger": t.Ledger.Round(time.Millisecond).String(),
		"kpis": t.Report.Round(time.Millisecond).String()}
	return report.Run{Mechanism: c.Mechanism, DemandResponse: c.DR.Enabled,
		Imbalance: orDefault(c.Imbalance, contract.ImbalanceCommunity), Bidding: orDefault(c.Bidding, community.BiddingEMS), AppHash: strings.ToUpper(hex.EncodeToString(res.AppHash)),
		Height: res.Height, Transactions: res.Txs, Refused: res.Refused, RefusedFirst: res.RefusedFirst, KPIs: k, Hours: hours}, timing, nil
}

func printSimSummary(w io.Writer, out string, runs []report.Run) error {
	if g.output == "json" {
		type row struct {
			Setting string        `json:"setting,omitempty"`
			AppHash string        `json:"app_hash"`
			KPIs    kpi.Community `json:"kpis"`
		}
		var rows []row
		for _, r := range runs {
			rows = append(rows, row{r.Setting, r.AppHash, r.KPIs.Community})
		}
		doc := map[string]any{"report": filepath.Join(out, "index.html"), "runs": rows}
		if c := report.EMSCapture(runs); c != nil {
			doc["ems_capture"] = c
		}
		return printJSON(w, doc)
	}
	pct := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f %%", *p*100)
	}
	price := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return units.Price(*p)
	}
	// Payments between members cancel in the community's savings: the
	// prices paid and received and the Gini show what a mechanism shares
	// out differently.
	fmt.Fprintf(w, "%-26s %11s %7s %9s %9s %9s %9s %9s %9s %6s %9s %8s\n", "SETTING", "SAVINGS", "OF BILL", "WORSE OFF", "SELF-SUFF", "P2P SHARE",
		"MEAN MCP", "PAID/kWh", "GOT/kWh", "GINI", "PEAK kWh", "DR -kWh")
	for _, r := range runs {
		c := r.KPIs.Community
		ofBill, gini := "-", "-"
		if c.SavingsPct != nil {
			ofBill = fmt.Sprintf("%.1f %%", *c.SavingsPct)
		}
		if c.FairnessGini != nil {
			gini = fmt.Sprintf("%.3f", *c.FairnessGini)
		}
		fmt.Fprintf(w, "%-26s %11s %7s %9s %9s %9s %9s %9s %9s %6s %9s %8s\n", orDefault(r.Setting, r.Mechanism), units.Money(c.SavingsNano/10_000_000*10_000_000), ofBill,
			fmt.Sprintf("%d/%d", c.MembersLosing, c.Members), pct(c.SelfSufficiency), pct(c.P2PShare), price(c.MeanMCPPerKWh), price(c.AvgPricePaidPerKWh), price(c.AvgPriceReceivedPerKWh), gini,
			units.KWh(c.PeakImportWh), units.KWh(c.PeakReductionDRWh))
	}
	for _, r := range runs {
		if c := r.KPIs.Community; c.BatteryCapacityWh > 0 {
			cycles := "-"
			if c.BatteryCycles != nil {
				cycles = fmt.Sprintf("%.1f", *c.BatteryCycles)
			}
			fmt.Fprintf(w, "%s: batteries of %s kWh charged %s kWh and discharged %s kWh (%s full cycles), self-consumption %s (%s from their charging), members paid %s\n",
				orDefault(r.Setting, "batteries"), units.KWh(c.BatteryCapacityWh), units.KWh(c.BatteryChargeWh), units.KWh(c.BatteryDischargeWh), cycles,
				pct(c.SelfConsumption), pct(c.BatterySelfConsumption), units.Money(c.CostNano/10_000_000*10_000_000))
		} else if r.Setting != "" {
			fmt.Fprintf(w, "%s: no batteries, self-consumption %s, members paid %s\n", r.Setting, pct(c.SelfConsumption),
				units.Money(c.CostNano/10_000_000*10_000_000))
		}
	}
	if c := report.EMSCapture(runs); c != nil {
		share := "-"
		if c.Share != nil {
			share = fmt.Sprintf("%.1f %%", *c.Share*100)
		}
		fmt.Fprintf(w, "EMS CAPTURED %s of the saving attainable with perfect foresight (savings %s of %s)\n", share,
			units.Money(c.EMSSavingsNano/10_000_000*10_000_000), units.Money(c.PerfectSavingsNano/10_000_000*10_000_000))
		if c.Imbalance == contract.ImbalanceCommunity {
			fmt.Fprintln(w, "  (under the community imbalance rule the community's savings hardly depend on the bids: compare with imbalance = \"utility\" in the community file)")
		}
	}
	if out == "" {
		return nil
	}
	for _, r := range runs {
		fmt.Fprintf(w, "%s: app hash %s after %d blocks, %d transactions\n", orDefault(r.Setting, "ledger"), r.AppHash, r.Height, r.Transactions)
	}
	fmt.Fprintf(w, "report: %s\n", filepath.Join(out, "index.html"))
	return nil
}

// progress draws a bar with an ETA on stderr: redrawn in place on a
// terminal, a line every tenth otherwise (logs, CI).
type progress struct {
	w      io.Writer
	label  string
	tty    bool
	start  time.Time
	last   time.Time
	tenths int
}

func newProgress(w io.Writer, label string) *progress {
	p := &progress{w: w, label: label, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(done, total int) {
	if total <= 0 {
		return
	}
	now := time.Now()
	frac := float64(done) / float64(total)
	eta := "?"
	if done > 0 {
		eta = (time.Duration(float64(now.Sub(p.start)) * (1 - frac) / frac)).Round(time.Second).String()
	}
	if p.tty {
		if now.Sub(p.last) < 200*time.Millisecond && done < total {
			return
		}
		p.last = now
		const width = 30
		n := int(frac * width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%%  %d/%d h  ETA %s   ", p.label, strings.Repeat("█", n), strings.Repeat("·", width-n), frac*100, done, total, eta)
		return
	}
	if t := int(frac * 10); t > p.tenths {
		p.tenths = t
		fmt.Fprintf(p.w, "%s: %d%% (%d/%d h), ETA %s\n", p.label, t*10, done, total, eta)
	}
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
	fmt.Fprintf(p.w, "%s: done in %s\n", p.label, time.Since(p.start).Round(100*time.Millisecond))
}

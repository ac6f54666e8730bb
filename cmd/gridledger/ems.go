package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/ems/forecast"
)

// newEMSCmd is the home energy management command; its subcommands are
// added in one list so that planning and bidding can join it.
func newEMSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ems",
		Short: "Home energy management: forecasting, planning, bidding",
	}
	cmd.AddCommand(newEMSForecastCmd(), newEMSBacktestCmd(), newEMSPlanCmd(), newEMSDRCmd(), newEMSRunCmd(), newEMSEVCmd())
	return cmd
}

// emsRangeFlags are the flags shared by forecast and backtest.
type emsRangeFlags struct {
	history    string
	from, to   string
	utcOffsetH int
}

func (f *emsRangeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.history, "history", "", "hourly history CSV: timestamp_utc,site,<value>_wh (required)")
	cmd.Flags().StringVar(&f.from, "from", "", "first local day, YYYY-MM-DD (required)")
	cmd.Flags().StringVar(&f.to, "to", "", "local day after the last, YYYY-MM-DD (required)")
	cmd.Flags().IntVar(&f.utcOffsetH, "utc-offset", 0, "local time = UTC + this many hours")
}

// load reads the history and returns the series per site and the local
// midnights of --from and --to as UTC unix seconds.
func (f *emsRangeFlags) load() (map[string]forecast.Series, int64, int64, error) {
	if f.history == "" || f.from == "" || f.to == "" {
		return nil, 0, 0, errors.New("--history, --from and --to are required")
	}
	if f.utcOffsetH < -12 || f.utcOffsetH > 14 {
		return nil, 0, 0, fmt.Errorf("--utc-offset %d: want -12..14", f.utcOffsetH)
	}
	fromS, err := parseLocalDate(f.from, f.utcOffsetH)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("--from: %w", err)
	}
	toS, err := parseLocalDate(f.to, f.utcOffsetH)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("--to: %w", err)
	}
	if toS <= fromS {
		return nil, 0, 0, fmt.Errorf("--to %s must be after --from %s", f.to, f.from)
	}
	file, err := os.Open(f.history)
	if err != nil {
		return nil, 0, 0, err
	}
	defer file.Close()
	sites, err := forecast.ReadHourlyCSV(file)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", f.history, err)
	}
	return sites, fromS, toS, nil
}

func parseLocalDate(s string, utcOffsetH int) (int64, error) {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a date YYYY-MM-DD", s)
	}
	return forecast.LocalMidnight(d.Year(), d.Month(), d.Day(), utcOffsetH), nil
}

func sortedSites(sites map[string]forecast.Series) []string {
	names := make([]string, 0, len(sites))
	for s := range sites {
		names = append(names, s)
	}
	sort.Strings(names)
	return names
}

func newEMSForecastCmd() *cobra.Command {
	var rf emsRangeFlags
	var method string
	cmd := &cobra.Command{
		Use:   "forecast",
		Short: "Forecast each site's hourly energy for local days [from, to) from the history before each day",
		Long: `Forecast each site's hourly energy (consumption or PV) for every local day in
[--from, --to), each day from the history rows before its local midnight only.
Prints CSV timestamp_utc,site,forecast_wh (hour starts, UTC). A site-day
without enough history is skipped with a warning on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := forecast.ParseMethod(method)
			if err != nil {
				return err
			}
			sites, fromS, toS, err := rf.load()
			if err != nil {
				return err
			}
			w := csv.NewWriter(cmd.OutOrStdout())
			_ = w.Write([]string{"timestamp_utc", "site", "forecast_wh"})
			rows := 0
			for _, site := range sortedSites(sites) {
				for day := fromS; day < toS; day += forecast.DayS {
					f, err := forecast.Forecast(sites[site], day, rf.utcOffsetH, m)
					if errors.Is(err, forecast.ErrNotEnoughHistory) {
						fmt.Fprintf(cmd.ErrOrStderr(), "gridledger: ems forecast: site %s: %v; skipped\n", site, err)
						continue
					}
					if err != nil {
						return fmt.Errorf("site %s: %w", site, err)
					}
					for h, wh := range f {
						ts := time.Unix(day+int64(h)*forecast.HourS, 0).UTC().Format(time.RFC3339)
						_ = w.Write([]string{ts, site, strconv.FormatInt(wh, 10)})
						rows++
					}
				}
			}
			w.Flush()
			if err := w.Error(); err != nil {
				return err
			}
			if rows == 0 {
				return errors.New("no site had enough history to forecast any day of the range")
			}
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&method, "method", string(forecast.Auto), "forecasting method: "+methodNames())
	return cmd
}

func methodNames() string {
	var names []string
	for _, m := range forecast.Methods() {
		names = append(names, string(m))
	}
	return strings.Join(names, ", ")
}

// emsScore is one row of ems backtest output.
type emsScore struct {
	Site   string  `json:"site"`
	Method string  `json:"method"`
	NMAE   float64 `json:"nmae"`
	RMSE   float64 `json:"rmse"` // Wh
	Hours  int     `json:"hours"`
}

func newEMSBacktestCmd() *cobra.Command {
	var rf emsRangeFlags
	var methods string
	cmd := &cobra.Command{
		Use:   "backtest",
		Short: "Score forecasting methods per site over local days [from, to): nMAE and RMSE on the same hours",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ms []forecast.Method
			for _, name := range strings.Split(methods, ",") {
				m, err := forecast.ParseMethod(strings.TrimSpace(name))
				if err != nil {
					return err
				}
				ms = append(ms, m)
			}
			sites, fromS, toS, err := rf.load()
			if err != nil {
				return err
			}
			var out []emsScore
			for _, site := range sortedSites(sites) {
				res, err := forecast.Backtest(sites[site], fromS, toS, rf.utcOffsetH, ms)
				if errors.Is(err, forecast.ErrNotEnoughHistory) {
					fmt.Fprintf(cmd.ErrOrStderr(), "gridledger: ems backtest: site %s: %v; skipped\n", site, err)
					continue
				}
				if err != nil {
					return fmt.Errorf("site %s: %w", site, err)
				}
				for _, s := range res.Scores {
					out = append(out, emsScore{Site: site, Method: string(s.Method), NMAE: s.NMAE, RMSE: s.RMSEWh, Hours: s.Hours})
				}
			}
			if len(out) == 0 {
				return errors.New("no site had enough history to score any day of the range")
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SITE\tMETHOD\tNMAE\tRMSE_WH\tHOURS")
			for _, s := range out {
				fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.0f\t%d\n", s.Site, s.Method, s.NMAE, s.RMSE, s.Hours)
			}
			return tw.Flush()
		},
	}
	rf.register(cmd)
	var all []string
	for _, m := range forecast.Methods() {
		all = append(all, string(m))
	}
	cmd.Flags().StringVar(&methods, "methods", strings.Join(all, ","), "comma-separated methods to compare")
	return cmd
}

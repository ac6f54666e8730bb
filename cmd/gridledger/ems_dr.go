package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chart"
	"github.com/gridledger/gridledger/internal/ems/dr"
	"github.com/gridledger/gridledger/internal/ems/plan"
	"github.com/gridledger/gridledger/internal/units"
)

// newEMSDRCmd returns `ems dr`: a home's day planned with and without a
// demand-response request, as a table and a chart (seed Figure 8).
func newEMSDRCmd() *cobra.Command {
	var sitePath, chartPath string
	var from, to int
	var incentive int64
	cmd := &cobra.Command{
		Use:   "dr --site FILE --from H --to H --incentive MICRO [--chart FILE.svg|png]",
		Short: "Show how a home re-plans its day for a demand-response request",
		Long: `dr plans a home's day (the site file of 'ems plan') as it would without a
request, then re-plans it for a request covering the hours [from, to)
paying --incentive micro-units per kWh of reduction, exactly as the EMS
agent does: it prints, per hour, the net import with and without the
request and the reduction the home would promise, the day's energy cost
either way and the incentive earned. --chart writes the day as a chart
(SVG or PNG by the file's extension).`,
		Example: `  gridledger ems dr --site docs/examples/home.json --from 18 --to 21 --incentive 300000 --chart day.svg`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from < 0 || from > 23 || to < 0 || to > 23 || incentive <= 0 {
				return errors.New("ems dr: --from and --to are hours 0..23 and --incentive is positive")
			}
			data, err := os.ReadFile(sitePath)
			if err != nil {
				return fmt.Errorf("ems dr: %w", err)
			}
			site, err := plan.Parse(data)
			if err != nil {
				return fmt.Errorf("ems dr: %s: %w", sitePath, err)
			}
			var inc [plan.HoursPerDay]int64
			for _, h := range plan.Window(from, to) {
				inc[h] = incentive
			}
			r, err := dr.Respond(site, inc)
			if err != nil {
				return fmt.Errorf("ems dr: %w", err)
			}
			if chartPath != "" {
				if err := writeDRChart(chartPath, r, from, to, incentive); err != nil {
					return fmt.Errorf("ems dr: chart: %w", err)
				}
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), r)
			}
			var buf bytes.Buffer
			tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "HOUR\tWITHOUT DR WH\tWITH DR WH\tPROMISED WH\t")
			for h := range plan.HoursPerDay {
				fmt.Fprintf(tw, "%02d\t%d\t%d\t%d\t\n", h, r.Base.NetWh[h], r.WithDR.NetWh[h], r.PromisedWh[h])
			}
			tw.Flush()
			var promised int64
			for _, p := range r.PromisedWh {
				promised += p
			}
			fmt.Fprintf(&buf, "energy cost without DR %s, with DR %s; %d Wh promised earn %s: the request is worth %s to the home\n",
				units.MoneyPlaces(r.BaseCostNano, 4), units.MoneyPlaces(r.DRCostNano, 4), promised, units.MoneyPlaces(r.IncentiveNano, 4),
				units.MoneyPlaces(r.IncentiveNano-(r.DRCostNano-r.BaseCostNano), 4))
			_, err = cmd.OutOrStdout().Write(buf.Bytes())
			return err
		},
	}
	cmd.Flags().StringVar(&sitePath, "site", "", "site JSON file (see 'ems plan')")
	cmd.Flags().IntVar(&from, "from", 17, "first hour of the request")
	cmd.Flags().IntVar(&to, "to", 20, "hour the request ends (exclusive)")
	cmd.Flags().Int64Var(&incentive, "incentive", 0, "incentive per kWh of reduction, micro-units")
	cmd.Flags().StringVar(&chartPath, "chart", "", "write the day as a chart: FILE.svg or FILE.png")
	_ = cmd.MarkFlagRequired("site")
	_ = cmd.MarkFlagRequired("incentive")
	return cmd
}

// writeDRChart draws the household's import per hour with and without the
// request, the request's hours shaded.
func writeDRChart(path string, r dr.Response, from, to int, incentive int64) error {
	kw := func(wh []int64) []float64 {
		out := make([]float64, len(wh))
		for i, v := range wh {
			out[i] = float64(v) / 1000
		}
		return out
	}
	toLabel := to
	if to <= from {
		toLabel = to + 24
	}
	bands := []chart.Band{{From: float64(from), To: float64(min(toLabel, 24)), Label: "DR request"}}
	if toLabel > 24 {
		bands = append(bands, chart.Band{From: 0, To: float64(to), Label: ""})
	}
	var promised int64
	for _, p := range r.PromisedWh {
		promised += p
	}
	f := chart.Figure{
		Title: "A household's day with and without demand response",
		Subtitle: fmt.Sprintf("Net import per hour; the request (%02d–%02d h, %s per kWh) moves %.1f kWh of flexible load out of its hours",
			from, to, units.MoneyPlaces(incentive*1000, 4), float64(promised)/1000),
		XLabel: "Hour of day", YLabel: "Net import", YUnit: "kW",
		XLabels: chart.Hours(),
		Lines: []chart.Series{
			{Name: "Without DR", Values: kw(r.Base.NetWh), Style: chart.Step | chart.Dashed, Color: chart.Grey},
			{Name: "With DR", Values: kw(r.WithDR.NetWh), Style: chart.Step | chart.Area, Color: chart.Blue},
		},
		Bands: bands,
	}
	var buf bytes.Buffer
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		err = f.SVG(&buf, 900, 460)
	case ".png":
		err = f.PNGScale(&buf, 900, 460, 2)
	default:
		return fmt.Errorf("%s: want a .svg or .png file", path)
	}
	if err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

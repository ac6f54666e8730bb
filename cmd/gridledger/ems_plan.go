package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/ems/plan"
	"github.com/gridledger/gridledger/internal/units"
)

// maxSiteBytes bounds a site file: 24-hour arrays and a few appliances
// fit in a few kB, so anything far larger is not a site.
const maxSiteBytes = 1 << 20

// newEMSPlanCmd returns `ems plan`, which plans a home's appliances for the
// next day at the least expected cost.
func newEMSPlanCmd() *cobra.Command {
	var sitePath string
	cmd := &cobra.Command{
		Use:   "plan --site FILE",
		Short: "Plan a home's flexible appliances for the next day at the least expected cost",
		Long: `Plan reads a site file (forecast base load and PV per hour, buy and sell
prices per kWh in micro-units, an optional hourly import limit, the
appliances of the seed's Table 8 and an optional home battery) and prints
the cheapest plan: when each appliance runs, what the battery charges or
discharges and its state of charge, the net Wh of every hour and the day's
cost in nano-units.
The input format is documented in internal/ems/plan.`,
		Example: `  gridledger ems plan --site home.json
  forecast-tool | gridledger ems plan --site - -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Render fully before writing, so an error prints nothing on stdout.
			out, err := emsPlan(cmd.InOrStdin(), sitePath, g.output)
			if err != nil {
				return fmt.Errorf("ems plan: %s", strings.ReplaceAll(err.Error(), "\n", " "))
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&sitePath, "site", "", "site JSON file, - for stdin")
	_ = cmd.MarkFlagRequired("site")
	return cmd
}

// emsPlan reads the site at path (- for stdin), plans it and renders the
// plan as output ("text" or "json").
func emsPlan(stdin io.Reader, path, output string) ([]byte, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, maxSiteBytes+1))
		path = "stdin"
	} else {
		var f *os.File
		if f, err = os.Open(path); err == nil {
			data, err = io.ReadAll(io.LimitReader(f, maxSiteBytes+1))
			f.Close()
		}
	}
	if err != nil {
		return nil, err
	}
	if len(data) > maxSiteBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxSiteBytes)
	}
	site, err := plan.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r, err := plan.Plan(site)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var buf bytes.Buffer
	if output == "json" {
		if err := printJSON(&buf, r); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	running := make([][]string, plan.HoursPerDay)
	for _, a := range r.Appliances {
		for _, h := range a.Hours {
			label := a.Name
			if a.WhByHour != nil {
				label = fmt.Sprintf("%s(%d Wh)", a.Name, a.WhByHour[h])
			}
			running[h] = append(running[h], label)
		}
	}
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	if b := r.Battery; b != nil {
		// The battery's grid side (+ charging, − discharging) and its
		// state of charge at the end of the hour.
		fmt.Fprintln(tw, "HOUR\tNET WH\tBATTERY WH\tSOC WH\tRUNNING")
		for h, n := range r.NetWh {
			fmt.Fprintf(tw, "%02d\t%d\t%+d\t%d\t%s\n", h, n, b.ChargeWh[h]-b.DischargeWh[h], b.SoCWh[h], strings.Join(running[h], " "))
		}
	} else {
		fmt.Fprintln(tw, "HOUR\tNET WH\tRUNNING")
		for h, n := range r.NetWh {
			fmt.Fprintf(tw, "%02d\t%d\t%s\n", h, n, strings.Join(running[h], " "))
		}
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	fmt.Fprintf(&buf, "cost: %d nano-units (%s)\npeak import: %d Wh\n", r.CostNano, units.MoneyPlaces(r.CostNano, 4), r.PeakImportWh)
	if b := r.Battery; b != nil {
		var in, out int64
		for h := range b.ChargeWh {
			in, out = in+b.ChargeWh[h], out+b.DischargeWh[h]
		}
		fmt.Fprintf(&buf, "battery: %d Wh charged, %d Wh discharged, wear %d nano-units (in the cost)\n", in, out, b.CycleCostNano)
	}
	if r.Approximate {
		fmt.Fprintln(&buf, "approximate: the exact search ran out of steps; this plan keeps every rule, but a cheaper one may exist")
	}
	return buf.Bytes(), nil
}

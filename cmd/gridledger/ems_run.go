package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/ems/agent"
	"github.com/gridledger/gridledger/internal/ems/forecast"
)

// newEMSRunCmd returns `ems run`, a home's EMS agent against a node.
func newEMSRunCmd() *cobra.Command {
	var sitePath, node string
	var lead int64
	cmd := &cobra.Command{
		Use:   "run --home DIR --site FILE",
		Short: "Run a home's EMS agent: forecast, plan, commit the plan, answer demand response, bid and offer",
		Long: `run is a home's energy management system. From the site file (TOML, see
internal/ems/agent: member, appliances, history files) it forecasts each
day from the home's own history, plans the appliances, commits the plan to
the ledger, answers the DSO's demand-response requests, and places a bid
or offer in each listing before gate closure, signed with the member's key
(HOME/keys/<member>.json). This standalone agent has no MQTT connection:
it logs each relay switch its plan calls for (an agent given the gateway,
as in the demand-response end-to-end test, sends them to the devices).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(os.Stderr)
			h, err := agent.LoadHome(sitePath)
			if err != nil {
				return err
			}
			key, err := chain.LoadKey(g.home, h.Member)
			if err != nil {
				return fmt.Errorf("the member's key: %w", err)
			}
			fc, err := homeForecast(h, filepath.Dir(sitePath))
			if err != nil {
				return err
			}
			cl, err := dial(node)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			a := &agent.Agent{Home: h, Key: key, Ledger: cl, Forecast: fc, Log: log, LeadIntervals: lead}
			log.Info("EMS running", "member", h.Member, "appliances", len(h.Appliances))
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				snap, err := agent.TakeSnapshot(ctx, cl, key)
				if err == nil {
					err = a.Step(ctx, snap)
				}
				if err != nil && ctx.Err() == nil {
					log.Warn("EMS step", "err", err)
				}
				select {
				case <-ctx.Done():
					return nil
				case <-tick.C:
				}
			}
		},
	}
	cmd.Flags().StringVar(&sitePath, "site", "", "the home's site file (TOML)")
	cmd.Flags().StringVar(&node, "node", "", "node RPC address (default: the home's)")
	cmd.Flags().Int64Var(&lead, "lead", 2, "place orders this many intervals before gate closure")
	_ = cmd.MarkFlagRequired("site")
	return cmd
}

// homeForecast reads the home's history files (paths relative to the site
// file) into its forecaster.
func homeForecast(h agent.Home, dir string) (agent.ForecastFunc, error) {
	if h.ConsumptionHistory == "" {
		return nil, errors.New("site file: consumption_history is required to forecast")
	}
	site := h.HistorySite
	if site == "" {
		site = h.Member
	}
	read := func(p string) (forecast.Series, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		all, err := forecast.ReadHourlyCSV(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		s, ok := all[site]
		if !ok {
			return nil, fmt.Errorf("%s: no rows for site %q", p, site)
		}
		return s, nil
	}
	cons, err := read(h.ConsumptionHistory)
	if err != nil {
		return nil, err
	}
	var pv forecast.Series
	if h.PVHistory != "" {
		if pv, err = read(h.PVHistory); err != nil {
			return nil, err
		}
	}
	m := forecast.Auto
	if h.Method != "" {
		if m, err = forecast.ParseMethod(h.Method); err != nil {
			return nil, err
		}
	}
	off := 0
	if h.UTCOffsetH != nil {
		off = *h.UTCOffsetH
	}
	return agent.HistoryForecast(cons, pv, off, m), nil
}

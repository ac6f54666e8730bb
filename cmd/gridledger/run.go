package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
	"github.com/gridledger/gridledger/internal/sim"
	"github.com/gridledger/gridledger/internal/units"
)

func newRunCmd() *cobra.Command {
	var scale int64
	var mech string
	var duration time.Duration
	var lead int64
	o := chain.DefaultInitOptions()
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the whole system on this machine: a validator and a simulated community trading every interval",
		Long: `run starts an embedded single validator and a simulated community of a dozen
members (households, prosumers with PV, a non-residential building, an EV
charging station, public lighting and a PV producer). Market time runs
--time-scale times faster than real time, so with the default an hourly
auction clears every 5 seconds. Each member signs its own bids and offers
and sends them to the node; each clearing is printed as it happens.

Without --home it uses a fresh temporary home; with --home it uses (and if
needed initialises) that one, so 'gridledger tx' and 'gridledger query'
can be pointed at it from another terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(os.Stderr)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			home := g.home
			if !cmd.Flags().Changed("home") {
				dir, err := os.MkdirTemp("", "gridledger-run-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				home = dir
			}
			if _, err := os.Stat(filepath.Join(home, "config", "genesis.json")); errors.Is(err, os.ErrNotExist) {
				o.TimeScale = scale
				o.Params.Mechanism = market.Mechanism(mech)
				if err := o.Params.Validate(); err != nil {
					return err
				}
				if err := chain.Init(home, o); err != nil {
					return err
				}
			}
			return runCommunity(ctx, cmd, home, lead, log)
		},
	}
	cmd.Flags().Int64Var(&scale, "time-scale", 720, "market seconds per real second for a new home (720: an hour every 5 s)")
	cmd.Flags().StringVar(&mech, "mechanism", string(market.AverageBid), "clearing mechanism for a new home")
	cmd.Flags().DurationVar(&duration, "duration", 0, "stop after this long (default: until interrupted)")
	cmd.Flags().Int64Var(&lead, "lead", 2, "members bid this many intervals before gate closure")
	cmd.Flags().StringVar(&o.RPCAddr, "rpc-laddr", o.RPCAddr, "RPC listen address for a new home")
	cmd.Flags().StringVar(&o.P2PAddr, "p2p-laddr", o.P2PAddr, "P2P listen address for a new home")
	return cmd
}

func runCommunity(ctx context.Context, cmd *cobra.Command, home string, lead int64, log *slog.Logger) error {
	n, err := chain.StartNode(ctx, home, log)
	if err != nil {
		return err
	}
	defer n.Stop()
	log.Info("validator running", "home", home, "rpc", n.RPCAddr(), "chain", n.GenesisDoc().ChainID)
	cl, err := chain.Dial(n.RPCAddr())
	if err != nil {
		return err
	}
	op, err := chain.LoadKey(home, "operator")
	if err != nil {
		return err
	}
	dso, err := chain.LoadKey(home, "dso")
	if err != nil {
		return err
	}
	live := &sim.Live{Client: cl, Operator: op, DSO: dso, Sites: sim.DemoCommunity(), Keys: map[string]chain.Key{},
		Log: log, LeadIntervals: lead, FundsNano: 50 * units.NanoPerUnit}
	for _, s := range live.Sites {
		k, err := chain.LoadKey(home, s.ID)
		if err != nil {
			k = chain.NewKey(s.ID, contract.RoleMember)
			if err := chain.SaveKey(home, s.ID, k); err != nil {
				return err
			}
		}
		live.Keys[s.ID] = k
	}
	if err := live.Register(ctx); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if g.output == "text" {
		fmt.Fprintf(out, "%-17s %-11s %6s %10s %10s %10s %10s %10s %7s\n", "DELIVERY", "MECHANISM", "ORDERS", "MCP/kWh", "OFFERED", "WANTED", "TRADED", "GRID IN", "GRID OUT")
	}
	live.OnClearing = func(l contract.ListingView) {
		c := l.Clearing
		var in, outWh int64
		for _, f := range c.GridImport {
			in += f.Wh
		}
		for _, f := range c.GridExport {
			outWh += f.Wh
		}
		if g.output == "json" {
			_ = printJSONLine(out, map[string]any{"listing": l.Start, "delivery": clock(l.Start), "mechanism": l.Mechanism,
				"orders": l.Orders, "mcp": c.MCP, "available_wh": c.AvailableWh, "wanted_wh": c.WantedWh, "traded_wh": c.TradedWh,
				"grid_import_wh": in, "grid_export_wh": outWh, "trades": len(c.Trades), "height": c.Height})
			return
		}
		mcp := "-"
		if c.MCP != nil {
			mcp = units.Price(*c.MCP)
		}
		fmt.Fprintf(out, "%-17s %-11s %6d %10s %7s kWh %6s kWh %6s kWh %6s kWh %6s kWh\n", clock(l.Start), l.Mechanism, l.Orders, mcp,
			units.KWh(c.AvailableWh), units.KWh(c.WantedWh), units.KWh(c.TradedWh), units.KWh(in), units.KWh(outWh))
	}
	log.Info("community trading; Ctrl-C to stop", "members", len(live.Sites),
		"query", fmt.Sprintf("gridledger query listings --home %s", home))
	return live.Run(ctx)
}

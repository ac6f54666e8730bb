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

	"github.com/gridledger/gridledger/internal/api"
	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/freeport"
	"github.com/gridledger/gridledger/internal/kpi"
	"github.com/gridledger/gridledger/internal/market"
	"github.com/gridledger/gridledger/internal/node"
	"github.com/gridledger/gridledger/internal/report"
	"github.com/gridledger/gridledger/internal/sim"
	"github.com/gridledger/gridledger/internal/units"
)

func newRunCmd() *cobra.Command {
	var scale int64
	var mech string
	var duration time.Duration
	var lead int64
	var file, apiAddr, start string
	var seed uint64
	o := chain.DefaultInitOptions()
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the whole system on this machine: a validator and a simulated community trading every interval",
		Long: `run starts an embedded single validator, the meters' MQTT broker and gateway,
and a simulated community: by default a generated dozen members (households,
prosumers with PV, a non-residential building, an EV charging station,
public lighting and a PV producer) and a wind producer, or the community
of --community FILE (docs/community.md). Market time runs --time-scale
times faster than real time, so with the default an hourly auction clears
every 5 seconds. It begins, whatever the hour, at 10:00 local time on the
community's day (of the year from its start) with the most for members to
trade: the first auctions clear with trades. --start now runs at the
real time instead, --start 2025-06-21T18:00 from that local time. Each
member's EMS plans its day and signs its own bids and offers; its meter
reports over MQTT; each clearing and settlement is printed as it happens,
and the KPIs of what was settled when run stops.

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
			c := community.Demo(seed)
			if file != "" {
				var err error
				if c, err = loadCommunity(file, 0, seed); err != nil {
					return err
				}
			}
			_, err := os.Stat(filepath.Join(home, "config", "genesis.json"))
			if err == nil && cmd.Flags().Changed("start") {
				log.Warn("--start is for a new home: this one keeps its genesis' market time", "home", home)
			}
			if errors.Is(err, os.ErrNotExist) {
				o.TimeScale = scale
				o.Params = c.Params()
				if o.MarketStart, err = marketStart(start, c, seed); err != nil {
					return err
				}
				if o.MarketStart != 0 {
					log.Info("market day", "starts", time.Unix(o.MarketStart, 0).UTC().Format(time.DateTime)+"Z",
						"local", time.Unix(o.MarketStart, 0).In(localZone(c)).Format(time.DateTime))
				}
				if cmd.Flags().Changed("mechanism") {
					o.Params.Mechanism = market.Mechanism(mech)
				}
				// A demo must start even where a node or a mosquitto
				// already holds the default ports: take free ones instead.
				for _, a := range []struct {
					flag string
					addr *string
				}{{"rpc-laddr", &o.RPCAddr}, {"p2p-laddr", &o.P2PAddr}, {"mqtt-addr", &o.MQTTAddr}} {
					if !cmd.Flags().Changed(a.flag) {
						*a.addr = freeport.OrFree(*a.addr)
					}
				}
				if err := o.Params.Validate(); err != nil {
					return err
				}
				if err := chain.Init(home, o); err != nil {
					return err
				}
			}
			sites, err := sim.Sites(c, seed)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("api-addr") {
				// Like the other ports: take a free one if the usual
				// is taken.
				_, ac, err := chain.LoadConfig(home)
				if err != nil {
					return err
				}
				if apiAddr = ac.API.Addr; apiAddr != "off" {
					apiAddr = freeport.OrFree(apiAddr)
				}
			}
			return runCommunity(ctx, cmd, home, apiAddr, sites, lead, log)
		},
	}
	cmd.Flags().Int64Var(&scale, "time-scale", 720, "market seconds per real second for a new home (720: an hour every 5 s)")
	cmd.Flags().StringVar(&mech, "mechanism", string(market.AverageBid), "clearing mechanism for a new home (default: the community's)")
	cmd.Flags().StringVar(&file, "community", "", "the community to run (TOML, docs/community.md; default: a generated dozen sites and a wind producer)")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the community's weather and households (and of the generated one)")
	cmd.Flags().DurationVar(&duration, "duration", 0, "stop after this long (default: until interrupted)")
	cmd.Flags().StringVar(&start, "start", "", `market time to begin at, for a new home: "now" (real time) or YYYY-MM-DDTHH:MM in the community's local standard time (default: 10:00 on its day with most to trade)`)
	cmd.Flags().Int64Var(&lead, "lead", 2, "members bid this many intervals before gate closure")
	cmd.Flags().StringVar(&o.RPCAddr, "rpc-laddr", o.RPCAddr, "RPC listen address for a new home")
	cmd.Flags().StringVar(&o.P2PAddr, "p2p-laddr", o.P2PAddr, "P2P listen address for a new home")
	cmd.Flags().StringVar(&o.MQTTAddr, "mqtt-addr", "127.0.0.1:1883", "embedded MQTT broker address for a new home")
	cmd.Flags().StringVar(&apiAddr, "api-addr", "127.0.0.1:8080", `REST API and dashboard address ("127.0.0.1:0": any free port; "off": none)`)
	return cmd
}

// marketStart is the market time a new demo home begins at (genesis
// market_start; 0: the genesis time): flag "" picks the community's
// demonstration day (community.DemoStart), "now" is real time, and a local
// date and time is that.
func marketStart(flag string, c *community.Community, seed uint64) (int64, error) {
	switch flag {
	case "":
		m, err := c.Model(seed)
		if err != nil {
			return 0, err
		}
		return c.DemoStart(m), nil
	case "now":
		return 0, nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", flag, localZone(c))
	if err != nil || t.Unix() <= 0 || t.Unix() > contract.MaxMarketStart {
		return 0, fmt.Errorf(`--start %q: want "now" or a local date and time YYYY-MM-DDTHH:MM (the community's standard time, UTC%+d), from 1970 to 9999`, flag, c.UTCOffsetH)
	}
	return t.Unix(), nil
}

// localZone is the community's local standard time.
func localZone(c *community.Community) *time.Location {
	return time.FixedZone(fmt.Sprintf("UTC%+d", c.UTCOffsetH), c.UTCOffsetH*3600)
}

func runCommunity(ctx context.Context, cmd *cobra.Command, home, apiAddr string, sites []sim.Site, lead int64, log *slog.Logger) error {
	svc, err := node.Start(ctx, home, "", apiAddr, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	chainID := svc.Node.GenesisDoc().ChainID
	log.Info("validator running", "home", home, "rpc", svc.Node.RPCAddr(), "mqtt", svc.MQTT, "chain", chainID)
	cl := svc.Client
	live, metering, err := sim.JoinLive(ctx, home, cl, svc.MQTT, svc.Clock, sites, lead, log)
	if err != nil {
		return err
	}
	params := live.Params
	// The broker admits devices the ledger knows: let it see them now.
	if err := svc.Registry.Refresh(ctx, cl); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	text := g.output == "text"
	// The KPIs so far, printed on exit and served by the API: the ledger's
	// settlements with what the simulated sites really used and made.
	k := sim.NewLiveKPIs(live.Sites)
	kpis := func() api.KPIs {
		rep, n, hours := k.Report()
		return api.KPIs{Source: "simulation", Intervals: n, Community: rep.Community, Hours: hours}
	}
	url, err := svc.StartAPI(api.Config{KPIs: kpis, Site: live.PlanSite}, log)
	if err != nil {
		return err
	}
	if url != "" {
		if text {
			fmt.Fprintf(out, "Dashboard: %s  (member keys to import: %s)\n\n", url, filepath.Join(home, "keys"))
		} else if err := printJSONLine(out, map[string]any{"event": "dashboard", "url": url, "keys": filepath.Join(home, "keys")}); err != nil {
			return err
		}
	}
	if text {
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
		if !text {
			_ = printJSONLine(out, map[string]any{"event": "clearing", "listing": l.Start, "delivery": clock(l.Start), "mechanism": l.Mechanism,
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
	live.OnSettlement = func(st contract.Settlement) {
		if l, err := (chain.Reader{Q: cl}).Listing(ctx, st.Start); err == nil {
			k.Add(kpi.FromSettlement(st, l.Clearing, live.Uses(st.Start)))
		}
		t := st.Totals
		var signedByGateway int
		for _, r := range st.Readings {
			if r.SignedBy == "gateway" {
				signedByGateway++
			}
		}
		if !text {
			_ = printJSONLine(out, map[string]any{"event": "settlement", "listing": st.Start, "delivery": clock(st.Start),
				"readings": len(st.Readings), "gateway_signed": signedByGateway, "missing": st.Missing, "totals": t, "dr": st.DR, "height": st.Height})
			return
		}
		fmt.Fprintf(out, "%-17s settled: %d meters (%d gateway-signed, %d missing); tokens minted %s kWh, to buyers %s, retired %s, exported %s; utility +%s -%s\n",
			clock(st.Start), len(st.Readings), signedByGateway, len(st.Missing), units.KWh(t.MintedWh), units.KWh(t.TransferredWh),
			units.KWh(t.RetiredWh), units.KWh(t.ExportedWh), units.Money(t.ToUtilityNano), units.Money(t.FromUtilityNano))
		if len(st.DR) > 0 {
			var promised, verified, paid int64
			for _, d := range st.DR {
				promised, verified, paid = promised+d.PromisedWh, verified+d.VerifiedWh, paid+d.PaidNano
			}
			fmt.Fprintf(out, "%-17s demand response: %d members promised %s kWh, meters verified %s kWh, incentive paid %s\n",
				clock(st.Start), len(st.DR), units.KWh(promised), units.KWh(verified), units.Money(paid))
		}
	}
	log.Info("community trading; Ctrl-C to stop", "members", len(live.Sites), "meters", len(metering.Meters),
		"query", fmt.Sprintf("gridledger query listings --home %s", home))
	// The meters and the traders run together; either failing stops both.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- metering.Run(ctx); cancel() }()
	err = live.Run(ctx)
	cancel()
	if merr := <-errc; err == nil {
		err = merr
	}
	st := svc.Gateway.Stats()
	log.Info("gateway", "accepted", st.Accepted, "rejected", st.Rejected, "batches", st.Batches)
	if rep, settled, _ := k.Report(); settled > 0 {
		if !text {
			return errors.Join(err, printJSONLine(out, map[string]any{"event": "kpis", "intervals": settled, "kpis": rep.Community}))
		}
		fmt.Fprintf(out, "\nKPIs of the %d intervals settled (docs/kpis.md):\n", settled)
		err = errors.Join(err, printSimSummary(out, "", []report.Run{{Mechanism: string(params.Mechanism), KPIs: rep}}))
	}
	return err
}

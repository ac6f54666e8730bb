package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/api"
	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
	"github.com/gridledger/gridledger/internal/node"
	"github.com/gridledger/gridledger/internal/units"
)

func newInitCmd() *cobra.Command {
	o := chain.DefaultInitOptions()
	var mech, grid, offPeak, feedIn string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a node home: keys, config (TOML) and a genesis with an operator, a DSO and a utility",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Params.Mechanism = market.Mechanism(mech)
			if err := setTariffs(&o.Params, grid, offPeak, feedIn); err != nil {
				return err
			}
			if err := chain.Init(g.home, o); err != nil {
				return err
			}
			keys, _ := chain.ListKeys(g.home)
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{"home": g.home, "chain_id": o.ChainID, "keys": keys})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "initialised %s (chain %s, keys %v)\nstart it with: gridledger start --home %s\n", g.home, o.ChainID, keys, g.home)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ChainID, "chain-id", o.ChainID, "chain id of the new network")
	f.StringVar(&o.Moniker, "moniker", o.Moniker, "this validator's name")
	f.Int64Var(&o.TimeScale, "time-scale", o.TimeScale, "market seconds per block-time second (1 in production; e.g. 720 for a demo hour every 5 s)")
	f.StringVar(&o.RPCAddr, "rpc-laddr", o.RPCAddr, "RPC listen address (guarded: blocks, transactions and events only for consortium-signed requests; docs/privacy.md)")
	f.StringVar(&o.P2PAddr, "p2p-laddr", o.P2PAddr, "P2P listen address")
	f.StringVar(&o.APIAddr, "api-addr", "127.0.0.1:8080", `REST API and dashboard address, or "off"`)
	f.StringVar(&o.MQTTAddr, "mqtt-addr", "127.0.0.1:1883", "embedded MQTT broker address for meters (see config/gridledger.toml for an external broker)")
	f.StringVar(&mech, "mechanism", string(o.Params.Mechanism), "clearing mechanism: average-bid, uniform or pay-as-bid")
	f.StringVar(&grid, "grid-peak-price", "0.095", "utility's price per kWh 13-23 h local")
	f.StringVar(&offPeak, "grid-offpeak-price", units.Price(contract.DefaultOffPeakPerKWh), "utility's price per kWh outside the peak")
	f.StringVar(&feedIn, "feed-in-price", "0.039", "utility's feed-in price per kWh")
	f.Int64Var(&o.Params.TariffUTCOffsetS, "utc-offset", 0, "community's local time offset from UTC in seconds, for tariff hours")
	f.Int64Var(&o.Params.MaxTxPerInterval, "max-tx-per-interval", o.Params.MaxTxPerInterval, "transactions one member may sign per interval")
	return cmd
}

func setTariffs(p *contract.Params, peak, offPeak, feedIn string) error {
	pk, err := units.ParsePrice(peak)
	if err != nil {
		return fmt.Errorf("--grid-peak-price: %w", err)
	}
	op, err := units.ParsePrice(offPeak)
	if err != nil {
		return fmt.Errorf("--grid-offpeak-price: %w", err)
	}
	fi, err := units.ParsePrice(feedIn)
	if err != nil {
		return fmt.Errorf("--feed-in-price: %w", err)
	}
	for h := range 24 {
		p.GridPricePerKWh[h] = op
		if h >= 13 && h < 23 {
			p.GridPricePerKWh[h] = pk
		}
		p.FeedInPerKWh[h] = fi
	}
	return p.Validate()
}

func newStartCmd() *cobra.Command {
	var mqttURL, apiAddr string
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run the validator of a home (embedded CometBFT node), the meters' MQTT broker and the gateway, until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(os.Stderr)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := node.Start(ctx, g.home, mqttURL, apiAddr, log)
			if err != nil {
				return err
			}
			if _, err := s.StartAPI(api.Config{}, log); err != nil {
				return errors.Join(err, s.Close())
			}
			log.Info("node running", "home", g.home, "rpc", s.Node.RPCAddr(), "mqtt", s.MQTT, "chain", s.Node.GenesisDoc().ChainID)
			<-ctx.Done()
			log.Info("stopping")
			return s.Close()
		},
	}
	cmd.Flags().StringVar(&apiAddr, "api-addr", "", `REST API and dashboard address, or "off" (default: [api] addr in gridledger.toml, 127.0.0.1:8080)`)
	cmd.Flags().StringVar(&mqttURL, "mqtt-url", "", "use this external MQTT broker (e.g. tcp://127.0.0.1:1883, Debian's mosquitto) instead of the embedded one; credentials in gridledger.toml [mqtt]")
	return cmd
}

// dial connects to the node of the home, or to --node.
func dial(node string) (*chain.Client, error) {
	if node == "" {
		cfg, _, err := chain.LoadConfig(g.home)
		if err != nil {
			return nil, err
		}
		node = cfg.RPC.ListenAddress
	}
	return chain.Dial(node)
}

func cmdContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), 60*time.Second)
}

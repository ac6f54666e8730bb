package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/ems/agent"
	"github.com/gridledger/gridledger/internal/homeassistant/bridge"
	"github.com/gridledger/gridledger/internal/meter"
)

// newHomeAssistantCmd returns `homeassistant`, which shows a member's
// market in Home Assistant through MQTT discovery.
func newHomeAssistantCmd() *cobra.Command {
	var member, broker, user, pass, node, sitePath, currency string
	var credentials bool
	var lead int64
	cmd := &cobra.Command{
		Use:   "homeassistant --member ID [--broker URL] [--site FILE]",
		Short: "Show a member's market in Home Assistant (MQTT discovery); with --site, run its EMS with a switch per appliance",
		Long: `homeassistant publishes the member's market to Home Assistant through MQTT
discovery (docs/home-assistant.md): the next listing's expected price and
gate closure, the last clearing price, its planned import and export, its
wallet balance, this month's savings, its demand-response requests and its
meters' imported and exported energy for the energy dashboard. It reads the
ledger as the member (HOME/keys/<member>.json signs the private reads) and
refreshes the states at every block.

The broker is the community's (default: the home's) or the member's own
(--broker). Without --username it logs in as the member's client
(ha@<member>, password signed by its key; --credentials prints them for
Home Assistant's MQTT integration), which the community broker lets touch
the member's topics only.

With --site (the site file of 'ems run') this process also runs the
member's EMS agent, in place of 'ems run', and Home Assistant gets a switch
per appliance: OFF leaves the appliance out of the next day the EMS plans,
ON puts it back.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(os.Stderr)
			var home *agent.Home
			if sitePath != "" {
				h, err := agent.LoadHome(sitePath)
				if err != nil {
					return err
				}
				if member != "" && member != h.Member {
					return fmt.Errorf("--member %s, but the site file is %s's", member, h.Member)
				}
				member, home = h.Member, &h
			}
			if member == "" {
				return fmt.Errorf("--member (or --site) is required")
			}
			key, err := chain.LoadKey(g.home, member)
			if err != nil {
				return fmt.Errorf("the member's key: %w", err)
			}
			if broker == "" {
				_, ac, err := chain.LoadConfig(g.home)
				if err != nil {
					return fmt.Errorf("--broker: %w", err)
				}
				if broker = ac.MQTT.URL; broker == "" {
					broker = "tcp://" + ac.MQTT.Addr
				}
			}
			if user == "" {
				doc, _, err := chain.Genesis(g.home)
				if err != nil {
					return fmt.Errorf("community: %w (or give --username and --password)", err)
				}
				user = meter.MemberUser(member)
				pass = meter.Password(key.PrivKey, doc.ChainID, user)
			}
			if credentials {
				if g.output == "json" {
					return printJSON(cmd.OutOrStdout(), map[string]string{"broker": broker, "username": user, "password": pass})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "broker: %s\nusername: %s\npassword: %s\n", broker, user, pass)
				return nil
			}
			cl, err := dial(node)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg := bridge.Config{Key: key, Ledger: cl, Broker: broker, Username: user, Password: pass, Currency: currency, Log: log}
			var a *agent.Agent
			if home != nil {
				fc, err := homeForecast(*home, filepath.Dir(sitePath))
				if err != nil {
					return err
				}
				a = &agent.Agent{Home: *home, Key: key, Ledger: cl, Forecast: fc, Log: log, LeadIntervals: lead}
				cfg.EMS = a
			}
			done := make(chan error, 1)
			go func() { done <- bridge.Run(ctx, cfg) }()
			if a == nil {
				return <-done
			}
			log.Info("EMS running", "member", member, "appliances", len(home.Appliances))
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
				case err := <-done:
					return err
				case <-tick.C:
				}
			}
		},
	}
	cmd.Flags().StringVar(&member, "member", "", "the member (its key in HOME/keys)")
	cmd.Flags().StringVar(&broker, "broker", "", "MQTT broker Home Assistant uses, tcp://host:port (default: the home's)")
	cmd.Flags().StringVar(&user, "username", "", "MQTT user name (default: the member's client on the community broker, ha@<member>)")
	cmd.Flags().StringVar(&pass, "password", "", "MQTT password (with --username)")
	cmd.Flags().StringVar(&sitePath, "site", "", "the home's site file: run its EMS agent here, a switch per appliance")
	cmd.Flags().StringVar(&node, "node", "", "node RPC address (default: the home's)")
	cmd.Flags().StringVar(&currency, "currency", "EUR", "ISO 4217 code of the community's money")
	cmd.Flags().BoolVar(&credentials, "credentials", false, "print the broker, user name and password for Home Assistant, and exit")
	cmd.Flags().Int64Var(&lead, "lead", 2, "with --site: place orders this many intervals before gate closure")
	return cmd
}

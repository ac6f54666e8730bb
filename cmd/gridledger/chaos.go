package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chaos"
)

func newChaosCmd() *cobra.Command {
	var dir string
	var short bool
	var duration, killEvery time.Duration
	var rate, members int
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Run a 4-validator network as 4 processes under load and inject faults; check it kept its promises",
		Long: `chaos writes a 4-validator testnet (gridledger testnet), starts each
validator as its own process with every peer connection through a proxy
it controls, registers a community and keeps it trading: signed bids and
offers at --rate per second and every meter's reading each interval, sent
to whichever validators are up. Meanwhile it kills a validator with
SIGKILL every --kill-every (restarting it half way), pauses one with
SIGSTOP, cuts one off from the others and heals it, takes two of four down
(the chain must stop) and brings one back (it must resume), and tampers
with one validator's state on disk (it must refuse to run, and the others
go on).

Then it checks: every committed transaction is on every node in the same
block; one block and app hash per height on every node, and each node's
own state hashes to what the chain committed; money and energy tokens
conserved; every listing cleared, late only while two were down. It exits
non-zero if any promise was broken. --short is the form the tests run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			if dir == "" {
				if dir, err = os.MkdirTemp("", "gridledger-chaos-"); err != nil {
					return err
				}
				defer os.RemoveAll(dir)
			}
			cfg := chaos.Long(bin, dir)
			if short {
				cfg = chaos.Short(bin, dir)
			} else {
				cfg.KillEvery, cfg.Kills = killEvery, max(1, int(duration/killEvery))
			}
			if rate > 0 {
				cfg.Rate = rate
			}
			if members > 0 {
				cfg.Members = members
			}
			cfg.Log = cmd.ErrOrStderr()
			rep, err := chaos.Run(ctx, cfg)
			if err != nil {
				return err
			}
			if g.output == "json" {
				err = printJSON(cmd.OutOrStdout(), rep)
			} else {
				rep.Print(cmd.OutOrStdout())
			}
			if err == nil && len(rep.Problems) > 0 {
				err = fmt.Errorf("%d promises broken", len(rep.Problems))
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "where the network's homes go (default: a temporary directory, removed after)")
	f.BoolVar(&short, "short", false, "the short form the tests run (about 3 minutes)")
	f.DurationVar(&duration, "duration", 5*time.Minute, "how long to keep killing validators")
	f.DurationVar(&killEvery, "kill-every", 30*time.Second, "kill -9 a validator this often")
	f.IntVar(&rate, "rate", 0, "orders per second (default 60; 40 with --short)")
	f.IntVar(&members, "members", 0, "members trading (default 12)")
	return cmd
}

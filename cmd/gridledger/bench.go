package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chaos"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Load tests"}
	var o chaos.BenchOptions
	tx := &cobra.Command{
		Use:   "tx",
		Short: "Pre-signed bids and offers through a fresh embedded node's RPC: committed tx/s and commit latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			o.Binary = bin
			r, err := chaos.Bench(cmd.Context(), o, newLogger(os.Stderr))
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent %d, committed ok %d, refused %d in %.2fs\n", r.Sent, r.Committed, r.Refused, r.Seconds)
			fmt.Fprintf(cmd.OutOrStdout(), "committed tx/s %.0f (offered rate %s), blocks %d (%.1f tx/block)\n", r.TxPerSec, chaos.RateText(o.Rate), r.Blocks, r.TxPerBlock)
			fmt.Fprintf(cmd.OutOrStdout(), "commit latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs)
			return nil
		},
	}
	f := tx.Flags()
	f.IntVar(&o.Txs, "txs", 30000, "transactions to send")
	f.IntVar(&o.Rate, "rate", 0, "offered transactions per second (0: as fast as the node takes them)")
	f.IntVar(&o.Members, "members", 200, "members signing (half buyers, half sellers)")
	f.IntVar(&o.Conns, "conns", 4, "concurrent RPC connections")
	f.IntVar(&o.Batch, "batch", 20, "transactions per JSON-RPC batch request")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the sending phase to this file")
	f.StringVar(&o.ValidatorCPUProfile, "validator-cpuprofile", "", "with --validators N: write a CPU profile of the first validator's process during the sending phase to this file")
	f.IntVar(&o.Validators, "validators", 1, "1: an embedded node; N > 1: a testnet of N validators, each its own process, the load spread over them")
	f.BoolVar(&o.KillOne, "kill-one", false, "with --validators N: kill -9 one validator before sending")
	cmd.AddCommand(tx)
	return cmd
}

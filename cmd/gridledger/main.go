// Command gridledger is the one binary of gridledger: it initialises and
// runs a ledger node, signs and sends transactions, queries the ledger,
// clears books offline, runs a simulated community and benchmarks the node.
//
// Data goes to stdout (text, or JSON with --output json); logs and progress
// go to stderr.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	root := newRootCmd()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "gridledger: "+strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
}

// globals shared by every command.
type globals struct {
	home     string
	output   string
	logLevel string
}

var g globals

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "gridledger",
		Short:         "A peer-to-peer electricity market for an energy community, on a BFT ledger",
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.output != "text" && g.output != "json" {
				return fmt.Errorf("--output %q: want text or json", g.output)
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&g.home, "home", defaultHome(), "node home directory (keys, config, data)")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level on stderr: debug, info, warn, error")
	root.AddCommand(newHomeAssistantCmd(), newInitCmd(), newStartCmd(), newTestnetCmd(), newJoinCmd(), newGovCmd(), newGatewayCmd(), newChaosCmd(), newKeysCmd(), newTxCmd(), newQueryCmd(),
		newMarketCmd(), newRunCmd(), newSimCmd(), newBenchCmd(), newStatementCmd(), newMeterCmd(), newEMSCmd(), newAdviceCmd())
	return root
}

func defaultHome() string {
	if h := os.Getenv("GRIDLEDGER_HOME"); h != "" {
		return h
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		return ".gridledger"
	}
	return filepath.Join(dir, ".gridledger")
}

func newLogger(w io.Writer) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(g.logLevel)); err != nil {
		lv = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))
}

// printJSON writes v as indented JSON on w.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printJSONLine writes v as one line of JSON (for streams).
func printJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

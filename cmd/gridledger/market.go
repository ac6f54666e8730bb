package main

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/market"
)

// newMarketCmd returns the `market` command: offline tools around the
// clearing core, no node needed.
func newMarketCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "market",
		Short: "Clear order books offline",
	}
	cmd.AddCommand(newMarketClearCmd())
	return cmd
}

// newMarketClearCmd returns `market clear`, which clears one JSON book file
// exactly as the ledger would and prints the result as JSON.
func newMarketClearCmd() *cobra.Command {
	var mechanism, bookPath string
	cmd := &cobra.Command{
		Use:   "clear --book FILE",
		Short: "Clear a JSON order book and print the trades and grid flows as JSON",
		Long: `Clear reads an order book file, for example

  {"interval":"2026-11-25T14:00:00Z","grid_price":95000,"feed_in":39000,
   "offers":[{"id":"o1","participant":"M001","wh":2500,"price":52000}],
   "bids":[{"id":"b1","participant":"M002","wh":1800,"price":70000}]}

(energy in Wh, prices in micro-units of currency per kWh), clears it with the
chosen mechanism and prints one line of JSON: the clearing price, the trades
and what each order buys from or sells to the utility.`,
		Args: cobra.NoArgs,
		// Errors are reported once, by the root command, without usage.
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := marketClear(cmd.InOrStdin(), market.Mechanism(mechanism), bookPath)
			if err != nil {
				return fmt.Errorf("market clear: %w", err)
			}
			_, err = cmd.OutOrStdout().Write(append(out, '\n'))
			return err
		},
	}
	cmd.Flags().StringVar(&mechanism, "mechanism", string(market.AverageBid),
		fmt.Sprintf("clearing mechanism, one of %v", market.Mechanisms))
	cmd.Flags().StringVar(&bookPath, "book", "", "order book JSON file, - for stdin")
	_ = cmd.MarkFlagRequired("book")
	return cmd
}

// marketClear reads, clears and encodes the book at path (- for stdin), all
// before anything is printed, so a failure never leaves a partial result.
func marketClear(stdin io.Reader, m market.Mechanism, path string) ([]byte, error) {
	if !slices.Contains(market.Mechanisms, m) {
		return nil, fmt.Errorf("--mechanism %q: %w (want one of %v)", m, market.ErrUnknownMechanism, market.Mechanisms)
	}
	name, data, err := readMarketBook(stdin, path)
	if err != nil {
		return nil, err
	}
	f, err := market.DecodeBookJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r, err := market.Clear(m, f.Book)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return market.EncodeResultJSON(r)
}

// readMarketBook reads the book file at path, or stdin for -, and returns the
// name to use for it in messages.
func readMarketBook(stdin io.Reader, path string) (name string, data []byte, err error) {
	if path == "-" {
		if data, err = io.ReadAll(stdin); err != nil {
			return "stdin", nil, fmt.Errorf("stdin: %w", err)
		}
		return "stdin", data, nil
	}
	data, err = os.ReadFile(path) // its error names the file
	return path, data, err
}

package main

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/units"
)

func newStatementCmd() *cobra.Command {
	var member, from, to, node, as string
	cmd := &cobra.Command{
		Use:   "statement",
		Short: "A member's statement over a period, one row per settled interval: the bill a community sends (CSV, or --output json)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := parseTime(from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			t, err := parseTime(to)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			ctx, cancel := cmdContext(cmd)
			defer cancel()
			cl, err := dial(node)
			if err != nil {
				return err
			}
			k, err := readerKey(as, member, "operator", "dso")
			if err != nil {
				return err
			}
			rows, err := chain.Reader{Q: cl, As: k}.Statement(ctx, member, f, t)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), rows)
			}
			return writeStatementCSV(cmd, rows)
		},
	}
	cmd.Flags().StringVar(&member, "member", "", "participant id")
	cmd.Flags().StringVar(&from, "from", "0", "period start: RFC3339 or unix seconds")
	cmd.Flags().StringVar(&to, "to", fmt.Sprint(int64(1)<<40), "period end (exclusive)")
	cmd.Flags().StringVar(&node, "node", "", "node RPC address (default: the home's)")
	cmd.Flags().StringVar(&as, "as", "", "sign the query with this key of the home (default: the member's, else the operator's or the DSO's)")
	_ = cmd.MarkFlagRequired("member")
	return cmd
}

// writeStatementCSV writes the statement with money in currency units and
// a totals row, as a spreadsheet would want it.
func writeStatementCSV(cmd *cobra.Command, rows []contract.StatementRow) error {
	w := csv.NewWriter(cmd.OutOrStdout())
	header := []string{"interval_utc", "bought_wh", "sold_wh", "paid_p2p", "received_p2p", "import_wh", "export_wh", "production_wh",
		"grid_import_wh", "grid_export_wh", "shortfall_wh", "unused_wh", "paid_to_utility", "received_from_utility", "owed",
		"tokens_minted", "tokens_received", "tokens_retired", "net", "utility_only", "saved",
		"pool_import_wh", "pool_export_wh", "paid_to_members", "received_from_members"}
	if err := w.Write(header); err != nil {
		return err
	}
	var tot contract.StatementRow
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	line := func(when string, r contract.StatementRow) []string {
		return []string{when, i64(r.BoughtWh), i64(r.SoldWh), units.Money(r.PaidP2PNano), units.Money(r.ReceivedP2PNano),
			i64(r.ImportWh), i64(r.ExportWh), i64(r.ProductionWh), i64(r.GridImportWh), i64(r.GridExportWh), i64(r.ShortfallWh),
			i64(r.UnusedWh), units.Money(r.PaidToUtilityNano), units.Money(r.ReceivedFromUtilityNano), units.Money(r.OwedNano),
			i64(r.TokensMintedWh), i64(r.TokensReceivedWh), i64(r.TokensSelfRetiredWh + r.TokensRetiredWh),
			units.Money(r.NetNano), units.Money(r.UtilityOnlyNano), units.Money(r.NetNano - r.UtilityOnlyNano),
			i64(r.PoolImportWh), i64(r.PoolExportWh), units.Money(r.MembersPaidNano), units.Money(r.MembersReceivedNano)}
	}
	for _, r := range rows {
		if err := w.Write(line(time.Unix(r.Interval, 0).UTC().Format(time.RFC3339), r)); err != nil {
			return err
		}
		for _, p := range []struct{ dst, src *int64 }{
			{&tot.BoughtWh, &r.BoughtWh}, {&tot.SoldWh, &r.SoldWh}, {&tot.PaidP2PNano, &r.PaidP2PNano}, {&tot.ReceivedP2PNano, &r.ReceivedP2PNano},
			{&tot.ImportWh, &r.ImportWh}, {&tot.ExportWh, &r.ExportWh}, {&tot.ProductionWh, &r.ProductionWh},
			{&tot.GridImportWh, &r.GridImportWh}, {&tot.GridExportWh, &r.GridExportWh}, {&tot.ShortfallWh, &r.ShortfallWh},
			{&tot.UnusedWh, &r.UnusedWh}, {&tot.PaidToUtilityNano, &r.PaidToUtilityNano}, {&tot.ReceivedFromUtilityNano, &r.ReceivedFromUtilityNano},
			{&tot.OwedNano, &r.OwedNano}, {&tot.TokensMintedWh, &r.TokensMintedWh}, {&tot.TokensReceivedWh, &r.TokensReceivedWh},
			{&tot.TokensSelfRetiredWh, &r.TokensSelfRetiredWh}, {&tot.TokensRetiredWh, &r.TokensRetiredWh},
			{&tot.NetNano, &r.NetNano}, {&tot.UtilityOnlyNano, &r.UtilityOnlyNano}, {&tot.PoolImportWh, &r.PoolImportWh},
			{&tot.PoolExportWh, &r.PoolExportWh}, {&tot.MembersPaidNano, &r.MembersPaidNano}, {&tot.MembersReceivedNano, &r.MembersReceivedNano},
		} {
			*p.dst += *p.src
		}
	}
	if err := w.Write(line("total", tot)); err != nil {
		return err
	}
	w.Flush()
	return w.Error()
}

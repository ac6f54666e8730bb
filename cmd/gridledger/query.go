package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/units"
)

func newQueryCmd() *cobra.Command {
	var node, as string
	cmd := &cobra.Command{Use: "query", Aliases: []string{"q"}, Short: "Read the ledger through the home's node"}
	cmd.PersistentFlags().StringVar(&node, "node", "", "node RPC address (default: the home's)")
	cmd.PersistentFlags().StringVar(&as, "as", "", "sign private queries (the members' part of settlements, the meters' registers) with this key of the home (default: the operator's, DSO's or utility's if the home holds one)")

	// q makes a query subcommand: path builds the query path, text prints
	// the decoded answer for people.
	q := func(use, short string, args cobra.PositionalArgs, path func([]string) string, v func() any, text func(io.Writer, any)) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: args,
			RunE: func(cmd *cobra.Command, a []string) error {
				ctx, cancel := cmdContext(cmd)
				defer cancel()
				cl, err := dial(node)
				if err != nil {
					return err
				}
				val := v()
				p := path(a)
				rd := chain.Reader{Q: cl}
				if private(p) {
					if rd.As, err = readerKey(as, "operator", "dso", "utility"); err != nil {
						return err
					}
				}
				if err := rd.Query(ctx, p, val); err != nil {
					return err
				}
				if g.output == "json" {
					return printJSON(cmd.OutOrStdout(), val)
				}
				text(cmd.OutOrStdout(), val)
				return nil
			},
		}
	}
	fixed := func(p string) func([]string) string { return func([]string) string { return p } }

	var from, to, participant string
	var book bool
	rangeQuery := func(base string) func([]string) string {
		return func([]string) string {
			v := url.Values{}
			if from != "" {
				v.Set("from", from)
			}
			if to != "" {
				v.Set("to", to)
			}
			if participant != "" {
				v.Set("participant", participant)
			}
			if book {
				v.Set("book", "1")
			}
			return base + "?" + v.Encode()
		}
	}
	listings := q("listings", "Listings with their state, book, MCP and trades", cobra.NoArgs, rangeQuery("/listings"),
		func() any { return &[]contract.ListingView{} }, func(w io.Writer, v any) { printListings(w, *v.(*[]contract.ListingView)) })
	listings.Flags().StringVar(&from, "from", "", "first listing start (unix seconds)")
	listings.Flags().StringVar(&to, "to", "", "end of range (unix seconds, exclusive)")
	listings.Flags().BoolVar(&book, "book", true, "include each listing's order book")
	trades := q("trades", "Trades of cleared listings", cobra.NoArgs, rangeQuery("/trades"),
		func() any { return &[]contract.TradeView{} }, func(w io.Writer, v any) { printTrades(w, *v.(*[]contract.TradeView)) })
	trades.Flags().StringVar(&from, "from", "", "first listing start (unix seconds)")
	trades.Flags().StringVar(&to, "to", "", "end of range (unix seconds, exclusive)")
	trades.Flags().StringVar(&participant, "participant", "", "only this participant's trades")

	settlements := q("settlements", "Delivery settlements of past intervals", cobra.NoArgs, rangeQuery("/settlements"),
		func() any { return &[]contract.Settlement{} }, func(w io.Writer, v any) { printSettlements(w, *v.(*[]contract.Settlement)) })
	settlements.Flags().StringVar(&from, "from", "", "first interval start (unix seconds)")
	settlements.Flags().StringVar(&to, "to", "", "end of range (unix seconds, exclusive)")
	var interval string
	settlement := q("settlement", "One interval's settlement: each member's position, metered energy, tokens and money", cobra.NoArgs,
		func([]string) string { return "/settlement/" + interval },
		func() any { return &contract.Settlement{} }, func(w io.Writer, v any) { printSettlement(w, *v.(*contract.Settlement)) })
	settlement.Flags().StringVar(&interval, "interval", "", "interval start: RFC3339 or unix seconds")
	settlement.PreRunE = func(*cobra.Command, []string) error {
		t, err := parseTime(interval)
		interval = fmt.Sprint(t)
		return err
	}

	cmd.AddCommand(
		q("info", "Ledger summary: height, market time, money supply", cobra.NoArgs, fixed("/info"),
			func() any { return &contract.Info{} }, func(w io.Writer, v any) { printKV(w, v) }),
		q("params", "Community parameters", cobra.NoArgs, fixed("/params"),
			func() any { return &contract.Params{} }, func(w io.Writer, v any) { printKV(w, v) }),
		q("participants [ID]", "Participants and their wallets", cobra.MaximumNArgs(1),
			func(a []string) string {
				if len(a) == 1 {
					return "/participants/" + url.PathEscape(a[0])
				}
				return "/participants"
			},
			func() any { return &json.RawMessage{} }, printParticipants),
		q("wallet ID", "One participant's wallet", cobra.ExactArgs(1), func(a []string) string { return "/participants/" + url.PathEscape(a[0]) },
			func() any { return &contract.Participant{} }, func(w io.Writer, v any) {
				p := v.(*contract.Participant)
				fmt.Fprintf(w, "%s: balance %s, escrow %s\n", p.ID, units.Money(p.Balance), units.Money(p.Escrow))
			}),
		q("res", "Registered renewable assets", cobra.NoArgs, fixed("/res"),
			func() any { return &[]contract.RES{} }, func(w io.Writer, v any) { printKV(w, v) }),
		q("batteries", "Registered batteries: capacity, power, approval", cobra.NoArgs, fixed("/batteries"),
			func() any { return &[]contract.Battery{} }, func(w io.Writer, v any) { printKV(w, v) }),
		q("meters", "Registered meters", cobra.NoArgs, fixed("/meters"),
			func() any { return &[]contract.Meter{} }, func(w io.Writer, v any) { printKV(w, v) }),
		q("listing START", "One listing with its book and clearing", cobra.ExactArgs(1), func(a []string) string { return "/listing/" + a[0] },
			func() any { return &contract.ListingView{} }, func(w io.Writer, v any) { printListings(w, []contract.ListingView{*v.(*contract.ListingView)}) }),
		q("gateways", "Registered gateway devices", cobra.NoArgs, fixed("/gateways"),
			func() any { return &[]contract.Gateway{} }, func(w io.Writer, v any) { printKV(w, v) }),
		q("departures", "Members that left or are leaving the community", cobra.NoArgs, fixed("/departures"),
			func() any { return &[]contract.Departure{} }, func(w io.Writer, v any) { printKV(w, v) }),
		listings, trades, settlements, settlement,
	)
	return cmd
}

// parseTime reads RFC3339 or unix seconds.
func parseTime(s string) (int64, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: want RFC3339 (2026-11-25T14:00:00Z) or unix seconds", s)
	}
	return v, nil
}

func printSettlements(w io.Writer, ss []contract.Settlement) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DELIVERY\tMEMBERS\tMISSING\tMINTED kWh\tTRANSFERRED kWh\tRETIRED kWh\tEXPORTED kWh\tTO UTILITY\tFROM UTILITY")
	for _, s := range ss {
		t := s.Totals
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", clock(s.Start), len(s.Members), len(s.Missing), units.KWh(t.MintedWh),
			units.KWh(t.TransferredWh), units.KWh(t.RetiredWh), units.KWh(t.ExportedWh), units.Money(t.ToUtilityNano), units.Money(t.FromUtilityNano))
	}
	tw.Flush()
}

func printSettlement(w io.Writer, s contract.Settlement) {
	fmt.Fprintf(w, "delivery %s, settled at block %d; grid %s, feed-in %s per kWh; missing meters: %v\n",
		clock(s.Start), s.Height, units.Price(s.GridPricePerKWh), units.Price(s.FeedInPerKWh), s.Missing)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tIMPORT\tEXPORT\tPRODUCED\tSOLD\tBOUGHT\tDELIVERED\tSHORTFALL\tMINTED\tRECEIVED\tRETIRED\tTO UTILITY\tFROM UTILITY\tOWED")
	for _, m := range s.Members {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", m.ID, m.ImportWh, m.ExportWh, m.ProductionWh,
			m.SoldWh, m.BoughtWh, m.DeliveredWh, m.ShortfallWh, m.TokensMintedWh, m.TokensReceivedWh, m.TokensSelfRetiredWh+m.TokensRetiredWh,
			units.Money(m.PaidToUtilityNano), units.Money(m.ReceivedFromUtilityNano), units.Money(m.OwedNano))
	}
	tw.Flush()
	fmt.Fprintln(w, "(energy in Wh)")
}

func printKV(w io.Writer, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintln(w, string(b))
}

func printParticipants(w io.Writer, v any) {
	raw := *v.(*json.RawMessage)
	var ps []contract.Participant
	if json.Unmarshal(raw, &ps) != nil {
		var p contract.Participant
		_ = json.Unmarshal(raw, &p)
		ps = []contract.Participant{p}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tNODE TYPE\tBALANCE\tESCROW\tREGISTERED\tNONCE\tSUSPENDED")
	for _, p := range ps {
		// A transaction names the height its signer was registered at.
		registered := "genesis"
		if p.Registered > 0 {
			registered = fmt.Sprintf("height %d", p.Registered)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%v\n", p.ID, p.Role, p.NodeType, units.Money(p.Balance), units.Money(p.Escrow), registered, p.Nonce, p.Suspended)
	}
	tw.Flush()
}

func clock(unix int64) string { return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04Z") }

func printListings(w io.Writer, ls []contract.ListingView) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DELIVERY\tSTATE\tMECHANISM\tORDERS\tMCP/kWh\tAVAILABLE kWh\tWANTED kWh\tTRADED kWh")
	for _, l := range ls {
		mcp, av, wa, tr := "-", "-", "-", "-"
		if c := l.Clearing; c != nil {
			if c.MCP != nil {
				mcp = units.Price(*c.MCP)
			}
			av, wa, tr = units.KWh(c.AvailableWh), units.KWh(c.WantedWh), units.KWh(c.TradedWh)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", clock(l.Start), l.State, l.Mechanism, l.Orders, mcp, av, wa, tr)
	}
	tw.Flush()
}

func printTrades(w io.Writer, ts []contract.TradeView) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DELIVERY\tSELLER\tBUYER\tkWh\tPRICE/kWh\tVALUE")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", clock(t.Listing), t.Seller, t.Buyer, units.KWh(t.Wh), units.Price(t.PricePerKWh), units.Money(t.Value))
	}
	tw.Flush()
}

// private says whether a query path's answer depends on who signs it.
func private(path string) bool {
	return strings.HasPrefix(path, "/settlement") || path == "/meters"
}

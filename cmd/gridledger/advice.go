package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/ems/advice"
	"github.com/gridledger/gridledger/internal/ems/plan"
	"github.com/gridledger/gridledger/internal/units"
)

func newAdviceCmd() *cobra.Command {
	var member, node, sitePath, as string
	cmd := &cobra.Command{
		Use:   "advice --member ID [--site FILE]",
		Short: "Personal advice from a member's own ledger data: savings this month, load shifting, prices, the market",
		Long: `advice reads the member's settled intervals of the current month (market
time), the community's recent listings and, with --site, the home's site
file (the JSON of 'ems plan'), and prints what the community market saved
the member against buying everything from the utility, what its deviations
from its traded positions cost or earned it at settlement and how much of
them the community netted (and what that was worth against the tariffs),
what running each flexible appliance at its best hours saves a day, the
price to bid or offer in the next listing, and how the market has been
going.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			l, err := advice.Read(ctx, cl.Query, chain.Reader{Q: cl, As: k}.Query, member)
			if err != nil {
				return err
			}
			var site *plan.Site
			if sitePath != "" {
				data, err := os.ReadFile(sitePath)
				if err != nil {
					return err
				}
				s, err := plan.Parse(data)
				if err != nil {
					return fmt.Errorf("%s: %w", sitePath, err)
				}
				site = &s
			}
			a, err := advice.Compute(member, l.Statement, l.Listings, site)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), a)
			}
			now := time.Unix(l.MarketTime, 0).UTC()
			var b bytes.Buffer
			fmt.Fprintf(&b, "Advice for %s, %s so far (%d settled intervals)\n\n", member, now.Format("January 2006"), a.Intervals)
			fmt.Fprintf(&b, "Savings: the community market saved you %s against buying everything from the utility\n", units.Money(a.SavedNano))
			fmt.Fprintf(&b, "  you netted %s; with the utility alone the same energy would have netted %s\n", units.Money(a.NetNano), units.Money(a.UtilityOnlyNano))
			fmt.Fprintf(&b, "  imported %s kWh (%s bought from members), exported %s kWh (%s sold to members)\n",
				units.KWh(a.ImportWh), units.KWh(a.BoughtP2PWh), units.KWh(a.ExportWh), units.KWh(a.SoldP2PWh))
			if a.DRIncentiveNano > 0 {
				fmt.Fprintf(&b, "  demand response earned you %s\n", units.Money(a.DRIncentiveNano))
			}
			verb := "earned you"
			if a.DeviationsNetNano < 0 {
				verb = "cost you"
			}
			fmt.Fprintf(&b, "Deviations: settling what you used and made against what you traded %s %s (with the utility and other members)\n",
				verb, units.Money(max(a.DeviationsNetNano, -a.DeviationsNetNano)))
			if a.NettedWh > 0 {
				fmt.Fprintf(&b, "  the community netted %s kWh of them (%s kWh bought from members, %s kWh sold to them): worth %s against the tariffs\n",
					units.KWh(a.NettedWh), units.KWh(a.PoolImportWh), units.KWh(a.PoolExportWh), units.Money(a.PoolValueNano))
			}
			if len(a.Shifts) > 0 {
				fmt.Fprintf(&b, "\nShifting loads (per day, against starting each at the start of its window):\n")
				for _, s := range a.Shifts {
					fmt.Fprintf(&b, "  %-12s run at %v instead of %v: saves %s\n", s.Appliance, s.BestHours, s.NaiveHours, units.Money(s.SavingNano))
				}
			}
			if a.NextListing != 0 {
				fmt.Fprintf(&b, "\nNext listing %s: bid up to %s per kWh to buy, or offer from %s per kWh to sell\n",
					time.Unix(a.NextListing, 0).UTC().Format("2006-01-02 15:04Z"), units.Price(a.SuggestedBid), units.Price(a.SuggestedOffer))
			}
			m := a.Market
			fmt.Fprintf(&b, "\nThe market, last 7 days: %d listings, %d cleared", m.Listings, m.Cleared)
			if m.Cleared > 0 {
				fmt.Fprintf(&b, " at %s per kWh on average (%s–%s; grid %s, feed-in %s)",
					units.Price(m.MeanMCP), units.Price(m.MinMCP), units.Price(m.MaxMCP), units.Price(m.MeanGridPrice), units.Price(m.MeanFeedIn))
			}
			fmt.Fprintf(&b, "; %s kWh traded of %s offered and %s wanted\n", units.KWh(m.TradedWh), units.KWh(m.OfferedWh), units.KWh(m.WantedWh))
			_, err = cmd.OutOrStdout().Write(b.Bytes())
			return err
		},
	}
	cmd.Flags().StringVar(&member, "member", "", "participant id")
	cmd.Flags().StringVar(&sitePath, "site", "", "the home's site file (JSON, as for 'ems plan') for load-shifting advice")
	cmd.Flags().StringVar(&node, "node", "", "node RPC address (default: the home's)")
	cmd.Flags().StringVar(&as, "as", "", "sign the statement query with this key of the home (default: the member's, else the operator's or the DSO's)")
	_ = cmd.MarkFlagRequired("member")
	return cmd
}

package advice

import (
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/plan"
)

func p(v int64) *int64 { return &v }

func TestSavingsAreNetAgainstUtilityOnly(t *testing.T) {
	rows := []contract.StatementRow{
		{NetNano: -500, UtilityOnlyNano: -800, MemberSettlement: contract.MemberSettlement{ImportWh: 10, DRIncentiveNano: 20}, BoughtWh: 4},
		{NetNano: 300, UtilityOnlyNano: 100, MemberSettlement: contract.MemberSettlement{ExportWh: 7}, SoldWh: 5},
	}
	a, err := Compute("m", rows, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.SavedNano != (-500+300)-(-800+100) || a.DRIncentiveNano != 20 || a.ImportWh != 10 || a.ExportWh != 7 ||
		a.BoughtP2PWh != 4 || a.SoldP2PWh != 5 || a.Intervals != 2 {
		t.Errorf("advice %+v", a)
	}
}

func TestMarketAndSuggestedPricesFromTheListings(t *testing.T) {
	cleared := func(start int64, mcp *int64, traded int64) contract.ListingView {
		return contract.ListingView{Listing: contract.Listing{Start: start, GridPricePerKWh: 95_000, FeedInPerKWh: 39_000,
			Clearing: &contract.Clearing{MCP: mcp, TradedWh: traded, AvailableWh: 2 * traded, WantedWh: 3 * traded}}}
	}
	ls := []contract.ListingView{cleared(1, p(60_000), 100), cleared(2, nil, 0), cleared(3, p(70_000), 50),
		{Listing: contract.Listing{Start: 4, GridPricePerKWh: 95_000, FeedInPerKWh: 39_000}}}
	a, _ := Compute("m", nil, ls, nil)
	m := a.Market
	if m.Listings != 3 || m.Cleared != 2 || m.MeanMCP != 65_000 || m.MinMCP != 60_000 || m.MaxMCP != 70_000 || m.TradedWh != 150 {
		t.Errorf("market %+v", m)
	}
	// Median of {60,000, 70,000} is 70,000 (upper middle); a tenth of the
	// 56,000 spread is 5,600.
	if a.NextListing != 4 || a.SuggestedBid != 75_600 || a.SuggestedOffer != 64_400 {
		t.Errorf("suggested %d: bid %d offer %d", a.NextListing, a.SuggestedBid, a.SuggestedOffer)
	}
}

func TestShiftSavesWhatTheWindowStartWouldCost(t *testing.T) {
	flat := func(v int64) []int64 {
		out := make([]int64, plan.HoursPerDay)
		for h := range out {
			out[h] = v
		}
		return out
	}
	buy := flat(95_000)
	buy[22], buy[23] = 60_000, 60_000
	s := plan.Site{BaseWh: flat(300), PVWh: flat(0), BuyMicroPerKWh: buy, SellMicroPerKWh: flat(39_000),
		Appliances: []plan.Appliance{{Name: "washer", Start: 18, End: 0, Flexible: true, PowerW: 2000, Hours: 2}}}
	sh, err := Shifts(s)
	if err != nil || len(sh) != 1 {
		t.Fatalf("%v %+v", err, sh)
	}
	// Naive 18–19 at 95,000, best 22–23 at 60,000: 4000 Wh × 35,000.
	if sh[0].SavingNano != 4000*35_000 || sh[0].BestHours[0] != 22 || sh[0].NaiveHours[0] != 18 {
		t.Errorf("shift %+v", sh[0])
	}
}

// What deviating cost or earned the member is the money of the settlement
// with the utility and with other members; what the pool netted is worth
// the tariffs it spared, interval by interval at that interval's prices.
func TestDeviationsAndWhatThePoolNetted(t *testing.T) {
	rows := []contract.StatementRow{
		// Short 800 Wh: 500 netted in the pool at 0.07 (35M to members), 300
		// bought from the utility at 0.10 (30M); a refund of 7M received.
		{GridPricePerKWh: 100_000, FeedInPerKWh: 40_000, PoolPricePerKWh: 70_000, MemberSettlement: contract.MemberSettlement{
			PoolImportWh: 500, MembersPaidNano: 35_000_000, PaidToUtilityNano: 30_000_000, MembersReceivedNano: 7_000_000}},
		// Long 1000 Wh at other prices: 600 sold to members at 0.06 (36M), 400
		// to the utility at 0.03 (12M).
		{GridPricePerKWh: 90_000, FeedInPerKWh: 30_000, PoolPricePerKWh: 60_000, MemberSettlement: contract.MemberSettlement{
			PoolExportWh: 600, MembersReceivedNano: 36_000_000, ReceivedFromUtilityNano: 12_000_000}},
		// The utility rule: no pool, no pool price.
		{GridPricePerKWh: 100_000, FeedInPerKWh: 40_000, MemberSettlement: contract.MemberSettlement{PaidToUtilityNano: 5_000_000}},
	}
	a, err := Compute("m", rows, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// (7M + 36M + 12M) − (35M + 30M + 5M).
	if a.DeviationsNetNano != -15_000_000 {
		t.Errorf("deviations %d, want -15000000", a.DeviationsNetNano)
	}
	// 500 Wh × (0.10 − 0.07) + 600 Wh × (0.06 − 0.03).
	if a.PoolImportWh != 500 || a.PoolExportWh != 600 || a.NettedWh != 1100 || a.PoolValueNano != 15_000_000+18_000_000 {
		t.Errorf("pool %d in, %d out, %d netted, worth %d", a.PoolImportWh, a.PoolExportWh, a.NettedWh, a.PoolValueNano)
	}
}

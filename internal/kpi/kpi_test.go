package kpi

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func f(x float64) *float64 { return &x }
func i(x int64) *int64     { return &x }

// Prices of the worked example, micro-units per kWh.
const (
	grid     = 100_000 // 0.10 per kWh
	peakGrid = 200_000 // 0.20 per kWh in the third hour
	feedIn   = 40_000  // 0.04 per kWh
)

// example is a community of three over three hours, settled as the ledger
// would (internal/contract/settle.go's rules):
//
//	t=0     MCP 0.07. alice's PV makes 5000 Wh, she uses 1000 and exports 4000;
//	        she sold bob 1500 Wh and delivers them, and 2500 go to the utility at
//	        feed-in (100M nano). bob uses 2000: 1500 from alice (pays 105M), 500
//	        from the utility (50M). carol imports her 1000 (100M).
//	t=3600  nothing cleared. alice makes 500, uses 1500, imports 1000 (100M).
//	        bob answers a DR request: 1000 instead of 1500 (500 Wh verified,
//	        20M incentive), imports 1000 (100M). carol imports 2000 (200M).
//	t=7200  MCP 0.06, grid 0.20. alice sold carol 1000 but exports only 500 (makes
//	        800, uses 300): she delivers 500 and pays the 500 Wh shortfall at the
//	        grid tariff (100M); carol paid alice 60M for 1000, imports 1500 and pays
//	        the utility for 1500 − 1000 (100M). bob imports 500 (100M).
//
// alice's EMS forecast her base load 1200, 1000, 300 (actual 1000, 1500,
// 300) and her PV 2500, 600, 800 (actual 3000, 500, 800).
func example() Input {
	return Input{
		Members: []MemberInfo{{ID: "alice", NodeType: "household"}, {ID: "bob", NodeType: "household"}, {ID: "carol", NodeType: "non_residential"}},
		Intervals: []Interval{
			{Start: 0, GridPricePerKWh: grid, FeedInPerKWh: feedIn, MCPPerKWh: i(70_000), Members: []Member{
				{ID: "alice", ConsumptionWh: 1000, ConsumptionNoDRWh: 1000, ProductionWh: 5000, ExportWh: 4000,
					SoldP2PWh: 1500, TradedSoldWh: 1500, ReceivedP2PNano: 105_000_000, ReceivedUtilityNano: 100_000_000,
					ForecastLoadWh: 1200, ActualBaseLoadWh: 1000, ForecastPVWh: 2500, ActualPVWh: 3000},
				{ID: "bob", ConsumptionWh: 2000, ConsumptionNoDRWh: 2000, ImportWh: 2000,
					BoughtP2PWh: 1500, TradedBoughtWh: 1500, PaidP2PNano: 105_000_000, PaidUtilityNano: 50_000_000},
				{ID: "carol", ConsumptionWh: 1000, ConsumptionNoDRWh: 1000, ImportWh: 1000, PaidUtilityNano: 100_000_000},
			}},
			{Start: 3600, GridPricePerKWh: grid, FeedInPerKWh: feedIn, Members: []Member{
				{ID: "alice", ConsumptionWh: 1500, ConsumptionNoDRWh: 1500, ProductionWh: 500, ImportWh: 1000, PaidUtilityNano: 100_000_000,
					ForecastLoadWh: 1000, ActualBaseLoadWh: 1500, ForecastPVWh: 600, ActualPVWh: 500},
				{ID: "bob", ConsumptionWh: 1000, ConsumptionNoDRWh: 1500, ImportWh: 1000, PaidUtilityNano: 100_000_000,
					DRVerifiedWh: 500, DRIncentiveNano: 20_000_000},
				{ID: "carol", ConsumptionWh: 2000, ConsumptionNoDRWh: 2000, ImportWh: 2000, PaidUtilityNano: 200_000_000},
			}},
			{Start: 7200, GridPricePerKWh: peakGrid, FeedInPerKWh: feedIn, MCPPerKWh: i(60_000), Members: []Member{
				{ID: "alice", ConsumptionWh: 300, ConsumptionNoDRWh: 300, ProductionWh: 800, ExportWh: 500,
					SoldP2PWh: 500, TradedSoldWh: 1000, ReceivedP2PNano: 60_000_000, PaidUtilityNano: 100_000_000,
					ForecastLoadWh: 300, ActualBaseLoadWh: 300, ForecastPVWh: 800, ActualPVWh: 800},
				{ID: "bob", ConsumptionWh: 500, ConsumptionNoDRWh: 500, ImportWh: 500, PaidUtilityNano: 100_000_000},
				{ID: "carol", ConsumptionWh: 1500, ConsumptionNoDRWh: 1500, ImportWh: 1500,
					BoughtP2PWh: 500, TradedBoughtWh: 1000, PaidP2PNano: 60_000_000, PaidUtilityNano: 100_000_000},
			}},
		},
		LedgerBytes: 3_000_000,
		SimulatedS:  3 * 3600,
	}
}

func TestExampleIsConsistent(t *testing.T) {
	// Every token sent is a token received, and each site's energy balances
	// (C = P + I − X): the fixture is what the ledger would produce.
	var r, s int64
	for _, iv := range example().Intervals {
		for _, m := range iv.Members {
			r += m.BoughtP2PWh
			s += m.SoldP2PWh
			if m.ConsumptionWh != m.ProductionWh+m.ImportWh-m.ExportWh {
				t.Errorf("t=%d %s: C %d ≠ P %d + I %d − X %d", iv.Start, m.ID, m.ConsumptionWh, m.ProductionWh, m.ImportWh, m.ExportWh)
			}
		}
	}
	if r != s || r != 2000 {
		t.Fatalf("Σ BoughtP2P = %d, Σ SoldP2P = %d; want both 2000", r, s)
	}
	rep := Compute(example())
	var bought, sold int64
	for _, m := range rep.Members {
		bought += m.BoughtP2PWh
		sold += m.SoldP2PWh
	}
	if bought != sold || bought != rep.Community.P2PDeliveredWh {
		t.Fatalf("members bought %d, sold %d, community delivered %d", bought, sold, rep.Community.P2PDeliveredWh)
	}
	// Grid import minus grid export is the net metered import Σ I − Σ X = 9000 − 4500.
	if c := rep.Community; c.GridImportWh-c.GridExportWh != 4500 {
		t.Fatalf("grid import %d − export %d ≠ 4500", c.GridImportWh, c.GridExportWh)
	}
}

func TestCommunityKPIsOfTheExample(t *testing.T) {
	want := Community{
		Members: 3, Intervals: 3, IntervalsCleared: 2,
		// L = 4000, 4500, 2300; L without DR = 4000, 5000, 2300; G = 5000, 500, 800.
		ConsumptionWh: 10800, ConsumptionNoDRWh: 11300, ProductionWh: 6300,
		// min(G, L) = 4000 + 500 + 800.
		LocalUseWh: 5300,
		// 5300 / 6300 = 0.84127; 5300 / 10800 = 0.49074.
		SelfConsumption: f(0.8413), SelfSufficiency: f(0.4907),
		// Traded 1500 + 1000, delivered 1500 + 500; 2000 / 10800 = 0.18519.
		P2PTradedWh: 2500, P2PDeliveredWh: 2000, P2PShare: f(0.1852),
		// Import not delivered by members: t0 bob 500 + carol 1000, t1 1000 + 1000 + 2000,
		// t2 bob 500 + carol 1500 − 500. Export not delivered: t0 alice 4000 − 1500.
		GridImportWh: 7000, GridExportWh: 2500,
		// Paid: P2P 105M + 60M, utility alice 200M + bob 250M + carol 400M = 1015M for
		// 2000 + 7000 Wh: 112777.8. At the grid tariff the same energy, t0 3000 Wh ×
		// 0.10, t1 4000 × 0.10, t2 2000 × 0.20 = 1100M: 122222.2.
		AvgPricePaidPerKWh: i(112778), AvgGridPricePerKWh: i(122222),
		// Received: P2P 165M + utility 100M = 265M for 2000 + 2500 Wh: 58888.9. At
		// feed-in: t0 4000 Wh, t2 500 Wh, all at 0.04: 40000.
		AvgPriceReceivedPerKWh: i(58889), AvgFeedInPerKWh: i(40000),
		// (70000 + 60000) / 2.
		MeanMCPPerKWh: i(65000), MinMCPPerKWh: i(60000), MaxMCPPerKWh: i(70000),
		// Utility only: alice −160M + 100M − 20M = −80M, bob 200M + 100M + 100M = 400M,
		// carol 100M + 200M + 300M = 600M. Cost: alice 200M − 265M = −65M, bob 355M − 20M
		// DR = 335M, carol 460M. Savings: alice −15M, bob 65M, carol 140M.
		UtilityOnlyCostNano: 920_000_000, CostNano: 730_000_000, SavingsNano: 190_000_000,
		// 100 × 190 / (80 + 400 + 600) = 17.593.
		SavingsPct: f(17.5926),
		// Savings per kWh metered: alice −15M / 5500 → 0, bob 65M / 3500 = 18571,
		// carol 140M / 4500 = 31111. Sorted 0, 18571, 31111 with weights −2, 0, 2:
		// 2 × 31111 / (3 × 49682) = 0.41747.
		FairnessGini:  f(0.4175),
		MembersLosing: 1, SavingsBestNano: i(140_000_000), SavingsWorstNano: i(-15_000_000), SavingsMedianNano: i(65_000_000),
		MembersLosingIDs: []string{"alice"}, MembersSaving: 2,
		// Sorted −15M, 65M, 140M; h = 2p/100: p5 at 0.1, −15M + 0.1 × 80M; p25 at 0.5,
		// −15M + 40M; p75 at 1.5, 65M + 37.5M; p95 at 1.9, 65M + 67.5M.
		SavingsP5Nano: i(-7_000_000), SavingsP25Nano: i(25_000_000), SavingsP50Nano: i(65_000_000),
		SavingsP75Nano: i(102_500_000), SavingsP95Nano: i(132_500_000),
		// L − G = −1000, 4000, 1500; without DR 4500 at t1.
		PeakImportWh: 4000, PeakImportNoDRWh: 4500, PeakReductionDRWh: 500,
		DRVerifiedWh: 500, DRIncentiveNano: 20_000_000,
		// Load: (200 + 500 + 0) / (1000 + 1500 + 300) = 0.25; PV: (500 + 100 + 0) / 4300 = 0.13953.
		ForecastNMAELoad: f(0.25), ForecastNMAEPV: f(0.1395),
		// 3,000,000 B / 3 members × 31,536,000 s / 10,800 s.
		LedgerBytesPerMemberYear: i(2_920_000_000),
	}
	equalJSON(t, "community", Compute(example()).Community, want)
}

func TestMemberKPIsOfTheExample(t *testing.T) {
	want := []MemberKPI{
		{ID: "alice", NodeType: "household", ConsumptionWh: 2800, ProductionWh: 6300, ImportWh: 1000, ExportWh: 4500,
			// P − X = 1000 + 500 + 300 over 6300; C − I = 1000 + 500 + 300 over 2800; nothing bought.
			SelfConsumption: f(0.2857), SelfSufficiency: f(0.6429), LocalShare: f(0.6429),
			SoldP2PWh: 2000, PaidNano: 200_000_000, ReceivedNano: 265_000_000,
			// The 500 Wh shortfall at 0.20 cost her more than she made over feed-in.
			UtilityOnlyCostNano: -80_000_000, CostNano: -65_000_000, SavingsNano: -15_000_000,
			// −15 / |−80| = −18.75 %; −15M / 5500 Wh = −2727.3.
			SavingsPct: f(-18.75), SavingsPerKWh: i(-2727),
			ForecastNMAELoad: f(0.25), ForecastNMAEPV: f(0.1395)},
		{ID: "bob", NodeType: "household", ConsumptionWh: 3500, ImportWh: 3500,
			// Nothing of his own; 1500 of 3500 from alice: 0.42857.
			SelfSufficiency: f(0), LocalShare: f(0.4286),
			BoughtP2PWh: 1500, PaidNano: 355_000_000,
			UtilityOnlyCostNano: 400_000_000, CostNano: 335_000_000, SavingsNano: 65_000_000,
			// 65 / 400 = 16.25 %; 65M / 3500 Wh = 18571.4.
			SavingsPct: f(16.25), SavingsPerKWh: i(18571),
			DRVerifiedWh: 500, DRIncentiveNano: 20_000_000},
		{ID: "carol", NodeType: "non_residential", ConsumptionWh: 4500, ImportWh: 4500,
			// 500 of 4500 from alice: 0.1111.
			SelfSufficiency: f(0), LocalShare: f(0.1111),
			BoughtP2PWh: 500, PaidNano: 460_000_000,
			UtilityOnlyCostNano: 600_000_000, CostNano: 460_000_000, SavingsNano: 140_000_000,
			// 140 / 600 = 23.333 %; 140M / 4500 Wh = 31111.1.
			SavingsPct: f(23.3333), SavingsPerKWh: i(31111)},
	}
	got := Compute(example()).Members
	if len(got) != len(want) {
		t.Fatalf("%d members, want %d", len(got), len(want))
	}
	for k := range want {
		equalJSON(t, want[k].ID, got[k], want[k])
	}
}

func TestHourlyOfTheExample(t *testing.T) {
	want := []HourPoint{
		{Start: 0, LoadWh: 4000, LoadNoDRWh: 4000, GenerationWh: 5000, GridImportWh: 1500, GridExportWh: 2500, P2PWh: 1500,
			MCPPerKWh: i(70_000), GridPricePerKWh: grid, FeedInPerKWh: feedIn},
		{Start: 3600, LoadWh: 4500, LoadNoDRWh: 5000, GenerationWh: 500, GridImportWh: 4000,
			GridPricePerKWh: grid, FeedInPerKWh: feedIn},
		// carol imported 1500 of which alice delivered 500.
		{Start: 7200, LoadWh: 2300, LoadNoDRWh: 2300, GenerationWh: 800, GridImportWh: 1500, P2PWh: 500,
			MCPPerKWh: i(60_000), GridPricePerKWh: peakGrid, FeedInPerKWh: feedIn},
	}
	got := hourly(example())
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("hourly:\n got %s\nwant %s", g, w)
	}
	// The community's totals are the hours' sums.
	c := Compute(example()).Community
	var load, gen, imp, exp, p2p int64
	for _, h := range got {
		load, gen, imp, exp, p2p = load+h.LoadWh, gen+h.GenerationWh, imp+h.GridImportWh, exp+h.GridExportWh, p2p+h.P2PWh
	}
	if load != c.ConsumptionWh || gen != c.ProductionWh || imp != c.GridImportWh || exp != c.GridExportWh || p2p != c.P2PDeliveredWh {
		t.Fatalf("hours sum to %d %d %d %d %d, community says %d %d %d %d %d", load, gen, imp, exp, p2p,
			c.ConsumptionWh, c.ProductionWh, c.GridImportWh, c.GridExportWh, c.P2PDeliveredWh)
	}
	// The hour's MCP is a copy: changing it does not change the input.
	in := example()
	*hourly(in)[0].MCPPerKWh = 1
	if *in.Intervals[0].MCPPerKWh != 70_000 {
		t.Fatal("the hour's MCP aliases the input's")
	}
}

// A member who received more tokens than it imported (and inputs where
// tokens sent and received disagree) is counted as documented and nothing
// panics.
func TestTokensBeyondImportAndUnbalancedTokens(t *testing.T) {
	in := Input{Members: []MemberInfo{{ID: "a", NodeType: "household"}, {ID: "b", NodeType: "household"}}, Intervals: []Interval{
		{Start: 0, GridPricePerKWh: grid, FeedInPerKWh: feedIn, MCPPerKWh: i(50_000), Members: []Member{
			// a exports 1000 and delivers 800 to b; b imports only 300.
			{ID: "a", ProductionWh: 1000, ExportWh: 1000, SoldP2PWh: 800},
			{ID: "b", ConsumptionWh: 300, ImportWh: 300, BoughtP2PWh: 800},
		}},
		{Start: 3600, GridPricePerKWh: grid, FeedInPerKWh: feedIn, Members: []Member{
			// Unbalanced: b says it received 400, nobody sent any.
			{ID: "b", ConsumptionWh: 1000, ImportWh: 1000, BoughtP2PWh: 400},
		}},
	}}
	c := Compute(in).Community
	// Import: t0 max(0, 300 − 800) = 0, t1 1000 − 400 = 600. Export: t0 a 1000 − 800 = 200
	// plus b's unused 800 − 300 = 500.
	if c.GridImportWh != 600 || c.GridExportWh != 700 || c.P2PDeliveredWh != 1200 {
		t.Fatalf("grid import %d, export %d, P2P %d; want 600, 700, 1200", c.GridImportWh, c.GridExportWh, c.P2PDeliveredWh)
	}
	m := Compute(in).Members[1]
	// local share: t0 300 − 300 + min(800, 300) = 300, t1 1000 − 1000 + 400: 700 / 1300.
	if m.LocalShare == nil || *m.LocalShare != 0.5385 {
		t.Fatalf("b's local share = %v, want 0.5385", m.LocalShare)
	}
}

func TestMembersOutsideTheListAndDuplicates(t *testing.T) {
	in := Input{
		Members: []MemberInfo{{ID: "b", NodeType: "ev_charging"}, {ID: "a", NodeType: "household"}, {ID: "b", NodeType: "household"}},
		Intervals: []Interval{{Start: 0, GridPricePerKWh: grid, Members: []Member{
			{ID: "z", ConsumptionWh: 100, ImportWh: 100},
			{ID: "a", ConsumptionWh: 200, ImportWh: 200},
			{ID: "a", ConsumptionWh: 50, ImportWh: 50},
			{ID: "y", ConsumptionWh: 10, ImportWh: 10},
		}}},
	}
	r := Compute(in)
	var ids, types []string
	for _, m := range r.Members {
		ids, types = append(ids, m.ID), append(types, m.NodeType)
	}
	if strings.Join(ids, ",") != "b,a,z,y" || strings.Join(types, ",") != "ev_charging,household,," {
		t.Fatalf("members %v %v, want b,a,z,y with types ev_charging,household,,", ids, types)
	}
	if r.Members[1].ConsumptionWh != 250 || r.Community.Members != 4 || r.Community.ConsumptionWh != 360 {
		t.Fatalf("a consumed %d, community of %d consumed %d; want 250, 4, 360",
			r.Members[1].ConsumptionWh, r.Community.Members, r.Community.ConsumptionWh)
	}
	// b has no interval: no ratios, no savings per kWh, but its zero savings
	// count in the median: 0, y 1M, z 10M, a 25M → (1M + 10M) / 2.
	b := r.Members[0]
	if b.SelfSufficiency != nil || b.SavingsPerKWh != nil || b.SavingsPct != nil {
		t.Fatalf("b: %+v", b)
	}
	if m := r.Community.SavingsMedianNano; m == nil || *m != 5_500_000 {
		t.Fatalf("median savings = %v, want 5500000", show(m))
	}
}

func TestEmptyInput(t *testing.T) {
	for _, in := range []Input{{}, {Members: []MemberInfo{{ID: "a", NodeType: "household"}}}, {Intervals: []Interval{{Start: 0}}}, {SimulatedS: 3600, LedgerBytes: 5}} {
		r := Compute(in)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{`"self_consumption":null`, `"fairness_gini":null`, `"avg_price_paid_per_kwh":null`, `"mean_mcp_per_kwh":null`} {
			if !bytes.Contains(b, []byte(s)) {
				t.Errorf("%+v: %s lacks %s", in, b, s)
			}
		}
		if r.Members == nil || bytes.Contains(b, []byte(`"members":null`)) {
			t.Errorf("members marshal as null: %s", b)
		}
		if h := hourly(in); h == nil || len(h) != len(in.Intervals) {
			t.Errorf("hourly = %v", h)
		}
	}
	if r := Compute(Input{}); r.Community.LedgerBytesPerMemberYear != nil || r.Community.SavingsMedianNano != nil {
		t.Fatalf("empty community: %+v", r.Community)
	}
}

func TestGini(t *testing.T) {
	for _, c := range []struct {
		xs   []int64
		want *float64
	}{
		{[]int64{5, 5, 5, 5}, f(0)},
		{[]int64{7}, f(0)},
		{[]int64{0, 0, 9}, f(0.6667)},         // (n − 1)/n = 2/3
		{[]int64{0, 0, 0, 1000}, f(0.75)},     // 3/4
		{[]int64{1000, 0, 0, 0, 0}, f(0.8)},   // order does not matter: 4/5
		{[]int64{1, 2, 3, 4}, f(0.25)},        // (−3·1 − 1·2 + 1·3 + 3·4) / (4 · 10)
		{[]int64{0, 18571, 31111}, f(0.4175)}, // the example's
		{nil, nil}, {[]int64{0, 0}, nil}, {[]int64{3, -1}, nil},
	} {
		in := slices.Clone(c.xs)
		got := Gini(c.xs)
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("Gini(%v) = %v, want %v", c.xs, show(got), show(c.want))
		}
		if !slices.Equal(in, c.xs) {
			t.Errorf("Gini modified its input: %v → %v", in, c.xs)
		}
	}
	// All-to-one is (n − 1)/n for any n.
	for n := 1; n <= 50; n++ {
		xs := make([]int64, n)
		xs[n/2] = 1_000_000
		if g := Gini(xs); g == nil || *g != round4(float64(n-1)/float64(n)) {
			t.Fatalf("Gini of all-to-one among %d = %v, want %v", n, show(g), float64(n-1)/float64(n))
		}
	}
}

func TestRoundingHelpers(t *testing.T) {
	for _, c := range []struct{ num, den, want int64 }{
		{5, 2, 3}, {-5, 2, -3}, {7, 3, 2}, {-7, 3, -2}, {8, 3, 3}, {-8, 3, -3}, {6, 3, 2}, {0, 5, 0},
		{1_015_000_000, 9000, 112778},
	} {
		if got := average(c.num, c.den); got == nil || *got != c.want {
			t.Errorf("average(%d, %d) = %v, want %d", c.num, c.den, show(got), c.want)
		}
	}
	if average(1, 0) != nil || average(1, -1) != nil {
		t.Error("average with no denominator is not nil")
	}
	for _, c := range []struct{ a, b, want int64 }{
		{1, 3, 2}, {0, 1, 1}, {-1, 0, -1}, {-3, -2, -3}, {-2, 1, -1}, {-1, 2, 1}, {4, 4, 4},
		{math.MinInt64, math.MaxInt64, -1}, {math.MaxInt64 - 1, math.MaxInt64, math.MaxInt64},
	} {
		if got := midpoint(c.a, c.b); got != c.want {
			t.Errorf("midpoint(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	if got := round4(0.41746843); got != 0.4175 {
		t.Errorf("round4 = %v", got)
	}
	if s := share(7, 5); s == nil || *s != 1 {
		t.Errorf("share(7, 5) = %v, want 1", show(s))
	}
	if s := share(-7, 5); s == nil || *s != 0 {
		t.Errorf("share(-7, 5) = %v, want 0", show(s))
	}
	if p := percent(-15, -80); p == nil || *p != -18.75 {
		t.Errorf("percent(-15, -80) = %v, want -18.75", show(p))
	}
	// value is the ledger's exact product and saturates instead of wrapping.
	if value(2500, 95_000) != 237_500_000 || value(math.MaxInt64, 2) != math.MaxInt64 || value(math.MaxInt64, -2) != math.MinInt64 {
		t.Error("value")
	}
	// Ledger bytes per member-year: exact in 128 bits, nil when it cannot fit.
	// 1e12 × 31,536,000 overflows 64 bits; divided by 1000 member-seconds it fits.
	if got := perMemberYear(1_000_000_000_000, 1000, 1); got == nil || *got != 31_536_000_000_000_000 {
		t.Errorf("perMemberYear(1e12 B, 1000, 1 s) = %v", show(got))
	}
	if perMemberYear(math.MaxInt64, 1, 1) != nil || perMemberYear(1, 0, 1) != nil || perMemberYear(1, 1, 0) != nil {
		t.Error("perMemberYear does not refuse what cannot be computed")
	}
	if got := perMemberYear(5, 2, secondsPerYear); got == nil || *got != 3 { // 2.5 → 3
		t.Errorf("perMemberYear(5 B, 2, 1 year) = %v, want 3", show(got))
	}
}

// randomInput is a community of n members over h hours whose meters and
// tokens are consistent (C = P + I − X, tokens sent = tokens received),
// plus, when messy, members whose numbers agree with nothing.
func randomInput(r *rand.Rand, n, h int, messy bool) Input {
	in := Input{SimulatedS: int64(h) * 3600, LedgerBytes: r.Int64N(1 << 30)}
	for m := range n {
		in.Members = append(in.Members, MemberInfo{ID: string(rune('a'+m%26)) + strings.Repeat("x", m/26), NodeType: "household"})
	}
	for t := range h {
		iv := Interval{Start: int64(t) * 3600, GridPricePerKWh: 50_000 + r.Int64N(200_000), FeedInPerKWh: r.Int64N(50_000)}
		if r.IntN(3) > 0 {
			iv.MCPPerKWh = i(iv.FeedInPerKWh + r.Int64N(iv.GridPricePerKWh-iv.FeedInPerKWh+1))
		}
		var exporters []int
		for k := range n {
			m := Member{ID: in.Members[k].ID, ConsumptionWh: r.Int64N(5000)}
			if r.IntN(2) == 0 {
				m.ProductionWh = r.Int64N(8000)
			}
			m.ConsumptionNoDRWh = m.ConsumptionWh + r.Int64N(500)
			if d := m.ConsumptionWh - m.ProductionWh; d > 0 {
				m.ImportWh = d
			} else {
				m.ExportWh = -d
				exporters = append(exporters, k)
			}
			m.PaidUtilityNano = r.Int64N(1_000_000_000)
			m.ReceivedUtilityNano = r.Int64N(100_000_000)
			m.DRIncentiveNano = r.Int64N(10_000_000)
			m.ForecastLoadWh, m.ActualBaseLoadWh = r.Int64N(3000), r.Int64N(3000)
			iv.Members = append(iv.Members, m)
		}
		// Exporters deliver part of their export to random members.
		for _, k := range exporters {
			s := r.Int64N(iv.Members[k].ExportWh + 1)
			b := r.IntN(n)
			iv.Members[k].SoldP2PWh += s
			iv.Members[b].BoughtP2PWh += s
			iv.Members[k].TradedSoldWh += s
			iv.Members[b].TradedBoughtWh += s
		}
		// The pool nets some of an exporter's surplus with a member's need;
		// the tokens follow.
		if len(exporters) > 0 && r.IntN(2) == 0 {
			k, b := exporters[r.IntN(len(exporters))], r.IntN(n)
			q := r.Int64N(iv.Members[k].ExportWh - iv.Members[k].SoldP2PWh + 1)
			v := value(q, iv.FeedInPerKWh+r.Int64N(iv.GridPricePerKWh-iv.FeedInPerKWh+1))
			iv.Members[k].PoolExportWh += q
			iv.Members[k].SoldP2PWh += q
			iv.Members[k].ReceivedMembersNano += v
			iv.Members[b].PoolImportWh += q
			iv.Members[b].BoughtP2PWh += q
			iv.Members[b].PaidMembersNano += v
		}
		if messy {
			iv.Members = append(iv.Members, Member{ID: "messy", ConsumptionWh: r.Int64N(100), ImportWh: r.Int64N(1000),
				ExportWh: r.Int64N(1000), ProductionWh: r.Int64N(100), BoughtP2PWh: r.Int64N(1000), SoldP2PWh: r.Int64N(2000)})
			iv.Members[len(iv.Members)-1].ConsumptionNoDRWh = iv.Members[len(iv.Members)-1].ConsumptionWh
		}
		r.Shuffle(len(iv.Members), func(a, b int) { iv.Members[a], iv.Members[b] = iv.Members[b], iv.Members[a] })
		in.Intervals = append(in.Intervals, iv)
	}
	return in
}

func TestRatiosStayInBoundsAndIgnoreMemberOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for run := range 300 {
		in := randomInput(r, 1+r.IntN(12), 1+r.IntN(30), run%3 == 0)
		rep := Compute(in)
		c := rep.Community
		inUnit := func(what string, x *float64) {
			if x != nil && (*x < 0 || *x > 1) {
				t.Fatalf("run %d: %s = %v, not in [0, 1]", run, what, *x)
			}
		}
		inUnit("self_consumption", c.SelfConsumption)
		inUnit("self_sufficiency", c.SelfSufficiency)
		if c.ProductionWh > 0 && c.SelfConsumption == nil || c.ConsumptionWh > 0 && c.SelfSufficiency == nil {
			t.Fatalf("run %d: ratios missing: %+v", run, c)
		}
		for _, m := range rep.Members {
			inUnit(m.ID+" self_consumption", m.SelfConsumption)
			inUnit(m.ID+" self_sufficiency", m.SelfSufficiency)
			inUnit(m.ID+" local_share", m.LocalShare)
			if m.SelfSufficiency != nil && m.LocalShare != nil && *m.LocalShare < *m.SelfSufficiency {
				t.Fatalf("run %d: %s local share %v below self-sufficiency %v", run, m.ID, *m.LocalShare, *m.SelfSufficiency)
			}
		}
		if c.PeakImportNoDRWh < c.PeakImportWh || c.PeakImportWh < 0 {
			t.Fatalf("run %d: peaks %d (no DR %d)", run, c.PeakImportWh, c.PeakImportNoDRWh)
		}
		if c.FairnessGini != nil && (*c.FairnessGini < 0 || *c.FairnessGini >= 1) {
			t.Fatalf("run %d: Gini %v", run, *c.FairnessGini)
		}
		if !(run%3 == 0) {
			// Consistent inputs: Σ R = Σ S, and grid import − export = Σ I − Σ X.
			var sumI, sumX, sumR, sumS int64
			for _, m := range rep.Members {
				sumI, sumX, sumR, sumS = sumI+m.ImportWh, sumX+m.ExportWh, sumR+m.BoughtP2PWh, sumS+m.SoldP2PWh
			}
			if sumR != sumS || c.GridImportWh-c.GridExportWh != sumI-sumX {
				t.Fatalf("run %d: R %d S %d, grid %d − %d ≠ %d − %d", run, sumR, sumS, c.GridImportWh, c.GridExportWh, sumI, sumX)
			}
			// Payments between members cancel: the community's cost is what
			// it settled with the utility, less the DR incentives.
			var utility int64
			for _, iv := range in.Intervals {
				for _, m := range iv.Members {
					utility += m.PaidUtilityNano - m.ReceivedUtilityNano - m.DRIncentiveNano + m.PaidP2PNano - m.ReceivedP2PNano
				}
			}
			if c.CostNano != utility {
				t.Fatalf("run %d: community cost %d, settled with the utility %d", run, c.CostNano, utility)
			}
		}

		// Reverse the member list and shuffle each interval's members: the
		// community is byte for byte the same, the members the same set in
		// the new order.
		re := in
		re.Members = slices.Clone(in.Members)
		slices.Reverse(re.Members)
		re.Intervals = nil
		for _, iv := range in.Intervals {
			iv.Members = slices.Clone(iv.Members)
			r.Shuffle(len(iv.Members), func(a, b int) { iv.Members[a], iv.Members[b] = iv.Members[b], iv.Members[a] })
			re.Intervals = append(re.Intervals, iv)
		}
		rep2 := Compute(re)
		a, _ := json.Marshal(rep.Community)
		b, _ := json.Marshal(rep2.Community)
		if !bytes.Equal(a, b) {
			t.Fatalf("run %d: reordering members changed the community:\n%s\n%s", run, a, b)
		}
		byID := map[string]MemberKPI{}
		for _, m := range rep.Members {
			byID[m.ID] = m
		}
		for k, m := range rep2.Members {
			if k < len(re.Members) && m.ID != re.Members[k].ID {
				t.Fatalf("run %d: member %d is %s, want %s", run, k, m.ID, re.Members[k].ID)
			}
			if !reflect.DeepEqual(m, byID[m.ID]) {
				t.Fatalf("run %d: %s changed with the order", run, m.ID)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	inputs := []Input{example(), randomInput(rand.New(rand.NewPCG(3, 4)), 40, 200, true)}
	for _, in := range inputs {
		a, err := json.Marshal(Compute(in))
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			b, _ := json.Marshal(Compute(in))
			if !bytes.Equal(a, b) {
				t.Fatalf("two computations differ:\n%s\n%s", a, b)
			}
		}
	}
	// And the bytes are the ones expected, not just stable ones.
	b, _ := json.Marshal(Compute(example()).Community)
	if !bytes.Contains(b, []byte(`"self_consumption":0.8413,"self_sufficiency":0.4907`)) {
		t.Fatalf("community JSON: %s", b)
	}
}

// equalJSON compares two values field by field through their JSON, so a
// failure names the KPI.
func equalJSON(t *testing.T, name string, got, want any) {
	t.Helper()
	var g, w map[string]any
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if err := json.Unmarshal(gb, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(wb, &w); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !reflect.DeepEqual(g[k], w[k]) {
			t.Errorf("%s: %s = %v, want %v", name, k, g[k], w[k])
		}
	}
	if len(g) != len(w) {
		t.Errorf("%s: %d fields, want %d", name, len(g), len(w))
	}
}

func show[T any](p *T) any {
	if p == nil {
		return "null"
	}
	return *p
}

// hourly is each interval's community sums, as Accumulator.Add returns them.
func hourly(in Input) []HourPoint {
	a := NewAccumulator(in.Members)
	out := make([]HourPoint, 0, len(in.Intervals))
	for _, iv := range in.Intervals {
		out = append(out, a.Add(iv))
	}
	return out
}

// communityRule is two hours settled by the community imbalance rule
// (MCP and pool price 0.07, grid 0.10, feed-in 0.04):
//
//	t=0     alice exports 2500 and delivers the 1000 Wh she sold bob (70M).
//	        carol imports 800 she did not buy: the pool nets it with 800 of
//	        alice's surplus at 0.07 (carol pays alice 56M), and the tokens
//	        follow; alice's last 700 go to the utility at feed-in (28M).
//	t=3600  alice sold bob 1000 (70M) and exports it, but bob imports only
//	        600: 600 are realised, the other 400 refunded at their trade
//	        price (alice pays bob 28M) and, with nobody short, sold to the
//	        utility (16M).
func communityRule() Input {
	return Input{
		Members: []MemberInfo{{ID: "alice", NodeType: "prosumer"}, {ID: "bob", NodeType: "household"}, {ID: "carol", NodeType: "household"}},
		Intervals: []Interval{
			{Start: 0, GridPricePerKWh: grid, FeedInPerKWh: feedIn, MCPPerKWh: i(70_000), Members: []Member{
				{ID: "alice", ConsumptionWh: 500, ConsumptionNoDRWh: 500, ProductionWh: 3000, ExportWh: 2500,
					SoldP2PWh: 1800, TradedSoldWh: 1000, ReceivedP2PNano: 70_000_000, ReceivedUtilityNano: 28_000_000,
					PoolExportWh: 800, ReceivedMembersNano: 56_000_000},
				{ID: "bob", ConsumptionWh: 1000, ConsumptionNoDRWh: 1000, ImportWh: 1000,
					BoughtP2PWh: 1000, TradedBoughtWh: 1000, PaidP2PNano: 70_000_000},
				{ID: "carol", ConsumptionWh: 800, ConsumptionNoDRWh: 800, ImportWh: 800, BoughtP2PWh: 800, PoolImportWh: 800, PaidMembersNano: 56_000_000},
			}},
			{Start: 3600, GridPricePerKWh: grid, FeedInPerKWh: feedIn, MCPPerKWh: i(70_000), Members: []Member{
				{ID: "alice", ConsumptionWh: 0, ProductionWh: 1000, ExportWh: 1000,
					SoldP2PWh: 600, TradedSoldWh: 1000, ReceivedP2PNano: 70_000_000, ReceivedUtilityNano: 16_000_000,
					PaidMembersNano: 28_000_000},
				{ID: "bob", ConsumptionWh: 600, ConsumptionNoDRWh: 600, ImportWh: 600,
					BoughtP2PWh: 600, TradedBoughtWh: 1000, PaidP2PNano: 70_000_000, ReceivedMembersNano: 28_000_000},
			}},
		},
	}
}

// Under the community rule the money members move at settlement counts in
// what each paid and received, the pool's energy is delivered between
// members, not bought from the utility, a refund undoes the payment it
// refunds in the average prices, and the community's cost is still what
// it settled with the utility.
func TestCommunityImbalanceRule(t *testing.T) {
	r := Compute(communityRule())
	want := []struct {
		id                        string
		paid, received, uo, saved int64
		poolIn, poolOut           int64
	}{
		// alice: received 70M + 28M + 56M, then 70M + 16M, paid the 28M refund; her
		// 3500 Wh exported would have earned 140M at feed-in: cost −212M, saved 72M.
		{"alice", 28_000_000, 240_000_000, -140_000_000, 72_000_000, 0, 800},
		// bob: paid 140M, refunded 28M, for 1600 Wh the utility sells for 160M.
		{"bob", 140_000_000, 28_000_000, 160_000_000, 48_000_000, 0, 0},
		// carol: 800 Wh from the pool at 0.07 instead of 0.10.
		{"carol", 56_000_000, 0, 80_000_000, 24_000_000, 800, 0},
	}
	for k, w := range want {
		m := r.Members[k]
		if m.ID != w.id || m.PaidNano != w.paid || m.ReceivedNano != w.received || m.UtilityOnlyCostNano != w.uo ||
			m.CostNano != w.paid-w.received || m.SavingsNano != w.saved || m.PoolImportWh != w.poolIn || m.PoolExportWh != w.poolOut {
			t.Errorf("%s: paid %d received %d utility-only %d cost %d saved %d pool %d/%d; want %+v", m.ID, m.PaidNano, m.ReceivedNano,
				m.UtilityOnlyCostNano, m.CostNano, m.SavingsNano, m.PoolImportWh, m.PoolExportWh, w)
		}
	}
	c := r.Community
	// Payments between members cancel: the community's cost is the 44M the
	// utility paid it, negated.
	if c.CostNano != -44_000_000 || c.SavingsNano != 144_000_000 || c.MembersSaving != 3 || c.MembersLosing != 0 || len(c.MembersLosingIDs) != 0 {
		t.Errorf("community cost %d, savings %d, %d saving, %d losing %v", c.CostNano, c.SavingsNano, c.MembersSaving, c.MembersLosing, c.MembersLosingIDs)
	}
	// t0: carol's import all delivered through the pool; alice's export not
	// delivered, 2500 − 1800. t1: alice's 400 unrealised.
	if c.PoolWh != 800 || c.P2PDeliveredWh != 2400 || c.GridImportWh != 0 || c.GridExportWh != 1100 || c.GridImportWh-c.GridExportWh != 2400-3500 {
		t.Errorf("pool %d, delivered %d, grid import %d, export %d; want 800, 2400, 0, 1100", c.PoolWh, c.P2PDeliveredWh, c.GridImportWh, c.GridExportWh)
	}
	// Paid net to members: bob 70M, then 70M − 28M refunded; carol 56M: 168M
	// for 2400 Wh. Received: alice 70M + 56M, then 70M − 28M, and 44M from the
	// utility: 212M for 2400 + 1100 Wh.
	if show(c.AvgPricePaidPerKWh) != int64(70_000) || show(c.AvgPriceReceivedPerKWh) != int64(60_571) || show(c.AvgGridPricePerKWh) != int64(grid) {
		t.Errorf("paid %v received %v grid %v per kWh; want 70000, 60571, %d", show(c.AvgPricePaidPerKWh), show(c.AvgPriceReceivedPerKWh), show(c.AvgGridPricePerKWh), grid)
	}
	h := hourly(communityRule())
	if h[0].PoolWh != 800 || h[0].P2PWh != 1800 || h[0].GridImportWh != 0 || h[0].GridExportWh != 700 || h[1].GridExportWh != 400 {
		t.Errorf("hours %+v", h)
	}

	// The same flows settled by the utility rule: carol buys her 800 at the
	// grid tariff and alice sells 1500 at feed-in, so the pool saved the two
	// of them (0.07 − 0.04 + 0.10 − 0.07) × 800 Wh = 48M between them.
	u := communityRule()
	iv := &u.Intervals[0]
	iv.Members[0].PoolExportWh, iv.Members[0].ReceivedMembersNano, iv.Members[0].ReceivedUtilityNano = 0, 0, 60_000_000
	iv.Members[0].SoldP2PWh = 1000
	iv.Members[2].PoolImportWh, iv.Members[2].PaidMembersNano, iv.Members[2].PaidUtilityNano = 0, 0, 80_000_000
	iv.Members[2].BoughtP2PWh = 0
	if cu := Compute(u).Community; c.SavingsNano-cu.SavingsNano != 48_000_000 || cu.PoolWh != 0 || cu.GridImportWh != 800 {
		t.Errorf("utility rule: savings %d (community rule %d), pool %d, grid import %d", cu.SavingsNano, c.SavingsNano, cu.PoolWh, cu.GridImportWh)
	}
}

// The losers are listed worst first, equal losses by ID, whatever the
// members' order.
func TestMembersLosingAreListedWorstFirst(t *testing.T) {
	in := Input{Intervals: []Interval{{Start: 0, GridPricePerKWh: grid, FeedInPerKWh: feedIn, Members: []Member{
		// Each imports 1000 (100M at the grid tariff) and pays what is given.
		{ID: "d", ImportWh: 1000, PaidUtilityNano: 130_000_000},
		{ID: "b", ImportWh: 1000, PaidUtilityNano: 110_000_000},
		{ID: "a", ImportWh: 1000, PaidUtilityNano: 130_000_000},
		{ID: "c", ImportWh: 1000, PaidUtilityNano: 90_000_000},
		{ID: "e", ImportWh: 1000, PaidUtilityNano: 100_000_000},
	}}}}
	c := Compute(in).Community
	if strings.Join(c.MembersLosingIDs, ",") != "a,d,b" || c.MembersLosing != 3 || c.MembersSaving != 1 {
		t.Fatalf("losing %d %v, saving %d; want 3 [a d b], 1", c.MembersLosing, c.MembersLosingIDs, c.MembersSaving)
	}
	b, _ := json.Marshal(Compute(Input{}).Community)
	if !bytes.Contains(b, []byte(`"members_losing_ids":[]`)) || !bytes.Contains(b, []byte(`"savings_p5_nano":null`)) {
		t.Fatalf("empty community: %s", b)
	}
}

func TestPercentile(t *testing.T) {
	for _, c := range []struct {
		xs   []int64
		p    int
		want int64
	}{
		{[]int64{7}, 5, 7}, {[]int64{7}, 95, 7},
		{[]int64{1, 2}, 50, 2}, {[]int64{-2, -1}, 50, -2}, {[]int64{-1, 0}, 50, -1}, {[]int64{-1, 1}, 50, 0},
		{[]int64{0, 100}, 5, 5}, {[]int64{0, 100}, 95, 95}, {[]int64{0, 10}, 25, 3}, {[]int64{-10, 0}, 75, -3},
		{[]int64{0, 10}, 15, 2}, {[]int64{-10, 0}, 85, -2}, // 1.5 → 2, −1.5 → −2
		{[]int64{10, 20, 30, 40, 50}, 25, 20}, {[]int64{10, 20, 30, 40, 50}, 95, 48},
		{[]int64{0, 0, 0, 0, 1000}, 95, 800}, {[]int64{1, 2, 3}, 0, 1}, {[]int64{1, 2, 3}, 100, 3},
		{[]int64{math.MinInt64, math.MaxInt64}, 50, -1}, {[]int64{math.MinInt64, math.MaxInt64}, 100, math.MaxInt64},
		{[]int64{math.MaxInt64 - 1, math.MaxInt64}, 50, math.MaxInt64},
	} {
		if got := Percentile(c.xs, c.p); got != c.want {
			t.Errorf("Percentile(%v, %d) = %d, want %d", c.xs, c.p, got, c.want)
		}
	}
	// The 50th is the median as the community's KPIs take it, and the
	// percentiles never decrease with p nor leave the values' range.
	r := rand.New(rand.NewPCG(5, 6))
	for range 500 {
		xs := make([]int64, 1+r.IntN(40))
		for k := range xs {
			xs[k] = r.Int64N(2_000_000_001) - 1_000_000_000
		}
		slices.Sort(xs)
		n := len(xs)
		median := xs[n/2]
		if n%2 == 0 {
			median = midpoint(xs[n/2-1], xs[n/2])
		}
		if got := Percentile(xs, 50); got != median {
			t.Fatalf("Percentile(%v, 50) = %d, median %d", xs, got, median)
		}
		last := xs[0]
		for p := 0; p <= 100; p++ {
			v := Percentile(xs, p)
			if v < last || v > xs[n-1] {
				t.Fatalf("Percentile(%v, %d) = %d after %d", xs, p, v, last)
			}
			last = v
		}
	}
}

// A prosumer's battery stores 2000 Wh of its midday surplus and gives
// 1800 back in the evening; a neighbour imports all it uses.
//
//	t=0  p: PV 5000, load 1000, charges 2000, exports 2000. h: load 1000.
//	     Lₜ 2000, Gₜ 5000, Bₜ⁺ 2000: local use min(5000, 4000) = 4000, of
//	     which the load alone took 2000.
//	t=1  p: load 1500, discharges 1800, exports 300. h: load 2000.
//	     Lₜ 3500, Bₜ⁻ 1800: the connection point imports 1700.
func TestBatteries(t *testing.T) {
	in := Input{Members: []MemberInfo{{ID: "p", NodeType: "prosumer", BatteryCapacityWh: 4000}, {ID: "h", NodeType: "household"}},
		Intervals: []Interval{
			{Start: 0, GridPricePerKWh: grid, FeedInPerKWh: feedIn, Members: []Member{
				{ID: "p", ConsumptionWh: 1000, ConsumptionNoDRWh: 1000, ProductionWh: 5000, ExportWh: 2000, BatteryChargeWh: 2000},
				{ID: "h", ConsumptionWh: 1000, ConsumptionNoDRWh: 1000, ImportWh: 1000}}},
			{Start: 3600, GridPricePerKWh: grid, FeedInPerKWh: feedIn, Members: []Member{
				{ID: "p", ConsumptionWh: 1500, ConsumptionNoDRWh: 1500, ExportWh: 300, BatteryDischargeWh: 1800},
				{ID: "h", ConsumptionWh: 2000, ConsumptionNoDRWh: 2000, ImportWh: 2000}}},
		}}
	r := Compute(in)
	c := r.Community
	if c.LocalUseWh != 4000 || *c.SelfConsumption != 0.8 || *c.BatterySelfConsumption != 0.4 {
		t.Errorf("local use %d, self-consumption %v, added by batteries %v", c.LocalUseWh, *c.SelfConsumption, *c.BatterySelfConsumption)
	}
	if c.PeakImportWh != 1700 || c.PeakImportNoDRWh != 1700 {
		t.Errorf("peaks %d, %d: want the connection point's 1700", c.PeakImportWh, c.PeakImportNoDRWh)
	}
	if c.BatteryCapacityWh != 4000 || c.BatteryChargeWh != 2000 || c.BatteryDischargeWh != 1800 || *c.BatteryCycles != 0.475 {
		t.Errorf("community batteries %d Wh, %d in, %d out, %v cycles", c.BatteryCapacityWh, c.BatteryChargeWh, c.BatteryDischargeWh, *c.BatteryCycles)
	}
	p, h := r.Members[0], r.Members[1]
	if p.BatteryCapacityWh != 4000 || p.BatteryChargeWh != 2000 || p.BatteryDischargeWh != 1800 || *p.BatteryCycles != 0.475 ||
		*p.SelfConsumption != 0.54 {
		t.Errorf("p: %+v", p)
	}
	if h.BatteryCycles != nil || h.BatteryCapacityWh != 0 {
		t.Errorf("h has a battery: %+v", h)
	}
	hs := hourly(in)
	if hs[0].BatteryChargeWh != 2000 || hs[1].BatteryDischargeWh != 1800 || hs[0].BatteryDischargeWh != 0 {
		t.Errorf("hours %+v", hs)
	}
	b, _ := json.Marshal(r)
	for _, k := range []string{`"battery_cycles":0.475`, `"battery_self_consumption":0.4`, `"battery_capacity_wh":4000`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("kpis lack %s", k)
		}
	}
	// Without batteries nothing of them is written: a community without
	// any reports what it always did.
	if b, _ := json.Marshal(Compute(example())); bytes.Contains(b, []byte("battery")) {
		t.Errorf("a community without batteries reports them: %s", b)
	}
}

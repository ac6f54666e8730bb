package sim

import (
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/kpi"
	"github.com/gridledger/gridledger/internal/market"
)

// Interval hands the KPIs what each member moved at settlement: with the
// utility, with other members (community imbalance rule) and in the pool,
// and what it traded at clearing.
func TestIntervalMapsTheSettlement(t *testing.T) {
	mcp := int64(70_000)
	st := contract.Settlement{Start: 3600, GridPricePerKWh: 100_000, FeedInPerKWh: 40_000, Imbalance: contract.ImbalanceCommunity,
		PoolWh: 800, PoolPricePerKWh: mcp, Members: []contract.MemberSettlement{
			{ID: "alice", ExportWh: 2500, ProductionWh: 3000, TokensSent: 1000, ReceivedFromUtility: 28_000_000,
				PoolExportWh: 800, MembersReceivedNano: 56_000_000},
			{ID: "carol", ImportWh: 800, PoolImportWh: 800, MembersPaidNano: 56_000_000, PaidToUtility: 1},
		}}
	c := &contract.Clearing{MCP: &mcp, Trades: []market.Trade{{Buyer: "carol", Seller: "alice", Wh: 1000, PricePerKWh: mcp}}}
	iv := Interval(st, c, []Use{{ID: "alice", ConsumptionWh: 500, NoDRWh: 500, ProductionWh: 3000}})
	want := []kpi.Member{
		{ID: "alice", ConsumptionWh: 500, ConsumptionNoDRWh: 500, ProductionWh: 3000, ExportWh: 2500, SoldP2PWh: 1000,
			TradedSoldWh: 1000, ReceivedP2PNano: 70_000_000, ReceivedUtilityNano: 28_000_000, PoolExportWh: 800, ReceivedMembersNano: 56_000_000},
		// A member the uses lack: its load from its meter.
		{ID: "carol", ConsumptionWh: 800, ConsumptionNoDRWh: 800, ImportWh: 800, TradedBoughtWh: 1000, PaidP2PNano: 70_000_000,
			PaidUtilityNano: 1, PoolImportWh: 800, PaidMembersNano: 56_000_000},
	}
	if len(iv.Members) != len(want) || *iv.MCPPerKWh != mcp || iv.GridPricePerKWh != 100_000 || iv.FeedInPerKWh != 40_000 {
		t.Fatalf("interval %+v", iv)
	}
	for k, w := range want {
		if iv.Members[k] != w {
			t.Errorf("member %d:\n got %+v\nwant %+v", k, iv.Members[k], w)
		}
	}
}

package kpi

import (
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
)

// FromSettlement hands the KPIs what each member moved at settlement: with the
// utility, with other members (community imbalance rule) and in the pool,
// and what it traded at clearing.
func TestFromSettlementMapsTheSettlement(t *testing.T) {
	mcp := int64(70_000)
	st := contract.Settlement{Start: 3600, GridPricePerKWh: 100_000, FeedInPerKWh: 40_000, Imbalance: contract.ImbalanceCommunity,
		PoolWh: 800, PoolPricePerKWh: mcp, Members: []contract.MemberSettlement{
			{ID: "alice", ExportWh: 2500, ProductionWh: 3000, TokensSentWh: 1000, ReceivedFromUtilityNano: 28_000_000,
				PoolExportWh: 800, MembersReceivedNano: 56_000_000},
			{ID: "carol", ImportWh: 800, PoolImportWh: 800, MembersPaidNano: 56_000_000, PaidToUtilityNano: 1},
		}}
	c := &contract.Clearing{MCP: &mcp, Trades: []market.Trade{{Buyer: "carol", Seller: "alice", Wh: 1000, PricePerKWh: mcp}}}
	iv := FromSettlement(st, c, []Use{{ID: "alice", ConsumptionWh: 500, NoDRWh: 500, ProductionWh: 3000}})
	want := []Member{
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

// Ledger takes each settlement's clearing from its listing, lists the
// participants in the member role alone, and keeps no intervals it was
// not given (an empty ledger gives an empty, not a null, list of hours).
func TestLedgerKPIsFromSettlementsListingsAndMembers(t *testing.T) {
	if hours, c := Ledger(nil, nil, nil); hours == nil || len(hours) != 0 || c.Intervals != 0 {
		t.Fatalf("empty ledger: %v %+v", hours, c)
	}
	mcp := int64(70_000)
	sts := []contract.Settlement{
		{Start: 0, GridPricePerKWh: 100_000, FeedInPerKWh: 40_000, Members: []contract.MemberSettlement{
			{ID: "bob", ImportWh: 400}}},
		{Start: 3600, GridPricePerKWh: 100_000, FeedInPerKWh: 40_000, Members: []contract.MemberSettlement{
			{ID: "alice", ExportWh: 1000, ProductionWh: 1000, TokensSentWh: 1000},
			{ID: "bob", ImportWh: 1000, TokensReceivedWh: 1000}}},
	}
	var ls []contract.ListingView
	ls = append(ls, contract.ListingView{}, contract.ListingView{})
	ls[0].Start = 0
	ls[1].Start = 3600
	ls[1].Clearing = &contract.Clearing{MCP: &mcp, Trades: []market.Trade{{Buyer: "bob", Seller: "alice", Wh: 1000, PricePerKWh: mcp}}}
	ps := []contract.Participant{{ID: "op", Role: contract.RoleOperator}, {ID: "alice", Role: contract.RoleMember, NodeType: "household"},
		{ID: "bob", Role: contract.RoleMember, NodeType: "household"}}
	hours, c := Ledger(sts, ls, ps)
	if len(hours) != 2 || hours[0].MCPPerKWh != nil || hours[1].MCPPerKWh == nil || *hours[1].MCPPerKWh != mcp {
		t.Fatalf("hours %+v", hours)
	}
	if c.Members != 2 || c.Intervals != 2 || c.IntervalsCleared != 1 || c.P2PTradedWh != 1000 || c.P2PDeliveredWh != 1000 ||
		c.ConsumptionWh != 1400 || c.GridImportWh != 400 {
		t.Errorf("community %+v", c)
	}
}

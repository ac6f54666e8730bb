package sim

import (
	"context"
	"testing"

	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/kpi"
)

// The same small community over the same two days: under the utility
// imbalance rule some members pay more than the utility alone would have
// charged them; under the community rule, in every interval, none does.
func TestCommunityRuleLeavesNoMemberWorseOffThanTheUtilityAlone(t *testing.T) {
	c := community.Generate(8, 7)
	losing := map[string][]string{}
	for _, rule := range contract.ImbalanceRules {
		cc := *c
		cc.Imbalance = rule
		acc := kpi.NewAccumulator(kpi.SiteMembers(cc.Sites))
		worse := 0 // member-intervals costing more than the utility alone
		_, err := Run(context.Background(), Options{Community: &cc, Seed: 7, From: cc.StartUnix(), Days: 2,
			OnInterval: func(iv kpi.Interval) {
				acc.Add(iv)
				for _, m := range iv.Members {
					cost := m.PaidP2PNano + m.PaidUtilityNano + m.PaidMembersNano - m.ReceivedP2PNano - m.ReceivedUtilityNano - m.ReceivedMembersNano
					if cost > m.ImportWh*iv.GridPricePerKWh-m.ExportWh*iv.FeedInPerKWh {
						worse++
					}
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		r := acc.Report(0, 2*86400)
		losing[rule] = r.Community.MembersLosingIDs
		if rule == contract.ImbalanceCommunity && (worse != 0 || r.Community.MembersLosing != 0) {
			t.Errorf("community rule: %d member-intervals cost more than the utility alone; %v lose over the two days", worse, r.Community.MembersLosingIDs)
		}
		if rule == contract.ImbalanceUtility && worse == 0 {
			t.Errorf("utility rule: no member-interval cost more than the utility alone")
		}
		if r.Community.SavingsNano <= 0 {
			t.Errorf("%s rule: the community saved %d", rule, r.Community.SavingsNano)
		}
	}
	if len(losing[contract.ImbalanceUtility]) == 0 {
		t.Errorf("the utility rule left nobody worse off: the test no longer shows the difference")
	}
	t.Logf("losing under the utility rule: %v; under the community rule: %v", losing[contract.ImbalanceUtility], losing[contract.ImbalanceCommunity])
}

package agent

import (
	"context"
	"log/slog"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/plan"
)

// flatHome is an agent for a home without appliances whose forecast is
// 500 Wh every hour, on a ledger that records what it is sent.
func flatHome() (*Agent, *plansLedger) {
	l := &plansLedger{}
	utc := 0
	a := &Agent{Home: Home{Member: "H1", UTCOffsetH: &utc}, Ledger: l, Log: slog.New(slog.DiscardHandler), LeadIntervals: 1,
		Forecast: func(int64) (base, pv [plan.HoursPerDay]int64, err error) {
			for h := range base {
				base[h] = 500
			}
			return base, pv, nil
		}}
	return a, l
}

// snapAt is the ledger at t with the listing whose orders go in at t
// (gate closure an hour after t, delivery an hour later) under rule.
func snapAt(t int64, rule string, metered ...Metered) Snapshot {
	p := contract.DefaultParams()
	start := t + 2*3600
	return Snapshot{MarketTime: t, Params: p, Metered: metered, Listings: []contract.ListingView{{Listing: contract.Listing{
		Start: start, End: start + 3600, GateClosure: start - 3600, State: contract.StateAuthorizeOffers, Imbalance: rule,
		GridPricePerKWh: 95_000, FeedInPerKWh: 39_000}}}}
}

func lastBid(t *testing.T, l *plansLedger) *contract.MsgBid {
	t.Helper()
	for i := len(l.sent) - 1; i >= 0; i-- {
		if b, ok := l.sent[i].(*contract.MsgBid); ok {
			return b
		}
	}
	t.Fatal("no bid sent")
	return nil
}

// The agent learns its errors from what its meter recorded in the
// intervals it ordered in, and sizes its next bids for them under the
// listing's rule; errors older than a week are forgotten.
func TestAgentSizesItsBidsForItsOwnErrors(t *testing.T) {
	const day = int64(20 * 86400)
	for _, c := range []struct {
		rule string
		want []int64 // the bids, hour by hour
	}{
		// Community: over-committing is free, the worst shortfall seen.
		{contract.ImbalanceCommunity, []int64{500, 800, 800}},
		// Utility, the price at the middle of the tariffs: the lower
		// median error.
		{contract.ImbalanceUtility, []int64{500, 800, 400}},
	} {
		a, l := flatHome()
		ctx := context.Background()
		t0 := day + 3600
		if err := a.Step(ctx, snapAt(t0, c.rule)); err != nil {
			t.Fatal(err)
		}
		got := []int64{lastBid(t, l).Wh}
		// The first interval metered 800 (error +300), the second 400 (-100).
		m1 := Metered{Start: t0 + 2*3600, NetWh: map[string]int64{"H1": 800, "H2": -5000}}
		if err := a.Step(ctx, snapAt(t0+3600, c.rule, m1)); err != nil {
			t.Fatal(err)
		}
		got = append(got, lastBid(t, l).Wh)
		m2 := Metered{Start: t0 + 3*3600, NetWh: map[string]int64{"H1": 400}}
		if err := a.Step(ctx, snapAt(t0+2*3600, c.rule, m1, m2)); err != nil {
			t.Fatal(err)
		}
		got = append(got, lastBid(t, l).Wh)
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: bids %v, want %v", c.rule, got, c.want)
				break
			}
		}
		if e := a.ErrorsWh(); len(e) != 2 || e[m1.Start] != 300 || e[m2.Start] != -100 {
			t.Errorf("%s: errors %v", c.rule, e)
		}
		if err := a.Step(ctx, snapAt(t0+ErrorWindowS+4*3600, c.rule)); err != nil {
			t.Fatal(err)
		}
		if e := a.ErrorsWh(); len(e) != 0 {
			t.Errorf("%s: errors older than the window kept: %v", c.rule, e)
		}
	}
}

// With TrueNetWh set the agent orders that quantity, whatever its plan
// and errors.
func TestAgentWithForesightOrdersTheTrueNet(t *testing.T) {
	a, l := flatHome()
	a.Home.RES, a.Home.CapacityW = "H1-PV", 3000
	a.TrueNetWh = func(start int64) int64 {
		if start%7200 == 0 {
			return -4200
		}
		return 1234
	}
	t0 := int64(20*86400 + 3600)
	for i := range int64(2) {
		if err := a.Step(context.Background(), snapAt(t0+i*3600, "")); err != nil {
			t.Fatal(err)
		}
	}
	var bids, offers []int64
	for _, m := range l.sent {
		switch m := m.(type) {
		case *contract.MsgBid:
			bids = append(bids, m.Wh)
		case *contract.MsgOffer:
			offers = append(offers, m.Wh)
		}
	}
	if len(bids) != 1 || bids[0] != 1234 || len(offers) != 1 || offers[0] != 3000 {
		t.Errorf("bids %v offers %v: want [1234] and the capacity [3000]", bids, offers)
	}
}

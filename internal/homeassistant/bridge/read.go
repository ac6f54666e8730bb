package bridge

import (
	"context"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/homeassistant"
)

// Read reads what the member's states show, as rd.As (the member) may
// read it: the listings of the last week, its wallet, its statement of the
// month so far, its plans for the next hours, the demand-response
// requests and its meters' registers.
func Read(ctx context.Context, rd chain.Reader, member string, now int64) (homeassistant.Market, error) {
	mk := homeassistant.Market{MarketTime: now}
	var err error
	if mk.Listings, err = rd.Listings(ctx, now-7*86400); err != nil {
		return mk, err
	}
	if mk.Participant, err = rd.Participant(ctx, member); err != nil {
		return mk, err
	}
	t := time.Unix(now, 0).UTC()
	month := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).Unix()
	if mk.Statement, err = rd.Statement(ctx, member, month, now+1); err != nil {
		return mk, err
	}
	if mk.Plans, err = rd.MemberPlans(ctx, member, now-3600, now+homeassistant.PlanHours*3600); err != nil {
		return mk, err
	}
	if mk.DR, err = rd.DRs(ctx); err != nil {
		return mk, err
	}
	meters, err := rd.Meters(ctx)
	if err != nil {
		return mk, err
	}
	for _, m := range meters {
		if m.Owner == member {
			mk.Meters = append(mk.Meters, m)
		}
	}
	return mk, nil
}

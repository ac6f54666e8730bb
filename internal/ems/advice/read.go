package advice

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/gridledger/gridledger/internal/contract"
)

// marketWindowS is how far back the market summary looks.
const marketWindowS = 7 * 86400

// Query reads a ledger query path into v, as the node's client does.
type Query func(ctx context.Context, path string, v any) error

// Ledger is what a member's advice reads from the ledger: the market
// time, the member's statement since the start of that month (market
// time, UTC) and the listings of the last week, oldest first.
type Ledger struct {
	MarketTime int64
	Statement  []contract.StatementRow
	Listings   []contract.ListingView
}

// Read reads what the member's advice needs. query reads the public
// paths; statement reads the member's statement, which the ledger shows
// only to a signed reader (the member, operator or DSO), so the caller
// signs it as it can. The package itself holds no client.
func Read(ctx context.Context, query, statement Query, member string) (Ledger, error) {
	var l Ledger
	var info contract.Info
	if err := query(ctx, "/info", &info); err != nil {
		return l, err
	}
	l.MarketTime = info.MarketTime
	now := time.Unix(info.MarketTime, 0).UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Unix()
	v := url.Values{"member": {member}, "from": {fmt.Sprint(month)}}
	if err := statement(ctx, "/statement?"+v.Encode(), &l.Statement); err != nil {
		return l, err
	}
	if err := query(ctx, fmt.Sprintf("/listings?from=%d", info.MarketTime-marketWindowS), &l.Listings); err != nil {
		return l, err
	}
	return l, nil
}

package advice

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

// Read asks for the member's statement from the start of the market
// time's month (UTC) through the statement reader alone, and for the last
// week's listings through the public one.
func TestReadAsksForTheMonthAndTheWeek(t *testing.T) {
	const marketTime = 1_710_000_000 // 2024-03-09 16:00 UTC
	public := map[string]any{
		"/info":                     contract.Info{MarketTime: marketTime},
		"/listings?from=1709395200": []contract.ListingView{{}},
	}
	private := map[string]any{
		"/statement?from=1709251200&member=bob": []contract.StatementRow{{}, {}},
	}
	answer := func(paths map[string]any) Query {
		return func(_ context.Context, path string, v any) error {
			a, ok := paths[path]
			if !ok {
				return errors.New("unexpected query " + path)
			}
			raw, _ := json.Marshal(a)
			return json.Unmarshal(raw, v)
		}
	}
	l, err := Read(context.Background(), answer(public), answer(private), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if l.MarketTime != marketTime || len(l.Statement) != 2 || len(l.Listings) != 1 {
		t.Errorf("read %+v", l)
	}
}

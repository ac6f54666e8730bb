package chain

import (
	"context"
	"time"

	"github.com/gridledger/gridledger/internal/reqsig"
)

// QueryAs runs a ledger query signed as k (package reqsig), as the
// ledger's private queries need: a member's /readings, /plans and
// /statement, the members' /plans/START, and the members' part of
// /settlement/START and /settlements. Each call signs afresh: a signature
// serves once.
func (c *Client) QueryAs(ctx context.Context, k Key, path string, v any) error {
	signed, err := reqsig.SignedURL(k.PrivKey, c.ChainID, k.ID, path, time.Now())
	if err != nil {
		return err
	}
	return c.Query(ctx, signed, v)
}

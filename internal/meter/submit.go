package meter

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

// ChainSubmitter submits readings to the ledger as a transaction signed by
// the gateway's participant key (the participant running the gateway, not
// its device key).
type ChainSubmitter struct {
	Client *chain.Client
	Key    chain.Key
	// Log receives retries and refusals; nil discards them.
	Log *slog.Logger
}

// Submit signs m and broadcasts it, waiting only for the mempool. It
// retries transport failures with backoff (about a minute in all),
// resending the same signed bytes so that a transaction that got through
// unacknowledged is not submitted twice. A refusal comes back at once as
// *chain.TxError, after at most two re-signs when it is a nonce clash with
// another client of the same key.
func (s ChainSubmitter) Submit(ctx context.Context, m *contract.MsgReadings) error {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := 200 * time.Millisecond
	resigns := 0
	var tx []byte
	for attempt := 1; ; attempt++ {
		var err error
		if tx == nil {
			tx, err = s.Client.Sign(ctx, s.Key, contract.TypeReadings, m)
		}
		if err == nil {
			err = s.Client.BroadcastSync(ctx, tx)
		}
		if err == nil {
			return nil
		}
		var refused *chain.TxError
		if errors.As(err, &refused) {
			switch {
			case refused.Code == contract.CodeReplay && strings.Contains(refused.Log, "exact transaction"):
				return nil // an earlier attempt reached the node after all
			case refused.Code == contract.CodeReplay && resigns < 2:
				resigns++ // the client dropped its nonce; sign afresh
				tx = nil
				continue
			}
			log.Warn("ledger refused readings", "code", refused.Code.Name(), "log", refused.Log, "readings", len(m.Readings))
			return err
		}
		if ctx.Err() != nil || attempt >= 8 {
			return err
		}
		log.Warn("submitting readings failed; retrying", "attempt", attempt, "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 15*time.Second)
	}
}

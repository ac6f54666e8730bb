package chain

import (
	"context"
	"strings"
	"time"

	"github.com/cometbft/cometbft/rpc/client/local"
	coretypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"
)

// FollowDepartures calls left for every member whose departure completes
// in a block the node commits from now on (the contract's member_left
// event, with the meters it took off the ledger), until ctx ends: the
// node's own off-ledger stores erase the member's data there (docs/privacy.md).
// It subscribes again when the node drops the subscription.
func FollowDepartures(ctx context.Context, n *Node, left func(member string, meters []string)) {
	c := local.New(n.Node)
	query := types.QueryForEvent(types.EventNewBlock).String()
	for ctx.Err() == nil {
		if ch, err := c.Subscribe(ctx, "gridledger-departures", query, 64); err == nil {
			follow(ctx, ch, left)
			_ = c.Unsubscribe(context.Background(), "gridledger-departures", query)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// follow reads new blocks until ctx ends or the node closes ch.
func follow(ctx context.Context, ch <-chan coretypes.ResultEvent, left func(member string, meters []string)) {
	for {
		var ev coretypes.ResultEvent
		var open bool
		select {
		case <-ctx.Done():
			return
		case ev, open = <-ch:
			if !open {
				return
			}
		}
		b, ok := ev.Data.(types.EventDataNewBlock)
		if !ok {
			continue
		}
		for _, e := range b.ResultFinalizeBlock.Events {
			if e.Type != "member_left" {
				continue
			}
			var member string
			var meters []string
			for _, a := range e.Attributes {
				switch a.Key {
				case "member":
					member = a.Value
				case "meters":
					if a.Value != "" {
						meters = strings.Split(a.Value, ",")
					}
				}
			}
			left(member, meters)
		}
	}
}

package main

import (
	"context"
	"fmt"

	"github.com/gridledger/gridledger/internal/chain"
)

// readerKey is the key a command signs the ledger's private queries with
// (a member's readings, plans, statement, the members' part of
// settlements): the key named by --as when given, else the first of
// candidates this home holds. ok is false when it holds none: the query
// then goes unsigned, and the ledger refuses or redacts it.
func readerKey(as string, candidates ...string) (k chain.Key, ok bool, err error) {
	if as != "" {
		k, err := chain.LoadKey(g.home, as)
		if err != nil {
			return chain.Key{}, false, fmt.Errorf("--as %s: %w", as, err)
		}
		return k, true, nil
	}
	for _, name := range candidates {
		if name == "" {
			continue
		}
		if k, err := chain.LoadKey(g.home, name); err == nil {
			return k, true, nil
		}
	}
	return chain.Key{}, false, nil
}

// queryAs runs a ledger query signed as k when ok, unsigned otherwise.
func queryAs(ctx context.Context, cl *chain.Client, k chain.Key, ok bool, path string, v any) error {
	if ok {
		return cl.QueryAs(ctx, k, path, v)
	}
	return cl.Query(ctx, path, v)
}

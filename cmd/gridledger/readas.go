package main

import (
	"fmt"

	"github.com/gridledger/gridledger/internal/chain"
)

// readerKey is the key a command signs the ledger's private queries with
// (a member's readings, plans, statement, the members' part of
// settlements): the key named by --as when given, else the first of
// candidates this home holds. It is nil when the home holds none: the
// queries then go unsigned, and the ledger refuses or redacts them.
func readerKey(as string, candidates ...string) (*chain.Key, error) {
	if as != "" {
		k, err := chain.LoadKey(g.home, as)
		if err != nil {
			return nil, fmt.Errorf("--as %s: %w", as, err)
		}
		return &k, nil
	}
	for _, name := range candidates {
		if name == "" {
			continue
		}
		if k, err := chain.LoadKey(g.home, name); err == nil {
			return &k, nil
		}
	}
	return nil, nil
}

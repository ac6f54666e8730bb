package rpcguard

import (
	"log/slog"
	"net/http"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

// ForNode is the chain.StartOptions.GuardRPC of gridledger's commands:
// signers are looked up in the node's own committed state.
func ForNode(log *slog.Logger) func(n *chain.Node, routes http.Handler) http.Handler {
	return func(n *chain.Node, routes http.Handler) http.Handler {
		return New(Config{ChainID: n.GenesisDoc().ChainID, Log: log,
			Participant: func(id string) (p contract.Participant, ok bool) {
				n.App.State(func(s *contract.State) {
					if s != nil {
						p, ok = s.Participant(id)
					}
				})
				return p, ok
			}}, routes)
	}
}

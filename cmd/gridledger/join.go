package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
)

func newJoinCmd() *cobra.Command {
	var o chain.JoinOptions
	var genesis, rpc string
	noStateSync := false
	cmd := &cobra.Command{
		Use:   "join --genesis FILE --peers ID@HOST:PORT,… --rpc URL[,URL] --home NEW",
		Short: "Write the home of a full node joining a running network, by state sync from the validators' snapshots",
		Long: `join writes a new home (a standard CometBFT home, no consortium key, no
meters) for a node joining a running network: the network's genesis file,
its peers, and, unless --no-state-sync, state sync: the node restores the
newest snapshot the validators offer (gridledger.toml [statesync]
snapshot_interval), checked against the header at the height it trusts now
(taken from the first --rpc server), instead of replaying every block from
genesis. Start it with 'gridledger start --home NEW'; it becomes a
validator only if the validators vote it in.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := cmdContext(cmd)
			defer cancel()
			var err error
			if o.Genesis, err = os.ReadFile(genesis); err != nil {
				return err
			}
			o.StateSync = !noStateSync
			if o.StateSync {
				o.RPCServers = strings.Split(rpc, ",")
				cl, err := chain.Dial(o.RPCServers[0])
				if err != nil {
					return err
				}
				st, err := cl.RPC.Status(ctx)
				if err != nil {
					return err
				}
				h := st.SyncInfo.LatestBlockHeight
				c, err := cl.RPC.Commit(ctx, &h)
				if err != nil {
					return err
				}
				o.TrustHeight, o.TrustHash = h, c.SignedHeader.Commit.BlockID.Hash.String()
			}
			if err := chain.InitJoin(g.home, o); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{"home": g.home, "state_sync": o.StateSync, "trust_height": o.TrustHeight, "trust_hash": o.TrustHash})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "initialised %s to join (state sync: %v, trusting height %d %s)\nstart it with: gridledger start --home %s\n",
				g.home, o.StateSync, o.TrustHeight, o.TrustHash, g.home)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&genesis, "genesis", "", "the network's genesis.json (from any node's config/)")
	f.StringVar(&o.Peers, "peers", "", "peers to connect to, ID@host:port, comma-separated")
	f.StringVar(&rpc, "rpc", "", "RPC servers of the network (http://host:port), comma-separated: the first gives the trusted height")
	f.BoolVar(&noStateSync, "no-state-sync", false, "replay every block from genesis instead")
	f.StringVar(&o.Moniker, "moniker", "full-node", "this node's name")
	f.StringVar(&o.RPCAddr, "rpc-laddr", "tcp://127.0.0.1:26657", "RPC listen address (guarded, as a validator's)")
	f.StringVar(&o.P2PAddr, "p2p-laddr", "tcp://127.0.0.1:26656", "P2P listen address")
	f.StringVar(&o.APIAddr, "api-addr", "127.0.0.1:8080", `API and dashboard address, or "off"`)
	cmd.MarkFlagRequired("genesis")
	cmd.MarkFlagRequired("peers")
	return cmd
}

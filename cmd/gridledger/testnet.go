package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
)

// testnetNode is one home of a testnet, as printed.
type testnetNode struct {
	Home string   `json:"home"`
	RPC  string   `json:"rpc"`
	P2P  string   `json:"p2p"`
	API  string   `json:"api"`
	MQTT string   `json:"mqtt,omitempty"`
	Keys []string `json:"keys"`
}

func newTestnetCmd() *cobra.Command {
	var n, basePort, scale, maxTx, snapEvery int64
	var out, host, chainID, mech string
	cmd := &cobra.Command{
		Use:   "testnet --validators N --out DIR",
		Short: "Write the homes of an N-validator network (one consortium member each), to start with 'gridledger start --home DIR/nodeI'",
		Long: `testnet writes DIR/node0 … DIR/nodeN-1, each a standard CometBFT home
(config/config.toml, config/genesis.json, node and validator keys) with
gridledger's config/gridledger.toml. They share one genesis holding every
validator with equal power and the community's operator, DSO and utility.
node0 holds the operator's key and runs the community's MQTT broker and
gateway; node1 holds the DSO's key and node2 the utility's (node0 holds
those a smaller network has no node for). Every node names the others as
persistent peers and serves its own API.

Node i listens on HOST:BASE+10i (P2P), +1 (RPC, guarded: blocks, transactions
and events only for consortium-signed requests), +2 (API, dashboard,
/healthz, /readyz, /metrics), +4 (CometBFT's own Prometheus metrics) and
node0's MQTT broker on +3.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 || n > 100 {
				return fmt.Errorf("--validators %d: want 1..100", n)
			}
			p := contract.DefaultParams()
			p.Mechanism = market.Mechanism(mech)
			p.MaxTxPerInterval = maxTx
			layout := chain.Layout{Dir: out, Host: host, BasePort: basePort, Validators: int(n)}
			net := chain.Network{ChainID: chainID, TimeScale: scale, Params: p, SnapshotInterval: snapEvery, Nodes: layout.Nodes()}
			var nodes []testnetNode
			for _, no := range net.Nodes {
				var keys []string
				for _, r := range no.Keys {
					keys = append(keys, string(r))
				}
				nodes = append(nodes, testnetNode{Home: no.Home, RPC: no.RPCAddr, P2P: no.P2PAddr, API: "http://" + no.APIAddr + "/", MQTT: no.MQTTAddr, Keys: keys})
			}
			if err := net.Params.Validate(); err != nil {
				return err
			}
			if err := chain.InitNetwork(net); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{"chain_id": chainID, "nodes": nodes})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d validators of chain %s in %s:\n", n, chainID, out)
			for _, nd := range nodes {
				fmt.Fprintf(w, "  %s  rpc %s  p2p %s  api %s  keys %v\n", nd.Home, nd.RPC, nd.P2P, nd.API, nd.Keys)
			}
			fmt.Fprintf(w, "start each (one process each): gridledger start --home %s\n", filepath.Join(out, "nodeI"))
			return nil
		},
	}
	f := cmd.Flags()
	f.Int64Var(&n, "validators", 4, "number of validators")
	f.StringVar(&out, "out", "./testnet", "directory for the homes")
	f.StringVar(&host, "host", "127.0.0.1", "address every node listens on")
	f.Int64Var(&basePort, "base-port", 26600, "first port; node i uses base+10i … base+10i+3")
	f.StringVar(&chainID, "chain-id", "gridledger-testnet", "chain id of the network")
	f.Int64Var(&scale, "time-scale", 1, "market seconds per block-time second (e.g. 720: an hour every 5 s)")
	f.StringVar(&mech, "mechanism", string(market.AverageBid), "clearing mechanism")
	f.Int64Var(&snapEvery, "snapshot-interval", 1000, "every node snapshots its state this many heights apart, for new nodes to join by state sync")
	f.Int64Var(&maxTx, "max-tx-per-interval", contract.DefaultParams().MaxTxPerInterval, "transactions one member may sign per interval")
	return cmd
}

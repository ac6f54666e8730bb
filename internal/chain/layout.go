package chain

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/gridledger/gridledger/internal/contract"
)

// Layout is where the validators of a network on one host live: node i's
// home is Dir/nodeI, and it listens on Host:BasePort+10i (P2P), +1 (RPC),
// +2 (API), +3 (MQTT broker, node0 only) and +4 (CometBFT's Prometheus
// metrics). node0 holds the operator's key and runs the community's
// broker and gateway; node1 holds the DSO's key and node2 the utility's
// (node0 those a smaller network has no node for). `gridledger testnet`
// writes it; chaos and bench find the keys and ports by it.
type Layout struct {
	Dir        string
	Host       string
	BasePort   int64
	Validators int
}

// PortsPerNode is how far apart the nodes' ports are.
const PortsPerNode = 10

// Home is node i's home.
func (l Layout) Home(i int) string { return filepath.Join(l.Dir, fmt.Sprintf("node%d", i)) }

// KeyHolder is the node whose home holds the key of a consortium role.
func (l Layout) KeyHolder(role contract.Role) int {
	at := map[contract.Role]int{contract.RoleOperator: 0, contract.RoleDSO: 1, contract.RoleUtility: 2}[role]
	if at >= l.Validators {
		return 0
	}
	return at
}

// LoadKey loads the key of a consortium role from the home that holds it.
func (l Layout) LoadKey(role contract.Role) (Key, error) {
	return LoadKey(l.Home(l.KeyHolder(role)), string(role))
}

// Nodes are the options of every node's home, for InitNetwork.
func (l Layout) Nodes() []NodeOptions {
	nodes := make([]NodeOptions, l.Validators)
	for i := range nodes {
		port := func(k int64) string {
			return net.JoinHostPort(l.Host, strconv.FormatInt(l.BasePort+PortsPerNode*int64(i)+k, 10))
		}
		nodes[i] = NodeOptions{Home: l.Home(i), Moniker: fmt.Sprintf("validator-%d", i),
			RPCAddr: "tcp://" + port(1), P2PAddr: "tcp://" + port(0), APIAddr: port(2), PrometheusAddr: port(4)}
		if i == 0 {
			nodes[i].MQTTAddr, nodes[i].Gateway = port(3), true
		}
	}
	for _, role := range []contract.Role{contract.RoleOperator, contract.RoleDSO, contract.RoleUtility} {
		at := l.KeyHolder(role)
		nodes[at].Keys = append(nodes[at].Keys, role)
	}
	return nodes
}

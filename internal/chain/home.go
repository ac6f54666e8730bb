package chain

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/types"
	cmttime "github.com/cometbft/cometbft/types/time"
	"github.com/spf13/viper"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/freeport"
	"github.com/gridledger/gridledger/internal/market"
)

// A home directory is a standard CometBFT home (config/config.toml,
// config/genesis.json, node and validator keys, data/) plus gridledger's
// own: config/gridledger.toml and keys/NAME.json, one per participant key
// this machine holds.

// Key is a participant's signing key as kept in HOME/keys/NAME.json.
type Key struct {
	ID      string          `json:"id"`
	Role    contract.Role   `json:"role,omitempty"`
	PrivKey ed25519.PrivKey `json:"priv_key"`
}

// PubKey is the key's public half.
func (k Key) PubKey() []byte { return k.PrivKey.PubKey().Bytes() }

// NewKey makes a fresh key for participant id.
func NewKey(id string, role contract.Role) Key {
	return Key{ID: id, Role: role, PrivKey: ed25519.GenPrivKey()}
}

func keyPath(home, name string) string { return filepath.Join(home, "keys", name+".json") }

// SaveKey writes a key file readable only by its owner; it refuses to
// overwrite one.
func SaveKey(home, name string, k Key) error {
	if err := os.MkdirAll(filepath.Join(home, "keys"), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(k, "", "  ")
	f, err := os.OpenFile(keyPath(home, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("key %q: %w", name, err)
	}
	defer f.Close()
	_, err = f.Write(append(b, '\n'))
	return err
}

// LoadKey reads HOME/keys/NAME.json.
func LoadKey(home, name string) (Key, error) {
	var k Key
	b, err := os.ReadFile(keyPath(home, name))
	if err != nil {
		return k, fmt.Errorf("key %q: %w (see `gridledger keys list --home %s`)", name, err, home)
	}
	if err := json.Unmarshal(b, &k); err != nil || len(k.PrivKey) != ed25519.PrivateKeySize {
		return k, fmt.Errorf("key %q: not a gridledger key file", name)
	}
	return k, nil
}

// ListKeys lists the key names in a home, sorted.
func ListKeys(home string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(home, "keys", "*.json"))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(m))
	for i, p := range m {
		names[i] = filepath.Base(p[:len(p)-len(".json")])
	}
	return names, nil
}

// AppConfig is gridledger's own configuration, HOME/config/gridledger.toml.
type AppConfig struct {
	// LogLevel is debug, info, warn or error.
	LogLevel string `toml:"log_level"`
	// CometLogLevel filters CometBFT's own logs, which are chatty.
	CometLogLevel string         `toml:"comet_log_level"`
	MQTT          MQTTConfig     `toml:"mqtt"`
	Gateway       GatewaySection `toml:"gateway"`
	API           APIConfig      `toml:"api"`
	StateSync     StateSync      `toml:"statesync"`
	Pruning       Pruning        `toml:"pruning"`
}

// Pruning is how many recent blocks a node keeps (docs/operations.md).
type Pruning struct {
	// RetainBlocks: keep this many recent blocks and prune the older
	// (0 keeps every block, as an archive node does).
	RetainBlocks int64 `toml:"retain_blocks"`
}

// StateSync is how often this node snapshots its state for new nodes to
// join from (docs/operations.md).
type StateSync struct {
	// SnapshotInterval: a snapshot every this many heights (0: none).
	SnapshotInterval int64 `toml:"snapshot_interval"`
	// SnapshotKeepRecent: how many snapshots are kept.
	SnapshotKeepRecent int64 `toml:"snapshot_keep_recent"`
}

// APIConfig is the REST API, live stream and dashboard (internal/api).
type APIConfig struct {
	// Addr is where it listens (host:port); "off" serves none.
	Addr string `toml:"addr"`
}

// MQTTConfig says where the meters' MQTT broker is.
type MQTTConfig struct {
	// Addr is the embedded broker's TCP address; empty runs none.
	Addr string `toml:"addr"`
	// TLSCert and TLSKey (PEM files) make the embedded broker speak TLS.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// URL is an external broker (e.g. Debian's mosquitto) to use instead
	// of the embedded one: tcp://host:1883 or ssl://host:8883.
	URL      string `toml:"url"`
	User     string `toml:"user"`
	Password string `toml:"password"`
}

// GatewaySection is the [gateway] section of gridledger.toml: the
// community gateway that verifies readings and brings them onto the
// ledger, by the names of its keys; internal/node resolves it into the
// running gateway's meter.GatewayConfig.
type GatewaySection struct {
	// ID is the gateway's device id on the ledger; DeviceKey names the key
	// (HOME/keys) it signs cheap devices' readings with; Signer the
	// participant key that signs its readings transactions.
	ID        string `toml:"id"`
	DeviceKey string `toml:"device_key"`
	Signer    string `toml:"signer"`
	// Store is where fine-grained readings are kept off the chain,
	// relative to HOME unless absolute.
	Store string `toml:"store"`
}

func defaultAppConfig() AppConfig {
	return AppConfig{LogLevel: "info", CometLogLevel: "error",
		MQTT:      MQTTConfig{Addr: "127.0.0.1:1883"},
		Gateway:   GatewaySection{ID: "gateway", DeviceKey: "gateway", Signer: "operator", Store: "data/meters"},
		API:       APIConfig{Addr: "127.0.0.1:8080"},
		StateSync: StateSync{SnapshotInterval: 1000, SnapshotKeepRecent: 2}}
}

// InitOptions shape a new single-validator home.
type InitOptions struct {
	ChainID   string
	Moniker   string
	TimeScale int64
	Params    contract.Params
	RPCAddr   string // e.g. tcp://127.0.0.1:26657
	P2PAddr   string
	// MQTTAddr is the embedded broker's address (default 127.0.0.1:1883).
	MQTTAddr string
	// APIAddr is the API's and dashboard's address (default 127.0.0.1:8080).
	APIAddr string
	// GenesisTime defaults to now.
	GenesisTime time.Time
	// MarketStart is the market time at genesis, UTC seconds (0: the
	// genesis time, as a real deployment runs); a demo picks its own.
	MarketStart int64
}

// DefaultInitOptions are a local community at real time.
func DefaultInitOptions() InitOptions {
	return InitOptions{
		ChainID: "gridledger-local", Moniker: "validator-0", TimeScale: 1, Params: contract.DefaultParams(),
		RPCAddr: "tcp://127.0.0.1:26657", P2PAddr: "tcp://127.0.0.1:26656",
	}
}

// FastInitOptions shape a home for tests whose market runs fast:
// 15-minute listings, gate closure one interval before delivery, market
// time 450× real time (an interval every 2 s), a flat grid tariff (prices
// do not depend on the hour a test runs), its RPC and P2P on free
// loopback ports and no API. The tests of the node, the meters' path and
// the API start their nodes from it.
func FastInitOptions() (InitOptions, error) {
	o := DefaultInitOptions()
	o.ChainID = "gridledger-test"
	o.TimeScale = 450
	o.Params.IntervalS, o.Params.GateClosureS, o.Params.HorizonIntervals = 900, 900, 8
	o.Params.Mechanism = market.AverageBid
	for h := range 24 {
		o.Params.GridPricePerKWh[h] = contract.SeedGridPeakPerKWh
	}
	o.APIAddr = "off"
	for _, a := range []*string{&o.RPCAddr, &o.P2PAddr} {
		addr, err := freeport.Addr()
		if err != nil {
			return o, err
		}
		*a = "tcp://" + addr
	}
	return o, nil
}

// Init writes a new home: CometBFT config tuned for gridledger, a
// validator key, genesis with an operator, a DSO and a utility whose keys it
// also writes. It refuses to touch an existing home.
func Init(home string, o InitOptions) error {
	n := Network{ChainID: o.ChainID, TimeScale: o.TimeScale, Params: o.Params, GenesisTime: o.GenesisTime, MarketStart: o.MarketStart,
		Nodes: []NodeOptions{{Home: home, Moniker: o.Moniker, RPCAddr: o.RPCAddr, P2PAddr: o.P2PAddr,
			APIAddr: o.APIAddr, MQTTAddr: o.MQTTAddr, Gateway: true,
			Keys: []contract.Role{contract.RoleOperator, contract.RoleDSO, contract.RoleUtility}}}}
	if n.Nodes[0].MQTTAddr == "" {
		n.Nodes[0].MQTTAddr = defaultAppConfig().MQTT.Addr
	}
	return InitNetwork(n)
}

// Network describes the validators of a new network, one home each.
type Network struct {
	ChainID     string
	TimeScale   int64
	Params      contract.Params
	GenesisTime time.Time // defaults to now
	MarketStart int64     // market time at genesis, UTC seconds (0: the genesis time)
	Nodes       []NodeOptions
	// SnapshotInterval: every node snapshots its state this many heights
	// apart for new nodes to state sync from (0: the default), keeping the
	// last SnapshotKeepRecent (0: the default). A joiner needs its snapshot
	// to outlive discovering and fetching it: keep more when snapshots are
	// frequent.
	SnapshotInterval, SnapshotKeepRecent int64
}

// NodeOptions is one validator's home.
type NodeOptions struct {
	Home, Moniker    string
	RPCAddr, P2PAddr string // tcp://host:port
	// APIAddr is the API's address ("off" for none); MQTTAddr the
	// embedded broker's (empty: this node runs no broker nor gateway).
	APIAddr, MQTTAddr string
	// Gateway: this node's gateway is the community's, registered on
	// first start with the operator's key (which it must hold).
	Gateway bool
	// Keys are the consortium roles whose keys this home holds.
	Keys []contract.Role
	// PrometheusAddr, when set, turns on CometBFT's own metrics, served
	// there and with gridledger's at the API's /metrics.
	PrometheusAddr string
}

// InitNetwork writes the homes of a new network: each a standard
// CometBFT home (config/config.toml, config/genesis.json, node and
// validator keys) with gridledger's config/gridledger.toml, sharing one
// genesis that holds every validator (equal power) and the community's
// operator, DSO and utility, whose keys go to the homes that ask for them.
// Each home names the others as persistent peers.
func InitNetwork(n Network) error {
	if len(n.Nodes) == 0 {
		return fmt.Errorf("a network needs at least one validator")
	}
	for _, no := range n.Nodes {
		if _, err := os.Stat(filepath.Join(no.Home, "config", "genesis.json")); err == nil {
			return fmt.Errorf("%s already holds a node (config/genesis.json exists)", no.Home)
		}
	}
	// Blocks lag the devices' clocks by up to a second of real time, and
	// batches take a second or two to reach the ledger: with market time
	// running faster, the reading skew and the settlement deadline grow so
	// they stay that long in real time.
	if n.TimeScale > 1 {
		n.Params.ReadingSkewS = max(n.Params.ReadingSkewS, min(3*n.TimeScale, 86400))
		n.Params.SettlementDeadlineS = max(n.Params.SettlementDeadlineS, min(5*n.TimeScale, 7*86400))
	}
	g := contract.Genesis{Params: n.Params, TimeScale: n.TimeScale, MarketStart: n.MarketStart}
	keys := map[contract.Role]Key{}
	for _, role := range []contract.Role{contract.RoleOperator, contract.RoleDSO, contract.RoleUtility} {
		k := NewKey(string(role), role)
		keys[role] = k
		g.Participants = append(g.Participants, contract.Participant{ID: k.ID, Role: role, PubKey: k.PubKey()})
	}
	if err := g.Validate(); err != nil {
		return err
	}
	appState, _ := json.MarshalIndent(g, "", "  ")
	gt := n.GenesisTime
	if gt.IsZero() {
		gt = cmttime.Now()
	}
	doc := &types.GenesisDoc{ChainID: n.ChainID, GenesisTime: gt, ConsensusParams: types.DefaultConsensusParams(), AppState: appState}
	cfgs := make([]*cmtcfg.Config, len(n.Nodes))
	var peers []string
	for i, no := range n.Nodes {
		cfg := cmtcfg.DefaultConfig()
		cfg.SetRoot(no.Home)
		cfg.Moniker = no.Moniker
		cfg.RPC.ListenAddress = no.RPCAddr
		cfg.P2P.ListenAddress = no.P2PAddr
		if no.PrometheusAddr != "" {
			cfg.Instrumentation.Prometheus, cfg.Instrumentation.PrometheusListenAddr = true, no.PrometheusAddr
		}
		tune(cfg)
		ac := defaultAppConfig()
		ac.MQTT.Addr = no.MQTTAddr
		if n.SnapshotInterval > 0 {
			ac.StateSync.SnapshotInterval = n.SnapshotInterval
		}
		if n.SnapshotKeepRecent > 0 {
			ac.StateSync.SnapshotKeepRecent = n.SnapshotKeepRecent
		}
		if no.APIAddr != "" {
			ac.API.Addr = no.APIAddr
		}
		id, pub, err := writeHome(cfg, ac)
		if err != nil {
			return err
		}
		doc.Validators = append(doc.Validators, types.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: 10, Name: no.Moniker})
		for _, role := range no.Keys {
			if err := SaveKey(no.Home, string(role), keys[role]); err != nil {
				return err
			}
		}
		if no.Gateway {
			// The community gateway's device key; `start` registers it.
			if err := SaveKey(no.Home, "gateway", NewKey("gateway", "")); err != nil {
				return err
			}
		}
		cfgs[i] = cfg
		peers = append(peers, string(id)+"@"+strings.TrimPrefix(no.P2PAddr, "tcp://"))
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return err
	}
	for i, cfg := range cfgs {
		if len(cfgs) > 1 {
			others := slices.Concat(peers[:i], peers[i+1:])
			cfg.P2P.PersistentPeers = strings.Join(others, ",")
			// The consortium's validators know each other: no peer
			// exchange, so no node is found by a route the operator did
			// not write down.
			cfg.P2P.PexReactor = false
		}
		if err := WriteConfig(cfg); err != nil {
			return err
		}
		if err := doc.SaveAs(cfg.GenesisFile()); err != nil {
			return err
		}
	}
	return nil
}

// writeHome writes a new home's directories, configuration, node key and
// validator key, and returns the node's P2P id and validator public key.
// The genesis is the caller's.
func writeHome(cfg *cmtcfg.Config, ac AppConfig) (p2p.ID, crypto.PubKey, error) {
	for _, d := range []string{"config", "data"} {
		if err := os.MkdirAll(filepath.Join(cfg.RootDir, d), 0o700); err != nil {
			return "", nil, err
		}
	}
	if err := writeAppConfig(cfg.RootDir, ac); err != nil {
		return "", nil, err
	}
	nk, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return "", nil, err
	}
	pv, err := privval.GenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile(), nil)
	if err != nil {
		return "", nil, err
	}
	pv.Save()
	pub, err := pv.GetPubKey()
	if err != nil {
		return "", nil, err
	}
	return nk.ID(), pub, WriteConfig(cfg)
}

// tune sets what gridledger needs from CometBFT: blocks at least every
// second even when idle (market time comes from block headers), no wait
// after a commit, a proposal timeout for a consortium on a LAN, and a
// mempool sized for bursts of orders that does not re-verify every waiting
// transaction after each block (the contract refuses, cleanly, one that a
// block made invalid).
//
// A proposal crosses a LAN in milliseconds, so waiting CometBFT's default
// 3 s for one only delays the heights whose proposer is down: with one of
// four validators dead, every fourth height waited 3 s, and p99 commit
// latency was past 3 s. 500 ms (and 200 ms more each round) still leaves
// a loaded proposer time to build and send a block of thousands of orders:
// on the 2-core benchmark machine, four validators offered 3,000 orders a
// second commit as fast as with 1 s, and with one of them dead p99
// latency falls from 3.0 s to 2.3–2.4 s (docs/performance.md).
func tune(cfg *cmtcfg.Config) {
	cfg.Consensus.TimeoutPropose = 500 * time.Millisecond
	cfg.Consensus.TimeoutProposeDelta = 200 * time.Millisecond
	cfg.Consensus.TimeoutCommit = 0
	cfg.Consensus.CreateEmptyBlocks = true
	cfg.Consensus.CreateEmptyBlocksInterval = time.Second
	cfg.Consensus.PeerGossipSleepDuration = 10 * time.Millisecond
	cfg.Mempool.Recheck = false
	cfg.Mempool.Size = 100_000
	cfg.Mempool.MaxTxsBytes = 1 << 30
	cfg.Mempool.CacheSize = 200_000
	// A gateway's batch of readings may be up to 2 MiB (contract.MaxReadingsTxBytes).
	cfg.Mempool.MaxTxBytes = contract.MaxReadingsTxBytes + 64<<10
	cfg.RPC.MaxOpenConnections = 2000
	cfg.RPC.MaxRequestBatchSize = 100
	cfg.RPC.MaxSubscriptionClients = 200
	cfg.RPC.TimeoutBroadcastTxCommit = 30 * time.Second
	// The node serves CometBFT's routes itself, guarded, and never the
	// unsafe ones (StartNodeWith); say so in config.toml too.
	cfg.RPC.Unsafe = false
	// A consortium's links carry every order to every validator (mempool
	// gossip) and every block: at 3,000 orders a second that is about
	// 2.5 MB/s a link, half CometBFT's default cap of 5 MB/s.
	cfg.P2P.SendRate, cfg.P2P.RecvRate = 20<<20, 20<<20
	cfg.P2P.AddrBookStrict = false
	cfg.P2P.AllowDuplicateIP = true
}

func writeAppConfig(home string, c AppConfig) error {
	f, err := os.Create(filepath.Join(home, "config", "gridledger.toml"))
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintln(f, "# gridledger's own settings; CometBFT's are in config.toml beside this file.")
	return toml.NewEncoder(f).Encode(c)
}

// LoadAppConfig reads a home's gridledger.toml alone (defaults where it
// is missing), for a process that runs no node, such as a gateway.
func LoadAppConfig(home string) (AppConfig, error) {
	ac := defaultAppConfig()
	if _, err := toml.DecodeFile(filepath.Join(home, "config", "gridledger.toml"), &ac); err != nil && !errors.Is(err, os.ErrNotExist) {
		return ac, fmt.Errorf("gridledger.toml: %w", err)
	}
	return ac, nil
}

// LoadConfig reads a home's CometBFT and gridledger configuration.
func LoadConfig(home string) (*cmtcfg.Config, AppConfig, error) {
	ac, err := LoadAppConfig(home)
	if err != nil {
		return nil, ac, err
	}
	cfg := cmtcfg.DefaultConfig()
	v := viper.New()
	v.SetConfigFile(filepath.Join(home, "config", "config.toml"))
	if err := v.ReadInConfig(); err != nil {
		return nil, ac, fmt.Errorf("%s is not a gridledger home (run `gridledger init --home %s`): %w", home, home, err)
	}
	if err := v.Unmarshal(cfg); err != nil {
		return nil, ac, err
	}
	cfg.SetRoot(home)
	if err := cfg.ValidateBasic(); err != nil {
		return nil, ac, err
	}
	return cfg, ac, nil
}

// Genesis reads a home's genesis file.
func Genesis(home string) (*types.GenesisDoc, contract.Genesis, error) {
	var g contract.Genesis
	doc, err := types.GenesisDocFromFile(filepath.Join(home, "config", "genesis.json"))
	if err != nil {
		return nil, g, err
	}
	err = json.Unmarshal(doc.AppState, &g)
	return doc, g, err
}

// WriteConfig writes a home's CometBFT config back to config/config.toml.
func WriteConfig(cfg *cmtcfg.Config) error {
	if err := cfg.ValidateBasic(); err != nil {
		return err
	}
	cmtcfg.WriteConfigFile(filepath.Join(cfg.RootDir, "config", "config.toml"), cfg)
	return nil
}

// JoinOptions shape the home of a node joining a running network.
type JoinOptions struct {
	// Genesis is the network's genesis file, byte for byte.
	Genesis []byte
	// Peers are ID@host:port of nodes to connect to.
	Peers                     string
	Moniker                   string
	RPCAddr, P2PAddr, APIAddr string
	// StateSync restores the newest snapshot the peers offer, checked
	// against a header of RPCServers' chain at TrustHeight with
	// TrustHash, instead of replaying every block from genesis.
	StateSync   bool
	RPCServers  []string
	TrustHeight int64
	TrustHash   string
}

// InitJoin writes the home of a full node joining a running network: it
// holds no consortium key and runs no meters; it becomes a validator only
// if the validators vote it in.
func InitJoin(home string, o JoinOptions) error {
	if _, err := os.Stat(filepath.Join(home, "config", "genesis.json")); err == nil {
		return fmt.Errorf("%s already holds a node (config/genesis.json exists)", home)
	}
	doc, err := types.GenesisDocFromJSON(o.Genesis)
	if err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(home)
	cfg.Moniker = o.Moniker
	cfg.RPC.ListenAddress, cfg.P2P.ListenAddress = o.RPCAddr, o.P2PAddr
	tune(cfg)
	cfg.P2P.PersistentPeers = o.Peers
	cfg.P2P.PexReactor = false
	if o.StateSync {
		if len(o.RPCServers) == 0 || o.TrustHeight < 1 || o.TrustHash == "" {
			return fmt.Errorf("state sync needs RPC servers and a trusted height and hash")
		}
		servers := o.RPCServers
		if len(servers) == 1 { // CometBFT wants two, to cross-check
			servers = append(servers, servers[0])
		}
		cfg.StateSync.Enable = true
		cfg.StateSync.RPCServers = servers
		cfg.StateSync.TrustHeight, cfg.StateSync.TrustHash = o.TrustHeight, o.TrustHash
		cfg.StateSync.TrustPeriod = 168 * time.Hour
		cfg.StateSync.DiscoveryTime = 5 * time.Second
	}
	ac := defaultAppConfig()
	ac.MQTT.Addr = ""
	if o.APIAddr != "" {
		ac.API.Addr = o.APIAddr
	}
	if _, _, err := writeHome(cfg, ac); err != nil {
		return err
	}
	return doc.SaveAs(cfg.GenesisFile())
}

// ValidatorKey is the home's validator consensus key as a participant key
// (role validator), for governance votes; its ID is left to the caller,
// who finds it on the ledger by the public key.
func ValidatorKey(home string) (Key, error) {
	cfg, _, err := LoadConfig(home)
	if err != nil {
		return Key{}, err
	}
	pv := privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	pk, ok := pv.Key.PrivKey.(ed25519.PrivKey)
	if !ok {
		return Key{}, fmt.Errorf("%s: the validator key is %s, not ed25519", cfg.PrivValidatorKeyFile(), pv.Key.PrivKey.Type())
	}
	return Key{Role: contract.RoleValidator, PrivKey: pk}, nil
}

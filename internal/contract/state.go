package contract

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/gridledger/gridledger/internal/market"
	"github.com/gridledger/gridledger/internal/reading"

	"github.com/gridledger/gridledger/internal/sigs"
)

// Participant is a registered member, operator, DSO or utility, with its
// wallet. Money is in nano-units of currency (Wh × micro-units per kWh).
type Participant struct {
	ID string `json:"id"`
	// EmailHash is the salted hash of the participant's e-mail, never
	// the address (MsgRegisterParticipant).
	EmailHash string   `json:"email_hash,omitempty"`
	Role      Role     `json:"role"`
	NodeType  NodeType `json:"node_type,omitempty"`
	PubKey    []byte   `json:"pub_key"`
	Feeder    string   `json:"feeder,omitempty"`
	Suspended bool     `json:"suspended"`
	// Registered is the height of the block that registered the
	// participant, 0 for those in the genesis. Every transaction it signs
	// names this height (Body.Registered), which binds the transaction to
	// this registration: nothing its key signed before could be replayed.
	Registered int64 `json:"registered,omitempty"`
	// Nonce is the last nonce accepted from this participant.
	Nonce uint64 `json:"nonce"`
	// Balance is spendable money; Escrow is money locked in open bids.
	Balance int64 `json:"balance"`
	Escrow  int64 `json:"escrow"`
	// RateWindow is the market interval index RateCount counts for.
	RateWindow int64 `json:"rate_window"`
	RateCount  int64 `json:"rate_count"`
	// Owes is money this participant owes others (nano-units, by
	// creditor) that settlement could not take from its balance; it is
	// paid first at every later settlement.
	Owes map[string]int64 `json:"owes,omitempty"`
}

// RES is a renewable generation asset (seed Table 9: RESid, owner).
type RES struct {
	ID         string `json:"id"`
	Owner      string `json:"owner"`
	Kind       string `json:"kind"`
	CapacityW  int64  `json:"capacity_w"`
	Approved   bool   `json:"approved"`
	ApprovedBy string `json:"approved_by,omitempty"`
}

// Meter is a smart meter registered to a participant, with its device key
// or the gateway that signs for it, and what the ledger last believed of it.
type Meter struct {
	ID      string `json:"id"`
	Owner   string `json:"owner"`
	PubKey  []byte `json:"pub_key,omitempty"`
	Gateway string `json:"gateway,omitempty"`
	RES     string `json:"res,omitempty"`
	// Battery is the battery the meter measures: a sub-meter behind its
	// owner's grid meter (battery.go).
	Battery string `json:"battery,omitempty"`
	// Last is the last reading accepted (nil before the first).
	Last *reading.Registers `json:"last,omitempty"`
	// Baseline is the registers at the end of the last interval settled
	// with this meter's reading (or at its first reading): the next
	// interval's energy is its closing reading minus this.
	Baseline *reading.Registers `json:"baseline,omitempty"`
	// Accepted and Rejected count readings, Rejected by code name.
	Accepted int64            `json:"accepted"`
	Rejected map[string]int64 `json:"rejected,omitempty"`
}

// Gateway is a device that reads meters which cannot sign and signs their
// readings with its own key (a home's EMS, or the community gateway).
type Gateway struct {
	ID     string `json:"id"`
	Owner  string `json:"owner"`
	PubKey []byte `json:"pub_key"`
}

// IntervalReading is a meter's closing reading for an interval (start,
// end]: the last accepted reading dated inside it. Settlement consumes it.
type IntervalReading struct {
	Meter    string `json:"meter"`
	Interval int64  `json:"interval"`
	reading.Registers
	// SignedBy is "device" or "gateway": who signed the reading.
	SignedBy string `json:"signed_by"`
	// FineHash is SHA-256 of the fine data the gateway keeps off chain.
	FineHash []byte `json:"fine_hash,omitempty"`
}

// ListingState is a kWhListing's phase (seed §4.3).
type ListingState string

// The listing states of the seed.
const (
	StateAuthorizeOffers ListingState = "AUTHORIZE_OFFERS"
	StateBidsClosed      ListingState = "BIDS_CLOSED"
	// StateSettled: delivery has been metered and settled.
	StateSettled ListingState = "SETTLED"
)

// Listing is the market of one delivery interval [Start, End), market-time
// UTC seconds. Its rules are fixed when it opens. Its tariffs' JSON tags
// lack the unit the field name carries: see Units in the package doc.
type Listing struct {
	Start       int64            `json:"start"`
	End         int64            `json:"end"`
	GateClosure int64            `json:"gate_closure"`
	State       ListingState     `json:"state"`
	Mechanism   market.Mechanism `json:"mechanism"`
	// Imbalance is the imbalance rule the listing settles by, fixed at
	// opening like its mechanism and tariffs (empty: community).
	Imbalance       string    `json:"imbalance,omitempty"`
	GridPricePerKWh int64     `json:"grid_price"`
	FeedInPerKWh    int64     `json:"feed_in"`
	OpenedHeight    int64     `json:"opened_height"`
	Orders          int64     `json:"orders"`
	Clearing        *Clearing `json:"clearing,omitempty"`

	// Derived, rebuilt on load: the orders in arrival order, and who is on
	// which side with how many live orders, and Wh offered per RES.
	orders     []*Order
	bidders    map[string]int
	sellers    map[string]int
	resOffered map[string]int64
}

// Side of an order.
type Side string

// Order sides.
const (
	SideBid   Side = "bid"
	SideOffer Side = "offer"
)

// Order is a RESOffer or BuyOffer in a listing. Its ID is "signer/nonce".
// Its price's JSON tag lacks the unit the field name carries: see Units in
// the package doc.
type Order struct {
	ID          string `json:"id"`
	Listing     int64  `json:"listing"`
	Seq         int64  `json:"seq"`
	Side        Side   `json:"side"`
	Participant string `json:"participant"`
	RES         string `json:"res,omitempty"`
	Wh          int64  `json:"wh"`
	PricePerKWh int64  `json:"price"`
	// Escrow is the money still locked for a bid (nano-units).
	Escrow    int64 `json:"escrow"`
	Cancelled bool  `json:"cancelled"`
	Height    int64 `json:"height"`
}

// Clearing is CloseBidding's record: the result, and the money it moved.
// Trades and grid flows are the positions delivery settlement starts from.
// Its money's JSON tags lack the unit the field name carries: see Units in
// the package doc.
type Clearing struct {
	Height       int64             `json:"height"`
	MarketTime   int64             `json:"market_time"`
	MCP          *int64            `json:"mcp"`
	AvailableWh  int64             `json:"available_wh"`
	WantedWh     int64             `json:"wanted_wh"`
	TradedWh     int64             `json:"traded_wh"`
	PaidNano     int64             `json:"paid"`
	RefundedNano int64             `json:"refunded"`
	Trades       []market.Trade    `json:"trades"`
	GridImport   []market.GridFlow `json:"grid_import"`
	GridExport   []market.GridFlow `json:"grid_export"`
}

// chainInfo is the ledger's bookkeeping: identity, clock and money supply.
// The height and market time are not in it: they change every block and
// are functions of the block header, and keeping them out of the hash lets
// an idle chain's app hash stand still, so CometBFT waits between empty
// blocks instead of making proof blocks back to back.
type chainInfo struct {
	ChainID       string `json:"chain_id"`
	GenesisTimeNs int64  `json:"genesis_time_ns"`
	TimeScale     int64  `json:"time_scale"`
	// MarketStartS is the market time at genesis when it is not the
	// genesis time (Genesis.MarketStart); omitted when 0, so the state of
	// a chain at real time hashes as it always did.
	MarketStartS int64 `json:"market_start_s,omitempty"`
	// NextListing is the start of the next listing to open.
	NextListing int64 `json:"next_listing"`
	// Issued and Redeemed are the operator's money in and out; their
	// difference is all money on the ledger (balances plus escrow).
	Issued   int64 `json:"issued"`
	Redeemed int64 `json:"redeemed"`
	// Readings counts readings accepted and refused (by code name) over
	// the ledger's life.
	ReadingsAccepted int64            `json:"readings_accepted"`
	ReadingsRejected map[string]int64 `json:"readings_rejected,omitempty"`
}

// State is the ledger's whole state. It is deterministic: a function of the
// genesis and the blocks (height, time, transactions) applied to it.
// It is not safe for concurrent use; the chain adapter serialises access.
type State struct {
	height       int64
	marketTime   int64
	info         chainInfo
	params       Params
	participants map[string]*Participant
	res          map[string]*RES
	batteries    map[string]*Battery
	meters       map[string]*Meter
	gateways     map[string]*Gateway
	// closings[interval][meter] is the meter's closing reading for an
	// interval not yet settled.
	closings    map[int64]map[string]*IntervalReading
	settlements map[int64]*Settlement
	// unsettled are the starts of cleared listings awaiting settlement.
	unsettled []int64
	listings  map[int64]*Listing
	starts    []int64 // every listing start, ascending
	open      []int64 // starts of listings still taking orders, ascending
	orders    map[string]*Order
	// plans[start][member] is a member's committed plan for an interval
	// not yet settled; dr holds every demand-response request by id.
	plans map[int64]map[string]*PlanEntry
	dr    map[string]*DRRequest
	// liveDR are the ids of the requests not yet done, ascending:
	// derived from dr (not hashed), so that each block looks at the
	// requests still running rather than every one ever made.
	liveDR []string
	// validators by hex key, proposals by id; valUpdates are the block's
	// changes to the validator set.
	validators map[string]*Validator
	proposals  map[string]*Proposal
	valUpdates []ValidatorUpdate
	// departures: members leaving or gone, by id.
	departures map[string]*Departure
	// seen remembers signatures already verified (UseSeen): a cache, not
	// state.
	seen *sigs.Seen

	hash ltHash
	// seeds holds each entry's hash seed as last committed, so that a
	// changed entry leaves the hash without being encoded again.
	seeds map[string][32]byte
	dirty map[string]any // key → object written this block
	// events of the block's own work (listings opened and cleared).
	blockEvents []Event
}

func newState() *State {
	return &State{
		participants: map[string]*Participant{},
		res:          map[string]*RES{},
		batteries:    map[string]*Battery{},
		meters:       map[string]*Meter{},
		gateways:     map[string]*Gateway{},
		closings:     map[int64]map[string]*IntervalReading{},
		settlements:  map[int64]*Settlement{},
		listings:     map[int64]*Listing{},
		orders:       map[string]*Order{},
		plans:        map[int64]map[string]*PlanEntry{},
		dr:           map[string]*DRRequest{},
		validators:   map[string]*Validator{},
		proposals:    map[string]*Proposal{},
		departures:   map[string]*Departure{},
		dirty:        map[string]any{},
		seeds:        map[string][32]byte{},
	}
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("contract: encode %T: %v", v, err))
	}
	return b
}

// touch records that the entry under key is about to change (or be
// created, when existed is false). Call it before mutating: the first touch
// in a block takes the old value out of the hash; Commit puts the new in.
func (s *State) touch(key string, obj any, existed bool) {
	if _, ok := s.dirty[key]; ok {
		return
	}
	if existed {
		seed, ok := s.seeds[key]
		if !ok {
			panic(fmt.Sprintf("contract: entry %q changed but was never committed", key))
		}
		s.hash.sub(seed)
	}
	s.dirty[key] = obj
}

// KV is one state entry as persisted; a nil Value deletes the key.
type KV struct {
	Key   string
	Value []byte
}

// deleted marks a dirty key whose entry was removed this block.
var deleted = new(struct{})

// remove takes an existing entry out of the state's hash and marks it for
// deletion. Call it before dropping the object from its map.
func (s *State) remove(key string, obj any) {
	s.touch(key, obj, true)
	s.dirty[key] = deleted
}

// Account is what the mempool needs to know of a participant to check a
// transaction's signature and nonce without touching the state.
type Account struct {
	ID         string
	PubKey     []byte
	Registered int64
	Nonce      uint64
	Suspended  bool
}

// Commitment is what a block leaves behind: the app hash, the entries to
// persist (sorted by key), and the accounts that changed.
type Commitment struct {
	Height     int64
	MarketTime int64
	AppHash    []byte
	Writes     []KV
	Accounts   []Account
	// ValidatorUpdates are the block's changes to the validator set.
	ValidatorUpdates []ValidatorUpdate
}

// commit folds the block's changes into the hash and returns them.
func (s *State) commit() Commitment {
	keys := make([]string, 0, len(s.dirty))
	for k := range s.dirty {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c := Commitment{Height: s.height, MarketTime: s.marketTime, Writes: make([]KV, 0, len(keys))}
	for _, k := range keys {
		if s.dirty[k] == deleted {
			delete(s.seeds, k)
			c.Writes = append(c.Writes, KV{k, nil})
			continue
		}
		v := encode(s.dirty[k])
		seed := seedOf(k, v)
		s.seeds[k] = seed
		s.hash.add(seed)
		c.Writes = append(c.Writes, KV{k, v})
		if p, ok := s.dirty[k].(*Participant); ok {
			c.Accounts = append(c.Accounts, p.account())
		}
	}
	clear(s.dirty)
	c.ValidatorUpdates, s.valUpdates = s.valUpdates, nil
	c.AppHash = s.hash.sum()
	return c
}

// CheckReplay refuses a transaction that this account cannot have signed
// for the first time now: one bound to another registration of its id
// (signed before the account existed, when its signer could not know the
// height it would be registered at) or one whose nonce is not past the
// last the account used.
func (a Account) CheckReplay(tx *Tx) error {
	if tx.Registered != a.Registered {
		return errf(ErrWrongRegistration, "signed for %q registered at height %d, but it was registered at height %d: a transaction signed before its signer's registration is never valid",
			a.ID, tx.Registered, a.Registered)
	}
	if tx.Nonce <= a.Nonce {
		return errf(ErrReplay, "nonce %d, last used %d", tx.Nonce, a.Nonce)
	}
	return nil
}

func (p *Participant) account() Account {
	return Account{ID: p.ID, PubKey: p.PubKey, Registered: p.Registered, Nonce: p.Nonce, Suspended: p.Suspended}
}

// Accounts lists every participant's mempool view, sorted by id.
func (s *State) Accounts() []Account {
	ids := sortedKeys(s.participants)
	out := make([]Account, len(ids))
	for i, id := range ids {
		out[i] = s.participants[id].account()
	}
	return out
}

// AppHash is the hash of the committed state.
func (s *State) AppHash() []byte { return s.hash.sum() }

// Height is the last block applied.
func (s *State) Height() int64 { return s.height }

// ChainID is the chain this state belongs to.
func (s *State) ChainID() string { return s.info.ChainID }

// NewGenesis builds the state at genesis and its commitment.
func NewGenesis(chainID string, g Genesis, genesisTimeNs int64) (*State, Commitment, error) {
	if err := g.Validate(); err != nil {
		return nil, Commitment{}, err
	}
	if err := CheckID("chain id", chainID); err != nil {
		return nil, Commitment{}, err
	}
	s := newState()
	s.info = chainInfo{ChainID: chainID, GenesisTimeNs: genesisTimeNs, TimeScale: g.TimeScale, MarketStartS: g.MarketStart}
	s.marketTime = s.toMarketTime(genesisTimeNs)
	s.params = g.Params
	s.touch(keyParams, &s.params, false)
	for _, p := range g.Participants {
		p := p
		p.Registered, p.Nonce, p.Balance, p.Escrow, p.RateCount, p.RateWindow = 0, 0, 0, 0, 0, 0
		s.participants[p.ID] = &p
		s.touch(keyParticipant(p.ID), &p, false)
	}
	if err := s.genesisValidators(g.Validators); err != nil {
		return nil, Commitment{}, err
	}
	s.dirty[keyInfo] = &s.info
	return s, s.commit(), nil
}

// Load rebuilds a state from its persisted entries, in any order, and the
// height and market time of the block that wrote them last.
func Load(entries []KV, height, marketTime int64) (*State, error) {
	s := newState()
	s.height, s.marketTime = height, marketTime
	for _, e := range entries {
		if err := s.loadEntry(e.Key, e.Value); err != nil {
			return nil, fmt.Errorf("contract: load %q: %w", e.Key, err)
		}
		seed := seedOf(e.Key, e.Value)
		s.seeds[e.Key] = seed
		s.hash.add(seed)
	}
	slicesSort(s.starts)
	slicesSort(s.open)
	slicesSort(s.unsettled)
	// Each book is rebuilt in its order of arrival.
	orders := make([]*Order, 0, len(s.orders))
	for _, o := range s.orders {
		orders = append(orders, o)
	}
	sort.Slice(orders, func(i, j int) bool {
		if orders[i].Listing != orders[j].Listing {
			return orders[i].Listing < orders[j].Listing
		}
		return orders[i].Seq < orders[j].Seq
	})
	for _, o := range orders {
		l, ok := s.listings[o.Listing]
		if !ok {
			return nil, fmt.Errorf("contract: load: order %s of unknown listing %d", o.ID, o.Listing)
		}
		l.addDerived(o)
	}
	return s, nil
}

// closing returns the closing readings of an interval, creating the map.
func (s *State) closing(interval int64) map[string]*IntervalReading {
	m, ok := s.closings[interval]
	if !ok {
		m = map[string]*IntervalReading{}
		s.closings[interval] = m
	}
	return m
}

func slicesSort(v []int64) { sort.Slice(v, func(i, j int) bool { return v[i] < v[j] }) }

func (l *Listing) initDerived() {
	l.bidders = map[string]int{}
	l.sellers = map[string]int{}
	l.resOffered = map[string]int64{}
}

func (l *Listing) addDerived(o *Order) {
	l.orders = append(l.orders, o)
	if o.Cancelled {
		return
	}
	if o.Side == SideBid {
		l.bidders[o.Participant]++
	} else {
		l.sellers[o.Participant]++
		l.resOffered[o.RES] += o.Wh
	}
}

// sortedKeys are a map's keys in ascending order: what consensus code
// iterates over instead of the map.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// orderID is "signer/nonce": unique because nonces only grow, and
// unambiguous because participant ids cannot contain '/'.
func orderID(signer string, nonce uint64) string {
	return signer + "/" + strconv.FormatUint(nonce, 10)
}

package contract

import (
	"github.com/gridledger/gridledger/internal/market"
)

// Role is what a participant may do on the ledger.
type Role string

// The roles of SYSTEM.md's "Who uses it".
const (
	RoleMember   Role = "member"
	RoleOperator Role = "operator"
	RoleDSO      Role = "dso"
	RoleUtility  Role = "utility"
	// RoleValidator votes on governance proposals with a validator's
	// consensus key.
	RoleValidator Role = "validator"
)

func (r Role) valid() bool {
	return r == RoleMember || r == RoleOperator || r == RoleDSO || r == RoleUtility || r == RoleValidator
}

// NodeType is the kind of grid node a member's site is (seed §4.1).
type NodeType string

// The node types of the seed.
const (
	NodeHousehold      NodeType = "household"
	NodeNonResidential NodeType = "non-residential"
	NodePublicLighting NodeType = "public-lighting"
	NodeEVCharging     NodeType = "ev-charging"
	NodeProducer       NodeType = "producer"
)

// NodeTypes lists every node type.
var NodeTypes = []NodeType{NodeHousehold, NodeNonResidential, NodePublicLighting, NodeEVCharging, NodeProducer}

func (n NodeType) valid() bool {
	for _, t := range NodeTypes {
		if n == t {
			return true
		}
	}
	return false
}

// Params are the community's market parameters, set by the operator.
type Params struct {
	Mechanism market.Mechanism `json:"mechanism"`
	// Imbalance is how deviations from the traded positions are settled
	// after delivery: ImbalanceCommunity (netted inside the community
	// first, the default) or ImbalanceUtility (each member with the
	// utility). Empty reads as ImbalanceCommunity.
	Imbalance string `json:"imbalance,omitempty"`
	// GridPricePerKWh[h] is the utility's selling price for energy delivered
	// in local hour h; FeedInPerKWh[h] its buying price. Micro-units per kWh.
	GridPricePerKWh [24]int64 `json:"grid_price_per_kwh"`
	FeedInPerKWh    [24]int64 `json:"feed_in_per_kwh"`
	// TariffUTCOffsetS shifts market time (UTC) to the community's local
	// time for choosing the tariff hour.
	TariffUTCOffsetS int64 `json:"tariff_utc_offset_s"`
	// IntervalS is the length of one delivery interval (one listing).
	IntervalS int64 `json:"interval_s"`
	// GateClosureS is how long before delivery a listing stops taking orders.
	GateClosureS int64 `json:"gate_closure_s"`
	// HorizonIntervals is how many intervals ahead listings are open.
	HorizonIntervals int64 `json:"horizon_intervals"`
	// MaxTxPerInterval caps the transactions one member may sign per
	// interval of market time (operator, DSO and utility are exempt).
	MaxTxPerInterval int64 `json:"max_tx_per_interval"`
	// ReadingSkewS is how far ahead of ledger time a reading may be dated
	// (device clocks drift; blocks lag the wall clock).
	ReadingSkewS int64 `json:"reading_skew_s"`
	// SettlementDeadlineS is how long after an interval ends the ledger
	// waits for every meter's reading before settling it without the
	// missing ones (flagged; their energy lands in the next interval).
	SettlementDeadlineS int64 `json:"settlement_deadline_s"`
	// RetainIntervals, when set, keeps settled listings (their orders,
	// clearing and settlement) in the state for this many intervals after
	// they end, then drops them: the blocks and their events still hold
	// them, and the state, and every validator's memory, stop growing with
	// the ledger's age. 0 keeps everything.
	RetainIntervals int64 `json:"retain_intervals,omitempty"`
}

// The imbalance settlement rules (see Settlement).
const (
	ImbalanceCommunity = "community"
	ImbalanceUtility   = "utility"
)

// ImbalanceRules lists the imbalance settlement rules, the default first.
var ImbalanceRules = []string{ImbalanceCommunity, ImbalanceUtility}

// ImbalanceRule is the rule in force: Imbalance, or the default.
func (p Params) ImbalanceRule() string {
	if p.Imbalance == "" {
		return ImbalanceCommunity
	}
	return p.Imbalance
}

// Seed defaults (SYSTEM.md "Numbers the seed gives").
const (
	SeedGridPeakPerKWh = 95_000 // 0.095 €/kWh, 13-23 h
	SeedFeedInPerKWh   = 39_000 // 0.039 €/kWh
	// DefaultOffPeakPerKWh is our default grid price outside the seed's
	// peak, which the seed does not give.
	DefaultOffPeakPerKWh = 65_000
)

// DefaultParams are the seed's: average-bid clearing, hourly listings open a
// day ahead, gate closure one hour before delivery, the seed's tariffs.
func DefaultParams() Params {
	p := Params{
		Mechanism:        market.AverageBid,
		Imbalance:        ImbalanceCommunity,
		IntervalS:        3600,
		GateClosureS:     3600,
		HorizonIntervals: 24,
		MaxTxPerInterval: 200,
		ReadingSkewS:     120,
		// Readings are batched at each interval's end; a quarter of an
		// hour is ample for them to arrive.
		SettlementDeadlineS: 900,
	}
	for h := range 24 {
		p.GridPricePerKWh[h] = DefaultOffPeakPerKWh
		if h >= 13 && h < 23 {
			p.GridPricePerKWh[h] = SeedGridPeakPerKWh
		}
		p.FeedInPerKWh[h] = SeedFeedInPerKWh
	}
	return p
}

// Validate checks the parameters are coherent.
func (p Params) Validate() error {
	known := false
	for _, m := range market.Mechanisms {
		known = known || p.Mechanism == m
	}
	if !known {
		return errf(ErrBadParams, "unknown mechanism %q (want one of %v)", p.Mechanism, market.Mechanisms)
	}
	if p.Imbalance != "" && p.Imbalance != ImbalanceCommunity && p.Imbalance != ImbalanceUtility {
		return errf(ErrBadParams, "unknown imbalance rule %q (want one of %v)", p.Imbalance, ImbalanceRules)
	}
	for h := range 24 {
		if p.FeedInPerKWh[h] < 0 || p.GridPricePerKWh[h] > MaxPricePerKWh {
			return errf(ErrBadParams, "hour %d: tariffs must be within 0..%d", h, int64(MaxPricePerKWh))
		}
		if p.FeedInPerKWh[h] > p.GridPricePerKWh[h] {
			return errf(ErrBadParams, "hour %d: feed-in %d above grid price %d", h, p.FeedInPerKWh[h], p.GridPricePerKWh[h])
		}
	}
	if p.TariffUTCOffsetS <= -86400 || p.TariffUTCOffsetS >= 86400 {
		return errf(ErrBadParams, "tariff_utc_offset_s %d out of range", p.TariffUTCOffsetS)
	}
	if p.IntervalS < 60 || p.IntervalS > 86400 || 86400%p.IntervalS != 0 {
		return errf(ErrBadParams, "interval_s %d: want 60..86400 dividing a day", p.IntervalS)
	}
	if p.HorizonIntervals < 1 || p.HorizonIntervals > 24*14 {
		return errf(ErrBadParams, "horizon_intervals %d: want 1..336", p.HorizonIntervals)
	}
	// A listing opens a horizon ahead of delivery and must then take
	// orders for at least one interval before its gate closes.
	if maxGate := (p.HorizonIntervals - 1) * p.IntervalS; p.GateClosureS < 0 || p.GateClosureS > maxGate {
		return errf(ErrBadParams, "gate_closure_s %d: want 0..%d, so a listing is open at least one interval before its gate closes", p.GateClosureS, maxGate)
	}
	if p.ReadingSkewS < 0 || p.ReadingSkewS > 86400 {
		return errf(ErrBadParams, "reading_skew_s %d: want 0..86400", p.ReadingSkewS)
	}
	if p.SettlementDeadlineS < 0 || p.SettlementDeadlineS > 7*86400 {
		return errf(ErrBadParams, "settlement_deadline_s %d: want 0..604800", p.SettlementDeadlineS)
	}
	// A day and a half at least: the EMS prices its bids from the last
	// day's clearings, and settlement may wait for late readings.
	if p.RetainIntervals != 0 && (p.RetainIntervals*p.IntervalS < 36*3600 || p.RetainIntervals > 1_000_000) {
		return errf(ErrBadParams, "retain_intervals %d: want 0 (keep all) or 36 hours' worth to 1000000", p.RetainIntervals)
	}
	if p.MaxTxPerInterval < 1 || p.MaxTxPerInterval > 1_000_000 {
		return errf(ErrBadParams, "max_tx_per_interval %d: want 1..1000000", p.MaxTxPerInterval)
	}
	return nil
}

// TariffHour is the community's local hour of day (0–23) at a market time:
// the hour whose tariffs apply.
func (p Params) TariffHour(marketTime int64) int {
	local := marketTime + p.TariffUTCOffsetS
	return int(((local % 86400) + 86400) % 86400 / 3600)
}

// MaxMarketStart is the last market start a genesis may name: the end of
// year 9999, far from overflowing market time.
const MaxMarketStart = 253402300799

// Genesis is the contract's part of the chain's genesis (app_state).
type Genesis struct {
	Params Params `json:"params"`
	// TimeScale makes market time run faster than block time, for demos:
	// market time = market start + (block time − genesis time) × TimeScale.
	TimeScale int64 `json:"time_scale"`
	// MarketStart is the market time at genesis, UTC seconds; 0 (a real
	// deployment) is the genesis time itself. A demo sets it to begin
	// its market day where there is something to trade.
	MarketStart  int64         `json:"market_start,omitempty"`
	Participants []Participant `json:"participants"`
	// Validators is the genesis validator set; the chain fills it in from
	// CometBFT's genesis.
	Validators []Validator `json:"validators,omitempty"`
}

// Validate checks a genesis: parameters, scale, and an operator to run it.
func (g Genesis) Validate() error {
	if err := g.Params.Validate(); err != nil {
		return err
	}
	if g.TimeScale < 1 || g.TimeScale > 100_000 {
		return errf(ErrBadParams, "time_scale %d: want 1..100000", g.TimeScale)
	}
	if g.MarketStart < 0 || g.MarketStart > MaxMarketStart {
		return errf(ErrBadParams, "market_start %d: want 0 (the genesis time) or UTC seconds up to %d (year 9999)", g.MarketStart, int64(MaxMarketStart))
	}
	seen := map[string]bool{}
	operator := false
	for _, p := range g.Participants {
		m := MsgRegisterParticipant{ID: p.ID, EmailHash: p.EmailHash, Role: p.Role, NodeType: p.NodeType, PubKey: p.PubKey}
		if err := m.ValidateBasic(); err != nil {
			return err
		}
		if seen[p.ID] {
			return errf(ErrDuplicate, "participant %q twice in genesis", p.ID)
		}
		seen[p.ID] = true
		operator = operator || p.Role == RoleOperator
	}
	if !operator {
		return errf(ErrBadParams, "genesis needs an operator")
	}
	return nil
}

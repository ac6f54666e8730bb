package contract

import (
	"math"
	"strconv"

	"github.com/gridledger/gridledger/internal/market"
)

// Settlement is the record of one interval's delivery settlement: what the
// meters say flowed, the energy tokens minted, moved and retired, and the
// money moved with the utility for every deviation from the traded
// positions. The rules, for each member m of the interval:
//
//  1. Tokens are minted, 1 per Wh, for the metered production P of m's
//     approved RES, and only from readings: never from a battery.
//  2. Of those, what m did not export renewably was used on site (or
//     stored): those tokens are retired at once (self-consumption). The
//     rest, E = min(P, X − B) (metered export X, less B what m's batteries
//     discharged, or could have where unmetered: battery.go), left the
//     site and may be delivered against sales. Without a battery, B = 0.
//  3. A seller delivers D = min(sold, E): D tokens move to its buyers, trade
//     by trade in clearing order.
//  4. A seller who delivered less than it sold pays the shortfall
//     (sold − D) at the grid tariff: the utility supplied the buyers.
//  5. What m exported beyond what it delivered (X − D) goes to the utility
//     at the feed-in tariff (with the E − D unsold tokens).
//  6. A buyer's received tokens are retired against its metered import I
//     (min(received, I)); tokens it could not use go to the utility.
//  7. Consumption beyond purchases (I − bought, if positive) is bought from
//     the utility at the grid tariff.
//  8. Purchases not consumed (bought − I, if positive) are sold back to the
//     utility at the feed-in tariff.
//
// Demand-response reductions are verified and paid too (see dr.go).
//
// So each Wh is sold and used once, money moves only between wallets (the
// utility is a participant), and settling twice is impossible: a settled
// listing is SETTLED. A payment the payer's balance cannot cover is paid
// as far as it goes and the rest recorded in Owes, paid first at the next
// settlement, so no wallet goes negative.
//
// Some JSON tags lack the unit the field name carries: see Units in the
// package doc.
type Settlement struct {
	Start           int64  `json:"start"`
	End             int64  `json:"end"`
	Height          int64  `json:"height"`
	MarketTime      int64  `json:"market_time"`
	GridPricePerKWh int64  `json:"grid_price"`
	FeedInPerKWh    int64  `json:"feed_in"`
	Utility         string `json:"utility"`
	// Imbalance is the rule the interval settled by (ImbalanceCommunity or
	// ImbalanceUtility). Under the community rule, PoolWh is the energy
	// netted between members' deviations at PoolPricePerKWh (the
	// clearing price, or the middle of the tariffs without one).
	Imbalance       string `json:"imbalance,omitempty"`
	PoolWh          int64  `json:"pool_wh,omitempty"`
	PoolPricePerKWh int64  `json:"pool_price_per_kwh,omitempty"`
	// Missing meters had no reading in the interval by the deadline: their
	// energy counts in the next interval they report in.
	Missing  []string           `json:"missing"`
	Readings []IntervalReading  `json:"readings"`
	Members  []MemberSettlement `json:"members"`
	Totals   SettlementTotals   `json:"totals"`
	// DR lists the demand-response reductions verified in the interval.
	DR []DRPayment `json:"dr,omitempty"`
}

// MemberSettlement is one member's part of a settlement. Energy in Wh
// (energy tokens too: one per Wh), money in nano-units. The JSON tags of
// the tokens and the money lack the unit the field name carries: see
// Units in the package doc.
type MemberSettlement struct {
	ID string `json:"id"`
	// Metered in the interval.
	ImportWh     int64 `json:"import_wh"`
	ExportWh     int64 `json:"export_wh"`
	ProductionWh int64 `json:"production_wh"`
	// Batteries (battery.go): charged and discharged by the member's
	// battery sub-meters (not in ImportWh and ExportWh: the grid meter
	// has them), and the rated discharge assumed of its batteries whose
	// meter did not report. RenewableExportWh is what of the export
	// may carry tokens.
	BatteryChargeWh    int64 `json:"battery_charge_wh,omitempty"`
	BatteryDischargeWh int64 `json:"battery_discharge_wh,omitempty"`
	BatteryUnmeteredWh int64 `json:"battery_unmetered_wh,omitempty"`
	// Traded at clearing.
	SoldWh   int64 `json:"sold_wh"`
	BoughtWh int64 `json:"bought_wh"`
	// Deviations settled with the utility.
	DeliveredWh  int64 `json:"delivered_wh"`
	ShortfallWh  int64 `json:"shortfall_wh"`
	GridExportWh int64 `json:"grid_export_wh"`
	GridImportWh int64 `json:"grid_import_wh"`
	UnusedWh     int64 `json:"unused_wh"`
	// Community rule: the purchases realised (paid at their trade price;
	// the rest, UnusedWh, unwound and refunded), and the deviations netted
	// with other members' in the pool (PoolImportWh bought from them,
	// PoolExportWh sold to them, at the pool price).
	RealisedBoughtWh int64 `json:"realised_bought_wh,omitempty"`
	PoolImportWh     int64 `json:"pool_import_wh,omitempty"`
	PoolExportWh     int64 `json:"pool_export_wh,omitempty"`
	// Energy tokens.
	TokensMintedWh      int64 `json:"tokens_minted"`
	TokensSelfRetiredWh int64 `json:"tokens_self_retired"`
	TokensSentWh        int64 `json:"tokens_sent"`
	TokensReceivedWh    int64 `json:"tokens_received"`
	TokensRetiredWh     int64 `json:"tokens_retired"`
	TokensExportedWh    int64 `json:"tokens_exported"`
	// Money with the utility: what was due each way, and what of this
	// member's dues its balance could not cover (now owed).
	PaidToUtilityNano       int64 `json:"paid_to_utility"`
	ReceivedFromUtilityNano int64 `json:"received_from_utility"`
	OwedNano                int64 `json:"owed"`
	// Community rule: money paid to and received from other members at
	// settlement (refunds of unwound trades, realised energy moved between
	// members at the clearing price, and the pool), nano-units.
	MembersPaidNano     int64 `json:"members_paid_nano,omitempty"`
	MembersReceivedNano int64 `json:"members_received_nano,omitempty"`
	// Demand response: reduction verified and incentive received.
	DRVerifiedWh    int64 `json:"dr_verified_wh,omitempty"`
	DRIncentiveNano int64 `json:"dr_incentive,omitempty"`
}

// SettlementTotals add up a settlement: Minted = Retired + Exported, and
// Transferred (to buyers) is part of both sides. The money's JSON tags
// lack the unit the field name carries: see Units in the package doc.
type SettlementTotals struct {
	MintedWh        int64 `json:"minted_wh"`
	TransferredWh   int64 `json:"transferred_wh"`
	RetiredWh       int64 `json:"retired_wh"`
	ExportedWh      int64 `json:"exported_wh"`
	ToUtilityNano   int64 `json:"to_utility"`
	FromUtilityNano int64 `json:"from_utility"`
	// BetweenMembersNano is the money moved between members at settlement
	// (community rule).
	BetweenMembersNano int64 `json:"between_members_nano,omitempty"`
}

// settleListings settles, in delivery order, every cleared listing whose
// interval has ended and whose meters have all reported, or whose
// settlement deadline has passed.
func (s *State) settleListings() {
	done := 0
	for _, start := range s.unsettled {
		l := s.listings[start]
		if s.marketTime < l.End {
			break
		}
		if len(s.closings[start]) < len(s.meters) && s.marketTime < l.End+s.params.SettlementDeadlineS {
			break // later intervals wait: baselines must advance in order
		}
		s.settle(l)
		done++
	}
	s.unsettled = s.unsettled[done:]
	s.prune()
}

// prune drops settled listings that ended RetainIntervals ago, with their
// orders and settlement, oldest first.
func (s *State) prune() {
	keep := s.params.RetainIntervals * s.params.IntervalS
	if keep == 0 {
		return
	}
	n := 0
	for ; n < len(s.starts); n++ {
		l := s.listings[s.starts[n]]
		if l.State != StateSettled || l.End+keep > s.marketTime {
			break
		}
		for _, o := range l.orders {
			s.remove(keyOrder(o), o)
			delete(s.orders, o.ID)
		}
		if st, ok := s.settlements[l.Start]; ok {
			s.remove(keySettlement(l.Start), st)
			delete(s.settlements, l.Start)
		}
		s.remove(keyListing(l.Start), l)
		delete(s.listings, l.Start)
	}
	s.starts = s.starts[n:]
}

func (s *State) settle(l *Listing) {
	st := &Settlement{Start: l.Start, End: l.End, Height: s.height, MarketTime: s.marketTime,
		GridPricePerKWh: l.GridPricePerKWh, FeedInPerKWh: l.FeedInPerKWh, Missing: []string{}, Readings: []IntervalReading{}}
	utility := s.utility()
	if utility != nil {
		st.Utility = utility.ID
	}
	s.payDebts()

	// Metered energy per owner, from each meter's closing reading.
	members := map[string]*MemberSettlement{}
	get := func(id string) *MemberSettlement {
		m, ok := members[id]
		if !ok {
			m = &MemberSettlement{ID: id}
			members[id] = m
		}
		return m
	}
	closings := s.closings[l.Start]
	batteryRead := map[string]bool{}
	for _, id := range sortedKeys(s.meters) {
		mt := s.meters[id]
		ir, ok := closings[id]
		if !ok {
			st.Missing = append(st.Missing, id)
			continue
		}
		s.touch(keyMeter(id), mt, true)
		b := mt.Baseline
		m := get(mt.Owner)
		if mt.Battery != "" {
			// A sub-meter: its flows are in the grid meter already, and
			// a battery produces nothing.
			m.BatteryChargeWh += ir.ImportWh - b.ImportWh
			m.BatteryDischargeWh += ir.ExportWh - b.ExportWh
			batteryRead[mt.Battery] = true
		} else {
			m.ImportWh += ir.ImportWh - b.ImportWh
			m.ExportWh += ir.ExportWh - b.ExportWh
		}
		if r := s.res[mt.RES]; r != nil && r.Approved {
			m.ProductionWh += ir.ProductionWh - b.ProductionWh
		}
		regs := ir.Registers
		mt.Baseline = &regs
		st.Readings = append(st.Readings, *ir)
		s.remove(keyClosing(l.Start, id), ir)
	}
	delete(s.closings, l.Start)
	s.unmeteredDischarge(members, batteryRead, l.End-l.Start)

	// Traded positions. Each seller's trades, in clearing order (the
	// order it delivers in).
	bySeller := map[string][]market.Trade{}
	var trades []market.Trade
	if l.Clearing != nil {
		trades = l.Clearing.Trades
		for _, t := range trades {
			get(t.Seller).SoldWh += t.Wh
			get(t.Buyer).BoughtWh += t.Wh
			bySeller[t.Seller] = append(bySeller[t.Seller], t)
		}
	}
	ids := sortedKeys(members)

	// Rules 1-2 (both imbalance rules): mint, retire self-consumption.
	for _, id := range ids {
		m := members[id]
		m.TokensMintedWh = m.ProductionWh
		m.TokensSelfRetiredWh = m.ProductionWh - m.RenewableExportWh()
	}
	s.settleDR(st, members)
	if l.Imbalance == ImbalanceUtility {
		settleWithUtility(st, members, ids, bySeller)
	} else {
		st.Imbalance = ImbalanceCommunity
		st.PoolPricePerKWh = poolPrice(l)
		s.settleInCommunity(st, members, ids, trades, utility)
	}
	for _, id := range ids {
		m := members[id]
		st.Totals.MintedWh = satAdd(st.Totals.MintedWh, m.TokensMintedWh)
		st.Totals.TransferredWh = satAdd(st.Totals.TransferredWh, m.TokensSentWh)
		st.Totals.RetiredWh = satAdd(st.Totals.RetiredWh, m.TokensSelfRetiredWh+m.TokensRetiredWh)
		st.Totals.ExportedWh = satAdd(st.Totals.ExportedWh, m.TokensExportedWh)
		st.Totals.ToUtilityNano = satAdd(st.Totals.ToUtilityNano, m.PaidToUtilityNano)
		st.Totals.FromUtilityNano = satAdd(st.Totals.FromUtilityNano, m.ReceivedFromUtilityNano)
		st.Totals.BetweenMembersNano = satAdd(st.Totals.BetweenMembersNano, m.MembersPaidNano)

		p := s.participants[id]
		if utility != nil && p != nil && p != utility {
			m.OwedNano += s.pay(p, utility, m.PaidToUtilityNano)
			s.pay(utility, p, m.ReceivedFromUtilityNano)
		}
		st.Members = append(st.Members, *m)
	}
	if st.Members == nil {
		st.Members = []MemberSettlement{}
	}

	s.touch(keyListing(l.Start), l, true)
	l.State = StateSettled
	s.settlements[l.Start] = st
	s.touch(keySettlement(l.Start), st, false)
	s.blockEvents = append(s.blockEvents, event("settlement",
		"listing", i64(l.Start), "members", strconv.Itoa(len(st.Members)), "missing", strconv.Itoa(len(st.Missing)),
		"minted_wh", i64(st.Totals.MintedWh), "transferred_wh", i64(st.Totals.TransferredWh),
		"retired_wh", i64(st.Totals.RetiredWh), "exported_wh", i64(st.Totals.ExportedWh),
		"to_utility", i64(st.Totals.ToUtilityNano), "from_utility", i64(st.Totals.FromUtilityNano)))
}

// settleWithUtility is the utility imbalance rule (rules 3-8 of
// Settlement): trades are delivered as far as the seller's renewable
// export goes, and every deviation is settled member by member with the
// utility at the tariffs.
func settleWithUtility(st *Settlement, members map[string]*MemberSettlement, ids []string, bySeller map[string][]market.Trade) {
	// Rule 3: deliver to buyers.
	for _, id := range ids {
		m := members[id]
		e := m.RenewableExportWh()
		m.DeliveredWh = min(m.SoldWh, e)
		left := m.DeliveredWh
		for _, t := range bySeller[id] {
			d := min(t.Wh, left)
			left -= d
			members[t.Buyer].TokensReceivedWh += d
		}
		m.TokensSentWh = m.DeliveredWh
		m.TokensExportedWh = e - m.DeliveredWh
	}
	// Rules 4-8: deviations with the utility.
	for _, id := range ids {
		m := members[id]
		m.ShortfallWh = m.SoldWh - m.DeliveredWh
		m.GridExportWh = m.ExportWh - m.DeliveredWh
		m.GridImportWh = max(0, m.ImportWh-m.BoughtWh)
		m.UnusedWh = max(0, m.BoughtWh-m.ImportWh)
		m.TokensRetiredWh = min(m.TokensReceivedWh, m.ImportWh)
		m.TokensExportedWh += m.TokensReceivedWh - m.TokensRetiredWh
		m.PaidToUtilityNano = cappedValue(satAdd(m.ShortfallWh, m.GridImportWh), st.GridPricePerKWh)
		m.ReceivedFromUtilityNano = cappedValue(satAdd(m.GridExportWh, m.UnusedWh), st.FeedInPerKWh)
	}
}

// MaxSettlementNano caps one amount settled with the utility: 10^9
// currency units. No real interval comes near it; only nonsense readings
// (registers near their 10 TWh limit) could exceed it, and capping keeps
// them from overflowing int64 and halting every validator. Money stays
// conserved: only what is actually moved between wallets counts.
const MaxSettlementNano = 1_000_000_000 * 1_000_000_000

// cappedValue is Wh × price per kWh in nano-units, capped.
func cappedValue(wh, pricePerKWh int64) int64 {
	v, err := market.Value(wh, pricePerKWh)
	if err != nil || v > MaxSettlementNano {
		return MaxSettlementNano
	}
	return v
}

// satAdd adds non-negative numbers, saturating instead of overflowing.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// utility is the community's counterparty of last resort: the utility
// participant with the smallest id, or nil if there is none.
func (s *State) utility() *Participant {
	for _, id := range sortedKeys(s.participants) {
		if p := s.participants[id]; p.Role == RoleUtility && !p.Suspended {
			return p
		}
	}
	return nil
}

// pay moves amount from one wallet to another as far as the payer's
// balance goes; the rest is recorded as owed. It returns what is owed.
func (s *State) pay(from, to *Participant, amount int64) int64 {
	if amount <= 0 {
		return 0
	}
	s.touch(keyParticipant(from.ID), from, true)
	s.touch(keyParticipant(to.ID), to, true)
	moved := min(amount, from.Balance)
	from.Balance -= moved
	to.Balance += moved
	owed := amount - moved
	if owed > 0 {
		if from.Owes == nil {
			from.Owes = map[string]int64{}
		}
		from.Owes[to.ID] = satAdd(from.Owes[to.ID], owed)
	}
	return owed
}

// payDebts pays what every participant owes, as far as its balance goes.
func (s *State) payDebts() {
	for _, id := range sortedKeys(s.participants) {
		p := s.participants[id]
		if len(p.Owes) == 0 || p.Balance == 0 {
			continue
		}
		s.touch(keyParticipant(p.ID), p, true)
		for _, creditor := range sortedKeys(p.Owes) {
			c := s.participants[creditor]
			amt := min(p.Owes[creditor], p.Balance)
			if amt == 0 {
				break
			}
			s.touch(keyParticipant(c.ID), c, true)
			p.Balance -= amt
			c.Balance += amt
			if p.Owes[creditor] -= amt; p.Owes[creditor] == 0 {
				delete(p.Owes, creditor)
			}
		}
		if len(p.Owes) == 0 {
			p.Owes = nil
		}
	}
}

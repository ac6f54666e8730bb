package contract

import (
	"math/bits"
	"slices"

	"github.com/gridledger/gridledger/internal/market"
)

// The community imbalance rule (ImbalanceCommunity), the second settlement
// after delivery. docs/ledger.md states it sentence by sentence; each
// sentence has its test in imbalance_test.go. In short, per interval:
//
//  1. Realise: a buyer can use at most min(bought, metered import), a
//     seller deliver at most min(sold, renewable export). The community
//     realises V = the smaller of the two totals; the larger side shares
//     it in proportion to metered energy, capped at what each can realise
//     (water-filling), so that nobody realises more by committing more
//     than it metered.
//  2. Trades are realised in clearing order as far as both parties'
//     realised volumes go; the unrealised part of each trade is unwound:
//     its seller refunds its buyer at the trade's price. Realised volume
//     left over on both sides (a buyer whose seller fell short, a seller
//     whose buyer did) moves between them at the clearing price.
//  3. Pool: each member's import beyond its realised purchases and export
//     beyond its realised sales are netted against each other's, Q =
//     min(Σ imports left, Σ exports left), pro rata, at the pool price (the
//     interval's clearing price, or the middle of the tariffs without
//     one). Energy tokens follow: the renewable part of the netted export
//     moves to the members who imported it and is retired there.
//  4. Only the rest goes to the utility: import at the grid tariff, export
//     at the feed-in tariff. One of the two is zero: the utility sees the
//     community's net deviation only.
//
// Every price the settlement sets is in [feed-in, grid], so a member whose
// orders were priced within the tariffs (the EMS's and the dashboard's
// always are) never pays more, or receives less, than the utility alone
// would have charged or paid it for its metered import and export.

// poolPrice is the price deviations net at inside the community: the
// interval's clearing price (kept within the tariffs: only orders priced
// outside them can put it there), or the middle of the tariffs without
// one.
func poolPrice(l *Listing) int64 {
	if l.Clearing != nil && l.Clearing.MCP != nil {
		return max(l.FeedInPerKWh, min(*l.Clearing.MCP, l.GridPricePerKWh))
	}
	return l.FeedInPerKWh + (l.GridPricePerKWh-l.FeedInPerKWh)/2
}

// settleInCommunity fills in the members' realised trades, pool and
// utility positions and tokens under the community rule, and moves the
// money between members. Moving the utility's amounts is left to the caller.
func (s *State) settleInCommunity(st *Settlement, members map[string]*MemberSettlement, ids []string, trades []market.Trade, utility *Participant) {
	n := len(ids)
	index := make(map[string]int, n)
	for i, id := range ids {
		index[id] = i
	}
	ms := make([]*MemberSettlement, n)
	renewable := make([]int64, n) // renewable export: what tokens can leave with
	usable, deliverable, imports := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, id := range ids {
		m := members[id]
		ms[i] = m
		renewable[i] = m.RenewableExportWh()
		imports[i] = m.ImportWh
		usable[i] = min(m.BoughtWh, m.ImportWh)
		deliverable[i] = min(m.SoldWh, renewable[i])
	}

	// 1. Realise the smaller side's total, the larger side pro rata.
	boughtLeft, soldLeft := realise(usable, deliverable, imports, renewable)
	for i, m := range ms {
		m.RealisedBoughtWh, m.DeliveredWh = boughtLeft[i], soldLeft[i]
		m.UnusedWh = m.BoughtWh - m.RealisedBoughtWh
		m.ShortfallWh = m.SoldWh - m.DeliveredWh
	}

	// 2. Trades in clearing order; each unrealised part refunded at its
	// price, by its seller to its buyer.
	for _, t := range trades {
		b, sl := index[t.Buyer], index[t.Seller]
		r := min(t.Wh, boughtLeft[b], soldLeft[sl])
		boughtLeft[b] -= r
		soldLeft[sl] -= r
		ms[sl].TokensSentWh += r
		ms[b].TokensReceivedWh += r
		s.payMember(ms[sl], ms[b], mustValue(t.Wh-r, t.PricePerKWh))
	}
	// What is realised on both sides but not by a trade between the two
	// moves at the clearing price (trades exist, so there is one).
	mcp := st.PoolPricePerKWh
	pairUp(boughtLeft, soldLeft, func(b, sl int, wh int64) {
		ms[sl].TokensSentWh += wh
		ms[b].TokensReceivedWh += wh
		s.payMember(ms[b], ms[sl], mustValue(wh, mcp))
	})

	// 3. The pool: deviations netted between members.
	short, long := make([]int64, n), make([]int64, n)
	var sumShort, sumLong int64
	for i, m := range ms {
		if utility != nil && ids[i] == utility.ID {
			continue // the utility's own meter is not a member's deviation
		}
		short[i] = m.ImportWh - m.RealisedBoughtWh
		long[i] = m.ExportWh - m.DeliveredWh
		sumShort, sumLong = satAdd(sumShort, short[i]), satAdd(sumLong, long[i])
	}
	q := min(sumShort, sumLong)
	st.PoolWh = q
	poolIn, poolOut := apportion(q, short), apportion(q, long)
	// Tokens: the renewable part of each member's netted export, moved to
	// the members who imported it, pro rata to what they netted.
	tokens := make([]int64, n)
	var sumTokens int64
	for i, m := range ms {
		m.PoolImportWh, m.PoolExportWh = poolIn[i], poolOut[i]
		tokens[i] = min(poolOut[i], renewable[i]-m.DeliveredWh)
		m.TokensSentWh += tokens[i]
		sumTokens += tokens[i]
	}
	for i, got := range apportion(sumTokens, poolIn) {
		ms[i].TokensReceivedWh += got
	}
	pairUp(slices.Clone(poolIn), slices.Clone(poolOut), func(b, sl int, wh int64) {
		if b != sl { // a member netted against itself moves no money
			s.payMember(ms[b], ms[sl], cappedValue(wh, st.PoolPricePerKWh))
		}
	})

	// 4. The rest with the utility; tokens not delivered leave with the
	// export.
	for i, m := range ms {
		m.GridImportWh = short[i] - poolIn[i]
		m.GridExportWh = long[i] - poolOut[i]
		m.TokensRetiredWh = m.TokensReceivedWh
		m.TokensExportedWh = renewable[i] - m.TokensSentWh
		m.PaidToUtilityNano = cappedValue(m.GridImportWh, st.GridPricePerKWh)
		m.ReceivedFromUtilityNano = cappedValue(m.GridExportWh, st.FeedInPerKWh)
	}
}

// realise is step 1: each member's realised purchase and sale. The
// smaller side's total is realised in full; the larger side shares it by
// water-filling: each member realises λ × its metered energy (import for
// a buyer, renewable export for a seller), capped at what it can realise
// (min of traded and metered), with λ set so the total is met. Weighing by
// metered energy rather than by what was traded means that committing
// more than one's metered energy realises nothing more: it only caps a
// member that committed less.
func realise(usable, deliverable, imports, renewable []int64) (bought, sold []int64) {
	v := min(sumOf(usable), sumOf(deliverable))
	return waterFill(v, usable, imports), waterFill(v, deliverable, renewable)
}

// waterFill shares total (at most Σ caps) as min(cap, λ × weight) in
// whole Wh: the members whose cap is below the level get their cap, the
// others share the rest by apportion. Every cap is at most its weight.
func waterFill(total int64, caps, weights []int64) []int64 {
	if total >= sumOf(caps) {
		return slices.Clone(caps)
	}
	out := make([]int64, len(caps))
	// Members by cap/weight ascending (a zero weight, whose cap is zero,
	// first); ties by index.
	order := indices(len(caps))
	slices.SortStableFunc(order, func(a, b int) int { return cmpRatio(caps[a], weights[a], caps[b], weights[b]) })
	left, weight := total, sumOf(weights)
	k := 0
	for ; k < len(order); k++ {
		i := order[k]
		// Capped if cap/weight ≤ left/weight-left.
		if cmpRatio(caps[i], weights[i], left, weight) > 0 {
			break
		}
		out[i] = caps[i]
		left -= caps[i]
		weight -= weights[i]
	}
	rest := make([]int64, len(caps))
	for _, i := range order[k:] {
		rest[i] = weights[i]
	}
	for i, v := range apportion(left, rest) {
		out[i] += v
	}
	return out
}

// cmpRatio compares a/b with c/d for non-negative numbers, a zero
// denominator counting as the smallest ratio.
func cmpRatio(a, b, c, d int64) int {
	switch {
	case b == 0 && d == 0:
		return 0
	case b == 0:
		return -1
	case d == 0:
		return 1
	}
	h1, l1 := bits.Mul64(uint64(a), uint64(d))
	h2, l2 := bits.Mul64(uint64(c), uint64(b))
	switch {
	case h1 != h2:
		return cmpU(h1, h2)
	default:
		return cmpU(l1, l2)
	}
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// apportion shares total (at most Σ weights) in proportion to the
// non-negative weights, in whole Wh: each gets the floor of its quota,
// and what the floors leave goes a Wh each to the largest remainders
// (ties to the lower index). Nobody gets more than its weight, and the
// shares add up to total exactly. With total = Σ weights each gets its
// weight.
func apportion(total int64, weights []int64) []int64 {
	sum := sumOf(weights)
	if total >= sum {
		return slices.Clone(weights)
	}
	out := make([]int64, len(weights))
	if total <= 0 {
		return out
	}
	rem := make([]uint64, len(weights))
	left := total
	for i, w := range weights {
		hi, lo := bits.Mul64(uint64(total), uint64(w))
		quo, r := bits.Div64(hi, lo, uint64(sum)) // quo ≤ w: total < sum
		out[i], rem[i] = int64(quo), r
		left -= int64(quo)
	}
	order := indices(len(weights))
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rem[a] > rem[b]:
			return -1
		case rem[a] < rem[b]:
			return 1
		}
		return 0
	})
	for _, i := range order[:left] { // left < the number of non-zero remainders
		out[i]++
	}
	return out
}

// pairUp walks two lists of amounts that add up to the same total, in
// index order, and calls pair for each overlap (i from the first list, j
// from the second, wh in common), consuming both.
func pairUp(a, b []int64, pair func(i, j int, wh int64)) {
	i, j := 0, 0
	for {
		for i < len(a) && a[i] == 0 {
			i++
		}
		for j < len(b) && b[j] == 0 {
			j++
		}
		if i == len(a) || j == len(b) {
			return
		}
		wh := min(a[i], b[j])
		a[i] -= wh
		b[j] -= wh
		pair(i, j, wh)
	}
}

// payMember moves money between two members at settlement and records it
// on both sides.
func (s *State) payMember(from, to *MemberSettlement, amount int64) {
	if amount <= 0 {
		return
	}
	payer, payee := s.participants[from.ID], s.participants[to.ID]
	if payer == nil || payee == nil {
		return
	}
	from.OwedNano += s.pay(payer, payee, amount)
	from.MembersPaidNano += amount
	to.MembersReceivedNano += amount
}

// indices are 0 … n−1.
func indices(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// sumOf adds non-negative amounts, saturating.
func sumOf(xs []int64) int64 {
	var sum int64
	for _, x := range xs {
		sum = satAdd(sum, x)
	}
	return sum
}

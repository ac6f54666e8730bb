package contract_test

import (
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
)

// Property tests: random sequences of transactions and blocks (see gen_test.go),
// with the ledger's invariants checked after every block:
//
//   - money is conserved: Σ balances + Σ escrow = Issued − Redeemed, and
//     only an accepted issue or redeem changes that total;
//   - no balance, escrow, order escrow or debt (Owes) is negative; a live
//     bid in an open listing holds exactly Wh × price; a cancelled bid, an
//     offer and every bid of a cleared or settled listing hold nothing;
//     each participant's escrow is the sum of its orders';
//   - per cleared listing: Σ trade Wh = traded ≤ available and ≤ wanted,
//     available and wanted are the live book's; no order trades more than
//     it asked; nobody pays above their bid; PaidNano = Σ Wh × price and
//     PaidNano + RefundedNano is all the listing's escrow;
//   - each trade's value moved from its buyer to its seller, and each
//     settlement's dues between its members and the utility: every
//     participant's worth (balance + escrow − what it owes + what it is
//     owed) changed in the block by exactly what it was issued, redeemed,
//     paid and was paid, and what settlement says it owes or is owed;
//   - per settlement (see checkSettlement): tokens minted = retired +
//     exported; each member's minted = self-retired + sent + exported from
//     its own production; Σ sent = Σ received = Σ (retired + exported by
//     buyers); delivered ≤ sold; the members' metered energy is Σ over
//     the settlement's readings of closing − previous baseline; every
//     meter is read or missing; and a settled interval never settles
//     again: its record stays as it was, and no later block moves money
//     for it; intervals settle in delivery order.

func TestPropertyLedgerInvariants(t *testing.T) {
	seen := map[contract.Code]int{}
	for seed := range uint64(24) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			runProperty(t, seed+1000, 600, seen)
		})
	}
	if seen[settledCode] == 0 || seen[deliveredCode] == 0 {
		t.Errorf("no interval settled with a delivery: %d settlements, %d deliveries", seen[settledCode], seen[deliveredCode])
	}
	delete(seen, settledCode)
	delete(seen, deliveredCode)
	// The generator must reach every way a transaction can be refused
	// that it tries for, or the properties above prove little.
	for c := contract.CodeOK; c <= contract.CodeBatteryNotRES; c++ {
		if c == contract.CodeBadParams || c > contract.CodeNotOwner && c < contract.CodeUnknownBattery {
			continue // the generator only sets valid parameters, and sends no DR or governance
		}
		if seen[c] == 0 {
			t.Errorf("no transaction got code %s", c.Name())
		}
	}
	t.Logf("codes: %v", seen)
}

// TestPropertySettlementInvariants runs the same invariants over busy
// markets only (odd seeds: orders crowd the next listing to close and
// producers sell to consumers), so that many settlements deliver, fall
// short, sell back and leave debts.
func TestPropertySettlementInvariants(t *testing.T) {
	seen := map[contract.Code]int{}
	for i := range uint64(12) {
		seed := 2001 + 2*i
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) { runProperty(t, seed, 800, seen) })
	}
	if seen[settledCode] < 100 || seen[deliveredCode] < 20 {
		t.Errorf("%d settlements, %d deliveries: the stream is too quiet to test settlement", seen[settledCode], seen[deliveredCode])
	}
	t.Logf("%d settlements, %d member deliveries", seen[settledCode], seen[deliveredCode])
}

// settledCode and deliveredCode count, in the seen map, settlements and
// deliveries rather than transaction codes.
const (
	settledCode   contract.Code = 1000
	deliveredCode contract.Code = 1001
)

func runProperty(t *testing.T, seed uint64, nTx int, seen map[contract.Code]int) {
	g := newGen(t, seed)
	s, _, err := contract.NewGenesis(testChain, genGenesis(), T0*ns)
	if err != nil {
		t.Fatal(err)
	}
	settled := map[int64]contract.Settlement{} // every settlement seen, as first seen
	var lastSettled int64                      // the latest interval settled: they settle in delivery order
	for height, sent := int64(1), 0; sent < nTx; height++ {
		b := g.next()
		sent += len(b.txs)
		before := money(s)
		meters, batteries, resApproved := s.Meters(), s.Batteries(), map[string]bool{}
		for _, r := range s.RESList() {
			resApproved[r.ID] = r.Approved
		}
		s.BeginBlock(height, b.mt*ns)
		res := s.DeliverTxs(rawTxs(b))
		_, events := s.EndBlock()

		// What each participant's money should have become.
		want := before
		for i, r := range res {
			seen[r.Code]++
			if r.Code != contract.CodeOK {
				continue
			}
			switch m := b.txs[i].msg.(type) {
			case *contract.MsgIssue:
				want[m.To] += m.Amount
			case *contract.MsgRedeem:
				want[m.From] -= m.Amount
			}
		}
		closed := map[int64]bool{}
		for _, e := range events {
			if e.Type == "CloseBidding" {
				start, _ := strconv.ParseInt(attrs(e)["listing"], 10, 64)
				closed[start] = true
			}
		}
		for _, l := range s.Listings(0, forever, true) {
			if l.Clearing == nil || l.Clearing.Height != height {
				continue
			}
			if !closed[l.Start] {
				t.Fatalf("block %d cleared listing %d without a CloseBidding event", height, l.Start)
			}
			delete(closed, l.Start)
			checkClearing(t, l)
			for _, tr := range l.Clearing.Trades {
				v := tr.Wh * tr.PricePerKWh
				want[tr.Buyer] -= v
				want[tr.Seller] += v
			}
		}
		if len(closed) != 0 {
			t.Fatalf("block %d: CloseBidding for listings not cleared: %v", height, closed)
		}
		// Settlements: the new ones, in the order they were made (their
		// events'), move dues between members and the utility; the old
		// ones stay exactly as they were.
		fresh := 0
		for _, st := range s.Settlements(0, forever) {
			old, ok := settled[st.Start]
			if !ok {
				fresh++
			} else if !reflect.DeepEqual(old, st) {
				t.Fatalf("block %d: settlement %d changed after it was made\n%+v\n%+v", height, st.Start, old, st)
			}
		}
		baselines := map[string]*reading.Registers{}
		for _, m := range meters {
			baselines[m.ID] = m.Baseline
		}
		for _, e := range events {
			if e.Type != "settlement" {
				continue
			}
			start, _ := strconv.ParseInt(attrs(e)["listing"], 10, 64)
			st, ok := s.Settlement(start)
			if _, again := settled[start]; !ok || again || st.Height != height {
				t.Fatalf("block %d: settlement event for %d: recorded %v, settled before %v, %+v", height, start, ok, again, st)
			}
			if st.Start <= lastSettled {
				t.Fatalf("block %d: settled %d after %d", height, st.Start, lastSettled)
			}
			lastSettled = st.Start
			settled[st.Start] = st
			fresh--
			seen[settledCode]++
			checkSettlement(t, s, st, meters, batteries, baselines, resApproved)
			for _, m := range st.Members {
				if m.TokensSentWh > 0 {
					seen[deliveredCode]++
				}
				if st.Utility != "" && m.ID != st.Utility {
					want[m.ID] += m.ReceivedFromUtilityNano - m.PaidToUtilityNano
					want[st.Utility] += m.PaidToUtilityNano - m.ReceivedFromUtilityNano
				}
				want[m.ID] += m.MembersReceivedNano - m.MembersPaidNano
			}
		}
		if fresh != 0 {
			t.Fatalf("block %d: %d settlements without an event", height, fresh)
		}
		// Participants registered in the block start with nothing.
		got := money(s)
		for id := range got {
			want[id] += 0
		}
		for id, v := range want {
			if got[id] != v {
				t.Fatalf("block %d (seed %d): %s has %d, want %d", height, seed, id, got[id], v)
			}
		}
		checkInvariants(t, s, height)
	}
}

// money is each participant's worth: balance plus escrow, less what it
// owes, plus what it is owed. Settlement's dues change it by their full
// amount whether paid or owed; paying a debt does not change it.
func money(s *contract.State) map[string]int64 {
	out := map[string]int64{}
	for _, p := range s.Participants() {
		out[p.ID] += p.Balance + p.Escrow
		for creditor, amt := range p.Owes {
			out[p.ID] -= amt
			out[creditor] += amt
		}
	}
	return out
}

// checkSettlement checks one settlement made in the block against itself,
// the meters as they were before the block (baselines advances as the
// block's settlements are checked in order) and the RES approvals then.
func checkSettlement(t *testing.T, s *contract.State, st contract.Settlement, meters []contract.Meter, batteries []contract.Battery,
	baselines map[string]*reading.Registers, approved map[string]bool) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("settlement %d: %s\n%+v", st.Start, fmt.Sprintf(format, args...), st)
	}
	if l, ok := s.Listing(st.Start); !ok || l.State != contract.StateSettled || l.Clearing == nil || st.End != l.End {
		fail("listing %+v", l.Listing)
	}
	if st.MarketTime < st.End {
		fail("settled at %d before the interval ended", st.MarketTime)
	}
	if st.Imbalance == contract.ImbalanceCommunity {
		l, _ := s.Listing(st.Start)
		checkCommunity(t, st, l)
	} else {
		checkUtilityRule(t, st)
	}
	var metered [5]int64
	for _, m := range st.Members {
		metered[0] += m.ImportWh
		metered[1] += m.ExportWh
		metered[2] += m.ProductionWh
		metered[3] += m.BatteryChargeWh
		metered[4] += m.BatteryDischargeWh
	}
	// Every meter of the time is read or missing, once; each reading's
	// energy is its closing registers less the meter's previous baseline.
	byID := map[string]contract.Meter{}
	for _, m := range meters {
		byID[m.ID] = m
	}
	if len(st.Readings)+len(st.Missing) != len(meters) {
		fail("%d readings and %d missing, %d meters", len(st.Readings), len(st.Missing), len(meters))
	}
	// A battery's sub-meter counts as charge and discharge, never as
	// grid import, export or production.
	var fromReadings [5]int64
	batteryRead, read := map[string]bool{}, map[string]bool{}
	for _, r := range st.Readings {
		m, ok := byID[r.Meter]
		b := baselines[r.Meter]
		if !ok || b == nil || r.Interval != st.Start || r.Time <= st.Start || r.Time > st.End {
			fail("reading %+v (meter %+v, baseline %+v)", r, m, b)
		}
		read[m.Owner] = true
		if m.Battery != "" {
			fromReadings[3] += r.ImportWh - b.ImportWh
			fromReadings[4] += r.ExportWh - b.ExportWh
			batteryRead[m.Battery] = true
		} else {
			fromReadings[0] += r.ImportWh - b.ImportWh
			fromReadings[1] += r.ExportWh - b.ExportWh
		}
		if m.RES != "" && approved[m.RES] {
			fromReadings[2] += r.ProductionWh - b.ProductionWh
		}
		regs := r.Registers
		baselines[r.Meter] = &regs
	}
	for _, id := range st.Missing {
		if _, ok := byID[id]; !ok {
			fail("missing meter %q is not a meter", id)
		}
	}
	if metered != fromReadings {
		fail("members' metered import, export, production, battery charge, discharge %v; readings less baselines %v", metered, fromReadings)
	}
	// Each member with a meter read is taken to have drawn its
	// unmetered batteries' rated discharge.
	unmetered := map[string]int64{}
	for _, b := range batteries {
		if !batteryRead[b.ID] && read[b.Owner] {
			unmetered[b.Owner] += b.MaxDischargeW * (st.End - st.Start) / 3600
		}
	}
	for _, m := range st.Members {
		if m.BatteryUnmeteredWh != unmetered[m.ID] {
			fail("member %s: unmetered battery discharge %d, its unmetered batteries' rating %d", m.ID, m.BatteryUnmeteredWh, unmetered[m.ID])
		}
	}
}

func checkInvariants(t *testing.T, s *contract.State, height int64) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("block %d: %s", height, fmt.Sprintf(format, args...))
	}
	in := s.Info()
	if in.Balances+in.Escrow != in.Issued-in.Redeemed || in.Supply != in.Issued-in.Redeemed {
		fail("money not conserved: %+v", in)
	}
	escrow := map[string]int64{}
	for _, p := range s.Participants() {
		if p.Balance < 0 || p.Escrow < 0 {
			fail("negative wallet %+v", p)
		}
		for c, amt := range p.Owes {
			if amt <= 0 || c == p.ID {
				fail("%s owes %d to %s", p.ID, amt, c)
			}
		}
	}
	open := 0
	for _, l := range s.Listings(0, forever, true) {
		if l.State == contract.StateAuthorizeOffers {
			open++
			if l.Clearing != nil {
				fail("open listing %d has a clearing", l.Start)
			}
		} else if l.Clearing == nil {
			fail("closed listing %d has no clearing", l.Start)
		}
		if int64(len(l.Book)) != l.Orders {
			fail("listing %d: %d orders in the book, Orders = %d", l.Start, len(l.Book), l.Orders)
		}
		for _, o := range l.Book {
			escrow[o.Participant] += o.Escrow
			switch {
			case o.Escrow < 0:
				fail("order %+v: negative escrow", o)
			case o.Side == contract.SideOffer || o.Cancelled || l.State != contract.StateAuthorizeOffers:
				if o.Escrow != 0 {
					fail("order %+v in %s listing holds escrow", o, l.State)
				}
			case o.Escrow != o.Wh*o.PricePerKWh:
				fail("live bid %+v holds %d, want %d", o, o.Escrow, o.Wh*o.PricePerKWh)
			}
		}
	}
	if open != in.OpenListings {
		fail("%d open listings, info says %d", open, in.OpenListings)
	}
	for _, p := range s.Participants() {
		if p.Escrow != escrow[p.ID] {
			fail("%s escrow %d, its orders hold %d", p.ID, p.Escrow, escrow[p.ID])
		}
	}
}

// checkClearing checks one cleared listing against its own book.
func checkClearing(t *testing.T, l contract.ListingView) {
	t.Helper()
	c := l.Clearing
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("listing %d (%s): %s\nclearing %+v", l.Start, l.Mechanism, fmt.Sprintf(format, args...), c)
	}
	// Cleared, and settled in the same block if its interval had ended
	// (after a halt) and nothing was missing.
	if l.State != contract.StateBidsClosed && l.State != contract.StateSettled {
		fail("cleared but %s", l.State)
	}
	orders := map[string]contract.Order{}
	var available, wanted, escrowed int64
	for _, o := range l.Book {
		if o.Cancelled {
			continue
		}
		orders[o.ID] = o
		if o.Side == contract.SideBid {
			wanted += o.Wh
			escrowed += o.Wh * o.PricePerKWh
		} else {
			available += o.Wh
		}
	}
	if c.AvailableWh != available || c.WantedWh != wanted {
		fail("available %d wanted %d, the live book has %d and %d", c.AvailableWh, c.WantedWh, available, wanted)
	}
	var traded, paid int64
	filled := map[string]int64{}
	for _, tr := range c.Trades {
		bid, okB := orders[tr.BidID]
		offer, okO := orders[tr.OfferID]
		if !okB || !okO || bid.Side != contract.SideBid || offer.Side != contract.SideOffer {
			fail("trade %+v names no live bid and offer of the listing", tr)
		}
		if tr.Buyer != bid.Participant || tr.Seller != offer.Participant || tr.Wh <= 0 {
			fail("trade %+v does not match its orders", tr)
		}
		if tr.PricePerKWh > bid.PricePerKWh || tr.PricePerKWh < 0 {
			fail("trade %+v priced above its bid %d", tr, bid.PricePerKWh)
		}
		filled[tr.BidID] += tr.Wh
		filled[tr.OfferID] += tr.Wh
		traded += tr.Wh
		paid += tr.Wh * tr.PricePerKWh
	}
	for id, wh := range filled {
		if wh > orders[id].Wh {
			fail("order %s traded %d of %d Wh", id, wh, orders[id].Wh)
		}
	}
	if traded != c.TradedWh || traded > available || traded > wanted {
		fail("traded %d (Σ trades %d), available %d, wanted %d", c.TradedWh, traded, available, wanted)
	}
	if c.PaidNano != paid {
		fail("paid %d, Σ Wh × price = %d", c.PaidNano, paid)
	}
	if c.PaidNano+c.RefundedNano != escrowed {
		fail("paid %d + refunded %d ≠ escrowed %d", c.PaidNano, c.RefundedNano, escrowed)
	}
}

// checkUtilityRule checks a settlement by the utility imbalance rule
// (settle.go's rules 1-8).
func checkUtilityRule(t *testing.T, st contract.Settlement) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("settlement %d: %s\n%+v", st.Start, fmt.Sprintf(format, args...), st)
	}
	var sent, received, retiredByBuyers, exportedByBuyers int64
	for _, m := range st.Members {
		for _, v := range []int64{m.ImportWh, m.ExportWh, m.ProductionWh, m.SoldWh, m.BoughtWh, m.DeliveredWh, m.ShortfallWh,
			m.GridExportWh, m.GridImportWh, m.UnusedWh, m.TokensMintedWh, m.TokensSelfRetiredWh, m.TokensSentWh, m.TokensReceivedWh,
			m.TokensRetiredWh, m.TokensExportedWh, m.PaidToUtilityNano, m.ReceivedFromUtilityNano, m.OwedNano} {
			if v < 0 {
				fail("member %+v has a negative figure", m)
			}
		}
		buyerExported := m.TokensReceivedWh - m.TokensRetiredWh
		ownExported := m.TokensExportedWh - buyerExported
		if buyerExported < 0 || ownExported < 0 || m.TokensMintedWh != m.TokensSelfRetiredWh+m.TokensSentWh+ownExported {
			fail("member %s: minted %d ≠ self-retired %d + sent %d + exported from own production %d", m.ID,
				m.TokensMintedWh, m.TokensSelfRetiredWh, m.TokensSentWh, ownExported)
		}
		if m.DeliveredWh > m.SoldWh || m.DeliveredWh > refRenewable(&m) || m.TokensSentWh != m.DeliveredWh ||
			m.OwedNano > m.PaidToUtilityNano {
			fail("member %+v: delivered above sold, produced or exported, or sent ≠ delivered, or owes more than it paid", m)
		}
		// Each Wh used once: a member retires tokens only against what it
		// consumed, and as many as it can; its deviations are its metered
		// energy less its traded position; the utility's prices are the
		// listing's.
		if m.TokensRetiredWh > m.ImportWh || m.TokensRetiredWh != min(m.TokensReceivedWh, m.ImportWh) ||
			m.TokensMintedWh != m.ProductionWh || m.TokensSelfRetiredWh != m.ProductionWh-refRenewable(&m) {
			fail("member %+v: tokens minted or retired beyond what was produced or consumed", m)
		}
		if m.ShortfallWh != m.SoldWh-m.DeliveredWh || m.GridExportWh != m.ExportWh-m.DeliveredWh ||
			m.GridImportWh-m.UnusedWh != m.ImportWh-m.BoughtWh || min(m.GridImportWh, m.UnusedWh) != 0 {
			fail("member %+v: deviations do not add up to metered less traded", m)
		}
		if m.PaidToUtilityNano != (m.ShortfallWh+m.GridImportWh)*st.GridPricePerKWh ||
			m.ReceivedFromUtilityNano != (m.GridExportWh+m.UnusedWh)*st.FeedInPerKWh {
			fail("member %+v: dues not at the listing's tariffs %d and %d", m, st.GridPricePerKWh, st.FeedInPerKWh)
		}
		sent += m.TokensSentWh
		received += m.TokensReceivedWh
		retiredByBuyers += m.TokensRetiredWh
		exportedByBuyers += buyerExported
	}
	if tot := membersTotals(st.Members); tot != st.Totals {
		fail("totals %+v, members add up to %+v", st.Totals, tot)
	}
	if st.Totals.MintedWh != st.Totals.RetiredWh+st.Totals.ExportedWh {
		fail("minted %d ≠ retired %d + exported %d", st.Totals.MintedWh, st.Totals.RetiredWh, st.Totals.ExportedWh)
	}
	if sent != received || received != retiredByBuyers+exportedByBuyers {
		fail("Σ sent %d, Σ received %d, Σ retired + exported by buyers %d", sent, received, retiredByBuyers+exportedByBuyers)
	}
}

// membersTotals is what a settlement's member records add up to: what its
// Totals must say, under either imbalance rule.
func membersTotals(ms []contract.MemberSettlement) contract.SettlementTotals {
	var tot contract.SettlementTotals
	for _, m := range ms {
		tot.MintedWh += m.TokensMintedWh
		tot.TransferredWh += m.TokensSentWh
		tot.RetiredWh += m.TokensSelfRetiredWh + m.TokensRetiredWh
		tot.ExportedWh += m.TokensExportedWh
		tot.ToUtilityNano += m.PaidToUtilityNano
		tot.FromUtilityNano += m.ReceivedFromUtilityNano
		tot.BetweenMembersNano += m.MembersPaidNano
	}
	return tot
}

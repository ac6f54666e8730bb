package kpi

// Interval is one settled market interval.
type Interval struct {
	Start           int64  // UTC seconds
	GridPricePerKWh int64  // utility's selling price, micro-units per kWh
	FeedInPerKWh    int64  // utility's buying price, micro-units per kWh
	MCPPerKWh       *int64 // market clearing price, nil if nothing cleared
	Members         []Member
}

// Member is one member's interval. Energy Wh, money nano-units (Wh ×
// micro-units per kWh; 1e9 nano = 1 currency unit).
type Member struct {
	ID                  string
	ConsumptionWh       int64 // what the site used (its load incl. appliances)
	ConsumptionNoDRWh   int64 // what it would have used had its EMS ignored DR requests (== ConsumptionWh if it answered none)
	ProductionWh        int64 // what its generators produced
	ImportWh, ExportWh  int64 // net at its meter over the interval (one of them is 0)
	BoughtP2PWh         int64 // energy delivered to it by community members (energy tokens received, the pool's included)
	SoldP2PWh           int64 // energy it delivered to members (its tokens sent to buyers and through the pool)
	TradedBoughtWh      int64 // bought at clearing (contracted), whether delivered or not
	TradedSoldWh        int64 // sold at clearing (contracted), whether delivered or not
	PaidP2PNano         int64 // paid to sellers at clearing
	ReceivedP2PNano     int64 // received from buyers at clearing
	PaidUtilityNano     int64 // paid to the utility at settlement (shortfalls, unmatched import)
	ReceivedUtilityNano int64 // received from the utility (exports not sold to members)
	DRIncentiveNano     int64 // demand-response incentive received
	DRVerifiedWh        int64 // demand-response reduction verified against its plan
	// Community imbalance rule (all 0 under the utility rule): money paid to
	// and received from other members at settlement (refunds of unrealised
	// trades, realised energy moved between members, the pool), and the
	// energy of its deviations netted with other members' in the pool,
	// bought from them (PoolImportWh) and sold to them (PoolExportWh).
	PaidMembersNano, ReceivedMembersNano int64
	PoolImportWh, PoolExportWh           int64
	// EMS day-ahead forecast of its base load vs what it was (both 0 if no EMS forecast).
	ForecastLoadWh, ActualBaseLoadWh int64
	// Same for PV.
	ForecastPVWh, ActualPVWh int64
	// What its batteries charged and discharged, as their sub-meters
	// measured it (behind its grid meter: part of ImportWh and ExportWh).
	BatteryChargeWh, BatteryDischargeWh int64
}

// MemberInfo is a member of the community.
type MemberInfo struct {
	ID       string
	NodeType string // household, non_residential, public_lighting, ev_charging…
	// BatteryCapacityWh is the capacity of its batteries (0: none).
	BatteryCapacityWh int64
}

// Input is what the simulator (or a ledger export) hands to Compute.
type Input struct {
	Intervals []Interval // in time order
	// Members in a fixed order; results follow it. A member the intervals
	// name but this list lacks is reported after them, in the order of
	// its first appearance, with an empty node type.
	Members     []MemberInfo
	LedgerBytes int64 // bytes the ledger holds for the run (blocks' transactions + state)
	SimulatedS  int64 // seconds simulated, to annualise
}

// Report is the KPIs of one run.
type Report struct {
	Community Community   `json:"community"`
	Members   []MemberKPI `json:"members"`
}

// Community holds the community's KPIs.
type Community struct {
	// Number of members reported: those of Input.Members, then any other the intervals name.
	Members int `json:"members"`
	// Number of market intervals in the input.
	Intervals int `json:"intervals"`
	// Number of intervals whose auction cleared (a clearing price was set).
	IntervalsCleared int `json:"intervals_cleared"`
	// Energy the members' sites used, `Σₜ Lₜ`. Wh.
	ConsumptionWh int64 `json:"consumption_wh"`
	// Energy the sites would have used had their EMSs ignored demand-response requests, `Σₜ Σₘ ConsumptionNoDR`. Wh.
	ConsumptionNoDRWh int64 `json:"consumption_no_dr_wh"`
	// Energy the members' generators produced, `Σₜ Gₜ`. Wh.
	ProductionWh int64 `json:"production_wh"`
	// Production used inside the community in the interval it was produced, `Σₜ min(Gₜ, max(0, Lₜ + Bₜ⁺ − Bₜ⁻))`: the generation that met local load or charged local batteries behind the community's connection point (without batteries `Σₜ min(Gₜ, Lₜ)`). Wh.
	LocalUseWh int64 `json:"local_use_wh"`
	// Share of the community's production used inside the community, `local_use_wh / Σₜ Gₜ`. Ratio 0–1, null without production. Tells the DSO how much local generation stays behind the connection point instead of flowing upstream, and the operator how well loads follow the sun.
	SelfConsumption *float64 `json:"self_consumption"`
	// Share of the community's consumption met by its own production, `local_use_wh / Σₜ Lₜ`. Ratio 0–1, null without consumption. Tells the operator and homeowners how independent of the utility the community is.
	SelfSufficiency *float64 `json:"self_sufficiency"`
	// Energy members bought from each other at clearing, delivered or not, `Σ TradedBoughtWh`. Wh. Tells the operator how much the market trades.
	P2PTradedWh int64 `json:"p2p_traded_wh"`
	// Energy members delivered to each other (energy tokens moved to buyers; under the community imbalance rule also those of the energy the pool netted), `Σ R`. Wh. Under the utility rule, traded minus delivered is what sellers failed to deliver and the utility supplied instead.
	P2PDeliveredWh int64 `json:"p2p_delivered_wh"`
	// Share of the community's consumption delivered by other members, `Σ R / Σₜ Lₜ`. Ratio, null without consumption. Tells the operator how much the peer-to-peer market, not the utility or a member's own roof, supplies.
	P2PShare *float64 `json:"p2p_share"`
	// Energy members bought from the utility, `Σₜ Σₘ max(0, I − R)`: metered import not delivered by members (equal to `Σ I − Σ R` when no member received more than it imported). Wh. Tells the operator what the community still buys at the grid tariff.
	GridImportWh int64 `json:"grid_import_wh"`
	// Energy members sold to the utility, `Σₜ Σₘ (max(0, X − S) + max(0, R − I))`: metered export not delivered to members, plus energy delivered to members beyond their import (equal to `Σ X − Σ S` when no member received more than it imported). Wh. Grid import minus grid export is `Σ I − Σ X`, the community's net import.
	GridExportWh int64 `json:"grid_export_wh"`
	// Energy the settlement netted between members' deviations from their traded positions instead of settling them with the utility (the pool, community imbalance rule), `Σ Qᵢ` (equal to `Σ Qₓ`). Wh; 0 under the utility rule. Part of p2p_delivered_wh (the tokens of its renewable part move with it). Tells the operator how much imbalance the community absorbed itself.
	PoolWh int64 `json:"pool_wh"`
	// Average price members paid per kWh they bought, `(Σₜ Σₘ max(0, −M) + Σ PaidUtility) / (p2p_delivered_wh + grid_import_wh)`, with `M = ReceivedP2P + ReceivedMembers − PaidP2P − PaidMembers` a member's net money with other members in the interval (at clearing and at settlement, so that a refund of an unrealised trade undoes the payment it refunds). Micro-units per kWh, null if nothing was bought. A seller's payment for a shortfall counts: the community paid it for energy its members used. Compare with avg_grid_price_per_kwh.
	AvgPricePaidPerKWh *int64 `json:"avg_price_paid_per_kwh"`
	// The grid tariff the same energy would have cost, `Σₜ grid priceₜ × boughtₜ / Σₜ boughtₜ` with `boughtₜ` the interval's P2P delivered plus grid import. Micro-units per kWh, null if nothing was bought. Tells homeowners what buying from their neighbours is worth against the utility.
	AvgGridPricePerKWh *int64 `json:"avg_grid_price_per_kwh"`
	// Average price members received per kWh they sold, `(Σₜ Σₘ max(0, M) + Σ ReceivedUtility) / (Σ S + grid_export_wh)`. Micro-units per kWh, null if nothing was sold. Compare with avg_feed_in_per_kwh.
	AvgPriceReceivedPerKWh *int64 `json:"avg_price_received_per_kwh"`
	// The feed-in tariff the same energy would have earned, `Σₜ feed-inₜ × soldₜ / Σₜ soldₜ` with `soldₜ` the interval's P2P sold plus grid export. Micro-units per kWh, null if nothing was sold. Tells producers what selling to their neighbours is worth against the utility.
	AvgFeedInPerKWh *int64 `json:"avg_feed_in_per_kwh"`
	// Mean market clearing price over the intervals that cleared. Micro-units per kWh, null if none cleared. Tells members where the market's price sits between the feed-in and the grid tariff.
	MeanMCPPerKWh *int64 `json:"mean_mcp_per_kwh"`
	// Lowest market clearing price. Micro-units per kWh, null if none cleared.
	MinMCPPerKWh *int64 `json:"min_mcp_per_kwh"`
	// Highest market clearing price. Micro-units per kWh, null if none cleared.
	MaxMCPPerKWh *int64 `json:"max_mcp_per_kwh"`
	// What the members' metered energy would have cost with the utility alone, `Σ utility_only_cost_nano` over members. Nano-units; negative if the utility would have owed the community.
	UtilityOnlyCostNano int64 `json:"utility_only_cost_nano"`
	// What the members' energy cost them, `Σ cost_nano` over members. Nano-units; payments between members (at clearing and at settlement) cancel, so this is the net paid to the utility minus demand-response incentives.
	CostNano int64 `json:"cost_nano"`
	// What the community market (and demand response) saved the members against the utility alone, `Σ savings_nano` over members. Nano-units. The headline figure for the operator and the members.
	SavingsNano int64 `json:"savings_nano"`
	// Savings as a percentage of the money the members would have exchanged with the utility alone, `100 × savings_nano / Σₘ |utility_only_cost_nano|`: consumers' bills and producers' feed-in income both count, so that a large producer's income does not cancel the consumers' bills out of the denominator. Percent, null if that sum is zero. Tells members how much cheaper the community is than the utility alone.
	SavingsPct *float64 `json:"savings_pct"`
	// Gini coefficient of the members' savings per kWh metered (savings_per_kwh), each clamped at 0 so that losses count as no saving, over the members whose meters recorded any import or export: `Σᵢ (2i − n − 1) xᵢ / (n Σᵢ xᵢ)` with x sorted ascending. 0 when all save alike per kWh, (n − 1)/n when one member gets everything; null if no member saved. Tells the operator whether the market's benefit is shared; read it with members_losing.
	FairnessGini *float64 `json:"fairness_gini"`
	// Number of members whose savings are negative: the market cost them more than the utility alone would have.
	MembersLosing int `json:"members_losing"`
	// The IDs of the members members_losing counts, the largest loss first (equal losses by ID). Never null.
	MembersLosingIDs []string `json:"members_losing_ids"`
	// Number of members whose savings are positive: better off than with the utility alone. A member with no savings either way (nothing metered) is neither saving nor losing.
	MembersSaving int `json:"members_saving"`
	// Largest member's savings_nano. Nano-units, null without members.
	SavingsBestNano *int64 `json:"savings_best_nano"`
	// Smallest (most negative) member's savings_nano. Nano-units, null without members.
	SavingsWorstNano *int64 `json:"savings_worst_nano"`
	// Median of the members' savings_nano (the mean of the middle two for an even count). Nano-units, null without members.
	SavingsMedianNano *int64 `json:"savings_median_nano"`
	// 5th percentile of the members' savings_nano, by linear interpolation between closest ranks: with the n values sorted ascending, x₀ … xₙ₋₁, the p-th percentile is `x⌊h⌋ + (h − ⌊h⌋) (x⌊h⌋₊₁ − x⌊h⌋)` at `h = (n − 1) p / 100`, rounded like an average (numpy's default method, a spreadsheet's PERCENTILE.INC). Nano-units, null without members. A twentieth of the members saved less.
	SavingsP5Nano *int64 `json:"savings_p5_nano"`
	// 25th percentile of the members' savings_nano (interpolated as savings_p5_nano). Nano-units, null without members.
	SavingsP25Nano *int64 `json:"savings_p25_nano"`
	// 50th percentile of the members' savings_nano (interpolated as savings_p5_nano): the median, savings_median_nano. Nano-units, null without members.
	SavingsP50Nano *int64 `json:"savings_p50_nano"`
	// 75th percentile of the members' savings_nano (interpolated as savings_p5_nano). Nano-units, null without members.
	SavingsP75Nano *int64 `json:"savings_p75_nano"`
	// 95th percentile of the members' savings_nano (interpolated as savings_p5_nano). Nano-units, null without members. A twentieth of the members saved more.
	SavingsP95Nano *int64 `json:"savings_p95_nano"`
	// Highest hourly net import of the community at its connection point, `maxₜ max(0, Lₜ + Bₜ⁺ − Bₜ⁻ − Gₜ)`. Wh per interval. Tells the DSO the load the feeder had to carry.
	PeakImportWh int64 `json:"peak_import_wh"`
	// The same peak had the EMSs ignored demand-response requests, `maxₜ max(0, Σₘ ConsumptionNoDR + Bₜ⁺ − Bₜ⁻ − Gₜ)`. Wh per interval.
	PeakImportNoDRWh int64 `json:"peak_import_no_dr_wh"`
	// What demand response took off the peak, `peak_import_no_dr_wh − peak_import_wh` (the two peaks may fall in different intervals). Wh per interval. Tells the DSO what its requests bought.
	PeakReductionDRWh int64 `json:"peak_reduction_dr_wh"`
	// Demand-response reduction the meters verified against the members' committed plans, `Σ DRVerifiedWh`. Wh.
	DRVerifiedWh int64 `json:"dr_verified_wh"`
	// Demand-response incentives paid to members, `Σ DRIncentiveNano`. Nano-units. Divided by dr_verified_wh, what the DSO paid per kWh of flexibility.
	DRIncentiveNano int64 `json:"dr_incentive_nano"`
	// Normalised mean absolute error of the EMSs' day-ahead base-load forecasts, `Σₘ Σₜ |ForecastLoad − ActualBaseLoad| / Σₘ Σₜ ActualBaseLoad`. Ratio, null if no actual base load was reported. Tells the operator how far the plans, and so the bids, can be trusted.
	ForecastNMAELoad *float64 `json:"forecast_nmae_load"`
	// Normalised mean absolute error of the EMSs' day-ahead PV forecasts, `Σₘ Σₜ |ForecastPV − ActualPV| / Σₘ Σₜ ActualPV`. Ratio, null if no actual PV was reported.
	ForecastNMAEPV *float64 `json:"forecast_nmae_pv"`
	// Bytes of ledger each member costs a validator per year, `LedgerBytes / members × 365·86400 / SimulatedS`. Bytes per member-year, null without members or simulated time. Tells the consortium what storage a community of a given size needs.
	LedgerBytesPerMemberYear *int64 `json:"ledger_bytes_per_member_year"`
	// Capacity of the members' batteries, `Σ BatteryCapacity` over the members. Wh; left out without batteries.
	BatteryCapacityWh int64 `json:"battery_capacity_wh,omitempty"`
	// Energy the members' batteries charged, as their sub-meters measured it, `Σₜ Bₜ⁺`. Wh; left out without batteries.
	BatteryChargeWh int64 `json:"battery_charge_wh,omitempty"`
	// Energy the members' batteries discharged, as their sub-meters measured it, `Σₜ Bₜ⁻`. Wh; left out without batteries.
	BatteryDischargeWh int64 `json:"battery_discharge_wh,omitempty"`
	// Equivalent full cycles of the batteries over the run, their throughput in capacities, `(Σₜ Bₜ⁺ + Σₜ Bₜ⁻) / 2 / battery_capacity_wh`. Ratio; left out without battery capacity. Read against a battery's rated cycles (thousands) to see how hard the EMSs work it.
	BatteryCycles *float64 `json:"battery_cycles,omitempty"`
	// Self-consumption the batteries add: production their charging took up beyond what the load used in the same interval, `(local_use_wh − Σₜ min(Gₜ, Lₜ)) / Σₜ Gₜ`. Ratio; left out without batteries or production. Compare self_consumption with and without batteries (`--compare batteries=on,off`) for what they bring once the plans adapt to them.
	BatterySelfConsumption *float64 `json:"battery_self_consumption,omitempty"`
}

// MemberKPI holds one member's KPIs, summed over the intervals.
type MemberKPI struct {
	// The member's ID.
	ID string `json:"id"`
	// The member's node type (empty if Input.Members does not list it).
	NodeType string `json:"node_type"`
	// Energy the site used, `Σₜ C`. Wh.
	ConsumptionWh int64 `json:"consumption_wh"`
	// Energy its generators produced, `Σₜ P`. Wh.
	ProductionWh int64 `json:"production_wh"`
	// Energy its meter imported, `Σₜ I`. Wh.
	ImportWh int64 `json:"import_wh"`
	// Energy its meter exported, `Σₜ X`. Wh.
	ExportWh int64 `json:"export_wh"`
	// Share of its own production used on site, `Σₜ (P − X) / Σₜ P`. Ratio 0–1 (clamped if the meters disagree), null without production. Tells the homeowner how much of its roof's output it uses itself.
	SelfConsumption *float64 `json:"self_consumption"`
	// Share of its consumption met by its own production, `Σₜ (C − I) / Σₜ C`. Ratio 0–1 (clamped if the meters disagree), null without consumption.
	SelfSufficiency *float64 `json:"self_sufficiency"`
	// Share of its consumption met by its own production or by other members, `Σₜ (C − I + min(R, I)) / Σₜ C`. Ratio 0–1 (clamped if the meters disagree), null without consumption. Tells the homeowner how local its energy is.
	LocalShare *float64 `json:"local_share"`
	// Energy other members delivered to it, `Σₜ R`. Wh.
	BoughtP2PWh int64 `json:"bought_p2p_wh"`
	// Energy it delivered to other members, `Σₜ S`. Wh.
	SoldP2PWh int64 `json:"sold_p2p_wh"`
	// Energy of its deviations the settlement netted with other members' in the pool, bought from them, `Σₜ Qᵢ`. Wh; 0 under the utility imbalance rule.
	PoolImportWh int64 `json:"pool_import_wh"`
	// Energy of its deviations the pool netted with other members', sold to them, `Σₜ Qₓ`. Wh; 0 under the utility imbalance rule.
	PoolExportWh int64 `json:"pool_export_wh"`
	// Money it paid for energy, `Σₜ (PaidP2P + PaidUtility + PaidMembers)`: to sellers at clearing, to the utility, and to other members at settlement (community imbalance rule: the pool, realised energy, refunds of trades it did not deliver). Nano-units.
	PaidNano int64 `json:"paid_nano"`
	// Money it received for energy, `Σₜ (ReceivedP2P + ReceivedUtility + ReceivedMembers)`: from buyers at clearing, from the utility, and from other members at settlement (community imbalance rule). Nano-units.
	ReceivedNano int64 `json:"received_nano"`
	// What its metered energy would have cost with the utility alone, `Σₜ (I × grid priceₜ − X × feed-inₜ)`, each product exact as the ledger computes it (market.Value). Nano-units; negative if the utility would have owed it.
	UtilityOnlyCostNano int64 `json:"utility_only_cost_nano"`
	// What its energy cost it, `paid_nano − received_nano − dr_incentive_nano`. Nano-units; negative if it earned.
	CostNano int64 `json:"cost_nano"`
	// What the community market and demand response saved it, `utility_only_cost_nano − cost_nano`. Nano-units; negative if the market cost it more than the utility alone. The figure a homeowner asks for.
	SavingsNano int64 `json:"savings_nano"`
	// Its savings as a percentage of its utility-only bill, `100 × savings_nano / |utility_only_cost_nano|`. Percent, null if that bill is zero.
	SavingsPct *float64 `json:"savings_pct"`
	// Its savings per kWh its meter imported or exported, `savings_nano / Σₜ (I + X)`. Micro-units per kWh, null if its meter recorded no import or export. Comparable between small and large sites; fairness_gini is computed from it.
	SavingsPerKWh *int64 `json:"savings_per_kwh"`
	// Its demand-response reduction verified by the meters, `Σₜ DRVerifiedWh`. Wh.
	DRVerifiedWh int64 `json:"dr_verified_wh"`
	// Demand-response incentives it received, `Σₜ DRIncentiveNano`. Nano-units.
	DRIncentiveNano int64 `json:"dr_incentive_nano"`
	// Normalised mean absolute error of its EMS's base-load forecast, `Σₜ |ForecastLoad − ActualBaseLoad| / Σₜ ActualBaseLoad`. Ratio, null if no actual base load was reported.
	ForecastNMAELoad *float64 `json:"forecast_nmae_load"`
	// Normalised mean absolute error of its EMS's PV forecast, `Σₜ |ForecastPV − ActualPV| / Σₜ ActualPV`. Ratio, null if no actual PV was reported.
	ForecastNMAEPV *float64 `json:"forecast_nmae_pv"`
	// Capacity of its batteries. Wh; left out without a battery.
	BatteryCapacityWh int64 `json:"battery_capacity_wh,omitempty"`
	// Energy its batteries charged, `Σₜ B⁺`. Wh; left out without a battery.
	BatteryChargeWh int64 `json:"battery_charge_wh,omitempty"`
	// Energy its batteries discharged, `Σₜ B⁻`. Wh; left out without a battery.
	BatteryDischargeWh int64 `json:"battery_discharge_wh,omitempty"`
	// Equivalent full cycles of its batteries, `(Σₜ B⁺ + Σₜ B⁻) / 2 / battery_capacity_wh`. Ratio; left out without battery capacity.
	BatteryCycles *float64 `json:"battery_cycles,omitempty"`
}

// HourPoint is one interval's community sums, for the per-interval CSV
// and the charts. The prices' JSON tags (mcp, grid_price, feed_in) lack
// the unit the field name carries: they are part of kpis.json and the
// API's KPIs, whose format stays.
type HourPoint struct {
	// Start of the interval. UTC seconds.
	Start int64 `json:"start"`
	// The community's load in the interval, `Lₜ = Σₘ C`. Wh.
	LoadWh int64 `json:"load_wh"`
	// The load had the EMSs ignored demand-response requests, `Σₘ ConsumptionNoDR`. Wh.
	LoadNoDRWh int64 `json:"load_no_dr_wh"`
	// The community's generation in the interval, `Gₜ = Σₘ P`. Wh.
	GenerationWh int64 `json:"generation_wh"`
	// Energy members bought from the utility in the interval, `Σₘ max(0, I − R)`. Wh.
	GridImportWh int64 `json:"grid_import_wh"`
	// Energy members sold to the utility in the interval, `Σₘ (max(0, X − S) + max(0, R − I))`. Wh.
	GridExportWh int64 `json:"grid_export_wh"`
	// Energy members delivered to each other in the interval, `Σₘ R`. Wh.
	P2PWh int64 `json:"p2p_wh"`
	// Energy the settlement netted between members' deviations in the interval (the pool; part of p2p_wh), `Σₘ Qᵢ`. Wh.
	PoolWh int64 `json:"pool_wh"`
	// The interval's market clearing price. Micro-units per kWh, null if nothing cleared.
	MCPPerKWh *int64 `json:"mcp"`
	// The utility's selling price in the interval. Micro-units per kWh.
	GridPricePerKWh int64 `json:"grid_price"`
	// The utility's buying price in the interval. Micro-units per kWh.
	FeedInPerKWh int64 `json:"feed_in"`
	// Energy the members' batteries charged in the interval, `Bₜ⁺ = Σₘ B⁺`. Wh; left out without batteries.
	BatteryChargeWh int64 `json:"battery_charge_wh,omitempty"`
	// Energy the members' batteries discharged in the interval, `Bₜ⁻ = Σₘ B⁻`. Wh; left out without batteries.
	BatteryDischargeWh int64 `json:"battery_discharge_wh,omitempty"`
}

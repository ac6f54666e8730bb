package report

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"slices"
	"strconv"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/kpi"
	"github.com/gridledger/gridledger/internal/units"
)

// Currency labels money in the report: the seed's tariffs are in euros.
const Currency = "€"

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

// row is one KPI of the community table: its name, its value in each
// run, and what it tells.
type row struct {
	Name, Help string
	Values     []string
}

func pct(r *float64) string {
	if r == nil {
		return "–"
	}
	return strconv.FormatFloat(*r*100, 'f', 1, 64) + " %"
}

func pctOf(r *float64) string {
	if r == nil {
		return "–"
	}
	return strconv.FormatFloat(*r, 'f', 1, 64) + " %"
}

func eur(n int64) string { return Currency + " " + units.Cents(n) }

func eurOrDash(n *int64) string {
	if n == nil {
		return "–"
	}
	return eur(*n)
}

func perKWh(p *int64) string {
	if p == nil {
		return "–"
	}
	return Currency + " " + units.Price(*p) + "/kWh"
}

func num(r *float64) string {
	if r == nil {
		return "–"
	}
	return strconv.FormatFloat(*r, 'f', 3, 64)
}

// communityRows are the community KPIs as the page shows them; the
// definitions are kpi's (docs/kpis.md), the help says what to read.
func communityRows(runs []Run) []row {
	defs := []struct {
		name, help string
		f          func(c kpi.Community) string
	}{
		{"Savings", "What the market and demand response saved the members against buying everything from the utility and selling surplus at the feed-in tariff.", func(c kpi.Community) string { return eur(c.SavingsNano) }},
		{"Savings, share of the bill", "Savings as a share of what the same energy would have cost with the utility alone.", func(c kpi.Community) string { return pctOf(c.SavingsPct) }},
		{"Self-consumption", "Share of the community's production used inside the community in the hour it was produced.", func(c kpi.Community) string { return pct(c.SelfConsumption) }},
		{"Self-sufficiency", "Share of the community's consumption met by its own production.", func(c kpi.Community) string { return pct(c.SelfSufficiency) }},
		{"Traded between members", "Energy bought and sold at clearing.", func(c kpi.Community) string { return kwh(c.P2PTradedWh) }},
		{"Delivered between members", "Energy the meters show members delivered to each other (energy tokens moved).", func(c kpi.Community) string { return kwh(c.P2PDeliveredWh) }},
		{"… netted at settlement", "Of the energy delivered between members, the deviations from the traded positions the settlement netted inside the community (community imbalance rule) instead of settling them with the utility.", func(c kpi.Community) string { return kwh(c.PoolWh) }},
		{"Consumption met by P2P", "Share of consumption delivered by other members.", func(c kpi.Community) string { return pct(c.P2PShare) }},
		{"Bought from the utility", "Metered import not delivered by members.", func(c kpi.Community) string { return kwh(c.GridImportWh) }},
		{"Sold to the utility", "Metered export not delivered to members.", func(c kpi.Community) string { return kwh(c.GridExportWh) }},
		{"Average price paid", "Per kWh bought, from members and from the utility.", func(c kpi.Community) string { return perKWh(c.AvgPricePaidPerKWh) }},
		{"… the grid tariff for it", "What the same energy would have cost at the utility's tariff.", func(c kpi.Community) string { return perKWh(c.AvgGridPricePerKWh) }},
		{"Average price received", "Per kWh sold, to members and to the utility.", func(c kpi.Community) string { return perKWh(c.AvgPriceReceivedPerKWh) }},
		{"… the feed-in tariff for it", "What the same energy would have earned at the feed-in tariff.", func(c kpi.Community) string { return perKWh(c.AvgFeedInPerKWh) }},
		{"Mean clearing price", "Mean MCP of the intervals that cleared.", func(c kpi.Community) string { return perKWh(c.MeanMCPPerKWh) }},
		{"Fairness (Gini of savings)", "0 when every member saves alike per kWh; towards 1 when one member gets everything.", func(c kpi.Community) string { return num(c.FairnessGini) }},
		{"Members better off", "Members who saved against the utility alone.", func(c kpi.Community) string { return strconv.Itoa(c.MembersSaving) }},
		{"Members who lost", "Members for whom the market cost more than the utility alone (named under the charts).", func(c kpi.Community) string { return strconv.Itoa(c.MembersLosing) }},
		{"Member savings, 5th percentile", "A twentieth of the members saved less than this (negative: lost).", func(c kpi.Community) string { return eurOrDash(c.SavingsP5Nano) }},
		{"… 25th percentile", "A quarter of the members saved less.", func(c kpi.Community) string { return eurOrDash(c.SavingsP25Nano) }},
		{"… median", "Half the members saved less, half more.", func(c kpi.Community) string { return eurOrDash(c.SavingsP50Nano) }},
		{"… 75th percentile", "A quarter of the members saved more.", func(c kpi.Community) string { return eurOrDash(c.SavingsP75Nano) }},
		{"… 95th percentile", "A twentieth of the members saved more.", func(c kpi.Community) string { return eurOrDash(c.SavingsP95Nano) }},
		{"Peak import", "Highest hourly net import at the community's connection point.", func(c kpi.Community) string { return kwh(c.PeakImportWh) }},
		{"… without demand response", "The same peak had the homes ignored the DSO's requests.", func(c kpi.Community) string { return kwh(c.PeakImportNoDRWh) }},
		{"Peak reduction from DR", "What demand response took off the peak.", func(c kpi.Community) string { return kwh(c.PeakReductionDRWh) }},
		{"DR verified by the meters", "Reduction the meters confirmed against the committed plans.", func(c kpi.Community) string { return kwh(c.DRVerifiedWh) }},
		{"DR incentives paid", "What the DSO paid for it.", func(c kpi.Community) string { return eur(c.DRIncentiveNano) }},
		{"Forecast error, load", "Normalised mean absolute error of the EMSs' day-ahead base-load forecasts.", func(c kpi.Community) string { return pct(c.ForecastNMAELoad) }},
		{"Forecast error, PV", "The same for PV.", func(c kpi.Community) string { return pct(c.ForecastNMAEPV) }},
		{"Ledger per member and year", "Bytes of ledger (transactions and state) each member costs a validator per year.", func(c kpi.Community) string {
			if c.LedgerBytesPerMemberYear == nil {
				return "–"
			}
			return fmt.Sprintf("%.1f MB", float64(*c.LedgerBytesPerMemberYear)/1e6)
		}},
	}
	if hasBatteries(runs) {
		defs = append(defs, []struct {
			name, help string
			f          func(c kpi.Community) string
		}{
			{"What the members paid", "The members' energy bills, net of what they earned and of demand-response incentives: with and without batteries, what the batteries saved them.", func(c kpi.Community) string { return eur(c.CostNano) }},
			{"Battery capacity", "The members' batteries together.", func(c kpi.Community) string { return kwh(c.BatteryCapacityWh) }},
			{"Batteries charged", "Energy the batteries drew, as their sub-meters measured it.", func(c kpi.Community) string { return kwh(c.BatteryChargeWh) }},
			{"Batteries discharged", "Energy they gave back.", func(c kpi.Community) string { return kwh(c.BatteryDischargeWh) }},
			{"Equivalent full cycles", "Their throughput in capacities over the run.", func(c kpi.Community) string { return num(c.BatteryCycles) }},
			{"Self-consumption from batteries", "Of the self-consumption, what the batteries' charging took up beyond the load in the same hour.", func(c kpi.Community) string { return pct(c.BatterySelfConsumption) }},
		}...)
	}
	out := make([]row, len(defs))
	for i, d := range defs {
		out[i] = row{Name: d.name, Help: d.help}
		for _, r := range runs {
			out[i].Values = append(out[i].Values, d.f(r.KPIs.Community))
		}
	}
	return out
}

// hasBatteries says whether any run simulated a battery.
func hasBatteries(runs []Run) bool {
	for _, r := range runs {
		if r.KPIs.Community.BatteryCapacityWh > 0 {
			return true
		}
	}
	return false
}

type memberRow struct {
	Setting, ID, Type                             string
	Consumption, Production, SelfSuff, LocalShare string
	Bought, Sold, Savings, SavingsPct             string
	Losing                                        bool
}

func memberRows(runs []Run) []memberRow {
	var out []memberRow
	for _, r := range runs {
		ms := slices.Clone(r.KPIs.Members)
		slices.SortStableFunc(ms, func(a, b kpi.MemberKPI) int { return cmp.Compare(b.SavingsNano, a.SavingsNano) })
		for _, m := range ms {
			out = append(out, memberRow{Setting: r.Setting, ID: m.ID, Type: m.NodeType,
				Consumption: units.KWh(m.ConsumptionWh), Production: units.KWh(m.ProductionWh),
				SelfSuff: pct(m.SelfSufficiency), LocalShare: pct(m.LocalShare),
				Bought: units.KWh(m.BoughtP2PWh), Sold: units.KWh(m.SoldP2PWh),
				Savings: units.Cents(m.SavingsNano), SavingsPct: pctOf(m.SavingsPct), Losing: m.SavingsNano < 0})
		}
	}
	return out
}

// summary is the page's opening sentence for the first run.
func summary(meta Meta, r Run) string {
	c := r.KPIs.Community
	return fmt.Sprintf("Over %d days the %d members saved %s against the utility alone (%s of the bill); %d of them were better off and %d lost. "+
		"The community met %s of its consumption with its own production, and members delivered %s to each other (%s of consumption). "+
		"The peak import was %s; demand response took %s off it.",
		meta.Days, c.Members, eur(c.SavingsNano), pctOf(c.SavingsPct), c.MembersSaving, c.MembersLosing, pct(c.SelfSufficiency),
		kwh(c.P2PDeliveredWh), pct(c.P2PShare), kwh(c.PeakImportWh), kwh(c.PeakReductionDRWh))
}

// CaptureText says what share of the attainable saving the EMSs captured,
// for the page and the command's summary; empty without a comparison of
// bidding=ems and bidding=perfect-foresight.
func CaptureText(c *Capture) string {
	if c == nil {
		return ""
	}
	if c.Share == nil {
		return fmt.Sprintf("Bidding by their EMS the members saved %s; with perfect foresight they saved %s, so there was no attainable saving to share.",
			eur(c.EMSSavingsNano), eur(c.PerfectSavingsNano))
	}
	t := fmt.Sprintf("Bidding by their EMS the members captured %s of the saving attainable with perfect foresight: %s of %s (%s / %s).",
		strconv.FormatFloat(*c.Share*100, 'f', 1, 64)+" %", eur(c.EMSSavingsNano), eur(c.PerfectSavingsNano), c.EMSSetting, c.PerfectSetting)
	if c.Imbalance == contract.ImbalanceCommunity {
		t += " Under the community imbalance rule the community's savings hardly depend on the bids (the utility settles only the community's net deviation, and payments between members cancel): " +
			"the bids show in how the savings are shared, and imbalance = \"utility\" in the community file shows what forecasting costs."
	}
	return t
}

// maxLosersShown caps the members named as losing on the page; kpis.json
// lists them all.
const maxLosersShown = 20

// losers names, for each run, the members who lost against the utility
// alone, the largest loss first.
type losers struct {
	Setting string
	Count   int
	Members int
	IDs     []string
	More    int
}

func losersOf(runs []Run) []losers {
	var out []losers
	for _, r := range runs {
		c := r.KPIs.Community
		l := losers{Setting: r.Setting, Count: c.MembersLosing, Members: c.Members, IDs: c.MembersLosingIDs}
		if len(l.IDs) > maxLosersShown {
			l.IDs, l.More = l.IDs[:maxLosersShown], len(l.IDs)-maxLosersShown
		}
		out = append(out, l)
	}
	return out
}

func page(meta Meta, runs []Run, charts []Chart) ([]byte, error) {
	type chartView struct {
		Name, Caption string
		SVG           template.HTML
	}
	var cv []chartView
	for _, c := range charts {
		// Our own renderer's SVG, not user input.
		cv = append(cv, chartView{c.Name, c.Caption, template.HTML(c.SVG)})
	}
	var settings []string
	for _, r := range runs {
		s := r.Setting
		if s == "" {
			s = "value"
		}
		settings = append(settings, s)
	}
	types := make([]string, 0, len(meta.SitesByType))
	for t := range meta.SitesByType {
		types = append(types, t)
	}
	slices.Sort(types)
	var mix []string
	for _, t := range types {
		mix = append(mix, fmt.Sprintf("%d %s", meta.SitesByType[t], t))
	}
	var b bytes.Buffer
	err := pageTmpl.Execute(&b, map[string]any{
		"Meta": meta, "Runs": runs, "Settings": settings, "Summary": summary(meta, runs[0]),
		"Rows": communityRows(runs), "Charts": cv, "Members": memberRows(runs), "Mix": mix, "Compare": len(runs) > 1,
		"Capture": CaptureText(EMSCapture(runs)), "Losers": losersOf(runs),
	})
	return b.Bytes(), err
}

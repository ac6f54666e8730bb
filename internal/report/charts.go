package report

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/gridledger/gridledger/internal/chart"
	"github.com/gridledger/gridledger/internal/kpi"
)

// Chart is one figure of the report, drawn both ways.
type Chart struct {
	Name    string // file name without extension
	Caption string // what to read in it
	SVG     []byte
	PNG     []byte
}

// chart sizes: wide enough for a year of days, legible on a page.
const (
	chartW, chartH = 960, 420
)

// Charts draws the report's figures from the runs' intervals and KPIs.
func Charts(meta Meta, runs []Run) ([]Chart, error) {
	if len(runs) == 0 || len(runs[0].Hours) == 0 {
		return nil, nil
	}
	type fig struct {
		name, caption string
		f             chart.Figure
	}
	figs := []fig{
		{"mcp", "The market clearing price (MCP) of each interval against what the utility charges (grid tariff) and pays (feed-in). Trading pays for both sides when the MCP sits between the two.", mcpFigure(meta, runs)},
		{"load", "The community's consumption and generation. The dashed line is the consumption had the homes ignored the DSO's demand-response requests.", loadFigure(meta, runs[0])},
		{"peak-day", "The day with the community's highest planned peak, hour by hour: shaded hours are where demand response moved load.", peakDayFigure(meta, runs[0])},
		{"traded", "Where the community's energy came from and went, by hour of the day (mean over the period): delivered by members (P2P, and under the community imbalance rule the deviations the settlement netted between them), bought from the utility, and sold to it (below zero).", tradedFigure(meta, runs[0])},
		{"savings", "What each member saved against buying everything from the utility and selling its surplus at the feed-in tariff.", savingsFigure(runs)},
		{"savings-sorted", "Every member's savings as a share of its utility-alone bill, smallest first, one line per setting: where a line runs below zero, those members lost against the utility alone.", savingsSortedFigure(runs)},
	}
	if len(runs) > 1 {
		figs = append(figs, fig{"compare", "The settings side by side. Payments between members cancel in the community's savings, so a mechanism shows in the prices: what buyers paid and sellers got per kWh, against the tariffs for the same energy.", compareFigure(runs)})
	}
	var out []Chart
	for _, f := range figs {
		var svg, png bytes.Buffer
		if err := f.f.SVG(&svg, chartW, chartH); err != nil {
			return nil, fmt.Errorf("report: chart %s: %w", f.name, err)
		}
		if err := f.f.PNGScale(&png, chartW, chartH, 2); err != nil {
			return nil, fmt.Errorf("report: chart %s: %w", f.name, err)
		}
		out = append(out, Chart{Name: f.name, Caption: f.caption, SVG: svg.Bytes(), PNG: png.Bytes()})
	}
	return out, nil
}

// daily reports whether the period is long enough to chart by day.
func daily(meta Meta) bool { return meta.Days > 14 }

func period(meta Meta) string {
	return fmt.Sprintf("%d days from %s, %d sites", meta.Days, meta.From, meta.Sites)
}

// buckets groups the hours by local day (or keeps them hourly) and
// returns each bucket's first instant and the hours' indices.
func buckets(meta Meta, hours []kpi.HourPoint) ([]time.Time, [][]int) {
	loc := time.FixedZone("", meta.UTCOffsetH*3600)
	var ts []time.Time
	var idx [][]int
	for i, h := range hours {
		t := time.Unix(h.Start, 0).In(loc)
		if daily(meta) {
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		}
		if len(ts) == 0 || !ts[len(ts)-1].Equal(t) {
			ts = append(ts, t)
			idx = append(idx, nil)
		}
		idx[len(idx)-1] = append(idx[len(idx)-1], i)
	}
	return ts, idx
}

// sumKWh adds an hourly energy over each bucket, in kWh.
func sumKWh(hours []kpi.HourPoint, idx [][]int, f func(kpi.HourPoint) int64) []float64 {
	out := make([]float64, len(idx))
	for b, is := range idx {
		var s int64
		for _, i := range is {
			s += f(hours[i])
		}
		out[b] = float64(s) / 1000
	}
	return out
}

// meanPrice averages a price (micro-units per kWh) over each bucket's
// hours that have one, in currency per kWh; a bucket with none holds the
// value before it (the first such, fallback's).
func meanPrice(hours []kpi.HourPoint, idx [][]int, f func(kpi.HourPoint) *int64, fallback func(kpi.HourPoint) int64) []float64 {
	out := make([]float64, len(idx))
	last := float64(fallback(hours[0])) / 1e6
	for b, is := range idx {
		var s, n int64
		for _, i := range is {
			if p := f(hours[i]); p != nil {
				s, n = s+*p, n+1
			}
		}
		if n > 0 {
			last = float64(s) / float64(n) / 1e6
		}
		out[b] = last
	}
	return out
}

func mcpFigure(meta Meta, runs []Run) chart.Figure {
	hours := runs[0].Hours
	ts, idx := buckets(meta, hours)
	f := chart.Figure{Title: "Clearing price against the tariffs", YLabel: "Price", YUnit: "per kWh", Times: ts,
		Subtitle: period(meta) + "; intervals without a clearing hold the price before them"}
	style := chart.Step
	what := "MCP"
	if daily(meta) {
		style, what = chart.Line, "MCP, daily mean"
		f.Subtitle = period(meta) + "; daily means of the intervals that cleared"
	}
	for i, r := range runs {
		name := what
		if r.Setting != "" {
			name = fmt.Sprintf("%s (%s)", what, r.Setting)
		}
		s := chart.Series{Name: name, Style: style, Values: meanPrice(r.Hours, idx, func(h kpi.HourPoint) *int64 { return h.MCPPerKWh },
			func(h kpi.HourPoint) int64 { return h.FeedInPerKWh })}
		if i == 0 {
			s.Color = chart.Blue
		}
		f.Lines = append(f.Lines, s)
	}
	ptr := func(v int64) *int64 { return &v }
	f.Lines = append(f.Lines,
		chart.Series{Name: "Grid tariff", Style: style | chart.Dashed, Color: chart.Vermillion,
			Values: meanPrice(hours, idx, func(h kpi.HourPoint) *int64 { return ptr(h.GridPricePerKWh) }, func(h kpi.HourPoint) int64 { return h.GridPricePerKWh })},
		chart.Series{Name: "Feed-in tariff", Style: style | chart.Dashed, Color: chart.Green,
			Values: meanPrice(hours, idx, func(h kpi.HourPoint) *int64 { return ptr(h.FeedInPerKWh) }, func(h kpi.HourPoint) int64 { return h.FeedInPerKWh })})
	return f
}

func loadFigure(meta Meta, r Run) chart.Figure {
	ts, idx := buckets(meta, r.Hours)
	unit := "kWh per hour"
	if daily(meta) {
		unit = "kWh per day"
	}
	return chart.Figure{Title: "Community consumption and generation", Subtitle: period(meta), YLabel: "Energy", YUnit: unit, Times: ts,
		Lines: []chart.Series{
			{Name: "Generation", Values: sumKWh(r.Hours, idx, func(h kpi.HourPoint) int64 { return h.GenerationWh }), Style: chart.Area, Color: chart.Orange},
			{Name: "Consumption", Values: sumKWh(r.Hours, idx, func(h kpi.HourPoint) int64 { return h.LoadWh }), Color: chart.Blue},
			{Name: "Consumption without DR", Values: sumKWh(r.Hours, idx, func(h kpi.HourPoint) int64 { return h.LoadNoDRWh }), Style: chart.Dashed, Color: chart.Grey},
		}}
}

// peakDayFigure shows, hour by hour, the local day whose net import would
// have peaked highest without demand response.
func peakDayFigure(meta Meta, r Run) chart.Figure {
	loc := time.FixedZone("", meta.UTCOffsetH*3600)
	best, peak := 0, int64(-1)
	for i, h := range r.Hours {
		if v := h.LoadNoDRWh - h.GenerationWh; v > peak {
			best, peak = i, v
		}
	}
	t := time.Unix(r.Hours[best].Start, 0).In(loc)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	var ts []time.Time
	var load, noDR, gen []float64
	var bands []chart.Band
	for _, h := range r.Hours {
		ht := time.Unix(h.Start, 0).In(loc)
		if ht.Before(day) || !ht.Before(day.AddDate(0, 0, 1)) {
			continue
		}
		ts = append(ts, ht)
		load = append(load, float64(h.LoadWh)/1000)
		noDR = append(noDR, float64(h.LoadNoDRWh)/1000)
		gen = append(gen, float64(h.GenerationWh)/1000)
		if h.LoadWh != h.LoadNoDRWh {
			bands = append(bands, chart.TimeBand(ht, ht.Add(time.Hour), ""))
		}
	}
	return chart.Figure{Title: "The day of the highest peak, " + day.Format("Mon 2 Jan 2006"), Subtitle: "hourly; shaded: hours demand response changed",
		YLabel: "Energy", YUnit: "kWh per hour", Times: ts, Bands: bands,
		Lines: []chart.Series{
			{Name: "Generation", Values: gen, Style: chart.Step | chart.Area, Color: chart.Orange},
			{Name: "Consumption", Values: load, Style: chart.Step, Color: chart.Blue},
			{Name: "Consumption without DR", Values: noDR, Style: chart.Step | chart.Dashed, Color: chart.Grey},
		}}
}

func tradedFigure(meta Meta, r Run) chart.Figure {
	var p2p, pool, imp, exp [24]int64
	var n [24]int64
	var pooled bool
	for _, h := range r.Hours {
		hr := time.Unix(h.Start, 0).In(time.FixedZone("", meta.UTCOffsetH*3600)).Hour()
		// The pool's energy is delivered between members too (its tokens
		// move): split it out of P2P.
		netted := min(max(h.PoolWh, 0), max(h.P2PWh, 0))
		p2p[hr] += h.P2PWh - netted
		pool[hr] += netted
		pooled = pooled || netted != 0
		imp[hr] += h.GridImportWh
		exp[hr] += h.GridExportWh
		n[hr]++
	}
	mean := func(v [24]int64, sign float64) []float64 {
		out := make([]float64, 24)
		for i := range out {
			if n[i] > 0 {
				out[i] = sign * float64(v[i]) / float64(n[i]) / 1000
			}
		}
		return out
	}
	bars := []chart.Series{{Name: "Delivered by members (P2P)", Values: mean(p2p, 1), Color: chart.Green}}
	if pooled {
		bars[0].Name = "Delivered by members, traded (P2P)"
		bars = append(bars, chart.Series{Name: "Delivered by members, netted (pool)", Values: mean(pool, 1), Color: chart.Blue})
	}
	bars = append(bars,
		chart.Series{Name: "Bought from the utility", Values: mean(imp, 1), Color: chart.Vermillion},
		chart.Series{Name: "Sold to the utility", Values: mean(exp, -1), Color: chart.Orange})
	return chart.Figure{Title: "Traded and grid energy by hour of day", Subtitle: period(meta) + "; mean per hour", XLabel: "Hour of day",
		YLabel: "Energy", YUnit: "kWh", XLabels: chart.Hours(), Stacked: true, Bars: bars}
}

// savingsFigure: a bar per member when they fit, else every run's members
// ranked by savings.
func savingsFigure(runs []Run) chart.Figure {
	f := chart.Figure{Title: "Savings per member against the utility alone", YLabel: "Savings", YUnit: Currency}
	ms := runs[0].KPIs.Members
	if len(runs) == 1 && len(ms) <= 40 {
		f.Horizontal, f.Sort, f.ValueLabels = true, chart.Descending, true
		v := make([]float64, len(ms))
		for i, m := range ms {
			f.XLabels = append(f.XLabels, m.ID)
			v[i] = float64(m.SavingsNano) / 1e9
		}
		f.Bars = []chart.Series{{Name: "Savings", Values: v, Color: chart.Blue}}
		return f
	}
	f.XLabel, f.Subtitle = "Members, ranked", "each member's savings, largest first"
	for i := range ms {
		f.X = append(f.X, float64(i+1))
	}
	for _, r := range runs {
		v := make([]float64, len(r.KPIs.Members))
		for i, m := range r.KPIs.Members {
			v[i] = float64(m.SavingsNano) / 1e9
		}
		slices.Sort(v)
		slices.Reverse(v)
		name := "Savings"
		if r.Setting != "" {
			name = r.Setting
		}
		f.Lines = append(f.Lines, chart.Series{Name: name, Values: v})
	}
	return f
}

// savingsSortedFigure draws each setting's member savings in ascending
// order over the members' rank, with the zero line: the members left of
// where a line crosses it lost against the utility alone.
func savingsSortedFigure(runs []Run) chart.Figure {
	// As a share of each member's own utility-alone bill: in euros a few
	// producers' savings dwarf every household's, and a household's loss
	// would not show.
	f := chart.Figure{Title: "Member savings, smallest first",
		Subtitle: "each member's savings as a share of what the utility alone would have charged or paid it; dashed: no saving",
		XLabel:   "Members, ranked", YLabel: "Savings", YUnit: "%"}
	n := 0
	for _, r := range runs {
		n = max(n, len(r.KPIs.Members))
	}
	for i := range max(n, 1) {
		f.X = append(f.X, float64(i+1))
	}
	for _, r := range runs {
		v := make([]float64, len(f.X))
		for i, m := range r.KPIs.Members {
			if m.SavingsPct != nil {
				v[i] = *m.SavingsPct
			}
		}
		// (The settings share the community, so the runs have the same
		// members; were one shorter, it would end in zeros.)
		slices.Sort(v[:len(r.KPIs.Members)])
		name := "Savings"
		if r.Setting != "" {
			name = r.Setting
		}
		f.Lines = append(f.Lines, chart.Series{Name: name, Values: v, Style: chart.Step})
	}
	f.Lines = append(f.Lines, chart.Series{Name: "No saving", Values: make([]float64, len(f.X)), Style: chart.Dashed, Color: chart.Grey})
	return f
}

// compareFigure sets the settings' prices side by side: payments between
// members cancel in the community's savings, so what a mechanism changes
// shows in what buyers pay and sellers get against the tariffs.
func compareFigure(runs []Run) chart.Figure {
	eur := func(p *int64) float64 {
		if p == nil {
			return 0
		}
		return float64(*p) / 1e6
	}
	var labels []string
	var mcp, paid, got, grid, feed []float64
	for _, r := range runs {
		c := r.KPIs.Community
		labels = append(labels, r.Setting)
		mcp = append(mcp, eur(c.MeanMCPPerKWh))
		paid = append(paid, eur(c.AvgPricePaidPerKWh))
		got = append(got, eur(c.AvgPriceReceivedPerKWh))
		grid = append(grid, eur(c.AvgGridPricePerKWh))
		feed = append(feed, eur(c.AvgFeedInPerKWh))
	}
	return chart.Figure{Title: "The settings compared: prices", Subtitle: "means over the period; dashed: the tariffs for the same energy",
		YLabel: "Price", YUnit: Currency + "/kWh", XLabels: labels,
		Bars: []chart.Series{
			{Name: "Mean MCP", Values: mcp, Color: chart.Blue},
			{Name: "Paid per kWh bought", Values: paid, Color: chart.Vermillion},
			{Name: "Received per kWh sold", Values: got, Color: chart.Green},
		},
		Lines: []chart.Series{
			{Name: "Grid tariff", Values: grid, Style: chart.Dashed, Color: chart.Grey},
			{Name: "Feed-in tariff", Values: feed, Style: chart.Dashed, Color: chart.Orange},
		}}
}

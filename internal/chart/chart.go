package chart

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"time"
)

// Style is how a line series is drawn. The flags combine: Step|Dashed is
// a dashed staircase (a time-of-use tariff), Step|Area a filled one. The
// zero Style, Line, is a solid line through the points.
type Style uint8

const (
	// Line joins the points with straight segments. It is the zero Style.
	Line Style = 0
	// Step holds each value until the next x: the right drawing for
	// hourly energy and for prices that hold for an interval.
	Step Style = 1 << iota
	// Dashed draws the line dashed and a little thinner: for references
	// such as a tariff or a baseline.
	Dashed
	// Area fills between the line and zero with a translucent tint of the
	// series colour.
	Area

	allStyles = Step | Dashed | Area
)

// Series is one named sequence of values, one per point of the figure's
// x axis.
type Series struct {
	// Name is the legend entry; a series without a name has none.
	Name string
	// Values has exactly one value per point of the x axis. Values must
	// be finite.
	Values []float64
	// Style applies to Lines only; bars take the zero Style.
	Style Style
	// Color overrides the palette. Nil takes the next Okabe–Ito colour
	// not taken by an explicit one (bars first, then lines, in order).
	Color color.Color
}

// Band shades a range of the x axis, such as a demand-response window,
// and prints its Label at the top of the range.
//
// From and To are in x-axis units: values of X; category positions for
// XLabels, where category i spans [i, i+1) so that From: 17, To: 20
// covers the categories 17, 18 and 19 (the hours 17:00 to 20:00); Unix
// seconds for Times (see [TimeBand]).
type Band struct {
	From, To float64
	Label    string
}

// TimeBand returns the Band from one instant to another on a figure with
// a Times axis.
func TimeBand(from, to time.Time, label string) Band {
	return Band{From: unixSeconds(from), To: unixSeconds(to), Label: label}
}

// Order sorts a categorical figure's categories.
type Order uint8

const (
	// Unsorted keeps the categories in the order given.
	Unsorted Order = iota
	// Ascending puts the category with the smallest total first.
	Ascending
	// Descending puts the category with the largest total first; with
	// Horizontal, at the top.
	Descending
)

// Figure describes one chart. Set exactly one of X, XLabels and Times;
// every series has one value per point of it.
//
// The y axis always holds the values, whichever way the bars run: YLabel
// and YUnit describe them ("Power", "kW"), XLabel the points ("Hour").
type Figure struct {
	Title    string
	Subtitle string // a smaller grey line under the title: a period, a source
	XLabel   string
	YLabel   string
	YUnit    string // shown in the y-axis title and after bar value labels

	// X is a numeric axis; values must increase strictly. A line point i
	// is drawn at X[i]; a Step or bar value i holds from X[i] to X[i+1],
	// and the last one for as long as the one before it.
	X []float64
	// XLabels is a categorical axis (hours "00".."23", member names):
	// category i spans [i, i+1), its label and line points sit at i+0.5,
	// its bars fill the middle of the span. Crowded labels are thinned.
	XLabels []string
	// Times is a time axis, like X with instants; ticks fall on whole
	// hours, days, weeks or months in the location of Times[0].
	Times []time.Time

	// Lines are drawn over the bars, in order.
	Lines []Series
	// Bars are grouped side by side for each point, or stacked when
	// Stacked is set (positive values up from zero, negative ones down).
	Bars    []Series
	Stacked bool
	// Horizontal lays bars out left to right, the categories down the
	// side, the first at the top. It needs XLabels and takes no Lines or
	// Bands.
	Horizontal bool
	// ValueLabels prints each bar's value (a stack's total) at its end.
	ValueLabels bool
	// Sort orders the categories of an XLabels figure by their total
	// bar value (by the first line's value when there are no bars).
	Sort Order

	Bands []Band

	// YMin and YMax fix the ends of the value axis. When nil the axis
	// spans the data and zero, rounded out to whole ticks.
	YMin, YMax *float64
}

// Hours returns the labels "00" to "23" for an XLabels axis of one day.
func Hours() []string {
	h := make([]string, 24)
	for i := range h {
		h[i] = fmt.Sprintf("%02d", i)
	}
	return h
}

// Float returns a pointer to v, for YMin and YMax.
func Float(v float64) *float64 { return &v }

// axisKind is which of the x axes a figure has.
type axisKind uint8

const (
	numeric axisKind = iota
	categorical
	timed
)

// Validate reports the first thing that keeps the figure from being drawn.
func (f Figure) Validate() error {
	_, err := f.resolve()
	return err
}

// series is a Series resolved for drawing.
type series struct {
	name   string
	values []float64
	style  Style
	color  color.Color
}

// model is a validated figure with the x axis resolved to numbers, the
// categories sorted and every series coloured.
type model struct {
	f     Figure // for the texts and options
	kind  axisKind
	n     int
	x     []float64 // positions of the n points: X, Unix seconds, or i
	end   float64   // where the last slot ends
	loc   *time.Location
	cats  []string // categorical labels, sorted
	lines []series
	bars  []series
}

func (f Figure) resolve() (*model, error) {
	m := &model{f: f}
	set := 0
	if len(f.X) > 0 {
		set++
		m.kind, m.n = numeric, len(f.X)
	}
	if len(f.XLabels) > 0 {
		set++
		m.kind, m.n = categorical, len(f.XLabels)
	}
	if len(f.Times) > 0 {
		set++
		m.kind, m.n = timed, len(f.Times)
	}
	switch {
	case set == 0 && len(f.Lines)+len(f.Bars) == 0:
		return nil, fmt.Errorf("chart: the figure is empty: it has no x axis (X, XLabels or Times) and no series")
	case set == 0:
		return nil, fmt.Errorf("chart: the figure has no x axis: set one of X, XLabels and Times")
	case set > 1:
		return nil, fmt.Errorf("chart: the figure has %d x axes: set only one of X, XLabels and Times", set)
	case len(f.Lines)+len(f.Bars) == 0:
		return nil, fmt.Errorf("chart: the figure has no series: add Lines or Bars")
	}

	m.x = make([]float64, m.n)
	switch m.kind {
	case numeric:
		for i, v := range f.X {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("chart: X[%d] is %v; x values must be finite", i, v)
			}
			if i > 0 && v <= f.X[i-1] {
				return nil, fmt.Errorf("chart: X[%d] = %v does not increase on X[%d] = %v", i, v, i-1, f.X[i-1])
			}
			m.x[i] = v
		}
	case timed:
		m.loc = f.Times[0].Location()
		for i, t := range f.Times {
			if i > 0 && !t.After(f.Times[i-1]) {
				return nil, fmt.Errorf("chart: Times[%d] = %s is not after Times[%d] = %s",
					i, t.Format(time.RFC3339), i-1, f.Times[i-1].Format(time.RFC3339))
			}
			m.x[i] = unixSeconds(t)
		}
	case categorical:
		for i := range m.x {
			m.x[i] = float64(i)
		}
	}

	if f.Horizontal {
		switch {
		case m.kind != categorical:
			return nil, fmt.Errorf("chart: a horizontal figure needs XLabels for its categories")
		case len(f.Lines) > 0:
			return nil, fmt.Errorf("chart: a horizontal figure takes bars only, not lines")
		case len(f.Bands) > 0:
			return nil, fmt.Errorf("chart: a horizontal figure takes no bands")
		}
	}
	if f.Stacked && len(f.Bars) == 0 {
		return nil, fmt.Errorf("chart: Stacked is set but the figure has no bars")
	}
	if f.ValueLabels && len(f.Bars) == 0 {
		return nil, fmt.Errorf("chart: ValueLabels is set but the figure has no bars")
	}
	if f.Sort != Unsorted && m.kind != categorical {
		return nil, fmt.Errorf("chart: Sort needs a categorical axis (XLabels)")
	}
	if f.Sort > Descending {
		return nil, fmt.Errorf("chart: unknown Sort order %d", f.Sort)
	}

	check := func(kind string, i int, s Series) error {
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i)
		}
		if len(s.Values) != m.n {
			return fmt.Errorf("chart: %s series %q has %d values but the x axis has %d points", kind, name, len(s.Values), m.n)
		}
		for j, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("chart: %s series %q: value %d is %v; values must be finite", kind, name, j, v)
			}
		}
		if s.Style&^allStyles != 0 {
			return fmt.Errorf("chart: %s series %q has unknown Style bits %#x", kind, name, uint8(s.Style&^allStyles))
		}
		if kind == "bar" && s.Style != Line {
			return fmt.Errorf("chart: bar series %q has a Style; styles apply to lines only", name)
		}
		return nil
	}
	for i, s := range f.Bars {
		if err := check("bar", i, s); err != nil {
			return nil, err
		}
	}
	for i, s := range f.Lines {
		if err := check("line", i, s); err != nil {
			return nil, err
		}
	}
	for i, b := range f.Bands {
		if math.IsNaN(b.From) || math.IsNaN(b.To) || math.IsInf(b.From, 0) || math.IsInf(b.To, 0) || b.From >= b.To {
			return nil, fmt.Errorf("chart: band %d (%q) runs from %v to %v; it needs finite From < To", i, b.Label, b.From, b.To)
		}
	}
	for _, p := range []struct {
		name string
		v    *float64
	}{{"YMin", f.YMin}, {"YMax", f.YMax}} {
		if p.v != nil && (math.IsNaN(*p.v) || math.IsInf(*p.v, 0)) {
			return nil, fmt.Errorf("chart: %s is %v; it must be finite", p.name, *p.v)
		}
	}
	if f.YMin != nil && f.YMax != nil && *f.YMin >= *f.YMax {
		return nil, fmt.Errorf("chart: YMin %v is not below YMax %v", *f.YMin, *f.YMax)
	}

	// The end of the last slot: one more spacing after the last point.
	switch {
	case m.kind == categorical:
		m.end = float64(m.n)
	case m.n > 1:
		m.end = m.x[m.n-1] + (m.x[m.n-1] - m.x[m.n-2])
	case m.kind == timed:
		m.end = m.x[0] + 3600
	default:
		m.end = m.x[0] + 1
	}

	// Sort the categories: permute labels and every series alike.
	perm := make([]int, m.n)
	for i := range perm {
		perm[i] = i
	}
	if f.Sort != Unsorted {
		total := make([]float64, m.n)
		if len(f.Bars) > 0 {
			for _, s := range f.Bars {
				for i, v := range s.Values {
					total[i] += v
				}
			}
		} else {
			copy(total, f.Lines[0].Values)
		}
		slices.SortStableFunc(perm, func(a, b int) int {
			if f.Sort == Descending {
				a, b = b, a
			}
			switch {
			case total[a] < total[b]:
				return -1
			case total[a] > total[b]:
				return 1
			}
			return 0
		})
	}
	if m.kind == categorical {
		m.cats = make([]string, m.n)
		for i, p := range perm {
			m.cats[i] = f.XLabels[p]
		}
	}
	permute := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for i, p := range perm {
			out[i] = v[p]
		}
		return out
	}

	// Colours: explicit ones stay; the others take the palette in turn,
	// skipping the palette colours already chosen explicitly.
	taken := map[color.RGBA]bool{}
	for _, s := range slices.Concat(f.Bars, f.Lines) {
		if s.Color != nil {
			taken[rgba(s.Color)] = true
		}
	}
	palette := Palette()
	next := 0
	pick := func(c color.Color) color.Color {
		if c != nil {
			return c
		}
		for range palette {
			p := palette[next%len(palette)]
			next++
			if !taken[rgba(p)] {
				return p
			}
		}
		p := palette[next%len(palette)]
		next++
		return p
	}
	for _, s := range f.Bars {
		m.bars = append(m.bars, series{s.Name, permute(s.Values), s.Style, pick(s.Color)})
	}
	for _, s := range f.Lines {
		m.lines = append(m.lines, series{s.Name, permute(s.Values), s.Style, pick(s.Color)})
	}
	return m, nil
}

func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

func rgba(c color.Color) color.RGBA {
	r, g, b, a := c.RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

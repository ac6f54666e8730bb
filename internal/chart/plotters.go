package chart

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Line widths and dashes, in CSS pixels.
const (
	lineWidth   = 2.25
	dashedWidth = 1.75
	areaOpacity = 0.22
	bandOpacity = 0.075
)

func lineStyle(s series) draw.LineStyle {
	if s.style&Dashed != 0 {
		return draw.LineStyle{Color: s.color, Width: dashedWidth * px, Dashes: []vg.Length{6 * px, 4 * px}}
	}
	return draw.LineStyle{Color: s.color, Width: lineWidth * px}
}

// gridPlot draws light lines at the value ticks and, on numeric and time
// axes, at the domain ticks.
type gridPlot struct {
	values, domain []float64
	horizontal     bool
}

func (g gridPlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: inkGrid, Width: 1 * px}
	for _, v := range g.values {
		if g.horizontal {
			x := trX(v)
			c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
		} else {
			y := trY(v)
			c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
		}
	}
	for _, v := range g.domain {
		x := trX(v)
		c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
	}
}

// zeroPlot draws the line at value zero, the bars' base, when in view.
type zeroPlot struct{ horizontal bool }

func (z zeroPlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: inkZero, Width: 1 * px}
	if z.horizontal {
		if p.X.Min <= 0 && 0 <= p.X.Max {
			x := trX(0)
			c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
		}
		return
	}
	if p.Y.Min <= 0 && 0 <= p.Y.Max {
		y := trY(0)
		c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
	}
}

// bandPlot shades an x range over the full height and labels it at the
// top.
type bandPlot struct {
	b   Band
	sty text.Style
}

func (b bandPlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x0 := trX(math.Max(b.b.From, p.X.Min))
	x1 := trX(math.Min(b.b.To, p.X.Max))
	if x1 <= x0 {
		return
	}
	c.FillPolygon(tint(Black, bandOpacity), []vg.Point{
		{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y},
	})
	if b.b.Label != "" {
		sty := b.sty
		sty.XAlign = draw.XCenter
		c.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: c.Max.Y - 5*px}, b.b.Label)
	}
}

// linePlot draws one line series: its tinted area, or its line.
type linePlot struct {
	m        *model
	s        series
	fillOnly bool
}

// points returns the series' vertices in data coordinates: through the
// points, or along the steps of a Step series.
func (l linePlot) points() []vg.Point {
	m, s := l.m, l.s
	var pts []vg.Point
	for i, v := range s.values {
		start := m.x[i]
		if s.style&Step == 0 {
			if m.kind == categorical {
				start += 0.5
			}
			pts = append(pts, vg.Point{X: vg.Length(start), Y: vg.Length(v)})
			continue
		}
		end := m.end
		if i+1 < m.n {
			end = m.x[i+1]
		}
		pts = append(pts, vg.Point{X: vg.Length(start), Y: vg.Length(v)}, vg.Point{X: vg.Length(end), Y: vg.Length(v)})
	}
	return pts
}

func (l linePlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	data := l.points()
	pts := make([]vg.Point, len(data))
	for i, d := range data {
		pts[i] = vg.Point{X: trX(float64(d.X)), Y: trY(float64(d.Y))}
	}
	if l.fillOnly {
		base := trY(math.Max(p.Y.Min, math.Min(0, p.Y.Max)))
		poly := append(append([]vg.Point{{X: pts[0].X, Y: base}}, pts...), vg.Point{X: pts[len(pts)-1].X, Y: base})
		if poly = c.ClipPolygonXY(poly); len(poly) > 0 {
			c.FillPolygon(tint(l.s.color, areaOpacity), poly)
		}
		return
	}
	c.StrokeLines(lineStyle(l.s), c.ClipLinesXY(pts)...)
}

// A bar is one rectangle: [d0, d1] along the domain, [v0, v1] along the
// values.
type bar struct {
	d0, d1, v0, v1 float64
	color          color.Color
	cat            int
}

// barGeometry returns the bars in drawing order, the ends where their
// value labels go (a stack's total, or each bar's value), and the lines
// between the segments of stacks.
func (m *model) barGeometry() (bars []bar, ends []bar, seams []bar) {
	k := len(m.bars)
	for i := range m.n {
		d0, d1 := m.x[i], m.end
		if i+1 < m.n {
			d1 = m.x[i+1]
		}
		if m.f.Horizontal { // the first category on top
			d0, d1 = float64(m.n-i-1), float64(m.n-i)
		}
		w := d1 - d0
		if m.f.Stacked || k == 1 {
			lo, hi := d0+w*0.17, d1-w*0.17
			var pos, neg float64
			for _, s := range m.bars {
				v := s.values[i]
				if v >= 0 {
					bars = append(bars, bar{lo, hi, pos, pos + v, s.color, i})
					if pos > 0 && v > 0 {
						seams = append(seams, bar{lo, hi, pos, pos, nil, i})
					}
					pos += v
				} else {
					bars = append(bars, bar{lo, hi, neg, neg + v, s.color, i})
					if neg < 0 {
						seams = append(seams, bar{lo, hi, neg, neg, nil, i})
					}
					neg += v
				}
			}
			if pos > 0 || neg == 0 {
				ends = append(ends, bar{lo, hi, 0, pos, nil, i})
			}
			if neg < 0 {
				ends = append(ends, bar{lo, hi, 0, neg, nil, i})
			}
			continue
		}
		group := w * 0.8
		bw := group / float64(k)
		for j, s := range m.bars {
			slot := j
			if m.f.Horizontal { // the first series on top, as in the legend
				slot = k - 1 - j
			}
			lo := d0 + (w-group)/2 + float64(slot)*bw
			hi := lo + bw*0.88
			v := s.values[i]
			bars = append(bars, bar{lo, hi, 0, v, s.color, i})
			ends = append(ends, bar{lo, hi, 0, v, nil, i})
		}
	}
	return bars, ends, seams
}

// barPlot draws the figure's bars.
type barPlot struct{ m *model }

func (b barPlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	rect := func(r bar) []vg.Point {
		x0, x1, y0, y1 := trX(r.d0), trX(r.d1), trY(r.v0), trY(r.v1)
		if b.m.f.Horizontal {
			x0, x1, y0, y1 = trX(r.v0), trX(r.v1), trY(r.d0), trY(r.d1)
		}
		return []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
	}
	bars, _, seams := b.m.barGeometry()
	for _, r := range bars {
		if r.v0 == r.v1 {
			continue
		}
		if poly := c.ClipPolygonXY(rect(r)); len(poly) > 0 {
			c.FillPolygon(r.color, poly)
		}
	}
	// A hairline of white between stacked segments.
	sty := draw.LineStyle{Color: RGB(0xFFFFFF), Width: 1 * px}
	for _, r := range seams {
		pts := rect(r)
		c.StrokeLines(sty, c.ClipLinesXY(pts[:2])...)
	}
}

// valueLabels returns the texts of the bar value labels.
func (m *model) valueLabels() []string {
	_, ends, _ := m.barGeometry()
	// As many decimals as the values have, the same for all: two at
	// most, three when every value is below one.
	maxAbs, d := 0.0, 0
	for _, e := range ends {
		maxAbs = math.Max(maxAbs, math.Abs(e.v1))
		d = max(d, decimals(math.Abs(e.v1)))
	}
	if maxAbs >= 1 {
		d = min(d, 2)
	} else {
		d = min(d, 3)
	}
	labels := make([]string, len(ends))
	for i, e := range ends {
		labels[i] = formatNumber(e.v1, d)
		// The unit when there is one label per category; grouped bars
		// would repeat it too often.
		if m.f.YUnit != "" && (m.f.Stacked || len(m.bars) == 1) {
			labels[i] += " " + m.f.YUnit
		}
	}
	return labels
}

// valueLabelPlot prints each bar's value just beyond its end.
type valueLabelPlot struct {
	m      *model
	sty    text.Style
	labels []string
}

func (v valueLabelPlot) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	_, ends, _ := v.m.barGeometry()
	for i, e := range ends {
		sty := v.sty
		var pt vg.Point
		if v.m.f.Horizontal {
			sty.YAlign = draw.YCenter
			pt = vg.Point{X: trX(e.v1) + 5*px, Y: trY((e.d0 + e.d1) / 2)}
			if e.v1 < 0 {
				sty.XAlign = draw.XRight
				pt.X = trX(e.v1) - 5*px
			}
		} else {
			sty.XAlign = draw.XCenter
			sty.YAlign = draw.YBottom
			pt = vg.Point{X: trX((e.d0 + e.d1) / 2), Y: trY(e.v1) + 3*px}
			if e.v1 < 0 {
				sty.YAlign = draw.YTop
				pt.Y = trY(e.v1) - 3*px
			}
		}
		if c.Contains(pt) {
			c.FillText(sty, pt, v.labels[i])
		}
	}
}

// A legendEntry is one series' swatch and name.
type legendEntry struct {
	name string
	s    series
	bar  bool
}

func (m *model) legend() []legendEntry {
	var out []legendEntry
	for _, s := range m.bars {
		if s.name != "" {
			out = append(out, legendEntry{s.name, s, true})
		}
	}
	for _, s := range m.lines {
		if s.name != "" {
			out = append(out, legendEntry{s.name, s, false})
		}
	}
	return out
}

// drawLegend lays the entries out in rows from the top left of c,
// wrapping at its right edge, and returns the height used.
func drawLegend(c draw.Canvas, th theme, entries []legendEntry, top vg.Length) vg.Length {
	const (
		rowH   = 20 * px
		swatch = 22 * px
		gap    = 7 * px
		space  = 24 * px
	)
	sty := th.legend
	sty.YAlign = draw.YCenter
	x, y := c.Min.X, top-rowH/2
	for i, e := range entries {
		w := swatch + gap + sty.Width(e.name)
		if i > 0 && x+w > c.Max.X {
			x, y = c.Min.X, y-rowH
		}
		switch {
		case e.bar:
			c.FillPolygon(e.s.color, square(vg.Point{X: x + swatch/2, Y: y}, 12*px, 12*px))
		case e.s.style&Area != 0:
			c.FillPolygon(tint(e.s.color, areaOpacity*1.6), square(vg.Point{X: x + swatch/2, Y: y - 1*px}, swatch, 12*px))
			c.StrokeLine2(lineStyle(e.s), x, y+5*px, x+swatch, y+5*px)
		default:
			c.StrokeLine2(lineStyle(e.s), x, y, x+swatch, y)
		}
		c.FillText(sty, vg.Point{X: x + swatch + gap, Y: y}, e.name)
		x += w + space
	}
	return top - y + rowH/2
}

func square(center vg.Point, w, h vg.Length) []vg.Point {
	return []vg.Point{
		{X: center.X - w/2, Y: center.Y - h/2}, {X: center.X + w/2, Y: center.Y - h/2},
		{X: center.X + w/2, Y: center.Y + h/2}, {X: center.X - w/2, Y: center.Y + h/2},
	}
}

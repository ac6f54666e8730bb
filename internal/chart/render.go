package chart

import (
	"bytes"
	"fmt"
	"html"
	"image"
	"image/png"
	"io"
	"math"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/font/liberation"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// px is one CSS pixel (1/96 inch) in vg's unit, the point (1/72 inch).
const px = vg.Length(0.75)

// The smallest figure that leaves room for a plot.
const minWidthPx, minHeightPx = 160, 100

// SVG writes the figure as a standalone SVG document of widthPx × heightPx
// CSS pixels (with a viewBox, so it scales). Text is set in Liberation
// Sans, falling back to Arial, Helvetica and sans-serif.
func (f Figure) SVG(w io.Writer, widthPx, heightPx int) error {
	m, err := f.resolve()
	if err != nil {
		return err
	}
	if err := checkSize(widthPx, heightPx); err != nil {
		return err
	}
	c := vgsvg.New(vg.Length(widthPx)*px, vg.Length(heightPx)*px)
	if err := m.render(draw.New(c), true); err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	_, err = w.Write(finishSVG(buf.Bytes(), f.Title, f.Subtitle))
	return err
}

// PNG writes the figure as a PNG image of exactly widthPx × heightPx
// pixels.
func (f Figure) PNG(w io.Writer, widthPx, heightPx int) error {
	return f.PNGScale(w, widthPx, heightPx, 1)
}

// PNGScale lays the figure out at widthPx × heightPx CSS pixels, like PNG
// and SVG, and rasterises it scale times as finely: PNGScale(w, 800, 400,
// 3) gives a 2400 × 1200 image that prints 8⅓ inches wide at 288 dpi. Scale
// is between 0.5 and 8.
func (f Figure) PNGScale(w io.Writer, widthPx, heightPx int, scale float64) error {
	m, err := f.resolve()
	if err != nil {
		return err
	}
	if err := checkSize(widthPx, heightPx); err != nil {
		return err
	}
	if !(scale >= 0.5 && scale <= 8) {
		return fmt.Errorf("chart: PNG scale %v is outside 0.5 to 8", scale)
	}
	wd := int(math.Round(float64(widthPx) * scale))
	ht := int(math.Round(float64(heightPx) * scale))
	// vgimg draws on a copy of the image it is given; encode that copy.
	c := vgimg.NewWith(vgimg.UseImage(image.NewRGBA(image.Rect(0, 0, wd, ht))), vgimg.UseDPI(int(math.Round(96*scale))))
	if err := m.render(draw.New(c), false); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, c.Image()); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	_, err = buf.WriteTo(w)
	return err
}

func checkSize(w, h int) error {
	if w < minWidthPx || h < minHeightPx {
		return fmt.Errorf("chart: a figure of %d×%d px is too small; the least is %d×%d", w, h, minWidthPx, minHeightPx)
	}
	if w > 20000 || h > 20000 {
		return fmt.Errorf("chart: a figure of %d×%d px is too large; the most is 20000×20000", w, h)
	}
	return nil
}

// Markers that anchoredText puts before a text to have finishSVG anchor
// it at its end or middle; they are private-use characters.
const (
	anchorEnd    = "\uE000"
	anchorMiddle = "\uE001"
)

// anchoredText sets text like text.Plain but, for SVG, leaves right-aligned
// and centred lines to the viewer's text-anchor rather than placing their
// left edge by Liberation Sans' metrics, so that they stay aligned when
// the viewer substitutes a wider or narrower font.
type anchoredText struct{ text.Plain }

func (h anchoredText) Draw(c vg.Canvas, txt string, sty text.Style, pt vg.Point) {
	txt = strings.NewReplacer(anchorEnd, "", anchorMiddle, "").Replace(txt)
	marker := ""
	switch sty.XAlign {
	case draw.XRight:
		marker = anchorEnd
	case draw.XCenter:
		marker = anchorMiddle
	}
	if marker == "" || sty.Rotation != 0 || strings.Contains(strings.TrimRight(txt, "\n"), "\n") {
		h.Plain.Draw(c, txt, sty, pt)
		return
	}
	sty.XAlign = draw.XLeft
	h.Plain.Draw(c, marker+txt, sty, pt)
}

var _ text.Handler = anchoredText{}

// finishSVG makes gonum/plot's SVG document ready to inline in HTML: it
// drops the XML declaration and generator comment, names the fallbacks of
// the font family, anchors the texts anchoredText marked, and gives the
// document role="img" and a <title> for screen readers and tooltips.
func finishSVG(b []byte, title, subtitle string) []byte {
	if i := bytes.Index(b, []byte("<svg ")); i > 0 {
		b = b[i:]
	}
	b = bytes.ReplaceAll(b, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
	b = bytes.ReplaceAll(b, []byte(`">`+anchorEnd), []byte(`" text-anchor="end">`))
	b = bytes.ReplaceAll(b, []byte(`">`+anchorMiddle), []byte(`" text-anchor="middle">`))
	if !bytes.HasPrefix(b, []byte("<svg ")) {
		return b
	}
	end := bytes.IndexByte(b, '>') + 1 // of the <svg> start tag
	var out bytes.Buffer
	out.Grow(len(b) + len(title) + len(subtitle) + 64)
	out.WriteString(`<svg role="img" `)
	out.Write(b[len("<svg "):end])
	if name := strings.Trim(title+" — "+subtitle, " —"); name != "" {
		out.WriteString("\n<title>")
		out.WriteString(html.EscapeString(name))
		out.WriteString("</title>")
	}
	out.Write(b[end:])
	return out.Bytes()
}

// theme holds the text styles of one rendering.
type theme struct {
	title, subtitle, legend, axis, tick, value, band text.Style
}

func newTheme(svg bool) theme {
	var h text.Handler = text.Plain{Fonts: font.NewCache(liberation.Collection())}
	if svg {
		h = anchoredText{h.(text.Plain)}
	}
	sans := font.Font{Typeface: "Liberation", Variant: "Sans"}
	bold := sans
	bold.Weight = xfont.WeightBold
	sty := func(f font.Font, sizePx vg.Length, c RGB) text.Style {
		return text.Style{Color: c, Font: font.From(f, sizePx*px), Handler: h,
			XAlign: draw.XLeft, YAlign: draw.YTop}
	}
	return theme{
		title:    sty(bold, 17, inkTitle),
		subtitle: sty(sans, 13, inkMuted),
		legend:   sty(sans, 13, inkText),
		axis:     sty(sans, 12, inkMuted),
		tick:     sty(sans, 12, inkMuted),
		value:    sty(sans, 11.5, inkText),
		band:     sty(sans, 11.5, inkBandText),
	}
}

// render draws the figure on c. gonum/plot panics on what it cannot
// draw; render turns that into an error.
func (m *model) render(c draw.Canvas, svg bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("chart: cannot draw %q: %v", m.f.Title, r)
		}
	}()
	th := newTheme(svg)
	c.SetColor(RGB(0xFFFFFF))
	c.Fill(c.Rectangle.Path())

	// Margins, then the header from the top down: title, subtitle,
	// legend, the label of the axis along the side.
	c = draw.Crop(c, 16*px, -20*px, 12*px, -14*px)
	top := c.Max.Y
	x0 := c.Min.X
	if m.f.Title != "" {
		c.FillText(th.title, vg.Point{X: x0, Y: top}, m.f.Title)
		top -= th.title.Height(m.f.Title) + 3*px
	}
	if m.f.Subtitle != "" {
		c.FillText(th.subtitle, vg.Point{X: x0, Y: top}, m.f.Subtitle)
		top -= th.subtitle.Height(m.f.Subtitle)
	}
	if m.f.Title != "" || m.f.Subtitle != "" {
		top -= 10 * px
	}
	if entries := m.legend(); len(entries) > 0 {
		top -= drawLegend(c, th, entries, top) + 10*px
	}
	sideLabel := withUnit(m.f.YLabel, m.f.YUnit)
	bottomLabel := m.f.XLabel
	if m.f.Horizontal {
		sideLabel, bottomLabel = bottomLabel, sideLabel
	}
	if sideLabel != "" {
		c.FillText(th.axis, vg.Point{X: x0, Y: top}, sideLabel)
		top -= th.axis.Height(sideLabel) + 6*px
	}
	pc := c
	pc.Max.Y = top
	if pc.Max.Y-pc.Min.Y < 40*px || pc.Max.X-pc.Min.X < 80*px {
		return fmt.Errorf("chart: no room left for the plot of %q; make the figure larger", m.f.Title)
	}

	p := plot.New()
	p.BackgroundColor = nil
	p.Title.Text = ""
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.LineStyle.Width = 0
		a.Tick.LineStyle.Width = 0
		a.Tick.Length = 0
		a.Tick.Label = th.tick
		a.Label.TextStyle = th.axis
	}
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XCenter, draw.YTop
	p.Y.Tick.Label.XAlign, p.Y.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.X.Padding, p.Y.Padding = 7*px, 6*px
	p.X.Label.Text = bottomLabel
	p.X.Label.Padding = 6 * px
	p.X.Label.TextStyle.XAlign, p.X.Label.TextStyle.YAlign = draw.XCenter, draw.YBottom
	p.Legend = plot.Legend{TextStyle: th.legend}

	// The sizes of the data area, roughly, for choosing ticks.
	plotW := float64((pc.Max.X-pc.Min.X)/px) - 50
	plotH := float64((pc.Max.Y-pc.Min.Y)/px) - 30
	if bottomLabel != "" {
		plotH -= 20
	}

	valueAxis, domainAxis := &p.Y, &p.X
	valueLen, domainLen := plotH, plotW
	if m.f.Horizontal {
		valueAxis, domainAxis = &p.X, &p.Y
		valueLen, domainLen = plotW-60, plotH
	}

	// The domain axis.
	var domainTicks []plot.Tick
	switch m.kind {
	case categorical:
		domainAxis.Min, domainAxis.Max = 0, float64(m.n)
		labelSize := func(s string) float64 { return float64(th.tick.Width(s) / px) }
		if m.f.Horizontal {
			labelSize = func(s string) float64 { return float64(th.tick.Height(s) / px) }
		}
		domainTicks = categoryTicks(m.cats, domainLen, labelSize, m.f.Horizontal)
	case numeric, timed:
		lo, hi := m.x[0], m.x[m.n-1]
		if len(m.bars) > 0 || m.anyStep() {
			hi = m.end
		}
		if hi <= lo { // a single point
			lo, hi = lo-(m.end-lo)/2, lo+(m.end-lo)/2
		}
		domainAxis.Min, domainAxis.Max = lo, hi
		if m.kind == timed {
			domainTicks = timeTicks(lo, hi, m.loc, domainLen, func(s string) float64 { return float64(th.tick.Width(s) / px) })
		} else {
			domainTicks = numberTicks(lo, hi, domainLen/90)
		}
	}
	domainAxis.Tick.Marker = plot.ConstantTicks(domainTicks)

	// The value axis.
	lo, hi := m.valueRange()
	if m.f.YMax == nil {
		switch {
		case m.f.ValueLabels && m.f.Horizontal:
			// Room after the longest bar for its label.
			w := 0.0
			for _, s := range m.valueLabels() {
				w = math.Max(w, float64(th.value.Width(s)/px))
			}
			if frac := (w + 10) / valueLen; frac < 0.5 {
				hi += (hi - lo) * frac / (1 - frac)
			}
		case m.f.ValueLabels:
			hi += (hi - lo) * 0.08
		case m.bandLabels():
			hi += (hi - lo) * 0.12
		}
	}
	if m.f.YMin == nil && m.f.ValueLabels && lo < 0 {
		lo -= (hi - lo) * 0.08
	}
	spacing := 55.0 // px between value ticks
	if m.f.Horizontal {
		spacing = 95
	}
	valueTicks, vlo, vhi := valueScale(lo, hi, m.f.YMin, m.f.YMax, valueLen/spacing)
	valueAxis.Min, valueAxis.Max = vlo, vhi
	valueAxis.Tick.Marker = plot.ConstantTicks(valueTicks)

	// What is drawn on the data area, back to front.
	gridX := []float64(nil)
	if m.kind == timed || m.kind == numeric {
		for _, t := range domainTicks {
			gridX = append(gridX, t.Value)
		}
	}
	p.Add(gridPlot{values: tickValues(valueTicks), domain: gridX, horizontal: m.f.Horizontal})
	for _, b := range m.f.Bands {
		p.Add(bandPlot{b: b, sty: th.band})
	}
	if len(m.bars) > 0 {
		p.Add(barPlot{m: m})
	}
	for _, s := range m.lines {
		if s.style&Area != 0 {
			p.Add(linePlot{m: m, s: s, fillOnly: true})
		}
	}
	p.Add(zeroPlot{horizontal: m.f.Horizontal})
	for _, s := range m.lines {
		p.Add(linePlot{m: m, s: s})
	}
	if m.f.ValueLabels {
		p.Add(valueLabelPlot{m: m, sty: th.value, labels: m.valueLabels()})
	}
	p.Draw(pc)
	return nil
}

func withUnit(label, unit string) string {
	switch {
	case unit == "":
		return label
	case label == "":
		return unit
	}
	return label + " (" + unit + ")"
}

func (m *model) anyStep() bool {
	for _, s := range m.lines {
		if s.style&Step != 0 {
			return true
		}
	}
	return false
}

func (m *model) bandLabels() bool {
	for _, b := range m.f.Bands {
		if b.Label != "" {
			return true
		}
	}
	return false
}

// valueRange is the span of the values as drawn, with zero.
func (m *model) valueRange() (lo, hi float64) {
	for _, s := range m.lines {
		for _, v := range s.values {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if m.f.Stacked {
		for i := range m.n {
			var pos, neg float64
			for _, s := range m.bars {
				if v := s.values[i]; v > 0 {
					pos += v
				} else {
					neg += v
				}
			}
			lo, hi = math.Min(lo, neg), math.Max(hi, pos)
		}
	} else {
		for _, s := range m.bars {
			for _, v := range s.values {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if m.f.YMin != nil {
		lo = *m.f.YMin
	}
	if m.f.YMax != nil {
		hi = *m.f.YMax
	}
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi
}

package chart

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// svgDoc is what the tests read back from an SVG document.
type svgDoc struct {
	title string
	texts []string
	paths []svgPath
}

type svgPath struct{ d, style string }

// parseSVG decodes the whole document as XML, failing the test if it is
// not well-formed.
func parseSVG(t *testing.T, b []byte) svgDoc {
	t.Helper()
	var doc svgDoc
	dec := xml.NewDecoder(bytes.NewReader(b))
	var in string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			in = tok.Name.Local
			if in == "path" {
				var p svgPath
				for _, a := range tok.Attr {
					switch a.Name.Local {
					case "d":
						p.d = a.Value
					case "style":
						p.style = a.Value
					}
				}
				doc.paths = append(doc.paths, p)
			}
		case xml.CharData:
			switch in {
			case "title":
				doc.title += string(tok)
			case "text":
				doc.texts = append(doc.texts, string(tok))
			}
		case xml.EndElement:
			in = ""
		}
	}
	return doc
}

func checkWellFormed(t *testing.T, b []byte) {
	t.Helper()
	parseSVG(t, b)
}

// lineFigure has three line series in explicit colours, one of each
// style, and a band.
func lineFigure() Figure {
	a := []float64{1, 2, 3, 2.5, 4, 3, 2, 1.5}
	b := []float64{1.5, 1.5, 2, 2, 2, 2, 1, 1}
	c := []float64{0.5, 1, 0.5, 1, 0.5, 1, 0.5, 1}
	return Figure{
		Title:  "Household power",
		XLabel: "Hour", YLabel: "Power", YUnit: "kW",
		XLabels: []string{"16", "17", "18", "19", "20", "21", "22", "23"},
		Lines: []Series{
			{Name: "Solid", Values: a, Color: Blue},
			{Name: "Dashed steps", Values: b, Style: Step | Dashed, Color: Vermillion},
			{Name: "Area", Values: c, Style: Area, Color: Green},
		},
		Bands: []Band{{From: 1, To: 4, Label: "DR window"}},
	}
}

func render(t testing.TB, f Figure, format string, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if format == "svg" {
		err = f.SVG(&buf, w, h)
	} else {
		err = f.PNG(&buf, w, h)
	}
	if err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return buf.Bytes()
}

func TestSVGIsWellFormedWithTitleLegendAndOnePathPerSeries(t *testing.T) {
	f := lineFigure()
	doc := parseSVG(t, render(t, f, "svg", 800, 400))
	if doc.title != f.Title {
		t.Errorf("<title> is %q, want %q", doc.title, f.Title)
	}
	for _, want := range []string{f.Title, "Power (kW)", "Hour", "DR window", "Solid", "Dashed steps", "Area", "17", "0"} {
		if !slices.Contains(doc.texts, want) {
			t.Errorf("no <text> reads %q; texts: %q", want, doc.texts)
		}
	}
	// Each series is one stroked path through all its points (the legend
	// swatch in its colour is a single segment, "M…L…").
	for _, s := range f.Lines {
		hex := fmt.Sprintf("#%06X", uint32(s.Color.(RGB)))
		var n int
		for _, p := range doc.paths {
			if strings.Contains(p.style, "stroke:"+hex) && strings.Count(p.d, "L") > 1 {
				n++
			}
		}
		if n != 1 {
			t.Errorf("series %q: %d stroked paths in %s, want 1", s.Name, n, hex)
		}
	}
	// The area is one translucent filled path (gonum/plot's SVG writer
	// may round the colour of a translucent fill by one level).
	var fills int
	for _, p := range doc.paths {
		if regexp.MustCompile(`^fill:#00(9E|9D)7[23];fill-opacity:0.2196`).MatchString(p.style) {
			fills++
		}
	}
	if fills != 1 {
		t.Errorf("%d tinted fills for the area series, want 1", fills)
	}
	// Dashed lines are dashed; fonts fall back to common ones.
	svg := string(render(t, f, "svg", 800, 400))
	if !strings.Contains(svg, "stroke:#D55E00;stroke-width:1.3125;stroke-dasharray:4.5,3") {
		t.Error("the dashed series is not dashed")
	}
	if strings.Contains(svg, "font-family:Liberation Sans;") || !strings.Contains(svg, "Arial,Helvetica,sans-serif") {
		t.Error("the SVG names no fallback fonts")
	}
	// Ready to inline in HTML; right-aligned and centred texts anchored.
	if !strings.HasPrefix(svg, `<svg role="img" `) {
		t.Errorf("the SVG starts %q", svg[:min(len(svg), 40)])
	}
	if strings.ContainsAny(svg, anchorEnd+anchorMiddle) {
		t.Error("anchor markers are left in the SVG")
	}
	if !strings.Contains(svg, `text-anchor="end">4</text>`) || !strings.Contains(svg, `text-anchor="middle">17</text>`) {
		t.Error("the tick labels are not anchored")
	}
}

func TestSVGHasOneBarPathPerValue(t *testing.T) {
	f := Figure{
		Title:   "Energy",
		XLabels: Hours()[:6],
		Bars: []Series{
			{Name: "Traded", Values: []float64{1, 2, 3, 4, 5, 6}, Color: Green},
			{Name: "Grid", Values: []float64{6, 5, 4, 3, 2, 1}, Color: Grey},
		},
		Stacked: true,
	}
	doc := parseSVG(t, render(t, f, "svg", 600, 300))
	for _, s := range f.Bars {
		hex := fmt.Sprintf("#%06X", uint32(s.Color.(RGB)))
		var n int
		for _, p := range doc.paths {
			if p.style == "fill:"+hex {
				n++
			}
		}
		if n != len(s.Values)+1 { // the bars and the legend swatch
			t.Errorf("series %q: %d filled paths, want %d bars and a swatch", s.Name, n, len(s.Values))
		}
	}
}

func TestPNGDecodesToTheRequestedSize(t *testing.T) {
	f := lineFigure()
	for _, c := range []struct {
		w, h  int
		scale float64
	}{{800, 400, 1}, {640, 360, 1}, {321, 201, 1}, {800, 400, 2}, {600, 300, 3.125}, {1001, 333, 0.5}} {
		var buf bytes.Buffer
		if err := f.PNGScale(&buf, c.w, c.h, c.scale); err != nil {
			t.Fatalf("%d×%d×%v: %v", c.w, c.h, c.scale, err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatalf("%d×%d×%v: %v", c.w, c.h, c.scale, err)
		}
		wantW, wantH := int(math.Round(float64(c.w)*c.scale)), int(math.Round(float64(c.h)*c.scale))
		if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
			t.Errorf("%d×%d×%v: the image is %d×%d, want %d×%d", c.w, c.h, c.scale, b.Dx(), b.Dy(), wantW, wantH)
		}
		// Something was drawn: not every pixel is white.
		blank := true
		for y := 0; y < img.Bounds().Dy() && blank; y += 3 {
			for x := 0; x < img.Bounds().Dx(); x += 3 {
				if r, g, b, _ := img.At(x, y).RGBA(); r&g&b != 0xffff {
					blank = false
					break
				}
			}
		}
		if blank {
			t.Errorf("%d×%d×%v: the image is blank", c.w, c.h, c.scale)
		}
	}
	var buf bytes.Buffer
	if err := f.PNG(&buf, 800, 400); err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(&buf); err != nil || img.Bounds().Dx() != 800 || img.Bounds().Dy() != 400 {
		t.Fatalf("PNG(800, 400): %v", err)
	}
}

func TestSeriesLengthMustMatchTheXAxis(t *testing.T) {
	for _, f := range []Figure{
		{XLabels: Hours(), Lines: []Series{{Name: "Load", Values: make([]float64, 23)}}},
		{X: []float64{1, 2, 3}, Bars: []Series{{Name: "Load", Values: make([]float64, 4)}}},
		{Times: []time.Time{time.Unix(0, 0), time.Unix(3600, 0)}, Lines: []Series{{Name: "Load", Values: nil}}},
	} {
		err := f.Validate()
		if err == nil || !strings.Contains(err.Error(), `"Load" has`) || !strings.Contains(err.Error(), "values but the x axis has") {
			t.Errorf("a mismatched series gives %v", err)
		}
		if err2 := f.SVG(io.Discard, 800, 400); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("SVG gives %v, Validate %v", err2, err)
		}
		if err2 := f.PNG(io.Discard, 800, 400); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("PNG gives %v, Validate %v", err2, err)
		}
	}
}

func TestInvalidFiguresAreRefusedClearly(t *testing.T) {
	ok := []float64{1, 2, 3}
	xs := []float64{0, 1, 2}
	for _, c := range []struct {
		f    Figure
		want string
	}{
		{Figure{}, "the figure is empty"},
		{Figure{Title: "t"}, "the figure is empty"},
		{Figure{Lines: []Series{{Values: ok}}}, "no x axis"},
		{Figure{X: xs}, "no series"},
		{Figure{X: xs, XLabels: []string{"a", "b", "c"}, Lines: []Series{{Values: ok}}}, "2 x axes"},
		{Figure{X: []float64{0, 2, 1}, Lines: []Series{{Values: ok}}}, "does not increase"},
		{Figure{X: []float64{0, math.NaN(), 1}, Lines: []Series{{Values: ok}}}, "must be finite"},
		{Figure{Times: []time.Time{time.Unix(7200, 0), time.Unix(3600, 0)}, Lines: []Series{{Values: []float64{1, 2}}}}, "is not after"},
		{Figure{X: xs, Lines: []Series{{Name: "p", Values: []float64{1, math.Inf(1), 2}}}}, `"p": value 1 is +Inf`},
		{Figure{X: xs, Lines: []Series{{Values: ok, Style: 64}}}, "unknown Style"},
		{Figure{X: xs, Bars: []Series{{Name: "b", Values: ok, Style: Dashed}}}, "styles apply to lines only"},
		{Figure{X: xs, Lines: []Series{{Values: ok}}, Stacked: true}, "no bars"},
		{Figure{X: xs, Lines: []Series{{Values: ok}}, ValueLabels: true}, "no bars"},
		{Figure{X: xs, Bars: []Series{{Values: ok}}, Horizontal: true}, "needs XLabels"},
		{Figure{XLabels: []string{"a", "b", "c"}, Lines: []Series{{Values: ok}}, Horizontal: true}, "bars only"},
		{Figure{X: xs, Bars: []Series{{Values: ok}}, Sort: Descending}, "Sort needs"},
		{Figure{X: xs, Lines: []Series{{Values: ok}}, Bands: []Band{{From: 2, To: 1}}}, "finite From < To"},
		{Figure{X: xs, Lines: []Series{{Values: ok}}, YMin: Float(3), YMax: Float(3)}, "not below YMax"},
		{Figure{X: xs, Lines: []Series{{Values: ok}}, YMax: Float(math.NaN())}, "YMax is NaN"},
	} {
		err := c.f.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "chart: ") {
			t.Errorf("%+v: got %v, want an error with %q", c.f, err, c.want)
		}
	}
	f := lineFigure()
	if err := f.SVG(io.Discard, 100, 400); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("a 100 px wide SVG gives %v", err)
	}
	if err := f.PNG(io.Discard, 400, 50); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("a 50 px high PNG gives %v", err)
	}
	if err := f.PNGScale(io.Discard, 400, 300, 0); err == nil || !strings.Contains(err.Error(), "scale") {
		t.Errorf("scale 0 gives %v", err)
	}
	if err := f.PNGScale(io.Discard, 400, 300, math.NaN()); err == nil {
		t.Error("scale NaN gives no error")
	}
}

// TestOutputIsDeterministic renders every demo figure twice, and once
// more from several goroutines at once, and wants the same bytes.
func TestOutputIsDeterministic(t *testing.T) {
	for _, d := range demoFigures() {
		for _, format := range []string{"svg", "png"} {
			first := render(t, d.fig, format, 720, 400)
			if again := render(t, d.fig, format, 720, 400); !bytes.Equal(first, again) {
				t.Errorf("%s %s: two renderings differ", d.name, format)
			}
			var wg sync.WaitGroup
			outs := make([][]byte, 4)
			for i := range outs {
				wg.Go(func() {
					var buf bytes.Buffer
					var err error
					if format == "svg" {
						err = d.fig.SVG(&buf, 720, 400)
					} else {
						err = d.fig.PNG(&buf, 720, 400)
					}
					if err != nil {
						t.Error(err)
					}
					outs[i] = buf.Bytes()
				})
			}
			wg.Wait()
			for i, o := range outs {
				if !bytes.Equal(first, o) {
					t.Errorf("%s %s: the rendering from goroutine %d differs", d.name, format, i)
				}
			}
		}
	}
}

func TestRenderingLeavesTheFigureAlone(t *testing.T) {
	labels := []string{"b", "c", "a"}
	vals := []float64{2, 3, 1}
	f := Figure{XLabels: labels, Bars: []Series{{Values: vals}}, Sort: Descending, Horizontal: true, ValueLabels: true}
	render(t, f, "svg", 400, 300)
	render(t, f, "png", 400, 300)
	if !slices.Equal(labels, []string{"b", "c", "a"}) || !slices.Equal(vals, []float64{2, 3, 1}) {
		t.Errorf("rendering changed the figure's slices: %v %v", labels, vals)
	}
}

func TestSortOrdersCategoriesByTotal(t *testing.T) {
	f := Figure{
		XLabels: []string{"ana", "bea", "cid", "dan"},
		Bars: []Series{
			{Values: []float64{1, 5, 3, 3}},
			{Values: []float64{1, 0, 1, 0}},
		},
		Stacked: true,
	}
	for _, c := range []struct {
		order Order
		want  []string
		first []float64
	}{
		{Unsorted, []string{"ana", "bea", "cid", "dan"}, []float64{1, 5, 3, 3}},
		{Ascending, []string{"ana", "dan", "cid", "bea"}, []float64{1, 3, 3, 5}},
		{Descending, []string{"bea", "cid", "dan", "ana"}, []float64{5, 3, 3, 1}},
	} {
		f.Sort = c.order
		m, err := f.resolve()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.cats, c.want) || !slices.Equal(m.bars[0].values, c.first) {
			t.Errorf("order %d: categories %v with %v, want %v with %v", c.order, m.cats, m.bars[0].values, c.want, c.first)
		}
	}
	// On a horizontal figure the first category is on top: its label is
	// drawn first, highest up.
	f.Sort, f.Horizontal = Descending, true
	doc := parseSVG(t, render(t, f, "svg", 400, 300))
	var order []string
	for _, s := range doc.texts {
		if slices.Contains(f.XLabels, s) {
			order = append(order, s)
		}
	}
	if !slices.Equal(order, []string{"bea", "cid", "dan", "ana"}) {
		t.Errorf("horizontal labels drawn in the order %v", order)
	}
}

func TestSeriesWithoutColourTakeThePaletteInTurn(t *testing.T) {
	v := []float64{1, 2}
	f := Figure{X: []float64{0, 1},
		Bars:  []Series{{Values: v}, {Values: v, Color: Blue}},
		Lines: []Series{{Values: v}, {Values: v, Color: Grey}, {Values: v}},
	}
	m, err := f.resolve()
	if err != nil {
		t.Fatal(err)
	}
	// Blue is taken explicitly, so the automatic ones start at Orange.
	got := []any{m.bars[0].color, m.bars[1].color, m.lines[0].color, m.lines[1].color, m.lines[2].color}
	want := []any{Orange, Blue, Green, Grey, Vermillion}
	if !slices.Equal(got, want) {
		t.Errorf("colours %v, want %v", got, want)
	}
}

func TestFormatNumber(t *testing.T) {
	for _, c := range []struct {
		v    float64
		d    int
		want string
	}{
		{0, 0, "0"}, {-0.0001, 2, "0.00"}, {999, 0, "999"}, {1000, 0, "1,000"}, {-12345.678, 1, "−12,345.7"},
		{1234567.5, 2, "1,234,567.50"}, {0.05, 2, "0.05"}, {-3.8, 2, "−3.80"}, {100000, 0, "100,000"},
	} {
		if got := formatNumber(c.v, c.d); got != c.want {
			t.Errorf("formatNumber(%v, %d) = %q, want %q", c.v, c.d, got, c.want)
		}
	}
}

func TestValueTicksAreRound(t *testing.T) {
	for _, c := range []struct {
		lo, hi, target float64
		want           string
	}{
		{0, 5.8, 5, "0 1 2 3 4 5 6"},
		{0, 0.284, 5.5, "0.00 0.05 0.10 0.15 0.20 0.25 0.30"},
		{0, 27.9, 5, "0 5 10 15 20 25 30"},
		{-3.8, 61.9, 8, "−10 0 10 20 30 40 50 60 70"},
		{0, 12500, 5, "0 2,500 5,000 7,500 10,000 12,500"},
	} {
		ticks, _, _ := valueScale(c.lo, c.hi, nil, nil, c.target)
		var labels []string
		for _, tk := range ticks {
			labels = append(labels, tk.Label)
		}
		if got := strings.Join(labels, " "); got != c.want {
			t.Errorf("valueScale(%v, %v) ticks %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
	// Fixed ends are kept and only ticks inside them are drawn.
	ticks, lo, hi := valueScale(0.05, 0.32, Float(0.05), Float(0.32), 5)
	if lo != 0.05 || hi != 0.32 || ticks[0].Value < 0.05 || ticks[len(ticks)-1].Value > 0.32 {
		t.Errorf("fixed ends: %v..%v, ticks %v", lo, hi, ticks)
	}
}

func TestHourLabelsThinOutWhenCrowded(t *testing.T) {
	width := func(s string) float64 { return 7 * float64(len(s)) } // "00" is 14 px
	for _, c := range []struct {
		px   float64
		want string
	}{
		{900, "00 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23"},
		{400, "00 02 04 06 08 10 12 14 16 18 20 22"},
		{200, "00 03 06 09 12 15 18 21"},
		{100, "00 06 12 18"},
	} {
		var got []string
		for _, tk := range categoryTicks(Hours(), c.px, width, false) {
			got = append(got, tk.Label)
		}
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("24 hours in %v px: %q, want %q", c.px, s, c.want)
		}
	}
}

func TestTimeTicksFallOnWholeHoursAndDays(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, loc)
	width := func(s string) float64 { return 7 * float64(len(s)) }
	labels := func(from time.Time, d time.Duration, px float64) string {
		var out []string
		for _, tk := range timeTicks(unixSeconds(from), unixSeconds(from.Add(d)), loc, px, width) {
			out = append(out, tk.Label)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		from time.Time
		d    time.Duration
		px   float64
		want string
	}{
		{t0, 24 * time.Hour, 800, "Mar 2,02:00,04:00,06:00,08:00,10:00,12:00,14:00,16:00,18:00,20:00,22:00,Mar 3"},
		{t0, 24 * time.Hour, 500, "Mar 2,03:00,06:00,09:00,12:00,15:00,18:00,21:00,Mar 3"},
		{t0.Add(30 * time.Minute), 6 * time.Hour, 800, "01:00,02:00,03:00,04:00,05:00,06:00"},
		{t0, 7 * 24 * time.Hour, 800, "Mar 2,Mar 3,Mar 4,Mar 5,Mar 6,Mar 7,Mar 8,Mar 9"},
		{t0, 14 * 24 * time.Hour, 800, "Mar 2,Mar 4,Mar 6,Mar 8,Mar 10,Mar 12,Mar 14,Mar 16"},
		{t0, 14 * 24 * time.Hour, 400, "Mar 2,Mar 9,Mar 16"},
		{t0, 90 * 24 * time.Hour, 500, "Mar 2,Mar 16,Mar 30,Apr 13,Apr 27,May 11,May 25"},
		{t0, 400 * 24 * time.Hour, 800, "Apr 2026,Jul 2026,Oct 2026,Jan 2027,Apr 2027"},
	} {
		if got := labels(c.from, c.d, c.px); got != c.want {
			t.Errorf("%v from %s in %v px:\n got %s\nwant %s", c.d, c.from, c.px, got, c.want)
		}
	}
}

func TestSVGTitleIsEscaped(t *testing.T) {
	f := lineFigure()
	f.Title = `Prices <&> "quotes"`
	doc := parseSVG(t, render(t, f, "svg", 600, 300))
	if doc.title != f.Title {
		t.Errorf("<title> %q, want %q", doc.title, f.Title)
	}
}

func TestTooSmallForThePlotIsAnError(t *testing.T) {
	f := lineFigure()
	f.Subtitle = "a subtitle"
	for i := range 8 {
		f.Lines = append(f.Lines, Series{Name: fmt.Sprintf("a long legend entry %d", i), Values: f.Lines[0].Values})
	}
	err := f.SVG(io.Discard, 160, 100)
	if err == nil || !regexp.MustCompile(`no room left for the plot`).MatchString(err.Error()) {
		t.Errorf("a crowded tiny figure gives %v", err)
	}
}

func BenchmarkSVG(b *testing.B) {
	for _, d := range demoFigures()[:2] {
		b.Run(d.name, func(b *testing.B) {
			for b.Loop() {
				if err := d.fig.SVG(io.Discard, 900, 460); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPNG(b *testing.B) {
	for _, d := range demoFigures()[:2] {
		b.Run(d.name, func(b *testing.B) {
			for b.Loop() {
				if err := d.fig.PNG(io.Discard, 900, 460); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package chart

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// demoFigures are the platform's five figures drawn from synthetic data.
func demoFigures() []struct {
	name string
	fig  Figure
} {
	// A home's day. The EV charges 18:00–21:00 without demand response;
	// with it, the home sheds load in the 17:00–20:00 window and the EV
	// charges after 21:00 instead: the same energy, later.
	base := []float64{0.35, 0.3, 0.28, 0.28, 0.3, 0.45, 0.95, 1.7, 1.45, 0.8, 0.7, 0.75,
		0.95, 0.8, 0.7, 0.75, 1.1, 1.9, 4.9, 5.2, 4.6, 1.6, 0.9, 0.55}
	withDR := []float64{0.35, 0.3, 0.28, 0.28, 0.3, 0.45, 0.95, 1.7, 1.45, 0.8, 0.7, 0.75,
		0.95, 0.8, 0.7, 0.75, 1.1, 1.1, 1.25, 1.35, 2.3, 4.9, 4.5, 3.35}

	// Fourteen days of hourly clearing prices against the tariffs.
	loc := time.FixedZone("CET", 3600)
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, loc)
	var times []time.Time
	var mcp, grid, feedIn []float64
	for h := range 14 * 24 {
		t := t0.Add(time.Duration(h) * time.Hour)
		hour := float64(t.Hour())
		day := float64(h / 24)
		sun := math.Max(0, math.Sin((hour-6)/12*math.Pi))
		cloud := 0.5 + 0.5*math.Sin(day*1.7)
		evening := math.Exp(-math.Pow(hour-19.5, 2) / 6)
		p := 0.165 - 0.07*sun*cloud + 0.07*evening + 0.01*math.Sin(float64(h)*0.77)
		tariff := 0.182
		if t.Hour() >= 8 && t.Hour() < 22 && t.Weekday() != time.Saturday && t.Weekday() != time.Sunday {
			tariff = 0.284
		}
		fit := 0.071
		if day >= 9 {
			fit = 0.064
		}
		times = append(times, t)
		mcp = append(mcp, math.Round(p*1000)/1000)
		grid = append(grid, tariff)
		feedIn = append(feedIn, fit)
	}

	// The community's day: twelve homes' load against their roofs' PV.
	var load, pv, traded, fromGrid []float64
	for h := range 24 {
		hour := float64(h) + 0.5
		l := 9 + 7*math.Exp(-math.Pow(hour-7.5, 2)/3) + 19*math.Exp(-math.Pow(hour-19, 2)/5) + 3*math.Sin(hour/3)
		g := 0.0
		if hour > 6 && hour < 20 {
			g = 42 * math.Pow(math.Sin((hour-6)/14*math.Pi), 1.6)
		}
		load = append(load, math.Round(l*10)/10)
		pv = append(pv, math.Round(g*10)/10)
		tr := math.Min(l, g)
		traded = append(traded, math.Round(tr*10)/10)
		fromGrid = append(fromGrid, math.Round((l-tr)*10)/10)
	}

	// What each member saved over the month, against buying everything
	// from the grid and selling all surplus at the feed-in tariff.
	members := []string{"Alice", "Bruno", "Carla", "Dinis", "Elena", "Filipe", "Gabriela", "Hugo",
		"Inês", "João", "Kátia", "Luís"}
	savings := []float64{42.18, 18.6, 27.35, 61.9, 9.4, 33.05, 51.2, -3.8, 22.75, 14.1, 38.4, 6.25}

	return []struct {
		name string
		fig  Figure
	}{
		{"home-dr", Figure{
			Title:    "A home's day with and without demand response",
			Subtitle: "Household power per hour; the EV's charging moves out of the DR window",
			XLabel:   "Hour of day",
			YLabel:   "Power", YUnit: "kW",
			XLabels: Hours(),
			Lines: []Series{
				{Name: "Without DR", Values: base, Style: Step | Dashed, Color: Grey},
				{Name: "With DR", Values: withDR, Style: Step | Area, Color: Blue},
			},
			Bands: []Band{{From: 17, To: 20, Label: "DR window"}},
		}},
		{"mcp-prices", Figure{
			Title:    "Market clearing price against the tariffs",
			Subtitle: "Hourly auctions, 2–15 March 2026",
			YLabel:   "Price", YUnit: "€/kWh",
			Times: times,
			Lines: []Series{
				{Name: "Grid tariff", Values: grid, Style: Step | Dashed, Color: Vermillion},
				{Name: "Clearing price (MCP)", Values: mcp, Style: Step, Color: Blue},
				{Name: "Feed-in tariff", Values: feedIn, Style: Step | Dashed, Color: Green},
			},
		}},
		{"community-day", Figure{
			Title:    "Community load and generation",
			Subtitle: "Twelve homes, 14 March 2026",
			XLabel:   "Hour of day",
			YLabel:   "Power", YUnit: "kW",
			XLabels: Hours(),
			Lines: []Series{
				{Name: "PV generation", Values: pv, Style: Area, Color: Orange},
				{Name: "Load", Values: load, Color: Blue},
			},
		}},
		{"traded-vs-grid", Figure{
			Title:    "Where the community's energy came from",
			Subtitle: "Energy per hour, 14 March 2026",
			XLabel:   "Hour of day",
			YLabel:   "Energy", YUnit: "kWh",
			XLabels: Hours(),
			Bars: []Series{
				{Name: "Traded in the community", Values: traded, Color: Green},
				{Name: "Bought from the grid", Values: fromGrid, Color: Grey},
			},
			Stacked: true,
		}},
		{"savings", Figure{
			Title:    "Savings per member",
			Subtitle: "March 2026, against grid tariff and feed-in alone",
			YLabel:   "Saved", YUnit: "€",
			XLabels:    members,
			Bars:       []Series{{Values: savings, Color: Green}},
			Horizontal: true, Sort: Descending, ValueLabels: true,
		}},
	}
}

// TestDemoFigures draws the five figures as PNG and SVG.
func TestDemoFigures(t *testing.T) {
	dir := t.TempDir()
	for _, d := range demoFigures() {
		var pngBuf, svgBuf bytes.Buffer
		if err := d.fig.PNG(&pngBuf, 900, 460); err != nil {
			t.Fatalf("%s: PNG: %v", d.name, err)
		}
		if _, err := png.Decode(bytes.NewReader(pngBuf.Bytes())); err != nil {
			t.Fatalf("%s: the PNG does not decode: %v", d.name, err)
		}
		if err := d.fig.SVG(&svgBuf, 900, 460); err != nil {
			t.Fatalf("%s: SVG: %v", d.name, err)
		}
		checkWellFormed(t, svgBuf.Bytes())
		for ext, b := range map[string][]byte{".png": pngBuf.Bytes(), ".svg": svgBuf.Bytes()} {
			if err := os.WriteFile(filepath.Join(dir, d.name+ext), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

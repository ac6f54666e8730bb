// Package chart draws the platform's figures — a home's day with and
// without demand response, market clearing prices against the tariffs,
// community load and generation, traded against grid energy, savings per
// member — as SVG (to inline in HTML reports) and PNG (for papers).
//
// A [Figure] is a plain value that describes what to show, not how: an x
// axis (numbers, category labels or instants), line and bar [Series], and
// shaded [Band]s. The package picks the rest so that every figure looks
// alike: the colour-blind-safe Okabe–Ito palette, Liberation Sans (metric
// compatible with Arial), a bold title and optional subtitle at the top
// left, the legend in a row under the title where it never covers data,
// light horizontal grid lines, y-axis ticks on round numbers with
// thousands separators and the unit in the axis title, hour and date ticks
// that thin out as the axis gets crowded.
//
//	f := chart.Figure{
//		Title:   "A home's day",
//		XLabels: chart.Hours(),
//		YLabel:  "Power", YUnit: "kW",
//		Lines: []chart.Series{
//			{Name: "Without DR", Values: base, Style: chart.Step | chart.Dashed, Color: chart.Grey},
//			{Name: "With DR", Values: withDR, Style: chart.Step},
//		},
//		Bands: []chart.Band{{From: 17, To: 20, Label: "DR window"}},
//	}
//	err := f.SVG(w, 800, 400)
//
// Sizes are in CSS pixels. SVG output is scalable and carries a viewBox;
// PNG output has exactly the requested number of pixels, or a multiple of
// it with [Figure.PNGScale] for print.
//
// Rendering is built on gonum.org/v1/plot and is deterministic: the same
// figure and size give the same bytes. A Figure is never modified by
// rendering, and the package keeps no mutable state of its own, so
// figures may be rendered from many goroutines at once.
package chart

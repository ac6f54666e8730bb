package chart_test

import (
	"bytes"
	"fmt"
	"log"
	"strings"

	"github.com/gridledger/gridledger/internal/chart"
)

// A home's day with and without demand response: household power per
// hour, the DR window shaded, the load it sheds moved to later hours.
func ExampleFigure_SVG() {
	without := []float64{0.4, 0.3, 0.3, 0.3, 0.3, 0.5, 1.0, 1.7, 1.4, 0.8, 0.7, 0.8,
		0.9, 0.8, 0.7, 0.8, 1.1, 1.9, 4.9, 5.2, 4.6, 1.6, 0.9, 0.6}
	with := []float64{0.4, 0.3, 0.3, 0.3, 0.3, 0.5, 1.0, 1.7, 1.4, 0.8, 0.7, 0.8,
		0.9, 0.8, 0.7, 0.8, 1.1, 1.1, 1.3, 1.4, 2.3, 4.9, 4.5, 3.4}
	f := chart.Figure{
		Title:   "Household power, 14 March",
		XLabel:  "Hour of day",
		YLabel:  "Power",
		YUnit:   "kW",
		XLabels: chart.Hours(),
		Lines: []chart.Series{
			{Name: "Without DR", Values: without, Style: chart.Step | chart.Dashed, Color: chart.Grey},
			{Name: "With DR", Values: with, Style: chart.Step | chart.Area},
		},
		Bands: []chart.Band{{From: 17, To: 20, Label: "DR window"}},
	}

	var svg bytes.Buffer
	if err := f.SVG(&svg, 800, 400); err != nil {
		log.Fatal(err)
	}
	for _, line := range strings.Split(svg.String(), "\n") {
		if strings.HasPrefix(line, "<svg") || strings.HasPrefix(line, "<title>") {
			fmt.Println(line)
		}
	}
	// Output:
	// <svg role="img" width="600pt" height="300pt" viewBox="0 0 600 300"
	// <title>Household power, 14 March</title>
}

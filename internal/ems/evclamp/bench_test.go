package evclamp

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// yearOfMinutes is a year of 1-minute clamp samples (525,600 less 1 %).
func yearOfMinutes(b *testing.B) []Sample {
	b.Helper()
	c := DefaultSynthConfig()
	c.Days = 365
	samples, _, err := Synthesize(rand.New(rand.NewPCG(1, 1)), c)
	if err != nil {
		b.Fatal(err)
	}
	return samples
}

func BenchmarkDetectYearOfMinutes(b *testing.B) {
	samples := yearOfMinutes(b)
	opt := DefaultOptions()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Detect(samples, opt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(samples)), "samples")
}

func BenchmarkAnalyzeYearOfMinutes(b *testing.B) {
	samples := yearOfMinutes(b)
	opt := DefaultOptions()
	opt.UTCOffsetH = 1
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Analyze(samples, opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadCSVYearOfMinutes(b *testing.B) {
	data := []byte(encodeCSV(yearOfMinutes(b)))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := ReadCSV(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

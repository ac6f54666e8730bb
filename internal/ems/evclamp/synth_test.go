package evclamp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// compareToTruth checks detected sessions against the true ones: the same
// count, starts and ends within startTolS, energy within tolWh(truth).
func compareToTruth(t *testing.T, name string, got, truth []Session, startTolS int64, tolWh func(Session) float64) {
	t.Helper()
	if len(got) != len(truth) {
		t.Errorf("%s: %d sessions detected, %d true", name, len(got), len(truth))
		for i := range max(len(got), len(truth)) {
			var g, w Session
			if i < len(got) {
				g = got[i]
			}
			if i < len(truth) {
				w = truth[i]
			}
			t.Logf("  got %s %5d Wh   true %s %5d Wh", utc(g.StartUnixS), g.EnergyWh, utc(w.StartUnixS), w.EnergyWh)
		}
		return
	}
	for i, g := range got {
		w := truth[i]
		if d := g.StartUnixS - w.StartUnixS; d < -startTolS || d > startTolS {
			t.Errorf("%s: session %d starts %s, true %s: %+d s, tolerance %d", name, i, utc(g.StartUnixS), utc(w.StartUnixS), d, startTolS)
		}
		if d := g.EndUnixS - w.EndUnixS; d < -startTolS || d > startTolS {
			t.Errorf("%s: session %d ends %s, true %s: %+d s, tolerance %d", name, i, utc(g.EndUnixS), utc(w.EndUnixS), d, startTolS)
		}
		if d := math.Abs(float64(g.EnergyWh - w.EnergyWh)); d > tolWh(w) {
			t.Errorf("%s: session %d has %d Wh, true %d: off by %.0f, tolerance %.0f", name, i, g.EnergyWh, w.EnergyWh, d, tolWh(w))
		}
	}
}

// longestIntervalS is the longest interval the jitter allows: "one sample
// period" of an irregular series.
func longestIntervalS(c SynthConfig) int64 {
	return int64(math.Ceil(float64(c.PeriodS) * (1 + c.JitterFrac)))
}

// TestDetectMatchesSyntheticTruth is the property test: on synthetic
// series with jitter, noise, lost samples, outages, pauses and tapers,
// every true session is found once, its energy within 2 % and its start
// and end within one sample period.
func TestDetectMatchesSyntheticTruth(t *testing.T) {
	sessions := 0
	for _, period := range []int64{10, 30, 60} {
		for seed := uint64(1); seed <= 8; seed++ {
			c := DefaultSynthConfig()
			c.PeriodS = period
			if period == 10 {
				c.Days = 14
			}
			samples, truth, err := Synthesize(rand.New(rand.NewPCG(seed, uint64(period))), c)
			if err != nil {
				t.Fatal(err)
			}
			if len(truth) < c.Days/3 {
				t.Fatalf("only %d true sessions in %d days", len(truth), c.Days)
			}
			opt := DefaultOptions()
			opt.UTCOffsetH = c.UTCOffsetH
			got, err := Detect(samples, opt)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("period %d s, seed %d", period, seed)
			compareToTruth(t, name, got, truth, longestIntervalS(c), func(w Session) float64 { return 0.02 * float64(w.EnergyWh) })
			sessions += len(truth)
		}
	}
	t.Logf("%d synthetic sessions matched", sessions)
}

// TestCoarseSamplingStaysWithinEdgeError documents what 5- and 15-minute
// clamps can do: the same sessions, starts within one period, and energy
// within the charger's power over two periods (each edge of a session or
// of a pause can be off by half a period at full power).
func TestCoarseSamplingStaysWithinEdgeError(t *testing.T) {
	for _, period := range []int64{300, 900} {
		for seed := uint64(1); seed <= 4; seed++ {
			c := DefaultSynthConfig()
			c.PeriodS = period
			samples, truth, err := Synthesize(rand.New(rand.NewPCG(seed, uint64(period))), c)
			if err != nil {
				t.Fatal(err)
			}
			got := detect(t, samples, nil)
			tolWh := c.ChargerW * 2 * float64(longestIntervalS(c)) / 3600
			compareToTruth(t, "coarse", got, truth, longestIntervalS(c), func(Session) float64 { return tolWh })
		}
	}
}

// TestSynthesizeTruthIsTheIntegral checks the generator: sampled every
// second without noise, loss or standby, the detected energy is the true
// energy and the edges are the true edges.
func TestSynthesizeTruthIsTheIntegral(t *testing.T) {
	c := DefaultSynthConfig()
	c.Days, c.PeriodS, c.JitterFrac, c.NoiseW, c.StandbyW, c.DropFrac, c.Outages = 4, 1, 0, 0, 0, 0, 0
	c.PauseProb = 1
	samples, truth, err := Synthesize(rand.New(rand.NewPCG(7, 7)), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(truth) == 0 {
		t.Fatal("no sessions")
	}
	compareToTruth(t, "1 s", detect(t, samples, nil), truth, 1, func(Session) float64 { return 1 })
}

func TestSynthesizeIsDeterministic(t *testing.T) {
	c := DefaultSynthConfig()
	c.Days = 7
	a, ta, _ := Synthesize(rand.New(rand.NewPCG(1, 2)), c)
	b, tb, _ := Synthesize(rand.New(rand.NewPCG(1, 2)), c)
	if !slices.Equal(a, b) || !slices.Equal(ta, tb) {
		t.Error("the same seed gave different series")
	}
	d, _, _ := Synthesize(rand.New(rand.NewPCG(1, 3)), c)
	if slices.Equal(a, d) {
		t.Error("different seeds gave the same series")
	}
	c.PeriodS = 0
	if _, _, err := Synthesize(rand.New(rand.NewPCG(1, 2)), c); err == nil {
		t.Error("period 0 accepted")
	}
}

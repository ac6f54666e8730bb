package chart

import (
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
)

// niceStep returns the round step (1, 2, 2.5 or 5 times a power of ten)
// that cuts span into the number of parts closest to target.
func niceStep(span, target float64) float64 {
	target = math.Max(2, math.Min(10, target))
	mag := math.Pow(10, math.Floor(math.Log10(span/target)))
	best, score := 0.0, math.Inf(1)
	for _, m := range []float64{1, 2, 2.5, 5, 10, 20} {
		step := m * mag
		if sc := math.Abs(math.Log(span / step / target)); sc < score-1e-9 {
			best, score = step, sc
		}
	}
	return best
}

// decimals is how many decimal places show every multiple of step (a
// positive number) exactly, to a millionth of it.
func decimals(step float64) int {
	if step <= 0 {
		return 0
	}
	for d := 0; d < 12; d++ {
		s := step * math.Pow10(d)
		if math.Abs(s-math.Round(s)) <= 1e-6*s {
			return d
		}
	}
	return 12
}

// valueScale returns the ticks of the value axis and its ends: the data
// span rounded out to whole steps, or the fixed ends where given.
func valueScale(lo, hi float64, fixedLo, fixedHi *float64, target float64) (ticks []plot.Tick, min, max float64) {
	step := niceStep(hi-lo, target)
	if fixedLo == nil {
		lo = math.Floor(lo/step+1e-9) * step
	}
	if fixedHi == nil {
		hi = math.Ceil(hi/step-1e-9) * step
	}
	return stepTicks(lo, hi, step), lo, hi
}

// numberTicks returns round ticks within [lo, hi].
func numberTicks(lo, hi, target float64) []plot.Tick {
	return stepTicks(lo, hi, niceStep(hi-lo, target))
}

func stepTicks(lo, hi, step float64) []plot.Tick {
	d := decimals(step)
	var ticks []plot.Tick
	for k := math.Ceil(lo/step - 1e-9); k <= math.Floor(hi/step+1e-9); k++ {
		v := k * step
		ticks = append(ticks, plot.Tick{Value: v, Label: formatNumber(v, d)})
	}
	return ticks
}

func tickValues(ticks []plot.Tick) []float64 {
	v := make([]float64, len(ticks))
	for i, t := range ticks {
		v[i] = t.Value
	}
	return v
}

// formatNumber formats v with d decimals, a comma between thousands and
// a true minus sign: formatNumber(-12345.678, 1) is "−12,345.7".
func formatNumber(v float64, d int) string {
	s := strconv.FormatFloat(math.Abs(v), 'f', d, 64)
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	if v < 0 && strings.Trim(s, "0.") != "" {
		b.WriteString("−")
	}
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// categoryTicks labels every k-th category, k the smallest stride at
// which neighbouring labels keep clear of each other. Category i sits at
// i+0.5; on a horizontal figure, at n-i-0.5 so that the first is on top.
func categoryTicks(cats []string, lenPx float64, size func(string) float64, horizontal bool) []plot.Tick {
	n := len(cats)
	need := 0.0
	for _, c := range cats {
		need = math.Max(need, size(c))
	}
	gap := 10.0
	if horizontal {
		gap = 3
	}
	slot := lenPx / float64(n)
	k := 0
	// The strides at which crowded labels are shown: divisors of a day's
	// hours and whole weeks first.
	for _, s := range [...]int{1, 2, 3, 4, 6, 7, 12, 14, 24, 28, 48, 56, 96, 168} {
		if float64(s)*slot >= need+gap {
			k = s
			break
		}
	}
	if k == 0 {
		k = int(math.Ceil((need + gap) / slot))
	}
	ticks := make([]plot.Tick, 0, n/k+1)
	for i := 0; i < n; i += k {
		pos := float64(i) + 0.5
		if horizontal {
			pos = float64(n-i) - 0.5
		}
		ticks = append(ticks, plot.Tick{Value: pos, Label: cats[i]})
	}
	return ticks
}

// A timeStep is a candidate distance between time ticks.
type timeStep struct {
	unit  byte // 'h'our, 'd'ay, 'w'eek (Mondays), 'm'onth, 'y'ear
	n     int
	secs  float64 // roughly
	label string  // the widest label it prints, for measuring
}

func timeSteps() [13]timeStep {
	return [...]timeStep{
		{'h', 1, 3600, "00:00"}, {'h', 2, 2 * 3600, "00:00"}, {'h', 3, 3 * 3600, "00:00"},
		{'h', 6, 6 * 3600, "Mar 30"}, {'h', 12, 12 * 3600, "Mar 30"},
		{'d', 1, 86400, "Mar 30"}, {'d', 2, 2 * 86400, "Mar 30"},
		{'w', 1, 7 * 86400, "Mar 30"}, {'w', 2, 14 * 86400, "Mar 30"},
		{'m', 1, 30.44 * 86400, "Sep 2026"}, {'m', 3, 91.3 * 86400, "Sep 2026"},
		{'m', 6, 182.6 * 86400, "Sep 2026"}, {'y', 1, 365.25 * 86400, "2026"},
	}
}

// timeTicks returns ticks on whole hours, days, Mondays, months or years
// in loc, as far apart as keeps their labels clear of each other. Hours
// are labelled "15:00" and midnights "Mar 3"; days "Mar 3"; months
// "Mar 2026"; years "2026". lo and hi are Unix seconds.
func timeTicks(lo, hi float64, loc *time.Location, lenPx float64, width func(string) float64) []plot.Tick {
	span := hi - lo
	st := timeStep{'y', 1, 365.25 * 86400, "2026"}
	found := false
	for _, s := range timeSteps() {
		if s.secs/span*lenPx >= width(s.label)+18 {
			st, found = s, true
			break
		}
	}
	if !found {
		n := math.Ceil((width("2026") + 18) / lenPx * span / (365.25 * 86400))
		st.n = int(math.Max(1, n))
	}

	start := time.Unix(int64(math.Floor(lo)), 0).In(loc)
	y, mo, d := start.Date()
	var t time.Time
	switch st.unit {
	case 'h':
		t = time.Date(y, mo, d, start.Hour(), 0, 0, 0, loc)
	case 'd', 'w':
		t = time.Date(y, mo, d, 0, 0, 0, 0, loc)
	case 'm':
		t = time.Date(y, mo, 1, 0, 0, 0, 0, loc)
	default:
		t = time.Date(y, 1, 1, 0, 0, 0, 0, loc)
	}
	var ticks []plot.Tick
	for guard := 0; guard < 100000; guard++ {
		v := unixSeconds(t)
		if v > hi+1e-6 {
			break
		}
		y, mo, d := t.Date()
		day := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Unix() / 86400 // civil days since 1970
		keep, label := false, ""
		switch st.unit {
		case 'h':
			keep = t.Hour()%st.n == 0 && t.Minute() == 0
			label = t.Format("15:04")
			if t.Hour() == 0 {
				label = t.Format("Jan 2")
			}
		case 'd':
			keep, label = day%int64(st.n) == 0, t.Format("Jan 2")
		case 'w':
			// 1970-01-05 was a Monday: weeks counted from it.
			keep = t.Weekday() == time.Monday && ((day-4)/7)%int64(st.n) == 0
			label = t.Format("Jan 2")
		case 'm':
			keep, label = (int(mo)-1)%st.n == 0, t.Format("Jan 2006")
		default:
			keep, label = y%st.n == 0, t.Format("2006")
		}
		if keep && v >= lo-1e-6 {
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
		switch st.unit {
		case 'h':
			t = t.Add(time.Hour)
		case 'd', 'w':
			t = t.AddDate(0, 0, 1)
		case 'm':
			t = t.AddDate(0, 1, 0)
		default:
			t = t.AddDate(1, 0, 0)
		}
	}
	return ticks
}

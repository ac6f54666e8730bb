package forecast

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Model sizes and fitting constants of the Prophet-like model.
const (
	// fitWindowDays is how much history a fit uses: 8 weeks sees every
	// weekday eight times yet follows the season.
	fitWindowDays = 56
	dailyOrder    = 8 // daily Fourier order: resolves morning and evening peaks
	weeklyOrder   = 3 // weekly Fourier order (Prophet's default)
	weekendOrder  = 4 // order of the weekend×daily interaction
	// minFitDays is the fewest days with data in the window a fit accepts.
	minFitDays = 14
	// ridgePerRow is the ridge penalty per fitted row: it damps the
	// coefficients that a few missing days leave poorly determined (about a
	// 1 % shrink of a well-determined Fourier term).
	ridgePerRow = 0.01
	// irlsIterations of the least-absolute-deviations second stage.
	irlsIterations = 10
	// minLevelHours is how many observed hours a day needs for its mean
	// residual to count as "yesterday's level".
	minLevelHours = 6
)

// numFeatures is the width of a design row: intercept, trend, daily, weekly,
// weekend shift and weekend×daily terms.
const numFeatures = 2 + 2*dailyOrder + 2*weeklyOrder + 1 + 2*weekendOrder

// designRow fills dst (len numFeatures) with the regressors of the hour
// starting at tS, for a fit whose forecast day starts at dayStartS; offS is
// the UTC offset in seconds (local = UTC + offS). Columns:
//
//	0      intercept
//	1      trend τ = (t − dayStart) / window, −1 at the window's start, 0 at the forecast day
//	2..    sin, cos(2πk·hour/24), k = 1..dailyOrder
//	..     sin, cos(2πk·weekPhase), k = 1..weeklyOrder, weekPhase ∈ [0,1) from Thursday 00:00 local
//	..     weekend (1 on Saturday and Sunday, local)
//	..     weekend × sin, cos(2πk·hour/24), k = 1..weekendOrder
func designRow(dst []float64, tS, dayStartS, offS int64) {
	local := tS + offS
	hourOfWeek := ((local % WeekS) + WeekS) % WeekS
	wd := weekday(floorDiv(local, DayS))
	weekend := 0.0
	if wd == 0 || wd == 6 {
		weekend = 1
	}
	i := 0
	put := func(v float64) { dst[i] = v; i++ }
	put(1)
	put(float64(tS-dayStartS) / (fitWindowDays * DayS))
	// Fits run on whole hours: their sines come from a table computed
	// with the same expressions, so the values are the same bit for bit.
	var daily *[2 * dailyOrder]float64
	var weekly *[2 * weeklyOrder]float64
	if hourOfWeek%HourS == 0 {
		daily, weekly = &trig.daily[hourOfWeek%DayS/HourS], &trig.weekly[hourOfWeek/HourS]
	} else {
		daily, weekly = new([2 * dailyOrder]float64), new([2 * weeklyOrder]float64)
		*daily, *weekly = dailyTerms(float64(hourOfWeek%DayS)/HourS), weeklyTerms(float64(hourOfWeek)/WeekS)
	}
	for _, v := range daily {
		put(v)
	}
	for _, v := range weekly {
		put(v)
	}
	put(weekend)
	for _, v := range daily[:2*weekendOrder] {
		put(weekend * v)
	}
}

// dailyTerms are sin, cos(2πk·hour/24), k = 1..dailyOrder.
func dailyTerms(hour float64) (out [2 * dailyOrder]float64) {
	for k := 1; k <= dailyOrder; k++ {
		a := 2 * math.Pi * float64(k) * hour / 24
		out[2*k-2], out[2*k-1] = math.Sin(a), math.Cos(a)
	}
	return out
}

// weeklyTerms are sin, cos(2πk·weekPhase), k = 1..weeklyOrder.
func weeklyTerms(weekPhase float64) (out [2 * weeklyOrder]float64) {
	for k := 1; k <= weeklyOrder; k++ {
		a := 2 * math.Pi * float64(k) * weekPhase
		out[2*k-2], out[2*k-1] = math.Sin(a), math.Cos(a)
	}
	return out
}

// trig holds the Fourier terms of every whole hour of the day and week.
var trig = func() (t struct {
	daily  [24][2 * dailyOrder]float64
	weekly [168][2 * weeklyOrder]float64
}) {
	for h := range t.daily {
		t.daily[h] = dailyTerms(float64(h*HourS) / HourS)
	}
	for h := range t.weekly {
		t.weekly[h] = weeklyTerms(float64(h*HourS) / WeekS)
	}
	return t
}()

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// prophetForecast fits the seasonal model on the fitWindowDays before the
// day and forecasts the day; with level it adds the recent-level stage.
func prophetForecast(past pastView, dayStartS, dayIdx int64, level bool) ([24]float64, error) {
	offS := dayIdx*DayS - dayStartS
	w, err := observe(past, dayStartS)
	if err != nil {
		return [24]float64{}, err
	}
	beta, err := fitSeasonal(w, dayStartS, offS)
	if err != nil {
		return [24]float64{}, err
	}
	return w.forecast(beta, dayStartS, offS, level)
}

// window is the observed hours of the fitWindowDays before a day.
type window struct {
	startS int64
	obs    []bool
	y      []float64
	n      int
}

func observe(past pastView, dayStartS int64) (window, error) {
	const nHours = fitWindowDays * 24
	w := window{startS: dayStartS - fitWindowDays*DayS, obs: make([]bool, nHours), y: make([]float64, nHours)}
	days := 0
	for d := range fitWindowDays {
		seen := false
		for h := range 24 {
			i := d*24 + h
			if v, ok := past.get(w.startS + int64(i)*HourS); ok {
				w.obs[i], w.y[i] = true, float64(v)
				w.n++
				seen = true
			}
		}
		if seen {
			days++
		}
	}
	if days < minFitDays || w.n < 4*numFeatures {
		return w, fmt.Errorf("%w: %d days with data in the %d days before (need %d)", ErrNotEnoughHistory, days, fitWindowDays, minFitDays)
	}
	return w, nil
}

// fitSeasonal is stage 1, the seasonal ridge regression on the window,
// with the trend measured from fitDayS.
func fitSeasonal(w window, fitDayS, offS int64) ([]float64, error) {
	x := mat.NewDense(w.n, numFeatures, nil)
	y := make([]float64, 0, w.n)
	row := 0
	for i, ok := range w.obs {
		if !ok {
			continue
		}
		designRow(x.RawRowView(row), w.startS+int64(i)*HourS, fitDayS, offS)
		y = append(y, w.y[i])
		row++
	}
	penalize := make([]bool, numFeatures)
	for j := 1; j < numFeatures; j++ {
		penalize[j] = true // not the intercept: the level must not be shrunk to 0
	}
	return ridgeSolve(x, y, nil, ridgePerRow*float64(w.n), penalize)
}

// forecast evaluates a seasonal fit (made for the day fitDayS) over the
// window and the day after it, and with level adds the recent-level stage.
func (w window) forecast(beta []float64, fitDayS, offS int64, level bool) ([24]float64, error) {
	var f [24]float64
	nHours := len(w.obs)
	seasonal := make([]float64, nHours+24)
	xr := make([]float64, numFeatures)
	for i := range seasonal {
		designRow(xr, w.startS+int64(i)*HourS, fitDayS, offS)
		seasonal[i] = dot(xr, beta)
	}
	if !level {
		copy(f[:], seasonal[nHours:])
		return f, nil
	}
	return levelStage(w.obs, w.y, seasonal)
}

// Model forecasts day after day with the Prophet-level method, refitting
// its seasonal stage only every RefitDays days (its trend carries it over
// the days between); the level stage, which follows yesterday and last
// week, runs every day. The season moves little in a week, so a simulator
// running a year of a thousand homes uses it to halve the forecasting
// time; Forecast refits every day. A Model is not safe for concurrent use.
type Model struct {
	UTCOffsetH int
	RefitDays  int64
	beta       []float64
	fitDayS    int64
}

// Forecast forecasts the local day starting at dayStartS from the points
// of series before it, as Forecast(series, dayStartS, offset, ProphetLevel)
// would with a seasonal fit up to RefitDays old.
func (m *Model) Forecast(series Series, dayStartS int64) ([24]int64, error) {
	dayIdx, err := localDayIndex(dayStartS, m.UTCOffsetH)
	if err != nil {
		return [24]int64{}, err
	}
	offS := dayIdx*DayS - dayStartS
	past := pastView{s: series, cutS: dayStartS}
	w, err := observe(past, dayStartS)
	if err != nil {
		return [24]int64{}, err
	}
	if m.beta == nil || dayStartS < m.fitDayS || dayStartS-m.fitDayS >= max(1, m.RefitDays)*DayS {
		if m.beta, err = fitSeasonal(w, dayStartS, offS); err != nil {
			m.beta = nil
			return [24]int64{}, err
		}
		m.fitDayS = dayStartS
	}
	f, err := w.forecast(m.beta, m.fitDayS, offS, true)
	if err != nil {
		return [24]int64{}, err
	}
	return whole(past, dayStartS, f), nil
}

// levelStage fits y = c0 + c1·s + c2·r̄(yesterday) + c3·r(t−24h) + c4·r(t−168h)
// by least absolute deviations over the window (s the seasonal fit, r its
// residuals, missing residuals 0 = "no news") and forecasts the last 24
// entries of seasonal.
func levelStage(obs []bool, yAll, seasonal []float64) ([24]float64, error) {
	var f [24]float64
	nHours := len(obs)
	resid := make([]float64, nHours)
	have := make([]bool, nHours)
	for i := range nHours {
		if obs[i] {
			resid[i], have[i] = yAll[i]-seasonal[i], true
		}
	}
	// Mean residual per day (0 when too few hours are observed).
	nDays := nHours / 24
	dayMean := make([]float64, nDays)
	for d := range nDays {
		var sum float64
		cnt := 0
		for h := range 24 {
			if have[d*24+h] {
				sum += resid[d*24+h]
				cnt++
			}
		}
		if cnt >= minLevelHours {
			dayMean[d] = sum / float64(cnt)
		}
	}
	lag := func(i, back int) float64 {
		if j := i - back; j >= 0 && j < nHours && have[j] {
			return resid[j]
		}
		return 0
	}
	const p = 5
	features := func(dst []float64, i int) {
		dst[0] = 1
		dst[1] = seasonal[i]
		dst[2] = dayMean[i/24-1]
		dst[3] = lag(i, 24)
		dst[4] = lag(i, 168)
	}
	var rows []int
	for i := 24; i < nHours; i++ {
		if obs[i] {
			rows = append(rows, i)
		}
	}
	x := mat.NewDense(len(rows), p, nil)
	y := make([]float64, len(rows))
	var meanAbs float64
	for r, i := range rows {
		features(x.RawRowView(r), i)
		y[r] = yAll[i]
		meanAbs += math.Abs(yAll[i])
	}
	meanAbs /= float64(len(rows))
	// IRLS for least absolute deviations: weights 1/|residual|, floored so
	// that exactly fitted points do not take over.
	floor := math.Max(1, 0.01*meanAbs)
	w := make([]float64, len(rows))
	for r := range w {
		w[r] = 1
	}
	penalize := []bool{false, false, true, true, true}
	var c []float64
	for it := 0; it < irlsIterations; it++ {
		var err error
		// A tiny ridge only for numerical safety (a lag column can be all 0).
		if c, err = ridgeSolve(x, y, w, 1e-6*float64(len(rows)), penalize); err != nil {
			return f, err
		}
		for r := range rows {
			w[r] = 1 / math.Max(math.Abs(y[r]-dot(x.RawRowView(r), c)), floor)
		}
	}
	xr := make([]float64, p)
	for h := range 24 {
		features(xr, nHours+h)
		f[h] = dot(xr, c)
	}
	return f, nil
}

// ridgeSolve minimises Σ w_i (y_i − x_i·β)² + λ Σ_{j penalised} β_j² by the
// normal equations and a Cholesky factorisation (XᵀWX + λP is symmetric
// positive definite when λ > 0 and the intercept column is non-zero). w nil
// means unit weights.
func ridgeSolve(x *mat.Dense, y, w []float64, lambda float64, penalize []bool) ([]float64, error) {
	n, p := x.Dims()
	if p <= 8 {
		return ridgeSolveNarrow(x, y, w, lambda, penalize)
	}
	xw := x
	yw := y
	if w != nil {
		xw = mat.NewDense(n, p, nil)
		yw = make([]float64, n)
		for i := range n {
			sw := math.Sqrt(w[i])
			src, dst := x.RawRowView(i), xw.RawRowView(i)
			for j := range p {
				dst[j] = src[j] * sw
			}
			yw[i] = y[i] * sw
		}
	}
	var xtx mat.SymDense
	xtx.SymOuterK(1, xw.T())
	for j := range p {
		if penalize[j] {
			xtx.SetSym(j, j, xtx.At(j, j)+lambda)
		}
	}
	var xty mat.VecDense
	xty.MulVec(xw.T(), mat.NewVecDense(n, yw))
	var chol mat.Cholesky
	if !chol.Factorize(&xtx) {
		return nil, fmt.Errorf("forecast: regression is singular (too few distinct hours)")
	}
	var beta mat.VecDense
	if err := chol.SolveVecTo(&beta, &xty); err != nil {
		return nil, fmt.Errorf("forecast: solving the regression: %w", err)
	}
	return beta.RawVector().Data, nil
}

// ridgeSolveNarrow is ridgeSolve for a few columns (the level stage's
// IRLS, ten solves a forecast): the normal equations summed row by row,
// with no √W·X copy, cost a fraction of a BLAS rank-k update that size.
func ridgeSolveNarrow(x *mat.Dense, y, w []float64, lambda float64, penalize []bool) ([]float64, error) {
	n, p := x.Dims()
	xtx := make([]float64, p*p)
	xty := make([]float64, p)
	for i := range n {
		row := x.RawRowView(i)
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		for j, xj := range row {
			wxj := wi * xj
			xty[j] += wxj * y[i]
			for k := j; k < p; k++ {
				xtx[j*p+k] += wxj * row[k]
			}
		}
	}
	for j := range p {
		if penalize[j] {
			xtx[j*p+j] += lambda
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(mat.NewSymDense(p, xtx)) {
		return nil, fmt.Errorf("forecast: regression is singular (too few distinct hours)")
	}
	var beta mat.VecDense
	if err := chol.SolveVecTo(&beta, mat.NewVecDense(p, xty)); err != nil {
		return nil, fmt.Errorf("forecast: solving the regression: %w", err)
	}
	return beta.RawVector().Data, nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Package forecast makes day-ahead hourly forecasts of a home's consumption
// or PV production for the home energy management system (EMS).
//
// A forecast is made for one local day (24 hours from local midnight, local
// time = UTC + a fixed offset in hours, no daylight saving) from the hourly
// history strictly before that midnight. Missing hours are simply absent
// from a Series; no method fills them in before fitting.
//
// Methods:
//
//   - same-hour-yesterday, same-hour-last-week, mean-4-weekdays: the naive
//     baselines every forecaster has to beat.
//   - prophet: a Prophet-like additive model (Taylor & Letham 2018, the model
//     the seed paper names) fitted as one ridge least-squares regression on
//     the last 8 weeks: y(t) = a + b·t (linear trend) + daily Fourier series
//     of order 8 + weekly Fourier series of order 3 + a weekend shift and a
//     weekend×daily Fourier interaction of order 4, because households run
//     a different daily shape on Saturdays and Sundays. Prophet's changepoints
//     are left out: over a one-day horizon the last segment's slope is what
//     matters and a single ridge-damped slope is steadier.
//   - prophet-level: the same seasonal fit, then a second small regression
//     that corrects it with the recent level: y(t) = c0 + c1·s(t) +
//     c2·r̄(yesterday) + c3·r(t−24h) + c4·r(t−168h), where s is the
//     seasonal fit and r its residuals. Household load follows the weather
//     and occupancy, which persist for days and which pure seasonality cannot
//     see; the residual lags carry that. The second stage is fitted by least
//     absolute deviations (IRLS), because the score is the mean absolute
//     error and household load is right-skewed: the conditional median, not
//     the mean, minimises it.
//   - auto: per series and day, the method with the lowest nMAE over a
//     rolling backtest of the preceding days (using only data before the
//     forecast day).
//
// Every forecast is clamped at zero, and an hour of the day that was zero on
// every observed day of the last four weeks is forecast as zero (PV at night,
// which also keeps PV forecasts non-negative and exactly dark when dark).
//
// The package is pure: no I/O, no clock, no goroutines.
package forecast

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// Durations in seconds.
const (
	HourS = 3600
	DayS  = 24 * HourS
	WeekS = 7 * DayS
)

// ErrNotEnoughHistory is wrapped by every error caused by too little data
// before the forecast day.
var ErrNotEnoughHistory = errors.New("not enough history")

// Point is one hourly energy value: the hour starting at UnixS (UTC unix
// seconds, a multiple of 3600) had Wh watt-hours.
type Point struct {
	UnixS int64
	Wh    int64
}

// Series is an hourly series: hour start (UTC unix seconds) → energy in Wh.
// Missing hours are absent.
type Series map[int64]int64

// NewSeries builds a Series from points. It rejects timestamps that are not
// on the hour, duplicate hours and negative energies.
func NewSeries(points []Point) (Series, error) {
	s := make(Series, len(points))
	for _, p := range points {
		if p.UnixS%HourS != 0 {
			return nil, fmt.Errorf("forecast: %s is not the start of an hour", time.Unix(p.UnixS, 0).UTC().Format(time.RFC3339))
		}
		if p.Wh < 0 {
			return nil, fmt.Errorf("forecast: negative energy %d Wh at %s", p.Wh, time.Unix(p.UnixS, 0).UTC().Format(time.RFC3339))
		}
		if _, dup := s[p.UnixS]; dup {
			return nil, fmt.Errorf("forecast: duplicate hour %s", time.Unix(p.UnixS, 0).UTC().Format(time.RFC3339))
		}
		s[p.UnixS] = p.Wh
	}
	return s, nil
}

// Span returns the first and last hour start of the series (0, 0 if empty).
func (s Series) Span() (first, last int64) {
	started := false
	for t := range s {
		if !started || t < first {
			first = t
		}
		if !started || t > last {
			last = t
		}
		started = true
	}
	return first, last
}

// Hours returns the hour starts of the series in ascending order.
func (s Series) Hours() []int64 {
	hs := make([]int64, 0, len(s))
	for t := range s {
		hs = append(hs, t)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i] < hs[j] })
	return hs
}

// Day returns the 24 hourly values of the local day starting at dayStartS
// (local midnight as UTC unix seconds) and which of them are present.
func (s Series) Day(dayStartS int64) (wh [24]int64, ok [24]bool) {
	for h := range 24 {
		wh[h], ok[h] = s[dayStartS+int64(h)*HourS]
	}
	return wh, ok
}

// LocalMidnight returns the UTC unix seconds of local midnight of the given
// calendar date, local time being UTC + utcOffsetH hours.
func LocalMidnight(year int, month time.Month, day, utcOffsetH int) int64 {
	return time.Date(year, month, day, 0, 0, 0, 0, time.UTC).Unix() - int64(utcOffsetH)*HourS
}

// localDayIndex returns the days since 1970-01-01 (local) of local midnight
// dayStartS, and an error if dayStartS is not a local midnight.
func localDayIndex(dayStartS int64, utcOffsetH int) (int64, error) {
	if utcOffsetH < -12 || utcOffsetH > 14 {
		return 0, fmt.Errorf("forecast: UTC offset %d h out of range", utcOffsetH)
	}
	local := dayStartS + int64(utcOffsetH)*HourS
	if local%DayS != 0 {
		return 0, fmt.Errorf("forecast: %d is not a local midnight at UTC%+d", dayStartS, utcOffsetH)
	}
	return local / DayS, nil
}

// weekday of a local day index (1970-01-01 was a Thursday).
func weekday(dayIdx int64) time.Weekday {
	return time.Weekday(((dayIdx+4)%7 + 7) % 7)
}

// Method names a forecasting method.
type Method string

// The methods.
const (
	SameHourYesterday Method = "same-hour-yesterday"
	SameHourLastWeek  Method = "same-hour-last-week"
	Mean4Weekdays     Method = "mean-4-weekdays"
	Prophet           Method = "prophet"
	ProphetLevel      Method = "prophet-level"
	Auto              Method = "auto"
)

// Methods lists every method, baselines first, auto last.
func Methods() []Method {
	return []Method{SameHourYesterday, SameHourLastWeek, Mean4Weekdays, Prophet, ProphetLevel, Auto}
}

// ParseMethod checks a method name.
func ParseMethod(name string) (Method, error) {
	for _, m := range Methods() {
		if string(m) == name {
			return m, nil
		}
	}
	return "", fmt.Errorf("forecast: unknown method %q (want one of %v)", name, Methods())
}

// Forecast returns the 24 hourly forecasts in Wh of the local day starting at
// dayStartS (local midnight as UTC unix seconds; local = UTC + utcOffsetH),
// made with method m from the points of series strictly before dayStartS.
func Forecast(series Series, dayStartS int64, utcOffsetH int, m Method) ([24]int64, error) {
	var out [24]int64
	dayIdx, err := localDayIndex(dayStartS, utcOffsetH)
	if err != nil {
		return out, err
	}
	// Every method reads the series through past, which hides the forecast
	// day and everything after it: no method can peek.
	past := pastView{s: series, cutS: dayStartS}
	var f [24]float64
	switch m {
	case SameHourYesterday:
		f, err = sameHourBack(past, dayStartS, DayS, 7)
	case SameHourLastWeek:
		f, err = sameHourBack(past, dayStartS, WeekS, 4)
	case Mean4Weekdays:
		f, err = meanWeekdays(past, dayStartS, 4)
	case Prophet:
		f, err = prophetForecast(past, dayStartS, dayIdx, false)
	case ProphetLevel:
		f, err = prophetForecast(past, dayStartS, dayIdx, true)
	case Auto:
		var best Method
		best, err = autoSelect(past, dayStartS, utcOffsetH)
		if err == nil {
			return Forecast(series, dayStartS, utcOffsetH, best)
		}
	default:
		return out, fmt.Errorf("forecast: unknown method %q", m)
	}
	if err != nil {
		return out, fmt.Errorf("forecast %s for %s: %w", m, time.Unix(dayStartS, 0).UTC().Format(time.RFC3339), err)
	}
	return whole(past, dayStartS, f), nil
}

// whole rounds a forecast to whole Wh: never negative, and 0 in the hours
// that were 0 every observed day of the last four weeks.
func whole(past pastView, dayStartS int64, f [24]float64) (out [24]int64) {
	zero := alwaysZeroHours(past, dayStartS)
	for h := range 24 {
		if zero[h] || !(f[h] > 0) { // also catches NaN
			continue
		}
		out[h] = int64(math.Round(f[h]))
	}
	return out
}

// pastView is a series with everything at or after cutS hidden.
type pastView struct {
	s    Series
	cutS int64
}

func (p pastView) get(t int64) (int64, bool) {
	if t >= p.cutS {
		return 0, false
	}
	v, ok := p.s[t]
	return v, ok
}

// zeroLookbackDays is how far back an hour of the day must have been zero on
// every observed day to be forecast as zero; zeroMinDays is how many of those
// days must be observed for the rule to apply.
const (
	zeroLookbackDays = 28
	zeroMinDays      = 7
)

// alwaysZeroHours marks the hours of the day that were 0 Wh on every observed
// day of the last four weeks (PV at night). Seasonal fits ring a little
// around sunrise and sunset; this keeps dark hours exactly dark.
func alwaysZeroHours(past pastView, dayStartS int64) [24]bool {
	var zero [24]bool
	for h := range 24 {
		n := 0
		allZero := true
		for d := 1; d <= zeroLookbackDays && allZero; d++ {
			if v, ok := past.get(dayStartS + int64(h)*HourS - int64(d)*DayS); ok {
				n++
				allZero = v == 0
			}
		}
		zero[h] = allZero && n >= zeroMinDays
	}
	return zero
}

package forecast

import (
	"errors"
	"fmt"
	"math"
)

// Score is one method's backtest error over the scored hours.
type Score struct {
	Method Method
	// NMAE is Σ|forecast − actual| / Σ actual (a fraction; 0.5 = 50 %).
	NMAE float64
	// RMSEWh is the root-mean-square error in Wh.
	RMSEWh float64
	// Hours is the number of scored hours (the same for every method).
	Hours int
}

// BacktestResult is the outcome of Backtest.
type BacktestResult struct {
	Scores []Score // in the order of the methods asked for
	// Days is the number of days that had at least one actual and a forecast
	// from every method; SkippedDays had actuals but some method lacked
	// history.
	Days, SkippedDays int
}

// Backtest forecasts every local day in [fromS, toS) (local midnights as UTC
// unix seconds) with each method, each from the data before that day, and
// scores them against the actual hours present. A day is scored only if
// every method can forecast it, so all methods are compared on the same
// hours.
func Backtest(series Series, fromS, toS int64, utcOffsetH int, methods []Method) (BacktestResult, error) {
	var res BacktestResult
	if len(methods) == 0 {
		return res, fmt.Errorf("forecast: backtest: no methods")
	}
	if _, err := localDayIndex(fromS, utcOffsetH); err != nil {
		return res, err
	}
	absErr := make([]float64, len(methods))
	sqErr := make([]float64, len(methods))
	var actualSum float64
	hours := 0
	fc := make([][24]int64, len(methods))
	for day := fromS; day < toS; day += DayS {
		actual, ok := series.Day(day)
		anyActual := false
		for _, o := range ok {
			anyActual = anyActual || o
		}
		if !anyActual {
			continue
		}
		skip := false
		for k, m := range methods {
			f, err := Forecast(series, day, utcOffsetH, m)
			if errors.Is(err, ErrNotEnoughHistory) {
				skip = true
				break
			}
			if err != nil {
				return res, err
			}
			fc[k] = f
		}
		if skip {
			res.SkippedDays++
			continue
		}
		res.Days++
		for h := range 24 {
			if !ok[h] {
				continue
			}
			hours++
			actualSum += float64(actual[h])
			for k := range methods {
				e := float64(fc[k][h] - actual[h])
				absErr[k] += math.Abs(e)
				sqErr[k] += e * e
			}
		}
	}
	if hours == 0 {
		return res, fmt.Errorf("forecast: backtest: %w: no day in the range could be scored", ErrNotEnoughHistory)
	}
	for k, m := range methods {
		res.Scores = append(res.Scores, Score{
			Method: m,
			NMAE:   absErr[k] / actualSum,
			RMSEWh: math.Sqrt(sqErr[k] / float64(hours)),
			Hours:  hours,
		})
	}
	return res, nil
}

// autoDays is the length of the rolling backtest auto selects by: two weeks
// show every weekday twice.
const autoDays = 14

// autoCandidates are the methods auto chooses among, simplest first so that
// ties go to the simpler method.
var autoCandidates = []Method{SameHourYesterday, SameHourLastWeek, Mean4Weekdays, Prophet, ProphetLevel}

// autoSelect picks the candidate with the lowest nMAE over the autoDays
// before the day. Only data before the day is read: each backtest day is
// forecast from the data before it and scored against actuals before cutS.
func autoSelect(past pastView, dayStartS int64, utcOffsetH int) (Method, error) {
	// Backtest may read only days before the cut, but pass it the hidden
	// view anyway so that no future point can reach it.
	view := Series{}
	fromS := dayStartS - autoDays*DayS - (fitWindowDays+28)*DayS
	for t := fromS; t < dayStartS; t += HourS {
		if v, ok := past.get(t); ok {
			view[t] = v
		}
	}
	res, err := Backtest(view, dayStartS-autoDays*DayS, dayStartS, utcOffsetH, autoCandidates)
	if errors.Is(err, ErrNotEnoughHistory) {
		// Too short a history for the models: choose among the baselines.
		res, err = Backtest(view, dayStartS-autoDays*DayS, dayStartS, utcOffsetH, autoCandidates[:3])
	}
	if err != nil {
		return "", err
	}
	best := res.Scores[0]
	for _, s := range res.Scores[1:] {
		if s.NMAE < best.NMAE {
			best = s
		}
	}
	return best.Method, nil
}

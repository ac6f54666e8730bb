package agent

import (
	"fmt"

	"github.com/gridledger/gridledger/internal/ems/forecast"
	"github.com/gridledger/gridledger/internal/ems/plan"
)

// HistoryForecast forecasts a home's days from its own hourly history with
// the forecast package: consumption, and PV when the home has a PV series
// (none: no production). When the method cannot fit the history (too
// little of it, or nothing but zeros) it falls back to the same hour
// yesterday. The day's forecast is made once and kept.
func HistoryForecast(consumption, pv forecast.Series, utcOffsetH int, m forecast.Method) ForecastFunc {
	cache := map[int64][2][plan.HoursPerDay]int64{}
	return func(dayStart int64) (base, prod [plan.HoursPerDay]int64, err error) {
		if c, ok := cache[dayStart]; ok {
			return c[0], c[1], nil
		}
		if base, err = withFallback(consumption, dayStart, utcOffsetH, m); err != nil {
			return base, prod, fmt.Errorf("consumption: %w", err)
		}
		if len(pv) > 0 {
			if prod, err = withFallback(pv, dayStart, utcOffsetH, m); err != nil {
				return base, prod, fmt.Errorf("pv: %w", err)
			}
			for h := range prod {
				prod[h] = max(prod[h], 0)
			}
		}
		for h := range base {
			base[h] = max(base[h], 0)
		}
		cache[dayStart] = [2][plan.HoursPerDay]int64{base, prod}
		return base, prod, nil
	}
}

func withFallback(s forecast.Series, dayStart int64, utcOffsetH int, m forecast.Method) ([plan.HoursPerDay]int64, error) {
	f, err := forecast.Forecast(s, dayStart, utcOffsetH, m)
	if err != nil && m != forecast.SameHourYesterday {
		return forecast.Forecast(s, dayStart, utcOffsetH, forecast.SameHourYesterday)
	}
	return f, err
}

package forecast

import "fmt"

// sameHourBack forecasts each hour with the value stepS seconds earlier
// (a day: same hour yesterday; a week: same hour last week). A missing hour
// falls back to the same hour one more step back, up to maxSteps steps,
// because a baseline that gives up on one missing reading would be scored on
// fewer hours than the models it is compared with.
func sameHourBack(past pastView, dayStartS, stepS int64, maxSteps int) ([24]float64, error) {
	var f [24]float64
	for h := range 24 {
		t := dayStartS + int64(h)*HourS
		found := false
		for k := 1; k <= maxSteps && !found; k++ {
			if v, ok := past.get(t - int64(k)*stepS); ok {
				f[h], found = float64(v), true
			}
		}
		if !found {
			return f, fmt.Errorf("%w: hour %d missing in the last %d steps of %d h", ErrNotEnoughHistory, h, maxSteps, stepS/HourS)
		}
	}
	return f, nil
}

// meanWeekdays forecasts each hour with the mean of the same hour on the last
// n same weekdays, over those that are present.
func meanWeekdays(past pastView, dayStartS int64, n int) ([24]float64, error) {
	var f [24]float64
	for h := range 24 {
		t := dayStartS + int64(h)*HourS
		var sum float64
		cnt := 0
		for k := 1; k <= n; k++ {
			if v, ok := past.get(t - int64(k)*WeekS); ok {
				sum += float64(v)
				cnt++
			}
		}
		if cnt == 0 {
			return f, fmt.Errorf("%w: hour %d missing on all of the last %d same weekdays", ErrNotEnoughHistory, h, n)
		}
		f[h] = sum / float64(cnt)
	}
	return f, nil
}

package agent

import (
	"os"
	"testing"

	"github.com/gridledger/gridledger/internal/ems/forecast"
	"github.com/gridledger/gridledger/internal/ems/plan"
)

// readFixture reads one site's series from the forecaster's fixtures.
func readFixture(tb testing.TB, path, site string) forecast.Series {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	all, err := forecast.ReadHourlyCSV(f)
	if err != nil {
		tb.Fatal(err)
	}
	return all[site]
}

// BenchmarkForecastAndPlan1000Homes is the figure: for 1,000 homes,
// a day-ahead forecast of consumption and PV (Prophet-level, 8 weeks of
// real history each: the fixture household, scaled per home so no two
// fits are alike) and the exact plan of 3-5 appliances, one day, on one
// goroutine.
func BenchmarkForecastAndPlan1000Homes(b *testing.B) {
	cons := readFixture(b, "../forecast/testdata/consumption.csv", "opsd_res4")
	pv := readFixture(b, "../forecast/testdata/pv.csv", "opsd_res4")
	day := forecast.LocalMidnight(2016, 3, 31, 1)
	scaled := func(s forecast.Series, pct int64) forecast.Series {
		out := make(forecast.Series, len(s))
		for t, v := range s {
			out[t] = v * pct / 100
		}
		return out
	}
	type home struct {
		cons, pv forecast.Series
		apps     []plan.Appliance
	}
	homes := make([]home, 1000)
	for i := range homes {
		ev := int64(6000 + 1000*(i%8))
		apps := []plan.Appliance{
			{Name: "washer", Start: 8, End: 20, Flexible: true, PowerW: 2000, Hours: 2},
			{Name: "dishwasher", Start: 19, End: 7, Flexible: true, PowerW: 1200, Hours: 2},
			{Name: "fridge", Start: 0, End: 0, PowerW: 60, Hours: 24},
		}
		if i%2 == 0 {
			apps = append(apps, plan.Appliance{Name: "ev", Start: 17, End: 7, Flexible: true, PowerW: 7400, MaxPowerW: 7400, EnergyWh: &ev})
		}
		if i%3 == 0 {
			apps = append(apps, plan.Appliance{Name: "heat-pump", Start: 10, End: 16, Flexible: true, PowerW: 1500, Hours: 3, Splittable: true})
		}
		homes[i] = home{scaled(cons, int64(60+i%80)), scaled(pv, int64(i%5*40)), apps}
	}
	buy, sell := make([]int64, 24), make([]int64, 24)
	for h := range 24 {
		buy[h], sell[h] = 65_000, 39_000
		if h >= 13 && h < 23 {
			buy[h] = 95_000
		}
	}
	for b.Loop() {
		for _, h := range homes {
			base, prod, err := HistoryForecast(h.cons, h.pv, 1, forecast.ProphetLevel)(day)
			if err != nil {
				b.Fatal(err)
			}
			s := plan.Site{BaseWh: base[:], PVWh: prod[:], BuyMicroPerKWh: buy, SellMicroPerKWh: sell, Appliances: h.apps}
			if _, err := plan.Plan(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}

package community

import (
	_ "embed" // the profile tables
	"encoding/csv"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The profile tables, learned from real data by TestRegenerateProfiles
// (see profiles/README.md) and committed, so the binary needs no data
// files.
var (
	//go:embed profiles/load.csv
	loadCSV string
	//go:embed profiles/variability.csv
	variabilityCSV string
	//go:embed profiles/pv.csv
	pvCSV string
	//go:embed profiles/climate.csv
	climateCSV string
)

// residuals is how many quantiles of the hour-level residual a profile keeps.
const residuals = 32

// loadProfile is a load's typical week through the year and how real
// days and hours scatter around it.
type loadProfile struct {
	// rel[weekend][month][hour] is the mean energy in that local hour
	// relative to the year's mean hour (1 = an average hour).
	rel [2][12][24]float64
	// rowSum[weekend][month] is the sum of a row of rel: a typical day.
	rowSum [2][12]float64
	// dayCV is the standard deviation of a day's energy relative to its
	// typical day; dayLag1 the correlation of consecutive days' deviations;
	// shared the part of the deviations common to all households (their
	// correlation across sites).
	dayCV, dayLag1, shared float64
	// resid are equally spaced quantiles of an hour's energy relative to
	// its typical value once the day's deviation is taken out; mean 1.
	resid [residuals]float64
}

// pvProfile is a PV array's mean output in Wh per W of capacity by month
// and local hour.
type pvProfile struct {
	whPerW [12][24]float64
}

// Embedded profile names, and the synthetic ones.
const (
	ProfileSynthetic = "synthetic"
	ProfileClearSky  = "clear-sky"
	ProfileWeibull   = "weibull"
)

// Synthetic load shapes (Load.Shape).
const (
	ShapeHome      = "home"
	ShapeOffice    = "office"
	ShapeLighting  = "lighting"
	ShapeEVStation = "ev-station"
)

var (
	loadProfiles = map[string]*loadProfile{}
	pvProfiles   = map[string]*pvProfile{}
	// clearness is the mean clearness of the sky by month: the share of
	// the clear-sky PV energy that a month's average day brings.
	clearness [12]float64
	// shapes are the synthetic load shapes that are tables (lighting
	// follows the sun instead).
	shapes = map[string]*loadProfile{}
)

func init() {
	parseLoadTables()
	parsePVTables()
	buildShapes()
}

// LoadProfiles lists the embedded load profiles, sorted; "synthetic" is
// the other choice.
func LoadProfiles() []string {
	var out []string
	for name := range loadProfiles {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// PVProfiles lists the PV profiles: "clear-sky" and the embedded ones.
func PVProfiles() []string {
	out := []string{ProfileClearSky}
	for name := range pvProfiles {
		out = append(out, name)
	}
	slices.Sort(out[1:])
	return out
}

// readTable reads an embedded CSV. The tables are part of the program, so a
// malformed one is a broken build: panic.
func readTable(name, text string, cols int) [][]string {
	r := csv.NewReader(strings.NewReader(text))
	r.Comment = '#'
	r.FieldsPerRecord = cols
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 2 {
		panic(fmt.Sprintf("community: embedded %s: %v", name, err))
	}
	return rows[1:]
}

func num(name, s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		panic(fmt.Sprintf("community: embedded %s: bad number %q", name, s))
	}
	return v
}

func parseLoadTables() {
	seen := map[string]int{}
	for _, row := range readTable("load.csv", loadCSV, 3+24) {
		p := loadProfiles[row[0]]
		if p == nil {
			p = &loadProfile{}
			loadProfiles[row[0]] = p
		}
		m, err := strconv.Atoi(row[1])
		weekend := map[string]int{"weekday": 0, "weekend": 1}
		w, ok := weekend[row[2]]
		if err != nil || m < 1 || m > 12 || !ok {
			panic(fmt.Sprintf("community: embedded load.csv: bad month or day in %v", row[:3]))
		}
		for h := range 24 {
			// Stored in thousandths, for short integers.
			p.rel[w][m-1][h] = num("load.csv", row[3+h]) / 1000
		}
		seen[row[0]]++
	}
	for _, row := range readTable("variability.csv", variabilityCSV, 4+residuals) {
		p := loadProfiles[row[0]]
		if p == nil || seen[row[0]] != 24 {
			panic(fmt.Sprintf("community: embedded tables: profile %q lacks its 24 rows of load.csv", row[0]))
		}
		p.dayCV, p.dayLag1, p.shared = num("variability.csv", row[1]), num("variability.csv", row[2]), num("variability.csv", row[3])
		for i := range residuals {
			p.resid[i] = num("variability.csv", row[4+i])
		}
		seen[row[0]] = -1
	}
	for name, n := range seen {
		if n != -1 {
			panic(fmt.Sprintf("community: embedded tables: profile %q has no row in variability.csv", name))
		}
		loadProfiles[name].normalise()
	}
	averageHouseholds()
}

// averageHouseholds builds "household-average" from the embedded
// households household-1, household-2, …: their mean week through the
// year (smoother than any one home, like a standard load profile) with
// their mean variability.
func averageHouseholds() {
	avg := &loadProfile{}
	var homes []*loadProfile
	for i := 1; loadProfiles[fmt.Sprintf("household-%d", i)] != nil; i++ {
		homes = append(homes, loadProfiles[fmt.Sprintf("household-%d", i)])
	}
	if len(homes) == 0 {
		panic("community: embedded tables: no household-1")
	}
	k := float64(len(homes))
	for _, p := range homes {
		for w := range 2 {
			for m := range 12 {
				for h := range 24 {
					avg.rel[w][m][h] += p.rel[w][m][h] / k
				}
			}
		}
		avg.dayCV += p.dayCV / k
		avg.dayLag1 += p.dayLag1 / k
		avg.shared += p.shared / k
		for i := range residuals {
			avg.resid[i] += p.resid[i] / k
		}
	}
	avg.normalise()
	loadProfiles["household-average"] = avg
}

func parsePVTables() {
	for _, row := range readTable("pv.csv", pvCSV, 2+24) {
		p := pvProfiles[row[0]]
		if p == nil {
			p = &pvProfile{}
			pvProfiles[row[0]] = p
		}
		m, err := strconv.Atoi(row[1])
		if err != nil || m < 1 || m > 12 {
			panic(fmt.Sprintf("community: embedded pv.csv: bad month %q", row[1]))
		}
		for h := range 24 {
			// The table is in Wh per kW, for readable integers.
			p.whPerW[m-1][h] = num("pv.csv", row[2+h]) / 1000
		}
	}
	rows := readTable("climate.csv", climateCSV, 2)
	if len(rows) != 12 {
		panic("community: embedded climate.csv: want 12 months")
	}
	for m, row := range rows {
		clearness[m] = num("climate.csv", row[1])
		if clearness[m] <= 0.05 || clearness[m] >= 0.95 {
			panic(fmt.Sprintf("community: embedded climate.csv: clearness %v out of range", clearness[m]))
		}
		cloudMu[m] = solveLogisticMean(clearness[m], cloudSigma)
	}
}

// yearMean is a table's mean hour over a 365-day year of 5 weekdays in 7.
func yearMean(rel *[2][12][24]float64) float64 {
	var sum float64
	for m := range 12 {
		var wd, we float64
		for h := range 24 {
			wd += rel[0][m][h]
			we += rel[1][m][h]
		}
		sum += float64(monthDays[m]) * (5*wd + 2*we) / 7 / 24
	}
	return sum / 365
}

// normalise makes the profile's year average exactly 1 and its residual
// quantiles average exactly 1, undoing the rounding of the stored tables:
// a site then consumes its annual_kwh, on average.
func (p *loadProfile) normalise() {
	mean := yearMean(&p.rel)
	for w := range 2 {
		for m := range 12 {
			p.rowSum[w][m] = 0
			for h := range 24 {
				p.rel[w][m][h] /= mean
				p.rowSum[w][m] += p.rel[w][m][h]
			}
		}
	}
	// Sampling by linear interpolation between the quantiles (see
	// residual) has exactly their arithmetic mean.
	var sum float64
	for _, r := range p.resid {
		sum += r
	}
	for i := range p.resid {
		p.resid[i] *= residuals / sum
	}
}

// residual draws an hour's residual factor from the quantiles for a
// uniform u in [0, 1).
func (p *loadProfile) residual(u float64) float64 {
	x := u*residuals - 0.5
	if x <= 0 {
		return p.resid[0]
	}
	i := int(x)
	if i >= residuals-1 {
		return p.resid[residuals-1]
	}
	f := x - float64(i)
	return p.resid[i] + f*(p.resid[i+1]-p.resid[i])
}

// dayTotal is the typical energy of a day, relative to a mean hour.
func (p *loadProfile) dayTotal(di *dayInfo) float64 {
	we := b2i(di.weekend)
	return (1-di.w)*p.rowSum[we][di.m0] + di.w*p.rowSum[we][di.m1]
}

// residualMean is the mean of the residual factor scaled by variability v,
// 1 + v·(r−1) clipped at 0: exactly 1 unless v > 1 makes the clip bite.
func (p *loadProfile) residualMean(v float64) float64 {
	const n = 4096
	var sum float64
	for i := range n {
		sum += max(0, 1+v*(p.residual((float64(i)+0.5)/n)-1))
	}
	return sum / n
}

// buildShapes makes the synthetic load shapes, by hand from the common
// knowledge of each kind of site, as the same tables as the learned ones.
func buildShapes() {
	// A home: a morning and a larger evening peak, a later morning at the
	// weekend; a quarter more in winter (lighting, heating aids).
	home := [24]float64{6, 5, 5, 5, 5, 6, 9, 12, 10, 8, 7, 7, 8, 7, 7, 8, 10, 14, 16, 15, 13, 11, 9, 7}
	homeWeekend := [24]float64{7, 6, 5, 5, 5, 5, 6, 8, 11, 12, 11, 10, 10, 9, 8, 8, 10, 14, 16, 15, 13, 11, 9, 8}
	// An office or shop: open 8–17 on weekdays, standby otherwise; more in
	// winter (heating) and midsummer (cooling) than in spring and autumn.
	office := [24]float64{3, 3, 3, 3, 3, 3, 4, 8, 14, 16, 16, 16, 15, 16, 16, 15, 13, 8, 4, 3, 3, 3, 3, 3}
	officeWeekend := [24]float64{3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3}
	// A public EV charging station: commuters in the morning, shoppers by
	// day, the big peak when people come home; flatter at weekends.
	ev := [24]float64{2, 1, 1, 1, 1, 1, 2, 4, 6, 6, 6, 6, 6, 6, 7, 9, 12, 14, 14, 12, 8, 5, 3, 2}
	evWeekend := [24]float64{2, 1, 1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 9, 9, 10, 11, 11, 9, 7, 5, 3, 2}
	avg := loadProfiles["household-average"]
	shapes[ShapeHome] = shape(home, homeWeekend, func(m int) float64 { return 1 + 0.12*math.Cos(2*math.Pi*(float64(m)+0.5)/12) },
		0.2, 0.5, avg.shared, avg.resid)
	shapes[ShapeOffice] = shape(office, officeWeekend, func(m int) float64 { return 1 + 0.1*math.Abs(math.Cos(2*math.Pi*(float64(m)+0.5)/12)) },
		0.08, 0.5, avg.shared, spread(0.15))
	shapes[ShapeEVStation] = shape(ev, evWeekend, func(m int) float64 { return 1 + 0.1*math.Cos(2*math.Pi*(float64(m)+0.5)/12) },
		0.15, 0.3, avg.shared, spread(0))
}

// shape builds a synthetic profile from a weekday and a weekend day and a
// seasonal factor by month (0 = January).
func shape(weekday, weekend [24]float64, season func(m int) float64, dayCV, lag1, shared float64, resid [residuals]float64) *loadProfile {
	p := &loadProfile{dayCV: dayCV, dayLag1: lag1, shared: shared, resid: resid}
	for m := range 12 {
		for h := range 24 {
			p.rel[0][m][h] = weekday[h] * season(m)
			p.rel[1][m][h] = weekend[h] * season(m)
		}
	}
	p.normalise()
	return p
}

// spread is residual quantiles uniform within ±frac.
func spread(frac float64) [residuals]float64 {
	var r [residuals]float64
	for i := range r {
		r[i] = 1 + frac*(2*(float64(i)+0.5)/residuals-1)
	}
	return r
}

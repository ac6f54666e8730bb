package community

import (
	"fmt"
	"math"
)

// Model is the community's weather and every site's load and production,
// deterministic for a seed. It holds only tables computed up front, so it
// is safe for concurrent use.
type Model struct {
	offS int64 // local standard time minus UTC, seconds
	// seasonShift is 6 south of the equator: the tables' months are
	// northern seasons (January = midwinter), so a southern January reads
	// July's row.
	seasonShift int
	sun         *sunTables
	sites       []siteModel
	// days caches dayInfo for the local days from firstDay; days outside
	// are computed when asked, by the same function, to the same bits.
	firstDay int64
	days     []dayInfo
	// firstYear is the first of the normalisedYears local years whose
	// consumption each site's yearNorm scales.
	firstYear int
	// windSeason scales the wind speed by day of year: windier in winter.
	windSeason [366]float64
	// Community-wide noise streams: temperature-like load swings, the
	// day's cloudiness, passing clouds, and the wind field.
	keyTemp, keyCloud, keyCloudWhite, keyCloudHour uint64
	keyWind                                        [4]uint64
}

// dayInfo is what the model needs about a local day, the same for every
// site: the calendar, and the community's weather.
type dayInfo struct {
	// m0, m1 and w blend the tables' (season) months: (1−w)·m0 + w·m1.
	m0, m1  int
	w       float64
	weekend bool
	doy     int // day of year, 0-based, for the sun
	year    int
	// temp is the community's temperature-like swing, unit variance.
	temp float64
	// k is the sky's clearness, kMean its mean at that time of year.
	k, kMean float64
}

type loadKind uint8

const (
	loadNone loadKind = iota
	loadTable
	loadLighting
	loadEV
)

type genKind uint8

const (
	genNone genKind = iota
	genClearSky
	genPVTable
	genWind
)

// siteModel is one site's precomputed constants.
type siteModel struct {
	load   loadKind
	prof   *loadProfile
	meanWh float64 // the year's mean hourly consumption
	shiftS int64
	v      float64 // variability
	// dayShared, daySmooth and dayWhite weigh the three parts of a day's
	// deviation (see rawDayFactor), already times variability and dayCV.
	dayShared, daySmooth, dayWhite float64
	// yearNorm[y-firstYear] scales the day factors of local year y so the
	// year's consumption is AnnualKWh up to the hour-level noise, whatever
	// spells the weather brought. Outside those years, dayNorm undoes only
	// the bias of clipping the factor at zero: AnnualKWh holds on average.
	yearNorm []float64
	dayNorm  float64
	// residNorm undoes the bias of clipping an hour's residual at zero.
	residNorm                 float64
	lightW                    float64 // street lights' rated power
	keyDay, keyWhite, keyHour uint64
	keyExtra                  uint64

	gen       genKind
	capW      float64
	capWh     int64
	pvTab     *pvProfile
	windSigma float64 // Rayleigh scale of the wind speed
	keyGen    [2]uint64
}

// Constants of the weather and of the synthetic sites.
const (
	// cloudSigma spreads the days' clearness: with the logistic below, a
	// month of mean clearness 0.5 has clear days (0.8+) as often as dull
	// ones (0.2−), as central Europe does.
	cloudSigma = 1.6
	// passingClouds is how much an hour's PV varies within a day, at its
	// most on half-cloudy days.
	passingClouds = 0.5
	// evSessionWh is the energy of one charging session-hour at a public
	// station (an 11 kW charger for about an hour).
	evSessionWh = 10_000
	// lightingFlicker is street lighting's hour-to-hour spread (±3 %).
	lightingFlicker = 0.03
	// Wind turbine power curve, m/s: cubic from cut-in to rated speed.
	cutInMS, ratedMS, cutOutMS = 3.0, 12.0, 25.0
	// windSeasonAmp: winter winds are ~15 % stronger than the year's mean.
	windSeasonAmp = 0.15
	// normalisedYears is how many local years, from the one before start,
	// have each site's consumption scaled to exactly its annual_kwh, and
	// have their days' weather tabled.
	normalisedYears = 7
)

// cloudMu[m] centres the logistic of a month's daily clearness so that
// its mean is the month's clearness (set with clearness, at init).
var cloudMu [12]float64

// solveLogisticMean finds μ with E[1/(1+exp(−(μ+σz)))] = k for a standard
// normal z, by bisection over a numerical expectation.
func solveLogisticMean(k, sigma float64) float64 {
	mean := func(mu float64) float64 {
		var sum, wsum float64
		for i := -80; i <= 80; i++ {
			z := float64(i) / 20
			w := math.Exp(-z * z / 2)
			sum += w / (1 + math.Exp(-(mu + sigma*z)))
			wsum += w
		}
		return sum / wsum
	}
	lo, hi := -10.0, 10.0
	for range 60 {
		mid := (lo + hi) / 2
		if mean(mid) < k {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// clippedMean is E[max(0, 1+σz)] for a standard normal z: above 1 once
// σ is large enough for the clip at 0 to bite.
func clippedMean(sigma float64) float64 {
	var sum, wsum float64
	for i := -80; i <= 80; i++ {
		z := float64(i) / 20
		w := math.Exp(-z * z / 2)
		sum += w * max(0, 1+sigma*z)
		wsum += w
	}
	return sum / wsum
}

// Model builds the community's model for a seed. The community is
// validated first (with its defaults filled in, as Validate does).
func (c *Community) Model(seed uint64) (*Model, error) {
	f, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	m := &Model{
		offS:          int64(f.UTCOffsetH) * 3600,
		sun:           newSunTables(f.Latitude, f.Longitude, f.UTCOffsetH),
		sites:         make([]siteModel, len(f.Sites)),
		keyTemp:       streamKey(seed, 0, "temperature"),
		keyCloud:      streamKey(seed, 0, "cloud"),
		keyCloudWhite: streamKey(seed, 0, "cloud-white"),
		keyCloudHour:  streamKey(seed, 0, "cloud-hour"),
	}
	for i := range m.keyWind {
		m.keyWind[i] = streamKey(seed, 0, fmt.Sprint("wind", i))
	}
	// Mid-January is the windiest (mid-July south of the equator).
	winter := 14.0
	if f.Latitude < 0 {
		m.seasonShift = 6
		winter += 365 / 2
	}
	for doy := range m.windSeason {
		m.windSeason[doy] = 1 + windSeasonAmp*math.Cos(2*math.Pi*(float64(doy)-winter)/365.25)
	}
	m.firstYear = calendar(floorDiv(f.StartUnix()+m.offS, 86400)).year - 1
	m.firstDay = yearStart(int64(m.firstYear))
	days := make([]dayInfo, yearStart(int64(m.firstYear+normalisedYears))-m.firstDay)
	for i := range days {
		days[i] = m.computeDay(m.firstDay + int64(i))
	}
	m.days = days

	var darkHours float64
	for doy := range 365 {
		for h := range 24 {
			darkHours += m.sun.dark[doy][h]
		}
	}
	for i, s := range f.Sites {
		m.sites[i] = m.newSite(seed, s, darkHours)
	}
	return m, nil
}

func (m *Model) newSite(seed uint64, s Site, darkHours float64) siteModel {
	id := fnv64(s.ID)
	sm := siteModel{
		keyDay: streamKey(seed, id, "day"), keyWhite: streamKey(seed, id, "day-white"),
		keyHour: streamKey(seed, id, "hour"), keyExtra: streamKey(seed, id, "extra"),
		keyGen: [2]uint64{streamKey(seed, id, "gen0"), streamKey(seed, id, "gen1")},
	}
	if l := s.Load; l != nil {
		sm.v = *l.Variability
		sm.meanWh = l.AnnualKWh * 1000 / 8760
		sm.shiftS = int64(l.ShiftH) * 3600
		switch {
		case l.Profile != ProfileSynthetic:
			sm.load, sm.prof = loadTable, loadProfiles[l.Profile]
		case l.Shape == ShapeLighting:
			sm.load = loadLighting
			sm.lightW = l.AnnualKWh * 1000 / darkHours
		case l.Shape == ShapeEVStation:
			sm.load, sm.prof = loadEV, shapes[l.Shape]
		default:
			sm.load, sm.prof = loadTable, shapes[l.Shape]
		}
		if p := sm.prof; p != nil {
			// A day's deviation is √shared of the community's swing plus
			// the site's own, itself part autocorrelated and part white,
			// so that consecutive days correlate as in the data:
			// lag-1 ≈ (shared + (1−shared)·a)·c1.
			c1, a := smoothDays.lag1(), 0.0
			if p.shared < 1 {
				a = min(1, max(0, (p.dayLag1/c1-p.shared)/(1-p.shared)))
			}
			scale := sm.v * p.dayCV
			sm.dayShared = scale * math.Sqrt(p.shared)
			sm.daySmooth = scale * math.Sqrt((1-p.shared)*a)
			sm.dayWhite = scale * math.Sqrt((1-p.shared)*(1-a))
			sm.dayNorm = 1 / clippedMean(scale)
			sm.residNorm = 1 / p.residualMean(sm.v)
			for y := range normalisedYears {
				from := yearStart(int64(m.firstYear + y))
				to := yearStart(int64(m.firstYear + y + 1))
				// Weighted by each day's typical energy, so that spells
				// in the heavy months count for what they add.
				var typical, scaled float64
				for d := from; d < to; d++ {
					di := &m.days[d-m.firstDay]
					e := p.dayTotal(di)
					typical += e
					scaled += e * sm.rawDayFactor(d, di)
				}
				sm.yearNorm = append(sm.yearNorm, typical/scaled)
			}
		}
	}
	var g *Generator
	switch {
	case s.PV != nil && s.PV.Profile == ProfileClearSky:
		g, sm.gen = s.PV, genClearSky
	case s.PV != nil:
		g, sm.gen, sm.pvTab = s.PV, genPVTable, pvProfiles[s.PV.Profile]
	case s.Wind != nil:
		g, sm.gen = s.Wind, genWind
		// A Rayleigh speed's mean is σ·√(π/2).
		sm.windSigma = *s.Wind.MeanSpeedMS / math.Sqrt(math.Pi/2)
	}
	if g != nil {
		sm.capW, sm.capWh = float64(g.CapacityW), g.CapacityW
	}
	return sm
}

// computeDay works out a local day's calendar and weather.
func (m *Model) computeDay(d int64) dayInfo {
	cal := calendar(d)
	cal.month = (cal.month + m.seasonShift) % 12
	m0, w := cal.monthBlend()
	m1 := (m0 + 1) % 12
	di := dayInfo{m0: m0, m1: m1, w: w, weekend: cal.weekend, doy: cal.doy, year: cal.year,
		temp: smoothDays.at(m.keyTemp, d)}
	// Clearness: spells of a few days plus day-to-day changes, through a
	// logistic so it stays within (0, 1) with the month's mean.
	mu := (1-w)*cloudMu[m0] + w*cloudMu[m1]
	z := 0.8*smoothCloud.at(m.keyCloud, d) + 0.6*gaussOf(hashAt(m.keyCloudWhite, d))
	di.k = 1 / (1 + math.Exp(-(mu + cloudSigma*z)))
	di.kMean = (1-w)*clearness[m0] + w*clearness[m1]
	return di
}

// day is local day d's info, from the table when it holds it, else
// computed into *tmp.
func (m *Model) day(d int64, tmp *dayInfo) *dayInfo {
	if i := d - m.firstDay; i >= 0 && i < int64(len(m.days)) {
		return &m.days[i]
	}
	*tmp = m.computeDay(d)
	return tmp
}

// Sites is how many sites the model has, in the community's order.
func (m *Model) Sites() int { return len(m.sites) }

// local splits an hour into the local day (days since 1970-01-01, local
// time), the local hour, and the hour's index (UTC hours since the epoch).
func (m *Model) local(hourStart, shiftS int64) (d int64, h int, hourIdx int64) {
	hourIdx = floorDiv(hourStart, 3600)
	t := hourIdx*3600 + m.offS - shiftS
	d = floorDiv(t, 86400)
	return d, int((t - d*86400) / 3600), hourIdx
}

// BaseLoadWh is the site's consumption in the hour starting at hourStart
// (UTC unix seconds, rounded down to the hour), without its EMS
// appliances. site indexes the community's Sites.
func (m *Model) BaseLoadWh(site int, hourStart int64) int64 {
	s := &m.sites[site]
	switch s.load {
	case loadNone:
		return 0
	case loadLighting:
		// The lights follow the sun, not the clock: no shift.
		d, h, hi := m.local(hourStart, 0)
		var tmp dayInfo
		dark := m.sun.dark[m.day(d, &tmp).doy][h]
		if dark == 0 {
			return 0
		}
		flicker := 1 + s.v*lightingFlicker*(2*unitOf(hashAt(s.keyHour, hi))-1)
		return roundWh(s.lightW * dark * flicker)
	}
	d, h, hi := m.local(hourStart, s.shiftS)
	var tmp dayInfo
	di := m.day(d, &tmp)
	p := s.prof
	we := b2i(di.weekend)
	rel := (1-di.w)*p.rel[we][di.m0][h] + di.w*p.rel[we][di.m1][h]
	mean := s.meanWh * rel * s.dayFactor(d, di, m.firstYear)
	if s.load == loadEV {
		return roundWh(s.evSessions(mean, hi))
	}
	r := max(0, 1+s.v*(p.residual(unitOf(hashAt(s.keyHour, hi)))-1))
	return roundWh(mean * r * s.residNorm)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dayFactor is how much more or less than its typical day the site uses
// on local day d.
func (s *siteModel) dayFactor(d int64, di *dayInfo, firstYear int) float64 {
	if i := di.year - firstYear; i >= 0 && i < len(s.yearNorm) {
		return s.rawDayFactor(d, di) * s.yearNorm[i]
	}
	return s.rawDayFactor(d, di) * s.dayNorm
}

// rawDayFactor is 1 + the community's temperature-like swing + the site's
// own spells + its day-to-day scatter, clipped at 0.
func (s *siteModel) rawDayFactor(d int64, di *dayInfo) float64 {
	z := s.dayShared*di.temp + s.daySmooth*smoothDays.at(s.keyDay, d) + s.dayWhite*gaussOf(hashAt(s.keyWhite, d))
	return max(0, 1+z)
}

// evSessions turns a station's expected energy in an hour into whole
// charging sessions: a Poisson number of them, each of evSessionWh ± 50 %.
func (s *siteModel) evSessions(meanWh float64, hourIdx int64) float64 {
	if s.v == 0 {
		return meanWh
	}
	lambda := meanWh / evSessionWh
	u := unitOf(hashAt(s.keyHour, hourIdx))
	var n float64
	if lambda > 30 {
		// Many sessions: the normal approximation.
		n = max(0, math.Round(lambda+math.Sqrt(lambda)*gaussOf(hashAt(s.keyHour, hourIdx))))
	} else {
		p := math.Exp(-lambda)
		cdf := p
		for u > cdf && n < 100 {
			n++
			p *= lambda / n
			cdf += p
		}
	}
	return n * evSessionWh * (0.5 + unitOf(hashAt(s.keyExtra, hourIdx)))
}

// ProductionWh is the site's PV or wind production in the hour starting at
// hourStart (UTC unix seconds), at most its capacity for an hour.
func (m *Model) ProductionWh(site int, hourStart int64) int64 {
	s := &m.sites[site]
	if s.gen == genNone {
		return 0
	}
	d, h, hi := m.local(hourStart, 0)
	var tmp dayInfo
	di := m.day(d, &tmp)
	if s.gen == genWind {
		return min(s.capWh, roundWh(s.capW*m.windFraction(s, hi, di.doy)))
	}
	var whPerW float64
	if s.gen == genClearSky {
		whPerW = m.sun.clearWhPerW[di.doy][h] * di.k
	} else {
		// The table is the month's mean day: scale it by how much
		// clearer than the month's mean this day is.
		whPerW = ((1-di.w)*s.pvTab.whPerW[di.m0][h] + di.w*s.pvTab.whPerW[di.m1][h]) * di.k / di.kMean
	}
	if whPerW == 0 {
		return 0 // night
	}
	// Passing clouds, mostly the community's (they are kilometres
	// wide), a little the site's own; they matter most on half-cloudy
	// days and not at all on clear or overcast ones.
	z := 0.8*smoothHour2.at(m.keyCloudHour, hi) + 0.6*smoothHour2.at(s.keyGen[0], hi)
	wh := s.capW * whPerW * max(0, 1+passingClouds*4*di.k*(1-di.k)*z)
	return min(s.capWh, roundWh(wh))
}

// windFraction is a turbine's output as a fraction of its capacity in an
// hour: the speed is Rayleigh distributed (Weibull with shape 2) as the
// length of a 2-D Gaussian vector whose parts vary over hours (gusts) and
// days (weather systems), almost all shared by the community.
func (m *Model) windFraction(s *siteModel, hourIdx int64, doy int) float64 {
	part := func(k6, k36, own uint64) float64 {
		shared := 0.6*smoothWind6.at(k6, hourIdx) + 0.8*smoothWind36.at(k36, hourIdx)
		return 0.95*shared + 0.312*smoothWind6.at(own, hourIdx)
	}
	x := part(m.keyWind[0], m.keyWind[1], s.keyGen[0])
	y := part(m.keyWind[2], m.keyWind[3], s.keyGen[1])
	v := s.windSigma * m.windSeason[doy] * math.Sqrt(x*x+y*y)
	switch {
	case v < cutInMS || v >= cutOutMS:
		return 0
	case v >= ratedMS:
		return 1
	}
	return (v*v*v - cutInMS*cutInMS*cutInMS) / (ratedMS*ratedMS*ratedMS - cutInMS*cutInMS*cutInMS)
}

// roundWh is a non-negative energy rounded to whole Wh.
func roundWh(x float64) int64 {
	if !(x > 0) {
		return 0
	}
	return int64(x + 0.5)
}

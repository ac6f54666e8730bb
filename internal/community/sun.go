package community

import "math"

// The sun, hour by hour, for the community's place: how much a PV panel
// makes under a clear sky, and how dark it is (street lighting). Both are
// tables by day of year and local hour, built once per Model, so the hot
// path only looks them up.

const (
	// panelTiltDeg is the tilt of every modelled PV array, facing the
	// equator: a typical pitched roof, and close to the annual optimum in
	// central Europe.
	panelTiltDeg = 30
	// performanceRatio is what reaches the meter of what the panel's
	// irradiance promises (temperature, wiring and inverter losses).
	performanceRatio = 0.85
	// samplesPerHour sets how finely an hour is averaged: 5-minute steps
	// place sunrise and sunset well enough for hourly energy.
	samplesPerHour = 12
)

// sunTables are, by day of year (0–365) and local standard hour, the
// clear-sky PV output in Wh per W of capacity, and the fraction of the
// hour the sun is below the horizon.
type sunTables struct {
	clearWhPerW [366][24]float64
	dark        [366][24]float64
}

func newSunTables(latDeg, lonDeg float64, utcOffsetH int) *sunTables {
	t := &sunTables{}
	for doy := range 366 {
		for h := range 24 {
			var pv, dark float64
			for k := range samplesPerHour {
				hourF := float64(h) + (float64(k)+0.5)/samplesPerHour
				cosZ, cosInc := sunAngles(latDeg, lonDeg, utcOffsetH, doy, hourF)
				if cosZ <= 0 {
					dark++
					continue
				}
				pv += clearSkyPV(cosZ, cosInc)
			}
			t.clearWhPerW[doy][h] = pv / samplesPerHour
			t.dark[doy][h] = dark / samplesPerHour
		}
	}
	return t
}

// sunAngles gives the cosine of the sun's zenith angle and of its angle of
// incidence on an equator-facing panel tilted panelTiltDeg, on day of year
// doy (0-based) at local standard time hourF, with NOAA's low-precision
// formulas (good to a fraction of a degree).
func sunAngles(latDeg, lonDeg float64, utcOffsetH, doy int, hourF float64) (cosZ, cosInc float64) {
	g := 2 * math.Pi / 365 * (float64(doy) + (hourF-12)/24)
	decl := 0.006918 - 0.399912*math.Cos(g) + 0.070257*math.Sin(g) - 0.006758*math.Cos(2*g) +
		0.000907*math.Sin(2*g) - 0.002697*math.Cos(3*g) + 0.00148*math.Sin(3*g)
	eqTimeMin := 229.18 * (0.000075 + 0.001868*math.Cos(g) - 0.032077*math.Sin(g) -
		0.014615*math.Cos(2*g) - 0.040849*math.Sin(2*g))
	solarMin := hourF*60 + eqTimeMin + 4*lonDeg - 60*float64(utcOffsetH)
	ha := (solarMin/4 - 180) * math.Pi / 180
	lat := latDeg * math.Pi / 180
	cosZ = math.Sin(lat)*math.Sin(decl) + math.Cos(lat)*math.Cos(decl)*math.Cos(ha)
	// An equator-facing panel tilted β at latitude φ sees the sun as a
	// flat one would at latitude φ∓β.
	tilt := panelTiltDeg * math.Pi / 180
	if latDeg < 0 {
		tilt = -tilt
	}
	eq := lat - tilt
	cosInc = math.Sin(eq)*math.Sin(decl) + math.Cos(eq)*math.Cos(decl)*math.Cos(ha)
	return cosZ, cosInc
}

// clearSkyPV is a panel's output as a fraction of its capacity under a
// clear sky: direct normal irradiance from Meinel's air-mass law (air mass
// after Kasten and Young), a tenth of it as diffuse light, a fifth of the
// ground's light reflected, on the tilted panel, times the performance
// ratio, against 1000 W/m² at capacity.
func clearSkyPV(cosZ, cosInc float64) float64 {
	zDeg := math.Acos(cosZ) * 180 / math.Pi
	airMass := 1 / (cosZ + 0.50572*math.Pow(96.07995-zDeg, -1.6364))
	dni := 1353 * math.Pow(0.7, math.Pow(airMass, 0.678))
	dhi := 0.1 * dni
	ghi := dni*cosZ + dhi
	tilt := panelTiltDeg * math.Pi / 180
	poa := dni*max(0, cosInc) + dhi*(1+math.Cos(tilt))/2 + 0.2*ghi*(1-math.Cos(tilt))/2
	return min(1, performanceRatio*poa/1000)
}

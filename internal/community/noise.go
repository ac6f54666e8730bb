package community

import "math"

// Weather and household randomness come from hashing (stream key, time
// index), never from a random source: a value depends only on the seed, the
// site and the hour, so a simulation is reproducible whatever order it asks
// for hours in, and the model keeps no state between calls.

// golden is 2^64 / φ, splitmix64's Weyl increment.
const golden = 0x9e3779b97f4a7c15

// mix is splitmix64's finaliser: a cheap, well-scrambling bijection.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hashAt is the i-th output of the splitmix64 stream seeded with key.
func hashAt(key uint64, i int64) uint64 { return mix(key + uint64(i)*golden) }

// streamKey derives the key of one noise stream from the model's seed, a
// site (its id's hash, 0 for community-wide streams) and the stream's name.
func streamKey(seed, site uint64, name string) uint64 {
	return mix(seed ^ mix(site^fnv64(name)))
}

// fnv64 is FNV-1a, for turning ids and names into keys once, up front.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// unitOf maps a hash to [0, 1).
func unitOf(h uint64) float64 { return float64(h>>11) * 0x1p-53 }

// gaussOf maps a hash to a near-normal value, mean 0 and variance 1: the
// sum of its four 16-bit quarters (Irwin–Hall), which is cheaper than an
// inverse CDF and bounded (|z| < 3.47), so nothing downstream explodes.
func gaussOf(h uint64) float64 {
	s := h&0xffff + h>>16&0xffff + h>>32&0xffff + h>>48
	return ((float64(s)+2)/65536 - 2) * math.Sqrt(3)
}

// smoother is autocorrelated noise with unit variance: independent normal
// values at knots every l steps, blended with a smoothstep in between and
// rescaled so the variance stays 1 between knots too. It is stateless —
// a value costs two hashes — unlike an AR(1) recursion, yet consecutive
// steps are strongly correlated and steps l apart are not.
type smoother struct {
	l      int64
	wa, wb []float64 // weights of the knots before and after, per phase
}

func newSmoother(l int64) smoother {
	s := smoother{l: l, wa: make([]float64, l), wb: make([]float64, l)}
	for f := range l {
		x := float64(f) / float64(l)
		b := x * x * (3 - 2*x)
		a := 1 - b
		n := math.Sqrt(a*a + b*b)
		s.wa[f], s.wb[f] = a/n, b/n
	}
	return s
}

func (s *smoother) at(key uint64, t int64) float64 {
	i := floorDiv(t, s.l)
	f := t - i*s.l
	return s.wa[f]*gaussOf(hashAt(key, i)) + s.wb[f]*gaussOf(hashAt(key, i+1))
}

// The smoothers the model uses: weather spells of days, and hours.
var (
	smoothDays   = newSmoother(5)  // temperature-like and household spells
	smoothCloud  = newSmoother(3)  // cloudy or sunny spells
	smoothHour2  = newSmoother(2)  // passing clouds
	smoothWind6  = newSmoother(6)  // gusty changes of wind speed
	smoothWind36 = newSmoother(36) // weather systems passing
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// day is what the model needs to know about a local calendar day.
type day struct {
	year    int
	month   int // 0 = January
	dom     int // day of month, 0-based
	monthN  int // days in the month
	doy     int // day of year, 0-based
	weekend bool
}

var (
	monthDays  = [12]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	monthStart = [12]int{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334}
)

// calendar is the Gregorian date of a day counted from 1970-01-01
// (Howard Hinnant's civil_from_days), without the time package's cost.
func calendar(days int64) day {
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doyMar := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doyMar + 2) / 153
	d := int(doyMar - (153*mp+2)/5)
	m := int(mp) + 2
	if m >= 12 {
		m -= 12
		y++
	}
	leap := y%4 == 0 && (y%100 != 0 || y%400 == 0)
	out := day{year: int(y), month: m, dom: d, monthN: monthDays[m], doy: monthStart[m] + d}
	if leap && m == 1 {
		out.monthN = 29
	}
	if leap && m > 1 {
		out.doy++
	}
	wd := (days%7 + 7 + 4) % 7 // 1970-01-01 was a Thursday; 0 = Sunday
	out.weekend = wd == 0 || wd == 6
	return out
}

// yearStart is the day (counted from 1970-01-01) of 1 January of year y
// (Hinnant's days_from_civil).
func yearStart(y int64) int64 {
	y-- // January counts in the previous March-based year
	era := floorDiv(y, 400)
	yoe := y - era*400
	doy := int64(306) // 1 January, counted from 1 March
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// monthBlend places a day between the middles of two months, so tables
// by month change smoothly through the year instead of in steps: the
// value is (1-w)·table[m0] + w·table[(m0+1)%12].
func (d day) monthBlend() (m0 int, w float64) {
	x := (float64(d.dom)+0.5)/float64(d.monthN) - 0.5
	if x < 0 {
		return (d.month + 11) % 12, 1 + x
	}
	return d.month, x
}

// lag1 is the correlation of consecutive steps, averaged over the phases.
func (s *smoother) lag1() float64 {
	var sum float64
	for f := range s.l {
		if f+1 < s.l {
			sum += s.wa[f]*s.wa[f+1] + s.wb[f]*s.wb[f+1]
		} else {
			sum += s.wb[f] // the next step is the next knot itself
		}
	}
	return sum / float64(s.l)
}

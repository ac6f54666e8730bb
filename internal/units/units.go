// Package units converts between the ledger's integer units and the
// decimal amounts people type and read: money in nano-units of currency
// (1e-9), prices in micro-units per kWh (1e-6), energy in Wh. It is the
// one place money, prices and energy are formatted for people (the CLI
// and the report).
package units

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Scales of the integer units.
const (
	NanoPerUnit  = 1_000_000_000 // money: nano-units per currency unit
	MicroPerUnit = 1_000_000     // prices: micro-units per currency unit (per kWh)
)

// parseDecimal parses "12.345" exactly into an integer count of 10^-digits.
func parseDecimal(s string, digits int) (int64, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > digits || strings.ContainsAny(whole+frac, "+-eE_ ") {
		return 0, fmt.Errorf("%q is not a decimal with at most %d places", s, digits)
	}
	if whole == "" {
		whole = "0"
	}
	frac += strings.Repeat("0", digits-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	scale := int64(math.Pow10(digits))
	if w > (math.MaxInt64-f)/scale {
		return 0, fmt.Errorf("%q is too large", s)
	}
	v := w*scale + f
	if neg {
		v = -v
	}
	return v, nil
}

// ParseMoney parses a currency amount such as "12.50" into nano-units.
func ParseMoney(s string) (int64, error) { return parseDecimal(s, 9) }

// ParsePrice parses a price per kWh such as "0.095" into micro-units.
func ParsePrice(s string) (int64, error) { return parseDecimal(s, 6) }

// Money formats nano-units as a currency amount with cents, and more
// places only when they are not zero: 12500000000 → "12.50".
func Money(nano int64) string { return format(nano, 9, 2) }

// Price formats micro-units per kWh: 95000 → "0.095".
func Price(micro int64) string { return format(micro, 6, 3) }

// Cents formats nano-units rounded to the cent, halves away from zero,
// as people read a bill: 12345000000 → "12.35".
func Cents(nano int64) string {
	const c = NanoPerUnit / 100
	r := nano / c * c
	if rem := nano % c; rem >= c/2 {
		r += c
	} else if rem <= -c/2 {
		r -= c
	}
	return Money(r)
}

// MoneyPlaces formats nano-units with exactly places decimals (0–9),
// truncated toward zero, for a figure printed beside its exact nano-unit
// value: MoneyPlaces(1234567890, 4) → "1.2345". A negative amount keeps
// its sign even when the places show zero ("-0.0000").
func MoneyPlaces(nano int64, places int) string {
	sign, u := abs(nano)
	drop := uint64(math.Pow10(9 - places))
	return sign + formatAbs(u/drop, places, places)
}

func format(v int64, digits, minPlaces int) string {
	sign, u := abs(v)
	return sign + formatAbs(u, digits, minPlaces)
}

// abs splits v into its sign and magnitude (MinInt64 included).
func abs(v int64) (string, uint64) {
	if v < 0 {
		return "-", uint64(-v)
	}
	return "", uint64(v)
}

// formatAbs formats u × 10^-digits with at least minPlaces decimals, and
// more only when they are not zero.
func formatAbs(u uint64, digits, minPlaces int) string {
	scale := uint64(math.Pow10(digits))
	frac := fmt.Sprintf("%0*d", digits, u%scale)
	for len(frac) > minPlaces && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	whole := strconv.FormatUint(u/scale, 10)
	if digits == 0 {
		return whole
	}
	return whole + "." + frac
}

// KWh formats Wh as kWh with three places: 2500 → "2.500".
func KWh(wh int64) string { return format(wh, 3, 3) }

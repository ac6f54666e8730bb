// Package units converts between the ledger's integer units and the
// decimal amounts people type and read: money in nano-units of currency
// (1e-9), prices in micro-units per kWh (1e-6), energy in Wh.
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

func format(v int64, digits, minPlaces int) string {
	sign := ""
	u := uint64(v)
	if v < 0 {
		sign, u = "-", uint64(-v)
	}
	scale := uint64(math.Pow10(digits))
	frac := fmt.Sprintf("%0*d", digits, u%scale)
	for len(frac) > minPlaces && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	return fmt.Sprintf("%s%d.%s", sign, u/scale, frac)
}

// KWh formats Wh as kWh with three places: 2500 → "2.500".
func KWh(wh int64) string { return format(wh, 3, 3) }

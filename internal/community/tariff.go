package community

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/plan"
	"github.com/gridledger/gridledger/internal/market"
	"github.com/gridledger/gridledger/internal/units"
)

// Tariff is what the utility charges for energy the community lacks and
// pays for its surplus, in currency units per kWh, by local hour. The grid
// price is given one of three ways — flat (Grid), peak and off-peak
// (GridPeak, GridOffPeak, PeakHours), or hour by hour (GridHourly) — and
// the feed-in price flat (FeedIn) or hour by hour (FeedInHourly). What is
// not given comes from contract.DefaultParams (the seed's tariffs).
type Tariff struct {
	Grid        *float64 `toml:"grid"`
	GridPeak    *float64 `toml:"grid_peak"`
	GridOffPeak *float64 `toml:"grid_off_peak"`
	// PeakHours is [start, end): local hours, wrapping past midnight.
	PeakHours    []int     `toml:"peak_hours,omitempty"`
	GridHourly   []float64 `toml:"grid_hourly,omitempty"`
	FeedIn       *float64  `toml:"feed_in"`
	FeedInHourly []float64 `toml:"feed_in_hourly,omitempty"`
}

// seedPeak reads the default grid tariff as peak and off-peak prices and
// the peak's hours, so the defaults live in one place (the contract).
func seedPeak() (peak, offPeak float64, hours []int) {
	g := contract.DefaultParams().GridPricePerKWh
	hi, lo := slices.Max(g[:]), slices.Min(g[:])
	start := 0
	for h := range 24 {
		// The peak starts where the price rises to it.
		if g[h] == hi && g[(h+23)%24] != hi {
			start = h
		}
	}
	end := start
	for g[end] == hi {
		end = (end + 1) % 24
		if end == start {
			break
		}
	}
	return unitsPerKWh(hi), unitsPerKWh(lo), []int{start, end}
}

// unitsPerKWh turns micro-units into the currency units the file uses;
// the shortest decimal of the result parses back to the same micro-units.
func unitsPerKWh(micro int64) float64 { return float64(micro) / units.MicroPerUnit }

// withDefaults is the tariff with one grid form and one feed-in form,
// complete; giving two forms of one price is an error.
func (t Tariff) withDefaults() (Tariff, error) {
	forms := 0
	if t.Grid != nil {
		forms++
	}
	peakForm := t.GridPeak != nil || t.GridOffPeak != nil || t.PeakHours != nil
	if peakForm {
		forms++
	}
	if t.GridHourly != nil {
		forms++
	}
	if forms > 1 {
		return t, invalid("tariff: give one of grid, grid_peak/grid_off_peak/peak_hours, or grid_hourly")
	}
	if forms == 0 || peakForm {
		peak, off, hours := seedPeak()
		if t.GridPeak == nil {
			t.GridPeak = &peak
		}
		if t.GridOffPeak == nil {
			t.GridOffPeak = &off
		}
		if t.PeakHours == nil {
			t.PeakHours = hours
		}
	}
	t.PeakHours = slices.Clone(t.PeakHours)
	t.GridHourly = slices.Clone(t.GridHourly)
	t.FeedInHourly = slices.Clone(t.FeedInHourly)
	if t.FeedIn != nil && t.FeedInHourly != nil {
		return t, invalid("tariff: give feed_in or feed_in_hourly, not both")
	}
	if t.FeedIn == nil && t.FeedInHourly == nil {
		f := contract.DefaultParams().FeedInPerKWh
		if slices.Min(f[:]) == slices.Max(f[:]) {
			v := unitsPerKWh(f[0])
			t.FeedIn = &v
		} else {
			for _, micro := range f {
				t.FeedInHourly = append(t.FeedInHourly, unitsPerKWh(micro))
			}
		}
	}
	return t, nil
}

// priceMicro converts a price from the file exactly: the decimal TOML
// shows, parsed as the ledger's micro-units.
func priceMicro(key string, v float64) (int64, error) {
	if !inRange(v, 0, float64(contract.MaxPricePerKWh)/units.MicroPerUnit) {
		return 0, invalid("%s %v: want 0..%d per kWh", key, v, contract.MaxPricePerKWh/units.MicroPerUnit)
	}
	micro, err := units.ParsePrice(strconv.FormatFloat(v, 'f', -1, 64))
	if err != nil {
		return 0, invalid("%s %v: at most 6 decimals", key, v)
	}
	return micro, nil
}

// prices are the grid and feed-in prices by local hour, micro-units per
// kWh, of a tariff with its defaults filled in.
func (t Tariff) prices() (grid, feedIn [24]int64, err error) {
	switch {
	case t.Grid != nil:
		p, err := priceMicro("tariff.grid", *t.Grid)
		if err != nil {
			return grid, feedIn, err
		}
		for h := range grid {
			grid[h] = p
		}
	case t.GridHourly != nil:
		if err := hourly("tariff.grid_hourly", t.GridHourly, &grid); err != nil {
			return grid, feedIn, err
		}
	default:
		if t.GridPeak == nil || t.GridOffPeak == nil {
			return grid, feedIn, invalid("tariff: grid_peak and grid_off_peak are needed")
		}
		peak, err := priceMicro("tariff.grid_peak", *t.GridPeak)
		if err != nil {
			return grid, feedIn, err
		}
		off, err := priceMicro("tariff.grid_off_peak", *t.GridOffPeak)
		if err != nil {
			return grid, feedIn, err
		}
		if len(t.PeakHours) != 2 || t.PeakHours[0] == t.PeakHours[1] ||
			t.PeakHours[0] < 0 || t.PeakHours[0] > 23 || t.PeakHours[1] < 0 || t.PeakHours[1] > 23 {
			return grid, feedIn, invalid("tariff.peak_hours %v: want [start, end], two different local hours 0..23", t.PeakHours)
		}
		for h := range grid {
			grid[h] = off
		}
		for _, h := range plan.Window(t.PeakHours[0], t.PeakHours[1]) {
			grid[h] = peak
		}
	}
	if t.FeedInHourly != nil {
		err = hourly("tariff.feed_in_hourly", t.FeedInHourly, &feedIn)
		return grid, feedIn, err
	}
	if t.FeedIn == nil {
		return grid, feedIn, invalid("tariff: feed_in is needed")
	}
	p, err := priceMicro("tariff.feed_in", *t.FeedIn)
	for h := range feedIn {
		feedIn[h] = p
	}
	return grid, feedIn, err
}

func hourly(key string, vs []float64, out *[24]int64) error {
	if len(vs) != 24 {
		return invalid("%s has %d prices, want 24 (local hours 0..23)", key, len(vs))
	}
	for h, v := range vs {
		p, err := priceMicro(fmt.Sprintf("%s[%d]", key, h), v)
		if err != nil {
			return err
		}
		out[h] = p
	}
	return nil
}

// params are the ledger's parameters for a community with its defaults
// filled in.
func (c *Community) params() (contract.Params, error) {
	p := contract.DefaultParams()
	p.Mechanism = market.Mechanism(c.Mechanism)
	p.Imbalance = c.Imbalance
	var err error
	if p.GridPricePerKWh, p.FeedInPerKWh, err = c.Tariff.prices(); err != nil {
		return p, err
	}
	p.TariffUTCOffsetS = int64(c.UTCOffsetH) * 3600
	if err := p.Validate(); err != nil {
		// The mechanism and the offset are checked before: it is the tariff.
		return p, invalid("tariff: %s", strings.TrimPrefix(err.Error(), contract.ErrBadParams.Error()+": "))
	}
	return p, nil
}

// Params are the ledger parameters for the community: the contract's
// defaults with its mechanism, tariffs and local time. The community must
// be valid (as Parse returns it); Params panics otherwise.
func (c *Community) Params() contract.Params {
	f, err := c.withDefaults()
	if err == nil {
		var p contract.Params
		if p, err = f.params(); err == nil {
			return p
		}
	}
	panic(fmt.Sprintf("community: Params of an invalid community: %v", err))
}

// IncentivePerKWh is the demand-response incentive in micro-units per kWh
// (0 if it is not a valid price; Parse refuses those).
func (d DR) IncentivePerKWh() int64 {
	p, err := priceMicro("incentive", d.Incentive)
	if err != nil {
		return 0
	}
	return p
}

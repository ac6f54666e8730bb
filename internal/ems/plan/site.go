package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// HoursPerDay is the number of hourly intervals in a planning day.
const HoursPerDay = 24

// Input bounds. They keep the cost inside int64 — |net_h| ≤ 10^8 +
// 16·10^6 Wh, times 10^9 micro-units per kWh, times 24 hours is below 2^63 —
// and the search within what a home needs.
const (
	// MaxAppliances is the most appliances a site may list.
	MaxAppliances = 16
	// MaxEnergyWh bounds base_wh and pv_wh per hour (100 MWh).
	MaxEnergyWh = 100_000_000
	// MaxPowerW bounds power_w and max_power_w (1 MW).
	MaxPowerW = 1_000_000
	// MaxPriceMicroPerKWh bounds |buy| and |sell| (1000 currency units per kWh).
	MaxPriceMicroPerKWh = 1_000_000_000
)

var (
	// ErrInvalid reports a malformed site: bad JSON, unknown fields, arrays
	// not 24 long, values out of range, repeated names, sell above buy; or,
	// from Plan only, a site too large to plan exactly (see the package
	// doc, "Algorithm").
	ErrInvalid = errors.New("invalid site")
	// ErrInfeasible reports a well-formed site that no plan fits: hours
	// longer than the window, energy not reachable by departure, or a peak
	// limit that cannot be kept.
	ErrInfeasible = errors.New("no feasible plan")
)

// Site is one home's forecast, tariff and appliances for the planning day.
type Site struct {
	BaseWh []int64 `json:"base_wh"`
	PVWh   []int64 `json:"pv_wh"`
	// BuyMicroPerKWh is what importing costs, SellMicroPerKWh what
	// exporting earns, per kWh in micro-units.
	BuyMicroPerKWh  []int64 `json:"buy"`
	SellMicroPerKWh []int64 `json:"sell"`
	// PeakImportWh limits every hour's import; nil means no limit.
	PeakImportWh *int64      `json:"peak_import_wh"`
	Appliances   []Appliance `json:"appliances"`
	// Battery is the home battery, nil for none.
	Battery *Battery `json:"battery,omitempty"`
}

// Battery is a home battery (see the package doc, "Battery"). Its energy
// moves in whole steps of StepWh stored Wh: a step charged draws
// ChargeStepWh from the grid, a step discharged delivers DischargeStepWh
// to it, so the state of charge is always a whole number of Wh.
type Battery struct {
	CapacityWh int64 `json:"capacity_wh"`
	// The usable window of the state of charge; MaxSoCWh 0 means the
	// capacity.
	MinSoCWh int64 `json:"min_soc_wh"`
	MaxSoCWh int64 `json:"max_soc_wh,omitempty"`
	// InitialSoCWh is the state of charge at the start of hour 0;
	// FinalSoCWh the least wanted at the end of hour 23.
	InitialSoCWh int64 `json:"initial_soc_wh"`
	FinalSoCWh   int64 `json:"final_soc_wh"`
	// Power limits on the grid side (Wh per hour).
	MaxChargeW    int64 `json:"max_charge_w"`
	MaxDischargeW int64 `json:"max_discharge_w"`
	// Efficiencies in per-mille (1..1000): stored energy per grid Wh
	// charged, grid Wh delivered per stored Wh discharged.
	ChargeEfficiencyPermille    int64 `json:"charge_efficiency_permille"`
	DischargeEfficiencyPermille int64 `json:"discharge_efficiency_permille"`
	// StepWh is the stored energy of one step; 0 means DefaultBatteryStepWh.
	StepWh int64 `json:"step_wh,omitempty"`
	// CycleCostMicroPerKWh is the wear of every kWh stored or withdrawn, in
	// micro-units; 0 for none.
	CycleCostMicroPerKWh int64 `json:"cycle_cost,omitempty"`
}

// Battery bounds.
const (
	// DefaultBatteryStepWh is the step when a battery gives none: fine
	// enough for a home's hourly plan, and its rounding of the
	// efficiencies stays within 1 %.
	DefaultBatteryStepWh = 100
	// MaxBatteryLevels bounds the steps in a battery's usable window, and
	// so the states of charge the plan tells apart.
	MaxBatteryLevels = 1000
)

// Step is the stored Wh of one step.
func (b Battery) Step() int64 {
	if b.StepWh == 0 {
		return DefaultBatteryStepWh
	}
	return b.StepWh
}

// MaxSoC is the top of the usable window.
func (b Battery) MaxSoC() int64 {
	if b.MaxSoCWh == 0 {
		return b.CapacityWh
	}
	return b.MaxSoCWh
}

// ChargeStepWh is the grid energy that stores one step: Step divided by
// the charge efficiency, rounded up to a whole Wh.
func (b Battery) ChargeStepWh() int64 {
	return ceilDiv(b.Step()*1000, b.ChargeEfficiencyPermille)
}

// DischargeStepWh is the grid energy one step withdrawn delivers: Step
// times the discharge efficiency, rounded down to a whole Wh.
func (b Battery) DischargeStepWh() int64 {
	return b.Step() * b.DischargeEfficiencyPermille / 1000
}

// MaxChargeSteps and MaxDischargeSteps are the most steps an hour may
// move within the grid-side power limits.
func (b Battery) MaxChargeSteps() int64 { return b.MaxChargeW / b.ChargeStepWh() }

// MaxDischargeSteps: see MaxChargeSteps; a step that delivers nothing
// may not be withdrawn.
func (b Battery) MaxDischargeSteps() int64 {
	if b.DischargeStepWh() == 0 {
		return 0
	}
	return b.MaxDischargeW / b.DischargeStepWh()
}

// GridWh is the grid side of an hour that moves k steps: charging (k > 0)
// draws, discharging (k < 0) delivers, negative.
func (b Battery) GridWh(k int64) int64 {
	if k >= 0 {
		return k * b.ChargeStepWh()
	}
	return k * b.DischargeStepWh()
}

// CycleCostNano is the wear of moving k steps either way.
func (b Battery) CycleCostNano(k int64) int64 {
	return abs(k) * b.Step() * b.CycleCostMicroPerKWh
}

// levels returns the step counts, relative to the initial state of
// charge, that bound the window (lo ≤ 0 ≤ hi) and the final state.
func (b Battery) levels() (lo, hi, final int64) {
	st, init := b.Step(), b.InitialSoCWh
	return ceilDiv(b.MinSoCWh-init, st), floorDiv(b.MaxSoC()-init, st), ceilDiv(b.FinalSoCWh-init, st)
}

// validate checks the battery's fields.
func (b Battery) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: battery: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case b.CapacityWh <= 0 || b.CapacityWh > MaxEnergyWh:
		return bad("capacity_wh %d, want 1..%d", b.CapacityWh, MaxEnergyWh)
	case b.MaxSoCWh < 0 || b.MaxSoCWh > b.CapacityWh:
		return bad("max_soc_wh %d, want 0..capacity_wh %d (0 for the capacity)", b.MaxSoCWh, b.CapacityWh)
	case b.MinSoCWh < 0 || b.MinSoCWh > b.MaxSoC():
		return bad("min_soc_wh %d, want 0..max_soc_wh %d", b.MinSoCWh, b.MaxSoC())
	case b.InitialSoCWh < b.MinSoCWh || b.InitialSoCWh > b.MaxSoC():
		return bad("initial_soc_wh %d outside the window %d..%d", b.InitialSoCWh, b.MinSoCWh, b.MaxSoC())
	case b.FinalSoCWh < 0 || b.FinalSoCWh > b.MaxSoC():
		return bad("final_soc_wh %d, want 0..max_soc_wh %d", b.FinalSoCWh, b.MaxSoC())
	case b.MaxChargeW < 0 || b.MaxChargeW > MaxPowerW:
		return bad("max_charge_w %d, want 0..%d", b.MaxChargeW, MaxPowerW)
	case b.MaxDischargeW < 0 || b.MaxDischargeW > MaxPowerW:
		return bad("max_discharge_w %d, want 0..%d", b.MaxDischargeW, MaxPowerW)
	case b.ChargeEfficiencyPermille < 1 || b.ChargeEfficiencyPermille > 1000:
		return bad("charge_efficiency_permille %d, want 1..1000", b.ChargeEfficiencyPermille)
	case b.DischargeEfficiencyPermille < 1 || b.DischargeEfficiencyPermille > 1000:
		return bad("discharge_efficiency_permille %d, want 1..1000", b.DischargeEfficiencyPermille)
	case b.StepWh < 0 || b.StepWh > b.CapacityWh:
		return bad("step_wh %d, want 1..capacity_wh (0 for %d)", b.StepWh, DefaultBatteryStepWh)
	case b.CycleCostMicroPerKWh < 0 || b.CycleCostMicroPerKWh > MaxPriceMicroPerKWh:
		return bad("cycle_cost %d, want 0..%d", b.CycleCostMicroPerKWh, MaxPriceMicroPerKWh)
	}
	if n := (b.MaxSoC() - b.MinSoCWh) / b.Step(); n > MaxBatteryLevels {
		return bad("its window holds %d steps of %d Wh, at most %d: give a larger step_wh", n, b.Step(), MaxBatteryLevels)
	}
	_, hi, final := b.levels()
	if final > hi || final > 24*b.MaxChargeSteps() {
		return fmt.Errorf("%w: battery cannot reach final_soc_wh %d from %d by the end of the day", ErrInfeasible, b.FinalSoCWh, b.InitialSoCWh)
	}
	return nil
}

// ceilDiv and floorDiv divide rounding up and down, for d > 0.
func ceilDiv(n, d int64) int64 { return -floorDiv(-n, d) }

func floorDiv(n, d int64) int64 {
	q := n / d
	if n%d != 0 && n < 0 {
		q--
	}
	return q
}

// Appliance is one row of the seed's Table 8, plus what an EV needs.
type Appliance struct {
	Name       string `json:"name"`
	Start      int    `json:"start"`
	End        int    `json:"end"`
	Flexible   bool   `json:"flexible"`
	PowerW     int64  `json:"power_w"`
	Hours      int    `json:"hours"`
	Splittable bool   `json:"splittable"`
	// EnergyWh, when present, makes the appliance energy-based: it takes
	// any Wh per hour up to MaxPowerW (PowerW if 0) and exactly EnergyWh in
	// its window.
	EnergyWh  *int64 `json:"energy_wh,omitempty"`
	MaxPowerW int64  `json:"max_power_w,omitempty"`
}

// Result is the optimal plan.
type Result struct {
	Appliances []AppliancePlan `json:"appliances"`
	NetWh      []int64         `json:"net_wh"`
	// CostNano is the day's cost in nano-units (Wh × micro-units per kWh),
	// the battery's wear included.
	CostNano     int64 `json:"cost"`
	PeakImportWh int64 `json:"peak_import_wh"`
	// Battery is the battery's schedule, for a site with one.
	Battery *BatteryPlan `json:"battery,omitempty"`
	// Approximate is true for a site with a battery whose exact search
	// ran out of steps: the plan keeps every rule, and its cost is its
	// own exact cost, but a cheaper plan may exist (see Plan).
	Approximate bool `json:"approximate,omitempty"`
}

// BatteryPlan is what the battery does in each hour 0–23. NetWh includes
// ChargeWh − DischargeWh.
type BatteryPlan struct {
	// Steps moved: positive charges, negative discharges (never both in
	// one hour).
	Steps []int64 `json:"steps"`
	// ChargeWh is drawn from and DischargeWh delivered to the home's
	// grid connection.
	ChargeWh    []int64 `json:"charge_wh"`
	DischargeWh []int64 `json:"discharge_wh"`
	// SoCWh is the state of charge at the end of the hour.
	SoCWh []int64 `json:"soc_wh"`
	// CycleCostNano is the day's wear, part of Result.CostNano.
	CycleCostNano int64 `json:"cycle_cost"`
}

// AppliancePlan is when one appliance runs, hours in window order.
type AppliancePlan struct {
	Name  string `json:"name"`
	Hours []int  `json:"hours"`
	// WhByHour is given for energy-based appliances only.
	WhByHour []int64 `json:"wh_by_hour,omitempty"`
}

// ApplianceWh is, per hour, the energy the plan's appliances draw (only
// the flexible ones if flexibleOnly). s is the site r was planned for.
func (r Result) ApplianceWh(s Site, flexibleOnly bool) [HoursPerDay]int64 {
	var out [HoursPerDay]int64
	for i, ap := range r.Appliances {
		a := s.Appliances[i]
		if flexibleOnly && !a.Flexible {
			continue
		}
		if ap.WhByHour != nil {
			for h, wh := range ap.WhByHour {
				out[h] += wh
			}
			continue
		}
		for _, h := range ap.Hours {
			out[h] += a.PowerW
		}
	}
	return out
}

// Parse decodes a site strictly (unknown fields and trailing data are
// refused) and validates it.
func Parse(data []byte) (Site, error) {
	var s Site
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Site{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Site{}, fmt.Errorf("%w: trailing data after the site object", ErrInvalid)
	}
	if err := s.Validate(); err != nil {
		return Site{}, err
	}
	return s, nil
}

// Window returns the hours of a window in window order: start, start+1, …
// up to but not including end, modulo 24; start == end is the whole day.
func Window(start, end int) []int {
	w := (end - start + HoursPerDay) % HoursPerDay
	if w == 0 {
		w = HoursPerDay
	}
	hs := make([]int, w)
	for k := range hs {
		hs[k] = (start + k) % HoursPerDay
	}
	return hs
}

// Validate checks a site for malformed input (ErrInvalid) and for the
// infeasibilities visible per appliance (ErrInfeasible); a peak limit that
// no combination keeps is found by Plan.
func (s *Site) Validate() error {
	arrays := []struct {
		name string
		v    []int64
	}{{"base_wh", s.BaseWh}, {"pv_wh", s.PVWh}, {"buy", s.BuyMicroPerKWh}, {"sell", s.SellMicroPerKWh}}
	for _, a := range arrays {
		if len(a.v) != HoursPerDay {
			return fmt.Errorf("%w: %s has %d values, want %d", ErrInvalid, a.name, len(a.v), HoursPerDay)
		}
	}
	for h := range HoursPerDay {
		if s.BaseWh[h] < 0 || s.BaseWh[h] > MaxEnergyWh {
			return fmt.Errorf("%w: base_wh[%d] = %d, want 0..%d", ErrInvalid, h, s.BaseWh[h], MaxEnergyWh)
		}
		if s.PVWh[h] < 0 || s.PVWh[h] > MaxEnergyWh {
			return fmt.Errorf("%w: pv_wh[%d] = %d, want 0..%d", ErrInvalid, h, s.PVWh[h], MaxEnergyWh)
		}
		buy, sell := s.BuyMicroPerKWh[h], s.SellMicroPerKWh[h]
		if abs(buy) > MaxPriceMicroPerKWh || abs(sell) > MaxPriceMicroPerKWh {
			return fmt.Errorf("%w: price in hour %d out of ±%d", ErrInvalid, h, MaxPriceMicroPerKWh)
		}
		// sell ≤ buy keeps each hour's cost convex, which the optimiser's
		// bound relies on; a tariff paying more for export than import
		// would also reward importing only to export.
		if sell > buy {
			return fmt.Errorf("%w: sell %d above buy %d in hour %d", ErrInvalid, sell, buy, h)
		}
	}
	if s.PeakImportWh != nil && (*s.PeakImportWh < 0 || *s.PeakImportWh > MaxEnergyWh) {
		return fmt.Errorf("%w: peak_import_wh %d, want 0..%d or null", ErrInvalid, *s.PeakImportWh, MaxEnergyWh)
	}
	if s.Battery != nil {
		if err := s.Battery.validate(); err != nil {
			return err
		}
	}
	if len(s.Appliances) > MaxAppliances {
		return fmt.Errorf("%w: %d appliances, at most %d", ErrInvalid, len(s.Appliances), MaxAppliances)
	}
	seen := make(map[string]bool, len(s.Appliances))
	for i, a := range s.Appliances {
		if a.Name == "" {
			return fmt.Errorf("%w: appliance %d has no name", ErrInvalid, i)
		}
		if seen[a.Name] {
			return fmt.Errorf("%w: appliance name %q repeated", ErrInvalid, a.Name)
		}
		seen[a.Name] = true
		if a.Start < 0 || a.Start >= HoursPerDay || a.End < 0 || a.End >= HoursPerDay {
			return fmt.Errorf("%w: appliance %q window %d–%d, want hours 0..23", ErrInvalid, a.Name, a.Start, a.End)
		}
		if a.PowerW < 0 || a.PowerW > MaxPowerW {
			return fmt.Errorf("%w: appliance %q power_w %d, want 0..%d", ErrInvalid, a.Name, a.PowerW, MaxPowerW)
		}
		if a.MaxPowerW < 0 || a.MaxPowerW > MaxPowerW {
			return fmt.Errorf("%w: appliance %q max_power_w %d, want 0..%d", ErrInvalid, a.Name, a.MaxPowerW, MaxPowerW)
		}
		if a.Hours < 0 || a.Hours > HoursPerDay {
			return fmt.Errorf("%w: appliance %q hours %d, want 0..24", ErrInvalid, a.Name, a.Hours)
		}
		w := len(Window(a.Start, a.End))
		if a.EnergyWh != nil {
			e, p := *a.EnergyWh, a.maxPowerW()
			if e < 0 {
				return fmt.Errorf("%w: appliance %q energy_wh %d is negative", ErrInvalid, a.Name, e)
			}
			if e > p*int64(w) {
				return fmt.Errorf("%w: appliance %q cannot take %d Wh in its %d-hour window at %d W",
					ErrInfeasible, a.Name, e, w, p)
			}
			continue
		}
		if a.MaxPowerW != 0 {
			return fmt.Errorf("%w: appliance %q gives max_power_w without energy_wh", ErrInvalid, a.Name)
		}
		if a.Hours > w {
			return fmt.Errorf("%w: appliance %q runs %d hours but its window %d–%d has %d",
				ErrInfeasible, a.Name, a.Hours, a.Start, a.End, w)
		}
	}
	return nil
}

// maxPowerW is an energy-based appliance's per-hour limit.
func (a Appliance) maxPowerW() int64 {
	if a.MaxPowerW > 0 {
		return a.MaxPowerW
	}
	return a.PowerW
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

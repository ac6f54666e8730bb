package community

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/gridledger/gridledger/internal/contract"
)

// Battery is a home battery behind the site's meter: what the ledger
// registers (capacity and power) and what the EMS plans with (the usable
// window and the efficiencies).
type Battery struct {
	CapacityWh    int64 `toml:"capacity_wh"`
	MaxChargeW    int64 `toml:"max_charge_w"`
	MaxDischargeW int64 `toml:"max_discharge_w"`
	// ChargeEfficiency is the share of the energy drawn that is stored,
	// DischargeEfficiency the share of the energy withdrawn that the
	// site gets (0..1, each way).
	ChargeEfficiency    *float64 `toml:"charge_efficiency"`
	DischargeEfficiency *float64 `toml:"discharge_efficiency"`
	// MinSoC is the share of the capacity never used (the battery
	// management's reserve); InitialSoC the share stored when the
	// simulation starts (default MinSoC).
	MinSoC     *float64 `toml:"min_soc"`
	InitialSoC *float64 `toml:"initial_soc"`
	// CycleCost is the wear the EMS weighs per kWh stored or withdrawn,
	// currency units (0: none, a bought battery's wear being sunk).
	CycleCost *float64 `toml:"cycle_cost"`
}

// Battery defaults: the HTW Berlin's Stromspeicher-Inspektion finds
// current inverter-coupled home batteries about 95 % efficient each way;
// battery managements keep a reserve of about a tenth.
const (
	DefaultBatteryEfficiency = 0.95
	DefaultBatteryMinSoC     = 0.1
)

func fptr(v float64) *float64 { return &v }

// withDefaults is the battery with every optional key filled in.
func (b Battery) withDefaults() Battery {
	if b.ChargeEfficiency == nil {
		b.ChargeEfficiency = fptr(DefaultBatteryEfficiency)
	}
	if b.DischargeEfficiency == nil {
		b.DischargeEfficiency = fptr(DefaultBatteryEfficiency)
	}
	if b.MinSoC == nil {
		b.MinSoC = fptr(DefaultBatteryMinSoC)
	}
	if b.InitialSoC == nil {
		b.InitialSoC = fptr(*b.MinSoC)
	}
	if b.CycleCost == nil {
		b.CycleCost = fptr(0)
	}
	return b
}

// validate checks a battery with its defaults filled in, by the ledger's
// rules for its ratings.
func (b *Battery) validate() error {
	if b.CapacityWh <= 0 || b.CapacityWh > MaxBatteryWh {
		return fmt.Errorf("battery.capacity_wh %d: want 1..%d", b.CapacityWh, int64(MaxBatteryWh))
	}
	for _, p := range []struct {
		key string
		w   int64
	}{{"max_charge_w", b.MaxChargeW}, {"max_discharge_w", b.MaxDischargeW}} {
		if p.w <= 0 || p.w > contract.MaxBatteryCRate*b.CapacityWh || p.w > MaxBatteryW {
			return fmt.Errorf("battery.%s %d: want 1..%d W (at most %d × the capacity per hour)", p.key, p.w,
				min(contract.MaxBatteryCRate*b.CapacityWh, MaxBatteryW), contract.MaxBatteryCRate)
		}
	}
	for _, e := range []struct {
		key string
		v   *float64
	}{{"charge_efficiency", b.ChargeEfficiency}, {"discharge_efficiency", b.DischargeEfficiency}} {
		if e.v == nil || !inRange(*e.v, 0.5, 1) {
			return fmt.Errorf("battery.%s: want 0.5..1", e.key)
		}
	}
	if b.MinSoC == nil || !inRange(*b.MinSoC, 0, 0.9) {
		return errors.New("battery.min_soc: want 0..0.9 (a share of the capacity)")
	}
	if b.InitialSoC == nil || !inRange(*b.InitialSoC, *b.MinSoC, 1) {
		return fmt.Errorf("battery.initial_soc: want min_soc (%v)..1", *b.MinSoC)
	}
	if b.CycleCost == nil {
		return errors.New("battery.cycle_cost: want 0..1 per kWh")
	}
	if _, err := priceMicro("battery.cycle_cost", *b.CycleCost); err != nil || *b.CycleCost > 1 {
		return errors.New("battery.cycle_cost: want 0..1 per kWh, at most 6 decimals")
	}
	return nil
}

// Battery bounds: a home or small community battery, within what the
// planner plans exactly (its window in at most 1,000 steps of at least
// 100 Wh) and what the ledger registers.
const (
	MaxBatteryWh = 10_000_000
	MaxBatteryW  = 1_000_000
)

// MinSoCWh, InitialSoCWh: the shares as Wh of the capacity.
func (b Battery) MinSoCWh() int64 { return b.shareWh(b.MinSoC, DefaultBatteryMinSoC) }

func (b Battery) InitialSoCWh() int64 {
	if b.InitialSoC == nil {
		return b.MinSoCWh()
	}
	return max(b.MinSoCWh(), b.shareWh(b.InitialSoC, 0))
}

func (b Battery) shareWh(p *float64, def float64) int64 {
	v := def
	if p != nil {
		v = *p
	}
	return int64(math.Round(v * float64(b.CapacityWh)))
}

// EfficiencyPermille is an efficiency in ‰, as the planner takes it.
func EfficiencyPermille(p *float64) int64 {
	if p == nil {
		return int64(DefaultBatteryEfficiency * 1000)
	}
	return int64(math.Round(*p * 1000))
}

// CycleCostMicroPerKWh is the wear in micro-units per kWh.
func (b Battery) CycleCostMicroPerKWh() int64 {
	if b.CycleCost == nil {
		return 0
	}
	v, _ := priceMicro("battery.cycle_cost", *b.CycleCost)
	return v
}

// BatteryID is the ledger id of the site's battery ("" for none), and
// BatteryMeterID its sub-meter's.
func (s Site) BatteryID() string {
	if s.Battery == nil {
		return ""
	}
	return s.ID + "-battery"
}

func (s Site) BatteryMeterID() string {
	if s.Battery == nil {
		return ""
	}
	return s.ID + "-battery-meter"
}

// SimulatesBatteries says whether the community's batteries are
// simulated (batteries is not "off").
func (c *Community) SimulatesBatteries() bool { return c.Batteries != BatteriesOff }

// SimSites are the sites as simulated: without their batteries when
// batteries = "off". The community is not modified.
func (c *Community) SimSites() []Site {
	if c.SimulatesBatteries() {
		return c.Sites
	}
	out := slices.Clone(c.Sites)
	for i := range out {
		out[i].Battery = nil
	}
	return out
}

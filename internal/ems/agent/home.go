package agent

import (
	"fmt"

	"github.com/BurntSushi/toml"

	"github.com/gridledger/gridledger/internal/ems/plan"
)

// Home is the agent's site file (TOML), richer than the planner's JSON:
//
//	member = "H01"            # participant id on the ledger
//	feeder = "F1"             # optional
//	res = "H01-PV"            # optional: the approved asset offers come from
//	capacity_w = 5000         # its capacity
//	utc_offset_h = 1          # optional: local time (default the tariff's)
//	peak_import_wh = 9000     # optional
//	consumption_history = "consumption.csv"  # timestamp_utc,site,consumption_wh
//	pv_history = "pv.csv"     # timestamp_utc,site,pv_wh (optional)
//	history_site = "opsd_res4" # the site column to read (default member)
//	method = "prophet-level"  # forecast method (default auto)
//	bid_margin_permille = 100 # price this ‰ of the tariff spread off the recent clearing price (default 100)
//
//	[battery]                 # optional: a home battery behind the meter
//	capacity_wh = 10000
//	min_soc_wh = 1000         # its reserve
//	max_charge_w = 5000
//	max_discharge_w = 5000
//	charge_efficiency_permille = 950
//	discharge_efficiency_permille = 950
//	initial_soc_wh = 1000     # when nothing reads it (see Agent.BatterySoCWh)
//
//	[[appliance]]
//	name = "ev"
//	start = 18
//	end = 7
//	flexible = true
//	power_w = 7400
//	energy_wh = 20000         # an EV: energy by departure (end)
//	relay = "H01-ev-plug"     # the smart plug or relay that switches it
//
// Appliance fields are the planner's (internal/ems/plan), plus relay.
type Home struct {
	Member             string `toml:"member"`
	Feeder             string `toml:"feeder"`
	RES                string `toml:"res"`
	CapacityW          int64  `toml:"capacity_w"`
	UTCOffsetH         *int   `toml:"utc_offset_h"`
	PeakImportWh       *int64 `toml:"peak_import_wh"`
	ConsumptionHistory string `toml:"consumption_history"`
	PVHistory          string `toml:"pv_history"`
	HistorySite        string `toml:"history_site"`
	Method             string `toml:"method"`
	// BidMarginPermille: see bidding.PriceAt (nil: bidding.DefaultMarginPermille).
	BidMarginPermille *int64      `toml:"bid_margin_permille"`
	Appliances        []Appliance `toml:"appliance"`
	// Battery is the home battery, nil for none.
	Battery *Battery `toml:"battery"`
}

// Battery is the home battery as the planner takes it (plan.Battery, whose
// fields and rules these are), without the day's initial and final state
// of charge, which the agent sets each day.
type Battery struct {
	CapacityWh                  int64 `toml:"capacity_wh"`
	MinSoCWh                    int64 `toml:"min_soc_wh"`
	MaxSoCWh                    int64 `toml:"max_soc_wh"`
	MaxChargeW                  int64 `toml:"max_charge_w"`
	MaxDischargeW               int64 `toml:"max_discharge_w"`
	ChargeEfficiencyPermille    int64 `toml:"charge_efficiency_permille"`
	DischargeEfficiencyPermille int64 `toml:"discharge_efficiency_permille"`
	StepWh                      int64 `toml:"step_wh"`
	CycleCostMicroPerKWh        int64 `toml:"cycle_cost_micro_per_kwh"`
	// InitialSoCWh is its state of charge when the agent starts and has
	// no reading of it.
	InitialSoCWh int64 `toml:"initial_soc_wh"`
}

// Plan is the battery for a day starting at initialSoCWh (clamped to the
// window). The day must end at least at the window's bottom: what the
// battery holds at midnight, the next day's plan starts from, so each
// day may spend what it stored and none owes the next.
func (b Battery) Plan(initialSoCWh int64) plan.Battery {
	pb := plan.Battery{CapacityWh: b.CapacityWh, MinSoCWh: b.MinSoCWh, MaxSoCWh: b.MaxSoCWh, MaxChargeW: b.MaxChargeW,
		MaxDischargeW: b.MaxDischargeW, ChargeEfficiencyPermille: b.ChargeEfficiencyPermille,
		DischargeEfficiencyPermille: b.DischargeEfficiencyPermille, StepWh: b.StepWh, CycleCostMicroPerKWh: b.CycleCostMicroPerKWh}
	pb.InitialSoCWh = min(max(initialSoCWh, pb.MinSoCWh), pb.MaxSoC())
	pb.FinalSoCWh = pb.MinSoCWh
	return pb
}

// Appliance is a planner appliance with the relay that switches it.
type Appliance struct {
	Name       string `toml:"name"`
	Start      int    `toml:"start"`
	End        int    `toml:"end"`
	Flexible   bool   `toml:"flexible"`
	PowerW     int64  `toml:"power_w"`
	Hours      int    `toml:"hours"`
	Splittable bool   `toml:"splittable"`
	EnergyWh   *int64 `toml:"energy_wh"`
	MaxPowerW  int64  `toml:"max_power_w"`
	Relay      string `toml:"relay"`
}

// PlanAppliances are the appliances as the planner takes them.
func (h Home) PlanAppliances() []plan.Appliance {
	out := make([]plan.Appliance, len(h.Appliances))
	for i, a := range h.Appliances {
		out[i] = plan.Appliance{Name: a.Name, Start: a.Start, End: a.End, Flexible: a.Flexible, PowerW: a.PowerW,
			Hours: a.Hours, Splittable: a.Splittable, EnergyWh: a.EnergyWh, MaxPowerW: a.MaxPowerW}
	}
	return out
}

// LoadHome reads and checks a site file.
func LoadHome(path string) (Home, error) {
	var h Home
	md, err := toml.DecodeFile(path, &h)
	if err != nil {
		return Home{}, fmt.Errorf("site file %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return Home{}, fmt.Errorf("site file %s: unknown key %q", path, und[0].String())
	}
	return h, h.Validate()
}

// Validate checks what the planner will need, with a flat day.
func (h Home) Validate() error {
	if h.Member == "" {
		return fmt.Errorf("site file: member is required")
	}
	if h.RES != "" && h.CapacityW <= 0 {
		return fmt.Errorf("site file: res %q needs capacity_w", h.RES)
	}
	flat := make([]int64, plan.HoursPerDay)
	s := plan.Site{BaseWh: flat, PVWh: flat, BuyMicroPerKWh: flat, SellMicroPerKWh: flat, Appliances: h.PlanAppliances()}
	if b := h.Battery; b != nil {
		pb := b.Plan(b.InitialSoCWh)
		s.Battery = &pb
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("site file: %w", err)
	}
	if h.UTCOffsetH != nil && (*h.UTCOffsetH < -12 || *h.UTCOffsetH > 14) {
		return fmt.Errorf("site file: utc_offset_h %d out of -12..14", *h.UTCOffsetH)
	}
	if m := h.BidMarginPermille; m != nil && (*m < 0 || *m > 1000) {
		return fmt.Errorf("site file: bid_margin_permille %d out of 0..1000", *m)
	}
	return nil
}

// AppliancesOf are planner appliances as site-file appliances (no relays).
func AppliancesOf(as []plan.Appliance) []Appliance {
	out := make([]Appliance, len(as))
	for i, a := range as {
		out[i] = Appliance{Name: a.Name, Start: a.Start, End: a.End, Flexible: a.Flexible, PowerW: a.PowerW,
			Hours: a.Hours, Splittable: a.Splittable, EnergyWh: a.EnergyWh, MaxPowerW: a.MaxPowerW}
	}
	return out
}

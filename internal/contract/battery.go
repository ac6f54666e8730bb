package contract

// Batteries. A home or community battery is an asset of its own kind,
// registered by its owner and approved by the DSO like a RES, with its
// capacity and its maximum charge and discharge power. It stores energy;
// it produces none. So the ledger holds to one rule: energy tokens are
// minted only from an approved RES's metered production, never from a
// battery's discharge, and a site's export that may have come from its
// battery is not renewable export (MemberSettlement.RenewableExportWh):
// grid energy charged at night and exported at the evening peak is paid
// like any other non-renewable export (feed-in, or the community's pool),
// never delivered against a sale with tokens.
//
// A battery's meter is a sub-meter behind its owner's grid meter: its
// import register counts the energy charged into the battery, its export
// register the energy discharged, and neither is added to the owner's
// grid import or export (the grid meter has already measured them). It
// only tells the settlement how much of the site's export the battery
// supplied. A battery with no meter, or whose meter did not report in the
// interval, is taken to have discharged at its full rated power.

// Battery is a storage asset. Energy in Wh, power in W.
type Battery struct {
	ID            string `json:"id"`
	Owner         string `json:"owner"`
	CapacityWh    int64  `json:"capacity_wh"`
	MaxChargeW    int64  `json:"max_charge_w"`
	MaxDischargeW int64  `json:"max_discharge_w"`
	Approved      bool   `json:"approved"`
	ApprovedBy    string `json:"approved_by,omitempty"`
}

// Transaction types of batteries.
const (
	TypeRegisterBattery = "register_battery"
	TypeApproveBattery  = "approve_battery"
)

// Limits on a battery's ratings: beyond them a figure is a typo.
const (
	// MaxBatteryWh is the largest capacity one battery may have (1 GWh).
	MaxBatteryWh = 1_000_000_000
	// MaxBatteryCRate bounds power by capacity: a battery that charges
	// or discharges in full in less than an hour over MaxBatteryCRate
	// (15 minutes) is not a battery a community meters.
	MaxBatteryCRate = 4
)

type (
	// MsgRegisterBattery registers a battery owned by the signer (a
	// member).
	MsgRegisterBattery struct {
		ID            string `json:"id"`
		CapacityWh    int64  `json:"capacity_wh"`
		MaxChargeW    int64  `json:"max_charge_w"`
		MaxDischargeW int64  `json:"max_discharge_w"`
	}
	// MsgApproveBattery approves a battery (DSO only): the DSO attests
	// that it is connected with the capacity and power registered.
	MsgApproveBattery struct {
		ID string `json:"id"`
	}
)

func (m *MsgRegisterBattery) ValidateBasic() error {
	if err := CheckID("battery id", m.ID); err != nil {
		return err
	}
	if err := checkRange("capacity_wh", m.CapacityWh, MaxBatteryWh); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		w    int64
	}{{"max_charge_w", m.MaxChargeW}, {"max_discharge_w", m.MaxDischargeW}} {
		if err := checkRange(p.name, p.w, MaxCapacityW); err != nil {
			return err
		}
		if p.w > MaxBatteryCRate*m.CapacityWh {
			return errf(ErrBadQuantity, "%s %d W for %d Wh: a battery charges or discharges in no less than 1/%d h (at most %d W)",
				p.name, p.w, m.CapacityWh, MaxBatteryCRate, MaxBatteryCRate*m.CapacityWh)
		}
	}
	return nil
}

func (m *MsgApproveBattery) ValidateBasic() error { return CheckID("battery id", m.ID) }

func (s *State) registerBattery(signer *Participant, m *MsgRegisterBattery) ([]Event, error) {
	if err := requireRole(signer, RoleMember); err != nil {
		return nil, err
	}
	if _, ok := s.batteries[m.ID]; ok {
		return nil, errf(ErrDuplicate, "battery %q", m.ID)
	}
	if _, ok := s.res[m.ID]; ok {
		return nil, errf(ErrDuplicate, "%q is a RES: assets share one namespace", m.ID)
	}
	b := &Battery{ID: m.ID, Owner: signer.ID, CapacityWh: m.CapacityWh, MaxChargeW: m.MaxChargeW, MaxDischargeW: m.MaxDischargeW}
	s.batteries[b.ID] = b
	s.touch(keyBattery(b.ID), b, false)
	return []Event{event("battery_registered", "id", b.ID, "owner", b.Owner, "capacity_wh", i64(b.CapacityWh),
		"max_charge_w", i64(b.MaxChargeW), "max_discharge_w", i64(b.MaxDischargeW))}, nil
}

func (s *State) approveBattery(signer *Participant, m *MsgApproveBattery) ([]Event, error) {
	if err := requireRole(signer, RoleDSO); err != nil {
		return nil, err
	}
	b, ok := s.batteries[m.ID]
	if !ok {
		return nil, errf(ErrUnknownBattery, "%q", m.ID)
	}
	if b.Approved {
		return nil, errf(ErrDuplicate, "battery %q is already approved", b.ID)
	}
	s.touch(keyBattery(b.ID), b, true)
	b.Approved, b.ApprovedBy = true, signer.ID
	return []Event{event("battery_approved", "id", b.ID, "dso", signer.ID)}, nil
}

// checkMeterBattery checks a meter registration's battery: known, the
// meter's owner's, and not metered already.
func (s *State) checkMeterBattery(m *MsgRegisterMeter) error {
	b, ok := s.batteries[m.Battery]
	if !ok {
		if _, isRES := s.res[m.Battery]; isRES {
			return errf(ErrUnknownBattery, "%q is a RES: bind its meter with res", m.Battery)
		}
		return errf(ErrUnknownBattery, "%q", m.Battery)
	}
	if b.Owner != m.Owner {
		return errf(ErrNotOwner, "battery %q belongs to %q, not %q", b.ID, b.Owner, m.Owner)
	}
	if mt := s.batteryMeter(b.ID); mt != "" {
		return errf(ErrDuplicate, "battery %q is metered by %q already", b.ID, mt)
	}
	return nil
}

// batteryMeter is the meter bound to a battery, or "".
func (s *State) batteryMeter(id string) string {
	for _, mid := range sortedKeys(s.meters) {
		if s.meters[mid].Battery == id {
			return mid
		}
	}
	return ""
}

// unmeteredDischarge adds to each member its batteries' rated discharge
// over the interval for each battery whose meter did not report in it
// (read holds the batteries whose meter did): what the site's export may
// have drawn from them unseen.
func (s *State) unmeteredDischarge(members map[string]*MemberSettlement, read map[string]bool, intervalS int64) {
	for _, id := range sortedKeys(s.batteries) {
		b := s.batteries[id]
		if m := members[b.Owner]; m != nil && !read[id] {
			m.BatteryUnmeteredWh = satAdd(m.BatteryUnmeteredWh, b.MaxDischargeW*intervalS/3600)
		}
	}
}

// RenewableExportWh is what of the member's metered export may carry
// energy tokens: its export beyond what its batteries discharged (metered,
// or their rated discharge where unmetered), up to its RES production.
// The battery is taken to export first: no Wh it gave out counts as
// renewable, whatever charged it.
func (m *MemberSettlement) RenewableExportWh() int64 {
	fromBattery := satAdd(m.BatteryDischargeWh, m.BatteryUnmeteredWh)
	return min(m.ProductionWh, max(0, m.ExportWh-fromBattery))
}

// Batteries lists every battery, sorted by id.
func (s *State) Batteries() []Battery {
	out := make([]Battery, 0, len(s.batteries))
	for _, id := range sortedKeys(s.batteries) {
		out = append(out, *s.batteries[id])
	}
	return out
}

package agent

import (
	"context"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

// An appliance switched off (Home Assistant's switch) is left out of the
// next day planned, and its relay switched off; the day already planned
// keeps it; switched on again, the day after has it back.
func TestExcludedApplianceLeavesTheNextPlan(t *testing.T) {
	a, l := flatHome()
	wh := int64(6000)
	a.Home.Appliances = []Appliance{{Name: "ev", Start: 0, End: 23, Flexible: true, PowerW: 3000, EnergyWh: &wh, Relay: "ev-plug"}}
	ctx := context.Background()
	const day = int64(20 * 86400)
	// Noon: today and (12 h ahead) tomorrow are planned, the EV in both.
	if err := a.Step(ctx, snapAt(day+12*3600, contract.ImbalanceCommunity)); err != nil {
		t.Fatal(err)
	}
	energy := func(d int64) (sum int64) {
		p, ok := a.Plan(d)
		if !ok {
			t.Fatalf("day %d not planned", d)
		}
		for _, w := range p.Current.ApplianceWh(p.Site, false) {
			sum += w
		}
		return sum
	}
	if e := energy(day + 86400); e != 6000 {
		t.Fatalf("tomorrow's EV energy %d Wh, want 6000", e)
	}
	if err := a.SetAppliance("washer", false); err == nil {
		t.Error("an unknown appliance accepted")
	}
	if err := a.SetAppliance("ev", false); err != nil {
		t.Fatal(err)
	}
	if got := a.Appliances(); got["ev"] {
		t.Errorf("Appliances %v", got)
	}
	plans := len(l.sent)
	// The next noon: the day after tomorrow is planned without the EV.
	if err := a.Step(ctx, snapAt(day+86400+12*3600, contract.ImbalanceCommunity)); err != nil {
		t.Fatal(err)
	}
	if e := energy(day + 86400); e != 6000 {
		t.Errorf("the day planned before the switch changed: %d Wh", e)
	}
	if e := energy(day + 2*86400); e != 0 {
		t.Errorf("the EV is still in the next plan: %d Wh", e)
	}
	if len(l.sent) == plans {
		t.Error("no plan committed for the next day")
	}
	if err := a.SetAppliance("ev", true); err != nil {
		t.Fatal(err)
	}
	if err := a.Step(ctx, snapAt(day+2*86400+12*3600, contract.ImbalanceCommunity)); err != nil {
		t.Fatal(err)
	}
	if e := energy(day + 3*86400); e != 6000 {
		t.Errorf("switched on again, the EV has %d Wh", e)
	}
	// During the day without the EV its relay is off.
	if err := a.Step(ctx, snapAt(day+2*86400+13*3600, contract.ImbalanceCommunity)); err != nil {
		t.Fatal(err)
	}
	if on, known := a.relay["ev-plug"]; !known || on {
		t.Errorf("relay on=%v known=%v on a day without the EV", on, known)
	}
}

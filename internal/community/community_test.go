package community

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/market"
)

func readExample(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../../docs/examples/community.toml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseExample(t *testing.T) {
	c, err := Parse(readExample(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Seerhein" || len(c.Sites) != 10 || c.UTCOffsetH != 1 || c.Latitude != 47.7 {
		t.Fatalf("parsed %q with %d sites, offset %d, latitude %v", c.Name, len(c.Sites), c.UTCOffsetH, c.Latitude)
	}
	types := map[string]bool{}
	for _, s := range c.Sites {
		types[s.Type] = true
	}
	for _, typ := range Types {
		if !types[typ] {
			t.Errorf("the example has no %s", typ)
		}
	}
	byID := map[string]Site{}
	for _, s := range c.Sites {
		byID[s.ID] = s
	}
	// Defaults filled in: carla's load, the PV profile, the variability.
	if l := byID["carla"].Load; l == nil || l.Profile != "household-average" || l.AnnualKWh != 3500 || *l.Variability != 1 {
		t.Errorf("carla's default load = %+v", l)
	}
	if l := byID["streetlights"].Load; l.Shape != ShapeLighting {
		t.Errorf("streetlights' shape %q", l.Shape)
	}
	if g := byID["dieter"].PV; g.Profile != ProfileClearSky {
		t.Errorf("dieter's pv profile %q", g.Profile)
	}
	if a := byID["anna"].Load; a.ShiftH != -1 {
		t.Errorf("anna's shift %d", a.ShiftH)
	}
	if e := byID["ben"].PlanAppliances()[0]; e.EnergyWh == nil || *e.EnergyWh != 8000 || e.MaxPowerW != 3700 || !e.Flexible {
		t.Errorf("ben's ev %+v", e)
	}
	p := c.Params()
	if p != contract.DefaultParams() {
		// The example states the seed's tariffs: only the offset differs,
		// and the default's is UTC.
		want := contract.DefaultParams()
		want.TariffUTCOffsetS = 3600
		if p != want {
			t.Errorf("params %+v, want the defaults at UTC+1", p)
		}
	}
	if c.DR.IncentivePerKWh() != 100_000 || c.DR.LimitPct != 150 || !c.DR.Enabled {
		t.Errorf("DR %+v, incentive %d", c.DR, c.DR.IncentivePerKWh())
	}
	if got := c.StartUnix(); got != 1735686000 { // 2025-01-01T00:00+01:00
		t.Errorf("StartUnix %d", got)
	}
}

func TestHelpers(t *testing.T) {
	c, err := Parse(readExample(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		node     contract.NodeType
		res      string
		kind     string
		capacity int64
	}{
		"anna":         {contract.NodeHousehold, "", "", 0},
		"dieter":       {contract.NodeHousehold, "dieter-pv", "pv", 6000},
		"school":       {contract.NodeNonResidential, "school-pv", "pv", 30000},
		"streetlights": {contract.NodePublicLighting, "", "", 0},
		"charging-hub": {contract.NodeEVCharging, "", "", 0},
		"windrad":      {contract.NodeProducer, "windrad-wind", "wind", 2000000},
	}
	for _, s := range c.Sites {
		w, ok := want[s.ID]
		if !ok {
			continue
		}
		if s.NodeType() != w.node || s.RESID() != w.res || s.RESKind() != w.kind || s.CapacityW() != w.capacity {
			t.Errorf("%s: %s %q %q %d, want %+v", s.ID, s.NodeType(), s.RESID(), s.RESKind(), s.CapacityW(), w)
		}
		m := contract.MsgRegisterParticipant{ID: s.ID, Role: contract.RoleMember, NodeType: s.NodeType(),
			Feeder: s.Feeder, PubKey: make([]byte, 32)}
		if err := m.ValidateBasic(); err != nil {
			t.Errorf("%s: the ledger refuses the site: %v", s.ID, err)
		}
	}
}

func TestParseTariffForms(t *testing.T) {
	head := "[[site]]\nid = \"a\"\ntype = \"household\"\n"
	cases := []struct {
		name, toml  string
		grid, feed  [24]int64
		gridAtHour  map[int]int64
		feedAtHours int64
	}{
		{name: "flat", toml: "[tariff]\ngrid = 0.2\nfeed_in = 0.05\n", gridAtHour: map[int]int64{0: 200_000, 13: 200_000}, feedAtHours: 50_000},
		{name: "peak given, rest default", toml: "[tariff]\ngrid_peak = 0.3\n",
			gridAtHour: map[int]int64{12: 65_000, 13: 300_000, 22: 300_000, 23: 65_000}, feedAtHours: 39_000},
		{name: "peak over midnight", toml: "[tariff]\ngrid_peak = 0.3\ngrid_off_peak = 0.1\npeak_hours = [22, 6]\n",
			gridAtHour: map[int]int64{21: 100_000, 22: 300_000, 0: 300_000, 5: 300_000, 6: 100_000}, feedAtHours: 39_000},
		{name: "hourly", toml: "[tariff]\ngrid_hourly = [0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.25,0.1,0.1,0.1,0.1,0.1]\n",
			gridAtHour: map[int]int64{17: 100_000, 18: 250_000}, feedAtHours: 39_000},
		{name: "integer prices", toml: "[tariff]\ngrid = 1\nfeed_in = 0\n", gridAtHour: map[int]int64{5: 1_000_000}, feedAtHours: 0},
	}
	for _, tc := range cases {
		c, err := Parse([]byte(tc.toml + head))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		p := c.Params()
		for h, want := range tc.gridAtHour {
			if p.GridPricePerKWh[h] != want {
				t.Errorf("%s: grid at %d h = %d, want %d", tc.name, h, p.GridPricePerKWh[h], want)
			}
		}
		for h := range 24 {
			if p.FeedInPerKWh[h] != tc.feedAtHours {
				t.Errorf("%s: feed-in at %d h = %d, want %d", tc.name, h, p.FeedInPerKWh[h], tc.feedAtHours)
			}
		}
		// The tariff survives a round trip in the form it was given.
		again := roundTrip(t, c)
		if again.Params() != p {
			t.Errorf("%s: params changed in a round trip", tc.name)
		}
	}
}

// TestValidation names every refusal: each case is a minimal file that
// breaks one rule, and the error must say which site and key.
func TestValidation(t *testing.T) {
	const home = "[[site]]\nid = \"h1\"\ntype = \"household\"\n"
	cases := []struct{ name, toml, want string }{
		{"not toml", "name = ", "invalid community: toml:"},
		{"unknown top key", "colour = \"red\"\n" + home, `unknown key "colour"`},
		{"unknown site key", "[[site]]\nid = \"h1\"\ntype = \"household\"\nroof = 3\n", `unknown key "site.roof"`},
		{"unknown load key", home + "[site.load]\nprofil = \"household-1\"\nannual_kwh = 1\n", `unknown key "site.load.profil"`},
		{"unknown appliance key", home + "[[site.appliance]]\nname = \"x\"\nstart = 1\nend = 2\npower_w = 1\nhours = 1\nrelay = \"r\"\n", `unknown key "site.appliance.relay"`},
		{"wrong type", "utc_offset_h = \"one\"\n" + home, "utc_offset_h"},
		{"no sites", "name = \"x\"\n", "no [[site]]"},
		{"bad start", "start = \"2025-13-01\"\n" + home, `start "2025-13-01": want a date YYYY-MM-DD`},
		{"offset", "utc_offset_h = 15\n" + home, "utc_offset_h 15: want -12..14"},
		{"latitude", "latitude = 91.0\n" + home, "latitude 91: want -90..90"},
		{"latitude nan", "latitude = nan\n" + home, "latitude NaN"},
		{"longitude", "longitude = -181\n" + home, "longitude -181: want -180..180"},
		{"mechanism", "mechanism = \"dutch\"\n" + home, `mechanism "dutch": want one of`},
		{"two grid forms", "[tariff]\ngrid = 0.1\ngrid_peak = 0.2\n" + home, "tariff: give one of grid, grid_peak/grid_off_peak/peak_hours, or grid_hourly"},
		{"two feed-in forms", "[tariff]\nfeed_in = 0.01\nfeed_in_hourly = [0.01]\n" + home, "tariff: give feed_in or feed_in_hourly, not both"},
		{"hourly length", "[tariff]\ngrid_hourly = [0.1, 0.2]\n" + home, "tariff.grid_hourly has 2 prices, want 24"},
		{"peak hours", "[tariff]\npeak_hours = [13, 24]\n" + home, "tariff.peak_hours [13 24]: want [start, end]"},
		{"peak hours equal", "[tariff]\npeak_hours = [5, 5]\n" + home, "tariff.peak_hours [5 5]"},
		{"negative price", "[tariff]\nfeed_in = -0.01\n" + home, "tariff.feed_in -0.01: want 0..100 per kWh"},
		{"too many decimals", "[tariff]\ngrid = 0.1234567\n" + home, "tariff.grid 0.1234567: at most 6 decimals"},
		{"feed-in above grid", "[tariff]\ngrid = 0.05\nfeed_in = 0.06\n" + home, "invalid community: tariff: hour 0: feed-in 60000 above grid price 50000"},
		{"dr limit", "[demand_response]\nlimit_pct = 90\n" + home, "demand_response.limit_pct 90: want 100..10000"},
		{"dr incentive", "[demand_response]\nincentive = 0\n" + home, "demand_response.incentive is 0"},
		{"dr incentive decimals", "[demand_response]\nincentive = 0.00000001\n" + home, "demand_response.incentive 1e-08: at most 6 decimals"},
		{"id empty", "[[site]]\ntype = \"household\"\n", `site 1: id "": want 1-48 letters`},
		{"id chars", "[[site]]\nid = \"a b\"\ntype = \"household\"\n", `site 1: id "a b"`},
		{"id long", "[[site]]\nid = \"" + strings.Repeat("x", 49) + "\"\ntype = \"household\"\n", "want 1-48 letters"},
		{"duplicate id", home + home, `site "h1": id used twice`},
		{"unknown type", "[[site]]\nid = \"h1\"\ntype = \"castle\"\n", `site "h1": type "castle": want one of household, prosumer`},
		{"feeder", home + "feeder = \"a b\"\n", `site "h1": feeder "a b"`},
		{"household with pv", home + "[site.pv]\ncapacity_w = 1000\n", `site "h1": a household with generation is a prosumer`},
		{"prosumer without pv", "[[site]]\nid = \"p1\"\ntype = \"prosumer\"\n", `site "p1": a prosumer needs [site.pv]`},
		{"producer without generator", "[[site]]\nid = \"g1\"\ntype = \"producer\"\n", `site "g1": a producer needs [site.pv] or [site.wind]`},
		{"pv and wind", "[[site]]\nid = \"g1\"\ntype = \"producer\"\n[site.pv]\ncapacity_w = 1\n[site.wind]\ncapacity_w = 1\n", `site "g1": has both pv and wind`},
		{"unknown profile", home + "[site.load]\nprofile = \"household-9\"\nannual_kwh = 1000\n", `site "h1": load.profile "household-9": want "synthetic" or one of household-1`},
		{"unknown shape", home + "[site.load]\nprofile = \"synthetic\"\nshape = \"castle\"\nannual_kwh = 1000\n", `site "h1": load.shape "castle"`},
		{"shape without synthetic", home + "[site.load]\nprofile = \"household-1\"\nshape = \"home\"\nannual_kwh = 1000\n", `load.shape "home" is for profile = "synthetic"`},
		{"annual missing", home + "[site.load]\nprofile = \"household-1\"\n", `site "h1": load.annual_kwh 0: want more than 0`},
		{"annual negative", home + "[site.load]\nannual_kwh = -5\n", `load.annual_kwh -5`},
		{"annual absurd", home + "[site.load]\nannual_kwh = 1e9\n", `load.annual_kwh 1e+09: want more than 0, at most 10000000`},
		{"shift", home + "[site.load]\nannual_kwh = 1000\nshift_h = 13\n", `site "h1": load.shift_h 13: want -12..12`},
		{"variability", home + "[site.load]\nannual_kwh = 1000\nvariability = 3.0\n", `site "h1": load.variability: want 0..2`},
		{"bid margin", home + "bid_margin = 1.5\n", `site "h1": bid_margin 1.5: want 0..1`},
		{"capacity zero", "[[site]]\nid = \"p1\"\ntype = \"prosumer\"\n[site.pv]\ncapacity_w = 0\n", `site "p1": pv.capacity_w 0: want 1..1000000000`},
		{"capacity absurd", "[[site]]\nid = \"g1\"\ntype = \"producer\"\n[site.wind]\ncapacity_w = 2000000000\n", `site "g1": wind.capacity_w 2000000000`},
		{"pv profile", "[[site]]\nid = \"p1\"\ntype = \"prosumer\"\n[site.pv]\ncapacity_w = 5000\nprofile = \"weibull\"\n", `site "p1": pv.profile "weibull": want one of clear-sky, pv-konstanz`},
		{"wind profile", "[[site]]\nid = \"g1\"\ntype = \"producer\"\n[site.wind]\ncapacity_w = 5000\nprofile = \"clear-sky\"\n", `wind.profile "clear-sky": want one of weibull`},
		{"pv wind speed", "[[site]]\nid = \"p1\"\ntype = \"prosumer\"\n[site.pv]\ncapacity_w = 5000\nmean_speed_ms = 5.0\n", `pv.mean_speed_ms: only wind`},
		{"wind speed", "[[site]]\nid = \"g1\"\ntype = \"producer\"\n[site.wind]\ncapacity_w = 5000\nmean_speed_ms = 30.0\n", `wind.mean_speed_ms: want 2..15 m/s`},
		{"appliance hour", home + "[[site.appliance]]\nname = \"w\"\nstart = 24\nend = 2\npower_w = 100\nhours = 1\n", `site "h1": [[site.appliance]]: appliance "w" window 24–2, want hours 0..23`},
		{"appliance power", home + "[[site.appliance]]\nname = \"w\"\nstart = 1\nend = 2\npower_w = -1\nhours = 1\n", `appliance "w" power_w -1`},
		{"appliance name", home + "[[site.appliance]]\nstart = 1\nend = 2\npower_w = 1\nhours = 1\n", `appliance 0 has no name`},
		{"appliance twice", home + "[[site.appliance]]\nname = \"w\"\nstart = 1\nend = 2\npower_w = 1\nhours = 1\n[[site.appliance]]\nname = \"w\"\nstart = 1\nend = 2\npower_w = 1\nhours = 1\n", `appliance name "w" repeated`},
		{"appliance hours beyond window", home + "[[site.appliance]]\nname = \"w\"\nstart = 1\nend = 3\npower_w = 1\nhours = 5\n", `appliance "w" runs 5 hours but its window 1–3 has 2`},
		{"appliance energy unreachable", home + "[[site.appliance]]\nname = \"ev\"\nstart = 1\nend = 3\npower_w = 1000\nenergy_wh = 5000\n", `appliance "ev" cannot take 5000 Wh`},
		{"batteries mode", "batteries = \"maybe\"\n" + home, `batteries "maybe": want one of [on off]`},
		{"unknown battery key", home + "[site.battery]\ncapacity_wh = 10000\nmax_charge_w = 5000\nmax_discharge_w = 5000\nchemistry = \"lfp\"\n", `unknown key "site.battery.chemistry"`},
		{"battery capacity", home + "[site.battery]\ncapacity_wh = 0\nmax_charge_w = 5000\nmax_discharge_w = 5000\n", `site "h1": battery.capacity_wh 0: want 1..10000000`},
		{"battery power", home + "[site.battery]\ncapacity_wh = 1000\nmax_charge_w = 5000\nmax_discharge_w = 500\n", `battery.max_charge_w 5000: want 1..4000 W (at most 4 × the capacity per hour)`},
		{"battery no power", home + "[site.battery]\ncapacity_wh = 1000\nmax_charge_w = 500\n", `battery.max_discharge_w 0`},
		{"battery efficiency", home + "[site.battery]\ncapacity_wh = 10000\nmax_charge_w = 5000\nmax_discharge_w = 5000\ncharge_efficiency = 1.2\n", `battery.charge_efficiency: want 0.5..1`},
		{"battery min soc", home + "[site.battery]\ncapacity_wh = 10000\nmax_charge_w = 5000\nmax_discharge_w = 5000\nmin_soc = 0.95\n", `battery.min_soc: want 0..0.9`},
		{"battery initial soc", home + "[site.battery]\ncapacity_wh = 10000\nmax_charge_w = 5000\nmax_discharge_w = 5000\nmin_soc = 0.2\ninitial_soc = 0.1\n", `battery.initial_soc: want min_soc (0.2)..1`},
		{"battery cycle cost", home + "[site.battery]\ncapacity_wh = 10000\nmax_charge_w = 5000\nmax_discharge_w = 5000\ncycle_cost = 2.0\n", `battery.cycle_cost: want 0..1 per kWh`},
		{"battery without load", "[[site]]\nid = \"g1\"\ntype = \"producer\"\n[site.pv]\ncapacity_w = 1000\n[site.battery]\ncapacity_wh = 10000\nmax_charge_w = 5000\nmax_discharge_w = 5000\n", `site "g1": a battery needs a [site.load]`},
		{"appliances without load", "[[site]]\nid = \"g1\"\ntype = \"producer\"\n[site.pv]\ncapacity_w = 1000\n[[site.appliance]]\nname = \"w\"\nstart = 1\nend = 2\npower_w = 1\nhours = 1\n", `site "g1": appliances need a [site.load]`},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.toml))
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v is not ErrInvalid", tc.name, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got  %v\n want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func roundTrip(t *testing.T, c *Community) *Community {
	t.Helper()
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(c, again) {
		t.Fatalf("round trip changed the community:\n%s", data)
	}
	return again
}

func TestEncodeRoundTrip(t *testing.T) {
	c, err := Parse(readExample(t))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	for _, n := range []int{1, 5, 6, 13, 120} {
		for seed := uint64(1); seed <= 2; seed++ {
			roundTrip(t, Generate(n, seed))
		}
	}
}

func TestParseNeedsNoLoadForProducer(t *testing.T) {
	c, err := Parse([]byte("[[site]]\nid = \"g1\"\ntype = \"producer\"\n[site.pv]\ncapacity_w = 1000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sites[0].Load != nil {
		t.Errorf("a producer got a load: %+v", c.Sites[0].Load)
	}
	if c.Mechanism != string(market.AverageBid) {
		t.Errorf("mechanism %q", c.Mechanism)
	}
}

// A Community written in Go takes the per-site defaults as Parse does.
func TestValidateFillsSiteDefaults(t *testing.T) {
	c := &Community{Start: "2025-06-01", Mechanism: "uniform", DR: DR{LimitPct: 200},
		Sites: []Site{{ID: "h", Type: TypeHousehold}, {ID: "w", Type: TypeProducer, Wind: &Generator{CapacityW: 1000}}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Sites[0].Load != nil {
		t.Error("Validate changed the community")
	}
	if _, err := c.Model(1); err != nil {
		t.Fatal(err)
	}
	if p := c.Params(); p.Mechanism != market.Uniform || p.TariffUTCOffsetS != 0 {
		t.Errorf("params %+v", p)
	}
}

package community

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/plan"
	"github.com/gridledger/gridledger/internal/market"
)

// ErrInvalid reports a community description that cannot be used: bad
// TOML, an unknown key, or a value out of range. The message names the
// site and key.
var ErrInvalid = errors.New("invalid community")

// Community is an energy community: where and when it is, its market
// rules, and its sites. docs/community.md documents every key.
type Community struct {
	Name string `toml:"name"`
	// Start is the first local day simulated by default, YYYY-MM-DD.
	Start string `toml:"start"`
	// UTCOffsetH is the community's local standard time (no daylight
	// saving): tariff hours, profiles and the sun run on it.
	UTCOffsetH int `toml:"utc_offset_h"`
	// Latitude and Longitude (degrees, north and east positive) place the
	// sun: PV output, day length, street lighting.
	Latitude  float64 `toml:"latitude"`
	Longitude float64 `toml:"longitude"`
	// Mechanism is the clearing rule, one of market.Mechanisms.
	Mechanism string `toml:"mechanism"`
	// Imbalance is how deviations from traded positions are settled, one
	// of contract.ImbalanceRules: "community" nets them inside the
	// community first, "utility" settles each member with the utility.
	// Empty reads as "community".
	Imbalance string `toml:"imbalance"`
	// Bidding is how the simulated sites bid, one of BiddingModes: their
	// EMS ("ems") or, as a yardstick, their true net load for the interval
	// ("perfect-foresight"). A real community's sites always bid by EMS.
	// Empty reads as "ems".
	Bidding string `toml:"bidding"`
	// Batteries says whether the sites' batteries are simulated, one of
	// BatteriesModes: "off" leaves every [site.battery] out (the same
	// community without storage, for --compare batteries=on,off). Empty
	// reads as "on".
	Batteries string `toml:"batteries"`
	Tariff    Tariff `toml:"tariff"`
	DR        DR     `toml:"demand_response"`
	Sites     []Site `toml:"site"`
}

// DR is the DSO's demand-response policy.
type DR struct {
	Enabled bool `toml:"enabled"`
	// LimitPct: the DSO asks for demand response when a day's planned
	// community import peaks above this percentage of the day's mean.
	LimitPct int64 `toml:"limit_pct"`
	// Incentive is paid per kWh of confirmed reduction, in currency units.
	Incentive float64 `toml:"incentive"`
}

// Bidding modes of the simulated sites.
const (
	BiddingEMS              = "ems"
	BiddingPerfectForesight = "perfect-foresight"
)

// BiddingModes lists the bidding modes, the default first.
var BiddingModes = []string{BiddingEMS, BiddingPerfectForesight}

// Whether the sites' batteries are simulated.
const (
	BatteriesOn  = "on"
	BatteriesOff = "off"
)

// BatteriesModes lists the battery settings, the default first.
var BatteriesModes = []string{BatteriesOn, BatteriesOff}

// Site types. A prosumer is a household with PV on the ledger.
const (
	TypeHousehold      = "household"
	TypeProsumer       = "prosumer"
	TypeNonResidential = "non-residential"
	TypePublicLighting = "public-lighting"
	TypeEVCharging     = "ev-charging"
	TypeProducer       = "producer"
)

// Types lists the site types.
var Types = []string{TypeHousehold, TypeProsumer, TypeNonResidential, TypePublicLighting, TypeEVCharging, TypeProducer}

// Site is one member's connection to the grid: its consumption, its
// generation asset (at most one: PV or wind) and the appliances its EMS
// plans.
type Site struct {
	// ID is the member's ledger id.
	ID   string `toml:"id"`
	Type string `toml:"type"`
	// Feeder is the distribution feeder the site hangs on, if known.
	Feeder string     `toml:"feeder,omitempty"`
	Load   *Load      `toml:"load"`
	PV     *Generator `toml:"pv"`
	Wind   *Generator `toml:"wind"`
	// Battery is the site's home battery behind its meter, if it has one.
	Battery *Battery `toml:"battery"`
	// Appliances are what the site's EMS plans, on top of its Load.
	Appliances []Appliance `toml:"appliance"`
	// BidMargin is how far from the recent clearing price the site's EMS
	// prices its orders, as a share of the tariff spread (0..1): 0 at the
	// price itself, 0.1 (default) a tenth of the spread above for a bid
	// and below for an offer. Homes differ; the mechanisms then do too.
	BidMargin *float64 `toml:"bid_margin"`
}

// DefaultBidMargin is a site's bid_margin when none is given.
const DefaultBidMargin = 0.1

// BidMarginPermille is the site's bid margin in ‰ of the tariff spread.
func (s Site) BidMarginPermille() int64 {
	if s.BidMargin == nil {
		return int64(DefaultBidMargin * 1000)
	}
	return int64(math.Round(*s.BidMargin * 1000))
}

// Load is a site's consumption without its EMS appliances.
type Load struct {
	// Profile is an embedded profile (LoadProfiles) or "synthetic".
	Profile string `toml:"profile"`
	// Shape is the synthetic shape: home, office, lighting or ev-station.
	Shape string `toml:"shape,omitempty"`
	// AnnualKWh scales the profile to this yearly consumption.
	AnnualKWh float64 `toml:"annual_kwh"`
	// ShiftH moves the profile later by this many hours (negative:
	// earlier, say an early riser).
	ShiftH int `toml:"shift_h,omitzero"`
	// Variability scales the day-to-day and hour-to-hour scatter around
	// the profile: 1 is the profile's own (learned from its data), 0 none.
	Variability *float64 `toml:"variability"`
}

// Generator is a site's PV array or wind turbine.
type Generator struct {
	CapacityW int64 `toml:"capacity_w"`
	// Profile: for PV "clear-sky" or an embedded one (PVProfiles); for
	// wind "weibull".
	Profile string `toml:"profile"`
	// MeanSpeedMS is the wind's mean speed at hub height, m/s (wind only).
	MeanSpeedMS *float64 `toml:"mean_speed_ms"`
}

// Appliance is one appliance the site's EMS plans: the fields and meaning
// of plan.Appliance (the seed's Table 8, plus what an EV needs).
type Appliance struct {
	Name string `toml:"name"`
	// Start and End are the local hours of its window, [Start, End),
	// wrapping past midnight; Start == End is the whole day.
	Start    int   `toml:"start"`
	End      int   `toml:"end"`
	Flexible bool  `toml:"flexible,omitempty"`
	PowerW   int64 `toml:"power_w"`
	// Hours it runs (time-based appliances).
	Hours      int  `toml:"hours,omitzero"`
	Splittable bool `toml:"splittable,omitempty"`
	// EnergyWh makes it energy-based (an EV): any Wh per hour up to
	// MaxPowerW (PowerW if 0), EnergyWh in all within its window.
	EnergyWh  *int64 `toml:"energy_wh"`
	MaxPowerW int64  `toml:"max_power_w,omitzero"`
}

// Defaults of the community-wide keys.
const (
	DefaultStart      = "2025-01-01"
	DefaultUTCOffsetH = 1
	// Konstanz, where the PV profile was metered.
	DefaultLatitude   = 47.7
	DefaultLongitude  = 9.2
	DefaultDRLimitPct = 150
	DefaultIncentive  = 0.1
	// DefaultMeanSpeedMS is a fair inland site's mean wind at hub height.
	DefaultMeanSpeedMS = 6.5
	// MaxSites bounds a community.
	MaxSites = 100_000
	// MaxAnnualKWh bounds one site's yearly consumption (10 GWh).
	MaxAnnualKWh = 10_000_000
	// MaxIDLen leaves room in the ledger's 64-character ids for the
	// suffixes derived from a site's id ("-wind", "-meter").
	MaxIDLen = 48
)

// defaultAnnualKWh is a typical year's consumption by site type.
var defaultAnnualKWh = map[string]float64{
	TypeHousehold:      3500,
	TypeProsumer:       4500,
	TypeNonResidential: 30000,
	TypePublicLighting: 10000,
	TypeEVCharging:     40000,
}

var (
	siteIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	// feederPattern is the ledger's own id rule (contract checkID).
	feederPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
)

// newWithDefaults is a Community holding the defaults of the keys that
// TOML cannot tell absent from zero; decoding overwrites what the file gives.
func newWithDefaults() *Community {
	return &Community{
		Start:      DefaultStart,
		UTCOffsetH: DefaultUTCOffsetH,
		Latitude:   DefaultLatitude,
		Longitude:  DefaultLongitude,
		Mechanism:  string(contract.DefaultParams().Mechanism),
		Imbalance:  contract.ImbalanceCommunity,
		Bidding:    BiddingEMS,
		Batteries:  BatteriesOn,
		DR:         DR{Enabled: true, LimitPct: DefaultDRLimitPct, Incentive: DefaultIncentive},
	}
}

// Parse reads a community description, refuses unknown keys, fills in the
// defaults (so the result states every setting) and validates it.
func Parse(data []byte) (*Community, error) {
	c := newWithDefaults()
	md, err := toml.Decode(string(data), c)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var keys []string
		for _, k := range und {
			keys = append(keys, fmt.Sprintf("%q", k.String()))
		}
		return nil, fmt.Errorf("%w: unknown key %s (see docs/community.md)", ErrInvalid, strings.Join(keys, ", "))
	}
	filled, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := filled.validate(); err != nil {
		return nil, err
	}
	return filled, nil
}

// Encode writes the community as TOML. A Community as Parse or Generate
// returns it (defaults filled in) comes back equal through Parse.
func (c *Community) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// withDefaults is a copy of c with every per-site default and the tariff's
// filled in; c is not modified.
func (c *Community) withDefaults() (*Community, error) {
	f := *c
	t, err := c.Tariff.withDefaults()
	if err != nil {
		return nil, err
	}
	f.Tariff = t
	f.Sites = make([]Site, len(c.Sites))
	for i, s := range c.Sites {
		if s.Load != nil {
			l := *s.Load
			s.Load = &l
		} else if s.Type != TypeProducer && defaultAnnualKWh[s.Type] > 0 {
			s.Load = &Load{AnnualKWh: defaultAnnualKWh[s.Type]}
		}
		if l := s.Load; l != nil {
			if l.Profile == "" {
				l.Profile, l.Shape = defaultProfile(s.Type)
			}
			if l.Profile == ProfileSynthetic && l.Shape == "" {
				_, l.Shape = defaultProfile(s.Type)
			}
			if l.Variability == nil {
				one := 1.0
				l.Variability = &one
			}
		}
		if s.BidMargin == nil {
			m := DefaultBidMargin
			s.BidMargin = &m
		}
		if s.PV != nil {
			g := *s.PV
			if g.Profile == "" {
				g.Profile = ProfileClearSky
			}
			s.PV = &g
		}
		if s.Wind != nil {
			g := *s.Wind
			if g.Profile == "" {
				g.Profile = ProfileWeibull
			}
			if g.MeanSpeedMS == nil {
				v := DefaultMeanSpeedMS
				g.MeanSpeedMS = &v
			}
			s.Wind = &g
		}
		if s.Battery != nil {
			b := s.Battery.withDefaults()
			s.Battery = &b
		}
		s.Appliances = slices.Clone(s.Appliances)
		f.Sites[i] = s
	}
	return &f, nil
}

// defaultProfile is a site type's load: the mean of the learned homes for
// homes, a synthetic shape for the others.
func defaultProfile(typ string) (profile, shape string) {
	switch typ {
	case TypeNonResidential:
		return ProfileSynthetic, ShapeOffice
	case TypePublicLighting:
		return ProfileSynthetic, ShapeLighting
	case TypeEVCharging:
		return ProfileSynthetic, ShapeEVStation
	case TypeProducer:
		return ProfileSynthetic, ShapeOffice
	}
	return "household-average", ""
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// inRange is lo ≤ v ≤ hi, false for NaN.
func inRange(v, lo, hi float64) bool { return v >= lo && v <= hi }

// Validate checks a community. Keys a Community built in Go leaves zero
// take their defaults as in Parse where zero is not a valid value (a site's
// load, profiles, variability, wind speed, the tariff); the
// community-wide numbers are taken as they are.
func (c *Community) Validate() error {
	f, err := c.withDefaults()
	if err != nil {
		return err
	}
	return f.validate()
}

// validate checks a community with its defaults filled in.
func (c *Community) validate() error {
	if len(c.Name) > 200 {
		return invalid("name is %d characters, at most 200", len(c.Name))
	}
	if _, err := time.Parse(time.DateOnly, c.Start); err != nil {
		return invalid("start %q: want a date YYYY-MM-DD", c.Start)
	}
	if c.UTCOffsetH < -12 || c.UTCOffsetH > 14 {
		return invalid("utc_offset_h %d: want -12..14", c.UTCOffsetH)
	}
	if !inRange(c.Latitude, -90, 90) {
		return invalid("latitude %v: want -90..90 degrees", c.Latitude)
	}
	if !inRange(c.Longitude, -180, 180) {
		return invalid("longitude %v: want -180..180 degrees", c.Longitude)
	}
	if !slices.Contains(market.Mechanisms, market.Mechanism(c.Mechanism)) {
		return invalid("mechanism %q: want one of %v", c.Mechanism, market.Mechanisms)
	}
	if c.Imbalance != "" && !slices.Contains(contract.ImbalanceRules, c.Imbalance) {
		return invalid("imbalance %q: want one of %v", c.Imbalance, contract.ImbalanceRules)
	}
	if c.Bidding != "" && !slices.Contains(BiddingModes, c.Bidding) {
		return invalid("bidding %q: want one of %v", c.Bidding, BiddingModes)
	}
	if c.Batteries != "" && !slices.Contains(BatteriesModes, c.Batteries) {
		return invalid("batteries %q: want one of %v", c.Batteries, BatteriesModes)
	}
	if _, err := c.params(); err != nil {
		return err
	}
	if c.DR.LimitPct < 100 || c.DR.LimitPct > 10_000 {
		return invalid("demand_response.limit_pct %d: want 100..10000", c.DR.LimitPct)
	}
	inc, err := priceMicro("demand_response.incentive", c.DR.Incentive)
	if err != nil {
		return err
	}
	if c.DR.Enabled && inc == 0 {
		return invalid("demand_response.incentive is 0: an enabled DSO must pay for reductions")
	}
	if len(c.Sites) == 0 {
		return invalid("no [[site]]")
	}
	if len(c.Sites) > MaxSites {
		return invalid("%d sites, at most %d", len(c.Sites), MaxSites)
	}
	seen := make(map[string]bool, len(c.Sites))
	for i, s := range c.Sites {
		if !siteIDPattern.MatchString(s.ID) || len(s.ID) > MaxIDLen {
			return invalid("site %d: id %q: want 1-%d letters, digits, - or _, starting with a letter or digit", i+1, s.ID, MaxIDLen)
		}
		if seen[s.ID] {
			return invalid("site %q: id used twice", s.ID)
		}
		seen[s.ID] = true
		if err := s.validate(); err != nil {
			return fmt.Errorf("%w: site %q: %v", ErrInvalid, s.ID, err)
		}
	}
	return nil
}

func (s *Site) validate() error {
	if !slices.Contains(Types, s.Type) {
		return fmt.Errorf("type %q: want one of %s", s.Type, strings.Join(Types, ", "))
	}
	if s.Feeder != "" && !feederPattern.MatchString(s.Feeder) {
		return fmt.Errorf("feeder %q: want 1-64 letters, digits or . _ : -", s.Feeder)
	}
	if s.PV != nil && s.Wind != nil {
		return errors.New("has both pv and wind: a site has one generation asset; make the other a producer site")
	}
	if s.BidMargin != nil && !inRange(*s.BidMargin, 0, 1) {
		return fmt.Errorf("bid_margin %v: want 0..1 (a share of the tariff spread)", *s.BidMargin)
	}
	switch s.Type {
	case TypeHousehold:
		if s.PV != nil || s.Wind != nil {
			return errors.New("a household with generation is a prosumer (type = \"prosumer\", with [site.pv])")
		}
	case TypeProsumer:
		if s.PV == nil {
			return errors.New("a prosumer needs [site.pv]")
		}
	case TypeProducer:
		if s.PV == nil && s.Wind == nil {
			return errors.New("a producer needs [site.pv] or [site.wind]")
		}
	}
	if s.Load == nil && s.Type != TypeProducer {
		return errors.New("needs [site.load]")
	}
	if s.Battery != nil {
		if s.Load == nil {
			return errors.New("a battery needs a [site.load]: it serves the site's consumption")
		}
		if err := s.Battery.validate(); err != nil {
			return err
		}
	}
	if l := s.Load; l != nil {
		if err := l.validate(); err != nil {
			return err
		}
	}
	if s.PV != nil {
		if err := s.PV.validate("pv", PVProfiles()); err != nil {
			return err
		}
	}
	if s.Wind != nil {
		if err := s.Wind.validate("wind", []string{ProfileWeibull}); err != nil {
			return err
		}
	}
	if len(s.Appliances) > 0 {
		if s.Load == nil {
			return errors.New("appliances need a [site.load] to run on")
		}
		// The planner's own rules, on an empty day.
		ps := plan.Site{BaseWh: make([]int64, 24), PVWh: make([]int64, 24), BuyMicroPerKWh: make([]int64, 24),
			SellMicroPerKWh: make([]int64, 24), Appliances: s.PlanAppliances()}
		if err := ps.Validate(); err != nil {
			msg := err.Error()
			for _, e := range []error{plan.ErrInvalid, plan.ErrInfeasible} {
				msg = strings.TrimPrefix(msg, e.Error()+": ")
			}
			return fmt.Errorf("[[site.appliance]]: %s", msg)
		}
	}
	return nil
}

func (l *Load) validate() error {
	switch {
	case l.Profile == ProfileSynthetic:
		if shapes[l.Shape] == nil && l.Shape != ShapeLighting {
			return fmt.Errorf("load.shape %q: want home, office, lighting or ev-station", l.Shape)
		}
	case loadProfiles[l.Profile] != nil:
		if l.Shape != "" {
			return fmt.Errorf("load.shape %q is for profile = \"synthetic\", not %q", l.Shape, l.Profile)
		}
	default:
		return fmt.Errorf("load.profile %q: want \"synthetic\" or one of %s", l.Profile, strings.Join(LoadProfiles(), ", "))
	}
	if !inRange(l.AnnualKWh, math.SmallestNonzeroFloat64, MaxAnnualKWh) {
		return fmt.Errorf("load.annual_kwh %v: want more than 0, at most %d", l.AnnualKWh, MaxAnnualKWh)
	}
	if l.ShiftH < -12 || l.ShiftH > 12 {
		return fmt.Errorf("load.shift_h %d: want -12..12", l.ShiftH)
	}
	if l.Variability == nil || !inRange(*l.Variability, 0, 2) {
		return fmt.Errorf("load.variability: want 0..2")
	}
	return nil
}

func (g *Generator) validate(key string, profiles []string) error {
	if g.CapacityW <= 0 || g.CapacityW > contract.MaxCapacityW {
		return fmt.Errorf("%s.capacity_w %d: want 1..%d", key, g.CapacityW, int64(contract.MaxCapacityW))
	}
	if !slices.Contains(profiles, g.Profile) {
		return fmt.Errorf("%s.profile %q: want one of %s", key, g.Profile, strings.Join(profiles, ", "))
	}
	if key == "pv" && g.MeanSpeedMS != nil {
		return errors.New("pv.mean_speed_ms: only wind has a wind speed")
	}
	if key == "wind" && (g.MeanSpeedMS == nil || !inRange(*g.MeanSpeedMS, 2, 15)) {
		return errors.New("wind.mean_speed_ms: want 2..15 m/s")
	}
	return nil
}

// NodeType is the site's node type on the ledger: a prosumer is a
// household (with a PV asset).
func (s Site) NodeType() contract.NodeType {
	if s.Type == TypeProsumer {
		return contract.NodeHousehold
	}
	return contract.NodeType(s.Type)
}

// RESID is the ledger id of the site's generation asset (id-pv or
// id-wind), "" if it has none.
func (s Site) RESID() string {
	if k := s.RESKind(); k != "" {
		return s.ID + "-" + k
	}
	return ""
}

// RESKind is the asset's kind on the ledger: "pv", "wind" or "".
func (s Site) RESKind() string {
	switch {
	case s.PV != nil:
		return "pv"
	case s.Wind != nil:
		return "wind"
	}
	return ""
}

// CapacityW is the generation asset's capacity, 0 if it has none.
func (s Site) CapacityW() int64 {
	switch {
	case s.PV != nil:
		return s.PV.CapacityW
	case s.Wind != nil:
		return s.Wind.CapacityW
	}
	return 0
}

// PlanAppliances are the site's appliances as the planner takes them.
func (s Site) PlanAppliances() []plan.Appliance {
	out := make([]plan.Appliance, len(s.Appliances))
	for i, a := range s.Appliances {
		out[i] = plan.Appliance{Name: a.Name, Start: a.Start, End: a.End, Flexible: a.Flexible, PowerW: a.PowerW,
			Hours: a.Hours, Splittable: a.Splittable, MaxPowerW: a.MaxPowerW}
		if a.EnergyWh != nil {
			e := *a.EnergyWh
			out[i].EnergyWh = &e
		}
	}
	return out
}

// StartUnix is the UTC time (unix seconds) of local midnight starting the
// Start day.
func (c *Community) StartUnix() int64 {
	d, err := time.Parse(time.DateOnly, c.Start)
	if err != nil {
		panic(fmt.Sprintf("community: start %q: validate the community first", c.Start))
	}
	return d.Unix() - int64(c.UTCOffsetH)*3600
}

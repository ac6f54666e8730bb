package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/ems/evclamp"
	"github.com/gridledger/gridledger/internal/ems/plan"
)

var rewriteEVFixture = flag.Bool("rewrite-ev-fixture", false, "rewrite testdata/ev_clamp.csv and ev_clamp_truth.csv from evclamp.Synthesize")

const (
	evFixture      = "testdata/ev_clamp.csv"
	evFixtureTruth = "testdata/ev_clamp_truth.csv"
)

// evFixtureConfig is the synthetic home of the fixture (see
// testdata/README.md): two weeks of a commuter sampled every 5 minutes,
// home at 18:30 on weekdays and at 10:00 every weekend day.
func evFixtureConfig() evclamp.SynthConfig {
	c := evclamp.DefaultSynthConfig()
	c.Days = 14
	c.PeriodS = 300
	c.Weekend = evclamp.Habit{Prob: 1, ArrivalHour: 10, ArrivalSDHour: 1, EnergyWh: 22000, EnergySDWh: 5000}
	return c
}

// TestEMSEVRewriteFixture regenerates the fixture; it runs only with
// go test ./cmd/gridledger -run TestEMSEVRewriteFixture -rewrite-ev-fixture
func TestEMSEVRewriteFixture(t *testing.T) {
	if !*rewriteEVFixture {
		t.Skip("run with -rewrite-ev-fixture to regenerate " + evFixture)
	}
	samples, truth, err := evclamp.Synthesize(rand.New(rand.NewPCG(2024, 3)), evFixtureConfig())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("timestamp_utc,power_w\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "%s,%s\n", time.Unix(s.UnixS, 0).UTC().Format(time.RFC3339), strconv.FormatFloat(s.PowerW, 'f', 1, 64))
	}
	if err := os.WriteFile(evFixture, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.WriteString("start_utc,end_utc,energy_wh\n")
	for _, s := range truth {
		fmt.Fprintf(&b, "%s,%s,%d\n", time.Unix(s.StartUnixS, 0).UTC().Format(time.RFC3339),
			time.Unix(s.EndUnixS, 0).UTC().Format(time.RFC3339), s.EnergyWh)
	}
	if err := os.WriteFile(evFixtureTruth, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

type evTruth struct {
	start, end time.Time
	energyWh   int64
}

func readEVTruth(t *testing.T) []evTruth {
	t.Helper()
	f, err := os.Open(evFixtureTruth)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []evTruth
	for _, r := range recs[1:] {
		s, err1 := time.Parse(time.RFC3339, r[0])
		e, err2 := time.Parse(time.RFC3339, r[1])
		wh, err3 := strconv.ParseInt(r[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("truth row %v", r)
		}
		out = append(out, evTruth{s, e, wh})
	}
	return out
}

func TestEMSEVJSON(t *testing.T) {
	out, err := runRootQuiet(t, "", "ems", "ev", "--clamp", evFixture, "--utc-offset", "1", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r emsEVOutput
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	// The sessions are the synthetic truth: 5-minute samples put each start
	// within a sample period (6 min with jitter) and each energy within the
	// charger's power over two periods (see evclamp's coarse-sampling test).
	truth := readEVTruth(t)
	if len(r.Sessions) != len(truth) {
		t.Fatalf("%d sessions, %d true", len(r.Sessions), len(truth))
	}
	for i, s := range r.Sessions {
		w := truth[i]
		if d := s.StartUnixS - w.start.Unix(); d < -360 || d > 360 {
			t.Errorf("session %d starts %s, true %s", i, s.StartUTC, w.start.Format(time.RFC3339))
		}
		if d := s.EnergyWh - w.energyWh; d < -1480 || d > 1480 {
			t.Errorf("session %d: %d Wh, true %d", i, s.EnergyWh, w.energyWh)
		}
		if st, err := time.Parse(time.RFC3339, s.StartLocal); err != nil || st.Unix() != s.StartUnixS || !strings.HasSuffix(s.StartLocal, "+01:00") {
			t.Errorf("session %d: local start %q", i, s.StartLocal)
		}
	}
	l := r.Schedule
	if !l.WeekendDiffers || l.Weekday.StartHour != 19 || l.Weekday.DepartureHour != 7 || l.Weekend.StartHour < 9 || l.Weekend.StartHour > 12 {
		t.Errorf("schedule %+v", l)
	}
	if a := r.Appliances.Weekday; a.Name != "ev" || a.Start != 19 || a.End != 7 || !a.Flexible || a.EnergyWh == nil ||
		*a.EnergyWh != l.Weekday.EnergyP80Wh || a.MaxPowerW != l.Weekday.MaxPowerW {
		t.Errorf("weekday appliance %+v", a)
	}
	if r.Options != (evclamp.Options{OnThresholdW: 1000, MaxDipS: 600, MinSessionS: 300, MaxGapS: 1800, UTCOffsetH: 1, DepartureHour: 7}) {
		t.Errorf("options %+v", r.Options)
	}
	// The planner takes both appliances as they are.
	site := map[string]any{"base_wh": make([]int, 24), "pv_wh": make([]int, 24), "buy": make([]int, 24), "sell": make([]int, 24),
		"appliances": []any{r.Appliances.Weekday, func() plan.Appliance { a := r.Appliances.Weekend; a.Name = "ev2"; return a }()}}
	data, _ := json.Marshal(site)
	if _, err := plan.Parse(data); err != nil {
		t.Errorf("the planner refuses the appliances: %v", err)
	}
	// The same series from stdin gives the same output.
	in, _ := os.ReadFile(evFixture)
	out2, err := runRootQuiet(t, string(in), "ems", "ev", "--clamp", "-", "--utc-offset", "1", "-o", "json")
	if err != nil || out2 != out {
		t.Errorf("stdin: %v, output differs", err)
	}
}

func TestEMSEVText(t *testing.T) {
	out, err := runRootQuiet(t, "", "ems", "ev", "--clamp", evFixture, "--utc-offset", "1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"START (UTC+1)", "END (UTC)", "KWH", "PEAK KW", "schedule: ", "PROFILE", "PLUG-IN",
		"weekday and weekend differ", "appliance for ems plan", "19:00-07:00"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	truth := readEVTruth(t)
	lines := strings.Split(out, "\n")
	if len(lines) < len(truth)+1 || !strings.HasPrefix(lines[len(truth)], strconv.Itoa(len(truth))+" ") {
		t.Errorf("want %d session lines:\n%s", len(truth), out)
	}
	// The appliance lines are the planner's JSON.
	n := 0
	for _, line := range lines {
		for _, p := range []string{"weekday: ", "weekend: "} {
			if js, ok := strings.CutPrefix(line, p); ok {
				var a plan.Appliance
				dec := json.NewDecoder(strings.NewReader(js))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&a); err != nil || a.EnergyWh == nil {
					t.Errorf("appliance line %q: %v", line, err)
				}
				n++
			}
		}
	}
	if n != 2 {
		t.Errorf("%d appliance lines, want weekday and weekend:\n%s", n, out)
	}
}

func TestEMSEVDepartureRaised(t *testing.T) {
	// Every night at 23:00 UTC for 7 hours: charging ends at 06:00.
	var b strings.Builder
	b.WriteString("timestamp_utc,power_w\n")
	day := int64(1709510400) // 2024-03-04T00:00:00Z
	for ts := day; ts < day+5*86400; ts += 60 {
		w := 2.0
		if tod := ts % 86400; tod >= 23*3600 || tod < 6*3600 && ts >= day+86400 {
			w = 3700
		}
		fmt.Fprintf(&b, "%d,%v\n", ts, w)
	}
	out, err := runRootQuiet(t, b.String(), "ems", "ev", "--clamp", "-", "--departure", "5", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r emsEVOutput
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if a := r.Appliances.All; a.Start != 23 || a.End != 6 || !r.Schedule.All.DepartureRaised {
		t.Errorf("appliance %+v, want the window 23–6 (departure 5 raised to the end of charging)", a)
	}
	text, err := runRootQuiet(t, b.String(), "ems", "ev", "--clamp", "-", "--departure", "5")
	if err != nil || !strings.Contains(text, "departure 05:00 raised to 06:00") {
		t.Errorf("%v\n%s", err, text)
	}
}

func TestEMSEVErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.csv", "timestamp_utc,power_w\n2024-03-04T18:00:00Z,7400\n2024-03-04T18:01:00Z,-5\n")
	idle := write("idle.csv", "timestamp_utc,power_w\n1709575200,3\n1709575260,4\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--clamp", bad}, "ems ev: " + bad + ": line 3: power_w: \"-5\" is negative"},
		{[]string{"--clamp", idle}, "ems ev: " + idle + ": no charging session above 1000 W in 2 samples"},
		{[]string{"--clamp", filepath.Join(dir, "missing.csv")}, "no such file"},
		{[]string{"--clamp", idle, "--departure", "24"}, "ems ev: --departure 24: want an hour 0..23"},
		{[]string{"--clamp", idle, "--utc-offset", "15"}, "--utc-offset 15"},
		{[]string{"--clamp", idle, "--threshold-w", "0"}, "--threshold-w 0"},
		{[]string{}, "required flag(s) \"clamp\""},
	} {
		out, err := runRootQuiet(t, "", append([]string{"ems", "ev", "-o", "json"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line containing %q", tc.args, err, tc.want)
		}
		if out != "" {
			t.Errorf("%v: printed %q with an error", tc.args, out)
		}
	}
}

func TestEMSEVMarksCutSessions(t *testing.T) {
	// Forty minutes of the first session lost: it becomes two cut halves.
	data, err := os.ReadFile(evFixture)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if ts, _, _ := strings.Cut(line, ","); ts > "2024-03-05T19:00:00Z" && ts < "2024-03-05T19:40:00Z" {
			continue
		}
		b.WriteString(line)
	}
	out, err := runRootQuiet(t, b.String(), "ems", "ev", "--clamp", "-", "--utc-offset", "1")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasSuffix(lines[1], "  cut") || !strings.HasSuffix(lines[2], "  cut") || strings.HasSuffix(lines[3], "cut") ||
		!strings.Contains(out, "cut: 2 session(s) begin or end at a data gap") {
		t.Errorf("cut sessions not marked:\n%s", out)
	}
	js, err := runRootQuiet(t, b.String(), "ems", "ev", "--clamp", "-", "--utc-offset", "1", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r emsEVOutput
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Sessions) != len(readEVTruth(t))+1 || !r.Sessions[0].Cut || !r.Sessions[1].Cut || r.Sessions[2].Cut {
		t.Errorf("sessions %+v", r.Sessions[:3])
	}
}

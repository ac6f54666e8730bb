package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const emsFixtures = "../../internal/ems/forecast/testdata/"

// runEMS runs the root command in-process and returns stdout, stderr, error.
func runEMS(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.Execute()
	return out.String(), errb.String(), err
}

func TestEMSForecastCSV(t *testing.T) {
	for _, tc := range []struct {
		file, method, offset string
		site                 string
		firstHour            string
	}{
		{"pv.csv", "auto", "1", "opsd_res4", "2016-03-24T23:00:00Z"},
		{"consumption.csv", "prophet-level", "1", "opsd_res4", "2016-03-24T23:00:00Z"},
		{"consumption.csv", "mean-4-weekdays", "1", "opsd_res4", "2016-03-24T23:00:00Z"},
	} {
		out, stderr, err := runEMS(t, "ems", "forecast", "--history", emsFixtures+tc.file,
			"--from", "2016-03-25", "--to", "2016-03-27", "--utc-offset", tc.offset, "--method", tc.method)
		if err != nil {
			t.Fatalf("%s %s: %v (stderr %s)", tc.file, tc.method, err, stderr)
		}
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(recs[0], ",") != "timestamp_utc,site,forecast_wh" {
			t.Fatalf("header %v", recs[0])
		}
		rows := recs[1:]
		if len(rows) != 48 {
			t.Fatalf("%s %s: %d rows, want 2 days × 24", tc.file, tc.method, len(rows))
		}
		if rows[0][0] != tc.firstHour {
			t.Errorf("first hour %s, want %s", rows[0][0], tc.firstHour)
		}
		prev := time.Time{}
		for _, r := range rows {
			ts, err := time.Parse(time.RFC3339, r[0])
			if err != nil || !strings.HasSuffix(r[0], "Z") {
				t.Fatalf("timestamp %q", r[0])
			}
			if !prev.IsZero() && ts.Sub(prev) != time.Hour {
				t.Errorf("hours not consecutive: %s after %s", ts, prev)
			}
			prev = ts
			wh, err := strconv.ParseInt(r[2], 10, 64)
			if err != nil || wh < 0 || r[1] != tc.site {
				t.Errorf("row %v", r)
			}
		}
		// The Australian site has no history before March 2016: skipped, said so.
		if tc.file == "consumption.csv" && !strings.Contains(stderr, "sgsc_10006704") {
			t.Errorf("no warning for the skipped site: %q", stderr)
		}
	}
}

func TestEMSForecastTwoSitesSorted(t *testing.T) {
	// Both sites of a file, each with history, with a common offset: sites
	// sorted, then time.
	dir := t.TempDir()
	data, err := os.ReadFile(emsFixtures + "consumption.csv")
	if err != nil {
		t.Fatal(err)
	}
	// Rename the Australian site and shift it into 2016 so that both have history.
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, ",")
		if i > 0 && f[1] == "sgsc_10006704" {
			ts, _ := time.Parse(time.RFC3339, f[0])
			f[0] = ts.Add(time.Duration(2016-2014) * 364 * 24 * time.Hour).Add(28 * 24 * time.Hour).Format(time.RFC3339)
			f[1] = "a_site"
		}
		b.WriteString(strings.Join(f, ",") + "\n")
	}
	path := filepath.Join(dir, "two.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runEMS(t, "ems", "forecast", "--history", path, "--from", "2016-03-25", "--to", "2016-03-26",
		"--utc-offset", "1", "--method", "prophet")
	if err != nil {
		t.Fatal(err, stderr)
	}
	recs, _ := csv.NewReader(strings.NewReader(out)).ReadAll()
	if len(recs) != 1+48 || recs[1][1] != "a_site" || recs[25][1] != "opsd_res4" {
		t.Fatalf("%d rows; first %v; 25th %v (stderr %s)", len(recs), recs[1], recs[min(25, len(recs)-1)], stderr)
	}
}

func TestEMSForecastErrors(t *testing.T) {
	dir := t.TempDir()
	badHeader := filepath.Join(dir, "bad.csv")
	_ = os.WriteFile(badHeader, []byte("time,site,kwh\n2016-01-01T00:00:00Z,x,1\n"), 0o644)
	fx := emsFixtures + "pv.csv"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--history", filepath.Join(dir, "none.csv"), "--from", "2016-03-25", "--to", "2016-03-26"}, "no such file"},
		{[]string{"--history", badHeader, "--from", "2016-03-25", "--to", "2016-03-26"}, "header"},
		{[]string{"--history", fx, "--from", "2016-13-01", "--to", "2016-03-26"}, "--from"},
		{[]string{"--history", fx, "--from", "2016-03-25", "--to", "yesterday"}, "--to"},
		{[]string{"--history", fx, "--from", "2016-03-26", "--to", "2016-03-25"}, "after"},
		{[]string{"--history", fx, "--from", "2016-03-25", "--to", "2016-03-26", "--method", "crystal-ball"}, "unknown method"},
		{[]string{"--history", fx, "--from", "2010-03-25", "--to", "2010-03-26"}, "no site had enough history"},
		{[]string{"--from", "2016-03-25", "--to", "2016-03-26"}, "required"},
	} {
		_, _, err := runEMS(t, append([]string{"ems", "forecast"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}

func TestEMSBacktestJSON(t *testing.T) {
	out, stderr, err := runEMS(t, "ems", "backtest", "--history", emsFixtures+"pv.csv", "--from", "2016-03-25",
		"--to", "2016-04-01", "--utc-offset", "1", "--methods", "same-hour-yesterday,prophet", "-o", "json")
	if err != nil {
		t.Fatal(err, stderr)
	}
	var rows []struct {
		Site, Method string
		NMAE, RMSE   float64
		Hours        int
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err, out)
	}
	if len(rows) != 2 || rows[0].Method != "same-hour-yesterday" || rows[1].Method != "prophet" ||
		rows[0].Hours != rows[1].Hours || rows[0].Hours < 100 || !(rows[1].NMAE > 0 && rows[1].NMAE < 2) {
		t.Errorf("%+v", rows)
	}
	out, _, err = runEMS(t, "ems", "backtest", "--history", emsFixtures+"pv.csv", "--from", "2016-03-25",
		"--to", "2016-04-01", "--utc-offset", "1", "--methods", "mean-4-weekdays")
	if err != nil || !strings.Contains(out, "NMAE") || !strings.Contains(out, "mean-4-weekdays") {
		t.Errorf("text table: %v\n%s", err, out)
	}
	if _, _, err := runEMS(t, "ems", "backtest", "--history", emsFixtures+"pv.csv", "--from", "2016-03-25",
		"--to", "2016-04-01", "--methods", "nope"); err == nil {
		t.Error("unknown method accepted")
	}
}

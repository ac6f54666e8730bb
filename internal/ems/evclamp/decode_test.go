package evclamp

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestReadCSV(t *testing.T) {
	in := "\ufefftimestamp_utc,power_w\n" +
		"2024-03-04T18:00:00Z,0\n" +
		"\n" +
		" 2024-03-04T18:00:10.750Z , 7391.5 \n" +
		"1709575220,7402\n" +
		"1709575230,1e3\n"
	got, err := ReadCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Sample{{1709575200, 0}, {1709575210, 7391.5}, {1709575220, 7402}, {1709575230, 1000}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, err := ReadCSV(strings.NewReader("timestamp_utc,power_w\n")); err != nil || len(got) != 0 {
		t.Errorf("header only: %v, %v; want no samples and no error", got, err)
	}
}

func TestReadCSVErrorsNameTheLine(t *testing.T) {
	const h = "timestamp_utc,power_w\n"
	for _, tc := range []struct{ in, want string }{
		{"", "line 1: empty input"},
		{"time,power\n1,2\n", "line 1: header"},
		{"1709575200,7400\n", "line 1: header"},
		{h + "1709575200,7400\n1709575260\n", "line 3: 1 fields, want 2"},
		{h + "1709575200,7400,x\n", "line 2: 3 fields"},
		{h + "2024-03-04 18:00:00,7400\n", "line 2: timestamp_utc: \"2024-03-04 18:00:00\": want RFC 3339"},
		{h + "2024-03-04T18:00:00+01:00,7400\n", "line 2: timestamp_utc"},
		{h + "2024-03-04T18:00:00Z,7400\n2024-03-04T25:00:00Z,1\n", "line 3: timestamp_utc"},
		{h + "1709575200000,7400\n", "line 2: timestamp_utc: \"1709575200000\" unix seconds is after the year 9999 (milliseconds?)"},
		{h + "1969-12-31T23:59:59Z,7400\n", "before 1970"},
		{h + ",7400\n", "line 2: timestamp_utc: empty"},
		{h + "1709575200,-3\n", "line 2: power_w: \"-3\" is negative"},
		{h + "1709575200,7.4kW\n", "line 2: power_w: \"7.4kW\" is not a number"},
		{h + "1709575200,NaN\n", "not a number"},
		{h + "1709575200,Inf\n", "not a number"},
		{h + "1709575200,7400000\n", "above 1000000 W"},
		{h + "1709575200,1\n1709575260,1\n1709575260,2\n", "line 4: timestamp 2024-03-04T18:01:00Z is the same as line 3's"},
		{h + "1709575200,1\n\n1709575100,1\n", "line 4: timestamp 2024-03-04T17:58:20Z is before line 2's"},
		{h + "1709575200,\"7400\n", "line 2: extraneous or missing \" in quoted-field"},
	} {
		_, err := ReadCSV(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadCSV(%q): error %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

// encodeCSV writes samples back in the unix-seconds form, exactly.
func encodeCSV(ss []Sample) string {
	var b strings.Builder
	b.WriteString("timestamp_utc,power_w\n")
	for _, s := range ss {
		b.WriteString(strconv.FormatInt(s.UnixS, 10) + "," + strconv.FormatFloat(s.PowerW, 'g', -1, 64) + "\n")
	}
	return b.String()
}

// FuzzReadCSV: whatever the input, ReadCSV either fails or returns samples
// Detect accepts (in order, no repeats, powers in range), that survive a
// round trip through the unix-seconds form unchanged, and that Detect and
// Learn process without panicking.
func FuzzReadCSV(f *testing.F) {
	f.Add("timestamp_utc,power_w\n2024-03-04T18:00:00Z,0\n2024-03-04T18:01:00Z,7400\n2024-03-04T18:10:00Z,7400\n2024-03-04T18:11:00Z,0\n")
	f.Add("timestamp_utc,power_w\n1709575200,7391.5\n1709575260,1e3\n")
	f.Add("\ufefftimestamp_utc , power_w\n\n 1,2 \n")
	f.Add("timestamp_utc,power_w\n9999-12-31T23:59:59.999Z,0\n")
	f.Add("timestamp_utc,power_w\n\"1\",\"2\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		ss, err := ReadCSV(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error %q does not name its line", err)
			}
			return
		}
		if err := CheckSamples(ss); err != nil {
			t.Fatalf("decoded samples fail CheckSamples: %v", err)
		}
		again, err := ReadCSV(strings.NewReader(encodeCSV(ss)))
		if err != nil || !slices.Equal(again, ss) {
			t.Fatalf("round trip: %v\n%v\nwant %v", err, again, ss)
		}
		a, err := Analyze(ss, DefaultOptions())
		if err != nil && !errors.Is(err, ErrNoSessions) && !errors.Is(err, ErrInvalidOptions) {
			t.Fatalf("Analyze: %v", err)
		}
		for _, s := range a.Sessions {
			if s.EnergyWh < 0 || s.EndUnixS < s.StartUnixS || s.PeakW > MaxSampleW {
				t.Fatalf("session %+v", s)
			}
		}
	})
}

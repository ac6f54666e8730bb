package evclamp

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxUnixS is 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
const maxUnixS = 253402300799

// ReadCSV decodes a clamp series from CSV:
//
//	timestamp_utc,power_w
//	2024-03-04T18:00:00Z,7391.5
//	1709575260,7402
//
// The header is required. A timestamp is RFC 3339 (ISO 8601) in UTC with a
// "Z" (fractional seconds are truncated) or unix seconds; the power is a
// decimal number of watts, 0..MaxSampleW. Rows must be in strictly
// increasing time order. Blank lines are skipped and fields are trimmed.
// Every error names its line. ReadCSV only reads r.
func ReadCSV(r io.Reader) ([]Sample, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("line 1: empty input, want the header timestamp_utc,power_w")
	}
	if err != nil {
		return nil, csvErr(err)
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff") // a byte order mark from spreadsheets
	}
	if len(head) != 2 || strings.TrimSpace(head[0]) != "timestamp_utc" || strings.TrimSpace(head[1]) != "power_w" {
		return nil, fmt.Errorf("line 1: header %q, want timestamp_utc,power_w", strings.Join(head, ","))
	}
	var out []Sample
	prevLine := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, csvErr(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != 2 {
			return nil, fmt.Errorf("line %d: %d fields, want 2 (timestamp_utc,power_w)", line, len(rec))
		}
		ts, err := parseTimestamp(strings.TrimSpace(rec[0]))
		if err != nil {
			return nil, fmt.Errorf("line %d: timestamp_utc: %v", line, err)
		}
		p, err := parsePower(strings.TrimSpace(rec[1]))
		if err != nil {
			return nil, fmt.Errorf("line %d: power_w: %v", line, err)
		}
		if n := len(out); n > 0 && ts <= out[n-1].UnixS {
			what := "before"
			if ts == out[n-1].UnixS {
				what = "the same as"
			}
			return nil, fmt.Errorf("line %d: timestamp %s is %s line %d's (%s): rows must be in increasing time order",
				line, utc(ts), what, prevLine, utc(out[n-1].UnixS))
		}
		out = append(out, Sample{UnixS: ts, PowerW: p})
		prevLine = line
	}
}

// csvErr keeps the reader's line number at the front of the message.
func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: %v", pe.Line, pe.Err)
	}
	return err
}

func parseTimestamp(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:T") {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is neither RFC 3339 with Z nor unix seconds", s)
		}
		if v > maxUnixS {
			return 0, fmt.Errorf("%q unix seconds is after the year 9999 (milliseconds?)", s)
		}
		return v, nil
	}
	if !strings.HasSuffix(s, "Z") {
		return 0, fmt.Errorf("%q: want RFC 3339 in UTC ending in Z (such as 2024-03-04T18:00:00Z) or unix seconds", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%q: want RFC 3339 in UTC ending in Z (such as 2024-03-04T18:00:00Z) or unix seconds", s)
	}
	if t.Unix() < 0 {
		return 0, fmt.Errorf("%q is before 1970", s)
	}
	return t.Unix(), nil
}

func parsePower(s string) (float64, error) {
	p, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(p) || math.IsInf(p, 0) {
		return 0, fmt.Errorf("%q is not a number of watts", s)
	}
	if p < 0 {
		return 0, fmt.Errorf("%q is negative (a clamp on a charger's circuit reads 0 or more; is it reversed?)", s)
	}
	if p > MaxSampleW {
		return 0, fmt.Errorf("%q is above %d W (milliwatts?)", s, MaxSampleW)
	}
	return p, nil
}

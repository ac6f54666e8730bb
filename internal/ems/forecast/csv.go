package forecast

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ReadHourlyCSV reads timestamp_utc,site,<name>_wh rows (RFC 3339 UTC,
// integer Wh, hours may be missing) into one series per
// site.
func ReadHourlyCSV(r io.Reader) (map[string]Series, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 3
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	if head[0] != "timestamp_utc" || head[1] != "site" || !strings.HasSuffix(head[2], "_wh") {
		return nil, fmt.Errorf("header %q: want timestamp_utc,site,<value>_wh", strings.Join(head, ","))
	}
	points := map[string][]Point{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		ts, err := time.Parse(time.RFC3339, rec[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: timestamp %q: want RFC 3339 UTC", line, rec[0])
		}
		wh, err := strconv.ParseInt(rec[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s %q: want integer Wh", line, head[2], rec[2])
		}
		if rec[1] == "" {
			return nil, fmt.Errorf("line %d: empty site", line)
		}
		points[rec[1]] = append(points[rec[1]], Point{UnixS: ts.Unix(), Wh: wh})
	}
	sites := make(map[string]Series, len(points))
	for site, ps := range points {
		s, err := NewSeries(ps)
		if err != nil {
			return nil, fmt.Errorf("site %s: %w", site, err)
		}
		sites[site] = s
	}
	if len(sites) == 0 {
		return nil, errors.New("no rows")
	}
	return sites, nil
}

package sim

import (
	"slices"
	"sync"

	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/kpi"
)

// LiveKPIs sums the KPIs of a live community's intervals as they settle,
// for the API while it runs and for the summary when it stops. Safe for
// concurrent use.
type LiveKPIs struct {
	mu      sync.Mutex
	acc     *kpi.Accumulator
	hours   []kpi.HourPoint
	settled int64
}

// LiveKPIHours is how many intervals Hours keeps: the API's load chart.
const LiveKPIHours = 14 * 24

// NewLiveKPIs sums the KPIs of the sites' intervals.
func NewLiveKPIs(sites []Site) *LiveKPIs {
	cs := make([]community.Site, len(sites))
	for i, s := range sites {
		cs[i] = s.Site
	}
	return &LiveKPIs{acc: kpi.NewAccumulator(kpi.SiteMembers(cs))}
}

// Add counts one settled interval.
func (k *LiveKPIs) Add(iv kpi.Interval) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.hours = append(k.hours, k.acc.Add(iv))
	if len(k.hours) > LiveKPIHours {
		k.hours = slices.Delete(k.hours, 0, len(k.hours)-LiveKPIHours)
	}
	k.settled++
}

// Report is the KPIs so far, the number of intervals settled and the
// last LiveKPIHours intervals' points.
func (k *LiveKPIs) Report() (kpi.Report, int64, []kpi.HourPoint) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.acc.Report(0, 0), k.settled, slices.Clone(k.hours)
}

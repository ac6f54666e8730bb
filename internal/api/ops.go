package api

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gridledger/gridledger/internal/contract"
)

// The operator's endpoints, beside the API: /healthz (the process and its
// node answer), /readyz (the node is in step with the network and making
// blocks: send it traffic) and /metrics (Prometheus: the market's figures,
// the ledger's execution, and CometBFT's own when its instrumentation is
// on, with Go's runtime).

// MaxBlockAge is how old the last block may be for /readyz: a chain makes
// one at least every second, idle or not.
const MaxBlockAge = 30 * time.Second

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.cfg.Node.Status(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "down", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Node.Status(r.Context())
	var reasons []string
	switch {
	case err != nil:
		reasons = append(reasons, "the node does not answer: "+err.Error())
	case st.SyncInfo.CatchingUp:
		reasons = append(reasons, fmt.Sprintf("catching up with the network (at height %d)", st.SyncInfo.LatestBlockHeight))
	default:
		if age := s.cfg.Now().Sub(st.SyncInfo.LatestBlockTime); age > MaxBlockAge {
			reasons = append(reasons, fmt.Sprintf("the last block (height %d) is %s old: the chain has stopped, or this node lost its peers", st.SyncInfo.LatestBlockHeight, age.Round(time.Second)))
		}
	}
	if len(reasons) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "reasons": reasons})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "height": st.SyncInfo.LatestBlockHeight,
		"latest_block_time": st.SyncInfo.LatestBlockTime})
}

// marketCounters are counted from the live stream's blocks.
type marketCounters struct {
	bids, offers, clearings, settlements atomic.Int64
	tradedWh                             atomic.Int64
	lastMCP                              atomic.Int64 // -1 when the last clearing found no price
}

func (m *marketCounters) count(name string, data map[string]any) {
	num := func(k string) int64 { v, _ := data[k].(int64); return v }
	switch name {
	case "order":
		if data["side"] == contract.SideBid {
			m.bids.Add(1)
		} else {
			m.offers.Add(1)
		}
	case "clearing":
		m.clearings.Add(1)
		m.tradedWh.Add(num("traded_wh"))
		if v, ok := data["mcp"].(int64); ok {
			m.lastMCP.Store(v)
		} else {
			m.lastMCP.Store(-1)
		}
	case "settlement":
		m.settlements.Add(1)
	}
}

// collector reads the ledger at each scrape.
type collector struct{ s *Server }

var (
	descs = map[string]*prometheus.Desc{}
	desc  = func(name, help string, labels ...string) *prometheus.Desc {
		d := prometheus.NewDesc("gridledger_"+name, help, labels, nil)
		descs[name] = d
		return d
	}
	dHeight      = desc("height", "Height of the last block the ledger executed.")
	dMarketTime  = desc("market_time_seconds", "Market time of the last block, UTC seconds.")
	dMembers     = desc("participants", "Registered participants.")
	dMeters      = desc("meters", "Registered meters.")
	dOpen        = desc("listings_open", "Listings taking orders.")
	dOrders      = desc("orders", "Orders on the ledger.")
	dUnsettled   = desc("listings_unsettled", "Cleared listings waiting for delivery settlement.")
	dLag         = desc("settlement_lag_seconds", "Market seconds since the end of the oldest cleared interval not yet settled (0 if none).")
	dAccepted    = desc("readings_accepted_total", "Meter readings the ledger accepted.")
	dRejected    = desc("readings_rejected_total", "Meter readings the ledger refused, by code.", "code")
	dSupply      = desc("money_supply_nano", "Money on the ledger, nano-units.")
	dBids        = desc("bids_total", "Bids accepted since this API started.")
	dOffers      = desc("offers_total", "Offers accepted since this API started.")
	dClearings   = desc("clearings_total", "Listings cleared since this API started.")
	dTraded      = desc("traded_wh_total", "Energy traded between members at clearing since this API started, Wh.")
	dSettlements = desc("settlements_total", "Intervals settled since this API started.")
	dMCP         = desc("last_mcp_per_kwh", "Clearing price of the last cleared listing, micro-units per kWh (-1: no price).")
	dExecBlocks  = desc("blocks_executed_total", "Blocks the ledger executed since the node started.")
	dExecTxs     = desc("txs_executed_total", "Transactions the ledger executed since the node started.")
	dExecSeconds = desc("block_execution_seconds_total", "Wall time spent executing blocks (clearing and settlement included) since the node started.")
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descs {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	m := &s.stream.counters
	counter(dBids, float64(m.bids.Load()))
	counter(dOffers, float64(m.offers.Load()))
	counter(dClearings, float64(m.clearings.Load()))
	counter(dTraded, float64(m.tradedWh.Load()))
	counter(dSettlements, float64(m.settlements.Load()))
	gauge(dMCP, float64(m.lastMCP.Load()))
	if s.cfg.App != nil {
		e := s.cfg.App.ExecStats()
		counter(dExecBlocks, float64(e.Blocks))
		counter(dExecTxs, float64(e.Txs))
		counter(dExecSeconds, e.Seconds)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var in contract.Info
	if s.query(ctx, "/info", &in) != nil {
		return
	}
	gauge(dHeight, float64(in.Height))
	gauge(dMarketTime, float64(in.MarketTime))
	gauge(dMembers, float64(in.Participants))
	gauge(dMeters, float64(in.Meters))
	gauge(dOpen, float64(in.OpenListings))
	gauge(dOrders, float64(in.Orders))
	gauge(dUnsettled, float64(in.Unsettled))
	gauge(dSupply, float64(in.Supply))
	counter(dAccepted, float64(in.ReadingsAccepted))
	for code, n := range in.ReadingsRejected {
		counter(dRejected, float64(n), code)
	}
	var lag int64
	if in.Unsettled > 0 {
		var ls []contract.ListingView
		if s.query(ctx, fmt.Sprintf("/listings?from=%d&to=%d", in.MarketTime-30*86400, in.MarketTime), &ls) == nil {
			for _, l := range ls {
				if l.State == contract.StateBidsClosed && l.End <= in.MarketTime {
					lag = max(lag, in.MarketTime-l.End)
				}
			}
		}
	}
	gauge(dLag, float64(lag))
}

func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s})
	// CometBFT registers its metrics, when its instrumentation is on, and
	// Go's runtime collectors with the default registry.
	return promhttp.HandlerFor(prometheus.Gatherers{reg, prometheus.DefaultGatherer}, promhttp.HandlerOpts{})
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/community"
	"github.com/gridledger/gridledger/internal/contract"
)

// runClearing is a clearing line of `run --output json`.
type runClearing struct {
	Event    string `json:"event"`
	Listing  int64  `json:"listing"`
	Orders   int64  `json:"orders"`
	Trades   int    `json:"trades"`
	TradedWh int64  `json:"traded_wh"`
}

// startRun starts `gridledger run` with args on free ports; stop
// interrupts it as Ctrl-C does and waits for it to exit.
func startRun(t *testing.T, args ...string) (c *exec.Cmd, stdout *bufio.Scanner, stderr *bytes.Buffer, stop func()) {
	t.Helper()
	c = exec.Command(binary, append([]string{"run", "--log-level", "warn",
		"--rpc-laddr", freeAddr(t), "--p2p-laddr", freeAddr(t), "--mqtt-addr", strings.TrimPrefix(freeAddr(t), "tcp://")}, args...)...)
	stderr = &bytes.Buffer{}
	c.Stderr = stderr
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() {
		c.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			c.Process.Kill()
			t.Error("run did not stop on SIGINT")
		}
	}
	t.Cleanup(stop)
	return c, bufio.NewScanner(out), stderr, stop
}

// A newcomer's `gridledger run`, at its defaults and whatever the hour it
// is started, begins on its community's late morning with most to trade
// (community.DemoStart), so the first intervals it clears — not those
// after a night of empty books — have P2P trades.
func TestRunDemoTradesFromItsFirstIntervals(t *testing.T) {
	c := community.Demo(1)
	m, err := c.Model(1)
	if err != nil {
		t.Fatal(err)
	}
	start := c.DemoStart(m)
	_, sc, stderr, stop := startRun(t, "--output", "json", "--api-addr", "127.0.0.1:0", "--duration", "5m")
	var clearings []runClearing
	// withOrders counts the clearings with orders; tradesAt is the count
	// when the first P2P trades cleared (0: none yet).
	withOrders, tradesAt := 0, 0
	var traded runClearing
	for withOrders < 3 && sc.Scan() {
		var l runClearing
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if l.Event != "clearing" {
			continue
		}
		clearings = append(clearings, l)
		// Listings whose gate closed while the members were still
		// joining clear empty.
		if l.Orders == 0 {
			continue
		}
		withOrders++
		if tradesAt == 0 && l.Trades > 0 && l.TradedWh > 0 {
			tradesAt, traded = withOrders, l
		}
	}
	stop()
	if withOrders < 3 {
		t.Fatalf("run ended after %d clearings: %+v\n%s", len(clearings), clearings, stderr)
	}
	// The market day began at the demo's start: the first listing cleared
	// is a few intervals after it, on its late morning.
	if first := clearings[0].Listing; first <= start || first > start+4*3600 {
		t.Errorf("first listing cleared %s, want within 4 h after the demo's start %s", clock(first), clock(start))
	}
	// Trading from the first intervals: in one of the first two with
	// orders, within the hours a newcomer watches in the first half-minute.
	if tradesAt == 0 || tradesAt > 2 || traded.Listing > start+6*3600 {
		t.Errorf("first P2P trades in clearing with orders %d (%s), demo start %s: %+v", tradesAt, clock(traded.Listing), clock(start), clearings)
	}
}

// --start still chooses the market time: "now" is real time, a local date
// and time is that, and a bad one is refused before anything is written.
// (Market time cannot run further from its start than the wall time
// elapsed allows, at --time-scale 1.)
func TestRunStartsAtTheRequestedMarketTime(t *testing.T) {
	c := community.Demo(1)
	at := time.Date(2025, 11, 3, 20, 0, 0, 0, time.FixedZone("", c.UTCOffsetH*3600)).Unix()
	for _, tc := range []struct{ flag string }{{"now"}, {"2025-11-03T20:00"}} {
		t.Run(tc.flag, func(t *testing.T) {
			home := t.TempDir()
			launched := time.Now()
			_, _, stderr, stop := startRun(t, "--home", home, "--start", tc.flag, "--time-scale", "1", "--api-addr", "off")
			defer stop()
			var in contract.Info
			for {
				out, _, code := cli(t, "query", "info", "--home", home, "--output", "json")
				if code == 0 && json.Unmarshal([]byte(out), &in) == nil && in.Height > 0 {
					break
				}
				if time.Since(launched) > 60*time.Second {
					t.Fatalf("the node never answered\n%s", stderr)
				}
				time.Sleep(200 * time.Millisecond)
			}
			elapsed := int64(time.Since(launched)/time.Second) + 1
			from := at
			if tc.flag == "now" {
				from = launched.Unix()
			}
			if in.TimeScale != 1 || in.MarketTime < from || in.MarketTime > from+elapsed {
				t.Errorf("market time %s (scale %d) %d s after starting, want from %s", clock(in.MarketTime), in.TimeScale, elapsed, clock(from))
			}
		})
	}
	home := t.TempDir()
	_, errs, code := cli(t, "run", "--home", home, "--start", "2025-11-03 20:00", "--api-addr", "off")
	if code == 0 || !strings.Contains(errs, `--start "2025-11-03 20:00"`) || !strings.Contains(errs, "YYYY-MM-DDTHH:MM") {
		t.Errorf("a bad --start: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(home, "config", "genesis.json")); !os.IsNotExist(err) {
		t.Errorf("a bad --start wrote a home: %v", err)
	}
}

// The demo's home batteries run live: a prosumer with a battery commits
// plans that carry it (has_battery, what the dashboard's member page
// draws), and each battery's sub-meter reports every interval — the
// settlement misses no meter and the ledger holds its latest reading,
// with energy charged or discharged once the day has run a while.
func TestRunDemoBatteriesPlanAndMeter(t *testing.T) {
	var withBattery []string
	for _, s := range community.Demo(1).Sites {
		if s.Battery != nil {
			withBattery = append(withBattery, s.ID)
		}
	}
	if len(withBattery) < 2 {
		t.Fatalf("the demo has %d prosumers with a battery, want at least 2", len(withBattery))
	}
	home := filepath.Join(t.TempDir(), "home")
	rpc := freeAddr(t)
	_, sc, stderr, stop := startRun(t, "--home", home, "--rpc-laddr", rpc, "--time-scale", "1800",
		"--output", "json", "--api-addr", "off")
	settlements := 0
	for settlements < 6 && sc.Scan() {
		var l struct {
			Event    string   `json:"event"`
			Readings int      `json:"readings"`
			Missing  []string `json:"missing"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if l.Event != "settlement" {
			continue
		}
		settlements++
		// 13 sites' meters and the batteries' sub-meters, none missing:
		// a battery meter that did not report would wipe its owner's
		// renewable export.
		if l.Readings != 13+len(withBattery) || len(l.Missing) != 0 {
			t.Errorf("settlement: %s", sc.Text())
		}
	}
	if settlements < 6 {
		t.Fatalf("run ended after %d settlements\n%s", settlements, stderr)
	}
	cl, err := chain.Dial(rpc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	info, err := chain.Reader{Q: cl}.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var moved int64
	for _, id := range withBattery {
		k, err := chain.LoadKey(home, id)
		if err != nil {
			t.Fatal(err)
		}
		var plans []contract.PlanEntry
		if err := cl.QueryAs(ctx, k, fmt.Sprintf("/plans?member=%s&from=%d&to=%d", id, info.MarketTime-86400, info.MarketTime+2*86400), &plans); err != nil {
			t.Fatal(err)
		}
		if len(plans) == 0 || !plans[0].HasBattery {
			t.Errorf("%s's committed plans carry no battery: %+v", id, plans)
		}
	}
	meters := okJSON[[]contract.Meter](t, "query", "meters", "--home", home)
	seen := 0
	for _, m := range meters {
		if m.Battery == "" {
			continue
		}
		seen++
		if m.Last == nil || m.Last.Seq == 0 {
			t.Errorf("battery meter %s has no reading accepted: %+v", m.ID, m)
			continue
		}
		moved += m.Last.ImportWh + m.Last.ExportWh
	}
	stop()
	if seen != len(withBattery) {
		t.Errorf("%d battery meters registered, want %d: %+v", seen, len(withBattery), meters)
	}
	// Six settled hours from the demo's sunny late morning: the batteries
	// stored some of the midday surplus.
	if moved == 0 {
		t.Errorf("the batteries' meters recorded no energy charged or discharged: %+v", meters)
	}
}

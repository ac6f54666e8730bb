package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/agent"
	"github.com/gridledger/gridledger/internal/ems/plan"
	"github.com/gridledger/gridledger/internal/meter"
	"github.com/gridledger/gridledger/internal/node"
	"github.com/gridledger/gridledger/internal/units"
)

// TestDemandResponseReachesASmartPlug runs the whole demand-response path
// on real parts: the validator, the MQTT broker and gateway of `start`, a
// home's EMS agent, and a Tasmota smart plug played by Debian's
// mosquitto_pub and mosquitto_sub over TCP. The EMS plans tomorrow with the
// EV on the plug charging in the cheap evening and commits the plan; the
// DSO asks, on the ledger, for those hours back; the EMS re-plans, commits
// its reduction, and when the hours come the plug is told OFF over MQTT
// where the plan without the request had it ON.
func TestDemandResponseReachesASmartPlug(t *testing.T) {
	home := t.TempDir()
	o := chain.DefaultInitOptions()
	// Half an hour a second: tomorrow's evening within about a minute,
	// and an hour spans two blocks, so the agent sees every hour.
	o.TimeScale = 1800
	o.RPCAddr, o.P2PAddr = freeAddr(t), freeAddr(t)
	o.MQTTAddr = strings.TrimPrefix(freeAddr(t), "tcp://")
	if err := chain.Init(home, o); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := node.Start(ctx, home, "", "off", log)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	cl := svc.Client
	op := mustKey(t, home, "operator")
	dso := mustKey(t, home, "dso")
	gw := mustKey(t, home, "gateway")
	member := chain.NewKey("H1", contract.RoleMember)
	for _, m := range []contract.Msg{
		&contract.MsgRegisterParticipant{ID: "H1", Role: contract.RoleMember, NodeType: contract.NodeHousehold, PubKey: member.PubKey()},
		&contract.MsgIssue{To: "H1", Amount: 100 * units.NanoPerUnit},
		&contract.MsgIssue{To: "dso", Amount: 100 * units.NanoPerUnit},
		&contract.MsgRegisterMeter{ID: "H1-ev-plug", Owner: "H1", Gateway: "gateway"},
	} {
		if _, err := cl.Submit(ctx, op, "", m); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
	}
	if err := svc.Registry.Refresh(ctx, cl); err != nil {
		t.Fatal(err)
	}

	// The plug: it reports once (so the gateway knows it speaks Tasmota)
	// and listens on its command topic.
	host, port, _ := strings.Cut(strings.TrimPrefix(svc.MQTT, "tcp://"), ":")
	pass := meter.Password(gw.PrivKey, svc.Node.GenesisDoc().ChainID, "H1-ev-plug")
	// -d: it says when it has subscribed, on lines of its own (line
	// buffered by stdbuf, or they wait in its stdout buffer).
	sub := exec.CommandContext(ctx, "stdbuf", "-oL", "mosquitto_sub", "-d", "-h", host, "-p", port, "-u", "H1-ev-plug", "-P", pass,
		"-i", "H1-ev-plug-cmd", "-t", "cmnd/H1-ev-plug/POWER", "-q", "1")
	subOut, err := sub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	defer sub.Process.Kill()
	type command struct {
		marketTime int64
		payload    string
	}
	// Commands are stamped with the market time of the agent's latest
	// snapshot: the time it acted on (the ledger clock runs ahead of the
	// last block by up to a block).
	var mu sync.Mutex
	var commands []command
	var seen int64
	subscribed := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(subOut)
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.HasPrefix(line, "Subscribed"):
				close(subscribed)
			case strings.HasPrefix(line, "Client "): // its protocol log
			default:
				mu.Lock()
				commands = append(commands, command{seen, line})
				mu.Unlock()
			}
		}
	}()
	select {
	case <-subscribed:
	case <-ctx.Done():
		t.Fatal("the plug never subscribed to its commands")
	}
	payload := `{"Time":"2026-11-25T14:03:00","ENERGY":{"Total":0.100,"Power":0}}`
	if out, err := exec.CommandContext(ctx, "mosquitto_pub", "-h", host, "-p", port, "-u", "H1-ev-plug", "-P", pass,
		"-i", "H1-ev-plug", "-t", "tele/H1-ev-plug/SENSOR", "-m", payload, "-q", "1").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}

	// The home: an EV on the plug, to be charged 17→7 h, and an evening
	// tariff (the community's default: peak 13–23 h) that makes 23 h the
	// cheapest hour before midnight; a flat forecast.
	ev := int64(14_000)
	h := agent.Home{Member: "H1", Appliances: []agent.Appliance{
		{Name: "ev", Start: 17, End: 7, Flexible: true, PowerW: 3700, MaxPowerW: 3700, EnergyWh: &ev, Relay: "H1-ev-plug"},
	}}
	flat := func(int64) (b, p [plan.HoursPerDay]int64, _ error) {
		for i := range b {
			b[i] = 400
		}
		return b, p, nil
	}
	relays := &countedRelays{Relays: svc.Gateway}
	a := &agent.Agent{Home: h, Key: member, Ledger: cl, Relays: relays, Forecast: flat, Log: log, PlanAheadS: 86400}
	// heard waits until the plug has heard every command the gateway sent.
	heard := func() {
		for deadline := time.Now().Add(10 * time.Second); ; {
			mu.Lock()
			n := len(commands)
			mu.Unlock()
			if int64(n) >= relays.sent.Load() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the plug heard %d of %d commands", n, relays.sent.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var params contract.Params
	if err := cl.Query(ctx, "/params", &params); err != nil {
		t.Fatal(err)
	}
	step := func() int64 {
		snap, err := agent.TakeSnapshot(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		seen = snap.MarketTime
		mu.Unlock()
		if err := a.Step(ctx, snap); err != nil {
			t.Logf("agent step: %v", err)
		}
		heard() // before the next stamp
		return snap.MarketTime
	}
	step()
	now := svc.Clock.Now()
	local := now + params.TariffUTCOffsetS
	tomorrow := local - local%86400 + 86400 - params.TariffUTCOffsetS
	day, ok := a.Plan(tomorrow)
	if !ok {
		t.Fatal("the agent did not plan tomorrow")
	}
	evHours := day.Committed.Appliances[0].Hours
	if len(evHours) == 0 {
		t.Fatalf("plan charges the EV in no hour: %+v", day.Committed)
	}
	// The DSO asks for the EV's first planned hour back.
	first := evHours[0]
	drStart := tomorrow + int64(first)*3600
	if _, err := cl.Submit(ctx, dso, "", &contract.MsgDRRequest{ID: "dr-e2e", Start: drStart, Intervals: 1,
		ReductionW: 3700, IncentivePerKWh: 500_000}); err != nil {
		t.Fatal(err)
	}
	// The EMS sees it, re-plans and commits, before the window opens (on
	// a busy machine that may take many steps; the chain's clock, not the
	// wall's, says when it is too late).
	var req contract.DRRequest
	for {
		marketTime := step()
		if err := cl.Query(ctx, "/dr/dr-e2e", &req); err != nil {
			t.Fatal(err)
		}
		if c := req.Commits["H1"]; c != nil {
			if c.BaselineWh[0] <= 400 || c.PromisedWh[0] != c.BaselineWh[0]-400 {
				t.Fatalf("commit %+v, want the EV's whole draw promised", c)
			}
			break
		}
		if marketTime >= drStart {
			t.Fatalf("the EMS did not commit before the window opened: %+v", req)
		}
		time.Sleep(200 * time.Millisecond)
	}
	day, _ = a.Plan(tomorrow)
	if slices.Contains(day.Current.Appliances[0].Hours, first) {
		t.Fatalf("re-planned EV still runs at %d h: %v", first, day.Current.Appliances[0].Hours)
	}
	// Run the agent through the requested hour (step fails the test once
	// the test's context runs out).
	for step() < drStart+3600 {
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	// The plug heard OFF for the requested hour, never ON inside it, and
	// ON for the re-planned charge.
	var during []string
	state := ""
	for _, c := range commands {
		if c.marketTime < drStart+3600 {
			state = c.payload
		}
		if c.marketTime >= drStart && c.marketTime < drStart+3600 {
			during = append(during, c.payload)
		}
	}
	if state != "OFF" || slices.Contains(during, "ON") {
		t.Fatalf("plug commands %v: want it OFF through the requested hour at %d", commands, drStart)
	}
	if !slices.ContainsFunc(commands, func(c command) bool { return c.payload == "ON" }) {
		t.Errorf("the plug was never switched on for the re-planned charge: %v", commands)
	}
}

func mustKey(t *testing.T, home, name string) chain.Key {
	t.Helper()
	k, err := chain.LoadKey(home, name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// countedRelays counts the commands sent, for the test to wait until the
// plug has heard them all.
type countedRelays struct {
	agent.Relays
	sent atomic.Int64
}

func (r *countedRelays) SwitchRelay(ctx context.Context, deviceID string, on bool) error {
	err := r.Relays.SwitchRelay(ctx, deviceID, on)
	if err == nil {
		r.sent.Add(1)
	}
	return err
}

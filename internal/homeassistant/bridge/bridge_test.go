package bridge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/agent"
	"github.com/gridledger/gridledger/internal/freeport"
	"github.com/gridledger/gridledger/internal/homeassistant"
	"github.com/gridledger/gridledger/internal/homeassistant/bridge"
	"github.com/gridledger/gridledger/internal/meter"
	"github.com/gridledger/gridledger/internal/node"
	"github.com/gridledger/gridledger/internal/units"
)

func addr(t *testing.T) string {
	t.Helper()
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sub is a real MQTT client, Debian's mosquitto_sub, printing "topic
// payload" lines; its lines are kept and can be waited on.
type sub struct {
	mu     sync.Mutex
	lines  []string
	cond   chan struct{} // closed and replaced on every line
	suback []string      // its -d lines about subscriptions
}

func mosquittoSub(t *testing.T, ctx context.Context, hostPort, user, pass string, topics ...string) *sub {
	t.Helper()
	host, port, _ := net.SplitHostPort(hostPort)
	args := []string{"-oL", "mosquitto_sub", "-d", "-v", "-h", host, "-p", port, "-q", "1"}
	if user != "" {
		args = append(args, "-u", user, "-P", pass)
	}
	for _, tp := range topics {
		args = append(args, "-t", tp)
	}
	cmd := exec.CommandContext(ctx, "stdbuf", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s := &sub{cond: make(chan struct{})}
	subscribed := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			switch {
			case strings.HasPrefix(line, "Subscribed"):
				s.suback = append(s.suback, line)
				close(subscribed)
			case strings.HasPrefix(line, "Client ") || strings.HasPrefix(line, " "):
				if strings.Contains(line, "SUBACK") {
					s.suback = append(s.suback, line)
				}
			default:
				s.lines = append(s.lines, line)
			}
			close(s.cond)
			s.cond = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	select {
	case <-subscribed:
	case <-ctx.Done():
		t.Fatalf("mosquitto_sub as %q never subscribed", user)
	}
	return s
}

// wait waits until cond holds for the latest payload of each topic.
func (s *sub) wait(t *testing.T, ctx context.Context, what string, cond func(last map[string]string) bool) map[string]string {
	t.Helper()
	for {
		s.mu.Lock()
		last := map[string]string{}
		for _, l := range s.lines {
			tp, p, _ := strings.Cut(l, " ")
			last[tp] = p
		}
		ch := s.cond
		s.mu.Unlock()
		if cond(last) {
			return last
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; got %d lines", what, len(last))
		}
	}
}

func (s *sub) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func mosquittoPub(t *testing.T, ctx context.Context, hostPort, user, pass, topic, msg string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(hostPort)
	out, err := exec.CommandContext(ctx, "mosquitto_pub", "-h", host, "-p", port, "-u", user, "-P", pass, "-t", topic, "-m", msg, "-q", "0").CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub %s: %v %s", topic, err, out)
	}
}

// discovered checks every discovery config a subscriber got: valid JSON
// with HA's required keys for its component and no unknown one.
func discovered(t *testing.T, last map[string]string, member string) int {
	t.Helper()
	n := 0
	for tp, p := range last {
		lv := strings.Split(tp, "/")
		if lv[0] != "homeassistant" {
			continue
		}
		if lv[2] != homeassistant.NodeID(member) {
			t.Errorf("discovery of another member: %s", tp)
		}
		var cfg map[string]any
		if err := json.Unmarshal([]byte(p), &cfg); err != nil {
			t.Fatalf("%s: not JSON: %v", tp, err)
		}
		if err := homeassistant.Validate(lv[1], cfg); err != nil {
			t.Errorf("%s: %v", tp, err)
		}
		n++
	}
	return n
}

// TestBridgeOnTheCommunityBroker runs a member's Home Assistant bridge on
// a real node and its embedded broker, with Debian's mosquitto_sub and
// mosquitto_pub as Home Assistant: the member's client gets every
// discovery config and its states, a new block's balance arrives, a
// switch command reaches the EMS and changes the switch's state; another
// member's client, with its own valid credentials, gets none of it and
// cannot switch the first member's appliance. The same bridge on the
// member's own broker (Debian's mosquitto) announces the same entities.
func TestBridgeOnTheCommunityBroker(t *testing.T) {
	home := t.TempDir()
	o := chain.DefaultInitOptions()
	o.RPCAddr, o.P2PAddr = "tcp://"+addr(t), "tcp://"+addr(t)
	o.MQTTAddr = addr(t)
	if err := chain.Init(home, o); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	svc, err := node.Start(ctx, home, "", "off", log)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	cl := svc.Client
	op, err := chain.LoadKey(home, "operator")
	if err != nil {
		t.Fatal(err)
	}
	alice := chain.NewKey("alice", contract.RoleMember)
	bob := chain.NewKey("bob", contract.RoleMember)
	for _, m := range []contract.Msg{
		&contract.MsgRegisterParticipant{ID: "alice", Role: contract.RoleMember, NodeType: contract.NodeHousehold, PubKey: alice.PubKey()},
		&contract.MsgRegisterParticipant{ID: "bob", Role: contract.RoleMember, NodeType: contract.NodeHousehold, PubKey: bob.PubKey()},
		&contract.MsgIssue{To: "alice", Amount: 20 * units.NanoPerUnit},
	} {
		if _, err := cl.Submit(ctx, op, "", m); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
	}
	if err := svc.Registry.Refresh(ctx, cl); err != nil {
		t.Fatal(err)
	}
	community := svc.Node.GenesisDoc().ChainID
	broker := strings.TrimPrefix(svc.MQTT, "tcp://")
	cred := func(k chain.Key) (string, string) {
		u := meter.MemberUser(k.ID)
		return u, meter.Password(k.PrivKey, community, u)
	}
	aUser, aPass := cred(alice)
	bUser, bPass := cred(bob)

	// Alice's EMS, with two appliances.
	wh := int64(6000)
	ems := &agent.Agent{Home: agent.Home{Member: "alice", Appliances: []agent.Appliance{
		{Name: "ev", Start: 18, End: 7, Flexible: true, PowerW: 7400, EnergyWh: &wh},
		{Name: "washer", Start: 8, End: 20, Flexible: true, PowerW: 2000, Hours: 1},
	}}}

	// Bob's Home Assistant listens to the whole discovery prefix and asks
	// for Alice's topics outright, before Alice's bridge starts.
	bobSub := mosquittoSub(t, ctx, broker, bUser, bPass, "homeassistant/#", homeassistant.Base(community, "alice")+"/#",
		homeassistant.Base(community, "bob")+"/#")
	refusedSub := svc.Broker.Refused()["acl_subscribe"]
	if refusedSub < 1 {
		t.Errorf("bob's subscription to alice's topics was not refused: %v", svc.Broker.Refused())
	}

	bctx, bstop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- bridge.Run(bctx, bridge.Config{Key: alice, Ledger: cl, Broker: svc.MQTT, Username: aUser, Password: aPass,
			EMS: ems, Every: 100 * time.Millisecond, Log: log})
	}()

	aliceSub := mosquittoSub(t, ctx, broker, aUser, aPass, "homeassistant/#", homeassistant.Base(community, "alice")+"/#")
	st := func(object string) string { return homeassistant.Base(community, "alice") + "/" + object + "/state" }
	last := aliceSub.wait(t, ctx, "alice's entities and balance", func(l map[string]string) bool {
		n := 0
		for tp := range l {
			if strings.HasPrefix(tp, "homeassistant/") {
				n++
			}
		}
		return n == 12 && l[st(homeassistant.ObjBalance)] == "20.00" && l[st("appliance_ev")] == "ON" &&
			l[homeassistant.Base(community, "alice")+"/availability"] == "online"
	})
	if n := discovered(t, last, "alice"); n != 12 {
		t.Errorf("%d discovery configs", n)
	}
	for _, obj := range []string{homeassistant.ObjNextPrice, homeassistant.ObjGateClosure, homeassistant.ObjSavings, homeassistant.ObjDR} {
		if _, ok := last[st(obj)]; !ok {
			t.Errorf("no %s state", obj)
		}
	}

	// The ledger moves: the new balance arrives.
	if _, err := cl.Submit(ctx, op, "", &contract.MsgIssue{To: "alice", Amount: 10 * units.NanoPerUnit}); err != nil {
		t.Fatal(err)
	}
	aliceSub.wait(t, ctx, "the balance after a deposit", func(l map[string]string) bool { return l[st(homeassistant.ObjBalance)] == "30.00" })

	// Home Assistant switches the EV off: the EMS leaves it out of its
	// next plan, and the switch's state follows.
	mosquittoPub(t, ctx, broker, aUser, aPass, homeassistant.Base(community, "alice")+"/appliance_ev/set", "OFF")
	aliceSub.wait(t, ctx, "the EV switch off", func(l map[string]string) bool { return l[st("appliance_ev")] == "OFF" })
	if ems.Appliances()["ev"] || !ems.Appliances()["washer"] {
		t.Errorf("EMS appliances %v", ems.Appliances())
	}

	// Bob tries to switch Alice's EV back on: refused by the broker.
	before := svc.Broker.Refused()["acl_publish"]
	mosquittoPub(t, ctx, broker, bUser, bPass, homeassistant.Base(community, "alice")+"/appliance_ev/set", "ON")
	deadline := time.After(20 * time.Second)
	for svc.Broker.Refused()["acl_publish"] == before {
		select {
		case <-deadline:
			t.Fatal("bob's command was not refused")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if ems.Appliances()["ev"] {
		t.Error("bob switched alice's EV on")
	}

	// A marker on Bob's own topic: once it arrives, everything published
	// before it (Alice's retained configs and states, the deposit, the
	// switch) would have reached Bob too, had the ACL let it.
	mosquittoPub(t, ctx, broker, bUser, bPass, homeassistant.Base(community, "bob")+"/marker/state", "end")
	bobSub.wait(t, ctx, "bob's marker", func(l map[string]string) bool {
		return l[homeassistant.Base(community, "bob")+"/marker/state"] == "end"
	})
	for _, l := range bobSub.all() {
		if strings.Contains(l, "alice") || strings.Contains(l, "30.00") {
			t.Errorf("bob read alice's data: %s", l)
		}
	}
	if got := len(bobSub.all()); got != 1 {
		t.Errorf("bob got %d messages, want only his marker: %v", got, bobSub.all())
	}

	// A client with no valid password gets nowhere.
	host, port, _ := net.SplitHostPort(broker)
	if out, err := exec.CommandContext(ctx, "mosquitto_sub", "-h", host, "-p", port, "-u", aUser, "-P", bPass, "-t", "homeassistant/#", "-C", "1", "-W", "5").CombinedOutput(); err == nil {
		t.Errorf("alice's user with bob's password subscribed: %s", out)
	}

	// Stopping the bridge marks alice offline (retained).
	bstop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	aliceSub.wait(t, ctx, "alice offline", func(l map[string]string) bool {
		return l[homeassistant.Base(community, "alice")+"/availability"] == "offline"
	})

	// The member's own broker: Debian's mosquitto, no ACL of ours.
	mq := startMosquitto(t)
	octx, ostop := context.WithCancel(ctx)
	defer ostop()
	go func() {
		done <- bridge.Run(octx, bridge.Config{Key: alice, Ledger: cl, Broker: "tcp://" + mq, EMS: ems, Log: log})
	}()
	own := mosquittoSub(t, ctx, mq, "", "", "homeassistant/#", homeassistant.Base(community, "alice")+"/#")
	last = own.wait(t, ctx, "entities on the member's own broker", func(l map[string]string) bool {
		n := 0
		for tp := range l {
			if strings.HasPrefix(tp, "homeassistant/") {
				n++
			}
		}
		return n == 12 && l[st(homeassistant.ObjBalance)] == "30.00" && l[st("appliance_ev")] == "OFF"
	})
	discovered(t, last, "alice")
	ostop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// startMosquitto runs Debian's broker on a free loopback port, anonymous
// access allowed (it plays the member's own broker).
func startMosquitto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
	}
	a := addr(t)
	_, port, _ := net.SplitHostPort(a)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n", port), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatalf("mosquitto (apt-get install mosquitto): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", a)
		if err == nil {
			c.Close()
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

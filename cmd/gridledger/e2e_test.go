package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/contract"
)

// binary is the gridledger command built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gridledger-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "gridledger")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic(fmt.Sprintf("build: %v\n%s", err, out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "tcp://" + l.Addr().String()
}

// cli runs the binary and returns stdout, stderr and the exit code.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	c := exec.Command(binary, args...)
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// ok runs the binary, fails the test unless it exits 0, and returns stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := cli(t, args...)
	if code != 0 {
		t.Fatalf("gridledger %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

func okJSON[T any](t *testing.T, args ...string) T {
	t.Helper()
	var v T
	out := ok(t, append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("gridledger %s: stdout is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// TestCLIMarketInterval runs the real binary as a newcomer would: init a
// home, start the validator as its own process, register two members with
// keys made by `keys add`, fund, offer, bid, and watch the listing clear,
// all through the CLI.
func TestCLIMarketInterval(t *testing.T) {
	home := t.TempDir()
	h := []string{"--home", home}
	ok(t, append([]string{"init", "--time-scale", "1800", "--rpc-laddr", freeAddr(t), "--p2p-laddr", freeAddr(t),
		"--grid-offpeak-price", "0.095"}, h...)...)
	if _, _, code := cli(t, append([]string{"init"}, h...)...); code == 0 {
		t.Fatal("init over an existing home must refuse")
	}
	node := exec.Command(binary, append([]string{"start", "--log-level", "warn"}, h...)...)
	var nodeErr bytes.Buffer
	node.Stderr = &nodeErr
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		node.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- node.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			node.Process.Kill()
			t.Error("node did not stop on SIGINT")
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, _, code := cli(t, append([]string{"query", "info"}, h...)...); code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node never answered\n%s", nodeErr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	ok(t, append([]string{"keys", "add", "alice"}, h...)...)
	ok(t, append([]string{"keys", "add", "bob"}, h...)...)
	ok(t, append([]string{"tx", "register", "--key", "alice", "--node-type", "household", "--email", "alice@example.org"}, h...)...)
	ok(t, append([]string{"tx", "register", "--key", "bob", "--node-type", "ev-charging"}, h...)...)
	ok(t, append([]string{"tx", "register-res", "--from", "alice", "--id", "alice-pv", "--kind", "pv", "--capacity-w", "5000"}, h...)...)
	// Before approval the asset cannot sell; only the DSO approves.
	_, errs, code := cli(t, append([]string{"tx", "approve-res", "--id", "alice-pv"}, h...)...) // as operator
	if code != 2 || !strings.Contains(errs, "wrong_role") {
		t.Fatalf("operator approving RES: exit %d, %q; want exit 2 and wrong_role", code, errs)
	}
	ok(t, append([]string{"tx", "approve-res", "--from", "dso", "--id", "alice-pv"}, h...)...)
	ok(t, append([]string{"tx", "issue", "--member", "bob", "--amount", "2.50"}, h...)...)

	// A listing at least four intervals (8 s) from gate closure.
	info := okJSON[contract.Info](t, append([]string{"query", "info"}, h...)...)
	var target int64
	for _, l := range okJSON[[]contract.ListingView](t, append([]string{"query", "listings"}, h...)...) {
		if l.State == contract.StateAuthorizeOffers && l.GateClosure-info.MarketTime >= 4*3600 {
			target = l.Start
			break
		}
	}
	if target == 0 {
		t.Fatal("no listing far enough from gate closure")
	}
	listing := time.Unix(target, 0).UTC().Format(time.RFC3339)
	ok(t, append([]string{"tx", "offer", "--from", "alice", "--listing", listing, "--res", "alice-pv", "--wh", "3000", "--price", "0.050"}, h...)...)
	// 40 kWh at 0.090 would escrow 3.60 of bob's 2.50: refused, exit 2.
	_, errs, code = cli(t, append([]string{"tx", "bid", "--from", "bob", "--listing", listing, "--wh", "40000", "--price", "0.090"}, h...)...)
	if code != 2 || !strings.Contains(errs, "insufficient_funds") {
		t.Fatalf("unfunded bid: exit %d, %q", code, errs)
	}
	res := okJSON[map[string]any](t, append([]string{"tx", "bid", "--from", "bob", "--listing", listing, "--wh", "2000", "--price", "0.090"}, h...)...)
	if res["code_name"] != "ok" {
		t.Fatalf("bid: %v", res)
	}

	var cleared contract.ListingView
	deadline = time.Now().Add(40 * time.Second)
	for cleared.Clearing == nil {
		if time.Now().After(deadline) {
			t.Fatalf("listing %s did not clear", listing)
		}
		time.Sleep(500 * time.Millisecond)
		cleared = okJSON[contract.ListingView](t, append([]string{"query", "listing", fmt.Sprint(target)}, h...)...)
	}
	// average-bid: MCP = the only bid's 90000, within [39000, 95000];
	// alice's offer at 50000 sells 2000 of 3000 Wh; 2000 × 90000 = 0.18.
	c := cleared.Clearing
	if c.MCP == nil || *c.MCP != 90_000 || c.TradedWh != 2000 || len(c.GridExport) != 1 || c.GridExport[0].Wh != 1000 {
		t.Fatalf("clearing: %+v", c)
	}
	alice := okJSON[contract.Participant](t, append([]string{"query", "wallet", "alice"}, h...)...)
	bob := okJSON[contract.Participant](t, append([]string{"query", "wallet", "bob"}, h...)...)
	if alice.Balance != 180_000_000 || bob.Balance != 2_320_000_000 || bob.Escrow != 0 {
		t.Fatalf("wallets: alice %d, bob %d (escrow %d)", alice.Balance, bob.Balance, bob.Escrow)
	}
	text := ok(t, append([]string{"query", "trades"}, h...)...)
	if !strings.Contains(text, "alice") || !strings.Contains(text, "0.18") {
		t.Fatalf("trades table:\n%s", text)
	}
}

// TestRunPrintsClearings runs the README's first command for a few seconds
// and checks it prints the community's clearings as they happen.
func TestRunPrintsClearings(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, binary, "run", "--duration", "25s", "--time-scale", "1800", "--output", "json",
		"--rpc-laddr", freeAddr(t), "--p2p-laddr", freeAddr(t), "--log-level", "warn")
	var errb bytes.Buffer
	c.Stderr = &errb
	out, err := c.Output()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
	}
	var lines int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var l struct {
			Listing     int64  `json:"listing"`
			Orders      int64  `json:"orders"`
			MCP         *int64 `json:"mcp"`
			AvailableWh int64  `json:"available_wh"`
			WantedWh    int64  `json:"wanted_wh"`
			TradedWh    int64  `json:"traded_wh"`
			Import      int64  `json:"grid_import_wh"`
			Export      int64  `json:"grid_export_wh"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines++
		// Energy balances: what was wanted is traded or imported, what
		// was offered is traded or exported.
		if l.Orders == 0 || l.TradedWh+l.Import != l.WantedWh || l.TradedWh+l.Export != l.AvailableWh {
			t.Errorf("clearing does not balance: %+v", l)
		}
	}
	// 25 s at 1800× is 12.5 market hours; allow for start-up.
	if lines < 5 {
		t.Fatalf("run printed %d clearings in 25 s, want at least 5:\n%s\n%s", lines, out, errb.String())
	}
}

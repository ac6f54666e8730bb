package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/contacts"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/ems/advice"
	"github.com/gridledger/gridledger/internal/freeport"
	"github.com/gridledger/gridledger/internal/kpi"
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

// freeAddr finds a free loopback port (internal/freeport).
func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return "tcp://" + a
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
		"--mqtt-addr", strings.TrimPrefix(freeAddr(t), "tcp://"), "--api-addr", "127.0.0.1:0", "--grid-offpeak-price", "0.095"}, h...)...)
	if _, _, code := cli(t, append([]string{"init"}, h...)...); code == 0 {
		t.Fatal("init over an existing home must refuse")
	}
	defer startNode(t, h)()

	ok(t, append([]string{"keys", "add", "alice"}, h...)...)
	ok(t, append([]string{"keys", "add", "bob"}, h...)...)
	ok(t, append([]string{"tx", "register", "--key", "alice", "--node-type", "household", "--email", "alice@example.org"}, h...)...)
	ok(t, append([]string{"tx", "register", "--key", "bob", "--node-type", "ev-charging"}, h...)...)
	checkEmailOffLedger(t, home, "alice", "alice@example.org")
	ok(t, append([]string{"tx", "register-res", "--from", "alice", "--id", "alice-pv", "--kind", "pv", "--capacity-w", "5000"}, h...)...)
	// Before approval the asset cannot sell; only the DSO approves.
	_, errs, code := cli(t, append([]string{"tx", "approve-res", "--id", "alice-pv"}, h...)...) // as operator
	if code != 2 || !strings.Contains(errs, "wrong_role") {
		t.Fatalf("operator approving RES: exit %d, %q; want exit 2 and wrong_role", code, errs)
	}
	ok(t, append([]string{"tx", "approve-res", "--from", "dso", "--id", "alice-pv"}, h...)...)
	// Her battery, likewise: absurd ratings refused, only the DSO approves.
	battery := []string{"tx", "register-battery", "--from", "alice", "--id", "alice-bat", "--capacity-wh", "10000", "--max-discharge-w", "5000"}
	// (checked before it is sent, as every message's shape is)
	if _, errs, code := cli(t, append(append(battery, "--max-charge-w", "50000"), h...)...); code == 0 || !strings.Contains(errs, "at most 40000 W") {
		t.Fatalf("a 10 kWh battery charging at 50 kW: exit %d, %q; want a refusal naming the 40000 W limit", code, errs)
	}
	ok(t, append(append(battery, "--max-charge-w", "5000"), h...)...)
	if _, errs, code := cli(t, append([]string{"tx", "approve-battery", "--id", "alice-bat"}, h...)...); code != 2 || !strings.Contains(errs, "wrong_role") {
		t.Fatalf("operator approving a battery: exit %d, %q; want exit 2 and wrong_role", code, errs)
	}
	ok(t, append([]string{"tx", "approve-battery", "--from", "dso", "--id", "alice-bat"}, h...)...)
	if bs := okJSON[[]contract.Battery](t, append([]string{"query", "batteries"}, h...)...); len(bs) != 1 ||
		bs[0] != (contract.Battery{ID: "alice-bat", Owner: "alice", CapacityWh: 10000, MaxChargeW: 5000, MaxDischargeW: 5000, Approved: true, ApprovedBy: "dso"}) {
		t.Fatalf("batteries %+v", bs)
	}
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
	deadline := time.Now().Add(40 * time.Second)
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
	if c.PaidNano != 180_000_000 {
		t.Fatalf("paid from escrow %d, want 180000000", c.PaidNano)
	}
	text := ok(t, append([]string{"query", "trades"}, h...)...)
	if !strings.Contains(text, "alice") || !strings.Contains(text, "0.18") {
		t.Fatalf("trades table:\n%s", text)
	}

	// Delivery (community imbalance rule, the default): neither has a
	// meter, so nothing was metered and nothing is realised. The trade is
	// unwound: alice refunds bob's 0.18; neither pays the utility anything,
	// as with the utility alone.
	for cleared.State != contract.StateSettled {
		if time.Now().After(deadline) {
			t.Fatalf("listing %s not settled", listing)
		}
		time.Sleep(500 * time.Millisecond)
		cleared = okJSON[contract.ListingView](t, append([]string{"query", "listing", fmt.Sprint(target)}, h...)...)
	}
	alice := okJSON[contract.Participant](t, append([]string{"query", "wallet", "alice"}, h...)...)
	bob := okJSON[contract.Participant](t, append([]string{"query", "wallet", "bob"}, h...)...)
	if alice.Balance != 0 || len(alice.Owes) != 0 || bob.Balance != 2_500_000_000 || bob.Escrow != 0 {
		t.Fatalf("wallets after settlement: alice %d (owes %v), bob %d (escrow %d)", alice.Balance, alice.Owes, bob.Balance, bob.Escrow)
	}
	// The participants' table says what each one's transactions are bound
	// to: the genesis, or the height it was registered at.
	table := ok(t, append([]string{"query", "participants"}, h...)...)
	rowOf := func(id string) string {
		for _, line := range strings.Split(table, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == id {
				return line
			}
		}
		return ""
	}
	if alice.Registered <= 0 || !strings.Contains(rowOf("alice"), fmt.Sprintf("height %d", alice.Registered)) || !strings.Contains(rowOf("operator"), "genesis") {
		t.Fatalf("participants table (alice registered at %d):\n%s", alice.Registered, table)
	}
	csvOut := ok(t, append([]string{"statement", "--member", "alice"}, h...)...)
	rows, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "interval_utc" || rows[2][0] != "total" {
		t.Fatalf("statement CSV (%v):\n%s", err, csvOut)
	}
	row := map[string]string{}
	for i, col := range rows[0] {
		row[col] = rows[1][i]
	}
	if row["sold_wh"] != "2000" || row["received_p2p"] != "0.18" || row["shortfall_wh"] != "2000" ||
		row["paid_to_utility"] != "0.00" || row["paid_to_members"] != "0.18" || row["owed"] != "0.00" || row["net"] != "0.00" {
		t.Fatalf("statement row %v", row)
	}

	// Advice from bob's own data: he bought 2000 Wh he did not use, and
	// was refunded: the market cost him nothing.
	adv := okJSON[advice.Advice](t, append([]string{"advice", "--member", "bob"}, h...)...)
	// Settlement gave him back the 0.18 he paid at clearing; nothing was
	// netted in the pool.
	if adv.Intervals != 1 || adv.BoughtP2PWh != 2000 || adv.NetNano != 0 || adv.SavedNano != adv.NetNano-adv.UtilityOnlyNano ||
		adv.DeviationsNetNano != 180_000_000 || adv.NettedWh != 0 || adv.PoolValueNano != 0 ||
		adv.Market.Cleared < 1 || adv.Market.TradedWh < 2000 {
		t.Fatalf("advice %+v", adv)
	}
	if adv.NextListing != 0 && (adv.SuggestedBid > 95_000 || adv.SuggestedOffer < 39_000) {
		t.Fatalf("suggested prices outside the tariffs: %+v", adv)
	}

	// alice leaves. Once the interval she left in is settled she is paid
	// out, her asset is off the ledger and her node erased her e-mail.
	ok(t, append([]string{"tx", "leave", "--from", "alice"}, h...)...)
	deadline = time.Now().Add(30 * time.Second)
	_, errs, code = cli(t, append([]string{"tx", "offer", "--from", "alice", "--listing", listing, "--res", "alice-pv", "--wh", "1", "--price", "0.050"}, h...)...)
	if code != 2 || !strings.Contains(errs, "suspended") {
		t.Fatalf("an order from a leaving member: exit %d, %q", code, errs)
	}
	for {
		deps := okJSON[[]contract.Departure](t, append([]string{"query", "departures"}, h...)...)
		if len(deps) == 1 && deps[0].Done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's departure did not complete: %+v", deps)
		}
		time.Sleep(500 * time.Millisecond)
	}
	alice = okJSON[contract.Participant](t, append([]string{"query", "wallet", "alice"}, h...)...)
	if !alice.Suspended || alice.Balance != 0 {
		t.Fatalf("alice after leaving: %+v", alice)
	}
	for _, r := range okJSON[[]contract.RES](t, append([]string{"query", "res"}, h...)...) {
		if r.Owner == "alice" {
			t.Fatalf("alice's asset %s is still on the ledger", r.ID)
		}
	}
	if bs := okJSON[[]contract.Battery](t, append([]string{"query", "batteries"}, h...)...); len(bs) != 0 {
		t.Fatalf("alice's batteries are still on the ledger: %+v", bs)
	}
	store := contacts.Store{Dir: contacts.Dir(home)}
	for {
		_, err := store.Get("alice")
		if errors.Is(err, contacts.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's e-mail is still in the home: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRunTradesMetersAndSettles runs the README's first command for a
// while and checks it does what it says: clearings that balance, and
// settlements of every meter's metered energy, some of it read by the
// gateway from cheap plugs, with energy tokens conserved.
func TestRunTradesMetersAndSettles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, binary, "run", "--duration", "30s", "--time-scale", "1800", "--output", "json",
		"--rpc-laddr", freeAddr(t), "--p2p-laddr", freeAddr(t), "--mqtt-addr", strings.TrimPrefix(freeAddr(t), "tcp://"),
		"--api-addr", "127.0.0.1:0", "--log-level", "warn")
	var errb bytes.Buffer
	c.Stderr = &errb
	out, err := c.Output()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
	}
	var clearings, settlements, kpis, dashboards int
	trading := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var l struct {
			Event       string                    `json:"event"`
			Orders      int64                     `json:"orders"`
			AvailableWh int64                     `json:"available_wh"`
			WantedWh    int64                     `json:"wanted_wh"`
			TradedWh    int64                     `json:"traded_wh"`
			Import      int64                     `json:"grid_import_wh"`
			Export      int64                     `json:"grid_export_wh"`
			Readings    int                       `json:"readings"`
			Gateway     int                       `json:"gateway_signed"`
			Missing     []string                  `json:"missing"`
			Totals      contract.SettlementTotals `json:"totals"`
			Intervals   int                       `json:"intervals"`
			KPIs        kpi.Community             `json:"kpis"`
			URL         string                    `json:"url"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		switch l.Event {
		case "dashboard":
			// First, where the dashboard is: on the free port asked for.
			dashboards++
			if clearings+settlements > 0 || !strings.HasPrefix(l.URL, "http://127.0.0.1:") || strings.HasSuffix(l.URL, ":0/") {
				t.Errorf("dashboard line: %s", sc.Text())
			}
		case "clearing":
			clearings++
			// A listing whose gate closed while the members were still
			// starting may clear empty; once they trade, every one has
			// orders.
			if l.Orders == 0 && !trading {
				continue
			}
			trading = true
			// What was wanted is traded or imported, what was offered is
			// traded or exported.
			if l.Orders == 0 || l.TradedWh+l.Import != l.WantedWh || l.TradedWh+l.Export != l.AvailableWh {
				t.Errorf("clearing does not balance: %s", sc.Text())
			}
		case "settlement":
			settlements++
			tt := l.Totals
			// A dozen sites and a wind producer, two of them plugs the
			// gateway signs for, and the sub-meters of the demo's two
			// batteries; every token minted ends retired or exported.
			if l.Readings != 15 || l.Gateway != 2 || len(l.Missing) != 0 || tt.MintedWh != tt.RetiredWh+tt.ExportedWh || tt.TransferredWh > tt.MintedWh {
				t.Errorf("settlement: %s", sc.Text())
			}
		case "kpis":
			// On exit, the KPIs of what was settled.
			kpis++
			k := l.KPIs
			if l.Intervals != settlements || k.Members != 13 || k.Intervals != settlements || k.ConsumptionWh <= 0 || k.SelfSufficiency == nil {
				t.Errorf("kpis after %d settlements: %s", settlements, sc.Text())
			}
		default:
			t.Errorf("unknown line %q", sc.Text())
		}
	}
	if dashboards != 1 {
		t.Errorf("%d dashboard lines, want 1", dashboards)
	}
	if kpis != 1 {
		t.Errorf("%d KPI lines on exit, want 1", kpis)
	}
	// 30 s at 1800× is 15 market hours; allow for start-up and the lag of
	// settlement behind delivery.
	if clearings < 5 || settlements < 3 || !trading {
		t.Fatalf("run printed %d clearings and %d settlements in 30 s:\n%s\n%s", clearings, settlements, out, errb.String())
	}
}

// TestMosquittoPubTasmotaReachesTheLedger publishes a Tasmota plug's
// payload with Debian's mosquitto_pub into the broker of a running
// `gridledger start`, with credentials from `gridledger meter
// credentials`, and finds it on the ledger as a gateway-signed reading.
func TestMosquittoPubTasmotaReachesTheLedger(t *testing.T) {
	home := t.TempDir()
	h := []string{"--home", home}
	mqttAddr := strings.TrimPrefix(freeAddr(t), "tcp://")
	ok(t, append([]string{"init", "--time-scale", "1800", "--rpc-laddr", freeAddr(t), "--p2p-laddr", freeAddr(t), "--mqtt-addr", mqttAddr, "--api-addr", "127.0.0.1:0"}, h...)...)
	stop := startNode(t, h)
	defer stop()
	ok(t, append([]string{"keys", "add", "alice"}, h...)...)
	ok(t, append([]string{"tx", "register", "--key", "alice", "--node-type", "household"}, h...)...)
	ok(t, append([]string{"tx", "register-meter", "--id", "alice-plug", "--owner", "alice", "--gateway", "gateway"}, h...)...)
	creds := okJSON[map[string]string](t, append([]string{"meter", "credentials", "--id", "alice-plug"}, h...)...)

	host, port, _ := strings.Cut(mqttAddr, ":")
	payload := `{"Time":"2026-11-25T14:03:00","ENERGY":{"TotalStartTime":"2026-01-01T00:00:00","Total":1.234,"Yesterday":0.5,"Today":0.1,"Power":230,"Voltage":231,"Current":1.0}}`
	deadline := time.Now().Add(45 * time.Second)
	var meters []contract.Meter
	for {
		// The broker learns of the new meter within a couple of seconds;
		// until then it refuses the connection, and mosquitto_pub says so.
		pub := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-u", creds["username"], "-P", creds["password"],
			"-i", "alice-plug", "-t", "tele/alice-plug/SENSOR", "-m", payload, "-q", "1")
		pubOut, pubErr := pub.CombinedOutput()
		meters = okJSON[[]contract.Meter](t, append([]string{"query", "meters"}, h...)...)
		if len(meters) == 1 && meters[0].Last != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reading never reached the ledger; last mosquitto_pub: %v %s; meters %+v", pubErr, pubOut, meters)
		}
		time.Sleep(time.Second)
	}
	if m := meters[0]; m.ID != "alice-plug" || m.Gateway != "gateway" || m.Last.ImportWh != 1234 || m.Last.ExportWh != 0 {
		t.Fatalf("meter on the ledger: %+v (last %+v), want 1234 Wh imported", m, m.Last)
	}
	// Once its interval settles, the reading is recorded as gateway-signed.
	// The plug keeps reporting, as Tasmota does every TelePeriod: on a
	// loaded machine a batch can miss its interval's settlement deadline
	// (the interval then settles without it), and a later one is settled.
	for {
		_ = exec.Command("mosquitto_pub", "-h", host, "-p", port, "-u", creds["username"], "-P", creds["password"],
			"-i", "alice-plug", "-t", "tele/alice-plug/SENSOR", "-m", payload, "-q", "1").Run()
		sts := okJSON[[]contract.Settlement](t, append([]string{"query", "settlements"}, h...)...)
		for _, st := range sts {
			for _, r := range st.Readings {
				if r.Meter == "alice-plug" {
					if r.SignedBy != "gateway" || r.ImportWh != 1234 {
						t.Fatalf("settled reading %+v", r)
					}
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no settlement carries alice-plug's reading: %+v", sts)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// startNode runs `gridledger start` for a home until the test ends.
func startNode(t *testing.T, h []string) func() {
	t.Helper()
	node := exec.Command(binary, append([]string{"start", "--log-level", "warn"}, h...)...)
	var nodeErr bytes.Buffer
	node.Stderr = &nodeErr
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		node.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- node.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			node.Process.Kill()
			t.Error("node did not stop on SIGINT")
		}
	}
	// Up once it answers and has registered its gateway, which it signs as
	// the operator: a test's own operator transactions must not race it
	// for the operator's next nonce.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _, code := cli(t, append([]string{"query", "gateways", "--output", "json"}, h...)...)
		var gws []contract.Gateway
		if code == 0 && json.Unmarshal([]byte(out), &gws) == nil && len(gws) > 0 {
			return stop
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("node never answered\n%s", nodeErr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

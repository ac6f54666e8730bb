package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/rpc/client/local"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/gridledger/gridledger/internal/api"
	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
	"github.com/gridledger/gridledger/internal/reqsig"
)

// env is a real single-validator node with two members, h1 (with a meter
// m1 and money) and h2, and the API serving it over loopback.
type env struct {
	url      string
	chainID  string
	cl       *chain.Client
	op, dso  chain.Key
	h1, h2   chain.Key
	meterKey chain.Key
	srv      *api.Server
	node     *chain.Node
}

func startEnv(t *testing.T) *env {
	t.Helper()
	home := t.TempDir()
	// 15-minute listings at 450× real time: an interval every 2 s.
	o, err := chain.FastInitOptions()
	if err != nil {
		t.Fatal(err)
	}
	o.ChainID = "gridledger-api-test"
	if err := chain.Init(home, o); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	n, err := chain.StartNode(context.Background(), home, log)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := chain.Dial(n.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{chainID: o.ChainID, cl: cl, h1: chain.NewKey("h1", contract.RoleMember), h2: chain.NewKey("h2", contract.RoleMember),
		meterKey: chain.NewKey("m1", "")}
	e.op, _ = chain.LoadKey(home, "operator")
	e.dso, _ = chain.LoadKey(home, "dso")
	for _, k := range []chain.Key{e.h1, e.h2} {
		e.submit(t, e.op, &contract.MsgRegisterParticipant{ID: k.ID, Role: contract.RoleMember, NodeType: contract.NodeHousehold, PubKey: k.PubKey(), Feeder: "F1"})
	}
	e.submit(t, e.op, &contract.MsgIssue{To: "h1", Amount: 10_000_000_000})
	e.submit(t, e.op, &contract.MsgIssue{To: "dso", Amount: 10_000_000_000})
	e.submit(t, e.op, &contract.MsgRegisterMeter{ID: "m1", Owner: "h1", PubKey: e.meterKey.PubKey()})

	e.node = n
	e.srv = api.New(api.Config{Node: local.New(n.Node), ChainID: o.ChainID, Log: log, App: n.App})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		n.Stop()
	})
	e.url = "http://" + l.Addr().String()
	return e
}

func (e *env) submit(t *testing.T, k chain.Key, msg contract.Msg) chain.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := e.cl.Submit(ctx, k, "", msg)
	if err != nil {
		t.Fatalf("%s by %s: %v", contract.TypeOf(msg), k.ID, err)
	}
	// CometBFT indexes a committed transaction after it reports the
	// commit: wait until the node finds it.
	hash, err := hex.DecodeString(r.Hash)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := e.cl.RPC.Tx(ctx, hash, false); err == nil {
			return r
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s by %s: committed in block %d but never indexed", contract.TypeOf(msg), k.ID, r.Height)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// get fetches path, signed by k unless k is nil, and decodes the JSON.
func (e *env) get(t *testing.T, path string, k *chain.Key, v any) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", e.url+path, nil)
	if k != nil {
		if err := api.SignRequest(req, k.PrivKey, e.chainID, k.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res
}

func (e *env) post(t *testing.T, path string, tx []byte) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(api.SubmitRequest{Tx: tx})
	res, err := http.Post(e.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, out
}

// openListing is a listing whose gate closes at least two intervals
// after the ledger's market time.
func (e *env) openListing(t *testing.T) contract.ListingView {
	t.Helper()
	var ls []contract.ListingView
	var in api.Info
	e.get(t, "/api/info", nil, &in)
	e.get(t, "/api/listings/open", nil, &ls)
	for _, l := range ls {
		if l.GateClosure-in.MarketTime >= 2*in.IntervalS {
			return l
		}
	}
	t.Fatalf("no listing open two intervals ahead of %d: %+v", in.MarketTime, ls)
	return contract.ListingView{}
}

func (e *env) sign(t *testing.T, k chain.Key, msg contract.Msg) []byte {
	t.Helper()
	tx, err := e.cl.Sign(context.Background(), k, "", msg)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func TestAPI(t *testing.T) {
	e := startEnv(t)
	t.Run("openapi document matches every handler", func(t *testing.T) { testOpenAPI(t, e) })
	t.Run("private reads need the member's signature", func(t *testing.T) { testAuth(t, e) })
	t.Run("a member's battery plan is its own", func(t *testing.T) { testBatteryPlan(t, e) })
	t.Run("signed transactions are relayed, never signed", func(t *testing.T) { testRelay(t, e) })
	t.Run("live stream", func(t *testing.T) { testStream(t, e) })
	t.Run("health, readiness and metrics", func(t *testing.T) { testOps(t, e) })
	t.Run("private queries over the node's RPC", func(t *testing.T) { testRPCPrivacy(t, e) })
	t.Run("meters' registers over the node's RPC", func(t *testing.T) { testRPCMeters(t, e) })
	t.Run("the explorer keeps plans private", func(t *testing.T) { testExplorerPrivacy(t, e) })
	t.Run("a signed request serves once", func(t *testing.T) { testReplay(t, e) })
	t.Run("a suspended member's stream is cut", func(t *testing.T) { testSuspendedStream(t, e) })
}

func testOps(t *testing.T, e *env) {
	var body map[string]any
	if res := e.get(t, "/healthz", nil, &body); res.StatusCode != http.StatusOK || body["status"] != "ok" {
		t.Errorf("healthz: %d %v", res.StatusCode, body)
	}
	if res := e.get(t, "/readyz", nil, &body); res.StatusCode != http.StatusOK || body["status"] != "ready" {
		t.Errorf("readyz: %d %v", res.StatusCode, body)
	}
	// An hour later with no new block, the node is not ready.
	late := api.New(api.Config{Node: local.New(e.node.Node), ChainID: e.chainID, Now: func() time.Time { return time.Now().Add(time.Hour) }})
	rec := httptest.NewRecorder()
	late.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "old") {
		t.Errorf("readyz an hour on: %d %s", rec.Code, rec.Body)
	}
	res, err := http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	metrics := map[string]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		if name, v, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			var f float64
			fmt.Sscan(v, &f)
			metrics[name] = f
		}
	}
	// The earlier subtests placed bids and sent readings of m1.
	for name, min := range map[string]float64{"gridledger_height": 5, "gridledger_bids_total": 1, "gridledger_readings_accepted_total": 1,
		"gridledger_participants": 5, "gridledger_meters": 1, "gridledger_blocks_executed_total": 5, "gridledger_block_execution_seconds_total": 1e-9,
		"gridledger_money_supply_nano": 1, "go_goroutines": 1} {
		if metrics[name] < min {
			t.Errorf("metric %s = %v, want ≥ %v", name, metrics[name], min)
		}
	}
	if _, ok := metrics["gridledger_settlement_lag_seconds"]; !ok {
		t.Errorf("no settlement lag metric in:\n%s", raw)
	}
}

// testOpenAPI loads the served document, validates it as OpenAPI 3, and
// checks every operation's real answer against its schema.
func testOpenAPI(t *testing.T, e *env) {
	// Something in every list: a bid, a DR request, a reading.
	l := e.openListing(t)
	bid := e.submit(t, e.h1, &contract.MsgBid{Listing: l.Start, Wh: 1000, PricePerKWh: 80_000})
	e.submit(t, e.dso, &contract.MsgDRRequest{ID: "dr-1", Start: l.Start, Intervals: 1, ReductionW: 2000, IncentivePerKWh: 100_000, Feeder: "F1"})

	res := e.get(t, "/api/openapi.json", nil, nil)
	raw, _ := io.ReadAll(res.Body)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: e.url}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	var settled []contract.Settlement
	for deadline := time.Now().Add(30 * time.Second); len(settled) == 0 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		e.get(t, "/api/settlements?from=0", nil, &settled)
	}
	if len(settled) == 0 {
		t.Fatal("no interval settled in 30 s")
	}
	subst := map[string]string{"{id}": "h1", "{start}": fmt.Sprint(settled[0].Start), "{height}": fmt.Sprint(bid.Height), "{hash}": bid.Hash}
	checked := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if path == "/api/events" || method != "GET" {
				continue // the stream and the relay have their own tests
			}
			p := path
			for k, v := range subst {
				p = strings.ReplaceAll(p, k, v)
			}
			if path == "/api/dr/{id}" {
				p = "/api/dr/dr-1"
			}
			// Private routes answer the operator.
			res := e.get(t, p, &e.op, nil)
			if res.StatusCode != http.StatusOK {
				body, _ := io.ReadAll(res.Body)
				t.Errorf("GET %s (%s): %d %s", p, op.OperationID, res.StatusCode, body)
				continue
			}
			req, _ := http.NewRequest("GET", e.url+p, nil)
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Errorf("%s: %v", p, err)
				continue
			}
			body, _ := io.ReadAll(res.Body)
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
				Status:                 res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)),
			}
			if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
				t.Errorf("GET %s does not match its schema: %v", p, err)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Errorf("checked %d GET operations, want every one (≥ 20)", checked)
	}
	// The error body matches the Error schema too.
	req, _ := http.NewRequest("GET", e.url+"/api/listings/12", nil)
	res, _ = http.DefaultClient.Do(req)
	body, _ := io.ReadAll(res.Body)
	route, params, _ := router.FindRoute(req)
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown listing: %d %s", res.StatusCode, body)
	}
	if err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(body))}); err != nil {
		t.Errorf("error body: %v", err)
	}
	// An endpoint the document lacks is not served.
	var apiErr api.Error
	if res := e.get(t, "/api/nothing", nil, &apiErr); res.StatusCode != http.StatusNotFound || apiErr.Name != "not_found" {
		t.Errorf("GET /api/nothing: %d %+v", res.StatusCode, apiErr)
	}
}

func testAuth(t *testing.T, e *env) {
	path := "/api/members/h1/statement"
	// The advice reads the statement too, signed as its caller.
	for _, p := range []string{path, "/api/members/h1/advice"} {
		var apiErr api.Error
		if res := e.get(t, p, nil, &apiErr); res.StatusCode != http.StatusUnauthorized || apiErr.Code != contract.CodeBadSignature {
			t.Errorf("%s unsigned: %d %+v, want 401 bad_signature", p, res.StatusCode, apiErr)
		}
		if res := e.get(t, p, &e.h2, &apiErr); res.StatusCode != http.StatusForbidden || apiErr.Code != contract.CodeWrongRole {
			t.Errorf("%s signed by another member: %d %+v, want 403 wrong_role", p, res.StatusCode, apiErr)
		}
	}
	var adv struct{ Member string }
	if res := e.get(t, "/api/members/h1/advice", &e.h1, &adv); res.StatusCode != http.StatusOK || adv.Member != "h1" {
		t.Errorf("h1's advice signed by h1: %d %+v", res.StatusCode, adv)
	}
	for _, k := range []chain.Key{e.h1, e.op, e.dso} {
		var rows []contract.StatementRow
		if res := e.get(t, path, &k, &rows); res.StatusCode != http.StatusOK {
			t.Errorf("signed by %s: %d", k.ID, res.StatusCode)
		}
	}
	// A signature is for one path and query, one chain and one time.
	cases := map[string]func(r *http.Request){
		"another query": func(r *http.Request) { r.URL.RawQuery = "from=0" },
		"stale time": func(r *http.Request) {
			api.SignRequest(r, e.h1.PrivKey, e.chainID, "h1", time.Now().Add(-10*time.Minute))
		},
		"another chain": func(r *http.Request) { api.SignRequest(r, e.h1.PrivKey, "other-chain", "h1", time.Now()) },
		"another key":   func(r *http.Request) { api.SignRequest(r, e.h2.PrivKey, e.chainID, "h1", time.Now()) },
		"not base64":    func(r *http.Request) { r.Header.Set(api.HeaderSignature, "!!") },
	}
	for name, tamper := range cases {
		req, _ := http.NewRequest("GET", e.url+path, nil)
		api.SignRequest(req, e.h1.PrivKey, e.chainID, "h1", time.Now())
		tamper(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got api.Error
		json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || got.Name != "bad_signature" {
			t.Errorf("%s: %d %+v, want 401 bad_signature", name, res.StatusCode, got)
		}
	}
	// Settlements: the public sees totals, not members' meters. m1
	// reports until an interval settles with its reading.
	var all []contract.Settlement
	deadline := time.Now().Add(30 * time.Second)
	for seq := uint64(1); time.Now().Before(deadline); seq++ {
		e.sendReading(t, seq, int64(seq)*100)
		e.get(t, "/api/settlements?from=0", &e.op, &all)
		if slices.ContainsFunc(all, func(s contract.Settlement) bool { return len(s.Readings) > 0 }) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	var sts []contract.Settlement
	e.get(t, "/api/settlements?from=0", nil, &sts)
	var mine []contract.Settlement
	e.get(t, "/api/settlements?from=0", &e.h2, &mine)
	// The chain settles on while the test reads: the operator reads last,
	// so that it sees at least what the others saw.
	e.get(t, "/api/settlements?from=0", &e.op, &all)
	if len(sts) == 0 || len(all) < len(sts) {
		t.Fatalf("settlements: public %d, operator %d", len(sts), len(all))
	}
	var publicReadings, operatorReadings, h2Readings int
	for i := range sts {
		publicReadings += len(sts[i].Readings) + len(sts[i].Members)
	}
	for i := range all {
		operatorReadings += len(all[i].Readings)
	}
	for i := range mine {
		h2Readings += len(mine[i].Readings)
	}
	if publicReadings != 0 || h2Readings != 0 || operatorReadings == 0 {
		t.Errorf("readings in settlements: public %d, h2 (owns no meter) %d, operator %d", publicReadings, h2Readings, operatorReadings)
	}
	// The member reads its own meter's readings.
	var rs []contract.IntervalReading
	e.get(t, "/api/members/h1/readings?from=0", &e.h1, &rs)
	if len(rs) == 0 || rs[0].Meter != "m1" || rs[0].ImportWh <= 0 {
		t.Errorf("h1's readings: %+v", rs)
	}
}

// sendReading puts one reading of m1 on the ledger, as the operator's
// gateway would, and returns its block height.
// sendReading puts a reading of m1, dated at the ledger's market time, on
// the ledger and returns the height of its block. On a slow machine the
// interval it is dated in may settle (an interval lasts 2 s) before its
// block: the ledger then refuses it as stale, and it is sent again, dated
// anew.
func (e *env) sendReading(t *testing.T, seq uint64, importWh int64) int64 {
	t.Helper()
	for range 5 {
		var in api.Info
		e.get(t, "/api/info", nil, &in)
		s, err := reading.Sign(e.meterKey.PrivKey, reading.Reading{Meter: "m1", Registers: reading.Registers{Seq: seq, Time: in.MarketTime, ImportWh: importWh}})
		if err != nil {
			t.Fatal(err)
		}
		h := e.submit(t, e.op, &contract.MsgReadings{Readings: []contract.ReadingEntry{{Signed: s}}}).Height
		ms, err := chain.Reader{Q: e.cl, As: &e.op}.Meters(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.ID == "m1" && m.Last != nil && m.Last.Seq == seq {
				return h
			}
		}
	}
	t.Fatalf("reading %d of m1 was refused five times", seq)
	return 0
}

func testRelay(t *testing.T, e *env) {
	l := e.openListing(t)
	tx := e.sign(t, e.h1, &contract.MsgBid{Listing: l.Start, Wh: 2500, PricePerKWh: 90_000})
	code, out := e.post(t, "/api/txs?wait=commit", tx)
	if code != http.StatusAccepted || out["code_name"] != "ok" || out["height"].(float64) < 1 {
		t.Fatalf("relay: %d %v", code, out)
	}
	// The bid is in the listing's book and provably in its block.
	var lv contract.ListingView
	e.get(t, fmt.Sprintf("/api/listings/%d", l.Start), nil, &lv)
	found := false
	for _, o := range lv.Book {
		found = found || (o.Participant == "h1" && o.Wh == 2500 && o.PricePerKWh == 90_000)
	}
	if !found {
		t.Errorf("bid not in the book: %+v", lv.Book)
	}
	var d api.TxDetail
	e.get(t, "/api/txs/"+out["hash"].(string), nil, &d)
	if !d.Proven || d.Type != "bid" || d.Signer != "h1" || d.Proof.RootHash != d.Proof.DataHash {
		t.Errorf("tx detail: %+v", d)
	}
	// Refusals carry the ledger's codes and change nothing: h1's nonce
	// stays (none of its refusals reached a block), and h2's wallet — h2
	// has no meter and no trade, so no clearing or settlement moves it
	// meanwhile; its bid without money was refused in the block, which
	// spends its nonce (docs/ledger.md) and nothing else.
	var before, before2 contract.Participant
	e.get(t, "/api/participants/h1", nil, &before)
	e.get(t, "/api/participants/h2", nil, &before2)
	bad := bytes.Clone(e.sign(t, e.h1, &contract.MsgBid{Listing: l.Start, Wh: 1, PricePerKWh: 1}))
	bad[5] ^= 1
	poor := e.sign(t, e.h2, &contract.MsgBid{Listing: l.Start, Wh: 1000, PricePerKWh: 90_000})
	for name, c := range map[string]struct {
		tx     []byte
		status int
		code   contract.Code
	}{
		"replay":       {tx, http.StatusConflict, contract.CodeReplay},
		"bad sig":      {bad, http.StatusUnauthorized, contract.CodeBadSignature},
		"not a tx":     {[]byte("hello"), http.StatusBadRequest, contract.CodeMalformed},
		"no money":     {poor, http.StatusUnprocessableEntity, contract.CodeInsufficientFunds},
		"negative wh":  {e.sign(t, e.h1, &contract.MsgBid{Listing: l.Start, Wh: -5, PricePerKWh: 1}), http.StatusBadRequest, contract.CodeBadQuantity},
		"other chain":  {mustSign(t, e.h1, "other", &contract.MsgBid{Listing: l.Start, Wh: 1, PricePerKWh: 1}), http.StatusBadRequest, contract.CodeWrongChain},
		"unknown user": {mustSign(t, chain.NewKey("zz", ""), e.chainID, &contract.MsgBid{Listing: l.Start, Wh: 1, PricePerKWh: 1}), http.StatusNotFound, contract.CodeUnknownParticipant},
	} {
		status, got := e.post(t, "/api/txs?wait=commit", c.tx)
		if status != c.status || contract.Code(got["code"].(float64)) != c.code || got["name"] != c.code.Name() || got["message"] == "" {
			t.Errorf("%s: %d %v, want %d %s", name, status, got, c.status, c.code.Name())
		}
	}
	var after, after2 contract.Participant
	e.get(t, "/api/participants/h1", nil, &after)
	e.get(t, "/api/participants/h2", nil, &after2)
	if after.Nonce != before.Nonce || after2.Nonce != before2.Nonce+1 || after2.Balance != before2.Balance || after2.Escrow != before2.Escrow {
		t.Errorf("refusals changed the ledger: h1 %+v → %+v, h2 %+v → %+v", before, after, before2, after2)
	}
	// The body must be the JSON of a transaction.
	res, _ := http.Post(e.url+"/api/txs", "application/json", strings.NewReader(`{"tx": 5}`))
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad body: %d", res.StatusCode)
	}
}

func mustSign(t *testing.T, k chain.Key, chainID string, msg contract.Msg) []byte {
	tx, err := contract.Sign(k.PrivKey, chainID, k.ID, 1_000_000, msg)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

type sse struct{ name, data string }

// follow reads an event stream, signed by k unless nil, with the auth in
// the query as EventSource must send it.
func (e *env) follow(t *testing.T, ctx context.Context, k *chain.Key) <-chan sse {
	t.Helper()
	u := e.url + "/api/events"
	if k != nil {
		signed, err := reqsig.SignedURL(k.PrivKey, e.chainID, k.ID, "/api/events", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		u = e.url + signed
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	ch := make(chan sse, 1024)
	go func() {
		defer res.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(res.Body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			case line == "" && ev.name != "":
				ch <- ev
				ev = sse{}
			}
		}
	}()
	return ch
}

// until reads events until one satisfies ok, and returns those before it.
func until(t *testing.T, ch <-chan sse, what string, ok func(sse) bool) []sse {
	t.Helper()
	var seen []sse
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, open := <-ch:
			if !open {
				t.Fatalf("stream ended waiting for %s", what)
			}
			if ok(ev) {
				return seen
			}
			seen = append(seen, ev)
		case <-timeout:
			t.Fatalf("no %s in 30 s", what)
		}
	}
}

func testStream(t *testing.T, e *env) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	anon, owner, other := e.follow(t, ctx, nil), e.follow(t, ctx, &e.h1), e.follow(t, ctx, &e.h2)
	l := e.openListing(t)
	e.submit(t, e.h1, &contract.MsgBid{Listing: l.Start, Wh: 700, PricePerKWh: 70_000})
	isOrder := func(ev sse) bool {
		return ev.name == "order" && strings.Contains(ev.data, `"participant":"h1"`) && strings.Contains(ev.data, `"wh":700`) && strings.Contains(ev.data, `"side":"bid"`)
	}
	until(t, anon, "the bid's order event", isOrder)
	until(t, other, "the bid's order event", isOrder)
	until(t, owner, "the bid's order event", isOrder)

	h := e.sendReading(t, 1000, 1_000_000)
	var r api.Reading
	until(t, owner, "h1's reading", func(ev sse) bool {
		return ev.name == "reading" && json.Unmarshal([]byte(ev.data), &r) == nil && r.Meter == "m1" && r.Seq == 1000
	})
	if r.ImportWh != 1_000_000 || r.Owner != "h1" || r.Height != h {
		t.Errorf("reading event: %+v (height %d)", r, h)
	}
	// The others see that readings came, never whose.
	for name, ch := range map[string]<-chan sse{"anonymous": anon, "h2": other} {
		seen := until(t, ch, "the block after the reading", func(ev sse) bool {
			return ev.name == "block" && strings.Contains(ev.data, fmt.Sprintf(`"height":%d`, h+1))
		})
		readings := 0
		for _, ev := range seen {
			if ev.name == "reading" {
				t.Errorf("%s received a private reading: %s", name, ev.data)
			}
			if ev.name == "readings" {
				readings++
			}
		}
		if readings == 0 {
			t.Errorf("%s did not see the readings transaction's public event", name)
		}
	}
	// A forged subscription is refused.
	req, _ := http.NewRequest("GET", e.url+"/api/events?signer=h1&time=1&sig=AAAA", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged subscription: %d", res.StatusCode)
	}
}

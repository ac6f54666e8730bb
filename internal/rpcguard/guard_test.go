package rpcguard_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/types"
	"github.com/gorilla/websocket"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contacts"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/freeport"
	"github.com/gridledger/gridledger/internal/reading"
	"github.com/gridledger/gridledger/internal/rpcguard"
)

// The registers of the one reading the tests put on the ledger: numbers
// no other part of a block or a refusal holds.
const importWh, exportWh = 7654321, 3456789

// h1's e-mail, registered as `tx register --email` does: only its salted
// hash goes to the ledger.
const email = "h1@example.org"

type env struct {
	t        *testing.T
	home     string
	node     *chain.Node
	url      string // http://host:port of the guarded RPC
	cl       *chain.Client
	op, h1   chain.Key
	height   int64  // of the block holding the readings transaction
	txHash   string // hex
	txBase64 string // the readings transaction as CometBFT's JSON shows it
	contact  contacts.Contact
}

func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return "tcp://" + a
}

// startGuarded starts a real node whose RPC is guarded as `gridledger
// start` guards it, registers a member with a meter and puts one reading
// of it on the ledger through the guarded RPC.
func startGuarded(t *testing.T) *env {
	t.Helper()
	home := t.TempDir()
	o, err := chain.FastInitOptions()
	if err != nil {
		t.Fatal(err)
	}
	o.ChainID = "gridledger-guard-test"
	if err := chain.Init(home, o); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	n, err := chain.StartNodeWith(context.Background(), home, log, chain.StartOptions{GuardRPC: rpcguard.ForNode(log)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	// The members' tools work through the guard: status, queries, broadcasts.
	cl, err := chain.Dial(n.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, home: home, node: n, url: strings.Replace(n.RPCAddr(), "tcp://", "http://", 1), cl: cl,
		h1: chain.NewKey("h1", contract.RoleMember)}
	e.op, _ = chain.LoadKey(home, "operator")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	meterKey := chain.NewKey("m1", "")
	if e.contact, err = contacts.New("h1", email); err != nil {
		t.Fatal(err)
	}
	for _, m := range []contract.Msg{
		&contract.MsgRegisterParticipant{ID: "h1", EmailHash: e.contact.EmailHash, Role: contract.RoleMember, NodeType: contract.NodeHousehold, PubKey: e.h1.PubKey(), Feeder: "F1"},
		&contract.MsgRegisterMeter{ID: "m1", Owner: "h1", PubKey: meterKey.PubKey()},
	} {
		if _, err := cl.Submit(ctx, e.op, "", m); err != nil {
			t.Fatal(err)
		}
	}
	var in contract.Info
	if err := cl.Query(ctx, "/info", &in); err != nil {
		t.Fatal(err)
	}
	s, err := reading.Sign(meterKey.PrivKey, reading.Reading{Meter: "m1", Registers: reading.Registers{Seq: 1, Time: in.MarketTime, ImportWh: importWh, ExportWh: exportWh}})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := cl.Sign(ctx, e.op, "", &contract.MsgReadings{Readings: []contract.ReadingEntry{{Signed: s}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := cl.BroadcastCommit(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	e.height, e.txHash, e.txBase64 = r.Height, r.Hash, base64.StdEncoding.EncodeToString(tx)
	if !bytes.Contains(tx, fmt.Appendf(nil, "%d", importWh)) {
		t.Fatalf("the readings transaction does not hold its registers in clear: the test proves nothing")
	}
	return e
}

// get sends a GET to the guarded RPC, signed as k unless k is nil.
func (e *env) get(pathQuery string, k *chain.Key) (int, []byte) {
	e.t.Helper()
	return e.do("GET", pathQuery, nil, k)
}

func (e *env) do(method, pathQuery string, body []byte, k *chain.Key) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+pathQuery, bytes.NewReader(body))
	if k != nil {
		if err := e.signer(*k).Sign(req, body); err != nil {
			e.t.Fatal(err)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (e *env) signer(k chain.Key) rpcguard.Signer {
	return rpcguard.Signer{ChainID: "gridledger-guard-test", ID: k.ID, Key: k.PrivKey}
}

// refused checks a refusal: 403, a JSON-RPC error that says why, and no
// meter register nor the readings transaction anywhere in it.
func (e *env) refused(what string, code int, body []byte, why string) {
	e.t.Helper()
	var res struct {
		Error *struct {
			Code int    `json:"code"`
			Data string `json:"data"`
		} `json:"error"`
		Result json.RawMessage `json:"result"`
	}
	if code != http.StatusForbidden || json.Unmarshal(body, &res) != nil || res.Error == nil || res.Error.Code != rpcguard.CodeForbidden || res.Result != nil {
		e.t.Errorf("%s: want 403 with a JSON-RPC error, got %d %.300s", what, code, body)
		return
	}
	if !strings.Contains(res.Error.Data, why) {
		e.t.Errorf("%s: the refusal does not say %q: %s", what, why, res.Error.Data)
	}
	for _, leak := range []string{fmt.Sprint(importWh), fmt.Sprint(exportWh), e.txBase64[:40], strings.ToUpper(e.txHash)} {
		if bytes.Contains(body, []byte(leak)) {
			e.t.Errorf("%s: the refusal holds %q: %s", what, leak, body)
		}
	}
}

// TestStrangerCannotReadBlocksThroughTheRPC: as a stranger, every route
// that shows block data is refused on the guarded RPC, over GET, JSON-RPC
// POST, a batch and the websocket; a member's signature is no better.
func TestStrangerCannotReadBlocksThroughTheRPC(t *testing.T) {
	e := startGuarded(t)
	h := e.height
	notPublic := "is not served to the public"
	for _, pq := range []string{
		fmt.Sprintf("/block?height=%d", h),
		fmt.Sprintf("/v1/block?height=%d", h),
		fmt.Sprintf("/block_results?height=%d", h),
		fmt.Sprintf("/blockchain?minHeight=1&maxHeight=%d", h),
		fmt.Sprintf(`/tx_search?query="tx.height=%d"`, h),
		fmt.Sprintf(`/block_search?query="block.height=%d"`, h),
		"/tx?hash=0x" + e.txHash,
		"/unconfirmed_txs", "/num_unconfirmed_txs",
		"/genesis", "/genesis_chunked?chunk=0",
		"/dump_consensus_state", "/consensus_state", "/net_info",
		`/subscribe?query="tm.event='Tx'"`,
		"/dial_seeds", "/unsafe_flush_mempool", // unsafe routes: never served at all
	} {
		code, body := e.get(pq, nil)
		e.refused("GET "+pq, code, body, notPublic)
	}
	// JSON-RPC in a body, alone and hidden in a batch behind a public call.
	one := fmt.Appendf(nil, `{"jsonrpc":"2.0","id":7,"method":"block","params":{"height":"%d"}}`, h)
	code, body := e.do("POST", "/", one, nil)
	e.refused("POST block", code, body, notPublic)
	batch := fmt.Appendf(nil, `[{"jsonrpc":"2.0","id":1,"method":"status","params":{}},{"jsonrpc":"2.0","id":2,"method":"tx_search","params":{"query":"tx.height=%d"}}]`, h)
	code, body = e.do("POST", "/", batch, nil)
	e.refused("POST batch status+tx_search", code, body, notPublic)
	code, body = e.do("POST", "/v1", []byte(`{"jsonrpc":"2.0","id":1,"method":"unconfirmed_txs","params":{}}`), nil)
	e.refused("POST /v1 unconfirmed_txs", code, body, notPublic)
	code, body = e.do("POST", "/", []byte(`{not json`), nil)
	e.refused("POST garbage", code, body, "unreadable request")

	// A websocket to subscribe to every transaction's events.
	for _, p := range []string{"/websocket", "/v1/websocket"} {
		ws, res, err := websocket.DefaultDialer.Dial(strings.Replace(e.url, "http://", "ws://", 1)+p, nil)
		if err == nil {
			ws.Close()
			t.Fatalf("a stranger opened %s", p)
		}
		b, _ := io.ReadAll(res.Body)
		e.refused("websocket "+p, res.StatusCode, b, notPublic)
	}

	// A member is no consortium.
	code, body = e.get(fmt.Sprintf("/block?height=%d", h), &e.h1)
	e.refused("GET /block signed by a member", code, body, "only the consortium's keys")

	// A forged signature: the operator's id, a stranger's key.
	forger := chain.NewKey("operator", "")
	code, body = e.get(fmt.Sprintf("/block?height=%d", h), &forger)
	e.refused("GET /block with a forged operator signature", code, body, "does not verify")
}

// TestConsortiumReadsBlocksThroughTheRPC: the same routes signed by the
// operator are served, and what they serve holds the readings; a captured
// signature serves once and carries no other call.
func TestConsortiumReadsBlocksThroughTheRPC(t *testing.T) {
	e := startGuarded(t)
	h := e.height
	code, body := e.get(fmt.Sprintf("/block?height=%d", h), &e.op)
	if code != http.StatusOK || !bytes.Contains(body, []byte(e.txBase64[:40])) {
		t.Fatalf("operator's /block: %d %.300s", code, body)
	}
	code, body = e.get(fmt.Sprintf(`/tx_search?query="tx.height=%d"`, h), &e.op)
	if code != http.StatusOK || !bytes.Contains(body, []byte(strings.ToUpper(e.txHash))) {
		t.Errorf("operator's /tx_search: %d %.300s", code, body)
	}
	if code, body = e.get("/unconfirmed_txs", &e.op); code != http.StatusOK || !bytes.Contains(body, []byte(`"n_txs"`)) {
		t.Errorf("operator's /unconfirmed_txs: %d %.300s", code, body)
	}

	// The signed client reads the readings' registers out of the block.
	ocl, err := rpcguard.NewClient(e.url, e.signer(e.op), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ocl.Block(context.Background(), &h)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tx := range b.Block.Txs {
		found = found || bytes.Contains(tx, fmt.Appendf(nil, `"import_wh":%d`, importWh))
	}
	if !found {
		t.Errorf("the operator's block %d holds no reading", h)
	}
	// No block holds h1's e-mail in clear, nor its salt.
	for hh := int64(1); hh <= h; hh++ {
		b, err := ocl.Block(context.Background(), &hh)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Block.Txs {
			if bytes.Contains(tx, []byte(email)) || bytes.Contains(tx, []byte(e.contact.Salt)) {
				t.Errorf("block %d holds h1's e-mail or its salt: %s", hh, tx)
			}
		}
	}
	if _, err := ocl.TxSearch(context.Background(), fmt.Sprintf("tx.height=%d", h), false, nil, nil, ""); err != nil {
		t.Errorf("operator's tx_search: %v", err)
	}

	// A signature serves once.
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/block?height=%d", e.url, h), nil)
	if err := e.signer(e.op).Sign(req, nil); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{http.StatusOK, http.StatusForbidden} {
		res, err := http.DefaultClient.Do(req.Clone(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("signed request sent %d times: %d %.200s", i+1, res.StatusCode, b)
		}
		if i == 1 {
			e.refused("a replayed signature", res.StatusCode, b, "already used")
		}
	}
	// A signature over one JSON-RPC call does not carry another.
	status := []byte(`{"jsonrpc":"2.0","id":1,"method":"status","params":{}}`)
	req, _ = http.NewRequest("POST", e.url+"/", nil)
	if err := e.signer(e.op).Sign(req, status); err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(strings.NewReader(fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"block","params":{"height":"%d"}}`, h)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	e.refused("a signature moved to another call", res.StatusCode, tb, "does not verify")

	// The operator subscribes over a signed websocket and gets events.
	wsReq, _ := http.NewRequest("GET", e.url+"/websocket", nil)
	if err := e.signer(e.op).Sign(wsReq, nil); err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(e.url, "http://", "ws://", 1)+"/websocket", wsReq.Header)
	if err != nil {
		t.Fatalf("operator's websocket: %v", err)
	}
	defer ws.Close()
	q := types.QueryForEvent(types.EventNewBlock).String()
	if err := ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": map[string]string{"query": q}}); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; ; i++ {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("operator's subscription: %v", err)
		}
		if bytes.Contains(msg, []byte(`"NewBlock"`)) || bytes.Contains(msg, []byte(`tendermint/event/NewBlock`)) {
			break
		}
		if i > 20 {
			t.Fatalf("no block event: %s", msg)
		}
	}
}

// TestPublicRoutesServeEveryone: what the members' EMS agents and gateways
// and a joining node's state sync need is served without a signature.
func TestPublicRoutesServeEveryone(t *testing.T) {
	e := startGuarded(t)
	for _, pq := range []string{"/", "/health", "/status", "/abci_info", `/abci_query?path="/info"`,
		fmt.Sprintf("/commit?height=%d", e.height), fmt.Sprintf("/validators?height=%d", e.height),
		fmt.Sprintf("/consensus_params?height=%d", e.height), fmt.Sprintf("/header?height=%d", e.height)} {
		code, body := e.get(pq, nil)
		if code != http.StatusOK || bytes.Contains(body, []byte(`"error"`)) {
			t.Errorf("GET %s: %d %.300s", pq, code, body)
		}
		for _, leak := range []string{fmt.Sprint(importWh), e.txBase64[:40]} {
			if bytes.Contains(body, []byte(leak)) {
				t.Errorf("GET %s holds %q", pq, leak)
			}
		}
	}
	// The participants over abci_query: h1's e-mail hash, never the address.
	for _, path := range []string{"/participants", "/participants/h1"} {
		code, body := e.get(`/abci_query?path="`+path+`"`, nil)
		var res struct {
			Result struct {
				Response struct {
					Value []byte `json:"value"`
				} `json:"response"`
			} `json:"result"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &res) != nil {
			t.Fatalf("abci_query %s: %d %.300s", path, code, body)
		}
		v := res.Result.Response.Value
		if bytes.Contains(v, []byte(email)) || bytes.Contains(body, []byte(email)) || !bytes.Contains(v, []byte(e.contact.EmailHash)) {
			t.Errorf("abci_query %s: want h1's email_hash and no address: %s", path, v)
		}
	}
}

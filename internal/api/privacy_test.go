package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/api"
	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reqsig"
)

// The attacks below go through the node's real CometBFT RPC, as curl
// would: GET /abci_query?path="…". The contract itself must refuse or
// redact a member's private data there; the API is not in the way.

// rpcAnswer is abci_query's response.
type rpcAnswer struct {
	Code  contract.Code
	Log   string
	Value []byte
}

// abciQuery asks the node's RPC over plain HTTP.
func (e *env) abciQuery(t *testing.T, path string) rpcAnswer {
	t.Helper()
	u := "http://" + strings.TrimPrefix(e.node.RPCAddr(), "tcp://") + "/abci_query?" + url.Values{"path": {strconv.Quote(path)}}.Encode()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var out struct {
		Result struct {
			Response struct {
				Code  uint32 `json:"code"`
				Log   string `json:"log"`
				Value []byte `json:"value"`
			} `json:"response"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("abci_query %s: %v: %s", path, err, body)
	}
	r := out.Result.Response
	return rpcAnswer{contract.Code(r.Code), r.Log, r.Value}
}

// signedQuery is path signed as k, now, for the ledger's private queries.
func (e *env) signedQuery(t *testing.T, k chain.Key, path string, now time.Time) string {
	t.Helper()
	s, err := reqsig.SignedURL(k.PrivKey, e.chainID, k.ID, path, now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testRPCPrivacy runs after testAuth, which left a settled interval with
// h1's meter m1 in it.
func testRPCPrivacy(t *testing.T, e *env) {
	var in api.Info
	e.get(t, "/api/info", nil, &in)
	planStart := (in.MarketTime/in.IntervalS + 2) * in.IntervalS
	e.submit(t, e.h1, &contract.MsgPlan{Start: planStart, NetWh: []int64{1234}})
	stranger := chain.NewKey("mallory", contract.RoleMember) // not on the ledger
	forger := chain.NewKey("h1", contract.RoleMember)        // claims to be h1 with its own key

	private := []string{"/readings?member=h1&from=0", "/plans?member=h1&from=0", "/statement?member=h1&from=0",
		fmt.Sprintf("/plans/%d", planStart)}
	for _, p := range private {
		t.Run(p, func(t *testing.T) {
			if a := e.abciQuery(t, p); a.Code != contract.CodeBadSignature || len(a.Value) != 0 {
				t.Errorf("unsigned: code %d (%s), %d bytes; want bad_signature and nothing", a.Code, a.Log, len(a.Value))
			}
			if a := e.abciQuery(t, e.signedQuery(t, e.h2, p, time.Now())); a.Code != contract.CodeWrongRole || len(a.Value) != 0 {
				t.Errorf("another member: code %d (%s); want wrong_role", a.Code, a.Log)
			}
			if a := e.abciQuery(t, e.signedQuery(t, stranger, p, time.Now())); a.Code != contract.CodeUnknownParticipant || len(a.Value) != 0 {
				t.Errorf("a stranger: code %d (%s); want unknown_participant", a.Code, a.Log)
			}
			if a := e.abciQuery(t, e.signedQuery(t, forger, p, time.Now())); a.Code != contract.CodeBadSignature || len(a.Value) != 0 {
				t.Errorf("a forger signing as h1: code %d (%s); want bad_signature", a.Code, a.Log)
			}
			if a := e.abciQuery(t, e.signedQuery(t, e.h1, p, time.Now().Add(-10*time.Minute))); a.Code != contract.CodeBadSignature {
				t.Errorf("a signature 10 minutes old: code %d (%s); want bad_signature", a.Code, a.Log)
			}
			readers := []chain.Key{e.h1, e.op, e.dso}
			if strings.HasPrefix(p, "/plans/") {
				// Every member's plan for an interval: operator and DSO only.
				readers = []chain.Key{e.op, e.dso}
				if a := e.abciQuery(t, e.signedQuery(t, e.h1, p, time.Now())); a.Code != contract.CodeWrongRole {
					t.Errorf("a member reading every plan: code %d (%s); want wrong_role", a.Code, a.Log)
				}
			}
			for _, k := range readers {
				a := e.abciQuery(t, e.signedQuery(t, k, p, time.Now()))
				if a.Code != 0 || len(a.Value) < 3 { // more than "[]"
					t.Errorf("%s: code %d (%s), %s; want served", k.ID, a.Code, a.Log, a.Value)
				}
			}
		})
	}

	// Settlements: totals for everyone, members' meters only for whom
	// may see them.
	var all []contract.Settlement
	if a := e.abciQuery(t, e.signedQuery(t, e.op, "/settlements?from=0", time.Now())); a.Code != 0 || json.Unmarshal(a.Value, &all) != nil {
		t.Fatalf("operator's settlements: %d %s", a.Code, a.Log)
	}
	i := slices.IndexFunc(all, func(s contract.Settlement) bool { return len(s.Readings) > 0 })
	if i < 0 {
		t.Fatal("no settlement with readings")
	}
	start := all[i].Start
	for _, p := range []string{"/settlements?from=0", fmt.Sprintf("/settlement/%d", start)} {
		decode := func(a rpcAnswer) []contract.Settlement {
			t.Helper()
			if a.Code != 0 {
				t.Fatalf("%s: code %d (%s)", p, a.Code, a.Log)
			}
			var sts []contract.Settlement
			if strings.HasPrefix(p, "/settlements") {
				json.Unmarshal(a.Value, &sts)
			} else {
				var st contract.Settlement
				json.Unmarshal(a.Value, &st)
				sts = append(sts, st)
			}
			return sts
		}
		count := func(sts []contract.Settlement, member string) (readings, members, totals int) {
			for _, st := range sts {
				readings += len(st.Readings)
				for _, m := range st.Members {
					if member == "" || m.ID == member {
						members++
					}
				}
				if st.Totals != (contract.SettlementTotals{}) || st.Start != 0 {
					totals++
				}
			}
			return
		}
		for name, path := range map[string]string{"unsigned": p, "h2": e.signedQuery(t, e.h2, p, time.Now())} {
			r, m, tot := count(decode(e.abciQuery(t, path)), "h1")
			if r != 0 || m != 0 || tot == 0 {
				t.Errorf("%s %s: %d readings, %d h1 parts, %d with totals; want only totals", name, p, r, m, tot)
			}
		}
		if r, m, _ := count(decode(e.abciQuery(t, e.signedQuery(t, e.h1, p, time.Now()))), "h1"); r == 0 || m == 0 {
			t.Errorf("h1 %s: %d readings, %d own parts; want its own", p, r, m)
		}
		for _, k := range []chain.Key{e.op, e.dso} {
			if r, m, _ := count(decode(e.abciQuery(t, e.signedQuery(t, k, p, time.Now()))), ""); r == 0 || m == 0 {
				t.Errorf("%s %s: %d readings, %d parts; want all", k.ID, p, r, m)
			}
		}
	}
}

// testRPCMeters: the meters' registers (cumulative energy) over the RPC.
func testRPCMeters(t *testing.T, e *env) {
	for who, want := range map[string]bool{"": false, "h1": true, "h2": false, "operator": true, "dso": true} {
		path := "/meters"
		for _, k := range []chain.Key{e.h1, e.h2, e.op, e.dso} {
			if k.ID == who {
				path = e.signedQuery(t, k, path, time.Now())
			}
		}
		a := e.abciQuery(t, path)
		var ms []contract.Meter
		if a.Code != 0 || json.Unmarshal(a.Value, &ms) != nil {
			t.Fatalf("%q: code %d (%s)", who, a.Code, a.Log)
		}
		i := slices.IndexFunc(ms, func(m contract.Meter) bool { return m.ID == "m1" })
		if i < 0 {
			t.Fatalf("%q: no m1 in %+v", who, ms)
		}
		if got := ms[i].Last != nil; got != want {
			t.Errorf("/meters as %q: m1's registers shown %v, want %v", who, got, want)
		}
	}
}

// testReplay: each signature serves once, at the API and at the ledger.
func testReplay(t *testing.T, e *env) {
	// At the ledger, over the RPC.
	q := e.signedQuery(t, e.h1, "/readings?member=h1&from=0", time.Now())
	if a := e.abciQuery(t, q); a.Code != 0 {
		t.Fatalf("first use: %d %s", a.Code, a.Log)
	}
	if a := e.abciQuery(t, q); a.Code != contract.CodeBadSignature || len(a.Value) != 0 {
		t.Errorf("replayed query: code %d (%s); want bad_signature", a.Code, a.Log)
	}
	// At the API: the very same signed GET, sent twice.
	req, _ := http.NewRequest("GET", e.url+"/api/members/h1/readings?from=0", nil)
	if err := api.SignRequest(req, e.h1.PrivKey, e.chainID, "h1", time.Now()); err != nil {
		t.Fatal(err)
	}
	var codes []int
	for range 2 {
		res, err := http.DefaultClient.Do(req.Clone(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		codes = append(codes, res.StatusCode)
	}
	if codes[0] != http.StatusOK || codes[1] != http.StatusUnauthorized {
		t.Errorf("the same signed GET twice: %v, want [200 401]", codes)
	}
	// The signature the API forwarded to the ledger is spent there too:
	// whoever captured it cannot read the data again over the RPC.
	fwd := reqsig.Append("/readings?member=h1&from=0", url.Values{"signer": {"h1"}, "time": {req.Header.Get(api.HeaderTime)},
		"nonce": {req.Header.Get(api.HeaderNonce)}, "sig": {req.Header.Get(api.HeaderSignature)}, "req": {req.URL.RequestURI()}}.Encode())
	if a := e.abciQuery(t, fwd); a.Code != contract.CodeBadSignature {
		t.Errorf("the API's forwarded signature replayed at the RPC: code %d (%s); want bad_signature", a.Code, a.Log)
	}
	// A signature over a public API request does not open a private query.
	pub := reqsig.Sign
	a, err := pub(e.h1.PrivKey, e.chainID, "h1", "GET", "/api/participants", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r := e.abciQuery(t, reqsig.Append("/readings?member=h1&from=0", a.Params()+"&req="+url.QueryEscape("/api/participants"))); r.Code != contract.CodeBadSignature {
		t.Errorf("a public request's signature used for readings: code %d (%s); want bad_signature", r.Code, r.Log)
	}
	// A signed stream URL serves one connection.
	u := e.url + e.signedQuery(t, e.h1, "/api/events", time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		r, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != want {
			t.Errorf("stream URL use %d: %d, want %d", i+1, res.StatusCode, want)
		}
		if i == 1 {
			res.Body.Close()
		}
	}
}

// testSuspendedStream: a member suspended after it subscribed loses its
// stream, and cannot subscribe again.
func testSuspendedStream(t *testing.T, e *env) {
	h3 := chain.NewKey("h3", contract.RoleMember)
	e.submit(t, e.op, &contract.MsgRegisterParticipant{ID: "h3", Role: contract.RoleMember, NodeType: contract.NodeHousehold, PubKey: h3.PubKey(), Feeder: "F1"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, anon := e.follow(t, ctx, &h3), e.follow(t, ctx, nil)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	res, err := e.cl.Submit(ctx2, e.op, contract.TypeSuspendParticipant, &contract.MsgSetSuspended{ID: "h3", Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	until(t, ch, "the revocation", func(ev sse) bool { return ev.name == "revoked" && strings.Contains(ev.data, "suspended") })
	timeout := time.After(10 * time.Second)
	for open := true; open; {
		select {
		case ev, ok := <-ch:
			if ok && ev.name != "revoked" {
				t.Errorf("event after the revocation: %+v", ev)
			}
			open = ok
		case <-timeout:
			t.Fatal("the suspended member's stream stayed open")
		}
	}
	// The public stream goes on.
	until(t, anon, "a block after the suspension", func(ev sse) bool {
		return ev.name == "block" && strings.Contains(ev.data, fmt.Sprintf(`"height":%d`, res.Height+2))
	})
	u := e.url + e.signedQuery(t, h3, "/api/events", time.Now())
	r, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("a suspended member subscribing: %d, want 403", r.StatusCode)
	}
	// Nor does it read its data over the RPC.
	if a := e.abciQuery(t, e.signedQuery(t, h3, "/statement?member=h3", time.Now())); a.Code != contract.CodeSuspended {
		t.Errorf("a suspended member's query: code %d (%s); want suspended", a.Code, a.Log)
	}
}

// The explorer shows a member's plan — its household's net import hour by
// hour — only to the member, the operator and the DSO: to the public and
// to another member the message is replaced, in the transaction's page and
// in its block's; the Merkle proof still holds.
func testExplorerPrivacy(t *testing.T, e *env) {
	start := e.openListing(t).Start + 7*3600
	res := e.submit(t, e.h1, &contract.MsgPlan{Start: start, NetWh: []int64{4321, 1765}})
	for _, c := range []struct {
		who  *chain.Key
		sees bool
	}{{nil, false}, {&e.h2, false}, {&e.h1, true}, {&e.op, true}, {&e.dso, true}} {
		name := "anonymous"
		if c.who != nil {
			name = c.who.ID
		}
		var d api.TxDetail
		if r := e.get(t, "/api/txs/"+res.Hash, c.who, &d); r.StatusCode != http.StatusOK || d.Type != contract.TypePlan || !d.Proven {
			t.Fatalf("%s: tx page %d %+v", name, r.StatusCode, d)
		}
		var b api.Block
		e.get(t, fmt.Sprintf("/api/blocks/%d", res.Height), c.who, &b)
		var inBlock json.RawMessage
		for _, tx := range b.Txs {
			if tx.Hash == res.Hash {
				inBlock = tx.Msg
			}
		}
		for where, msg := range map[string]json.RawMessage{"tx page": d.Msg, "block page": inBlock} {
			if shown := strings.Contains(string(msg), "4321"); shown != c.sees {
				t.Errorf("%s, %s: plan shown %v, want %v: %s", name, where, shown, c.sees, msg)
			}
		}
	}
}

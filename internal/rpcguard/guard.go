// Package rpcguard guards a node's CometBFT RPC: the public may check the
// node's status, query the ledger (the contract decides what each query
// shows) and broadcast transactions, which is all members' EMS agents and
// gateways need; blocks, transactions, the transaction index, the mempool,
// events over the websocket, the genesis and the consensus and network
// internals hold members' data (meter registers, plans, bids) and are served
// only to requests signed by a consortium key: the operator's, the DSO's,
// the utility's or a validator's (docs/privacy.md).
//
// A request is signed as the REST API's are (internal/reqsig, in the
// API's headers X-Gridledger-Signer, -Time, -Nonce and -Signature), with
// the request's body bound in: the path and query signed are the request
// URI followed, when the request has a body, by "#sha256=" and the body's
// SHA-256 in hex, so a captured signature cannot carry another JSON-RPC
// call; and each signature serves once.
package rpcguard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reqsig"
)

// Public are the RPC methods served to anyone. Each shows no member's
// data: the node's status and health, the ledger's queries (which check
// their own callers), broadcasting and checking a transaction the caller
// holds, and the signed headers, commits, validator sets and consensus
// parameters a light client, and so state sync, verifies a snapshot
// against (hashes, signatures and validator keys only).
var Public = map[string]bool{
	"health": true, "status": true, "abci_info": true, "abci_query": true,
	"broadcast_tx_sync": true, "broadcast_tx_async": true, "broadcast_tx_commit": true, "check_tx": true,
	"commit": true, "validators": true, "consensus_params": true, "header": true, "header_by_hash": true,
}

// ConsortiumRoles are the roles whose signed requests are served every
// route.
var ConsortiumRoles = []contract.Role{contract.RoleOperator, contract.RoleDSO, contract.RoleUtility, contract.RoleValidator}

// Config is what the guard needs.
type Config struct {
	ChainID string
	// Participant looks a signer up on the ledger.
	Participant func(id string) (contract.Participant, bool)
	// Now is the clock requests' times are checked against (time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// New guards next, CometBFT's RPC routes.
func New(c Config, next http.Handler) http.Handler {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return &guard{c: c, next: next}
}

type guard struct {
	c    Config
	next http.Handler
	seen reqsig.Seen // each signature serves once
}

// CodeForbidden is the JSON-RPC error code of a refused request.
const CodeForbidden = -32001

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		refuse(w, http.StatusRequestEntityTooLarge, -1, "reading the request: "+err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	methods, id, perr := Methods(r.URL.Path, body)
	var private []string
	for _, m := range methods {
		if !Public[m] {
			private = append(private, m)
		}
	}
	if perr == nil && len(private) == 0 {
		g.next.ServeHTTP(w, r)
		return
	}
	what := strings.Join(private, ", ")
	if perr != nil {
		what = "an unreadable request (" + perr.Error() + ")"
	}
	if r.Header.Get(reqsig.HeaderSigner) == "" && r.Header.Get(reqsig.HeaderSignature) == "" {
		refuse(w, http.StatusForbidden, id, fmt.Sprintf("%s is not served to the public: blocks, transactions, the transaction index, events, the mempool and the genesis hold members' private data. Sign the request with a consortium key (operator, DSO, utility or validator; headers %s, %s, %s, %s) or use the public methods: %s",
			what, reqsig.HeaderSigner, reqsig.HeaderTime, reqsig.HeaderNonce, reqsig.HeaderSignature, strings.Join(publicList(), ", ")))
		return
	}
	p, err := g.authenticate(r, body)
	if err != nil {
		refuse(w, http.StatusForbidden, id, err.Error())
		return
	}
	if !slices.Contains(ConsortiumRoles, p.Role) {
		refuse(w, http.StatusForbidden, id, fmt.Sprintf("%s (%s) may not call %s: only the consortium's keys (operator, DSO, utility, validators) may", p.ID, p.Role, what))
		return
	}
	g.c.Log.Debug("consortium RPC", "signer", p.ID, "methods", what)
	g.next.ServeHTTP(w, r)
}

func publicList() []string {
	var l []string
	for m := range Public {
		l = append(l, m)
	}
	sort.Strings(l)
	return l
}

// Methods are the RPC methods a request calls, as CometBFT's RPC server
// reads them: a JSON-RPC call or batch in the body of a request to "/" or
// "/v1", otherwise the path's last element ("/block", "/v1/block",
// "/websocket"). id is the call's id, when it is one call.
func Methods(path string, body []byte) (methods []string, id rpctypes.JSONRPCIntID, err error) {
	id = -1
	trimmed := strings.Trim(path, "/")
	if trimmed != "" && trimmed != "v1" {
		m := strings.TrimPrefix(trimmed, "v1/")
		return []string{m}, id, nil
	}
	if len(body) == 0 { // the list of routes
		return nil, id, nil
	}
	// As rpc/jsonrpc/server reads it: a batch, else one call.
	var reqs []rpctypes.RPCRequest
	if err := json.Unmarshal(body, &reqs); err != nil {
		var req rpctypes.RPCRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, id, errors.New("not a JSON-RPC request")
		}
		reqs = []rpctypes.RPCRequest{req}
		if n, ok := req.ID.(rpctypes.JSONRPCIntID); ok {
			id = n
		}
	}
	if len(reqs) == 0 {
		return nil, id, errors.New("an empty batch")
	}
	for _, q := range reqs {
		methods = append(methods, q.Method)
	}
	return methods, id, nil
}

// SignedTarget is the path and query a guarded request's signature covers
// (reqsig.SigningBytes): the request URI, and the body's SHA-256 when there
// is a body.
func SignedTarget(requestURI string, body []byte) string {
	if len(body) == 0 {
		return requestURI
	}
	h := sha256.Sum256(body)
	return requestURI + "#sha256=" + hex.EncodeToString(h[:])
}

func (g *guard) authenticate(r *http.Request, body []byte) (contract.Participant, error) {
	var none contract.Participant
	a, _, err := reqsig.FromHeaders(r.Header, r.Method, SignedTarget(r.URL.RequestURI(), body))
	if err != nil {
		return none, err
	}
	if err := contract.CheckID("signer", a.Signer); err != nil {
		return none, err
	}
	now := g.c.Now()
	if err := a.Check(now); err != nil {
		return none, err
	}
	p, ok := g.c.Participant(a.Signer)
	if !ok {
		return none, fmt.Errorf("signer %q is not on the ledger", a.Signer)
	}
	if p.Suspended {
		return none, fmt.Errorf("%s is suspended", a.Signer)
	}
	if err := a.Verify(g.c.ChainID, p.PubKey); err != nil {
		return none, err
	}
	if !g.seen.Use(a, now) {
		return none, fmt.Errorf("this signature (%s, nonce %s) was already used: sign each request afresh", a.Signer, a.Nonce)
	}
	return p, nil
}

// refuse answers 403 (or status) with a JSON-RPC error whose message says
// why.
func refuse(w http.ResponseWriter, status int, id rpctypes.JSONRPCIntID, msg string) {
	res := rpctypes.RPCResponse{JSONRPC: "2.0", ID: id, Error: &rpctypes.RPCError{Code: CodeForbidden, Message: "Forbidden", Data: msg}}
	b, _ := json.Marshal(res)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

package api_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/cometbft/cometbft/rpc/client/local"

	"github.com/gridledger/gridledger/internal/api"
	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contacts"
	"github.com/gridledger/gridledger/internal/contract"
)

// TestEmailServedOnlyToTheMemberAndTheOperator: a member registered with
// an e-mail has only its salted hash on the ledger, in every participant
// view; the address, kept in the operator's contact store, is served to the
// member itself and the operator, and to no one else.
func TestEmailServedOnlyToTheMemberAndTheOperator(t *testing.T) {
	e := startEnv(t)
	const email = "h3@example.org"
	h3 := chain.NewKey("h3", contract.RoleMember)
	ct, err := contacts.New("h3", email)
	if err != nil {
		t.Fatal(err)
	}
	store := &contacts.Store{Dir: t.TempDir()}
	if err := store.Put(ct); err != nil {
		t.Fatal(err)
	}
	e.submit(t, e.op, &contract.MsgRegisterParticipant{ID: "h3", EmailHash: ct.EmailHash, Role: contract.RoleMember,
		NodeType: contract.NodeHousehold, PubKey: h3.PubKey()})

	srv := api.New(api.Config{Node: local.New(e.node.Node), ChainID: e.chainID, App: e.node.App, Contacts: store, Log: slog.New(slog.DiscardHandler)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	url := "http://" + l.Addr().String()
	at := *e // the same node, through this server
	at.url = url
	get := func(path string, k *chain.Key) (int, string) {
		t.Helper()
		res := at.get(t, path, k, nil)
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	// Participant views: the hash, never the address.
	for _, p := range []string{"/api/participants", "/api/participants/h3"} {
		for _, k := range []*chain.Key{nil, &h3, &e.op} {
			code, body := get(p, k)
			if code != http.StatusOK || strings.Contains(body, email) || !strings.Contains(body, ct.EmailHash) {
				t.Errorf("GET %s: %d, want the email_hash and no address: %.300s", p, code, body)
			}
		}
	}
	// The address: the member and the operator only.
	for _, k := range []*chain.Key{&h3, &e.op} {
		code, body := get("/api/members/h3/contact", k)
		if code != http.StatusOK || !strings.Contains(body, email) {
			t.Errorf("h3's contact read by %s: %d %.300s", k.ID, code, body)
		}
	}
	for _, c := range []struct {
		k    *chain.Key
		want int
	}{{nil, http.StatusUnauthorized}, {&e.h2, http.StatusForbidden}, {&e.dso, http.StatusForbidden}} {
		code, body := get("/api/members/h3/contact", c.k)
		if code != c.want || strings.Contains(body, email) {
			t.Errorf("h3's contact read by %v: %d (want %d) %.300s", c.k, code, c.want, body)
		}
	}
	// A member without an e-mail has none; a contact whose hash is not the
	// ledger's is not served.
	if code, body := get("/api/members/h1/contact", &e.h1); code != http.StatusOK || !strings.Contains(body, `"email":""`) {
		t.Errorf("h1's contact: %d %s, want an empty one", code, body)
	}
	other, _ := contacts.New("h2", "h2@example.org")
	store.Put(other)
	if code, body := get("/api/members/h2/contact", &e.h2); code != http.StatusOK || strings.Contains(body, "h2@example.org") {
		t.Errorf("h2's contact that matches no ledger hash: %d %.300s", code, body)
	}
}

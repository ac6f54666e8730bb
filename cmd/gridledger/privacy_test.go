package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contacts"
	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/rpcguard"
)

// checkEmailOffLedger checks, on the running node of home, that `tx
// register --email` kept id's address in the home's contact store and
// sent only its salted hash: the address is in no query answer over the
// node's RPC (abci_query /participants, as a stranger would ask), in no
// block (read as the operator), and the ledger's hash is the stored one's.
func checkEmailOffLedger(t *testing.T, home, id, email string) {
	t.Helper()
	ct, err := contacts.Store{Dir: contacts.Dir(home)}.Get(id)
	if err != nil || ct.Email != email {
		t.Fatalf("%s's contact in the home: %+v %v", id, ct, err)
	}
	cfg, _, err := chain.LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	rpc := strings.Replace(cfg.RPC.ListenAddress, "tcp://", "http://", 1)
	cl, err := chain.Dial(rpc)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/participants", "/participants/" + id} {
		res, err := http.Get(rpc + "/abci_query?path=" + url.QueryEscape(`"`+path+`"`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var p any
		if err := cl.Query(context.Background(), path, &p); err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(p)
		if bytes.Contains(b, []byte(email)) || bytes.Contains(raw, []byte(email)) {
			t.Errorf("abci_query %s shows %s in clear", path, email)
		}
		if !bytes.Contains(raw, []byte(ct.EmailHash)) {
			t.Errorf("abci_query %s does not show %s's email_hash %s: %s", path, id, ct.EmailHash, raw)
		}
	}
	op, err := chain.LoadKey(home, "operator")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := cl.RPC.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ocl, err := rpcguard.NewClient(rpc, rpcguard.Signer{ChainID: cl.ChainID, ID: op.ID, Key: op.PrivKey}, 0)
	if err != nil {
		t.Fatal(err)
	}
	registered := false
	for h := int64(1); h <= st.SyncInfo.LatestBlockHeight; h++ {
		b, err := ocl.Block(ctx, &h)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Block.Txs {
			if bytes.Contains(tx, []byte(email)) {
				t.Errorf("block %d holds %s in clear", h, email)
			}
			d, err := contract.DecodeTx(tx)
			if err == nil && d.Type == contract.TypeRegisterParticipant && d.Message.(*contract.MsgRegisterParticipant).ID == id {
				registered = true
				if bytes.Contains(tx, []byte(ct.Salt)) {
					t.Errorf("block %d holds %s's salt", h, id)
				}
			}
		}
	}
	if !registered {
		t.Errorf("no block holds %s's registration", id)
	}
}

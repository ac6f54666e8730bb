package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/freeport"
)

// freeAddr finds a free loopback port (internal/freeport).
func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return "tcp://" + a
}

// testNode initialises a home whose market runs fast (FastInitOptions)
// and starts its node.
func testNode(t *testing.T, home string) *Node {
	t.Helper()
	o, err := FastInitOptions()
	if err != nil {
		t.Fatal(err)
	}
	if err := Init(home, o); err != nil {
		t.Fatal(err)
	}
	return startTestNode(t, home)
}

func startTestNode(t *testing.T, home string) *Node {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := StartNode(context.Background(), home, log)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func submit(t *testing.T, cl *Client, k Key, msg contract.Msg) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := cl.Submit(ctx, k, "", msg)
	if err != nil {
		t.Fatalf("%s by %s: %v", contract.TypeOf(msg), k.ID, err)
	}
	return r
}

func query[T any](t *testing.T, cl *Client, path string) T {
	t.Helper()
	var v T
	if err := cl.Query(context.Background(), path, &v); err != nil {
		t.Fatalf("query %s: %v", path, err)
	}
	return v
}

// TestNodeMarketRoundTrip drives the real embedded node over CometBFT's
// RPC through a whole market interval: register → approve RES → issue
// funds → offer → bid → gate closure → clearing → query, then restarts the
// node and checks the ledger came back the same.
func TestNodeMarketRoundTrip(t *testing.T) {
	home := t.TempDir()
	n := testNode(t, home)
	stopped := false
	defer func() {
		if !stopped {
			n.Stop()
		}
	}()
	cl, err := Dial(n.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	op, _ := LoadKey(home, "operator")
	dso, _ := LoadKey(home, "dso")
	seller, buyer := NewKey("S1", contract.RoleMember), NewKey("B1", contract.RoleMember)

	// S1's key signs before S1 is registered: refused, and refused
	// again, replayed through the RPC once S1 exists, as bound to no
	// registration of S1's.
	early, _ := contract.Sign(seller.PrivKey, "gridledger-test", "S1", 1, &contract.MsgRegisterRES{ID: "S1-PV", Kind: "pv", CapacityW: 8000})
	var refused *TxError
	if err := cl.BroadcastSync(context.Background(), early); !errors.As(err, &refused) || refused.Code != contract.CodeUnknownParticipant {
		t.Fatalf("a transaction of an unregistered signer: got %v, want unknown_participant", err)
	}
	submit(t, cl, op, &contract.MsgRegisterParticipant{ID: "S1", Role: contract.RoleMember, NodeType: contract.NodeHousehold, PubKey: seller.PubKey()})
	if err := cl.BroadcastSync(context.Background(), early); !errors.As(err, &refused) || refused.Code != contract.CodeWrongRegistration {
		t.Fatalf("a transaction signed before its signer's registration, replayed after: got %v, want wrong_registration", err)
	}
	submit(t, cl, op, &contract.MsgRegisterParticipant{ID: "B1", EmailHash: contract.EmailHash([]byte("b1 salt 16 bytes"), "b1@example.org"), Role: contract.RoleMember, NodeType: contract.NodeEVCharging, PubKey: buyer.PubKey()})
	submit(t, cl, seller, &contract.MsgRegisterRES{ID: "S1-PV", Kind: "pv", CapacityW: 8000})
	submit(t, cl, dso, &contract.MsgApproveRES{ID: "S1-PV"})
	submit(t, cl, op, &contract.MsgIssue{To: "B1", Amount: 1_000_000_000}) // 1.00

	// A bid the buyer cannot fund is refused in the block with its code,
	// and changes nothing.
	ctx := context.Background()
	listings := query[[]contract.ListingView](t, cl, "/listings")
	info := query[contract.Info](t, cl, "/info")
	var target contract.ListingView
	for _, l := range listings {
		// Far enough from gate closure to place three orders first.
		if l.State == contract.StateAuthorizeOffers && l.GateClosure-info.MarketTime >= 2*900 {
			target = l
			break
		}
	}
	if target.Start == 0 {
		t.Fatalf("no listing open two intervals ahead of market time %d: %+v", info.MarketTime, listings)
	}
	_, err = cl.Submit(ctx, buyer, "", &contract.MsgBid{Listing: target.Start, Wh: 20_000, PricePerKWh: 90_000}) // escrow 1.8 > 1.0
	var te *TxError
	if !errors.As(err, &te) || te.Code != contract.CodeInsufficientFunds {
		t.Fatalf("unfunded bid: got %v, want insufficient_funds", err)
	}
	// A transaction that is not even well formed never reaches a block.
	if err := cl.BroadcastSync(ctx, []byte("not a transaction")); !errors.As(err, &te) || te.Code != contract.CodeMalformed {
		t.Fatalf("garbage tx: got %v, want malformed", err)
	}

	submit(t, cl, seller, &contract.MsgOffer{Listing: target.Start, RES: "S1-PV", Wh: 1500, PricePerKWh: 50_000})
	submit(t, cl, buyer, &contract.MsgBid{Listing: target.Start, Wh: 1000, PricePerKWh: 80_000}) // escrows 0.08
	if b := query[contract.Participant](t, cl, "/participants/B1"); b.Balance != 920_000_000 || b.Escrow != 80_000_000 {
		t.Fatalf("after bid: balance %d escrow %d, want 920000000 and 80000000", b.Balance, b.Escrow)
	}

	// Wait for gate closure: the listing clears without any transaction.
	deadline := time.Now().Add(30 * time.Second)
	var l contract.ListingView
	for {
		l = query[contract.ListingView](t, cl, fmt.Sprintf("/listing/%d", target.Start))
		if l.State == contract.StateBidsClosed || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if l.State != contract.StateBidsClosed || l.Clearing == nil {
		t.Fatalf("listing %d not cleared by gate closure: %+v", target.Start, l)
	}
	// average-bid: MCP = the one bid's price 80000, inside [39000, grid];
	// the offer (50000 ≤ MCP) sells 1000 of its 1500 Wh at MCP.
	c := l.Clearing
	if c.MCP == nil || *c.MCP != 80_000 || c.TradedWh != 1000 || c.AvailableWh != 1500 || c.WantedWh != 1000 {
		t.Fatalf("clearing %+v", c)
	}
	if len(c.Trades) != 1 || c.Trades[0].Seller != "S1" || c.Trades[0].Buyer != "B1" || len(c.GridExport) != 1 || c.GridExport[0].Wh != 500 {
		t.Fatalf("trades %+v grid export %+v", c.Trades, c.GridExport)
	}
	// 1000 Wh × 80000 µ/kWh = 80,000,000 nano paid from escrow to the seller.
	s1 := query[contract.Participant](t, cl, "/participants/S1")
	b1 := query[contract.Participant](t, cl, "/participants/B1")
	if s1.Balance != 80_000_000 || b1.Balance != 920_000_000 || b1.Escrow != 0 {
		t.Fatalf("after clearing: seller %d, buyer %d escrow %d", s1.Balance, b1.Balance, b1.Escrow)
	}
	trades := query[[]contract.TradeView](t, cl, "/trades?participant=S1")
	if len(trades) != 1 || trades[0].Value != 80_000_000 {
		t.Fatalf("trades query: %+v", trades)
	}
	info = query[contract.Info](t, cl, "/info")
	if info.Supply != 1_000_000_000 || info.Balances+info.Escrow != info.Supply {
		t.Fatalf("money not conserved: %+v", info)
	}

	// Restart: the state, app hash and chain come back as they were.
	ai, err := cl.RPC.ABCIInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, height := ai.Response.LastBlockAppHash, ai.Response.LastBlockHeight
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	n2 := startTestNode(t, home)
	defer n2.Stop()
	cl2, err := Dial(n2.RPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	if err := cl2.WaitHeight(ctx, height+1); err != nil {
		t.Fatal(err)
	}
	next := height + 1
	hdr, err := cl2.RPC.Header(ctx, &next)
	if err != nil {
		t.Fatal(err)
	}
	// The header of block h+1 carries the app hash after block h.
	if !bytes.Equal(hdr.Header.AppHash, before) {
		t.Fatalf("app hash after restart %X, before %X", hdr.Header.AppHash, before)
	}
	if p := query[contract.Participant](t, cl2, "/participants/S1"); p.Balance != 80_000_000 {
		t.Fatalf("seller balance after restart %d", p.Balance)
	}
	// The old nonce is still spent after the restart.
	old, _ := contract.SignBody(buyer.PrivKey, contract.Body{ChainID: "gridledger-test", Signer: "B1", Registered: b1.Registered, Nonce: 1},
		&contract.MsgBid{Listing: target.Start, Wh: 1, PricePerKWh: 1})
	if err := cl2.BroadcastSync(ctx, old); !errors.As(err, &te) || te.Code != contract.CodeReplay {
		t.Fatalf("replayed nonce after restart: %v", err)
	}
}

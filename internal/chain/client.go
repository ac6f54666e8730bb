package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/gridledger/gridledger/internal/contract"
)

// Client talks to a node over CometBFT's RPC: it signs transactions with a
// participant key and queries the ledger.
type Client struct {
	RPC     *rpchttp.HTTP
	ChainID string

	mu   sync.Mutex
	seqs map[string]Sequence // per signer: its registration and the last nonce this client used
}

// Dial connects to a node's RPC address (tcp://host:port or http://…).
func Dial(addr string) (*Client, error) {
	addr = strings.Replace(addr, "tcp://", "http://", 1)
	rpc, err := rpchttp.New(addr)
	if err != nil {
		return nil, err
	}
	return NewClient(rpc)
}

// NewClient is a client over an RPC client made elsewhere, e.g. one that
// signs its requests for a guarded node (internal/rpcguard).
func NewClient(rpc *rpchttp.HTTP) (*Client, error) {
	st, err := rpc.Status(context.Background())
	if err != nil {
		return nil, fmt.Errorf("node at %s: %w", rpc.Remote(), err)
	}
	return &Client{RPC: rpc, ChainID: st.NodeInfo.Network, seqs: map[string]Sequence{}}, nil
}

// TxError is a transaction the ledger refused, with its stable code.
type TxError struct {
	Code contract.Code
	Log  string
}

func (e *TxError) Error() string {
	return fmt.Sprintf("refused (%d %s): %s", e.Code, e.Code.Name(), e.Log)
}

// CometBFT reports a transaction CheckTx refused as an RPC error whose text
// carries the result; AsTxError recovers the stable code from it (as a
// *TxError) and returns any other error as it is.
var invalidTx = regexp.MustCompile(`is invalid: code=(\d+), data=[0-9A-Fa-f]*, log='(.*)', codespace='gridledger'`)

func AsTxError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if m := invalidTx.FindStringSubmatch(msg); m != nil {
		code, _ := strconv.ParseUint(m[1], 10, 32)
		return &TxError{Code: contract.Code(code), Log: m[2]}
	}
	if strings.Contains(msg, "tx already exists in cache") {
		return &TxError{Code: contract.CodeReplay, Log: "the node already received this exact transaction"}
	}
	return err
}

// Query runs a ledger query (see contract.State.Query) and decodes the
// JSON answer into v.
func (c *Client) Query(ctx context.Context, path string, v any) error {
	res, err := c.RPC.ABCIQuery(ctx, path, nil)
	if err != nil {
		return err
	}
	if res.Response.Code != 0 {
		return &TxError{Code: contract.Code(res.Response.Code), Log: res.Response.Log}
	}
	return json.Unmarshal(res.Response.Value, v)
}

// next is signer's sequence for its next transaction: one nonce past the
// last this client used, or on first use past what the ledger committed.
// Nonces need only grow, so gaps left by refused transactions do no harm.
func (c *Client) next(ctx context.Context, signer string) (Sequence, error) {
	c.mu.Lock()
	seq, ok := c.seqs[signer]
	c.mu.Unlock()
	if !ok {
		p, err := Reader{Q: c}.Participant(ctx, signer)
		if err != nil {
			return Sequence{}, err
		}
		seq = SequenceOf(p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	seq.Nonce = max(seq.Nonce, c.seqs[signer].Nonce) + 1
	c.seqs[signer] = seq
	return seq, nil
}

// forget drops the local nonce of a signer after a replay refusal, so the
// next transaction starts again from the ledger (another client may have
// used the same key).
func (c *Client) forget(err error) {
	var te *TxError
	if errors.As(err, &te) && te.Code == contract.CodeReplay {
		c.mu.Lock()
		clear(c.seqs)
		c.mu.Unlock()
	}
}

// Sign signs msg as k with the next nonce; typ may be "" for the message's
// usual type.
func (c *Client) Sign(ctx context.Context, k Key, typ string, msg contract.Msg) ([]byte, error) {
	seq, err := c.next(ctx, k.ID)
	if err != nil {
		return nil, err
	}
	return seq.Sign(k, c.ChainID, typ, msg)
}

// Send signs msg as k and hands it to the mempool, returning once the
// mempool took it (or refused it); the block decides later.
func (c *Client) Send(ctx context.Context, k Key, msg contract.Msg) error {
	tx, err := c.Sign(ctx, k, "", msg)
	if err != nil {
		return err
	}
	return c.BroadcastSync(ctx, tx)
}

// Result is a committed transaction.
type Result struct {
	Hash   string `json:"hash"`
	Height int64  `json:"height"`
}

// Submit signs msg as k, broadcasts it and waits until it is in a block.
// A refusal, at the mempool or in the block, comes back as *TxError.
func (c *Client) Submit(ctx context.Context, k Key, typ string, msg contract.Msg) (Result, error) {
	tx, err := c.Sign(ctx, k, typ, msg)
	if err != nil {
		return Result{}, err
	}
	return c.BroadcastCommit(ctx, tx)
}

// BroadcastCommit sends a signed transaction and waits for its block.
func (c *Client) BroadcastCommit(ctx context.Context, tx []byte) (_ Result, err error) {
	defer func() { c.forget(err) }()
	res, err := c.RPC.BroadcastTxCommit(ctx, tx)
	if err != nil {
		return Result{}, AsTxError(err)
	}
	if res.CheckTx.Code != 0 {
		return Result{}, &TxError{Code: contract.Code(res.CheckTx.Code), Log: res.CheckTx.Log}
	}
	r := Result{Hash: res.Hash.String(), Height: res.Height}
	if res.TxResult.Code != 0 {
		return r, &TxError{Code: contract.Code(res.TxResult.Code), Log: res.TxResult.Log}
	}
	return r, nil
}

// BroadcastSync sends a signed transaction and returns once the mempool
// took it (or refused it).
func (c *Client) BroadcastSync(ctx context.Context, tx []byte) error {
	res, err := c.RPC.BroadcastTxSync(ctx, tx)
	if err != nil {
		err = AsTxError(err)
		c.forget(err)
		return err
	}
	if res.Code != 0 {
		err := &TxError{Code: contract.Code(res.Code), Log: res.Log}
		c.forget(err)
		return err
	}
	return nil
}

// WaitHeight waits until the chain reaches height h.
func (c *Client) WaitHeight(ctx context.Context, h int64) error {
	for {
		st, err := c.RPC.Status(ctx)
		if err == nil && st.SyncInfo.LatestBlockHeight >= h {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

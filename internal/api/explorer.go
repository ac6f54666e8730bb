package api

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/types"

	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

// BlockSummary is one committed block.
type BlockSummary struct {
	Height   int64     `json:"height"`
	Time     time.Time `json:"time"`
	Hash     string    `json:"hash"`
	AppHash  string    `json:"app_hash"`
	Proposer string    `json:"proposer"`
	NumTxs   int       `json:"num_txs"`
}

// Block is a block with its transactions.
type Block struct {
	BlockSummary
	// DataHash is the Merkle root of the block's transactions.
	DataHash string `json:"data_hash"`
	Txs      []Tx   `json:"txs"`
}

// Tx is a committed transaction, decoded, with its result.
type Tx struct {
	Hash     string `json:"hash"`
	Type     string `json:"type"`
	Signer   string `json:"signer"`
	Nonce    uint64 `json:"nonce"`
	Code     uint32 `json:"code"`
	CodeName string `json:"code_name"`
	Log      string `json:"log"`
	// Msg is the signed message; a readings transaction shows how many
	// readings it carried instead of all of them, and a member's plan or
	// demand-response answer (its household's hour by hour) shows only to
	// the member, the operator and the DSO (privateMsg).
	Msg json.RawMessage `json:"msg"`
}

// TxDetail is one transaction with the proof that it is in its block.
type TxDetail struct {
	Tx
	Height int64            `json:"height"`
	Index  uint32           `json:"index"`
	Events []contract.Event `json:"events"`
	Proof  Proof            `json:"proof"`
	// Proven says the proof leads from the transaction's hash to the
	// data hash in the committed block's header.
	Proven bool `json:"proven"`
}

// Proof is a Merkle inclusion proof of a transaction in a block.
type Proof struct {
	RootHash string   `json:"root_hash"`
	DataHash string   `json:"data_hash"`
	Total    int64    `json:"total"`
	Index    int64    `json:"index"`
	LeafHash string   `json:"leaf_hash"`
	Aunts    []string `json:"aunts"`
}

const maxBlocks = 20

func (s *Server) blocks(r *http.Request, _ *caller) (any, error) {
	limit, err := queryInt(r, "limit", maxBlocks)
	if err != nil {
		return nil, err
	}
	before, err := queryInt(r, "before", 0)
	if err != nil {
		return nil, err
	}
	if limit < 1 || before < 0 {
		return nil, badRequest("limit %d and before %d: want a positive limit and height", limit, before)
	}
	limit = min(limit, maxBlocks)
	st, err := s.cfg.Node.Status(r.Context())
	if err != nil {
		return nil, errUnavailable(err)
	}
	maxH := st.SyncInfo.LatestBlockHeight
	if before > 0 {
		maxH = min(maxH, before-1)
	}
	out := []BlockSummary{}
	if maxH < 1 {
		return out, nil
	}
	minH := max(1, maxH-limit+1, st.SyncInfo.EarliestBlockHeight)
	res, err := s.cfg.Node.BlockchainInfo(r.Context(), minH, maxH)
	if err != nil {
		return nil, errUnavailable(err)
	}
	for _, m := range res.BlockMetas {
		out = append(out, BlockSummary{Height: m.Header.Height, Time: m.Header.Time, Hash: m.BlockID.Hash.String(),
			AppHash: m.Header.AppHash.String(), Proposer: m.Header.ProposerAddress.String(), NumTxs: m.NumTxs})
	}
	return out, nil
}

func (s *Server) block(r *http.Request, c *caller) (any, error) {
	h, err := pathInt(r, "height")
	if err != nil {
		return nil, err
	}
	b, err := s.cfg.Node.Block(r.Context(), &h)
	if err != nil || b.Block == nil {
		return nil, errNotFound("no committed block at height %d", h)
	}
	res, err := s.cfg.Node.BlockResults(r.Context(), &h)
	if err != nil {
		return nil, errUnavailable(err)
	}
	out := Block{BlockSummary: BlockSummary{Height: h, Time: b.Block.Time, Hash: b.BlockID.Hash.String(), AppHash: b.Block.AppHash.String(),
		Proposer: b.Block.ProposerAddress.String(), NumTxs: len(b.Block.Txs)}, DataHash: b.Block.DataHash.String(), Txs: []Tx{}}
	for i, raw := range b.Block.Txs {
		var r *abci.ExecTxResult
		if i < len(res.TxResults) {
			r = res.TxResults[i]
		}
		out.Txs = append(out.Txs, decodeTx(raw, r, c))
	}
	return out, nil
}

// decodeTx describes a committed transaction to caller c; one that does
// not decode (the ledger refused it) shows as type "undecodable".
func decodeTx(raw types.Tx, r *abci.ExecTxResult, c *caller) Tx {
	t := Tx{Hash: fmt.Sprintf("%X", raw.Hash()), Type: "undecodable", Msg: json.RawMessage("{}")}
	if r != nil {
		t.Code, t.Log = r.Code, r.Log
	}
	t.CodeName = contract.Code(t.Code).Name()
	tx, err := contract.DecodeTx(raw)
	if err != nil {
		return t
	}
	t.Type, t.Signer, t.Nonce, t.Msg = tx.Type, tx.Signer, tx.Nonce, tx.Msg
	switch m := tx.Message.(type) {
	case *contract.MsgReadings:
		t.Msg = fmt.Appendf(nil, `{"readings":%d}`, len(m.Readings))
	case *contract.MsgPlan, *contract.MsgDRCommit:
		if c == nil || (c.ID != tx.Signer && !c.privileged()) {
			t.Msg = privateMsg
		}
	}
	return t
}

// privateMsg stands for a message only its member, the operator and the
// DSO may read.
var privateMsg = json.RawMessage(`{"private":"a member's plan and demand-response answers are its own: sign the request as the member, the operator or the DSO"}`)

func (s *Server) tx(r *http.Request, c *caller) (any, error) {
	hash, err := hex.DecodeString(r.PathValue("hash"))
	if err != nil || len(hash) != 32 {
		return nil, badRequest("hash %q: want 64 hex digits", r.PathValue("hash"))
	}
	res, err := s.cfg.Node.Tx(r.Context(), hash, true)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return nil, errNotFound("no committed transaction %X", hash)
		}
		return nil, errUnavailable(err)
	}
	hdr, err := s.cfg.Node.Header(r.Context(), &res.Height)
	if err != nil {
		return nil, errUnavailable(err)
	}
	p := res.Proof
	d := TxDetail{Tx: decodeTx(res.Tx, &res.TxResult, c), Height: res.Height, Index: res.Index, Events: []contract.Event{},
		Proof: Proof{RootHash: p.RootHash.String(), DataHash: hdr.Header.DataHash.String(), Total: p.Proof.Total, Index: p.Proof.Index,
			LeafHash: fmt.Sprintf("%X", p.Proof.LeafHash), Aunts: []string{}},
		Proven: p.Validate(hdr.Header.DataHash) == nil}
	for _, a := range p.Proof.Aunts {
		d.Proof.Aunts = append(d.Proof.Aunts, fmt.Sprintf("%X", a))
	}
	for _, e := range res.TxResult.Events {
		ev := contract.Event{Type: e.Type, Attrs: []contract.Attr{}}
		for _, a := range e.Attributes {
			ev.Attrs = append(ev.Attrs, contract.Attr{Key: a.Key, Value: a.Value})
		}
		d.Events = append(d.Events, ev)
	}
	return d, nil
}

// SubmitRequest is a signed transaction to relay.
type SubmitRequest struct {
	// Tx is the transaction's bytes, base64: version byte, signature,
	// body (docs/ledger.md).
	Tx []byte `json:"tx"`
}

// SubmitResult is what became of a relayed transaction.
type SubmitResult struct {
	Hash string `json:"hash"`
	// Height is the block that holds it, when the request waited for it.
	Height   int64         `json:"height"`
	Code     contract.Code `json:"code"`
	CodeName string        `json:"code_name"`
	Log      string        `json:"log"`
}

func (s *Server) submit(r *http.Request, _ *caller) (any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(base64.StdEncoding.EncodedLen(contract.MaxReadingsTxBytes)+1024)))
	if err != nil {
		return nil, badRequest("reading the body: %v", err)
	}
	var req SubmitRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badRequest(`body: want {"tx": "<base64 of the signed transaction>"}: %v`, err)
	}
	// Refuse what cannot be a transaction here, with the ledger's own
	// decoder, before it reaches the mempool.
	if _, err := contract.DecodeTx(req.Tx); err != nil {
		return nil, ledgerError(contract.CodeOf(err), err.Error())
	}
	out := SubmitResult{Hash: fmt.Sprintf("%X", types.Tx(req.Tx).Hash())}
	if r.URL.Query().Get("wait") == "commit" {
		res, err := s.cfg.Node.BroadcastTxCommit(r.Context(), req.Tx)
		if err != nil {
			return nil, broadcastError(err)
		}
		if res.CheckTx.Code != 0 {
			return nil, ledgerError(contract.Code(res.CheckTx.Code), res.CheckTx.Log)
		}
		if res.TxResult.Code != 0 {
			return nil, ledgerError(contract.Code(res.TxResult.Code), res.TxResult.Log)
		}
		out.Height = res.Height
		// CometBFT indexes a block's transactions just after committing
		// it: wait (briefly) until the hash this answer gives can be
		// looked up at /api/txs/{hash}.
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, err := s.cfg.Node.Tx(r.Context(), res.Hash, false); err == nil {
				break
			}
		}
	} else {
		res, err := s.cfg.Node.BroadcastTxSync(r.Context(), req.Tx)
		if err != nil {
			return nil, broadcastError(err)
		}
		if res.Code != 0 {
			return nil, ledgerError(contract.Code(res.Code), res.Log)
		}
	}
	out.CodeName = contract.CodeOK.Name()
	return out, nil
}

// broadcastError maps the mempool's refusals: the ledger's, whose code
// CometBFT carries in the error text, and its own.
func broadcastError(err error) error {
	var te *chain.TxError
	switch {
	case errors.As(chain.AsTxError(err), &te):
		return ledgerError(te.Code, te.Log)
	case strings.Contains(err.Error(), "mempool is full"):
		return apiError(CodeUnavailable, http.StatusServiceUnavailable, err.Error())
	}
	return errUnavailable(err)
}

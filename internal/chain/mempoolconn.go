package chain

import (
	"context"
	"sync"

	abcicli "github.com/cometbft/cometbft/abci/client"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/proxy"
)

// maxCheckBatch bounds the transactions one checkTxs call answers: a
// batch verification of 128 signatures takes about 4 ms, which is how long
// the first of them waits for its answer.
const maxCheckBatch = 128

// clientCreator gives CometBFT the app's connections as
// proxy.NewConsensusSyncLocalClientCreator does, except the mempool's,
// which is a mempoolClient.
type clientCreator struct {
	proxy.ClientCreator
	app *App
}

func newClientCreator(app *App) proxy.ClientCreator {
	return clientCreator{proxy.NewConsensusSyncLocalClientCreator(app), app}
}

func (c clientCreator) NewABCIMempoolClient() (abcicli.Client, error) {
	inner, err := c.ClientCreator.NewABCIMempoolClient()
	if err != nil {
		return nil, err
	}
	return newMempoolClient(inner, c.app), nil
}

// mempoolClient is the mempool's ABCI connection to the app, asynchronous
// as a socket client is: CheckTxAsync queues the transaction and returns,
// and one goroutine answers what has queued, as one App.checkTxs batch,
// then the next queue. CometBFT checks each peer's gossip in that peer's
// receive routine, the one that also carries its votes and block parts,
// and each RPC connection's transactions one after another; answered one
// at a time, in place, CheckTx's signature verification held up consensus
// messages behind it and was never batched (a handful of callers, each
// waiting for its own answer). Queued, a busy node verifies in batches
// and its receive routines keep running. An idle node answers a lone
// transaction at once.
//
// Responses come in the order the requests did. Flush, which CometBFT
// calls (with the mempool locked) before it commits a block and updates
// the mempool, returns once every queued transaction is answered.
type mempoolClient struct {
	abcicli.Client // everything but CheckTxAsync and Flush
	app            *App

	mu      sync.Mutex
	drained *sync.Cond // signalled when the queue is empty and nobody is answering
	queue   []*abcicli.ReqRes
	busy    bool // a goroutine is answering
	cb      abcicli.Callback
}

func newMempoolClient(inner abcicli.Client, app *App) *mempoolClient {
	c := &mempoolClient{Client: inner, app: app}
	c.drained = sync.NewCond(&c.mu)
	return c
}

// SetResponseCallback sets the callback every response goes to (besides
// its request's own).
func (c *mempoolClient) SetResponseCallback(cb abcicli.Callback) {
	c.mu.Lock()
	c.cb = cb
	c.mu.Unlock()
	c.Client.SetResponseCallback(cb)
}

// CheckTxAsync queues req; its ReqRes is done (and its callback called)
// once the app has answered.
func (c *mempoolClient) CheckTxAsync(_ context.Context, req *abci.CheckTxRequest) (*abcicli.ReqRes, error) {
	rr := abcicli.NewReqRes(abci.ToCheckTxRequest(req))
	c.mu.Lock()
	c.queue = append(c.queue, rr)
	start := !c.busy
	c.busy = true
	c.mu.Unlock()
	if start {
		go c.answer()
	}
	return rr, nil
}

// answer answers the queue, a batch at a time, until it is empty.
func (c *mempoolClient) answer() {
	for {
		c.mu.Lock()
		n := min(len(c.queue), maxCheckBatch)
		if n == 0 {
			c.busy = false
			c.queue = nil
			c.drained.Broadcast()
			c.mu.Unlock()
			return
		}
		batch := c.queue[:n:n]
		c.queue = c.queue[n:]
		cb := c.cb
		c.mu.Unlock()
		txs := make([][]byte, n)
		for i, rr := range batch {
			txs[i] = rr.Request.GetCheckTx().Tx
		}
		for i, res := range c.app.checkTxs(txs) {
			rr := batch[i]
			rr.Response = abci.ToCheckTxResponse(res)
			if cb != nil {
				cb(rr.Request, rr.Response)
			}
			// The mempool's callback adds the transaction before the RPC,
			// waiting on Done, tells the client it was accepted.
			rr.InvokeCallback()
			rr.Done()
		}
	}
}

// Flush waits until every queued transaction is answered.
func (c *mempoolClient) Flush(context.Context) error {
	c.mu.Lock()
	for c.busy {
		c.drained.Wait()
	}
	c.mu.Unlock()
	return nil
}

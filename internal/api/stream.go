package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/types"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reading"
)

// The live stream: one subscription to the node's new blocks, turned into
// server-sent events and fanned out to every connected client.
//
// Event names: block; the ledger's block events (listing_opened for the
// seed's AuthorizeOfferCom, clearing for CloseBidding, settlement,
// dr_done); its transaction events (order for RESOffer and BuyOffer,
// order_cancelled, dr_request, dr_commit, plan, readings,
// reading_rejected, and the registry's); and reading, a meter reading the
// ledger accepted, sent only to a subscription signed by its owner, the
// operator or the DSO. Each event's data is a JSON object with the
// block's height and the event's attributes (integers as numbers).

// eventNames renames the seed's event names for the stream.
var eventNames = map[string]string{
	"AuthorizeOfferCom":     "listing_opened",
	"CloseBidding":          "clearing",
	"RESOffer":              "order",
	"BuyOffer":              "order",
	"DemandResponseRequest": "dr_request",
	"DemandResponseCommit":  "dr_commit",
	"DemandResponseDone":    "dr_done",
}

// sseEvent is one event as sent; owner is set on private ones.
type sseEvent struct {
	name  string
	id    int64
	data  []byte
	owner string
}

type subscriber struct {
	c  *caller
	ch chan sseEvent
	// reason, set before ch is closed, says why the server cut the
	// subscription ("" when the client fell behind).
	reason string
}

type stream struct {
	s        *Server
	counters marketCounters
	mu       sync.Mutex
	subs     map[*subscriber]struct{}
	// owners maps meters to their owners, for private readings.
	owners map[string]string
}

func newStream(s *Server) *stream {
	return &stream{s: s, subs: map[*subscriber]struct{}{}, owners: map[string]string{}}
}

// run follows new blocks until ctx ends, subscribing again if the node
// drops the subscription (it does when a subscriber falls behind).
func (st *stream) run(ctx context.Context) {
	for ctx.Err() == nil {
		ch, err := st.s.cfg.Node.Subscribe(ctx, "gridledger-api", types.QueryForEvent(types.EventNewBlock).String(), 256)
		if err != nil {
			st.s.cfg.Log.Warn("live stream: subscribe to new blocks", "err", err)
		} else {
			for ev := range ch {
				if b, ok := ev.Data.(types.EventDataNewBlock); ok {
					st.block(ctx, b)
				}
			}
			st.s.cfg.Node.Unsubscribe(context.Background(), "gridledger-api", types.QueryForEvent(types.EventNewBlock).String())
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// block turns one block into events and sends them.
func (st *stream) block(ctx context.Context, b types.EventDataNewBlock) {
	h := b.Block.Height
	var out []sseEvent
	add := func(name string, v any) {
		if m, ok := v.(map[string]any); ok {
			st.counters.count(name, m)
		}
		data, _ := json.Marshal(v)
		out = append(out, sseEvent{name: name, id: h, data: data})
	}
	add("block", BlockSummary{Height: h, Time: b.Block.Time, Hash: b.BlockID.Hash.String(), AppHash: b.Block.AppHash.String(),
		Proposer: b.Block.ProposerAddress.String(), NumTxs: len(b.Block.Txs)})
	res := b.ResultFinalizeBlock
	for i, tx := range b.Block.Txs {
		if i >= len(res.TxResults) || res.TxResults[i].Code != 0 {
			continue
		}
		for _, e := range res.TxResults[i].Events {
			name, data := eventData(h, e)
			add(name, data)
		}
		out = append(out, st.readings(ctx, h, tx, res.TxResults[i].Events)...)
	}
	for _, e := range res.Events {
		name, data := eventData(h, e)
		add(name, data)
	}
	revoked := st.revoked(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	for sub := range st.subs {
		if sub.c != nil && revoked[sub.c.ID] != "" {
			// Signed by a participant suspended (or gone) since it
			// connected: what it was allowed to see ends here.
			sub.reason = revoked[sub.c.ID]
			close(sub.ch)
			delete(st.subs, sub)
			continue
		}
	events:
		for _, ev := range out {
			if ev.owner != "" && !(sub.c.privileged() || sub.c != nil && sub.c.ID == ev.owner) {
				continue
			}
			select {
			case sub.ch <- ev:
			default:
				// A client that cannot keep up is cut off; the
				// dashboard signs a new subscription and carries on.
				close(sub.ch)
				delete(st.subs, sub)
				break events
			}
		}
	}
}

// revoked checks, after each block, the participants whose signed
// subscriptions are open, and returns those no longer allowed to read
// (suspended, or gone from the ledger) with why.
func (st *stream) revoked(ctx context.Context) map[string]string {
	st.mu.Lock()
	var ids []string
	for sub := range st.subs {
		if sub.c != nil && !slices.Contains(ids, sub.c.ID) {
			ids = append(ids, sub.c.ID)
		}
	}
	st.mu.Unlock()
	out := map[string]string{}
	for _, id := range ids {
		var p contract.Participant
		err := st.s.query(ctx, "/participants/"+id, &p)
		var e *Error
		switch {
		case errors.As(err, &e) && e.Code == contract.CodeUnknownParticipant:
			out[id] = id + " is no longer a participant"
		case err == nil && p.Suspended:
			out[id] = id + " is suspended"
		}
	}
	return out
}

// eventData is an ABCI event as a stream event: its name and a JSON
// object of the height and its attributes.
func eventData(height int64, e abci.Event) (string, map[string]any) {
	name := e.Type
	if n, ok := eventNames[name]; ok {
		name = n
	}
	data := map[string]any{"height": height}
	for _, a := range e.Attributes {
		if n, err := strconv.ParseInt(a.Value, 10, 64); err == nil && strconv.FormatInt(n, 10) == a.Value {
			data[a.Key] = n
		} else if a.Value == "null" { // no clearing price
			data[a.Key] = nil
		} else {
			data[a.Key] = a.Value
		}
	}
	switch e.Type {
	case "RESOffer":
		data["side"] = contract.SideOffer
	case "BuyOffer":
		data["side"] = contract.SideBid
	}
	return name, data
}

// Reading is a meter reading the ledger accepted, as the stream sends it.
type Reading struct {
	reading.Reading
	Owner  string `json:"owner"`
	Height int64  `json:"height"`
}

// readings are the private reading events of a readings transaction: the
// readings it carried that the ledger did not reject.
func (st *stream) readings(ctx context.Context, h int64, raw []byte, evs []abci.Event) []sseEvent {
	tx, err := contract.DecodeTx(raw)
	if err != nil || tx.Type != contract.TypeReadings {
		return nil
	}
	rejected := map[string]bool{}
	for _, e := range evs {
		if e.Type == "reading_rejected" {
			var meter, seq string
			for _, a := range e.Attributes {
				switch a.Key {
				case "meter":
					meter = a.Value
				case "seq":
					seq = a.Value
				}
			}
			rejected[meter+"/"+seq] = true
		}
	}
	var out []sseEvent
	for _, en := range tx.Message.(*contract.MsgReadings).Readings {
		var rd reading.Reading
		if json.Unmarshal(en.Reading, &rd) != nil || rejected[fmt.Sprintf("%s/%d", rd.Meter, rd.Seq)] {
			continue
		}
		owner := st.owner(ctx, rd.Meter)
		if owner == "" {
			continue
		}
		data, _ := json.Marshal(Reading{Reading: rd, Owner: owner, Height: h})
		out = append(out, sseEvent{name: "reading", id: h, data: data, owner: owner})
	}
	return out
}

// owner is a meter's owner, from the registry; a meter not yet seen makes
// it read the registry again.
func (st *stream) owner(ctx context.Context, meter string) string {
	st.mu.Lock()
	o, ok := st.owners[meter]
	st.mu.Unlock()
	if ok {
		return o
	}
	var ms []contract.Meter
	if st.s.query(ctx, "/meters", &ms) != nil {
		return ""
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, m := range ms {
		st.owners[m.ID] = m.Owner
	}
	return st.owners[meter]
}

// serve is GET /api/events.
func (st *stream) serve(w http.ResponseWriter, r *http.Request) {
	c, err := st.s.authenticate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, fmt.Errorf("streaming unsupported"))
		return
	}
	sub := &subscriber{c: c, ch: make(chan sseEvent, 512)}
	st.mu.Lock()
	st.subs[sub] = struct{}{}
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		if _, ok := st.subs[sub]; ok {
			delete(st.subs, sub)
		}
		st.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	who := "anyone"
	if c != nil {
		who = c.ID
	}
	fmt.Fprintf(w, ": gridledger live stream for %s\nretry: 2000\n\n", who)
	fl.Flush()
	beat := time.NewTicker(15 * time.Second)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-beat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case ev, ok := <-sub.ch:
			if !ok {
				if sub.reason != "" {
					data, _ := json.Marshal(map[string]string{"reason": sub.reason})
					fmt.Fprintf(w, "event: revoked\ndata: %s\n\n", data)
					fl.Flush()
				}
				return
			}
			fmt.Fprintf(w, "event: %s\nid: %d\ndata: %s\n\n", ev.name, ev.id, ev.data)
		}
		fl.Flush()
	}
}

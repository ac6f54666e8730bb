package chain

import (
	"context"
	"fmt"
	"net/url"

	"github.com/gridledger/gridledger/internal/contract"
)

// Querier answers a ledger query path with its JSON in v: a Client, over a
// node's RPC, and the simulator's in-process state are two.
type Querier interface {
	Query(ctx context.Context, path string, v any) error
}

// Reader reads the ledger through typed calls over a Querier; every query
// path (contract.State.Query lists them) is built here and nowhere else.
// As, if set, signs the private queries (a member's statement) where the
// Querier is a node's client; an in-process Querier serves them as they are.
type Reader struct {
	Q  Querier
	As *Key
}

// signedQuerier signs a query as a key: a node's client, whose RPC serves
// private data only to a signed query.
type signedQuerier interface {
	QueryAs(ctx context.Context, k Key, path string, v any) error
}

var _ signedQuerier = (*Client)(nil)

func read[T any](ctx context.Context, q Querier, path string) (T, error) {
	var v T
	err := q.Query(ctx, path, &v)
	return v, err
}

// Info is the ledger's summary: height, market time, supply.
func (r Reader) Info(ctx context.Context) (contract.Info, error) {
	return read[contract.Info](ctx, r.Q, "/info")
}

// Params are the community's parameters.
func (r Reader) Params(ctx context.Context) (contract.Params, error) {
	return read[contract.Params](ctx, r.Q, "/params")
}

// Participant is one participant with its wallet; a *TxError with
// contract.CodeUnknownParticipant when there is none.
func (r Reader) Participant(ctx context.Context, id string) (contract.Participant, error) {
	return read[contract.Participant](ctx, r.Q, "/participants/"+url.PathEscape(id))
}

// Participants are all participants with their wallets.
func (r Reader) Participants(ctx context.Context) ([]contract.Participant, error) {
	return read[[]contract.Participant](ctx, r.Q, "/participants")
}

// Listings are the listings from a market time on, without their books.
func (r Reader) Listings(ctx context.Context, from int64) ([]contract.ListingView, error) {
	return read[[]contract.ListingView](ctx, r.Q, fmt.Sprintf("/listings?from=%d", from))
}

// Listing is one listing with its book and clearing.
func (r Reader) Listing(ctx context.Context, start int64) (contract.ListingView, error) {
	return read[contract.ListingView](ctx, r.Q, fmt.Sprintf("/listing/%d", start))
}

// Meters is the meter registry, with the registers r.As may see (all of
// them in-process).
func (r Reader) Meters(ctx context.Context) ([]contract.Meter, error) {
	var ms []contract.Meter
	return ms, r.Query(ctx, "/meters", &ms)
}

// Gateways are the registered gateway devices.
func (r Reader) Gateways(ctx context.Context) ([]contract.Gateway, error) {
	return read[[]contract.Gateway](ctx, r.Q, "/gateways")
}

// DRs are the demand-response requests.
func (r Reader) DRs(ctx context.Context) ([]contract.DRRequest, error) {
	return read[[]contract.DRRequest](ctx, r.Q, "/dr")
}

// Validators is the validator set.
func (r Reader) Validators(ctx context.Context) ([]contract.Validator, error) {
	return read[[]contract.Validator](ctx, r.Q, "/validators")
}

// Proposals are the governance proposals.
func (r Reader) Proposals(ctx context.Context) ([]contract.Proposal, error) {
	return read[[]contract.Proposal](ctx, r.Q, "/proposals")
}

// Settlements are the settled intervals from a market time on, each
// member's part only where r.As may see it.
func (r Reader) Settlements(ctx context.Context, from int64) ([]contract.Settlement, error) {
	var sts []contract.Settlement
	return sts, r.Query(ctx, fmt.Sprintf("/settlements?from=%d", from), &sts)
}

// Statement is a member's statement over [from, to): private, so signed
// as r.As.
func (r Reader) Statement(ctx context.Context, member string, from, to int64) ([]contract.StatementRow, error) {
	var rows []contract.StatementRow
	return rows, r.Query(ctx, fmt.Sprintf("/statement?member=%s&from=%d&to=%d", url.QueryEscape(member), from, to), &rows)
}

// MemberPlans are a member's committed plans for intervals starting in
// [from, to): private, so signed as r.As.
func (r Reader) MemberPlans(ctx context.Context, member string, from, to int64) ([]contract.PlanEntry, error) {
	var ps []contract.PlanEntry
	return ps, r.Query(ctx, fmt.Sprintf("/plans?member=%s&from=%d&to=%d", url.QueryEscape(member), from, to), &ps)
}

// Plans are the members' committed plans for the interval starting at a
// time: private to the operator and the DSO, so signed as r.As.
func (r Reader) Plans(ctx context.Context, start int64) ([]contract.PlanEntry, error) {
	var ps []contract.PlanEntry
	return ps, r.Query(ctx, fmt.Sprintf("/plans/%d", start), &ps)
}

// Query runs any query path, signed as r.As where the Querier is a
// node's client: a query whose answer depends on who asks, or a path
// given as it is (gridledger query PATH). An in-process Querier serves it
// as it is. A Reader is thus a Querier itself.
func (r Reader) Query(ctx context.Context, path string, v any) error {
	if sq, ok := r.Q.(signedQuerier); ok && r.As != nil {
		return sq.QueryAs(ctx, *r.As, path, v)
	}
	return r.Q.Query(ctx, path, v)
}

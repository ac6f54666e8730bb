package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/kpi"
)

// ledgerKPIWindowS is how far back the ledger's KPIs look.
const ledgerKPIWindowS = 7 * 86400

func (s *Server) kpis(r *http.Request, _ *caller) (any, error) {
	if s.cfg.KPIs != nil {
		return s.cfg.KPIs(), nil
	}
	ctx := r.Context()
	var in contract.Info
	if err := s.query(ctx, "/info", &in); err != nil {
		return nil, err
	}
	from := in.MarketTime - ledgerKPIWindowS
	var sts []contract.Settlement
	if err := s.inProcess(ctx, fmt.Sprintf("/settlements?from=%d", from), &sts); err != nil {
		return nil, err
	}
	var ls []contract.ListingView
	if err := s.query(ctx, fmt.Sprintf("/listings?from=%d", from), &ls); err != nil {
		return nil, err
	}
	var ps []contract.Participant
	if err := s.query(ctx, "/participants", &ps); err != nil {
		return nil, err
	}
	hours, community := kpi.Ledger(sts, ls, ps)
	return KPIs{Source: "ledger", Intervals: int64(len(sts)), Community: community, Hours: hours}, nil
}

// inProcess reads the ledger in-process when the node runs in this
// process: the community's KPIs are aggregates of every member's metered
// energy, which the ledger shows outsiders only redacted. Without an
// in-process node it asks the node like anyone (the members' part then
// stays out of the KPIs).
func (s *Server) inProcess(ctx context.Context, path string, v any) error {
	if s.cfg.App == nil {
		return s.query(ctx, path, v)
	}
	var raw []byte
	var err error
	s.cfg.App.State(func(st *contract.State) { raw, err = st.Query(path) })
	if err != nil {
		return ledgerError(contract.CodeOf(err), err.Error())
	}
	return json.Unmarshal(raw, v)
}

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/kpi"
	"github.com/gridledger/gridledger/internal/sim"
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
	clearing := map[int64]*contract.Clearing{}
	for _, l := range ls {
		clearing[l.Start] = l.Clearing
	}
	var members []kpi.MemberInfo
	for _, p := range ps {
		if p.Role == contract.RoleMember {
			members = append(members, kpi.MemberInfo{ID: p.ID, NodeType: string(p.NodeType)})
		}
	}
	acc := kpi.NewAccumulator(members)
	out := KPIs{Source: "ledger", Hours: []kpi.HourPoint{}}
	for _, st := range sts {
		out.Hours = append(out.Hours, acc.Add(sim.Interval(st, clearing[st.Start], nil)))
		out.Intervals++
	}
	out.Community = acc.Report(0, 0).Community
	return out, nil
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

package contract

import (
	"net/url"
	"strings"
	"time"

	"github.com/gridledger/gridledger/internal/reqsig"
)

// Private queries. Anyone who reaches a node's RPC can call abci_query, so
// the contract checks who asks for a member's private data itself: a
// member's readings, plans and statement, the members' plans for an
// interval, the members' part of settlements (readings and metered
// energy; the totals and DR payments are public) and the meters'
// registers (the registry itself is public). Such a query carries a
// request signature (package reqsig) in its parameters signer, time,
// nonce and sig, by the key the signer has on the ledger, over GET and
// the query path without them; or, forwarded by the REST API, over the
// API request the caller signed, named in req. The ledger's "now" for the
// time window is the last block's time, so an answer depends on the state
// alone; each (signer, nonce) serves once per node (remembered in memory,
// outside the consensus state).

// blockUnix is the block time of the state's market time, in Unix seconds
// (market time runs TimeScale times faster from genesis, from its start).
func (s *State) blockUnix() int64 {
	g := s.info.GenesisTimeNs / 1_000_000_000
	start := s.info.MarketStartS
	if start == 0 {
		start = g
	}
	if s.info.TimeScale < 1 {
		return g + s.marketTime - start
	}
	return g + (s.marketTime-start)/s.info.TimeScale
}

// QueryCaller is who signed a query: nil when unsigned.
type QueryCaller struct{ Participant }

// privileged callers (operator, DSO) read every member's private data.
func (c *QueryCaller) privileged() bool {
	return c != nil && (c.Role == RoleOperator || c.Role == RoleDSO)
}

// MayRead says whether c may read member's private data (readings, plans,
// statement): only the member itself, the operator and the DSO may.
func (c *QueryCaller) MayRead(member string) error {
	switch {
	case c == nil:
		return errf(ErrBadSignature, "this is %s's private data: sign the query as the member, the operator or the DSO (parameters signer, time, nonce, sig; see docs/api.md)", member)
	case c.ID == member || c.privileged():
		return nil
	default:
		return errf(ErrWrongRole, "%s may not read %s's private data: only the member, the operator and the DSO may", c.ID, member)
	}
}

// SeesAllSettlements: the operator, the DSO and the utility (which
// settles every member's imports and exports) see settlements whole.
func (c *QueryCaller) SeesAllSettlements() bool {
	return c.privileged() || c != nil && c.Role == RoleUtility
}

// RedactSettlements keeps what c may see of settlements: everything for
// the operator, the DSO and the utility; a member's own readings and part
// for it; the totals, DR payments and missing meters for everyone. owner
// gives a meter's owner.
func RedactSettlements(c *QueryCaller, sts []Settlement, owner func(meter string) string) []Settlement {
	if c.SeesAllSettlements() {
		return sts
	}
	for i := range sts {
		st := &sts[i]
		rs, ms := []IntervalReading{}, []MemberSettlement{}
		for _, rd := range st.Readings {
			if c != nil && owner(rd.Meter) == c.ID {
				rs = append(rs, rd)
			}
		}
		for _, m := range st.Members {
			if c != nil && m.ID == c.ID {
				ms = append(ms, m)
			}
		}
		st.Readings, st.Members = rs, ms
	}
	return sts
}

// redactMeters drops the registers (Last, Baseline: a meter's cumulative
// energy, which polled tells its hourly use) of the meters c may not
// read: it reads those it owns, those behind a gateway it owns, and the
// operator and the DSO read all.
func (s *State) redactMeters(c *QueryCaller, ms []Meter) []Meter {
	if c.privileged() {
		return ms
	}
	for i := range ms {
		m := &ms[i]
		if c != nil && (m.Owner == c.ID || m.Gateway != "" && s.gateways[m.Gateway] != nil && s.gateways[m.Gateway].Owner == c.ID) {
			continue
		}
		m.Last, m.Baseline = nil, nil
	}
	return ms
}

func (s *State) meterOwner(meter string) string {
	if m, ok := s.meters[meter]; ok {
		return m.Owner
	}
	return ""
}

// queryCaller checks the request signature a query carries, if any: nil
// for an unsigned query; an error for a badly signed one, a replayed one,
// or one whose signer is unknown or suspended.
func (s *State) queryCaller(u *url.URL, seen *reqsig.Seen) (*QueryCaller, error) {
	a, found, err := reqsig.FromParams(u.EscapedPath(), u.RawQuery)
	if !found {
		return nil, nil
	}
	if err != nil {
		return nil, errf(ErrBadSignature, "%v", err)
	}
	if err := CheckID("signer", a.Signer); err != nil {
		return nil, errf(ErrBadSignature, "%v", err)
	}
	now := time.Unix(s.blockUnix(), 0)
	if err := a.Check(now); err != nil {
		return nil, errf(ErrBadSignature, "%v (the ledger's clock is the last block's time)", err)
	}
	p, ok := s.participants[a.Signer]
	if !ok {
		return nil, errf(ErrUnknownParticipant, "signer %q", a.Signer)
	}
	if err := a.Verify(s.info.ChainID, p.PubKey); err != nil {
		return nil, errf(ErrBadSignature, "%v", err)
	}
	if p.Suspended {
		return nil, errf(ErrSuspended, "%s is suspended", a.Signer)
	}
	if u.Query().Has(reqsig.ParamReq) && !apiCovers(a.PathQuery, u) {
		return nil, errf(ErrBadSignature, "the signed request %s does not ask for %s", a.PathQuery, u.Path)
	}
	if !seen.Use(a, now) {
		return nil, errf(ErrBadSignature, "this signed request (%s, nonce %s) was already used: sign each request afresh", a.Signer, a.Nonce)
	}
	return &QueryCaller{p.copy()}, nil
}

// apiCovers says whether an API request a caller signed, forwarded by the
// API, asks for the query u: the member's own route for /readings, /plans
// and /statement (its advice reads the statement), the settlement routes
// for /settlement and /settlements.
func apiCovers(req string, u *url.URL) bool {
	reqPath, _, _ := strings.Cut(req, "?")
	kind := strings.Trim(u.Path, "/")
	switch kind {
	case "readings", "plans", "statement":
		base := "/api/members/" + url.PathEscape(u.Query().Get("member")) + "/"
		return reqPath == base+kind || kind == "statement" && reqPath == base+"advice"
	case "settlements":
		return reqPath == "/api/settlements"
	case "meters":
		return reqPath == "/api/meters"
	default:
		return strings.HasPrefix(kind, "settlement/") && reqPath == "/api/settlements/"+strings.TrimPrefix(kind, "settlement/")
	}
}

// mayReadPlans: the members' plans for an interval are the operator's
// and the DSO's to read (a member reads its own with /plans?member=).
func (c *QueryCaller) mayReadPlans() error {
	switch {
	case c == nil:
		return errf(ErrBadSignature, "the members' plans are private: sign the query as the operator or the DSO")
	case c.privileged():
		return nil
	default:
		return errf(ErrWrongRole, "%s may not read every member's plans: only the operator and the DSO may", c.ID)
	}
}

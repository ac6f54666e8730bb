package api

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reqsig"
)

// A signed request carries its signer, the wall-clock time, a random
// nonce and an Ed25519 signature (base64) by the signer's ledger key over
// reqsig.SigningBytes, either in these headers or, where a client cannot
// set headers (EventSource), in the query parameters signer, time, nonce
// and sig. Each signature serves once: a (signer, nonce) seen within the
// window is refused.
const (
	HeaderSigner    = reqsig.HeaderSigner
	HeaderTime      = reqsig.HeaderTime
	HeaderNonce     = reqsig.HeaderNonce
	HeaderSignature = reqsig.HeaderSignature
	// MaxClockSkew is how far a request's time may be from the server's.
	MaxClockSkew = reqsig.MaxClockSkew
)

// SignRequest signs r as signer, in its headers, with a fresh nonce.
func SignRequest(r *http.Request, key ed25519.PrivKey, chainID, signer string, now time.Time) error {
	return reqsig.SignHeaders(r.Header, key, chainID, signer, r.Method, r.URL.RequestURI(), now)
}

// caller is who signed a request; nil for an anonymous one. auth is the
// signature, which the API forwards with the ledger queries it makes for
// the caller so that the ledger checks the caller, not the API.
type caller struct {
	contract.Participant
	auth reqsig.Auth
}

// qc is the caller as the contract sees it.
func (c *caller) qc() *contract.QueryCaller {
	if c == nil {
		return nil
	}
	return &contract.QueryCaller{Participant: c.Participant}
}

// privileged callers see every member's private data.
func (c *caller) privileged() bool {
	return c != nil && (c.Role == contract.RoleOperator || c.Role == contract.RoleDSO)
}

// mayRead says whether the caller may read member's private data.
func (c *caller) mayRead(member string) error {
	if c == nil {
		return ledgerError(contract.CodeBadSignature, "this is a member's private data: sign the request as the member, the operator or the DSO (headers "+HeaderSigner+", "+HeaderTime+", "+HeaderNonce+", "+HeaderSignature+")")
	}
	if err := c.qc().MayRead(member); err != nil {
		return ledgerError(contract.CodeOf(err), err.Error())
	}
	return nil
}

// signed is a ledger query path carrying the caller's signature, for the
// ledger to check: the auth parameters and req, the API request the
// caller signed. An anonymous caller's query goes as it is.
func (c *caller) signed(path string) string {
	if c == nil {
		return path
	}
	return reqsig.Append(path, c.auth.Params()+"&"+reqsig.ParamReq+"="+url.QueryEscape(c.auth.PathQuery))
}

// authenticate checks a request's signature, if it carries one, against
// the signer's key on the ledger. An unsigned request is anonymous (nil);
// a badly signed or replayed one is refused outright rather than served
// as anonymous.
func (s *Server) authenticate(r *http.Request) (*caller, error) {
	refuse := func(format string, args ...any) (*caller, error) {
		return nil, ledgerError(contract.CodeBadSignature, fmt.Sprintf(format, args...))
	}
	a, found, err := reqsig.FromHeaders(r.Header, r.Method, r.URL.RequestURI())
	if found && err != nil {
		return refuse("%v", err)
	}
	if !found {
		a, found, err = reqsig.FromParams(r.URL.EscapedPath(), r.URL.RawQuery)
		if !found {
			return nil, nil
		}
		if err != nil {
			return refuse("%v", err)
		}
		if r.URL.Query().Has(reqsig.ParamReq) {
			return refuse("a request signs its own URL: the parameter %q is the API's, for the ledger", reqsig.ParamReq)
		}
		a.Method = r.Method
	}
	if err := contract.CheckID("signer", a.Signer); err != nil {
		return refuse("%v", err)
	}
	now := s.cfg.Now()
	if err := a.Check(now); err != nil {
		return refuse("%v", err)
	}
	var p contract.Participant
	if err := s.query(r.Context(), "/participants/"+a.Signer, &p); err != nil {
		return nil, err
	}
	if err := a.Verify(s.cfg.ChainID, p.PubKey); err != nil {
		return refuse("%v", err)
	}
	if p.Suspended {
		return nil, ledgerError(contract.CodeSuspended, fmt.Sprintf("%s is suspended", a.Signer))
	}
	if !s.seen.Use(a, now) {
		return refuse("this signed request (%s, nonce %s) was already used: sign each request afresh", a.Signer, a.Nonce)
	}
	return &caller{Participant: p, auth: a}, nil
}

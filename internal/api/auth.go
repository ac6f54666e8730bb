package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/contract"
)

// A signed request carries its signer, the wall-clock time and an Ed25519
// signature (base64) by the signer's ledger key over SigningBytes, either
// in these headers or, where a client cannot set headers (EventSource), in
// the query parameters signer, time and sig.
const (
	HeaderSigner    = "X-Gridledger-Signer"
	HeaderTime      = "X-Gridledger-Time"
	HeaderSignature = "X-Gridledger-Signature"
	// MaxClockSkew is how far a request's time may be from the server's:
	// a captured request is useless to replay after that.
	MaxClockSkew = 5 * time.Minute
	signDomain   = "gridledger-api-v1"
)

// SigningBytes are the bytes a request signature covers: the domain, the
// chain id, the method, the path and query exactly as sent (without the
// auth parameters) and the time in Unix seconds, one per line.
func SigningBytes(chainID, method, pathQuery string, unix int64) []byte {
	return fmt.Appendf(nil, "%s\n%s\n%s\n%s\n%d", signDomain, chainID, method, pathQuery, unix)
}

// SignRequest signs r as signer, in its headers.
func SignRequest(r *http.Request, key ed25519.PrivKey, chainID, signer string, now time.Time) error {
	sig, err := key.Sign(SigningBytes(chainID, r.Method, r.URL.RequestURI(), now.Unix()))
	if err != nil {
		return err
	}
	r.Header.Set(HeaderSigner, signer)
	r.Header.Set(HeaderTime, strconv.FormatInt(now.Unix(), 10))
	r.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	return nil
}

// caller is who signed a request; nil for an anonymous one.
type caller struct{ contract.Participant }

// privileged callers see every member's private data.
func (c *caller) privileged() bool {
	return c != nil && (c.Role == contract.RoleOperator || c.Role == contract.RoleDSO)
}

// mayRead says whether the caller may read member's private data.
func (c *caller) mayRead(member string) error {
	switch {
	case c == nil:
		return ledgerError(contract.CodeBadSignature, "this is a member's private data: sign the request as the member, the operator or the DSO (headers "+HeaderSigner+", "+HeaderTime+", "+HeaderSignature+")")
	case c.ID == member || c.privileged():
		return nil
	default:
		return ledgerError(contract.CodeWrongRole, fmt.Sprintf("%s may not read %s's private data: only the member, the operator and the DSO may", c.ID, member))
	}
}

// authenticate checks a request's signature, if it carries one, against
// the signer's key on the ledger. An unsigned request is anonymous (nil);
// a badly signed one is refused outright rather than served as anonymous.
func (s *Server) authenticate(r *http.Request) (*caller, error) {
	signer, ts, sig := r.Header.Get(HeaderSigner), r.Header.Get(HeaderTime), r.Header.Get(HeaderSignature)
	pathQuery := r.URL.RequestURI()
	if signer == "" && sig == "" {
		var ok bool
		if pathQuery, signer, ts, sig, ok = authParams(r); !ok {
			return nil, nil
		}
	}
	refuse := func(format string, args ...any) (*caller, error) {
		return nil, ledgerError(contract.CodeBadSignature, fmt.Sprintf(format, args...))
	}
	if err := contract.CheckID("signer", signer); err != nil {
		return refuse("%v", err)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return refuse("time %q is not Unix seconds", ts)
	}
	if d := s.cfg.Now().Sub(time.Unix(unix, 0)); d > MaxClockSkew || d < -MaxClockSkew {
		return refuse("request time is %s away from the server's clock (at most %s)", d.Round(time.Second), MaxClockSkew)
	}
	rawSig, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(rawSig) != ed25519.SignatureSize {
		return refuse("signature is not %d bytes of base64", ed25519.SignatureSize)
	}
	var p contract.Participant
	if err := s.query(r.Context(), "/participants/"+signer, &p); err != nil {
		return nil, err
	}
	if p.Suspended {
		return nil, ledgerError(contract.CodeSuspended, fmt.Sprintf("%s is suspended", signer))
	}
	if !ed25519.PubKey(p.PubKey).VerifySignature(SigningBytes(s.cfg.ChainID, r.Method, pathQuery, unix), rawSig) {
		return refuse("signature does not verify with %s's key over %s %s at %d", signer, r.Method, pathQuery, unix)
	}
	return &caller{p}, nil
}

// authParams finds auth in the query parameters signer, time and sig.
// The path and query the signature covers is the URL without them, the
// other parameters as sent.
func authParams(r *http.Request) (pathQuery, signer, ts, sig string, ok bool) {
	var rest []string
	found := 0
	for kv := range strings.SplitSeq(r.URL.RawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		uv, err := url.QueryUnescape(v)
		if err != nil {
			return "", "", "", "", false
		}
		switch k {
		case "signer":
			signer, found = uv, found+1
		case "time":
			ts, found = uv, found+1
		case "sig":
			sig, found = uv, found+1
		default:
			rest = append(rest, kv)
		}
	}
	if found == 0 {
		return "", "", "", "", false
	}
	pathQuery = r.URL.EscapedPath()
	if len(rest) > 0 {
		pathQuery += "?" + strings.Join(rest, "&")
	}
	return pathQuery, signer, ts, sig, true
}

// Package reqsig is gridledger's request signature, defined once for
// every reader that checks one: the REST API (a signed HTTP request) and
// the contract's private queries (abci_query, which anyone reaching a
// node's RPC can call).
//
// A signed request carries its signer (a participant id), the signer's
// clock in Unix seconds, a random nonce and an Ed25519 signature (base64)
// by the signer's ledger key over SigningBytes. A reader accepts it within
// MaxClockSkew of its own clock and only once: it remembers the (signer,
// nonce) pairs it saw for as long as they could still be accepted.
package reqsig

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
)

const (
	// Domain separates request signatures from every other signature a
	// participant key makes (transactions have their own).
	Domain = "gridledger-request-v2"
	// MaxClockSkew is how far a request's time may be from the reader's
	// clock.
	MaxClockSkew = 5 * time.Minute
	// The query parameters a signature travels in where no header can
	// (EventSource, abci_query paths). Req carries, in a forwarded query,
	// the path and query the signature covers when that is not the query
	// itself (the API forwards the caller's signed request).
	ParamSigner = "signer"
	ParamTime   = "time"
	ParamNonce  = "nonce"
	ParamSig    = "sig"
	ParamReq    = "req"
	// The HTTP headers a signature travels in where a client can set
	// them (the REST API, the guarded RPC).
	HeaderSigner    = "X-Gridledger-Signer"
	HeaderTime      = "X-Gridledger-Time"
	HeaderNonce     = "X-Gridledger-Nonce"
	HeaderSignature = "X-Gridledger-Signature"
)

// SignHeaders signs method and pathQuery as signer at now, with a fresh
// nonce, into a request's headers (FromHeaders reads them).
func SignHeaders(h http.Header, key ed25519.PrivKey, chainID, signer, method, pathQuery string, now time.Time) error {
	a, err := Sign(key, chainID, signer, method, pathQuery, now)
	if err != nil {
		return err
	}
	h.Set(HeaderSigner, a.Signer)
	h.Set(HeaderTime, strconv.FormatInt(a.Unix, 10))
	h.Set(HeaderNonce, a.Nonce)
	h.Set(HeaderSignature, base64.StdEncoding.EncodeToString(a.Sig))
	return nil
}

// FromHeaders reads the signature in a request's headers over method and
// pathQuery; found is false when the request carries none.
func FromHeaders(h http.Header, method, pathQuery string) (a Auth, found bool, err error) {
	signer, sig := h.Get(HeaderSigner), h.Get(HeaderSignature)
	if signer == "" && sig == "" {
		return a, false, nil
	}
	a, err = Parse(signer, h.Get(HeaderTime), h.Get(HeaderNonce), sig, method, pathQuery)
	return a, true, err
}

// SigningBytes are the bytes a request signature covers: the domain, the
// chain id, the method, the path and query exactly as sent (without the
// auth parameters), the time in Unix seconds and the nonce, one per line.
func SigningBytes(chainID, method, pathQuery string, unix int64, nonce string) []byte {
	return fmt.Appendf(nil, "%s\n%s\n%s\n%s\n%d\n%s", Domain, chainID, method, pathQuery, unix, nonce)
}

// NewNonce is a random nonce: 16 bytes in hex.
func NewNonce() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// CheckNonce accepts 16 to 64 characters of [0-9A-Za-z_-].
func CheckNonce(n string) error {
	if len(n) < 16 || len(n) > 64 {
		return fmt.Errorf("nonce must be 16 to 64 characters, not %d", len(n))
	}
	for _, c := range n {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return fmt.Errorf("nonce may only hold letters, digits, '_' and '-'")
		}
	}
	return nil
}

// Auth is one request's signature and what it covers.
type Auth struct {
	Signer    string
	Unix      int64
	Nonce     string
	Sig       []byte
	Method    string
	PathQuery string
}

// Sign signs method and pathQuery as signer at now, with a fresh nonce.
func Sign(key ed25519.PrivKey, chainID, signer, method, pathQuery string, now time.Time) (Auth, error) {
	a := Auth{Signer: signer, Unix: now.Unix(), Nonce: NewNonce(), Method: method, PathQuery: pathQuery}
	sig, err := key.Sign(SigningBytes(chainID, method, pathQuery, a.Unix, a.Nonce))
	if err != nil {
		return Auth{}, err
	}
	a.Sig = sig
	return a, nil
}

// Params are the auth query parameters (signer, time, nonce, sig),
// encoded, to append to a URL or a query path.
func (a Auth) Params() string {
	v := url.Values{ParamSigner: {a.Signer}, ParamTime: {strconv.FormatInt(a.Unix, 10)}, ParamNonce: {a.Nonce},
		ParamSig: {base64.StdEncoding.EncodeToString(a.Sig)}}
	return v.Encode()
}

// SignedURL is pathQuery signed as a GET, with the auth parameters
// appended: a URL an EventSource can open, or a query path for the
// contract's private queries.
func SignedURL(key ed25519.PrivKey, chainID, signer, pathQuery string, now time.Time) (string, error) {
	a, err := Sign(key, chainID, signer, "GET", pathQuery, now)
	if err != nil {
		return "", err
	}
	return Append(pathQuery, a.Params()), nil
}

// Append adds raw query parameters to a path that may have a query.
func Append(pathQuery, params string) string {
	if params == "" {
		return pathQuery
	}
	if strings.Contains(pathQuery, "?") {
		return pathQuery + "&" + params
	}
	return pathQuery + "?" + params
}

// FromParams finds auth in a URL's query parameters. pathQuery is the
// path and query the signature covers: the value of req when present,
// otherwise the URL without the auth parameters, the others as sent.
// found is false when the URL carries none of them.
func FromParams(escapedPath, rawQuery string) (a Auth, found bool, err error) {
	var rest []string
	var ts, sig, req string
	hasReq := false
	for kv := range strings.SplitSeq(rawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		uv, uerr := url.QueryUnescape(v)
		switch k {
		case ParamSigner, ParamTime, ParamNonce, ParamSig, ParamReq:
			if uerr != nil {
				return Auth{}, true, fmt.Errorf("%s is not query-escaped", k)
			}
			found = true
		}
		switch k {
		case ParamSigner:
			a.Signer = uv
		case ParamTime:
			ts = uv
		case ParamNonce:
			a.Nonce = uv
		case ParamSig:
			sig = uv
		case ParamReq:
			req, hasReq = uv, true
		default:
			rest = append(rest, kv)
		}
	}
	if !found {
		return Auth{}, false, nil
	}
	a.Method = "GET"
	if hasReq {
		a.PathQuery = req
	} else {
		a.PathQuery = escapedPath
		if len(rest) > 0 {
			a.PathQuery += "?" + strings.Join(rest, "&")
		}
	}
	if a.Unix, err = strconv.ParseInt(ts, 10, 64); err != nil {
		return a, true, fmt.Errorf("time %q is not Unix seconds", ts)
	}
	if a.Sig, err = base64.StdEncoding.DecodeString(sig); err != nil {
		return a, true, fmt.Errorf("signature is not base64")
	}
	return a, true, nil
}

// Parse reads auth from header values (the time as Unix seconds and the
// signature as base64) for a request of method and pathQuery.
func Parse(signer, ts, nonce, sig, method, pathQuery string) (Auth, error) {
	a := Auth{Signer: signer, Nonce: nonce, Method: method, PathQuery: pathQuery}
	var err error
	if a.Unix, err = strconv.ParseInt(ts, 10, 64); err != nil {
		return a, fmt.Errorf("time %q is not Unix seconds", ts)
	}
	if a.Sig, err = base64.StdEncoding.DecodeString(sig); err != nil {
		return a, fmt.Errorf("signature is not base64")
	}
	return a, nil
}

// Check checks everything but the signer's key: the nonce's form, the
// time against now and the signature's length.
func (a Auth) Check(now time.Time) error {
	if err := CheckNonce(a.Nonce); err != nil {
		return err
	}
	if d := now.Sub(time.Unix(a.Unix, 0)); d > MaxClockSkew || d < -MaxClockSkew {
		return fmt.Errorf("request time is %s away from the reader's clock (at most %s)", d.Round(time.Second), MaxClockSkew)
	}
	if len(a.Sig) != ed25519.SignatureSize {
		return fmt.Errorf("signature is not %d bytes", ed25519.SignatureSize)
	}
	return nil
}

// Verify checks the signature with the signer's public key.
func (a Auth) Verify(chainID string, pub []byte) error {
	if len(pub) != ed25519.PubKeySize ||
		!ed25519.PubKey(pub).VerifySignature(SigningBytes(chainID, a.Method, a.PathQuery, a.Unix, a.Nonce), a.Sig) {
		return fmt.Errorf("signature does not verify with %s's key over %s %s at %d", a.Signer, a.Method, a.PathQuery, a.Unix)
	}
	return nil
}

// Seen remembers the (signer, nonce) pairs of accepted requests while
// they could still be accepted, so each signature serves once. It lives
// in memory only: a restarted reader forgets, and the window it forgets
// is at most MaxClockSkew wide. The zero value is ready to use.
type Seen struct {
	mu    sync.Mutex
	m     map[string]int64 // signer \x00 nonce → request time
	sweep int
}

// Use records a's (signer, nonce) and reports false when it was already
// used.
func (s *Seen) Use(a Auth, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]int64{}
	}
	k := a.Signer + "\x00" + a.Nonce
	if _, ok := s.m[k]; ok {
		return false
	}
	if len(s.m) >= max(1024, 2*s.sweep) {
		// Forget what can no longer pass the time check.
		oldest := now.Add(-MaxClockSkew - time.Second).Unix()
		for k, t := range s.m {
			if t < oldest {
				delete(s.m, k)
			}
		}
		s.sweep = len(s.m)
	}
	s.m[k] = a.Unix
	return true
}

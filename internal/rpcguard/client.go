package rpcguard

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/gridledger/gridledger/internal/reqsig"
)

// Signer signs requests to a guarded RPC as a consortium key.
type Signer struct {
	ChainID string
	ID      string
	Key     ed25519.PrivKey
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Sign signs r, whose body is body, in its headers, with a fresh nonce.
func (s Signer) Sign(r *http.Request, body []byte) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return reqsig.SignHeaders(r.Header, s.Key, s.ChainID, s.ID, r.Method, SignedTarget(r.URL.RequestURI(), body), now())
}

// Transport signs every request it carries.
type Transport struct {
	Signer Signer
	Base   http.RoundTripper // http.DefaultTransport when nil
}

// RoundTrip signs a copy of r and sends it.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	if err := t.Signer.Sign(r2, body); err != nil {
		return nil, err
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r2)
}

// NewClient is a CometBFT RPC client of a guarded node (tcp:// or http://
// address) whose requests are signed by s; timeout 0 waits for ever. Its
// websocket (events) is not signed: subscribe with a signed upgrade
// request instead.
func NewClient(addr string, s Signer, timeout time.Duration) (*rpchttp.HTTP, error) {
	addr = strings.Replace(addr, "tcp://", "http://", 1)
	return rpchttp.NewWithClient(addr, &http.Client{Transport: Transport{Signer: s}, Timeout: timeout})
}

package reqsig_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/reqsig"
)

var update = flag.Bool("update", false, "rewrite the request fixture of web/tests/fixtures.json")

const webFixtures = "../../web/tests/fixtures.json"

// The dashboard's signer (web/src/sign.js) is checked against this
// fixture; the Go side makes it: go test ./internal/reqsig -run Fixture -update.
func TestWebFixtureIsTheGoSignature(t *testing.T) {
	raw, err := os.ReadFile(webFixtures)
	if err != nil {
		t.Fatal(err)
	}
	var fx map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	var chainID string
	var kf struct {
		PrivKey []byte `json:"priv_key"`
	}
	json.Unmarshal(fx["chain_id"], &chainID)
	json.Unmarshal(fx["key_file"], &kf)
	type request struct {
		Method    string `json:"method"`
		Nonce     string `json:"nonce"`
		Path      string `json:"path"`
		Signature string `json:"signature"`
		Time      int64  `json:"time"`
	}
	want := request{Method: "GET", Nonce: "0123456789abcdef0123456789abcdef", Path: "/api/members/h01/statement?from=0&to=3600", Time: 1767225600}
	sig, err := ed25519.PrivKey(kf.PrivKey).Sign(reqsig.SigningBytes(chainID, want.Method, want.Path, want.Time, want.Nonce))
	if err != nil {
		t.Fatal(err)
	}
	want.Signature = base64.StdEncoding.EncodeToString(sig)
	if *update {
		b, _ := json.Marshal(want)
		fx["request"] = b
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(fx); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(webFixtures, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	var got request
	json.Unmarshal(fx["request"], &got)
	if got != want {
		t.Errorf("web/tests/fixtures.json request is %+v, the Go signer makes %+v: run go test ./internal/reqsig -run Fixture -update", got, want)
	}
}

func TestSignedURLVerifiesOnceWithinTheWindow(t *testing.T) {
	k := ed25519.GenPrivKey()
	now := time.Unix(1_800_000_000, 0)
	signed, err := reqsig.SignedURL(k, "c", "h01", "/readings?member=h01&from=0", now)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(signed)
	a, found, err := reqsig.FromParams(u.EscapedPath(), u.RawQuery)
	if !found || err != nil {
		t.Fatalf("found %v, %v", found, err)
	}
	if a.PathQuery != "/readings?member=h01&from=0" || a.Method != "GET" || a.Signer != "h01" {
		t.Errorf("parsed %+v", a)
	}
	if err := a.Check(now.Add(4 * time.Minute)); err != nil {
		t.Error(err)
	}
	if err := a.Check(now.Add(6 * time.Minute)); err == nil {
		t.Error("accepted 6 minutes late")
	}
	if err := a.Verify("c", k.PubKey().Bytes()); err != nil {
		t.Error(err)
	}
	if err := a.Verify("other", k.PubKey().Bytes()); err == nil {
		t.Error("verified for another chain")
	}
	var seen reqsig.Seen
	if !seen.Use(a, now) || seen.Use(a, now) {
		t.Error("a (signer, nonce) must serve exactly once")
	}
	// Another path under the same signature does not verify.
	tampered := strings.Replace(signed, "from=0", "from=1", 1)
	u, _ = url.Parse(tampered)
	b, _, _ := reqsig.FromParams(u.EscapedPath(), u.RawQuery)
	if b.Verify("c", k.PubKey().Bytes()) == nil {
		t.Error("a signature verified over another query")
	}
	if reqsig.CheckNonce("short") == nil || reqsig.CheckNonce(strings.Repeat("a", 16)+"/") == nil {
		t.Error("bad nonces accepted")
	}
}

func TestSeenForgetsOnlyWhatHasExpired(t *testing.T) {
	var seen reqsig.Seen
	now := time.Unix(1_800_000_000, 0)
	old := reqsig.Auth{Signer: "a", Nonce: "old", Unix: now.Add(-10 * time.Minute).Unix()}
	fresh := reqsig.Auth{Signer: "a", Nonce: "fresh", Unix: now.Unix()}
	seen.Use(old, now)
	seen.Use(fresh, now)
	for i := range 5000 {
		seen.Use(reqsig.Auth{Signer: "b", Nonce: strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String(), Unix: now.Unix()}, now)
	}
	if seen.Use(fresh, now) {
		t.Error("a nonce still in the window was forgotten")
	}
	if !seen.Use(old, now) {
		t.Error("an expired nonce was kept")
	}
}

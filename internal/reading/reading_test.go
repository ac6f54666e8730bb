package reading

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cometbft/cometbft/crypto/ed25519"
)

var key = ed25519.GenPrivKeyFromSecret([]byte("meter-1"))

func valid() Reading {
	return Reading{Meter: "MTR-1", Registers: Registers{Seq: 7, Time: 1_795_690_800, ImportWh: 12_345, ExportWh: 678, ProductionWh: 9_000}}
}

func TestSignDecodeVerifyRoundTrip(t *testing.T) {
	s, err := Sign(key, valid())
	if err != nil {
		t.Fatal(err)
	}
	got, r, err := Decode(s.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if r != valid() || !bytes.Equal(got.Reading, s.Reading) {
		t.Fatalf("decoded %+v", r)
	}
	if !got.Verify(key.PubKey().Bytes()) {
		t.Fatal("own signature does not verify")
	}
	if got.Verify(ed25519.GenPrivKey().PubKey().Bytes()) {
		t.Fatal("verifies under another key")
	}
}

// Changing one byte of the signed reading breaks the signature, even if it
// still decodes: nothing is re-encoded before verification.
func TestForgedRegistersDoNotVerify(t *testing.T) {
	s, _ := Sign(key, valid())
	forged := bytes.Replace(s.Marshal(), []byte("12345"), []byte("99345"), 1)
	got, r, err := Decode(forged)
	if err != nil || r.ImportWh != 99345 {
		t.Fatalf("forged payload should decode: %v %+v", err, r)
	}
	if got.Verify(key.PubKey().Bytes()) {
		t.Fatal("forged reading verifies")
	}
}

// A transaction signature over the same bytes is not a reading signature.
func TestDomainSeparation(t *testing.T) {
	s, _ := Sign(key, valid())
	sig, _ := key.Sign(s.Reading)
	if (Signed{Reading: s.Reading, Sig: sig}).Verify(key.PubKey().Bytes()) {
		t.Fatal("a signature without the reading domain verifies")
	}
}

func TestDecodeRefusesWhatIsNotAReading(t *testing.T) {
	s, _ := Sign(key, valid())
	for name, p := range map[string]string{
		"empty":          ``,
		"not json":       `hello`,
		"unknown field":  `{"reading":` + string(s.Reading) + `,"sig":"AA==","extra":1}`,
		"short sig":      `{"reading":` + string(s.Reading) + `,"sig":"AA=="}`,
		"negative wh":    `{"reading":{"meter":"M","seq":1,"time":5,"import_wh":-1,"export_wh":0,"production_wh":0},"sig":"` + b64(s.Sig) + `"}`,
		"zero seq":       `{"reading":{"meter":"M","seq":0,"time":5,"import_wh":1,"export_wh":0,"production_wh":0},"sig":"` + b64(s.Sig) + `"}`,
		"float register": `{"reading":{"meter":"M","seq":1,"time":5,"import_wh":1.5,"export_wh":0,"production_wh":0},"sig":"` + b64(s.Sig) + `"}`,
		"bad meter id":   `{"reading":{"meter":"a b","seq":1,"time":5,"import_wh":1,"export_wh":0,"production_wh":0},"sig":"` + b64(s.Sig) + `"}`,
		"trailing":       string(s.Marshal()) + `{}`,
	} {
		if _, _, err := Decode([]byte(p)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func b64(b []byte) string {
	s := Signed{Sig: b}.Marshal()
	i := bytes.Index(s, []byte(`"sig":"`))
	return string(s[i+7 : len(s)-2])
}

func FuzzDecode(f *testing.F) {
	s, _ := Sign(key, valid())
	f.Add(s.Marshal())
	f.Add([]byte(`{"reading":{},"sig":""}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, r, err := Decode(payload)
		if err != nil {
			return
		}
		if r.Validate() != nil {
			t.Fatalf("decoded an invalid reading %+v", r)
		}
		// What decodes re-decodes from its wire form to the same reading.
		if _, r2, err := Decode(got.Marshal()); err != nil || r2 != r {
			t.Fatalf("wire form does not round-trip: %v %+v %+v", err, r, r2)
		}
	})
}

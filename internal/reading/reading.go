// Package reading is the signed smart-meter reading: what a meter (or the
// gateway signing on its behalf) publishes, what the gateway verifies and
// batches, and what the contract verifies again before it believes a Wh.
//
// A reading carries cumulative registers, so a lost message loses nothing:
// the energy of any span is the difference of two readings. The signature
// covers the reading's bytes exactly as sent, behind a domain prefix so a
// reading signature can never pass for a transaction's. The package is
// pure: no I/O, clock or randomness.
package reading

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/gridledger/gridledger/internal/sigs"
)

// Reading is one meter's registers at one moment. On the wire its fields
// are flat: {"meter","seq","time","import_wh","export_wh","production_wh"}.
type Reading struct {
	Meter string `json:"meter"`
	Registers
}

// Registers are a meter's cumulative registers at one reading: the one
// register type of the project. The contract keeps them as a meter's last
// and baseline readings (their JSON is part of the ledger's state), the
// gateway as the last reading it accepted, the simulator as its meters'.
type Registers struct {
	// Seq increases strictly with every reading the meter signs.
	Seq uint64 `json:"seq"`
	// Time is when the registers were read, UTC seconds of market time.
	Time int64 `json:"time"`
	// Cumulative registers in Wh: energy taken from the grid, fed into it,
	// and produced by the RES the meter measures (0 if it measures none).
	ImportWh     int64 `json:"import_wh"`
	ExportWh     int64 `json:"export_wh"`
	ProductionWh int64 `json:"production_wh"`
}

// Signed is a reading as published: its exact bytes and their signature.
// On the wire (MQTT payload, inside a transaction) it is the JSON
// {"reading":{…},"sig":"base64"}.
type Signed struct {
	Reading json.RawMessage `json:"reading"`
	Sig     []byte          `json:"sig"`
}

// MaxRegisterWh bounds every register: 10 TWh, far beyond any meter, and
// small enough that sums of many meters stay inside int64.
const MaxRegisterWh = 10_000_000_000_000

// domain separates reading signatures from every other signature.
const domain = "gridledger/reading/v1\n"

var (
	// ErrMalformed is a payload that is not a well-formed signed reading.
	ErrMalformed = errors.New("malformed reading")
	meterID      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
)

// Validate checks a reading's shape and ranges.
func (r Reading) Validate() error {
	switch {
	case !meterID.MatchString(r.Meter):
		return fmt.Errorf("%w: meter id %q", ErrMalformed, r.Meter)
	case r.Seq == 0:
		return fmt.Errorf("%w: seq must be at least 1", ErrMalformed)
	case r.Time <= 0:
		return fmt.Errorf("%w: time %d", ErrMalformed, r.Time)
	}
	for _, v := range [...]struct {
		name string
		wh   int64
	}{{"import_wh", r.ImportWh}, {"export_wh", r.ExportWh}, {"production_wh", r.ProductionWh}} {
		if v.wh < 0 || v.wh > MaxRegisterWh {
			return fmt.Errorf("%w: %s %d out of range 0..%d", ErrMalformed, v.name, v.wh, int64(MaxRegisterWh))
		}
	}
	return nil
}

// Sign encodes a reading and signs it.
func Sign(key ed25519.PrivKey, r Reading) (Signed, error) {
	if err := r.Validate(); err != nil {
		return Signed{}, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return Signed{}, err
	}
	sig, err := key.Sign(signBytes(b))
	return Signed{Reading: b, Sig: sig}, err
}

// SignBytes are the bytes the signature covers: the domain prefix and the
// reading exactly as sent.
func (s Signed) SignBytes() []byte { return signBytes(s.Reading) }

func signBytes(reading []byte) []byte {
	return append([]byte(domain), reading...)
}

// Verify checks the signature against a public key.
func (s Signed) Verify(pubKey []byte) bool {
	if len(pubKey) != ed25519.PubKeySize || len(s.Sig) != ed25519.SignatureSize {
		return false
	}
	return sigs.Verify(pubKey, signBytes(s.Reading), s.Sig)
}

// Marshal is the signed reading's wire form.
func (s Signed) Marshal() []byte {
	b, _ := json.Marshal(s)
	return b
}

// MaxPayloadBytes bounds a signed reading on the wire.
const MaxPayloadBytes = 2048

// Decode parses a signed reading strictly (unknown fields, trailing data
// and out-of-range values are refused) and returns it with its reading.
// It does not verify the signature. It never panics.
func Decode(payload []byte) (Signed, Reading, error) {
	var s Signed
	var r Reading
	if len(payload) > MaxPayloadBytes {
		return s, r, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(payload), MaxPayloadBytes)
	}
	if err := strict(payload, &s); err != nil {
		return s, r, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := s.Parse(&r); err != nil {
		return s, r, err
	}
	return s, r, nil
}

// Parse decodes the signed bytes into r and validates it.
func (s Signed) Parse(r *Reading) error {
	if len(s.Reading) == 0 {
		return fmt.Errorf("%w: no reading", ErrMalformed)
	}
	if len(s.Sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is %d bytes, want %d", ErrMalformed, len(s.Sig), ed25519.SignatureSize)
	}
	if err := strict(s.Reading, r); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return r.Validate()
}

func strict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

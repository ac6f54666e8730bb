package contract_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/gridledger/gridledger/internal/contract"
	"github.com/gridledger/gridledger/internal/reqsig"
)

// The private queries check the signer against the ledger's own clock, the
// last block's time (TimeScale 1 here: market time), never the wall
// clock, so every node answers the same for the same state.
func TestPublicQueryChecksTheSignatureAtBlockTime(t *testing.T) {
	w, st := seedExample(t)
	now := time.Unix(w.s.Info().MarketTime, 0) // 2024: far from the wall clock
	sign := func(who, path string, at time.Time) string {
		s, err := reqsig.SignedURL(keyOf(who), testChain, who, path, at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	const statement = "/statement?member=alice"
	for _, c := range []struct {
		name string
		path string
		want contract.Code
	}{
		{"unsigned", statement, contract.CodeBadSignature},
		{"another member", sign("bob", statement, now), contract.CodeWrongRole},
		{"the utility", sign("utility", statement, now), contract.CodeWrongRole},
		{"the member, 4 minutes early", sign("alice", statement, now.Add(-4*time.Minute)), contract.CodeOK},
		{"the member, 6 minutes early", sign("alice", statement, now.Add(-6*time.Minute)), contract.CodeBadSignature},
		{"the member, at the wall clock", sign("alice", statement, time.Now()), contract.CodeBadSignature},
		{"the operator", sign("operator", statement, now), contract.CodeOK},
		{"the DSO", sign("dso", statement, now), contract.CodeOK},
		{"every plan, as a member", sign("alice", "/plans/1717207200", now), contract.CodeWrongRole},
		{"every plan, as the DSO", sign("dso", "/plans/1717207200", now), contract.CodeOK},
	} {
		var seen reqsig.Seen
		_, err := w.s.PublicQuery(c.path, &seen)
		if got := contract.CodeOf(err); got != c.want {
			t.Errorf("%s: %v (%s), want %s", c.name, got.Name(), err, c.want.Name())
		}
	}
	// In process (the simulator), everything is served.
	if _, err := w.s.Query(statement); err != nil {
		t.Errorf("in process: %v", err)
	}
	// One use per (signer, nonce).
	var seen reqsig.Seen
	p := sign("alice", statement, now)
	if _, err := w.s.PublicQuery(p, &seen); err != nil {
		t.Fatal(err)
	}
	if _, err := w.s.PublicQuery(p, &seen); contract.CodeOf(err) != contract.CodeBadSignature {
		t.Errorf("replayed: %v", err)
	}

	// Settlements: totals for all, a member's own part for it, all for
	// the operator, DSO and utility.
	path := "/settlement/" + i64s(at(2, 0))
	view := func(q string) contract.Settlement {
		t.Helper()
		raw, err := w.s.PublicQuery(q, &seen)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var out contract.Settlement
		json.Unmarshal(raw, &out)
		return out
	}
	anon := view(path)
	if len(anon.Readings) != 0 || len(anon.Members) != 0 || anon.Totals != st.Totals {
		t.Errorf("unsigned: %d readings, %d members, totals %+v", len(anon.Readings), len(anon.Members), anon.Totals)
	}
	mine := view(sign("alice", path, now))
	if len(mine.Members) != 1 || mine.Members[0].ID != "alice" || len(mine.Readings) == 0 {
		t.Errorf("alice: members %+v, %d readings", mine.Members, len(mine.Readings))
	}
	for _, r := range mine.Readings {
		if r.Meter != "m-alice" {
			t.Errorf("alice sees %s's reading", r.Meter)
		}
	}
	for _, who := range []string{"operator", "dso", "utility"} {
		full, _ := json.Marshal(st)
		raw, err := w.s.PublicQuery(sign(who, path, now), &seen)
		if err != nil || !bytes.Equal(raw, full) {
			t.Errorf("%s: %v, not the whole settlement", who, err)
		}
	}

	// Meters: the registry is public, the registers are not.
	lasts := func(q string) map[string]bool {
		t.Helper()
		raw, err := w.s.PublicQuery(q, &seen)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var ms []contract.Meter
		json.Unmarshal(raw, &ms)
		out := map[string]bool{}
		for _, m := range ms {
			out[m.ID] = m.Last != nil || m.Baseline != nil
		}
		return out
	}
	for who, want := range map[string]map[string]bool{
		"":         {"m-alice": false, "m-bob": false},
		"alice":    {"m-alice": true, "m-bob": false},
		"bob":      {"m-alice": false, "m-bob": true}, // owns m-bob and its gateway
		"carol":    {"m-alice": false, "m-bob": false},
		"utility":  {"m-alice": false, "m-bob": false},
		"operator": {"m-alice": true, "m-bob": true},
		"dso":      {"m-alice": true, "m-bob": true},
	} {
		q := "/meters"
		if who != "" {
			q = sign(who, q, now)
		}
		if got := lasts(q); got["m-alice"] != want["m-alice"] || got["m-bob"] != want["m-bob"] {
			t.Errorf("/meters as %q: registers shown %v, want %v", who, got, want)
		}
	}
}

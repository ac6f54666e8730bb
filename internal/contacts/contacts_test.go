package contacts

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestStoreKeepsTheAddressAndItsSaltOffTheLedger(t *testing.T) {
	s := Store{Dir: t.TempDir() + "/contacts"}
	c, err := New("alice", "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Salt) != 32 || strings.Contains(c.EmailHash, "alice") || !c.Matches(c.EmailHash) {
		t.Fatalf("contact %+v", c)
	}
	if d, _ := New("alice", "alice@example.org"); d.EmailHash == c.EmailHash {
		t.Error("two registrations of one address share a hash: the salt is not random")
	}
	if err := s.Put(c); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.Dir + "/alice.json")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("contact file: %v %v", fi, err)
	}
	got, err := s.Get("alice")
	if err != nil || got != c {
		t.Errorf("Get: %+v %v", got, err)
	}
	if _, err := s.Get("../alice"); err == nil {
		t.Error("Get took a path")
	}
	if err := s.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
	if _, err := New("bob", "not-an-address"); err == nil {
		t.Error("New took not-an-address")
	}
}

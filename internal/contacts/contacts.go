// Package contacts keeps participants' e-mail addresses off the ledger:
// one small file per participant in a node's home (HOME/data/contacts),
// readable only by the node's user, holding the address and the random
// salt whose contract.EmailHash the ledger keeps. The operator's node
// holds them; its API serves one only to the member itself and the
// operator (docs/privacy.md); Delete erases one when a member leaves.
package contacts

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gridledger/gridledger/internal/contract"
)

// Dir is where a home keeps its contacts.
func Dir(home string) string { return filepath.Join(home, "data", "contacts") }

// Contact is one participant's e-mail and the salt of its hash.
type Contact struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Salt      string `json:"salt"` // hex
	EmailHash string `json:"email_hash"`
}

// New makes the contact of participant id with a fresh random salt.
func New(id, email string) (Contact, error) {
	if err := contract.CheckEmail(email); err != nil {
		return Contact{}, err
	}
	salt := make([]byte, contract.MinEmailSaltBytes)
	if _, err := rand.Read(salt); err != nil {
		return Contact{}, err
	}
	return Contact{ID: id, Email: email, Salt: hex.EncodeToString(salt), EmailHash: contract.EmailHash(salt, email)}, nil
}

// Matches says whether the contact is the one whose hash the ledger keeps.
func (c Contact) Matches(hash string) bool {
	salt, err := hex.DecodeString(c.Salt)
	return err == nil && hash != "" && contract.EmailHash(salt, c.Email) == hash
}

// Store is a directory of contacts.
type Store struct{ Dir string }

// ErrNotFound is a participant without a contact here.
var ErrNotFound = errors.New("no contact kept here")

func (s Store) path(id string) (string, error) {
	if err := contract.CheckID("participant id", id); err != nil {
		return "", err
	}
	return filepath.Join(s.Dir, id+".json"), nil
}

// Put writes a contact (mode 0600), replacing one of the same id.
func (s Store) Put(c Contact) error {
	p, err := s.path(c.ID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// Get reads a participant's contact; ErrNotFound if there is none.
func (s Store) Get(id string) (Contact, error) {
	var c Contact
	p, err := s.path(id)
	if err != nil {
		return c, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return c, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(b, &c)
}

// Delete erases a participant's contact (a member leaving, an erasure
// request); erasing one that is not there is no error.
func (s Store) Delete(id string) error {
	p, err := s.path(id)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

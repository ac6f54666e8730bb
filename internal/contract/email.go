package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// A participant's e-mail never reaches the ledger: the registering client
// picks a random salt, keeps the address and the salt off the ledger (the
// operator's contact store, internal/contacts) and the ledger keeps only
// EmailHash of them. Whoever holds the address and the salt can show it
// is the one registered; whoever holds blocks or state cannot test guessed
// addresses against it without the salt.

// emailDomain separates the e-mail hash from every other hash.
const emailDomain = "gridledger-email-v1"

// MinEmailSaltBytes is the shortest salt EmailHash accepts from a client.
const MinEmailSaltBytes = 16

// EmailHash is the hex SHA-256 of the domain, the salt and the address
// (trimmed, lower-cased), each on its own line.
func EmailHash(salt []byte, email string) string {
	h := sha256.New()
	h.Write([]byte(emailDomain + "\n"))
	h.Write([]byte(hex.EncodeToString(salt) + "\n"))
	h.Write([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(h.Sum(nil))
}

// CheckEmail refuses what is not an e-mail address (for clients: the
// ledger never sees one).
func CheckEmail(email string) error {
	if len(email) > 254 || !strings.Contains(email, "@") || strings.ContainsAny(email, " \t\r\n") {
		return errf(ErrMalformed, "email %q is not an address", email)
	}
	return nil
}

// checkEmailHash accepts "" (no e-mail) or 64 lower-case hex digits; an
// address in clear is refused, so it cannot reach a block's state.
func checkEmailHash(h string) error {
	if h == "" {
		return nil
	}
	if strings.Contains(h, "@") {
		return errf(ErrMalformed, "email_hash holds an e-mail address in clear: send contract.EmailHash of it and a random salt, and keep both off the ledger")
	}
	if len(h) != 2*sha256.Size || strings.Trim(h, "0123456789abcdef") != "" {
		return errf(ErrMalformed, "email_hash %q is not %d lower-case hex digits", h, 2*sha256.Size)
	}
	return nil
}

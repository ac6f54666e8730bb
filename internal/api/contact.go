package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gridledger/gridledger/internal/contacts"
	"github.com/gridledger/gridledger/internal/contract"
)

// contact serves a member's e-mail from the operator's off-ledger store
// (Config.Contacts): only to the member itself and the operator, and only
// the one whose salted hash the ledger keeps; an empty contact (no e-mail)
// when this node keeps none for the member.
func (s *Server) contact(r *http.Request, c *caller) (any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	if c == nil || (c.ID != id && c.Role != contract.RoleOperator) {
		who := "an anonymous caller"
		if c != nil {
			who = c.ID
		}
		return nil, ledgerError(contract.CodeWrongRole, fmt.Sprintf("%s may not read %s's e-mail: only the member and the operator may", who, id))
	}
	// Nothing kept here, or not the e-mail the ledger has the hash of:
	// an empty contact.
	none := contacts.Contact{ID: id}
	if s.cfg.Contacts == nil {
		return none, nil
	}
	ct, err := s.cfg.Contacts.Get(id)
	if errors.Is(err, contacts.ErrNotFound) {
		return none, nil
	}
	if err != nil {
		return nil, err
	}
	var p contract.Participant
	if err := s.query(r.Context(), "/participants/"+id, &p); err != nil {
		return nil, err
	}
	if !ct.Matches(p.EmailHash) {
		return none, nil
	}
	return ct, nil
}

package chain

import "github.com/gridledger/gridledger/internal/contract"

// Sequence is what a signer's transactions carry besides their message:
// the height the signer was registered at, which binds them to that
// registration, and a nonce past the last it used.
type Sequence struct {
	Registered int64
	Nonce      uint64
}

// SequenceOf is a participant's sequence as the ledger has it: its
// registration and the last nonce the ledger accepted from it.
func SequenceOf(p contract.Participant) Sequence {
	return Sequence{Registered: p.Registered, Nonce: p.Nonce}
}

// Sign signs msg as k at this sequence (typ "" for the message's usual
// type); the caller moves Nonce on first.
func (q Sequence) Sign(k Key, chainID, typ string, msg contract.Msg) ([]byte, error) {
	return contract.SignBody(k.PrivKey, contract.Body{ChainID: chainID, Signer: k.ID, Registered: q.Registered, Nonce: q.Nonce, Type: typ}, msg)
}

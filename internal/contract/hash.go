package contract

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
)

// ltHash is a homomorphic multiset hash (LtHash, Bellare–Micciancio; the
// 16-bit, 1024-lane form Facebook published): the hash of a set of (key,
// value) entries is the lane-wise sum mod 2^16 of each entry's 2048-byte
// expansion: the AES-256-CTR keystream under the SHA-256 of the entry, a
// PRG seeded by a hash (four times faster than SHAKE128 here, with
// AES-NI). Adding or removing an entry costs one expansion, so the app hash follows the whole state in O(changes) per block, and because
// addition commutes it is the same whatever order entries were written in —
// a hash of the sorted state without sorting it.
//
// The lanes are kept four to a uint64 (lane 4i+k in bits 16k..16k+15, the
// little-endian reading of the expansion) and added with SWAR arithmetic,
// four lanes an operation.
type ltHash [256]uint64

// Lane masks: the top bit of each 16-bit lane, and the rest.
const (
	laneHi = 0x8000_8000_8000_8000
	laneLo = ^uint64(laneHi)
)

const ltDomain = "gridledger/state/v2\x00"

// seedOf is the SHA-256 an entry's expansion is keyed by: remembering it
// lets an entry leave the hash without being encoded again.
func seedOf(key string, value []byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	h.Write([]byte(ltDomain))
	binary.BigEndian.PutUint64(n[:], uint64(len(key)))
	h.Write(n[:])
	h.Write([]byte(key))
	h.Write(value)
	var seed [32]byte
	h.Sum(seed[:0])
	return seed
}

func expand(seed [32]byte, out *[2048]byte) {
	block, err := aes.NewCipher(seed[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	clear(out[:])
	var iv [aes.BlockSize]byte
	cipher.NewCTR(block, iv[:]).XORKeyStream(out[:], out[:])
}

func (l *ltHash) add(seed [32]byte) {
	var buf [2048]byte
	expand(seed, &buf)
	for i := range l {
		x, y := l[i], binary.LittleEndian.Uint64(buf[8*i:])
		l[i] = ((x & laneLo) + (y & laneLo)) ^ ((x ^ y) & laneHi)
	}
}

func (l *ltHash) sub(seed [32]byte) {
	var buf [2048]byte
	expand(seed, &buf)
	for i := range l {
		x, y := l[i], binary.LittleEndian.Uint64(buf[8*i:])
		l[i] = ((x | laneHi) - (y & laneLo)) ^ ((x ^ ^y) & laneHi)
	}
}

// sum is the 32-byte app hash of the multiset.
func (l *ltHash) sum() []byte {
	var buf [2048]byte
	for i, v := range l {
		binary.LittleEndian.PutUint64(buf[8*i:], v)
	}
	s := sha256.Sum256(buf[:])
	return s[:]
}

package contract

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// The SWAR lanes add and subtract exactly as 1024 separate uint16 lanes
// would, wrapping included.
func TestLtHashLanesAreSixteenBitSums(t *testing.T) {
	var l ltHash
	var ref [1024]uint16
	for i := range 300 {
		seed := seedOf(fmt.Sprintf("k%d", i), []byte{byte(i)})
		var buf [2048]byte
		expand(seed, &buf)
		sub := i%3 == 2
		if sub {
			l.sub(seed)
		} else {
			l.add(seed)
		}
		for j := range ref {
			v := binary.LittleEndian.Uint16(buf[2*j:])
			if sub {
				ref[j] -= v
			} else {
				ref[j] += v
			}
		}
	}
	for j, want := range ref {
		if got := uint16(l[j/4] >> (16 * (j % 4))); got != want {
			t.Fatalf("lane %d: %d, want %d", j, got, want)
		}
	}
	// Adding and removing the same entries leaves the empty hash.
	var e ltHash
	for i := range 50 {
		e.add(seedOf("x", []byte{byte(i)}))
	}
	for i := range 50 {
		e.sub(seedOf("x", []byte{byte(i)}))
	}
	if e != (ltHash{}) {
		t.Error("adding then removing entries left a non-zero hash")
	}
}

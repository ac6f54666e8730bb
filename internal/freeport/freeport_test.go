package freeport

import (
	"net"
	"strconv"
	"testing"
)

// The ports found are free to bind and below the ephemeral range.
func TestRangeAndAddr(t *testing.T) {
	base, err := Range(10)
	if err != nil {
		t.Fatal(err)
	}
	if base < low || base+10 > low+span || base%10 != 0 {
		t.Fatalf("base %d", base)
	}
	for p := base; p < base+10; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d: %v", p, err)
		}
		l.Close()
	}
	addr, err := Addr()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
	l.Close()
}

package freeport

import (
	"net"
	"strconv"
	"strings"
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

// OrFree keeps a free address and moves a busy one to a free port of the
// same host, keeping its scheme.
func TestOrFree(t *testing.T) {
	addr, err := Addr()
	if err != nil {
		t.Fatal(err)
	}
	if got := OrFree("tcp://" + addr); got != "tcp://"+addr {
		t.Fatalf("free %s moved to %s", addr, got)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := OrFree("tcp://" + addr)
	host, port, err := net.SplitHostPort(strings.TrimPrefix(got, "tcp://"))
	if err != nil || !strings.HasPrefix(got, "tcp://") || host != "127.0.0.1" || port == strconv.Itoa(l.Addr().(*net.TCPAddr).Port) {
		t.Fatalf("busy %s moved to %s", addr, got)
	}
	if p, _ := strconv.Atoi(port); p < low || p >= low+span {
		t.Fatalf("port %d not below the ephemeral range", p)
	}
}

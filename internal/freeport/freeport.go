// Package freeport finds free loopback ports for tests and for local
// networks (chaos, bench, the run demo). It looks below the kernel's
// ephemeral range (32768 and up on Linux): a port the kernel hands out for
// ":0", or for any process's outgoing connection, could be taken again
// between being found free and being bound, and CI found that happen.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
)

const (
	low  = 20000
	span = 12000 // up to 32000
)

// Range returns a base port, a multiple of 10, with n free ports from it.
func Range(n int) (int, error) {
	for range 100 {
		base := low + rand.IntN(span-n)
		base -= base % 10
		if free(base, n) {
			return base, nil
		}
	}
	return 0, errors.New("freeport: no free range of ports below 32000")
}

// OrFree returns addr ([scheme://]host:port) if nothing listens there, or
// the same host with a free port: a demo starts even where another
// program holds the usual ports.
func OrFree(addr string) string {
	scheme, hostport, found := strings.Cut(addr, "://")
	if !found {
		scheme, hostport = "", addr
	}
	l, err := net.Listen("tcp", hostport)
	if err == nil {
		l.Close()
		return addr
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return addr
	}
	for range 100 {
		p := low + rand.IntN(span)
		if l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p))); err == nil {
			l.Close()
			if scheme != "" {
				return scheme + "://" + l.Addr().String()
			}
			return l.Addr().String()
		}
	}
	return addr
}

// Addr returns a free "127.0.0.1:port".
func Addr() (string, error) {
	p, err := Range(1)
	return fmt.Sprintf("127.0.0.1:%d", p), err
}

func free(base, n int) bool {
	for p := base; p < base+n; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

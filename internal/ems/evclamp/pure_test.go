package evclamp

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnlyDecodeReads keeps the one I/O-ish edge in decode.go: no other
// file of the package takes an io.Reader. (internal/deptest keeps the
// package free of randomness, clock, files, network and goroutines.)
func TestOnlyDecodeReads(t *testing.T) {
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") || p == "decode.go" {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if strings.Trim(imp.Path.Value, `"`) == "io" {
				t.Errorf("%s imports io: only decode.go reads", p)
			}
		}
	}
}

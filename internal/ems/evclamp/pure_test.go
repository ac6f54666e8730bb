package evclamp

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageIsPure keeps the package as internal/deptest keeps the other
// cores: no random source, clock, file system, network, logging or
// goroutines in its non-test files, and io only in decode.go.
func TestPackageIsPure(t *testing.T) {
	forbidden := []string{"math/rand", "math/rand/v2", "crypto/rand", "os", "os/exec", "io/ioutil", "io/fs",
		"net", "net/http", "log", "log/slog", "sync", "syscall"}
	clock := map[string]bool{"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
		"Tick": true, "NewTicker": true, "NewTimer": true, "AfterFunc": true}
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			for _, bad := range forbidden {
				if path == bad {
					t.Errorf("%s imports %s", p, path)
				}
			}
			if path == "io" && p != "decode.go" {
				t.Errorf("%s imports io: only decode.go reads", p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: %s starts a goroutine", p, fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "time" && clock[n.Sel.Name] {
					t.Errorf("%s: %s reads the clock (time.%s)", p, fset.Position(n.Pos()), n.Sel.Name)
				}
			}
			return true
		})
	}
}

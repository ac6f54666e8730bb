// Package deptest keeps the pure cores pure: the market and the contract
// run inside consensus, where every validator must compute the same result,
// so they may not reach for a clock, a random source, the network, the file
// system, goroutines or floating point. Like tailscale's deptest, it reads
// the cores' source and fails on any forbidden import or construct.
package deptest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// consensus are the packages whose results enter the ledger: integers
// only. cores adds the other pure packages (planning, forecasting), which
// may use floating point but no I/O, clock or randomness either.
var (
	consensus = []string{"../market", "../contract", "../reading", "../meter/format"}
	cores     = append(append([]string{}, consensus...), "../ems/forecast", "../ems/plan", "../ems/dr", "../ems/bidding", "../ems/advice", "../ems/evclamp", "../kpi", "../community", "../homeassistant")
)

// forbidden imports, with why.
var forbidden = map[string]string{
	"math/rand":    "no randomness in consensus",
	"math/rand/v2": "no randomness in consensus",
	"crypto/rand":  "no randomness in consensus",
	"os":           "no file system",
	"os/exec":      "no processes",
	"net":          "no network",
	"net/http":     "no network",
	"io/ioutil":    "no file system",
	"io/fs":        "no file system",
	"syscall":      "no system calls",
	"log":          "no I/O; return errors and events",
	"log/slog":     "no I/O; return errors and events",
	"sync":         "no concurrency inside the state machine",
	"github.com/gridledger/gridledger/internal/chain": "cores do not depend on adapters",
}

func TestCoresImportNoIOClockOrRandomness(t *testing.T) {
	for _, dir := range cores {
		for _, f := range parseDir(t, dir) {
			for _, imp := range f.file.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				if why, bad := forbidden[path]; bad {
					t.Errorf("%s imports %q: %s", f.name, path, why)
				}
			}
		}
	}
}

// clockCalls are the time package's functions that read the clock or wait;
// parsing and formatting times is allowed.
var clockCalls = map[string]bool{"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"Tick": true, "NewTicker": true, "NewTimer": true, "AfterFunc": true}

func TestCoresUseNoClockFloatsOrGoroutines(t *testing.T) {
	isConsensus := map[string]bool{}
	for _, dir := range consensus {
		isConsensus[dir] = true
	}
	for _, dir := range cores {
		floatsOK := !isConsensus[dir]
		for _, f := range parseDir(t, dir) {
			ast.Inspect(f.file, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.Ident:
					if !floatsOK && (n.Name == "float32" || n.Name == "float64") {
						t.Errorf("%s: %s uses %s: consensus values are integers", f.name, f.fset.Position(n.Pos()), n.Name)
					}
				case *ast.SelectorExpr:
					if x, ok := n.X.(*ast.Ident); ok && x.Name == "time" && clockCalls[n.Sel.Name] {
						t.Errorf("%s: %s calls time.%s: time comes from the block header", f.name, f.fset.Position(n.Pos()), n.Sel.Name)
					}
				case *ast.GoStmt:
					t.Errorf("%s: %s starts a goroutine", f.name, f.fset.Position(n.Pos()))
				case *ast.BasicLit:
					if !floatsOK && n.Kind == token.FLOAT {
						t.Errorf("%s: %s has a float literal %s", f.name, f.fset.Position(n.Pos()), n.Value)
					}
				}
				return true
			})
		}
	}
}

type srcFile struct {
	name string
	fset *token.FileSet
	file *ast.File
}

// parseDir parses a package's non-test Go files.
func parseDir(t *testing.T, dir string) []srcFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	var out []srcFile
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly|parser.ParseComments)
		if err == nil {
			f, err = parser.ParseFile(fset, p, nil, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, srcFile{p, fset, f})
	}
	return out
}

package contract

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// docs/ledger.md's table of queries is queryRoutes: each path with what it
// answers, and no path the ledger does not serve.
func TestQueryRoutesAreDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../docs/ledger.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, r := range queryRoutes {
		if row := fmt.Sprintf("| `%s` | %s |", r.path, r.doc); !strings.Contains(doc, row) {
			t.Errorf("docs/ledger.md lacks the row %s", row)
		}
	}
	if n := strings.Count(doc, "\n| `/"); n != len(queryRoutes) {
		t.Errorf("docs/ledger.md has %d query rows, the ledger serves %d paths", n, len(queryRoutes))
	}
}

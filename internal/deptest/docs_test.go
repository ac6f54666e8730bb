package deptest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gridledger/gridledger/internal/contract"
)

// TestDocsListEveryResultCode keeps docs/ledger.md's code table in step
// with the one table in the contract.
func TestDocsListEveryResultCode(t *testing.T) {
	doc, err := os.ReadFile("../../docs/ledger.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range contract.Codes() {
		row := fmt.Sprintf("| %d | `%s` | %s |", c.Code, c.Name, c.Message)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/ledger.md lacks the row %q", row)
		}
	}
}

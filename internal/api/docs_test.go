package api

import (
	"os"
	"strings"
	"testing"
)

// TestDocsListEveryRoute keeps docs/api.md's endpoint tables in step with
// the routes served.
func TestDocsListEveryRoute(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{})
	want := []string{"GET /api/events", "GET /api/openapi.json"}
	for _, rt := range s.routes {
		want = append(want, rt.Method+" "+rt.Path)
	}
	for _, w := range want {
		if !strings.Contains(string(doc), "`"+w+"`") {
			t.Errorf("docs/api.md does not list `%s`", w)
		}
	}
	if n := strings.Count(string(doc), "| `GET /api/") + strings.Count(string(doc), "| `POST /api/"); n != len(want) {
		t.Errorf("docs/api.md lists %d endpoints, the server %d", n, len(want))
	}
}

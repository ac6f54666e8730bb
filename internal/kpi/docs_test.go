package kpi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestDocsDefineEveryKPI keeps docs/kpis.md in step with the code: every
// field of Community, MemberKPI and HourPoint has a doc comment, and the
// page has the line "- `json_name`: " followed by that comment word for
// word; the page has no such line for a KPI the code does not hold.
func TestDocsDefineEveryKPI(t *testing.T) {
	page, err := os.ReadFile("../../docs/kpis.md")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "types.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	structs := map[string]bool{"Community": true, "MemberKPI": true, "HourPoint": true}
	for _, d := range file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range g.Specs {
			ts, ok := s.(*ast.TypeSpec)
			if !ok || !structs[ts.Name.Name] {
				continue
			}
			delete(structs, ts.Name.Name)
			fields := ts.Type.(*ast.StructType).Fields.List
			for _, fld := range fields {
				name := fld.Names[0].Name
				if fld.Tag == nil {
					t.Errorf("%s.%s has no json tag", ts.Name.Name, name)
					continue
				}
				tag := strings.Split(reflect.StructTag(strings.Trim(fld.Tag.Value, "`")).Get("json"), ",")[0]
				doc := strings.Join(strings.Fields(fld.Doc.Text()), " ")
				if doc == "" || tag == "" {
					t.Errorf("%s.%s has no doc comment or json name", ts.Name.Name, name)
					continue
				}
				line := "- `" + tag + "`: " + doc
				want[line] = true
				if !strings.Contains("\n"+string(page)+"\n", "\n"+line+"\n") {
					t.Errorf("docs/kpis.md lacks the line for %s.%s:\n%s", ts.Name.Name, name, line)
				}
			}
		}
	}
	if len(structs) > 0 {
		t.Fatalf("types.go lacks %v", structs)
	}
	for _, l := range strings.Split(string(page), "\n") {
		if strings.HasPrefix(l, "- `") && !want[l] {
			t.Errorf("docs/kpis.md defines what no field holds (or in other words):\n%s", l)
		}
	}
}

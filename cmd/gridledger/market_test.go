package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const marketGoodBook = `{"interval":"2026-11-25T14:00:00Z","grid_price":95000,"feed_in":39000,
 "offers":[{"id":"o1","participant":"M001","wh":2500,"price":52000}],
 "bids":[{"id":"b1","participant":"M002","wh":1800,"price":70000},
         {"id":"b2","participant":"M003","wh":1000,"price":90000}]}`

// runMarketCmd runs the market command with args and stdin, returning what
// it printed on stdout and stderr.
func runMarketCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newMarketCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func writeMarketBook(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "book.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMarketClearGoodBook(t *testing.T) {
	path := writeMarketBook(t, marketGoodBook)
	// average-bid: MCP = (1800×70000 + 1000×90000)/2800 = 77142.9 → 77143.
	// Only b2 (90000) is at or above it; it takes 1000 of o1's 2500.
	// uniform: b2 then b1 take 1000 and 1500 of o1; last pair b1/o1, MCP =
	// (70000+52000)/2 = 61000. pay-as-bid: the same, at 90000 and 70000.
	for _, tc := range []struct {
		args            []string
		mechanism       string
		mcp             int64
		traded          int64
		firstTradePrice int64
		imports         int
		exports         int
	}{
		{[]string{"clear", "--book", path}, "average-bid", 77143, 1000, 77143, 1, 1},
		{[]string{"clear", "--mechanism", "uniform", "--book", path}, "uniform", 61000, 2500, 61000, 1, 0},
		{[]string{"clear", "--mechanism=pay-as-bid", "--book=" + path}, "pay-as-bid", 61000, 2500, 90000, 1, 0},
	} {
		stdout, stderr, err := runMarketCmd(t, "", tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if stderr != "" {
			t.Errorf("%v: stderr %q", tc.args, stderr)
		}
		if !strings.HasSuffix(stdout, "}\n") || strings.Count(stdout, "\n") != 1 {
			t.Errorf("%v: want one line of JSON, got %q", tc.args, stdout)
		}
		var got struct {
			Mechanism   string `json:"mechanism"`
			MCP         *int64 `json:"mcp"`
			AvailableWh int64  `json:"available_wh"`
			WantedWh    int64  `json:"wanted_wh"`
			TradedWh    int64  `json:"traded_wh"`
			Trades      []struct {
				Bid, Offer, Buyer, Seller string
				Wh, Price                 int64
			} `json:"trades"`
			GridImport []map[string]any `json:"grid_import"`
			GridExport []map[string]any `json:"grid_export"`
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("%v: output %q: %v", tc.args, stdout, err)
		}
		if got.Mechanism != tc.mechanism || got.MCP == nil || *got.MCP != tc.mcp ||
			got.AvailableWh != 2500 || got.WantedWh != 2800 || got.TradedWh != tc.traded ||
			len(got.Trades) == 0 || got.Trades[0].Price != tc.firstTradePrice ||
			got.Trades[0].Bid != "b2" || got.Trades[0].Seller != "M001" ||
			len(got.GridImport) != tc.imports || len(got.GridExport) != tc.exports {
			t.Errorf("%v: unexpected result %s", tc.args, stdout)
		}
	}
}

func TestMarketClearExactOutput(t *testing.T) {
	stdout, _, err := runMarketCmd(t, marketGoodBook, "clear", "--book", "-")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"mechanism":"average-bid","mcp":77143,"available_wh":2500,"wanted_wh":2800,"traded_wh":1000,` +
		`"trades":[{"bid":"b2","offer":"o1","buyer":"M003","seller":"M001","wh":1000,"price":77143}],` +
		`"grid_import":[{"bid":"b1","participant":"M002","wh":1800}],` +
		`"grid_export":[{"offer":"o1","participant":"M001","wh":1500}]}` + "\n"
	if stdout != want {
		t.Errorf("got  %s\nwant %s", stdout, want)
	}
}

func TestMarketClearEmptyListsPrintAsArrays(t *testing.T) {
	stdout, _, err := runMarketCmd(t, `{"grid_price":95000,"feed_in":39000}`, "clear", "--book", "-", "--mechanism", "uniform")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"mechanism":"uniform","mcp":null,"available_wh":0,"wanted_wh":0,"traded_wh":0,"trades":[],"grid_import":[],"grid_export":[]}` + "\n"
	if stdout != want {
		t.Errorf("got  %s\nwant %s", stdout, want)
	}
}

func TestMarketClearErrors(t *testing.T) {
	book := func(tariffs, offers, bids string) string {
		return `{` + tariffs + `,"offers":[` + offers + `],"bids":[` + bids + `]}`
	}
	const tariffs = `"grid_price":95000,"feed_in":39000`
	const o1 = `{"id":"o1","participant":"M001","wh":2500,"price":52000}`
	for _, tc := range []struct {
		name, content string
		mechanism     string
		want          string
	}{
		{"empty file", "", "", "empty book file"},
		{"zero wh", book(tariffs, o1, `{"id":"b2","participant":"M002","wh":0,"price":70000}`), "", `bid "b2": wh must be positive`},
		{"negative price", book(tariffs, `{"id":"o2","participant":"M001","wh":5,"price":-1}`, ""), "", `offer "o2": price must not be negative`},
		{"duplicate id", book(tariffs, o1, `{"id":"o1","participant":"M002","wh":5,"price":1}`), "", `bid "o1": id used more than once`},
		{"both sides", book(tariffs, o1, `{"id":"b1","participant":"M001","wh":5,"price":1}`), "", `bid "b1": participant has both an offer and a bid: "M001"`},
		{"feed-in above grid", book(`"grid_price":39000,"feed_in":95000`, o1, ""), "", "feed-in 95000 > grid price 39000"},
		{"overflow", book(tariffs, `{"id":"o1","participant":"M001","wh":9223372036854775807,"price":2}`, ""), "", `offer "o1": wh × price: int64 overflow`},
		{"float quantity", book(tariffs, `{"id":"o1","participant":"M001","wh":2.5,"price":2}`, ""), "", `offer "o1": wh: must be an integer, got 2.5`},
		{"unknown field", `{"grid_price":95000,"feed_in":39000,"fee":1}`, "", `unknown field "fee"`},
		{"unknown mechanism", book(tariffs, o1, ""), "vickrey", `--mechanism "vickrey": unknown mechanism`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeMarketBook(t, tc.content)
			args := []string{"clear", "--book", path}
			if tc.mechanism != "" {
				args = append(args, "--mechanism", tc.mechanism)
			}
			stdout, stderr, err := runMarketCmd(t, "", args...)
			if err == nil {
				t.Fatalf("no error; stdout %q", stdout)
			}
			if stdout != "" || stderr != "" {
				t.Errorf("printed stdout %q stderr %q, want nothing", stdout, stderr)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "market clear: ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line starting %q containing %q", msg, "market clear: ", tc.want)
			}
			if tc.mechanism == "" && !strings.Contains(msg, path+": ") {
				t.Errorf("error %q does not name the file", msg)
			}
		})
	}
}

func TestMarketClearFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"clear", "--book", filepath.Join(t.TempDir(), "nope.json")}, "nope.json"},
		{"no --book", []string{"clear"}, `"book" not set`},
		{"extra argument", []string{"clear", "--book", "-", "x"}, "unknown command"},
	} {
		stdout, _, err := runMarketCmd(t, "{}", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
		if stdout != "" {
			t.Errorf("%s: stdout %q, want nothing", tc.name, stdout)
		}
	}
}

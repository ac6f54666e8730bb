package market

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const exampleBookJSON = `{"interval":"2026-11-25T14:00:00Z","grid_price":95000,"feed_in":39000,
 "offers":[{"id":"o1","participant":"M001","wh":2500,"price":52000}],
 "bids":[{"id":"b1","participant":"M002","wh":1800,"price":70000}]}`

func TestDecodeBookJSON(t *testing.T) {
	f, err := DecodeBookJSON([]byte(exampleBookJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := BookFile{
		Interval: "2026-11-25T14:00:00Z",
		Book: Book{
			GridPricePerKWh: 95000,
			FeedInPerKWh:    39000,
			Offers:          []Order{{ID: "o1", Participant: "M001", Wh: 2500, PricePerKWh: 52000}},
			Bids:            []Order{{ID: "b1", Participant: "M002", Wh: 1800, PricePerKWh: 70000}},
		},
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("got %+v\nwant %+v", f, want)
	}
}

func TestDecodeBookJSONMinimal(t *testing.T) {
	// No interval, no orders: a valid, empty book.
	f, err := DecodeBookJSON([]byte(` {"grid_price":0,"feed_in":0} ` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Interval != "" || len(f.Book.Offers) != 0 || len(f.Book.Bids) != 0 {
		t.Errorf("got %+v", f)
	}
	if err := f.Book.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestDecodeBookJSONErrors(t *testing.T) {
	order := func(wh, price string) string {
		return `{"grid_price":95000,"feed_in":39000,"bids":[{"id":"b1","participant":"M","wh":` + wh + `,"price":` + price + `}]}`
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "empty book file"},
		{"blank", " \n\t", "empty book file"},
		{"not json", "hello", "invalid JSON at byte 1"},
		{"truncated", `{"grid_price":1`, "unexpected end"},
		{"array", `[]`, "want a JSON object, got array"},
		{"null", "null", "want a JSON object, got null"},
		{"string", `"book"`, "want a JSON object, got string"},
		{"case-folded key", `{"Grid_Price":1,"feed_in":0}`, `unknown field "Grid_Price"`},
		{"duplicate key", `{"grid_price":1,"feed_in":0,"grid_price":2}`, `duplicate field "grid_price"`},
		{"duplicate order key", `{"grid_price":1,"feed_in":0,"bids":[{"id":"b","participant":"p","wh":1,"wh":9,"price":1}]}`, `duplicate field "wh"`},
		{"known key in wrong place", `{"grid_price":1,"feed_in":0,"wh":1}`, `unknown field "wh"`},
		{"offers not a list", `{"grid_price":1,"feed_in":0,"offers":{}}`, "offers: want array, got object"},
		{"unknown field", `{"grid_price":1,"feed_in":0,"tarif":3}`, `unknown field "tarif"`},
		{"unknown order field", `{"grid_price":1,"feed_in":0,"bids":[{"id":"b","participant":"p","wh":1,"price":1,"note":"x"}]}`, `unknown field "note"`},
		{"trailing object", `{"grid_price":1,"feed_in":0}{}`, "trailing data after the book, which ends at byte 28"},
		{"trailing garbage", `{"grid_price":1,"feed_in":0} x`, "trailing data"},
		{"missing grid price", `{"feed_in":0}`, "grid_price: missing"},
		{"missing feed-in", `{"grid_price":1}`, "feed_in: missing"},
		{"null grid price", `{"grid_price":null,"feed_in":0}`, "grid_price: must be an integer, got null"},
		{"float grid price", `{"grid_price":9.5e4,"feed_in":0}`, "grid_price: must be an integer, got 9.5e4"},
		{"float wh", order("2.5", "1"), `bid "b1": wh: must be an integer, got 2.5`},
		{"exponent wh", order("1e3", "1"), `bid "b1": wh: must be an integer, got 1e3`},
		{"integral float wh", order("1000.0", "1"), "must be an integer, got 1000.0"},
		{"string price", order("1", `"70000"`), `bid "b1": price: must be an integer, got a string`},
		{"object price", order("1", "{\n}"), "price: must be an integer, got an object"},
		{"bool wh", order("true", "1"), "wh: must be an integer, got a boolean"},
		{"huge wh", order("9223372036854775808", "1"), "wh: 9223372036854775808 is out of int64 range"},
		{"missing wh", `{"grid_price":1,"feed_in":0,"offers":[{"id":"o1","participant":"M","price":1}]}`, `offer "o1": wh: missing`},
		{"missing price, no id", `{"grid_price":1,"feed_in":0,"offers":[{"participant":"M","wh":1}]}`, `offer [0]: price: missing`},
		{"number id", `{"grid_price":1,"feed_in":0,"offers":[{"id":7}]}`, "offers.id: want string, got number"},
		{"bad interval", `{"interval":"2026-11-25 14:00","grid_price":1,"feed_in":0}`, "not RFC 3339"},
		{"empty interval", `{"interval":"","grid_price":1,"feed_in":0}`, "not RFC 3339"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeBookJSON([]byte(tc.in))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
			if strings.Contains(err.Error(), "JSON.") || strings.Contains(err.Error(), "market.") {
				t.Errorf("error %q leaks Go type names", err)
			}
		})
	}
}

func TestDecodeBookJSONLeavesValidationToClear(t *testing.T) {
	f, err := DecodeBookJSON([]byte(`{"grid_price":1,"feed_in":0,"bids":[{"id":"b2","participant":"M","wh":0,"price":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Clear(AverageBid, f.Book); !errors.Is(err, ErrNonPositiveWh) || err.Error() != `bid "b2": wh must be positive` {
		t.Errorf("Clear error = %v", err)
	}
}

func TestEncodeResultJSON(t *testing.T) {
	f, err := DecodeBookJSON([]byte(exampleBookJSON))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		m    Mechanism
		want string
	}{
		// One bid: MCP 70000. o1 (52000 ≤ MCP) sells b1 all 1800 Wh.
		{AverageBid, `{"mechanism":"average-bid","mcp":70000,"available_wh":2500,"wanted_wh":1800,"traded_wh":1800,` +
			`"trades":[{"bid":"b1","offer":"o1","buyer":"M002","seller":"M001","wh":1800,"price":70000}],` +
			`"grid_import":[],"grid_export":[{"offer":"o1","participant":"M001","wh":700}]}`},
		// (70000+52000)/2 = 61000.
		{Uniform, `{"mechanism":"uniform","mcp":61000,"available_wh":2500,"wanted_wh":1800,"traded_wh":1800,` +
			`"trades":[{"bid":"b1","offer":"o1","buyer":"M002","seller":"M001","wh":1800,"price":61000}],` +
			`"grid_import":[],"grid_export":[{"offer":"o1","participant":"M001","wh":700}]}`},
	} {
		r, err := Clear(tc.m, f.Book)
		if err != nil {
			t.Fatal(err)
		}
		got, err := EncodeResultJSON(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.m, got, tc.want)
		}
	}
}

func TestEncodeResultJSONNoMCPAndNilSlices(t *testing.T) {
	got, err := EncodeResultJSON(Result{Mechanism: Uniform, GridImport: []GridFlow{{OrderID: "b1", Participant: "P", Wh: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"mechanism":"uniform","mcp":null,"available_wh":0,"wanted_wh":0,"traded_wh":0,"trades":[],` +
		`"grid_import":[{"bid":"b1","participant":"P","wh":5}],"grid_export":[]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func FuzzDecodeBookJSON(f *testing.F) {
	f.Add([]byte(exampleBookJSON))
	f.Add([]byte(`{"grid_price":95000,"feed_in":39000,"offers":[{"id":"o1","participant":"A","wh":10,"price":1},{"id":"o2","participant":"B","wh":7,"price":90000}],"bids":[{"id":"b1","participant":"C","wh":12,"price":95000},{"id":"b2","participant":"D","wh":3,"price":0}]}`))
	f.Add([]byte(`{"grid_price":1,"feed_in":0,"bids":[{"id":"b","participant":"p","wh":9223372036854775807,"price":1}]}`))
	f.Add([]byte(`{"grid_price":1,"feed_in":0,"bids":[{"id":"b","participant":"p","wh":2.5,"price":1}]}`))
	f.Add([]byte(`{"grid_price":1,"feed_in":0} {}`))
	f.Add([]byte(`{"interval":"2026-11-25T14:00:00+01:00","grid_price":0,"feed_in":0,"offers":null}`))
	f.Add([]byte(``))
	f.Add([]byte(`[[[[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		bf, err := DecodeBookJSON(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if bf.Book.Validate() != nil {
			return
		}
		for _, m := range Mechanisms {
			r, err := Clear(m, bf.Book)
			if err != nil {
				t.Fatalf("%s: Clear failed on a valid book: %v", m, err)
			}
			checkInvariants(t, m, bf.Book, r)
			out, err := EncodeResultJSON(r)
			if err != nil || !json.Valid(out) {
				t.Fatalf("%s: EncodeResultJSON = %s, %v", m, out, err)
			}
		}
	})
}

package market

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// BookFile is a book as read from a JSON book file.
type BookFile struct {
	// Interval is the delivery interval's start as written in the file
	// (RFC 3339), or "" if the file has none.
	Interval string
	Book     Book
}

// bookFileJSON is the file's shape. Numbers are kept raw and parsed by
// parseInt, which accepts only integer literals, tells a missing field from a
// zero one, and names the offending order in its errors.
type bookFileJSON struct {
	Interval  *string         `json:"interval"`
	GridPrice json.RawMessage `json:"grid_price"`
	FeedIn    json.RawMessage `json:"feed_in"`
	Offers    []orderJSON     `json:"offers"`
	Bids      []orderJSON     `json:"bids"`
}

type orderJSON struct {
	ID          string          `json:"id"`
	Participant string          `json:"participant"`
	Wh          json.RawMessage `json:"wh"`
	Price       json.RawMessage `json:"price"`
}

// DecodeBookJSON parses a book file:
//
//	{"interval":"2026-11-25T14:00:00Z","grid_price":95000,"feed_in":39000,
//	 "offers":[{"id":"o1","participant":"M001","wh":2500,"price":52000}],
//	 "bids":[{"id":"b1","participant":"M002","wh":1800,"price":70000}]}
//
// It is strict: unknown fields, trailing data, non-integer numbers and a
// missing grid_price, feed_in, wh or price are errors; interval is optional
// but must be RFC 3339 if present. It does not validate the book (Clear does).
func DecodeBookJSON(data []byte) (BookFile, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return BookFile{}, errors.New("empty book file")
	}
	if err := checkKeys(data); err != nil {
		return BookFile{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var fp *bookFileJSON // stays nil for a JSON null
	if err := dec.Decode(&fp); err != nil {
		return BookFile{}, jsonError(err)
	}
	if fp == nil {
		return BookFile{}, errors.New("invalid book: want a JSON object, got null")
	}
	f := *fp
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return BookFile{}, fmt.Errorf("trailing data after the book, which ends at byte %d", end)
	}

	var out BookFile
	if f.Interval != nil {
		if _, err := time.Parse(time.RFC3339, *f.Interval); err != nil {
			return BookFile{}, fmt.Errorf("interval %q is not RFC 3339", *f.Interval)
		}
		out.Interval = *f.Interval
	}
	var err error
	if out.Book.GridPricePerKWh, err = parseInt(f.GridPrice); err != nil {
		return BookFile{}, fmt.Errorf("grid_price: %w", err)
	}
	if out.Book.FeedInPerKWh, err = parseInt(f.FeedIn); err != nil {
		return BookFile{}, fmt.Errorf("feed_in: %w", err)
	}
	if out.Book.Offers, err = decodeOrders("offer", f.Offers); err != nil {
		return BookFile{}, err
	}
	if out.Book.Bids, err = decodeOrders("bid", f.Bids); err != nil {
		return BookFile{}, err
	}
	return out, nil
}

func decodeOrders(side string, in []orderJSON) ([]Order, error) {
	out := make([]Order, len(in))
	for i, o := range in {
		wh, err := parseInt(o.Wh)
		if err != nil {
			return nil, fmt.Errorf("%s %s: wh: %w", side, orderName(i, o.ID), err)
		}
		price, err := parseInt(o.Price)
		if err != nil {
			return nil, fmt.Errorf("%s %s: price: %w", side, orderName(i, o.ID), err)
		}
		out[i] = Order{ID: o.ID, Participant: o.Participant, Wh: wh, PricePerKWh: price}
	}
	return out, nil
}

// parseInt parses a raw JSON value that must be an integer literal
// (-?(0|[1-9][0-9]*)) within int64 range.
func parseInt(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 {
		return 0, errors.New("missing")
	}
	if !isIntLiteral(raw) {
		return 0, fmt.Errorf("must be an integer, got %s", describe(raw))
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is out of int64 range", raw)
	}
	return n, nil
}

func isIntLiteral(s []byte) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// describe names a non-integer JSON value in one line: numbers verbatim (a
// number token has no spaces), anything else by kind.
func describe(raw []byte) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return string(raw)
}

// knownKeys are all the object keys a book file may use, at any level.
var knownKeys = map[string]bool{
	"interval": true, "grid_price": true, "feed_in": true, "offers": true, "bids": true,
	"id": true, "participant": true, "wh": true, "price": true,
}

// checkKeys rejects what encoding/json would let through: a key given twice
// in one object (the last would silently win) and a key that matches a known
// one only case-insensitively ("Wh"). Which keys belong where is left to
// DisallowUnknownFields, and syntax errors to the decoder proper.
func checkKeys(data []byte) error {
	type frame struct {
		keys    map[string]bool // nil for an array
		wantKey bool            // in an object, before a key
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or a syntax error that Decode reports
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if key, ok := tok.(string); ok {
				switch {
				case !knownKeys[key]:
					return fmt.Errorf("invalid book: unknown field %q", key)
				case stack[n-1].keys[key]:
					return fmt.Errorf("invalid book: duplicate field %q", key)
				}
				stack[n-1].keys[key] = true
				stack[n-1].wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
		// A value is complete: the enclosing object expects a key next.
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
}

// jsonError rewords encoding/json's errors for people: with a byte offset for
// syntax errors, and without Go type names for type mismatches.
func jsonError(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid JSON at byte %d: %w", syn.Offset, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("invalid JSON: unexpected end of input")
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		if typ.Field == "" {
			return fmt.Errorf("invalid book: want a JSON object, got %s", typ.Value)
		}
		return fmt.Errorf("invalid book: %s: want %s, got %s", typ.Field, jsonKind(typ.Type), typ.Value)
	}
	return fmt.Errorf("invalid book: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names the JSON kind that decodes into t.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Slice:
		return "array"
	case reflect.Struct:
		return "object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.Kind().String()
}

// resultJSON fixes the output's key names and order.
type resultJSON struct {
	Mechanism   Mechanism        `json:"mechanism"`
	MCP         *int64           `json:"mcp"`
	AvailableWh int64            `json:"available_wh"`
	WantedWh    int64            `json:"wanted_wh"`
	TradedWh    int64            `json:"traded_wh"`
	Trades      []Trade          `json:"trades"`
	GridImport  []gridImportJSON `json:"grid_import"`
	GridExport  []gridExportJSON `json:"grid_export"`
}

type gridImportJSON struct {
	Bid         string `json:"bid"`
	Participant string `json:"participant"`
	Wh          int64  `json:"wh"`
}

type gridExportJSON struct {
	Offer       string `json:"offer"`
	Participant string `json:"participant"`
	Wh          int64  `json:"wh"`
}

// EncodeResultJSON renders r as one line of compact JSON, without a trailing
// newline:
//
//	{"mechanism":…,"mcp":int or null,"available_wh":…,"wanted_wh":…,"traded_wh":…,
//	 "trades":[{"bid":…,"offer":…,"buyer":…,"seller":…,"wh":…,"price":…}],
//	 "grid_import":[{"bid":…,"participant":…,"wh":…}],
//	 "grid_export":[{"offer":…,"participant":…,"wh":…}]}
//
// Empty lists are written as [], never null.
func EncodeResultJSON(r Result) ([]byte, error) {
	out := resultJSON{
		Mechanism:   r.Mechanism,
		MCP:         r.MCP,
		AvailableWh: r.AvailableWh,
		WantedWh:    r.WantedWh,
		TradedWh:    r.TradedWh,
		Trades:      r.Trades,
		GridImport:  make([]gridImportJSON, len(r.GridImport)),
		GridExport:  make([]gridExportJSON, len(r.GridExport)),
	}
	if out.Trades == nil {
		out.Trades = []Trade{}
	}
	for i, g := range r.GridImport {
		out.GridImport[i] = gridImportJSON{g.OrderID, g.Participant, g.Wh}
	}
	for i, g := range r.GridExport {
		out.GridExport[i] = gridExportJSON{g.OrderID, g.Participant, g.Wh}
	}
	return json.Marshal(out)
}

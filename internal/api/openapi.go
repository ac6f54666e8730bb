package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The OpenAPI document is generated from the route table and, for the
// schemas, from the Go types the handlers answer with (by their JSON
// tags), so it describes what the handlers really send; a test checks
// every route's real answers against it.

func (s *Server) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.openapi)
}

// OpenAPI is the API's OpenAPI 3.0 document.
func (s *Server) OpenAPI() map[string]any {
	g := &schemas{defs: map[string]any{}, seen: map[reflect.Type]string{}}
	errRef := g.of(reflect.TypeFor[Error]())
	paths := map[string]any{}
	op := func(path, method string, o map[string]any) {
		p, _ := paths[path].(map[string]any)
		if p == nil {
			p = map[string]any{}
			paths[path] = p
		}
		p[strings.ToLower(method)] = o
	}
	for _, rt := range s.routes {
		o := map[string]any{
			"operationId": operationID(rt.Method, rt.Path),
			"summary":     rt.Summary,
			"tags":        []string{rt.Tag},
		}
		var params []any
		for _, p := range rt.Params {
			typ := map[string]any{"type": "string"}
			if p.Integer {
				typ = map[string]any{"type": "integer", "format": "int64"}
			}
			params = append(params, map[string]any{"name": p.Name, "in": p.In, "description": p.Doc,
				"required": p.In == "path", "schema": typ})
		}
		if params != nil {
			o["parameters"] = params
		}
		if rt.Body != nil {
			o["requestBody"] = map[string]any{"required": true,
				"content": map[string]any{"application/json": map[string]any{"schema": g.of(reflect.TypeOf(rt.Body))}}}
		}
		status := "200"
		if rt.successStatus != 0 {
			status = strconv.Itoa(rt.successStatus)
		}
		o["responses"] = map[string]any{
			status:    map[string]any{"description": "OK", "content": map[string]any{"application/json": map[string]any{"schema": g.of(reflect.TypeOf(rt.Resp))}}},
			"default": map[string]any{"description": "Refused: the ledger's stable code (or not_found, unavailable) and a message.", "content": map[string]any{"application/json": map[string]any{"schema": errRef}}},
		}
		if rt.Access == private {
			o["security"] = []any{map[string]any{"signer": []string{}, "time": []string{}, "nonce": []string{}, "signature": []string{}}}
		}
		op(rt.Path, rt.Method, o)
	}
	op("/api/events", "GET", map[string]any{
		"operationId": "events", "tags": []string{"live"},
		"summary": "Live stream (server-sent events) of what each block did: block, listing_opened, order, clearing, settlement, dr_request, dr_commit, dr_done, readings, …; and, to a subscription signed by its owner (query parameters signer, time, sig, last), reading.",
		"responses": map[string]any{"200": map[string]any{"description": "An endless text/event-stream; each data line is a JSON object.",
			"content": map[string]any{"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"}}}}},
	})
	op("/api/openapi.json", "GET", map[string]any{
		"operationId": "openapi", "tags": []string{"ledger"}, "summary": "This document.",
		"responses": map[string]any{"200": map[string]any{"description": "OpenAPI 3.0",
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}},
	})
	signed := "A signed request: the signer's Ed25519 ledger key signs the UTF-8 bytes `gridledger-request-v2\\n{chain_id}\\n{METHOD}\\n{path and query as sent}\\n{unix time}\\n{nonce}`; the time must be within 5 minutes of the server's clock, and the nonce (16 to 64 random letters, digits, '_' or '-') new: each signature serves once."
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "gridledger API", "version": "1",
			"description": "Read the community's energy market and ledger, relay signed transactions, and follow it live. Energy in Wh, prices in micro-units per kWh, money in nano-units (10^9 to the currency unit), times in market-time UTC seconds unless said otherwise. Public data is open; a member's meter readings, plans, statement and advice need a request signed by that member, the operator or the DSO. " + signed},
		"servers": []any{map[string]any{"url": "/"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"signer":    map[string]any{"type": "apiKey", "in": "header", "name": HeaderSigner, "description": "The signing participant's id."},
				"time":      map[string]any{"type": "apiKey", "in": "header", "name": HeaderTime, "description": "Unix seconds, wall clock."},
				"nonce":     map[string]any{"type": "apiKey", "in": "header", "name": HeaderNonce, "description": "A random nonce, new for each request."},
				"signature": map[string]any{"type": "apiKey", "in": "header", "name": HeaderSignature, "description": signed},
			},
		},
	}
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for part := range strings.SplitSeq(strings.TrimPrefix(path, "/api/"), "/") {
		part = strings.Trim(part, "{}")
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// schemas turns Go types into JSON schemas, named structs as components.
type schemas struct {
	defs map[string]any
	seen map[reflect.Type]string
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func (g *schemas) of(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		inner := g.of(t.Elem())
		if _, isRef := inner["$ref"]; isRef {
			return map[string]any{"allOf": []any{inner}, "nullable": true}
		}
		inner["nullable"] = true
		return inner
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte", "nullable": true}
		}
		// Go encodes a nil slice as null.
		return map[string]any{"type": "array", "items": g.of(t.Elem()), "nullable": true}
	case reflect.Array:
		return map[string]any{"type": "array", "items": g.of(t.Elem()), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem()), "nullable": true}
	case reflect.Struct:
		name, ok := g.seen[t]
		if !ok {
			name = t.Name()
			if _, taken := g.defs[name]; taken || name == "" {
				name = pkgName(t) + t.Name()
			}
			g.seen[t] = name
			g.defs[name] = map[string]any{} // placeholder for recursion
			props, required := map[string]any{}, []string{}
			g.fields(t, props, &required)
			def := map[string]any{"type": "object", "properties": props}
			if len(required) > 0 {
				def["required"] = required
			}
			g.defs[name] = def
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// fields adds a struct's JSON fields, flattening embedded structs as
// encoding/json does: a field of the outer struct hides an embedded one
// of the same name.
func (g *schemas) fields(t reflect.Type, props map[string]any, required *[]string) {
	var embedded []reflect.Type
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case !f.IsExported() && !f.Anonymous, tag == "-":
			continue
		case f.Anonymous && name == "":
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			embedded = append(embedded, ft)
			continue
		case name == "":
			name = f.Name
		}
		props[name] = g.of(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
	for _, ft := range embedded {
		inner, innerReq := map[string]any{}, []string{}
		g.fields(ft, inner, &innerReq)
		for name, sch := range inner {
			if _, hidden := props[name]; !hidden {
				props[name] = sch
			}
		}
		for _, name := range innerReq {
			if !slices.Contains(*required, name) {
				*required = append(*required, name)
			}
		}
	}
}

func pkgName(t reflect.Type) string {
	p := t.PkgPath()
	p = p[strings.LastIndex(p, "/")+1:]
	if p == "" {
		return "X"
	}
	return strings.ToUpper(p[:1]) + p[1:]
}

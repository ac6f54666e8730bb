package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/gridledger/gridledger/internal/api"
	"github.com/gridledger/gridledger/internal/chain"
	"github.com/gridledger/gridledger/internal/contract"
)

// testBatteryPlan: what the member page draws of a battery. h1 registers
// a battery, the DSO approves it, h1 commits a plan with its schedule;
// /api/batteries shows the battery to all, /api/members/h1/plans its
// schedule to h1 (and the DSO), as its OpenAPI schema says, and to
// nobody else.
func testBatteryPlan(t *testing.T, e *env) {
	e.submit(t, e.h1, &contract.MsgRegisterBattery{ID: "h1-bat", CapacityWh: 10_000, MaxChargeW: 5_000, MaxDischargeW: 4_000})
	e.submit(t, e.dso, &contract.MsgApproveBattery{ID: "h1-bat"})
	var bs []contract.Battery
	e.get(t, "/api/batteries", nil, &bs)
	want := contract.Battery{ID: "h1-bat", Owner: "h1", CapacityWh: 10_000, MaxChargeW: 5_000, MaxDischargeW: 4_000, Approved: true, ApprovedBy: "dso"}
	if !slices.Contains(bs, want) {
		t.Fatalf("batteries %+v, want %+v among them", bs, want)
	}

	// A plan four intervals ahead (8 s at 450×), after every live
	// demand-response request (whose intervals are frozen). The last
	// interval keeps the battery idle and empty: still a schedule.
	var in api.Info
	e.get(t, "/api/info", nil, &in)
	start := (in.MarketTime/in.IntervalS + 4) * in.IntervalS
	var drs []contract.DRRequest
	e.get(t, "/api/dr", nil, &drs)
	for _, r := range drs {
		if r.State != contract.DRDone {
			start = max(start, r.End)
		}
	}
	plan := &contract.MsgPlan{Start: start, NetWh: []int64{2500, 800, -1200, 300}, FlexWh: []int64{0, 0, 0, 0},
		BatteryWh: []int64{2000, 0, -3000, 0}, BatterySoCWh: []int64{7400, 7400, 4400, 0}}
	e.submit(t, e.h1, plan)

	path := fmt.Sprintf("/api/members/h1/plans?from=%d&to=%d", start, start+4*in.IntervalS)
	for _, k := range []*chain.Key{&e.h1, &e.dso} {
		var ps []contract.PlanEntry
		res := e.get(t, path, k, &ps)
		if res.StatusCode != http.StatusOK || len(ps) != 4 {
			t.Fatalf("h1's plans signed by %s: %d %+v", k.ID, res.StatusCode, ps)
		}
		for i, p := range ps {
			if p.Member != "h1" || p.Start != start+int64(i)*in.IntervalS || p.NetWh != plan.NetWh[i] ||
				p.BatteryWh != plan.BatteryWh[i] || p.BatterySoCWh != plan.BatterySoCWh[i] || !p.HasBattery {
				t.Errorf("signed by %s: interval %d %+v, want the plan's battery %d Wh, state of charge %d Wh", k.ID, i, p, plan.BatteryWh[i], plan.BatterySoCWh[i])
			}
		}
		if k.ID == "h1" {
			e.validate(t, path, res)
		}
	}
	// The document says what the schedule's fields are.
	props := e.openAPI(t).Components.Schemas["PlanEntry"].Value.Properties
	for name, typ := range map[string]string{"battery_wh": "integer", "battery_soc_wh": "integer", "has_battery": "boolean"} {
		if p := props[name]; p == nil || !p.Value.Type.Is(typ) {
			t.Errorf("the document's PlanEntry.%s is %+v, want %s", name, p, typ)
		}
	}
	var apiErr api.Error
	if res := e.get(t, path, &e.h2, &apiErr); res.StatusCode != http.StatusForbidden || apiErr.Code != contract.CodeWrongRole {
		t.Errorf("h1's plans signed by h2: %d %+v, want 403 wrong_role", res.StatusCode, apiErr)
	}
	if res := e.get(t, path, nil, &apiErr); res.StatusCode != http.StatusUnauthorized || apiErr.Code != contract.CodeBadSignature {
		t.Errorf("h1's plans unsigned: %d %+v, want 401 bad_signature", res.StatusCode, apiErr)
	}
}

// validate checks an answer to GET path against the served OpenAPI
// document.
func (e *env) validate(t *testing.T, path string, res *http.Response) {
	t.Helper()
	router, err := legacy.NewRouter(e.openAPI(t))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.url+path, nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(mustRead(t, res))),
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("GET %s does not match its schema: %v", path, err)
	}
}

// openAPI is the served OpenAPI document, with this server's address.
func (e *env) openAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(mustRead(t, e.get(t, "/api/openapi.json", nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: e.url}}
	return doc
}

func mustRead(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

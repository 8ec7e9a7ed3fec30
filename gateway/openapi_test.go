package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/pb33f/libopenapi/orderedmap"
)

// validateOpenAPI checks the document against the OpenAPI 3.1 schema and
// builds its model (which resolves every $ref).
func validateOpenAPI(raw []byte) (*v3.Document, error) {
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			errs = append(errs, e)
		}
		return nil, errors.Join(errs...)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, err
	}
	return &m.Model, nil
}

// The validator is not a formality: a document that breaks the 3.1 schema fails.
func TestOpenAPIValidatorRefusesInvalid(t *testing.T) {
	raw := OpenAPIDocument(Routes, 1, "")
	broken := bytes.Replace(raw, []byte(`"type":"http"`), []byte(`"type":"htp"`), 1)
	if bytes.Equal(raw, broken) {
		t.Fatal("the bearer scheme is not in the document")
	}
	if _, err := validateOpenAPI(broken); err == nil {
		t.Fatal("a security scheme of type htp passed validation")
	}
}

// Every row of the table, and nothing else, is in the document, described
// as the gateway serves it.
func TestOpenAPIDocument(t *testing.T) {
	checkOpenAPI(t, Routes)
}

func checkOpenAPI(t *testing.T, routes []Route) {
	doc, err := validateOpenAPI(OpenAPIDocument(routes, 42, "0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Version != "3.1.0" || doc.Info.Title != "homebase" || doc.Info.Version != "42+0123456789ab" {
		t.Errorf("openapi %q, info %q version %q; want 3.1.0, homebase, 42+0123456789ab", doc.Version, doc.Info.Title, doc.Info.Version)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != APIPrefix {
		t.Errorf("servers %v, want one, %s", doc.Servers, APIPrefix)
	}
	if len(doc.Security) != 0 {
		t.Errorf("top-level security %v would apply to routes without Auth", doc.Security)
	}
	schemes := doc.Components.SecuritySchemes
	if b := schemes.GetOrZero("bearer"); b == nil || b.Type != "http" || b.Scheme != "bearer" {
		t.Errorf("security scheme bearer %+v, want http bearer", b)
	}
	if c := schemes.GetOrZero("cookie"); c == nil || c.Type != "apiKey" || c.In != "cookie" || c.Name != "__Host-session" {
		t.Errorf("security scheme cookie %+v, want apiKey in cookie __Host-session", c)
	}

	served := map[string]bool{}
	for _, rt := range routes {
		served[strings.ToLower(rt.Method)+" "+rt.Path] = true
		item := doc.Paths.PathItems.GetOrZero(rt.Path)
		if item == nil {
			t.Errorf("%s %s: path missing", rt.Method, rt.Path)
			continue
		}
		op := item.GetOperations().GetOrZero(strings.ToLower(rt.Method))
		if op == nil {
			t.Errorf("%s %s: operation missing", rt.Method, rt.Path)
			continue
		}
		checkOperation(t, rt, op)
	}

	operationIDs := map[string]bool{}
	n := 0
	for path, item := range doc.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			n++
			if !served[method+" "+path] {
				t.Errorf("%s %s is documented but is no route", method, path)
			}
			if operationIDs[op.OperationId] {
				t.Errorf("operationId %s twice", op.OperationId)
			}
			operationIDs[op.OperationId] = true
		}
	}
	if n != len(routes) {
		t.Errorf("%d operations for %d routes", n, len(routes))
	}
}

func checkOperation(t *testing.T, rt Route, op *v3.Operation) {
	where := rt.Method + " " + rt.Path
	if op.Summary == "" || op.Summary != rt.Summary {
		t.Errorf("%s: summary %q, want the route's, %q (which may not be empty)", where, op.Summary, rt.Summary)
	}
	if want := strings.TrimPrefix(rt.Func, "api."); op.OperationId != want {
		t.Errorf("%s: operationId %q, want %q", where, op.OperationId, want)
	}

	var security []string
	for _, req := range op.Security {
		for name := range req.Requirements.KeysFromOldest() {
			security = append(security, name)
		}
	}
	if want := map[bool]string{true: "bearer cookie", false: ""}[rt.Auth]; strings.Join(security, " ") != want {
		t.Errorf("%s: security %v, want %q (Auth %v)", where, security, want, rt.Auth)
	}

	// Parameters: exactly the path and query arguments.
	var wantParams, gotParams, wantFields, gotFields, wantForm []string
	for _, a := range rt.Args {
		switch a.From {
		case FromPath:
			wantParams = append(wantParams, fmt.Sprintf("path %s %s required", a.Name, jsonType(a.Kind)))
		case FromQuery:
			wantParams = append(wantParams, fmt.Sprintf("query %s %s optional", a.Name, jsonType(a.Kind)))
		case FromBody:
			wantFields = append(wantFields, fmt.Sprintf("%s %s,null", a.Name, jsonType(a.Kind)))
		case FromForm:
			wantForm = append(wantForm, fmt.Sprintf("%s %s", a.Name, jsonType(a.Kind)))
		}
	}
	for _, p := range op.Parameters {
		required := map[bool]string{true: "required", false: "optional"}[p.Required != nil && *p.Required]
		gotParams = append(gotParams, fmt.Sprintf("%s %s %s %s", p.In, p.Name, strings.Join(p.Schema.Schema().Type, ","), required))
	}
	slices.Sort(wantParams)
	slices.Sort(gotParams)
	if !slices.Equal(gotParams, wantParams) {
		t.Errorf("%s: parameters %q, want %q", where, gotParams, wantParams)
	}

	// Body: exactly the body arguments, nullable, and nothing else accepted;
	// or a form's fields, in either form encoding.
	if op.RequestBody == nil {
		if len(wantFields)+len(wantForm) > 0 {
			t.Errorf("%s: no request body, want one with %q%q", where, wantFields, wantForm)
		}
	} else if len(wantForm) > 0 {
		for _, mt := range []string{formURLEncoded, formMultipart} {
			m := op.RequestBody.Content.GetOrZero(mt)
			if m == nil {
				t.Errorf("%s: no %s body", where, mt)
				continue
			}
			var got []string
			for name, p := range m.Schema.Schema().Properties.FromOldest() {
				got = append(got, name+" "+strings.Join(p.Schema().Type, ","))
			}
			slices.Sort(got)
			slices.Sort(wantForm)
			if !slices.Equal(got, wantForm) {
				t.Errorf("%s: %s fields %q, want %q", where, mt, got, wantForm)
			}
		}
		if jsonContent(op.RequestBody.Content) != nil {
			t.Errorf("%s: a form route documents a JSON body", where)
		}
	} else {
		schema := jsonContent(op.RequestBody.Content).Schema.Schema()
		for name, p := range schema.Properties.FromOldest() {
			gotFields = append(gotFields, name+" "+strings.Join(p.Schema().Type, ","))
		}
		slices.Sort(wantFields)
		slices.Sort(gotFields)
		if !slices.Equal(gotFields, wantFields) {
			t.Errorf("%s: body members %q, want %q", where, gotFields, wantFields)
		}
		if ap := schema.AdditionalProperties; ap == nil || !ap.IsB() || ap.B {
			t.Errorf("%s: the body schema allows unknown members, which the gateway refuses", where)
		}
		checkBodySchema(t, where, rt, schema)
	}

	// Responses: the success as the route has it; every other one an Error.
	success := op.Responses.Codes.GetOrZero(strconv.Itoa(rt.Status))
	if success == nil {
		t.Errorf("%s: no %d response", where, rt.Status)
	} else if hasContent := jsonContent(success.Content) != nil; hasContent != (rt.Status != 204) {
		t.Errorf("%s: %d response has JSON content: %v", where, rt.Status, hasContent)
	}
	for code, r := range op.Responses.Codes.FromOldest() {
		if code == strconv.Itoa(rt.Status) {
			continue
		}
		mt := jsonContent(r.Content)
		if mt == nil || mt.Schema.GetReference() != "#/components/schemas/Error" {
			t.Errorf("%s: %s response is not an Error", where, code)
		}
	}
}

// jsonContent is the application/json member of a content map, or nil.
func jsonContent(content *orderedmap.Map[string, *v3.MediaType]) *v3.MediaType {
	if content == nil {
		return nil
	}
	return content.GetOrZero("application/json")
}

func jsonType(k Kind) string {
	return map[Kind]string{Text: "string", Int: "integer", Number: "number", UUID: "string"}[k]
}

// checkBodySchema: the body schema accepts what readBody accepts (members
// absent or null) and refuses what it refuses (unknown members, wrong types).
func checkBodySchema(t *testing.T, where string, rt Route, schema *base.Schema) {
	sv := schema_validation.NewSchemaValidator()
	nulls := map[string]any{}
	for _, a := range rt.Args {
		if a.From != FromBody {
			continue
		}
		nulls[a.Name] = nil
		wrong := map[Kind]any{Text: 1, Int: "1", Number: "1"}[a.Kind]
		if ok, _ := sv.ValidateSchemaObject(schema, map[string]any{a.Name: wrong}); ok {
			t.Errorf("%s: body schema accepts %s = %#v", where, a.Name, wrong)
		}
	}
	for _, payload := range []map[string]any{{}, nulls} {
		if ok, errs := sv.ValidateSchemaObject(schema, payload); !ok {
			t.Errorf("%s: body schema refuses %v: %v", where, payload, errs)
		}
	}
	if ok, _ := sv.ValidateSchemaObject(schema, map[string]any{"no_such_member": "x"}); ok {
		t.Errorf("%s: body schema accepts an unknown member", where)
	}
}

// The error responses follow from what each route takes; spelled out here
// for the table as it is.
func TestOpenAPIErrorResponses(t *testing.T) {
	doc, err := validateOpenAPI(OpenAPIDocument(Routes, 1, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path, statuses string
		codes                  map[string]string // status → its description
	}{
		{"get", "/availability", "200 400 414 422 429 431 500 503 504", nil},
		{"post", "/accounts", "201 400 409 413 414 415 422 429 431 500 503 504",
			map[string]string{"409": "Conflict: USERNAME_TAKEN, EMAIL_TAKEN"}},
		{"post", "/sessions", "201 400 401 413 414 415 422 429 431 500 503 504",
			map[string]string{"401": "Unauthorized: INVALID_CREDENTIALS"}},
		{"get", "/session", "200 400 401 403 414 431 500 503 504",
			map[string]string{"401": "Unauthorized: UNAUTHENTICATED, INVALID, EXPIRED, BROWSER", "403": "Forbidden: FORBIDDEN"}},
		{"delete", "/sessions/{id}", "204 400 401 403 404 414 431 500 503 504",
			map[string]string{"403": "Forbidden: FORBIDDEN, CSRF"}},
		{"put", "/account/password", "204 400 401 403 413 414 415 422 429 431 500 503 504",
			map[string]string{"401": "Unauthorized: UNAUTHENTICATED, INVALID, EXPIRED, BROWSER, INVALID_CREDENTIALS"}},
		{"delete", "/account", "204 400 401 403 413 414 415 422 429 431 500 503 504", nil},
		{"post", "/unsubscribe", "200 400 413 414 415 422 429 431 500 503 504",
			map[string]string{"400": "Bad Request: BAD_REQUEST, INVALID_TOKEN"}},
	} {
		item := doc.Paths.PathItems.GetOrZero(c.path)
		if item == nil || item.GetOperations().GetOrZero(c.method) == nil {
			t.Errorf("%s %s: not in the document", c.method, c.path)
			continue
		}
		op := item.GetOperations().GetOrZero(c.method)
		var got []string
		for code := range op.Responses.Codes.KeysFromOldest() {
			got = append(got, code)
		}
		slices.Sort(got)
		if strings.Join(got, " ") != c.statuses {
			t.Errorf("%s %s: responses %v, want %s", c.method, c.path, got, c.statuses)
		}
		for status, want := range c.codes {
			if d := op.Responses.Codes.GetOrZero(status).Description; d != want {
				t.Errorf("%s %s: %s is %q, want %q", c.method, c.path, status, d, want)
			}
		}
		if r := op.Responses.Codes.GetOrZero("429"); r != nil && r.Headers.GetOrZero("Retry-After") == nil {
			t.Errorf("%s %s: 429 without Retry-After", c.method, c.path)
		}
	}
	login := doc.Paths.PathItems.GetOrZero("/sessions").Post.Responses.Codes.GetOrZero("201")
	if login.Headers.GetOrZero("Set-Cookie") == nil {
		t.Error("the login's 201 does not mention Set-Cookie")
	} else if d := login.Headers.GetOrZero("Set-Cookie").Description; !strings.HasPrefix(d, "__Host-session=<token>; Path=/;") ||
		!strings.Contains(d, "session=<token>, without Secure") {
		t.Errorf("the login's Set-Cookie %q does not name __Host-session, and session for COOKIE_SECURE=false", d)
	}
}

// components.schemas.Error describes what writeError writes, and nothing looser.
func TestOpenAPIErrorSchema(t *testing.T) {
	doc, err := validateOpenAPI(OpenAPIDocument(Routes, 1, ""))
	if err != nil {
		t.Fatal(err)
	}
	schema := doc.Components.Schemas.GetOrZero("Error").Schema()
	sv := schema_validation.NewSchemaValidator()

	withHint, _ := errorFromDB(t.Context(), &pgconn.PgError{Code: "PT409", Message: "taken",
		Detail: `{"code": "EMAIL_TAKEN"}`, Hint: "log in instead"})
	for _, e := range []*apiError{
		newError(422, "some fields are invalid", map[string]string{"email": "required"}),
		newError(404, "not found", nil),
		withHint,
	} {
		w := httptest.NewRecorder()
		writeError(w, e)
		if ok, errs := sv.ValidateSchemaBytes(schema, w.Body.Bytes()); !ok {
			t.Errorf("error body %s does not match the schema: %v", w.Body, errs)
		}
	}
	for _, bad := range []string{
		`{"code": "NOT_FOUND", "message": "not found"}`,
		`{"code": "NOT_FOUND", "message": "not found", "details": null, "hint": 1}`,
		`{"code": "not_found", "message": "not found", "details": null, "hint": null}`,
		`{"code": "NOT_FOUND", "message": "not found", "details": null, "hint": null, "extra": 1}`,
	} {
		if ok, _ := sv.ValidateSchemaBytes(schema, []byte(bad)); ok {
			t.Errorf("the Error schema accepts %s", bad)
		}
	}
}

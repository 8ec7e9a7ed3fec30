package e2e

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"homebase/gateway"
	"homebase/sql/code"
	"homebase/sql/migrations"
)

// openAPIDoc is the part of the OpenAPI document these tests read.
type openAPIDoc struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title   string `json:"title"`
		Version string `json:"version"`
	} `json:"info"`
	Servers []struct {
		URL string `json:"url"`
	} `json:"servers"`
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

// openAPI fetches the gateway's document and lists its operations as
// "METHOD /path", sorted.
func (g *testGateway) openAPI(t *testing.T) (openAPIDoc, []string) {
	t.Helper()
	r := g.do(req{Method: "GET", Path: "/openapi.json"})
	expect(t, r, 200, "")
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	var doc openAPIDoc
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	var ops []string
	for path, item := range doc.Paths {
		for method := range item {
			ops = append(ops, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(ops)
	return doc, ops
}

func routeList(routes []gateway.Route) []string {
	var out []string
	for _, rt := range routes {
		out = append(out, rt.Method+" "+rt.Path)
	}
	slices.Sort(out)
	return out
}

// The document lists the route table, and each operation in it reaches a
// route of the gateway at the server URL it names.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	doc, ops := g.openAPI(t)
	// The schema version, and the package's digest as /readyz shortens it.
	version := strconv.Itoa(int(migrations.Latest())) + "+" + code.Digest()[:12]
	if doc.OpenAPI != "3.1.0" || doc.Info.Title != "homebase" || doc.Info.Version != version {
		t.Errorf("openapi %q, title %q, version %q; want 3.1.0, homebase, %s",
			doc.OpenAPI, doc.Info.Title, doc.Info.Version, version)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != gateway.APIPrefix {
		t.Fatalf("servers %v, want one, %s", doc.Servers, gateway.APIPrefix)
	}
	if want := routeList(gateway.Routes); !slices.Equal(ops, want) {
		t.Fatalf("operations %q, want the route table's, %q", ops, want)
	}

	// Anonymous requests without a body: each is refused (401, 422, …) or
	// answered, but none gets the answer to a path the gateway has no route for.
	base := "/" + doc.Servers[0].URL
	noRoute := g.do(req{Method: "GET", Path: base + "/no/such/route"})
	expect(t, noRoute, 404, "NOT_FOUND")
	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, op := range ops {
		method, path, _ := strings.Cut(op, " ")
		r := g.do(req{Method: method, Path: base + param.ReplaceAllString(path, "1"), IP: uniqueIP()})
		if r.Status == 405 || bytes.Equal(r.Body, noRoute.Body) {
			t.Errorf("%s: %d %s, as if the gateway had no such route", op, r.Status, r.Body)
		}
	}
}

// The document is that of the table the Server serves, not of the package's.
func TestOpenAPIDocumentFollowsServerRoutes(t *testing.T) {
	t.Parallel()
	served := gateway.Routes[:2]
	g := startServer(t, nil, func(s *gateway.Server) { s.Routes = served })
	if _, ops := g.openAPI(t); !slices.Equal(ops, routeList(served)) {
		t.Fatalf("operations %q, want %q", ops, routeList(served))
	}
}

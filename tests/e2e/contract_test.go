package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/mux"

	"homebase/gateway"
)

// Every answer of an API route that any e2e test receives is checked against
// the OpenAPI document the gateway serves (gateway.OpenAPIDocument): its
// status must be one the route documents, and an error's code one of those
// the document names for that status. So the document cannot fall behind
// what the functions raise, unnoticed. TestMain runs the check after the
// tests; a request to no route (404, 405 of the router) is not a route's.

// answered records one answer, by route template and method.
type answered struct {
	route, method string
	status        int
	code          string // the error body's code; "" for a success
}

var (
	answersMu sync.Mutex
	answers   = map[answered]string{} // → an example request, for the report
)

// contractRouter matches a request to its route template, as the gateway does.
var contractRouter = sync.OnceValue(func() *mux.Router {
	r := mux.NewRouter()
	for _, rt := range gateway.Routes {
		r.Handle(gateway.APIPrefix+rt.Path, http.NotFoundHandler()).Methods(rt.Method).Name(rt.Method + " " + rt.Path)
	}
	return r
})

// recordAnswer notes an answer to method path (the path under the API prefix).
func recordAnswer(method, path string, status int, body []byte) {
	req := httptest.NewRequest(method, "http://gateway"+gateway.APIPrefix+strings.SplitN(path, "?", 2)[0], nil)
	var m mux.RouteMatch
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || !contractRouter().Match(req, &m) || m.Route == nil {
		return
	}
	tmpl, _ := m.Route.GetPathTemplate()
	a := answered{route: strings.TrimPrefix(tmpl, gateway.APIPrefix), method: method, status: status}
	if status >= 400 {
		var e struct {
			Code string `json:"code"`
		}
		json.Unmarshal(body, &e)
		a.code = e.Code
	}
	answersMu.Lock()
	defer answersMu.Unlock()
	if _, ok := answers[a]; !ok {
		answers[a] = method + " " + path
	}
}

// undocumentedAnswers lists the answers the document does not describe.
func undocumentedAnswers() ([]string, error) {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Description string `json:"description"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(gateway.OpenAPIDocument(gateway.Routes, 0, ""), &doc); err != nil {
		return nil, err
	}
	answersMu.Lock()
	defer answersMu.Unlock()
	var out []string
	for a, example := range answers {
		op, ok := doc.Paths[a.route][strings.ToLower(a.method)]
		if !ok {
			out = append(out, fmt.Sprintf("%s %s: no such operation in the document (%s)", a.method, a.route, example))
			continue
		}
		r, ok := op.Responses[strconv.Itoa(a.status)]
		if !ok {
			out = append(out, fmt.Sprintf("%s %s answered %d %s, which it does not document (%s)", a.method, a.route,
				a.status, a.code, example))
			continue
		}
		// An error's description is "Reason: CODE, CODE, …".
		if a.status >= 400 {
			_, codes, _ := strings.Cut(r.Description, ": ")
			if !slices.Contains(strings.Split(codes, ", "), a.code) {
				out = append(out, fmt.Sprintf("%s %s answered %d %s; it documents %s (%s)", a.method, a.route,
					a.status, a.code, codes, example))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"homebase/gateway"
)

// Goals and their entries (docs/api.md, "Tracking: goals"): private to their
// account, progress and percent computed in SQL, completed_at kept by the
// database.

// numbers decodes a JSON body keeping numbers as their exact text (json.Number).
func numbers(t *testing.T, r resp) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return v
}

// num is the member key of m as a JSON number's text; "null" for null.
func num(t *testing.T, m map[string]any, key string) string {
	t.Helper()
	switch v := m[key].(type) {
	case nil:
		return "null"
	case json.Number:
		return string(v)
	default:
		t.Fatalf("%s is %T (%v), want a JSON number or null", key, m[key], m[key])
		return ""
	}
}

// createGoal posts a goal and answers its JSON.
func (o sessionUser) createGoal(t *testing.T, g *testGateway, body map[string]any) map[string]any {
	t.Helper()
	r := o.call(g, "POST", "/goals", body)
	expect(t, r, 201, "")
	return obj(t, numbers(t, r), "goal")
}

// addEntry posts an entry to the goal and answers its JSON.
func (o sessionUser) addEntry(t *testing.T, g *testGateway, goalID string, body map[string]any) map[string]any {
	t.Helper()
	r := o.call(g, "POST", "/goals/"+goalID+"/entries", body)
	expect(t, r, 201, "")
	return obj(t, numbers(t, r), "entry")
}

// getGoal reads the goal as its owner.
func (o sessionUser) getGoal(t *testing.T, g *testGateway, goalID string) map[string]any {
	t.Helper()
	r := o.call(g, "GET", "/goals/"+goalID, nil)
	expect(t, r, 200, "")
	body := numbers(t, r)
	expectKeys(t, "GET /goals/{id} answer", body, "goal")
	return obj(t, body, "goal")
}

var dateRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d$`)

// expectGoal checks the goal JSON's members and types.
func expectGoal(t *testing.T, goal map[string]any) {
	t.Helper()
	expectKeys(t, "goal", goal, "id", "title", "description", "target_amount", "unit", "due_date", "created_at",
		"completed_at", "progress", "percent")
	if id, err := goal["id"].(json.Number).Int64(); err != nil || id < 1 {
		t.Fatalf("goal id %v is not a positive integer", goal["id"])
	}
	num(t, goal, "target_amount")
	num(t, goal, "progress")
	num(t, goal, "percent")
	timestamp(t, goal["created_at"])
	if goal["completed_at"] != nil {
		timestamp(t, goal["completed_at"])
	}
	if d, ok := goal["due_date"].(string); goal["due_date"] != nil && (!ok || !dateRE.MatchString(d)) {
		t.Fatalf("due_date %v is not YYYY-MM-DD", goal["due_date"])
	}
}

// expectEntry checks the entry JSON's members and types.
func expectEntry(t *testing.T, entry map[string]any, goalID string) {
	t.Helper()
	expectKeys(t, "entry", entry, "id", "goal_id", "amount", "note", "occurred_at", "created_at")
	if id, err := entry["id"].(json.Number).Int64(); err != nil || id < 1 {
		t.Fatalf("entry id %v is not a positive integer", entry["id"])
	}
	if num(t, entry, "goal_id") != goalID {
		t.Fatalf("entry goal_id %v, want %s", entry["goal_id"], goalID)
	}
	num(t, entry, "amount")
	timestamp(t, entry["occurred_at"])
	timestamp(t, entry["created_at"])
}

func TestGoalsCreateReadUpdateDelete(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	before := time.Now()

	r := o.call(g, "GET", "/goals", nil)
	expect(t, r, 200, "")
	expectKeys(t, "GET /goals answer", r.JSON(t), "goals")
	if n := len(r.JSON(t)["goals"].([]any)); n != 0 {
		t.Fatalf("a new account has %d goals", n)
	}

	r = o.call(g, "POST", "/goals", map[string]any{"title": "Read 12 books", "description": "one a month",
		"target_amount": 12, "unit": "books", "due_date": "2026-12-31"})
	expect(t, r, 201, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	body := numbers(t, r)
	expectKeys(t, "POST /goals answer", body, "goal")
	books := obj(t, body, "goal")
	expectGoal(t, books)
	for k, want := range map[string]any{"title": "Read 12 books", "description": "one a month", "unit": "books",
		"due_date": "2026-12-31", "completed_at": nil} {
		if books[k] != want {
			t.Fatalf("goal %s = %v, want %v", k, books[k], want)
		}
	}
	if num(t, books, "target_amount") != "12" || num(t, books, "progress") != "0" || num(t, books, "percent") != "0.0" {
		t.Fatalf("new goal %v: want target 12, progress 0, percent 0.0", books)
	}
	near(t, "created_at", timestamp(t, books["created_at"]), before, 5*time.Minute)
	id := num(t, books, "id")

	// Only a title: the rest is empty or null.
	bare := o.createGoal(t, g, map[string]any{"title": "Juggle"})
	expectGoal(t, bare)
	if bare["description"] != "" || bare["unit"] != nil || bare["due_date"] != nil || bare["target_amount"] != nil ||
		bare["percent"] != nil || num(t, bare, "progress") != "0" {
		t.Fatalf("a goal with only a title: %v", bare)
	}

	if got := o.getGoal(t, g, id); fmt.Sprint(got) != fmt.Sprint(books) {
		t.Fatalf("GET /goals/%s = %v, want %v", id, got, books)
	}

	// PATCH: the given members change, the others stay; "" clears unit and due_date.
	r = o.call(g, "PATCH", "/goals/"+id, map[string]any{"title": "Read 10 books", "target_amount": 10})
	expect(t, r, 200, "")
	patched := obj(t, numbers(t, r), "goal")
	expectGoal(t, patched)
	if patched["title"] != "Read 10 books" || num(t, patched, "target_amount") != "10" || patched["description"] != "one a month" ||
		patched["due_date"] != "2026-12-31" || patched["unit"] != "books" {
		t.Fatalf("PATCH title and target gave %v", patched)
	}
	r = o.call(g, "PATCH", "/goals/"+id, map[string]any{"unit": "", "due_date": "", "description": nil})
	expect(t, r, 200, "")
	if p := obj(t, numbers(t, r), "goal"); p["unit"] != nil || p["due_date"] != nil || p["description"] != "one a month" {
		t.Fatalf("PATCH unit and due_date \"\" gave %v", p)
	}
	expect(t, o.call(g, "PATCH", "/goals/"+id, nil), 200, "") // no body: nothing changes

	// GET /goals: open ones first, then by due date (none last).
	soon := o.createGoal(t, g, map[string]any{"title": "Soon", "due_date": "2026-01-15"})
	done := o.createGoal(t, g, map[string]any{"title": "Done", "target_amount": 1, "due_date": "2025-01-01"})
	o.addEntry(t, g, num(t, done, "id"), map[string]any{"amount": 1})
	r = o.call(g, "GET", "/goals", nil)
	expect(t, r, 200, "")
	var titles []string
	for _, x := range numbers(t, r)["goals"].([]any) {
		expectGoal(t, x.(map[string]any))
		titles = append(titles, x.(map[string]any)["title"].(string))
	}
	// (Both goals without a due date are open: the newer first.)
	if want := []string{soon["title"].(string), "Juggle", "Read 10 books", "Done"}; fmt.Sprint(titles) != fmt.Sprint(want) {
		t.Fatalf("GET /goals order %v, want %v: open ones by due date (none last), then the completed one", titles, want)
	}

	// DELETE: 204 without a body, then 404.
	r = o.call(g, "DELETE", "/goals/"+id, nil)
	expect(t, r, 204, "")
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %s", r.Body)
	}
	r = o.call(g, "GET", "/goals/"+id, nil)
	expect(t, r, 404, "NOT_FOUND")
	expectErrorBody(t, r)
	expect(t, o.call(g, "DELETE", "/goals/"+id, nil), 404, "NOT_FOUND")
	expect(t, o.call(g, "PATCH", "/goals/"+id, map[string]any{"title": "x"}), 404, "NOT_FOUND")
}

func TestGoalEntriesAndProgress(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	goal := o.createGoal(t, g, map[string]any{"title": "Save", "target_amount": 1, "unit": "EUR"})
	id := num(t, goal, "id")

	// Exact decimals: 0.1 + 0.2 is 0.3, and 15 significant digits survive (float64 would not keep either).
	e1 := o.addEntry(t, g, id, map[string]any{"amount": json.Number("0.1"), "note": "coins"})
	expectEntry(t, e1, id)
	if num(t, e1, "amount") != "0.1" || e1["note"] != "coins" {
		t.Fatalf("entry %v", e1)
	}
	near(t, "occurred_at (default now)", timestamp(t, e1["occurred_at"]), time.Now(), 5*time.Minute)
	e2 := o.addEntry(t, g, id, map[string]any{"amount": json.Number("0.2"), "occurred_at": "2026-01-02T03:04:05.123456+02:00"})
	if e2["occurred_at"] != "2026-01-02T01:04:05.123456Z" || e2["note"] != "" {
		t.Fatalf("occurred_at with an offset is answered in UTC, note defaults to empty: %v", e2)
	}
	got := o.getGoal(t, g, id)
	if num(t, got, "progress") != "0.3" || num(t, got, "percent") != "30.0" || got["completed_at"] != nil {
		t.Fatalf("after 0.1 + 0.2 of 1: %v", got)
	}

	// A note alone (no amount) counts nothing.
	e3 := o.addEntry(t, g, id, map[string]any{"note": "just a thought"})
	if e3["amount"] != nil {
		t.Fatalf("entry without amount: %v", e3)
	}

	// Reaching the target sets completed_at; a correction below it unsets it.
	e4 := o.addEntry(t, g, id, map[string]any{"amount": json.Number("0.7")})
	got = o.getGoal(t, g, id)
	if num(t, got, "progress") != "1.0" || num(t, got, "percent") != "100.0" || got["completed_at"] == nil {
		t.Fatalf("at the target: %v", got)
	}
	completed := got["completed_at"]
	e5 := o.addEntry(t, g, id, map[string]any{"amount": json.Number("123456789012345.5")})
	if num(t, e5, "amount") != "123456789012345.5" {
		t.Fatalf("amount %v, want 123456789012345.5 exactly", e5["amount"])
	}
	if got = o.getGoal(t, g, id); got["completed_at"] != completed {
		t.Fatalf("going beyond the target moved completed_at from %v to %v", completed, got["completed_at"])
	}
	r := o.call(g, "PATCH", fmt.Sprintf("/goals/%s/entries/%s", id, num(t, e5, "id")), map[string]any{"amount": -1, "note": "typo"})
	expect(t, r, 200, "")
	patched := obj(t, numbers(t, r), "entry")
	expectEntry(t, patched, id)
	if num(t, patched, "amount") != "-1" || patched["note"] != "typo" || patched["occurred_at"] != e5["occurred_at"] {
		t.Fatalf("PATCH amount and note gave %v", patched)
	}
	if got = o.getGoal(t, g, id); got["completed_at"] != nil || num(t, got, "progress") != "0.0" {
		t.Fatalf("after a correction below the target: %v", got)
	}
	expect(t, o.call(g, "DELETE", fmt.Sprintf("/goals/%s/entries/%s", id, num(t, e5, "id")), nil), 204, "")
	if got = o.getGoal(t, g, id); got["completed_at"] == nil || num(t, got, "progress") != "1.0" {
		t.Fatalf("after removing the correction: %v", got)
	}
	expect(t, o.call(g, "DELETE", fmt.Sprintf("/goals/%s/entries/%s", id, num(t, e4, "id")), nil), 204, "")
	if got = o.getGoal(t, g, id); got["completed_at"] != nil || num(t, got, "percent") != "30.0" {
		t.Fatalf("removing an entry so progress falls below the target: %v", got)
	}
	expect(t, o.call(g, "DELETE", fmt.Sprintf("/goals/%s/entries/%s", id, num(t, e4, "id")), nil), 404, "NOT_FOUND")
	expect(t, o.call(g, "PATCH", fmt.Sprintf("/goals/%s/entries/%s", id, num(t, e4, "id")), map[string]any{"note": "x"}), 404, "NOT_FOUND")

	// PATCH the target: reaching or leaving it moves completed_at.
	r = o.call(g, "PATCH", "/goals/"+id, map[string]any{"target_amount": json.Number("0.25")})
	expect(t, r, 200, "")
	if p := obj(t, numbers(t, r), "goal"); p["completed_at"] == nil || num(t, p, "percent") != "120.0" {
		t.Fatalf("lowering the target under the progress: %v", p)
	}
	r = o.call(g, "PATCH", "/goals/"+id, map[string]any{"target_amount": 3})
	expect(t, r, 200, "")
	if p := obj(t, numbers(t, r), "goal"); p["completed_at"] != nil || num(t, p, "percent") != "10.0" {
		t.Fatalf("raising the target over the progress: %v", p)
	}

	// GET entries: newest first (occurred_at, then id).
	r = o.call(g, "GET", "/goals/"+id+"/entries", nil)
	expect(t, r, 200, "")
	body := numbers(t, r)
	expectKeys(t, "GET /goals/{id}/entries answer", body, "entries", "next")
	var ids []string
	for _, x := range body["entries"].([]any) {
		expectEntry(t, x.(map[string]any), id)
		ids = append(ids, num(t, x.(map[string]any), "id"))
	}
	if want := []string{num(t, e3, "id"), num(t, e1, "id"), num(t, e2, "id")}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("entries %v, want %v (newest first)", ids, want)
	}
	if body["next"] != nil {
		t.Fatalf("one page, next %v", body["next"])
	}
}

// Bad input is a 4xx with the error shape, never a 500: wrong JSON types
// (400, from the gateway), bad values (422 per field, from SQL).
func TestGoalsValidation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	id := num(t, o.createGoal(t, g, map[string]any{"title": "Valid", "target_amount": 5}), "id")
	entry := num(t, o.addEntry(t, g, id, map[string]any{"amount": 1}), "id")
	goalPath, entriesPath, entryPath := "/goals/"+id, "/goals/"+id+"/entries", "/goals/"+id+"/entries/"+entry

	for _, c := range []refusal{
		{"POST", "/goals", map[string]any{}, 422, []string{"title"}},
		{"POST", "/goals", map[string]any{"title": ""}, 422, []string{"title"}},
		{"POST", "/goals", map[string]any{"title": "   "}, 422, []string{"title"}},
		{"POST", "/goals", map[string]any{"title": strings.Repeat("t", 201)}, 422, []string{"title"}},
		{"POST", "/goals", map[string]any{"title": "x", "description": strings.Repeat("d", 2001)}, 422, []string{"description"}},
		{"POST", "/goals", map[string]any{"title": "x", "target_amount": 0}, 422, []string{"target_amount"}},
		{"POST", "/goals", map[string]any{"title": "x", "target_amount": -3}, 422, []string{"target_amount"}},
		{"POST", "/goals", map[string]any{"title": "x", "target_amount": 1e15}, 422, []string{"target_amount"}},
		{"POST", "/goals", map[string]any{"title": "x", "unit": strings.Repeat("u", 33)}, 422, []string{"unit"}},
		{"POST", "/goals", map[string]any{"title": "x", "due_date": "2026-02-30"}, 422, []string{"due_date"}},
		{"POST", "/goals", map[string]any{"title": "x", "due_date": "31.12.2026"}, 422, []string{"due_date"}},
		{"POST", "/goals", map[string]any{"title": "x", "due_date": "tomorrow"}, 422, []string{"due_date"}},
		{"POST", "/goals", map[string]any{"title": "", "target_amount": 0, "due_date": "x"}, 422, []string{"title", "target_amount", "due_date"}},
		{"POST", "/goals", map[string]any{"title": 7}, 400, []string{"title"}},
		{"POST", "/goals", map[string]any{"title": "x", "target_amount": "12"}, 400, []string{"target_amount"}},
		{"POST", "/goals", map[string]any{"title": "x", "target_amount": true}, 400, []string{"target_amount"}},
		{"POST", "/goals", `{"title": "x", "target_amount": 1e400}`, 400, []string{"target_amount"}},
		{"POST", "/goals", `{"title": "x", "target_amount": 1e-400}`, 400, []string{"target_amount"}},
		{"POST", "/goals", map[string]any{"title": "x", "due_date": 20261231}, 400, []string{"due_date"}},
		{"POST", "/goals", map[string]any{"title": "x", "progress": 3}, 400, []string{"progress"}},
		{"PATCH", goalPath, map[string]any{"title": ""}, 422, []string{"title"}},
		{"PATCH", goalPath, map[string]any{"target_amount": 0, "due_date": "2026-13-01"}, 422, []string{"target_amount", "due_date"}},
		{"PATCH", goalPath, map[string]any{"target_amount": "5"}, 400, []string{"target_amount"}},
		{"POST", entriesPath, map[string]any{"amount": 1e15}, 422, []string{"amount"}},
		{"POST", entriesPath, map[string]any{"amount": -1e15}, 422, []string{"amount"}},
		{"POST", entriesPath, map[string]any{"note": strings.Repeat("n", 2001)}, 422, []string{"note"}},
		{"POST", entriesPath, map[string]any{"occurred_at": "2026-05-01"}, 422, []string{"occurred_at"}},
		{"POST", entriesPath, map[string]any{"occurred_at": "2026-05-01T08:00:00"}, 422, []string{"occurred_at"}},
		{"POST", entriesPath, map[string]any{"occurred_at": "now"}, 422, []string{"occurred_at"}},
		{"POST", entriesPath, map[string]any{"occurred_at": "2026-02-30T08:00:00Z"}, 422, []string{"occurred_at"}},
		{"POST", entriesPath, map[string]any{"amount": "1"}, 400, []string{"amount"}},
		{"POST", entriesPath, map[string]any{"amount": []int{1}}, 400, []string{"amount"}},
		{"POST", entriesPath, map[string]any{"occurred_at": 1700000000}, 400, []string{"occurred_at"}},
		{"PATCH", entryPath, map[string]any{"occurred_at": "yesterday"}, 422, []string{"occurred_at"}},
		{"PATCH", entryPath, map[string]any{"amount": false}, 400, []string{"amount"}},
		{"PATCH", entryPath, map[string]any{"goal_id": 1}, 400, []string{"goal_id"}},
	} {
		expectRefused(t, c, o.call(g, c.method, c.path, c.body))
	}

	// Malformed path ids are a 400 naming the parameter.
	for _, c := range []struct{ method, path string }{
		{"GET", "/goals/0"}, {"GET", "/goals/abc"}, {"PATCH", "/goals/-1"}, {"DELETE", "/goals/99999999999999999999"},
		{"GET", "/goals/x/entries"}, {"DELETE", "/goals/" + id + "/entries/0"}, {"PATCH", "/goals/" + id + "/entries/1.5"},
	} {
		r := o.call(g, c.method, c.path, nil)
		expect(t, r, 400, "BAD_REQUEST")
		expectErrorBody(t, r)
	}
	// Nothing of the above changed the goal or its entry.
	got := o.getGoal(t, g, id)
	if got["title"] != "Valid" || num(t, got, "target_amount") != "5" || num(t, got, "progress") != "1" {
		t.Fatalf("refused requests changed the goal: %v", got)
	}
	var n int
	if err := owner.QueryRow(context.Background(), "SELECT count(*) FROM tracking.goals WHERE account_id = $1",
		int64(o.ID)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("refused requests left %d goals (%v), want 1", n, err)
	}
}

// ownerOnlyRoutes are the routes that reach one account's private rows by
// path: every route that needs a token and holds a {…} path parameter under
// /goals or /trackers. A new route there joins the walk below by this rule.
func ownerOnlyRoutes() []gateway.Route {
	var out []gateway.Route
	for _, rt := range gateway.Routes {
		private := strings.HasPrefix(rt.Path, "/goals/") || strings.HasPrefix(rt.Path, "/trackers/")
		if rt.Auth && private && strings.Contains(rt.Path, "{") {
			out = append(out, rt)
		}
	}
	return out
}

// Every owner-only route, called by another account with the owner's real
// ids, answers 404 NOT_FOUND exactly as for ids that do not exist, and
// changes nothing; the owner's own calls with the same ids are not 404s.
func TestGoalsOwnerOnlyRoutes(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	stranger := g.sessionUser(t)
	goal := o.createGoal(t, g, map[string]any{"title": "Private", "target_amount": 10})
	entry := o.addEntry(t, g, num(t, goal, "id"), map[string]any{"amount": 3, "note": "mine"})
	// A note tracker (so that an empty log is a valid one) with a log.
	tracker := o.createTracker(t, g, map[string]any{"name": "Private", "type": "note"})
	trackerLog := o.addLog(t, g, num(t, tracker, "id"), map[string]any{"note": "mine"})
	// The stranger has a goal and a tracker of its own, so that "no rows at all" is not what answers 404.
	stranger.createGoal(t, g, map[string]any{"title": "Other"})
	stranger.createTracker(t, g, map[string]any{"name": "Other", "type": "note"})

	// Path parameter values per collection: the owner's real ids, and ids that exist nowhere.
	real := map[string]map[string]string{
		"goals":    {"id": num(t, goal, "id"), "entry_id": num(t, entry, "id")},
		"trackers": {"id": num(t, tracker, "id"), "log_id": num(t, trackerLog, "id")},
	}
	missing := map[string]string{"id": "999999999999", "entry_id": "999999999999", "log_id": "999999999999"}

	routes := ownerOnlyRoutes()
	if len(routes) < 15 {
		t.Fatalf("only %d owner-only routes in the table", len(routes))
	}
	for _, rt := range routes {
		collection := strings.SplitN(strings.TrimPrefix(rt.Path, "/"), "/", 2)[0]
		vals, ok := real[collection]
		if !ok {
			t.Errorf("%s %s: no fixture for /%s in this test; add one to real", rt.Method, rt.Path, collection)
			continue
		}
		for _, a := range rt.Args {
			if _, ok := vals[a.Name]; a.From == gateway.FromPath && !ok {
				t.Errorf("%s %s: no fixture value for {%s}", rt.Method, rt.Path, a.Name)
			}
		}
		var body any
		for _, a := range rt.Args {
			if a.From == gateway.FromBody {
				body = map[string]any{} // valid for every route (PATCH nothing, an empty entry)
			}
		}
		r := stranger.call(g, rt.Method, routePath(rt, vals), body)
		if r.Status != 404 || r.Code(t) != "NOT_FOUND" {
			t.Errorf("%s %s as another account: %d %s, want 404 NOT_FOUND", rt.Method, routePath(rt, vals), r.Status, r.Body)
			continue
		}
		expectErrorBody(t, r)
		nowhere := stranger.call(g, rt.Method, routePath(rt, missing), body)
		if nowhere.Status != 404 || string(nowhere.Body) != string(r.Body) {
			t.Errorf("%s %s: another account's row answers %s, a missing one %d %s: they must not differ",
				rt.Method, rt.Path, r.Body, nowhere.Status, nowhere.Body)
		}
	}

	// Nothing changed: the owner still has the goal and its entry as they were.
	got := o.getGoal(t, g, num(t, goal, "id"))
	if got["title"] != "Private" || num(t, got, "progress") != "3" {
		t.Fatalf("after the walk the goal is %v", got)
	}
	r := o.call(g, "GET", "/goals/"+num(t, goal, "id")+"/entries", nil)
	expect(t, r, 200, "")
	if es := numbers(t, r)["entries"].([]any); len(es) != 1 || es[0].(map[string]any)["note"] != "mine" {
		t.Fatalf("after the walk the entries are %s", r.Body)
	}
	r = o.call(g, "GET", "/trackers/"+num(t, tracker, "id")+"/logs", nil)
	expect(t, r, 200, "")
	if ls := numbers(t, r)["logs"].([]any); len(ls) != 1 || ls[0].(map[string]any)["note"] != "mine" {
		t.Fatalf("after the walk the logs are %s", r.Body)
	}
	if got := o.getTracker(t, g, num(t, tracker, "id")); got["name"] != "Private" || got["updated_at"] != trackerLog["updated_at"] {
		t.Fatalf("after the walk the tracker is %v", got)
	}
	// The owner's own calls with the same ids are no 404s (the walk used real ids).
	for _, rt := range routes {
		if rt.Method == "DELETE" {
			continue
		}
		collection := strings.SplitN(strings.TrimPrefix(rt.Path, "/"), "/", 2)[0]
		var body any
		for _, a := range rt.Args {
			if a.From == gateway.FromBody {
				body = map[string]any{}
			}
		}
		if r := o.call(g, rt.Method, routePath(rt, real[collection]), body); r.Status >= 300 {
			t.Errorf("%s %s as the owner: %d %s", rt.Method, rt.Path, r.Status, r.Body)
		}
	}
	// And the stranger's list holds none of the owner's goals.
	r = stranger.call(g, "GET", "/goals", nil)
	expect(t, r, 200, "")
	if gs := r.JSON(t)["goals"].([]any); len(gs) != 1 || gs[0].(map[string]any)["title"] != "Other" {
		t.Fatalf("the stranger lists %s", r.Body)
	}
	if names := stranger.listTrackers(t, g); fmt.Sprint(names) != "[Other]" {
		t.Fatalf("the stranger lists trackers %v", names)
	}
}

// Entries posted at the same time: the goal's row lock makes the last one
// to commit see them all, so completed_at is set once they reach the
// target, whatever the interleaving.
func TestGoalEntriesConcurrent(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	const goals, perGoal = 6, 4
	ids := make([]string, goals)
	for i := range ids {
		ids[i] = num(t, o.createGoal(t, g, map[string]any{"title": fmt.Sprint("Race ", i), "target_amount": perGoal}), "id")
	}
	var wg sync.WaitGroup
	errs := make(chan string, goals*perGoal)
	for _, id := range ids {
		for j := 0; j < perGoal; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := g.try(req{Method: "POST", Path: "/goals/" + id + "/entries", Body: map[string]any{"amount": 1},
					Token: o.tok, UA: sessionUA})
				if err != nil || r.Status != 201 {
					errs <- fmt.Sprintf("POST entries of %s: %v %d %s", id, err, r.Status, r.Body)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for _, id := range ids {
		got := o.getGoal(t, g, id)
		if num(t, got, "progress") != fmt.Sprint(perGoal) || got["completed_at"] == nil {
			t.Errorf("goal %s after %d concurrent entries: %v", id, perGoal, got)
		}
	}
}

// Deleting an account deletes its goals and their entries.
func TestGoalsDeletedWithAccount(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	goal := o.createGoal(t, g, map[string]any{"title": "Gone soon"})
	id, _ := goal["id"].(json.Number).Int64()
	o.addEntry(t, g, num(t, goal, "id"), map[string]any{"amount": 1})
	r := o.call(g, "DELETE", "/account", map[string]any{"password": o.Password})
	expect(t, r, 204, "")
	var goals, entries int
	if err := owner.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM tracking.goals WHERE account_id = $1),
		       (SELECT count(*) FROM tracking.goal_entries WHERE goal_id = $2)`, int64(o.ID), id).Scan(&goals, &entries); err != nil {
		t.Fatal(err)
	}
	if goals != 0 || entries != 0 {
		t.Fatalf("after deleting the account: %d goals, %d entries", goals, entries)
	}
}

// Without a session every goals route is a 401 (TestSessionChecksOnEveryRoute
// covers the session checks); with a cookie alone, a change needs the origin.
func TestGoalsCSRF(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	r := g.do(req{Method: "POST", Path: "/goals", UA: sessionUA, Body: map[string]any{"title": "x"}, Headers: withCookie(o.tok)})
	expect(t, r, 403, "CSRF")
	r = g.do(req{Method: "POST", Path: "/goals", UA: sessionUA, Body: map[string]any{"title": "x"},
		Headers: withCookie(o.tok, "Origin", "https://app.example")})
	expect(t, r, 201, "")
}

// The completed_at trigger locks the goal FOR NO KEY UPDATE, which the KEY
// SHARE lock of an entry's foreign key check does not block: a writer whose
// foreign key check holds the goal does not stall another one's trigger (two
// concurrent inserts would otherwise deadlock, each holding KEY SHARE and
// waiting for the other's to upgrade). Direct writes, as a DBA makes them.
func TestGoalEntriesTriggerLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var account, goal int64
	name := unique("tl_")
	if err := owner.QueryRow(ctx, `INSERT INTO auth.accounts (username, email, password_hash)
		VALUES ($1::text, $1::text || '@example.com', '$2a$10$' || repeat('x', 53)) RETURNING id`, name).Scan(&account); err != nil {
		t.Fatal(err)
	}
	if err := owner.QueryRow(ctx, `INSERT INTO tracking.goals (account_id, title, target_amount) VALUES ($1, 'Lock', 2)
		RETURNING id`, account).Scan(&goal); err != nil {
		t.Fatal(err)
	}
	first, err := owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx)
	// What the foreign key check of the first writer's insert holds.
	if _, err := first.Exec(ctx, `SELECT 1 FROM tracking.goals WHERE id = $1 FOR KEY SHARE`, goal); err != nil {
		t.Fatal(err)
	}
	quick, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := owner.Exec(quick, `INSERT INTO tracking.goal_entries (goal_id, amount) VALUES ($1, 1)`, goal); err != nil {
		t.Fatalf("an entry insert waited for another writer's KEY SHARE lock on its goal: %v", err)
	}
	if _, err := first.Exec(ctx, `INSERT INTO tracking.goal_entries (goal_id, amount) VALUES ($1, 1)`, goal); err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var completed bool
	if err := owner.QueryRow(ctx, `SELECT completed_at IS NOT NULL FROM tracking.goals WHERE id = $1`, goal).Scan(&completed); err != nil {
		t.Fatal(err)
	}
	if !completed {
		t.Fatal("two entries of 1 reached the target 2, but completed_at is null")
	}
	if _, err := owner.Exec(ctx, `DELETE FROM auth.accounts WHERE id = $1`, account); err != nil {
		t.Fatal(err)
	}
}

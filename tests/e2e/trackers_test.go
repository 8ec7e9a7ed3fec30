package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Trackers and their logs (docs/api.md, "Tracking: trackers and logs"):
// private to their account, updated_at kept by the database (also when a
// log changes), series computed in SQL. The owner-only 404 walk over these
// routes is TestGoalsOwnerOnlyRoutes (goals_test.go).

// createTracker posts a tracker and answers its JSON.
func (o sessionUser) createTracker(t *testing.T, g *testGateway, body map[string]any) map[string]any {
	t.Helper()
	r := o.call(g, "POST", "/trackers", body)
	expect(t, r, 201, "")
	tr := obj(t, numbers(t, r), "tracker")
	expectTracker(t, tr)
	return tr
}

// addLog posts a log to the tracker and answers its JSON.
func (o sessionUser) addLog(t *testing.T, g *testGateway, trackerID string, body map[string]any) map[string]any {
	t.Helper()
	r := o.call(g, "POST", "/trackers/"+trackerID+"/logs", body)
	expect(t, r, 201, "")
	l := obj(t, numbers(t, r), "log")
	expectLog(t, l, trackerID)
	return l
}

// getTracker reads the tracker as its owner.
func (o sessionUser) getTracker(t *testing.T, g *testGateway, trackerID string) map[string]any {
	t.Helper()
	r := o.call(g, "GET", "/trackers/"+trackerID, nil)
	expect(t, r, 200, "")
	body := numbers(t, r)
	expectKeys(t, "GET /trackers/{id} answer", body, "tracker")
	tr := obj(t, body, "tracker")
	expectTracker(t, tr)
	return tr
}

// listTrackers answers the names of the caller's trackers, in order.
func (o sessionUser) listTrackers(t *testing.T, g *testGateway) []string {
	t.Helper()
	r := o.call(g, "GET", "/trackers", nil)
	expect(t, r, 200, "")
	body := numbers(t, r)
	expectKeys(t, "GET /trackers answer", body, "trackers")
	names := []string{}
	for _, x := range body["trackers"].([]any) {
		expectTracker(t, x.(map[string]any))
		names = append(names, x.(map[string]any)["name"].(string))
	}
	return names
}

// logIDs lists the tracker's logs with the query and answers their ids and next.
func (o sessionUser) logIDs(t *testing.T, g *testGateway, trackerID string, q url.Values) ([]string, string) {
	t.Helper()
	r := o.call(g, "GET", "/trackers/"+trackerID+"/logs?"+q.Encode(), nil)
	expect(t, r, 200, "")
	body := numbers(t, r)
	expectKeys(t, "GET /trackers/{id}/logs answer", body, "logs", "next")
	ids := []string{}
	for _, x := range body["logs"].([]any) {
		expectLog(t, x.(map[string]any), trackerID)
		ids = append(ids, num(t, x.(map[string]any), "id"))
	}
	next, _ := body["next"].(string)
	return ids, next
}

// expectTracker checks the tracker JSON's members and types.
func expectTracker(t *testing.T, tr map[string]any) {
	t.Helper()
	expectKeys(t, "tracker", tr, "id", "name", "description", "type", "unit", "what_to_track", "created_at", "updated_at",
		"log_count", "last_logged_at")
	if id, err := tr["id"].(json.Number).Int64(); err != nil || id < 1 {
		t.Fatalf("tracker id %v is not a positive integer", tr["id"])
	}
	if n, err := tr["log_count"].(json.Number).Int64(); err != nil || n < 0 {
		t.Fatalf("log_count %v is not a count", tr["log_count"])
	}
	if tr["type"] != "note" && tr["type"] != "numerical" {
		t.Fatalf("tracker type %v", tr["type"])
	}
	timestamp(t, tr["created_at"])
	timestamp(t, tr["updated_at"])
	if tr["last_logged_at"] != nil {
		timestamp(t, tr["last_logged_at"])
	}
}

// expectLog checks the log JSON's members and types.
func expectLog(t *testing.T, l map[string]any, trackerID string) {
	t.Helper()
	expectKeys(t, "log", l, "id", "tracker_id", "value", "note", "emotion", "event_reminder_msg", "event_date", "logged_at",
		"created_at", "updated_at")
	if id, err := l["id"].(json.Number).Int64(); err != nil || id < 1 {
		t.Fatalf("log id %v is not a positive integer", l["id"])
	}
	if num(t, l, "tracker_id") != trackerID {
		t.Fatalf("log tracker_id %v, want %s", l["tracker_id"], trackerID)
	}
	num(t, l, "value")
	timestamp(t, l["logged_at"])
	timestamp(t, l["created_at"])
	timestamp(t, l["updated_at"])
	if d, ok := l["event_date"].(string); l["event_date"] != nil && (!ok || !dateRE.MatchString(d)) {
		t.Fatalf("event_date %v is not YYYY-MM-DD", l["event_date"])
	}
}

func TestTrackersCreateReadUpdateDelete(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	before := time.Now()

	if names := o.listTrackers(t, g); len(names) != 0 {
		t.Fatalf("a new account has trackers %v", names)
	}
	r := o.call(g, "POST", "/trackers", map[string]any{"name": "Weight", "description": "mornings", "type": "numerical",
		"unit": "kg", "what_to_track": "body weight"})
	expect(t, r, 201, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	body := numbers(t, r)
	expectKeys(t, "POST /trackers answer", body, "tracker")
	weight := obj(t, body, "tracker")
	expectTracker(t, weight)
	for k, want := range map[string]any{"name": "Weight", "description": "mornings", "type": "numerical", "unit": "kg",
		"what_to_track": "body weight", "last_logged_at": nil} {
		if weight[k] != want {
			t.Fatalf("tracker %s = %v, want %v", k, weight[k], want)
		}
	}
	if num(t, weight, "log_count") != "0" {
		t.Fatalf("new tracker log_count %v", weight["log_count"])
	}
	near(t, "created_at", timestamp(t, weight["created_at"]), before, 5*time.Minute)
	id := num(t, weight, "id")

	diary := o.createTracker(t, g, map[string]any{"name": "Diary", "type": "note"})
	if diary["description"] != "" || diary["unit"] != nil || diary["what_to_track"] != nil {
		t.Fatalf("a note tracker with only a name: %v", diary)
	}
	if got := o.getTracker(t, g, id); fmt.Sprint(got) != fmt.Sprint(weight) {
		t.Fatalf("GET /trackers/%s = %v, want %v", id, got, weight)
	}

	// Names are unique per account, ignoring case: 409 CONFLICT, on POST and PATCH.
	r = o.call(g, "POST", "/trackers", map[string]any{"name": "wEIGHT", "type": "note"})
	expect(t, r, 409, "CONFLICT")
	expectErrorBody(t, r)
	expect(t, o.call(g, "PATCH", "/trackers/"+num(t, diary, "id"), map[string]any{"name": "WEIGHT"}), 409, "CONFLICT")
	other := g.sessionUser(t)
	other.createTracker(t, g, map[string]any{"name": "Weight", "type": "note"}) // another account may

	// PATCH: the given members change, the others stay; "" clears unit and what_to_track.
	r = o.call(g, "PATCH", "/trackers/"+id, map[string]any{"name": "Body weight", "unit": "lb"})
	expect(t, r, 200, "")
	patched := obj(t, numbers(t, r), "tracker")
	expectTracker(t, patched)
	if patched["name"] != "Body weight" || patched["unit"] != "lb" || patched["description"] != "mornings" ||
		patched["what_to_track"] != "body weight" || patched["type"] != "numerical" {
		t.Fatalf("PATCH name and unit gave %v", patched)
	}
	if !timestamp(t, patched["updated_at"]).After(timestamp(t, weight["updated_at"])) {
		t.Fatalf("PATCH kept updated_at %v", patched["updated_at"])
	}
	r = o.call(g, "PATCH", "/trackers/"+id, map[string]any{"unit": "", "what_to_track": "", "description": nil})
	expect(t, r, 200, "")
	if p := obj(t, numbers(t, r), "tracker"); p["unit"] != nil || p["what_to_track"] != nil || p["description"] != "mornings" {
		t.Fatalf("PATCH unit and what_to_track \"\" gave %v", p)
	}
	expect(t, o.call(g, "PATCH", "/trackers/"+id, nil), 200, "") // no body: nothing changes
	// The type is fixed at creation: PATCH does not take it.
	expect(t, o.call(g, "PATCH", "/trackers/"+id, map[string]any{"type": "note"}), 400, "BAD_REQUEST")

	// GET /trackers: most recently updated first.
	if names := o.listTrackers(t, g); fmt.Sprint(names) != fmt.Sprint([]string{"Body weight", "Diary"}) {
		t.Fatalf("GET /trackers order %v", names)
	}

	// DELETE: 204 without a body, then 404.
	r = o.call(g, "DELETE", "/trackers/"+id, nil)
	expect(t, r, 204, "")
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %s", r.Body)
	}
	r = o.call(g, "GET", "/trackers/"+id, nil)
	expect(t, r, 404, "NOT_FOUND")
	expectErrorBody(t, r)
	expect(t, o.call(g, "DELETE", "/trackers/"+id, nil), 404, "NOT_FOUND")
	expect(t, o.call(g, "PATCH", "/trackers/"+id, map[string]any{"name": "x"}), 404, "NOT_FOUND")
	if names := o.listTrackers(t, g); fmt.Sprint(names) != "[Diary]" {
		t.Fatalf("after DELETE: %v", names)
	}
}

func TestTrackerLogs(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	water := o.createTracker(t, g, map[string]any{"name": "Water", "type": "numerical", "unit": "l"})
	mood := o.createTracker(t, g, map[string]any{"name": "Mood", "type": "note"})
	id, moodID := num(t, water, "id"), num(t, mood, "id")

	// Exact decimals, 15 significant digits; the reminder and emotion come back as given.
	l1 := o.addLog(t, g, id, map[string]any{"value": json.Number("0.1"), "note": "glass", "emotion": "calm",
		"event_reminder_msg": "Refill", "event_date": "2026-05-02", "logged_at": "2026-05-01T10:30:00.25+02:00"})
	for k, want := range map[string]any{"note": "glass", "emotion": "calm", "event_reminder_msg": "Refill",
		"event_date": "2026-05-02", "logged_at": "2026-05-01T08:30:00.250000Z"} {
		if l1[k] != want {
			t.Fatalf("log %s = %v, want %v", k, l1[k], want)
		}
	}
	if num(t, l1, "value") != "0.1" {
		t.Fatalf("value %v, want 0.1", l1["value"])
	}
	l2 := o.addLog(t, g, id, map[string]any{"value": json.Number("123456789.012345")})
	if num(t, l2, "value") != "123456789.012345" || l2["note"] != "" || l2["emotion"] != nil || l2["event_date"] != nil {
		t.Fatalf("log with a value only: %v", l2)
	}
	near(t, "logged_at (default now)", timestamp(t, l2["logged_at"]), time.Now(), 5*time.Minute)
	m1 := o.addLog(t, g, moodID, map[string]any{"note": "fine", "emotion": "happy", "logged_at": "2026-05-01T07:00:00Z"})
	if m1["value"] != nil {
		t.Fatalf("a note tracker's log has value %v", m1["value"])
	}

	// The tracker: log count and last log time; a new log puts it first.
	got := o.getTracker(t, g, id)
	if num(t, got, "log_count") != "2" || got["last_logged_at"] != l2["logged_at"] {
		t.Fatalf("after two logs: %v", got)
	}
	if names := o.listTrackers(t, g); fmt.Sprint(names) != "[Mood Water]" {
		t.Fatalf("GET /trackers after a log of Mood: %v", names)
	}
	moodBefore := o.getTracker(t, g, moodID)["updated_at"]

	// PATCH a subset; the rest stays; "" clears the emotion and the reminder.
	logPath := fmt.Sprintf("/trackers/%s/logs/%s", id, num(t, l1, "id"))
	r := o.call(g, "PATCH", logPath, map[string]any{"value": 2, "emotion": "tired"})
	expect(t, r, 200, "")
	p := obj(t, numbers(t, r), "log")
	expectLog(t, p, id)
	if num(t, p, "value") != "2" || p["emotion"] != "tired" || p["note"] != "glass" || p["event_reminder_msg"] != "Refill" ||
		p["logged_at"] != l1["logged_at"] || p["created_at"] != l1["created_at"] {
		t.Fatalf("PATCH value and emotion gave %v", p)
	}
	if !timestamp(t, p["updated_at"]).After(timestamp(t, l1["updated_at"])) {
		t.Fatalf("PATCH kept the log's updated_at %v", p["updated_at"])
	}
	if names := o.listTrackers(t, g); fmt.Sprint(names) != "[Water Mood]" {
		t.Fatalf("GET /trackers after changing a log of Water: %v", names)
	}
	r = o.call(g, "PATCH", logPath, map[string]any{"emotion": "", "event_reminder_msg": "", "event_date": ""})
	expect(t, r, 200, "")
	if p := obj(t, numbers(t, r), "log"); p["emotion"] != nil || p["event_reminder_msg"] != nil || p["event_date"] != nil {
		t.Fatalf("PATCH \"\" gave %v", p)
	}
	expect(t, o.call(g, "PATCH", logPath, map[string]any{"event_reminder_msg": "x"}), 422, "VALIDATION")

	// DELETE a log: 204, the tracker's updated_at moves, then 404.
	moodLog := fmt.Sprintf("/trackers/%s/logs/%s", moodID, num(t, m1, "id"))
	expect(t, o.call(g, "DELETE", moodLog, nil), 204, "")
	if after := o.getTracker(t, g, moodID); after["updated_at"] == moodBefore || num(t, after, "log_count") != "0" ||
		after["last_logged_at"] != nil {
		t.Fatalf("after deleting Mood's only log: %v (updated_at was %v)", after, moodBefore)
	}
	expect(t, o.call(g, "DELETE", moodLog, nil), 404, "NOT_FOUND")
	expect(t, o.call(g, "PATCH", moodLog, map[string]any{"note": "x"}), 404, "NOT_FOUND")
	// A log of another tracker of the same account is no log of this one.
	expect(t, o.call(g, "PATCH", fmt.Sprintf("/trackers/%s/logs/%s", moodID, num(t, l1, "id")), map[string]any{"note": "x"}),
		404, "NOT_FOUND")

	// Deleting the tracker deletes its logs.
	expect(t, o.call(g, "DELETE", "/trackers/"+id, nil), 204, "")
	var n int
	if err := owner.QueryRow(context.Background(), "SELECT count(*) FROM tracking.logs WHERE tracker_id = $1::text::bigint",
		id).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after deleting the tracker: %d logs (%v)", n, err)
	}
}

// GET /trackers/{id}/logs: ?from=&to= on logged_at (its pages:
// TestListPaging).
func TestTrackerLogsRange(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	id := num(t, o.createTracker(t, g, map[string]any{"name": "Pages", "type": "numerical"}), "id")
	same := "2026-05-01T08:00:00Z"
	for i := 0; i < 7; i++ {
		o.addLog(t, g, id, map[string]any{"value": i, "logged_at": same})
	}
	old := o.addLog(t, g, id, map[string]any{"value": 100, "logged_at": "2020-01-01T00:00:00Z"})

	o.addLog(t, g, id, map[string]any{"value": 1}) // a log of now

	// from inclusive, to exclusive, with offsets.
	if ids, _ := o.logIDs(t, g, id, url.Values{"from": {"2026-05-01T10:00:00+02:00"}, "to": {"2026-05-01T08:00:00.000001Z"}}); len(ids) != 7 {
		t.Fatalf("from = the logs' time: %d logs, want 7", len(ids))
	}
	if ids, _ := o.logIDs(t, g, id, url.Values{"to": {same}}); fmt.Sprint(ids) != fmt.Sprint([]string{num(t, old, "id")}) {
		t.Fatalf("to = the logs' time (exclusive): %v", ids)
	}
	if ids, _ := o.logIDs(t, g, id, url.Values{"from": {"2026-05-01T08:00:00.000001Z"}, "limit": {"100"}}); len(ids) != 1 {
		t.Fatalf("from after the logs: %v, want only the one of now", ids)
	}

	for _, c := range []struct {
		q      string
		status int
		field  string
	}{
		{"from=2026-05-01", 422, "from"},
		{"to=yesterday", 422, "to"},
		{"from=2026-05-01T08:00:00", 422, "from"},
	} {
		r := o.call(g, "GET", "/trackers/"+id+"/logs?"+c.q, nil)
		expect(t, r, c.status, map[int]string{400: "BAD_REQUEST", 422: "VALIDATION"}[c.status])
		expectErrorBody(t, r)
		if details(t, r)[c.field] == "" {
			t.Fatalf("?%s: details %s, want %s", c.q, r.Body, c.field)
		}
	}
}

// GET /trackers/{id}/series: buckets of local time, a DST day of 23 and of
// 25 hours in Europe/Berlin, empty buckets included, weeks from Monday.
func TestTrackerSeries(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	id := num(t, o.createTracker(t, g, map[string]any{"name": "Steps", "type": "numerical"}), "id")
	note := num(t, o.createTracker(t, g, map[string]any{"name": "Notes", "type": "note"}), "id")
	for v, at := range map[int]string{1: "2026-03-28T22:59:59Z", 2: "2026-03-28T23:00:00Z", 4: "2026-03-29T21:59:59Z",
		8: "2026-03-29T22:00:00Z", 16: "2026-10-24T21:59:59Z", 32: "2026-10-24T22:00:00Z", 64: "2026-10-25T22:59:59Z",
		128: "2026-10-25T23:00:00Z"} {
		o.addLog(t, g, id, map[string]any{"value": v, "logged_at": at})
		o.addLog(t, g, note, map[string]any{"logged_at": at})
	}
	series := func(trackerID string, q url.Values) string {
		t.Helper()
		r := o.call(g, "GET", "/trackers/"+trackerID+"/series?"+q.Encode(), nil)
		expect(t, r, 200, "")
		body := numbers(t, r)
		expectKeys(t, "GET /trackers/{id}/series answer", body, "series")
		var out []string
		for _, x := range body["series"].([]any) {
			b := x.(map[string]any)
			if _, ok := b["sum"]; ok {
				expectKeys(t, "bucket", b, "bucket", "count", "sum", "avg", "min", "max")
				out = append(out, fmt.Sprintf("%s:%s/%s/%s/%s/%s", b["bucket"], num(t, b, "count"), num(t, b, "sum"),
					num(t, b, "avg"), num(t, b, "min"), num(t, b, "max")))
			} else {
				expectKeys(t, "bucket", b, "bucket", "count")
				out = append(out, fmt.Sprintf("%s:%s", b["bucket"], num(t, b, "count")))
			}
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		tracker string
		q       url.Values
		want    string
	}{
		{id, url.Values{"bucket": {"day"}, "from": {"2026-03-28"}, "to": {"2026-03-31"}, "tz": {"Europe/Berlin"}},
			"2026-03-28:1/1/1/1/1 2026-03-29:2/6/3/2/4 2026-03-30:1/8/8/8/8"},
		{id, url.Values{"bucket": {"day"}, "from": {"2026-10-24"}, "to": {"2026-10-27"}, "tz": {"Europe/Berlin"}},
			"2026-10-24:1/16/16/16/16 2026-10-25:2/96/48/32/64 2026-10-26:1/128/128/128/128"},
		{id, url.Values{"from": {"2026-10-24T00:00:00Z"}, "to": {"2026-10-27T00:00:00Z"}},
			"2026-10-24:2/48/24/16/32 2026-10-25:2/192/96/64/128 2026-10-26:0/null/null/null/null"},
		{id, url.Values{"bucket": {"week"}, "from": {"2026-03-29"}, "to": {"2026-04-13"}, "tz": {"Europe/Berlin"}},
			"2026-03-23:2/6/3/2/4 2026-03-30:1/8/8/8/8 2026-04-06:0/null/null/null/null"},
		{id, url.Values{"bucket": {"month"}, "from": {"2026-09-01"}, "to": {"2026-12-01"}, "tz": {"America/New_York"}},
			"2026-09-01:0/null/null/null/null 2026-10-01:4/240/60/16/128 2026-11-01:0/null/null/null/null"},
		{note, url.Values{"bucket": {"day"}, "from": {"2026-03-28"}, "to": {"2026-03-31"}, "tz": {"Europe/Berlin"}},
			"2026-03-28:1 2026-03-29:2 2026-03-30:1"},
	} {
		if got := series(c.tracker, c.q); got != c.want {
			t.Errorf("series ?%s:\n got %s\nwant %s", c.q.Encode(), got, c.want)
		}
	}
	// Without parameters: the 30 days up to now, in UTC.
	if got := series(id, nil); strings.Count(got, " ")+1 != 30 ||
		!strings.HasSuffix(got, time.Now().UTC().Format("2006-01-02")+":0/null/null/null/null") {
		t.Fatalf("default series %s: want 30 days ending today", got)
	}

	for _, c := range []struct {
		q      string
		fields []string
	}{
		{"bucket=hour", []string{"bucket"}},
		{"tz=Mars/Olympus", []string{"tz"}},
		{"tz=UTC%2B5", []string{"tz"}},
		{"bucket=year&tz=Nowhere", []string{"bucket", "tz"}},
		{"from=2026-03-01T00:00:00", []string{"from"}},
		{"from=yesterday&to=2026-13-01", []string{"from", "to"}},
		{"from=2026-03-02&to=2026-03-01", []string{"to"}},
		{"from=2024-01-01&to=2026-09-28", []string{"to"}},
		{"bucket=month&from=0001-01-01&to=9999-12-31", []string{"to"}},
	} {
		path := "/trackers/" + id + "/series?" + c.q
		expectRefused(t, refusal{"GET", path, nil, 422, c.fields}, o.call(g, "GET", path, nil))
	}
	// 1000 buckets are allowed.
	r := o.call(g, "GET", "/trackers/"+id+"/series?from=2024-01-01&to=2026-09-27", nil)
	expect(t, r, 200, "")
	if n := len(r.JSON(t)["series"].([]any)); n != 1000 {
		t.Fatalf("%d buckets, want 1000", n)
	}
}

// Bad input is a 4xx with the error shape, never a 500: wrong JSON types
// (400, from the gateway), bad values (422 per field, from SQL).
func TestTrackersValidation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	id := num(t, o.createTracker(t, g, map[string]any{"name": "Valid", "type": "numerical", "unit": "km"}), "id")
	noteID := num(t, o.createTracker(t, g, map[string]any{"name": "Notes", "type": "note"}), "id")
	logID := num(t, o.addLog(t, g, id, map[string]any{"value": 5}), "id")
	trackerPath, logsPath, logPath := "/trackers/"+id, "/trackers/"+id+"/logs", "/trackers/"+id+"/logs/"+logID
	noteLogs := "/trackers/" + noteID + "/logs"
	future := time.Now().Add(25 * time.Hour).UTC().Format(time.RFC3339)

	for _, c := range []refusal{
		{"POST", "/trackers", map[string]any{}, 422, []string{"name", "type"}},
		{"POST", "/trackers", map[string]any{"name": "", "type": "note"}, 422, []string{"name"}},
		{"POST", "/trackers", map[string]any{"name": "  ", "type": "note"}, 422, []string{"name"}},
		{"POST", "/trackers", map[string]any{"name": strings.Repeat("n", 101), "type": "note"}, 422, []string{"name"}},
		{"POST", "/trackers", map[string]any{"name": "x", "type": "counter"}, 422, []string{"type"}},
		{"POST", "/trackers", map[string]any{"name": "x", "type": "note", "unit": "kg"}, 422, []string{"unit"}},
		{"POST", "/trackers", map[string]any{"name": "x", "type": "note", "what_to_track": "w"}, 422, []string{"what_to_track"}},
		{"POST", "/trackers", map[string]any{"name": "x", "type": "numerical", "unit": strings.Repeat("u", 33)}, 422, []string{"unit"}},
		{"POST", "/trackers", map[string]any{"name": "x", "type": "note", "description": strings.Repeat("d", 2001)}, 422, []string{"description"}},
		{"POST", "/trackers", map[string]any{"name": 7, "type": "note"}, 400, []string{"name"}},
		{"POST", "/trackers", map[string]any{"name": "x", "type": true}, 400, []string{"type"}},
		{"POST", "/trackers", map[string]any{"name": "x", "type": "note", "log_count": 3}, 400, []string{"log_count"}},
		{"PATCH", trackerPath, map[string]any{"name": ""}, 422, []string{"name"}},
		{"PATCH", trackerPath, map[string]any{"type": "note"}, 400, []string{"type"}},
		{"PATCH", "/trackers/" + noteID, map[string]any{"unit": "kg"}, 422, []string{"unit"}},
		{"POST", logsPath, map[string]any{}, 422, []string{"value"}},
		{"POST", logsPath, map[string]any{"value": json.Number("1234567890123456")}, 422, []string{"value"}},
		{"POST", logsPath, map[string]any{"value": json.Number("0.0000001234567890123456")}, 422, []string{"value"}},
		{"POST", logsPath, map[string]any{"value": "5"}, 400, []string{"value"}},
		{"POST", logsPath, `{"value": 1e400}`, 400, []string{"value"}},
		{"POST", logsPath, map[string]any{"value": 1, "emotion": "joyful"}, 422, []string{"emotion"}},
		{"POST", logsPath, map[string]any{"value": 1, "emotion": "HAPPY"}, 422, []string{"emotion"}},
		{"POST", logsPath, map[string]any{"value": 1, "emotion": 3}, 400, []string{"emotion"}},
		{"POST", logsPath, map[string]any{"value": 1, "note": strings.Repeat("n", 10001)}, 422, []string{"note"}},
		{"POST", logsPath, map[string]any{"value": 1, "event_reminder_msg": "Call"}, 422, []string{"event_date"}},
		{"POST", logsPath, map[string]any{"value": 1, "event_reminder_msg": "Call", "event_date": "2026-02-30"}, 422, []string{"event_date"}},
		{"POST", logsPath, map[string]any{"value": 1, "event_reminder_msg": strings.Repeat("m", 501), "event_date": "2026-02-03"}, 422, []string{"event_reminder_msg"}},
		{"POST", logsPath, map[string]any{"value": 1, "logged_at": "2026-05-01"}, 422, []string{"logged_at"}},
		{"POST", logsPath, map[string]any{"value": 1, "logged_at": "now"}, 422, []string{"logged_at"}},
		{"POST", logsPath, map[string]any{"value": 1, "logged_at": future}, 422, []string{"logged_at"}},
		{"POST", logsPath, map[string]any{"value": 1, "logged_at": 1700000000}, 400, []string{"logged_at"}},
		{"POST", noteLogs, map[string]any{"value": 1}, 422, []string{"value"}},
		{"POST", noteLogs, map[string]any{"value": 0, "emotion": "meh", "event_reminder_msg": "x"}, 422, []string{"value", "emotion", "event_date"}},
		{"PATCH", logPath, map[string]any{"value": json.Number("1.00000000000000001")}, 422, []string{"value"}},
		{"PATCH", logPath, map[string]any{"emotion": "bored", "logged_at": "soon"}, 422, []string{"emotion", "logged_at"}},
		{"PATCH", logPath, map[string]any{"event_reminder_msg": "x"}, 422, []string{"event_date"}},
		{"PATCH", logPath, map[string]any{"value": false}, 400, []string{"value"}},
		{"PATCH", logPath, map[string]any{"tracker_id": 1}, 400, []string{"tracker_id"}},
	} {
		expectRefused(t, c, o.call(g, c.method, c.path, c.body))
	}

	// Malformed path ids are a 400 naming the parameter.
	for _, c := range []struct{ method, path string }{
		{"GET", "/trackers/0"}, {"GET", "/trackers/abc"}, {"PATCH", "/trackers/-1"}, {"DELETE", "/trackers/99999999999999999999"},
		{"GET", "/trackers/x/logs"}, {"GET", "/trackers/1.5/series"}, {"DELETE", logsPath + "/0"}, {"PATCH", logsPath + "/1.5"},
	} {
		r := o.call(g, c.method, c.path, nil)
		expect(t, r, 400, "BAD_REQUEST")
		expectErrorBody(t, r)
	}
	// Nothing of the above changed the trackers or the log.
	got := o.getTracker(t, g, id)
	if got["name"] != "Valid" || got["unit"] != "km" || num(t, got, "log_count") != "1" {
		t.Fatalf("refused requests changed the tracker: %v", got)
	}
	var n int
	if err := owner.QueryRow(context.Background(), `SELECT count(*) FROM tracking.logs l JOIN tracking.trackers t ON t.id = l.tracker_id
		WHERE t.account_id = $1`, int64(o.ID)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("refused requests left %d logs (%v), want 1", n, err)
	}
}

// Deleting an account deletes its trackers and their logs.
func TestTrackersDeletedWithAccount(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	tr := o.createTracker(t, g, map[string]any{"name": "Gone soon", "type": "note"})
	id, _ := tr["id"].(json.Number).Int64()
	o.addLog(t, g, num(t, tr, "id"), map[string]any{"note": "bye"})
	expect(t, o.call(g, "DELETE", "/account", map[string]any{"password": o.Password}), 204, "")
	var trackers, logs int
	if err := owner.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM tracking.trackers WHERE account_id = $1),
		       (SELECT count(*) FROM tracking.logs WHERE tracker_id = $2)`, int64(o.ID), id).Scan(&trackers, &logs); err != nil {
		t.Fatal(err)
	}
	if trackers != 0 || logs != 0 {
		t.Fatalf("after deleting the account: %d trackers, %d logs", trackers, logs)
	}
}

// With a cookie alone, a change needs the origin (TestSessionChecksOnEveryRoute covers the 401s).
func TestTrackersCSRF(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	body := map[string]any{"name": "x", "type": "note"}
	expect(t, g.do(req{Method: "POST", Path: "/trackers", UA: sessionUA, Body: body, Headers: withCookie(o.tok)}), 403, "CSRF")
	expect(t, g.do(req{Method: "POST", Path: "/trackers", UA: sessionUA, Body: body,
		Headers: withCookie(o.tok, "Origin", "https://app.example")}), 201, "")
}

// Logs posted, changed and deleted at the same time as the tracker is
// changed: every log change bumps the tracker's updated_at under its row
// lock (FOR NO KEY UPDATE, which the logs' foreign key checks do not
// block), so writers queue and none deadlocks or fails.
func TestTrackerLogsConcurrent(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	id := num(t, o.createTracker(t, g, map[string]any{"name": "Race", "type": "numerical"}), "id")
	first := o.addLog(t, g, id, map[string]any{"value": 1})
	const writers = 12
	var wg sync.WaitGroup
	errs := make(chan string, writers+2)
	call := func(method, path string, body any, status int) {
		defer wg.Done()
		r, err := g.try(req{Method: method, Path: path, Body: body, Token: o.tok, UA: sessionUA})
		if err != nil || r.Status != status {
			errs <- fmt.Sprintf("%s %s: %v %d %s", method, path, err, r.Status, r.Body)
		}
	}
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go call("POST", "/trackers/"+id+"/logs", map[string]any{"value": i}, 201)
	}
	wg.Add(2)
	go call("PATCH", "/trackers/"+id, map[string]any{"description": "raced"}, 200)
	go call("DELETE", "/trackers/"+id+"/logs/"+num(t, first, "id"), nil, 204)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	got := o.getTracker(t, g, id)
	if num(t, got, "log_count") != fmt.Sprint(writers) || got["description"] != "raced" {
		t.Fatalf("after %d concurrent logs, a change and a delete: %v", writers, got)
	}
}

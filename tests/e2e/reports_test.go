package e2e

import (
	"context"
	"net/url"
	"reflect"
	"sort"
	"testing"
	"time"
)

// Reports, reminders and preferences (docs/api.md, "Tracking: reports,
// reminders and preferences"): the caller's own, computed in SQL.

// expectFields fails unless the 422's details name exactly these fields.
func expectFields(t *testing.T, what string, r resp, status int, fields ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: %d %s, want %d", what, r.Status, r.Body, status)
	}
	expectErrorBody(t, r)
	got := []string{}
	for k := range details(t, r) {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(fields)
	if !reflect.DeepEqual(got, fields) {
		t.Fatalf("%s: details name %v, want %v: %s", what, got, fields, r.Body)
	}
}

func TestPreferences(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	prefs := func(r resp) map[string]any {
		t.Helper()
		expect(t, r, 200, "")
		body := r.JSON(t)
		expectKeys(t, "preferences answer", body, "preferences")
		p := obj(t, body, "preferences")
		expectKeys(t, "preferences", p, "notification", "report_format", "timezone")
		return p
	}
	if p := prefs(o.call(g, "GET", "/account/preferences", nil)); p["notification"] != "weekly" || p["report_format"] != "html" || p["timezone"] != "UTC" {
		t.Fatalf("before any PUT: %v, want the defaults weekly, html and UTC", p)
	}
	if p := prefs(o.call(g, "PUT", "/account/preferences", map[string]any{"notification": "weekly", "report_format": "none", "timezone": "America/New_York"})); p["report_format"] != "none" || p["timezone"] != "America/New_York" {
		t.Fatalf("PUT with report_format none and a time zone answers %v", p)
	}
	if p := prefs(o.call(g, "PUT", "/account/preferences", map[string]any{"notification": "daily", "report_format": "pdf"})); p["notification"] != "daily" || p["report_format"] != "pdf" {
		t.Fatalf("PUT answers %v", p)
	}
	if p := prefs(o.call(g, "GET", "/account/preferences", nil)); p["notification"] != "daily" || p["report_format"] != "pdf" || p["timezone"] != "America/New_York" {
		t.Fatalf("after PUT without a time zone: %v, want the stored zone kept", p)
	}
	for _, c := range []struct {
		body   any
		status int
		fields []string
	}{
		{map[string]any{}, 422, []string{"notification", "report_format"}},
		{map[string]any{"notification": "none"}, 422, []string{"report_format"}},
		{map[string]any{"notification": "hourly", "report_format": "pdf"}, 422, []string{"notification"}},
		{map[string]any{"notification": "weekly", "report_format": "PDF"}, 422, []string{"report_format"}},
		{map[string]any{"notification": "weekly", "report_format": "pdf", "timezone": "Mars/Olympus"}, 422, []string{"timezone"}},
		{map[string]any{"notification": "weekly", "report_format": "pdf", "timezone": 2}, 400, []string{"timezone"}},
		{map[string]any{"notification": 1, "report_format": "pdf"}, 400, []string{"notification"}},
		{map[string]any{"notification": "none", "report_format": "pdf", "theme": "dark"}, 400, []string{"theme"}},
	} {
		expectFields(t, "PUT /account/preferences", o.call(g, "PUT", "/account/preferences", c.body), c.status, c.fields...)
	}
	if p := prefs(o.call(g, "GET", "/account/preferences", nil)); p["notification"] != "daily" || p["report_format"] != "pdf" {
		t.Fatalf("refused PUTs changed the preferences: %v", p)
	}
	other := g.sessionUser(t)
	if p := prefs(other.call(g, "GET", "/account/preferences", nil)); p["notification"] != "weekly" {
		t.Fatalf("another account's preferences: %v", p)
	}

	expect(t, o.call(g, "DELETE", "/account", map[string]any{"password": o.Password}), 204, "")
	var rows int
	if err := owner.QueryRow(context.Background(), `SELECT count(*) FROM tracking.preferences WHERE account_id = $1`,
		int64(o.ID)).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Fatalf("after deleting the account, %d preferences rows", rows)
	}
}

func TestReminders(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t)
	tr := o.createTracker(t, g, map[string]any{"name": "Chores", "type": "note"})
	id := num(t, tr, "id")
	day := func(d int) string { return time.Now().UTC().AddDate(0, 0, d).Format("2006-01-02") }
	o.addLog(t, g, id, map[string]any{"note": "later", "event_reminder_msg": "Renew passport", "event_date": day(10)})
	o.addLog(t, g, id, map[string]any{"note": "soon", "event_reminder_msg": "Call mum", "event_date": day(3)})
	o.addLog(t, g, id, map[string]any{"note": "overdue", "event_reminder_msg": "Pay rent", "event_date": day(-2)})
	o.addLog(t, g, id, map[string]any{"note": "no reminder"})
	g.sessionUser(t).createTracker(t, g, map[string]any{"name": "Chores", "type": "note"})

	reminders := func(q string) []string {
		t.Helper()
		r := o.call(g, "GET", "/reminders"+q, nil)
		expect(t, r, 200, "")
		body := numbers(t, r)
		expectKeys(t, "GET /reminders answer", body, "reminders")
		out := []string{}
		for _, x := range body["reminders"].([]any) {
			m := x.(map[string]any)
			tracker := obj(t, m, "tracker")
			if num(t, tracker, "id") != id || tracker["name"] != "Chores" {
				t.Fatalf("reminder's tracker %v, want %s Chores", tracker, id)
			}
			out = append(out, m["event_reminder_msg"].(string))
		}
		return out
	}
	if got := reminders(""); !reflect.DeepEqual(got, []string{"Pay rent", "Call mum"}) {
		t.Fatalf("GET /reminders: %v, want the past-due one and the one within 7 days, soonest first", got)
	}
	if got := reminders("?until=" + day(10)); !reflect.DeepEqual(got, []string{"Pay rent", "Call mum", "Renew passport"}) {
		t.Fatalf("GET /reminders?until=%s: %v", day(10), got)
	}
	if got := reminders("?until=" + url.QueryEscape(day(9)+"T23:59:00+02:00")); len(got) != 2 {
		t.Fatalf("until a timestamp the day before: %v", got)
	}
	if got := reminders("?until=" + day(-3)); len(got) != 0 {
		t.Fatalf("until before every event_date: %v", got)
	}
	for _, u := range []string{"tomorrow", "2026-02-30", "2026-03-01T10:00:00"} {
		expectFields(t, "GET /reminders?until="+u, o.call(g, "GET", "/reminders?until="+url.QueryEscape(u), nil), 422, "until")
	}
	expect(t, g.do(req{Method: "GET", Path: "/reminders"}), 401, "UNAUTHENTICATED")
}

func TestMonthlyReport(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	o := g.sessionUser(t) // one login so far
	report := func(who sessionUser, q string) map[string]any {
		t.Helper()
		r := who.call(g, "GET", "/reports/monthly"+q, nil)
		expect(t, r, 200, "")
		body := numbers(t, r)
		expectKeys(t, "GET /reports/monthly answer", body, "month", "total_trackers", "total_logs", "most_used_tracker",
			"frequent_emotional_state", "logs_created_this_month", "logged_in")
		return body
	}

	// The current month: the logins of this test.
	thisMonth := time.Now().UTC().Format("2006-01")
	if r := report(o, ""); r["month"] != thisMonth || num(t, r, "logged_in") != "1" || num(t, r, "total_trackers") != "0" ||
		r["most_used_tracker"] != nil || r["frequent_emotional_state"] != nil {
		t.Fatalf("this month before anything: %v", r)
	}
	o.tok = g.login(t, o.user, sessionUA) // a login from the same browser replaces its session
	if r := report(o, "?month="+thisMonth+"&tz=UTC"); num(t, r, "logged_in") != "2" {
		t.Fatalf("after a second login: %v", r)
	}

	// March 2026 in Europe/Berlin (2026-02-28T23:00Z to 2026-03-31T22:00Z).
	sleep := o.createTracker(t, g, map[string]any{"name": "Sleep", "type": "numerical", "unit": "h"})
	diary := o.createTracker(t, g, map[string]any{"name": "Diary", "type": "note"})
	sleepID, diaryID := num(t, sleep, "id"), num(t, diary, "id")
	o.addLog(t, g, sleepID, map[string]any{"value": 7, "emotion": "calm", "logged_at": "2026-03-05T10:00:00Z"})
	o.addLog(t, g, sleepID, map[string]any{"value": 8, "emotion": "calm", "logged_at": "2026-02-28T23:30:00Z"})
	o.addLog(t, g, diaryID, map[string]any{"note": "x", "emotion": "sad", "logged_at": "2026-03-10T10:00:00Z"})
	o.addLog(t, g, diaryID, map[string]any{"note": "April in Berlin", "emotion": "sad", "logged_at": "2026-03-31T22:30:00Z"})
	backfilled := o.addLog(t, g, sleepID, map[string]any{"value": 6, "logged_at": "2026-01-20T10:00:00Z"})
	// The trackers existed in March; the backfilled log was written in March.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE tracking.trackers SET created_at = '2026-02-01T00:00:00Z' WHERE id IN ($1::text::bigint, $2::text::bigint)`,
			[]any{sleepID, diaryID}},
		{`UPDATE tracking.logs SET created_at = logged_at WHERE tracker_id IN ($1::text::bigint, $2::text::bigint)`,
			[]any{sleepID, diaryID}},
		{`UPDATE tracking.logs SET created_at = '2026-03-20T10:00:00Z' WHERE id = $1::text::bigint`,
			[]any{num(t, backfilled, "id")}},
	} {
		if _, err := owner.Exec(context.Background(), q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	r := report(o, "?month=2026-03&tz=Europe/Berlin")
	most := obj(t, r, "most_used_tracker")
	if r["month"] != "2026-03" || num(t, r, "total_trackers") != "2" || num(t, r, "total_logs") != "3" ||
		num(t, most, "id") != sleepID || most["name"] != "Sleep" || num(t, most, "count") != "2" ||
		r["frequent_emotional_state"] != "calm" || num(t, r, "logs_created_this_month") != "4" || num(t, r, "logged_in") != "0" {
		t.Fatalf("March 2026 in Berlin: %v", r)
	}
	r = report(o, "?month=2026-03&tz=UTC")
	if most := obj(t, r, "most_used_tracker"); num(t, r, "total_logs") != "3" || num(t, most, "id") != diaryID ||
		r["frequent_emotional_state"] != "sad" {
		t.Fatalf("March 2026 in UTC: %v", r)
	}
	if r := report(g.sessionUser(t), "?month=2026-03"); num(t, r, "total_logs") != "0" || r["most_used_tracker"] != nil {
		t.Fatalf("another account's March: %v", r)
	}

	next := time.Now().UTC().AddDate(0, 1, 0).Format("2006-01")
	for _, c := range []struct {
		q     string
		field string
	}{
		{"?month=" + next, "month"},
		{"?month=2026-13", "month"},
		{"?month=2026-3", "month"},
		{"?month=" + url.QueryEscape("March 2026"), "month"},
		{"?month=2026-03&tz=Mars/Olympus", "tz"},
		{"?month=2026-03&tz=PST", "tz"},
	} {
		expectFields(t, "GET /reports/monthly"+c.q, o.call(g, "GET", "/reports/monthly"+c.q, nil), 422, c.field)
	}
	expect(t, g.do(req{Method: "GET", Path: "/reports/monthly"}), 401, "UNAUTHENTICATED")
}

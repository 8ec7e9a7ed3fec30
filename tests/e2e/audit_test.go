package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"homebase/gateway"
)

// logRow is one audit log row, read as the owner.
type logRow struct {
	Level, Source, Message string
	AccountID              *int64
	ClientIP               *string
	Details                map[string]any
}

// loggedFor is every audit row written under a request id, oldest first.
func loggedFor(t *testing.T, requestID string) []logRow {
	t.Helper()
	rows, err := owner.Query(context.Background(), `
		SELECT level, source, message, account_id, host(client_ip), details
		  FROM audit.logs WHERE request_id = $1 ORDER BY id`, requestID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []logRow
	for rows.Next() {
		var r logRow
		if err := rows.Scan(&r.Level, &r.Source, &r.Message, &r.AccountID, &r.ClientIP, &r.Details); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	return out
}

// expectLogged fails unless the request wrote exactly these messages.
func expectLogged(t *testing.T, requestID string, messages ...string) []logRow {
	t.Helper()
	rows := loggedFor(t, requestID)
	var got []string
	for _, r := range rows {
		got = append(got, r.Message)
	}
	if strings.Join(got, "|") != strings.Join(messages, "|") {
		t.Fatalf("request %s logged %q, want %q", requestID, got, messages)
	}
	return rows
}

func withRequestID(id string) map[string]string { return map[string]string{"X-Request-Id": id} }

// makeAdmin gives an account the admin role, as a DBA would (roles change by hand).
func makeAdmin(t *testing.T, u user) {
	t.Helper()
	if _, err := owner.Exec(context.Background(), "UPDATE auth.accounts SET role = 'admin' WHERE id = $1", int64(u.ID)); err != nil {
		t.Fatal(err)
	}
}

// Each account event reaches the log with the request's id and client IP,
// including the failures whose request answered 401: their rows committed.
func TestAuditLogOfRequests(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	id := unique("audit-")

	u := user{Username: unique("u_"), Password: "correct horse " + unique(""), IP: uniqueIP()}
	g.secrets.add(u.Password)
	r := g.do(req{Method: "POST", Path: "/accounts", IP: u.IP, Headers: withRequestID(id + "-signup"),
		Body: map[string]any{"username": u.Username, "email": u.Username + "@example.com", "password": u.Password}})
	expect(t, r, 201, "")
	u.ID = r.JSON(t)["account"].(map[string]any)["id"].(float64)
	row := expectLogged(t, id+"-signup", "account created")[0]
	if row.Level != "INFO" || row.Source != "auth" || row.AccountID == nil || *row.AccountID != int64(u.ID) ||
		row.ClientIP == nil || *row.ClientIP != u.IP {
		t.Fatalf("signup row %+v", row)
	}

	wrong := "not the password " + unique("")
	g.secrets.add(wrong)
	expect(t, g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: u.IP, Headers: withRequestID(id + "-fail"),
		Body: map[string]any{"login": u.Username, "password": wrong}}), 401, "INVALID_CREDENTIALS")
	row = expectLogged(t, id+"-fail", "login failed")[0]
	if row.Level != "WARN" || row.Details["reason"] != "wrong password" {
		t.Fatalf("failed login row %+v", row)
	}

	r = g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: u.IP, Headers: withRequestID(id + "-login"),
		Body: map[string]any{"login": u.Username, "password": u.Password}})
	expect(t, r, 201, "")
	tok := r.JSON(t)["token"].(string)
	g.secrets.add(tok)
	expectLogged(t, id+"-login", "login succeeded")

	// Shown by another browser: 401 BROWSER, session gone, and the drop logged.
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "other", IP: u.IP,
		Headers: withRequestID(id + "-browser")}), 401, "BROWSER")
	row = expectLogged(t, id+"-browser", "session dropped: browser changed")[0]
	if row.Level != "WARN" || row.Details["session_browser"] != "ua" || row.Details["browser"] != "other" {
		t.Fatalf("browser drop row %+v", row)
	}

	// Expired: the same, as WARN.
	tok = g.login(t, u, "ua")
	if _, err := owner.Exec(context.Background(),
		`UPDATE auth.account_sessions SET expiry_time = now() - interval '1 second' WHERE account_id = $1`, int64(u.ID)); err != nil {
		t.Fatal(err)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua", IP: u.IP,
		Headers: withRequestID(id + "-expired")}), 401, "EXPIRED")
	if row = expectLogged(t, id+"-expired", "session dropped: expired")[0]; row.Level != "WARN" {
		t.Fatalf("expiry drop row %+v", row)
	}

	tok = g.login(t, u, "ua")
	expect(t, g.do(req{Method: "DELETE", Path: "/session", Token: tok, UA: "ua", IP: u.IP,
		Headers: withRequestID(id + "-logout")}), 204, "")
	expectLogged(t, id+"-logout", "logged out")

	tok = g.login(t, u, "ua")
	newPassword := "battery staple " + unique("")
	g.secrets.add(newPassword)
	expect(t, g.do(req{Method: "PUT", Path: "/account/password", Token: tok, UA: "ua", IP: u.IP,
		Headers: withRequestID(id + "-password"),
		Body:    map[string]any{"current_password": u.Password, "new_password": newPassword}}), 204, "")
	expectLogged(t, id+"-password", "password changed")

	expect(t, g.do(req{Method: "DELETE", Path: "/account", Token: tok, UA: "ua", IP: u.IP,
		Headers: withRequestID(id + "-delete"), Body: map[string]any{"password": newPassword}}), 204, "")
	row = expectLogged(t, id+"-delete", "account deleted")[0]
	if row.AccountID == nil || *row.AccountID != int64(u.ID) || row.Details["username"] != u.Username {
		t.Fatalf("deletion row %+v", row)
	}
	// The secrets of this test are checked against every row at cleanup.
}

// GET /admin/logs: anonymous 401, plain user 403, admin 200 with keyset pages.
func TestAdminLogsRoute(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	plain := g.signup(t)
	plainTok := g.login(t, plain, "ua")
	admin := g.signup(t)
	makeAdmin(t, admin)
	adminTok := g.login(t, admin, "ua")

	expect(t, g.do(req{Method: "GET", Path: "/admin/logs"}), 401, "UNAUTHENTICATED")
	expect(t, g.do(req{Method: "GET", Path: "/admin/logs", Token: "not-a-token", UA: "ua"}), 401, "INVALID")
	expect(t, g.do(req{Method: "GET", Path: "/admin/logs", Token: plainTok, UA: "ua"}), 403, "FORBIDDEN")

	// Rows of a source of this test's own, oldest first: page through them.
	source := unique("e2e.")
	for i, level := range []string{"INFO", "WARN", "ERROR", "DEBUG", "WARN"} {
		if _, err := owner.Exec(context.Background(), "SELECT audit.write($1, $2, $3)", level, source, fmt.Sprint("row ", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	page := func(query string) (messages []string, next any) {
		t.Helper()
		r := g.do(req{Method: "GET", Path: "/admin/logs?source=" + source + query, Token: adminTok, UA: "ua"})
		expect(t, r, 200, "")
		body := r.JSON(t)
		expectKeys(t, "admin logs", body, "logs", "next")
		for _, l := range body["logs"].([]any) {
			row := l.(map[string]any)
			expectKeys(t, "log row", row, "id", "logged_at", "level", "source", "message", "account_id", "username",
				"client_ip", "request_id", "trace_id", "details")
			messages = append(messages, row["message"].(string))
		}
		return messages, body["next"]
	}
	got, next := page("&limit=2")
	if strings.Join(got, ",") != "row 5,row 4" || next == nil {
		t.Fatalf("first page %q, next %v", got, next)
	}
	got, next = page("&limit=2&before=" + url.QueryEscape(next.(string)))
	if strings.Join(got, ",") != "row 3,row 2" || next == nil {
		t.Fatalf("second page %q, next %v", got, next)
	}
	got, next = page("&limit=2&before=" + url.QueryEscape(next.(string)))
	if strings.Join(got, ",") != "row 1" || next != nil {
		t.Fatalf("last page %q, next %v", got, next)
	}
	if got, _ = page("&level=warn"); strings.Join(got, ",") != "row 5,row 3,row 2" {
		t.Fatalf("level=warn gave %q, want WARN and ERROR rows", got)
	}

	// The plain user's own login is there, with its request id and address.
	r := g.do(req{Method: "GET", Path: "/admin/logs?source=auth&limit=100", Token: adminTok, UA: "ua"})
	expect(t, r, 200, "")
	found := false
	for _, l := range r.JSON(t)["logs"].([]any) {
		row := l.(map[string]any)
		if row["username"] == plain.Username && row["message"] == "login succeeded" {
			found = row["client_ip"] == plain.IP && row["request_id"] != nil
		}
	}
	if !found {
		t.Fatalf("the plain user's login is not among the newest 100 auth rows with its IP: %s", r.Body)
	}

	r = g.do(req{Method: "GET", Path: "/admin/logs?limit=0&level=LOUD", Token: adminTok, UA: "ua"})
	expect(t, r, 422, "VALIDATION")
	if d := details(t, r); d["limit"] == "" || d["level"] == "" {
		t.Fatalf("details %v", d)
	}
	expect(t, g.do(req{Method: "GET", Path: "/admin/logs?before=abc", Token: adminTok, UA: "ua"}), 400, "BAD_REQUEST")
}

// The gateway's timer deletes expired sessions and activities and keeps live ones. Not
// parallel: maintenance deletes every expired session in the database, which
// other tests create on purpose.
func TestMaintenanceTimer(t *testing.T) {
	g := startGateway(t, nil)
	u := g.signup(t)
	live := g.login(t, u, "live")
	for _, ua := range []string{"old-1", "old-2"} {
		g.login(t, u, ua)
	}
	if _, err := owner.Exec(context.Background(), `UPDATE auth.account_sessions SET expiry_time = now() - interval '1 second'
		WHERE account_id = $1 AND browser_info LIKE 'old-%'`, int64(u.ID)); err != nil {
		t.Fatal(err)
	}
	// And an expired activity with a live one beside it.
	if _, err := owner.Exec(context.Background(), `INSERT INTO publishing.activities (author_id, message, expires_at)
		VALUES ($1, 'expired', now() - interval '1 second'), ($1, 'live', now() + interval '1 day')`, int64(u.ID)); err != nil {
		t.Fatal(err)
	}
	activities := func() string {
		var s string
		if err := owner.QueryRow(context.Background(), `SELECT coalesce(string_agg(message, ',' ORDER BY message), '')
			FROM publishing.activities WHERE author_id = $1`, int64(u.ID)).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	cfg := testConfig()
	cfg.MaintenanceInterval = 50 * time.Millisecond
	pool, ln := poolAndListener(t, cfg)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gateway.New(cfg, pool, gateway.NewLogger(cfg, logs)).Run(ctx, ln) }()
	deadline := time.Now().Add(30 * time.Second)
	for sessionRows(t, u.ID) != 1 || activities() != "live" {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions and activities %q after 30 s of maintenance, want the live ones only; log:\n%s",
				sessionRows(t, u.ID), activities(), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: live, UA: "live"}), 200, "")
	if !strings.Contains(logs.String(), `"message":"maintenance"`) || !strings.Contains(logs.String(), `"expired_sessions":`) ||
		!strings.Contains(logs.String(), `"expired_activities":`) || !strings.Contains(logs.String(), `"old_logins":`) {
		t.Fatalf("no maintenance line in the log:\n%s", logs.String())
	}
}

// One maintenance round at a time across gateways: while another session
// holds the lock, a run skips; afterwards it runs.
func TestMaintenanceSkipsWhileAnotherRuns(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	pool, _ := poolAndListener(t, cfg)
	s := gateway.New(cfg, pool, gateway.NewLogger(cfg, &syncBuffer{}))

	conn, err := owner.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext('homebase maintenance'))"); err != nil {
		t.Fatal(err)
	}
	r, err := s.Maintain(ctx)
	if err != nil || !r.Skipped || r.Rounds != 1 {
		t.Fatalf("with the lock held elsewhere: %+v, %v; want one skipped round", r, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock(hashtext('homebase maintenance'))"); err != nil {
		t.Fatal(err)
	}
	if r, err = s.Maintain(ctx); err != nil || r.Skipped {
		t.Fatalf("with the lock free: %+v, %v; want a run", r, err)
	}
}

// Each maintenance part is its own statement: while the expired activities
// cannot be deleted (a lock their DELETE waits for until the statement
// timeout, as a thread too big for one statement would), the parts before
// and after it still run, and the run says which part failed. Not parallel,
// like TestMaintenanceTimer. Before, one round was one transaction, and a
// part that timed out kept every other from ever finishing.
func TestMaintenancePartsFailAlone(t *testing.T) {
	ctx := context.Background()
	g := startGateway(t, nil)
	u := g.signup(t)
	g.login(t, u, "old")
	if _, err := owner.Exec(ctx, `UPDATE auth.account_sessions SET expiry_time = now() - interval '1 second' WHERE account_id = $1`,
		int64(u.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(ctx, `INSERT INTO auth.logins (account_id, logged_in_at) VALUES ($1, now() - interval '14 months')`,
		int64(u.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(ctx, `INSERT INTO publishing.activities (author_id, message, expires_at)
		VALUES ($1, 'expired', now() - interval '1 second')`, int64(u.ID)); err != nil {
		t.Fatal(err)
	}
	oldLogins := func() int {
		var n int
		if err := owner.QueryRow(ctx, `SELECT count(*) FROM auth.logins WHERE account_id = $1 AND logged_in_at < now() - interval '13 months'`,
			int64(u.ID)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// A transaction that keeps every DELETE on publishing.activities waiting.
	tx, err := owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE publishing.activities IN SHARE MODE"); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig()
	cfg.StatementTimeout = time.Second
	pool, _ := poolAndListener(t, cfg)
	s := gateway.New(cfg, pool, gateway.NewLogger(cfg, &syncBuffer{}))
	start := time.Now()
	r, err := s.Maintain(ctx)
	t.Logf("run with the activities locked: %+v in %v; error: %v", r, time.Since(start), err)
	if err == nil || !strings.Contains(err.Error(), "expired_activities") || len(r.Failed) != 1 || r.Failed[0] != "expired_activities" {
		t.Fatalf("with the activities locked: %+v, %v; want the expired_activities part failed, alone", r, err)
	}
	if n := sessionRows(t, u.ID); n != 0 {
		t.Fatalf("%d expired sessions left: the part before the failing one did not run", n)
	}
	if n := oldLogins(); n != 0 {
		t.Fatalf("%d old logins left: the part after the failing one did not run", n)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err = s.Maintain(ctx); err != nil || len(r.Failed) != 0 || r.ExpiredActivities < 1 {
		t.Fatalf("with the lock gone: %+v, %v; want the expired activity deleted", r, err)
	}
}

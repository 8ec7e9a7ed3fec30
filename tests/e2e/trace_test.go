package e2e

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// One trace from the caller to the SQL line (gateway/trace.go; the context
// item trace_id; api.timed in sql/code/api/admin.sql).

var traceparentRE = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`)

func TestTraceparent(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	const traceID, parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"

	// A well-formed traceparent: the answer keeps the trace, with the
	// gateway's own span; the audit rows of the request hold the trace id.
	reqID := unique("trace-")
	u := user{Username: unique("u_"), Password: "correct horse " + unique(""), IP: uniqueIP()}
	g.secrets.add(u.Password)
	r := g.do(req{Method: "POST", Path: "/accounts", IP: u.IP, Headers: map[string]string{
		"X-Request-Id": reqID, "Traceparent": "00-" + traceID + "-" + parent + "-01"},
		Body: map[string]any{"username": u.Username, "email": u.Username + "@example.com", "password": u.Password}})
	expect(t, r, 201, "")
	m := traceparentRE.FindStringSubmatch(r.Header.Get("Traceparent"))
	if m == nil || m[1] != traceID || m[2] == parent || m[3] != "01" {
		t.Fatalf("traceparent answered %q; want trace %s, a span of the gateway's own, flags 01", r.Header.Get("Traceparent"), traceID)
	}
	var rows, traced int
	if err := owner.QueryRow(context.Background(),
		`SELECT count(*), count(*) FILTER (WHERE trace_id = $2) FROM audit.logs WHERE request_id = $1`, reqID, traceID).
		Scan(&rows, &traced); err != nil {
		t.Fatal(err)
	}
	if rows == 0 || traced != rows {
		t.Errorf("the sign-up wrote %d audit rows, %d of them with its trace id", rows, traced)
	}
	if !strings.Contains(g.Log.String(), `"trace_id":"`+traceID+`"`) {
		t.Errorf("the access log does not name the trace %s", traceID)
	}

	// Malformed or absent: a new trace, never a 400.
	seen := map[string]bool{traceID: true}
	for _, bad := range []string{"", "garbage", "00-" + strings.Repeat("0", 32) + "-" + parent + "-01",
		"00-" + strings.ToUpper(traceID) + "-" + parent + "-01"} {
		h := map[string]string{}
		if bad != "" {
			h["Traceparent"] = bad
		}
		r := g.do(req{Method: "GET", Path: "/availability?username=" + unique("free_"), Headers: h})
		expect(t, r, 200, "")
		m := traceparentRE.FindStringSubmatch(r.Header.Get("Traceparent"))
		if m == nil || seen[m[1]] || m[3] != "00" {
			t.Errorf("traceparent %q answered %q: want a new, unsampled trace", bad, r.Header.Get("Traceparent"))
			continue
		}
		seen[m[1]] = true
	}
}

// TestSlowCallLog: a call over homebase.slow_call_ms gets one LOG line
// naming the function, its trace and its request, and never its token; one
// under it gets none. Read here as the gateway's connection receives them
// (client_min_messages = log), the same line as PostgreSQL's log. One
// transaction, its settings SET LOCAL, each statement unprepared (exec):
// so it holds behind PgBouncer's transaction pooling too, where a session's
// SET or prepared statement may be on another server connection.
func TestSlowCallLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(gatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var notices []*pgconn.Notice
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		defer mu.Unlock()
		notices = append(notices, n)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	const traceID, token = "4bf92f3577b34da6a3ce929d0e0e4736", "tok-that-must-not-be-logged"
	call := func() {
		t.Helper()
		var out string
		if err := tx.QueryRow(ctx, `SELECT api.timed(ROW($1, 'ua', NULL, 'slow-req', NULL, $2), 'api.current_session',
		                                     api.current_session(ROW($1, 'ua', NULL, 'slow-req', NULL, $2)))::text`,
			token, traceID).Scan(&out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "INVALID") {
			t.Fatalf("api.timed changed the answer: %s", out)
		}
	}
	if _, err := tx.Exec(ctx, "SET LOCAL client_min_messages = log"); err != nil {
		t.Fatal(err)
	}
	call() // the default threshold, 500 ms: no line
	if _, err := tx.Exec(ctx, "SET LOCAL homebase.slow_call_ms = 0"); err != nil {
		t.Fatal(err)
	}
	call()
	mu.Lock()
	defer mu.Unlock()
	var lines []string
	for _, n := range notices {
		if strings.HasPrefix(n.Message, "slow call") {
			lines = append(lines, n.Severity+" "+n.Message)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("slow-call lines %q, want one (the call under the threshold writes none)", lines)
	}
	if l := lines[0]; !strings.HasPrefix(l, "LOG slow call: api.current_session took ") ||
		!strings.Contains(l, "trace "+traceID) || !strings.Contains(l, "request slow-req") || strings.Contains(l, token) {
		t.Errorf("slow-call line %q: want LOG, the function, the trace and request ids, no token", l)
	}
}

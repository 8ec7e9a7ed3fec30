package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// The one SQLSTATE → HTTP table (docs/architecture.md, "Errors").
func TestStatusForSQLState(t *testing.T) {
	for state, want := range map[string]int{
		"PT401": 401, "PT404": 404, "PT409": 409, "PT422": 422, "PT429": 429, "PT503": 503,
		"PT200": 500, "PTxyz": 500, // not an error status: a bug, not a client error
		"23505": 409, "23503": 409, "40001": 409, "40P01": 409,
		"23514": 422, "23502": 422,
		"22P02": 400, "22021": 400, "22001": 400,
		"42501": 403,
		"57014": 504,
		"08006": 503, "08001": 503, "57P01": 503, "57P03": 503, "53300": 503, "53200": 503, "28P01": 503, "28000": 503,
		"42883": 500, "XX000": 500, "P0001": 500,
	} {
		if got := statusForSQLState(state); got != want {
			t.Errorf("%s → %d, want %d", state, got, want)
		}
	}
}

// Errors raised by our functions carry their message, code and details;
// anything else is reduced to a generic message.
func TestErrorFromDB(t *testing.T) {
	ctx := context.Background()
	e, state := errorFromDB(ctx, &pgconn.PgError{Code: "PT422", Message: "some fields are invalid",
		Detail: `{"code": "VALIDATION", "details": {"email": "required"}}`, Hint: "look again"})
	if state != "PT422" || e.status != 422 || e.Code != "VALIDATION" || e.Message != "some fields are invalid" ||
		string(e.Details) != `{"email": "required"}` || e.Hint == nil || *e.Hint != "look again" {
		t.Fatalf("PT422: %+v", e)
	}
	e, _ = errorFromDB(ctx, &pgconn.PgError{Code: "PT404", Message: "no such session"})
	if e.Code != "NOT_FOUND" || e.Details != nil || e.Hint != nil {
		t.Fatalf("PT404 without DETAIL: %+v", e)
	}
	e, state = errorFromDB(ctx, &pgconn.PgError{Code: "23505", Message: `duplicate key value violates unique constraint "accounts_email_key"`})
	if state != "23505" || e.status != 409 || e.Code != "CONFLICT" || e.Message != defaultMessages[409] {
		t.Fatalf("23505: %+v", e)
	}
	if e, _ := errorFromDB(ctx, &pgconn.ConnectError{}); e.status != 503 || e.Code != "UNAVAILABLE" {
		t.Fatalf("connect error: %+v", e)
	}
	if e, _ := errorFromDB(ctx, context.DeadlineExceeded); e.status != 504 || e.Code != "TIMEOUT" {
		t.Fatalf("deadline: %+v", e)
	}
	if e, _ := errorFromDB(ctx, errors.New("cannot scan")); e.status != 500 || e.Code != "INTERNAL" {
		t.Fatalf("other: %+v", e)
	}
}

// PgBouncer's own refusals are SQLSTATE 08P01 with its message: while
// PostgreSQL is down or restarting, a query queued too long
// (query_wait_timeout), a server connection lost mid-query ("server conn
// crashed?"), and at login "server login has been failing" or "no more
// connections allowed" (then pgx wraps it in a ConnectError, 503 as well).
// Each is the database being unavailable: 503. tests/scripts/faults.sh sees
// them through a real PgBouncer while PostgreSQL restarts.
func TestPgBouncerErrorsAreUnavailable(t *testing.T) {
	ctx := context.Background()
	for _, msg := range []string{"query_wait_timeout", "server conn crashed?",
		"server login has been failing, try again later (server_login_retry)", "no more connections allowed (max_client_conn)"} {
		pgErr := &pgconn.PgError{Severity: "FATAL", Code: "08P01", Message: msg}
		if e, state := errorFromDB(ctx, pgErr); e.status != 503 || e.Code != "UNAVAILABLE" || state != "08P01" ||
			e.Message != defaultMessages[503] {
			t.Errorf("%q: %+v %s", msg, e, state)
		}
	}
}

func TestWriteErrorRetryAfter(t *testing.T) {
	w := httptest.NewRecorder()
	writeError(w, &apiError{status: 429, Code: "RATE_LIMITED", Message: "slow down", Details: json.RawMessage(`{"retry_after": 42}`)})
	if w.Code != 429 || w.Header().Get("Retry-After") != "42" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body) != 4 || body["hint"] != nil {
		t.Fatalf("body %s", w.Body)
	}
}

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// apiError is the error body of docs/api.md.
type apiError struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
	Hint    *string         `json:"hint"`
	status  int
}

// defaultCodes names the client code of each status when SQL did not.
var defaultCodes = map[int]string{
	400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
	405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 414: "URI_TOO_LONG",
	415: "UNSUPPORTED_MEDIA_TYPE", 422: "VALIDATION", 429: "RATE_LIMITED", 431: "HEADERS_TOO_LARGE",
	500: "INTERNAL", 503: "UNAVAILABLE", 504: "TIMEOUT",
}

// Human messages for errors whose own text is internal (standard SQLSTATEs).
var defaultMessages = map[int]string{
	400: "the request is malformed", 403: "not allowed", 404: "not found", 409: "conflict",
	422: "some fields are invalid", 500: "internal error", 503: "the database is unavailable; try again shortly",
	504: "the request took too long",
}

func newError(status int, message string, details any) *apiError {
	e := &apiError{status: status, Code: defaultCodes[status], Message: message}
	if details != nil {
		e.Details, _ = json.Marshal(details)
	}
	return e
}

// statusForSQLState is the one SQLSTATE → HTTP table (docs/architecture.md, "Errors").
// PT<nnn> is raised by response.raise with the status in its last three digits.
func statusForSQLState(state string) int {
	switch {
	case len(state) == 5 && strings.HasPrefix(state, "PT"):
		if n, err := strconv.Atoi(state[2:]); err == nil && n >= 400 && n <= 599 {
			return n
		}
		return 500
	case state == "23505", state == "23503", state == "40001", state == "40P01":
		return 409
	case state == "23514", state == "23502":
		return 422
	case strings.HasPrefix(state, "22"):
		return 400
	case state == "42501":
		return 403
	case state == "57014":
		return 504
	case strings.HasPrefix(state, "08"), strings.HasPrefix(state, "57P"), strings.HasPrefix(state, "53"),
		strings.HasPrefix(state, "28"):
		return 503
	default:
		return 500
	}
}

// errorFromDB turns a failed call into an API error. Only errors raised by
// our own functions (PT…) carry their text to the client; anything else gets
// a generic message, and the caller logs the original.
func errorFromDB(ctx context.Context, err error) (e *apiError, sqlstate string) {
	var pgErr *pgconn.PgError
	hasPgErr := errors.As(err, &pgErr)
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		// No connection at all, whatever the server said while refusing it
		// (28P01 a rejected password, 53300 too many connections, 3D000 no
		// such database): the database is unavailable to us, not the request
		// at fault.
		if hasPgErr {
			sqlstate = pgErr.Code
		}
		return newError(503, defaultMessages[503], nil), sqlstate
	}
	if hasPgErr {
		status := statusForSQLState(pgErr.Code)
		if !strings.HasPrefix(pgErr.Code, "PT") {
			return newError(status, defaultMessages[status], nil), pgErr.Code
		}
		e = newError(status, pgErr.Message, nil)
		// response.raise puts {"code", "details"} in DETAIL.
		var extra struct {
			Code    string          `json:"code"`
			Details json.RawMessage `json:"details"`
		}
		if json.Unmarshal([]byte(pgErr.Detail), &extra) == nil {
			if extra.Code != "" {
				e.Code = extra.Code
			}
			if len(extra.Details) > 0 && string(extra.Details) != "null" {
				e.Details = extra.Details
			}
		}
		if pgErr.Hint != "" {
			e.Hint = &pgErr.Hint
		}
		return e, pgErr.Code
	}
	if errors.Is(err, context.DeadlineExceeded) || (ctx.Err() == nil && pgconn.Timeout(err)) {
		return newError(504, defaultMessages[504], nil), ""
	}
	if isConnectionError(err) {
		return newError(503, defaultMessages[503], nil), ""
	}
	return newError(500, defaultMessages[500], nil), ""
}

// isConnectionError reports a database that cannot be reached or went away.
func isConnectionError(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err)
}

// retryAfterUnavailable is the Retry-After of a 503: long enough for a
// restarting database or a full pool, short enough not to matter.
const retryAfterUnavailable = "2"

func writeError(w http.ResponseWriter, e *apiError) {
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterUnavailable)
	}
	if e.status == http.StatusTooManyRequests {
		var d struct {
			RetryAfter int `json:"retry_after"`
		}
		if json.Unmarshal(e.Details, &d) == nil && d.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(d.RetryAfter))
		}
	}
	if e.Details == nil {
		e.Details = json.RawMessage("null")
	}
	body, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.status)
	w.Write(body)
}

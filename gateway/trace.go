package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// W3C Trace Context (https://www.w3.org/TR/trace-context/): a request's
// traceparent header names the trace it belongs to and the caller's span.
// The gateway keeps the trace id of a well-formed header and makes a new
// trace for a missing or malformed one (never a 400: tracing must not fail a
// request), takes a span id of its own, and answers its own traceparent, so
// one id ties the caller's action, the gateway's log line, the audit rows
// (the context item trace_id) and a slow call's line in PostgreSQL's log
// (docs/operations/functions.md, "One trace").

// traceparentHeader is the header's name, in Go's canonical form.
const traceparentHeader = "Traceparent"

// trace is one request's place in its trace.
type trace struct {
	id    string // 32 lowercase hex digits, not all zeros
	span  string // the gateway's span: 16 lowercase hex digits
	flags string // the caller's trace-flags (sampled), "00" for a new trace
}

// header is the traceparent the gateway answers: the trace, its own span.
func (t trace) header() string {
	return "00-" + t.id + "-" + t.span + "-" + t.flags
}

// traceOf is the request's trace: the caller's trace id and flags when its
// traceparent is well-formed (kept, with the caller's span id: parent),
// else a new trace id; a new span id either way.
func traceOf(h string) (t trace, kept bool, parent string) {
	var b [24]byte
	rand.Read(b[:])
	t.span = hex.EncodeToString(b[16:])
	if id, flags, ok := parseTraceparent(h); ok {
		t.id, t.flags = id, flags
		return t, true, h[36:52]
	}
	t.id, t.flags = hex.EncodeToString(b[:16]), "00"
	return t, false, ""
}

// parseTraceparent reads version-format-trace-id-parent-id-trace-flags.
// Version 00 is exactly 55 characters; a later version (not ff) may append
// fields after a dash, which are ignored, as the specification asks of a
// parser that knows version 00 only. Hex digits are lowercase; neither id
// may be all zeros.
func parseTraceparent(h string) (id, flags string, ok bool) {
	if len(h) < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return "", "", false
	}
	version := h[:2]
	if !lowerHex(version) || version == "ff" || (version == "00" && len(h) != 55) || (len(h) > 55 && h[55] != '-') {
		return "", "", false
	}
	id, parent, flags := h[3:35], h[36:52], h[53:55]
	if !lowerHex(id) || !lowerHex(parent) || !lowerHex(flags) ||
		id == strings.Repeat("0", 32) || parent == strings.Repeat("0", 16) {
		return "", "", false
	}
	return id, flags, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

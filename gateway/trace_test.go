package gateway

import (
	"regexp"
	"testing"
)

var traceparentPattern = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

func TestTraceparent(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, c := range []struct {
		in, id, flags string
	}{
		{"00-" + id + "-00f067aa0ba902b7-01", id, "01"},
		{"00-" + id + "-00f067aa0ba902b7-00", id, "00"},
		{"01-" + id + "-00f067aa0ba902b7-01-what-comes-later", id, "01"}, // a later version: its extra fields ignored
		{"01-" + id + "-00f067aa0ba902b7-01", id, "01"},
	} {
		got, flags, ok := parseTraceparent(c.in)
		if !ok || got != c.id || flags != c.flags {
			t.Errorf("parseTraceparent(%q) = %q, %q, %v; want %q, %q", c.in, got, flags, ok, c.id, c.flags)
		}
	}
	for _, bad := range []string{
		"",
		"garbage",
		"00-" + id + "-00f067aa0ba902b7-01-extra",                 // version 00 has no more fields
		"ff-" + id + "-00f067aa0ba902b7-01",                       // version ff is invalid
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // uppercase
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-" + id + "-0000000000000000-01",
		"00-" + id + "-00f067aa0ba902b7-0g",
		"00_" + id + "-00f067aa0ba902b7-01",
		"01-" + id + "-00f067aa0ba902b7-01x",
		"00-" + id[:31] + "-00f067aa0ba902b7-01",
	} {
		if _, _, ok := parseTraceparent(bad); ok {
			t.Errorf("parseTraceparent(%q) accepted a malformed header", bad)
		}
	}
}

func TestTraceOf(t *testing.T) {
	const in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	kept, ok, parent := traceOf(in)
	if !ok || parent != "00f067aa0ba902b7" {
		t.Errorf("traceOf(%q) did not keep the caller's span %q as the parent", in, parent)
	}
	if kept.id != "4bf92f3577b34da6a3ce929d0e0e4736" || kept.flags != "01" || kept.span == "00f067aa0ba902b7" {
		t.Errorf("traceOf(%q) = %+v: want the trace id and flags kept and a span of its own", in, kept)
	}
	if !traceparentPattern.MatchString(kept.header()) {
		t.Errorf("header %q is not a version-00 traceparent", kept.header())
	}
	a, _, _ := traceOf("nonsense")
	b, _, _ := traceOf("")
	if a.id == b.id || !traceparentPattern.MatchString(a.header()) || a.flags != "00" {
		t.Errorf("new traces %+v and %+v: want distinct well-formed ids, not sampled", a, b)
	}
	if _, _, ok := parseTraceparent(a.header()); !ok {
		t.Errorf("the gateway's own header %q does not parse", a.header())
	}
}

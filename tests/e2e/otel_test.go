package e2e

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"homebase/gateway"
)

// The optional OpenTelemetry export (gateway/otel.go): one span per request
// to an OTLP/HTTP collector, here a real one in the test's process.

// collector accepts OTLP/HTTP trace exports (protobuf, gzip or not) and
// keeps what it received.
type collector struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	spans    []exported
}

// exported is one span with its resource's attributes.
type exported struct {
	span     *tracepb.Span
	resource map[string]*commonpb.AnyValue
}

func startCollector(t *testing.T) *collector {
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.requests++
		c.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = gz
		}
		b, err := io.ReadAll(body)
		var export collectorpb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(b, &export)
		}
		if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("the collector got an export it cannot read (%s): %v", r.Header.Get("Content-Type"), err)
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range export.ResourceSpans {
			res := attrsOf(rs.GetResource().GetAttributes())
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					c.spans = append(c.spans, exported{span: s, resource: res})
				}
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&collectorpb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(c.Close)
	return c
}

// trace is the spans received of one trace id.
func (c *collector) trace(id string) []exported {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []exported
	for _, s := range c.spans {
		if hex.EncodeToString(s.span.TraceId) == id {
			out = append(out, s)
		}
	}
	return out
}

func (c *collector) received() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

func attrsOf(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := map[string]*commonpb.AnyValue{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestOTelExport(t *testing.T) {
	t.Parallel()
	col := startCollector(t)
	var srv *gateway.Server
	g := startServer(t, func(c *gateway.Config) { c.OTLPTracesURL = col.URL + "/v1/traces" },
		func(s *gateway.Server) { srv = s })
	flush := func() {
		t.Helper()
		if err := srv.FlushTraces(context.Background()); err != nil {
			t.Fatalf("FlushTraces: %v", err)
		}
	}
	// one is the only span exported for the trace, answered by r's traceparent.
	one := func(traceID string, r resp) (*tracepb.Span, map[string]*commonpb.AnyValue) {
		t.Helper()
		spans := col.trace(traceID)
		if len(spans) != 1 {
			t.Fatalf("%d spans exported for the trace %s, want one", len(spans), traceID)
		}
		s := spans[0].span
		m := traceparentRE.FindStringSubmatch(r.Header.Get("Traceparent"))
		if m == nil || m[1] != traceID || m[2] != hex.EncodeToString(s.SpanId) || m[3] != "01" {
			t.Errorf("answered traceparent %q; want trace %s, the exported span %x, flags 01",
				r.Header.Get("Traceparent"), traceID, s.SpanId)
		}
		if s.Kind != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("span kind %v, want server", s.Kind)
		}
		if sn := spans[0].resource["service.name"].GetStringValue(); sn != "homebase-gateway" {
			t.Errorf("service.name %q, want homebase-gateway", sn)
		}
		return s, attrsOf(s.Attributes)
	}

	// A route that calls a function, under the caller's sampled trace: a
	// child of the caller's span, named after the route template.
	const traceID, parent = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
	reqID := unique("otel-")
	r := g.do(req{Method: "GET", Path: "/availability?username=" + unique("free_"), IP: uniqueIP(),
		Headers: map[string]string{"X-Request-Id": reqID, "Traceparent": "00-" + traceID + "-" + parent + "-01"}})
	expect(t, r, 200, "")
	flush()
	s, a := one(traceID, r)
	if hex.EncodeToString(s.ParentSpanId) != parent {
		t.Errorf("parent span %x, want the caller's %s", s.ParentSpanId, parent)
	}
	if s.Name != "GET /api/v1/availability" {
		t.Errorf("span name %q, want GET /api/v1/availability", s.Name)
	}
	for k, want := range map[string]string{"http.request.method": "GET", "http.route": "/api/v1/availability",
		"db.function": "api.availability", "homebase.request_id": reqID} {
		if got := a[k].GetStringValue(); got != want {
			t.Errorf("attribute %s = %q, want %q", k, got, want)
		}
	}
	if got := a["http.response.status_code"].GetIntValue(); got != 200 {
		t.Errorf("http.response.status_code = %d, want 200", got)
	}
	dbMS, ok := a["homebase.db.duration_ms"].GetValue().(*commonpb.AnyValue_DoubleValue)
	if !ok || dbMS.DoubleValue <= 0 || float64(s.EndTimeUnixNano-s.StartTimeUnixNano)/1e6 < dbMS.DoubleValue {
		t.Errorf("homebase.db.duration_ms = %v: want a time above 0 and within the span's %d ns",
			a["homebase.db.duration_ms"], s.EndTimeUnixNano-s.StartTimeUnixNano)
	}

	// No route: the unmatched name, the 404, no function.
	const trace404, parent404 = "6e0c63257de34c92bf9efcd03927272e", "a3ce929d0e0e4736"
	r = g.do(req{Method: "GET", Path: "/no-such-route/12345",
		Headers: map[string]string{"Traceparent": "00-" + trace404 + "-" + parent404 + "-01"}})
	expect(t, r, 404, "NOT_FOUND")
	flush()
	s, a = one(trace404, r)
	if s.Name != "GET unmatched" || a["http.route"].GetStringValue() != "unmatched" ||
		a["http.response.status_code"].GetIntValue() != 404 {
		t.Errorf("the 404's span %q, route %v, status %v; want GET unmatched, unmatched, 404",
			s.Name, a["http.route"], a["http.response.status_code"])
	}
	for _, k := range []string{"db.function", "homebase.db.duration_ms"} {
		if a[k] != nil {
			t.Errorf("the 404's span has %s = %v", k, a[k])
		}
	}

	// No traceparent: a new trace, sampled, whose root span is exported.
	r = g.do(req{Method: "GET", Path: "/availability?username=" + unique("free_"), IP: uniqueIP()})
	expect(t, r, 200, "")
	flush()
	m := traceparentRE.FindStringSubmatch(r.Header.Get("Traceparent"))
	if m == nil {
		t.Fatalf("answered traceparent %q", r.Header.Get("Traceparent"))
	}
	if s, _ := one(m[1], r); len(s.ParentSpanId) != 0 {
		t.Errorf("a new trace's span has the parent %x", s.ParentSpanId)
	}

	// The caller decided not to sample (flags 00): no span, and the answer
	// says so.
	const unsampled = "1f2e3d4c5b6a79880123456789abcdef"
	r = g.do(req{Method: "GET", Path: "/no-such-route/1", Headers: map[string]string{
		"Traceparent": "00-" + unsampled + "-" + parent + "-00"}})
	flush()
	if n := len(col.trace(unsampled)); n != 0 {
		t.Errorf("%d spans exported for a trace the caller did not sample", n)
	}
	if m := traceparentRE.FindStringSubmatch(r.Header.Get("Traceparent")); m == nil || m[1] != unsampled || m[3] != "00" {
		t.Errorf("answered traceparent %q; want the trace %s, flags 00", r.Header.Get("Traceparent"), unsampled)
	}
}

// TestOTelOff: without OTLPTracesURL the gateway makes no exporter, even
// with OpenTelemetry's variables in its environment (only the gateway's
// configuration turns the export on), and the collector hears nothing.
// Not parallel: it sets the environment.
func TestOTelOff(t *testing.T) {
	col := startCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", col.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", col.URL+"/v1/traces")
	var srv *gateway.Server
	g := startServer(t, nil, func(s *gateway.Server) { srv = s })
	const traceID = "7a1b2c3d4e5f60718293a4b5c6d7e8f9"
	for _, path := range []string{"/availability?username=" + unique("free_"), "/no-such-route/2"} {
		r := g.do(req{Method: "GET", Path: path, IP: uniqueIP(), Headers: map[string]string{
			"Traceparent": "00-" + traceID + "-b7ad6b7169203331-01"}})
		if m := traceparentRE.FindStringSubmatch(r.Header.Get("Traceparent")); m == nil || m[1] != traceID {
			t.Errorf("answered traceparent %q; want the trace %s kept", r.Header.Get("Traceparent"), traceID)
		}
	}
	if err := srv.FlushTraces(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := col.received(); n != 0 {
		t.Errorf("the collector received %d requests from a gateway without OTLPTracesURL", n)
	}
}

// TestOTelCollectorRefuses: a collector that refuses the spans costs no
// request; the export's failure is a warning in the gateway's log. Not
// parallel: it sets the environment (the SDK's batch delay, to see the
// failure soon) and the SDK's error handler is the process's.
func TestOTelCollectorRefuses(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	var refused atomic.Int32
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer col.Close()
	g := startGateway(t, func(c *gateway.Config) { c.OTLPTracesURL = col.URL + "/v1/traces" })
	expect(t, g.do(req{Method: "GET", Path: "/availability?username=" + unique("free_"), IP: uniqueIP()}), 200, "")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.Log.String(), `"message":"OpenTelemetry export failed"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning in the gateway's log after %d refused exports", refused.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(g.Log.String(), `"level":"warn"`) {
		t.Error("the export's failure is not logged as a warning")
	}
}

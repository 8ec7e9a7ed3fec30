package gateway

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// Optional OpenTelemetry export (docs/operations/functions.md, "One trace"):
// with OTEL_EXPORTER_OTLP_ENDPOINT set, one span per request goes to that
// collector over OTLP/HTTP (the official Go SDK, which also reads the
// other OTEL_* settings: headers, timeout, OTEL_SERVICE_NAME), in batches,
// off the request's path. The span continues the caller's traceparent,
// so its trace id is the one the answer, the log line, the audit rows and a
// slow call's line name; it carries the route, the function and the time
// spent in the database. Unset, none of this exists: a nil check per
// request.

type tracing struct {
	provider *sdktrace.TracerProvider
	tracer   oteltrace.Tracer
}

// newTracing exports to url, the collector's traces URL (Config.OTLPTracesURL).
// The SDK's own errors (a collector that refuses or is away) go to log.
func newTracing(url string, log zerolog.Logger) (*tracing, error) {
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(url))
	if err != nil {
		return nil, err
	}
	res, err := resource.Merge(resource.Default(),
		resource.NewSchemaless(attribute.String("service.name", "homebase-gateway")))
	if err != nil {
		return nil, err
	}
	// OTEL_SERVICE_NAME, when set, names the service instead (resource.Default reads it).
	if res2, err := resource.Merge(res, resource.Environment()); err == nil {
		res = res2
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn().Err(err).Msg("OpenTelemetry export failed")
	}))
	p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &tracing{provider: p, tracer: p.Tracer("homebase/gateway")}, nil
}

// start begins the request's span, as a child of the caller's span when its
// traceparent was well-formed (kept), else as a new trace; tr takes the
// span's ids, so the answered traceparent names the exported span.
func (t *tracing) start(ctx context.Context, tr *trace, kept bool, parent string) (context.Context, oteltrace.Span) {
	if kept {
		tid, _ := oteltrace.TraceIDFromHex(tr.id)
		sid, _ := oteltrace.SpanIDFromHex(parent)
		flags := oteltrace.TraceFlags(0)
		if tr.flags == "01" {
			flags = oteltrace.FlagsSampled
		}
		ctx = oteltrace.ContextWithRemoteSpanContext(ctx, oteltrace.NewSpanContext(oteltrace.SpanContextConfig{
			TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true}))
	}
	ctx, span := t.tracer.Start(ctx, "request", oteltrace.WithSpanKind(oteltrace.SpanKindServer))
	sc := span.SpanContext()
	tr.id, tr.span = sc.TraceID().String(), sc.SpanID().String()
	tr.flags = "00"
	if sc.IsSampled() {
		tr.flags = "01"
	}
	return ctx, span
}

// end names the span after the route, adds what the request did, and ends it.
func (t *tracing) end(span oteltrace.Span, info *requestWriter, method string, status int) {
	route := info.route
	if route == "" {
		route = unmatchedRoute
	}
	span.SetName(method + " " + route)
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(method),
		semconv.HTTPRoute(route),
		semconv.HTTPResponseStatusCode(status),
		attribute.String("homebase.request_id", info.id),
	}
	if info.fn != "" {
		attrs = append(attrs, attribute.String("db.function", info.fn),
			attribute.Float64("homebase.db.duration_ms", float64(info.dbTime)/float64(time.Millisecond)))
	}
	if info.sqlstate != "" {
		attrs = append(attrs, attribute.String("db.response.status_code", info.sqlstate))
	}
	span.SetAttributes(attrs...)
	if status >= 500 {
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

// FlushTraces exports the spans ended so far (the tests; Run's end and
// Close shut the exporter down).
func (s *Server) FlushTraces(ctx context.Context) error {
	if s.otel == nil {
		return nil
	}
	return s.otel.provider.ForceFlush(ctx)
}

func (s *Server) shutdownTracing() {
	if s.otel == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.otel.provider.Shutdown(ctx); err != nil {
		s.log.Warn().Err(err).Msg("exporting the last spans failed")
	}
}

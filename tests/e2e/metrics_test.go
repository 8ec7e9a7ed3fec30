package e2e

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"homebase/gateway"
)

// /metrics: what it counts, how its labels stay bounded, and who may read it.

var loopbackOnly = func(c *gateway.Config) {
	c.MetricsAllowed = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// scrape reads /metrics from the loopback peer itself (allowed) and parses it
// with Prometheus's own text parser.
func (g *testGateway) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	r := g.do(req{Method: "GET", Path: "//metrics"})
	expect(t, r, 200, "")
	if f := expfmt.ResponseFormat(r.Header); f.FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("/metrics Content-Type %q, want the Prometheus text format", r.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, r.Body)
	}
	for _, secret := range g.secrets.snapshot() {
		if secret != "" && bytes.Contains(r.Body, []byte(secret)) {
			t.Errorf("/metrics contains the secret %q", secret)
		}
	}
	return fams
}

func (s *secrets) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.list...)
}

// series is the metric of the family with exactly these labels (name, value,
// …), or nil; the family, when present, must have the type.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels ...string) *dto.Metric {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		return nil
	}
	if fam.GetType() != typ {
		t.Fatalf("%s is a %v, want a %v", name, fam.GetType(), typ)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if maps.Equal(got, want) {
			return m
		}
	}
	return nil
}

// counter is a counter's value; 0 when the series does not exist yet (a
// labelled counter appears on its first increment).
func counter(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	if m := series(t, fams, name, dto.MetricType_COUNTER, labels...); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

// gauge is a gauge's value; it must exist.
func gauge(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	m := series(t, fams, name, dto.MetricType_GAUGE, labels...)
	if m == nil {
		t.Fatalf("no gauge %s", name)
	}
	return m.GetGauge().GetValue()
}

// histogram is the route's request-duration histogram, or an empty one.
func histogram(t *testing.T, fams map[string]*dto.MetricFamily, route string) *dto.Histogram {
	t.Helper()
	if m := series(t, fams, "homebase_gateway_request_duration_seconds", dto.MetricType_HISTOGRAM, "route", route); m != nil {
		return m.GetHistogram()
	}
	return &dto.Histogram{}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	g := startGateway(t, func(c *gateway.Config) { loopbackOnly(c); c.PoolSize = 5 })
	before := g.scrape(t)

	u := g.signup(t)
	tok := g.login(t, u, "ua")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}), 200, "")
	expect(t, g.do(req{Method: "GET", Path: "/session", UA: "ua"}), 401, "UNAUTHENTICATED")               // refused by the gateway
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: "not-a-token", UA: "ua"}), 401, "INVALID") // committed by SQL: PT401
	expect(t, g.do(req{Method: "DELETE", Path: "/sessions/987654321", Token: tok, UA: "ua"}), 404, "NOT_FOUND")
	expect(t, g.do(req{Method: "GET", Path: "/no-such-route/12345"}), 404, "NOT_FOUND")
	expect(t, g.do(req{Method: "DELETE", Path: "//healthz"}), 405, "METHOD_NOT_ALLOWED")
	expect(t, g.do(req{Method: "BREW", Path: "/session"}), 405, "METHOD_NOT_ALLOWED")
	expect(t, g.do(req{Method: "POST", Path: "/accounts", IP: uniqueIP(),
		Body: map[string]any{"username": "x", "email": "not an address", "password": "short"}}), 422, "VALIDATION")

	after := g.scrape(t)

	const requests = "homebase_gateway_requests_total"
	for _, c := range []struct {
		route, method, status string
		want                  float64
	}{
		{"/api/v1/accounts", "POST", "201", 1},
		{"/api/v1/accounts", "POST", "422", 1},
		{"/api/v1/sessions", "POST", "201", 1},
		{"/api/v1/session", "GET", "200", 1},
		{"/api/v1/session", "GET", "401", 2},
		{"/api/v1/sessions/{id}", "DELETE", "404", 1}, // the template, not /sessions/987654321
		{"unmatched", "GET", "404", 1},
		{"unmatched", "DELETE", "405", 1},
		{"unmatched", "OTHER", "405", 1}, // BREW: arbitrary methods share one label
		{"/metrics", "GET", "200", 1},    // the first scrape; the second is counted once it has answered
	} {
		labels := []string{"route", c.route, "method", c.method, "status", c.status}
		if d := counter(t, after, requests, labels...) - counter(t, before, requests, labels...); d != c.want {
			t.Errorf("%s%v went up by %v, want %v", requests, labels, d, c.want)
		}
	}

	// Every route label is a route template or "unmatched": no raw path, no
	// client-chosen value.
	known := map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "unmatched": true}
	for _, rt := range gateway.Routes {
		known[gateway.APIPrefix+rt.Path] = true
	}
	for _, m := range after[requests].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "route" && !known[lp.GetValue()] {
				t.Errorf("%s has the route label %q, which is no route template", requests, lp.GetValue())
			}
			if lp.GetName() == "method" && lp.GetValue() == "BREW" {
				t.Errorf("%s has a series for the client's own method BREW", requests)
			}
		}
	}

	// Database errors by SQLSTATE: the 422 raised by signup, the 401
	// committed by the session check, the 404 raised by revoke_session; the
	// gateway's own 401, 404 and 405 are not database errors.
	const dbErrors = "homebase_gateway_db_errors_total"
	var total float64
	for _, m := range after[dbErrors].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	for _, m := range before[dbErrors].GetMetric() {
		total -= m.GetCounter().GetValue()
	}
	for state, want := range map[string]float64{"PT422": 1, "PT401": 1, "PT404": 1} {
		if d := counter(t, after, dbErrors, "sqlstate", state) - counter(t, before, dbErrors, "sqlstate", state); d != want {
			t.Errorf("%s{sqlstate=%q} went up by %v, want %v", dbErrors, state, d, want)
		}
	}
	if total != 3 {
		t.Errorf("%s went up by %v in all, want 3", dbErrors, total)
	}

	// The duration histogram saw each request of the route, with buckets
	// fine enough for milliseconds.
	for route, want := range map[string]uint64{"/api/v1/accounts": 2, "/api/v1/session": 3} {
		h, h0 := histogram(t, after, route), histogram(t, before, route)
		if d := h.GetSampleCount() - h0.GetSampleCount(); d != want {
			t.Errorf("duration histogram of %s: %d new observations, want %d", route, d, want)
		}
		if h.GetSampleSum() <= h0.GetSampleSum() {
			t.Errorf("duration histogram of %s: sum %v did not grow from %v", route, h.GetSampleSum(), h0.GetSampleSum())
		}
		var prev uint64
		bounds := map[float64]bool{}
		for _, b := range h.GetBucket() {
			if b.GetCumulativeCount() < prev || b.GetCumulativeCount() > h.GetSampleCount() {
				t.Errorf("duration histogram of %s: bucket ≤%v holds %d, after %d, of %d", route,
					b.GetUpperBound(), b.GetCumulativeCount(), prev, h.GetSampleCount())
			}
			prev = b.GetCumulativeCount()
			bounds[b.GetUpperBound()] = true
		}
		for _, want := range []float64{0.001, 0.002, 0.005, 0.01} {
			if !bounds[want] {
				t.Errorf("duration histogram of %s has no bucket at %vs", route, want)
			}
		}
	}

	// The pool, as pgxpool sees it now (this gateway is idle).
	acquired := gauge(t, after, "homebase_gateway_db_pool_acquired_connections", "pool", "primary")
	idle := gauge(t, after, "homebase_gateway_db_pool_idle_connections", "pool", "primary")
	open := gauge(t, after, "homebase_gateway_db_pool_total_connections", "pool", "primary")
	maxConns := gauge(t, after, "homebase_gateway_db_pool_max_connections", "pool", "primary")
	waiting := gauge(t, after, "homebase_gateway_db_pool_waiting_requests")
	if maxConns != 5 || open < 1 || open > maxConns || open < acquired+idle || acquired < 0 || idle < 0 {
		t.Errorf("pool: %v acquired, %v idle, %v open, %v max; want 0 ≤ acquired + idle ≤ open ≤ max = 5, open ≥ 1",
			acquired, idle, open, maxConns)
	}
	if waiting != 0 {
		t.Errorf("%v requests waiting for a connection on an idle gateway", waiting)
	}
	if series(t, after, "homebase_gateway_db_pool_empty_acquires_total", dto.MetricType_COUNTER, "pool", "primary") == nil {
		t.Error("no counter homebase_gateway_db_pool_empty_acquires_total")
	}

	// The Go runtime and the process are on the same registry.
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if _, ok := after[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
}

// /metrics answers only clients in METRICS_ALLOWED; to anyone else it does
// not exist, whatever the method.
func TestMetricsRestricted(t *testing.T) {
	t.Parallel()
	g := startGateway(t, loopbackOnly)
	noRoute := g.do(req{Method: "GET", Path: "//no-such-route"})
	expect(t, noRoute, 404, "NOT_FOUND")
	before := g.scrape(t)

	// A public client behind the trusted proxy (loopback in these tests).
	for _, method := range []string{"GET", "HEAD", "POST"} {
		r := g.do(req{Method: method, Path: "//metrics", IP: "203.0.113.9"})
		if r.Status != 404 {
			t.Fatalf("%s /metrics for 203.0.113.9: %d, want 404", method, r.Status)
		}
		if method != "HEAD" && !bytes.Equal(r.Body, noRoute.Body) {
			t.Fatalf("%s /metrics for 203.0.113.9 answers %s, a missing route %s", method, r.Body, noRoute.Body)
		}
	}
	// Spoofing an allowed address in front of the real one does not help:
	// only the proxy's own entry (the right-most) is believed.
	expect(t, g.do(req{Method: "GET", Path: "//metrics", IP: "127.0.0.1, 203.0.113.9"}), 404, "NOT_FOUND")

	// An allowed client relayed by the proxy, HEAD, and the wrong method
	// from an allowed client.
	expect(t, g.do(req{Method: "GET", Path: "//metrics", IP: "127.0.0.2"}), 200, "")
	expect(t, g.do(req{Method: "HEAD", Path: "//metrics"}), 200, "")
	r := g.do(req{Method: "POST", Path: "//metrics"})
	expect(t, r, 405, "METHOD_NOT_ALLOWED")
	if r.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("Allow %q on /metrics, want GET, HEAD", r.Header.Get("Allow"))
	}

	// The refusals are counted under the route, where an operator sees them.
	after := g.scrape(t)
	labels := []string{"route", "/metrics", "method", "GET", "status", "404"}
	if d := counter(t, after, "homebase_gateway_requests_total", labels...) -
		counter(t, before, "homebase_gateway_requests_total", labels...); d != 2 {
		t.Fatalf("refused GET /metrics counted %v times, want 2", d)
	}

	// A Config without METRICS_ALLOWED lets nobody in, loopback included.
	closed := startGateway(t, nil)
	expect(t, closed.do(req{Method: "GET", Path: "//metrics"}), 404, "NOT_FOUND")
}

// The waiting gauge counts requests blocked in pool.Acquire. With a pool of
// one connection, held by a request stuck at the database, two more requests
// wait; one of them hangs up (499, and it no longer waits), the other gets
// the connection once the database answers.
func TestMetricsPoolWaiting(t *testing.T) {
	t.Parallel()
	proxy := startProxy(t)
	// Requests waiting for the pool itself: with DB_PIPELINE they wait in
	// the pipeliner's queue instead, so this test runs without it.
	g := startGateway(t, func(c *gateway.Config) {
		loopbackOnly(c)
		c.DatabaseURL = proxy.DatabaseURL()
		c.PoolSize = 1
		c.Pipeline = false
	})
	u := g.signup(t) // opens the one connection
	before := g.scrape(t)

	const (
		waiting  = "homebase_gateway_db_pool_waiting_requests"
		acquired = "homebase_gateway_db_pool_acquired_connections"
		empty    = "homebase_gateway_db_pool_empty_acquires_total"
		requests = "homebase_gateway_requests_total"
	)
	answered := func(status string) float64 {
		return counter(t, g.scrape(t), requests, "route", "/api/v1/availability", "method", "GET", "status", status)
	}
	// waitFor scrapes until ok holds: the gauges move on the gateway's time.
	waitFor := func(what string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			fams := g.scrape(t)
			if ok(fams) {
				return fams
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	type result struct {
		r   resp
		err error
	}
	get := func(ctx context.Context, done chan<- result) {
		hr, err := http.NewRequestWithContext(ctx, "GET", g.URL+"/api/v1/availability?username="+u.Username, nil)
		if err != nil {
			done <- result{err: err}
			return
		}
		res, err := g.http.Do(hr)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer res.Body.Close()
		done <- result{r: resp{Status: res.StatusCode}}
	}

	held, release := proxy.Hold()
	defer release()
	first, third := make(chan result, 1), make(chan result, 1)
	go get(context.Background(), first)
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatal("the first request never reached the database")
	}
	// The first request holds the only connection. It may itself still be
	// inside Acquire: the pool pings a connection idle for over a second.
	w0 := gauge(t, g.scrape(t), waiting)
	if w0 != 0 && w0 != 1 {
		t.Fatalf("%v requests waiting with one in flight", w0)
	}

	ctx, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	second := make(chan result, 1)
	go get(ctx, second)
	go get(context.Background(), third)
	during := waitFor("two more requests wait", func(f map[string]*dto.MetricFamily) bool {
		return gauge(t, f, waiting) == w0+2
	})
	if a := gauge(t, during, acquired, "pool", "primary"); a != 1 {
		t.Fatalf("%v connections acquired while one request holds the only one", a)
	}

	hangUp()
	if res := <-second; res.err == nil {
		t.Fatalf("the request that hung up got an answer, %d", res.r.Status)
	}
	waitFor("the request that hung up stops waiting", func(f map[string]*dto.MetricFamily) bool {
		return gauge(t, f, waiting) == w0+1
	})
	deadline := time.Now().Add(30 * time.Second)
	for answered("499") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the request that hung up is not counted as a 499")
		}
		time.Sleep(10 * time.Millisecond)
	}

	release()
	for _, done := range []chan result{first, third} {
		select {
		case res := <-done:
			if res.err != nil {
				t.Fatal(res.err)
			}
			expect(t, res.r, 200, "")
		case <-time.After(time.Minute):
			t.Fatal("a request did not finish after the database was released")
		}
	}
	after := waitFor("nobody waits", func(f map[string]*dto.MetricFamily) bool {
		return gauge(t, f, waiting) == 0
	})
	if d := counter(t, after, empty, "pool", "primary") - counter(t, before, empty, "pool", "primary"); d < 1 {
		t.Fatalf("%s went up by %v, want at least 1 (the third request waited)", empty, d)
	}
	if n := answered("200"); n != 2 {
		t.Fatalf("%v answers 200 counted, want 2", n)
	}
}

// TestMetricsPerFunction: the api functions' counters as the database keeps
// them (api.function_stats, read on the gateway's timer; here by hand), one
// series per api function and kind, growing with the calls; and the series
// count bounded however many unknown paths are asked for.
func TestMetricsPerFunction(t *testing.T) {
	t.Parallel()
	var s *gateway.Server
	g := startServer(t, loopbackOnly, func(srv *gateway.Server) { s = srv })
	if err := s.ReadFunctionStats(context.Background()); err != nil {
		t.Fatal(err)
	}
	const calls, seconds = "homebase_db_function_calls_total", "homebase_db_function_seconds_total"
	before := counter(t, g.scrape(t), calls, "function", "current_session")

	u := g.signup(t)
	tok := g.login(t, u, "ua")
	for range 5 {
		expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}), 200, "")
	}
	// A backend hands its counts to the shared statistics when idle, at
	// most once a second: poll the reading until the five calls show.
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := s.ReadFunctionStats(context.Background()); err != nil {
			t.Fatal(err)
		}
		fams = g.scrape(t)
		if counter(t, fams, calls, "function", "current_session") >= before+5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("api.current_session's calls went from %v to %v, want 5 more (is track_functions = 'pl' set?)",
				before, counter(t, fams, calls, "function", "current_session"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	total := counter(t, fams, seconds, "function", "current_session", "kind", "total")
	self := counter(t, fams, seconds, "function", "current_session", "kind", "self")
	if total <= 0 || self <= 0 || self > total {
		t.Errorf("current_session's seconds: total %v, self %v; want 0 < self ≤ total", total, self)
	}
	if counter(t, fams, calls, "function", "login") < 1 {
		t.Error("api.login's call is not counted")
	}
	// Only api's functions, by name: the route table's, maintenance and
	// timed, which wraps every call (auth.check_session runs inside each
	// call above and has none).
	known := map[string]bool{"maintenance": true, "timed": true}
	for _, rt := range gateway.Routes {
		known[strings.TrimPrefix(rt.Func, "api.")] = true
	}
	for _, name := range []string{calls, seconds} {
		for _, m := range fams[name].GetMetric() {
			if f := m.GetLabel()[0].GetValue(); !known[f] {
				t.Errorf("%s has a series for %q, which is no api function of the route table", name, f)
			}
		}
	}

	// 10,000 requests to unknown paths add no series (the per-function
	// families aside: the tests running beside this one call functions).
	count := func(fams map[string]*dto.MetricFamily) (n int) {
		for name, f := range fams {
			if name != calls && name != seconds {
				n += len(f.GetMetric())
			}
		}
		return n
	}
	expect(t, g.do(req{Method: "GET", Path: "/no-such/path"}), 404, "NOT_FOUND") // the first adds route="unmatched"'s series
	first := count(g.scrape(t))
	for i := range 10_000 {
		r := g.do(req{Method: "GET", Path: fmt.Sprintf("/no-such/%d", i)})
		if r.Status != 404 {
			t.Fatalf("GET /no-such/%d: %d, want 404", i, r.Status)
		}
	}
	if err := s.ReadFunctionStats(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(g.scrape(t)); n != first {
		t.Errorf("after 10,000 unknown paths /metrics has %d series, before %d", n, first)
	}
}

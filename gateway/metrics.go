package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// metricsPath is where the Prometheus exposition is served, outside /api/v1.
const metricsPath = "/metrics"

// unmatchedRoute labels requests that no route handled (404, 405, CORS
// preflights): the raw path would give every scanner's guess its own series.
const unmatchedRoute = "unmatched"

// durationBuckets (seconds) are dense around the 1–5 ms a session check takes
// (docs/benchmarks.md) and sparse up to the default 5 s statement timeout;
// signups and logins spend roughly 100 ms in bcrypt.
var durationBuckets = []float64{.0005, .001, .002, .003, .004, .005, .0075, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// metrics are one Server's: its own registry, so that several servers in one
// process (the e2e tests) neither collide nor count each other's requests.
type metrics struct {
	handler  http.Handler
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	dbErrors *prometheus.CounterVec
	// batchSize is the number of calls per pipelined batch (DB_PIPELINE).
	batchSize prometheus.Histogram
	// waiting counts requests inside pool.Acquire: pgxpool counts no waiters.
	waiting atomic.Int64
	// calls counts the API's calls by the pool they were sent to;
	// replicaReads the read-only routes' calls by where they were served and why.
	calls        *prometheus.CounterVec
	replicaReads *prometheus.CounterVec
	reg          *prometheus.Registry
	// primaryCalls and replicaCalls are calls' two series, resolved once.
	primaryCalls, replicaCalls prometheus.Counter
	// pools reports the connection pools' statistics.
	pools *poolCollector
	// bcryptRefused counts the Bcrypt routes' calls refused for want of a
	// slot (503; bcrypt.go); addBcrypt reports the slots themselves.
	bcryptRefused prometheus.Counter
	// functions holds the last reading of the api functions' counters (dbstats.go).
	functions *functionStats
}

func newMetrics(pool *pgxpool.Pool, log zerolog.Logger) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "homebase_gateway_requests_total",
			Help: "HTTP requests answered, by route template, method and status (499: the client hung up).",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "homebase_gateway_request_duration_seconds",
			Help:    "Time from receiving a request to its answer, by route template.",
			Buckets: durationBuckets,
		}, []string{"route"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "homebase_gateway_db_batch_size",
			Help:    "API calls sent together in one pipelined batch (DB_PIPELINE=true; none otherwise).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
		}),
		dbErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "homebase_gateway_db_errors_total",
			Help: "Failed api calls by SQLSTATE (PT<status> for errors raised or committed by the api functions).",
		}, []string{"sqlstate"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "homebase_gateway_db_calls_total",
			Help: "API calls sent to the database, by pool: primary, or replica (REPLICA_DATABASE_URL).",
		}, []string{"pool"}),
		replicaReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "homebase_gateway_replica_reads_total",
			Help: "Calls of read-only routes while a replica is configured, by outcome: replica (served there), " +
				"or sent to the primary because the client's own write is not replayed yet (behind), the replica " +
				"is down (unavailable, unreachable), the function had to write (read_only), replay cancelled " +
				"the query (conflict), the replica did not know the session (unknown_session) or lags more " +
				"than REPLICA_MAX_LAG (lagging).",
		}, []string{"outcome"}),
		bcryptRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "homebase_gateway_bcrypt_refused_total",
			Help: "Calls of the bcrypt-running routes (login, sign-up, password change, account deletion) answered " +
				"503 because BCRYPT_CONCURRENCY calls were in flight for the whole wait.",
		}),
	}
	m.pools = &poolCollector{pools: []namedPool{{"primary", pool}}, waiting: &m.waiting}
	m.functions = &functionStats{}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.dbErrors, m.batchSize, m.calls,
		m.pools, m.bcryptRefused, m.functions,
	)
	m.reg = reg
	m.primaryCalls, m.replicaCalls = m.calls.WithLabelValues("primary"), m.calls.WithLabelValues("replica")
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: promLog{log},
		Registry: reg, // counts its own failures as promhttp_metric_handler_errors_total
	})
	return m
}

// observe counts one answered request; withRequestContext calls it once the
// final status is known.
func (m *metrics) observe(info *requestWriter, method string, status int, elapsed time.Duration) {
	route := info.route
	if route == "" {
		route = unmatchedRoute
	}
	if u := info.usual; u.counter != nil && u.status == status && u.method == method {
		u.counter.Inc()
	} else {
		m.requests.WithLabelValues(route, methodLabel(method), statusLabel(status)).Inc()
	}
	duration := info.duration
	if duration == nil {
		duration = m.duration.WithLabelValues(route)
	}
	duration.Observe(elapsed.Seconds())
	if info.sqlstate != "" {
		m.dbErrors.WithLabelValues(info.sqlstate).Inc()
	}
}

// statusLabels are the status codes as label values, made once rather than
// formatted per request.
var statusLabels = func() (labels [600]string) {
	for i := range labels {
		labels[i] = strconv.Itoa(i)
	}
	return labels
}()

func statusLabel(status int) string {
	if status >= 0 && status < len(statusLabels) {
		return statusLabels[status]
	}
	return strconv.Itoa(status)
}

// methodLabel keeps the method label bounded: a client may send any token as
// a method, and each would otherwise become a series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// named records the route's path template for the metrics and the access
// log (the route label: a template, never the raw path), and the route's
// duration histogram, both known when the route is registered rather than
// asked of gorilla/mux and the histogram vector per request. A route of one
// method also gets the counter of its usual answer (that method, success
// status ok), the one nearly every request of it increments.
func (s *Server) named(template string, next http.Handler, methods []string, ok int) http.Handler {
	duration := s.metrics.duration.WithLabelValues(template)
	var usual usualAnswer
	if len(methods) == 1 && ok != 0 {
		usual = usualAnswer{method: methods[0], status: ok,
			counter: s.metrics.requests.WithLabelValues(template, methodLabel(methods[0]), statusLabel(ok))}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := writerOf(w)
		info.route, info.duration, info.usual = template, duration, usual
		next.ServeHTTP(w, r)
	})
}

// usualAnswer is a route's request counter for one method and status.
type usualAnswer struct {
	method  string
	status  int
	counter prometheus.Counter
}

// serveMetrics answers only clients in METRICS_ALLOWED (after X-Forwarded-For
// from TRUSTED_PROXIES, so a public request relayed by the proxy is refused).
// Anyone else gets the 404 of a route that does not exist, whatever the method.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.metricsAllowed(r) {
		writeError(w, newError(404, "no such route", nil))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, newError(405, "method not allowed on this route", nil))
		return
	}
	s.metrics.handler.ServeHTTP(w, r)
}

func (s *Server) metricsAllowed(r *http.Request) bool {
	ip := s.clientIP(r)
	for _, p := range s.cfg.MetricsAllowed {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// addBcrypt reports the Bcrypt routes' slots: in use now, and how many.
func (m *metrics) addBcrypt(g *bcryptGate) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "homebase_gateway_bcrypt_in_flight",
			Help: "Calls of the bcrypt-running routes in flight now (at most homebase_gateway_bcrypt_slots).",
		}, func() float64 { return float64(g.inFlight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "homebase_gateway_bcrypt_slots",
			Help: "BCRYPT_CONCURRENCY: the most calls of the bcrypt-running routes this process runs at once.",
		}, func() float64 { return float64(g.size()) }),
	)
}

// addReplica counts the replica's routing and reports its pool (UseReplica).
func (m *metrics) addReplica(pool *pgxpool.Pool) {
	m.reg.MustRegister(m.replicaReads)
	m.pools.add("replica", pool)
}

// poolCollector reads each pool's statistics at scrape time, labelled by
// pool (primary, and replica with REPLICA_DATABASE_URL), each pool's from
// one Stat() so that they agree with each other (total ≥ acquired + idle).
type poolCollector struct {
	mu      sync.Mutex
	pools   []namedPool
	waiting *atomic.Int64
}

type namedPool struct {
	name string
	pool *pgxpool.Pool
}

// add reports one more pool from the next scrape on.
func (c *poolCollector) add(name string, pool *pgxpool.Pool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pools = append(c.pools, namedPool{name, pool})
}

var (
	poolAcquiredDesc = prometheus.NewDesc("homebase_gateway_db_pool_acquired_connections",
		"Connections in use by a request now.", []string{"pool"}, nil)
	poolIdleDesc = prometheus.NewDesc("homebase_gateway_db_pool_idle_connections",
		"Open connections waiting for a request now.", []string{"pool"}, nil)
	poolTotalDesc = prometheus.NewDesc("homebase_gateway_db_pool_total_connections",
		"Connections open or being opened now (acquired + idle + constructing).", []string{"pool"}, nil)
	poolMaxDesc = prometheus.NewDesc("homebase_gateway_db_pool_max_connections",
		"The pool's size (DB_POOL_SIZE).", []string{"pool"}, nil)
	poolEmptyAcquiresDesc = prometheus.NewDesc("homebase_gateway_db_pool_empty_acquires_total",
		"Acquires that found no idle connection and waited for one to be released or opened.", []string{"pool"}, nil)
	poolWaitingDesc = prometheus.NewDesc("homebase_gateway_db_pool_waiting_requests",
		"Requests waiting for a connection now, of either pool.", nil, nil)
)

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquiredDesc, poolIdleDesc, poolTotalDesc, poolMaxDesc,
		poolEmptyAcquiresDesc, poolWaitingDesc} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	pools := c.pools
	c.mu.Unlock()
	for _, p := range pools {
		st := p.pool.Stat()
		ch <- prometheus.MustNewConstMetric(poolAcquiredDesc, prometheus.GaugeValue, float64(st.AcquiredConns()), p.name)
		ch <- prometheus.MustNewConstMetric(poolIdleDesc, prometheus.GaugeValue, float64(st.IdleConns()), p.name)
		ch <- prometheus.MustNewConstMetric(poolTotalDesc, prometheus.GaugeValue, float64(st.TotalConns()), p.name)
		ch <- prometheus.MustNewConstMetric(poolMaxDesc, prometheus.GaugeValue, float64(st.MaxConns()), p.name)
		ch <- prometheus.MustNewConstMetric(poolEmptyAcquiresDesc, prometheus.CounterValue, float64(st.EmptyAcquireCount()), p.name)
	}
	ch <- prometheus.MustNewConstMetric(poolWaitingDesc, prometheus.GaugeValue, float64(c.waiting.Load()))
}

// promLog sends the exposition handler's errors to the gateway's log.
type promLog struct{ log zerolog.Logger }

func (l promLog) Println(v ...any) {
	l.log.Error().Str("component", "metrics").Msg(fmt.Sprint(v...))
}

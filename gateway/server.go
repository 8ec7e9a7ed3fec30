// Package gateway is the thin HTTP layer over the api schema: one route
// table (routes.go), one generic handler (handler.go), one error map
// (errors.go). Business rules live in SQL.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	oteltrace "go.opentelemetry.io/otel/trace"

	"homebase/sql/code"
	"homebase/sql/migrations"
)

// Server holds what every request needs.
type Server struct {
	cfg  Config
	pool *pgxpool.Pool
	log  zerolog.Logger
	// ExpectedVersion is the migration version /readyz requires.
	ExpectedVersion int32
	// ExpectedCode is the digest of the code package /readyz requires
	// (sql/code as this build embeds it).
	ExpectedCode string
	// Routes is the route table served; New sets it to the package's Routes.
	Routes []Route
	// metrics are served at /metrics; made by New, like the rest.
	metrics *metrics
	// pipe batches the API's calls (DB_PIPELINE); nil when off.
	pipe *pipeliner
	// replica serves the read-only routes (UseReplica); nil when none.
	replica *replica
	// bcrypt caps the Bcrypt routes' calls in flight (bcrypt.go).
	bcrypt *bcryptGate
	// otel exports one span per request (OTEL_EXPORTER_OTLP_ENDPOINT:
	// otel.go); nil when off.
	otel *tracing
	// xffWarned: the warning of warnUntrustedForwarding was logged.
	xffWarned atomic.Bool
}

// NewPool opens the gateway's connection pool. PostgreSQL enforces the
// statement timeout, so a runaway query is cancelled server-side (57014 → 504).
// DB_EXEC_MODE chooses pgx's exec mode (left at pgx's default when unset);
// with DATABASE_PASSWORD_FILE, each new connection reads its password there.
func NewPool(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", errors.Unwrap(err))
	}
	pc.MaxConns = cfg.PoolSize
	pc.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	pc.ConnConfig.RuntimeParams["application_name"] = "gateway"
	pc.ConnConfig.ConnectTimeout = 5 * time.Second
	if cfg.ExecMode != 0 {
		pc.ConnConfig.DefaultQueryExecMode = cfg.ExecMode
	}
	if cfg.DatabasePasswordFile != "" {
		pc.BeforeConnect = (&passwordFile{path: cfg.DatabasePasswordFile}).beforeConnect
	}
	return pgxpool.NewWithConfig(ctx, pc)
}

// NewLogger builds the zerolog logger that LOG_LEVEL and LOG_FORMAT describe.
func NewLogger(cfg Config, w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil || cfg.LogLevel == "" {
		level = zerolog.InfoLevel
	}
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// New makes a Server over an open pool.
func New(cfg Config, pool *pgxpool.Pool, log zerolog.Logger) *Server {
	s := &Server{cfg: cfg, pool: pool, log: log, ExpectedVersion: migrations.Latest(), ExpectedCode: code.Digest(),
		Routes: Routes, metrics: newMetrics(pool, log)}
	slots := cfg.BcryptConcurrency
	if slots < 1 {
		slots = DefaultBcryptConcurrency(cfg.PoolSize)
	}
	wait := cfg.BcryptWait
	if wait <= 0 {
		wait = DefaultBcryptWait
	}
	s.bcrypt = newBcryptGate(slots, wait, s.metrics.bcryptRefused)
	s.metrics.addBcrypt(s.bcrypt)
	if cfg.OTLPTracesURL != "" {
		t, err := newTracing(cfg.OTLPTracesURL, log)
		if err != nil {
			log.Error().Err(err).Msg("OpenTelemetry export is off: the exporter could not be made")
		} else {
			s.otel = t
			log.Info().Str("url", cfg.OTLPTracesURL).Msg("one span per request goes to the OTLP collector")
		}
	}
	if cfg.Pipeline {
		// One connection stays free for /readyz and maintenance.
		s.pipe = newPipeliner(func(ctx context.Context) (*pgxpool.Conn, error) { return s.acquire(ctx, pool) },
			max(1, int(cfg.PoolSize)-1), s.callTimeout(), s.metrics.batchSize)
	}
	return s
}

// Handler is the whole HTTP surface: operations endpoints and the route table.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	// gorilla/mux tries every route's regular expression and copies the
	// request twice to hand over its variables and route. A route without a
	// path variable needs neither, so it is also listed by exact path and
	// method and served from that table; mux keeps everything else (path
	// variables, path cleaning, 404, 405), with the same handlers.
	exact := map[string]map[string]http.Handler{}
	handle := func(path string, h http.Handler, ok int, methods ...string) {
		h = s.named(path, h, methods, ok)
		route := r.Handle(path, h)
		if len(methods) == 0 {
			return // any method: mux alone
		}
		route.Methods(methods...)
		if strings.Contains(path, "{") {
			return
		}
		if exact[path] == nil {
			exact[path] = map[string]http.Handler{}
		}
		for _, m := range methods {
			exact[path][m] = h
		}
	}
	handle("/healthz", http.HandlerFunc(s.healthz), 200, http.MethodGet, http.MethodHead)
	handle("/readyz", http.HandlerFunc(s.readyz), 200, http.MethodGet, http.MethodHead)
	handle(metricsPath, http.HandlerFunc(s.serveMetrics), 200) // any method: refused clients get a 404 either way
	handle(APIPrefix+"/openapi.json", s.openAPI(), 200, http.MethodGet, http.MethodHead)
	for _, rt := range s.Routes {
		handle(APIPrefix+rt.Path, s.handle(rt), rt.Status, rt.Method)
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, newError(404, "no such route", nil))
	})
	if s.cfg.WebDir != "" {
		r.NotFoundHandler = newWebHandler(s.cfg.WebDir) // it answers /api/ paths with the same 404
	}
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// RFC 9110 §15.5.6: a 405 must list the methods the resource has.
		w.Header().Set("Allow", allowedMethods(r, req))
		writeError(w, newError(405, "method not allowed on this route", nil))
	})
	router := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if h := exact[req.URL.Path][req.Method]; h != nil {
			h.ServeHTTP(w, req)
			return
		}
		r.ServeHTTP(w, req)
	})
	return s.withRequestContext(s.withCORS(router))
}

// allowedMethods lists, sorted, the methods of the routes whose path matches
// the request's.
func allowedMethods(router *mux.Router, req *http.Request) string {
	var methods []string
	router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		var m mux.RouteMatch
		if route.Match(req, &m) || errors.Is(m.MatchErr, mux.ErrMethodMismatch) {
			ms, _ := route.GetMethods()
			methods = append(methods, ms...)
		}
		return nil
	})
	slices.Sort(methods)
	return strings.Join(slices.Compact(methods), ", ")
}

// Run serves until ctx is cancelled (SIGINT/SIGTERM in main), then stops
// accepting connections and lets in-flight requests finish.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	// No ReadHeaderTimeout, ReadTimeout nor IdleTimeout: guard bounds what
	// they would, without a timer per request (connguard.go).
	guard := newConnGuard(headerTimeout, idleTimeout)
	srv := &http.Server{
		Handler:   s.Handler(),
		ConnState: guard.track,
		// Go's server refuses a request line and headers over this with a
		// plain-text 431 and no request id; the gateway's own limit,
		// maxHeaderBytes, is lower and checked in withRequestContext, so
		// that between the two the answer is in the error shape.
		MaxHeaderBytes: maxHeaderRead,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	mctx, stopMaintenance := context.WithCancel(ctx)
	var maintenance sync.WaitGroup
	maintenance.Go(func() { guard.run(mctx) })
	maintenance.Go(func() { s.maintainEvery(mctx) })
	maintenance.Go(func() { s.readFunctionStatsEvery(mctx) })
	// The pool closes after Run returns: maintenance must be done with it.
	defer maintenance.Wait()
	defer stopMaintenance()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info().Msg("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	s.shutdownTracing()
	if s.pipe != nil {
		s.pipe.Close() // the requests are done; the pool closes after Run
	}
	if err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}`))
}

// readyz: the database answers as the gateway role, its schema is at the
// migration version this build was made for, and the code package installed
// is the one this build embeds. Otherwise 503, saying which and what to run.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var ready struct {
		Version      *int32  `json:"version"`
		Code         *string `json:"code"`
		ProxyTrusted bool    `json:"proxy_trusted"`
	}
	var raw []byte
	err := s.pool.QueryRow(ctx, "SELECT api.readiness()").Scan(&raw)
	if err == nil {
		err = json.Unmarshal(raw, &ready)
	}
	if err != nil {
		writerOf(w).err = err
		msg := "the database is not reachable"
		if _, state := errorFromDB(ctx, err); state == "3F000" || state == "42883" {
			// No schema api, or no api.readiness: the package is not installed.
			msg = "no code package is installed; install it (scripts/db migrate)"
		}
		writeError(w, newError(503, msg, nil))
		return
	}
	if ready.Version == nil || *ready.Version != s.ExpectedVersion {
		got := "none"
		if ready.Version != nil {
			got = strconv.Itoa(int(*ready.Version))
		}
		writeError(w, newError(503, fmt.Sprintf("schema version %s, this build needs %d; run the migrations", got, s.ExpectedVersion), nil))
		return
	}
	if ready.Code == nil || *ready.Code != s.ExpectedCode {
		got := "none"
		if ready.Code != nil {
			got = short(*ready.Code)
		}
		writeError(w, newError(503, fmt.Sprintf("code package %s installed, this build has %s; install it (scripts/db migrate)",
			got, short(s.ExpectedCode)), nil))
		return
	}
	if s.cfg.ProxyUserHeader != "" && !ready.ProxyTrusted {
		// The database would refuse every identity the proxy asserts.
		writeError(w, newError(503, "PROXY_USER_HEADER is set, but the gateway's database login is not a member of gateway_proxy", nil))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if s.replica == nil {
		fmt.Fprintf(w, `{"status":"ready","version":%d,"code":%q}`, *ready.Version, *ready.Code)
		return
	}
	// The replica is optional: down, it is reported, and the gateway is ready.
	rep, _ := json.Marshal(s.replica.status(ctx))
	fmt.Fprintf(w, `{"status":"ready","version":%d,"code":%q,"replica":%s}`, *ready.Version, *ready.Code, rep)
}

// short is the start of a digest, as git shortens commit ids.
func short(digest string) string {
	return digest[:min(12, len(digest))]
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

const (
	// maxHeaderBytes is the most a request's target and headers may take
	// (64 KiB: real ones take a few); more is a 414 or a 431 in the error
	// shape (headerProblem).
	maxHeaderBytes = 64 << 10
	// maxHeaderRead is what Go's server reads of them before refusing on
	// its own, in plain text (http.Server.MaxHeaderBytes; Go adds 4 KiB of
	// slack): a few times maxHeaderBytes, so that an oversized request
	// short of it (a 100 kB query string) gets the gateway's own answer,
	// and small enough that a connection's header buffer stays bounded.
	maxHeaderRead = 256 << 10
)

// headerProblem is the answer to a request whose target or headers are
// larger than maxHeaderBytes (as Go's server counts them: the request line,
// then "Name: value\r\n" per header), or nil.
func headerProblem(r *http.Request) *apiError {
	if len(r.RequestURI) > maxHeaderBytes {
		return newError(http.StatusRequestURITooLong, "the request's URL is longer than 64 KiB", nil)
	}
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 + len("Host: \r\n") + len(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	if n > maxHeaderBytes {
		return newError(http.StatusRequestHeaderFieldsTooLarge, "the request's headers are larger than 64 KiB", nil)
	}
	return nil
}

// withRequestContext gives each request an id (the client's X-Request-Id if
// it is sane, else a new one) and its place in a trace (the client's
// traceparent if well-formed, else a new trace: trace.go), echoes both, and
// writes one access-log line.
// The line never holds a query string, header value, token or body.
func (s *Server) withRequestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if r.Body != http.NoBody {
			// A body must arrive within bodyTimeout, whether the route reads
			// it or net/http discards it after the answer: set only for a
			// request that has one, not by the server for every request
			// (connguard.go).
			http.NewResponseController(w).SetReadDeadline(start.Add(bodyTimeout))
		}
		// The pattern only for an id the client sent: most send none.
		id := r.Header.Get("X-Request-Id")
		if id == "" || !requestIDPattern.MatchString(id) {
			var b [16]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		tr, kept, parent := traceOf(r.Header.Get(traceparentHeader))
		var span oteltrace.Span
		if s.otel != nil {
			var ctx context.Context
			ctx, span = s.otel.start(r.Context(), &tr, kept, parent)
			r = r.WithContext(ctx)
		}
		info := &requestWriter{ResponseWriter: w, id: id, trace: tr.id, written: http.StatusOK}
		w.Header().Set("X-Request-Id", id)
		w.Header().Set(traceparentHeader, tr.header())
		serve := next
		if e := headerProblem(r); e != nil {
			serve = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeError(w, e) })
		}
		defer func() {
			if p := recover(); p != nil {
				info.err = fmt.Errorf("panic: %v", p)
				if !info.wrote {
					writeError(info, newError(500, defaultMessages[500], nil))
				}
			}
			status := info.written
			if info.status != 0 {
				status = info.status
			}
			elapsed := time.Since(start)
			s.metrics.observe(info, r.Method, status, elapsed)
			if span != nil {
				s.otel.end(span, info, r.Method, status)
			}
			ev := s.log.Info()
			if status >= 500 {
				ev = s.log.Error()
			}
			if !ev.Enabled() {
				return // below LOG_LEVEL: evaluate nothing
			}
			if info.err != nil {
				ev = ev.AnErr("error", info.err)
			}
			ev = ev.Str("request_id", id).Str("trace_id", tr.id).Str("method", r.Method).Str("path", r.URL.Path).Int("status", status).
				Dur("duration_ms", elapsed).Str("sqlstate", info.sqlstate).
				Str("client", s.clientString(info, r))
			if info.proxyUser != "" {
				ev = ev.Str("identity", "proxy") // never the name: a header value
			}
			ev.Msg("request")
		}()
		serve.ServeHTTP(info, r)
	})
}

// withCORS answers preflights and marks responses readable for the allowed
// origins (ALLOWED_ORIGINS); other origins get no CORS headers at all.
func (s *Server) withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !s.allowedOrigin(origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "X-Request-Id, Traceparent, Retry-After")
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id, Traceparent")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ListenAddr is HOST:PORT.
func (c Config) ListenAddr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// Main is the gateway's main: config from the environment, pool, serve.
func Main(ctx context.Context) error {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return err
	}
	log := NewLogger(cfg, os.Stderr)
	pool, err := NewPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	ln, err := net.Listen("tcp", cfg.ListenAddr())
	if err != nil {
		return err
	}
	log.Info().Str("addr", ln.Addr().String()).Int32("schema_version", migrations.Latest()).
		Str("code_package", short(code.Digest())).
		Bool("cookie_secure", cfg.CookieSecure).Int32("pool_size", cfg.PoolSize).
		Int("bcrypt_concurrency", cfg.BcryptConcurrency).Str("bcrypt_wait", cfg.BcryptWait.String()).
		Str("maintenance_interval", cfg.MaintenanceInterval.String()).
		Str("proxy_user_header", cfg.ProxyUserHeader).Msg("gateway listening")
	s := New(cfg, pool, log)
	replica, err := NewReplicaPool(ctx, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	if replica != nil {
		defer replica.Close()
		s.UseReplica(replica)
		defer s.Close()
		log.Info().Msg("read-only routes go to the replica (REPLICA_DATABASE_URL)")
	}
	if cfg.PprofAddr != "" {
		pln, err := net.Listen("tcp", cfg.PprofAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("PPROF_ADDR: %w", err)
		}
		log.Warn().Str("addr", pln.Addr().String()).Msg("pprof listening (PPROF_ADDR)")
		pctx, stopPprof := context.WithCancel(ctx)
		defer stopPprof()
		go s.servePprof(pctx, pln)
	}
	return s.Run(ctx, ln)
}

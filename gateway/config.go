package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Config is read from the environment; docs/configuration.md documents each variable.
type Config struct {
	Host        string // HOST: interface to listen on
	Port        int    // PORT: listen port
	DatabaseURL string // DATABASE_URL: the gateway role's connection
	// DATABASE_PASSWORD_FILE: a file holding the gateway role's password,
	// read for each new connection (it wins over DATABASE_URL's), so that
	// the password can be rotated without a restart (password.go).
	DatabasePasswordFile string
	// REPLICA_DATABASE_URL: the gateway role's connection to a streaming
	// replica, which serves the read-only routes (optional; replica.go).
	ReplicaDatabaseURL string
	// REPLICA_MAX_LAG: a replica that has not replayed what the primary had
	// written this long ago serves no reads until it catches up (0: no limit).
	ReplicaMaxLag    time.Duration
	LogLevel         string         // LOG_LEVEL: debug, info, warn, error
	LogFormat        string         // LOG_FORMAT: json or console
	CookieSecure     bool           // COOKIE_SECURE: false only for plain-HTTP development
	TrustedProxies   []netip.Prefix // TRUSTED_PROXIES: CIDRs whose X-Forwarded-For is believed
	MetricsAllowed   []netip.Prefix // METRICS_ALLOWED: client addresses that may read /metrics (none if empty)
	AllowedOrigins   []string       // ALLOWED_ORIGINS: origins allowed by CORS and the CSRF rule
	StatementTimeout time.Duration  // STATEMENT_TIMEOUT: per request, enforced by PostgreSQL
	PoolSize         int32          // DB_POOL_SIZE: maximum database connections (default: 2 per CPU, at least 4)
	// BCRYPT_CONCURRENCY: the most calls of the Bcrypt routes (login,
	// sign-up, password change, account deletion) this process has in
	// flight; the rest wait up to a second, then get 503 (bcrypt.go).
	// Default (0 here): DefaultBcryptConcurrency; 1..DB_POOL_SIZE-1.
	BcryptConcurrency int
	// BCRYPT_WAIT: how long such a call waits for a slot before its 503
	// (default, and 0 here: DefaultBcryptWait, a second).
	BcryptWait time.Duration
	// DB_EXEC_MODE: how pgx sends statements (default cache_statement; exec
	// behind PgBouncer's transaction pooling; never simple_protocol, which
	// would put secrets into PostgreSQL's log). The zero value is pgx's default.
	ExecMode        pgx.QueryExecMode
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT: grace for in-flight requests on SIGTERM
	// MAINTENANCE_INTERVAL: how often to run api.maintenance (0 = never)
	MaintenanceInterval time.Duration
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT with
	// /v1/traces appended (OpenTelemetry's rule): where to send one span per
	// request over OTLP/HTTP (otel.go); empty, the default: no export.
	OTLPTracesURL string
	// DB_STATS_INTERVAL: how often to read the api functions' counters for
	// /metrics (dbstats.go; default a minute, 0 = never)
	StatsInterval time.Duration
	// PPROF_ADDR: host:port of a separate listener serving net/http/pprof
	// (empty, the default: none). Never the public listener.
	PprofAddr string
	// WEB_DIR: the built web client (web/dist) served at / outside /api/
	// (web.go); empty, the default: none (nginx serves it in the stack).
	WebDir string
	// DB_PIPELINE: send the API's calls with natural batching in
	// PostgreSQL's pipeline mode (pipeline.go); off by default.
	Pipeline bool
	// PROXY_USER_HEADER: the request header in which a peer of
	// TRUSTED_PROXIES names the user it has authenticated (X-Remote-User);
	// empty, the default: no proxy-asserted identity. The database believes
	// it only from a login that is a member of gateway_proxy.
	ProxyUserHeader string
}

// ConfigFromEnv reads Config from environment variables, with defaults that
// are safe for production (Secure cookies, no trusted proxy, loopback only).
func ConfigFromEnv() (Config, error) {
	c := Config{
		Host:                 env("HOST", "127.0.0.1"),
		DatabaseURL:          os.Getenv("DATABASE_URL"),
		DatabasePasswordFile: strings.TrimSpace(os.Getenv("DATABASE_PASSWORD_FILE")),
		ReplicaDatabaseURL:   strings.TrimSpace(os.Getenv("REPLICA_DATABASE_URL")),
		LogLevel:             env("LOG_LEVEL", "info"),
		LogFormat:            env("LOG_FORMAT", "json"),
		AllowedOrigins:       splitList(os.Getenv("ALLOWED_ORIGINS")),
		PprofAddr:            strings.TrimSpace(os.Getenv("PPROF_ADDR")),
		WebDir:               strings.TrimSpace(os.Getenv("WEB_DIR")),
		StatementTimeout:     5 * time.Second,
		PoolSize:             int32(max(4, 2*runtime.NumCPU())),
		ShutdownTimeout:      30 * time.Second,
		ReplicaMaxLag:        10 * time.Second,

		MaintenanceInterval: 10 * time.Minute,
		StatsInterval:       time.Minute,
	}
	var err error
	if c.Port, err = strconv.Atoi(env("PORT", "8080")); err != nil || c.Port < 0 || c.Port > 65535 {
		return c, fmt.Errorf("PORT: not a port number")
	}
	if c.DatabaseURL == "" {
		return c, fmt.Errorf("DATABASE_URL is required (the gateway role's connection URL)")
	}
	if c.DatabasePasswordFile != "" {
		if _, err := readPasswordFile(c.DatabasePasswordFile); err != nil {
			return c, fmt.Errorf("DATABASE_PASSWORD_FILE: %w", err)
		}
	}
	if c.CookieSecure, err = strconv.ParseBool(env("COOKIE_SECURE", "true")); err != nil {
		return c, fmt.Errorf("COOKIE_SECURE: %w", err)
	}
	if c.TrustedProxies, err = prefixList("TRUSTED_PROXIES", os.Getenv("TRUSTED_PROXIES")); err != nil {
		return c, err
	}
	if c.MetricsAllowed, err = prefixList("METRICS_ALLOWED", env("METRICS_ALLOWED", "127.0.0.0/8,::1/128")); err != nil {
		return c, err
	}
	if v := os.Getenv("STATEMENT_TIMEOUT"); v != "" {
		if c.StatementTimeout, err = time.ParseDuration(v); err != nil || c.StatementTimeout < time.Millisecond {
			return c, fmt.Errorf("STATEMENT_TIMEOUT: want a duration such as 5s")
		}
	}
	if v := os.Getenv("REPLICA_MAX_LAG"); v != "" {
		if c.ReplicaMaxLag, err = time.ParseDuration(v); err != nil || c.ReplicaMaxLag < 0 {
			return c, fmt.Errorf("REPLICA_MAX_LAG: want a duration such as 10s, or 0 for no limit")
		}
	}
	if v := os.Getenv("SHUTDOWN_TIMEOUT"); v != "" {
		if c.ShutdownTimeout, err = time.ParseDuration(v); err != nil {
			return c, fmt.Errorf("SHUTDOWN_TIMEOUT: want a duration such as 30s")
		}
	}
	if v := os.Getenv("MAINTENANCE_INTERVAL"); v != "" {
		if c.MaintenanceInterval, err = time.ParseDuration(v); err != nil || c.MaintenanceInterval < 0 {
			return c, fmt.Errorf("MAINTENANCE_INTERVAL: want a duration such as 10m, or 0 to turn maintenance off")
		}
	}
	if v := os.Getenv("DB_STATS_INTERVAL"); v != "" {
		if c.StatsInterval, err = time.ParseDuration(v); err != nil || c.StatsInterval < 0 {
			return c, fmt.Errorf("DB_STATS_INTERVAL: want a duration such as 1m, or 0 to read no function statistics")
		}
	}
	if c.OTLPTracesURL, err = otlpTracesURL(os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); err != nil {
		return c, err
	}
	if c.Pipeline, err = strconv.ParseBool(env("DB_PIPELINE", "false")); err != nil {
		return c, fmt.Errorf("DB_PIPELINE: want true or false")
	}
	if v := os.Getenv("DB_POOL_SIZE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return c, fmt.Errorf("DB_POOL_SIZE: want 1..1000")
		}
		c.PoolSize = int32(n)
	}
	c.BcryptConcurrency = DefaultBcryptConcurrency(c.PoolSize)
	if v := os.Getenv("BCRYPT_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > max(1, int(c.PoolSize)-1) {
			return c, fmt.Errorf("BCRYPT_CONCURRENCY: want 1..%d, below DB_POOL_SIZE (%d) so that the other routes keep connections",
				max(1, int(c.PoolSize)-1), c.PoolSize)
		}
		c.BcryptConcurrency = n
	}
	c.BcryptWait = DefaultBcryptWait
	if v := os.Getenv("BCRYPT_WAIT"); v != "" {
		if c.BcryptWait, err = time.ParseDuration(v); err != nil || c.BcryptWait < time.Millisecond || c.BcryptWait > time.Minute {
			return c, fmt.Errorf("BCRYPT_WAIT: want a duration from 1ms to 1m, such as 1s")
		}
	}
	if c.ExecMode, err = ParseExecMode(os.Getenv("DB_EXEC_MODE")); err != nil {
		return c, err
	}
	if c.Pipeline && c.ExecMode != pgx.QueryExecModeCacheStatement {
		// The pipeliner prepares each statement once per connection, which a
		// transaction pooler (PgBouncer 1.18) cannot keep.
		return c, fmt.Errorf("DB_PIPELINE=true needs DB_EXEC_MODE=cache_statement (prepared statements): not behind PgBouncer")
	}
	if c.PprofAddr != "" {
		if _, p, err := net.SplitHostPort(c.PprofAddr); err != nil || p == "" {
			return c, fmt.Errorf("PPROF_ADDR: want host:port, such as 127.0.0.1:6060")
		}
	}
	if c.WebDir != "" {
		if st, err := os.Stat(filepath.Join(c.WebDir, "index.html")); err != nil || !st.Mode().IsRegular() {
			return c, fmt.Errorf("WEB_DIR: %s holds no index.html (build web/ first: scripts/run does)", c.WebDir)
		}
	}
	if c.ProxyUserHeader, err = proxyUserHeader(os.Getenv("PROXY_USER_HEADER"), c.TrustedProxies); err != nil {
		return c, err
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		return c, fmt.Errorf("LOG_FORMAT: want json or console")
	}
	return c, nil
}

// otlpTracesURL is the traces URL OpenTelemetry's settings name: the
// traces-specific one as it is, else the base one with /v1/traces.
func otlpTracesURL(traces, base string) (string, error) {
	name, v, suffix := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", strings.TrimSpace(traces), ""
	if v == "" {
		name, v, suffix = "OTEL_EXPORTER_OTLP_ENDPOINT", strings.TrimSpace(base), "/v1/traces"
		if v == "" {
			return "", nil
		}
	}
	// The value as given is checked, before any suffix: "http://" is no URL.
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s: want an http or https URL such as http://127.0.0.1:4318", name)
	}
	if suffix != "" {
		v = strings.TrimSuffix(v, "/") + suffix
	}
	return v, nil
}

// reservedHeaders carry something else the gateway reads or trusts; none
// may double as the proxy's user header.
var reservedHeaders = map[string]bool{
	"Authorization": true, "Cookie": true, "Host": true, "Origin": true, "Referer": true,
	"User-Agent": true, "X-Forwarded-For": true, "X-Forwarded-Proto": true, "X-Request-Id": true,
	"Traceparent": true, "Content-Type": true, "Content-Length": true,
}

// proxyUserHeader checks PROXY_USER_HEADER: a header name (RFC 9110 token
// characters), not one of reservedHeaders, and only with TRUSTED_PROXIES
// (no peer could send it otherwise). Answers its canonical form.
func proxyUserHeader(v string, trusted []netip.Prefix) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return "", fmt.Errorf("PROXY_USER_HEADER: %q is not a header name", v)
		}
	}
	h := http.CanonicalHeaderKey(v)
	if reservedHeaders[h] {
		return "", fmt.Errorf("PROXY_USER_HEADER: %s already means something else; choose another, such as X-Remote-User", h)
	}
	if len(trusted) == 0 {
		return "", fmt.Errorf("PROXY_USER_HEADER needs TRUSTED_PROXIES: the header is believed from those peers only")
	}
	return h, nil
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// prefixList parses comma-separated CIDRs or single addresses (a /32 or /128).
func prefixList(key, s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range splitList(s) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%s: %q is not a CIDR or address", key, f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// execModes are DB_EXEC_MODE's values, pgx's own names for its modes.
var execModes = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"describe_exec":   pgx.QueryExecModeDescribeExec,
	"exec":            pgx.QueryExecModeExec,
}

// errSimpleProtocol is why DB_EXEC_MODE=simple_protocol is refused: pgx
// would inline every parameter into the statement's text, and PostgreSQL
// logs the text of a statement that fails (log_min_error_statement, ERROR
// by default), so a throttled login would write the typed password, and any
// 4xx of an authenticated route the bearer token, into the server's log.
// With the extended protocol (every other mode) parameters travel apart
// from the text. exec does what simple_protocol was for: one round trip,
// behind PgBouncer's transaction pooling.
var errSimpleProtocol = fmt.Errorf("DB_EXEC_MODE=simple_protocol is refused: pgx would inline the parameters " +
	"(passwords, session tokens) into the statement text, which PostgreSQL writes to its log when the " +
	"statement fails; use exec (one round trip, also behind PgBouncer)")

// ParseExecMode reads DB_EXEC_MODE; empty is cache_statement, pgx's default
// (named prepared statements kept per connection: not behind PgBouncer 1.18's
// transaction pooling, where exec is needed). simple_protocol is refused
// (errSimpleProtocol).
func ParseExecMode(s string) (pgx.QueryExecMode, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return pgx.QueryExecModeCacheStatement, nil
	}
	if m, ok := execModes[s]; ok {
		return m, nil
	}
	if strings.EqualFold(s, "simple_protocol") {
		return 0, errSimpleProtocol
	}
	return 0, fmt.Errorf("DB_EXEC_MODE: want cache_statement, cache_describe, describe_exec or exec")
}

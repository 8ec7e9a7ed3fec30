package gateway

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestConfigFromEnvDefaults(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://gateway@127.0.0.1/db")
	for _, k := range []string{"HOST", "PORT", "LOG_LEVEL", "LOG_FORMAT", "COOKIE_SECURE", "TRUSTED_PROXIES",
		"METRICS_ALLOWED", "ALLOWED_ORIGINS", "STATEMENT_TIMEOUT", "DB_POOL_SIZE", "SHUTDOWN_TIMEOUT",
		"MAINTENANCE_INTERVAL", "PPROF_ADDR", "DB_PIPELINE", "DB_EXEC_MODE", "PROXY_USER_HEADER",
		"DATABASE_PASSWORD_FILE", "REPLICA_DATABASE_URL", "REPLICA_MAX_LAG", "BCRYPT_CONCURRENCY",
		"BCRYPT_WAIT", "DB_STATS_INTERVAL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		t.Setenv(k, "")
	}
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr() != "127.0.0.1:8080" || !c.CookieSecure || len(c.TrustedProxies) != 0 ||
		c.StatementTimeout != 5*time.Second || c.PoolSize < 4 || c.LogFormat != "json" ||
		c.MaintenanceInterval != 10*time.Minute || c.ReplicaDatabaseURL != "" || c.ReplicaMaxLag != 10*time.Second ||
		c.StatsInterval != time.Minute {
		t.Fatalf("defaults: %+v", c)
	}
	// Calls are not batched unless asked for.
	if c.Pipeline {
		t.Fatal("DB_PIPELINE is on by default")
	}
	// No proxy-asserted identity unless asked for.
	if c.ProxyUserHeader != "" {
		t.Fatalf("PROXY_USER_HEADER default %q, want none", c.ProxyUserHeader)
	}
	// No span is exported unless asked for.
	if c.OTLPTracesURL != "" {
		t.Fatalf("OTLPTracesURL default %q, want none", c.OTLPTracesURL)
	}
	// No profiling listener unless asked for.
	if c.PprofAddr != "" {
		t.Fatalf("PPROF_ADDR default %q, want none", c.PprofAddr)
	}
	// /metrics is for a scraper on the same host unless configured otherwise.
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	if !slices.Equal(c.MetricsAllowed, loopback) {
		t.Fatalf("METRICS_ALLOWED default %v, want %v", c.MetricsAllowed, loopback)
	}
}

func TestConfigFromEnvValues(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://gateway@127.0.0.1/db")
	t.Setenv("HOST", "0.0.0.0")
	t.Setenv("PORT", "9000")
	t.Setenv("COOKIE_SECURE", "false")
	t.Setenv("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7")
	t.Setenv("METRICS_ALLOWED", " 10.1.2.3/16,2001:db8::7 ")
	t.Setenv("ALLOWED_ORIGINS", "https://a.example,https://b.example")
	t.Setenv("STATEMENT_TIMEOUT", "250ms")
	t.Setenv("DB_POOL_SIZE", "7")
	t.Setenv("LOG_FORMAT", "console")
	t.Setenv("MAINTENANCE_INTERVAL", "0")
	t.Setenv("DB_STATS_INTERVAL", "15s")
	t.Setenv("PPROF_ADDR", "127.0.0.1:6060")
	t.Setenv("DB_PIPELINE", "true")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}
	if c.ListenAddr() != "0.0.0.0:9000" || c.CookieSecure || c.StatementTimeout != 250*time.Millisecond ||
		c.PoolSize != 7 || c.LogFormat != "console" || len(c.AllowedOrigins) != 2 ||
		c.MaintenanceInterval != 0 || c.StatsInterval != 15*time.Second || c.PprofAddr != "127.0.0.1:6060" || !c.Pipeline ||
		len(c.TrustedProxies) != 2 || c.TrustedProxies[0] != want[0] || c.TrustedProxies[1] != want[1] {
		t.Fatalf("parsed: %+v", c)
	}
	// Host bits are masked off; a bare address is that one address.
	metrics := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("2001:db8::7/128")}
	if !slices.Equal(c.MetricsAllowed, metrics) {
		t.Fatalf("METRICS_ALLOWED parsed as %v, want %v", c.MetricsAllowed, metrics)
	}
}

func TestConfigFromEnvRejects(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no database":        {"DATABASE_URL": ""},
		"port":               {"PORT": "http"},
		"port range":         {"PORT": "70000"},
		"cookie flag":        {"COOKIE_SECURE": "maybe"},
		"proxy":              {"TRUSTED_PROXIES": "10.0.0.0/33"},
		"timeout":            {"STATEMENT_TIMEOUT": "5"},
		"pool":               {"DB_POOL_SIZE": "0"},
		"log format":         {"LOG_FORMAT": "xml"},
		"shutdown grace":     {"SHUTDOWN_TIMEOUT": "soon"},
		"tiny timeout":       {"STATEMENT_TIMEOUT": "10us"},
		"pool not a number":  {"DB_POOL_SIZE": "many"},
		"proxy not an entry": {"TRUSTED_PROXIES": "localhost"},
		"maintenance":        {"MAINTENANCE_INTERVAL": "often"},
		"negative interval":  {"MAINTENANCE_INTERVAL": "-1m"},
		"stats interval":     {"DB_STATS_INTERVAL": "hourly"},
		"metrics prefix":     {"METRICS_ALLOWED": "127.0.0.0/8,::1/129"},
		"metrics hostname":   {"METRICS_ALLOWED": "localhost"},
		"metrics garbage":    {"METRICS_ALLOWED": "127.0.0.1, prometheus:9090"},
		"pprof port only":    {"PPROF_ADDR": "6060"},
		"pprof no port":      {"PPROF_ADDR": "127.0.0.1:"},
		"pipeline":           {"DB_PIPELINE": "sometimes"},
		"pipeline exec mode": {"DB_PIPELINE": "true", "DB_EXEC_MODE": "exec"},
		"no password file":   {"DATABASE_PASSWORD_FILE": "/nonexistent/gateway.password"},
		"replica lag":        {"REPLICA_MAX_LAG": "far"},
		"negative lag":       {"REPLICA_MAX_LAG": "-1s"},
		"otlp endpoint":      {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("DATABASE_URL", "postgres://gateway@127.0.0.1/db")
			var key string
			for k, v := range env {
				t.Setenv(k, v)
				key = k
			}
			_, err := ConfigFromEnv()
			if err == nil {
				t.Fatalf("%v accepted", env)
			}
			if !strings.Contains(err.Error(), key) {
				t.Fatalf("error %q does not name %s", err, key)
			}
		})
	}
}

func TestParseExecMode(t *testing.T) {
	for in, want := range map[string]pgx.QueryExecMode{
		"":                pgx.QueryExecModeCacheStatement,
		"cache_statement": pgx.QueryExecModeCacheStatement,
		"cache_describe":  pgx.QueryExecModeCacheDescribe,
		"describe_exec":   pgx.QueryExecModeDescribeExec,
		" exec ":          pgx.QueryExecModeExec,
	} {
		if got, err := ParseExecMode(in); err != nil || got != want {
			t.Errorf("ParseExecMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"prepared", "Exec", "simple", "0"} {
		if _, err := ParseExecMode(bad); err == nil || !strings.Contains(err.Error(), "DB_EXEC_MODE") {
			t.Errorf("ParseExecMode(%q): err %v, want DB_EXEC_MODE refused", bad, err)
		}
	}
}

func TestConfigFromEnvExecMode(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://gateway@127.0.0.1/db")
	t.Setenv("DB_EXEC_MODE", "")
	if c, err := ConfigFromEnv(); err != nil || c.ExecMode != pgx.QueryExecModeCacheStatement {
		t.Fatalf("default: %v, %v", c.ExecMode, err)
	}
	t.Setenv("DB_EXEC_MODE", "exec")
	if c, err := ConfigFromEnv(); err != nil || c.ExecMode != pgx.QueryExecModeExec {
		t.Fatalf("exec: %v, %v", c.ExecMode, err)
	}
	t.Setenv("DB_EXEC_MODE", "prepare")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "DB_EXEC_MODE") {
		t.Fatalf("a bad DB_EXEC_MODE: err %v", err)
	}
}

// simple_protocol inlines the parameters (passwords, tokens) into the
// statement text, which PostgreSQL logs when the statement fails: refused
// at start-up, saying why.
func TestConfigFromEnvRefusesSimpleProtocol(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://gateway@127.0.0.1/db")
	for _, v := range []string{"simple_protocol", " simple_protocol ", "SIMPLE_PROTOCOL"} {
		t.Setenv("DB_EXEC_MODE", v)
		_, err := ConfigFromEnv()
		if err == nil {
			t.Fatalf("DB_EXEC_MODE=%q accepted, want it refused", v)
		}
		for _, want := range []string{"DB_EXEC_MODE=simple_protocol", "inline", "log", "exec"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("DB_EXEC_MODE=%q: error %q does not say %q", v, err, want)
			}
		}
	}
}

// PROXY_USER_HEADER: a header name, not one the gateway reads for something
// else, and only with TRUSTED_PROXIES.
func TestConfigProxyUserHeader(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://gateway@127.0.0.1/db")
	t.Setenv("TRUSTED_PROXIES", "127.0.0.1")
	t.Setenv("PROXY_USER_HEADER", "x-remote-user")
	c, err := ConfigFromEnv()
	if err != nil || c.ProxyUserHeader != "X-Remote-User" {
		t.Fatalf("x-remote-user: %q, %v; want X-Remote-User", c.ProxyUserHeader, err)
	}
	for v, want := range map[string]string{
		"X Remote User":   "is not a header name",
		"X-Remote-User:":  "is not a header name",
		"authorization":   "already means something else",
		"X-Forwarded-For": "already means something else",
		"Cookie":          "already means something else",
	} {
		t.Setenv("PROXY_USER_HEADER", v)
		if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("PROXY_USER_HEADER=%q: error %v, want %q", v, err, want)
		}
	}
	t.Setenv("PROXY_USER_HEADER", "X-Remote-User")
	t.Setenv("TRUSTED_PROXIES", "")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "needs TRUSTED_PROXIES") {
		t.Errorf("without TRUSTED_PROXIES: error %v, want it refused", err)
	}
}

// The OTLP traces URL follows OpenTelemetry's rule: the traces-specific
// variable as it is, else the base one with /v1/traces; neither, no export.
func TestConfigOTLPTracesURL(t *testing.T) {
	const (
		tracesVar = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
		baseVar   = "OTEL_EXPORTER_OTLP_ENDPOINT"
	)
	for _, c := range []struct{ traces, base, want string }{
		{"", "", ""},
		{" ", "  ", ""},
		{"", "http://collector:4318", "http://collector:4318/v1/traces"},
		{"", "http://collector:4318/", "http://collector:4318/v1/traces"},
		{"", " https://otel.example/otlp/ ", "https://otel.example/otlp/v1/traces"},
		{"http://tempo:4318/v1/traces", "http://collector:4318", "http://tempo:4318/v1/traces"},
		{"http://tempo:4318/ingest", "", "http://tempo:4318/ingest"},
		{" https://tempo.example ", "", "https://tempo.example"},
	} {
		t.Setenv("DATABASE_URL", "postgres://gateway@127.0.0.1/db")
		t.Setenv(tracesVar, c.traces)
		t.Setenv(baseVar, c.base)
		got, err := ConfigFromEnv()
		if err != nil || got.OTLPTracesURL != c.want {
			t.Errorf("%s=%q %s=%q: %q, %v; want %q", tracesVar, c.traces, baseVar, c.base, got.OTLPTracesURL, err, c.want)
		}
	}
	for _, c := range []struct{ traces, base, blamed string }{
		{"", "collector:4318", baseVar},
		{"", "grpc://collector:4317", baseVar},
		{"", "http://", baseVar},
		{"ftp://tempo:4318/v1/traces", "http://collector:4318", tracesVar},
		{"://tempo", "", tracesVar},
		{"tempo:4318", "", tracesVar},
	} {
		t.Setenv("DATABASE_URL", "postgres://gateway@127.0.0.1/db")
		t.Setenv(tracesVar, c.traces)
		t.Setenv(baseVar, c.base)
		if _, err := ConfigFromEnv(); err == nil || !strings.HasPrefix(err.Error(), c.blamed+": ") {
			t.Errorf("%s=%q %s=%q: error %v, want one naming %s", tracesVar, c.traces, baseVar, c.base, err, c.blamed)
		}
	}
}

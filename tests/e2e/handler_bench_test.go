package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"homebase/gateway"
)

// discardWriter is the cheapest http.ResponseWriter: the benchmark counts
// the gateway's work, not a recorder's.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// BenchmarkSessionHandler runs GET /api/v1/session through the whole handler
// (request context, router, metrics, access log at warn, one query against
// the real test database) as scripts/bench session's gateway phase does, and
// reports the allocations per request:
//
//	go test ./tests/e2e -run '^$' -bench SessionHandler -benchmem
//
// (with the environment scripts/test sets for the e2e tests).
func BenchmarkSessionHandler(b *testing.B) { benchSessionHandler(b, "") }

// BenchmarkSessionHandlerOTel is the same with the OpenTelemetry export on
// (gateway/otel.go), to a collector that takes every export and reads none.
func BenchmarkSessionHandlerOTel(b *testing.B) {
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer col.Close()
	benchSessionHandler(b, col.URL+"/v1/traces")
}

func benchSessionHandler(b *testing.B, otlpTracesURL string) {
	cfg := testConfig()
	cfg.LogLevel = "warn"
	cfg.PoolSize = 4
	cfg.OTLPTracesURL = otlpTracesURL
	pool, err := gateway.NewPool(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	s := gateway.New(cfg, pool, gateway.NewLogger(cfg, discard{}))
	defer s.Close()
	h := s.Handler()

	// One account and session, made as the owner.
	username := unique("bench_")
	var token string
	if err := owner.QueryRow(context.Background(), `
		WITH a AS (INSERT INTO auth.accounts (username, email, password_hash)
		           VALUES ($1::text, $1::text || '@example.com', auth.dummy_password_hash()) RETURNING username)
		SELECT auth.create_account_session((SELECT username::text FROM a), 'bench/1.0', '127.0.0.1')`,
		username).Scan(&token); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		owner.Exec(context.Background(), "DELETE FROM auth.accounts WHERE username = $1", username)
	})

	req := httptest.NewRequest("GET", "/api/v1/session", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", "bench/1.0")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != 0 && w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

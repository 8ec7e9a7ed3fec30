// Package e2e tests the gateway over real HTTP against the real, migrated
// test database that scripts/test prepares. No mocks: each test starts the
// gateway on a loopback port with the gateway role's credentials.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"homebase/gateway"
)

var (
	ownerURL   string        // the owner role: fixtures and checks behind the API's back
	gatewayURL string        // the gateway role, as in production
	owner      *pgxpool.Pool // shared by tests for fixtures
)

func TestMain(m *testing.M) {
	ownerURL = os.Getenv("TEST_OWNER_DATABASE_URL")
	gatewayURL = os.Getenv("TEST_GATEWAY_DATABASE_URL")
	if ownerURL == "" || gatewayURL == "" {
		fmt.Fprintln(os.Stderr, "e2e: TEST_OWNER_DATABASE_URL and TEST_GATEWAY_DATABASE_URL are not set; run scripts/test")
		os.Exit(1)
	}
	var err error
	owner, err = pgxpool.New(context.Background(), ownerURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := m.Run()
	owner.Close()
	os.Exit(code)
}

// syncBuffer collects the gateway's log lines so tests can inspect them.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testGateway is a gateway served on a loopback port.
type testGateway struct {
	t    *testing.T
	URL  string
	Log  *syncBuffer
	http *http.Client
	cfg  gateway.Config
}

// testConfig trusts loopback as a proxy, so that each test can present its
// own client address in X-Forwarded-For and keep per-IP throttling apart.
func testConfig() gateway.Config {
	return gateway.Config{
		DatabaseURL:      gatewayURL,
		LogLevel:         "debug",
		LogFormat:        "json",
		CookieSecure:     true,
		TrustedProxies:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		AllowedOrigins:   []string{"https://app.example"},
		StatementTimeout: 10 * time.Second,
		PoolSize:         20,
		ShutdownTimeout:  10 * time.Second,
	}
}

// startGateway serves a gateway for the test; edit adjusts its configuration.
func startGateway(t *testing.T, edit func(*gateway.Config)) *testGateway {
	t.Helper()
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	pool, err := gateway.NewPool(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv := httptest.NewServer(gateway.New(cfg, pool, gateway.NewLogger(cfg, logs)).Handler())
	t.Cleanup(func() { srv.Close(); pool.Close() })
	return &testGateway{t: t, URL: srv.URL, Log: logs, http: srv.Client(), cfg: cfg}
}

// req describes one HTTP request; zero values mean "not sent".
type req struct {
	Method  string
	Path    string // under /api/v1 unless it starts with "//" (then taken from the root)
	Body    any    // marshalled to JSON; a string or []byte is sent as is
	Token   string // Authorization: Bearer
	UA      string // User-Agent ("" sends none)
	IP      string // X-Forwarded-For
	Headers map[string]string
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r resp) JSON(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return v
}

// Code is the "code" of an error body.
func (r resp) Code(t *testing.T) string {
	t.Helper()
	c, _ := r.JSON(t)["code"].(string)
	return c
}

func (g *testGateway) do(r req) resp {
	g.t.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			g.t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	url := g.URL + "/api/v1" + r.Path
	if strings.HasPrefix(r.Path, "//") {
		url = g.URL + r.Path[1:]
	}
	hr, err := http.NewRequest(r.Method, url, body)
	if err != nil {
		g.t.Fatal(err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.Token)
	}
	hr.Header.Set("User-Agent", r.UA)
	if r.IP != "" {
		hr.Header.Set("X-Forwarded-For", r.IP)
	}
	for k, v := range r.Headers {
		hr.Header.Set(k, v)
	}
	res, err := g.http.Do(hr)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		g.t.Fatal(err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// expect fails the test unless the response has the status (and, for errors, the code).
func expect(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	if code != "" {
		if got := r.Code(t); got != code {
			t.Fatalf("code %q, want %q; body %s", got, code, r.Body)
		}
	}
}

func unique(prefix string) string {
	var b [4]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// uniqueIP is a documentation-range address (198.18.0.0/15) of its own.
func uniqueIP() string {
	var b [2]byte
	rand.Read(b[:])
	return fmt.Sprintf("198.18.%d.%d", b[0], b[1])
}

// user is an account created through the API.
type user struct {
	ID       float64
	Username string
	Email    string
	Password string
	IP       string
}

func (g *testGateway) signup(t *testing.T) user {
	t.Helper()
	u := user{Username: unique("u_"), Password: "correct horse " + unique(""), IP: uniqueIP()}
	u.Email = u.Username + "@example.com"
	r := g.do(req{Method: "POST", Path: "/accounts", IP: u.IP,
		Body: map[string]any{"username": u.Username, "email": u.Email, "password": u.Password}})
	expect(t, r, 201, "")
	u.ID = r.JSON(t)["account"].(map[string]any)["id"].(float64)
	return u
}

// login returns a session token for the user, bound to the browser ua.
func (g *testGateway) login(t *testing.T, u user, ua string) string {
	t.Helper()
	r := g.do(req{Method: "POST", Path: "/sessions", UA: ua, IP: u.IP,
		Body: map[string]any{"login": u.Username, "password": u.Password}})
	expect(t, r, 201, "")
	return r.JSON(t)["token"].(string)
}

// sessionRows counts the sessions of an account, read as the owner.
func sessionRows(t *testing.T, accountID float64) int {
	t.Helper()
	var n int
	if err := owner.QueryRow(context.Background(),
		"SELECT count(*) FROM auth.account_sessions WHERE account_id = $1", int64(accountID)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Package e2e tests the gateway over real HTTP against the real, migrated
// test database that scripts/test prepares. No mocks: each test starts the
// gateway on a loopback port with the gateway role's credentials.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"homebase/gateway"
)

var (
	ownerURL   string        // the owner role: fixtures and checks behind the API's back
	gatewayURL string        // the gateway role, as in production
	owner      *pgxpool.Pool // shared by tests for fixtures
	// execMode is TEST_DB_EXEC_MODE (DB_EXEC_MODE's values), for a run
	// behind PgBouncer; empty: pgx's default.
	execMode pgx.QueryExecMode
	// behindPgBouncer: TEST_BEHIND_PGBOUNCER=1, TEST_GATEWAY_DATABASE_URL is
	// PgBouncer (transaction pooling), not PostgreSQL itself.
	behindPgBouncer bool
)

// skipBehindPgBouncer skips a test that cannot hold when the gateway's
// database is PgBouncer, saying why.
func skipBehindPgBouncer(t *testing.T, why string) {
	t.Helper()
	if behindPgBouncer {
		t.Skip("behind PgBouncer: " + why)
	}
}

func TestMain(m *testing.M) {
	ownerURL = os.Getenv("TEST_OWNER_DATABASE_URL")
	gatewayURL = os.Getenv("TEST_GATEWAY_DATABASE_URL")
	if ownerURL == "" || gatewayURL == "" {
		fmt.Fprintln(os.Stderr, "e2e: TEST_OWNER_DATABASE_URL and TEST_GATEWAY_DATABASE_URL are not set; run scripts/test")
		os.Exit(1)
	}
	var err error
	if execMode, err = gateway.ParseExecMode(os.Getenv("TEST_DB_EXEC_MODE")); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: TEST_DB_EXEC_MODE:", err)
		os.Exit(1)
	}
	behindPgBouncer = os.Getenv("TEST_BEHIND_PGBOUNCER") == "1"
	owner, err = pgxpool.New(context.Background(), ownerURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	restoreLimits, err := suiteRateLimits(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: raising the per-IP rate limits for the run:", err)
		os.Exit(1)
	}
	code := m.Run()
	stopMail()      // Mailpit and the sender, if a mail test started them (mail_test.go)
	stopToxiproxy() // toxiproxy, if a link test started it (link_test.go)
	restoreLimits()
	owner.Close()
	if code == 0 {
		// The answers the tests received, against the OpenAPI document (contract_test.go).
		bad, err := undocumentedAnswers()
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: the OpenAPI document:", err)
			code = 1
		}
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "e2e: undocumented answer:", b)
			code = 1
		}
	}
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
	t       *testing.T
	URL     string
	Log     *syncBuffer
	http    *http.Client
	cfg     gateway.Config
	secrets *secrets
}

// secrets are the passwords and tokens a test used with a gateway; none may
// ever appear in its log.
type secrets struct {
	mu   sync.Mutex
	list []string
}

func (s *secrets) add(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, v)
}

// checkLog fails the test if the log holds any of the secrets.
func (s *secrets) checkLog(t *testing.T, log string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.list {
		if v != "" && strings.Contains(log, v) {
			t.Errorf("the gateway log contains the secret %q", v)
		}
	}
}

// checkAuditLog fails the test if any audit log row holds one of the
// secrets, or the SHA-256 digest of one (how tokens are stored).
func (s *secrets) checkAuditLog(t *testing.T) {
	s.mu.Lock()
	var list []string
	for _, v := range s.list {
		if v != "" {
			sum := sha256.Sum256([]byte(v))
			list = append(list, v, hex.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:]))
		}
	}
	s.mu.Unlock()
	rows, err := owner.Query(context.Background(), `
		SELECT s FROM unnest($1::text[]) s
		 WHERE EXISTS (SELECT 1 FROM audit.logs l WHERE strpos(l::text, s) > 0)`, list)
	if err != nil {
		t.Fatal(err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range found {
		t.Errorf("an audit log row contains the secret (or its digest) %q", v)
	}
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
		// The suite's tests run side by side on a few shared cores, where a
		// bcrypt takes far longer than in production: their bcrypt calls
		// wait for a slot rather than fail (TestBcryptConcurrencyCap sets
		// the production wait).
		BcryptWait:      30 * time.Second,
		ShutdownTimeout: 10 * time.Second,
		ExecMode:        execMode,
		// scripts/test runs the suite a second time with the calls batched.
		Pipeline: os.Getenv("TEST_DB_PIPELINE") == "true",
	}
}

// startGateway serves a gateway for the test; edit adjusts its configuration.
func startGateway(t *testing.T, edit func(*gateway.Config)) *testGateway {
	t.Helper()
	return startServer(t, edit, nil)
}

// startServer is startGateway with a hook on the Server itself (for fields
// such as ExpectedVersion that are not configuration).
func startServer(t *testing.T, edit func(*gateway.Config), tweak func(*gateway.Server)) *testGateway {
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
	s := gateway.New(cfg, pool, gateway.NewLogger(cfg, logs))
	replica, err := gateway.NewReplicaPool(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.UseReplica(replica)
	if tweak != nil {
		tweak(s)
	}
	srv := httptest.NewServer(s.Handler())
	g := &testGateway{t: t, URL: srv.URL, Log: logs, http: srv.Client(), cfg: cfg, secrets: &secrets{}}
	// A hung request fails its test instead of the whole run's deadline.
	g.http.Timeout = 2 * time.Minute
	t.Cleanup(func() {
		srv.Close()
		s.Close()
		if replica != nil {
			replica.Close()
		}
		pool.Close()
		g.secrets.checkLog(t, logs.String())
		g.secrets.checkAuditLog(t)
	})
	return g
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
	res, err := g.try(r)
	if err != nil {
		g.t.Fatal(err)
	}
	return res
}

// in is the gateway as seen from another test (a subtest), so that failures
// are reported there.
func (g *testGateway) in(t *testing.T) *testGateway {
	c := *g
	c.t = t
	return &c
}

// try sends the request; it is safe in any goroutine.
func (g *testGateway) try(r req) (resp, error) {
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
			return resp{}, err
		}
		body = bytes.NewReader(raw)
	}
	url := g.URL + "/api/v1" + r.Path
	if strings.HasPrefix(r.Path, "//") {
		url = g.URL + r.Path[1:]
	}
	hr, err := http.NewRequest(r.Method, url, body)
	if err != nil {
		return resp{}, err
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
		return resp{}, fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, fmt.Errorf("%s %s: reading the body: %w", r.Method, r.Path, err)
	}
	recordAnswer(r.Method, r.Path, res.StatusCode, raw)
	return resp{Status: res.StatusCode, Header: res.Header, Body: raw}, nil
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

// ipSeq walks the benchmarking range 198.18.0.0/15 from a random start, so
// that no two tests of a run share an address (and so a throttle), and runs
// against the same database rarely do.
var ipSeq = func() *atomic.Uint32 {
	var b [4]byte
	rand.Read(b[:])
	var n atomic.Uint32
	n.Store(binary.BigEndian.Uint32(b[:]))
	return &n
}()

// uniqueIP is a client address of its own (for X-Forwarded-For).
func uniqueIP() string {
	n := ipSeq.Add(1) % (1 << 17)
	return fmt.Sprintf("198.%d.%d.%d", 18+n>>16, (n>>8)&255, n&255)
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
	g.secrets.add(u.Password)
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
	tok := r.JSON(t)["token"].(string)
	g.secrets.add(tok)
	return tok
}

// sessionUA is the browser of sessionUser's session.
const sessionUA = "e2e-session/1.0"

// sessionUser is a signed-up account with a session (sessionUA's), the
// owner of what the goals', trackers' and reports' tests create.
type sessionUser struct {
	user
	tok string
}

func (g *testGateway) sessionUser(t *testing.T) sessionUser {
	t.Helper()
	u := g.signup(t)
	return sessionUser{user: u, tok: g.login(t, u, sessionUA)}
}

// call sends a request as the account, with its token.
func (o sessionUser) call(g *testGateway, method, path string, body any) resp {
	return g.do(req{Method: method, Path: path, Body: body, Token: o.tok, UA: sessionUA})
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

// loginResp is login without the checks: the whole answer to POST /sessions.
func (g *testGateway) loginResp(u user, ua string) resp {
	g.t.Helper()
	g.secrets.add(u.Password)
	r := g.do(req{Method: "POST", Path: "/sessions", UA: ua, IP: u.IP,
		Body: map[string]any{"login": u.Username, "password": u.Password}})
	if tok, ok := r.JSON(g.t)["token"].(string); ok {
		g.secrets.add(tok)
	}
	return r
}

// The session cookie's names: __Host-session on a gateway with
// COOKIE_SECURE=true (testConfig's), session with COOKIE_SECURE=false.
const (
	secureCookie = "__Host-session"
	plainCookie  = "session"
)

// withCookie is the header set of a browser that holds the session cookie
// of a Secure gateway (testConfig).
func withCookie(tok string, more ...string) map[string]string {
	return withCookieNamed(secureCookie, tok, more...)
}

// withCookieNamed is withCookie with the cookie's name.
func withCookieNamed(name, tok string, more ...string) map[string]string {
	h := map[string]string{"Cookie": name + "=" + tok}
	for i := 0; i+1 < len(more); i += 2 {
		h[more[i]] = more[i+1]
	}
	return h
}

// sessionCookieOf is the session cookie a response sets (of either name), or nil.
func sessionCookieOf(r resp) *http.Cookie {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == secureCookie || c.Name == plainCookie {
			return c
		}
	}
	return nil
}

// expectCookieCleared fails unless the response deletes the session cookie.
func expectCookieCleared(t *testing.T, r resp) {
	t.Helper()
	c := sessionCookieOf(r)
	if c == nil {
		t.Fatalf("no session cookie in the answer, want one that clears it; headers %v", r.Header)
	}
	if c.Value != "" || c.MaxAge >= 0 || c.Path != "/" {
		t.Fatalf("session cookie %q does not clear the cookie (want empty value, Max-Age=0, Path=/)", c.Raw)
	}
}

// expectKeys fails unless the object has exactly these members.
func expectKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	got := make([]string, 0, len(m))
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	want = append([]string(nil), want...)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s has members %v, want exactly %v", what, got, want)
	}
}

// obj is the member key of m, which must be an object.
func obj(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("member %q is %T (%v), want an object", key, m[key], m[key])
	}
	return o
}

// timestamp parses an RFC 3339 timestamp in UTC, as API timestamps are.
func timestamp(t *testing.T, v any) time.Time {
	t.Helper()
	s, ok := v.(string)
	if !ok || !strings.HasSuffix(s, "Z") {
		t.Fatalf("timestamp %v is not an RFC 3339 string in UTC", v)
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("timestamp %q: %v", s, err)
	}
	return ts
}

// near fails unless got is within slack of want.
func near(t *testing.T, what string, got, want time.Time, slack time.Duration) {
	t.Helper()
	if d := got.Sub(want); d < -slack || d > slack {
		t.Fatalf("%s is %s, want %s ± %s", what, got, want, slack)
	}
}

// expectAccount checks the account JSON of docs/api.md against the user.
func expectAccount(t *testing.T, a map[string]any, u user) {
	t.Helper()
	expectKeys(t, "account", a, "id", "username", "display_name", "email", "role", "created_at", "email_confirmed_at", "pending_email")
	if id, ok := a["id"].(float64); !ok || id < 1 || id != float64(int64(id)) {
		t.Fatalf("account id %v is not a positive integer", a["id"])
	}
	if u.ID != 0 && a["id"] != u.ID {
		t.Fatalf("account id %v, want %v", a["id"], u.ID)
	}
	if a["username"] != u.Username || a["email"] != u.Email {
		t.Fatalf("account %v, want username %q and email %q", a, u.Username, u.Email)
	}
	if _, ok := a["display_name"].(string); !ok {
		t.Fatalf("display_name %v is not a string", a["display_name"])
	}
	if a["role"] != "user" {
		t.Fatalf("role %v, want user", a["role"])
	}
	timestamp(t, a["created_at"])
}

// expectErrorBody checks the error shape of docs/api.md.
func expectErrorBody(t *testing.T, r resp) map[string]any {
	t.Helper()
	e := r.JSON(t)
	expectKeys(t, "error body", e, "code", "message", "details", "hint")
	if c, _ := e["code"].(string); c == "" || c != strings.ToUpper(c) {
		t.Fatalf("error code %v is not an UPPER_CASE string", e["code"])
	}
	if m, _ := e["message"].(string); m == "" {
		t.Fatalf("error message %v is empty", e["message"])
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q, want application/json", ct)
	}
	return e
}

// details is the details object of an error body, as field → reason.
// refusal is a request that must fail with status (400 BAD_REQUEST or 422
// VALIDATION), in the error shape, naming exactly fields in its details.
type refusal struct {
	method, path string
	body         any
	status       int
	fields       []string
}

// expectRefused checks the answer r to the refusal c.
func expectRefused(t *testing.T, c refusal, r resp) {
	t.Helper()
	code := map[int]string{400: "BAD_REQUEST", 422: "VALIDATION"}[c.status]
	if r.Status != c.status || r.Code(t) != code {
		t.Errorf("%s %s %v: %d %s, want %d %s", c.method, c.path, c.body, r.Status, r.Body, c.status, code)
		return
	}
	expectErrorBody(t, r)
	d := details(t, r)
	for _, f := range c.fields {
		if d[f] == "" {
			t.Errorf("%s %s %v: details %v, want %s", c.method, c.path, c.body, d, f)
		}
	}
	if len(d) != len(c.fields) {
		t.Errorf("%s %s %v: details %v, want exactly %v", c.method, c.path, c.body, d, c.fields)
	}
}

func details(t *testing.T, r resp) map[string]string {
	t.Helper()
	d, ok := r.JSON(t)["details"].(map[string]any)
	if !ok {
		t.Fatalf("details is not an object: %s", r.Body)
	}
	out := map[string]string{}
	for k, v := range d {
		s, ok := v.(string)
		if !ok || s == "" {
			t.Fatalf("details.%s = %v, want a reason", k, v)
		}
		out[k] = s
	}
	return out
}

// logLines is the gateway's log, one JSON object per line.
func (g *testGateway) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(g.Log.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// accessLine is the access-log line of the request with this id.
func (g *testGateway) accessLine(t *testing.T, id string) map[string]any {
	t.Helper()
	for _, m := range g.logLines(t) {
		if m["request_id"] == id && m["message"] == "request" {
			return m
		}
	}
	t.Fatalf("no access-log line with request_id %q in:\n%s", id, g.Log.String())
	return nil
}

// accountExists reads, as the owner, whether the account row is there.
func accountExists(t *testing.T, id float64) bool {
	t.Helper()
	var ok bool
	if err := owner.QueryRow(context.Background(),
		"SELECT EXISTS (SELECT 1 FROM auth.accounts WHERE id = $1)", int64(id)).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// poolAndListener opens a pool for cfg and a loopback listener, for tests
// that drive (*gateway.Server).Run themselves.
func poolAndListener(t *testing.T, cfg gateway.Config) (*pgxpool.Pool, net.Listener) {
	t.Helper()
	pool, err := gateway.NewPool(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return pool, ln
}

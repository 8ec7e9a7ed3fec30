package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/tern/v2/migrate"

	"homebase/gateway"
	"homebase/sql/code"
	"homebase/sql/migrations"
)

// Operations endpoints, request ids, the access log, and how the gateway
// behaves when the database is slow, gone, or the process is stopping.

func TestHealthz(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	r := g.do(req{Method: "GET", Path: "//healthz"})
	expect(t, r, 200, "")
	if r.JSON(t)["status"] != "ok" {
		t.Fatalf("healthz body %s", r.Body)
	}
	expect(t, g.do(req{Method: "HEAD", Path: "//healthz"}), 200, "")
	expect(t, g.do(req{Method: "POST", Path: "//healthz"}), 405, "METHOD_NOT_ALLOWED")
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	r := g.do(req{Method: "GET", Path: "//readyz"})
	expect(t, r, 200, "")
	body := r.JSON(t)
	if body["status"] != "ready" || body["version"] != float64(migrations.Latest()) {
		t.Fatalf("readyz body %s, want status ready and version %d", r.Body, migrations.Latest())
	}
	// The code package: the one this build embeds, which is the one installed.
	if body["code"] != code.Digest() {
		t.Fatalf("readyz body %s, want code %s (code.Digest())", r.Body, code.Digest())
	}
	if installed := installedCode(t); body["code"] != installed {
		t.Fatalf("readyz body %s, want code %s (public.code_package)", r.Body, installed)
	}
}

// installedCode is the digest that the last install recorded in public.code_package.
func installedCode(t *testing.T) string {
	t.Helper()
	var digest string
	if err := owner.QueryRow(context.Background(),
		"SELECT digest FROM public.code_package WHERE name = 'sql/code'").Scan(&digest); err != nil {
		t.Fatalf("reading public.code_package: %v", err)
	}
	return digest
}

// editedCodeDigest is the digest of sql/code with one function body changed,
// computed as tern evaluates a package: a gateway built from that tree.
func editedCodeDigest(t *testing.T) string {
	t.Helper()
	edited := fstest.MapFS{}
	err := fs.WalkDir(code.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(code.FS, path)
		edited[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	const from, to = "'give a username, an email or both'", "'give a username or an email (edited)'"
	f := edited["api/accounts.sql"]
	if f == nil || !strings.Contains(string(f.Data), from) {
		t.Fatalf("api/accounts.sql no longer holds %s: update this test", from)
	}
	f.Data = []byte(strings.Replace(string(f.Data), from, to, 1))
	cp, err := migrate.LoadCodePackage(edited)
	if err != nil {
		t.Fatal(err)
	}
	sql, err := cp.Eval(map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(sql))
	digest := hex.EncodeToString(sum[:])
	if digest == code.Digest() {
		t.Fatal("editing a function body did not change the package digest")
	}
	return digest
}

// A gateway built with another code package is not ready (the load balancer
// keeps it out of rotation until the package is installed), but it is no
// kill switch: the routes keep answering meanwhile.
func TestReadyzCodeMismatch(t *testing.T) {
	t.Parallel()
	want := editedCodeDigest(t)
	g := startServer(t, nil, func(s *gateway.Server) { s.ExpectedCode = want })
	r := g.do(req{Method: "GET", Path: "//readyz"})
	expect(t, r, 503, "UNAVAILABLE")
	msg, _ := expectErrorBody(t, r)["message"].(string)
	installed := installedCode(t)
	for _, part := range []string{"code package", installed[:12], want[:12]} {
		if !strings.Contains(msg, part) {
			t.Errorf("readyz message %q does not mention %q (installed %s, build %s)", msg, part, installed, want)
		}
	}
	if strings.Contains(msg, installed) || strings.Contains(msg, want) {
		t.Errorf("readyz message %q holds a whole digest, want the short forms", msg)
	}
	expect(t, g.do(req{Method: "HEAD", Path: "//readyz"}), 503, "")
	expect(t, g.do(req{Method: "GET", Path: "//healthz"}), 200, "")
	r = g.do(req{Method: "GET", Path: "/availability?username=x"})
	expect(t, r, 200, "")
	if r.JSON(t)["status"] == nil {
		t.Fatalf("availability body %s", r.Body)
	}
}

// A gateway built for another schema version is not ready, although the
// database answers.
func TestReadyzVersionMismatch(t *testing.T) {
	t.Parallel()
	g := startServer(t, nil, func(s *gateway.Server) { s.ExpectedVersion = migrations.Latest() + 1 })
	r := g.do(req{Method: "GET", Path: "//readyz"})
	expect(t, r, 503, "UNAVAILABLE")
	expectErrorBody(t, r)
	// Liveness does not depend on it.
	expect(t, g.do(req{Method: "GET", Path: "//healthz"}), 200, "")
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)

	sent := unique("e2e-req.")
	r := g.do(req{Method: "GET", Path: "//healthz", Headers: map[string]string{"X-Request-Id": sent}})
	if got := r.Header.Get("X-Request-Id"); got != sent {
		t.Fatalf("X-Request-Id %q, want the one sent, %q", got, sent)
	}
	g.accessLine(t, sent)

	// None sent: one is made up, fresh for each request.
	a := g.do(req{Method: "GET", Path: "//healthz"}).Header.Get("X-Request-Id")
	b := g.do(req{Method: "GET", Path: "/availability?username=x"}).Header.Get("X-Request-Id")
	if a == "" || b == "" || a == b {
		t.Fatalf("generated request ids %q and %q, want two different non-empty ids", a, b)
	}
	g.accessLine(t, a)

	// A malformed one (it would end up in the log) is replaced.
	bad := "bad id\twith spaces " + strings.Repeat("x", 200)
	got := g.do(req{Method: "GET", Path: "//healthz", Headers: map[string]string{"X-Request-Id": bad}}).Header.Get("X-Request-Id")
	if got == "" || got == bad {
		t.Fatalf("X-Request-Id %q for a malformed one, want a new id", got)
	}
	if _, err := hex.DecodeString(got); err != nil {
		t.Fatalf("generated id %q is not hex", got)
	}
}

// One line per request with its id, method, path and status; never a
// password, token, cookie value or query string.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	id := unique("login-")
	r := g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: u.IP,
		Headers: map[string]string{"X-Request-Id": id},
		Body:    map[string]any{"login": u.Username, "password": u.Password}})
	expect(t, r, 201, "")
	tok := r.JSON(t)["token"].(string)

	line := g.accessLine(t, id)
	if line["method"] != "POST" || line["path"] != "/api/v1/sessions" || line["status"] != float64(201) {
		t.Fatalf("access line %v, want method POST, path /api/v1/sessions, status 201", line)
	}

	// Use the secrets every way a client can send them, successfully or not.
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}), 200, "")
	expect(t, g.do(req{Method: "GET", Path: "/session", UA: "ua", Headers: withCookie(tok)}), 200, "")
	wrong := "not-the-password-" + unique("")
	expect(t, g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: u.IP,
		Body: map[string]any{"login": u.Username, "password": wrong}}), 401, "INVALID_CREDENTIALS")
	secretQuery := unique("query-secret-")
	expect(t, g.do(req{Method: "GET", Path: "/availability?email=" + secretQuery + "@example.com"}), 200, "")
	nulID := unique("nul-")
	expect(t, g.do(req{Method: "POST", Path: "/sessions", IP: u.IP, Headers: map[string]string{"X-Request-Id": nulID},
		Body: map[string]any{"login": u.Username, "password": u.Password + "\x00"}}), 400, "BAD_REQUEST")
	logoutID := unique("logout-")
	expect(t, g.do(req{Method: "DELETE", Path: "/session", UA: "ua",
		Headers: withCookie(tok, "Origin", "https://app.example", "X-Request-Id", logoutID)}), 204, "")
	if l := g.accessLine(t, logoutID); l["status"] != float64(204) || l["method"] != "DELETE" || l["path"] != "/api/v1/session" {
		t.Fatalf("logout access line %v", l)
	}
	if l := g.accessLine(t, nulID); l["status"] != float64(400) {
		t.Fatalf("access line of a 400: %v", l)
	}

	log := g.Log.String()
	for what, secret := range map[string]string{
		"password": u.Password, "wrong password": wrong, "token": tok, "query string": secretQuery,
	} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains the %s %q:\n%s", what, secret, log)
		}
	}
	for _, m := range g.logLines(t) {
		if m["message"] != "request" {
			continue
		}
		for _, k := range []string{"request_id", "method", "path", "status"} {
			if _, ok := m[k]; !ok {
				t.Errorf("access line without %s: %v", k, m)
			}
		}
	}
}

// The database goes away: 503 UNAVAILABLE (never a 500), and the same
// gateway serves again once it is back, without a restart.
func TestDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	proxy := startProxy(t)
	g := startGateway(t, func(c *gateway.Config) { c.DatabaseURL = proxy.DatabaseURL(); c.PoolSize = 4 })
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	expect(t, g.do(req{Method: "GET", Path: "//readyz"}), 200, "")

	proxy.Stop()
	for i := 0; i < 3; i++ { // the pooled connections are dead, new ones are refused
		for _, r := range []req{
			{Method: "GET", Path: "/session", Token: tok, UA: "ua"},
			{Method: "GET", Path: "/availability?username=" + u.Username},
			{Method: "POST", Path: "/sessions", UA: "ua", IP: u.IP,
				Body: map[string]any{"login": u.Username, "password": u.Password}},
		} {
			res := g.do(r)
			expect(t, res, 503, "UNAVAILABLE")
			expectErrorBody(t, res)
			if res.Header.Get("Retry-After") == "" {
				t.Fatalf("a 503 without Retry-After: %v", res.Header)
			}
		}
		expect(t, g.do(req{Method: "GET", Path: "//readyz"}), 503, "UNAVAILABLE")
	}
	expect(t, g.do(req{Method: "GET", Path: "//healthz"}), 200, "")

	proxy.Start()
	// The pool reconnects on demand. A connection that died in the pool may
	// still cost a request its 503, so allow a few; then it must work.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"})
		if r.Status == 200 {
			break
		}
		expect(t, r, 503, "UNAVAILABLE")
		if time.Now().After(deadline) {
			t.Fatal("the gateway did not recover within 30s of the database coming back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 5; i++ {
		expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}), 200, "")
	}
	expect(t, g.do(req{Method: "GET", Path: "//readyz"}), 200, "")
	g.login(t, u, "other ua")

	// The cause is logged as an error, without the database password.
	log := g.Log.String()
	if !strings.Contains(log, `"status":503`) || !strings.Contains(log, `"level":"error"`) {
		t.Fatalf("no error line for the 503s in the log:\n%s", log)
	}
	if pu, _ := url.Parse(gatewayURL); pu != nil {
		if pw, ok := pu.User.Password(); ok && pw != "" && strings.Contains(log, pw) {
			t.Fatal("the log contains the database password")
		}
	}
}

// A connection the database refuses (here a wrong password, as after a
// password rotation gone wrong; too many connections and a missing database
// take the same path) is the database being unavailable to the gateway: 503
// UNAVAILABLE with Retry-After on every route, never a 500, and the password
// is not logged.
func TestDatabaseRefusesConnection(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(gatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	wrong := "wrong-" + unique("pw")
	u.User = url.UserPassword(u.User.Username(), wrong)
	g := startGateway(t, func(c *gateway.Config) { c.DatabaseURL = u.String(); c.PoolSize = 2 })
	g.secrets.add(wrong)
	for _, r := range []req{
		{Method: "GET", Path: "/availability?username=nobody"},
		{Method: "GET", Path: "/session", Token: "whatever", UA: "ua"},
		{Method: "POST", Path: "/sessions", Body: map[string]any{"login": "nobody", "password": "whatever1"}},
		{Method: "GET", Path: "//readyz"},
	} {
		res := g.do(r)
		expect(t, res, 503, "UNAVAILABLE")
		expectErrorBody(t, res)
		if res.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", r.Method, r.Path)
		}
	}
	// PgBouncer 1.18 ends a failed SCRAM exchange with 08P01 (protocol
	// violation) where PostgreSQL says 28P01: the same 503 either way.
	refusal := "28P01"
	if behindPgBouncer {
		refusal = "08P01"
	}
	if !strings.Contains(g.Log.String(), `"sqlstate":"`+refusal+`"`) {
		t.Errorf("the access log does not name the refusal (%s):\n%s", refusal, g.Log.String())
	}
}

// PostgreSQL cancels a statement that runs past the gateway's
// StatementTimeout: 504 TIMEOUT, and nothing of it is committed.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	skipBehindPgBouncer(t, "PgBouncer 1.18 forwards no statement_timeout startup parameter: the timeout is PgBouncer's "+
		"connect_query (PGBOUNCER_STATEMENT_TIMEOUT), not the gateway's StatementTimeout; TestPgBouncerStatementTimeout checks it")
	ok := startGateway(t, nil)
	u := ok.signup(t)
	slow := startGateway(t, func(c *gateway.Config) { c.StatementTimeout = time.Millisecond })

	r := slow.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: u.IP, Headers: map[string]string{"X-Request-Id": "e2e-504"},
		Body: map[string]any{"login": u.Username, "password": u.Password}}) // bcrypt alone takes far longer than 1ms
	expect(t, r, 504, "TIMEOUT")
	expectErrorBody(t, r)
	if sessionCookieOf(r) != nil {
		t.Fatal("a timed-out login set a cookie")
	}
	if n := sessionRows(t, u.ID); n != 0 {
		t.Fatalf("%d sessions after a timed-out login, want 0", n)
	}
	r = slow.do(req{Method: "POST", Path: "/accounts", Body: map[string]any{
		"username": unique("slow_"), "email": unique("slow_") + "@example.com", "password": "long enough password"}})
	expect(t, r, 504, "TIMEOUT")
	// The log says why: the statement was cancelled (57014).
	if line := slow.accessLine(t, "e2e-504"); line["sqlstate"] != "57014" || line["status"] != float64(504) {
		t.Fatalf("access line of the 504: %v", line)
	}
}

// Run stops accepting on cancel but finishes the requests in flight.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	proxy := startProxy(t)
	cfg := testConfig()
	cfg.DatabaseURL = proxy.DatabaseURL()
	cfg.ShutdownTimeout = time.Minute
	pool, ln := poolAndListener(t, cfg)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- gateway.New(cfg, pool, gateway.NewLogger(cfg, logs)).Run(ctx, ln) }()

	client := &http.Client{Timeout: 2 * time.Minute}
	g := &testGateway{t: t, URL: "http://" + ln.Addr().String(), Log: logs, http: client, cfg: cfg, secrets: &secrets{}}
	t.Cleanup(func() { g.secrets.checkLog(t, logs.String()) })
	u := g.signup(t) // also opens a pooled connection through the proxy

	// Hold the login's query at the proxy: from then on it is in flight.
	held, release := proxy.Hold()
	defer release()
	type result struct {
		r   resp
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := g.try(req{Method: "POST", Path: "/sessions", UA: "ua", IP: u.IP,
			Body: map[string]any{"login": u.Username, "password": u.Password}})
		done <- result{r, err}
	}()
	select {
	case <-held:
	case res := <-done:
		t.Fatalf("the login finished (%d %s %v) before reaching the database", res.r.Status, res.r.Body, res.err)
	case <-time.After(time.Minute):
		t.Fatal("the login never reached the database")
	}

	cancel()
	// Shutdown has begun once the listener refuses new connections.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts 30s after cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-runErr:
		t.Fatalf("Run returned (%v) while a request was in flight", err)
	default:
	}

	release()
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatal(res.err)
		}
		expect(t, res.r, 201, "")
		if res.r.JSON(t)["token"] == nil {
			t.Fatalf("login body %s", res.r.Body)
		}
	case <-time.After(time.Minute):
		t.Fatal("the in-flight login did not complete")
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run returned %v, want nil", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after the last request")
	}
	if n := sessionRows(t, u.ID); n != 1 {
		t.Fatalf("%d sessions after the drained login, want 1", n)
	}
	if !strings.Contains(logs.String(), "shutting down") {
		t.Fatalf("no shutdown line in the log:\n%s", logs.String())
	}
}

// Run returns the listener's error when it cannot serve at all.
func TestRunListenerClosed(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	pool, ln := poolAndListener(t, cfg)
	ln.Close()
	err := gateway.New(cfg, pool, gateway.NewLogger(cfg, &syncBuffer{})).Run(context.Background(), ln)
	if err == nil || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Run on a closed listener returned %v, want net.ErrClosed", err)
	}
}

// A client that hangs up while its query runs is logged as 499 at info
// level, not as a 500 error: nobody got an error, the client just left.
func TestClientGoneIsNotAnError(t *testing.T) {
	t.Parallel()
	proxy := startProxy(t)
	g := startGateway(t, func(c *gateway.Config) { c.DatabaseURL = proxy.DatabaseURL(); c.PoolSize = 2 })
	u := g.signup(t)

	held, release := proxy.Hold()
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	hr, err := http.NewRequestWithContext(ctx, "GET", g.URL+"/api/v1/availability?username="+u.Username, nil)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("X-Request-Id", "client-gone-"+u.Username)
	done := make(chan error, 1)
	go func() {
		res, err := g.http.Do(hr)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatal("the request never reached the database")
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	release()

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(g.Log.String(), "client-gone-"+u.Username) {
		if time.Now().After(deadline) {
			t.Fatalf("no access-log line for the cancelled request:\n%s", g.Log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	line := g.accessLine(t, "client-gone-"+u.Username)
	if line["status"] != float64(499) || line["level"] != "info" {
		t.Fatalf("cancelled request logged as %v at %v, want 499 at info", line["status"], line["level"])
	}
}

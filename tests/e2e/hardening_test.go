package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"homebase/gateway"
)

// Denial-of-service hardening of the gateway (issues 15 and 21): the cap on
// bcrypt-running calls in flight, the length limits of the route table.

// quantiles prints the p50 and p99 of the latencies (no assertion on time).
func quantiles(t *testing.T, what string, d []time.Duration) {
	t.Helper()
	if len(d) == 0 {
		t.Logf("%s: no requests", what)
		return
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	t.Logf("%s: %d requests, p50 %s, p99 %s, max %s", what, len(d), at(.50), at(.99), d[len(d)-1])
}

// hammerAccounts makes n accounts as the owner, all with the password pw
// (hashed once), each with a session for ua; it answers their tokens.
func (g *testGateway) hammerAccounts(t *testing.T, n int, pw, ua string) []user {
	t.Helper()
	ctx := context.Background()
	prefix := unique("h_")
	rows, err := owner.Query(ctx, `
		WITH h AS (SELECT auth.hash_password($3) AS hash),
		     a AS (INSERT INTO auth.accounts (username, email, password_hash, display_name)
		           SELECT $1 || '_' || i, $1 || '_' || i || '@example.com', h.hash, $1 || '_' || i
		             FROM generate_series(1, $2::int) i, h
		           RETURNING id, username::text)
		SELECT id, username, auth.create_account_session(username, $4) FROM a ORDER BY id`, prefix, n, pw, ua)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []user
	for rows.Next() {
		var u user
		var id int64
		var tok string
		if err := rows.Scan(&id, &u.Username, &tok); err != nil {
			t.Fatal(err)
		}
		u.ID, u.Password, u.IP = float64(id), tok, uniqueIP() // Password: the session token here
		g.secrets.add(tok)
		out = append(out, u)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	return out
}

// While 64 clients hammer PUT /account/password (each its own account and
// address, alternating between two valid passwords, so that every call runs
// bcrypt twice), the gateway never has more than BCRYPT_CONCURRENCY of them
// in flight (the metric, read throughout), refuses the rest with 503 and
// Retry-After after its wait, and a GET /session stream beside them keeps
// answering 200 (its p50/p99 printed). Three seconds of load.
func TestBcryptConcurrencyCap(t *testing.T) {
	const (
		slots   = 2
		clients = 64
		ua      = "hammer/1"
		load    = 3 * time.Second
	)
	g := startGateway(t, func(c *gateway.Config) {
		loopbackOnly(c)
		c.BcryptConcurrency = slots
		c.BcryptWait = gateway.DefaultBcryptWait
	})
	pw := [2]string{"hammer password " + unique(""), "hammer password " + unique("")}
	g.secrets.add(pw[0])
	g.secrets.add(pw[1])
	accounts := g.hammerAccounts(t, clients+1, pw[0], ua)
	watcher, hammered := accounts[0], accounts[1:]
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: watcher.Password, UA: ua}), 200, "")
	before := g.scrape(t)
	if n := gauge(t, before, "homebase_gateway_bcrypt_slots"); n != slots {
		t.Fatalf("homebase_gateway_bcrypt_slots %v, want %d", n, slots)
	}

	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		busy     int // 503s of the cap: UNAVAILABLE with Retry-After
		odd      []string
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(load)
	for _, u := range hammered {
		wg.Go(func() {
			cur := 0 // index of the account's password in pw
			for time.Now().Before(deadline) {
				r, err := g.try(req{Method: "PUT", Path: "/account/password", Token: u.Password, UA: ua, IP: u.IP,
					Body: map[string]any{"current_password": pw[cur], "new_password": pw[1-cur]}})
				mu.Lock()
				switch {
				case err != nil:
					odd = append(odd, err.Error())
				case r.Status == 204:
					cur = 1 - cur
				case r.Status == 503 && r.Header.Get("Retry-After") != "":
					busy++
				case r.Status == 429: // the per-account or per-IP attempt limit (SQL)
				default:
					odd = append(odd, fmt.Sprintf("%d %s", r.Status, r.Body))
				}
				statuses[r.Status]++
				mu.Unlock()
			}
		})
	}
	var latencies []time.Duration
	var sessionFailures []string
	wg.Go(func() {
		for time.Now().Before(deadline) {
			start := time.Now()
			r, err := g.try(req{Method: "GET", Path: "/session", Token: watcher.Password, UA: ua})
			latencies = append(latencies, time.Since(start))
			if err != nil || r.Status != 200 {
				sessionFailures = append(sessionFailures, fmt.Sprintf("%v %d %s", err, r.Status, r.Body))
			}
		}
	})
	maxInFlight, scrapes := 0.0, 0
	for time.Now().Before(deadline) {
		n := gauge(t, g.scrape(t), "homebase_gateway_bcrypt_in_flight")
		maxInFlight = max(maxInFlight, n)
		scrapes++
		if n > slots {
			t.Errorf("%v bcrypt calls in flight, want at most %d", n, slots)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	after := g.scrape(t)

	quantiles(t, "GET /session beside the password-change flood", latencies)
	t.Logf("password changes: statuses %v; bcrypt calls in flight at most %v in %d scrapes", statuses, maxInFlight, scrapes)
	if len(sessionFailures) > 0 {
		t.Errorf("GET /session failed %d of %d times under the flood, e.g. %s",
			len(sessionFailures), len(latencies), sessionFailures[0])
	}
	if len(odd) > 0 {
		t.Errorf("%d unexpected answers to the password changes, e.g. %s", len(odd), odd[0])
	}
	refused := counter(t, after, "homebase_gateway_bcrypt_refused_total") -
		counter(t, before, "homebase_gateway_bcrypt_refused_total")
	if int(refused) != busy {
		t.Errorf("homebase_gateway_bcrypt_refused_total went up by %v, the clients got %d 503s", refused, busy)
	}
	if n := gauge(t, after, "homebase_gateway_bcrypt_in_flight"); n != 0 {
		t.Errorf("%v bcrypt calls in flight after the flood, want 0", n)
	}
}

// dbCalls is the number of API calls the gateway sent to the database, both
// pools together.
func dbCalls(t *testing.T, g *testGateway) float64 {
	t.Helper()
	fams := g.scrape(t)
	return counter(t, fams, "homebase_gateway_db_calls_total", "pool", "primary") +
		counter(t, fams, "homebase_gateway_db_calls_total", "pool", "replica")
}

// A 100 kB text field (10 kB in a query string) is refused by the gateway before any call (the
// database gets no call at all: the calls metric stays put), on routes with
// and without a session (a made-up token: the check comes before SQL's),
// as a 422 naming the field in the words SQL uses for it (read from the SQL
// function that validates it, where there is one), or, where SQL answers
// anything that long otherwise, with that answer: a login or a password
// too long to be right, 401 INVALID_CREDENTIALS as an unknown login; a
// cursor, 400; a handle, 404.
func TestLongFieldsRefusedBeforeTheCall(t *testing.T) {
	t.Parallel()
	g := startGateway(t, loopbackOnly)
	huge := strings.Repeat("x", 100_000)
	inURL := strings.Repeat("x", 10_000) // a query parameter: a 100 kB URL is a 414 (TestOversizedRequestsOverTheWire)
	sqlReason := func(expr string, field string) string {
		t.Helper()
		var reason string
		if err := owner.QueryRow(context.Background(), "SELECT ("+expr+")->>$1", field).Scan(&reason); err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return reason
	}
	token := "not-a-real-token-" + unique("")
	for _, c := range []struct {
		r              req
		status         int
		code, field    string
		reason         string // "" for a status other than 422
		sameAsSQLsExpr string // SQL giving its reason for the same value (jsonb of field → reason)
	}{
		{req{Method: "POST", Path: "/accounts", Body: map[string]any{"username": huge, "email": "a@example.com", "password": "long enough"}},
			422, "VALIDATION", "username", `must be 3 to 32 letters, digits, "_", "." or "-"`,
			"auth.account_problems(repeat('x', 100000), NULL, NULL, NULL)"},
		{req{Method: "GET", Path: "/availability?email=" + inURL}, 422, "VALIDATION", "email", "must be at most 254 characters",
			"auth.account_problems(NULL, repeat('x', 10000), NULL, NULL)"},
		{req{Method: "PATCH", Path: "/account", Token: token, Body: map[string]any{"display_name": huge}},
			422, "VALIDATION", "display_name", "must be at most 64 characters",
			"auth.account_problems(NULL, NULL, NULL, repeat('x', 100000))"},
		{req{Method: "PUT", Path: "/account/password", Token: token,
			Body: map[string]any{"current_password": "whatever it is", "new_password": huge}},
			422, "VALIDATION", "new_password", "must be at most 72 bytes",
			"jsonb_build_object('new_password', auth.account_problems(NULL, NULL, repeat('x', 100000), NULL)->'password')"},
		{req{Method: "POST", Path: "/posts", Token: token, Body: map[string]any{"title": huge, "content": "c"}},
			422, "VALIDATION", "title", "must be at most 200 characters",
			"publishing.post_problems(repeat('x', 100000), 'c', NULL)"},
		{req{Method: "POST", Path: "/activities", Token: token, Body: map[string]any{"message": huge}},
			422, "VALIDATION", "message", "must be 1 to 280 characters",
			"publishing.activity_problems(repeat('x', 100000), NULL)"},
		{req{Method: "POST", Path: "/trackers", Token: token, Body: map[string]any{"name": huge, "type": "note"}},
			422, "VALIDATION", "name", "must be 1 to 100 characters, not all blank",
			"tracking.tracker_problems('note', repeat('x', 100000), NULL, NULL, NULL)"},
		{req{Method: "POST", Path: "/trackers/1/logs", Token: token, Body: map[string]any{"note": huge}},
			422, "VALIDATION", "note", "must be at most 10000 characters",
			"tracking.log_problems('note', NULL, repeat('x', 100000), NULL, NULL, NULL, NULL)"},
		{req{Method: "GET", Path: "/trackers/1/series?tz=" + inURL, Token: token}, 422, "VALIDATION", "tz",
			"must be an IANA time zone, e.g. Europe/Berlin", ""},
		{req{Method: "POST", Path: "/sessions", Body: map[string]any{"login": huge, "password": "whatever it is"}},
			401, "INVALID_CREDENTIALS", "", "", ""},
		{req{Method: "DELETE", Path: "/account", Token: token, Body: map[string]any{"password": huge}},
			401, "INVALID_CREDENTIALS", "", "", ""},
		{req{Method: "GET", Path: "/posts?before=" + inURL}, 400, "BAD_REQUEST", "before", "is not a cursor from this route", ""},
		{req{Method: "GET", Path: "/users/" + strings.Repeat("h", 1000) + "/activities"}, 404, "NOT_FOUND", "", "", ""},
	} {
		c.r.UA, c.r.IP = "ua", uniqueIP()
		before := dbCalls(t, g)
		r := g.do(c.r)
		what := c.r.Method + " " + c.r.Path[:min(len(c.r.Path), 40)]
		if r.Status != c.status || r.Code(t) != c.code {
			t.Errorf("%s: %d %.200s, want %d %s", what, r.Status, r.Body, c.status, c.code)
			continue
		}
		expectErrorBody(t, r)
		if c.field != "" {
			if d := details(t, r); d[c.field] != c.reason || len(d) != 1 {
				t.Errorf("%s: details %v, want {%s: %s}", what, d, c.field, c.reason)
			}
		}
		if c.sameAsSQLsExpr != "" {
			if got := sqlReason(c.sameAsSQLsExpr, c.field); got != c.reason {
				t.Errorf("%s: SQL says %q of that value, the gateway %q", what, got, c.reason)
			}
		}
		if after := dbCalls(t, g); after != before {
			t.Errorf("%s: %v database calls, want none", what, after-before)
		}
	}
	// The login's 401 is the one of an unknown login.
	u := user{Username: unique("nobody_"), Password: "whatever it is", IP: uniqueIP()}
	unknown := g.loginResp(u, "ua")
	long := g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: uniqueIP(),
		Body: map[string]any{"login": huge, "password": "whatever it is"}})
	if unknown.Status != 401 || string(unknown.Body) != string(long.Body) {
		t.Errorf("a 100 kB login: %d %s; an unknown login: %d %s; want the same", long.Status, long.Body,
			unknown.Status, unknown.Body)
	}
}

// Eight clients send 1 MiB logins (as large as a body may be) over and over
// while a GET /posts stream runs beside them: the logins are answered 401
// INVALID_CREDENTIALS without reaching the database, the posts 200. The
// stream's latency is printed (no assertion on time).
func TestPostsBesideHugeLogins(t *testing.T) {
	g := startGateway(t, nil)
	login := strings.Repeat("l", 1<<20-100) // the body, with its braces and names, is just under 1 MiB
	body := []byte(`{"login": "` + login + `", "password": "whatever it is"}`)
	posts := map[int]int{}
	stream := func(until time.Time) (latencies []time.Duration) {
		for time.Now().Before(until) {
			start := time.Now()
			r := g.do(req{Method: "GET", Path: "/posts?limit=20", UA: "ua"})
			latencies = append(latencies, time.Since(start))
			posts[r.Status]++
		}
		return latencies
	}
	quantiles(t, "GET /posts alone", stream(time.Now().Add(time.Second)))
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(3 * time.Second)
	for range 8 {
		wg.Go(func() {
			ip := uniqueIP()
			for time.Now().Before(deadline) {
				r, err := g.try(req{Method: "POST", Path: "/sessions", UA: "ua", IP: ip, Body: body})
				mu.Lock()
				if err != nil {
					statuses[-1]++
				} else {
					statuses[r.Status]++
				}
				mu.Unlock()
			}
		})
	}
	latencies := stream(deadline)
	wg.Wait()
	quantiles(t, "GET /posts beside eight 1 MiB logins", latencies)
	t.Logf("logins: statuses %v", statuses)
	if len(posts) != 1 || posts[200] == 0 {
		t.Errorf("GET /posts answered %v, want 200 only", posts)
	}
	if len(statuses) != 1 || statuses[401] == 0 {
		t.Errorf("the 1 MiB logins were answered %v, want 401 only", statuses)
	}
}

// What reaches the gateway over a real listener (Server.Run): a 100 kB
// query string is a 414 and a 100 kB header a 431, both in the error shape
// with a request id; past what Go's server reads (256 KiB), or with a
// malformed header (a NUL in a value), Go answers before the gateway sees
// the request, in plain text (docs/api.md says so; nginx answers these in
// the stack).
func TestOversizedRequestsOverTheWire(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	pool, ln := poolAndListener(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- gateway.New(cfg, pool, gateway.NewLogger(cfg, &syncBuffer{})).Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Error(err)
		}
	})
	g := &testGateway{t: t, URL: "http://" + ln.Addr().String(), Log: &syncBuffer{},
		http: &http.Client{Timeout: time.Minute}, cfg: cfg, secrets: &secrets{}}

	r := g.do(req{Method: "GET", Path: "/posts?q=" + strings.Repeat("q", 100_000), UA: "ua"})
	expect(t, r, 414, "URI_TOO_LONG")
	expectErrorBody(t, r)
	if r.Header.Get("X-Request-Id") == "" {
		t.Error("the 414 has no X-Request-Id")
	}
	r = g.do(req{Method: "GET", Path: "/posts", UA: "ua", Headers: map[string]string{"X-Padding": strings.Repeat("h", 100_000)}})
	expect(t, r, 431, "HEADERS_TOO_LARGE")
	expectErrorBody(t, r)
	if r.Header.Get("X-Request-Id") == "" {
		t.Error("the 431 has no X-Request-Id")
	}
	expect(t, g.do(req{Method: "GET", Path: "/posts", UA: "ua"}), 200, "")

	// Beyond Go's own limit: its plain-text 431, as documented (sent around
	// g.do: this answer is Go's, not the route's, and not in the contract).
	hr, err := http.NewRequest("GET", g.URL+"/api/v1/posts", nil)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("X-Padding", strings.Repeat("h", 300_000))
	res, err := g.http.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 431 || res.Header.Get("X-Request-Id") != "" {
		t.Errorf("a 300 kB header: %d %v, want Go's own 431 (no request id)", res.StatusCode, res.Header)
	}
	// A NUL in a header value: Go's plain-text 400 (the client refuses to send one: raw TCP).
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(conn, "GET /api/v1/posts HTTP/1.1\r\nHost: gateway\r\nX-Nul: a\x00b\r\n\r\n")
	res, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 || res.Header.Get("X-Request-Id") != "" {
		t.Errorf("a NUL in a header: %d %v, want Go's own 400 (no request id)", res.StatusCode, res.Header)
	}
}

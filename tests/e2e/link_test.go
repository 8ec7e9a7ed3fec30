package e2e

// A database across a slow or failing link: toxiproxy (TEST_TOXIPROXY, on
// TEST_TOXIPROXY_PORT; scripts/test installs it into .local/bin) between a
// gateway and PostgreSQL, its toxics added and removed through its HTTP API
// with toxiproxy's own client.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"homebase/gateway"
)

// toxiproxy is the run's server, driven with its own client
// (github.com/Shopify/toxiproxy/v2/client).
type toxiproxy struct {
	api    string
	client *toxiclient.Client
}

var (
	toxiOnce sync.Once
	toxiRun  toxiproxy
	toxiErr  error
	// stopToxiproxy stops toxiproxy if a test started it (TestMain, after the run).
	stopToxiproxy = func() {}
)

// startToxiproxy gives the run's toxiproxy, starting it the first time.
func startToxiproxy(t *testing.T) toxiproxy {
	t.Helper()
	toxiOnce.Do(func() { toxiRun, toxiErr = launchToxiproxy() })
	if toxiErr != nil {
		t.Fatal(toxiErr)
	}
	return toxiRun
}

func launchToxiproxy() (toxiproxy, error) {
	bin, port := os.Getenv("TEST_TOXIPROXY"), os.Getenv("TEST_TOXIPROXY_PORT")
	if bin == "" || port == "" {
		return toxiproxy{}, fmt.Errorf("TEST_TOXIPROXY and TEST_TOXIPROXY_PORT are not set: run scripts/test e2e")
	}
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", port)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return toxiproxy{}, fmt.Errorf("starting toxiproxy: %w", err)
	}
	stopToxiproxy = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	x := toxiproxy{api: "http://127.0.0.1:" + port}
	x.client = toxiclient.NewClient(x.api)
	if !waitOK(x.api+"/version", 15*time.Second) {
		return x, fmt.Errorf("toxiproxy on %s did not answer", x.api)
	}
	return x, nil
}

// link is one proxy to the gateway's database: its name, and the gateway's
// database URL through it.
type link struct {
	proxy *toxiclient.Proxy
	URL   string
}

// newLink makes a proxy (on a port toxiproxy picks) to the database of
// TEST_GATEWAY_DATABASE_URL, removed when the test ends.
func newLink(t *testing.T) *link {
	t.Helper()
	x := startToxiproxy(t)
	u, err := url.Parse(gatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Query().Has("host") || u.Hostname() == "" {
		t.Skip("the test database is reached over a Unix socket: nothing to proxy")
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	name := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return '_'
	}, fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano()))
	proxy, err := x.client.CreateProxy(name, "127.0.0.1:0", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	t.Cleanup(func() {
		if err := proxy.Delete(); err != nil {
			t.Errorf("toxiproxy: %v", err)
		}
	})
	if _, p, err := net.SplitHostPort(proxy.Listen); err != nil || p == "0" {
		t.Fatalf("toxiproxy listens on %q", proxy.Listen)
	}
	u.Host = proxy.Listen
	return &link{proxy: proxy, URL: u.String()}
}

// toxic adds a toxic to the answers (downstream: PostgreSQL to the gateway).
func (l *link) toxic(t *testing.T, typ string, attrs map[string]any) {
	t.Helper()
	if _, err := l.proxy.AddToxic(typ, typ, "downstream", 1, attrs); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
}

// heal removes the toxic: the link is sound again.
func (l *link) heal(t *testing.T, typ string) {
	t.Helper()
	if err := l.proxy.RemoveToxic(typ); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
}

// A database that stops answering (toxiproxy's timeout toxic: the
// connection stays open, nothing comes back) does not hang a request: each
// ends with 504 (or 503) within STATEMENT_TIMEOUT plus the gateway's margin,
// the connections that carried the calls are closed, and once the link
// answers again so does the gateway. Batched or not.
func TestLinkStopsAnswering(t *testing.T) {
	t.Parallel()
	for _, pipelined := range []bool{true, false} {
		t.Run(fmt.Sprintf("DB_PIPELINE=%v", pipelined), func(t *testing.T) {
			t.Parallel()
			if pipelined {
				skipBehindPgBouncer(t, "batching prepares its statements on each connection, which transaction pooling cannot keep")
			}
			l := newLink(t)
			const statementTimeout = time.Second
			g := startGateway(t, func(c *gateway.Config) {
				c.DatabaseURL = l.URL
				c.Pipeline = pipelined
				c.PoolSize = 2
				c.StatementTimeout = statementTimeout
				loopbackOnly(c)
			})
			u := g.signup(t)
			tok := g.login(t, u, "ua")
			session := req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}
			expect(t, g.do(session), 200, "")

			l.toxic(t, "timeout", map[string]any{"timeout": 0})
			const calls = 4
			// The gateway's margin past the statement timeout is 2 s
			// (gateway/call.go, callMargin); 3 s more for a loaded machine.
			bound := statementTimeout + 2*time.Second + 3*time.Second
			type result struct {
				r       resp
				err     error
				elapsed time.Duration
			}
			results := make([]result, calls)
			var wg sync.WaitGroup
			for i := range results {
				wg.Go(func() {
					t0 := time.Now()
					r, err := g.try(session)
					results[i] = result{r, err, time.Since(t0)}
				})
			}
			wg.Wait()
			for i, r := range results {
				if r.err != nil {
					t.Fatalf("request %d: %v", i, r.err)
				}
				if r.r.Status != 504 && r.r.Status != 503 {
					t.Errorf("request %d: %d %s, want 504 or 503", i, r.r.Status, r.r.Body)
				}
				if r.elapsed > bound {
					t.Errorf("request %d took %v, over the statement timeout plus the margin (%v)", i, r.elapsed, bound)
				}
			}
			// The connections that carried the calls are closed (none is
			// left open: a new one cannot log in across the dead link).
			deadline := time.Now().Add(15 * time.Second)
			for gauge(t, g.scrape(t), "homebase_gateway_db_pool_total_connections", "pool", "primary") != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%v connections still open across the dead link",
						gauge(t, g.scrape(t), "homebase_gateway_db_pool_total_connections", "pool", "primary"))
				}
				time.Sleep(100 * time.Millisecond)
			}

			l.heal(t, "timeout")
			for range 3 {
				expect(t, g.do(session), 200, "")
			}
		})
	}
}

// A link reset in the middle of a batch (toxiproxy's reset_peer as the
// batch's answers come back) fails that batch's calls with 503, and only
// them: the batch before it was answered, and after it every caller gets
// its own answer again.
//
// With one connection for the batches (DB_POOL_SIZE=2: one stays free for
// /readyz), a first PUT of preferences waits on a row lock (its new row's
// foreign key checks the account, whose row is held FOR UPDATE); a second,
// waiting on another account's row, and then a session check of each of
// several accounts queue behind it. When the first lock goes, the first PUT
// is answered and the queue goes out as one batch: the second PUT first,
// stuck on its lock, and the session checks after it. The reset comes with
// that batch's answers, once its lock goes too. (Not PATCH /account: a
// bcrypt route, it is never batched.)
func TestLinkResetMidBatch(t *testing.T) {
	t.Parallel()
	skipBehindPgBouncer(t, "batching prepares its statements on each connection, which transaction pooling cannot keep")
	l := newLink(t)
	g := startGateway(t, func(c *gateway.Config) {
		c.Pipeline = true
		c.DatabaseURL = l.URL
		c.PoolSize = 2
		loopbackOnly(c)
	})
	first, second := g.signup(t), g.signup(t)
	firstTok, secondTok := g.login(t, first, "ua"), g.login(t, second, "ua")
	const checks = 6
	users := make([]user, checks)
	toks := make([]string, checks)
	for i := range users {
		users[i] = g.signup(t)
		toks[i] = g.login(t, users[i], "ua")
	}

	ctx := context.Background()
	// lock holds an account's row in a transaction of its own; the answer
	// releases it, and reports how many backends it blocks.
	lock := func(id int64) (release func(), blocked func() int) {
		conn, err := owner.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var pid int32
		if err := tx.QueryRow(ctx, "SELECT pg_backend_pid() FROM auth.accounts WHERE id = $1 FOR UPDATE", id).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		release = func() {
			once.Do(func() {
				tx.Rollback(ctx)
				conn.Release()
			})
		}
		t.Cleanup(release)
		blocked = func() int {
			var n int
			if err := owner.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		return release, blocked
	}
	waiting := func() float64 { return gauge(t, g.scrape(t), "homebase_gateway_db_pool_waiting_requests") }
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s (requests waiting or in flight: %v)", what, waiting())
			}
		}
	}

	releaseFirst, blockedFirst := lock(int64(first.ID))
	releaseSecond, blockedSecond := lock(int64(second.ID))
	type answer struct {
		r   resp
		err error
	}
	send := func(r req) chan answer {
		ch := make(chan answer, 1)
		go func() {
			a, err := g.try(r)
			ch <- answer{a, err}
		}()
		return ch
	}
	firstPut := send(req{Method: "PUT", Path: "/account/preferences", Token: firstTok, UA: "ua",
		Body: map[string]any{"notification": "weekly", "report_format": "html", "timezone": "Europe/Berlin"}})
	waitUntil("the first PUT waits on its lock", func() bool { return blockedFirst() == 1 })
	secondPut := send(req{Method: "PUT", Path: "/account/preferences", Token: secondTok, UA: "ua",
		Body: map[string]any{"notification": "daily", "report_format": "html", "timezone": "Europe/Paris"}})
	waitUntil("the second PUT is queued", func() bool { return waiting() == 2 })
	sessions := make([]chan answer, checks)
	for i := range sessions {
		sessions[i] = send(req{Method: "GET", Path: "/session", Token: toks[i], UA: "ua"})
	}
	waitUntil("the session checks are queued", func() bool { return waiting() == 2+checks })

	releaseFirst()
	a := <-firstPut
	if a.err != nil || a.r.Status != 200 {
		t.Fatalf("the batch before the reset: %v %d %s, want 200", a.err, a.r.Status, a.r.Body)
	}
	waitUntil("the second PUT waits on its lock, in the batch", func() bool { return blockedSecond() == 1 })
	l.toxic(t, "reset_peer", map[string]any{"timeout": 0})
	releaseSecond()
	for i, ch := range append([]chan answer{secondPut}, sessions...) {
		a := <-ch
		if a.err != nil {
			t.Fatalf("call %d of the batch: %v", i, a.err)
		}
		if a.r.Status != 503 || a.r.Code(t) != "UNAVAILABLE" {
			t.Errorf("call %d of the reset batch: %d %s, want 503 UNAVAILABLE", i, a.r.Status, a.r.Body)
		}
	}

	// After it: every caller gets its own answer, several at once.
	l.heal(t, "reset_peer")
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			r := g.do(req{Method: "GET", Path: "/session", Token: toks[i], UA: "ua"})
			if r.Status != 200 {
				t.Errorf("after the reset, %s: %d %s", users[i].Username, r.Status, r.Body)
				return
			}
			var body struct {
				Account struct{ Username string }
			}
			if err := json.Unmarshal(r.Body, &body); err != nil || body.Account.Username != users[i].Username {
				t.Errorf("after the reset, %s got %s", users[i].Username, r.Body)
			}
		})
	}
	wg.Wait()
}

package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The rate limits of auth.rate_limits (sql/migrations/011_rate_limits.sql,
// counted by auth.rate_count in sql/code/auth.sql) through the gateway. The
// tests read each limit from the table rather than repeating its number, and
// bring a counter near its limit through the owner when the limit is large.

// suiteRateLimits raises the per-IP limits for the run and answers how to
// put them back. The suite sends from few addresses: every request that
// names no client IP of its own comes from 127.0.0.1, and
// TestReinstallUnderLoad asks GET /availability thousands of times from one
// address. The limits are rows of auth.rate_limits for exactly this (a test
// database, like a DBA, sets its own); the tests of a limit bring its
// counter to the limit, whatever the number.
func suiteRateLimits(ctx context.Context) (restore func(), err error) {
	const raise = `
		WITH old AS (SELECT name, max_hits FROM auth.rate_limits WHERE name IN ('bcrypt_ip', 'availability_ip'))
		UPDATE auth.rate_limits l SET max_hits = 1000000 FROM old WHERE l.name = old.name
		RETURNING old.name, old.max_hits`
	rows, err := owner.Query(ctx, raise)
	if err != nil {
		return nil, err
	}
	was := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return nil, err
		}
		was[name] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return func() {
		for name, n := range was {
			if _, err := owner.Exec(context.Background(), "UPDATE auth.rate_limits SET max_hits = $2 WHERE name = $1", name, n); err != nil {
				fmt.Fprintln(os.Stderr, "e2e: putting the rate limit", name, "back:", err)
			}
		}
	}, nil
}

// rateLimit is max_hits of the named limit.
func rateLimit(t *testing.T, name string) int {
	t.Helper()
	var n int
	if err := owner.QueryRow(context.Background(),
		"SELECT max_hits FROM auth.rate_limits WHERE name = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// setAttempts makes the counter key hold n attempts in a window opened now.
func setAttempts(t *testing.T, key string, n int) {
	t.Helper()
	if _, err := owner.Exec(context.Background(), `
		INSERT INTO auth.login_failures (key, failures, window_start) VALUES ($1, $2, now())
		ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start`, key, n); err != nil {
		t.Fatal(err)
	}
}

// loggedFailures counts the audit log's "login failed" rows of an account:
// the attempts that reached bcrypt and failed.
func loggedFailures(t *testing.T, accountID float64) int {
	t.Helper()
	var n int
	if err := owner.QueryRow(context.Background(),
		"SELECT count(*) FROM audit.logs WHERE message = 'login failed' AND account_id = $1", int64(accountID)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// expectRateLimited fails unless r is a 429 RATE_LIMITED whose Retry-After
// and details.retry_after agree and lie in 1..most seconds.
func expectRateLimited(t *testing.T, r resp, most int) {
	t.Helper()
	expect(t, r, 429, "RATE_LIMITED")
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > most {
		t.Fatalf("Retry-After %q, want seconds in 1..%d", r.Header.Get("Retry-After"), most)
	}
	if d, _ := r.JSON(t)["details"].(map[string]any); d["retry_after"] != float64(retry) {
		t.Fatalf("details %v, want retry_after %d", d, retry)
	}
}

// parallelLogins sends the logins all at once and answers their statuses.
func (g *testGateway) parallelLogins(t *testing.T, bodies []map[string]any, ips []string) []int {
	t.Helper()
	statuses := make([]int, len(bodies))
	errs := make([]error, len(bodies))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			r, err := g.try(req{Method: "POST", Path: "/sessions", UA: "ua", IP: ips[i], Body: bodies[i]})
			statuses[i], errs[i] = r.Status, err
		}(i)
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d parallel logins answered in %v", len(bodies), time.Since(began).Round(time.Millisecond))
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return statuses
}

// The attempt is counted before bcrypt, atomically: 30 wrong passwords sent
// at once for one account get no more tries than the limit allows.
func TestParallelWrongLogins(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	const n = 30
	wrong := func(u user) []map[string]any {
		bodies := make([]map[string]any, n)
		for i := range bodies {
			bodies[i] = map[string]any{"login": u.Username, "password": fmt.Sprintf("wrong guess %d", i)}
		}
		return bodies
	}
	count := func(statuses []int) (failed, limited int) {
		for _, s := range statuses {
			switch s {
			case 401:
				failed++
			case 429:
				limited++
			default:
				t.Fatalf("status %d among parallel wrong logins; want 401 or 429: %v", s, statuses)
			}
		}
		return failed, limited
	}

	t.Run("from one address", func(t *testing.T) {
		g := g.in(t)
		u := g.signup(t)
		ips := make([]string, n)
		for i := range ips {
			ips[i] = u.IP
		}
		most := rateLimit(t, "login_failures")
		failed, limited := count(g.parallelLogins(t, wrong(u), ips))
		bcrypt := loggedFailures(t, u.ID)
		t.Logf("from one address: %d answered 401, %d answered 429, %d reached bcrypt (limit %d)", failed, limited, bcrypt, most)
		if bcrypt > most || failed > most {
			t.Fatalf("%d wrong passwords reached bcrypt (%d answered 401); the limit per account and address is %d", bcrypt, failed, most)
		}
		if failed != bcrypt {
			t.Fatalf("%d answered 401 but %d were logged as failed", failed, bcrypt)
		}
		// That address is blocked for the account, even with the right password ...
		expectRateLimited(t, g.loginResp(u, "ua"), 15*60)
		// ... another address is not.
		u.IP = uniqueIP()
		g.login(t, u, "ua")
	})

	t.Run("from thirty addresses", func(t *testing.T) {
		g := g.in(t)
		u := g.signup(t)
		ips := make([]string, n)
		for i := range ips {
			ips[i] = uniqueIP()
		}
		most := rateLimit(t, "login_account")
		failed, limited := count(g.parallelLogins(t, wrong(u), ips))
		bcrypt := loggedFailures(t, u.ID)
		t.Logf("from %d addresses: %d answered 401, %d answered 429, %d reached bcrypt (limit %d)", n, failed, limited, bcrypt, most)
		if bcrypt > most {
			t.Fatalf("%d wrong passwords reached bcrypt; the account-wide limit is %d a minute", bcrypt, most)
		}
		// The account-wide limit slows: its 429 is short.
		r := g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: uniqueIP(),
			Body: map[string]any{"login": u.Username, "password": u.Password}})
		if r.Status == 429 {
			expectRateLimited(t, r, 60)
		} else {
			expect(t, r, 201, "")
		}
	})
}

// Failed logins block the account from their address only, and never the
// holder of a session: its password change and account deletion go on.
func TestLoginFailuresDoNotLockOut(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	attacker := uniqueIP()
	for i := 0; i < rateLimit(t, "login_failures"); i++ {
		expect(t, g.do(req{Method: "POST", Path: "/sessions", UA: "evil", IP: attacker,
			Body: map[string]any{"login": u.Email, "password": fmt.Sprintf("guess %d", i)}}), 401, "INVALID_CREDENTIALS")
	}
	expectRateLimited(t, g.do(req{Method: "POST", Path: "/sessions", UA: "evil", IP: attacker,
		Body: map[string]any{"login": u.Username, "password": u.Password}}), 15*60)
	// Guessers everywhere: the account-wide login limit used up. From a new
	// address the owner waits at most a minute; from the address of her last
	// login she is not slowed at all.
	setAttempts(t, fmt.Sprintf("login_account:account:%d", int64(u.ID)), rateLimit(t, "login_account"))
	elsewhere := u
	elsewhere.IP = uniqueIP()
	expectRateLimited(t, g.loginResp(elsewhere, "ua2"), 60)
	g.login(t, u, "ua2")
	// The session's holder changes the password, then deletes the account.
	newPassword := "a brand new password " + unique("")
	g.secrets.add(newPassword)
	expect(t, g.do(req{Method: "PUT", Path: "/account/password", Token: tok, UA: "ua", IP: u.IP,
		Body: map[string]any{"current_password": u.Password, "new_password": newPassword}}), 204, "")
	expect(t, g.do(req{Method: "DELETE", Path: "/account", Token: tok, UA: "ua", IP: u.IP,
		Body: map[string]any{"password": newPassword}}), 204, "")
}

// A password change to the current password is refused before bcrypt.
func TestChangeToSamePassword(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	r := g.do(req{Method: "PUT", Path: "/account/password", Token: tok, UA: "ua", IP: u.IP,
		Body: map[string]any{"current_password": u.Password, "new_password": u.Password}})
	expectRefused(t, refusal{"PUT", "/account/password", nil, 422, []string{"new_password"}}, r)
	var attempts int
	if err := owner.QueryRow(context.Background(),
		"SELECT coalesce(sum(failures), 0) FROM auth.login_failures WHERE key = $1",
		fmt.Sprintf("password_account:account:%d", int64(u.ID))).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if attempts != 0 {
		t.Fatalf("a change to the same password counted %d attempts; want it refused before counting and bcrypt", attempts)
	}
}

// A login longer than any username or e-mail address is the 401 of an
// unknown login, at once (pgTAP 14_rate_limits_routes.sql shows it reads no table).
func TestLongLogin(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	ip := uniqueIP()
	long := strings.Repeat("a", 1<<20-64) // the body stays within its 1 MiB
	began := time.Now()
	r := g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: ip,
		Body: map[string]any{"login": long, "password": "some password"}})
	t.Logf("a %d-byte login answered %d in %v", len(long), r.Status, time.Since(began).Round(time.Millisecond))
	expect(t, r, 401, "INVALID_CREDENTIALS")
	unknown := g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: ip,
		Body: map[string]any{"login": unique("nobody_"), "password": "some password"}})
	expect(t, unknown, 401, "INVALID_CREDENTIALS")
	if string(r.Body) != string(unknown.Body) {
		t.Fatalf("a long login answers %s, an unknown one %s; want the same", r.Body, unknown.Body)
	}
}

// GET /availability answers a limited number of questions per address.
func TestAvailabilityRateLimited(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	ip := uniqueIP()
	setAttempts(t, "availability_ip:ip:"+ip, rateLimit(t, "availability_ip")-1)
	expect(t, g.do(req{Method: "GET", Path: "/availability?username=" + unique("free_"), IP: ip}), 200, "")
	expectRateLimited(t, g.do(req{Method: "GET", Path: "/availability?username=" + unique("free_"), IP: ip}), 60)
	expect(t, g.do(req{Method: "GET", Path: "/availability?username=" + unique("free_"), IP: uniqueIP()}), 200, "")
}

// New activities and replies share one write rate per account.
func TestActivityWriteRate(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	ps := g.posters(t, 2)
	p, other := ps[0], ps[1]
	setAttempts(t, fmt.Sprintf("activity_account:account:%d", p.ID), rateLimit(t, "activity_account")-1)
	id := g.postActivity(t, other, map[string]any{"message": "reply to me"})["uuid"].(string)
	expect(t, g.as(p, req{Method: "POST", Path: "/activities/" + id + "/replies", Body: map[string]any{"message": "the last"}}), 201, "")
	expectRateLimited(t, g.as(p, req{Method: "POST", Path: "/activities", Body: map[string]any{"message": "one too many"}}), 60)
	expectRateLimited(t, g.as(p, req{Method: "POST", Path: "/activities/" + id + "/replies", Body: map[string]any{"message": "again"}}), 60)
	// Another account writes on.
	g.postActivity(t, other, map[string]any{"message": "still here"})
}

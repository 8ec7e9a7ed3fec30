package e2e

import (
	"context"
	"fmt"
	"slices"
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

package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"homebase/gateway"
)

// Reads from a streaming replica (REPLICA_DATABASE_URL): scripts/test starts
// the local replica (scripts/db replica start, with its replay delayed by
// REPLICA_APPLY_DELAY) and runs these tests with
//   TEST_REPLICA_DATABASE_URL        the gateway role on the replica
//   TEST_REPLICA_ADMIN_DATABASE_URL  a superuser on the replica (to pause replay)
// Without them they skip, but for TestReplicaUnreachable, which needs none.

const replicaReads = "homebase_gateway_replica_reads_total"

// replicaEnv is the replica's URLs, or skips the test.
func replicaEnv(t *testing.T) (gatewayURL string, admin *pgxpool.Pool) {
	t.Helper()
	gatewayURL = os.Getenv("TEST_REPLICA_DATABASE_URL")
	adminURL := os.Getenv("TEST_REPLICA_ADMIN_DATABASE_URL")
	if gatewayURL == "" || adminURL == "" {
		t.Skip("no replica: TEST_REPLICA_DATABASE_URL and TEST_REPLICA_ADMIN_DATABASE_URL are not set (scripts/test sets them)")
	}
	admin, err := pgxpool.New(context.Background(), adminURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	return gatewayURL, admin
}

// replicaGateway is a gateway with the replica, once its poller has reached
// the replica: an anonymous read is served there.
func replicaGateway(t *testing.T, url string, opts ...func(*gateway.Config)) *testGateway {
	t.Helper()
	g := startGateway(t, func(c *gateway.Config) {
		loopbackOnly(c)
		c.ReplicaDatabaseURL = url
		for _, o := range opts {
			o(c)
		}
	})
	for i := 0; ; i++ {
		before := counter(t, g.scrape(t), replicaReads, "outcome", "replica")
		expect(t, g.do(req{Method: "GET", Path: "/posts"}), 200, "")
		if counter(t, g.scrape(t), replicaReads, "outcome", "replica") > before {
			return g
		}
		if i == 200 {
			t.Fatalf("after 10 s, reads still do not go to the replica; log:\n%s", g.Log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReplayed waits until the replica has replayed everything the primary
// had written when it was called.
func waitReplayed(t *testing.T, admin *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	var lsn string
	if err := owner.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var done bool
		if err := admin.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica has not replayed %s after 60 s", lsn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// delta is how much each counter series moved between two scrapes.
type delta struct {
	t             *testing.T
	g             *testGateway
	before, after map[string]float64
}

var replicaSeries = [][]string{
	{"homebase_gateway_db_calls_total", "pool", "primary"},
	{"homebase_gateway_db_calls_total", "pool", "replica"},
	{replicaReads, "outcome", "replica"},
	{replicaReads, "outcome", "behind"},
	{replicaReads, "outcome", "read_only"},
	{replicaReads, "outcome", "unavailable"},
	{replicaReads, "outcome", "unreachable"},
	{replicaReads, "outcome", "unknown_session"},
	{replicaReads, "outcome", "lagging"},
}

func snapshot(t *testing.T, g *testGateway) map[string]float64 {
	t.Helper()
	fams := g.scrape(t)
	out := map[string]float64{}
	for _, s := range replicaSeries {
		out[strings.Join(s, " ")] = counter(t, fams, s[0], s[1:]...)
	}
	return out
}

func measure(t *testing.T, g *testGateway) *delta {
	return &delta{t: t, g: g, before: snapshot(t, g)}
}

// expect checks the moves since measure: series "name label value" → delta.
func (d *delta) expect(want map[string]float64) {
	d.t.Helper()
	d.after = snapshot(d.t, d.g)
	for _, s := range replicaSeries {
		k := strings.Join(s, " ")
		if got := d.after[k] - d.before[k]; got != want[k] {
			d.t.Errorf("%s{%s=%q} moved by %v, want %v", s[0], s[1], s[2], got, want[k])
		}
	}
}

const (
	onPrimary  = "homebase_gateway_db_calls_total pool primary"
	onReplica  = "homebase_gateway_db_calls_total pool replica"
	outReplica = replicaReads + " outcome replica"
	outBehind  = replicaReads + " outcome behind"
	outWrote   = replicaReads + " outcome read_only"
	outUnknown = replicaReads + " outcome unknown_session"
	outLagging = replicaReads + " outcome lagging"
)

// Every read-only route is served by the replica; /readyz reports its lag.
func TestReplicaServesReads(t *testing.T) {
	url, admin := replicaEnv(t)
	plain := startGateway(t, nil)
	u := plain.signup(t)
	tok := plain.login(t, u, "ua")
	waitReplayed(t, admin)
	g := replicaGateway(t, url)

	r := g.do(req{Method: "GET", Path: "//readyz"})
	expect(t, r, 200, "")
	rep := obj(t, r.JSON(t), "replica")
	if rep["status"] != "streaming" {
		t.Fatalf("readyz replica %v, want status streaming", rep)
	}
	for _, k := range []string{"lag_bytes", "lag_seconds"} {
		if v, ok := rep[k].(float64); !ok || v < 0 {
			t.Fatalf("readyz replica.%s = %v, want a number ≥ 0", k, rep[k])
		}
	}
	// Both pools are in /metrics, the replica's with the connections it opened.
	fams := g.scrape(t)
	for _, pool := range []string{"primary", "replica"} {
		if n := gauge(t, fams, "homebase_gateway_db_pool_total_connections", "pool", pool); n < 1 {
			t.Errorf("the %s pool reports %v connections open, want at least 1", pool, n)
		}
	}

	d := measure(t, g)
	paths := []string{"/session", "/sessions", "/posts", "/activities", "/goals", "/trackers", "/reminders",
		"/account/preferences", "/reports/monthly", "/users/" + u.Username + "/activities"}
	for _, p := range paths {
		expect(t, g.do(req{Method: "GET", Path: p, Token: tok, UA: "ua"}), 200, "")
	}
	n := float64(len(paths))
	d.expect(map[string]float64{onReplica: n, outReplica: n})

	// A route that is not read-only goes to the primary.
	d = measure(t, g)
	expect(t, g.do(req{Method: "PUT", Path: "/account/preferences", Token: tok, UA: "ua",
		Body: map[string]any{"notification": "daily", "report_format": "html"}}), 200, "")
	d.expect(map[string]float64{onPrimary: 1})
}

// replicaSession is a replica's gateway and a user logged in through another
// one, whose sessions update (with $1, the account's id) has changed on the
// primary and the replica has replayed.
func replicaSession(t *testing.T, update string) (*testGateway, user, string) {
	t.Helper()
	url, admin := replicaEnv(t)
	plain := startGateway(t, nil)
	u := plain.signup(t)
	tok := plain.login(t, u, "ua")
	g := replicaGateway(t, url)
	if _, err := owner.Exec(context.Background(), update, int64(u.ID)); err != nil {
		t.Fatal(err)
	}
	waitReplayed(t, admin)
	return g, u, tok
}

// A session past its expiry, checked on the replica: the function must
// delete it, which a standby refuses (25006); the gateway repeats the call on
// the primary, where the session is deleted and the answer is EXPIRED.
func TestReplicaExpiredSession(t *testing.T) {
	g, u, tok := replicaSession(t,
		"UPDATE auth.account_sessions SET expiry_time = now() - interval '1 second', created_at = now() - interval '1 hour' WHERE account_id = $1")

	d := measure(t, g)
	r := g.do(req{Method: "GET", Path: "/goals", Token: tok, UA: "ua"})
	expect(t, r, 401, "EXPIRED")
	d.expect(map[string]float64{onReplica: 1, onPrimary: 1, outWrote: 1})
	if n := sessionRows(t, u.ID); n != 0 {
		t.Fatalf("%d sessions left on the primary, want the expired one deleted", n)
	}
	var dropped int
	if err := owner.QueryRow(context.Background(),
		"SELECT count(*) FROM audit.logs WHERE account_id = $1 AND message = 'session dropped: expired'", int64(u.ID)).
		Scan(&dropped); err != nil {
		t.Fatal(err)
	}
	if dropped != 1 {
		t.Fatalf("%d 'session dropped: expired' audit rows, want 1", dropped)
	}
}

// A session whose last_used is due for its refresh (older than a minute):
// the replica cannot write it, so the read is served by the primary, which
// refreshes it.
func TestReplicaLastUsedRefresh(t *testing.T) {
	g, u, tok := replicaSession(t,
		"UPDATE auth.account_sessions SET created_at = now() - interval '1 hour', last_used = now() - interval '10 minutes' WHERE account_id = $1")

	d := measure(t, g)
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}), 200, "")
	d.expect(map[string]float64{onReplica: 1, onPrimary: 1, outWrote: 1})
	var fresh bool
	if err := owner.QueryRow(context.Background(),
		"SELECT last_used > now() - interval '5 minutes' FROM auth.account_sessions WHERE account_id = $1", int64(u.ID)).
		Scan(&fresh); err != nil {
		t.Fatal(err)
	}
	if !fresh {
		t.Fatal("last_used was not refreshed on the primary")
	}
}

// Read-your-writes: with the replica's replay paused, a client that has just
// written reads from the primary and sees its write, while an anonymous
// client's read is served by the replica, which has not got it; once the
// replica has replayed the write, the writer's reads go to the replica again.
// A session made through another gateway, which this one knows nothing of,
// is not on the replica yet either: its read is repeated on the primary.
func TestReplicaReadYourWrites(t *testing.T) {
	url, admin := replicaEnv(t)
	// No REPLICA_MAX_LAG: replay stays paused below for as long as it takes.
	g := replicaGateway(t, url, func(c *gateway.Config) { c.ReplicaMaxLag = 0 })
	plain := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	other := plain.signup(t)
	resume := pauseReplay(t, admin)

	otherTok := plain.login(t, other, "ua")
	d := measure(t, g)
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: otherTok, UA: "ua"}), 200, "")
	d.expect(map[string]float64{onReplica: 1, onPrimary: 1, outUnknown: 1})

	msg := unique("replica read-your-writes ")
	expect(t, g.do(req{Method: "POST", Path: "/activities", Token: tok, UA: "ua",
		Body: map[string]any{"message": msg}}), 201, "")
	feedHas := func(r resp) bool {
		t.Helper()
		expect(t, r, 200, "")
		return strings.Contains(string(r.Body), msg)
	}

	d = measure(t, g)
	if !feedHas(g.do(req{Method: "GET", Path: "/activities", Token: tok, UA: "ua"})) {
		t.Fatal("the writer's next read does not have its activity")
	}
	d.expect(map[string]float64{onPrimary: 1, outBehind: 1})

	d = measure(t, g)
	if feedHas(g.do(req{Method: "GET", Path: "/activities"})) {
		t.Fatal("an anonymous read has the activity although the replica's replay is paused")
	}
	d.expect(map[string]float64{onReplica: 1, outReplica: 1})

	resume()
	waitReplayed(t, admin)
	for i := 0; ; i++ {
		d = measure(t, g)
		has := feedHas(g.do(req{Method: "GET", Path: "/activities", Token: tok, UA: "ua"}))
		after := snapshot(t, g)
		if after[outReplica] > d.before[outReplica] {
			if !has {
				t.Fatal("the replica has replayed the write, yet the writer's read there lacks it")
			}
			break
		}
		if i == 200 {
			t.Fatal("after 10 s the writer's reads still go to the primary, although the replica has replayed its write")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pauseReplay pauses the replica's replay until the test ends (or the
// returned resume is called).
func pauseReplay(t *testing.T, admin *pgxpool.Pool) (resume func()) {
	t.Helper()
	ctx := context.Background()
	if _, err := admin.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume = func() {
		if !resumed {
			resumed = true
			if _, err := admin.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(resume)
	for i := 0; ; i++ {
		var state string
		if err := admin.QueryRow(ctx, "SELECT pg_get_wal_replay_pause_state()").Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state == "paused" {
			return resume
		}
		if i == 1000 {
			t.Fatalf("replay is %s after 20 s, want paused", state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// REPLICA_MAX_LAG: a replica that has not replayed what the primary wrote
// longer ago than the limit serves no reads, not even anonymous ones, and
// /readyz says it is lagging; once it has caught up, it serves them again.
func TestReplicaMaxLag(t *testing.T) {
	url, admin := replicaEnv(t)
	g := replicaGateway(t, url, func(c *gateway.Config) { c.ReplicaMaxLag = 300 * time.Millisecond })
	plain := startGateway(t, nil)
	resume := pauseReplay(t, admin)
	plain.signup(t) // a write the paused replica does not replay

	for i := 0; ; i++ {
		d := measure(t, g)
		expect(t, g.do(req{Method: "GET", Path: "/posts"}), 200, "")
		if after := snapshot(t, g); after[outLagging] > d.before[outLagging] {
			if after[onPrimary]-d.before[onPrimary] != 1 || after[onReplica] != d.before[onReplica] {
				t.Fatalf("a lagging replica's read: primary +%v, replica +%v; want the primary only",
					after[onPrimary]-d.before[onPrimary], after[onReplica]-d.before[onReplica])
			}
			break
		}
		if i == 200 {
			t.Fatal("after 10 s with replay paused, anonymous reads still go to the replica")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := g.do(req{Method: "GET", Path: "//readyz"})
	expect(t, r, 200, "")
	if rep := obj(t, r.JSON(t), "replica"); rep["status"] != "lagging" {
		t.Fatalf("readyz replica %v, want status lagging", rep)
	}

	resume()
	waitReplayed(t, admin)
	for i := 0; ; i++ {
		d := measure(t, g)
		expect(t, g.do(req{Method: "GET", Path: "/posts"}), 200, "")
		if snapshot(t, g)[outReplica] > d.before[outReplica] {
			break
		}
		if i == 200 {
			t.Fatal("after 10 s the caught-up replica still serves no reads")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r = g.do(req{Method: "GET", Path: "//readyz"})
	if rep := obj(t, r.JSON(t), "replica"); rep["status"] != "streaming" {
		t.Fatalf("readyz replica %v after catching up, want status streaming", rep)
	}
}

// A replica that cannot be reached (nothing listens on its port: a stopped
// replica) costs nothing but its use: every read is served by the primary,
// and /readyz stays 200, saying the replica is unavailable.
// TEST_REPLICA_DOWN_URL names the stopped replica (scripts/test, after
// stopping it); otherwise a loopback port nothing listens on.
func TestReplicaUnreachable(t *testing.T) {
	t.Parallel()
	url := os.Getenv("TEST_REPLICA_DOWN_URL")
	if url == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		url = fmt.Sprintf("postgres://gateway:x@127.0.0.1:%d/nowhere?sslmode=disable&connect_timeout=2", port)
	}
	g := startGateway(t, func(c *gateway.Config) { loopbackOnly(c); c.ReplicaDatabaseURL = url })
	u := g.signup(t)
	tok := g.login(t, u, "ua")

	r := g.do(req{Method: "GET", Path: "//readyz"})
	expect(t, r, 200, "")
	if rep := obj(t, r.JSON(t), "replica"); rep["status"] != "unavailable" {
		t.Fatalf("readyz replica %v, want status unavailable", rep)
	}
	d := measure(t, g)
	paths := []string{"/session", "/posts", "/activities", "/goals"}
	for _, p := range paths {
		expect(t, g.do(req{Method: "GET", Path: p, Token: tok, UA: "ua"}), 200, "")
	}
	d.after = snapshot(t, g)
	moved := func(k string) float64 { return d.after[k] - d.before[k] }
	down := moved(replicaReads+" outcome unavailable") + moved(replicaReads+" outcome unreachable")
	if moved(outReplica) != 0 || down != float64(len(paths)) || moved(onPrimary) != float64(len(paths)) {
		t.Fatalf("reads with the replica down: %v → %v; want all %d on the primary, as unavailable or unreachable",
			d.before, d.after, len(paths))
	}
	if slices.ContainsFunc(g.logLines(t), func(m map[string]any) bool {
		return m["level"] == "error" && m["message"] == "request"
	}) {
		t.Fatalf("a request was logged as an error with the replica down:\n%s", g.Log.String())
	}
}

package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"

	"homebase/gateway"
)

// With DB_PIPELINE the calls that arrive while the one worker is busy go
// out together in one pipelined batch, each in its own implicit transaction.
// Many concurrent requests, some failing in different ways (a wrong token, a
// validation error, a statement timeout behind a row lock), each get exactly
// their own answer, and no failure rolls back a neighbour's write.
func TestPipelinedBatchesKeepAnswersApart(t *testing.T) {
	t.Parallel()
	skipBehindPgBouncer(t, "batching prepares its statements on each connection, which transaction pooling cannot keep")
	g := startGateway(t, func(c *gateway.Config) {
		c.Pipeline = true
		c.PoolSize = 2 // one worker: whatever queues behind a batch goes out in the next
		// Long enough for a sign-up's bcrypt on a loaded machine (800 ms
		// was not), short enough to keep the locked PATCH's wait brief.
		c.StatementTimeout = 2 * time.Second
		loopbackOnly(c)
	})
	locked := g.signup(t)
	lockedTok := g.login(t, locked, "ua")
	const writers = 24
	users := make([]user, writers)
	toks := make([]string, writers)
	for i := range users {
		users[i] = g.signup(t)
		toks[i] = g.login(t, users[i], "ua")
	}

	// Hold the locked account's row: its PATCH waits, then times out (504).
	conn, err := pgx.Connect(context.Background(), ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), "SELECT 1 FROM auth.accounts WHERE id = $1 FOR UPDATE", int64(locked.ID)); err != nil {
		t.Fatal(err)
	}
	before := batchSizes(t, g.scrape(t))

	type call struct {
		r      req
		status int
		code   string
	}
	calls := []call{{req{Method: "PATCH", Path: "/account", Token: lockedTok, UA: "ua",
		Body: map[string]any{"display_name": "never written"}}, 504, "TIMEOUT"}}
	for i := range users {
		calls = append(calls,
			call{req{Method: "PATCH", Path: "/account", Token: toks[i], UA: "ua",
				Body: map[string]any{"display_name": fmt.Sprintf("written %d", i)}}, 200, ""},
			call{req{Method: "GET", Path: "/session", Token: toks[i] + "x", UA: "ua"}, 401, "INVALID"},
			call{req{Method: "PATCH", Path: "/account", Token: toks[i], UA: "ua",
				Body: map[string]any{"email": "not an address"}}, 422, "VALIDATION"},
			call{req{Method: "GET", Path: "/availability?username=" + users[i].Username}, 200, ""},
		)
	}
	results := make([]resp, len(calls))
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range calls {
		wg.Go(func() {
			<-start
			results[i], errs[i] = g.try(c.r)
		})
	}
	close(start)
	wg.Wait()
	tx.Rollback(context.Background())

	for i, c := range calls {
		if errs[i] != nil {
			t.Fatalf("%s %s: %v", c.r.Method, c.r.Path, errs[i])
		}
		if results[i].Status != c.status || (c.code != "" && results[i].Code(t) != c.code) {
			t.Errorf("%s %s: %d %s, want %d %s", c.r.Method, c.r.Path, results[i].Status, results[i].Body, c.status, c.code)
		}
	}
	// Every write that answered 200 is there; the timed-out one is not.
	for i, u := range users {
		var name string
		if err := owner.QueryRow(context.Background(), "SELECT display_name FROM auth.accounts WHERE id = $1",
			int64(u.ID)).Scan(&name); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("written %d", i); name != want {
			t.Errorf("%s's display name is %q, want %q", u.Username, name, want)
		}
	}
	var name string
	if err := owner.QueryRow(context.Background(), "SELECT display_name FROM auth.accounts WHERE id = $1",
		int64(locked.ID)).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name == "never written" {
		t.Error("the timed-out update was committed")
	}
	// The calls did go out in batches of more than one.
	after := batchSizes(t, g.scrape(t))
	batches, sent := after.GetSampleCount()-before.GetSampleCount(), after.GetSampleSum()-before.GetSampleSum()
	if batches == 0 || sent <= float64(batches) {
		t.Fatalf("%v calls in %d batches: nothing was batched", sent, batches)
	}
	t.Logf("%v calls in %d batches", sent, batches)
}

// With DB_PIPELINE a bcrypt route's call (a login, a sign-up) is never
// batched, so no call waits behind its hash; the other routes' calls go
// through the batching.
func TestPipelinedBcryptCallsGoAlone(t *testing.T) {
	t.Parallel()
	skipBehindPgBouncer(t, "batching prepares its statements on each connection, which transaction pooling cannot keep")
	g := startGateway(t, func(c *gateway.Config) {
		c.Pipeline = true
		loopbackOnly(c)
	})
	u := g.signup(t)
	before := batchSizes(t, g.scrape(t))
	tok := g.login(t, u, "ua")
	afterLogin := batchSizes(t, g.scrape(t))
	if n := afterLogin.GetSampleCount() - before.GetSampleCount(); n != 0 {
		t.Errorf("a login went out in %d batches, want none (a connection of its own)", n)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}), 200, "")
	if n := batchSizes(t, g.scrape(t)).GetSampleCount() - afterLogin.GetSampleCount(); n != 1 {
		t.Errorf("a session check went out in %d batches, want 1", n)
	}
}

// batchSizes is the gateway's histogram of pipelined batch sizes.
func batchSizes(t *testing.T, fams map[string]*dto.MetricFamily) *dto.Histogram {
	t.Helper()
	if m := series(t, fams, "homebase_gateway_db_batch_size", dto.MetricType_HISTOGRAM); m != nil {
		return m.GetHistogram()
	}
	return &dto.Histogram{}
}

package e2e

import (
	"context"
	"sync"
	"testing"

	"homebase/gateway"
)

// Behind PgBouncer's transaction pooling (scripts/test runs this suite a
// second time so), and directly as well: a gateway with a small pool under
// concurrent requests, half of them failing through response.fail (a status
// set by set_config(…, true) while the transaction commits), half answering
// 200. Each request reads back its own transaction's response.status, never
// another's: the status is transaction-local and read in the same statement.
func TestResponseStatusStaysWithItsRequest(t *testing.T) {
	t.Parallel()
	g := startGateway(t, func(c *gateway.Config) { c.PoolSize = 2 })
	type pair struct {
		u   user
		tok string
	}
	var users []pair
	for range 4 {
		u := g.signup(t)
		users = append(users, pair{u, g.login(t, u, "ua")})
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for _, p := range users {
		for range 3 {
			wg.Go(func() {
				wrong := p.u
				wrong.Password = "wrong password " + unique("")
				wrong.IP = uniqueIP()
				if r := g.loginResp(wrong, "ua"); r.Status != 401 {
					errs <- "a wrong password: " + string(r.Body)
				}
			})
			wg.Go(func() {
				if r := g.do(req{Method: "GET", Path: "/session", Token: p.tok, UA: "ua", IP: p.u.IP}); r.Status != 200 {
					errs <- "a valid session: " + string(r.Body)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// Behind PgBouncer the gateway's StatementTimeout does not reach PostgreSQL
// (PgBouncer 1.18 forwards no statement_timeout startup parameter): the
// timeout of every server connection is PgBouncer's connect_query
// (PGBOUNCER_STATEMENT_TIMEOUT in scripts/lib.sh). A connection lent to the
// gateway must still have one.
func TestPgBouncerStatementTimeout(t *testing.T) {
	if !behindPgBouncer {
		t.Skip("only behind PgBouncer (TEST_BEHIND_PGBOUNCER=1); directly, TestStatementTimeout covers the gateway's own")
	}
	t.Parallel()
	pool, err := gateway.NewPool(context.Background(), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for range 4 {
		var v string
		if err := pool.QueryRow(context.Background(), "SELECT current_setting('statement_timeout')").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v == "0" || v == "" {
			t.Fatalf("statement_timeout through PgBouncer is %q: no timeout at all", v)
		}
	}
}

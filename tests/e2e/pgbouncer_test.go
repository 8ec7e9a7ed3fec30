package e2e

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"homebase/gateway"
)

// Behind PgBouncer's transaction pooling (scripts/test runs this suite a
// second time so), and directly as well: a gateway with a small pool under
// concurrent requests, half of them failing through response.fail (a 401
// whose transaction commits), half answering 200. Each request gets its own
// answer and status, never another's: the status travels in the function's
// own result.
func TestCommittedFailureStaysWithItsRequest(t *testing.T) {
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
// (PGBOUNCER_STATEMENT_TIMEOUT in scripts/lib/pgbouncer.sh). A connection lent to the
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

// roundTrips counts the round trips of a connection: a read after writes.
type roundTrips struct {
	net.Conn
	wrote atomic.Bool
	n     atomic.Int64
}

func (c *roundTrips) Write(b []byte) (int, error) { c.wrote.Store(true); return c.Conn.Write(b) }
func (c *roundTrips) Read(b []byte) (int, error) {
	if c.wrote.Swap(false) {
		c.n.Add(1)
	}
	return c.Conn.Read(b)
}

// The hot path's statement (the shape handler.go builds) costs one round trip
// per request in the exec mode of the run (DB_EXEC_MODE's default directly,
// TEST_DB_EXEC_MODE behind PgBouncer), after the first call of a connection
// (where cache_statement prepares).
func TestHotPathOneRoundTrip(t *testing.T) {
	t.Parallel()
	cfg, err := pgx.ParseConfig(gatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = testConfig().ExecMode
	var rt *roundTrips
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		rt = &roundTrips{Conn: c}
		return rt, nil
	}
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	q := "SELECT api.current_session(ROW($1, $2, $3, $4, $5, NULL))"
	for i := range 3 {
		rt.n.Store(0)
		var r []byte
		if err := conn.QueryRow(ctx, q, "no-such-token", "ua", "127.0.0.1", "e2e-rt", nil).Scan(&r); err != nil {
			t.Fatal(err)
		}
		if n := rt.n.Load(); i > 0 && n != 1 {
			t.Fatalf("%v: call %d took %d round trips, want 1", cfg.DefaultQueryExecMode, i+1, n)
		}
	}
}

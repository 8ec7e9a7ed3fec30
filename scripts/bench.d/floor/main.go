// Command floor is the leanest possible gateway for GET /api/v1/session, the
// third contender of `scripts/bench session`. It is a measuring stick, not
// part of the product: nothing deploys or tests it, and it has none of the
// gateway's duties (no routing, logging, metrics, request ids, CORS, CSRF,
// error mapping, cookies, timeouts or graceful shutdown).
//
// What it keeps is what any gateway must do for this route: accept HTTP on
// net/http, take the Bearer token, the User-Agent, the client address and a
// request id (X-Request-Id, or a constant), run the gateway's SQL function
// with the gateway's arguments, SELECT api.current_session(ROW($1, $2, $3, $4, $5, $6))
// (the trace id NULL; not inside api.timed, the gateway's wrapper that
// writes a slow call's LOG line, so that its cost counts as the gateway's),
// on a pgxpool of the gateway's default size (DB_POOL_SIZE, else 2 per CPU,
// at least 4), and write the JSON bytes PostgreSQL returned.
//
// The distance between the gateway and this program is what the gateway's
// own code costs per request; the distance between this program and pgbench
// calling the function directly is what HTTP and Go cost.
//
// Environment: HOST (127.0.0.1), PORT (8081), DATABASE_URL (the gateway
// role's), DB_POOL_SIZE.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

const sessionSQL = "SELECT api.current_session(ROW($1, $2, $3, $4, $5, $6))"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run() error {
	pc, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	// The gateway's default pool size (gateway/config.go), so that the two
	// put the same number of backends on the database's cores.
	pc.MaxConns = int32(max(4, 2*runtime.NumCPU()))
	if v := os.Getenv("DB_POOL_SIZE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("DB_POOL_SIZE: want a positive integer")
		}
		pc.MaxConns = int32(n)
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "floor"
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return err
	}
	defer pool.Close()

	host, port := os.Getenv("HOST"), os.Getenv("PORT")
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "8081"
	}
	return http.ListenAndServe(net.JoinHostPort(host, port), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/session" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		var tok any // NULL without a Bearer token, as the gateway sends
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
			tok = h[7:]
		}
		client := r.RemoteAddr
		if i := strings.LastIndexByte(client, ':'); i >= 0 {
			client = strings.Trim(client[:i], "[]")
		}
		id := r.Header.Get("X-Request-Id")
		if id == "" {
			id = "floor"
		}
		var out []byte
		if err := pool.QueryRow(r.Context(), sessionSQL, tok, r.UserAgent(), client, id, nil, nil).Scan(&out); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	}))
}

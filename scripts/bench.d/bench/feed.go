package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// feed: the home feed (GET /api/v1/activities): latencies of the first and a
// deep page at two sizes, the throughput direct and through the gateway at
// the larger, then the first page behind a burst of just-expired activities.
type feed struct {
	db                                                           string
	clients, seconds, warmup, accounts, small, large, latClients int
	burst                                                        int
}

func feedSettings() (benchmark, error) {
	f := &feed{}
	if err := readInts(
		intSpec{&f.clients, "BENCH_CLIENTS", 16, 1},
		intSpec{&f.seconds, "BENCH_SECONDS", 5, 1},
		intSpec{&f.warmup, "BENCH_WARMUP", 2, 0},
		intSpec{&f.accounts, "BENCH_ACCOUNTS", 100000, 1},
		intSpec{&f.small, "BENCH_SMALL", 10000, 100},
		intSpec{&f.large, "BENCH_ACTIVITIES", 1000000, 100},
		intSpec{&f.latClients, "BENCH_LATENCY_CLIENTS", 1, 1},
		intSpec{&f.burst, "BENCH_EXPIRED", 50000, 0},
	); err != nil {
		return nil, err
	}
	if f.small%10 != 0 || f.large%10 != 0 || f.small >= f.large {
		return nil, fmt.Errorf("BENCH_SMALL (%d) and BENCH_ACTIVITIES (%d) must be multiples of 10, the first smaller", f.small, f.large)
	}
	var err error
	f.db, err = dbName()
	return f, err
}

func (f *feed) plan() plan {
	return plan{Databases: []string{f.db}, Build: []string{"gateway"}, Packages: []string{"wrk"},
		Ports: []string{"gateway"}, Connections: max(f.clients, f.latClients) + poolSize()}
}

// cursorKey is the cursors' signing key (the one response.cursor picks) as
// feed-deep.pgbench needs it: its id, and the key xor ipad and xor opad
// (RFC 2104), in hex.
type cursorKey struct{ kid, ipad, opad string }

func (f *feed) run(ctx context.Context, h *env) error {
	gwCLI, pw, err := withoutPassword(h.gateway)
	if err != nil {
		return err
	}
	os.Setenv("PGPASSWORD", pw)
	owner, err := pgx.Connect(ctx, h.owner)
	if err != nil {
		return err
	}
	defer owner.Close(context.Background())

	say("loading %d accounts", f.accounts)
	if _, err := psql(ctx, h.owner, "", append(psqlVars("accounts", f.accounts),
		"-f", filepath.Join(h.scripts, "feed-accounts.sql"))...); err != nil {
		return err
	}
	var loadTotal float64
	// After each load a CHECKPOINT (as the admin: the owner may not), so
	// that the phases measure reads, not the write-back of the pages the
	// load dirtied, which a random deep page would otherwise pay for when
	// it evicts them.
	load := func(from, to int) error {
		t0 := time.Now()
		_, err := psql(ctx, h.owner, "", append(psqlVars("from", from, "to", to, "accounts", f.accounts),
			"-f", filepath.Join(h.scripts, "feed-activities.sql"))...)
		loadTotal += time.Since(t0).Seconds()
		if err != nil {
			return err
		}
		_, err = psql(ctx, h.admin, "", "-c", "CHECKPOINT")
		return err
	}

	// Read as the owner (the gateway role cannot read auth.cursor_keys).
	// Throw-away database only.
	var key cursorKey
	if err := owner.QueryRow(ctx, `
	    SELECT s.id::text, string_agg(lpad(to_hex(get_byte(s.k, i) # 54), 2, '0'), '' ORDER BY i),
	           string_agg(lpad(to_hex(get_byte(s.k, i) # 92), 2, '0'), '' ORDER BY i)
	      FROM (SELECT id, secret || decode(repeat('00', 64 - octet_length(secret)), 'hex') AS k
	              FROM auth.cursor_keys
	             ORDER BY created_at <= now() - interval '1 minute' DESC, id DESC LIMIT 1) s, generate_series(0, 63) i
	     GROUP BY s.id`).Scan(&key.kid, &key.ipad, &key.opad); err != nil {
		return fmt.Errorf("could not read the cursor key: %w", err)
	}
	if len(key.ipad) != 128 || len(key.opad) != 128 {
		return fmt.Errorf("could not read the cursor key")
	}

	// Latency: pgbench with BENCH_LATENCY_CLIENTS (1) client, so that it
	// measures the query rather than the queueing of clients on two cores.
	lat := map[string]phase{}
	measureLatency := func(label string, n int, pages ...string) error {
		for _, page := range pages {
			pb := pgbench{h: h, script: "feed-" + page + ".pgbench", url: gwCLI, threads: 1,
				vars: []string{fmt.Sprint("n=", n), "kid=" + key.kid, "ipad=" + key.ipad, "opad=" + key.opad}}
			tag := label + "-" + page
			if f.warmup > 0 {
				if err := pb.warm(ctx, tag+"-warmup", f.latClients, f.warmup); err != nil {
					return err
				}
			}
			say("%s activities, %s page: pgbench, %d client(s), %ds", label, page, f.latClients, f.seconds)
			ph, err := pb.run(ctx, tag, f.latClients, f.seconds)
			if err != nil {
				return err
			}
			lat[tag] = ph
		}
		return nil
	}

	say("loading activities 1..%d", f.small)
	if err := load(1, f.small); err != nil {
		return err
	}
	if err := f.checkCursor(ctx, owner, h.gateway, key, f.small); err != nil {
		return err
	}
	if err := measureLatency("small", f.small, "first", "deep"); err != nil {
		return err
	}
	say("loading activities %d..%d (a few minutes for 1M)", f.small+1, f.large)
	if err := load(f.small+1, f.large); err != nil {
		return err
	}
	if err := f.checkCursor(ctx, owner, h.gateway, key, f.large); err != nil {
		return err
	}
	if err := measureLatency("large", f.large, "first", "deep"); err != nil {
		return err
	}

	// The plans, as the function runs them (auto_explain logs the statements
	// nested in api.home_feed; client_min_messages shows them here).
	deepI := f.large*3/4 + 1
	deepI = deepI - deepI%10 + 1
	var deepCursor string
	if err := owner.QueryRow(ctx, `SELECT response.cursor('activities', created_at, uuid::text) FROM publishing.activities
	                                WHERE uuid = md5('bench-activity-' || $1::bigint)::uuid`, deepI).Scan(&deepCursor); err != nil {
		return err
	}
	plans := filepath.Join(h.dir, "plans.txt")
	if err := psqlLog(ctx, plans, h.admin, autoExplain+fmt.Sprintf(`
\echo '--- first page'
SELECT length(api.home_feed(ROW(NULL, NULL, NULL, NULL, NULL, NULL), NULL, 20)::text) AS answer_bytes;
\echo '--- deep page (activity %d of %d)'
SELECT length(api.home_feed(ROW(NULL, NULL, NULL, NULL, NULL, NULL), :'cursor', 20)::text) AS answer_bytes;
`, deepI, f.large), psqlVars("cursor", deepCursor)...); err != nil {
		return err
	}

	// --- throughput at the large size: direct vs the gateway -------------------
	port := f.plan().port(h, "gateway")
	say("starting the gateway on 127.0.0.1:%d (default pool size, LOG_LEVEL=warn)", port)
	var ss servers
	defer ss.stopAll(10 * time.Second)
	gateway, err := startServer("gateway", filepath.Join(h.bin, "gateway"), port, filepath.Join(h.dir, "gateway.log"),
		"DATABASE_URL="+h.gateway, "LOG_LEVEL=warn", "COOKIE_SECURE=false", "SHUTDOWN_TIMEOUT=5s", "MAINTENANCE_INTERVAL=0")
	if err != nil {
		return err
	}
	ss.add(gateway)
	if err := gateway.waitReady(ctx, "/readyz", nil, ""); err != nil {
		return err
	}
	if err := gateway.waitReady(ctx, "/api/v1/activities", map[string]string{"User-Agent": "bench/1.0"}, `"activities"`); err != nil {
		return err
	}
	direct := pgbench{h: h, script: "feed-first.pgbench", url: gwCLI}
	viaGateway := wrk{h: h, server: gateway, path: "/api/v1/activities", script: "feed.lua"}
	if f.warmup > 0 {
		say("warming up %ds each", f.warmup)
		if err := direct.warm(ctx, "tp-warmup", f.clients, f.warmup); err != nil {
			return err
		}
		if _, err := viaGateway.run(ctx, "warmup", f.clients, f.warmup); err != nil {
			return err
		}
	}
	say("(a) direct: pgbench, first page, %d clients, %ds", f.clients, f.seconds)
	a, err := direct.run(ctx, "tp", f.clients, f.seconds)
	if err != nil {
		return err
	}
	say("(b) gateway: wrk, GET /api/v1/activities, %d connections, %ds", f.clients, f.seconds)
	b, err := viaGateway.run(ctx, "gateway", f.clients, f.seconds)
	if err != nil {
		return err
	}
	ss.stopAll(10 * time.Second)

	// --- a burst of activities that have just expired --------------------------
	// BENCH_EXPIRED more top-level activities, the newest of the table, each
	// with a 2 s lifetime (as 50k posts of one flood would be): once they have
	// expired and before maintenance deletes them, every first page passes all
	// of them. Measured at once (their pages not yet all-visible, so an
	// index-only scan still checks each row's visibility in the heap), then
	// after a VACUUM (as autovacuum does within a minute with this table's
	// setting, migration 012: after 1% of new rows).
	plansExpired := filepath.Join(h.dir, "plans-expired.txt")
	if f.burst > 0 {
		say("loading %d activities with a 2 s lifetime, the newest of the table", f.burst)
		if _, err := psql(ctx, h.owner, "", append(psqlVars("burst", f.burst),
			"-f", filepath.Join(h.scripts, "feed-expired.sql"))...); err != nil {
			return err
		}
		var left float64
		if err := owner.QueryRow(ctx, `SELECT extract(epoch FROM max(expires_at) - clock_timestamp())::float8
		                                 FROM publishing.activities WHERE message LIKE 'Short-lived number %'`).Scan(&left); err != nil {
			return err
		}
		if left > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration((left + 0.2) * float64(time.Second))):
			}
		}
		if err := measureLatency("expired-novacuum", f.large, "first"); err != nil {
			return err
		}
		if _, err := owner.Exec(ctx, "VACUUM (ANALYZE) publishing.activities"); err != nil {
			return err
		}
		if err := measureLatency("expired", f.large, "first"); err != nil {
			return err
		}
		if err := psqlLog(ctx, plansExpired, h.admin, autoExplain+fmt.Sprintf(`
\echo '--- first page, %d just-expired activities in front (vacuumed)'
SELECT length(api.home_feed(ROW(NULL, NULL, NULL, NULL, NULL, NULL), NULL, 20)::text) AS answer_bytes;
`, f.burst)); err != nil {
			return err
		}
	}

	// --- report ------------------------------------------------------------------
	fmt.Printf("\nhome feed: %d accounts; %d then %d activities (a tenth replies, a tenth expired), loaded in %.1fs\n",
		f.accounts, f.small, f.large, loadTotal)
	fmt.Printf("latency: pgbench calling api.home_feed (20 items), %d client(s), %ds per phase after %ds warm-up\n\n",
		f.latClients, f.seconds, f.warmup)
	row := func(name string, ph phase) { fmt.Printf("%-42s %10.3f %10.3f %12.1f\n", name, ph.p50, ph.p99, ph.rps) }
	header := func() { fmt.Printf("%-42s %10s %10s %12s\n", "phase", "p50 ms", "p99 ms", "req/s") }
	header()
	for _, size := range []string{"small", "large"} {
		n := map[string]int{"small": f.small, "large": f.large}[size]
		for _, page := range []string{"first", "deep"} {
			row(fmt.Sprintf("%d activities, %s page", n, page), lat[size+"-"+page])
		}
	}
	if f.burst > 0 {
		row(fmt.Sprintf("+%d just expired, first page, unvacuumed", f.burst), lat["expired-novacuum-first"])
		row(fmt.Sprintf("+%d just expired, first page", f.burst), lat["expired-first"])
	}
	fmt.Printf("\nthroughput at %d activities, first page, concurrency %d:\n", f.large, f.clients)
	header()
	row("(a) direct: pgbench, api.home_feed", a)
	row("(b) gateway: wrk, GET /api/v1/activities", b)
	fmt.Println(ratioLine("gateway/direct", ratio(b.rps, a.rps)))
	fmt.Printf("\nplans (auto_explain, %d activities): %s\n", f.large, plans)
	printLines(planLines(plans, regexp.MustCompile(`^(---|LOG|  |->|[[:space:]]+(Limit|Index|Sort|Seq|Buffers|->))`),
		regexp.MustCompile(`api.home_feed|^LOG:  duration`), 80))
	if f.burst > 0 {
		fmt.Printf("\nplan of the first page with %d just-expired activities in front: %s\n", f.burst, plansExpired)
		printLines(planLines(plansExpired, regexp.MustCompile(`^(---|LOG|  |->|[[:space:]]+(Limit|Index|Sort|Seq|Buffers|Heap|Rows|->))`),
			regexp.MustCompile(`api.home_feed|^LOG:  duration`), 60))
	}
	fmt.Println()
	fs, fl := lat["small-first"].p50, lat["large-first"].p50
	rf, rd := ratio(fl, fs), ratio(lat["large-deep"].p50, lat["small-deep"].p50)
	if f.burst > 0 {
		fe, fn := lat["expired-first"].p50, lat["expired-novacuum-first"].p50
		fmt.Printf("p50 ratio first page with %d just expired / 10k: %.2f vacuumed, %.2f not yet vacuumed\n",
			f.burst, ratio(fe, fs), ratio(fn, fs))
		fmt.Println(ratioLine("expired/10k", ratio(fe, fs)))
	}
	fmt.Printf("p50 ratio 1M/10k: first page %.2f, deep page %.2f (the last line is the larger)\n", rf, rd)
	fmt.Println(ratioLine("1M/10k", max(rf, rd)))
	return nil
}

// checkCursor: the deep page's cursor, computed as feed-deep.pgbench does,
// must be the one response.cursor makes for that row; and the first page
// has its 20 items.
func (f *feed) checkCursor(ctx context.Context, owner *pgx.Conn, gatewayURL string, key cursorKey, n int) error {
	i := n/2 + 1
	var ok bool
	if err := owner.QueryRow(ctx, `
	  SELECT response.cursor('activities', a.created_at, a.uuid::text) =
	         (SELECT rtrim(translate(encode(p.b || sha256(decode($2, 'hex') || sha256(decode($1, 'hex') || p.b)), 'base64'),
	                                 E'+/\n', '-_'), '=')
	            FROM (SELECT convert_to('activities|' || $3::text || '|' ||
	                         to_char((timestamptz '2026-01-01 00:00:00+00' - $4::bigint * interval '1 second') AT TIME ZONE 'UTC',
	                                 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
	                         || '|' || md5('bench-activity-' || $4::bigint)::uuid::text, 'UTF8') AS b) p)
	    FROM publishing.activities a WHERE a.uuid = md5('bench-activity-' || $4::bigint)::uuid`,
		key.ipad, key.opad, key.kid, i).Scan(&ok); err != nil || !ok {
		return fmt.Errorf("the deep page's cursor for activity %d is not response.cursor's (%v, %v)", i, ok, err)
	}
	gw, err := pgx.Connect(ctx, gatewayURL)
	if err != nil {
		return err
	}
	defer gw.Close(context.Background())
	var items int
	if err := gw.QueryRow(ctx, `SELECT json_array_length(api.home_feed(ROW(NULL, NULL, NULL, NULL, NULL, NULL), NULL, 20) -> 'activities')`).
		Scan(&items); err != nil {
		return err
	}
	if items != 20 {
		return fmt.Errorf("the first page has %d items, want 20", items)
	}
	return nil
}

// autoExplain makes psql print the plans of the statements nested in the
// functions it calls (psql runs as the admin: LOAD needs a superuser;
// log_timing is auto_explain's default, said here for the reader).
const autoExplain = `LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_timing = on;
SET auto_explain.log_nested_statements = on;
SET client_min_messages = log;
`

func printLines(lines []string) {
	for _, l := range lines {
		fmt.Println(l)
	}
}

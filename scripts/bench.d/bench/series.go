package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// series: a tracker's series (GET /api/v1/trackers/{id}/series) direct,
// with the same tracker in two databases whose logs differ a hundredfold.
type series struct {
	db                                                        string
	seconds, warmup, rounds, trackers, own, small, large, lat int
}

func seriesSettings() (benchmark, error) {
	s := &series{}
	if err := readInts(
		intSpec{&s.seconds, "BENCH_SECONDS", 5, 1},
		intSpec{&s.warmup, "BENCH_WARMUP", 2, 0},
		intSpec{&s.rounds, "BENCH_ROUNDS", 3, 1},
		intSpec{&s.trackers, "BENCH_TRACKERS", 1000, 2},
		intSpec{&s.own, "BENCH_TRACKER_LOGS", 1000, 1},
		intSpec{&s.small, "BENCH_SMALL", 10000, 1},
		intSpec{&s.large, "BENCH_LOGS", 1000000, 1},
		intSpec{&s.lat, "BENCH_LATENCY_CLIENTS", 1, 1},
	); err != nil {
		return nil, err
	}
	if !(s.own < s.small && s.small < s.large && s.large <= 10000000) {
		return nil, fmt.Errorf("BENCH_TRACKER_LOGS (%d) < BENCH_SMALL (%d) < BENCH_LOGS (%d) <= 10M, please", s.own, s.small, s.large)
	}
	var err error
	s.db, err = dbName()
	return s, err
}

// Two databases, one per size (DB_NAME with BENCH_SMALL logs,
// DB_NAME_large with BENCH_LOGS), so that the measurements can alternate: a
// slow spell of this shared machine then weighs on both sizes rather than on
// whichever one it hit.
func (s *series) plan() plan {
	return plan{Databases: []string{s.db, s.db + "_large"}, Connections: s.lat}
}

// seriesSize is one of the two databases, loaded and checked.
type seriesSize struct {
	name    string // small, large
	logs    int
	db      string
	tok     string // bench_1's session token
	tracker int64  // bench_1's tracker
	pgbench pgbench
	plans   string // its auto_explain plans file
}

func (s *series) run(ctx context.Context, h *env) error {
	var loadTotal float64
	var sizes []*seriesSize
	for i, name := range []string{"small", "large"} {
		z := &seriesSize{name: name, logs: []int{s.small, s.large}[i], db: s.plan().Databases[i]}
		elapsed, err := s.load(ctx, h, z)
		if err != nil {
			return err
		}
		loadTotal += elapsed
		sizes = append(sizes, z)
	}

	if s.warmup > 0 {
		for _, z := range sizes {
			if err := z.pgbench.warm(ctx, z.name+"-warmup", s.lat, s.warmup); err != nil {
				return err
			}
		}
	}
	txs := map[string]int64{}
	latencies := map[string][]float64{}
	for r := 1; r <= s.rounds; r++ {
		for _, z := range sizes {
			say("round %d/%d: %d logs, pgbench, %d client(s), %ds", r, s.rounds, z.logs, s.lat, s.seconds)
			tag := fmt.Sprintf("%s-%d", z.name, r)
			ph, err := z.pgbench.run(ctx, tag, s.lat, s.seconds)
			if err != nil {
				return err
			}
			txs[z.name] += ph.requests
			ms, err := pgbenchLatencies(filepath.Join(h.dir, "log-"+tag))
			if err != nil {
				return err
			}
			latencies[z.name] = append(latencies[z.name], ms...)
		}
	}

	fmt.Printf("\nseries: %d accounts with a tracker each; %d and %d logs over 2025 in two databases (%d of them the measured tracker's), loaded in %.1fs\n",
		s.trackers, s.small, s.large, s.own, loadTotal)
	fmt.Printf("latency: pgbench calling api.tracker_series (365 day buckets, Europe/Berlin), %d client(s), %d rounds of %ds per size, alternating, after %ds warm-up\n\n",
		s.lat, s.rounds, s.seconds, s.warmup)
	fmt.Printf("%-30s %10s %10s %10s %12s %16s\n", "phase", "its logs", "p50 ms", "p99 ms", "req/s", "buffers (plan)")
	p50 := map[string]float64{}
	for _, z := range sizes {
		p50[z.name] = percentile(latencies[z.name], 0.50)
		fmt.Printf("%-30s %10d %10.3f %10.3f %12.1f %16s\n", fmt.Sprintf("%d logs in all", z.logs), s.own,
			p50[z.name], percentile(latencies[z.name], 0.99), float64(txs[z.name])/float64(s.rounds*s.seconds), aggregateBuffers(z.plans))
	}
	large := sizes[1].plans
	fmt.Printf("\nplan at %d logs: %s\n", s.large, large)
	printLines(planLines(large, regexp.MustCompile(`(Index|Seq|Bitmap Heap|Bitmap Index) Scan|HashAggregate|Heap Blocks`),
		regexp.MustCompile(`account_sessions|settings|trackers`), 12))
	fmt.Println()
	fmt.Println(ratioLine("1M/10k", ratio(p50["large"], p50["small"])))
	return nil
}

// load fills one database (scripts/bench.d/series-load.sql), opens a
// session of bench_1, checks the answer and writes the plan. Answers the
// seconds the load took.
func (s *series) load(ctx context.Context, h *env, z *seriesSize) (float64, error) {
	var urls [3]string // owner, gateway, admin
	for i, u := range []string{h.owner, h.gateway, h.admin} {
		var err error
		if urls[i], err = withDB(u, z.db); err != nil {
			return 0, err
		}
	}
	cli, pw, err := withoutPassword(urls[1])
	if err != nil {
		return 0, err
	}
	os.Setenv("PGPASSWORD", pw)

	say("%s: %d accounts with a numerical tracker each, %d logs", z.db, s.trackers, z.logs)
	t0 := time.Now()
	if _, err := psql(ctx, urls[0], "", append(psqlVars("trackers", s.trackers, "own", s.own, "n", z.logs),
		"-f", filepath.Join(h.scripts, "series-load.sql"))...); err != nil {
		return 0, err
	}
	elapsed := time.Since(t0).Seconds()
	owner, err := pgx.Connect(ctx, urls[0])
	if err != nil {
		return 0, err
	}
	defer owner.Close(context.Background())
	if err := owner.QueryRow(ctx, "SELECT auth.create_account_session('bench_1', 'bench/1.0', '127.0.0.1')").Scan(&z.tok); err != nil {
		return 0, err
	}
	if err := owner.QueryRow(ctx, `SELECT t.id FROM tracking.trackers t JOIN auth.accounts a ON a.id = t.account_id
	                                WHERE a.username = 'bench_1'`).Scan(&z.tracker); err != nil {
		return 0, err
	}

	// The answer must be the year's 365 buckets, the tracker's logs all in them.
	gw, err := pgx.Connect(ctx, urls[1])
	if err != nil {
		return 0, err
	}
	defer gw.Close(context.Background())
	var got string
	if err := gw.QueryRow(ctx, `
	  SELECT json_array_length(s -> 'series') || ' ' || (SELECT sum((b ->> 'count')::int) FROM json_array_elements(s -> 'series') b)
	    FROM api.tracker_series(ROW($1::text, 'bench/1.0', '127.0.0.1', 'bench-check', NULL, NULL), $2::bigint, 'day',
	                            '2025-01-01', '2026-01-01', 'Europe/Berlin') AS s`, z.tok, z.tracker).Scan(&got); err != nil {
		return 0, err
	}
	if want := fmt.Sprintf("365 %d", s.own); got != want {
		return 0, fmt.Errorf("%s: the series answers '%s' (buckets, logs), want '%s'", z.db, got, want)
	}

	// The plan, as the function runs it (auto_explain logs the statements nested in api.tracker_series).
	z.plans = filepath.Join(h.dir, "plans-"+z.name+".txt")
	if err := psqlLog(ctx, z.plans, urls[2], autoExplain+`
SELECT length(api.tracker_series(ROW(:'tok', 'bench/1.0', '127.0.0.1', 'bench-plan', NULL, NULL), :id, 'day',
                                 '2025-01-01', '2026-01-01', 'Europe/Berlin')::text) AS answer_bytes;
`, psqlVars("tok", z.tok, "id", z.tracker)...); err != nil {
		return 0, err
	}
	z.pgbench = pgbench{h: h, script: "series.pgbench", url: cli, threads: 1,
		vars: []string{"tok=" + z.tok, fmt.Sprint("id=", z.tracker)}}
	return elapsed, nil
}

// aggregateBuffers is the shared buffers hit by the plan's first Aggregate
// node (on its line or the next), "" when there is none.
func aggregateBuffers(plans string) string {
	b, err := os.ReadFile(plans)
	if err != nil {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	hit := regexp.MustCompile(`shared hit=([0-9]+)`)
	for i, l := range lines {
		if strings.HasPrefix(l, "Aggregate") {
			for _, c := range lines[i:min(i+2, len(lines))] {
				if m := hit.FindStringSubmatch(c); m != nil {
					return m[1]
				}
			}
			return ""
		}
	}
	return ""
}

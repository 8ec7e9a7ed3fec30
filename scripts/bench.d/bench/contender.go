package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// phase is one measured run: req/s, p50 and p99 (ms), the requests and the
// seconds measured, and the CPU time of the contender's own process.
type phase struct {
	rps, p50, p99 float64
	requests      int64
	seconds       float64
	cpuTicks      int64
}

// A contender answers a benchmark's requests: PostgreSQL itself under
// pgbench ("direct"), or an HTTP server under wrk (the gateway, the floor, a
// gateway through PgBouncer). What a later benchmark changes about one (its
// DATABASE_URL through a proxy, say) is in how its server is started; what
// it adds per phase (a table of the functions' statistics, say) goes in
// measure.
type contender struct {
	name   string  // the key of its totals: direct, gateway, floor, pgbouncer
	label  string  // its row in the report
	server *server // its own process, for its CPU; nil when its work is PostgreSQL's
	load   load    // what sends the requests
}

// load runs one phase of requests: tag names its files in .local/bench.
type load interface {
	run(ctx context.Context, tag string, clients, seconds int) (phase, error)
}

// measure runs one phase, and counts the CPU time the contender's own
// process used meanwhile (user + system; none for direct).
func (c *contender) measure(ctx context.Context, tag string, clients, seconds int) (phase, error) {
	var cpu0 int64
	if c.server != nil {
		var err error
		if cpu0, err = c.server.cpuTicks(); err != nil {
			return phase{}, err
		}
	}
	p, err := c.load.run(ctx, tag, clients, seconds)
	if err != nil {
		return p, err
	}
	if c.server != nil {
		cpu1, err := c.server.cpuTicks()
		if err != nil {
			return p, err
		}
		p.cpuTicks = cpu1 - cpu0
	}
	return p, nil
}

// pgbench calls a SQL function directly, with a script of scripts/bench.d,
// prepared statements and a per-transaction log for the percentiles.
type pgbench struct {
	h       *env
	script  string   // feed-first.pgbench …
	vars    []string // -D name=value
	url     string   // without its password (PGPASSWORD has it)
	threads int      // 0: threads(clients)
}

func (p pgbench) args(clients, seconds int) []string {
	j := p.threads
	if j == 0 {
		j = threads(clients)
	}
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(j),
		"-T", strconv.Itoa(seconds), "-f", filepath.Join(p.h.scripts, p.script)}
	for _, v := range p.vars {
		args = append(args, "-D", v)
	}
	return args
}

// warm runs it without a log, its output in pgbench-TAG.out.
func (p pgbench) warm(ctx context.Context, tag string, clients, seconds int) error {
	out := filepath.Join(p.h.dir, "pgbench-"+tag+".out")
	return runTo(ctx, out, "pgbench", append(p.args(clients, seconds), p.url)...)
}

// run measures: pgbench-TAG.out and its transactions in log-TAG/.
func (p pgbench) run(ctx context.Context, tag string, clients, seconds int) (phase, error) {
	out := filepath.Join(p.h.dir, "pgbench-"+tag+".out")
	log := filepath.Join(p.h.dir, "log-"+tag)
	if err := os.MkdirAll(log, 0o755); err != nil {
		return phase{}, err
	}
	args := append(p.args(clients, seconds), "-l", "--log-prefix="+filepath.Join(log, "tx"), p.url)
	if err := runTo(ctx, out, "pgbench", args...); err != nil {
		return phase{}, err
	}
	text, err := os.ReadFile(out)
	if err != nil {
		return phase{}, err
	}
	o, err := parsePgbench(string(text))
	if err != nil {
		return phase{}, err
	}
	ms, err := pgbenchLatencies(log)
	if err != nil {
		return phase{}, err
	}
	return phase{rps: o.tps, requests: o.processed, seconds: ratio(float64(o.processed), o.tps),
		p50: percentile(ms, 0.50), p99: percentile(ms, 0.99)}, nil
}

// wrk sends GET requests to a server with a Lua script of scripts/bench.d,
// whose done() prints the BENCH line.
type wrk struct {
	h      *env
	server *server
	path   string   // /api/v1/session …
	script string   // session.lua …
	args   []string // after "--", for the script's init()
}

// command is wrk's arguments.
func (w wrk) command(clients, seconds int) []string {
	args := []string{"-c", strconv.Itoa(clients), "-t", strconv.Itoa(threads(clients)),
		"-d", strconv.Itoa(seconds) + "s", "--latency", "-s", filepath.Join(w.h.scripts, w.script), w.server.base + w.path}
	if len(w.args) > 0 {
		args = append(append(args, "--"), w.args...)
	}
	return args
}

// run measures: its output in wrk-TAG.out.
func (w wrk) run(ctx context.Context, tag string, clients, seconds int) (phase, error) {
	out := filepath.Join(w.h.dir, "wrk-"+tag+".out")
	if err := runTo(ctx, out, "wrk", w.command(clients, seconds)...); err != nil {
		return phase{}, fmt.Errorf("%s: %w", w.server.name, err)
	}
	return w.read(out)
}

// read checks and reads wrk's output in the file out.
func (w wrk) read(out string) (phase, error) {
	text, err := os.ReadFile(out)
	if err != nil {
		return phase{}, err
	}
	o, err := parseWrk(string(text))
	if err == nil {
		err = o.check(w.server.name)
	}
	if err != nil {
		return phase{}, fmt.Errorf("%w\n%s\n%s", err, text, w.server.logTail())
	}
	return o.phase(), nil
}

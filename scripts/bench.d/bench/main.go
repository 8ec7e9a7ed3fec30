// Command bench runs the benchmarks of scripts/bench: session, feed,
// series and mail. scripts/bench, a bash wrapper, is the entry point: it does what
// scripts/lib.sh already does (installs what is missing, starts the local
// cluster, recreates and migrates the databases, builds the gateway and the
// floor and the mail sender, installs Mailpit, starts PgBouncer, hands out
// free ports), then runs this program.
// This program measures: it loads the data (plain SQL under scripts/bench.d,
// through psql), drives pgbench and wrk with the scripts of scripts/bench.d,
// starts and stops the HTTP contenders, and owns the rounds, the percentiles,
// the ratios and the CPU accounting. Its report goes to standard output, its
// progress to standard error.
//
// Usage (by scripts/bench, from the repository's root):
//
//	bench plan session|feed|series|mail [ARGS]  checks the settings and prints what
//	                                             scripts/bench must prepare (key=value)
//	bench session [--profile] [--remote [MS]] | feed | series | mail
//
// The settings are the BENCH_* variables and DB_NAME (docs/configuration.md,
// scripts/bench --help). What scripts/bench hands over, not settings:
// BENCH_ADMIN_URL, BENCH_OWNER_URL, BENCH_GATEWAY_URL (the gateway role's, with
// its password) and BENCH_PGBOUNCER_URL for DB_NAME (the program derives the
// URLs of series' second database from them), BENCH_MAILPIT and
// BENCH_MAILER_URL (mail: Mailpit's binary, the role mailer's URL), BENCH_TOXIPROXY
// (session --remote: toxiproxy's server binary), and BENCH_PORTS, the free
// loopback ports it asked for in its plan (scripts/lib/ports.sh's free_ports:
// the one port helper).
//
// The files: main.go (this, and the settings), plan.go (what each benchmark
// needs), session.go, feed.go, series.go and mail.go (one benchmark each),
// contender.go (what a benchmark measures: pgbench or wrk against a
// contender, with its CPU), tools.go (running pgbench, wrk and psql, and
// reading their output), server.go (the HTTP servers it starts), toxiproxy.go
// (the proxies of session --remote) and stats.go (percentiles and ratios).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// usageError is a wrong command line: scripts/bench prints its help then.
type usageError string

func (e usageError) Error() string { return string(e) }

func main() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	var got os.Signal
	go func() {
		got = <-sigs
		stop()
	}()
	err := run(ctx, os.Args[1:])
	switch {
	case got == syscall.SIGINT:
		os.Exit(130)
	case got == syscall.SIGTERM:
		os.Exit(143)
	case errors.As(err, new(usageError)):
		fmt.Fprintf(os.Stderr, "\033[31merror:\033[0m %v\n", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "\033[31merror:\033[0m %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("name a benchmark")
	}
	planOnly := args[0] == "plan"
	if planOnly {
		args = args[1:]
		if len(args) == 0 {
			return usageError("name a benchmark")
		}
	}
	var b benchmark
	var err error
	switch args[0] {
	case "session":
		b, err = sessionSettings(args[1:])
	case "feed":
		b, err = noArgs(args, feedSettings)
	case "series":
		b, err = noArgs(args, seriesSettings)
	case "mail":
		b, err = noArgs(args, mailSettings)
	default:
		return usageError("unknown benchmark: " + args[0])
	}
	if err != nil {
		return err
	}
	if planOnly {
		fmt.Print(b.plan())
		return nil
	}
	h, err := handover(len(b.plan().Ports))
	if err != nil {
		return err
	}
	if err := os.RemoveAll(h.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return err
	}
	return b.run(ctx, h)
}

// A benchmark: its settings, read and checked before anything runs.
type benchmark interface {
	// plan says what scripts/bench must prepare for it.
	plan() plan
	// run measures and prints the report.
	run(ctx context.Context, h *env) error
}

func noArgs(args []string, settings func() (benchmark, error)) (benchmark, error) {
	if len(args) > 1 {
		return nil, usageError(fmt.Sprintf("scripts/bench %s takes no argument (got %s)", args[0], args[1]))
	}
	return settings()
}

// env is what scripts/bench hands over, and the paths under the repository
// (the working directory).
type env struct {
	dir       string // .local/bench: the temporary files
	bin       string // .local/bin: the gateway, the floor and the mail sender
	scripts   string // scripts/bench.d: pgbench scripts, wrk's Lua, the SQL
	admin     string // BENCH_ADMIN_URL, and so on: DB_NAME's URLs
	owner     string
	gateway   string
	pgbouncer string
	mailpit   string // BENCH_MAILPIT: Mailpit's binary
	mailer    string // BENCH_MAILER_URL: the role mailer's URL, with its password
	toxiproxy string // BENCH_TOXIPROXY: toxiproxy's server binary
	ports     []int
}

func handover(nports int) (*env, error) {
	root, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	h := &env{
		dir:       filepath.Join(root, ".local", "bench"),
		bin:       filepath.Join(root, ".local", "bin"),
		scripts:   filepath.Join(root, "scripts", "bench.d"),
		admin:     os.Getenv("BENCH_ADMIN_URL"),
		owner:     os.Getenv("BENCH_OWNER_URL"),
		gateway:   os.Getenv("BENCH_GATEWAY_URL"),
		pgbouncer: os.Getenv("BENCH_PGBOUNCER_URL"),
		mailpit:   os.Getenv("BENCH_MAILPIT"),
		mailer:    os.Getenv("BENCH_MAILER_URL"),
		toxiproxy: os.Getenv("BENCH_TOXIPROXY"),
	}
	if h.admin == "" || h.owner == "" || h.gateway == "" {
		return nil, errors.New("BENCH_ADMIN_URL, BENCH_OWNER_URL and BENCH_GATEWAY_URL are not set: run scripts/bench, not this program")
	}
	if _, err := os.Stat(filepath.Join(h.scripts, "session.pgbench")); err != nil {
		return nil, fmt.Errorf("run from the repository's root: %w", err)
	}
	for _, f := range strings.Fields(os.Getenv("BENCH_PORTS")) {
		p, err := strconv.Atoi(f)
		if err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("BENCH_PORTS: not a port: %q", f)
		}
		h.ports = append(h.ports, p)
	}
	if len(h.ports) != nports {
		return nil, fmt.Errorf("BENCH_PORTS: want %d ports, got %q", nports, os.Getenv("BENCH_PORTS"))
	}
	return h, nil
}

// intEnv reads a whole number of at least min from the environment, def when unset or empty.
func intEnv(name string, def, min int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		v = strconv.Itoa(def)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || strings.Trim(v, "0123456789") != "" {
		return 0, fmt.Errorf("%s must be an integer >= %d (got '%s')", name, min, v)
	}
	return n, nil
}

// intEnvs reads several settings; the first error wins.
type intSpec struct {
	dst      *int
	name     string
	def, min int
}

func readInts(specs ...intSpec) error {
	for _, s := range specs {
		n, err := intEnv(s.name, s.def, s.min)
		if err != nil {
			return err
		}
		*s.dst = n
	}
	return nil
}

// dbName is DB_NAME (scripts/bench sets its default, homebase_bench), which
// must say "bench": the benchmark drops it.
func dbName() (string, error) {
	db := os.Getenv("DB_NAME")
	if db == "" {
		db = "homebase_bench"
	}
	if !strings.Contains(db, "bench") {
		return "", fmt.Errorf(`DB_NAME=%s: the benchmark drops its database; use a name containing "bench"`, db)
	}
	return db, nil
}

// localCluster is scripts/lib.sh's using_local_cluster: no ADMIN_DATABASE_URL.
func localCluster() bool { return os.Getenv("ADMIN_DATABASE_URL") == "" }

// say prints progress on standard error, as scripts/lib.sh's say does.
func say(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "\033[36m==\033[0m %s\n", fmt.Sprintf(format, a...))
}

// threads: 2, or 1 for a single client (wrk and pgbench need at least one
// connection per thread).
func threads(clients int) int { return min(clients, 2) }

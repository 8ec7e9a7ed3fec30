package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// plan is what scripts/bench prepares before the program measures, printed
// by "bench plan" as key=value lines.
type plan struct {
	Databases []string // dropped, recreated and migrated (DB_NAME first)
	Build     []string // gateway, floor: built into .local/bin
	Packages  []string // Debian packages beyond PostgreSQL's client (wrk)
	PgBouncer bool     // PgBouncer started for DB_NAME (BENCH_PGBOUNCER_URL)
	// Mailpit: installed (scripts/lib/mail.sh's ensure_mailpit) and named
	// in BENCH_MAILPIT, with the role mailer's URL in BENCH_MAILER_URL.
	Mailpit bool
	// Toxiproxy: installed (scripts/lib/toxiproxy.sh's ensure_toxiproxy)
	// and named in BENCH_TOXIPROXY; the program starts it.
	Toxiproxy bool
	Ports     []string // what each free port is for, in BENCH_PORTS' order
	// Connections is the most the benchmark opens as the gateway role at
	// once (pgbench's clients and the contenders' pools): scripts/bench
	// raises the role's CONNECTION LIMIT of a local cluster to it when the
	// default is smaller.
	Connections int
}

func (p plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "databases=%s\n", strings.Join(p.Databases, " "))
	fmt.Fprintf(&b, "build=%s\n", strings.Join(p.Build, " "))
	fmt.Fprintf(&b, "packages=%s\n", strings.Join(p.Packages, " "))
	fmt.Fprintf(&b, "pgbouncer=%d\n", map[bool]int{false: 0, true: 1}[p.PgBouncer])
	fmt.Fprintf(&b, "mailpit=%d\n", map[bool]int{false: 0, true: 1}[p.Mailpit])
	fmt.Fprintf(&b, "toxiproxy=%d\n", map[bool]int{false: 0, true: 1}[p.Toxiproxy])
	fmt.Fprintf(&b, "ports=%d\n", len(p.Ports))
	fmt.Fprintf(&b, "connections=%d\n", p.Connections)
	return b.String()
}

// port is the free port planned for what.
func (p plan) port(h *env, what string) int {
	for i, w := range p.Ports {
		if w == what {
			return h.ports[i]
		}
	}
	panic("no port planned for " + what)
}

// poolSize is the gateway's (and the floor's) pool: DB_POOL_SIZE, else 2
// per CPU, at least 4 (gateway/config.go). The contenders inherit DB_POOL_SIZE.
func poolSize() int {
	if n, err := strconv.Atoi(os.Getenv("DB_POOL_SIZE")); err == nil && n > 0 {
		return n
	}
	return max(4, 2*runtime.NumCPU())
}

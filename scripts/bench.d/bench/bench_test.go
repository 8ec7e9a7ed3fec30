package main

// The program's arithmetic and parsing, without a database: what a change
// of pgbench's or wrk's output, or of a formula, would break silently.
// scripts/test's e2e step runs these with the rest of go test ./...

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestPercentileIsTheNearestRank(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[99-i] = float64(i + 1) // unsorted on purpose: 100, 99, … 1
	}
	for _, c := range []struct {
		values []float64
		p      float64
		want   float64
	}{
		{hundred, 0.50, 50},
		{hundred, 0.99, 99},
		{hundred, 1, 100},
		{[]float64{7}, 0.99, 7},
		{[]float64{1, 2, 3}, 0.50, 2},      // rank ceil(1.5) = 2
		{[]float64{1, 2, 3, 4}, 0.50, 2},   // rank 2, not an interpolated 2.5
		{[]float64{3, 1, 2, 10}, 0.99, 10}, // rank ceil(3.96) = 4
	} {
		if got := percentile(c.values, c.p); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.values, c.p, got, c.want)
		}
	}
	if got := percentile(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("percentile of nothing = %v, want NaN", got)
	}
}

func TestRatioLinesKeepTheirFormat(t *testing.T) {
	if got, want := ratioLine("gateway/floor", ratio(5255.5, 5581.2)), "ratio gateway/floor = 0.94"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// A contender that measured nothing gives 0, not Inf or NaN.
	if got, want := ratioLine("1M/10k", ratio(3, 0)), "ratio 1M/10k = 0.00"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTotalsGiveThroughputAndCPUPerRequest(t *testing.T) {
	var tot totals
	tot.add(phase{requests: 3000, seconds: 1.5, cpuTicks: 30})
	tot.add(phase{requests: 2000, seconds: 0.5, cpuTicks: 20})
	if got := tot.rps(); got != 2500 {
		t.Errorf("rps = %v, want 2500 (5000 requests in 2 s)", got)
	}
	// 50 ticks of 10 ms = 0.5 s of CPU over 5000 requests: 100 µs each.
	if got := tot.cpuPerRequest(); math.Abs(got-100) > 1e-9 {
		t.Errorf("cpuPerRequest = %v µs, want 100", got)
	}
	if got := (totals{}).cpuPerRequest(); got != 0 {
		t.Errorf("cpuPerRequest of nothing = %v, want 0", got)
	}
}

const pgbenchOut = `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: scripts/bench.d/session.pgbench
query mode: prepared
number of clients: 16
number of threads: 2
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 12728
number of failed transactions: 0 (0.000%)
latency average = 2.167 ms
initial connection time = 301.725 ms
tps = 7384.141269 (without initial connection time)
`

func TestParsePgbench(t *testing.T) {
	o, err := parsePgbench(pgbenchOut)
	if err != nil {
		t.Fatal(err)
	}
	if o.tps != 7384.141269 || o.processed != 12728 || o.failed != 0 {
		t.Errorf("got %+v", o)
	}
	failed := strings.Replace(pgbenchOut, "failed transactions: 0 (0.000%)", "failed transactions: 3 (0.020%)", 1)
	if _, err := parsePgbench(failed); err == nil || !strings.Contains(err.Error(), "3 failed transactions") {
		t.Errorf("failed transactions: err = %v", err)
	}
	if _, err := parsePgbench("pgbench: error: connection to server failed"); err == nil {
		t.Error("no tps: no error")
	}
}

func TestPgbenchLatenciesReadEveryThreadsLog(t *testing.T) {
	dir := t.TempDir()
	// client, transaction, latency (µs), script, epoch, µs; one file per thread.
	write(t, filepath.Join(dir, "tx.31891"), "4 1 82429 0 1796227797 277730\n0 2 5913 0 1796227797 292885\n")
	write(t, filepath.Join(dir, "tx.31891.1"), "8 1 1500 0 1796227797 313954\n9 1 skipped 0 1796227797 313980\n")
	ms, err := pgbenchLatencies(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ms), 3; got != want {
		t.Fatalf("%d latencies (%v), want %d: a skipped transaction has none", got, ms, want)
	}
	if got := percentile(ms, 0.5); got != 5.913 {
		t.Errorf("p50 = %v ms, want 5.913", got)
	}
	if _, err := pgbenchLatencies(t.TempDir()); err == nil {
		t.Error("no log: no error")
	}
}

const wrkOut = `Running 2s test @ http://127.0.0.1:31889/api/v1/session
  2 threads and 16 connections
  10976 requests in 2.09s, 5.83MB read
Requests/sec:   5255.51
BENCH requests=10976 duration_us=2088474 p50_us=2841 p99_us=8085 non2xx3xx=0 connect=0 read=0 write=0 timeout=0
`

func TestParseWrk(t *testing.T) {
	o, err := parseWrk(wrkOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.check("gateway"); err != nil {
		t.Fatal(err)
	}
	p := o.phase()
	if p.requests != 10976 || p.p50 != 2.841 || p.p99 != 8.085 || math.Abs(p.seconds-2.088474) > 1e-12 {
		t.Errorf("phase = %+v", p)
	}
	if got := math.Round(p.rps*10) / 10; got != 5255.5 {
		t.Errorf("rps = %v, want 5255.5", got)
	}

	bad := map[string]string{
		"non-2xx responses":     strings.Replace(wrkOut, "Requests/sec", "  Non-2xx or 3xx responses: 12\nRequests/sec", 1),
		"socket errors":         strings.Replace(wrkOut, "read=0", "read=2", 1),
		"no requests completed": strings.Replace(wrkOut, "requests=10976", "requests=0", 1),
	}
	for want, text := range bad {
		o, err := parseWrk(text)
		if err == nil {
			err = o.check("gateway")
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", want, err)
		}
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused"); err == nil {
		t.Error("no BENCH line: no error")
	}
	if _, err := parseWrk("BENCH requests=1 duration_us=2\n"); err == nil {
		t.Error("a short BENCH line: no error")
	}
}

func TestURLs(t *testing.T) {
	owner := "postgres://postgres@localhost:56432/homebase_bench?host=/x/.local/pg/run&sslmode=disable&options=-c%20role%3Dapp_owner"
	got, err := withDB(owner, "homebase_bench_large")
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://postgres@localhost:56432/homebase_bench_large?host=/x/.local/pg/run&sslmode=disable&options=-c%20role%3Dapp_owner"; got != want {
		t.Errorf("withDB:\n got %s\nwant %s", got, want)
	}
	cli, pw, err := withoutPassword("postgres://gateway:s%40cret@127.0.0.1:56432/homebase_bench?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if cli != "postgres://gateway@127.0.0.1:56432/homebase_bench?sslmode=disable" || pw != "s@cret" {
		t.Errorf("withoutPassword = %s, %s", cli, pw)
	}
}

func TestSettingsAreCheckedAsBefore(t *testing.T) {
	t.Setenv("ADMIN_DATABASE_URL", "")
	t.Setenv("DB_NAME", "")
	t.Setenv("BENCH_CURVE", "") // set and empty: no curve
	t.Setenv("BENCH_CLIENTS", "4")
	b, err := sessionSettings([]string{"--profile"})
	if err != nil {
		t.Fatal(err)
	}
	s := b.(*session)
	if s.db != "homebase_bench" || len(s.curve) != 0 || !s.profile || !s.pgbouncer || s.sessions != 1000000 {
		t.Errorf("settings = %+v", s)
	}
	p := b.plan()
	if got, want := strings.Join(p.Ports, " "), "gateway floor pgbouncer pprof"; got != want {
		t.Errorf("ports %q, want %q", got, want)
	}
	if got, want := p.Connections, 4+3*poolSize(); got != want {
		t.Errorf("connections %d, want %d", got, want)
	}

	for _, c := range []struct{ name, value, want string }{
		{"BENCH_CLIENTS", "0", "BENCH_CLIENTS must be an integer >= 1 (got '0')"},
		{"BENCH_SECONDS", "+5", "BENCH_SECONDS must be an integer >= 1 (got '+5')"},
		{"BENCH_CURVE", "1 0", "BENCH_CURVE must list client counts >= 1 (got '1 0')"},
		{"BENCH_WORKING_SET", "2000000", "BENCH_WORKING_SET (2000000) exceeds BENCH_SESSIONS (1000000)"},
		{"BENCH_SESSIONS", "7919", "BENCH_SESSIONS must not be a multiple of 7919"},
		{"DB_NAME", "homebase", `DB_NAME=homebase: the benchmark drops its database; use a name containing "bench"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(c.name, c.value)
			if c.name == "BENCH_SESSIONS" {
				t.Setenv("BENCH_WORKING_SET", "10")
			}
			if _, err := sessionSettings(nil); err == nil || err.Error() != c.want {
				t.Errorf("err = %v, want %s", err, c.want)
			}
		})
	}
	if _, err := sessionSettings([]string{"--fast"}); !errors.As(err, new(usageError)) {
		t.Errorf("an unknown argument: err = %v, want a usage error", err)
	}

	t.Setenv("BENCH_SMALL", "1005")
	if _, err := feedSettings(); err == nil || !strings.Contains(err.Error(), "must be multiples of 10") {
		t.Errorf("feed: err = %v", err)
	}
	t.Setenv("BENCH_SMALL", "1000")
	t.Setenv("BENCH_TRACKER_LOGS", "1000")
	if _, err := seriesSettings(); err == nil || !strings.Contains(err.Error(), "BENCH_TRACKER_LOGS (1000) < BENCH_SMALL (1000)") {
		t.Errorf("series: err = %v", err)
	}
}

func TestPlansAreFiltered(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plans-large.txt")
	write(t, file, `LOG:  duration: 6.3 ms  plan:
Query Text: SELECT api.tracker_series(…)
Aggregate  (cost=297.10..297.11 rows=1 width=32) (actual time=6.206..6.211 rows=1 loops=1)
  Buffers: shared hit=14
    ->  HashAggregate  (cost=243.16..254.41 rows=500 width=144)
          ->  Index Scan using trackers_pkey on trackers t
          ->  Bitmap Heap Scan on logs l  (cost=18.66..236.91 rows=500 width=12)
`)
	got := planLines(file, regexp.MustCompile(`(Index|Seq|Bitmap Heap|Bitmap Index) Scan|HashAggregate|Heap Blocks`),
		regexp.MustCompile(`account_sessions|settings|trackers`), 12)
	if len(got) != 2 || !strings.Contains(got[0], "HashAggregate") || !strings.Contains(got[1], "Bitmap Heap Scan") {
		t.Errorf("planLines = %q", got)
	}
	if got := aggregateBuffers(file); got != "14" {
		t.Errorf("aggregateBuffers = %q, want 14", got)
	}
}

// A server's CPU time comes from /proc/PID/stat, and stop ends it
// (SIGTERM). The server is this test binary itself, as burnCPU.
func TestServerCPUAndStop(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/PID/stat is Linux's")
	}
	log := filepath.Join(t.TempDir(), "burner.log")
	s, err := startServer("burner", os.Args[0], 1, log, "BENCH_TEST_BURN=1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop(time.Second)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(log); strings.Contains(string(b), "burnt") {
			break
		}
		if s.exited() || time.Now().After(deadline) {
			t.Fatalf("the burner did not burn: %s", s.logTail())
		}
	}
	ticks, err := s.cpuTicks()
	if err != nil || ticks < 1 {
		t.Fatalf("cpuTicks = %d, %v; want at least one tick (10 ms) after %d rounds of work", ticks, err, burnRounds)
	}
	s.stop(5 * time.Second)
	if !s.exited() {
		t.Error("still running after stop")
	}
	if _, err := s.cpuTicks(); err == nil {
		t.Error("cpuTicks of an exited process: no error")
	}
	s.stop(time.Second) // again: nothing happens
}

// burnRounds of work take well over 10 ms of CPU on any machine.
const burnRounds = 1 << 26

// TestMain turns this binary into the burner of TestServerCPUAndStop when
// BENCH_TEST_BURN is set: some work, "burnt" on its output, then a wait for
// SIGTERM (which ends it).
func TestMain(m *testing.M) {
	if os.Getenv("BENCH_TEST_BURN") == "" {
		os.Exit(m.Run())
	}
	x := uint64(1)
	for i := 0; i < burnRounds; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	fmt.Println("burnt", x%2)
	time.Sleep(time.Minute)
}

func write(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMailPlan: scripts/bench mail asks for the sender's build, Mailpit and
// three ports (SMTP, Mailpit's API, the sender's health), in that order.
func TestMailPlan(t *testing.T) {
	t.Setenv("DB_NAME", "")
	t.Setenv("BENCH_MAIL_SIGNUPS", "")
	t.Setenv("BENCH_MAIL_BURST", "")
	b, err := mailSettings()
	if err != nil {
		t.Fatal(err)
	}
	want := "databases=homebase_bench\nbuild=mailer\npackages=\npgbouncer=0\nmailpit=1\ntoxiproxy=0\nports=3\nconnections=1\n"
	if got := b.plan().String(); got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
	if m := b.(*mail); m.signups != 200 || m.burst != 1000 {
		t.Errorf("settings = %+v", m)
	}
	t.Setenv("BENCH_MAIL_BURST", "0")
	if _, err := mailSettings(); err == nil || err.Error() != "BENCH_MAIL_BURST must be an integer >= 1 (got '0')" {
		t.Errorf("err = %v", err)
	}
}

// scripts/bench session --remote [MS] (or BENCH_DB_DELAY_MS): a delay of 1
// ms by default, toxiproxy in the plan with a port for its API and one proxy
// per contender, the second floor's port and its 32 connections, and no (d).
func TestRemoteSettingsAndPlan(t *testing.T) {
	t.Setenv("ADMIN_DATABASE_URL", "")
	t.Setenv("DB_NAME", "")
	t.Setenv("BENCH_CURVE", "1 16 64")
	t.Setenv("BENCH_CLIENTS", "")
	t.Setenv("BENCH_PGBOUNCER", "")
	t.Setenv("BENCH_DB_DELAY_MS", "")
	loopback, err := sessionSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := loopback.(*session); s.remote || !s.pgbouncer || loopback.plan().Toxiproxy {
		t.Errorf("without --remote: remote %v, pgbouncer %v, toxiproxy %v; want a loopback run", s.remote, s.pgbouncer, loopback.plan().Toxiproxy)
	}
	for _, c := range []struct {
		args  []string
		env   string
		delay int
	}{
		{[]string{"--remote"}, "", 1},
		{[]string{"--remote", "3"}, "", 3},
		{[]string{"--remote", "0"}, "", 0},
		{[]string{"--remote", "--profile"}, "", 1},
		{nil, "2", 2},
		{nil, "0", 0},
		{[]string{"--remote"}, "5", 5},
		{[]string{"--remote", "4"}, "5", 4},
	} {
		t.Setenv("BENCH_DB_DELAY_MS", c.env)
		b, err := sessionSettings(c.args)
		if err != nil {
			t.Errorf("%q, BENCH_DB_DELAY_MS=%q: %v", c.args, c.env, err)
			continue
		}
		s := b.(*session)
		if !s.remote || s.delayMS != c.delay || s.pgbouncer {
			t.Errorf("%q, BENCH_DB_DELAY_MS=%q: remote %v, delay %d, pgbouncer %v; want remote, %d ms, no PgBouncer",
				c.args, c.env, s.remote, s.delayMS, s.pgbouncer, c.delay)
		}
	}
	t.Setenv("BENCH_DB_DELAY_MS", "")
	b, err := sessionSettings([]string{"--remote"})
	if err != nil {
		t.Fatal(err)
	}
	p := b.plan()
	if got, want := strings.Join(p.Ports, " "), "gateway floor floor-32 toxiproxy proxy-gateway proxy-floor proxy-floor-32"; got != want {
		t.Errorf("ports %q, want %q", got, want)
	}
	if got, want := p.Connections, 64+2*poolSize()+32; got != want {
		t.Errorf("connections %d, want %d (64 clients, two pools of the default size and one of 32)", got, want)
	}
	if !strings.Contains(p.String(), "toxiproxy=1\n") || !strings.Contains(p.String(), "pgbouncer=0\n") {
		t.Errorf("plan:\n%s", p)
	}

	for _, c := range []struct {
		args []string
		env  string
	}{{[]string{"--remote", "x"}, ""}, {[]string{"--remote", "1.5"}, ""}, {[]string{"--remote", "1", "2"}, ""}} {
		t.Setenv("BENCH_DB_DELAY_MS", c.env)
		if _, err := sessionSettings(c.args); !errors.As(err, new(usageError)) {
			t.Errorf("%q: err = %v, want a usage error", c.args, err)
		}
	}
	t.Setenv("BENCH_DB_DELAY_MS", "-1")
	if _, err := sessionSettings(nil); err == nil || err.Error() != "BENCH_DB_DELAY_MS must be an integer >= 0 (got '-1')" {
		t.Errorf("BENCH_DB_DELAY_MS=-1: err = %v", err)
	}
	t.Setenv("BENCH_DB_DELAY_MS", "")
	t.Setenv("ADMIN_DATABASE_URL", "postgres://admin@db.example/postgres")
	if _, err := sessionSettings([]string{"--remote"}); err == nil || !strings.Contains(err.Error(), "local cluster only") {
		t.Errorf("--remote with ADMIN_DATABASE_URL: err = %v", err)
	}
}

func TestRemoteRatioLines(t *testing.T) {
	got := ratioLine(remoteRatioName("gateway/floor", 1, 64), ratio(6036, 1583))
	if want := "ratio gateway/floor (remote 1 ms, 64 clients) = 3.81"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = ratioLine(remoteRatioName("gateway/floor-32", 2, 16), ratio(6036, 3480))
	if want := "ratio gateway/floor-32 (remote 2 ms, 16 clients) = 1.73"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A contender's URL through its proxy: the same URL (user, password,
// database, parameters) with the proxy's address, and the address it
// replaced as the proxy's upstream.
func TestThroughProxy(t *testing.T) {
	up, got, err := throughProxy("postgres://gateway:s%40cret@127.0.0.1:56432/homebase_bench?sslmode=disable", 10123)
	if err != nil {
		t.Fatal(err)
	}
	if up != "127.0.0.1:56432" || got != "postgres://gateway:s%40cret@127.0.0.1:10123/homebase_bench?sslmode=disable" {
		t.Errorf("throughProxy = %s, %s", up, got)
	}
	if up, got, err = throughProxy("postgresql://gateway@db.example/homebase", 10124); err != nil ||
		up != "db.example:5432" || got != "postgresql://gateway@127.0.0.1:10124/homebase" {
		t.Errorf("default port: %s, %s, %v", up, got, err)
	}
	for _, bad := range []string{"postgres://postgres@localhost:56432/db?host=/x/run", "mysql://x@h/db", "postgres:///db"} {
		if _, _, err := throughProxy(bad, 1); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/jackc/pgx/v5"
)

// The working set: member k (1..ws) is session number (k * stride) %
// sessions + 1, whose token is bench-token-<n>. stride is a prime, so
// members are distinct sessions scattered over the whole table (and, with
// the default sizes, over 10,000 distinct accounts) rather than a hot run of
// neighbouring rows.
const stride = 7919

// session: the session check (GET /api/v1/session), four contenders in
// alternating rounds, then a curve over concurrencies, and a CPU profile.
type session struct {
	db                                                       string
	clients, seconds, rounds, warmup, accounts, sessions, ws int
	curve                                                    []int
	curveSeconds                                             int
	curveRounds                                              int
	profile                                                  bool
	profileSeconds                                           int
	pgbouncer                                                bool
	pgbMode                                                  string
	// remote: toxiproxy between each contender and PostgreSQL, delayMS
	// milliseconds on each answer (--remote [MS], BENCH_DB_DELAY_MS).
	remote  bool
	delayMS int
}

// floor32Pool is the pool of the second floor of a remote run: a floor given
// eight times the default pool's connections, to wait out the latency with
// more round trips in flight rather than with batching.
const floor32Pool = 32

func sessionSettings(args []string) (benchmark, error) {
	s := &session{pgbMode: os.Getenv("BENCH_PGBOUNCER_EXEC_MODE")}
	if s.pgbMode == "" {
		s.pgbMode = "exec"
	}
	var pgb, profile int
	if err := readInts(intSpec{&pgb, "BENCH_PGBOUNCER", 1, 0}, intSpec{&profile, "BENCH_PROFILE", 0, 0}); err != nil {
		return nil, err
	}
	s.profile = profile != 0
	if v := os.Getenv("BENCH_DB_DELAY_MS"); v != "" {
		if err := readInts(intSpec{&s.delayMS, "BENCH_DB_DELAY_MS", 1, 0}); err != nil {
			return nil, err
		}
		s.remote = true
	}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--profile":
			s.profile = true
		case "--remote":
			s.remote = true
			if s.delayMS == 0 && os.Getenv("BENCH_DB_DELAY_MS") == "" {
				s.delayMS = 1
			}
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				n, err := strconv.Atoi(args[i])
				if err != nil || n < 0 || strings.Trim(args[i], "0123456789") != "" {
					return nil, usageError("scripts/bench session --remote MS: MS must be a whole number of milliseconds >= 0 (got " + args[i] + ")")
				}
				s.delayMS = n
			}
		default:
			return nil, usageError("scripts/bench session: unknown argument " + args[i])
		}
	}
	if s.remote && !localCluster() {
		return nil, fmt.Errorf("scripts/bench session --remote: on the local cluster only (the proxies take the place of its address)")
	}
	// (d) through PgBouncer is a loopback contender: not in a remote run.
	s.pgbouncer = pgb != 0 && localCluster() && !s.remote
	if err := readInts(intSpec{&s.profileSeconds, "BENCH_PROFILE_SECONDS", 10, 1}); err != nil {
		return nil, err
	}
	curve, set := os.LookupEnv("BENCH_CURVE") // set and empty: no curve
	if !set {
		curve = "1 16 64"
	}
	for _, f := range strings.Fields(curve) {
		c, err := strconv.Atoi(f)
		if err != nil || c < 1 || strings.Trim(f, "0123456789") != "" {
			return nil, fmt.Errorf("BENCH_CURVE must list client counts >= 1 (got '%s')", curve)
		}
		s.curve = append(s.curve, c)
	}
	if err := readInts(
		intSpec{&s.curveSeconds, "BENCH_CURVE_SECONDS", 3, 1},
		intSpec{&s.curveRounds, "BENCH_CURVE_ROUNDS", 3, 1},
		intSpec{&s.clients, "BENCH_CLIENTS", 16, 1},
		intSpec{&s.seconds, "BENCH_SECONDS", 5, 1},
		intSpec{&s.rounds, "BENCH_ROUNDS", 3, 1},
		intSpec{&s.warmup, "BENCH_WARMUP", 2, 0},
		intSpec{&s.accounts, "BENCH_ACCOUNTS", 100000, 1},
		intSpec{&s.sessions, "BENCH_SESSIONS", 1000000, 1},
		intSpec{&s.ws, "BENCH_WORKING_SET", 10000, 1},
	); err != nil {
		return nil, err
	}
	if s.ws > s.sessions {
		return nil, fmt.Errorf("BENCH_WORKING_SET (%d) exceeds BENCH_SESSIONS (%d)", s.ws, s.sessions)
	}
	if s.sessions%stride == 0 {
		return nil, fmt.Errorf("BENCH_SESSIONS must not be a multiple of %d", stride)
	}
	var err error
	s.db, err = dbName()
	return s, err
}

func (s *session) plan() plan {
	p := plan{Databases: []string{s.db}, Build: []string{"gateway", "floor"}, Packages: []string{"wrk"},
		PgBouncer: s.pgbouncer, Ports: []string{"gateway", "floor"}}
	servers := 2
	if s.pgbouncer {
		p.Ports = append(p.Ports, "pgbouncer")
		servers++
	}
	if s.profile {
		p.Ports = append(p.Ports, "pprof")
	}
	// pgbench's clients while every server's pool is open (PgBouncer's
	// server connections are at most the pool of the gateway behind it).
	p.Connections = max(s.clients, slices.Max(append([]int{0}, s.curve...))) + servers*poolSize()
	if s.remote {
		// toxiproxy's API, the second floor, and a proxy for each contender.
		p.Toxiproxy = true
		p.Ports = append(p.Ports, "floor-32", "toxiproxy", "proxy-gateway", "proxy-floor", "proxy-floor-32")
		p.Connections += floor32Pool
	}
	return p
}

// The working set's digests, $1 members, $2 the stride, $3 the sessions.
const workingSet = `SELECT auth.token_digest('bench-token-' || ((k * $2) % $3 + 1)) AS digest
                      FROM generate_series(1, $1) AS k`

// resetWorkingSet sets the working set's last_used to now(), right before
// each phase. The session check writes last_used only when it is more than
// a minute old, so with phases shorter than a minute each phase measures
// the steady state (read-only checks; in production a session is written at
// most once a minute), and every phase starts from the same state. Without
// this the first phase would pay one UPDATE + commit per session (last_used
// an hour old) and the next would not: an unfair comparison. The VACUUM
// after the UPDATE removes the old row versions so that no phase trips over
// dead tuples. Answers the timestamp written, for writesSince.
func (s *session) resetWorkingSet(ctx context.Context, owner *pgx.Conn) (time.Time, error) {
	var at time.Time
	var n int
	if _, err := owner.Exec(ctx, `UPDATE auth.account_sessions s SET last_used = now()
	                               WHERE s.token_digest IN (`+workingSet+`)`, s.ws, stride, s.sessions); err != nil {
		return at, err
	}
	if _, err := owner.Exec(ctx, "VACUUM auth.account_sessions"); err != nil {
		return at, err
	}
	err := owner.QueryRow(ctx, `SELECT max(last_used), count(*) FROM auth.account_sessions
	                             WHERE token_digest IN (`+workingSet+`)`, s.ws, stride, s.sessions).Scan(&at, &n)
	if err == nil && n != s.ws {
		err = fmt.Errorf("working set: %d of %d sessions found", n, s.ws)
	}
	return at, err
}

// writesSince counts the working set's sessions written after at: 0
// expected while BENCH_SECONDS + BENCH_WARMUP < 60.
func (s *session) writesSince(ctx context.Context, owner *pgx.Conn, at time.Time) (int64, error) {
	var n int64
	err := owner.QueryRow(ctx, `SELECT count(*) FROM auth.account_sessions
	                             WHERE token_digest IN (`+workingSet+`) AND last_used > $4`,
		s.ws, stride, s.sessions, at).Scan(&n)
	return n, err
}

func (s *session) run(ctx context.Context, h *env) error {
	gwCLI, pw, err := withoutPassword(h.gateway)
	if err != nil {
		return err
	}
	os.Setenv("PGPASSWORD", pw)

	say("loading %d accounts and %d sessions", s.accounts, s.sessions)
	t0 := time.Now()
	if _, err := psql(ctx, h.owner, "", append(psqlVars("accounts", s.accounts, "sessions", s.sessions),
		"-f", filepath.Join(h.scripts, "session-load.sql"))...); err != nil {
		return err
	}
	loadS := time.Since(t0).Seconds()
	say("loaded in %.1fs; vacuuming (freeze, analyze)", loadS)
	owner, err := pgx.Connect(ctx, h.owner)
	if err != nil {
		return err
	}
	defer owner.Close(context.Background())
	// Hint bits and the visibility map now, not during the first phase.
	if _, err := owner.Exec(ctx, "VACUUM (FREEZE, ANALYZE) auth.accounts, auth.account_sessions"); err != nil {
		return err
	}
	sample := stride%s.sessions + 1 // working-set member k = 1
	if err := s.checkWorkingSet(ctx, h.gateway, sample); err != nil {
		return err
	}

	// --- the contenders ----------------------------------------------------
	// The gateway runs as deployed: its pool has its default size (2
	// connections per CPU, at least 4), not one connection per client.
	// Sixteen backends on two cores spend their time preempting each other;
	// measured here, a pool of 4 served 16 clients ~18% faster than a pool of
	// 16, with a p99 of 4 ms instead of 13-25 ms. The floor's pool has the
	// same default size. All stay up, idle, while the others run.
	p := s.plan()
	// A remote run: each contender reaches PostgreSQL through a proxy of its
	// own, which holds each answer back delayMS milliseconds.
	urls := map[string]string{"direct": gwCLI, "gateway": h.gateway, "floor": h.gateway}
	if s.remote {
		// (a) stays out of a remote run: pgbench opens its connections
		// (64 SCRAM log-ins across the link) inside its phase, which that
		// alone can fill; (e) comes in.
		delete(urls, "direct")
		urls["floor-32"] = h.gateway
		// Stopped after the contenders (deferred before them); not an HTTP contender itself.
		var proxy servers
		defer proxy.stopAll(10 * time.Second)
		if urls, err = s.startProxies(ctx, h, p, &proxy, urls); err != nil {
			return err
		}
	}
	var ss servers
	defer ss.stopAll(10 * time.Second)
	gwEnv := []string{"DATABASE_URL=" + urls["gateway"], "LOG_LEVEL=warn", "COOKIE_SECURE=false", "SHUTDOWN_TIMEOUT=5s", "MAINTENANCE_INTERVAL=0"}
	pprofAddr, pprofNote := "", ""
	if s.profile {
		pprofAddr = fmt.Sprintf("127.0.0.1:%d", p.port(h, "pprof"))
		pprofNote = ", PPROF_ADDR=" + pprofAddr
		gwEnv = append(gwEnv, "PPROF_ADDR="+pprofAddr)
	}
	say("starting the gateway on 127.0.0.1:%d (default pool size, LOG_LEVEL=warn%s)", p.port(h, "gateway"), pprofNote)
	gateway, err := startServer("gateway", filepath.Join(h.bin, "gateway"), p.port(h, "gateway"),
		filepath.Join(h.dir, "gateway.log"), gwEnv...)
	if err != nil {
		return err
	}
	ss.add(gateway)
	say("starting the floor on 127.0.0.1:%d (the same pool size)", p.port(h, "floor"))
	floor, err := startServer("floor", filepath.Join(h.bin, "floor"), p.port(h, "floor"),
		filepath.Join(h.dir, "floor.log"), "DATABASE_URL="+urls["floor"])
	if err != nil {
		return err
	}
	ss.add(floor)
	var floor32 *server
	if s.remote {
		say("starting a second floor on 127.0.0.1:%d (DB_POOL_SIZE=%d)", p.port(h, "floor-32"), floor32Pool)
		if floor32, err = startServer("floor with 32 connections", filepath.Join(h.bin, "floor"), p.port(h, "floor-32"),
			filepath.Join(h.dir, "floor-32.log"), "DATABASE_URL="+urls["floor-32"], fmt.Sprint("DB_POOL_SIZE=", floor32Pool)); err != nil {
			return err
		}
		ss.add(floor32)
	}
	sessionWrk := func(srv *server) wrk {
		return wrk{h: h, server: srv, path: "/api/v1/session", script: "session.lua",
			args: []string{strconv.Itoa(s.ws), strconv.Itoa(s.sessions), strconv.Itoa(stride)}}
	}
	direct := &contender{name: "direct", label: "(a) direct: pgbench, api.current_session",
		load: pgbench{h: h, script: "session.pgbench", url: urls["direct"],
			vars: []string{fmt.Sprint("ws=", s.ws), fmt.Sprint("sessions=", s.sessions), fmt.Sprint("stride=", stride)}}}
	gw := &contender{name: "gateway", label: "(b) gateway: wrk, GET /api/v1/session", server: gateway, load: sessionWrk(gateway)}
	fl := &contender{name: "floor", label: "(c) floor: wrk, GET /api/v1/session", server: floor, load: sessionWrk(floor)}
	contenders := []*contender{direct, gw, fl}
	if s.remote {
		contenders = contenders[1:]
	}
	if floor32 != nil {
		contenders = append(contenders, &contender{name: "floor-32", label: fmt.Sprintf("(e) floor, %d connections: wrk", floor32Pool),
			server: floor32, load: sessionWrk(floor32)})
	}
	curveContenders := slices.Clone(contenders)
	// (d): the same gateway build and pool size, its DATABASE_URL PgBouncer's
	// (transaction pooling, started by scripts/bench), in the exec mode
	// PgBouncer 1.18 allows (no prepared statements across transactions),
	// so without batching (DB_PIPELINE, refused there) whatever (b) does.
	if s.pgbouncer {
		say("starting a gateway through PgBouncer on 127.0.0.1:%d (DB_EXEC_MODE=%s)", p.port(h, "pgbouncer"), s.pgbMode)
		pgbGateway, err := startServer("gateway through PgBouncer", filepath.Join(h.bin, "gateway"), p.port(h, "pgbouncer"),
			filepath.Join(h.dir, "gateway-pgbouncer.log"),
			"DATABASE_URL="+h.pgbouncer, "DB_EXEC_MODE="+s.pgbMode, "DB_PIPELINE=false", "LOG_LEVEL=warn", "COOKIE_SECURE=false",
			"SHUTDOWN_TIMEOUT=5s", "MAINTENANCE_INTERVAL=0")
		if err != nil {
			return err
		}
		ss.add(pgbGateway)
		contenders = append(contenders, &contender{name: "pgbouncer", label: "(d) via PgBouncer (" + s.pgbMode + "): wrk",
			server: pgbGateway, load: sessionWrk(pgbGateway)})
	}
	auth := map[string]string{"Authorization": fmt.Sprintf("Bearer bench-token-%d", sample), "User-Agent": "bench/1.0"}
	for _, srv := range ss {
		if err := srv.waitReady(ctx, "/api/v1/session", auth, `"account"`); err != nil {
			return err
		}
	}

	// One phase of a contender, after the working set's reset; adds the
	// last_used writes it caused to writes.
	var writes int64
	measure := func(c *contender, tag string, clients, seconds int) (phase, error) {
		at, err := s.resetWorkingSet(ctx, owner)
		if err != nil {
			return phase{}, err
		}
		ph, err := c.measure(ctx, c.name+"-"+tag, clients, seconds)
		if err != nil {
			return ph, err
		}
		n, err := s.writesSince(ctx, owner, at)
		writes += n
		return ph, err
	}

	if s.warmup > 0 {
		// Also opens the pools' connections (pgbench does not count its own).
		say("warming up %ds each", s.warmup)
		if !s.remote {
			if err := direct.load.(pgbench).warm(ctx, "direct-warmup", s.clients, s.warmup); err != nil {
				return err
			}
		}
		for _, c := range contenders {
			if c == direct {
				continue
			}
			if _, err := c.load.run(ctx, c.name+"-warmup", s.clients, s.warmup); err != nil {
				return err
			}
		}
	}

	// --- the rounds --------------------------------------------------------
	// The phases alternate, a b c d a b c d …, so that a slow spell of this
	// (shared, virtual) machine weighs on every contender rather than on
	// whichever phase it hit.
	var rows []string
	total := map[string]*totals{}
	for r := 1; r <= s.rounds; r++ {
		for _, c := range contenders {
			say("round %d/%d %s: %d clients, %d threads, %ds", r, s.rounds, c.label, s.clients, threads(s.clients), s.seconds)
			ph, err := measure(c, strconv.Itoa(r), s.clients, s.seconds)
			if err != nil {
				return err
			}
			rows = append(rows, fmt.Sprintf("%-50s %12.1f %10.2f %10.2f %10d", fmt.Sprintf("round %d %s", r, c.label),
				ph.rps, ph.p50, ph.p99, ph.requests))
			if total[c.name] == nil {
				total[c.name] = &totals{}
			}
			total[c.name].add(ph)
		}
	}

	// --- the curve -----------------------------------------------------------
	// (a)-(c) again at each concurrency of BENCH_CURVE, alternating within
	// each, BENCH_CURVE_ROUNDS times: what a change does at low load shows
	// here, not only at 16 clients. req/s over all its rounds; p50 and p99
	// the median of the rounds', since one phase's p99 on shared cores is
	// mostly the luck of its seconds.
	var curveRows []string
	curveRPS := map[int]map[string]float64{}
	for _, n := range s.curve {
		row := fmt.Sprintf("%7d", n)
		rps := map[string]float64{}
		sum := map[string]*totals{}
		p50s, p99s := map[string][]float64{}, map[string][]float64{}
		for r := 1; r <= s.curveRounds; r++ {
			for _, c := range curveContenders {
				say("curve: %s, %d client(s), round %d of %d, %ds", c.name, n, r, s.curveRounds, s.curveSeconds)
				ph, err := measure(c, fmt.Sprintf("curve-%d", n), n, s.curveSeconds)
				if err != nil {
					return err
				}
				if sum[c.name] == nil {
					sum[c.name] = &totals{}
				}
				sum[c.name].add(ph)
				p50s[c.name] = append(p50s[c.name], ph.p50)
				p99s[c.name] = append(p99s[c.name], ph.p99)
			}
		}
		for _, c := range curveContenders {
			rps[c.name] = sum[c.name].rps()
			row += fmt.Sprintf(" %10.1f %6.2f %6.2f", rps[c.name], percentile(p50s[c.name], 0.5), percentile(p99s[c.name], 0.5))
		}
		curveRPS[n] = rps
		if s.remote {
			row += fmt.Sprintf(" %8.2f %8.2f", ratio(rps["gateway"], rps["floor"]), ratio(rps["gateway"], rps["floor-32"]))
		} else {
			row += fmt.Sprintf(" %8.2f %8.2f", ratio(rps["gateway"], rps["direct"]), ratio(rps["gateway"], rps["floor"]))
		}
		curveRows = append(curveRows, row)
	}

	// --- the profile -----------------------------------------------------------
	profileFile := filepath.Join(h.dir, "gateway.cpu.pprof")
	profileTop := filepath.Join(h.dir, "gateway.cpu.top.txt")
	var profileRPS float64
	if s.profile {
		say("profile: %ds of the gateway's CPU under wrk (%d connections)", s.profileSeconds, s.clients)
		at, err := s.resetWorkingSet(ctx, owner)
		if err != nil {
			return err
		}
		ph, err := s.takeProfile(ctx, gw.load.(wrk), pprofAddr, profileFile)
		if err != nil {
			return err
		}
		profileRPS = ph.rps
		n, err := s.writesSince(ctx, owner, at)
		if err != nil {
			return err
		}
		writes += n
		if err := runTo(ctx, profileTop, "go", "tool", "pprof", "-top", "-nodecount=30",
			filepath.Join(h.bin, "gateway"), profileFile); err != nil {
			return err
		}
		// The same sorted by cumulative time: where the handler's time goes.
		_ = runTo(ctx, filepath.Join(h.dir, "gateway.cpu.cum.txt"), "go", "tool", "pprof", "-top", "-cum", "-nodecount=60",
			filepath.Join(h.bin, "gateway"), profileFile)
	}
	ss.stopAll(10 * time.Second)

	// --- report ----------------------------------------------------------------
	fmt.Printf("\nsession check: %d accounts, %d sessions (loaded in %.1fs), working set %d tokens\n",
		s.accounts, s.sessions, loadS, s.ws)
	fmt.Printf("concurrency %d, %d threads, %d rounds of %ds per phase, after %ds warm-up; last_used writes during the phases: %d\n",
		s.clients, threads(s.clients), s.rounds, s.seconds, s.warmup, writes)
	pipeline := os.Getenv("DB_PIPELINE")
	if pipeline == "" {
		pipeline = "unset (the gateway's default)"
	}
	fmt.Printf("the gateway's DB_PIPELINE: %s\n", pipeline)
	if s.remote {
		fmt.Printf("remote: each contender reaches PostgreSQL through a toxiproxy proxy of its own, %d ms added to each answer\n", s.delayMS)
	}
	fmt.Println()
	fmt.Printf("%-50s %12s %10s %10s %10s\n", "phase", "req/s", "p50 ms", "p99 ms", "requests")
	for _, r := range rows {
		fmt.Println(r)
	}
	for _, c := range contenders {
		fmt.Printf("%-50s %12.1f\n", "all rounds "+strings.SplitN(c.label, ":", 2)[0], total[c.name].rps())
	}
	// CPU per request of the HTTP contenders' own processes over all rounds.
	fmt.Printf("\nCPU per request of the process itself, all rounds (user + system; PostgreSQL and wrk not counted)\n")
	for _, c := range contenders {
		if c.server == nil {
			continue
		}
		fmt.Printf("%-50s %9.1f µs\n", strings.SplitN(c.label, ":", 2)[0], total[c.name].cpuPerRequest())
	}
	if len(s.curve) > 0 {
		fmt.Printf("\ncurve: %d rounds of %ds per phase and contender; req/s over the rounds, p50 and p99 in ms (the rounds' median); the last columns are req/s ratios\n",
			s.curveRounds, s.curveSeconds)
		head, sub := fmt.Sprintf("%7s", ""), fmt.Sprintf("%7s", "clients")
		for _, c := range curveContenders {
			head += fmt.Sprintf(" %24s", strings.SplitN(c.label, ":", 2)[0])
			sub += fmt.Sprintf(" %10s %6s %6s", "req/s", "p50", "p99")
		}
		head += fmt.Sprintf(" %8s %8s", "gateway/", "gateway/")
		if s.remote {
			sub += fmt.Sprintf(" %8s %8s", "floor", "floor-32")
		} else {
			sub += fmt.Sprintf(" %8s %8s", "direct", "floor")
		}
		fmt.Println(head)
		fmt.Println(sub)
		for _, r := range curveRows {
			fmt.Println(r)
		}
	}
	if s.profile {
		fmt.Printf("\nCPU profile of the gateway: %ds under wrk, %d connections (%.1f req/s while profiled): %s\n",
			s.profileSeconds, s.clients, profileRPS, profileFile)
		fmt.Printf("go tool pprof -top %s %s (also in %s; sorted by cumulative time in gateway.cpu.cum.txt):\n",
			filepath.Join(h.bin, "gateway"), profileFile, profileTop)
		top, _ := os.ReadFile(profileTop)
		fmt.Print(string(top))
	}
	fmt.Println()
	if !s.remote {
		fmt.Println(ratioLine("gateway/direct", ratio(total["gateway"].rps(), total["direct"].rps())))
	}
	if s.pgbouncer {
		fmt.Println(ratioLine("pgbouncer/direct-gateway", ratio(total["pgbouncer"].rps(), total["gateway"].rps())))
	}
	fmt.Println(ratioLine("floor/gateway CPU per request", ratio(total["floor"].cpuPerRequest(), total["gateway"].cpuPerRequest())))
	fmt.Println(ratioLine("gateway/floor", ratio(total["gateway"].rps(), total["floor"].rps())))
	if s.remote {
		// The last lines: at the curve's highest concurrency (the rounds'
		// without a curve), against each floor.
		n, rps := s.clients, map[string]float64{"gateway": total["gateway"].rps(), "floor": total["floor"].rps(),
			"floor-32": total["floor-32"].rps()}
		if len(s.curve) > 0 {
			n = slices.Max(s.curve)
			rps = curveRPS[n]
		}
		for _, f := range []string{"floor", "floor-32"} {
			fmt.Println(ratioLine(remoteRatioName("gateway/"+f, s.delayMS, n), ratio(rps["gateway"], rps[f])))
		}
	}
	return nil
}

// remoteRatioName names a remote run's ratio: "gateway/floor (remote 1 ms, 64 clients)".
func remoteRatioName(name string, ms, clients int) string {
	return fmt.Sprintf("%s (remote %d ms, %d clients)", name, ms, clients)
}

// startProxies starts toxiproxy and a proxy for each contender (a latency
// toxic of delayMS on its answers, none when 0), and answers the
// contenders' database URLs through them.
func (s *session) startProxies(ctx context.Context, h *env, p plan, ss *servers, urls map[string]string) (map[string]string, error) {
	if h.toxiproxy == "" {
		return nil, fmt.Errorf("BENCH_TOXIPROXY is not set: run scripts/bench session --remote")
	}
	api := p.port(h, "toxiproxy")
	say("starting toxiproxy (API on 127.0.0.1:%d): a proxy for each contender, %d ms on each answer", api, s.delayMS)
	srv, err := startCommand("toxiproxy", api, filepath.Join(h.dir, "toxiproxy.log"),
		exec.Command(h.toxiproxy, "-host", "127.0.0.1", "-port", strconv.Itoa(api)))
	if err != nil {
		return nil, err
	}
	ss.add(srv)
	if err := srv.waitReady(ctx, "/version", nil, ""); err != nil {
		return nil, err
	}
	tp := toxiclient.NewClient(srv.base)
	out := map[string]string{}
	for name, raw := range urls {
		upstream, proxied, err := throughProxy(raw, p.port(h, "proxy-"+name))
		if err != nil {
			return nil, fmt.Errorf("%s's database URL: %w", name, err)
		}
		proxy, err := tp.CreateProxy(name, fmt.Sprintf("127.0.0.1:%d", p.port(h, "proxy-"+name)), upstream)
		if err != nil {
			return nil, fmt.Errorf("toxiproxy: %w", err)
		}
		// Every chunk of the answers (downstream: PostgreSQL to the
		// client) is held back delayMS from when it arrived, without
		// jitter, so answers in flight together (a pipelined batch) are
		// not delayed one after the other: a database that far away.
		if s.delayMS > 0 {
			if _, err := proxy.AddToxic("latency", "latency", "downstream", 1,
				toxiclient.Attributes{"latency": s.delayMS, "jitter": 0}); err != nil {
				return nil, fmt.Errorf("toxiproxy: %w", err)
			}
		}
		out[name] = proxied
	}
	return out, nil
}

// checkWorkingSet: every token the phases can draw answers OK as the
// gateway role (a failure would still be a successful SQL call to pgbench).
func (s *session) checkWorkingSet(ctx context.Context, gatewayURL string, sample int) error {
	say("checking the working set as the gateway role")
	gw, err := pgx.Connect(ctx, gatewayURL)
	if err != nil {
		return err
	}
	defer gw.Close(context.Background())
	var answer string
	if err := gw.QueryRow(ctx, "SELECT api.current_session(ROW($1::text, 'bench/1.0', NULL, NULL, NULL, NULL))::text",
		fmt.Sprintf("bench-token-%d", sample)).Scan(&answer); err != nil {
		return err
	}
	if !strings.Contains(answer, `"account"`) {
		return fmt.Errorf("api.current_session(bench-token-%d) did not answer OK: %s", sample, answer)
	}
	var bad int
	if err := gw.QueryRow(ctx, `SELECT count(*) FROM generate_series(1, $1) AS k
	  WHERE api.current_session(ROW('bench-token-' || ((k * $2) % $3 + 1), 'bench/1.0', NULL, NULL, NULL, NULL))->'account' IS NULL`,
		s.ws, stride, s.sessions).Scan(&bad); err != nil {
		return err
	}
	if bad != 0 {
		return fmt.Errorf("%d working-set tokens do not answer OK", bad)
	}
	return nil
}

// takeProfile runs wrk against the gateway for BENCH_PROFILE_SECONDS + 2 s
// and, from its second second, fetches a CPU profile of that many seconds
// from the gateway's PPROF_ADDR into file.
func (s *session) takeProfile(ctx context.Context, w wrk, addr, file string) (phase, error) {
	out := filepath.Join(w.h.dir, "wrk-gateway-profile.out")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runTo(wctx, out, "wrk", w.command(s.clients, s.profileSeconds+2)...) }()
	fetch := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		client := &http.Client{Timeout: time.Duration(s.profileSeconds+30) * time.Second}
		resp, err := client.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, s.profileSeconds))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		f, err := os.Create(file)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.ReadFrom(resp.Body)
		return err
	}
	if err := fetch(); err != nil {
		cancel()
		<-done
		return phase{}, fmt.Errorf("could not fetch the CPU profile from %s: %w", addr, err)
	}
	if err := <-done; err != nil {
		return phase{}, fmt.Errorf("wrk failed during the profile: %w", err)
	}
	return w.read(out)
}

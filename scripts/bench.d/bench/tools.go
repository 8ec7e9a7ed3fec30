package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// runTo runs a command with its standard output and error in the file out;
// when it fails, the error carries that output.
func runTo(ctx context.Context, out string, name string, args ...string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		text, _ := os.ReadFile(out)
		return fmt.Errorf("%s failed (%v):\n%s", name, err, text)
	}
	return nil
}

// --- psql ---------------------------------------------------------------------

// psql runs psql on url (-X -q, ON_ERROR_STOP) with args and the SQL on its
// standard input (none when sql is ""), and answers its standard output.
func psql(ctx context.Context, url, sql string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "psql", append([]string{url, "-X", "-q", "-v", "ON_ERROR_STOP=1"}, args...)...)
	if sql != "" {
		cmd.Stdin = strings.NewReader(sql)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("psql failed (%v): %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// psqlLog runs psql as psql does, its standard output and error (the
// auto_explain plans, at client_min_messages = log) into the file out.
func psqlLog(ctx context.Context, out, url, sql string, args ...string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, "psql", append([]string{url, "-X", "-q", "-v", "ON_ERROR_STOP=1"}, args...)...)
	cmd.Stdin = strings.NewReader(sql)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		text, _ := os.ReadFile(out)
		return fmt.Errorf("EXPLAIN failed (%v):\n%s", err, text)
	}
	return nil
}

// psqlVars are psql's -v name=value arguments.
func psqlVars(kv ...any) []string {
	var args []string
	for i := 0; i+1 < len(kv); i += 2 {
		args = append(args, "-v", fmt.Sprintf("%v=%v", kv[i], kv[i+1]))
	}
	return args
}

// withDB is url with another database (its path).
func withDB(raw, db string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("not a postgres:// URL")
	}
	u.Path = "/" + db
	u.RawPath = ""
	return u.String(), nil
}

// withoutPassword splits a URL into the URL without its password, for
// psql's and pgbench's command lines (which ps shows), and the password,
// which they get through PGPASSWORD.
func withoutPassword(raw string) (string, string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return "", "", fmt.Errorf("not a postgres:// URL with a user")
	}
	pw, _ := u.User.Password()
	u.User = url.User(u.User.Username())
	return u.String(), pw, nil
}

// --- pgbench ------------------------------------------------------------------

// pgbenchOutput is what pgbench's summary says.
type pgbenchOutput struct {
	tps       float64 // without initial connection time
	processed int64
	failed    int64
}

var (
	pgbenchTPS       = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	pgbenchProcessed = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
	pgbenchFailed    = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

func parsePgbench(text string) (pgbenchOutput, error) {
	var o pgbenchOutput
	m, n := pgbenchTPS.FindStringSubmatch(text), pgbenchProcessed.FindStringSubmatch(text)
	if m == nil || n == nil {
		return o, fmt.Errorf("no tps in pgbench's output:\n%s", text)
	}
	o.tps, _ = strconv.ParseFloat(m[1], 64)
	o.processed, _ = strconv.ParseInt(n[1], 10, 64)
	if f := pgbenchFailed.FindStringSubmatch(text); f != nil {
		o.failed, _ = strconv.ParseInt(f[1], 10, 64)
	}
	if o.failed != 0 {
		return o, fmt.Errorf("pgbench: %d failed transactions:\n%s", o.failed, text)
	}
	return o, nil
}

// pgbenchLatencies reads pgbench's per-transaction logs (-l) in dir
// (client, transaction, latency in µs, …): the latencies in ms. Lines
// whose latency is not a number (skipped transactions) are left out.
func pgbenchLatencies(dir string) ([]float64, error) {
	files, err := filepath.Glob(filepath.Join(dir, "tx.*"))
	if err != nil {
		return nil, err
	}
	var ms []float64
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 || strings.Trim(fields[2], "0123456789") != "" {
				continue
			}
			us, err := strconv.ParseInt(fields[2], 10, 64)
			if err == nil {
				ms = append(ms, float64(us)/1000)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no pgbench transaction log in %s", dir)
	}
	return ms, nil
}

// --- wrk ------------------------------------------------------------------------

// wrkOutput is the BENCH line the Lua scripts' done() print, and wrk's own
// count of non-2xx responses.
type wrkOutput struct {
	fields map[string]int64 // requests, duration_us, p50_us, p99_us, non2xx3xx, connect, read, write, timeout
	non2xx int64            // "Non-2xx or 3xx responses: N", when wrk prints it
}

var wrkNon2xx = regexp.MustCompile(`(?m)^ *Non-2xx or 3xx responses: *([0-9]+)`)

func parseWrk(text string) (wrkOutput, error) {
	o := wrkOutput{fields: map[string]int64{}}
	var line string
	for l := range strings.Lines(text) {
		if strings.HasPrefix(l, "BENCH ") {
			line = strings.TrimSpace(l)
			break
		}
	}
	if line == "" {
		return o, fmt.Errorf("no summary line in wrk's output:\n%s", text)
	}
	for _, kv := range strings.Fields(strings.TrimPrefix(line, "BENCH ")) {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			return o, fmt.Errorf("wrk's summary line: %q is not name=integer", kv)
		}
		o.fields[k] = n
	}
	for _, k := range []string{"requests", "duration_us", "p50_us", "p99_us", "non2xx3xx", "connect", "read", "write", "timeout"} {
		if _, ok := o.fields[k]; !ok {
			return o, fmt.Errorf("wrk's summary line has no %s: %s", k, line)
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(text); m != nil {
		o.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return o, nil
}

// check fails on any non-2xx response, socket error, or no request at all.
func (o wrkOutput) check(name string) error {
	w := o.fields
	if o.non2xx != 0 || w["non2xx3xx"] != 0 {
		return fmt.Errorf("%s: %d non-2xx responses (Non-2xx or 3xx responses)", name, max(o.non2xx, w["non2xx3xx"]))
	}
	if w["connect"]+w["read"]+w["write"]+w["timeout"] != 0 {
		return fmt.Errorf("%s: socket errors (connect %d, read %d, write %d, timeout %d)",
			name, w["connect"], w["read"], w["write"], w["timeout"])
	}
	if w["requests"] == 0 {
		return fmt.Errorf("%s: no requests completed", name)
	}
	return nil
}

// phase is the measured part of wrk's run.
func (o wrkOutput) phase() phase {
	s := float64(o.fields["duration_us"]) / 1e6
	return phase{
		requests: o.fields["requests"],
		seconds:  s,
		rps:      ratio(float64(o.fields["requests"]), s),
		p50:      float64(o.fields["p50_us"]) / 1000,
		p99:      float64(o.fields["p99_us"]) / 1000,
	}
}

// planLines is the lines of a plans file that keep matches and drop does
// not, the first max of them.
func planLines(file string, keep, drop *regexp.Regexp, max int) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		return []string{err.Error()}
	}
	var lines []string
	for l := range strings.Lines(string(b)) {
		l = strings.TrimRight(l, "\n")
		if keep.MatchString(l) && !drop.MatchString(l) && len(lines) < max {
			lines = append(lines, l)
		}
	}
	return lines
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// clockTicks is the unit of /proc/PID/stat's CPU times: USER_HZ, 100 on
// Linux whatever the kernel's own tick (getconf CLK_TCK).
const clockTicks = 100

// A server is an HTTP process the benchmark starts (the gateway, the floor,
// a gateway through PgBouncer) on 127.0.0.1, its output in a log file.
type server struct {
	name string // "gateway", "floor", "gateway through PgBouncer"
	base string // http://127.0.0.1:PORT
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

// startServer starts bin with HOST and PORT, and env on top of this
// program's environment (DB_PIPELINE, DB_POOL_SIZE … pass through).
func startServer(name, bin string, port int, log string, env ...string) (*server, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), append([]string{"HOST=127.0.0.1", "PORT=" + strconv.Itoa(port)}, env...)...)
	return startCommand(name, port, log, cmd)
}

// startCommand starts cmd, a server on 127.0.0.1:port taking its own flags
// (Mailpit), its output into the log file.
func startCommand(name string, port int, log string, cmd *exec.Cmd) (*server, error) {
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s: %w", name, err)
	}
	s := &server{name: name, base: fmt.Sprintf("http://127.0.0.1:%d", port), log: log, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	return s, nil
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// logTail is the end of its log, for an error message.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// waitReady polls GET path (with the headers) every 0.2 s, 100 times at
// most, until it answers 200; then the body must contain want.
func (s *server) waitReady(ctx context.Context, path string, headers map[string]string, want string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	var status int
	var body []byte
	for i := 0; i < 100; i++ {
		if s.exited() {
			return fmt.Errorf("the %s exited:\n%s", s.name, s.logTail())
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
		if err != nil {
			return err
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		if resp, err := client.Do(req); err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if status = resp.StatusCode; status == http.StatusOK {
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if status != http.StatusOK {
		return fmt.Errorf("the %s did not become ready:\n%s", s.name, s.logTail())
	}
	if !strings.Contains(string(body), want) {
		return fmt.Errorf("%s: GET %s did not answer OK: %.300s", s.name, path, body)
	}
	return nil
}

// cpuTicks is the CPU time (user + system, in clock ticks) the process has
// used so far.
func (s *server) cpuTicks() (int64, error) {
	p, err := procfs.NewProc(s.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, fmt.Errorf("the %s's CPU time: %w", s.name, err)
	}
	return int64(st.UTime + st.STime), nil
}

// stop sends SIGTERM, then SIGKILL after the grace, and waits for the exit.
// Safe to call again, and on a server that has exited.
func (s *server) stop(grace time.Duration) {
	if s == nil || s.exited() {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = s.cmd.Process.Kill()
	}
	select {
	case <-s.done:
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// servers stops every server it holds, once, whatever happened (deferred by
// the benchmarks).
type servers []*server

func (ss *servers) add(s *server) *server { *ss = append(*ss, s); return s }

// stopAll has a pointer receiver: `defer ss.stopAll(…)` then stops the
// servers added after the defer too (a value receiver would be the empty
// slice of the moment of the defer, and a benchmark that failed would
// leave its servers running).
func (ss *servers) stopAll(grace time.Duration) {
	for _, s := range *ss {
		s.stop(grace)
	}
}

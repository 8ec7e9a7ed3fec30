package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
)

// The flat combining of pipeline.go, over fake connections (the pgx part,
// one batch on a real connection, is in the e2e suite: tests/e2e's
// pipeline and link tests). A fake connection answers each call by its
// statement: "echo" answers its first argument, "fail" fails with a
// PostgreSQL error (that call only, as PostgreSQL does with one Sync per
// call), "break" breaks the connection there: the calls before it in the
// batch are answered, it and the rest get the connection's error, and the
// connection is closed, which its pool discards on release.

type fakePool struct {
	mu        sync.Mutex
	opened    int
	discarded int
	batches   [][]string // the first argument of each call, per batch sent
	gate      chan struct{}
	running   chan struct{} // a token per batch that started running
	// goroutines records the goroutine each batch ran on.
	goroutines []string
}

type fakeConn struct {
	pool   *fakePool
	id     int
	broken bool
}

var errFakeBroken = errors.New("fake: connection reset by peer")

func (p *fakePool) acquire(context.Context) (batchConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opened++
	return &fakeConn{pool: p, id: p.opened}, nil
}

func (c *fakeConn) run(ctx context.Context, batch []*pipelinedCall) {
	p := c.pool
	var args []string
	for _, call := range batch {
		args = append(args, call.args[0].(string))
	}
	p.mu.Lock()
	p.batches = append(p.batches, args)
	p.goroutines = append(p.goroutines, goroutineID())
	gate, running := p.gate, p.running
	p.mu.Unlock()
	if running != nil {
		running <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done(): // the batch's time is up: as pgx does, the connection is closed
			c.broken = true
			answerAll(batch, ctx.Err())
			return
		}
	}
	for i, call := range batch {
		switch call.sql {
		case "echo":
			call.done <- pipelinedResult{out: append([]byte("answer to "), call.args[0].(string)...)}
		case "fail":
			call.done <- pipelinedResult{err: &pgconn.PgError{Code: "22023", Message: "fake: invalid " + call.args[0].(string)}}
		case "break":
			c.broken = true
			answerAll(batch[i:], errFakeBroken)
			return
		}
	}
}

func (c *fakeConn) release() {
	if c.broken {
		c.pool.mu.Lock()
		c.pool.discarded++
		c.pool.mu.Unlock()
	}
}

func goroutineID() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	return string(bytes.Fields(b)[1])
}

func (p *fakePool) sent() [][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.batches)
}

func newTestPipeliner(pool *fakePool, n int) *pipeliner {
	return newCombiner(pool.acquire, n, time.Minute, prometheus.NewHistogram(prometheus.HistogramOpts{Name: "test_batch_size"}))
}

// queued is the number of calls waiting for a connection.
func (p *pipeliner) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A lone call is sent by its own caller, on its own goroutine: no hand-off.
func TestPipelinerLoneCallIsSentByItsCaller(t *testing.T) {
	pool := &fakePool{}
	p := newTestPipeliner(pool, 3)
	defer p.Close()
	for i := range 3 {
		out, err := p.call(context.Background(), "echo", []any{fmt.Sprint("lone ", i)})
		if err != nil || string(out) != fmt.Sprint("answer to lone ", i) {
			t.Fatalf("call %d: %q, %v", i, out, err)
		}
	}
	me := goroutineID()
	for i, g := range pool.goroutines {
		if g != me {
			t.Errorf("batch %d ran on goroutine %s, not the caller's (%s)", i, g, me)
		}
	}
	if got := pool.sent(); len(got) != 3 || len(got[0]) != 1 {
		t.Errorf("batches %q, want three of one call", got)
	}
}

// A call queues only when every connection is busy; the calls queued then
// go out in batches, each connection freed taking its share (a quarter of
// the queue, rounded up, with two connections), and each gets its own answer.
func TestPipelinerQueuesOnlyWhenEveryConnectionIsBusy(t *testing.T) {
	pool := &fakePool{gate: make(chan struct{}), running: make(chan struct{}, 20)}
	p := newTestPipeliner(pool, 2)
	defer p.Close()
	answers := make(chan string, 20)
	call := func(arg string) {
		out, err := p.call(context.Background(), "echo", []any{arg})
		if err != nil {
			answers <- arg + ": " + err.Error()
			return
		}
		answers <- arg + ": " + string(out)
	}
	go call("a")
	go call("b")
	<-pool.running
	<-pool.running // both connections busy, nothing queued
	if n := p.queued(); n != 0 {
		t.Fatalf("%d calls queued while a connection was free", n)
	}
	queued := []string{"c", "d", "e", "f", "g", "h", "i", "j"}
	for _, a := range queued {
		go call(a)
	}
	waitFor(t, "eight calls queued", func() bool { return p.queued() == len(queued) })
	close(pool.gate)
	var got, want []string
	for _, a := range append([]string{"a", "b"}, queued...) {
		got = append(got, <-answers)
		want = append(want, a+": answer to "+a)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("answers %q, want %q", got, want)
	}
	batches := pool.sent()
	var sent []string
	biggest := 0
	for _, b := range batches[2:] {
		sent = append(sent, b...)
		biggest = max(biggest, len(b))
	}
	slices.Sort(sent)
	if len(batches) < 3 || !slices.Equal(sent, queued) || biggest != 2 {
		t.Errorf("batches %q, want [a] [b] then the eight queued calls in batches of at most two (a quarter of eight), one of two", batches)
	}
}

// Many callers at once over few connections: every caller gets its own
// answer, nothing is lost or sent twice, and calls were batched.
func TestPipelinerEveryCallerGetsItsOwnAnswer(t *testing.T) {
	pool := &fakePool{}
	p := newTestPipeliner(pool, 2)
	defer p.Close()
	const callers, each = 64, 50
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				arg := fmt.Sprintf("%d/%d", c, i)
				if i%7 == 3 {
					_, err := p.call(context.Background(), "fail", []any{arg})
					if !isPgError(err) || !strings.HasSuffix(err.Error(), "invalid "+arg+" (SQLSTATE 22023)") {
						t.Errorf("%s failed with %v, not its own error", arg, err)
						wrong.Add(1)
					}
					continue
				}
				out, err := p.call(context.Background(), "echo", []any{arg})
				if err != nil || string(out) != "answer to "+arg {
					t.Errorf("%s got %q, %v", arg, out, err)
					wrong.Add(1)
				}
				if i%5 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	biggest := 0
	for _, b := range pool.sent() {
		biggest = max(biggest, len(b))
		for _, a := range b {
			seen[a]++
		}
	}
	if len(seen) != callers*each {
		t.Errorf("%d distinct calls sent, want %d", len(seen), callers*each)
	}
	for a, n := range seen {
		if n != 1 {
			t.Errorf("%s sent %d times", a, n)
		}
	}
	if biggest < 2 {
		t.Errorf("no batch of more than one call among %d batches", len(pool.sent()))
	}
	if biggest > maxBatch {
		t.Errorf("a batch of %d calls, over maxBatch (%d)", biggest, maxBatch)
	}
	t.Logf("%d calls in %d batches (largest %d)", callers*each, len(pool.sent()), biggest)
}

// A failed call fails only itself; a broken connection fails only the calls
// of its batch from the break on, is discarded, and the next batch gets a
// connection that works.
func TestPipelinerFailuresStayInTheirBatch(t *testing.T) {
	pool := &fakePool{gate: make(chan struct{}), running: make(chan struct{}, 10)}
	p := newTestPipeliner(pool, 1)
	defer p.Close()
	type answer struct {
		arg string
		out string
		err error
	}
	answers := make(chan answer, 10)
	call := func(sql, arg string) {
		out, err := p.call(context.Background(), sql, []any{arg})
		answers <- answer{arg, string(out), err}
	}
	// A batch held on the one connection, then five calls queued: the
	// connection, once free, sends them in one batch (its share: all of
	// them, with one connection).
	go call("echo", "held")
	<-pool.running
	go call("echo", "before")
	waitFor(t, "a call queued", func() bool { return p.queued() == 1 })
	go call("fail", "failing")
	waitFor(t, "two calls queued", func() bool { return p.queued() == 2 })
	go call("echo", "after the failure")
	waitFor(t, "three calls queued", func() bool { return p.queued() == 3 })
	go call("break", "breaking")
	waitFor(t, "four calls queued", func() bool { return p.queued() == 4 })
	go call("echo", "after the break")
	waitFor(t, "five calls queued", func() bool { return p.queued() == 5 })
	close(pool.gate)
	got := map[string]answer{}
	for range 6 {
		a := <-answers
		got[a.arg] = a
	}
	for _, arg := range []string{"held", "before", "after the failure"} {
		if a := got[arg]; a.err != nil || a.out != "answer to "+arg {
			t.Errorf("%s: %q, %v; want its own answer", arg, a.out, a.err)
		}
	}
	if a := got["failing"]; !isPgError(a.err) || !strings.Contains(a.err.Error(), "invalid failing") {
		t.Errorf("the failing call: %q, %v; want its own PostgreSQL error", a.out, a.err)
	}
	for _, arg := range []string{"breaking", "after the break"} {
		if a := got[arg]; !errors.Is(a.err, errFakeBroken) {
			t.Errorf("%s: %q, %v; want the broken connection's error", arg, a.out, a.err)
		}
	}
	waitFor(t, "the broken connection discarded", func() bool {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		return pool.discarded == 1
	})
	// The pool recovers: the next calls go out on connections that work.
	for i := range 3 {
		arg := fmt.Sprint("recovered ", i)
		if out, err := p.call(context.Background(), "echo", []any{arg}); err != nil || string(out) != "answer to "+arg {
			t.Errorf("after the break: %q, %v", out, err)
		}
	}
}

// A caller that gives up while its call is queued takes it out: it is never
// sent. Once a batch has it, it is sent, and its answer dropped.
func TestPipelinerCallerGivingUpWhileQueued(t *testing.T) {
	pool := &fakePool{gate: make(chan struct{}), running: make(chan struct{}, 10)}
	p := newTestPipeliner(pool, 1)
	defer p.Close()
	done := make(chan error, 2)
	go func() { _, err := p.call(context.Background(), "echo", []any{"held"}); done <- err }()
	<-pool.running
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, err := p.call(ctx, "echo", []any{"given up"}); done <- err }()
	waitFor(t, "a call queued", func() bool { return p.queued() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up: %v, want context.Canceled", err)
	}
	if n := p.queued(); n != 0 {
		t.Errorf("%d calls still queued", n)
	}
	close(pool.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, b := range pool.sent() {
		if slices.Contains(b, "given up") {
			t.Errorf("a call given up while queued was sent: %q", pool.sent())
		}
	}
	// The connection is free again: a call goes out at once.
	if out, err := p.call(context.Background(), "echo", []any{"next"}); err != nil || string(out) != "answer to next" {
		t.Errorf("next call: %q, %v", out, err)
	}
}

// A connection that cannot be had fails the calls of that batch, and the
// slot is free for the next; after Close, a call fails at once.
func TestPipelinerAcquireFailureAndClose(t *testing.T) {
	refused := errors.New("fake: too many connections")
	var fail atomic.Bool
	fail.Store(true)
	pool := &fakePool{}
	p := newCombiner(func(ctx context.Context) (batchConn, error) {
		if fail.Load() {
			return nil, refused
		}
		return pool.acquire(ctx)
	}, 1, time.Minute, prometheus.NewHistogram(prometheus.HistogramOpts{Name: "test_batch_size"}))
	if _, err := p.call(context.Background(), "echo", []any{"x"}); !errors.Is(err, refused) {
		t.Errorf("err = %v, want the acquire's", err)
	}
	fail.Store(false)
	if out, err := p.call(context.Background(), "echo", []any{"y"}); err != nil || string(out) != "answer to y" {
		t.Errorf("after the failure: %q, %v", out, err)
	}
	p.Close()
	if _, err := p.call(context.Background(), "echo", []any{"z"}); !errors.Is(err, errPipelineClosed) {
		t.Errorf("after Close: err = %v", err)
	}
}

// A link that stops answering: a batch fails when its oldest call's time is
// up (timeout), and a call queued behind it meanwhile gets no fresh
// timeout of its own once a connection is free: it fails when its own time,
// counted from when it was made, is up, not a whole timeout later.
func TestPipelinerTimeoutCountsFromTheCall(t *testing.T) {
	const timeout = time.Second
	pool := &fakePool{gate: make(chan struct{}), running: make(chan struct{}, 10)} // never opened: nothing answers
	p := newCombiner(pool.acquire, 1, timeout, prometheus.NewHistogram(prometheus.HistogramOpts{Name: "test_batch_size"}))
	defer p.Close()
	type result struct {
		err     error
		elapsed time.Duration
	}
	results := make(chan result, 2)
	call := func() {
		t0 := time.Now()
		_, err := p.call(context.Background(), "echo", []any{"x"})
		results <- result{err, time.Since(t0)}
	}
	go call()
	<-pool.running
	go call()
	waitFor(t, "a call queued", func() bool { return p.queued() == 1 })
	for range 2 {
		r := <-results
		if !errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the deadline's", r.err)
		}
		// Each call ends about timeout after it was made; the queued one,
		// with a fresh timeout once the first batch failed, would take two.
		if r.elapsed < timeout-50*time.Millisecond || r.elapsed > timeout*8/5 {
			t.Errorf("a call ended after %v, want about %v", r.elapsed, timeout)
		}
	}
	waitFor(t, "the two connections that timed out discarded", func() bool {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		return pool.discarded == 2
	})
}

// A caller that gives up while it sends a batch itself sees the batch
// through (the others wait for their answers), then gets its context's
// error, as a queued caller does: the handler logs a client gone (499),
// not a success it could not deliver.
func TestPipelinerCallerGivingUpWhileSending(t *testing.T) {
	pool := &fakePool{gate: make(chan struct{}), running: make(chan struct{}, 10)}
	p := newTestPipeliner(pool, 1)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := p.call(ctx, "echo", []any{"sender"}); done <- err }()
	<-pool.running
	other := make(chan string, 1)
	go func() {
		out, err := p.call(context.Background(), "echo", []any{"queued"})
		if err != nil {
			other <- err.Error()
			return
		}
		other <- string(out)
	}()
	waitFor(t, "a call queued", func() bool { return p.queued() == 1 })
	cancel()
	close(pool.gate)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that gave up: %v, want context.Canceled", err)
	}
	if got := <-other; got != "answer to queued" {
		t.Errorf("the queued call: %q", got)
	}
}

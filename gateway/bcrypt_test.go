package gateway

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type count struct{ n atomic.Int64 }

func (c *count) Inc() { c.n.Add(1) }

// The gate lets n calls in; the next one waits, and gets in when a slot is
// given back within the wait, else is refused and counted. A caller that
// goes away while waiting is not counted.
func TestBcryptGate(t *testing.T) {
	var refused count
	g := newBcryptGate(2, 50*time.Millisecond, &refused)
	ctx := context.Background()
	if !g.enter(ctx) || !g.enter(ctx) || g.inFlight() != 2 || g.size() != 2 {
		t.Fatalf("two slots: in flight %d of %d", g.inFlight(), g.size())
	}
	start := time.Now()
	if g.enter(ctx) {
		t.Fatal("a third call got in with two in flight")
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Fatalf("refused after %s, want after the wait (50ms)", waited)
	}
	if refused.n.Load() != 1 {
		t.Fatalf("refused %d, want 1", refused.n.Load())
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		g.leave()
	}()
	if !g.enter(ctx) {
		t.Fatal("a call waiting while a slot came free was refused")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if g.enter(cctx) {
		t.Fatal("a call whose client went away got a slot")
	}
	if refused.n.Load() != 1 || g.inFlight() != 2 {
		t.Fatalf("refused %d, in flight %d; want 1 and 2", refused.n.Load(), g.inFlight())
	}
}

// BCRYPT_CONCURRENCY: by default one slot per CPU, at most half the pool,
// at least one; set, 1..DB_POOL_SIZE-1.
func TestConfigBcryptConcurrency(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://gateway@127.0.0.1/db")
	t.Setenv("DB_POOL_SIZE", "")
	t.Setenv("BCRYPT_CONCURRENCY", "")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if want := min(runtime.NumCPU(), int(c.PoolSize)/2); c.BcryptConcurrency != want || want < 1 ||
		c.BcryptConcurrency >= int(c.PoolSize) {
		t.Fatalf("default %d with a pool of %d, want %d", c.BcryptConcurrency, c.PoolSize, want)
	}
	for pool, want := range map[int32]int{1: 1, 2: 1, 3: 1, 64: min(runtime.NumCPU(), 32)} {
		if got := DefaultBcryptConcurrency(pool); got != want {
			t.Errorf("pool %d: default %d, want %d", pool, got, want)
		}
	}
	t.Setenv("DB_POOL_SIZE", "10")
	t.Setenv("BCRYPT_CONCURRENCY", "9")
	if c, err := ConfigFromEnv(); err != nil || c.BcryptConcurrency != 9 {
		t.Fatalf("9 of 10: %d, %v", c.BcryptConcurrency, err)
	}
	for _, bad := range []string{"0", "10", "11", "-1", "two"} {
		t.Setenv("BCRYPT_CONCURRENCY", bad)
		if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "BCRYPT_CONCURRENCY") {
			t.Errorf("BCRYPT_CONCURRENCY=%s with DB_POOL_SIZE=10: err %v, want it refused", bad, err)
		}
	}
	t.Setenv("BCRYPT_CONCURRENCY", "")
	t.Setenv("BCRYPT_WAIT", "")
	if c, err := ConfigFromEnv(); err != nil || c.BcryptWait != time.Second {
		t.Fatalf("BCRYPT_WAIT default %v, %v; want 1s", c.BcryptWait, err)
	}
	t.Setenv("BCRYPT_WAIT", "250ms")
	if c, err := ConfigFromEnv(); err != nil || c.BcryptWait != 250*time.Millisecond {
		t.Fatalf("BCRYPT_WAIT=250ms: %v, %v", c.BcryptWait, err)
	}
	for _, bad := range []string{"0", "-1s", "2m", "soon"} {
		t.Setenv("BCRYPT_WAIT", bad)
		if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "BCRYPT_WAIT") {
			t.Errorf("BCRYPT_WAIT=%s: err %v, want it refused", bad, err)
		}
	}
}

package gateway

import (
	"context"
	"runtime"
	"time"
)

// The Bcrypt routes (login, sign-up, password change, account deletion)
// spend tens of milliseconds of a database core each in bcrypt, however
// the call ends, and hold a pool connection meanwhile. Unbounded, a flood
// of them (64 loops of a password change) takes every connection and every
// core, and the cheap routes wait behind it. So each gateway process lets
// at most BCRYPT_CONCURRENCY of them run at once; the rest wait for a slot
// for BCRYPT_WAIT, then get 503 UNAVAILABLE with Retry-After. The limits per
// account and per client IP (SQL) and nginx's limit_req say who may try how
// often; this cap says how much of the database a flood can take.

// DefaultBcryptWait is BCRYPT_WAIT's default: how long a Bcrypt call waits
// for a slot before its 503. One bcrypt at cost 10 takes about 70 ms of a
// core, so in a second each slot serves about 14 calls: a burst of real
// logins (a restart, a morning) is queued and served, not refused, while a
// flood is refused after a second instead of piling up behind the statement
// timeout. A waiting request holds a goroutine only: no connection, no core.
const DefaultBcryptWait = time.Second

// DefaultBcryptConcurrency is BCRYPT_CONCURRENCY's default: one slot per
// CPU (bcrypt is CPU work; the database's cores are usually as many as the
// gateway's, or more), at most half the pool, so that the other routes keep
// at least half the connections, and at least one.
func DefaultBcryptConcurrency(poolSize int32) int {
	return max(1, min(runtime.NumCPU(), int(poolSize)/2))
}

// bcryptGate is the per-process semaphore of the Bcrypt routes.
type bcryptGate struct {
	slots chan struct{}
	wait  time.Duration
	// refused counts the calls that got no slot in time (503).
	refused interface{ Inc() }
}

func newBcryptGate(n int, wait time.Duration, refused interface{ Inc() }) *bcryptGate {
	return &bcryptGate{slots: make(chan struct{}, n), wait: wait, refused: refused}
}

// enter takes a slot, waiting at most g.wait; false when none came in time
// (counted as refused) or the client went away (ctx, not counted).
func (g *bcryptGate) enter(ctx context.Context) bool {
	select {
	case g.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	case <-t.C:
		g.refused.Inc()
		return false
	}
}

// leave gives the slot back.
func (g *bcryptGate) leave() { <-g.slots }

// inFlight is the number of Bcrypt calls holding a slot now.
func (g *bcryptGate) inFlight() int { return len(g.slots) }

// size is BCRYPT_CONCURRENCY.
func (g *bcryptGate) size() int { return cap(g.slots) }

// errBcryptBusy is the answer of a Bcrypt call that got no slot in time.
func errBcryptBusy() *apiError {
	return newError(503, "too many password checks in progress; try again shortly", nil)
}

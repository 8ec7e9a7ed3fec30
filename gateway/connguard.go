package gateway

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// The gateway's bounds on a client that holds a connection without asking
// anything, and on a request body that trickles in.
const (
	headerTimeout = 10 * time.Second  // a new connection's first request head
	idleTimeout   = 120 * time.Second // the next request head on a kept-alive connection
)

// bodyTimeout bounds a request body, from when its request head was read
// (withRequestContext sets it; a variable for the tests).
var bodyTimeout = 30 * time.Second

// connGuard closes the connections that hold the server without asking
// anything: one that has sent no complete request head headerTimeout after
// it connected, or idleTimeout after its last answer. It stands in for
// net/http's ReadHeaderTimeout and IdleTimeout (and the body's deadline,
// set by withRequestContext, for its ReadTimeout), which set a read
// deadline on the socket three times a request: each is a runtime timer,
// and a timer that becomes the earliest of its P makes the runtime wake
// another thread to watch it. At one client that thread wake per request
// cost more than the rest of the gateway's own work (docs/benchmarks.md,
// "The server's read deadlines"). Here the server's ConnState hook notes
// when a connection goes new or idle (a lock and a map write per request,
// no timer) and one ticker sweeps.
//
// A keep-alive connection that starts a request head and never finishes it
// is bounded by idleTimeout rather than headerTimeout: it holds what an idle
// connection holds, for as long.
type connGuard struct {
	header, idle time.Duration

	mu    sync.Mutex
	conns map[net.Conn]connMark // the connections waiting for a request head
}

type connMark struct {
	state http.ConnState // http.StateNew or http.StateIdle
	since time.Time
}

func newConnGuard(header, idle time.Duration) *connGuard {
	return &connGuard{header: header, idle: idle, conns: map[net.Conn]connMark{}}
}

// track is the server's ConnState hook: a connection waits for a request
// head from when it is new or idle until it is active (net/http says so
// once it has read a request head) or gone.
func (g *connGuard) track(c net.Conn, state http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch state {
	case http.StateNew, http.StateIdle:
		g.conns[c] = connMark{state: state, since: time.Now()}
	default:
		delete(g.conns, c)
	}
}

// sweep closes the connections that have waited too long at now; net/http
// then sees the read fail and lets the connection go.
func (g *connGuard) sweep(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for c, m := range g.conns {
		limit := g.idle
		if m.state == http.StateNew {
			limit = g.header
		}
		if now.Sub(m.since) >= limit {
			c.Close()
			delete(g.conns, c)
		}
	}
}

// run sweeps until ctx ends, every tenth of the shorter limit (every, the
// gateway's one timer loop): a connection is closed between its limit and
// its limit plus a tenth.
func (g *connGuard) run(ctx context.Context) {
	every(ctx, min(g.header, g.idle)/10, func() { g.sweep(time.Now()) })
}

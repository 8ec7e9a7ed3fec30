package e2e

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// tcpProxy sits between a gateway and PostgreSQL so that a test can take the
// database away (Stop), bring it back on the same address (Start), or hold
// the gateway's traffic to prove a request is in flight (Hold).
type tcpProxy struct {
	t       *testing.T
	network string // "tcp", or "unix" when the URL names a socket directory
	target  string // PostgreSQL's host:port, or its socket's path
	addr    string // host:port the proxy listens on, stable across Stop/Start

	mu    sync.Mutex
	ln    net.Listener // nil while stopped
	conns map[net.Conn]struct{}
	gate  *proxyGate
}

// proxyGate holds gateway → database bytes until released.
type proxyGate struct {
	held     chan struct{} // closed when the first bytes are held
	heldOnce sync.Once
	release  chan struct{}
	relOnce  sync.Once
}

func (g *proxyGate) open() { g.relOnce.Do(func() { close(g.release) }) }

// startProxy listens on a loopback port and forwards to the database of
// TEST_GATEWAY_DATABASE_URL.
func startProxy(t *testing.T) *tcpProxy {
	t.Helper()
	// pgconn reads the URL as the gateway will, host=/socket/dir included.
	pc, err := pgconn.ParseConfig(gatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	network, target := "tcp", net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port)))
	if strings.HasPrefix(pc.Host, "/") {
		network, target = "unix", fmt.Sprintf("%s/.s.PGSQL.%d", pc.Host, pc.Port)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, network: network, target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.Stop)
	return p
}

// DatabaseURL is the gateway's database URL, through the proxy.
func (p *tcpProxy) DatabaseURL() string {
	u, err := url.Parse(gatewayURL)
	if err != nil {
		p.t.Fatal(err)
	}
	u.Host = p.addr
	q := u.Query()
	q.Del("host") // a socket directory would win over u.Host
	u.RawQuery = q.Encode()
	return u.String()
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(ln, c)
		}
	}()
}

func (p *tcpProxy) pipe(ln net.Listener, client net.Conn) {
	server, err := net.DialTimeout(p.network, p.target, 10*time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.ln != ln { // stopped meanwhile
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client] = struct{}{}
	p.conns[server] = struct{}{}
	p.mu.Unlock()

	done := make(chan struct{})
	go func() {
		p.copy(server, client, true)
		close(done)
	}()
	p.copy(client, server, false)
	client.Close()
	server.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

func (p *tcpProxy) copy(dst, src net.Conn, toDatabase bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if toDatabase {
				p.wait()
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	// Wake the other direction, whichever side ended first.
	dst.Close()
	src.Close()
}

// wait blocks while a gate is set, after saying that something is held.
func (p *tcpProxy) wait() {
	p.mu.Lock()
	g := p.gate
	p.mu.Unlock()
	if g == nil {
		return
	}
	g.heldOnce.Do(func() { close(g.held) })
	<-g.release
}

// Hold stops gateway → database traffic. held is closed once some traffic
// waits (a query is in flight); release lets it all through.
func (p *tcpProxy) Hold() (held <-chan struct{}, release func()) {
	g := &proxyGate{held: make(chan struct{}), release: make(chan struct{})}
	p.mu.Lock()
	p.gate = g
	p.mu.Unlock()
	return g.held, func() {
		p.mu.Lock()
		if p.gate == g {
			p.gate = nil
		}
		p.mu.Unlock()
		g.open()
	}
}

// Stop makes the database unreachable: the port refuses connections and
// every open connection is cut.
func (p *tcpProxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
	if p.gate != nil {
		p.gate.open()
		p.gate = nil
	}
}

// Start listens again on the same address.
func (p *tcpProxy) Start() {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ln, err := net.Listen("tcp", p.addr)
		if err == nil {
			p.serve(ln)
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("proxy cannot listen again on %s: %v", p.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

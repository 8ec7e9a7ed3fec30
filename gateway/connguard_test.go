package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// closed says whether c's peer has been closed: a read on c ends with EOF.
func closed(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe)
}

// The sweep closes a new connection at headerTimeout and an idle one at
// idleTimeout, and never one that is active (a request under way).
func TestConnGuardSweep(t *testing.T) {
	g := newConnGuard(time.Second, 3*time.Second)
	pair := func(state http.ConnState) (server, client net.Conn) {
		server, client = net.Pipe()
		t.Cleanup(func() { server.Close(); client.Close() })
		g.track(server, state)
		return server, client
	}
	_, fresh := pair(http.StateNew)
	_, idle := pair(http.StateIdle)
	activeServer, active := pair(http.StateNew)
	g.track(activeServer, http.StateActive)
	start := time.Now()

	g.sweep(start.Add(900 * time.Millisecond))
	if closed(t, fresh) || closed(t, idle) || closed(t, active) {
		t.Fatal("a connection was closed before its limit")
	}
	g.sweep(start.Add(1100 * time.Millisecond))
	if !closed(t, fresh) {
		t.Error("a new connection without a request head was not closed at the header limit")
	}
	if closed(t, idle) || closed(t, active) {
		t.Error("an idle or active connection was closed at the header limit")
	}
	g.sweep(start.Add(3100 * time.Millisecond))
	if !closed(t, idle) {
		t.Error("an idle connection was not closed at the idle limit")
	}
	g.sweep(start.Add(time.Hour))
	if closed(t, active) {
		t.Error("an active connection was closed")
	}
	if n := len(g.conns); n != 0 {
		t.Errorf("%d connections still tracked, want 0 (closed ones and the active one are not)", n)
	}
}

// Through a real server with the guard as its ConnState hook, as Run sets
// it up: a connection that sends nothing, or half a request head, is closed;
// one that keeps asking stays open past the idle limit (it counts from the
// last answer), then is closed once it stops.
func TestConnGuardServer(t *testing.T) {
	const header, idle = 200 * time.Millisecond, 400 * time.Millisecond
	g := newConnGuard(header, idle)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.run(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ConnState: g.track, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	})}
	go srv.Serve(ln)
	defer srv.Close()

	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// waitClosed reads until the server closes c, or fails after 5 s.
	waitClosed := func(c net.Conn, what string) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.ReadAll(c)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: still open after 5 s", what)
		}
	}

	silent := dial()
	half := dial()
	if _, err := half.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	asking := dial()
	r := bufio.NewReader(asking)
	for i := range 8 { // 8 requests 100 ms apart: 800 ms, twice the idle limit
		req, _ := http.NewRequest("GET", "http://x/", nil)
		if err := req.Write(asking); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		resp, err := http.ReadResponse(r, req)
		if err != nil {
			t.Fatalf("request %d on a connection that keeps asking: %v", i+1, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(idle / 4)
	}
	waitClosed(silent, "a connection that sent nothing")
	waitClosed(half, "a connection that sent half a request head")
	waitClosed(asking, "a connection idle after its answers")
}

// A request body must arrive within bodyTimeout, whether its route reads it
// or not (net/http reads what is left of it after the answer, to keep the
// connection): a client that sends a head announcing a body and then only
// part of it loses the connection.
func TestBodyDeadline(t *testing.T) {
	defer func(d time.Duration) { bodyTimeout = d }(bodyTimeout)
	bodyTimeout = 300 * time.Millisecond
	s := &Server{log: zerolog.Nop(), metrics: newMetrics(nil, zerolog.Nop())}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.withRequestContext(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			if _, err := io.ReadAll(r.Body); err == nil {
				t.Error("a trickling body was read to its end")
			}
		}
		w.WriteHeader(204) // /ignore: the body is left to net/http
	}))}
	go srv.Serve(ln)
	defer srv.Close()
	for _, path := range []string{"/read", "/ignore"} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"a\": ")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(c) // the answer, if any, then the close
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: the connection of a trickling body still open after 5 s", path)
		}
	}
}

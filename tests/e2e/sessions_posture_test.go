package e2e

import (
	"bytes"
	"context"
	"testing"
)

// A session unused for auth.settings.session_idle_timeout (14 days by
// default) answers 401 EXPIRED and is deleted, although its absolute expiry
// is weeks away; a session in use is not touched.
func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	idle := g.login(t, u, "ua-idle")
	busy := g.login(t, u, "ua-busy")
	if _, err := owner.Exec(context.Background(), `
		UPDATE auth.account_sessions SET last_used = now() - interval '15 days'
		 WHERE token_digest = auth.token_digest($1)`, idle); err != nil {
		t.Fatal(err)
	}
	r := g.do(req{Method: "GET", Path: "/session", Token: idle, UA: "ua-idle"})
	expect(t, r, 401, "EXPIRED")
	expectErrorBody(t, r)
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: idle, UA: "ua-idle"}), 401, "INVALID")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: busy, UA: "ua-busy"}), 200, "")
	if n := sessionRows(t, u.ID); n != 1 {
		t.Fatalf("%d sessions left, want the busy one only", n)
	}
}

// A disabled account (auth.disable_account, scripts/db disable) loses every
// session at once and cannot log in: the right password gets exactly the
// answer of a wrong one. Enabled again, it logs in.
func TestDisabledAccount(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	tok1 := g.login(t, u, "ua-1")
	tok2 := g.login(t, u, "ua-2")

	var ended int
	if err := owner.QueryRow(context.Background(), "SELECT auth.disable_account($1)", u.Username).Scan(&ended); err != nil {
		t.Fatal(err)
	}
	if ended != 2 {
		t.Fatalf("disable_account ended %d sessions, want 2", ended)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok1, UA: "ua-1"}), 401, "INVALID")
	expect(t, g.do(req{Method: "GET", Path: "/sessions", Token: tok2, UA: "ua-2"}), 401, "INVALID")

	right := g.do(req{Method: "POST", Path: "/sessions", UA: "ua-1", IP: u.IP,
		Body: map[string]any{"login": u.Username, "password": u.Password}})
	expect(t, right, 401, "INVALID_CREDENTIALS")
	wrong := g.do(req{Method: "POST", Path: "/sessions", UA: "ua-1", IP: u.IP,
		Body: map[string]any{"login": u.Username, "password": "not the password"}})
	expect(t, wrong, 401, "INVALID_CREDENTIALS")
	if !bytes.Equal(right.Body, wrong.Body) {
		t.Fatalf("a disabled account's login answers %s, a wrong password %s", right.Body, wrong.Body)
	}
	if n := sessionRows(t, u.ID); n != 0 {
		t.Fatalf("%d sessions for a disabled account", n)
	}

	if _, err := owner.Exec(context.Background(), "SELECT auth.enable_account($1)", u.Username); err != nil {
		t.Fatal(err)
	}
	g.login(t, u, "ua-1")
}

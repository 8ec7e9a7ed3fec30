package e2e

import (
	"context"
	"testing"
)

// A failure that must commit (docs/architecture.md, "Errors"): the request
// fails with 401, yet the session row is gone afterwards.
func TestSessionDroppedOnBrowserMismatch(t *testing.T) {
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "Firefox/1")

	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "Firefox/1"}), 200, "")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "Chrome/9"}), 401, "BROWSER")
	if n := sessionRows(t, u.ID); n != 0 {
		t.Fatalf("%d sessions left after BROWSER, want 0", n)
	}
	// Even the right browser cannot use it any more.
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "Firefox/1"}), 401, "INVALID")
}

func TestSessionDroppedWhenExpired(t *testing.T) {
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	if _, err := owner.Exec(context.Background(),
		`UPDATE auth.account_sessions SET created_at = now() - interval '31 days',
		        expiry_time = now() - interval '1 day' WHERE account_id = $1`, int64(u.ID)); err != nil {
		t.Fatal(err)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}), 401, "EXPIRED")
	if n := sessionRows(t, u.ID); n != 0 {
		t.Fatalf("%d sessions left after EXPIRED, want 0", n)
	}
}

package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"

	"homebase/sql/code"
)

// Deploying a new code package under load: the install replaces every
// function in one transaction, so a request in flight or arriving meanwhile
// runs either the old functions or the new ones, and none fails. The test
// reinstalls the package (as scripts/db migrate does: tern's
// InstallCodePackage, under tern's advisory lock) again and again while
// clients keep calling routes that read, write, log and fail on purpose, and
// requires every answer to be the one it would be without the installs.
func TestReinstallUnderLoad(t *testing.T) {
	g := startGateway(t, nil)
	u := g.signup(t)
	const ua = "reinstall-test/1.0"
	tok := g.login(t, u, ua)

	cp, err := migrate.LoadCodePackage(code.FS)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	// What the clients send, and the status each must get.
	calls := []struct {
		r      req
		status int
	}{
		{req{Method: "GET", Path: "/session", Token: tok, UA: ua, IP: u.IP}, 200},
		{req{Method: "GET", Path: "/sessions", Token: tok, UA: ua, IP: u.IP}, 200},
		{req{Method: "GET", Path: "/availability?username=" + u.Username, IP: u.IP}, 200},
		{req{Method: "GET", Path: "/availability", IP: u.IP}, 422},                          // raised by response.raise
		{req{Method: "GET", Path: "/session", Token: "not-a-token", UA: ua, IP: u.IP}, 401}, // committed by response.fail
		{req{Method: "PATCH", Path: "/account", Token: tok, UA: ua, IP: u.IP,
			Body: map[string]any{"display_name": "Reinstalled"}}, 200}, // writes the account and the audit log
	}

	var (
		stop     atomic.Bool
		sent     atomic.Int64
		duringIn atomic.Int64 // requests answered while an install was running
		failures sync.Map     // description → count, for the report
		failed   atomic.Int64
		installs atomic.Bool // an install is in progress
		wg       sync.WaitGroup
	)
	for w := range 6 {
		wg.Go(func() {
			for i := w; !stop.Load(); i++ {
				c := calls[i%len(calls)]
				during := installs.Load()
				r, err := g.try(c.r)
				sent.Add(1)
				if during || installs.Load() {
					duringIn.Add(1)
				}
				if err == nil && r.Status == c.status {
					continue
				}
				failed.Add(1)
				what := fmt.Sprintf("%s %s: %v", c.r.Method, c.r.Path, err)
				if err == nil {
					what = fmt.Sprintf("%s %s: status %d, want %d: %s", c.r.Method, c.r.Path, r.Status, c.status, r.Body)
				}
				n, _ := failures.LoadOrStore(what, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		})
	}

	// Let the load start, then install repeatedly, with a little gap so that
	// requests also start between installs (catalog caches invalidated).
	time.Sleep(200 * time.Millisecond)
	const rounds = 25
	start := time.Now()
	for range rounds {
		installs.Store(true)
		err := migrate.InstallCodePackage(context.Background(), conn, map[string]any{}, cp)
		installs.Store(false)
		if err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("installing the code package: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	time.Sleep(100 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	t.Logf("%d installs in %s; %d requests, %d of them during an install", rounds, elapsed.Round(time.Millisecond),
		sent.Load(), duringIn.Load())
	failures.Range(func(k, v any) bool {
		t.Errorf("%d× %s", v.(*atomic.Int64).Load(), k)
		return true
	})
	if failed.Load() > 0 {
		t.Fatalf("%d of %d requests failed while the package was reinstalled", failed.Load(), sent.Load())
	}
	if duringIn.Load() == 0 {
		t.Fatal("no request overlapped an install: the test proved nothing")
	}

	// The package is still the build's, and the gateway says it is ready.
	var digest string
	if err := owner.QueryRow(context.Background(),
		"SELECT digest FROM public.code_package WHERE name = 'sql/code'").Scan(&digest); err != nil {
		t.Fatal(err)
	}
	if digest != code.Digest() {
		t.Fatalf("installed digest %s, want the build's %s", digest, code.Digest())
	}
	expect(t, g.do(req{Method: "GET", Path: "//readyz"}), 200, "")
}

package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// PostgreSQL's own log holds no password or token the gateway sent (issue
// 15, item 9). A failed statement is logged with its text
// (log_min_error_statement) and, where log_parameter_max_length_on_error
// allows, its bind parameters: a login refused with 429 carries the typed
// password, any error of an authenticated route the bearer token. The test
// plays a DBA who turns parameter logging on for the database (a setting
// the owner may make); the gateway roles' own settings (scripts/lib/roles.sh
// harden_roles) must win, since a role's setting overrides the database's.
// TEST_PG_LOG is the local cluster's server log (scripts/test sets it);
// without it (ADMIN_DATABASE_URL) there is no log to read.
func TestPrivilegesServerLogHoldsNoSecrets(t *testing.T) {
	path := os.Getenv("TEST_PG_LOG")
	if path == "" {
		t.Skip("TEST_PG_LOG is not set: no server log to read")
	}
	ctx := context.Background()
	start := logSize(t, path)
	var db string
	if err := owner.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %q SET log_parameter_max_length_on_error = -1`, db)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := owner.Exec(context.Background(), fmt.Sprintf(`ALTER DATABASE %q RESET log_parameter_max_length_on_error`, db)); err != nil {
			t.Error(err)
		}
	})

	// A gateway started now: its connections are new, so they read the
	// database's setting.
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	// A 404 of an authenticated route: the token is the context's first item.
	expect(t, g.do(req{Method: "GET", Path: "/goals/2147483000", Token: tok, UA: "ua", IP: u.IP}), 404, "NOT_FOUND")

	// Wrong passwords until the login is throttled, then the right one,
	// refused with 429 (an error raised in PostgreSQL) all the same.
	var secrets = []string{u.Password, tok}
	limited := false
	for i := 0; i < 100 && !limited; i++ {
		wrong := fmt.Sprintf("wrong horse %d %s", i, unique(""))
		secrets = append(secrets, wrong)
		g.secrets.add(wrong)
		r := g.do(req{Method: "POST", Path: "/sessions", UA: "ua", IP: u.IP,
			Body: map[string]any{"login": u.Username, "password": wrong}})
		limited = r.Status == 429
	}
	if !limited {
		t.Fatal("100 wrong passwords and no 429")
	}
	expect(t, g.loginResp(u, "ua"), 429, "RATE_LIMITED")

	// What the server logged for these statements is in the file once they
	// have answered (it writes its stderr unbuffered).
	logged := readFrom(t, path, start)
	if !strings.Contains(logged, "RATE_LIMITED") && !strings.Contains(logged, "too many") {
		t.Logf("no log line of the 429 (log_min_messages may hide errors); %d bytes logged", len(logged))
	}
	for _, s := range secrets {
		if strings.Contains(logged, s) {
			t.Errorf("the server log (%s) holds the secret %q:\n%s", path, s, excerpt(logged, s))
		}
	}
}

func logSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func readFrom(t *testing.T, path string, off int64) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// excerpt is the log line holding s.
func excerpt(log, s string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

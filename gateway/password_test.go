package gateway

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Each new connection reads the file again; a file that goes missing or
// empty keeps the last password read; a first read that fails is an error.
func TestPasswordFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "password")
	f := &passwordFile{path: path}
	cc := &pgx.ConnConfig{}
	if err := f.beforeConnect(context.Background(), cc); err == nil {
		t.Fatal("no file, no password: want an error")
	}
	for _, c := range []struct{ content, want string }{
		{"first\n", "first"}, {"second", "second"}, {"third\r\nignored\n", "third"}, {"", "third"},
	} {
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := f.beforeConnect(context.Background(), cc); err != nil || cc.Password != c.want {
			t.Fatalf("%q: %q, %v; want %q", c.content, cc.Password, err, c.want)
		}
	}
	os.Remove(path)
	if err := f.beforeConnect(context.Background(), cc); err != nil || cc.Password != "third" {
		t.Fatalf("file gone: %q, %v", cc.Password, err)
	}
}

// Only a refused password makes a request try again after a rotation.
func TestPasswordRejected(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "28P01"}, false}, // not at connect time
		{&pgconn.ConnectError{}, false},
		{context.DeadlineExceeded, false},
	} {
		if got := passwordRejected(c.err); got != c.want {
			t.Errorf("%v: %v", c.err, got)
		}
	}
}

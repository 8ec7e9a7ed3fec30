package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Rotating the gateway role's password without downtime
// (docs/operations/password-rotation.md). The password lives in a file
// (DATABASE_PASSWORD_FILE) that the rotation replaces atomically, right after
// ALTER ROLE … PASSWORD. pgxpool's BeforeConnect reads it for every new
// connection: open connections stay as they are (PostgreSQL checks a password
// at login only), new ones log in with the new password, and no pool reset is
// needed.
//
// Between ALTER ROLE and the file's replacement (milliseconds) a new
// connection still offers the old password and is refused; so is one that
// PgBouncer checks against its userlist between its reload and the file's
// replacement. A request whose connection is refused for its password tries
// once more, a moment later, with the file read again (acquire).

// passwordFile reads the password for each new connection. A file that cannot
// be read (or is empty) keeps the last password read, so that a botched edit
// costs nothing until the password really changes.
type passwordFile struct {
	path string
	mu   sync.Mutex
	last string
}

func (f *passwordFile) beforeConnect(_ context.Context, cc *pgx.ConnConfig) error {
	pw, err := readPasswordFile(f.path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		f.last = pw
	} else if f.last == "" {
		return err
	}
	cc.Password = f.last
	return nil
}

// readPasswordFile is the file's first line, without its line end.
func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read the password file: %w", errors.Unwrap(err))
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	if pw = strings.TrimSuffix(pw, "\r"); pw == "" {
		return "", fmt.Errorf("the password file %s is empty", path)
	}
	return pw, nil
}

// passwordRejected: a new connection refused for its password, by
// PostgreSQL (28P01) or by PgBouncer, whose every error is 08P01 and which
// says "SASL authentication failed" or "password authentication failed".
func passwordRejected(err error) bool {
	var connectErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	if !errors.As(err, &connectErr) || !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == "28P01" || (pgErr.Code == "08P01" && strings.Contains(pgErr.Message, "authentication failed"))
}

// rotationGrace is how long a request refused for its password waits before
// its one more try: longer than a rotation takes from ALTER ROLE to the new
// file.
const rotationGrace = 250 * time.Millisecond

// acquire takes a connection of pool (the primary's or the replica's, both
// logged in as the gateway role). A new connection refused for its password
// while DATABASE_PASSWORD_FILE is set is tried once more, rotationGrace
// later, with the file read again: a rotation is under way.
func (s *Server) acquire(ctx context.Context, pool *pgxpool.Pool) (*pgxpool.Conn, error) {
	conn, err := pool.Acquire(ctx)
	if err == nil || s.cfg.DatabasePasswordFile == "" || !passwordRejected(err) {
		return conn, err
	}
	select {
	case <-time.After(rotationGrace):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return pool.Acquire(ctx)
}

// PasswordFileHook is the pool's BeforeConnect for a password kept in a
// file (read for each new connection, the last good one kept), for the
// programs beside the gateway (the mail sender's MAILER_DATABASE_PASSWORD_FILE).
func PasswordFileHook(path string) func(context.Context, *pgx.ConnConfig) error {
	return (&passwordFile{path: path}).beforeConnect
}

// ReadPasswordFile is a password file's first line (readPasswordFile).
func ReadPasswordFile(path string) (string, error) { return readPasswordFile(path) }

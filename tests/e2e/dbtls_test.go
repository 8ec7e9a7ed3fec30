package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"homebase/gateway"
)

// withCA is the gateway's URL over TLS, verifying the server's certificate
// against the CA in caFile and the host name (sslmode=verify-full).
func withCA(t *testing.T, caFile string) string {
	t.Helper()
	u, err := url.Parse(gatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", caFile)
	u.RawQuery = q.Encode()
	return u.String()
}

// otherCA writes the certificate of a CA that signed nothing of ours.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the local CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "other-ca.crt")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// The local cluster speaks TLS (scripts/lib/cluster.sh, cluster_tls). A gateway whose
// DATABASE_URL says sslmode=verify-full with the local CA connects over TLS
// and serves; with a CA that did not sign the server's certificate it refuses
// the server, and answers 503 UNAVAILABLE rather than talk to it.
func TestDatabaseTLSVerifyFull(t *testing.T) {
	t.Parallel()
	skipBehindPgBouncer(t, "the local PgBouncer takes no TLS from clients (client_tls_sslmode = disable, loopback only)")
	ca := os.Getenv("TEST_DATABASE_CA")
	if ca == "" {
		t.Skip("TEST_DATABASE_CA is not set: the database is not the local cluster (scripts/test sets it for that)")
	}

	verified := withCA(t, ca)
	conn, err := pgx.Connect(context.Background(), verified)
	if err != nil {
		t.Fatalf("verify-full with the local CA: %v", err)
	}
	var ssl bool
	var version string
	err = conn.QueryRow(context.Background(),
		"SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &version)
	conn.Close(context.Background())
	if err != nil || !ssl {
		t.Fatalf("the connection is not TLS (ssl %v, %v)", ssl, err)
	}
	t.Logf("connected with %s", version)

	g := startGateway(t, func(c *gateway.Config) { c.DatabaseURL = verified; c.PoolSize = 2 })
	expect(t, g.do(req{Method: "GET", Path: "//readyz"}), 200, "")
	g.login(t, g.signup(t), "ua-tls")

	bad := startGateway(t, func(c *gateway.Config) { c.DatabaseURL = withCA(t, otherCA(t)); c.PoolSize = 2 })
	expect(t, bad.do(req{Method: "GET", Path: "//readyz"}), 503, "UNAVAILABLE")
	r := bad.do(req{Method: "GET", Path: "/availability?username=nobody"})
	expect(t, r, 503, "UNAVAILABLE")
	expectErrorBody(t, r)
}

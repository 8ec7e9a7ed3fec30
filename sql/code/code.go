// Package code embeds the code package (install.sql and the files it pastes)
// so that the gateway knows which package it was built with: /readyz
// compares Digest with the one the install recorded in public.code_package.
package code

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"sync"

	"github.com/jackc/tern/v2/migrate"
)

// FS holds the package's files as tern reads them from sql/code.
//
//go:embed *.sql api/*.sql publishing/*.sql tracking/*.sql
var FS embed.FS

// SQL is the package as tern evaluates it (with no template data, as
// tern.conf defines none): the one statement string that installs it.
var SQL = sync.OnceValues(func() (string, error) {
	cp, err := migrate.LoadCodePackage(FS)
	if err != nil {
		return "", err
	}
	return cp.Eval(map[string]any{})
})

// Digest is the SHA-256 (hex) of SQL, as install.sql records it from
// current_query(). It panics if the embedded package does not evaluate,
// which the tests catch at build time.
var Digest = sync.OnceValue(func() string {
	sql, err := SQL()
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(sum[:])
})

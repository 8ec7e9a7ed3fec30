package code

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
)

// sqlFiles lists the .sql files of fsys, as slash-separated paths, sorted.
func sqlFiles(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	var files []string
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".sql") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// Every file of the folder is in the build and in the install: a file that
// the embed pattern misses would be installed by tern but not counted in the
// gateway's digest, and one that install.sql does not paste would be
// installed by nobody.
func TestEveryFileIsEmbeddedAndInstalled(t *testing.T) {
	onDisk := sqlFiles(t, os.DirFS("."))
	embedded := sqlFiles(t, FS)
	if !slices.Equal(onDisk, embedded) {
		t.Fatalf("sql/code holds %v, the build embeds %v: widen the go:embed pattern in code.go", onDisk, embedded)
	}
	install, err := fs.ReadFile(FS, "install.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range embedded {
		if f == "install.sql" {
			continue
		}
		if line := `{{ template "` + f + `" . }}`; !strings.Contains(string(install), line) {
			t.Errorf("install.sql does not paste %s: add the line %s", f, line)
		}
		body, err := fs.ReadFile(FS, f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(body), "{{") {
			t.Errorf("%s holds template syntax (double braces), which tern would evaluate", f)
		}
	}
}

// The package evaluates to one SQL text holding every file, and Digest is
// its SHA-256: what install.sql records from current_query().
func TestDigestIsTheEvaluatedPackage(t *testing.T) {
	sql, err := SQL()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sql, "{{") {
		t.Fatal("the evaluated package still holds template syntax")
	}
	for _, f := range sqlFiles(t, FS) {
		body, _ := fs.ReadFile(FS, f)
		if f != "install.sql" && !strings.Contains(sql, strings.TrimSpace(string(body))) {
			t.Errorf("the evaluated package does not hold %s", f)
		}
	}
	sum := sha256.Sum256([]byte(sql))
	if got, want := Digest(), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("Digest() = %s, want %s", got, want)
	}
	if len(Digest()) != 64 {
		t.Fatalf("Digest() = %q is not 64 hex digits", Digest())
	}
}

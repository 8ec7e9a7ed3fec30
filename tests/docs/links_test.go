// Package docs checks the project's documentation: every relative link and
// image of README.md and docs/**/*.md names a file that exists, and every
// anchor a heading of the file it points into (GitHub's slugs). It needs no
// database: scripts/test runs it as the step "docs", and go test ./... runs
// it too.
package docs

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"
)

// TestLinks checks the repository's README.md and docs/.
func TestLinks(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := markdownFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d Markdown files under %s: want README.md and docs/", len(files), root)
	}
	problems, err := checkLinks(root, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestChecker shows that the checker bites: a missing file, a missing
// anchor, in the same file and in another, are each reported with file:line;
// links that resolve, external ones and links inside code are not.
func TestChecker(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", "# Top\n\n## Two `commands`\n\n"+
		"[ok](docs/a.md#a-heading) [ok](#two-commands) [ok](https://example.com/x.md)\n"+
		"[gone](docs/missing.md)\n"+
		"[bad anchor](#three-commands)\n"+
		"```\n[in code](nowhere.md)\n```\n"+
		"`[in a span](nowhere.md)` ![img](docs/none.png)\n")
	write("docs/a.md", "# A heading\n\n## Again\n\n## Again\n\n"+
		"[ok](../README.md#top) [ok](#again-1) [ok](pic.png) [ok](.)\n"+
		"[bad](../README.md#nope) [a link over\ntwo lines](b.md)\n"+
		"\n[ref]: ../README.md#two-commands\n[gone]: c.md\n")
	write("docs/pic.png", "")
	problems, err := checkLinks(root, []string{"README.md", "docs/a.md"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"README.md:6: docs/missing.md: no such file",
		"README.md:7: #three-commands: no heading of README.md has this anchor",
		"README.md:11: docs/none.png: no such file",
		"docs/a.md:8: ../README.md#nope: no heading of README.md has this anchor",
		"docs/a.md:9: b.md: no such file",
		"docs/a.md:12: c.md: no such file",
	}
	if strings.Join(problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}

func TestSlug(t *testing.T) {
	for heading, want := range map[string]string{
		"Two commands":                                                "two-commands",
		"Database chores: `scripts/db`":                               "database-chores-scriptsdb",
		"nginx: `deploy/nginx/homebase.conf`":                         "nginx-deploynginxhomebaseconf",
		"Behind PgBouncer: what is safe":                              "behind-pgbouncer-what-is-safe",
		"Rotating the gateway's database password":                    "rotating-the-gateways-database-password",
		"POST /accounts `{username, email, password, display_name?}`": "post-accounts-username-email-password-display_name",
		"The session check: `scripts/bench session`":                  "the-session-check-scriptsbench-session",
		"**Bold** and [a link](x.md)":                                 "bold-and-a-link",
		"PUT, DELETE /activities/{uuid}/like":                         "put-delete-activitiesuuidlike",
	} {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

// repoRoot is the nearest folder above the working directory (go test runs
// in the package's folder) that holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// markdownFiles is README.md and every .md file under docs/, relative to root.
func markdownFiles(root string) ([]string, error) {
	files := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(files[1:])
	return files, err
}

// link matches [text](target) and ![alt](target), with an optional title
// (the text may run over lines), and a reference definition, [label]: target.
var link = regexp.MustCompile(`!?\[([^\]]*)\]\(\s*<?([^\s()<>]*)>?(?:\s+"[^"]*")?\s*\)|(?m:^ {0,3}\[([^\]]+)\]:[ \t]*<?([^\s<>]+)>?)`)

// external links are not checked.
var external = regexp.MustCompile(`^(?i:https?:|mailto:)`)

// checkLinks returns one line per broken relative link of files (paths
// relative to root, with slashes): "file:line: target: why".
func checkLinks(root string, files []string) ([]string, error) {
	anchors := map[string]map[string]bool{} // file (slashes, relative to root) → its anchors
	anchorsOf := func(rel string) (map[string]bool, error) {
		if a, ok := anchors[rel]; ok {
			return a, nil
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		a := headingAnchors(string(b))
		anchors[rel] = a
		return a, nil
	}
	var problems []string
	for _, file := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
		if err != nil {
			return nil, err
		}
		text := prose(string(b))
		for _, m := range link.FindAllStringSubmatchIndex(text, -1) {
			at := 4 // the inline link's target, else the definition's
			if m[at] < 0 {
				at = 8
			}
			target := text[m[at]:m[at+1]]
			if target == "" || external.MatchString(target) {
				continue
			}
			line := 1 + strings.Count(text[:m[at]], "\n")
			report := func(why string) {
				problems = append(problems, fmt.Sprintf("%s:%d: %s: %s", file, line, target, why))
			}
			pathPart, anchor, _ := strings.Cut(target, "#")
			pathPart, _, _ = strings.Cut(pathPart, "?")
			if p, err := url.PathUnescape(pathPart); err == nil {
				pathPart = p
			}
			dest := file
			if pathPart != "" {
				if strings.HasPrefix(pathPart, "/") {
					dest = strings.TrimPrefix(pathPart, "/")
				} else {
					dest = filepath.ToSlash(filepath.Join(filepath.Dir(file), pathPart))
				}
				if dest == ".." || strings.HasPrefix(dest, "../") {
					report("outside the repository")
					continue
				}
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(dest))); err != nil {
					report("no such file")
					continue
				}
			}
			if anchor == "" || !strings.HasSuffix(dest, ".md") {
				continue // a line anchor of a source file (#L10) is GitHub's, not a heading
			}
			a, err := anchorsOf(dest)
			if err != nil {
				return nil, err
			}
			if !a[anchor] {
				report(fmt.Sprintf("no heading of %s has this anchor", dest))
			}
		}
	}
	return problems, nil
}

// prose is text with its fenced code blocks and code spans blanked out
// (newlines kept, so that offsets still give line numbers): a link written
// inside code is an example, not a link.
func prose(text string) string {
	lines := strings.Split(text, "\n")
	fence := ""
	for i, l := range lines {
		t := strings.TrimLeft(l, " ")
		if fence == "" {
			if f := fenceOf(t); f != "" && len(l)-len(t) < 4 {
				fence = f
				lines[i] = ""
			}
			continue
		}
		if strings.HasPrefix(t, fence) && strings.TrimRight(strings.TrimLeft(t, fence[:1]), " \t") == "" {
			fence = ""
		}
		lines[i] = ""
	}
	return blankCodeSpans(strings.Join(lines, "\n"))
}

// fenceOf is the opening fence of a fenced code block (``` or ~~~, or
// longer), or "".
func fenceOf(line string) string {
	for _, c := range []string{"`", "~"} {
		n := len(line) - len(strings.TrimLeft(line, c))
		if n >= 3 {
			return strings.Repeat(c, n)
		}
	}
	return ""
}

// blankCodeSpans replaces each code span (a run of backticks up to the next
// run of the same length) by spaces, newlines kept.
func blankCodeSpans(text string) string {
	b := []byte(text)
	for i := 0; i < len(b); {
		if b[i] != '`' {
			i++
			continue
		}
		n := 0
		for i+n < len(b) && b[i+n] == '`' {
			n++
		}
		end := -1
		for j := i + n; j < len(b); {
			if b[j] != '`' {
				j++
				continue
			}
			m := 0
			for j+m < len(b) && b[j+m] == '`' {
				m++
			}
			if m == n {
				end = j + m
				break
			}
			j += m
		}
		if end < 0 {
			i += n
			continue
		}
		for k := i; k < end; k++ {
			if b[k] != '\n' {
				b[k] = ' '
			}
		}
		i = end
	}
	return string(b)
}

var (
	atxHeading = regexp.MustCompile(`^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	setextLine = regexp.MustCompile(`^ {0,3}(?:=+|-+)[ \t]*$`)
	htmlAnchor = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
)

// headingAnchors is the set of anchors GitHub gives the headings of a
// Markdown text (and any <a name="…"> or <a id="…"> in it).
func headingAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	add := func(heading string) {
		s := slug(heading)
		if n, ok := seen[s]; ok {
			seen[s] = n + 1
			s = fmt.Sprintf("%s-%d", s, n+1)
		} else {
			seen[s] = 0
		}
		anchors[s] = true
	}
	// Headings in code blocks are not headings; code spans in headings are
	// kept (their text is part of the slug), so fences are blanked only.
	lines := strings.Split(text, "\n")
	fence := ""
	prev := ""
	for _, l := range lines {
		t := strings.TrimLeft(l, " ")
		if fence != "" {
			if strings.HasPrefix(t, fence) && strings.TrimRight(strings.TrimLeft(t, fence[:1]), " \t") == "" {
				fence = ""
			}
			prev = ""
			continue
		}
		if f := fenceOf(t); f != "" && len(l)-len(t) < 4 {
			fence = f
			prev = ""
			continue
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(l, -1) {
			anchors[m[1]] = true
		}
		if m := atxHeading.FindStringSubmatch(l); m != nil {
			add(m[1])
			prev = ""
			continue
		}
		if setextLine.MatchString(l) && strings.TrimSpace(prev) != "" && !strings.HasPrefix(strings.TrimSpace(prev), "|") {
			add(strings.TrimSpace(prev))
			prev = ""
			continue
		}
		prev = l
	}
	return anchors
}

var (
	inlineLink = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTag    = regexp.MustCompile(`<[^>]+>`)
)

// slug is GitHub's anchor for a heading: the text as rendered (links and
// images by their text, tags dropped), lower-cased, every character but
// letters, digits, '-', '_' and spaces dropped, spaces turned into '-'.
func slug(heading string) string {
	h := inlineLink.ReplaceAllString(heading, "$1")
	h = htmlTag.ReplaceAllString(h, "")
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

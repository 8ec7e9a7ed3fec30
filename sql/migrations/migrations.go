// Package migrations embeds the tern migrations so that the gateway knows the
// schema version it was built for (/readyz compares it with the database's).
package migrations

import (
	"embed"
	"regexp"
	"strconv"
)

//go:embed *.sql
var FS embed.FS

var numbered = regexp.MustCompile(`^(\d+)_.+\.sql$`)

// Latest is the highest migration number in this build.
func Latest() int32 {
	entries, err := FS.ReadDir(".")
	if err != nil {
		panic(err) // embedded at build time; cannot fail at run time
	}
	var latest int32
	for _, e := range entries {
		if m := numbered.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			if int32(n) > latest {
				latest = int32(n)
			}
		}
	}
	return latest
}

// Command top prints what each function of a database costs, for a DBA
// (scripts/db top) and after each benchmark run (scripts/bench): the
// PL/pgSQL functions PostgreSQL counts (pg_stat_user_functions, with
// track_functions = 'pl') by total time, with calls, mean and self time and
// the routes that call each (the gateway's route table), then the
// statements run inside functions that took the most time (pg_stat_statements
// with track = all; the extension lives in the postgres database, which sees
// every database's statements). Counters run since the last reset; -reset
// starts a new window (this database's counters only). docs/operations/functions.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"homebase/gateway"
)

func main() {
	dbURL := flag.String("db", "", "the database, as a superuser (scripts/db passes admin_url)")
	statsURL := flag.String("stats", "", "the postgres database, as a superuser, for pg_stat_statements (empty: no statements)")
	reset := flag.Bool("reset", false, "start a new window: zero this database's function and statement counters")
	limit := flag.Int("n", 20, "how many functions and statements to show")
	schemas := flag.String("schemas", "", "comma-separated schemas to show (empty: all)")
	flag.Parse()
	if *dbURL == "" {
		fmt.Fprintln(os.Stderr, "top: -db is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, *dbURL, *statsURL, *reset, *limit, *schemas); err != nil {
		fmt.Fprintln(os.Stderr, "top:", err)
		os.Exit(1)
	}
}

// Function is one row of pg_stat_user_functions, times in milliseconds.
type Function struct {
	Schema, Name string
	Calls        int64
	Total, Self  float64
}

// Statement is one row of pg_stat_statements run inside a function.
type Statement struct {
	Query       string
	Calls       int64
	Total, Mean float64
}

func run(ctx context.Context, w io.Writer, dbURL, statsURL string, reset bool, limit int, schemas string) error {
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	var stats *pgx.Conn
	if statsURL != "" {
		if stats, err = pgx.Connect(ctx, statsURL); err != nil {
			return err
		}
		defer stats.Close(ctx)
		if err := ensureStatements(ctx, stats); err != nil {
			fmt.Fprintf(w, "(no statements: %v)\n", err)
			stats.Close(ctx)
			stats = nil
		}
	}
	if reset {
		if _, err := db.Exec(ctx, "SELECT pg_stat_reset()"); err != nil {
			return err
		}
		if stats != nil {
			if _, err := stats.Exec(ctx, `SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = $1), 0)`,
				db.Config().Database); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "counters of database %s reset: a new window starts now\n", db.Config().Database)
		return nil
	}
	var on string
	var since *time.Time
	if err := db.QueryRow(ctx, `SELECT current_setting('track_functions'), (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database())`).
		Scan(&on, &since); err != nil {
		return err
	}
	window := "since the cluster started"
	if since != nil {
		window = "since " + since.Format(time.RFC3339) + fmt.Sprintf(" (%s ago)", time.Since(*since).Round(time.Second))
	}
	fmt.Fprintf(w, "database %s, %s\n", db.Config().Database, window)
	if on == "none" {
		fmt.Fprintln(w, "track_functions is off: no function is counted (docs/operations/functions.md)")
	}
	fns, err := functions(ctx, db, schemas)
	if err != nil {
		return err
	}
	writeFunctions(w, fns, routesByFunction(), limit)
	if stats != nil {
		sts, err := statements(ctx, stats, db.Config().Database, limit)
		if err != nil {
			return err
		}
		writeStatements(w, sts)
	}
	return nil
}

// ensureStatements makes pg_stat_statements readable in the postgres
// database: the library must be preloaded (scripts/lib/cluster.sh does it).
func ensureStatements(ctx context.Context, c *pgx.Conn) error {
	var loaded bool
	if err := c.QueryRow(ctx, `SELECT 'pg_stat_statements' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))`).
		Scan(&loaded); err != nil {
		return err
	}
	if !loaded {
		return fmt.Errorf("pg_stat_statements is not in shared_preload_libraries")
	}
	_, err := c.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
	return err
}

func functions(ctx context.Context, db *pgx.Conn, schemas string) ([]Function, error) {
	var list []string
	if schemas != "" {
		list = strings.Split(schemas, ",")
	}
	rows, err := db.Query(ctx, `
		SELECT schemaname::text, funcname::text, sum(calls)::bigint, sum(total_time), sum(self_time)
		  FROM pg_stat_user_functions
		 WHERE $1::text[] IS NULL OR schemaname = ANY ($1)
		 GROUP BY 1, 2
		 ORDER BY 4 DESC, 1, 2`, list)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Function, error) {
		var f Function
		err := r.Scan(&f.Schema, &f.Name, &f.Calls, &f.Total, &f.Self)
		return f, err
	})
}

func statements(ctx context.Context, c *pgx.Conn, dbname string, limit int) ([]Statement, error) {
	rows, err := c.Query(ctx, `
		SELECT query, calls, total_exec_time, mean_exec_time
		  FROM pg_stat_statements
		 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) AND NOT toplevel
		 ORDER BY total_exec_time DESC
		 LIMIT $2`, dbname, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Statement, error) {
		var s Statement
		err := r.Scan(&s.Query, &s.Calls, &s.Total, &s.Mean)
		return s, err
	})
}

// routesByFunction: "api.login" → ["POST /sessions"], from the route table.
func routesByFunction() map[string][]string {
	m := map[string][]string{}
	for _, rt := range gateway.Routes {
		m[rt.Func] = append(m[rt.Func], rt.Method+" "+rt.Path)
	}
	for _, v := range m {
		sort.Strings(v)
	}
	return m
}

func writeFunctions(w io.Writer, fns []Function, routes map[string][]string, limit int) {
	if len(fns) == 0 {
		fmt.Fprintln(w, "no function calls counted in this window")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "function\tcalls\ttotal ms\tmean ms\tself ms\troute\t")
	for i, f := range fns {
		if i == limit {
			fmt.Fprintf(tw, "(%d more)\t\t\t\t\t\t\n", len(fns)-limit)
			break
		}
		name := f.Schema + "." + f.Name
		mean := 0.0
		if f.Calls > 0 {
			mean = f.Total / float64(f.Calls)
		}
		route := strings.Join(routes[name], ", ")
		if route == "" {
			route = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.3f\t%.1f\t%s\t\n", name, f.Calls, f.Total, mean, f.Self, route)
	}
	tw.Flush()
}

func writeStatements(w io.Writer, sts []Statement) {
	if len(sts) == 0 {
		fmt.Fprintln(w, "no statement inside a function counted in this window")
		return
	}
	fmt.Fprintln(w, "statements inside functions, by total time:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "calls\ttotal ms\tmean ms\t statement")
	for _, s := range sts {
		fmt.Fprintf(tw, "%d\t%.1f\t%.3f\t %s\n", s.Calls, s.Total, s.Mean, oneLine(s.Query, 110))
	}
	tw.Flush()
}

// oneLine folds a statement's whitespace and cuts it to n characters.
func oneLine(q string, n int) string {
	q = strings.Join(strings.Fields(q), " ")
	if r := []rune(q); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return q
}

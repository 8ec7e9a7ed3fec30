package e2e

import (
	"context"
	"strings"
	"testing"

	"homebase/gateway"
)

// The route table and the api schema must describe the same functions: each
// route's function exists with the argument types the route sends (the
// context, then the route's arguments) and their names (so that two
// arguments of one type swapped in a route row, a title and an excerpt say,
// cannot reach each other's parameter), and every
// api function is reachable (api.readiness through /readyz, api.maintenance
// through the gateway's timer).
func TestRouteTableMatchesAPISchema(t *testing.T) {
	ctx := context.Background()
	rows, err := owner.Query(ctx, `
		SELECT p.oid::regproc::text, coalesce(string_agg(format_type(t.type, NULL), ',' ORDER BY t.ord), ''),
		       coalesce(array_to_string(p.proargnames[2:], ','), '')
		  FROM pg_proc p
		  JOIN pg_namespace n ON n.oid = p.pronamespace
		  LEFT JOIN LATERAL unnest(p.proargtypes) WITH ORDINALITY AS t(type, ord) ON true
		 WHERE n.nspname = 'api'
		 GROUP BY p.oid`)
	if err != nil {
		t.Fatal(err)
	}
	functions := map[string]string{}
	params := map[string]string{} // the parameters' names after the context
	for rows.Next() {
		var name, types, names string
		if err := rows.Scan(&name, &types, &names); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "api.") {
			name = "api." + name
		}
		functions[name] = types
		params[name] = names
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}

	sqlType := func(a gateway.Arg) string {
		switch a.Kind {
		case gateway.Int:
			return "bigint"
		case gateway.UUID:
			return "uuid"
		case gateway.Number:
			return "numeric"
		}
		return "text"
	}
	// A route argument is the parameter of its name, but for the names SQL
	// reserves or that say more in SQL, and a form field named by an RFC.
	sqlName := map[string]string{"limit": "row_limit", "uuid": "activity_uuid", "from": "from_at", "to": "to_at",
		"List-Unsubscribe": "list_unsubscribe"}
	// The functions the gateway calls on its own: readiness, maintenance, the
	// per-function counters (dbstats.go) and the wrapper of every call (callSQL).
	used := map[string]bool{"api.readiness": true, "api.maintenance": true, "api.function_stats": true, "api.timed": true}
	for _, rt := range gateway.Routes {
		// Every route's function takes the request's context first.
		want := []string{"request.context"}
		for _, a := range rt.Args {
			want = append(want, sqlType(a))
		}
		got, ok := functions[rt.Func]
		if !ok {
			t.Errorf("%s %s: function %s does not exist (or is overloaded)", rt.Method, rt.Path, rt.Func)
			continue
		}
		if got != strings.Join(want, ",") {
			t.Errorf("%s %s: %s(%s), but the route sends (%s)", rt.Method, rt.Path, rt.Func, got, strings.Join(want, ","))
		}
		var names []string
		for _, a := range rt.Args {
			n := a.Name
			if m, ok := sqlName[n]; ok {
				n = m
			}
			names = append(names, n)
		}
		if params[rt.Func] != strings.Join(names, ",") {
			t.Errorf("%s %s: %s's parameters are (ctx, %s), but the route sends (ctx, %s)",
				rt.Method, rt.Path, rt.Func, params[rt.Func], strings.Join(names, ","))
		}
		used[rt.Func] = true
	}
	for name := range functions {
		if !used[name] {
			t.Errorf("%s has no route", name)
		}
	}
}

// routePath is the route's path under /api/v1 with each path parameter
// replaced by vals[name], or, when vals has none for it, by a well-formed
// value of its kind ("1", or a UUID).
func routePath(rt gateway.Route, vals map[string]string) string {
	p := rt.Path
	for _, a := range rt.Args {
		if a.From != gateway.FromPath {
			continue
		}
		v, ok := vals[a.Name]
		if !ok {
			v = "1"
			if a.Kind == gateway.UUID {
				v = "00000000-0000-4000-8000-000000000001"
			}
		}
		p = strings.ReplaceAll(p, "{"+a.Name+"}", v)
	}
	return p
}

-- scripts/test, step "plpgsql_check": every PL/pgSQL function of the project
-- (any schema but pg_catalog and information_schema, leaving out those that
-- extensions bring) through plpgsql_check. Prints every finding; raises (and
-- so fails the step) if any is an error. Expects the extension in schema
-- plpgsql_check.
\set VERBOSITY terse
-- A trigger function is checked once per table whose trigger runs it:
-- plpgsql_check resolves NEW and OLD (and transition tables) against that table.
CREATE TEMP TABLE checked AS
SELECT DISTINCT p.oid AS fn, p.prorettype = 'trigger'::regtype AS is_trigger,
       t.tgrelid AS rel, t.tgoldtable AS oldtable, t.tgnewtable AS newtable,
       format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS fn_name,
       quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) AS rel_name
  FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang
  JOIN pg_namespace n ON n.oid = p.pronamespace
  LEFT JOIN pg_trigger t ON t.tgfoid = p.oid
  LEFT JOIN pg_class tc ON tc.oid = t.tgrelid
  LEFT JOIN pg_namespace tn ON tn.oid = tc.relnamespace
 WHERE l.lanname = 'plpgsql'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e');

CREATE TEMP TABLE findings AS
SELECT c.fn, c.fn_name, c.rel_name, f.lineno, f.statement, f.sqlstate, f.message, f.detail, f.hint, f.level, f.query
  FROM checked c,
       LATERAL plpgsql_check.plpgsql_check_function_tb(c.fn, coalesce(c.rel, 0),
                 fatal_errors => false, security_warnings => true,
                 oldtable => c.oldtable, newtable => c.newtable) f
 WHERE (c.rel IS NOT NULL OR NOT c.is_trigger)
   -- Every api function takes the request's context first, by contract (the
   -- gateway calls them all alike); a public route that needs no session
   -- leaves it unused, on purpose.
   AND NOT (f.message = 'unused parameter "ctx"' AND c.fn_name LIKE 'api.%')
UNION ALL
-- Without a table there is nothing to check it against: say so rather than skip it.
SELECT c.fn, c.fn_name, NULL, NULL, NULL, NULL, 'trigger function that no trigger runs: not checked', NULL, NULL, 'warning', NULL
  FROM checked c
 WHERE c.is_trigger AND c.rel IS NULL;

SELECT format('%-7s %s%s%s%s: %s%s', f.level, f.fn_name, ' on ' || f.rel_name,
              ' line ' || f.lineno, ' (' || f.statement || ')', f.message, ' [' || nullif(f.sqlstate, '00000') || ']')
       || coalesce(E'\n        detail: ' || f.detail, '') || coalesce(E'\n        hint: ' || f.hint, '')
       || coalesce(E'\n        query: ' || replace(f.query, E'\n', E'\n               '), '')
  FROM findings f
 ORDER BY f.level <> 'error', f.fn_name, f.rel_name, f.lineno;

SELECT format('plpgsql_check: %s functions checked, %s errors, %s warnings',
              (SELECT count(DISTINCT fn) FROM checked),
              count(*) FILTER (WHERE level = 'error'), count(*) FILTER (WHERE level <> 'error'))
  FROM findings;

DO $$
BEGIN
  IF EXISTS (SELECT FROM findings WHERE level = 'error') THEN
    RAISE EXCEPTION 'plpgsql_check: % error(s) above', (SELECT count(*) FROM findings WHERE level = 'error');
  END IF;
END
$$;

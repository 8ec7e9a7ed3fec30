-- Every api function that takes the request's context first checks the
-- session (auth.check_session, sql/code/auth.sql) before anything else,
-- except the public ones listed below: read from the catalog, so that a new
-- route is covered without a line here. Each is called as the gateway calls
-- it (SET LOCAL ROLE gateway, the context built by pg_temp.ctx,
-- helpers.psql) with its other arguments NULL, once without a token and
-- once with a token no session has: a function with a session answers the
-- committed 401 INVALID (response.fail) both times; a public one answers
-- something else (a body, another failure, or a raised error: each call
-- runs in a savepoint of its own, a PL/pgSQL exception block). The other
-- answers of a session (EXPIRED, BROWSER, an idle or disabled account):
-- 03_sessions.sql, 10_sessions_posture.sql.
BEGIN;

\ir helpers.psql

-- The routes a client calls without a session (gateway/routes.go's Auth
-- false, which SQL cannot see), and api.timed, which wraps every call and
-- answers the wrapped function's answer (NULL here).
CREATE TEMPORARY TABLE public_routes (name text PRIMARY KEY);
INSERT INTO public_routes VALUES ('availability'), ('signup'), ('login'), ('list_posts'), ('get_post'),
  ('home_feed'), ('get_activity'), ('list_replies'), ('user_activities'),
  ('confirm_email'), ('request_password_reset'), ('reset_password'), ('unsubscribe'), ('timed');

-- The api functions whose first parameter is the request's context, each
-- with the call that passes it a context and NULL for every other argument
-- (typed, so that the call names one signature).
CREATE TEMPORARY TABLE context_routes AS
SELECT p.oid::regprocedure AS fn, p.proname::text AS name,
       (SELECT coalesce(string_agg(format(', NULL::%s', format_type(p.proargtypes[i], NULL)), '' ORDER BY i), '')
          FROM generate_series(1, p.pronargs - 1) i) AS nulls
  FROM pg_proc p
 WHERE p.pronamespace = 'api'::regnamespace AND p.pronargs > 0 AND p.proargtypes[0] = 'request.context'::regtype;
GRANT SELECT ON public_routes, context_routes TO gateway;

-- The answer of a call: '<$status> <code>' of its body (pg_temp.failure),
-- or 'raised <SQLSTATE>'; rolled back to its savepoint if it raised.
CREATE FUNCTION pg_temp.answer(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN pg_temp.failure(q);
EXCEPTION WHEN OTHERS THEN
  RETURN 'raised ' || SQLSTATE;
END
$$;

SELECT plan(2 + 2 * (SELECT count(*)::integer FROM context_routes));

SELECT cmp_ok((SELECT count(*) FROM context_routes WHERE name NOT IN (SELECT name FROM public_routes)), '>=', 40::bigint,
              'the catalog names the api functions that take a context (a guard against a query that finds none)');
SELECT is_empty($$SELECT name FROM public_routes EXCEPT SELECT name FROM context_routes$$,
                'every public route named here is an api function that takes a context');

SET LOCAL ROLE gateway;

SELECT CASE WHEN r.name IN (SELECT name FROM public_routes)
            THEN isnt(pg_temp.answer(q), '401 INVALID', format('%s is public: no 401 %s', r.fn, how))
            ELSE is(pg_temp.answer(q), '401 INVALID', format('%s %s is a committed 401 INVALID', r.fn, how))
       END
  FROM context_routes r,
       LATERAL (VALUES ('without a token', format('SELECT api.%I(pg_temp.ctx(browser => %L)%s)', r.name, 'UA-tap17', r.nulls)),
                       ('with an unknown token', format('SELECT api.%I(pg_temp.ctx(token => %L, browser => %L)%s)',
                                                        r.name, 'tap17-no-such-token', 'UA-tap17', r.nulls))) c(how, q)
 ORDER BY r.name, c.how;

SELECT * FROM finish();
ROLLBACK;

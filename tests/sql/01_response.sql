-- The request context (its type: sql/migrations/001_foundation.sql; its
-- constructor: sql/code/request.sql) and the response helpers
-- (sql/code/response.sql): timestamps, error bodies, raised and committed
-- failures.
BEGIN;
SELECT plan(34);

\ir helpers.psql

-- request.context: the type's attributes, in the order the gateway's
-- anonymous ROW(...) follows.
SELECT is((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
            WHERE a.attrelid = (SELECT t.typrelid FROM pg_type t WHERE t.oid = 'request.context'::regtype)
              AND a.attnum > 0 AND NOT a.attisdropped),
          ARRAY['token', 'browser', 'ip', 'request_id', 'proxy_user', 'trace_id'],
          'request.context is (token, browser, ip, request_id, proxy_user, trace_id)');
-- The constructor: every item named and optional; what is omitted is NULL.
SELECT is(to_jsonb(request.context(token => 'tok', browser => 'UA', ip => '192.0.2.1', request_id => 'req-1')),
          '{"token": "tok", "browser": "UA", "ip": "192.0.2.1", "request_id": "req-1", "proxy_user": null, "trace_id": null}'::jsonb,
          'request.context(...) builds the composite from named arguments');
SELECT is(to_jsonb(request.context(request_id => 'req-2', browser => 'UA')),
          '{"token": null, "browser": "UA", "ip": null, "request_id": "req-2", "proxy_user": null, "trace_id": null}'::jsonb,
          'named arguments in any order; omitted items are NULL');
SELECT ok(request.context() IS NULL, 'request.context() without arguments has every item NULL');
SELECT is(request.context('tok', 'UA'), ROW('tok', 'UA', NULL, NULL, NULL, NULL)::request.context,
          'positional arguments follow the attribute order');
SELECT throws_ok($$SELECT request.context(ip => 'not an address')$$, '22P02', NULL, 'ip is an inet');
-- The tests' own constructor for the gateway role (helpers.psql) builds the same.
SELECT is(pg_temp.ctx(ip => '192.0.2.1', request_id => 'req-3'), request.context(ip => '192.0.2.1', request_id => 'req-3'),
          'pg_temp.ctx builds what request.context builds');

-- response.ts: RFC 3339 in UTC, whatever the session's TimeZone.
SET LOCAL TimeZone = 'America/New_York';
SELECT is(response.ts('2024-03-05 14:07:09.123456+02'), '2024-03-05T12:07:09.123456Z',
          'ts renders UTC under TimeZone America/New_York');
SET LOCAL TimeZone = 'Asia/Kolkata';
SELECT is(response.ts('2024-03-05 14:07:09.123456+02'), '2024-03-05T12:07:09.123456Z',
          'ts renders the same under TimeZone Asia/Kolkata');
SELECT is(response.ts('2024-01-01 01:30:00+05'), '2023-12-31T20:30:00.000000Z',
          'ts converts across a date (and year) boundary, with microseconds always shown');
SELECT is(response.ts('2024-07-01 12:00:00 Europe/Paris'), '2024-07-01T10:00:00.000000Z',
          'ts applies daylight saving time of the source zone');
SELECT is(response.ts('2024-03-05 14:07:09.5+02')::timestamptz, '2024-03-05 14:07:09.5+02'::timestamptz,
          'ts output parses back to the same instant');
SELECT is(response.ts(NULL), NULL, 'ts of NULL is NULL');
RESET TimeZone;

-- response.raise: SQLSTATE PT<status>, human MESSAGE, DETAIL {"code", "details"}, HINT.
SELECT throws_ok($$SELECT response.raise(404, 'NOT_FOUND', 'no such thing')$$, 'PT404', 'no such thing',
                 'raise(404) raises PT404 with the message');
SELECT throws_ok($$SELECT response.raise(409, 'USERNAME_TAKEN', 'taken')$$, 'PT409', 'taken',
                 'raise(409) raises PT409');
SELECT throws_ok($$SELECT response.raise(400, 'BAD', 'lowest error status')$$, 'PT400', 'lowest error status',
                 'raise accepts 400');
SELECT throws_ok($$SELECT response.raise(599, 'ODD', 'highest error status')$$, 'PT599', 'highest error status',
                 'raise accepts 599');
SELECT is((pg_temp.error_of($$SELECT response.raise(404, 'NOT_FOUND', 'no such thing')$$)->>'detail')::jsonb,
          '{"code": "NOT_FOUND", "details": null}'::jsonb, 'raise puts the code in DETAIL as JSON, details null');
SELECT is((pg_temp.error_of($$SELECT response.raise(422, 'VALIDATION', 'bad', '{"email": "required"}')$$)->>'detail')::jsonb,
          '{"code": "VALIDATION", "details": {"email": "required"}}'::jsonb, 'raise puts details in DETAIL as JSON');
SELECT is(pg_temp.error_of($$SELECT response.raise(404, 'NOT_FOUND', 'no such thing')$$)->>'hint', NULL,
          'raise without a hint leaves HINT empty');
SELECT is(pg_temp.error_of($$SELECT response.raise(429, 'RATE_LIMITED', 'slow down', NULL, 'wait a minute')$$)
          - 'detail',
          '{"sqlstate": "PT429", "message": "slow down", "hint": "wait a minute"}'::jsonb,
          'raise with a hint sets HINT and keeps SQLSTATE and MESSAGE');
SELECT is((pg_temp.error_of($$SELECT response.raise(429, 'RATE_LIMITED', 'slow down', '{"retry_after": 3}', 'wait')$$)->>'detail')::jsonb,
          '{"code": "RATE_LIMITED", "details": {"retry_after": 3}}'::jsonb, 'raise with a hint still sets DETAIL');

-- response.raise refuses statuses that are not errors.
SELECT throws_ok($$SELECT response.raise(200, 'OK', 'fine')$$, 'P0001',
                 'response.raise: status 200 is not an error status', 'raise refuses 200');
SELECT throws_ok($$SELECT response.raise(399, 'X', 'x')$$, 'P0001',
                 'response.raise: status 399 is not an error status', 'raise refuses 399');
SELECT throws_ok($$SELECT response.raise(600, 'X', 'x')$$, 'P0001',
                 'response.raise: status 600 is not an error status', 'raise refuses 600');

-- response.fail: returns the error body with its status as "$status", does not raise.
SELECT is(response.fail(401, 'EXPIRED', 'the session has expired', NULL, 'log in again')::jsonb,
          '{"$status": 401, "code": "EXPIRED", "message": "the session has expired", "details": null, "hint": "log in again"}'::jsonb,
          'fail returns the error body and its status');
SELECT is((SELECT array_agg(k ORDER BY k) FROM json_object_keys(response.fail(409, 'C', 'm')) k),
          ARRAY['$status', 'code', 'details', 'hint', 'message'], 'fail''s body has exactly the four keys and $status');
SELECT lives_ok($$SELECT response.fail(409, 'CONFLICT', 'conflict', '{"a": 1}')$$, 'fail does not raise');
SELECT is((response.fail(418, 'X', 'x', '{"a": [1, 2]}')::jsonb)->'details', '{"a": [1, 2]}'::jsonb,
          'fail carries details');
SELECT throws_ok($$SELECT response.fail(200, 'OK', 'fine')$$, 'P0001',
                 'response.fail: status 200 is not an error status', 'fail refuses 200');
SELECT throws_ok($$SELECT response.fail(600, 'X', 'x')$$, 'P0001',
                 'response.fail: status 600 is not an error status', 'fail refuses 600');
-- The gateway finds "$status" by its text: json_build_object writes it as
-- "$status", whatever the message holds.
SELECT ok(strpos(response.fail(503, 'X', '"$status"')::text, '"$status" : 503') > 0,
          'the status is written as "$status" : <status>');

-- The helpers are for api functions: the gateway cannot call them directly.
SET LOCAL ROLE gateway;
SELECT throws_ok($$SELECT response.fail(401, 'X', 'x')$$, '42501', NULL, 'the gateway cannot call response.fail');
SELECT throws_ok($$SELECT response.ts(now())$$, '42501', NULL, 'the gateway cannot call response.ts');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

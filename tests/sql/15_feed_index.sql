-- The home feed's index serves the expiry test (sql/migrations/012,
-- publishing.feed_keys, api.home_feed): with many activities that have
-- expired but are not deleted yet in front of the visible ones, the page's
-- keys come from an index-only scan that filters the expired ones on the
-- index entries, without a heap fetch.
-- The fixture is committed (VACUUM, which sets the visibility map an
-- index-only scan needs, cannot run in a transaction) and deleted at the
-- end; the assertions run in a transaction rolled back as usual.
SET client_min_messages = warning;
INSERT INTO auth.accounts (username, email, password_hash)
VALUES ('tap15_ann', 'tap15.ann@example.com', auth.dummy_password_hash());
-- 500 expired activities, the newest of the table (created a day ahead, so
-- whatever else the table holds is behind them), then 30 visible ones.
INSERT INTO publishing.activities (author_id, message, expires_at, created_at)
SELECT a.id, 'tap15 expired ' || i, now() - interval '1 minute', now() + interval '1 day' + i * interval '1 millisecond'
  FROM auth.accounts a, generate_series(1, 500) i WHERE a.username = 'tap15_ann';
INSERT INTO publishing.activities (author_id, message, created_at)
SELECT a.id, 'tap15 visible ' || i, now() + interval '1 hour' + i * interval '1 second'
  FROM auth.accounts a, generate_series(1, 30) i WHERE a.username = 'tap15_ann';
-- 30 more visible ones with one created_at, behind those: a tie that the
-- pages of 20 cut.
INSERT INTO publishing.activities (author_id, message, created_at)
SELECT a.id, 'tap15 tied ' || i, now() - interval '1 hour'
  FROM auth.accounts a, generate_series(1, 30) i WHERE a.username = 'tap15_ann';
VACUUM (ANALYZE) publishing.activities;

BEGIN;
SELECT plan(8);
-- A table this small is cheaper to read whole; the feed's tables are not
-- (docs/benchmarks.md, "The home feed"), so take the planner's other choices away.
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;

-- The scan node of publishing.activities in the EXPLAIN (ANALYZE, FORMAT
-- JSON) plan of a query.
CREATE FUNCTION pg_temp.activities_scan(q text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE v jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ' || q INTO v;
  RETURN jsonb_path_query_first(v, 'strict $.**? (@."Relation Name" == "activities")');
END
$$;

-- The first page's keys, as api.home_feed asks for them (limit + 1).
SELECT pg_temp.activities_scan($$SELECT * FROM publishing.feed_keys('infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 21)$$) AS scan \gset
SELECT is(:'scan'::jsonb ->> 'Node Type', 'Index Only Scan', 'the feed''s keys come from an index-only scan');
SELECT is(:'scan'::jsonb ->> 'Index Name', 'activities_feed_visible_idx', '... of the feed''s index');
-- VACUUM marks the fixture's pages all-visible only when nothing holds an
-- older snapshot back: a replication slot with an xmin (the local replica,
-- hot_standby_feedback, stopped since it last ran) does, for the whole
-- cluster. Then the index-only scan must check the heap, and there is
-- nothing to assert about heap fetches.
SELECT count(*) > 0 AS held FROM pg_replication_slots WHERE xmin IS NOT NULL \gset
\if :held
SELECT skip('a replication slot holds the xmin horizon back: VACUUM cannot set the visibility map');
\else
SELECT is((:'scan'::jsonb ->> 'Heap Fetches')::integer, 0, '... which reads no row from the heap');
\endif
SELECT cmp_ok((:'scan'::jsonb ->> 'Rows Removed by Filter')::integer, '>=', 500,
              '... while it passes the 500 expired activities on the index entries alone');
SELECT is((:'scan'::jsonb ->> 'Actual Rows')::integer, 21, '... and finds limit + 1 visible ones');

SELECT is((SELECT array_agg(x ->> 'message') FROM json_array_elements(api.home_feed(request.context(), NULL, 20) -> 'activities') x),
          (SELECT array_agg('tap15 visible ' || i ORDER BY i DESC) FROM generate_series(11, 30) i),
          'the first page holds the 20 newest visible activities, none of the expired ones before them');

-- The pages after the first: the 10 oldest visible activities, then the 30
-- tied ones, cut by the page boundary: each once, by uuid, newest first.
CREATE TEMP TABLE pages AS
WITH RECURSIVE p(n, answer) AS (
  SELECT 1, api.home_feed(request.context(), NULL, 20)
  UNION ALL
  SELECT n + 1, api.home_feed(request.context(), answer ->> 'next', 20) FROM p WHERE answer ->> 'next' IS NOT NULL AND n < 10)
SELECT n, x.ord, x.item FROM p, json_array_elements(p.answer -> 'activities') WITH ORDINALITY x(item, ord);
SELECT is((SELECT array_agg(item ->> 'uuid' ORDER BY n, ord) FROM pages WHERE item ->> 'message' LIKE 'tap15 tied %'),
          (SELECT array_agg(uuid::text ORDER BY uuid DESC) FROM publishing.activities WHERE message LIKE 'tap15 tied %'),
          'the 30 activities of one created_at come once each, by uuid, newest first, across the page boundary');
SELECT is((SELECT count(DISTINCT n)::integer FROM pages WHERE item ->> 'message' LIKE 'tap15 tied %'), 2,
          '... split over two pages');

SELECT * FROM finish();
ROLLBACK;

DELETE FROM auth.accounts WHERE username = 'tap15_ann';

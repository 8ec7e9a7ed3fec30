-- The home feed's index serves the expiry test (sql/migrations/012,
-- publishing.feed_keys, api.home_feed): with many activities that have
-- expired but are not deleted yet in front of the visible ones, the page's
-- keys come from index-only scans of the GiST index, whose inner pages
-- hold the range of expiry times below them, so the expired ones are
-- skipped by the subtree, not passed entry by entry; and the page is exact
-- (newest first, ties on created_at by uuid) although GiST orders by
-- distance only.
-- The fixture is committed (VACUUM, which sets the visibility map an
-- index-only scan needs, cannot run in a transaction) and deleted at the
-- end; the assertions run in a transaction rolled back as usual.
SET client_min_messages = warning;
INSERT INTO auth.accounts (username, email, password_hash)
VALUES ('tap15_ann', 'tap15.ann@example.com', auth.dummy_password_hash());
-- 5000 expired activities, the newest of the table (created a day ahead, so
-- whatever else the table holds is behind them), then 30 visible ones, then
-- 30 visible ones with one created_at (a tie across the page boundary).
INSERT INTO publishing.activities (author_id, message, expires_at, created_at)
SELECT a.id, 'tap15 expired ' || i, now() - interval '1 minute', now() + interval '1 day' + i * interval '1 millisecond'
  FROM auth.accounts a, generate_series(1, 5000) i WHERE a.username = 'tap15_ann';
INSERT INTO publishing.activities (author_id, message, created_at)
SELECT a.id, 'tap15 visible ' || i, now() + interval '1 hour' + i * interval '1 second'
  FROM auth.accounts a, generate_series(1, 30) i WHERE a.username = 'tap15_ann';
INSERT INTO publishing.activities (author_id, message, created_at)
SELECT a.id, 'tap15 tied ' || i, now() - interval '1 hour'
  FROM auth.accounts a, generate_series(1, 30) i WHERE a.username = 'tap15_ann';
VACUUM (ANALYZE) publishing.activities;

BEGIN;
SELECT plan(10);
-- A table this small is cheaper to read whole; the feed's tables are not
-- (README, "The home feed"), so take the planner's other choices away.
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;

-- The scan nodes of publishing.activities in the EXPLAIN (ANALYZE, BUFFERS,
-- FORMAT JSON) plan of a query, in plan order.
CREATE FUNCTION pg_temp.activities_scans(q text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE v jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ' || q INTO v;
  RETURN jsonb_path_query_array(v, 'strict $.**? (@."Relation Name" == "activities")');
END
$$;

-- The first page's keys, as api.home_feed asks for them (limit + 1).
SELECT pg_temp.activities_scans($$SELECT * FROM publishing.feed_keys('infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 21)$$) AS scans \gset
SELECT is(jsonb_array_length(:'scans'), 2, 'the feed''s keys come from two scans (the distance order, then the exact page)');
SELECT is((SELECT array_agg(DISTINCT s ->> 'Node Type') FROM jsonb_array_elements(:'scans') s), '{"Index Only Scan"}',
          '... both index-only scans');
SELECT is((SELECT array_agg(DISTINCT s ->> 'Index Name') FROM jsonb_array_elements(:'scans') s), '{activities_feed_gist_idx}',
          '... of the feed''s GiST index');
SELECT is((SELECT sum((s ->> 'Heap Fetches')::integer) FROM jsonb_array_elements(:'scans') s), 0::bigint,
          '... which read no row from the heap');
-- Passing the 5000 expired entries one by one would read ~25 index pages
-- (a B-tree with expires_at INCLUDEd did); the GiST index prunes them
-- by the subtree.
SELECT cmp_ok((SELECT max((s ->> 'Shared Hit Blocks')::integer + (s ->> 'Shared Read Blocks')::integer)
                 FROM jsonb_array_elements(:'scans') s), '<', 15,
              '... each in a few index pages, past the 5000 expired activities in front');
SELECT is((SELECT sum(coalesce((s ->> 'Rows Removed by Filter')::integer, 0)) FROM jsonb_array_elements(:'scans') s), 0::bigint,
          '... none of which is filtered entry by entry');
SELECT is((:'scans'::jsonb -> -1 ->> 'Actual Rows')::integer, 21, '... and the page''s scan finds limit + 1 visible ones');

SELECT is((SELECT array_agg(x ->> 'message') FROM json_array_elements(api.home_feed(request.context(), NULL, 20) -> 'activities') x),
          (SELECT array_agg('tap15 visible ' || i ORDER BY i DESC) FROM generate_series(11, 30) i),
          'the first page holds the 20 newest visible activities, none of the expired ones before them');

-- 30 activities with one created_at, cut by the pages of 20 after the 10
-- oldest visible ones: each once, by uuid, newest first.
CREATE TEMP TABLE pages AS
WITH RECURSIVE p(n, answer) AS (
  SELECT 1, api.home_feed(request.context(), NULL, 20)
  UNION ALL
  SELECT n + 1, api.home_feed(request.context(), answer ->> 'next', 20) FROM p WHERE answer ->> 'next' IS NOT NULL AND n < 10)
SELECT n, x.ord, x.item FROM p, json_array_elements(p.answer -> 'activities') WITH ORDINALITY x(item, ord)
 WHERE x.item ->> 'message' LIKE 'tap15 %';
SELECT is((SELECT array_agg(item ->> 'uuid' ORDER BY n, ord) FROM pages WHERE item ->> 'message' LIKE 'tap15 tied %'),
          (SELECT array_agg(uuid::text ORDER BY uuid DESC) FROM publishing.activities WHERE message LIKE 'tap15 tied %'),
          'the 30 tied activities come once each, by uuid, newest first, across the page boundary');
SELECT is((SELECT count(DISTINCT n)::integer FROM pages WHERE item ->> 'message' LIKE 'tap15 tied %'), 2,
          '... split over two pages');

SELECT * FROM finish();
ROLLBACK;

DELETE FROM auth.accounts WHERE username = 'tap15_ann';

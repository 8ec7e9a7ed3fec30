-- The home feed skips a run of expired activities (sql/migrations/012 and
-- 013, publishing.feed_keys, api.home_feed): with 20,000 activities that
-- have expired but are not deleted yet in front of the visible ones, the
-- page's keys come from a few entries of the feed's B-tree and a few of its
-- GiST index, not from one B-tree entry per expired activity, and they are
-- the keys a plain filtered scan finds.
-- The fixture is committed (VACUUM, which sets the visibility map an
-- index-only scan needs, cannot run in a transaction) and deleted at the
-- end; the assertions run in a transaction rolled back as usual.
SET client_min_messages = warning;
INSERT INTO auth.accounts (username, email, password_hash)
VALUES ('tap15_ann', 'tap15.ann@example.com', auth.dummy_password_hash());
-- 20,000 expired activities, the newest of the table (created a day ahead,
-- so that whatever else the table holds is behind them), then 30 visible ones.
INSERT INTO publishing.activities (author_id, message, expires_at, created_at)
SELECT a.id, 'tap15 expired ' || i, now() - interval '1 minute', now() + interval '1 day' + i * interval '1 millisecond'
  FROM auth.accounts a, generate_series(1, 20000) i WHERE a.username = 'tap15_ann';
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
SELECT plan(9);
-- A table this small is cheaper to read whole; the feed's tables are not
-- (docs/benchmarks.md, "The home feed"), so take the planner's other choices away.
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;

-- What the feed must answer, the plain way: a filtered scan in the feed's
-- order, which passes every expired entry.
CREATE FUNCTION pg_temp.reference_keys(at timestamptz, key uuid, n integer) RETURNS uuid[]
LANGUAGE sql STABLE AS $$
  SELECT coalesce(array_agg(k.uuid ORDER BY k.created_at DESC, k.uuid DESC), '{}')
    FROM (SELECT x.created_at, x.uuid FROM publishing.activities x
           WHERE x.reply_to_activity_uuid IS NULL AND (x.expires_at IS NULL OR x.expires_at > now())
             AND (x.created_at, x.uuid) < (at, key)
           ORDER BY x.created_at DESC, x.uuid DESC LIMIT n) k $$;
CREATE FUNCTION pg_temp.feed_keys(at timestamptz, key uuid, n integer) RETURNS uuid[]
LANGUAGE sql STABLE AS $$
  SELECT coalesce(array_agg(k.uuid), '{}') FROM publishing.feed_keys(at, key, n) k $$;

-- What a query reads, in this transaction's statistics (up to date within
-- the transaction): entries returned by each of the feed's indexes, scans of
-- the GiST index, rows fetched from the table's heap through either (the
-- B-tree's scan is index-only; the GiST index holds the points alone).
CREATE FUNCTION pg_temp.reads() RETURNS bigint[] LANGUAGE sql VOLATILE AS $$
  SELECT ARRAY[pg_stat_get_xact_tuples_returned('publishing.activities_feed_visible_idx'::regclass),
               pg_stat_get_xact_tuples_returned('publishing.activities_feed_points_idx'::regclass),
               pg_stat_get_xact_numscans('publishing.activities_feed_points_idx'::regclass),
               pg_stat_get_xact_tuples_fetched('publishing.activities_feed_visible_idx'::regclass)
               + pg_stat_get_xact_tuples_fetched('publishing.activities_feed_points_idx'::regclass)] $$;
CREATE FUNCTION pg_temp.reads_of(q text) RETURNS bigint[] LANGUAGE plpgsql VOLATILE AS $$
DECLARE before bigint[] := pg_temp.reads(); after bigint[]; ignored uuid[];
BEGIN
  EXECUTE q INTO ignored;
  after := pg_temp.reads();
  RETURN ARRAY[after[1] - before[1], after[2] - before[2], after[3] - before[3], after[4] - before[4]];
END
$$;

-- Plan the function's statements once, as a session's first page does.
SELECT pg_temp.feed_keys('infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 21) IS NOT NULL AS planned \gset

SELECT pg_temp.reads_of($$SELECT pg_temp.reference_keys('infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 21)$$) AS plain \gset
SELECT pg_temp.reads_of($$SELECT pg_temp.feed_keys('infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 21)$$) AS feed \gset
SELECT diag(format('first page, B-tree entries / GiST entries / GiST scans / heap rows: plain %s, feed %s', :'plain', :'feed'));
SELECT cmp_ok((:'plain'::bigint[])[1], '>=', 20000::bigint,
              'a plain scan of the feed''s B-tree passes the 20,000 expired entries one by one');
SELECT cmp_ok((:'feed'::bigint[])[1], '<=', 84::bigint,
              'the first page''s keys read at most 4 × (limit + 1) entries of the B-tree');
SELECT ok((:'feed'::bigint[])[3] >= 1 AND (:'feed'::bigint[])[2] <= 100,
          '... and the rest from the GiST index, at most 100 entries of it, whose boxes skip the expired ones');
-- VACUUM marks the fixture's pages all-visible only when nothing holds an
-- older snapshot back: a replication slot with an xmin (the local replica,
-- hot_standby_feedback, stopped since it last ran) does, for the whole
-- cluster. Then the B-tree's index-only scan must check the heap too, and
-- only the windows' reads can be counted.
SELECT count(*) > 0 AS held FROM pg_replication_slots WHERE xmin IS NOT NULL \gset
\if :held
SELECT skip('a replication slot holds the xmin horizon back: VACUUM cannot set the visibility map');
\else
SELECT cmp_ok((:'feed'::bigint[])[4], '<=', 50::bigint,
              '... and read from the heap only the rows the boxes let through (the visible ones), none of the expired');
\endif

-- A page whose first entries hold enough visible ones stays on the B-tree.
SELECT pg_temp.reads_of(format($$SELECT pg_temp.feed_keys(%L, %L, 21)$$, created_at, uuid)) AS usual
  FROM publishing.activities WHERE message = 'tap15 visible 30' \gset
SELECT is((:'usual'::bigint[])[3], 0::bigint, 'a page without expired entries in front does not scan the GiST index');

-- The same keys as the plain scan, from every cursor: the start, every
-- visible activity of the fixture (the last pages among them), every 500th
-- expired one, at two page sizes.
SELECT is((SELECT count(*)::integer FROM (
             SELECT c.created_at, c.uuid FROM publishing.activities c
              WHERE c.message LIKE 'tap15 visible %' OR c.message LIKE 'tap15 tied %'
                 OR (c.message LIKE 'tap15 expired %' AND split_part(c.message, ' ', 3)::integer % 500 = 0)
             UNION ALL SELECT 'infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff') c, (VALUES (2), (21)) n(n)
            WHERE pg_temp.feed_keys(c.created_at, c.uuid, n.n) IS DISTINCT FROM pg_temp.reference_keys(c.created_at, c.uuid, n.n)),
          0, 'from every cursor, the same keys as a plain filtered scan');

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

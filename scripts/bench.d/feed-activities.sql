-- scripts/bench feed: activities from..to, as the owner (psql -v from= -v to=
-- -v accounts=). Activity i (1 = the newest): uuid md5('bench-activity-' || i),
-- created_at 2026-01-01 minus i seconds, by one of the accounts. Of every ten:
-- i % 10 = 0 is a reply to activity i + 5 (when loaded in the same batch; else
-- top-level), 3 expired a day ago, 7 expires in 2099; i % 5 = 1 has three
-- likes. The counters are kept by the triggers, as in production.
SELECT min(id) AS first_id FROM auth.accounts \gset
BEGIN;
INSERT INTO publishing.activities (uuid, author_id, message, reply_to_activity_uuid, expires_at, created_at)
SELECT md5('bench-activity-' || i)::uuid, :first_id + (i * 7919) % :accounts, 'Bench activity number ' || i,
       CASE WHEN i % 10 = 0 AND i + 5 <= :to THEN md5('bench-activity-' || (i + 5))::uuid END,
       CASE i % 10 WHEN 3 THEN now() - interval '1 day' WHEN 7 THEN timestamptz '2099-01-01 00:00:00+00' END,
       timestamptz '2026-01-01 00:00:00+00' - i * interval '1 second'
  FROM generate_series(:from::bigint, :to::bigint) AS i;
INSERT INTO publishing.likes (account_id, activity_uuid)
SELECT :first_id + (i * 31 + k * 7) % :accounts, md5('bench-activity-' || i)::uuid
  FROM generate_series(:from::bigint, :to::bigint) AS i, generate_series(1, 3) AS k
 WHERE i % 5 = 1;
COMMIT;
VACUUM (ANALYZE) publishing.activities, publishing.likes;

-- scripts/bench feed: the just-expired burst, as the owner (psql -v burst=):
-- that many top-level activities, the newest of the table, each with a 2 s
-- lifetime (as the posts of one flood would be).
SELECT min(id) AS first_id FROM auth.accounts \gset
INSERT INTO publishing.activities (uuid, author_id, message, expires_at, created_at)
SELECT md5('bench-expired-' || j)::uuid, :first_id + j % 1000, 'Short-lived number ' || j,
       clock_timestamp() + interval '2 seconds', timestamptz '2026-01-01 00:00:00+00' + j * interval '1 millisecond'
  FROM generate_series(1, :burst) AS j;

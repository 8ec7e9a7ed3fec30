-- scripts/bench series: one database's data, as the owner (psql -v trackers=
-- -v own= -v n=). trackers accounts with a numerical tracker each; logs
-- 1..own go to the measured tracker (bench_1's), the rest to the other
-- trackers in turn; log i at a time spread over 2025 in Berlin, the series'
-- year (i times Knuth's multiplicative constant, modulo the year's seconds:
-- the measured tracker's 1,000 logs fall on all 365 days), value i % 100.
-- So the table is 100 times larger in one database than in the other, and
-- the measured tracker's year is the same: the question is whether the
-- series' cost follows the table. The triggers run, as in production.
INSERT INTO auth.accounts (username, email, password_hash, display_name)
SELECT 'bench_' || i, 'bench_' || i || '@bench.example', auth.dummy_password_hash(), 'Bench user ' || i
  FROM generate_series(1, :trackers) AS i;
INSERT INTO tracking.trackers (account_id, name, type, unit)
SELECT a.id, 'Bench', 'numerical', 'min' FROM auth.accounts a ORDER BY a.id;
SELECT min(id) AS first_id FROM tracking.trackers \gset
INSERT INTO tracking.logs (tracker_id, value, logged_at)
SELECT CASE WHEN i <= :own THEN :first_id ELSE :first_id + 1 + i % (:trackers - 1) END, i % 100,
       timestamptz '2025-01-01 00:00:00+01' + ((i * 2654435761) % 31536000) * interval '1 second'
  FROM generate_series(1, :n::bigint) AS i;
VACUUM (ANALYZE) tracking.logs, tracking.trackers;

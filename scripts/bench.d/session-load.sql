-- scripts/bench session: the accounts and sessions, as the owner (psql -v
-- accounts= -v sessions=). One bcrypt hash (of "bench-password") for every
-- account. Tokens are bench-token-<n>, stored through auth.token_digest
-- itself; session n belongs to account (n - 1) % accounts + 1. last_used is
-- an hour ago for all; the working set is refreshed before each phase.
SELECT ext.crypt('bench-password', ext.gen_salt('bf', 10)) AS hash \gset
BEGIN;
INSERT INTO auth.accounts (username, email, password_hash, display_name)
SELECT 'bench_' || i, 'bench_' || i || '@bench.example', :'hash', 'Bench user ' || i
  FROM generate_series(1, :accounts) AS i;
SELECT min(id) AS first_id FROM auth.accounts \gset
INSERT INTO auth.account_sessions (account_id, token_digest, browser_info, ip_address, created_at, expiry_time, last_used)
SELECT :first_id + (n - 1) % :accounts, auth.token_digest('bench-token-' || n), 'bench/1.0', '127.0.0.1',
       now() - interval '1 hour', now() + interval '30 days', now() - interval '1 hour'
  FROM generate_series(1, :sessions) AS n;
COMMIT;

-- scripts/bench feed: the accounts, as the owner (psql -v accounts=).
INSERT INTO auth.accounts (username, email, password_hash, display_name)
SELECT 'bench_' || i, 'bench_' || i || '@bench.example', auth.dummy_password_hash(), 'Bench user ' || i
  FROM generate_series(1, :accounts) AS i;

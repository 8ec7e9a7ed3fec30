-- Demo data for development (scripts/db seed). Idempotent. The passwords are
-- public (README.md): never seed a real server with this file.
INSERT INTO auth.accounts (username, email, display_name, role, password_hash)
SELECT v.username, v.email, v.display_name, v.role, auth.hash_password(v.password)
  FROM (VALUES
    ('ada',  'ada@example.com',  'Ada (admin)',   'admin',  'ada-demo-password'),
    ('ben',  'ben@example.com',  'Ben (author)',  'author', 'ben-demo-password'),
    ('cleo', 'cleo@example.com', 'Cleo',          'user',   'cleo-demo-password')
  ) AS v (username, email, display_name, role, password)
ON CONFLICT (username) DO NOTHING;

-- ----------------------------------------------------------------------------
-- Tracking: goals (sql/migrations/005_goals.sql). Each demo account gets two
-- goals, one with a target, and a few entries; a goal already there (by
-- title) is left alone, with its entries.
-- ----------------------------------------------------------------------------
WITH new_goals AS (
  INSERT INTO tracking.goals (account_id, title, description, target_amount, unit, due_date)
  SELECT a.id, v.title, v.description, v.target_amount, v.unit, v.due_date
    FROM auth.accounts a
   CROSS JOIN (VALUES
     ('Read 12 books', 'One book a month, any genre.', 12::numeric, 'books',
      (date_trunc('year', now()) + interval '1 year - 1 day')::date),
     ('Learn to juggle', 'Three balls first, then clubs.', NULL, NULL, NULL)
   ) AS v (title, description, target_amount, unit, due_date)
   WHERE a.username IN ('ada', 'ben', 'cleo')
     AND NOT EXISTS (SELECT 1 FROM tracking.goals g WHERE g.account_id = a.id AND g.title = v.title)
  RETURNING id, title)
INSERT INTO tracking.goal_entries (goal_id, amount, note, occurred_at)
SELECT n.id, e.amount, e.note, now() - e.ago
  FROM new_goals n
  JOIN (VALUES
    ('Read 12 books', 1::numeric, 'Finished "The Left Hand of Darkness"', interval '40 days'),
    ('Read 12 books', 2, 'Two short novels on holiday', interval '12 days'),
    ('Read 12 books', 1, 'Finished "Middlemarch", at last', interval '2 days'),
    ('Learn to juggle', NULL, 'Two balls, one hand: 20 catches', interval '9 days'),
    ('Learn to juggle', NULL, 'First three-ball cascade, 5 throws', interval '1 day')
  ) AS e (title, amount, note, ago) ON e.title = n.title;

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
-- Activity feed: a few demo activities with replies, likes and a repost, so
-- that GET /api/v1/activities shows something at once. Fixed uuids make a
-- second run change nothing (the counters follow the rows by trigger, and
-- ON CONFLICT DO NOTHING inserts no row twice).
-- ----------------------------------------------------------------------------
INSERT INTO publishing.activities (uuid, author_id, message, reply_to_activity_uuid, created_at)
SELECT v.uuid::uuid, a.id, v.message, v.reply_to::uuid, now() - v.age::interval
  FROM (VALUES
    ('5eed0000-0000-4000-8000-000000000001', 'ada',  'Welcome to homebase! This is the activity feed.', NULL, '3 hours'),
    ('5eed0000-0000-4000-8000-000000000002', 'ben',  'Writing a new blog post about PostgreSQL triggers.', NULL, '2 hours'),
    ('5eed0000-0000-4000-8000-000000000003', 'cleo', 'Just signed up. Hello, everyone 👋', NULL, '1 hour'),
    ('5eed0000-0000-4000-8000-000000000004', 'ben',  'Welcome, Cleo!', '5eed0000-0000-4000-8000-000000000003', '50 minutes'),
    ('5eed0000-0000-4000-8000-000000000005', 'ada',  'Glad to have you here.', '5eed0000-0000-4000-8000-000000000003', '40 minutes'),
    ('5eed0000-0000-4000-8000-000000000006', 'cleo', 'Looking forward to reading it.', '5eed0000-0000-4000-8000-000000000002', '30 minutes')
  ) AS v (uuid, username, message, reply_to, age)
  JOIN auth.accounts a ON a.username = v.username
 ORDER BY v.age::interval DESC
ON CONFLICT (uuid) DO NOTHING;

INSERT INTO publishing.likes (account_id, activity_uuid)
SELECT a.id, v.activity::uuid
  FROM (VALUES
    ('ben',  '5eed0000-0000-4000-8000-000000000001'),
    ('cleo', '5eed0000-0000-4000-8000-000000000001'),
    ('ada',  '5eed0000-0000-4000-8000-000000000002'),
    ('ada',  '5eed0000-0000-4000-8000-000000000003'),
    ('ben',  '5eed0000-0000-4000-8000-000000000003'),
    ('cleo', '5eed0000-0000-4000-8000-000000000004')
  ) AS v (username, activity)
  JOIN auth.accounts a ON a.username = v.username
ON CONFLICT DO NOTHING;

INSERT INTO publishing.reposts (account_id, activity_uuid)
SELECT a.id, '5eed0000-0000-4000-8000-000000000002'::uuid FROM auth.accounts a WHERE a.username = 'cleo'
ON CONFLICT DO NOTHING;

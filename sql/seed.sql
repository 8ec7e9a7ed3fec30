-- Demo data for development (scripts/db seed). Idempotent. The passwords are
-- public (README.md): never seed a real server with this file.
-- Their addresses count as confirmed (example.com receives no mail).
INSERT INTO auth.accounts (username, email, display_name, role, password_hash, email_confirmed_at)
SELECT v.username, v.email, v.display_name, v.role, auth.hash_password(v.password), now()
  FROM (VALUES
    ('ada',  'ada@example.com',  'Ada (admin)',   'admin',  'ada-demo-password'),
    ('ben',  'ben@example.com',  'Ben (author)',  'author', 'ben-demo-password'),
    ('cleo', 'cleo@example.com', 'Cleo',          'user',   'cleo-demo-password')
  ) AS v (username, email, display_name, role, password)
ON CONFLICT (username) DO NOTHING;

-- ----------------------------------------------------------------------------
-- Demo posts by the author account ben, a few days apart, so that GET /posts
-- shows something at once. Idempotent: a post of ben's with the same title
-- is not added again. One has its own excerpt; the others get the default
-- one (the start of the content).
-- ----------------------------------------------------------------------------
INSERT INTO publishing.posts (title, author_id, excerpt, content, created_at, updated_at)
SELECT v.title, a.id, coalesce(v.excerpt, publishing.default_excerpt(v.content)), v.content,
       now() - v.age, now() - v.age
  FROM auth.accounts a,
       (VALUES
         ('Hello, world', NULL, interval '9 days',
          E'# Hello, world\n\nThis is the first post of this site. It is written in **Markdown**, stored as typed, '
          || E'and rendered by whoever shows it.\n\nMore soon.'),
         ('How this site is built', 'PostgreSQL does the work; a thin Go gateway speaks HTTP.', interval '5 days',
          E'## One request, one function\n\nEvery route of the API is one PL/pgSQL function in the `api` schema. '
          || E'The gateway matches the route, passes the token and the arguments, and writes back the JSON the '
          || E'function returns.\n\n## Tests\n\npgTAP for the functions, Go tests over HTTP for the routes.'),
         ('Keyset pagination in one paragraph', NULL, interval '2 days',
          E'A list ordered newest first pages with a cursor: the date and id of the last row shown. The next page '
          || E'is every row before that pair, which an index on (created_at DESC, id DESC) finds directly, however deep '
          || E'the page. OFFSET would read and throw away every row of the pages before it, and a post published '
          || E'meanwhile would push a row from one page onto the next, where the reader would see it twice.')
       ) AS v (title, excerpt, age, content)
 WHERE a.username = 'ben'
   AND NOT EXISTS (SELECT 1 FROM publishing.posts p WHERE p.author_id = a.id AND p.title = v.title);

-- ----------------------------------------------------------------------------
-- Tracking: goals (sql/migrations/006_goals.sql). Each demo account gets two
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

-- ----------------------------------------------------------------------------
-- Tracking: trackers and logs (sql/migrations/008_trackers.sql). Each demo
-- account gets a numerical tracker ("Sleep", a log each of the last 21
-- mornings) and a note tracker ("Mood journal", an evening note every third
-- day), none in the future, with emotions, and one reminder; a tracker
-- already there (by name, ignoring case) is left alone, with its logs.
-- ----------------------------------------------------------------------------
WITH new_trackers AS (
  INSERT INTO tracking.trackers (account_id, name, description, type, unit, what_to_track)
  SELECT a.id, v.name, v.description, v.type, v.unit, v.what_to_track
    FROM auth.accounts a
   CROSS JOIN (VALUES
     ('Sleep', 'Hours slept, noted in the morning.', 'numerical', 'hours', 'hours of sleep a night'),
     ('Mood journal', 'A few lines on how the day went.', 'note', NULL, NULL)
   ) AS v (name, description, type, unit, what_to_track)
   WHERE a.username IN ('ada', 'ben', 'cleo')
     AND NOT EXISTS (SELECT 1 FROM tracking.trackers t WHERE t.account_id = a.id AND lower(t.name) = lower(v.name))
  RETURNING id, name)
INSERT INTO tracking.logs (tracker_id, value, note, emotion, event_reminder_msg, event_date, logged_at)
SELECT n.id, 6 + (d * 7 % 6) * 0.5, '', (ARRAY['calm', 'tired', 'happy', 'neutral', 'tired', 'calm', 'anxious'])[1 + d % 7],
       NULL, NULL, date_trunc('day', now() - interval '7 hours 30 minutes') - d * interval '1 day' + interval '7 hours 30 minutes'
  FROM new_trackers n CROSS JOIN generate_series(0, 20) AS d
 WHERE n.name = 'Sleep'
UNION ALL
SELECT n.id, NULL,
       (ARRAY['Long walk by the river; slept well after.', 'Busy day at work, too many meetings.',
              'Cooked for friends, a good evening.', 'Rainy and slow. Read most of the afternoon.',
              'Deadline tomorrow, a bit on edge.', 'Finished the project. Relieved.',
              'Quiet Sunday.'])[1 + d / 3],
       (ARRAY['happy', 'tired', 'happy', 'calm', 'anxious', 'happy', 'neutral'])[1 + d / 3],
       CASE WHEN d = 3 THEN 'Book the dentist' END, CASE WHEN d = 3 THEN (now() + interval '5 days')::date END,
       date_trunc('day', now() - interval '21 hours') - d * interval '1 day' + interval '21 hours'
  FROM new_trackers n CROSS JOIN generate_series(0, 18, 3) AS d
 WHERE n.name = 'Mood journal';

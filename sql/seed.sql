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

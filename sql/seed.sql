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

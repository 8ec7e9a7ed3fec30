-- Foundation: extensions, the domain schemas, the privilege model, and the
-- record of the installed code package.
--
-- Migrations hold what holds or shapes data: schemas, tables, types,
-- constraints, indexes, triggers and their trigger functions. Every other
-- function is code: it lives once in the code package sql/code (installed by
-- `scripts/db migrate` right after the migrations), never in a migration.
--
-- Migrations run as the non-login owner role (scripts/db connects with
-- `options=-c role=app_owner`), so everything below belongs to it.

-- Extensions live in their own schema so that their (PUBLIC-executable)
-- functions stay out of reach of the gateway, which has no USAGE on it.
CREATE SCHEMA ext;
COMMENT ON SCHEMA ext IS 'Extensions (pgcrypto, citext); not reachable by the gateway.';
CREATE EXTENSION pgcrypto WITH SCHEMA ext;
CREATE EXTENSION citext WITH SCHEMA ext;

-- PostgreSQL grants EXECUTE on new functions to PUBLIC; nothing of ours is
-- meant for PUBLIC. (The code package grants the gateway what it may call.)
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Domain schemas: their tables come from migrations, their functions (but
-- trigger functions, and any function a table depends on) from the code package.
CREATE SCHEMA auth;
COMMENT ON SCHEMA auth IS 'Accounts, sessions and login throttling.';
CREATE SCHEMA audit;
COMMENT ON SCHEMA audit IS 'The audit log: who did what to accounts and sessions, and when.';

-- The caller's context, the first argument of every api function. A type,
-- so a migration: adding an item is `ALTER TYPE request.context ADD
-- ATTRIBUTE …`, the matching parameter of the constructor request.context()
-- (sql/code/request.sql) and one line in the gateway (gateway/handler.go,
-- contextArgs), which sends it as an anonymous ROW in attribute order. No api
-- function's signature changes. Deploy the gateway with the migration: an
-- older one sends a ROW of the old length, and its /readyz already answers
-- 503 (the migration version is not its own).
CREATE SCHEMA request;
COMMENT ON SCHEMA request IS 'The caller''s context (type request.context), the first argument of every api function.';
CREATE TYPE request.context AS (
  -- The session token as sent (Authorization: Bearer, or the session cookie); NULL when none.
  token      text,
  -- The User-Agent, the seeds' "browser info" a session is bound to; '' when none.
  browser    text,
  -- The client's address (X-Forwarded-For only behind the gateway's TRUSTED_PROXIES).
  ip         inet,
  -- The request id the gateway echoes in X-Request-Id; the audit log records it.
  request_id text
);
COMMENT ON TYPE request.context IS 'The caller''s context: first argument of every api function; build one with request.context(…).';

-- What the code package install last put in place, beside tern's
-- schema_version: the gateway's /readyz compares the digest with the one of
-- the package it was built with. sql/code/install.sql writes the row.
CREATE TABLE public.code_package (
  name         text PRIMARY KEY,
  digest       text NOT NULL,
  installed_at timestamptz NOT NULL DEFAULT now(),
  installed_by text NOT NULL DEFAULT session_user,
  CONSTRAINT code_package_digest_sha256 CHECK (digest ~ '^[0-9a-f]{64}$')
);
COMMENT ON TABLE public.code_package IS 'The installed code package: SHA-256 of the SQL that installed it (sql/code/install.sql).';

---- create above / drop below ----

-- Undoing the foundation takes the installed code with it.
DROP SCHEMA IF EXISTS api, response CASCADE;
DROP SCHEMA request CASCADE;
DROP TABLE public.code_package;
DROP SCHEMA audit CASCADE;
DROP SCHEMA auth CASCADE;
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
DROP EXTENSION citext CASCADE;
DROP EXTENSION pgcrypto CASCADE;
DROP SCHEMA ext;

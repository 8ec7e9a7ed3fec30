-- Foundation: extensions, schemas and the privilege model.
--
-- Migrations run as the non-login owner role (scripts/db connects with
-- `options=-c role=app_owner`), so everything below belongs to it.
-- The gateway login role gets USAGE on `api` and EXECUTE on `api` functions
-- only: no table, no other schema.

-- Extensions live in their own schema so that their (PUBLIC-executable)
-- functions stay out of reach of the gateway, which has no USAGE on it.
CREATE SCHEMA ext;
CREATE EXTENSION pgcrypto WITH SCHEMA ext;
CREATE EXTENSION citext WITH SCHEMA ext;

-- PostgreSQL grants EXECUTE on new functions to PUBLIC; nothing of ours is
-- meant for PUBLIC.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

COMMENT ON SCHEMA ext IS 'Extensions (pgcrypto, citext); not reachable by the gateway.';

CREATE SCHEMA auth;
COMMENT ON SCHEMA auth IS 'Accounts, sessions and login throttling.';

CREATE SCHEMA response;
COMMENT ON SCHEMA response IS 'Helpers that shape what api functions return: error bodies, statuses, timestamps.';

CREATE SCHEMA api;
COMMENT ON SCHEMA api IS 'One function per HTTP route; the only schema the gateway role can use.';
GRANT USAGE ON SCHEMA api TO gateway;
ALTER DEFAULT PRIVILEGES IN SCHEMA api GRANT EXECUTE ON FUNCTIONS TO gateway;

---- create above / drop below ----

ALTER DEFAULT PRIVILEGES IN SCHEMA api REVOKE EXECUTE ON FUNCTIONS FROM gateway;
DROP SCHEMA api CASCADE;
DROP SCHEMA response CASCADE;
DROP SCHEMA auth CASCADE;
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
DROP EXTENSION citext;
DROP EXTENSION pgcrypto;
DROP SCHEMA ext;

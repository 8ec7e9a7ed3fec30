-- ============================================================================
-- response: how an api function reports an error or a status
-- ============================================================================
-- Two ways to fail, both ending in the error body of docs/api.md
-- {"code", "message", "details", "hint"}:
--   * response.raise(): raises SQLSTATE 'PT<status>' (PostgREST's convention);
--     the transaction rolls back. The usual way.
--   * response.fail(): returns the error body with the status as one more
--     member, "$status", so the gateway answers with that status while the
--     transaction COMMITS. For failures that must leave a trace: a session
--     dropped as EXPIRED or BROWSER, a failed login counted for throttling.
-- The gateway maps PT<status> (and standard SQLSTATEs) to HTTP in one table
-- (gateway/errors.go).

-- RFC 3339 in UTC, whatever the session's TimeZone. (An SQL-standard body is
-- bound when created, so it needs no search_path, and stays inlinable.)
CREATE OR REPLACE FUNCTION response.ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- Raise an error that the gateway answers with `status` and body {code, message, details, hint}.
-- The client code and details travel as JSON in DETAIL; MESSAGE stays human.
CREATE OR REPLACE FUNCTION response.raise(status integer, code text, message text, details jsonb DEFAULT NULL, hint text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF status NOT BETWEEN 400 AND 599 THEN
    RAISE EXCEPTION 'response.raise: status % is not an error status', status;
  END IF;
  IF hint IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'PT' || status, MESSAGE = message,
      DETAIL = json_build_object('code', code, 'details', details)::text;
  END IF;
  RAISE EXCEPTION USING ERRCODE = 'PT' || status, MESSAGE = message, HINT = hint,
    DETAIL = json_build_object('code', code, 'details', details)::text;
END
$$;

-- Fail without rolling back: the error body for the api function to return,
-- with the status in it as "$status". The status is part of the function's
-- own result, so the gateway reads it with the answer, in the one plain
-- `SELECT f(...)` it sends: no second value of the transaction (a setting
-- read after the call) is needed, and none can be read too early. No success
-- body has a member whose name starts with "$": the api functions build
-- theirs from SQL names. The gateway drops "$status" from what it sends.
CREATE OR REPLACE FUNCTION response.fail(status integer, code text, message text, details jsonb DEFAULT NULL, hint text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF status NOT BETWEEN 400 AND 599 THEN
    RAISE EXCEPTION 'response.fail: status % is not an error status', status;
  END IF;
  RETURN json_build_object('$status', status, 'code', code, 'message', message, 'details', details, 'hint', hint);
END
$$;

-- ----------------------------------------------------------------------------
-- Keyset pagination
-- ----------------------------------------------------------------------------
-- Lists ordered by (a timestamp, a unique key) page with an opaque cursor,
-- the "next" of the previous page, never with OFFSET: the next page is
-- `WHERE (t, key) < (cursor's t, cursor's key)` (or > for a list that is
-- oldest first), which an index on (t, key) serves however deep the page.
--
-- A cursor says which list it belongs to and is signed, so that a list
-- reads only the cursors it made (docs/api.md: anything else is a 400
-- BAD_REQUEST naming `before`): base64url, without padding, of
--   "<list>|<key id>|<RFC 3339 UTC timestamp>|<key>" || HMAC-SHA-256
-- where the HMAC (32 bytes) covers the text before it and is made with the
-- key of auth.cursor_keys named by <key id> (sql/migrations/012). The list
-- names are 'posts', 'activities', 'user_activities', 'replies',
-- 'goal_entries' and 'tracker_logs'. A forged, altered (one bit anywhere),
-- foreign (another list's) or too old (signed before the last two
-- rotations) cursor is refused alike. Nothing in a cursor is secret (a
-- client may decode the position); the signature only makes it ours.

-- One-release drops (docs/development.md, "Evolving the SQL"): the readers took (cursor,
-- param) before they took the list's name first, and a two-argument call
-- would match both signatures. Take these lines out once every database
-- runs this package.
DROP FUNCTION IF EXISTS response.uncursor(text, text);
DROP FUNCTION IF EXISTS response.uncursor_id(text, text);

-- The cursor after a row of the list `list`, signed with the current key:
-- the newest row of auth.cursor_keys that is at least a minute old (the
-- newest of all while none is). A key starts signing a minute after its
-- rotation, so that a streaming replica, which serves the read routes and
-- reads their cursors, has it before any cursor needs it (a replica further
-- behind than REPLICA_MAX_LAG, 10 s, serves no reads). Timestamp and key as
-- text, so the timestamp comes back to the microsecond.
CREATE OR REPLACE FUNCTION response.cursor(list text, at timestamptz, key text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_key auth.cursor_keys;
  v_payload bytea;
BEGIN
  SELECT * INTO v_key FROM auth.cursor_keys k
   ORDER BY k.created_at <= now() - interval '1 minute' DESC, k.id DESC LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'response.cursor: auth.cursor_keys holds no key';
  END IF;
  v_payload := convert_to(list || '|' || v_key.id || '|' || response.ts(at) || '|' || key, 'UTF8');
  RETURN rtrim(translate(encode(v_payload || hmac(v_payload, v_key.secret, 'sha256'), 'base64'), E'+/\n', '-_'), '=');
END
$$;

-- The timestamp and key of a cursor of the list `list`; NULL and NULL for a
-- NULL cursor. Anything else than a cursor response.cursor made for this
-- list with the current or the previous key is a 400 BAD_REQUEST naming
-- `param`, the same answer whatever is wrong with it.
CREATE OR REPLACE FUNCTION response.uncursor(list text, cursor text, param text DEFAULT 'before',
                                             OUT at timestamptz, OUT key text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_raw bytea;
  v_payload bytea;
  v_text text;
  v_parts text[];
  v_secret bytea;
  v_ok boolean := false;
BEGIN
  IF cursor IS NULL THEN
    RETURN;
  END IF;
  -- The longest cursor of this project is about 180 characters.
  IF length(cursor) BETWEEN 44 AND 400 AND cursor ~ '^[A-Za-z0-9_-]+$' THEN
    BEGIN
      v_raw := decode(rpad(translate(cursor, '-_', '+/'), (length(cursor) + 3) / 4 * 4, '='), 'base64');
      -- Only the one spelling response.cursor makes: a flipped bit in the
      -- unused low bits of the last character decodes to the same bytes.
      IF rtrim(translate(encode(v_raw, 'base64'), E'+/\n', '-_'), '=') = cursor AND length(v_raw) > 32 THEN
        v_payload := substr(v_raw, 1, length(v_raw) - 32);
        v_text := convert_from(v_payload, 'UTF8');
        -- list, key id, timestamp, key (which may hold '|' itself)
        v_parts := regexp_match(v_text, '^([a-z_]+)\|([1-9][0-9]{0,17})\|([^|]+)\|(.+)$', 's');
        IF v_parts[1] = list THEN
          SELECT k.secret INTO v_secret FROM auth.cursor_keys k WHERE k.id = v_parts[2]::bigint;
          IF FOUND AND hmac(v_payload, v_secret, 'sha256') = substr(v_raw, length(v_raw) - 31) THEN
            at := v_parts[3]::timestamptz;
            key := v_parts[4];
            v_ok := true;
          END IF;
        END IF;
      END IF;
    -- class 22: bad base64, bad UTF-8, a timestamp that is none
    EXCEPTION WHEN data_exception THEN
      v_ok := false;
    END;
  END IF;
  IF NOT v_ok THEN
    at := NULL;
    key := NULL;
    PERFORM response.raise(400, 'BAD_REQUEST', 'not a cursor from this route',
                           jsonb_build_object(param, 'is not a cursor from this route'));
  END IF;
END
$$;

-- uncursor for lists keyed by a bigint id (posts, goal entries, tracker
-- logs): the id must be a positive integer, else the same 400. NULL and NULL
-- for a NULL cursor.
CREATE OR REPLACE FUNCTION response.uncursor_id(list text, cursor text, param text DEFAULT 'before',
                                                OUT at timestamptz, OUT id bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_key text;
BEGIN
  SELECT c.at, c.key INTO at, v_key FROM response.uncursor(list, cursor, param) c;
  IF v_key IS NULL THEN
    RETURN;
  END IF;
  IF v_key !~ '^[1-9][0-9]{0,17}$' THEN
    PERFORM response.raise(400, 'BAD_REQUEST', 'not a cursor from this route',
                           jsonb_build_object(param, 'is not a cursor from this route'));
  END IF;
  id := v_key::bigint;
END
$$;

-- A DBA's chore (`scripts/db rotate-cursor-key`): a new random key, which
-- reads cursors at once and signs them a minute later (response.cursor);
-- the one it replaces still verifies the cursors made with it (a reader in
-- the middle of a list keeps paging), and every older key is deleted, so
-- cursors older than the rotation before are refused from now on. Logged
-- (source db). Answers the new key's id.
CREATE OR REPLACE FUNCTION response.rotate_cursor_key() RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_id bigint;
  v_deleted integer;
BEGIN
  -- Two rotations at once queue here, so that exactly two keys remain.
  LOCK TABLE auth.cursor_keys IN SHARE ROW EXCLUSIVE MODE;
  INSERT INTO auth.cursor_keys (secret) VALUES (gen_random_bytes(32)) RETURNING id INTO v_id;
  DELETE FROM auth.cursor_keys k
   WHERE k.id < (SELECT max(p.id) FROM auth.cursor_keys p WHERE p.id < v_id);
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  PERFORM audit.write('WARN', 'db', 'cursor key rotated', NULL,
                      jsonb_build_object('key_id', v_id, 'keys_deleted', v_deleted, 'by', session_user));
  RETURN v_id;
END
$$;

-- The page size of a listing (?limit=): 1–100, default 20; 422 otherwise.
CREATE OR REPLACE FUNCTION response.page_limit(row_limit bigint) RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF row_limit NOT BETWEEN 1 AND 100 THEN
    PERFORM response.raise(422, 'VALIDATION', 'some parameters are invalid', '{"limit": "must be between 1 and 100"}');
  END IF;
  RETURN coalesce(row_limit, 20)::integer;
END
$$;

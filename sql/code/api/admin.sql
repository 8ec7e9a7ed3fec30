-- ============================================================================
-- api: admin (/admin/logs) and the gateway's operations (maintenance, readiness)
-- ============================================================================
-- Conventions as in sessions.sql.

-- GET /admin/logs?level=&source=&before=&limit= : 200 {"logs": [...], "next"}
-- Admins only (403 FORBIDDEN otherwise). Newest first; level keeps that level
-- and the more severe ones; source is an exact match; before is the "next"
-- cursor of the previous page (an id: ids only grow, so a page never repeats
-- or skips rows written meanwhile); limit is 1–100, default 20.
CREATE OR REPLACE FUNCTION api.admin_logs(ctx request.context, level text, source text, before bigint, row_limit bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_level text := upper(admin_logs.level);
  v_limit integer;
  v_logs json;
  v_last bigint;
  v_more boolean;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  IF NOT EXISTS (SELECT 1 FROM auth.accounts a WHERE a.id = v_session.account_id AND a.role = 'admin') THEN
    PERFORM response.raise(403, 'FORBIDDEN', 'only admins may read the audit log');
  END IF;
  IF (v_level IS NOT NULL AND audit.level_rank(v_level) IS NULL)
     OR row_limit NOT BETWEEN 1 AND 100 OR before < 1 THEN
    PERFORM response.raise(422, 'VALIDATION', 'some parameters are invalid', jsonb_strip_nulls(jsonb_build_object(
      'level', CASE WHEN v_level IS NOT NULL AND audit.level_rank(v_level) IS NULL
                    THEN 'must be one of DEBUG, INFO, WARN, ERROR' END,
      'limit', CASE WHEN row_limit NOT BETWEEN 1 AND 100 THEN 'must be between 1 and 100' END,
      'before', CASE WHEN before < 1 THEN 'is not a cursor from this route' END)));
  END IF;
  v_limit := coalesce(row_limit, 20);

  -- One row more than the page tells whether there is a next page.
  WITH page AS (
    SELECT l.*, a.username::text AS username
      FROM audit.logs l
      LEFT JOIN auth.accounts a ON a.id = l.account_id
     WHERE (admin_logs.before IS NULL OR l.id < admin_logs.before)
       AND (v_level IS NULL OR audit.level_rank(l.level) >= audit.level_rank(v_level))
       AND (admin_logs.source IS NULL OR l.source = admin_logs.source)
     ORDER BY l.id DESC
     LIMIT v_limit + 1)
  SELECT coalesce(json_agg(json_build_object(
                    'id', p.id, 'logged_at', response.ts(p.logged_at), 'level', p.level, 'source', p.source,
                    'message', p.message, 'account_id', p.account_id, 'username', p.username,
                    'client_ip', host(p.client_ip), 'request_id', p.request_id, 'trace_id', p.trace_id,
                    'details', p.details)
                  ORDER BY p.id DESC) FILTER (WHERE p.rn <= v_limit), '[]'),
         max(p.id) FILTER (WHERE p.rn = v_limit),
         count(*) > v_limit
    INTO v_logs, v_last, v_more
    FROM (SELECT page.*, row_number() OVER (ORDER BY page.id DESC) AS rn FROM page) p;

  RETURN json_build_object('logs', v_logs, 'next', CASE WHEN v_more THEN v_last::text END);
END
$$;

-- ----------------------------------------------------------------------------
-- Operations: not routes; the gateway calls them itself
-- ----------------------------------------------------------------------------

-- One bounded batch of one clean-up, the part named:
--   expired_sessions   sessions past their expiry time
--   throttle_counters  login throttle counters whose window has passed
--   old_logs           audit log rows older than audit.settings.log_retention
--   expired_activities expired activities (their replies, likes and reposts
--                      go too: see below)
--   old_logins         auth.logins older than 13 months, which no monthly
--                      report counts any more (it counts 13 months back)
--   old_tokens         mailed one-time tokens a day past their expiry,
--                      used or not (none can be used any more)
--   old_mail           outbox rows sent or given up more than 30 days ago
--                      (mail.outbox: kept that long to see what went out)
--   due_reports        not a clean-up: queues the monthly report mails that
--                      are due (mail.queue_due_reports: each account's
--                      month once, after it ends in the account's zone),
--                      at most batch_size / 10 (default 100) per call, as
--                      each is a report to compute; "deleted" counts the
--                      mails queued
--   daily_digests      not clean-ups either: the reminder digests due now,
--   weekly_digests     each morning in each account's zone
--                      (mail.queue_digests, sql/code/digests.sql): the timer
--                      is what queues them, at most batch_size accounts a
--                      call; "deleted" counts the mails queued
-- deleting at most batch_size (default 1000) rows, and answering
-- {"skipped", "part", "deleted", "more"}: "more" when a full batch suggests
-- more is left; callers repeat while "more". Each part is its own call, and
-- so its own statement and transaction under the caller's statement
-- timeout: a part that cannot finish (a huge backlog, a lock it waits for)
-- times out alone, and the others still run (gateway/maintenance.go,
-- `scripts/db maintain`). One round ran every part in one transaction
-- before, so one slow part stopped them all.
-- Expired activities: a reply takes its parent's expires_at (api.reply_to_activity)
-- and is created after it, so among the activities of one expiry time the
-- newest come first and every reply comes before its parent: a batch taken
-- in that order holds the replies of each activity it holds, and deleting
-- the parent (ON DELETE CASCADE) takes nothing outside the batch. A thread
-- of 100,000 replies goes in 100 batches, its root last, rather than in one
-- unbounded cascade. Likes and reposts still go by cascade (at most one per
-- account each).
-- One call at a time across all gateways (and `scripts/db maintain`): a
-- call that finds another one running skips ("skipped": true) and its caller
-- stops its run.
-- Called by the gateway on a timer (MAINTENANCE_INTERVAL) and by `scripts/db maintain`.
-- The one-release drop of the signature before the parts (docs/development.md, "Evolving
-- the SQL"): take this line out once every database has had this install.
DROP FUNCTION IF EXISTS api.maintenance(integer);
CREATE OR REPLACE FUNCTION api.maintenance(part text, batch_size integer DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_retention interval := (SELECT s.log_retention FROM audit.settings s);
  v_batch integer := coalesce(batch_size, 1000);
  v_deleted integer;
  v_details jsonb;
BEGIN
  IF part IS NULL OR part NOT IN ('expired_sessions', 'throttle_counters', 'old_logs', 'expired_activities', 'old_logins',
                                  'old_tokens', 'old_mail', 'due_reports', 'daily_digests', 'weekly_digests') THEN
    PERFORM response.raise(422, 'VALIDATION', 'unknown maintenance part',
                           '{"part": "must be one of expired_sessions, throttle_counters, old_logs, expired_activities, old_logins, old_tokens, old_mail, due_reports, daily_digests, weekly_digests"}');
  END IF;
  IF v_batch NOT BETWEEN 1 AND 100000 THEN
    PERFORM response.raise(422, 'VALIDATION', 'invalid batch size', '{"batch_size": "must be between 1 and 100000"}');
  END IF;
  IF NOT pg_try_advisory_xact_lock(hashtext('homebase maintenance')) THEN
    RETURN json_build_object('skipped', true, 'part', part, 'deleted', 0, 'more', false);
  END IF;

  CASE part
  WHEN 'expired_sessions' THEN
    DELETE FROM auth.account_sessions s
     WHERE s.id IN (SELECT x.id FROM auth.account_sessions x WHERE x.expiry_time <= now()
                     ORDER BY x.expiry_time LIMIT v_batch FOR UPDATE SKIP LOCKED);
  WHEN 'throttle_counters' THEN
    DELETE FROM auth.login_failures f
     WHERE f.key IN (SELECT x.key FROM auth.login_failures x WHERE x.window_start + auth.throttle_window() <= now()
                      LIMIT v_batch FOR UPDATE SKIP LOCKED);
  WHEN 'old_logs' THEN
    DELETE FROM audit.logs l
     WHERE l.id IN (SELECT x.id FROM audit.logs x WHERE x.logged_at < now() - v_retention
                     ORDER BY x.logged_at LIMIT v_batch);
  WHEN 'expired_activities' THEN
    DELETE FROM publishing.activities a
     WHERE a.uuid IN (SELECT x.uuid FROM publishing.activities x WHERE x.expires_at <= now()
                       ORDER BY x.expires_at, x.created_at DESC LIMIT v_batch FOR UPDATE SKIP LOCKED);
  WHEN 'old_logins' THEN
    DELETE FROM auth.logins x
     WHERE x.id IN (SELECT y.id FROM auth.logins y WHERE y.logged_in_at < now() - interval '13 months'
                     ORDER BY y.logged_in_at LIMIT v_batch);
  WHEN 'old_tokens' THEN
    DELETE FROM auth.one_time_tokens t
     WHERE t.id IN (SELECT x.id FROM auth.one_time_tokens x WHERE x.expires_at < now() - interval '1 day'
                     ORDER BY x.expires_at LIMIT v_batch FOR UPDATE SKIP LOCKED);
  WHEN 'old_mail' THEN
    DELETE FROM mail.outbox o
     WHERE o.id IN (SELECT x.id FROM mail.outbox x WHERE coalesce(x.sent_at, x.failed_at) < now() - interval '30 days'
                     ORDER BY x.id LIMIT v_batch FOR UPDATE SKIP LOCKED);
  WHEN 'due_reports' THEN
    v_batch := greatest(v_batch / 10, 1);
    v_deleted := mail.queue_due_reports(v_batch);
  WHEN 'daily_digests', 'weekly_digests' THEN
    v_deleted := mail.queue_digests(split_part(part, '_', 1), now(), false, v_batch);
  END CASE;
  IF part NOT IN ('due_reports', 'daily_digests', 'weekly_digests') THEN
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
  END IF;

  IF v_deleted > 0 THEN
    v_details := jsonb_build_object(part, v_deleted);
    IF part = 'old_logs' THEN
      v_details := v_details || jsonb_build_object('log_retention', v_retention::text);
    END IF;
    PERFORM audit.write('INFO', 'db', 'maintenance', NULL, v_details);
  END IF;
  RETURN json_build_object('skipped', false, 'part', part, 'deleted', v_deleted, 'more', v_deleted >= v_batch);
END
$$;

-- /readyz: the migration version tern recorded and the digest of the
-- installed code package; the gateway answers 503 unless both are its own.
-- proxy_trusted: whether the gateway's login may assert identities
-- (auth.proxy_trusted); a gateway with PROXY_USER_HEADER set is not ready
-- without it.
CREATE OR REPLACE FUNCTION api.readiness() RETURNS json
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  SELECT json_build_object('version', (SELECT max(v.version) FROM public.schema_version v),
                           'code', (SELECT p.digest FROM public.code_package p WHERE p.name = 'sql/code'),
                           'proxy_trusted', auth.proxy_trusted());
END;

-- The gateway's per-function metrics (homebase_db_function_calls_total and
-- homebase_db_function_seconds_total, docs/operations/functions.md): what
-- PostgreSQL counts for each function of schema api (pg_stat_user_functions,
-- with track_functions = 'pl'; a LANGUAGE sql function is inlined or not
-- counted, so the routes' PL/pgSQL functions are what shows), summed over a
-- name's overloads (two exist only across one release). The gateway reads
-- no view: it calls this, which answers these counters and nothing else, for
-- api's names only (the helpers inside them are for scripts/db top, run by a
-- DBA). Counters since the last statistics reset; the gateway reads them on
-- its maintenance timer, never per scrape. [] while track_functions is off.
CREATE OR REPLACE FUNCTION api.function_stats() RETURNS json
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  SELECT coalesce(json_agg(json_build_object('function', f.funcname, 'calls', f.calls,
                                             'total_seconds', f.total_ms / 1000, 'self_seconds', f.self_ms / 1000)
                           ORDER BY f.funcname), '[]')
    FROM (SELECT s.funcname::text AS funcname, sum(s.calls)::bigint AS calls,
                 sum(s.total_time) AS total_ms, sum(s.self_time) AS self_ms
            FROM pg_stat_user_functions s
           WHERE s.schemaname = 'api'
           GROUP BY s.funcname) f;
END;

-- A slow call's line in PostgreSQL's log, naming its trace: the gateway
-- sends every route's call as api.timed(ctx, 'api.fn', api.fn(ctx, …))
-- (gateway/handler.go, callSQL), so this runs after the function, in the
-- same statement, and passes its answer through unchanged. Over the
-- threshold (the setting homebase.slow_call_ms, 500 when unset; a DBA sets
-- it with ALTER DATABASE … SET or ALTER ROLE gateway SET; 0 logs every
-- call) it writes one LOG line: the function, the time since the statement
-- began, the trace id and the request id, never a token or an argument.
-- A call that fails raises before this runs; the gateway's log has it.
CREATE OR REPLACE FUNCTION api.timed(ctx request.context, fn text, result json) RETURNS json
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ms numeric := extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000;
BEGIN
  IF v_ms >= coalesce(nullif(current_setting('homebase.slow_call_ms', true), '')::numeric, 500) THEN
    -- Only the characters the gateway sends: no caller's text can forge a line.
    RAISE LOG 'slow call: % took % ms (trace %, request %)',
      regexp_replace(left(fn, 64), '[^a-z0-9_.]', '?', 'g'), round(v_ms, 1),
      CASE WHEN ctx.trace_id ~ '^[0-9a-f]{32}$' THEN ctx.trace_id ELSE '-' END,
      coalesce(regexp_replace(left(ctx.request_id, 128), '[^A-Za-z0-9._:-]', '?', 'g'), '-');
  END IF;
  RETURN result;
END
$$;

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
                    'client_ip', host(p.client_ip), 'request_id', p.request_id, 'details', p.details)
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

-- One bounded, idempotent round of clean-up: deletes at most batch_size
-- (default 1000) expired sessions, stale throttle counters, log rows older
-- than audit.settings.log_retention, expired activities (their replies,
-- which expire with them, likes and reposts go by cascade; the feeds stopped
-- showing them when they expired) and logins (auth.logins) older than 13
-- months, which no monthly report counts any more (it counts 13 months back). Answers the counts and whether a full
-- batch suggests more is left; callers repeat while "more". Each round is its
-- own short transaction, so clean-up never holds many row locks or a long
-- snapshot. One round at a time across all gateways: a round that finds
-- another one running skips ("skipped": true).
-- Called by the gateway on a timer (MAINTENANCE_INTERVAL) and by `scripts/db maintain`.
CREATE OR REPLACE FUNCTION api.maintenance(batch_size integer DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_retention interval := (SELECT s.log_retention FROM audit.settings s);
  v_batch integer := coalesce(batch_size, 1000);
  v_sessions integer;
  v_counters integer;
  v_logs integer;
  v_activities integer;
  v_logins integer;
BEGIN
  IF v_batch NOT BETWEEN 1 AND 100000 THEN
    PERFORM response.raise(422, 'VALIDATION', 'invalid batch size', '{"batch_size": "must be between 1 and 100000"}');
  END IF;
  IF NOT pg_try_advisory_xact_lock(hashtext('homebase maintenance')) THEN
    RETURN json_build_object('skipped', true, 'more', false);
  END IF;

  DELETE FROM auth.account_sessions s
   WHERE s.id IN (SELECT x.id FROM auth.account_sessions x WHERE x.expiry_time <= now()
                   ORDER BY x.expiry_time LIMIT v_batch FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS v_sessions = ROW_COUNT;

  DELETE FROM auth.login_failures f
   WHERE f.key IN (SELECT x.key FROM auth.login_failures x WHERE x.window_start + auth.throttle_window() <= now()
                    LIMIT v_batch FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS v_counters = ROW_COUNT;

  DELETE FROM audit.logs l
   WHERE l.id IN (SELECT x.id FROM audit.logs x WHERE x.logged_at < now() - v_retention
                   ORDER BY x.logged_at LIMIT v_batch);
  GET DIAGNOSTICS v_logs = ROW_COUNT;

  DELETE FROM publishing.activities a
   WHERE a.uuid IN (SELECT x.uuid FROM publishing.activities x WHERE x.expires_at <= now()
                     ORDER BY x.expires_at LIMIT v_batch FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS v_activities = ROW_COUNT;

  DELETE FROM auth.logins x
   WHERE x.id IN (SELECT y.id FROM auth.logins y WHERE y.logged_in_at < now() - interval '13 months'
                   ORDER BY y.logged_in_at LIMIT v_batch);
  GET DIAGNOSTICS v_logins = ROW_COUNT;

  IF v_sessions + v_counters + v_logs + v_activities + v_logins > 0 THEN
    PERFORM audit.write('INFO', 'db', 'maintenance', NULL,
                        jsonb_build_object('expired_sessions', v_sessions, 'throttle_counters', v_counters,
                                           'old_logs', v_logs, 'expired_activities', v_activities,
                                           'old_logins', v_logins, 'log_retention', v_retention::text));
  END IF;
  RETURN json_build_object('skipped', false, 'expired_sessions', v_sessions, 'throttle_counters', v_counters,
                           'old_logs', v_logs, 'expired_activities', v_activities, 'old_logins', v_logins,
                           'more', greatest(v_sessions, v_counters, v_logs, v_activities, v_logins) >= v_batch);
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

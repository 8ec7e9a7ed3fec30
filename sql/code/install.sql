-- The code package: every function but those the tables of the migrations
-- depend on (their trigger functions), each defined once in the file of its
-- group, installed after the migrations.
--
--   scripts/db migrate                                      migrations, then this package
--   go tool tern code install sql/code --config tern.conf   this package alone, as a DBA deploys
--
-- tern evaluates this file as a Go template (each template line below
-- pastes one file of this folder; no other file may hold double braces)
-- and runs the result as ONE statement string, in one transaction, under the
-- advisory lock of tern's migrations.
--
-- Safe under load. Every function is CREATE OR REPLACEd, which keeps its
-- identity (its oid): a request that is running or planned when the install
-- commits goes on with the old body or picks up the new one, and never
-- meets a function that vanished ("cache lookup failed"), as it would if
-- the package dropped and recreated its schemas. What the package no longer
-- defines is dropped at the end (below).
--
-- The package owns the schemas api and response, and every function of the
-- domain schemas (auth, audit, request, publishing, tracking) except the
-- trigger functions and any other function a table, index or default
-- depends on: those belong to the migrations.
SET LOCAL search_path = pg_catalog, ext, pg_temp;
SET LOCAL client_min_messages = warning;

CREATE SCHEMA IF NOT EXISTS response;
COMMENT ON SCHEMA response IS 'Helpers that shape what api functions return: error bodies, statuses, timestamps.';
CREATE SCHEMA IF NOT EXISTS api;
COMMENT ON SCHEMA api IS 'One function per HTTP route; the only schema the gateway role can use.';
CREATE SCHEMA IF NOT EXISTS sender;
COMMENT ON SCHEMA sender IS 'The mail sender''s functions (claim, mark sent, mark failed, stats); the only schema the mailer role can use.';

{{ template "request.sql" . }}
{{ template "response.sql" . }}
{{ template "audit.sql" . }}
{{ template "auth.sql" . }}
{{ template "mail.sql" . }}
{{ template "api/accounts.sql" . }}
{{ template "api/sessions.sql" . }}
{{ template "publishing/posts.sql" . }}
{{ template "publishing/activities.sql" . }}
{{ template "api/posts.sql" . }}
{{ template "api/activities.sql" . }}
{{ template "api/admin.sql" . }}
{{ template "tracking/parse.sql" . }}
{{ template "tracking/goals.sql" . }}
{{ template "api/goals.sql" . }}
{{ template "tracking/trackers.sql" . }}
{{ template "api/trackers.sql" . }}
{{ template "tracking/reports.sql" . }}
{{ template "api/reports.sql" . }}
{{ template "mail_reports.sql" . }}
{{ template "digests.sql" . }}
{{ template "api/mail.sql" . }}

-- Functions of the package's schemas that this install did not (re)define
-- are gone from the package: a function removed from its file, or the old
-- signature of one whose arguments changed. Every statement above ran in
-- this transaction, so what it defined carries this transaction's id as
-- xmin. Drop the rest, in passes, since one may be used by another; without
-- CASCADE, so that nothing outside the package goes with them.
DO $$
DECLARE
  v_fn regprocedure;
  v_dropped integer;
  v_left integer;
  v_detail text;
BEGIN
  LOOP
    v_dropped := 0;
    v_left := 0;
    FOR v_fn IN
      SELECT p.oid::regprocedure
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE (n.nspname IN ('api', 'response', 'sender')
              OR (n.nspname IN ('auth', 'audit', 'request', 'publishing', 'tracking', 'mail')
                  AND p.prorettype <> 'pg_catalog.trigger'::regtype))
         AND p.xmin <> pg_current_xact_id()::xid
         AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.refclassid = 'pg_proc'::regclass AND d.refobjid = p.oid
                            AND d.classid <> 'pg_proc'::regclass)
    LOOP
      BEGIN
        EXECUTE format('DROP FUNCTION %s', v_fn);
        v_dropped := v_dropped + 1;
      EXCEPTION WHEN dependent_objects_still_exist THEN
        v_left := v_left + 1;
        GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
        v_detail := format('%s: %s', v_fn, v_detail);
      END;
    END LOOP;
    EXIT WHEN v_left = 0;
    IF v_dropped = 0 THEN
      RAISE EXCEPTION 'the code package no longer defines a function that is still used'
        USING DETAIL = v_detail, HINT = 'Define it again in sql/code, or change what uses it.';
    END IF;
  END LOOP;
END
$$;

-- The gateway reaches the api schema and nothing else: no table, no helper.
-- After the clean-up above: a GRANT rewrites the catalog row of every
-- function it names, which would give a function this install did not
-- define this transaction's xmin, and keep it.
GRANT USAGE ON SCHEMA api TO gateway;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO gateway;
-- The mail sender (gateway/cmd/mailer) likewise: the sender schema's functions only.
GRANT USAGE ON SCHEMA sender TO mailer;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA sender TO mailer;

-- What is installed now: the SHA-256 of this whole statement string, which
-- is exactly the evaluated package (current_query() is the text tern sent).
-- The gateway computes the same digest from the package it embeds and
-- answers /readyz with 503 while the two differ.
INSERT INTO public.code_package AS p (name, digest)
VALUES ('sql/code', encode(sha256(convert_to(current_query(), 'UTF8')), 'hex'))
ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, installed_at = now(), installed_by = session_user;

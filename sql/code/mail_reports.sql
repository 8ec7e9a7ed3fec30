-- ============================================================================
-- mail: the monthly report mail (kind monthly_report; the months queued:
-- mail.report_months, sql/migrations/016_mail_reports.sql)
-- ============================================================================
-- Each confirmed account (email_confirmed_at set) whose report_format is
-- html or pdf (html without a preferences row) gets the report of a month
-- once, in its own time zone: after the month ends there (api.maintenance,
-- part due_reports, on the gateway's maintenance timer), or when
-- `scripts/db send-reports [YYYY-MM]` queues a month by hand (a by-hand run
-- counts as that month's mail). The sender renders the row's data
-- (gateway/mailer/report.go): the HTML report with a chart, or a short mail
-- with the PDF. None of these functions is the gateway's or the sender's:
-- schema mail is neither role's.

-- The report mail of an account's local month (its first day), queued
-- unless the account is not confirmed, its report_format is none, or that
-- month was queued for it before (then NULL; else the outbox row's id).
-- `at` is when the run happens (now(): a parameter so that the tests can
-- stand on a month's boundary): a month that has not ended by then in the
-- account's zone is a report so far ("complete": false).
-- The row's data: "report" (the monthly report route's fields, exactly as
-- tracking.month_report computes them), "days" (the logs per day of the
-- month, tracking.logs_per_day: the chart), "format" (html or pdf),
-- "timezone", "username", "display_name", "complete", and "unsubscribe":
-- "report" (the sender adds a one-click unsubscribe to a periodic mail).
CREATE OR REPLACE FUNCTION mail.queue_report(account_id bigint, month date, at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  a record;
  v_id bigint;
BEGIN
  SELECT x.id, x.username::text AS username, x.display_name, x.email::text AS email,
         p.report_format AS format, p.timezone AS tz
    INTO a
    FROM auth.accounts x
   CROSS JOIN LATERAL tracking.account_preferences(x.id) p
   WHERE x.id = queue_report.account_id AND x.email_confirmed_at IS NOT NULL AND x.disabled_at IS NULL
     AND p.report_format IN ('html', 'pdf');
  IF NOT FOUND OR queue_report.month IS NULL OR extract(day FROM queue_report.month) <> 1 THEN
    RETURN NULL;
  END IF;
  -- The month's mark first: a concurrent run for the same month waits here
  -- for this one's commit, then queues nothing.
  INSERT INTO mail.report_months (account_id, month) VALUES (a.id, queue_report.month)
  ON CONFLICT ON CONSTRAINT report_months_pkey DO NOTHING;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  v_id := mail.enqueue('monthly_report', a.id, a.email,
                       jsonb_build_object(
                         'report', tracking.month_report(a.id, queue_report.month, a.tz),
                         'days', tracking.logs_per_day(a.id, queue_report.month, a.tz),
                         'format', a.format, 'timezone', a.tz,
                         'username', a.username, 'display_name', a.display_name,
                         'complete', (queue_report.month + interval '1 month') AT TIME ZONE a.tz <= queue_report.at,
                         'unsubscribe', 'report'),
                       format('report:%s:%s', a.id, to_char(queue_report.month, 'YYYY-MM')));
  UPDATE mail.report_months m SET outbox_id = v_id WHERE m.account_id = a.id AND m.month = queue_report.month;
  RETURN v_id;
END
$$;

-- `scripts/db send-reports [YYYY-MM]`: queues now the report of the month
-- (the first day of a month; NULL: the current month in each account's
-- zone, a report so far) for every account that gets reports
-- (mail.queue_report) and has not had that month's. A month that has not
-- begun in an account's zone at `at` is skipped for it. Returns how many
-- mails were queued. One transaction: for a very large number of
-- accounts, the maintenance part due_reports goes in batches.
CREATE OR REPLACE FUNCTION mail.queue_reports(month date DEFAULT NULL, at timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  r record;
  v_queued integer := 0;
BEGIN
  FOR r IN
    SELECT x.id, m.month
      FROM auth.accounts x
     CROSS JOIN LATERAL tracking.account_preferences(x.id) p
     CROSS JOIN LATERAL (SELECT coalesce(queue_reports.month,
                                         date_trunc('month', queue_reports.at AT TIME ZONE p.timezone)::date)
                                  AS month) m
     WHERE x.email_confirmed_at IS NOT NULL AND x.disabled_at IS NULL AND p.report_format IN ('html', 'pdf')
       AND m.month::timestamp AT TIME ZONE p.timezone <= queue_reports.at
       AND NOT EXISTS (SELECT 1 FROM mail.report_months q WHERE q.account_id = x.id AND q.month = m.month)
     ORDER BY x.id
  LOOP
    IF mail.queue_report(r.id, r.month, queue_reports.at) IS NOT NULL THEN
      v_queued := v_queued + 1;
    END IF;
  END LOOP;
  RETURN v_queued;
END
$$;

-- The maintenance part due_reports (api.maintenance): queues the reports
-- that are due at `at`, at most batch_size of them: for each account that
-- gets reports, the month before the current one in its zone, unless that
-- month was queued already or the account did not exist before it ended
-- (an account made on the 3rd gets no report of the month before). Only
-- that month: a run after a long stop does not mail a backlog of old
-- months. Returns how many were queued (batch_size: call again).
CREATE OR REPLACE FUNCTION mail.queue_due_reports(batch_size integer, at timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  r record;
  v_queued integer := 0;
BEGIN
  FOR r IN
    SELECT x.id, z.last_month AS month
      FROM auth.accounts x
     CROSS JOIN LATERAL tracking.account_preferences(x.id) p
     CROSS JOIN LATERAL (SELECT date_trunc('month', queue_due_reports.at AT TIME ZONE p.timezone) AS this_month) m
     CROSS JOIN LATERAL (SELECT (m.this_month - interval '1 month')::date AS last_month,
                                m.this_month AT TIME ZONE p.timezone AS last_month_end) z
     WHERE x.email_confirmed_at IS NOT NULL AND x.disabled_at IS NULL AND p.report_format IN ('html', 'pdf')
       AND x.created_at < z.last_month_end
       AND NOT EXISTS (SELECT 1 FROM mail.report_months q WHERE q.account_id = x.id AND q.month = z.last_month)
     ORDER BY x.id
     LIMIT greatest(coalesce(queue_due_reports.batch_size, 100), 1)
  LOOP
    IF mail.queue_report(r.id, r.month, queue_due_reports.at) IS NOT NULL THEN
      v_queued := v_queued + 1;
    END IF;
  END LOOP;
  RETURN v_queued;
END
$$;

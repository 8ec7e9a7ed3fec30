-- ============================================================================
-- mail: the reminder digests (the preference notification: daily, weekly,
-- none), queued by the maintenance timer and by `scripts/db send-digests`
-- ============================================================================
-- A digest lists an account's reminders (tracking.reminders, the query of
-- GET /reminders) that are due in its period, counted in the account's time
-- zone (tracking.preferences.timezone): daily, each morning, those due
-- today or tomorrow; weekly, on Monday mornings, those due that day or in
-- the six days after (the week, Monday to Sunday). Nothing is queued when
-- nothing is due. Once per account and period: the outbox row's dedupe key
-- names the period (mail.digest_key). Only for confirmed, enabled accounts;
-- an account without preferences has the default, weekly.

-- The first and last hour of the morning, local time, in which the timer
-- queues digests: from 06:00 to before 12:00. A gateway down all morning
-- skips that day's digest rather than mailing "this morning's" at night;
-- an account with nothing due at 06:00 is looked at again at each tick of
-- the morning, so a reminder added at 09:00 for today still makes it.
CREATE OR REPLACE FUNCTION mail.digest_morning(local timestamp) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN local::time >= time '06:00' AND local::time < time '12:00';

-- The dedupe key of an account's digest of a period: the local date it
-- began (the day; the Monday of the week). A run by hand counts as the
-- period's mail.
CREATE OR REPLACE FUNCTION mail.digest_key(account_id bigint, period text, period_start date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 'digest:' || account_id || ':' || period || ':' || to_char(period_start, 'YYYY-MM-DD');

-- How many reminders one digest lists at most; the mail says when there
-- are more (data "more"), and GET /reminders has them all.
CREATE OR REPLACE FUNCTION mail.digest_max_reminders() RETURNS integer
LANGUAGE sql IMMUTABLE
RETURN 50;

-- Queues the digests of `period` (daily or weekly) that are due at at_time:
-- for each confirmed, enabled account whose notification is that period,
-- whose local time is a morning (mail.digest_morning) and, weekly, a
-- Monday, which has no digest of this period yet and something due, one
-- mail 'digest' (data: the names it greets, the period, its first and last
-- date, the reminders, "more", and "unsubscribe": "digest", for which the
-- sender adds the one-click unsubscribe headers). by_hand: whatever the
-- hour and the day (`scripts/db send-digests`): the current period's
-- digest, if it was not sent yet, with what is due from today. At most
-- batch_size accounts (NULL: all); returns how many mails were queued (a
-- full batch: there may be more; the caller calls again).
CREATE OR REPLACE FUNCTION mail.queue_digests(period text, at_time timestamptz DEFAULT now(), by_hand boolean DEFAULT false,
                                              batch_size integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_days integer := CASE queue_digests.period WHEN 'daily' THEN 1 WHEN 'weekly' THEN 6 END;
  v_max integer := mail.digest_max_reminders();
  v record;
  v_queued integer := 0;
BEGIN
  IF v_days IS NULL THEN
    RAISE EXCEPTION 'mail.queue_digests: the period is daily or weekly, not %', queue_digests.period
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- The accounts due first (cheap: their preferences, their local time,
  -- the dedupe key's index), then each one's reminders, once (OFFSET 0
  -- keeps the call from being pulled up and evaluated twice).
  FOR v IN
    WITH due AS MATERIALIZED (
      SELECT a.id, a.email::text AS email, a.username::text AS username, a.display_name, d.today, d.period_start
        FROM auth.accounts a
        CROSS JOIN LATERAL tracking.account_preferences(a.id) p
        CROSS JOIN LATERAL (SELECT at_time AT TIME ZONE p.timezone AS local) l
        CROSS JOIN LATERAL (SELECT l.local::date AS today,
                                   CASE queue_digests.period WHEN 'daily' THEN l.local::date
                                        ELSE date_trunc('week', l.local)::date END AS period_start) d
       WHERE a.email_confirmed_at IS NOT NULL AND a.disabled_at IS NULL
         AND p.notification = queue_digests.period
         AND (queue_digests.by_hand
              OR (mail.digest_morning(l.local) AND (queue_digests.period = 'daily' OR extract(isodow FROM l.local) = 1)))
         AND NOT EXISTS (SELECT 1 FROM mail.outbox o
                          WHERE o.dedupe_key = mail.digest_key(a.id, queue_digests.period, d.period_start)))
    SELECT due.*, r.reminders
      FROM due
      CROSS JOIN LATERAL (SELECT tracking.reminders(due.id, due.today, due.today + v_days, v_max + 1) AS reminders OFFSET 0) r
     WHERE r.reminders <> '[]'
     ORDER BY due.id
     LIMIT queue_digests.batch_size
  LOOP
    IF mail.enqueue('digest', v.id, v.email,
                    jsonb_build_object('username', v.username, 'display_name', v.display_name,
                                       'period', queue_digests.period,
                                       'from', to_char(v.today, 'YYYY-MM-DD'),
                                       'until', to_char(v.today + v_days, 'YYYY-MM-DD'),
                                       'reminders', jsonb_path_query_array(v.reminders, '$[0 to $last]',
                                                                           jsonb_build_object('last', v_max - 1)),
                                       'more', jsonb_array_length(v.reminders) > v_max,
                                       'unsubscribe', 'digest'),
                    mail.digest_key(v.id, queue_digests.period, v.period_start)) IS NOT NULL THEN
      v_queued := v_queued + 1;
    END IF;
  END LOOP;
  RETURN v_queued;
END
$$;

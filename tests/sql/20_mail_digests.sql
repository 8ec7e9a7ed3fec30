-- Reminder digests (sql/code/digests.sql: mail.queue_digests; the shared
-- query tracking.reminders): the morning in the account's zone, the due
-- windows (daily: today and tomorrow; weekly, on Mondays: the week), once
-- per account and period, nothing when nothing is due, only confirmed
-- accounts, none for notification 'none'; by hand whatever the hour; the
-- maintenance parts that queue them. The times are fixed, in 2030:
-- 2030-01-07 is a Monday.
-- Calls run as the superuser with contexts built by pg_temp.ctx (helpers.psql).
BEGIN;
SELECT plan(30);
\ir helpers.psql

CREATE FUNCTION pg_temp.account(who text, confirmed boolean, notification text, zone text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v_id bigint;
BEGIN
  v_id := (api.signup(pg_temp.ctx(ip => '198.51.100.20'), who, lower(who) || '@example.com', 'digest password 1', who || ' <i>')::jsonb
           #>> '{account,id}')::bigint;
  UPDATE auth.accounts SET email_confirmed_at = CASE WHEN confirmed THEN now() END WHERE id = v_id;
  IF notification IS NOT NULL THEN
    INSERT INTO tracking.preferences (account_id, notification, timezone) VALUES (v_id, notification, zone);
  END IF;
  INSERT INTO tracking.trackers (account_id, name, type) VALUES (v_id, 'Plants <b>', 'note');
  RETURN v_id;
END
$$;
-- A log of the account's tracker due on `due`.
CREATE FUNCTION pg_temp.due(account bigint, due date, msg text DEFAULT NULL) RETURNS void LANGUAGE sql AS $$
  INSERT INTO tracking.logs (tracker_id, note, event_reminder_msg, event_date)
  SELECT t.id, 'note of ' || due, msg, due FROM tracking.trackers t WHERE t.account_id = account
$$;
CREATE FUNCTION pg_temp.digests(account bigint) RETURNS SETOF mail.outbox LANGUAGE sql AS $$
  SELECT * FROM mail.outbox o WHERE o.account_id = account AND o.kind = 'digest' ORDER BY o.id
$$;

-- Ann: daily, Tokyo (UTC+9); due yesterday, today, tomorrow, the day after.
SELECT pg_temp.account('Tap20_Ann', true, 'daily', 'Asia/Tokyo') AS ann \gset
SELECT pg_temp.due(:ann, '2030-01-06'), pg_temp.due(:ann, '2030-01-07', 'water them'), pg_temp.due(:ann, '2030-01-08'),
       pg_temp.due(:ann, '2030-01-09') \gset
-- Bob: daily, UTC, due only in three days. Cat: daily but unconfirmed. Dan:
-- confirmed, notification none. Both due tomorrow.
SELECT pg_temp.account('Tap20_Bob', true, 'daily', 'UTC') AS bob \gset
SELECT pg_temp.due(:bob, '2030-01-10') \gset
SELECT pg_temp.account('Tap20_Cat', false, 'daily', 'UTC') AS cat \gset
SELECT pg_temp.account('Tap20_Dan', true, 'none', 'UTC') AS dan \gset
SELECT pg_temp.due(:cat, '2030-01-08'), pg_temp.due(:dan, '2030-01-08') \gset
-- Eve: no preferences row (the default, weekly, UTC); due on Saturday and
-- on the next Monday. Fay: daily, UTC, due today.
SELECT pg_temp.account('Tap20_Eve', true, NULL, NULL) AS eve \gset
SELECT pg_temp.due(:eve, '2030-01-12'), pg_temp.due(:eve, '2030-01-14') \gset
SELECT pg_temp.account('Tap20_Fay', true, 'daily', 'UTC') AS fay \gset
SELECT pg_temp.due(:fay, '2030-01-07') \gset

-- ---------------------------------------------------------------------------
-- The shared query: GET /reminders and the digests read the same rows
-- ---------------------------------------------------------------------------
SELECT is((SELECT array_agg(r ->> 'event_date') FROM jsonb_array_elements(tracking.reminders(:ann, NULL, '2030-01-08')) r),
          ARRAY['2030-01-06', '2030-01-07', '2030-01-08'], 'tracking.reminders without a start: past-due ones too, soonest first');
SELECT is((SELECT array_agg(r ->> 'event_date') FROM jsonb_array_elements(tracking.reminders(:ann, '2030-01-07', '2030-01-09', 2)) r),
          ARRAY['2030-01-07', '2030-01-08'], '... with a start and a count: from that day, at most that many');
SELECT is(tracking.reminders(:bob, '2030-01-07', '2030-01-08'), '[]'::jsonb, '... none: []');

-- ---------------------------------------------------------------------------
-- Daily: the morning in the account's zone
-- ---------------------------------------------------------------------------
SELECT mail.queue_digests('daily', '2030-01-06 20:00Z') \gset
SELECT is((SELECT count(*) FROM pg_temp.digests(:ann)), 0::bigint, 'at 05:00 in Tokyo Ann gets no digest yet');
SELECT mail.queue_digests('daily', '2030-01-07 03:30Z') \gset
SELECT is((SELECT count(*) FROM pg_temp.digests(:ann)), 0::bigint, '... nor at 12:30 (the morning is over)');
SELECT ok(mail.queue_digests('daily', '2030-01-06 23:30Z') >= 1, 'at 08:30 in Tokyo the run queues digests');
SELECT is((SELECT count(*) FROM pg_temp.digests(:ann)), 1::bigint, '... Ann''s');
SELECT is((SELECT jsonb_build_object('recipient', recipient::text, 'dedupe_key', dedupe_key, 'data', data - 'reminders')
             FROM pg_temp.digests(:ann)),
          jsonb_build_object('recipient', 'tap20_ann@example.com', 'dedupe_key', 'digest:' || :ann || ':daily:2030-01-07',
                             'data', '{"username": "Tap20_Ann", "display_name": "Tap20_Ann <i>", "period": "daily",
                                       "from": "2030-01-07", "until": "2030-01-08", "more": false, "unsubscribe": "digest"}'::jsonb),
          '... to her address, once for her local day (the dedupe key), asking for an unsubscribe link');
SELECT is((SELECT array_agg(r ->> 'event_date' || ' ' || (r #>> '{tracker,name}') || ' ' || coalesce(r ->> 'event_reminder_msg', '-'))
             FROM pg_temp.digests(:ann) o, jsonb_array_elements(o.data -> 'reminders') r),
          ARRAY['2030-01-07 Plants <b> water them', '2030-01-08 Plants <b> -'],
          '... listing what is due today and tomorrow in Tokyo (not yesterday''s, not the day after''s), with tracker and message');
SELECT is((SELECT data #>> '{reminders,0,note}' FROM pg_temp.digests(:ann)), 'note of 2030-01-07', '... and note');
SELECT is((SELECT count(*) FROM pg_temp.digests(:fay)), 0::bigint, '... not Fay''s: 23:30 in UTC is no morning');

SELECT mail.queue_digests('daily', '2030-01-07 00:30Z') \gset
SELECT is((SELECT count(*) FROM pg_temp.digests(:ann)), 1::bigint, 'an hour later: no second digest for the same day');
SELECT mail.queue_digests('daily', '2030-01-07 23:30Z') \gset
SELECT is((SELECT array_agg(dedupe_key ORDER BY id) FROM pg_temp.digests(:ann)),
          ARRAY['digest:' || :ann || ':daily:2030-01-07', 'digest:' || :ann || ':daily:2030-01-08'],
          'the next morning in Tokyo: the next day''s digest');
SELECT is((SELECT array_agg(r ->> 'event_date') FROM pg_temp.digests(:ann) o, jsonb_array_elements(o.data -> 'reminders') r
            WHERE o.dedupe_key LIKE '%2030-01-08'),
          ARRAY['2030-01-08', '2030-01-09'], '... with that day''s and the next''s');

SELECT mail.queue_digests('daily', '2030-01-07 08:00Z') \gset
SELECT is((SELECT count(*) FROM pg_temp.digests(:bob)), 0::bigint, 'nothing due today or tomorrow: no digest');
SELECT is((SELECT count(*) FROM pg_temp.digests(:cat)), 0::bigint, 'an unconfirmed address gets none');
SELECT is((SELECT count(*) FROM pg_temp.digests(:dan)), 0::bigint, 'notification none gets none');
SELECT is((SELECT count(*) FROM pg_temp.digests(:eve)), 0::bigint, 'a weekly account gets no daily digest');

-- Fay: by hand, whatever the hour; a run after it sends nothing again.
SELECT is((SELECT count(*) FROM pg_temp.digests(:fay)), 1::bigint, 'Fay (UTC) got her digest of the 7th at 08:00…');
-- As if it had not been queued: the period is free again.
UPDATE mail.outbox SET dedupe_key = dedupe_key || ':moved' WHERE account_id = :fay AND kind = 'digest';
SELECT mail.queue_digests('daily', '2030-01-07 20:00Z') \gset
SELECT is((SELECT count(*) FROM pg_temp.digests(:fay)), 1::bigint, '... at 20:00 the timer queues none');
SELECT mail.queue_digests('daily', '2030-01-07 20:00Z', by_hand => true) \gset
SELECT is((SELECT count(*) FROM pg_temp.digests(:fay)), 2::bigint, '... by hand: one, whatever the hour');
SELECT mail.queue_digests('daily', '2030-01-07 21:00Z', by_hand => true) \gset
SELECT is((SELECT count(*) FROM pg_temp.digests(:fay)), 2::bigint, '... and a second run by hand sends none again');

-- ---------------------------------------------------------------------------
-- Weekly: Monday mornings, the week
-- ---------------------------------------------------------------------------
SELECT mail.queue_digests('weekly', '2030-01-08 08:00Z') \gset
SELECT is((SELECT count(*) FROM pg_temp.digests(:eve)), 0::bigint, 'weekly: nothing on a Tuesday morning');
SELECT mail.queue_digests('weekly', '2030-01-07 08:00Z') \gset
SELECT is((SELECT dedupe_key || ' ' || (data ->> 'from') || ' ' || (data ->> 'until') FROM pg_temp.digests(:eve)),
          'digest:' || :eve || ':weekly:2030-01-07 2030-01-07 2030-01-13',
          'on Monday morning (the default preferences: weekly, UTC): one digest for the week, Monday to Sunday');
SELECT is((SELECT array_agg(r ->> 'event_date') FROM pg_temp.digests(:eve) o, jsonb_array_elements(o.data -> 'reminders') r),
          ARRAY['2030-01-12'], '... listing Saturday''s, not the next Monday''s');
SELECT mail.queue_digests('weekly', '2030-01-09 08:00Z', by_hand => true) \gset
SELECT is((SELECT count(*) FROM pg_temp.digests(:eve)), 1::bigint, 'by hand later that week: none again (one per week)');
SELECT throws_ok($$SELECT mail.queue_digests('monthly')$$, '22023', NULL, 'a period other than daily or weekly is refused');

-- At most 50 reminders a digest; "more" says there were more.
SELECT pg_temp.account('Tap20_Gil', true, 'daily', 'UTC') AS gil \gset
SELECT count(pg_temp.due(:gil, '2030-01-08')) FROM generate_series(1, 52) \gset
SELECT mail.queue_digests('daily', '2030-01-07 07:00Z') \gset
SELECT is((SELECT jsonb_array_length(data -> 'reminders') || ' ' || (data ->> 'more') FROM pg_temp.digests(:gil)), '50 true',
          'a digest lists at most 50 reminders, and says there are more');

-- ---------------------------------------------------------------------------
-- The maintenance parts (the timer) queue them now, as the gateway
-- ---------------------------------------------------------------------------
SET LOCAL ROLE gateway;
SELECT is(api.maintenance('daily_digests')::jsonb - 'deleted',
          '{"skipped": false, "part": "daily_digests", "more": false}'::jsonb,
          'the part daily_digests answers as the others do…');
SELECT ok((api.maintenance('weekly_digests', 5)::jsonb ->> 'deleted')::int BETWEEN 0 AND 5, '... "deleted" the mails it queued');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;

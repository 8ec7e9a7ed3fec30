-- One-click unsubscribe (issue 17, RFC 8058): a periodic mail (the reminder
-- digests, the monthly report) carries a link whose token turns that kind
-- of mail off. The token is a row of auth.one_time_tokens of purpose
-- 'unsubscribe' (allowed since 014) that names the kind it turns off:
-- 'digest' (tracking.preferences.notification) or 'report'
-- (report_format). The sender mints it when it claims the mail
-- (sender.claim, sql/code/mail.sql): the raw token is in no table, ever.
--
-- The column is new, NULL in every row: both constraints are added NOT
-- VALID and never validated, as in 014, since no row could fail them and
-- every row written from now on is checked; nothing scans the table under
-- its lock.

SET LOCAL search_path = pg_catalog, ext, pg_temp;

-- The kind of mail an unsubscribe token turns off; NULL for the others.
ALTER TABLE auth.one_time_tokens ADD COLUMN unsubscribes text;
ALTER TABLE auth.one_time_tokens ADD CONSTRAINT one_time_tokens_unsubscribes_known
  CHECK (unsubscribes IN ('digest', 'report')) NOT VALID;
ALTER TABLE auth.one_time_tokens ADD CONSTRAINT one_time_tokens_unsubscribes_purpose
  CHECK ((purpose = 'unsubscribe') = (unsubscribes IS NOT NULL)) NOT VALID;

-- POST /unsubscribe per client IP (auth.rate_count). Generous: a mailbox
-- provider posts the one-click unsubscribes of many of its users from few
-- addresses; each attempt at a forged token still costs one of them.
INSERT INTO auth.rate_limits (name, max_hits, per, success, what) VALUES
  ('unsubscribe_ip', 60, interval '1 minute', 'counts',
   'POST /unsubscribe (one-click unsubscribe of a periodic mail) per client IP');

---- create above / drop below ----

SET LOCAL search_path = pg_catalog, ext, pg_temp;
DELETE FROM auth.login_failures WHERE split_part(key, ':', 1) = 'unsubscribe_ip';
DELETE FROM auth.rate_limits WHERE name = 'unsubscribe_ip';
-- The tokens that need the column go with it; CASCADE: the installed code
-- package's functions that use it go too (installed again after the next
-- migration up).
DELETE FROM auth.one_time_tokens WHERE purpose = 'unsubscribe';
ALTER TABLE auth.one_time_tokens DROP CONSTRAINT one_time_tokens_unsubscribes_purpose;
ALTER TABLE auth.one_time_tokens DROP CONSTRAINT one_time_tokens_unsubscribes_known;
ALTER TABLE auth.one_time_tokens DROP COLUMN unsubscribes CASCADE;

---- tern: disable-tx ----
-- Preferences for the periodic mails (issue 17): the monthly report can be
-- turned off (report_format 'none', which one-click unsubscribe sets), and
-- each account has a time zone, in which its month ends (the report) and
-- its mornings begin (the digests).
--
-- The new CHECK accepts more than the one it replaces, so every row already
-- satisfies it: it is added NOT VALID (no scan under the table's lock) and
-- validated in a transaction of its own (tern runs this file statement by
-- statement: the magic line above), which takes only a SHARE UPDATE
-- EXCLUSIVE lock. The column's default is a constant: adding it rewrites
-- nothing. Each statement is safe to run again after a failure.
-- The zone is checked against PostgreSQL's time zone database by the
-- function that writes it (tracking.time_zone in api.set_preferences): a
-- CHECK cannot read that database.

BEGIN;
ALTER TABLE tracking.preferences
  DROP CONSTRAINT IF EXISTS preferences_report_format_known,
  ADD CONSTRAINT preferences_report_format_known CHECK (report_format IN ('html', 'pdf', 'none')) NOT VALID;
ALTER TABLE tracking.preferences ADD COLUMN IF NOT EXISTS timezone text NOT NULL DEFAULT 'UTC';
COMMENT ON COLUMN tracking.preferences.timezone IS
  'The account''s IANA time zone: when its month ends and its mornings begin, for the report and the digests.';
COMMIT;

ALTER TABLE tracking.preferences VALIDATE CONSTRAINT preferences_report_format_known;

---- create above / drop below ----
---- tern: disable-tx ----

BEGIN;
-- CASCADE: the installed code package's functions that read the column go
-- too (the package is installed again after the next migration up).
ALTER TABLE tracking.preferences DROP COLUMN IF EXISTS timezone CASCADE;
UPDATE tracking.preferences SET report_format = 'html' WHERE report_format = 'none';
ALTER TABLE tracking.preferences
  DROP CONSTRAINT IF EXISTS preferences_report_format_known,
  ADD CONSTRAINT preferences_report_format_known CHECK (report_format IN ('html', 'pdf'));
COMMIT;

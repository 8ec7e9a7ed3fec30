-- Tracking: reports, reminders and preferences (the rest of the MAD-2
-- tracker seed). Reminders and the monthly report read trackers and logs
-- (008_trackers.sql); they need two tables more:
--
--   * tracking.preferences: one row per account, written by the first PUT
--     /account/preferences; without a row the functions answer the defaults
--     (weekly, html), so nothing is inserted at signup.
--   * auth.logins: the time of every successful login, so that the monthly
--     report can count them. auth.accounts keeps only the last two logins,
--     and audit rows expire with audit.settings.log_retention; these rows
--     are kept 13 months (api.maintenance deletes older ones in batches).
--
-- Functions are code: sql/code/tracking/reports.sql and sql/code/api/reports.sql.

CREATE TABLE tracking.preferences (
  account_id    bigint PRIMARY KEY REFERENCES auth.accounts ON DELETE CASCADE,
  notification  text NOT NULL DEFAULT 'weekly',
  report_format text NOT NULL DEFAULT 'html',
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT preferences_notification_known CHECK (notification IN ('daily', 'weekly', 'none')),
  CONSTRAINT preferences_report_format_known CHECK (report_format IN ('html', 'pdf'))
);
COMMENT ON TABLE tracking.preferences IS 'An account''s notification and report preferences; no row means the defaults.';

CREATE TABLE auth.logins (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id   bigint NOT NULL REFERENCES auth.accounts ON DELETE CASCADE,
  logged_in_at timestamptz NOT NULL DEFAULT now()
);
-- The monthly report counts an account's logins in a month.
CREATE INDEX logins_account_id_logged_in_at_idx ON auth.logins (account_id, logged_in_at);
-- api.maintenance deletes the rows older than 13 months, oldest first.
CREATE INDEX logins_logged_in_at_idx ON auth.logins (logged_in_at);
COMMENT ON TABLE auth.logins IS 'Every successful login (api.login), kept 13 months for the monthly report.';

COMMENT ON SCHEMA tracking IS 'Personal tracking: trackers and their logs, goals and their entries, preferences.';

---- create above / drop below ----

COMMENT ON SCHEMA tracking IS 'Personal tracking: trackers and their logs, goals and their entries.';
-- CASCADE: the installed code package's functions that take these row types go too.
DROP TABLE auth.logins CASCADE;
DROP TABLE tracking.preferences CASCADE;

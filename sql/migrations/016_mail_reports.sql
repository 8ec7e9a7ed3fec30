-- The monthly report mail (issue 17): which account's month was queued.
--
-- Each confirmed account with report_format html or pdf gets the report of
-- a month once, after the month ends in its time zone (api.maintenance,
-- part due_reports) or when `scripts/db send-reports` queues it by hand (a
-- by-hand run counts as that month's mail). The outbox's dedupe key alone
-- cannot say so: outbox rows go 30 days after they are sent (maintenance
-- part old_mail), and a report queued on the 1st would be queued again on
-- the 31st. A row here is that month's mail, for as long as the account
-- lives; one row per account and month (a few bytes a month each).

SET LOCAL search_path = pg_catalog, ext, pg_temp;

CREATE TABLE mail.report_months (
  account_id bigint NOT NULL REFERENCES auth.accounts ON DELETE CASCADE,
  -- The first day of the month, as a local date of the account's zone.
  month      date NOT NULL,
  -- The outbox row of the mail (gone 30 days after it was sent: no key).
  outbox_id  bigint,
  queued_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT report_months_pkey PRIMARY KEY (account_id, month),
  CONSTRAINT report_months_first_day CHECK (extract(day FROM month) = 1)
);
COMMENT ON TABLE mail.report_months IS
  'The months whose report was queued for an account (automatically or by hand): each is mailed once.';

---- create above / drop below ----

DROP TABLE IF EXISTS mail.report_months;

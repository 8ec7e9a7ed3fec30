-- Mail (issue 17): the outbox, the one-time tokens, and what accounts need
-- for address confirmation and change.
--
-- Mail is data first: the function that causes a mail (sign-up, an address
-- change, a reset request) inserts its row of mail.outbox in the same
-- transaction as the change and NOTIFYs the channel mail_outbox, so a
-- rolled-back change sends nothing and a committed one is never lost. A
-- sender (gateway/cmd/mailer) claims rows with FOR UPDATE SKIP LOCKED and a
-- lease, delivers them over SMTP and marks them sent or failed, through the
-- functions of schema sender (sql/code/mail.sql), which are all its login
-- role may call. The gateway may not read either table (it has no USAGE on
-- schema mail nor on auth, and no grant on them), nor may the sender.
--
-- Tokens (confirm an address, reset a password, unsubscribe) are 256 random
-- bits handed out once, in the mail; only their SHA-256 is stored. The raw
-- token is in the outbox row's data until the mail is sent, then removed
-- (sender.mark_sent): it exists in clear only in the mail and in flight.

SET LOCAL search_path = pg_catalog, ext, pg_temp;

CREATE SCHEMA mail;
COMMENT ON SCHEMA mail IS 'The outbox of mail to send; reached only through the functions of sender (the sender) and the api functions that queue mail.';

CREATE TABLE mail.outbox (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The template the sender renders (gateway/mailer/templates: one per
  -- kind): confirm_email, email_change_notice, password_reset; the monthly
  -- report and the digests will add theirs.
  kind         text NOT NULL,
  -- The account the mail is about; its mails go with it.
  account_id   bigint REFERENCES auth.accounts ON DELETE CASCADE,
  recipient    ext.citext NOT NULL,
  -- What the template needs (names, a token); the sender escapes it.
  data         jsonb NOT NULL DEFAULT '{}',
  -- Queuing the same mail twice is one row (a report's month, a token's id).
  dedupe_key   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- When a sender may claim the row next: now for a new row, the end of the
  -- lease of a claimed one, the next attempt of a failed one.
  available_at timestamptz NOT NULL DEFAULT now(),
  sent_at      timestamptz,
  -- Set when the sender gave up (a permanent SMTP error, or too many attempts).
  failed_at    timestamptz,
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text,
  CONSTRAINT outbox_dedupe_key_key UNIQUE (dedupe_key),
  CONSTRAINT outbox_kind_format CHECK (kind ~ '^[a-z][a-z_]{0,31}$'),
  CONSTRAINT outbox_recipient_format CHECK (length(recipient::text) <= 254 AND recipient::text ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  CONSTRAINT outbox_attempts_check CHECK (attempts >= 0),
  CONSTRAINT outbox_last_error_length CHECK (length(last_error) <= 1000),
  CONSTRAINT outbox_done_once CHECK (sent_at IS NULL OR failed_at IS NULL)
);
COMMENT ON TABLE mail.outbox IS
  'One row per mail to send, inserted with the change that causes it; claimed, sent and marked by the sender (schema sender).';
-- The sender's claim: the rows still to send, by when they are due.
CREATE INDEX outbox_due_idx ON mail.outbox (available_at, id) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_account_id_idx ON mail.outbox (account_id);

CREATE TABLE auth.one_time_tokens (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  purpose      text NOT NULL,
  token_digest bytea NOT NULL,
  account_id   bigint NOT NULL REFERENCES auth.accounts ON DELETE CASCADE,
  -- The address the token proves (confirm) or was sent to (reset).
  email        ext.citext NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  -- Spent: followed, or replaced by a newer token of the same purpose.
  used_at      timestamptz,
  CONSTRAINT one_time_tokens_token_digest_key UNIQUE (token_digest),
  CONSTRAINT one_time_tokens_token_digest_sha256 CHECK (octet_length(token_digest) = 32),
  CONSTRAINT one_time_tokens_purpose_check CHECK (purpose IN ('confirm', 'reset', 'unsubscribe'))
);
COMMENT ON TABLE auth.one_time_tokens IS
  'Mailed one-time tokens (confirm an address, reset a password, unsubscribe), as SHA-256 digests; single use, with an expiry.';
CREATE INDEX one_time_tokens_account_purpose_idx ON auth.one_time_tokens (account_id, purpose) WHERE used_at IS NULL;
CREATE INDEX one_time_tokens_expires_at_idx ON auth.one_time_tokens (expires_at);

-- An address is known to be the account's once a mailed link was followed.
-- Accounts made before this migration count as confirmed now: they signed up
-- when no confirmation existed, and taking away what they have (a report,
-- a digest) for a mail they were never sent would be wrong.
ALTER TABLE auth.accounts ADD COLUMN email_confirmed_at timestamptz;
-- An address change waiting for its confirmation (PATCH /account): email
-- changes when the link mailed here is followed.
ALTER TABLE auth.accounts ADD COLUMN pending_email ext.citext;
-- NOT VALID and never validated: the column is new, NULL in every row, so
-- there is nothing to validate, and every row written from now on is checked.
ALTER TABLE auth.accounts ADD CONSTRAINT accounts_pending_email_format
  CHECK (length(pending_email::text) <= 254 AND pending_email::text ~ '^[^@[:space:]]+@[^@[:space:]]+$') NOT VALID;
UPDATE auth.accounts SET email_confirmed_at = now() WHERE email_confirmed_at IS NULL;

-- The new limits of the mail routes (auth.rate_count, sql/code/auth.sql).
INSERT INTO auth.rate_limits (name, max_hits, per, success, what) VALUES
  ('reset_email', 5, interval '1 hour', 'counts',
   'POST /password-resets per address, known or not (so the 429 tells nothing): also caps the reset mails one address gets'),
  ('reset_ip', 20, interval '1 hour', 'counts',
   'POST /password-resets per client IP'),
  ('confirm_account', 5, interval '1 hour', 'counts',
   'POST /account/email-confirmation (a fresh confirmation link) per account');

---- create above / drop below ----

SET LOCAL search_path = pg_catalog, ext, pg_temp;
-- The code package's schema of the sender's functions (sql/code/install.sql).
DROP SCHEMA IF EXISTS sender CASCADE;
DELETE FROM auth.login_failures WHERE split_part(key, ':', 1) IN ('reset_email', 'reset_ip', 'confirm_account');
DELETE FROM auth.rate_limits WHERE name IN ('reset_email', 'reset_ip', 'confirm_account');
-- CASCADE: the installed code package's functions that use them go too.
ALTER TABLE auth.accounts DROP CONSTRAINT accounts_pending_email_format;
ALTER TABLE auth.accounts DROP COLUMN pending_email CASCADE;
ALTER TABLE auth.accounts DROP COLUMN email_confirmed_at CASCADE;
DROP TABLE auth.one_time_tokens CASCADE;
DROP SCHEMA mail CASCADE;

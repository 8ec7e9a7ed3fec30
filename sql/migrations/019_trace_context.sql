-- One trace from the browser to the SQL line (docs/operations/functions.md,
-- "One trace"): the gateway takes the W3C traceparent of a request (or makes
-- one) and passes its trace id into SQL as a context item, which the audit
-- rows store beside the request id and the slow-call log lines name.
--
-- audit.logs gets the column empty in every row: the constraint is added
-- NOT VALID and never validated (no row could fail it; every row written
-- from now on is checked), so nothing scans the table under its lock.

SET LOCAL search_path = pg_catalog, ext, pg_temp;

-- The trace id of the request's traceparent: 32 lowercase hex digits, never
-- all zeros (the gateway makes a new one for a missing or malformed header).
ALTER TYPE request.context ADD ATTRIBUTE trace_id text;

ALTER TABLE audit.logs ADD COLUMN trace_id text;
ALTER TABLE audit.logs ADD CONSTRAINT logs_trace_id_format
  CHECK (trace_id ~ '^[0-9a-f]{32}$') NOT VALID;

---- create above / drop below ----

SET LOCAL search_path = pg_catalog, ext, pg_temp;
-- CASCADE: the installed code package's functions that read the item or the
-- column (audit.write) go too, installed again after the next migration up;
-- its constructor request.context() still names the item until the package
-- of this older version is installed.
ALTER TABLE audit.logs DROP COLUMN trace_id CASCADE;
ALTER TYPE request.context DROP ATTRIBUTE trace_id CASCADE;

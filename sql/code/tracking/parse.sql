-- ============================================================================
-- tracking: parsing shared by goals and trackers
-- ============================================================================

-- ----------------------------------------------------------------------------
-- Dates and timestamps arrive as JSON text; these parse them strictly, and
-- answer NULL for anything else, so that the caller reports the field (422)
-- instead of failing with a cast error. (PostgreSQL's own input would also
-- take 'today', 'epoch', 'infinity', '1/2/2026' and more.)
-- ----------------------------------------------------------------------------

-- A calendar date, YYYY-MM-DD; NULL unless exactly that and a real date.
CREATE OR REPLACE FUNCTION tracking.parse_date(value text) RETURNS date
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF value !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
    RETURN NULL;
  END IF;
  RETURN value::date; -- refuses 2026-02-30 (to_date would roll it over)
EXCEPTION WHEN OTHERS THEN
  RETURN NULL;
END
$$;

-- An RFC 3339 timestamp with a time zone offset or Z (2026-05-01T08:30:00Z,
-- 2026-05-01T10:30:00.25+02:00); NULL unless exactly that and a real time.
CREATE OR REPLACE FUNCTION tracking.parse_timestamp(value text) RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF value !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$'
     OR tracking.parse_date(left(value, 10)) IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN value::timestamptz;
EXCEPTION WHEN OTHERS THEN
  RETURN NULL;
END
$$;

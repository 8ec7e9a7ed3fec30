# Mail on the running stack: scripts/run --stack starts Mailpit and one
# sender; a sign-up through nginx reaches Mailpit's API with its link to the
# https URL, and its outbox row is marked sent without its token; the
# sender's health and counters answer; it is connected to PostgreSQL
# directly (LISTEN), not through PgBouncer. Sets MAILER_PID and MAILPIT_PID
# for stack.sh's SIGTERM checks.
# Part of tests/scripts/stack.sh (sourced by it once the stack is up, not
# run): it uses stack.sh's helpers (https, scratch_sql, listener_pid) and
# variables (BASE, TMP, SCRATCH, SMTP_PORT, MAIL_UI_PORT, MAILER_HEALTH_PORT).

MAILPIT_PID=$(listener_pid "$SMTP_PORT") MAILER_PID=$(listener_pid "$MAILER_HEALTH_PORT")
check "Mailpit (SMTP :$SMTP_PORT, API :$MAIL_UI_PORT) and the sender (health :$MAILER_HEALTH_PORT) run (pids ${MAILPIT_PID:-?}, ${MAILER_PID:-?})" \
  test -n "$MAILPIT_PID" -a -n "$MAILER_PID"
check "scripts/run --stack prints where to read the mail" grep -qF "http://127.0.0.1:$MAIL_UI_PORT" "$RUN_LOG"
check "the sender's /healthz answers 200" \
  equal "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MAILER_HEALTH_PORT/healthz")" 200
check "  ... it LISTENs on a direct connection to PostgreSQL" \
  equal "$(psql "$(admin_url postgres)" -X -At -c "SELECT count(*) FROM pg_stat_activity
            WHERE usename = 'mailer' AND datname = '$SCRATCH' AND query = 'LISTEN mail_outbox'")" 1
check "  ... and is no client of PgBouncer's" \
  equal "$(psql_pgbouncer_admin -At -F ' ' -c "SHOW CLIENTS" | awk '$2 == "mailer"' | wc -l)" 0

# A sign-up through nginx, its confirmation in Mailpit.
mailpit_get() { curl -s --max-time 5 "http://127.0.0.1:$MAIL_UI_PORT/api/v1/$1"; }
check "POST /api/v1/accounts (stack_mail@example.com) through nginx: 201" \
  equal "$(https POST /api/v1/accounts -H 'Content-Type: application/json' \
    -d '{"username":"stack_mail","email":"stack_mail@example.com","password":"correct horse battery"}')" 201
for ((i = 0; i < 100; i++)); do # 20 s at most
  found=$(mailpit_get "search?query=to:stack_mail@example.com")
  [[ $found == *'"MessageID":"outbox-'* ]] && break
  sleep 0.2
done
check "  ... its confirmation reaches Mailpit (its API's search)" contains "$found" '"MessageID":"outbox-'
mail_id=$(grep -o '"ID":"[^"]*"' <<<"$found" | head -1 | cut -d'"' -f4)
outbox_id=$(grep -o '"MessageID":"outbox-[0-9]*@' <<<"$found" | head -1 | tr -dc 0-9)
check "  ... with a link to the stack's https URL" \
  contains "$(mailpit_get "message/$mail_id")" "$BASE/confirm-email?token="
check "  ... its outbox row ($outbox_id) is marked sent, its token gone" \
  equal "$(scratch_sql "SELECT sent_at IS NOT NULL AND NOT data ? 'token' FROM mail.outbox WHERE id = ${outbox_id:-0}")" t
check "the sender's /metrics counts it (mailer_sent_total)" \
  bash -c "curl -s --max-time 5 http://127.0.0.1:$MAILER_HEALTH_PORT/metrics | awk '/^mailer_sent_total / { n = \$2 } END { exit !(n >= 1) }'"

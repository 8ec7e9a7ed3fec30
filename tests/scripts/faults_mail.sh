# --- D: the mail sender killed between the SMTP server's acceptance and its mark ---
# Part of tests/scripts/faults.sh (sourced by it once the other faults are
# done, not run): it uses faults.sh's helpers (check, none, listener_pid)
# and variables (BASE, CA, TMP, SCRATCH, STACK_DIR, RUN_LOG, SMTP_PORT,
# MAIL_UI_PORT, MAILER_HEALTH_PORT, MAILER2_HEALTH_PORT), and sets
# MAILPIT_PID, MAILER2_PID and LOCK_PID for its cleanup.
#
# The stack's sender runs with MAILER_LEASE=10s (the shortest lease
# sender.claim grants). The kill lands between the acceptance and the mark
# by the real components' own means, with no hook in the sender:
#   1. Mailpit is stopped (SIGSTOP): the kernel still completes the TCP
#      handshake on its port, but no greeting comes, so the sender, having
#      claimed the mail, waits in its SMTP dial (SMTP_TIMEOUT=60s here);
#   2. a sign-up queues a mail; its claim shows in the outbox (attempts 1);
#   3. the test locks the outbox row (SELECT … FOR UPDATE in an open
#      transaction): the claim has committed, so the lock is granted, and
#      sender.mark_sent's UPDATE will wait for it;
#   4. Mailpit continues (SIGCONT) and accepts the mail; the sender's mark
#      waits on the row lock (pg_stat_activity);
#   5. the sender is killed (SIGKILL), and its mark dies with its
#      connection (pg_terminate_backend: a blocked backend would otherwise
#      carry the statement out once the lock goes, where a real crash before
#      the mark sends nothing); then the lock is released: the row is
#      still unsent, leased;
#   6. a new sender claims the mail once the lease has ended and sends it
#      again: two copies in Mailpit with one Message-ID, outbox-<id>, and
#      the row sent at its second attempt. Nothing is lost, no other mail
#      is left unsent.

mailpit_get() { curl -s --max-time 5 "http://127.0.0.1:$MAIL_UI_PORT/api/v1/$1" || true; }
scratch_sql() { psql "$(owner_url "$SCRATCH")" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
# wait_until seconds command...: true once the command is (polled every 0.1 s), false after that long.
wait_until() {
  local end=$((SECONDS + $1))
  shift
  while ((SECONDS < end)); do "$@" && return 0; sleep 0.1; done
  "$@"
}
MAILPIT_PID=$(listener_pid "$SMTP_PORT") MAILER1_PID=$(listener_pid "$MAILER_HEALTH_PORT")
check "Mailpit and the stack's mail sender run (pids ${MAILPIT_PID:-?}, ${MAILER1_PID:-?})" \
  test -n "$MAILPIT_PID" -a -n "$MAILER1_PID"
none_waiting() { [[ $(scratch_sql "SELECT count(*) FROM mail.outbox WHERE sent_at IS NULL AND failed_at IS NULL") == 0 ]]; }
check "  ... and no mail waits in the outbox (the faults above sent theirs)" wait_until 30 none_waiting

kill -STOP "$MAILPIT_PID"
check "Mailpit stopped (SIGSTOP); POST /api/v1/accounts (fault_mail@example.com) through nginx: 201" \
  equal "$(curl -s --max-time 10 --cacert "$CA" -o /dev/null -w '%{http_code}' -X POST "$BASE/api/v1/accounts" \
    -H 'Content-Type: application/json' \
    -d '{"username":"fault_mail","email":"fault_mail@example.com","password":"correct horse battery"}')" 201
MAIL_ROW=$(scratch_sql "SELECT id FROM mail.outbox WHERE recipient = 'fault_mail@example.com'")
claimed() { [[ $(scratch_sql "SELECT attempts || ' ' || (sent_at IS NULL) FROM mail.outbox WHERE id = $MAIL_ROW") == "1 true" ]]; }
check "the sender claimed its mail (outbox row $MAIL_ROW: attempt 1, not sent)" wait_until 20 claimed

# The row lock, held by a psql reading from a FIFO until ROLLBACK.
mkfifo "$TMP/lock.fifo"
psql "$(owner_url "$SCRATCH")" -X -q -At -v ON_ERROR_STOP=1 <"$TMP/lock.fifo" >"$TMP/lock.out" 2>&1 &
LOCK_PID=$!
exec {LOCK_FD}>"$TMP/lock.fifo"
printf 'BEGIN;\nSELECT id FROM mail.outbox WHERE id = %s FOR UPDATE;\n' "$MAIL_ROW" >&"$LOCK_FD"
check "  ... the test holds its row lock" wait_until 10 grep -qx "$MAIL_ROW" "$TMP/lock.out"
kill -CONT "$MAILPIT_PID"
in_mailpit() { [[ $(mailpit_get "search?query=to:fault_mail@example.com") == *"\"MessageID\":\"outbox-$MAIL_ROW@"* ]]; }
check "Mailpit continued (SIGCONT) and accepted the mail (Message-ID outbox-$MAIL_ROW@…)" wait_until 20 in_mailpit
mark_waits() {
  [[ $(psql "$(admin_url postgres)" -X -At -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'mailer'
         AND datname = '$SCRATCH' AND wait_event_type = 'Lock' AND query LIKE '%sender.mark_sent%'") == 1 ]]
}
check "  ... and the sender's sender.mark_sent waits on the row lock" wait_until 10 mark_waits

kill -KILL "$MAILER1_PID"
check "the sender is killed (SIGKILL) between the acceptance and its mark" wait_until 5 bash -c "! kill -0 $MAILER1_PID 2>/dev/null"
psql "$(admin_url postgres)" -X -q -At -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                                            WHERE usename = 'mailer' AND datname = '$SCRATCH'" >/dev/null
printf 'ROLLBACK;\n' >&"$LOCK_FD"
exec {LOCK_FD}>&-
wait "$LOCK_PID" || true
LOCK_PID=""
check "  ... its mark never landed: the row is leased, unsent, at attempt 1" claimed
check "scripts/run says the mail sender exited" wait_until 5 grep -q "the mail sender exited" "$RUN_LOG"

start_mailer "$SCRATCH" "$SMTP_PORT" "$MAILER2_HEALTH_PORT" "$BASE" "$STACK_DIR/mailer-2.log" LOG_FORMAT=console \
  MAILER_POLL_INTERVAL=1s MAILER_DATABASE_PASSWORD_FILE="$([[ -z ${MAILER_DB_PASSWORD:-} ]] && echo "$LOCAL_DIR/mailer.password")"
MAILER2_PID=$STARTED_PID
T_SECOND=$(date +%s.%N)
sent() { [[ $(scratch_sql "SELECT attempts || ' ' || (sent_at IS NOT NULL) FROM mail.outbox WHERE id = $MAIL_ROW") == "2 true" ]]; }
check "a new sender sends it again once the lease has ended (row $MAIL_ROW sent at attempt 2)" wait_until 30 sent
say "  the second copy went out $(awk -v a="$T_SECOND" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after the new sender started"
found=$(mailpit_get "search?query=to:fault_mail@example.com")
ids=$(grep -o '"ID":"[^"]*"' <<<"$found" | cut -d'"' -f4 | xargs)
check "Mailpit holds two copies ($ids)" test "$(wc -w <<<"$ids")" -eq 2
msgids=""
for id in $ids; do
  msgids+="$(mailpit_get "message/$id/headers" | grep -io '"Message-Id":\["[^"]*"' | cut -d'"' -f4 |
    sed 's/\\u003c/</g; s/\\u003e/>/g') "
done
read -r first second <<<"$msgids"
check "  ... with the same Message-ID header, <outbox-$MAIL_ROW@…> (got $msgids)" \
  test -n "$first" -a "$first" == "${second:-}" -a "${first#<outbox-"$MAIL_ROW"@}" != "$first"
check "nothing is lost: no mail waits in the outbox, none was given up" \
  equal "$(scratch_sql "SELECT count(*) FROM mail.outbox WHERE sent_at IS NULL")" 0
stop_pid "$MAILER2_PID" 10
MAILER2_PID=""

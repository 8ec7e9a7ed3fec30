#!/usr/bin/env bash
# Faults under load, on the local stack as `scripts/run --stack` brings it up
# (nginx → two gateways → PgBouncer in transaction mode → PostgreSQL), with
# tests/scripts/faultload posting activities and reading them back through
# nginx, several requests in flight at all times:
#
#   A. PostgreSQL restarts (fast shutdown, down for a few seconds, started
#      again). Every answer is a success or the gateway's 503 UNAVAILABLE
#      with Retry-After in the error shape: no other 5xx, nothing from nginx
#      (its 502/504 would show as its own 503 without Retry-After), no request
#      without an answer, none that takes longer than the statement timeout
#      plus a margin (a bound that catches a hang, not a benchmark). Then the
#      stack recovers by itself: the gateways, PgBouncer and nginx keep their
#      pids, and requests succeed again. Every activity whose POST was answered
#      201 is in the database.
#   C. The gateway role's password is rotated (scripts/db rotate-password)
#      under load, through PgBouncer and on a gateway connected to PostgreSQL
#      directly: no request fails; the old password is refused and the new
#      one accepted by both; with every connection dropped, the gateways
#      connect again with the new one, without a restart.
#   B. One gateway is killed (SIGKILL). nginx sends the rest to the other: the
#      only failures are requests in flight at the kill (at most the client's
#      concurrency; a POST that reached the dead gateway is not repeated by
#      nginx, which is right: it may have been executed), each nginx's 502
#      (or 503) UNAVAILABLE in the error shape, none of them started a second
#      after the kill; a GET that reached it is repeated on the other gateway.
#      Every activity whose POST was answered 201 is in the database.
#   D. The mail sender is killed (SIGKILL) between the SMTP server's
#      acceptance and its mark (tests/scripts/faults_mail.sh says how): the
#      mail is sent again after its lease, with the same Message-ID (two
#      copies in Mailpit); nothing is lost.
#
# On a scratch database (${TEST_DB_NAME}_faults, dropped before and after), on
# free loopback ports (free_ports, scripts/lib/ports.sh), with the stack's
# files in a temporary folder. It restarts the local cluster: run it when
# nothing else needs the cluster (scripts/test runs its steps one after the
# other). Local cluster only.
#
# Run by scripts/test; by itself once the cluster runs (scripts/db start):
#   bash tests/scripts/faults.sh
# C rotates the password of the gateway role of the local cluster
# (.local/gateway.password); skipped when GATEWAY_DB_PASSWORD is set.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib.sh"
source "$ROOT/tests/scripts/checks.sh"

using_local_cluster || { say "ADMIN_DATABASE_URL: faults.sh restarts the local cluster only; nothing to run"; exit 0; }
cluster_running || die "the local cluster is not running: scripts/db start (or scripts/test) first"

SCRATCH="${TEST_DB_NAME}_faults"
TMP=$(mktemp -d)
export STACK_DIR="$TMP/stack" PGBOUNCER_DIR="$TMP/pgbouncer"
RUN_LOG="$TMP/run.log"
RUN_PID="" LOAD_PIDS=() GW3_PID="" MAILPIT_PID="" MAILER2_PID="" LOCK_PID=""
CA="$LOCAL_DIR/tls/ca.crt"
CONCURRENCY=8
# The gateway's and PgBouncer's statement timeout (the defaults, 5 s), and the
# margin after which a request counts as hung.
STATEMENT_TIMEOUT_S=5 HANG_MARGIN_S=5

stop_load() {
  local p
  for p in "${LOAD_PIDS[@]}"; do stop_pid "$p" 20; done
  LOAD_PIDS=()
}

cleanup() {
  local rc=$?
  stop_load
  cluster_running || cluster_start
  [[ -n $GW3_PID ]] && stop_pid "$GW3_PID" 10
  [[ -n $MAILPIT_PID ]] && kill -CONT "$MAILPIT_PID" 2>/dev/null
  stop_pid "$MAILER2_PID" 10 && stop_pid "$LOCK_PID" 5
  [[ -n $RUN_PID ]] && stop_pid "$RUN_PID" 20
  if [[ $rc -ne 0 ]]; then
    say "scripts/run --stack said (last lines):"
    tail -20 "$RUN_LOG" >&2 2>/dev/null || true
    for f in "$STACK_DIR"/nginx/logs/error.log "$STACK_DIR"/gateway-*.log "$STACK_DIR"/mailer*.log "$PGBOUNCER_DIR"/pgbouncer.log; do
      [[ -s $f ]] && { say "$f (last lines):"; tail -15 "$f" >&2; }
    done
  fi
  drop_database "$SCRATCH" >/dev/null 2>&1 || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
# A command that fails outside a check (set -e) names its line, in a
# function of lib.sh too (errtrace).
set -o errtrace
trap 'printf "\033[31mFAIL\033[0m  %s line %s: exit %s: %s\n" "${FUNCNAME[0]:-faults.sh}" "$LINENO" "$?" "$BASH_COMMAND" >&2' ERR

now() { date +%s.%N; }
pg_down() { ! cluster_running; }
listener_pid() { ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1; }

# Ten free ports: plain HTTP, HTTPS, two gateways, PgBouncer, a third
# gateway connected to PostgreSQL directly (C), Mailpit's SMTP and API, the
# stack's sender's health and a second sender's (D).
ports=$(free_ports 10)
read -r HTTP_PORT HTTPS_PORT GW1 GW2 PGBOUNCER_PORT GW3 SMTP_PORT MAIL_UI_PORT MAILER_HEALTH_PORT MAILER2_HEALTH_PORT <<<"$ports"
export PGBOUNCER_PORT SMTP_PORT MAIL_UI_PORT MAILER_HEALTH_PORT
BASE="https://127.0.0.1:$HTTPS_PORT"

say "building tests/scripts/faultload"
(cd "$ROOT" && go build -o "$TMP/faultload" ./tests/scripts/faultload)

drop_database "$SCRATCH" >/dev/null
say "scripts/run --stack on $SCRATCH: https :$HTTPS_PORT, gateways :$GW1 :$GW2, PgBouncer :$PGBOUNCER_PORT"
DB_NAME=$SCRATCH HTTPS_PORT=$HTTPS_PORT STACK_HTTP_PORT=$HTTP_PORT STACK_GATEWAY_PORTS="$GW1,$GW2" \
  MAINTENANCE_INTERVAL=0 MAILER_LEASE=10s MAILER_POLL_INTERVAL=1s SMTP_TIMEOUT=60s bash "$ROOT/scripts/run" --stack >"$RUN_LOG" 2>&1 &
RUN_PID=$!
for ((i = 0; i < 600; i++)); do # 120 s at most (a first build of the gateway included)
  grep -q 'the stack is up' "$RUN_LOG" && break
  pid_alive "$RUN_PID" || fail "scripts/run --stack exited before the stack was up"
  sleep 0.2
done
check "scripts/run --stack says the stack is up" grep -q 'the stack is up' "$RUN_LOG"
# The load writes activities from one account and logs in from one address
# far faster than a person would: this scratch database's limits
# (auth.rate_limits) are raised, so that every 429 would be a fault's.
psql "$(owner_url "$SCRATCH")" -X -q -v ON_ERROR_STOP=1 \
  -c "UPDATE auth.rate_limits SET max_hits = 1000000 WHERE name IN ('activity_account', 'bcrypt_ip', 'login_account')"

pids() { # nginx master, both gateways, PgBouncer ("-" for one that is not running)
  local p=() x
  for x in "$(cat "$STACK_DIR/nginx/nginx.pid" 2>/dev/null)" "$(listener_pid "$GW1")" "$(listener_pid "$GW2")" \
    "$(pgbouncer_pid || true)"; do p+=("${x:--}"); done
  printf '%s %s %s %s' "${p[@]}"
}
PIDS=$(pids)
read -r NGINX_MASTER GW1_PID GW2_PID PGB_PID <<<"$PIDS"
check "nginx, both gateways and PgBouncer run (pids $PIDS)" lacks "$PIDS" -

# start_load file [base]: a load in the background (through nginx unless a
# base is given), once it has its first successes.
start_load() {
  local out=$1 base=${2:-$BASE} i pid
  "$TMP/faultload" -base "$base" -setup "http://127.0.0.1:$GW1" -ca "$CA" -concurrency "$CONCURRENCY" \
    -out "$out" 2>>"$TMP/faultload.log" &
  pid=$!
  LOAD_PIDS+=("$pid")
  for ((i = 0; i < 150; i++)); do # 30 s at most
    [[ $(awk -F '\t' '$5 ~ /^2/' "$out" 2>/dev/null | wc -l) -ge 20 ]] && return 0
    pid_alive "$pid" || { cat "$TMP/faultload.log" >&2; fail "faultload exited"; }
    sleep 0.2
  done
  fail "faultload had no 20 successes within 30 s"
}

# written_ids_missing file: the ids of 2xx writes that are not in the database.
written_ids_missing() {
  awk -F '\t' '$4 == "write" && $5 ~ /^2/ { print $8 }' "$1" >"$TMP/ids"
  psql "$(owner_url "$SCRATCH")" -X -q -At -v ON_ERROR_STOP=1 <<SQL
CREATE TEMP TABLE written (id uuid PRIMARY KEY);
\copy written FROM '$TMP/ids'
SELECT w.id FROM written w WHERE NOT EXISTS (SELECT 1 FROM publishing.activities a WHERE a.uuid = w.id);
SQL
}
count() { awk -F '\t' "$2" "$1" | wc -l; } # file awk-condition

# --- A: PostgreSQL restarts under load -----------------------------------------
OUT_A="$TMP/restart.tsv"
start_load "$OUT_A"
T_DOWN=$(now)
as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
check "PostgreSQL stopped (fast shutdown) under load" pg_down
sleep 4
T_UP=$(now)
cluster_start
# Recovered: a write that started after PostgreSQL was back was answered 201.
for ((i = 0; i < 150; i++)); do # 30 s at most
  [[ $(count "$OUT_A" "\$1 > $T_UP && \$4 == \"write\" && \$5 == 201") -ge 1 ]] && break
  sleep 0.2
done
T_REC=$(now)
sleep 3
stop_load

total=$(count "$OUT_A" 1) ok=$(count "$OUT_A" '$5 ~ /^2/') unavailable=$(count "$OUT_A" '$5 == 503')
say "restart: $total requests, $ok succeeded, $unavailable answered 503 (down at $T_DOWN, up at $T_UP, recovered at $T_REC)"
say "  the gateways' 503s by SQLSTATE (none: a broken connection): $(cat "$STACK_DIR"/gateway-*.log | sed 's/\x1b\[[0-9;]*m//g' |
  sed -n 's/.*sqlstate=\([^ ]*\) status=503.*/\1/p' | sort | uniq -c | awk '{ printf "%s %s; ", $2 == "" ? "none" : $2, $1 }')"
check "during the restart every answer is a success or the gateway's 503 UNAVAILABLE with Retry-After" \
  none "other answers (start end method kind status code retry-after id message)" \
  "$(awk -F '\t' '!($5 ~ /^2/ || ($5 == 503 && $6 == "UNAVAILABLE" && $7 != "-"))' "$OUT_A")"
check "  ... no request took longer than the statement timeout (${STATEMENT_TIMEOUT_S}s) plus ${HANG_MARGIN_S}s" \
  none "slow requests" "$(awk -F '\t' -v max=$((STATEMENT_TIMEOUT_S + HANG_MARGIN_S)) '$2 - $1 > max' "$OUT_A")"
check "requests succeed again once PostgreSQL is back (a write answered 201 after the restart)" \
  test "$(count "$OUT_A" "\$1 > $T_UP && \$4 == \"write\" && \$5 == 201")" -ge 1
check "  ... and every request started a second after that succeeded" \
  none "failures after the recovery" "$(awk -F '\t' -v t="$T_REC" '$1 > t + 1 && $5 !~ /^2/' "$OUT_A")"
check "nginx, the gateways and PgBouncer were not restarted (pids $PIDS)" equal "$(pids)" "$PIDS"
check "every activity whose POST was answered 201 is in the database ($(count "$OUT_A" '$4 == "write" && $5 == 201'))" \
  none "missing" "$(written_ids_missing "$OUT_A")"

# --- C: the gateway role's password rotated under load ------------------------------
# scripts/db rotate-password while requests run through nginx (→ PgBouncer)
# and straight to a third gateway connected to PostgreSQL itself; then
# PgBouncer reconnects to PostgreSQL (RECONNECT: each server connection is
# replaced once released). Not one request fails. The old password is
# refused, the new one accepted, by PostgreSQL and by PgBouncer; and once
# every connection is dropped (PgBouncer's KILL, pg_terminate_backend), each
# gateway connects again, with the new password, without a restart.
PW_FILE="$LOCAL_DIR/gateway.password"
if [[ -n ${GATEWAY_DB_PASSWORD:-} ]]; then
  say "GATEWAY_DB_PASSWORD is set: there is no password file to rotate; rotation not tested"
else
  start_gateway "$LOCAL_DIR/bin/gateway" "$GW3" "$STACK_DIR/gateway-direct.log" DATABASE_URL="$(gateway_url "$SCRATCH")" \
    DATABASE_PASSWORD_FILE="$PW_FILE" MAINTENANCE_INTERVAL=0 LOG_FORMAT=console
  GW3_PID=$STARTED_PID
  check "a third gateway, connected to PostgreSQL directly, is ready on :$GW3" wait_for_200 15 "http://127.0.0.1:$GW3/readyz"
  OUT_C="$TMP/rotate.tsv" OUT_D="$TMP/rotate-direct.tsv"
  start_load "$OUT_C"
  start_load "$OUT_D" "http://127.0.0.1:$GW3"
  OLD_PW=$(cat "$PW_FILE")
  DB_NAME=$SCRATCH bash "$ROOT/scripts/db" rotate-password 2>"$TMP/rotate.log" || { cat "$TMP/rotate.log" >&2; fail "scripts/db rotate-password"; }
  NEW_PW=$(cat "$PW_FILE")
  check "scripts/db rotate-password wrote a new password to ${PW_FILE#"$ROOT"/}" test -n "$NEW_PW" -a "$NEW_PW" != "$OLD_PW"
  quiet_about_passwords() { ! grep -qF -f <(printf '%s\n' "$OLD_PW" "$NEW_PW") "$TMP/rotate.log"; }
  check "  ... and said nothing of it" quiet_about_passwords
  sleep 1
  psql_pgbouncer_admin -c "RECONNECT $SCRATCH" >/dev/null
  sleep 2
  stop_load
  check "no request failed through nginx and PgBouncer during the rotation ($(count "$OUT_C" 1) requests)" \
    none "failures" "$(awk -F '\t' '$5 !~ /^2/' "$OUT_C")"
  check "  ... nor on the gateway connected directly ($(count "$OUT_D" 1) requests)" \
    none "failures" "$(awk -F '\t' '$5 !~ /^2/' "$OUT_D")"
  connects() { # password host port
    PGPASSWORD=$1 psql "postgres://$GATEWAY_ROLE@127.0.0.1:$3/$SCRATCH?sslmode=disable&connect_timeout=5" -X -q -At -c "SELECT 1" >/dev/null 2>&1
  }
  refused() { ! connects "$@"; }
  check "the old password is refused by PostgreSQL" refused "$OLD_PW" 127.0.0.1 "$PGPORT_LOCAL"
  check "  ... and by PgBouncer" refused "$OLD_PW" 127.0.0.1 "$PGBOUNCER_PORT"
  check "the new one is accepted by PostgreSQL" connects "$NEW_PW" 127.0.0.1 "$PGPORT_LOCAL"
  check "  ... and by PgBouncer" connects "$NEW_PW" 127.0.0.1 "$PGBOUNCER_PORT"
  psql_pgbouncer_admin -c "KILL $SCRATCH" -c "RESUME $SCRATCH" >/dev/null
  psql_admin postgres -At -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                              WHERE usename = '$GATEWAY_ROLE' AND datname = '$SCRATCH'" >/dev/null
  for p in "$GW1" "$GW2" "$GW3"; do
    check "every connection dropped: the gateway on :$p connects again with the new password (/readyz 200)" \
      wait_for_200 15 "http://127.0.0.1:$p/readyz"
  done
  check "  ... and serves a write through nginx" \
    equal "$(curl -s --max-time 10 --cacert "$CA" -o /dev/null -w '%{http_code}' -X POST "$BASE/api/v1/accounts" \
      -H 'Content-Type: application/json' -d '{"username":"rotated_pw","email":"rotated_pw@example.com","password":"correct horse battery"}')" 201
  check "the gateways, nginx and PgBouncer were not restarted" equal "$(pids)" "$PIDS"
  stop_pid "$GW3_PID" 10
  GW3_PID=""
fi

# --- B: a gateway dies under load ------------------------------------------------
OUT_B="$TMP/kill.tsv"
start_load "$OUT_B"
kill -KILL "$GW2_PID"
T_KILLED=$(now)
sleep 3
stop_load
check "the second gateway is gone (SIGKILL)" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$GW2) 2>/dev/null"
total=$(count "$OUT_B" 1) failed=$(count "$OUT_B" '$5 !~ /^2/')
say "gateway killed: $total requests, $failed failed"
check "at most the requests in flight failed ($failed, concurrency $CONCURRENCY)" test "$failed" -le "$CONCURRENCY"
# Settled: a second after the kill nginx has seen every kept-alive connection
# of the dead gateway close (a POST it wrote into one of them at the very
# moment of the kill is among those in flight).
check "  ... each was in flight as the kill settled: none started a second after it" \
  none "failures started after the kill settled" "$(awk -F '\t' -v t="$T_KILLED" '$1 > t + 1 && $5 !~ /^2/' "$OUT_B")"
check "  ... each is nginx's answer in the error shape: 502 UNAVAILABLE (the gateway died holding it)" \
  none "other failures" "$(awk -F '\t' '$5 !~ /^2/ && !($5 ~ /^50[23]$/ && $6 == "UNAVAILABLE")' "$OUT_B")"
check "requests after the kill were served (by the first gateway)" \
  test "$(count "$OUT_B" "\$1 > $T_KILLED && \$5 ~ /^2/")" -ge 1
check "every activity whose POST was answered 201 is in the database ($(count "$OUT_B" '$4 == "write" && $5 == 201'))" \
  none "missing" "$(written_ids_missing "$OUT_B")"
check "the first gateway, nginx and PgBouncer still run" equal "$(pids)" "$NGINX_MASTER $GW1_PID - $PGB_PID"

source "$ROOT/tests/scripts/faults_mail.sh"

say "faults: a database restart answers 503 and recovers; a gateway's death costs only its requests in flight; a sender's, a repeat of one mail"

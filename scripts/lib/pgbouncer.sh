# Part of scripts/lib.sh (sourced by it, not run): PgBouncer (Debian's package, transaction pooling).

# --- PgBouncer (Debian's package, transaction pooling) ----------------------------
# Our own instance, never the system service: a configuration rendered under
# .local/pgbouncer (pgbouncer.ini, userlist.txt, hba.conf, log and pid file),
# run as the postgres OS user when we are root (pgbouncer refuses root), on
# 127.0.0.1:$PGBOUNCER_PORT. pool_mode = transaction: a server connection is
# lent for one transaction, so nothing session-level may cross transactions
# (docs/operations/pgbouncer.md, "Behind PgBouncer: what is safe"). Local cluster only.
PGBOUNCER_BIN=${PGBOUNCER_BIN:-/usr/sbin/pgbouncer}
PGBOUNCER_DIR=${PGBOUNCER_DIR:-$LOCAL_DIR/pgbouncer}
PGBOUNCER_PORT=${PGBOUNCER_PORT:-6432}
# What operators copy, and what render_pgbouncer fills in for this machine.
PGBOUNCER_TEMPLATES="$ROOT/deploy/pgbouncer"

ensure_pgbouncer() {
  [[ -x $PGBOUNCER_BIN ]] || ensure_packages pgbouncer
  [[ -x $PGBOUNCER_BIN ]] || die "no pgbouncer at $PGBOUNCER_BIN (Debian: apt-get install pgbouncer)"
}

pgbouncer_pid() {
  local pid
  pid=$(cat "$PGBOUNCER_DIR/pgbouncer.pid" 2>/dev/null) || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

# The gateway's URL through PgBouncer: the same role and password (PgBouncer
# checks it against the SCRAM secret in userlist.txt, then logs in to
# PostgreSQL with it: SCRAM pass-through).
pgbouncer_url() { # [db] [role]
  local role=${2:-$GATEWAY_ROLE} pw
  if [[ $role == "$GATEWAY_PROXY_ROLE" ]]; then pw=$(gateway_proxy_password); else pw=$(gateway_password); fi
  url_with_user "postgres://127.0.0.1:$PGBOUNCER_PORT/${1:-$DB_NAME}?sslmode=disable" "$role" "$pw"
}

# Renders the configuration from the templates of deploy/pgbouncer
# (pgbouncer.ini, hba.conf, userlist.txt; their ";;"/"##" notes left out):
# the dev and test databases (and any given) on
# the local cluster, and the gateway role's SCRAM secret as the admin reads it
# from pg_authid (PgBouncer's documented way of filling auth_file).
# statement_timeout is not a startup parameter PgBouncer 1.18 forwards: it is
# dropped (ignore_startup_parameters) and set on each server connection by
# connect_query instead, PGBOUNCER_STATEMENT_TIMEOUT (ms, default 5000).
# The admin console (database "pgbouncer") takes only the postgres OS user
# over the Unix socket in .local/pgbouncer/run (peer); TCP only the gateway role.
# While PostgreSQL is down or restarting (docs/operations/failures.md), a
# query waits in PgBouncer's queue for a server
# connection at most PGBOUNCER_QUERY_WAIT_TIMEOUT (seconds, default 4: less
# than the statement timeout, more than reserve_pool_timeout), then its client gets SQLSTATE 08P01
# "query_wait_timeout", which the gateway answers 503; and after a failed
# server login PgBouncer tries again after PGBOUNCER_SERVER_LOGIN_RETRY
# (seconds, default 1; PgBouncer's own 15 kept queries waiting for 15 s after
# a restart), refusing new clients meanwhile ("server login has been failing").
render_pgbouncer() { # [extra databases...]
  using_local_cluster || die "PgBouncer runs against the local cluster only (ADMIN_DATABASE_URL is set)"
  local dir=$PGBOUNCER_DIR db cores pool timeout=${PGBOUNCER_STATEMENT_TIMEOUT:-5000}
  local wait=${PGBOUNCER_QUERY_WAIT_TIMEOUT:-4} retry=${PGBOUNCER_SERVER_LOGIN_RETRY:-1}
  [[ $timeout =~ ^[0-9]+$ ]] || die "PGBOUNCER_STATEMENT_TIMEOUT: want milliseconds"
  [[ $wait =~ ^[0-9]+$ && $wait -ge 1 && $((wait * 1000)) -lt $timeout ]] ||
    die "PGBOUNCER_QUERY_WAIT_TIMEOUT: want whole seconds, at least 1, less than the statement timeout ($timeout ms)"
  [[ $retry =~ ^[0-9]+$ && $retry -ge 1 ]] || die "PGBOUNCER_SERVER_LOGIN_RETRY: want whole seconds, at least 1"
  cores=$(nproc)
  pool=${PGBOUNCER_POOL_SIZE:-$((cores * 2 > 4 ? cores * 2 : 4))}
  mkdir -p "$dir/run"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir" "$dir/run"
  chmod 700 "$dir/run"
  render_pgbouncer_userlist
  {
    printf '# Rendered by scripts/lib.sh (render_pgbouncer).\n'
    render_template "$PGBOUNCER_TEMPLATES/hba.conf" '##' \
      GATEWAY_ROLE="$GATEWAY_ROLE" GATEWAY_PROXY_ROLE="$GATEWAY_PROXY_ROLE"
  } | as_pg_user tee "$dir/hba.conf" >/dev/null
  local dbs="" d
  for d in "$DB_NAME" "$TEST_DB_NAME" "$@"; do
    [[ $dbs == *"[$d]"* ]] && continue
    dbs+="[$d]"
  done
  local databases=""
  for d in $(tr '[]' '  ' <<<"$dbs"); do
    databases+=$(printf "%s = host=127.0.0.1 port=%s dbname=%s connect_query='SET statement_timeout = %s'" \
      "$d" "$PGPORT_LOCAL" "$d" "$timeout")$'\n'
  done
  {
    printf '; Rendered by scripts/lib.sh (render_pgbouncer); do not edit.\n'
    render_template "$PGBOUNCER_TEMPLATES/pgbouncer.ini" ';;' DATABASES="${databases%$'\n'}" \
      LISTEN_PORT="$PGBOUNCER_PORT" UNIX_SOCKET_DIR="$dir/run" AUTH_HBA_FILE="$dir/hba.conf" \
      AUTH_FILE="$dir/userlist.txt" DEFAULT_POOL_SIZE="$pool" QUERY_WAIT_TIMEOUT="$wait" \
      SERVER_LOGIN_RETRY="$retry" MAX_CLIENT_CONN="${PGBOUNCER_MAX_CLIENT_CONN:-1000}" \
      LOGFILE="$dir/pgbouncer.log" PIDFILE="$dir/pgbouncer.pid"
  } | as_pg_user tee "$dir/pgbouncer.ini" >/dev/null
}

# userlist.txt (deploy/pgbouncer/userlist.txt's format): the gateway roles'
# SCRAM secrets as PostgreSQL holds them now, written atomically. PgBouncer
# checks the gateway's password against it and keeps the keys of the last
# client login it accepted, with which it logs in to PostgreSQL (SCRAM
# pass-through).
render_pgbouncer_userlist() {
  local dir=$PGBOUNCER_DIR secret proxy_secret
  secret=$(psql_admin postgres -At -c "SELECT rolpassword FROM pg_authid WHERE rolname = '$GATEWAY_ROLE'")
  [[ $secret == SCRAM-SHA-256\$* ]] || die "the $GATEWAY_ROLE role has no SCRAM secret (bootstrap_roles first)"
  proxy_secret=$(psql_admin postgres -At -c "SELECT rolpassword FROM pg_authid WHERE rolname = '$GATEWAY_PROXY_ROLE'")
  [[ $proxy_secret == SCRAM-SHA-256\$* ]] || die "the $GATEWAY_PROXY_ROLE role has no SCRAM secret (bootstrap_roles first)"
  render_template "$PGBOUNCER_TEMPLATES/userlist.txt" ';;' \
    GATEWAY_ROLE="$GATEWAY_ROLE" GATEWAY_SECRET="$secret" \
    GATEWAY_PROXY_ROLE="$GATEWAY_PROXY_ROLE" GATEWAY_PROXY_SECRET="$proxy_secret" |
    as_pg_user tee "$dir/userlist.txt.new" >/dev/null
  as_pg_user chmod 600 "$dir/userlist.txt.new"
  as_pg_user mv "$dir/userlist.txt.new" "$dir/userlist.txt"
}

# Starts PgBouncer in the background (or reloads a running one with the new
# configuration) and waits until it accepts connections. PGBOUNCER_DIR and
# PGBOUNCER_PORT may point elsewhere (tests/scripts/stack.sh runs its own).
start_pgbouncer() { # [extra databases...]
  ensure_pgbouncer
  ensure_pg_user_can_reach
  if [[ $(id -u) -eq 0 ]]; then
    local d=$PGBOUNCER_DIR
    mkdir -p "$d"
    while [[ $d != / ]]; do
      d=$(dirname "$d")
      runuser -u postgres -- test -x "$d" || chmod o+x "$d"
    done
  fi
  render_pgbouncer "$@"
  local pid i
  if pid=$(pgbouncer_pid); then
    as_pg_user kill -HUP "$pid"
    return 0
  fi
  port_in_use "$PGBOUNCER_PORT" && die "port $PGBOUNCER_PORT is in use (PGBOUNCER_PORT chooses another)"
  say "starting PgBouncer on 127.0.0.1:$PGBOUNCER_PORT (transaction pooling)"
  as_pg_user "$PGBOUNCER_BIN" -d -q "$PGBOUNCER_DIR/pgbouncer.ini" ||
    { tail -20 "$PGBOUNCER_DIR/pgbouncer.log" >&2; die "PgBouncer did not start"; }
  for ((i = 0; i < 50; i++)); do port_in_use "$PGBOUNCER_PORT" && return 0; sleep 0.1; done
  tail -20 "$PGBOUNCER_DIR/pgbouncer.log" >&2
  die "PgBouncer does not accept connections on 127.0.0.1:$PGBOUNCER_PORT"
}

# SIGINT: PgBouncer's safe shutdown (waits for running transactions); after
# 10 s, SIGTERM.
stop_pgbouncer() {
  local pid i
  pid=$(pgbouncer_pid) || return 0
  as_pg_user kill -INT "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  as_pg_user kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  die "PgBouncer (pid $pid) did not stop"
}

# psql on PgBouncer's admin console (SHOW POOLS, SHOW CLIENTS...), as the
# postgres OS user over the Unix socket.
psql_pgbouncer_admin() { # psql args...
  as_pg_user psql "host=$PGBOUNCER_DIR/run port=$PGBOUNCER_PORT dbname=pgbouncer user=postgres" -X -q "$@"
}

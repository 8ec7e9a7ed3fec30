# Shared by scripts/run, scripts/db, scripts/test and scripts/bench (sourced, not run).
#
# Two ways to reach PostgreSQL:
#   - ADMIN_DATABASE_URL set: a real server; its user must be able to create roles
#     and databases (a superuser, or CREATEROLE + CREATEDB). No local cluster.
#   - otherwise: a local cluster under .local/pg of this checkout, on PGPORT
#     (default 55432), run as the postgres OS user when we are root because
#     initdb refuses to run as root.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PGPORT_LOCAL=${PGPORT:-55432}
LOCAL_DIR="$ROOT/.local"
PG_DIR="$LOCAL_DIR/pg"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/run"
PG_LOG="$PG_DIR/server.log"
DB_NAME=${DB_NAME:-homebase}
TEST_DB_NAME=${TEST_DB_NAME:-homebase_test}
OWNER_ROLE=app_owner
GATEWAY_ROLE=gateway
# The login of a gateway that believes a proxy's PROXY_USER_HEADER: a member
# of gateway (its privileges) and, being itself, of gateway_proxy, the role
# auth.check_session asks about (sql/migrations/010_proxy_identity.sql).
GATEWAY_PROXY_ROLE=gateway_proxy
export PATH="$PG_BIN:$PATH"

say() { printf '\033[36m==\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# --- URLs -------------------------------------------------------------------
# All connection strings are URLs: postgres://[user[:pw]@]host[:port][/db][?params].

url_with_db() { # url db
  local url=$1 db=$2 base query=""
  [[ $url == *\?* ]] && query="?${url#*\?}"
  base=${url%%\?*}
  if [[ $base =~ ^(postgres(ql)?://[^/]*)(/.*)?$ ]]; then base=${BASH_REMATCH[1]}; else die "not a postgres:// URL"; fi
  printf '%s/%s%s\n' "$base" "$db" "$query"
}

url_with_user() { # url user password
  local url=$1 user=$2 pw=$3 rest
  [[ $url =~ ^(postgres(ql)?://)([^@/]*@)?(.*)$ ]] || die "not a postgres:// URL"
  rest=${BASH_REMATCH[4]}
  printf '%s%s:%s@%s\n' "${BASH_REMATCH[1]}" "$user" "$(urlencode "$pw")" "$rest"
}

url_add_param() { # url key=value
  if [[ $1 == *\?* ]]; then printf '%s&%s\n' "$1" "$2"; else printf '%s?%s\n' "$1" "$2"; fi
}

urlencode() {
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in [a-zA-Z0-9._~-]) out+=$c ;; *) out+=$(printf '%%%02X' "'$c") ;; esac
  done
  printf '%s' "$out"
}

using_local_cluster() { [[ -z ${ADMIN_DATABASE_URL:-} ]]; }

# The superuser (or admin) URL for a database.
admin_url() { # [db]
  local db=${1:-postgres}
  if using_local_cluster; then
    printf 'postgres://postgres@localhost:%s/%s?host=%s&sslmode=disable\n' "$PGPORT_LOCAL" "$db" "$PG_SOCK"
  else
    url_with_db "$ADMIN_DATABASE_URL" "$db"
  fi
}

# The owner's URL: the admin login acting as the non-login owner role, so every
# object a migration creates belongs to the owner. ext is on the search_path so
# that citext compares case-insensitively in a DBA's psql too.
owner_url() { # [db]
  url_add_param "$(admin_url "${1:-$DB_NAME}")" "options=-c%20role%3D$OWNER_ROLE%20-c%20search_path%3Dpublic%2Cext"
}

# The gateway's URL: its own login role over TCP, password from .local.
# GATEWAY_DB_SOCKET=1: over the local cluster's Unix socket instead of TCP
# (the socket directory admits root and the postgres user only).
gateway_url() { # [db]
  local db=${1:-$DB_NAME} base
  if using_local_cluster && [[ ${GATEWAY_DB_SOCKET:-0} == 1 ]]; then
    base="postgres://localhost:$PGPORT_LOCAL/$db?host=$PG_SOCK"
  elif using_local_cluster; then
    base="postgres://127.0.0.1:$PGPORT_LOCAL/$db?sslmode=disable"
  else
    base=$(url_with_db "$ADMIN_DATABASE_URL" "$db")
  fi
  url_with_user "$base" "$GATEWAY_ROLE" "$(gateway_password)"
}

gateway_password() {
  if [[ -n ${GATEWAY_DB_PASSWORD:-} ]]; then printf '%s' "$GATEWAY_DB_PASSWORD"; return; fi
  local_password "$LOCAL_DIR/gateway.password"
}

# A random password kept in a file of .local (created on first use, mode 600).
local_password() { # file
  local f=$1
  if [[ ! -s $f ]]; then
    mkdir -p "$LOCAL_DIR"
    (umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$f")
  fi
  cat "$f"
}

# The proxy-trusting gateway's URL (gateway_url's, as gateway_proxy):
# for a gateway with PROXY_USER_HEADER set, and no other.
gateway_proxy_url() { # [db]
  url_with_user "$(gateway_url "${1:-$DB_NAME}")" "$GATEWAY_PROXY_ROLE" "$(gateway_proxy_password)"
}

gateway_proxy_password() {
  if [[ -n ${GATEWAY_PROXY_DB_PASSWORD:-} ]]; then printf '%s' "$GATEWAY_PROXY_DB_PASSWORD"; return; fi
  local_password "$LOCAL_DIR/gateway_proxy.password"
}

psql_admin() { # db, psql args...
  local db=$1; shift
  psql "$(admin_url "$db")" -X -q -v ON_ERROR_STOP=1 "$@"
}

# --- installing what is missing -----------------------------------------------

ensure_packages() { # debian packages...
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages: ${missing[*]} (install them, or run as root)"
  say "installing ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_go_modules() {
  command -v go >/dev/null || die "Go is not installed (https://go.dev/dl/)"
  (cd "$ROOT" && go mod download)
}

# squawk, the migration linter, pinned, from the npm registry into .local/npm
# (never global). Since 2.52.1 squawk-cli has no install script (older ones
# downloaded from GitHub): its optional dependency @squawk-cli/<os>-<cpu>
# holds the prebuilt binary, so only the registry is reached. Prints the path
# of the squawk command.
ensure_squawk() {
  local version=2.66.0 prefix="$LOCAL_DIR/npm" bin
  bin="$prefix/node_modules/.bin/squawk"
  if [[ $("$bin" --version 2>/dev/null) != "squawk $version" ]]; then
    command -v npm >/dev/null || ensure_packages npm
    command -v npm >/dev/null || die "npm is not installed (Debian: apt-get install npm); scripts/test needs it for squawk"
    say "installing squawk-cli@$version into ${prefix#"$ROOT"/}"
    mkdir -p "$prefix"
    npm install --no-save --no-audit --no-fund --include=optional --ignore-scripts --loglevel=error --prefix "$prefix" \
      "squawk-cli@$version" >&2 || die "npm could not install squawk-cli@$version"
    [[ $("$bin" --version 2>/dev/null) == "squawk $version" ]] ||
      die "squawk-cli@$version installed, but $bin does not run (no @squawk-cli package for $(uname -sm)?)"
  fi
  printf '%s\n' "$bin"
}

# Lints tern migrations with squawk and the committed .squawk.toml: only the
# "up" part of each file, above `---- create above / drop below ----` (the
# down part drops things on purpose), fed on stdin under the file's own name
# so findings name the right file and line. tern runs each migration in a
# transaction, so squawk assumes one, except for a file whose up part holds
# tern's `---- tern: disable-tx ----` line (there each statement runs on its
# own). Prints the findings; non-zero if any file has one.
lint_migrations() { # files...
  local squawk f up tx status=0
  squawk=$(ensure_squawk) || return 1
  [[ $# -gt 0 ]] || { say "lint_migrations: no files"; return 1; }
  for f in "$@"; do
    [[ -f $f ]] || { say "lint_migrations: no such file: $f"; status=1; continue; }
    up=$(awk -v m='---- create above / drop below ----' \
      'i = index($0, m) { printf "%s\n", substr($0, 1, i - 1); exit } { print }' "$f")
    if grep -qx -- '---- tern: disable-tx ----' <<<"$up"; then tx=--no-assume-in-transaction; else tx=--assume-in-transaction; fi
    printf '%s\n' "$up" | "$squawk" --config "$ROOT/.squawk.toml" "$tx" --stdin-filepath "$f" || status=1
  done
  return $status
}

# --- local cluster ------------------------------------------------------------

# Runs a command as the cluster's OS user.
as_pg_user() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The postgres OS user must be able to reach .local/pg; a checkout under a
# private home directory is not traversable by default.
ensure_pg_user_can_reach() {
  [[ $(id -u) -eq 0 ]] || return 0
  id postgres >/dev/null 2>&1 || die "no postgres OS user: install Debian's postgresql-15"
  local d=$PG_DIR
  while [[ $d != / ]]; do
    d=$(dirname "$d")
    if ! runuser -u postgres -- test -x "$d"; then
      say "granting traverse (o+x) on $d so the postgres user can reach the cluster"
      chmod o+x "$d"
    fi
  done
}

cluster_running() {
  [[ -f $PG_DATA/postmaster.pid ]] && as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

cluster_start() {
  using_local_cluster || { say "using ADMIN_DATABASE_URL; no local cluster"; return 0; }
  [[ -x $PG_BIN/initdb ]] || ensure_packages postgresql-15
  mkdir -p "$PG_DIR"
  ensure_pg_user_can_reach
  [[ $(id -u) -eq 0 ]] && chown postgres: "$PG_DIR"
  if [[ ! -f $PG_DATA/PG_VERSION ]]; then
    say "creating a local cluster in $PG_DATA (port $PGPORT_LOCAL)"
    as_pg_user "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >/dev/null
    as_pg_user mkdir -p "$PG_SOCK"
    as_pg_user chmod 700 "$PG_SOCK"
    # Trust on the Unix socket is guarded by the socket directory's 0700 mode;
    # TCP (which the gateway uses) always needs a password.
    as_pg_user tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_SOCK'
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 256MB
password_encryption = scram-sha-256
log_min_messages = warning
EOF
  fi
  cluster_tls
  if cluster_running; then return 0; fi
  say "starting PostgreSQL on 127.0.0.1:$PGPORT_LOCAL"
  as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -o "-p $PGPORT_LOCAL" -w -t 60 start >/dev/null ||
    { tail -20 "$PG_LOG" >&2; die "PostgreSQL did not start"; }
}

# TLS for the local cluster, with the server certificate of ensure_tls_cert
# (signed by the throw-away CA .local/tls/ca.crt, for 127.0.0.1 and
# localhost), copied where the postgres user owns it: PostgreSQL refuses a
# key that others may read. Clients choose: the scripts connect over loopback
# with sslmode=disable, and a URL with sslmode=verify-full&sslrootcert=…/ca.crt
# gets a verified TLS connection. A running cluster reloads when the
# certificate or the settings change.
cluster_tls() {
  ensure_tls_cert
  local dir="$PG_DIR/tls" changed=0
  if ! cmp -s "$TLS_DIR/server.crt" "$dir/server.crt" || ! cmp -s "$TLS_DIR/server.key" "$dir/server.key"; then
    as_pg_user mkdir -p "$dir"
    as_pg_user chmod 700 "$dir"
    as_pg_user tee "$dir/server.crt" <"$TLS_DIR/server.crt" >/dev/null
    as_pg_user tee "$dir/server.key" <"$TLS_DIR/server.key" >/dev/null
    as_pg_user chmod 600 "$dir/server.key"
    changed=1
  fi
  if ! grep -q "^ssl = on" "$PG_DATA/postgresql.conf"; then
    as_pg_user tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF
ssl = on
ssl_cert_file = '$dir/server.crt'
ssl_key_file = '$dir/server.key'
ssl_min_protocol_version = 'TLSv1.2'
EOF
    changed=1
  fi
  if ((changed)) && cluster_running; then
    as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" reload >/dev/null
  fi
}

cluster_stop() {
  using_local_cluster || { say "using ADMIN_DATABASE_URL; nothing to stop"; return 0; }
  if cluster_running; then
    as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
    say "stopped"
  else
    say "not running"
  fi
}

# --- the local streaming replica ------------------------------------------------
# A hot standby of the local cluster under .local/replica, on
# 127.0.0.1:$REPLICA_PORT (55433), made by pg_basebackup -R as the postgres OS
# user: it streams the primary's WAL over the primary's Unix socket (initdb's
# pg_hba trusts "local replication"; wal_level=replica is the default), and
# answers read-only queries. Physical replication copies the whole cluster:
# every database, role and password, so the gateway logs in to it as to the
# primary. REPLICA_APPLY_DELAY (e.g. 3s; default 0) holds back the replay of
# each commit by that long (recovery_min_apply_delay), to test lag on purpose.
# The replica streams through a physical slot, so the primary keeps the WAL
# it has not received while it is stopped (up to REPLICA_MAX_WAL, 1GB).
REPLICA_PORT_LOCAL=${REPLICA_PORT:-55433}
REPLICA_DIR="$LOCAL_DIR/replica"
REPLICA_DATA="$REPLICA_DIR/data"
REPLICA_SOCK="$REPLICA_DIR/run"
REPLICA_LOG="$REPLICA_DIR/server.log"
REPLICA_SLOT=homebase_replica

replica_running() {
  [[ -f $REPLICA_DATA/postmaster.pid ]] && as_pg_user "$PG_BIN/pg_ctl" -D "$REPLICA_DATA" status >/dev/null 2>&1
}

# The cluster's system identifier (pg_controldata): a replica whose
# identifier is not its primary's was copied from a cluster since deleted.
system_identifier() { # data directory
  [[ -f $1/global/pg_control ]] || return 0
  as_pg_user "$PG_BIN/pg_controldata" -D "$1" 2>/dev/null | sed -n 's/^Database system identifier: *//p' || true
}

# The superuser URL of a database on the replica (over its own socket).
replica_admin_url() { # [db]
  printf 'postgres://postgres@localhost:%s/%s?host=%s&sslmode=disable\n' "$REPLICA_PORT_LOCAL" "${1:-postgres}" "$REPLICA_SOCK"
}

# The gateway's URL on the replica: its own login role over TCP, as gateway_url.
replica_url() { # [db]
  url_with_user "postgres://127.0.0.1:$REPLICA_PORT_LOCAL/${1:-$DB_NAME}?sslmode=disable" "$GATEWAY_ROLE" "$(gateway_password)"
}

# Starts the replica, built first when there is none or when it was copied
# from another cluster than today's (a deleted .local/pg). Its own socket
# directory, port and apply delay are in replica.conf, which its
# postgresql.conf (the primary's copy) includes last; a running replica
# reloads it, so REPLICA_APPLY_DELAY changes without a restart.
replica_start() {
  using_local_cluster || die "the replica is local only (ADMIN_DATABASE_URL is set: point REPLICA_DATABASE_URL at your own)"
  cluster_start
  local delay=${REPLICA_APPLY_DELAY:-0} primary_id replica_id
  [[ $delay =~ ^[0-9]+(ms|s|min)?$ ]] || die "REPLICA_APPLY_DELAY: want a duration such as 3s, 500ms or 0"
  # The primary keeps the WAL a stopped replica still needs (its slot), up
  # to REPLICA_MAX_WAL; beyond, the slot is lost and the next start rebuilds.
  psql_admin postgres -At -c "ALTER SYSTEM SET max_slot_wal_keep_size = '${REPLICA_MAX_WAL:-1GB}'" \
    -c "SELECT pg_reload_conf()" >/dev/null
  primary_id=$(system_identifier "$PG_DATA")
  replica_id=$(system_identifier "$REPLICA_DATA")
  if [[ -n $replica_id && $replica_id != "$primary_id" ]]; then
    say "the replica in ${REPLICA_DIR#"$ROOT"/} was copied from another cluster: rebuilding it"
    replica_remove
  elif [[ -n $replica_id ]] && ! replica_running &&
    ! [[ $(psql_admin postgres -At -c "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$REPLICA_SLOT'") =~ ^(reserved|extended|unreserved)$ ]]; then
    say "the primary no longer keeps the WAL the replica needs (slot $REPLICA_SLOT): rebuilding it"
    replica_remove
  fi
  if [[ ! -f $REPLICA_DATA/PG_VERSION ]]; then
    mkdir -p "$REPLICA_DIR"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$REPLICA_DIR"
    as_pg_user rm -rf "$REPLICA_DATA"
    replica_drop_slot
    say "copying the cluster into ${REPLICA_DIR#"$ROOT"/}/data (pg_basebackup -R, slot $REPLICA_SLOT)"
    as_pg_user "$PG_BIN/pg_basebackup" -h "$PG_SOCK" -p "$PGPORT_LOCAL" -U postgres -D "$REPLICA_DATA" \
      -R -X stream -C -S "$REPLICA_SLOT" -c fast >/dev/null || die "pg_basebackup failed"
    as_pg_user mkdir -p "$REPLICA_SOCK"
    as_pg_user chmod 700 "$REPLICA_SOCK"
    as_pg_user tee -a "$REPLICA_DATA/postgresql.conf" >/dev/null <<EOF2
# The replica's own settings (scripts/lib.sh, replica_start).
include_if_exists = 'replica.conf'
EOF2
  fi
  # hot_standby_feedback: the primary keeps the rows a replica query still
  # reads, so that replay does not cancel it.
  as_pg_user tee "$REPLICA_DATA/replica.conf" >/dev/null <<EOF2
port = $REPLICA_PORT_LOCAL
unix_socket_directories = '$REPLICA_SOCK'
hot_standby = on
hot_standby_feedback = on
recovery_min_apply_delay = '$delay'
EOF2
  if replica_running; then
    as_pg_user "$PG_BIN/pg_ctl" -D "$REPLICA_DATA" reload >/dev/null
    say "the replica runs on 127.0.0.1:$REPLICA_PORT_LOCAL (apply delay $delay)"
    return 0
  fi
  say "starting the replica on 127.0.0.1:$REPLICA_PORT_LOCAL (apply delay $delay)"
  as_pg_user "$PG_BIN/pg_ctl" -D "$REPLICA_DATA" -l "$REPLICA_LOG" -w -t 60 start >/dev/null ||
    { tail -20 "$REPLICA_LOG" >&2; die "the replica did not start"; }
}

replica_stop() {
  if replica_running; then
    as_pg_user "$PG_BIN/pg_ctl" -D "$REPLICA_DATA" -m fast -w stop >/dev/null
    say "stopped the replica"
  fi
}

replica_remove() {
  replica_stop
  as_pg_user rm -rf "$REPLICA_DATA"
  replica_drop_slot
}

# Drops the replica's slot on the primary, once its walsender has gone.
replica_drop_slot() {
  local i
  for ((i = 0; i < 50; i++)); do
    psql_admin postgres -At -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                                 WHERE slot_name = '$REPLICA_SLOT' AND NOT active" >/dev/null 2>&1 || true
    [[ -z $(psql_admin postgres -At -c "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$REPLICA_SLOT'") ]] && return 0
    sleep 0.1
  done
  die "could not drop the replication slot $REPLICA_SLOT (still in use?)"
}

# Whether the replica runs, whether it streams, and how far behind it is:
# bytes of WAL not yet replayed, and the age of the last transaction replayed
# (which grows while the primary is idle, too).
replica_status() {
  if ! replica_running; then say "the replica is stopped"; return 3; fi
  say "the replica runs on 127.0.0.1:$REPLICA_PORT_LOCAL (${REPLICA_DATA#"$ROOT"/})"
  local primary_lsn
  primary_lsn=$(psql_admin postgres -At -c "SELECT pg_current_wal_lsn()" 2>/dev/null) || primary_lsn=""
  psql "$(replica_admin_url)" -X -q -At -v ON_ERROR_STOP=1 -v primary="$primary_lsn" <<'SQL'
SELECT 'receiver       ' || coalesce((SELECT status FROM pg_stat_wal_receiver), 'not streaming');
SELECT 'replayed       ' || pg_last_wal_replay_lsn()
       || CASE WHEN :'primary' <> '' THEN ', primary at ' || :'primary' || ', lag '
               || greatest(pg_wal_lsn_diff(:'primary', pg_last_wal_replay_lsn()), 0) || ' bytes' ELSE '' END;
SELECT 'last replayed  ' || coalesce(pg_last_xact_replay_timestamp()::text, 'nothing yet')
       || coalesce(' (' || date_trunc('second', now() - pg_last_xact_replay_timestamp()) || ' ago)', '');
SELECT 'apply delay    ' || current_setting('recovery_min_apply_delay');
SQL
}

# --- roles and databases --------------------------------------------------------

# Idempotent: the owner (no login), the gateway (login, password from
# .local or GATEWAY_DB_PASSWORD) and gateway_proxy (login, password from
# .local or GATEWAY_PROXY_DB_PASSWORD; a member of gateway, so it has the
# gateway's privileges and no other, and the one role whose sessions may
# assert a user's identity). Roles are cluster-wide; databases share them,
# and no migration creates or drops them.
# True when ROLE logs in to the local cluster over TCP with PASSWORD (which
# reaches psql through its environment).
local_login_works() { # role password
  PGPASSWORD=$2 psql "postgres://$1@127.0.0.1:$PGPORT_LOCAL/postgres?sslmode=disable&connect_timeout=5" \
    -X -q -At -c 'SELECT 1' >/dev/null 2>&1
}

bootstrap_roles() {
  # The passwords reach psql through its environment (\getenv), not its
  # command line, which other users of the machine can see in ps. A login
  # role's password is set only when it does not already log in with it:
  # setting the same password again gives its SCRAM secret a new salt, and
  # a running PgBouncer, whose userlist holds the old secret, would then
  # fail its next logins to PostgreSQL.
  local set_gw=1 set_gwp=1 gw_pw gwp_pw
  gw_pw=$(gateway_password)
  gwp_pw=$(gateway_proxy_password)
  if using_local_cluster; then
    local_login_works "$GATEWAY_ROLE" "$gw_pw" && set_gw=0
    local_login_works "$GATEWAY_PROXY_ROLE" "$gwp_pw" && set_gwp=0
  fi
  GATEWAY_PW=$gw_pw GATEWAY_PROXY_PW=$gwp_pw \
    psql_admin postgres -v owner="$OWNER_ROLE" -v gw="$GATEWAY_ROLE" -v gwp="$GATEWAY_PROXY_ROLE" \
    -v set_gw="$set_gw" -v set_gwp="$set_gwp" <<'SQL'
\getenv pw GATEWAY_PW
\getenv pwp GATEWAY_PROXY_PW
SELECT format('CREATE ROLE %I NOLOGIN', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'gw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'gw') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT', :'gw') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'gw', :'pw') WHERE :set_gw = 1 \gexec
SELECT format('CREATE ROLE %I LOGIN', :'gwp')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'gwp') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT', :'gwp') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'gwp', :'pwp') WHERE :set_gwp = 1 \gexec
SELECT format('GRANT %I TO %I', :'gw', :'gwp')
 WHERE NOT pg_has_role(:'gwp', :'gw', 'MEMBER') \gexec
SELECT format('GRANT %I TO current_user', :'owner')
 WHERE NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \gexec
SQL
  harden_roles
}

# What a stolen gateway password must not be able to do with the roles
# themselves (issue 15, items 9 and 11), set on every start:
#   - CONNECTION LIMIT on both login roles (gateway_connection_limit), so
#     that they cannot take every connection of max_connections from the
#     owner, the replica and a DBA;
#   - no logging of their statements' parameters or texts: with
#     log_parameter_max_length = 0 and log_parameter_max_length_on_error = 0
#     a server whose DBA turns on statement or error logging still never
#     writes a password or token the gateway bound as a parameter, and with
#     log_min_error_statement = panic an error of theirs (a 429 of login, a
#     404 of an authenticated route) logs its message without the statement.
#     A role's setting wins over the database's and the server's. Two of them
#     are superuser-only parameters (PostgreSQL 15: context "superuser"):
#     with ADMIN_DATABASE_URL a non-superuser sets the third one and says
#     what a superuser must run.
# Role settings are per login role, not inherited: gateway_proxy gets its own.
harden_roles() {
  local gw_limit gwp_limit
  gw_limit=$(gateway_connection_limit "${GATEWAY_INSTANCES:-3}")
  gwp_limit=$(gateway_connection_limit 1)
  psql_admin postgres -At -v gw="$GATEWAY_ROLE" -v gwp="$GATEWAY_PROXY_ROLE" \
    -v gw_limit="$gw_limit" -v gwp_limit="$gwp_limit" <<'SQL'
SELECT format('ALTER ROLE %I CONNECTION LIMIT %s', r.name, r.lim)
  FROM (VALUES (:'gw', :gw_limit), (:'gwp', :gwp_limit)) r(name, lim)
 WHERE (SELECT rolconnlimit FROM pg_roles WHERE rolname = r.name) <> r.lim \gexec
SELECT format('ALTER ROLE %I SET log_parameter_max_length_on_error = 0', r) FROM unnest(ARRAY[:'gw', :'gwp']) r \gexec
SELECT rolsuper AS su FROM pg_roles WHERE rolname = current_user \gset
\if :su
SELECT format('ALTER ROLE %I SET %s', r, s)
  FROM unnest(ARRAY[:'gw', :'gwp']) r, unnest(ARRAY['log_parameter_max_length = 0', 'log_min_error_statement = panic']) s \gexec
\else
SELECT format('warning: not a superuser; a superuser must run: ALTER ROLE %I SET log_parameter_max_length = 0; ALTER ROLE %I SET log_min_error_statement = panic;', r, r)
  FROM unnest(ARRAY[:'gw', :'gwp']) r;
\endif
SQL
  # The local cluster's own databases: nobody but a superuser connects to
  # postgres or template1 (a real server's DBA decides that: docs/operations/deploying.md).
  if using_local_cluster; then
    psql_admin postgres -c "REVOKE CONNECT, TEMPORARY ON DATABASE postgres, template1 FROM PUBLIC"
  fi
}

# The gateway roles' CONNECTION LIMIT: GATEWAY_CONNECTION_LIMIT when set,
# else INSTANCES gateways (3 for gateway: the stack's two plus a spare
# during a restart; 1 for gateway_proxy) times each one's pool (DB_POOL_SIZE,
# whose default is the gateway's: 2 per core, at least 4), plus
# GATEWAY_CONNECTION_HEADROOM (10: a DBA's psql as the gateway, PgBouncer's
# reconnects, pools of a rolling restart). scripts/test sets its own,
# larger, for the e2e suite's many pools.
gateway_connection_limit() { # instances
  if [[ -n ${GATEWAY_CONNECTION_LIMIT:-} ]]; then printf '%s' "$GATEWAY_CONNECTION_LIMIT"; return; fi
  local pool=${DB_POOL_SIZE:-}
  if [[ -z $pool ]]; then pool=$((2 * $(nproc))); ((pool >= 4)) || pool=4; fi
  printf '%s' $(($1 * pool + ${GATEWAY_CONNECTION_HEADROOM:-10}))
}

# Functions of pg_catalog that every role may run by default and the gateway
# must not (issue 15, item 11), revoked from PUBLIC in each database that
# create_database makes or finds (pg_proc is per database): the
# advisory locks (a session lock held forever would stop maintenance, whose
# lock api.maintenance takes as the owner; tern and the e2e tests take them
# as the owner too, so the owner gets them back) and the large objects
# (lo_create, lo_from_bytea, lowrite…: disk filled through a table nobody
# reads; the project uses none). Only a superuser may change pg_catalog's
# grants: with a non-superuser ADMIN_DATABASE_URL this warns and a DBA runs
# the same statements (docs/operations/deploying.md).
harden_database() { # db
  psql_admin "$1" -At -v owner="$OWNER_ROLE" <<'SQL'
SELECT rolsuper AS su FROM pg_roles WHERE rolname = current_user \gset
\if :su
SELECT format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', p.oid::regprocedure)
  FROM pg_proc p
 WHERE p.pronamespace = 'pg_catalog'::regnamespace
   AND (p.proname ~ '^pg_(try_)?advisory_' OR p.proname ~ '^lo_' OR p.proname IN ('loread', 'lowrite'))
   AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0)) \gexec
SELECT format('GRANT EXECUTE ON FUNCTION %s TO %I', p.oid::regprocedure, :'owner')
  FROM pg_proc p
 WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname ~ '^pg_(try_)?advisory_'
   AND NOT has_function_privilege(:'owner', p.oid, 'EXECUTE') \gexec
\else
SELECT 'warning: not a superuser; advisory-lock and large-object functions stay executable by PUBLIC (docs/operations/deploying.md, "Deploying to a server")';
\endif
SQL
}

create_database() { # db
  local exists
  exists=$(psql_admin postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '$1'")
  if [[ -z $exists ]]; then
    say "creating database $1"
    psql_admin postgres -c "CREATE DATABASE \"$1\" OWNER $OWNER_ROLE"
    # Nothing but what migrations grant: no CONNECT/TEMP for PUBLIC.
    psql_admin postgres -c "REVOKE ALL ON DATABASE \"$1\" FROM PUBLIC" \
      -c "GRANT CONNECT ON DATABASE \"$1\" TO $GATEWAY_ROLE"
  fi
  harden_database "$1"
}

drop_database() { # db
  psql_admin postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"
}

tern() { # db, tern args...
  local db=$1; shift
  (cd "$ROOT" && MIGRATION_DATABASE_URL=$(owner_url "$db") go tool tern "$@" --config tern.conf)
}

# The migrations alone (sql/migrations), up to the last or to a destination.
migrate_only() { # db [destination]
  # tern echoes every migration's SQL; keep only its "executing" lines.
  tern "$1" migrate --migrations sql/migrations ${2:+--destination "$2"} |
    sed -n 's/^[0-9-]* [0-9:]* executing /migrated /p' >&2
}

# The code package (sql/code): CREATE OR REPLACE of every function (oids
# kept), then the drop of those it no longer defines, in one
# transaction, under tern's advisory lock.
install_code() { # db
  # "|| return": a caller in an && list (scripts/test) runs without errexit,
  # where a failed install would otherwise pass for a done one.
  tern "$1" code install sql/code || return 1
  say "installed the code package sql/code"
}

# Deploying: the migrations, then the code package. The package is written
# for the last migration, so moving to an older destination leaves the code
# as it is (/readyz says the schema is not this build's until the next full
# migrate).
migrate() { # db [destination]
  migrate_only "$@" || return 1
  if [[ -z ${2:-} || $2 == last || $2 == "$(last_migration)" ]]; then install_code "$1"; fi
}

# The number of the last migration file.
last_migration() {
  (cd "$ROOT/sql/migrations" && ls [0-9]*_*.sql | sed -n '$s/_.*//p' | sed 's/^0*//')
}

# --- schema snapshot ------------------------------------------------------------

SCHEMA_FILE="$ROOT/sql/schema.sql"

# The schema of a database as sql/schema.sql holds it: a header, then
# pg_dump --schema-only (owners and grants included) without the lines that
# differ between two dumps of the same schema: the server's and pg_dump's
# versions, and the \restrict / \unrestrict lines whose key is random on every
# run (recent minor releases print them), each with the blank line after it.
# Written by `scripts/db snapshot`, compared by scripts/test.
dump_schema() { # db
  cat <<'EOF'
-- The data layer that sql/migrations builds (schemas, tables, constraints,
-- indexes, triggers and their functions, grants), as pg_dump --schema-only
-- prints it, before the code package (sql/code) is installed.
-- Generated by `scripts/db snapshot`; do not edit by hand. scripts/test fails
-- when it differs from a freshly migrated database. Databases are built by
-- the migrations, never from this file.

EOF
  # The second awk leaves out the grants of pg_catalog's functions, which
  # the scripts change (harden_database), not the migrations: each comes as
  # a block "--" / "-- Name: …; Type: ACL; Schema: pg_catalog; …" / "--" /
  # statements, up to the next block's "--".
  pg_dump "$(admin_url "$1")" --schema-only | awk '
    /^\\(un)?restrict / || /^-- Dumped (from database|by pg_dump) version / { gap = 1; next }
    gap && $0 == "" { gap = 0; next }
    { gap = 0; print }' | awk '
    $0 == "--" && !held { held = 1; next }
    held {
      held = 0
      if ($0 ~ /^-- Name: /) {
        skip = ($0 ~ /; Type: ACL; Schema: pg_catalog;/)
        if (!skip) { print "--"; print }
        next
      }
      if (!skip) print "--"
    }
    !skip { print }
    END { if (held && !skip) print "--" }'
}

# Prepares a server, roles and a migrated database; used by run and test.
prepare_database() { # db [destination]
  cluster_start
  bootstrap_roles
  create_database "$1"
  migrate "$1" "${2:-}"
}

# --- the local stack: TLS, nginx, gateways in the background ----------------------
# scripts/run --stack and tests/scripts/stack.sh. nginx is Debian's package,
# run with a configuration of its own under STACK_DIR (never /etc/nginx).

TLS_DIR="$LOCAL_DIR/tls"
STACK_DIR=${STACK_DIR:-$LOCAL_DIR/stack}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
NGINX_TEMPLATE="$ROOT/deploy/nginx/homebase.conf"
NGINX_PROXY_AUTH_TEMPLATE="$ROOT/deploy/nginx/homebase-proxy-auth.conf"
# The proxy-asserted identity's server (homebase-proxy-auth.conf): its port,
# and the password file of its users (scripts/db htpasswd USERNAME).
PROXY_AUTH_PORT=${PROXY_AUTH_PORT:-8444}
HTPASSWD_FILE=${HTPASSWD_FILE:-$LOCAL_DIR/htpasswd}

ensure_nginx() {
  [[ -x $NGINX_BIN ]] || ensure_packages nginx
  [[ -x $NGINX_BIN ]] || die "no nginx at $NGINX_BIN (Debian: apt-get install nginx)"
}

# A throw-away CA (.local/tls/ca.crt, ca.key) and a certificate it signs for
# 127.0.0.1 and localhost (server.crt, server.key); curl --cacert
# .local/tls/ca.crt verifies it. Both are reused while valid for another day.
ensure_tls_cert() {
  command -v openssl >/dev/null || ensure_packages openssl
  local ca="$TLS_DIR/ca.crt" ca_key="$TLS_DIR/ca.key" crt="$TLS_DIR/server.crt" key="$TLS_DIR/server.key"
  mkdir -p "$TLS_DIR"
  if ! openssl x509 -in "$ca" -noout -checkend 86400 >/dev/null 2>&1 || [[ ! -s $ca_key ]]; then
    say "creating a throw-away CA in ${TLS_DIR#"$ROOT"/}/ca.crt (local use only)"
    (umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
      -subj "/CN=homebase local CA $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$ca_key" -out "$ca" 2>/dev/null) || die "openssl could not create the CA"
    rm -f "$crt"
  fi
  if ! openssl x509 -in "$crt" -noout -checkend 86400 >/dev/null 2>&1 || [[ ! -s $key ]] ||
    ! openssl verify -CAfile "$ca" "$crt" >/dev/null 2>&1; then
    say "creating the server certificate for 127.0.0.1 and localhost, signed by that CA"
    local ext="$TLS_DIR/server.ext"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$ext"
    (umask 077; openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
      -keyout "$key" -out "$TLS_DIR/server.csr" 2>/dev/null &&
      openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$ca" -CAkey "$ca_key" -CAcreateserial -days 90 \
        -extfile "$ext" -out "$crt" 2>/dev/null) || die "openssl could not create the server certificate"
    rm -f "$TLS_DIR/server.csr" "$ext"
  fi
}

# Renders deploy/nginx/homebase.conf for this machine into $STACK_DIR/nginx:
# homebase.conf (the placeholders filled) inside nginx.conf, whose pid file,
# logs and temporary files are all under that folder; nothing of /etc/nginx
# is read. HSTS lasts 5 minutes here: a browser that honours it for
# localhost would otherwise refuse plain http://localhost:8080 (scripts/run)
# for two years. With PROXY_AUTH_GATEWAYS (addresses, comma-separated) set,
# homebase-proxy-auth.conf as well: its server on 127.0.0.1:$PROXY_AUTH_PORT,
# users from $HTPASSWD_FILE, those gateways as its upstream.
render_nginx() { # http_port https_port gateway_addr...
  local http_port=$1 https_port=$2 dir="$STACK_DIR/nginx" upstreams="" proxy_upstreams="" a includes
  shift 2
  for a in "$@"; do upstreams+="server $a max_fails=1 fail_timeout=5s;"$'\n'; done
  mkdir -p "$dir/tmp" "$dir/logs"
  render_nginx_template "$NGINX_TEMPLATE" "$upstreams" "$http_port" "$https_port" >"$dir/homebase.conf"
  includes="include $dir/homebase.conf;"
  rm -f "$dir/homebase-proxy-auth.conf"
  if [[ -n ${PROXY_AUTH_GATEWAYS:-} ]]; then
    for a in ${PROXY_AUTH_GATEWAYS//,/ }; do proxy_upstreams+="server $a max_fails=1 fail_timeout=5s;"$'\n'; done
    [[ -f $HTPASSWD_FILE ]] || (umask 077; : >"$HTPASSWD_FILE")
    # As root the workers (www-data) read the file: theirs to read, nobody else's.
    [[ $(id -u) -eq 0 ]] && chgrp www-data "$HTPASSWD_FILE" && chmod 640 "$HTPASSWD_FILE"
    render_nginx_template "$NGINX_PROXY_AUTH_TEMPLATE" "$proxy_upstreams" "$http_port" "$https_port" >"$dir/homebase-proxy-auth.conf"
    includes+=$'\n'"    include $dir/homebase-proxy-auth.conf;"
  fi
  grep -n '@[A-Z_]*@' <(grep -hv '^#' "$dir"/homebase*.conf) >&2 && die "render_nginx: a placeholder of deploy/nginx is not filled"
  local user=""
  # As root, the workers run as Debian's www-data; they only need the
  # temporary folders (nginx hands them over) and a path to reach them.
  if [[ $(id -u) -eq 0 ]]; then
    user="user www-data;"
    local d="$dir/tmp"
    while [[ $d != / ]]; do
      runuser -u www-data -- test -x "$d" 2>/dev/null || chmod o+x "$d"
      d=$(dirname "$d")
    done
  fi
  cat >"$dir/nginx.conf" <<CONF
# Rendered by scripts/lib.sh (render_nginx) for scripts/run --stack; edit deploy/nginx/homebase.conf instead.
$user
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
    default_type application/octet-stream;
    server_tokens off;
    client_body_temp_path $dir/tmp/client_body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    $includes
}
CONF
  "$NGINX_BIN" -t -q -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" ||
    die "nginx refuses the rendered configuration $dir/nginx.conf"
}

# One template of deploy/nginx with this machine's values (render_nginx).
render_nginx_template() { # template upstream_lines http_port https_port
  local dir="$STACK_DIR/nginx"
  awk -v servers="$2" \
    -v http="127.0.0.1:$3" -v https="127.0.0.1:$4" -v origin="https://127.0.0.1:$4" \
    -v proxyauth="127.0.0.1:$PROXY_AUTH_PORT" -v htpasswd="$HTPASSWD_FILE" \
    -v crt="$TLS_DIR/server.crt" -v key="$TLS_DIR/server.key" -v accesslog="$dir/logs/access.log" '
    /^[ \t]*@(PROXY_)?UPSTREAM_SERVERS@[ \t]*$/ {
      indent = $0; sub(/@.*/, "", indent)
      n = split(servers, s, "\n")
      for (i = 1; i <= n; i++) if (s[i] != "") print indent s[i]
      next
    }
    /^#/ { print; next }
    {
      gsub(/@SERVER_NAME@/, "127.0.0.1 localhost"); gsub(/@HTTP_LISTEN@/, http); gsub(/@HTTPS_LISTEN@/, https)
      gsub(/@HTTPS_ORIGIN@/, origin); gsub(/@TLS_CERTIFICATE@/, crt); gsub(/@TLS_CERTIFICATE_KEY@/, key)
      gsub(/@HSTS_MAX_AGE@/, "300"); gsub(/@ACCESS_LOG@/, accesslog)
      gsub(/@PROXY_AUTH_LISTEN@/, proxyauth); gsub(/@HTPASSWD_FILE@/, htpasswd)
      print
    }' "$1"
}

# Adds a user to the htpasswd file of the proxy-auth server, or changes its
# password (read from standard input, one line), hashed with SHA-512 crypt
# (`openssl passwd -6`, which nginx reads through the system's crypt()).
htpasswd_set() { # username
  local user=$1 pw hash tmp
  [[ $user =~ ^[A-Za-z0-9_.-]{3,32}$ ]] || die "htpasswd: $user is not a username (3 to 32 letters, digits, _ . -)"
  command -v openssl >/dev/null || ensure_packages openssl
  IFS= read -r pw || true
  [[ -n $pw ]] || die "htpasswd: no password on standard input"
  hash=$(printf '%s\n' "$pw" | openssl passwd -6 -stdin) || die "openssl passwd failed"
  mkdir -p "$(dirname "$HTPASSWD_FILE")"
  tmp="$HTPASSWD_FILE.new"
  (umask 077
   { [[ -f $HTPASSWD_FILE ]] && awk -F: -v u="$user" '$1 != u' "$HTPASSWD_FILE"; printf '%s:%s\n' "$user" "$hash"; } >"$tmp")
  [[ $(id -u) -eq 0 ]] && id www-data >/dev/null 2>&1 && chgrp www-data "$tmp" && chmod 640 "$tmp"
  mv "$tmp" "$HTPASSWD_FILE"
}

# Starts the rendered nginx in the background, in the foreground of its own
# master process (daemon off), so that $NGINX_PID is the master's pid.
NGINX_PID=""
start_nginx() {
  local dir="$STACK_DIR/nginx"
  "$NGINX_BIN" -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" -g 'daemon off;' &
  NGINX_PID=$!
}

# Starts a built gateway in the background: PORT, and any VAR=value given,
# over the environment; its output goes to the log file. Sets STARTED_PID.
STARTED_PID=""
start_gateway() { # bin port logfile [VAR=value...]
  local bin=$1 port=$2 log=$3
  shift 3
  mkdir -p "$(dirname "$log")"
  env HOST=127.0.0.1 PORT="$port" "$@" "$bin" >>"$log" 2>&1 &
  STARTED_PID=$!
}

# True while the process runs (an exited child waiting to be reaped does not).
pid_alive() { # pid
  [[ -n $1 ]] && kill -0 "$1" 2>/dev/null && [[ $(ps -o stat= -p "$1" 2>/dev/null) != Z* ]]
}

# Stops a process we started (SIGTERM, then SIGKILL after the grace) and reaps it.
stop_pid() { # pid [grace seconds, default 10]
  local pid=$1 grace=${2:-10} i
  # wait reaps an exited child (and answers its status, or 127 for a pid
  # that is not this shell's child): never a failure of stop_pid under set -e.
  pid_alive "$pid" || { [[ -n $pid ]] && { wait "$pid" 2>/dev/null || true; }; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do pid_alive "$pid" || break; sleep 0.1; done
  if pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi # it may exit meanwhile
  wait "$pid" 2>/dev/null || true
}

# Waits until a URL answers 200 (curl args after the URL), at most the given seconds.
wait_for_200() { # seconds url [curl args...]
  local seconds=$1 url=$2 i
  shift 2
  for ((i = 0; i < seconds * 5; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null) == 200 ]] && return 0
    sleep 0.2
  done
  return 1
}

# True when something accepts connections on 127.0.0.1:port.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

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

# Renders the configuration: the dev and test databases (and any given) on
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
  as_pg_user tee "$dir/hba.conf" >/dev/null <<EOF2
# Rendered by scripts/lib.sh (render_pgbouncer).
local  pgbouncer  postgres                 peer
host   all        $GATEWAY_ROLE  127.0.0.1/32  scram-sha-256
host   all        $GATEWAY_PROXY_ROLE  127.0.0.1/32  scram-sha-256
EOF2
  local dbs="" d
  for d in "$DB_NAME" "$TEST_DB_NAME" "$@"; do
    [[ $dbs == *"[$d]"* ]] && continue
    dbs+="[$d]"
  done
  {
    printf '; Rendered by scripts/lib.sh (render_pgbouncer); do not edit.\n[databases]\n'
    for d in $(tr '[]' '  ' <<<"$dbs"); do
      printf "%s = host=127.0.0.1 port=%s dbname=%s connect_query='SET statement_timeout = %s'\n" \
        "$d" "$PGPORT_LOCAL" "$d" "$timeout"
    done
    cat <<EOF2

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir = $dir/run
unix_socket_mode = 0700
auth_type = hba
auth_hba_file = $dir/hba.conf
auth_file = $dir/userlist.txt
admin_users = postgres
pool_mode = transaction
; Server connections per database and user: what 2 cores serve best.
default_pool_size = $pool
reserve_pool_size = 2
reserve_pool_timeout = 3
query_wait_timeout = $wait
server_login_retry = $retry
max_client_conn = ${PGBOUNCER_MAX_CLIENT_CONN:-1000}
server_tls_sslmode = disable
client_tls_sslmode = disable
ignore_startup_parameters = statement_timeout
server_reset_query =
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
log_connections = 0
log_disconnections = 0
EOF2
  } | as_pg_user tee "$dir/pgbouncer.ini" >/dev/null
}

# userlist.txt: the gateway role's SCRAM secret as PostgreSQL holds it now,
# written atomically. PgBouncer checks the gateway's password against it and
# keeps the keys of the last client login it accepted, with which it logs in
# to PostgreSQL (SCRAM pass-through).
render_pgbouncer_userlist() {
  local dir=$PGBOUNCER_DIR secret proxy_secret
  secret=$(psql_admin postgres -At -c "SELECT rolpassword FROM pg_authid WHERE rolname = '$GATEWAY_ROLE'")
  [[ $secret == SCRAM-SHA-256\$* ]] || die "the $GATEWAY_ROLE role has no SCRAM secret (bootstrap_roles first)"
  proxy_secret=$(psql_admin postgres -At -c "SELECT rolpassword FROM pg_authid WHERE rolname = '$GATEWAY_PROXY_ROLE'")
  [[ $proxy_secret == SCRAM-SHA-256\$* ]] || die "the $GATEWAY_PROXY_ROLE role has no SCRAM secret (bootstrap_roles first)"
  {
    printf '"%s" "%s"\n' "$GATEWAY_ROLE" "$secret"
    # The proxy-trusting gateway's login: a pool of its own (PgBouncer pools
    # per user), so its connections are never lent to the ordinary gateway.
    printf '"%s" "%s"\n' "$GATEWAY_PROXY_ROLE" "$proxy_secret"
    # The admin console's user, let in by peer only (hba.conf): no password.
    printf '"postgres" ""\n'
  } | as_pg_user tee "$dir/userlist.txt.new" >/dev/null
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

# --- rotating the gateway role's password (scripts/db rotate-password) ------------
# Without downtime (docs/operations/password-rotation.md): a new
# random password, set with ALTER ROLE as the admin (it reaches psql through
# its environment, never a command line or a log), then written atomically to
# .local/gateway.password, which the gateways read for each new connection
# (DATABASE_PASSWORD_FILE). Open connections keep working. A running PgBouncer
# of PGBOUNCER_DIR gets the new SCRAM secret (its admin console's RELOAD,
# synchronous), then one login with the new password through it, so that it
# holds the new keys for its own logins to PostgreSQL. Until then (a fraction
# of a second) a server login of PgBouncer fails and it tries again after
# server_login_retry (1 s), its clients waiting in its queue; a gateway whose
# new connection is refused for its password tries once more 250 ms later.
rotate_gateway_password() {
  [[ -z ${GATEWAY_DB_PASSWORD:-} ]] ||
    die "GATEWAY_DB_PASSWORD is set: the password is kept where that comes from; rotate it there (docs/operations/password-rotation.md)"
  local f="$LOCAL_DIR/gateway.password" new
  gateway_password >/dev/null # creates the file if there is none
  new=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  (umask 077; printf '%s' "$new" >"$f.new")
  GATEWAY_PW=$new psql_admin postgres -v gw="$GATEWAY_ROLE" <<'SQL'
\getenv pw GATEWAY_PW
SELECT format('ALTER ROLE %I PASSWORD %L', :'gw', :'pw') \gexec
SQL
  mv -f "$f.new" "$f"
  say "the $GATEWAY_ROLE role has a new password (in ${f#"$ROOT"/})"
  if using_local_cluster && pgbouncer_pid >/dev/null; then
    render_pgbouncer_userlist
    psql_pgbouncer_admin -c "RELOAD" >/dev/null
    # Accepted or not ("server login has been failing" while its retry
    # waits), this login leaves PgBouncer with the new keys.
    PGPASSWORD=$new psql "postgres://$GATEWAY_ROLE@127.0.0.1:$PGBOUNCER_PORT/$DB_NAME?sslmode=disable" \
      -X -q -At -c "SELECT 1" >/dev/null 2>&1 || true
    say "PgBouncer on 127.0.0.1:$PGBOUNCER_PORT reloaded with it"
  fi
}

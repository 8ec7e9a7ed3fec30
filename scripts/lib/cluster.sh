# Part of scripts/lib.sh (sourced by it, not run): The local cluster under .local/pg: initdb, start, TLS, stop.

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
  cluster_stats_settings
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

# What each function costs (docs/operations/functions.md): PL/pgSQL functions
# counted in pg_stat_user_functions (track_functions = 'pl'), and every
# statement, also those run inside a function, in pg_stat_statements
# (preloaded; the extension itself lives in the postgres database, where
# scripts/db top reads it, so the project's own databases stay as the
# migrations make them). Added once to a cluster made before these settings;
# a running cluster restarts then, since a preloaded library needs it.
cluster_stats_settings() {
  grep -q "^track_functions" "$PG_DATA/postgresql.conf" && return 0
  as_pg_user tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF
shared_preload_libraries = 'pg_stat_statements'
track_functions = 'pl'
pg_stat_statements.track = all
pg_stat_statements.track_utility = off
EOF
  if cluster_running; then
    say "restarting PostgreSQL to load pg_stat_statements"
    as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -o "-p $PGPORT_LOCAL" -m fast -w -t 60 restart >/dev/null ||
      { tail -20 "$PG_LOG" >&2; die "PostgreSQL did not restart"; }
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

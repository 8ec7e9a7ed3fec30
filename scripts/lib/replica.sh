# Part of scripts/lib.sh (sourced by it, not run): The local streaming replica under .local/replica.

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
# The replica's own settings, what operators copy (replica_conf renders it).
REPLICA_TEMPLATE="$ROOT/deploy/replica/replica.conf"

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

# deploy/replica/replica.conf with this replica's port, socket directory and
# apply delay (its "##" notes left out): hot_standby_feedback makes the
# primary keep the rows a replica query still reads, so that replay does not
# cancel it.
replica_conf() { # apply delay
  render_template "$REPLICA_TEMPLATE" '##' PORT="$REPLICA_PORT_LOCAL" SOCKET_DIR="$REPLICA_SOCK" APPLY_DELAY="$1"
}

# Starts the replica, built first when there is none or when it was copied
# from another cluster than today's (a deleted .local/pg). Its own socket
# directory, port and apply delay are in replica.conf (replica_conf), which its
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
  replica_conf "$delay" | as_pg_user tee "$REPLICA_DATA/replica.conf" >/dev/null
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

# Part of scripts/lib.sh (sourced by it, not run): Roles and databases, migrations and the code package, the schema snapshot, rotating the gateway role's password.

# --- roles and databases --------------------------------------------------------

# Idempotent: the owner (no login), the gateway (login, password from
# .local or GATEWAY_DB_PASSWORD), gateway_proxy (login, password from
# .local or GATEWAY_PROXY_DB_PASSWORD; a member of gateway, so it has the
# gateway's privileges and no other, and the one role whose sessions may
# assert a user's identity) and mailer (login, password from .local or
# MAILER_DB_PASSWORD; the mail sender: schema sender's functions only).
# Roles are cluster-wide; databases share them, and no migration creates
# or drops them.
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
  local set_gw=1 set_gwp=1 set_ml=1 gw_pw gwp_pw ml_pw
  gw_pw=$(gateway_password)
  gwp_pw=$(gateway_proxy_password)
  ml_pw=$(mailer_password)
  if using_local_cluster; then
    local_login_works "$GATEWAY_ROLE" "$gw_pw" && set_gw=0
    local_login_works "$GATEWAY_PROXY_ROLE" "$gwp_pw" && set_gwp=0
    local_login_works "$MAILER_ROLE" "$ml_pw" && set_ml=0
  fi
  GATEWAY_PW=$gw_pw GATEWAY_PROXY_PW=$gwp_pw MAILER_PW=$ml_pw \
    psql_admin postgres -v owner="$OWNER_ROLE" -v gw="$GATEWAY_ROLE" -v gwp="$GATEWAY_PROXY_ROLE" -v ml="$MAILER_ROLE" \
    -v set_gw="$set_gw" -v set_gwp="$set_gwp" -v set_ml="$set_ml" <<'SQL'
\getenv pw GATEWAY_PW
\getenv pwp GATEWAY_PROXY_PW
\getenv pwm MAILER_PW
SELECT format('CREATE ROLE %I LOGIN', :'ml')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'ml') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT CONNECTION LIMIT 10', :'ml') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'ml', :'pwm') WHERE :set_ml = 1 \gexec
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
  psql_admin postgres -At -v gw="$GATEWAY_ROLE" -v gwp="$GATEWAY_PROXY_ROLE" -v ml="$MAILER_ROLE" \
    -v gw_limit="$gw_limit" -v gwp_limit="$gwp_limit" <<'SQL'
SELECT format('ALTER ROLE %I CONNECTION LIMIT %s', r.name, r.lim)
  FROM (VALUES (:'gw', :gw_limit), (:'gwp', :gwp_limit)) r(name, lim)
 WHERE (SELECT rolconnlimit FROM pg_roles WHERE rolname = r.name) <> r.lim \gexec
SELECT format('ALTER ROLE %I SET log_parameter_max_length_on_error = 0', r) FROM unnest(ARRAY[:'gw', :'gwp', :'ml']) r \gexec
SELECT rolsuper AS su FROM pg_roles WHERE rolname = current_user \gset
\if :su
SELECT format('ALTER ROLE %I SET %s', r, s)
  FROM unnest(ARRAY[:'gw', :'gwp', :'ml']) r, unnest(ARRAY['log_parameter_max_length = 0', 'log_min_error_statement = panic']) s \gexec
\else
SELECT format('warning: not a superuser; a superuser must run: ALTER ROLE %I SET log_parameter_max_length = 0; ALTER ROLE %I SET log_min_error_statement = panic;', r, r)
  FROM unnest(ARRAY[:'gw', :'gwp', :'ml']) r;
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
  # The mail sender's login came later than the database may have: granted
  # on every start (a no-op when held).
  psql_admin postgres -c "GRANT CONNECT ON DATABASE \"$1\" TO $MAILER_ROLE"
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

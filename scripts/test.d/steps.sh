# The steps of scripts/test, one function each (sourced by it, not run; step_fn in
# scripts/test maps a step's name onto its function).

# The database steps need a migrated schema and the code package, not a clean go vet.
# Deploying is "migrate, then install the package"; this step checks that
#   - the migrations build a database from nothing (dumped for schema_snapshot),
#   - the down sections undo everything, even with the package installed: after
#     down to 0 and up again, the data layer dumps exactly as the fresh one,
#   - reinstalling the package changes nothing: the full dump (migrations and
#     package) after a second install is the one after the first.
migrated=0
FRESH_DUMP="$LOCAL_DIR/schema.$TEST_DB_NAME.fresh.sql"
round_trip() {
  local db=$TEST_DB_NAME
  local again="$LOCAL_DIR/schema.$db.again.sql" once="$LOCAL_DIR/full.$db.once.sql" twice="$LOCAL_DIR/full.$db.twice.sql"
  mkdir -p "$LOCAL_DIR"
  migrate_only "$db" && dump_schema "$db" >"$FRESH_DUMP" &&
    install_code "$db" && migrate_only "$db" 0 && migrate_only "$db" && dump_schema "$db" >"$again" || return 1
  if ! diff -u --label "$db (migrated)" --label "$db (down to 0 and up again)" "$FRESH_DUMP" "$again" >&2; then
    say "migrating down to 0 and up again does not rebuild the same schema: a down section leaves something behind"
    return 1
  fi
  install_code "$db" && dump_schema "$db" >"$once" && install_code "$db" && dump_schema "$db" >"$twice" || return 1
  if ! diff -u --label "$db (package installed)" --label "$db (installed again)" "$once" "$twice" >&2; then
    say "installing the code package twice does not give the same schema as once"
    return 1
  fi
  [[ $(psql "$(owner_url "$db")" -XAtc "SELECT max(version) FROM public.schema_version") == $(last_migration) ]] &&
    migrated=1
}

# Deploying onto a database in use: the release before the newest migration
# (the commit before the one that added it: its migrations, its code package
# and its seed data) upgraded to this checkout (migrations, then package)
# must dump exactly as this checkout's migrations and package build from
# nothing (round_trip's dump), with the seed data still there. A package
# that only installs on an empty database (an overload left ambiguous, a
# function a table still needs) fails here, not on a server.
upgrade() {
  local db="${TEST_DB_NAME}_upgrade" latest added base tmp owner rc=0
  latest=$(cd "$ROOT" && ls sql/migrations/[0-9]*_*.sql | tail -1)
  added=$(git -C "$ROOT" log --diff-filter=A --format=%H -1 -- "$latest" 2>/dev/null) || true
  if [[ -z $added ]] || ! base=$(git -C "$ROOT" rev-parse -q --verify "$added^" 2>/dev/null); then
    say "no history before $latest here (a shallow clone?): fetch it (git fetch --unshallow) to run this step"
    return 1
  fi
  tmp=$(mktemp -d)
  git -C "$ROOT" archive "$base" sql | tar -x -C "$tmp" || { rm -rf "$tmp"; return 1; }
  drop_database "$db" >/dev/null && create_database "$db" && owner=$(owner_url "$db") || { rm -rf "$tmp"; return 1; }
  say "building $db as of ${base:0:12} (before $(basename "$latest")), then upgrading it"
  tern "$db" migrate --migrations "$tmp/sql/migrations" >/dev/null && tern "$db" code install "$tmp/sql/code" &&
    psql "$owner" -X -q -v ON_ERROR_STOP=1 -f "$tmp/sql/seed.sql" &&
    migrate_only "$db" && install_code "$db" &&
    dump_schema "$db" >"$LOCAL_DIR/full.$db.sql" || rc=1
  rm -rf "$tmp"
  [[ $rc -eq 0 ]] || return 1
  if ! diff -u --label "$TEST_DB_NAME (built from nothing)" --label "$db (upgraded)" \
    "$LOCAL_DIR/full.$TEST_DB_NAME.once.sql" "$LOCAL_DIR/full.$db.sql" >&2; then
    say "the upgraded database differs from one built from nothing"
    return 1
  fi
  [[ $(psql "$owner" -XAtc "SELECT count(*) FROM auth.accounts WHERE username IN ('ada', 'ben', 'cleo')") == 3 ]] ||
    { say "the seed data did not survive the upgrade"; return 1; }
  drop_database "$db" >/dev/null
}

# The data layer as the migrations built it, before the package was installed
# (round_trip dumped it), against the committed sql/schema.sql.
schema_snapshot() {
  if ! diff -u --label sql/schema.sql --label "$TEST_DB_NAME (migrated)" "$SCHEMA_FILE" "$FRESH_DUMP" >&2; then
    say "sql/schema.sql is not what the migrations build: run scripts/db snapshot and commit the file"
    return 1
  fi
}

# plpgsql_check over every PL/pgSQL function of the project (in any schema but
# pg_catalog and information_schema, leaving out those that extensions bring):
# warnings are printed, errors fail the step. CREATE FUNCTION only checks the syntax: a misspelt column or a
# missing table would otherwise wait for the first call that reaches it.
plpgsql_lint() {
  # In a schema of its own, which the gateway cannot use (tests/sql/00_privileges.sql
  # asserts what the gateway reaches).
  psql_admin "$TEST_DB_NAME" -c "CREATE SCHEMA IF NOT EXISTS plpgsql_check" \
    -c "CREATE EXTENSION IF NOT EXISTS plpgsql_check SCHEMA plpgsql_check" || return 1
  psql_admin "$TEST_DB_NAME" -At -f "$ROOT/scripts/test.d/plpgsql_check.sql"
}

pgtap() {
  # pgTAP in a schema of its own, which the privilege tests leave aside; the
  # gateway may use it so that tests can run assertions as the gateway role.
  psql_admin "$TEST_DB_NAME" -c "CREATE SCHEMA IF NOT EXISTS tap" -c "CREATE EXTENSION IF NOT EXISTS pgtap SCHEMA tap" \
    -c "GRANT USAGE ON SCHEMA tap TO $GATEWAY_ROLE"
  # pg_prove splits a --dbname holding "=" into key/value pairs, so hand psql
  # the URL through a wrapper instead.
  local wrapper="$LOCAL_DIR/pg_prove-psql"
  mkdir -p "$LOCAL_DIR"
  printf '#!/bin/sh\nPGOPTIONS="-c search_path=public,tap" exec psql "$@" "$PGTAP_URL"\n' >"$wrapper"
  chmod +x "$wrapper"
  local files=("$@")
  [[ ${#files[@]} -gt 0 ]] || files=("$ROOT"/tests/sql/*.sql)
  PGTAP_URL=$(admin_url "$TEST_DB_NAME") pg_prove --psql-bin "$wrapper" --failures "${files[@]}"
}

# Runs a command (go test …) with the environment of the Go tests (test_exports).
with_test_env() { # command...
  (cd "$ROOT" && eval "$(test_exports)" && "$@")
}
go_tests() { with_test_env go test -count=1 "$@" ./...; }
# The whole end-to-end suite again, with the gateways batching their calls
# (DB_PIPELINE): batching must change no answer.
e2e_pipelined() { with_test_env env TEST_DB_PIPELINE=true go test -count=1 "$@" ./tests/e2e; }

# The whole e2e suite a second time, the gateway's database being PgBouncer
# (.local/pgbouncer, transaction pooling) in the exec mode chosen for it
# (PGBOUNCER_EXEC_MODE, default exec); the owner's fixtures still go straight
# to PostgreSQL. PgBouncer is started for the step and stopped after it.
# Tests that cannot hold behind PgBouncer skip themselves (skipBehindPgBouncer).
e2e_through_pgbouncer() {
  using_local_cluster || { say "ADMIN_DATABASE_URL: no local PgBouncer, nothing to run"; return 0; }
  start_pgbouncer "$TEST_DB_NAME" || return 1
  local rc=0
  with_test_env env TEST_GATEWAY_DATABASE_URL="$(pgbouncer_url "$TEST_DB_NAME")" \
    TEST_GATEWAY_PROXY_DATABASE_URL="$(pgbouncer_url "$TEST_DB_NAME" "$GATEWAY_PROXY_ROLE")" \
    TEST_DB_EXEC_MODE="${PGBOUNCER_EXEC_MODE:-exec}" TEST_BEHIND_PGBOUNCER=1 \
    go test -count=1 "$@" ./tests/e2e || rc=1
  stop_pgbouncer || rc=1
  return $rc
}

# The replica tests (tests/e2e/replica_test.go) against the local streaming
# replica (scripts/db replica start), its replay held back by
# TEST_REPLICA_APPLY_DELAY (default 1s) so that its lag is real; then, the
# replica stopped, the reads of TestReplicaUnreachable must still be served.
# A replica that ran before the step is started again after it (apply delay
# REPLICA_APPLY_DELAY, default 0); one that did not is left stopped.
e2e_replica() {
  using_local_cluster || { say "ADMIN_DATABASE_URL: no local replica, nothing to run"; return 0; }
  local was_running=0 rc=0
  replica_running && was_running=1
  REPLICA_APPLY_DELAY=${TEST_REPLICA_APPLY_DELAY:-1s} replica_start
  with_test_env env TEST_REPLICA_DATABASE_URL="$(replica_url "$TEST_DB_NAME")" \
    TEST_REPLICA_ADMIN_DATABASE_URL="$(replica_admin_url "$TEST_DB_NAME")" \
    go test -count=1 -run '^TestReplica' "$@" ./tests/e2e || rc=1
  replica_stop
  with_test_env env TEST_REPLICA_DOWN_URL="$(replica_url "$TEST_DB_NAME")" \
    go test -count=1 -run '^TestReplicaUnreachable$' ./tests/e2e || rc=1
  [[ $was_running -eq 1 ]] && replica_start
  return $rc
}

code_package_test() { TEST_DB_NAME=$TEST_DB_NAME bash "$ROOT/tests/scripts/code_package.sh"; }
stack_test() { TEST_DB_NAME=$TEST_DB_NAME bash "$ROOT/tests/scripts/stack.sh"; }
proxy_auth_test() { TEST_DB_NAME=$TEST_DB_NAME bash "$ROOT/tests/scripts/proxy_auth.sh"; }
# Restarts the cluster under load: nothing else may use it meanwhile.
faults_test() { TEST_DB_NAME=$TEST_DB_NAME bash "$ROOT/tests/scripts/faults.sh"; }

# squawk over the up sections of sql/migrations (lint_migrations in lib/install.sh,
# rules in .squawk.toml), once tests/squawk shows that the lint bites: the
# bad fixture must be reported under each rule it breaks and not for its
# down section, and the good one (the same changes done safely) must pass.
lint_migrations_step() {
  local out rule ok=1
  if out=$(cd "$ROOT" && lint_migrations tests/squawk/bad/*.sql 2>&1); then
    say "squawk found nothing in tests/squawk/bad"; ok=0
  fi
  for rule in require-concurrent-index-creation adding-field-with-default adding-not-nullable-field; do
    grep -qF -- "$rule" <<<"$out" || { say "squawk did not report $rule in tests/squawk/bad"; ok=0; }
  done
  if grep -qF -- ban-drop-column <<<"$out"; then say "squawk linted the down section of tests/squawk/bad"; ok=0; fi
  [[ $ok -eq 1 ]] || printf '%s\n' "$out" >&2
  (cd "$ROOT" && lint_migrations tests/squawk/good/*.sql) || { say "squawk rejects tests/squawk/good"; ok=0; }
  (cd "$ROOT" && lint_migrations sql/migrations/*.sql) || ok=0
  [[ $ok -eq 1 ]]
}

# The web client in a real browser (web/tests, Playwright driving Debian's
# chromium): web/ built, then a gateway serving it (WEB_DIR) against the test
# database, with Mailpit and the mail sender for the mailed links, on free
# ports; all stopped after the run. Playwright arguments pass through
# (scripts/test web -g 'log in').
web_test() {
  ( # a subshell: a die of the helpers fails this step alone, and the trap stops what it started
    local smtp ui health port dir="$LOCAL_DIR/web-test" pids=()
    ensure_packages chromium
    build_web || exit 1
    (cd "$ROOT" && go build -o "$LOCAL_DIR/bin/gateway" ./gateway/cmd/gateway) || exit 1
    read -r smtp ui health port <<<"$(free_ports 4)"
    trap 'for p in "${pids[@]}"; do stop_pid "$p"; done' EXIT
    rm -rf "$dir" && mkdir -p "$dir"
    # Every request of the earlier steps came from 127.0.0.1 too: the test
    # database's rate-limit counters start this step empty (its limits stay
    # as deployed: the pages meet them as a person would).
    psql "$(owner_url "$TEST_DB_NAME")" -X -q -v ON_ERROR_STOP=1 -c 'DELETE FROM auth.login_failures' || exit 1
    start_mailpit "$smtp" "$ui" "$dir/mailpit.log"
    pids+=("$STARTED_PID")
    start_mailer "$TEST_DB_NAME" "$smtp" "$health" "http://127.0.0.1:$port" "$dir/mailer.log" \
      LOG_FORMAT=console
    pids+=("$STARTED_PID")
    # TRUSTED_PROXIES: each Playwright worker names an address of its own in
    # X-Forwarded-For (web/playwright.config.ts), so the per-IP limits count
    # each apart, as they count people.
    env DATABASE_URL="$(gateway_url "$TEST_DB_NAME")" HOST=127.0.0.1 PORT="$port" COOKIE_SECURE=false \
      TRUSTED_PROXIES=127.0.0.1/32 WEB_DIR="$WEB_DIST" LOG_FORMAT=console "$LOCAL_DIR/bin/gateway" >>"$dir/gateway.log" 2>&1 &
    pids=("$!" "${pids[@]}")
    wait_for_200 15 "http://127.0.0.1:$port/readyz" || { tail -20 "$dir/gateway.log" >&2; exit 1; }
    # DB_OWNER_URL: what a DBA does by hand, a test does with psql (scripts/db role).
    cd "$WEB_SRC" && BASE_URL="http://127.0.0.1:$port" MAILPIT_URL="http://127.0.0.1:$ui" \
      DB_OWNER_URL="$(owner_url "$TEST_DB_NAME")" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx --no-install playwright test "$@"
  )
}

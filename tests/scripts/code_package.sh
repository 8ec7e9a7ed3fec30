#!/usr/bin/env bash
# A function edited only in its package file (sql/code) reaches the database
# after `scripts/db migrate`, with no new migration, and /readyz tells a
# gateway built from another package apart.
#
# On a scratch database of the real server (dropped before and after):
#   1. the checkout's `scripts/db migrate`: the original package and its digest;
#   2. a temporary copy of the checkout whose api.availability has another
#      message in sql/code/api/accounts.sql, and nothing else changed: its
#      `scripts/db migrate` installs the edited function and records another
#      digest in public.code_package;
#   3. the checkout's gateway against that database: /readyz 503 naming the
#      code package, while the routes keep answering (with the edited message);
#   4. the checkout's `scripts/db migrate` again: the original function is
#      back and the same gateway answers /readyz 200 with the checkout's digest.
# The copy also defines one function more (audit.code_package_probe): the
# checkout's install in step 4 drops it, as a function no longer in the package.
#
# Run by scripts/test; by itself once the cluster runs (scripts/db start):
#   bash tests/scripts/code_package.sh
# TEST_DB_NAME names the scratch database (${TEST_DB_NAME}_code); the gateway's
# port is free_ports' (scripts/lib/ports.sh).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib.sh"
source "$ROOT/tests/scripts/checks.sh"

SCRATCH="${TEST_DB_NAME}_code"
ORIGINAL_MESSAGE='give a username, an email or both'
EDITED_MESSAGE="edited in sql/code only, run $(date +%s)-$$"
GATEWAY_BIN="$LOCAL_DIR/bin/gateway-codetest"
TMP=$(mktemp -d)
COPY="$TMP/checkout"
GW_LOG="$TMP/gateway.log"
GW_PID=""

cleanup() {
  local rc=$?
  stop_pid "$GW_PID"
  if [[ $rc -ne 0 && -s $GW_LOG ]]; then
    say "the gateway's log (last lines):"
    tail -20 "$GW_LOG" >&2
  fi
  drop_database "$SCRATCH" >/dev/null 2>&1 || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT


# run description command...: quiet unless the command fails.
run() {
  local what=$1; shift
  say "$what"
  "$@" >"$TMP/run.log" 2>&1 || { tail -30 "$TMP/run.log" >&2; fail "$what"; }
}

scratch_sql() { psql "$(owner_url "$SCRATCH")" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
installed_digest() { scratch_sql "SELECT digest FROM public.code_package WHERE name = 'sql/code'"; }
# What api.availability raises without a username or email: "SQLSTATE: message".
availability_error() {
  psql "$(owner_url "$SCRATCH")" -X -q -At -v ON_ERROR_STOP=1 2>&1 <<'SQL' | sed 's/^NOTICE: *//'
DO $$
BEGIN
  PERFORM api.availability(request.context(), NULL, NULL);
  RAISE NOTICE 'no error';
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END
$$;
SQL
}

# http path: "STATUS BODY" of a GET on the gateway.
http() {
  curl -s --max-time 5 -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$PORT$1" || true
  printf ' %s' "$(cat "$TMP/body" 2>/dev/null)"
}

if using_local_cluster && ! cluster_running; then
  die "the local cluster is not running: scripts/db start (or scripts/test) first"
fi

# A port nothing listens on, for the gateway.
PORT=$(free_ports 1)

run "building the checkout's gateway ($GATEWAY_BIN)" \
  bash -c "cd '$ROOT' && go build -o '$GATEWAY_BIN' ./gateway/cmd/gateway"
drop_database "$SCRATCH" >/dev/null

# 1. The checkout's package.
run "scripts/db migrate (the checkout) on $SCRATCH" env DB_NAME="$SCRATCH" bash "$ROOT/scripts/db" migrate
original_digest=$(installed_digest)
check "the checkout's package is installed (digest ${original_digest:0:12})" [ -n "$original_digest" ]
check "api.availability raises the checkout's message" \
  equal "$(availability_error)" "PT422: $ORIGINAL_MESSAGE"

# 2. A copy of the checkout with one function body edited in its package file.
mkdir -p "$COPY"
cp -R "$ROOT/scripts" "$ROOT/sql" "$ROOT/tern.conf" "$ROOT/go.mod" "$ROOT/go.sum" "$COPY/"
file="$COPY/sql/code/api/accounts.sql"
check "the copy's sql/code/api/accounts.sql holds '$ORIGINAL_MESSAGE'" grep -qF "'$ORIGINAL_MESSAGE'" "$file"
sed -i "s|'$ORIGINAL_MESSAGE'|'$EDITED_MESSAGE'|" "$file"
check "the copy's api.availability now says '$EDITED_MESSAGE'" grep -qF "'$EDITED_MESSAGE'" "$file"
cat >>"$COPY/sql/code/audit.sql" <<'SQL'

-- Defined by tests/scripts/code_package.sh in its copy only.
CREATE OR REPLACE FUNCTION audit.code_package_probe() RETURNS text
LANGUAGE sql IMMUTABLE
RETURN 'probe';
SQL
# An api function too: the gateway's EXECUTE on the schema's functions must
# not keep one the package no longer defines.
cat >>"$file" <<'SQL'

-- Defined by tests/scripts/code_package.sh in its copy only.
CREATE OR REPLACE FUNCTION api.code_package_probe(ctx request.context) RETURNS json
LANGUAGE sql IMMUTABLE SECURITY DEFINER
RETURN '"probe"'::json;
SQL
check "nothing but these two files differs from the checkout" \
  equal "$(diff -rq "$ROOT/sql" "$COPY/sql" | sed "s|$COPY/||g; s|$ROOT/||g" | sort)" \
  "$(printf '%s\n' "Files sql/code/api/accounts.sql and sql/code/api/accounts.sql differ" \
                   "Files sql/code/audit.sql and sql/code/audit.sql differ")"

run "scripts/db migrate (the edited copy) on $SCRATCH, as a real server (ADMIN_DATABASE_URL)" \
  env ADMIN_DATABASE_URL="$(admin_url)" GATEWAY_DB_PASSWORD="$(gateway_password)" DB_NAME="$SCRATCH" \
  bash "$COPY/scripts/db" migrate
edited_digest=$(installed_digest)
check "api.availability raises the edited message (SQLSTATE PT422)" \
  equal "$(availability_error)" "PT422: $EDITED_MESSAGE"
check "public.code_package records another digest (${edited_digest:0:12})" \
  differ "$edited_digest" "$original_digest"
check "the copy's new function is installed" \
  equal "$(scratch_sql "SELECT audit.code_package_probe()")" probe
check "  ... and its new api function" \
  equal "$(scratch_sql "SELECT to_regprocedure('api.code_package_probe(request.context)') IS NOT NULL")" t

# 3. The checkout's gateway over the edited package.
say "starting the checkout's gateway on 127.0.0.1:$PORT"
DATABASE_URL=$(gateway_url "$SCRATCH") HOST=127.0.0.1 PORT=$PORT COOKIE_SECURE=false MAINTENANCE_INTERVAL=0 \
  LOG_LEVEL=warn "$GATEWAY_BIN" >"$GW_LOG" 2>&1 &
GW_PID=$!
for ((i = 0; i < 50; i++)); do # 10 s at most
  [[ $(http /healthz) == 200* ]] && break
  kill -0 "$GW_PID" 2>/dev/null || fail "the gateway exited"
  sleep 0.2
done
check "the gateway listens" contains "$(http /healthz)" '200 '

readyz=$(http /readyz)
check "/readyz answers 503" contains "$readyz" '503 '
check "/readyz names the code package" contains "$readyz" 'code package'
check "/readyz names the installed package (${edited_digest:0:12})" contains "$readyz" "${edited_digest:0:12}"
check "/readyz names the gateway's package (${original_digest:0:12})" contains "$readyz" "${original_digest:0:12}"
check "the routes keep working meanwhile, with the edited function (GET /api/v1/availability)" \
  contains "$(http /api/v1/availability)" "422 "
check "  ... whose message is the edited one" contains "$(cat "$TMP/body")" "$EDITED_MESSAGE"

# 4. The checkout's package again.
run "scripts/db migrate (the checkout) on $SCRATCH again" env DB_NAME="$SCRATCH" bash "$ROOT/scripts/db" migrate
check "public.code_package records the checkout's digest again" equal "$(installed_digest)" "$original_digest"
check "api.availability raises the checkout's message again" \
  equal "$(availability_error)" "PT422: $ORIGINAL_MESSAGE"
check "the function the checkout's package does not define is dropped" \
  equal "$(scratch_sql "SELECT to_regprocedure('audit.code_package_probe()') IS NULL")" t
check "  ... and so is the api function" \
  equal "$(scratch_sql "SELECT to_regprocedure('api.code_package_probe(request.context)') IS NULL")" t
readyz=$(http /readyz)
check "/readyz answers 200" contains "$readyz" '200 '
check "/readyz reports the checkout's package" contains "$readyz" "\"code\":\"$original_digest\""
check "the gateway serves the checkout's function" contains "$(http /api/v1/availability)" "$ORIGINAL_MESSAGE"

say "a function edited in sql/code reaches the database after scripts/db migrate"

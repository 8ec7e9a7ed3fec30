# Shared by scripts/run, scripts/db, scripts/test and scripts/bench (sourced, not run):
# the settings and URLs here, the rest in scripts/lib/, one file per topic
# (install, cluster, replica, roles, ports, stack, pgbouncer, mail, toxiproxy, web), sourced at the end.
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
# The mail sender's login (gateway/cmd/mailer): it may execute the functions
# of schema sender and nothing else (sql/code/install.sql).
MAILER_ROLE=mailer
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
gateway_url() { # [db]
  local db=${1:-$DB_NAME} base
  if using_local_cluster; then
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

# The mail sender's URL (gateway_url's, as mailer), password from .local or
# MAILER_DB_PASSWORD. Always straight to PostgreSQL: it LISTENs.
mailer_url() { # [db]
  url_with_user "$(gateway_url "${1:-$DB_NAME}")" "$MAILER_ROLE" "$(mailer_password)"
}

mailer_password() {
  if [[ -n ${MAILER_DB_PASSWORD:-} ]]; then printf '%s' "$MAILER_DB_PASSWORD"; return; fi
  local_password "$LOCAL_DIR/mailer.password"
}

psql_admin() { # db, psql args...
  local db=$1; shift
  psql "$(admin_url "$db")" -X -q -v ON_ERROR_STOP=1 "$@"
}

# --- templates ------------------------------------------------------------------
# render_template TEMPLATE NOTES NAME=value...: the template on standard
# output with every @NAME@ replaced by its value, taken as it is (no escape,
# no & of awk's gsub: values pass through the environment). A line that is
# only @NAME@ (and its indent) becomes one line per line of the value, each
# with that indent. Lines that start with NOTES (";;", "##": the template's
# notes for whoever copies it) are left out. A placeholder left unfilled
# stops the script. The templates of deploy/pgbouncer and deploy/replica
# (deploy/nginx has render_nginx_template, which keeps its comments).
render_template() { # template notes NAME=value...
  local tpl=$1 notes=$2 kv names=() envs=() out
  shift 2
  for kv in "$@"; do names+=("${kv%%=*}"); envs+=("TEMPLATE_${kv%%=*}=${kv#*=}"); done
  out=$(env "${envs[@]}" awk -v notes="$notes" -v names="${names[*]}" '
    BEGIN { n = split(names, name, " ") }
    notes != "" && index($0, notes) == 1 { next }
    {
      line = $0
      for (i = 1; i <= n; i++) {
        ph = "@" name[i] "@"; val = ENVIRON["TEMPLATE_" name[i]]
        if (line ~ ("^[ \t]*" ph "[ \t]*$")) {
          indent = line; sub(/@.*/, "", indent)
          m = split(val, v, "\n"); line = ""
          for (j = 1; j <= m; j++) line = line (j > 1 ? "\n" : "") indent v[j]
          break
        }
        rest = line; line = ""
        while ((k = index(rest, ph)) > 0) { line = line substr(rest, 1, k - 1) val; rest = substr(rest, k + length(ph)) }
        line = line rest
      }
      print line
    }' "$tpl"; printf x) || die "render_template: could not render $tpl"
  out=${out%x}
  grep -n '@[A-Z_]*@' <<<"$out" >&2 && die "render_template: a placeholder of ${tpl#"$ROOT"/} is not filled"
  printf '%s' "$out"
}

# --- the rest, by topic ---------------------------------------------------------
for _part in install cluster replica roles ports stack pgbouncer mail toxiproxy web; do
  source "$ROOT/scripts/lib/$_part.sh"
done
unset _part

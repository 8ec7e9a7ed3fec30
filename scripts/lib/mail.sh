# Part of scripts/lib.sh (sourced by it, not run): local mail: Mailpit (the
# mail catcher every local run sends to) and the mail sender (gateway/cmd/mailer).

MAILPIT_VERSION=v1.33.1
MAILPIT_BIN="$LOCAL_DIR/bin/mailpit"

# Mailpit, pinned, into .local/bin with go install (GOBIN), as the scripts
# install their other tools: not a go.mod tool, which would pull its many
# dependencies into the project's module graph. The version is read back
# from the binary's build information. Prints the binary's path.
ensure_mailpit() {
  if [[ ! -x $MAILPIT_BIN ]] || ! go version -m "$MAILPIT_BIN" 2>/dev/null |
    grep -qE "^[[:space:]]+mod[[:space:]]+github.com/axllent/mailpit[[:space:]]+$MAILPIT_VERSION([[:space:]]|$)"; then
    say "installing Mailpit $MAILPIT_VERSION into ${MAILPIT_BIN#"$ROOT"/} (go install; a minute or two the first time)"
    mkdir -p "$(dirname "$MAILPIT_BIN")"
    (cd /tmp && GOBIN=$(dirname "$MAILPIT_BIN") GOFLAGS=-mod=mod go install \
      -ldflags "-X github.com/axllent/mailpit/config.Version=$MAILPIT_VERSION" \
      "github.com/axllent/mailpit@$MAILPIT_VERSION") >&2 ||
      die "go install github.com/axllent/mailpit@$MAILPIT_VERSION failed"
  fi
  printf '%s\n' "$MAILPIT_BIN"
}

# Starts Mailpit in the background: SMTP on 127.0.0.1:smtp_port, its web UI
# and API on 127.0.0.1:ui_port, mail in a temporary file (gone when it stops),
# no check for new releases. STARTED_PID is its pid. extra: more flags
# (--enable-chaos for the tests).
start_mailpit() { # smtp_port ui_port logfile [flags...]
  local smtp=$1 ui=$2 log=$3 bin
  shift 3
  bin=$(ensure_mailpit)
  for p in "$smtp" "$ui"; do
    port_in_use "$p" && die "port $p is in use (SMTP_PORT and MAIL_UI_PORT choose others)"
  done
  mkdir -p "$(dirname "$log")"
  "$bin" --smtp "127.0.0.1:$smtp" --listen "127.0.0.1:$ui" --disable-version-check "$@" >>"$log" 2>&1 &
  STARTED_PID=$!
  wait_for_200 15 "http://127.0.0.1:$ui/api/v1/info" || { tail -20 "$log" >&2; die "Mailpit did not start (see $log)"; }
}

# Builds the sender into .local/bin/mailer and starts it in the background
# against the database db and a Mailpit on 127.0.0.1:smtp_port, its health
# and metrics on 127.0.0.1:health_port; links to public_url. STARTED_PID is its pid.
start_mailer() { # db smtp_port health_port public_url logfile [VAR=value...]
  local db=$1 smtp=$2 health=$3 public=$4 log=$5
  shift 5
  (cd "$ROOT" && go build -o "$LOCAL_DIR/bin/mailer" ./gateway/cmd/mailer) || die "could not build the mail sender"
  mkdir -p "$(dirname "$log")"
  env MAILER_DATABASE_URL="$(mailer_url "$db")" SMTP_URL="smtp://127.0.0.1:$smtp?starttls=none" \
    MAILER_HEALTH_ADDR="127.0.0.1:$health" PUBLIC_URL="$public" "$@" "$LOCAL_DIR/bin/mailer" >>"$log" 2>&1 &
  STARTED_PID=$!
  wait_for_200 15 "http://127.0.0.1:$health/healthz" || { tail -20 "$log" >&2; die "the mail sender did not start (see $log)"; }
}

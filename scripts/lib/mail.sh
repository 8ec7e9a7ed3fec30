# Part of scripts/lib.sh (sourced by it, not run): local mail: Mailpit (the
# mail catcher every local run sends to) and the mail sender (gateway/cmd/mailer).

MAILPIT_VERSION=v1.33.1
MAILPIT_BIN="$LOCAL_DIR/bin/mailpit"

# Mailpit, pinned, into .local/bin with go install (GOBIN), as the scripts
# install their other tools: not a go.mod tool, which would pull its many
# dependencies into the project's module graph. Prints the binary's path.
ensure_mailpit() {
  if [[ ! -x $MAILPIT_BIN || $("$MAILPIT_BIN" version --no-release-check 2>/dev/null) != *"$MAILPIT_VERSION"* ]]; then
    say "installing Mailpit $MAILPIT_VERSION into ${MAILPIT_BIN#"$ROOT"/}"
    mkdir -p "$(dirname "$MAILPIT_BIN")"
    GOBIN=$(dirname "$MAILPIT_BIN") GOFLAGS=-mod=mod go install "github.com/axllent/mailpit@$MAILPIT_VERSION" >&2 ||
      die "go install github.com/axllent/mailpit@$MAILPIT_VERSION failed"
  fi
  printf '%s\n' "$MAILPIT_BIN"
}

# Part of scripts/lib.sh (sourced by it, not run): toxiproxy, a TCP proxy whose
# links can be made slow or broken on demand (latency, a link that stops
# answering, a reset), put between a gateway and PostgreSQL by
# `scripts/bench session --remote` and the tests of a database across a
# network (docs/benchmarks.md). Both start its server and drive it with
# toxiproxy's Go client (github.com/Shopify/toxiproxy/v2/client, in go.mod).

TOXIPROXY_VERSION=v2.5.0
TOXIPROXY_BIN="$LOCAL_DIR/bin/toxiproxy-server"

# toxiproxy's server, pinned (the client's version), into .local/bin with go
# install (as Mailpit: not a go.mod tool, whose server dependencies would
# join the project's go.sum). go install names it "server": it is renamed. The version
# is read back from the binary's build information. Prints its path.
ensure_toxiproxy() {
  local gobin
  if [[ ! -x $TOXIPROXY_BIN ]] || ! go version -m "$TOXIPROXY_BIN" 2>/dev/null |
    grep -qE "^[[:space:]]+mod[[:space:]]+github.com/Shopify/toxiproxy/v2[[:space:]]+$TOXIPROXY_VERSION([[:space:]]|$)"; then
    say "installing toxiproxy $TOXIPROXY_VERSION into ${TOXIPROXY_BIN#"$ROOT"/} (go install; a minute the first time)"
    mkdir -p "$(dirname "$TOXIPROXY_BIN")"
    gobin=$(mktemp -d)
    (cd /tmp && GOBIN=$gobin GOFLAGS=-mod=mod go install \
      "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION") >&2 &&
      mv "$gobin/server" "$TOXIPROXY_BIN" || { rm -rf "$gobin"; die "go install github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION failed"; }
    rm -rf "$gobin"
  fi
  printf '%s\n' "$TOXIPROXY_BIN"
}

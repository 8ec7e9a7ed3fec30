# Part of scripts/lib.sh (sourced by it, not run): toxiproxy, a TCP proxy whose
# links can be made slow or broken on demand (latency, a link that stops
# answering, a reset), put between a gateway and PostgreSQL by
# `scripts/bench session --remote` and the tests of a database across a
# network (docs/benchmarks.md).

TOXIPROXY_VERSION=v2.5.0
TOXIPROXY_BIN="$LOCAL_DIR/bin/toxiproxy-server"

# toxiproxy's server, pinned, into .local/bin with go install (as Mailpit:
# not a go.mod tool, which would pull its dependencies into the project's
# module graph). go install names it "server": it is renamed. The version
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

# Starts toxiproxy in the background, its HTTP API on 127.0.0.1:api_port.
# STARTED_PID is its pid; TOXIPROXY_API its API's base URL.
start_toxiproxy() { # api_port logfile
  local api=$1 log=$2 bin
  bin=$(ensure_toxiproxy)
  port_in_use "$api" && die "port $api is in use"
  mkdir -p "$(dirname "$log")"
  "$bin" -host 127.0.0.1 -port "$api" >>"$log" 2>&1 &
  STARTED_PID=$!
  TOXIPROXY_API="http://127.0.0.1:$api"
  wait_for_200 15 "$TOXIPROXY_API/version" || { tail -20 "$log" >&2; die "toxiproxy did not start (see $log)"; }
}

# One call of toxiproxy's API (TOXIPROXY_API); fails on an answer that is not 2xx.
toxiproxy_api() { # method path [json body]
  local method=$1 path=$2 body=${3:-}
  curl -sS --fail-with-body --max-time 5 -X "$method" -H 'Content-Type: application/json' \
    ${body:+--data "$body"} "$TOXIPROXY_API$path" >/dev/null
}

# A proxy named name listening on 127.0.0.1:listen_port, forwarding to upstream (host:port).
toxiproxy_proxy() { # name listen_port upstream
  toxiproxy_api POST /proxies "{\"name\":\"$1\",\"listen\":\"127.0.0.1:$2\",\"upstream\":\"$3\",\"enabled\":true}"
}

# Adds a toxic to a proxy: type latency, timeout, reset_peer, …; stream
# downstream (upstream's answers to the client) or upstream; attributes as a
# JSON object, such as {"latency":1}.
toxiproxy_toxic() { # proxy toxic_name type stream attributes_json
  toxiproxy_api POST "/proxies/$1/toxics" \
    "{\"name\":\"$2\",\"type\":\"$3\",\"stream\":\"$4\",\"toxicity\":1,\"attributes\":$5}"
}

# Removes a toxic: the link is sound again.
toxiproxy_untoxic() { # proxy toxic_name
  toxiproxy_api DELETE "/proxies/$1/toxics/$2"
}

# Part of scripts/lib.sh (sourced by it, not run): The local stack: TLS, nginx, gateways in the background (scripts/run --stack).

# --- the local stack: TLS, nginx, gateways in the background ----------------------
# scripts/run --stack and tests/scripts/stack.sh. nginx is Debian's package,
# run with a configuration of its own under STACK_DIR (never /etc/nginx).

TLS_DIR="$LOCAL_DIR/tls"
STACK_DIR=${STACK_DIR:-$LOCAL_DIR/stack}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
NGINX_TEMPLATE="$ROOT/deploy/nginx/homebase.conf"
NGINX_PROXY_AUTH_TEMPLATE="$ROOT/deploy/nginx/homebase-proxy-auth.conf"
# The proxy-asserted identity's server (homebase-proxy-auth.conf): its port,
# and the password file of its users (scripts/db htpasswd USERNAME).
PROXY_AUTH_PORT=${PROXY_AUTH_PORT:-8444}
HTPASSWD_FILE=${HTPASSWD_FILE:-$LOCAL_DIR/htpasswd}

ensure_nginx() {
  [[ -x $NGINX_BIN ]] || ensure_packages nginx
  [[ -x $NGINX_BIN ]] || die "no nginx at $NGINX_BIN (Debian: apt-get install nginx)"
}

# A throw-away CA (.local/tls/ca.crt, ca.key) and a certificate it signs for
# 127.0.0.1 and localhost (server.crt, server.key); curl --cacert
# .local/tls/ca.crt verifies it. Both are reused while valid for another day.
ensure_tls_cert() {
  command -v openssl >/dev/null || ensure_packages openssl
  local ca="$TLS_DIR/ca.crt" ca_key="$TLS_DIR/ca.key" crt="$TLS_DIR/server.crt" key="$TLS_DIR/server.key"
  mkdir -p "$TLS_DIR"
  if ! openssl x509 -in "$ca" -noout -checkend 86400 >/dev/null 2>&1 || [[ ! -s $ca_key ]]; then
    say "creating a throw-away CA in ${TLS_DIR#"$ROOT"/}/ca.crt (local use only)"
    (umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
      -subj "/CN=homebase local CA $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$ca_key" -out "$ca" 2>/dev/null) || die "openssl could not create the CA"
    rm -f "$crt"
  fi
  if ! openssl x509 -in "$crt" -noout -checkend 86400 >/dev/null 2>&1 || [[ ! -s $key ]] ||
    ! openssl verify -CAfile "$ca" "$crt" >/dev/null 2>&1; then
    say "creating the server certificate for 127.0.0.1 and localhost, signed by that CA"
    local ext="$TLS_DIR/server.ext"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$ext"
    (umask 077; openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
      -keyout "$key" -out "$TLS_DIR/server.csr" 2>/dev/null &&
      openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$ca" -CAkey "$ca_key" -CAcreateserial -days 90 \
        -extfile "$ext" -out "$crt" 2>/dev/null) || die "openssl could not create the server certificate"
    rm -f "$TLS_DIR/server.csr" "$ext"
  fi
}

# Renders deploy/nginx/homebase.conf for this machine into $STACK_DIR/nginx:
# homebase.conf (the placeholders filled) inside nginx.conf, whose pid file,
# logs and temporary files are all under that folder; nothing of /etc/nginx
# is read; the web client is served from web/dist. HSTS lasts 5 minutes here: a browser that honours it for
# localhost would otherwise refuse plain http://localhost:8080 (scripts/run)
# for two years. With PROXY_AUTH_GATEWAYS (addresses, comma-separated) set,
# homebase-proxy-auth.conf as well: its server on 127.0.0.1:$PROXY_AUTH_PORT,
# users from $HTPASSWD_FILE, those gateways as its upstream.
render_nginx() { # http_port https_port gateway_addr...
  local http_port=$1 https_port=$2 dir="$STACK_DIR/nginx" upstreams="" proxy_upstreams="" a includes
  shift 2
  for a in "$@"; do upstreams+="server $a max_fails=1 fail_timeout=5s;"$'\n'; done
  mkdir -p "$dir/tmp" "$dir/logs"
  render_nginx_template "$NGINX_TEMPLATE" "$upstreams" "$http_port" "$https_port" >"$dir/homebase.conf"
  includes="include $dir/homebase.conf;"
  rm -f "$dir/homebase-proxy-auth.conf"
  if [[ -n ${PROXY_AUTH_GATEWAYS:-} ]]; then
    for a in ${PROXY_AUTH_GATEWAYS//,/ }; do proxy_upstreams+="server $a max_fails=1 fail_timeout=5s;"$'\n'; done
    [[ -f $HTPASSWD_FILE ]] || (umask 077; : >"$HTPASSWD_FILE")
    # As root the workers (www-data) read the file: theirs to read, nobody else's.
    [[ $(id -u) -eq 0 ]] && chgrp www-data "$HTPASSWD_FILE" && chmod 640 "$HTPASSWD_FILE"
    render_nginx_template "$NGINX_PROXY_AUTH_TEMPLATE" "$proxy_upstreams" "$http_port" "$https_port" >"$dir/homebase-proxy-auth.conf"
    includes+=$'\n'"    include $dir/homebase-proxy-auth.conf;"
  fi
  grep -n '@[A-Z_]*@' <(grep -hv '^#' "$dir"/homebase*.conf) >&2 && die "render_nginx: a placeholder of deploy/nginx is not filled"
  local user=""
  # As root, the workers run as Debian's www-data; they only need the
  # temporary folders (nginx hands them over), the web client's files to
  # read, and a path to reach both.
  if [[ $(id -u) -eq 0 ]]; then
    user="user www-data;"
    local d
    for d in "$dir/tmp" "$WEB_DIST"; do
      [[ -d $d ]] || continue
      while [[ $d != / ]]; do
        runuser -u www-data -- test -x "$d" 2>/dev/null || chmod o+x "$d"
        d=$(dirname "$d")
      done
    done
    [[ -d $WEB_DIST ]] && chmod -R o+rX "$WEB_DIST"
  fi
  cat >"$dir/nginx.conf" <<CONF
# Rendered by scripts/lib.sh (render_nginx) for scripts/run --stack; edit deploy/nginx/homebase.conf instead.
$user
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
    default_type application/octet-stream;
    server_tokens off;
    client_body_temp_path $dir/tmp/client_body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    $includes
}
CONF
  "$NGINX_BIN" -t -q -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" ||
    die "nginx refuses the rendered configuration $dir/nginx.conf"
}

# One template of deploy/nginx with this machine's values (render_nginx).
render_nginx_template() { # template upstream_lines http_port https_port
  local dir="$STACK_DIR/nginx"
  awk -v servers="$2" \
    -v http="127.0.0.1:$3" -v https="127.0.0.1:$4" -v origin="https://127.0.0.1:$4" \
    -v proxyauth="127.0.0.1:$PROXY_AUTH_PORT" -v htpasswd="$HTPASSWD_FILE" \
    -v crt="$TLS_DIR/server.crt" -v key="$TLS_DIR/server.key" -v accesslog="$dir/logs/access.log" -v webroot="$WEB_DIST" '
    /^[ \t]*@(PROXY_)?UPSTREAM_SERVERS@[ \t]*$/ {
      indent = $0; sub(/@.*/, "", indent)
      n = split(servers, s, "\n")
      for (i = 1; i <= n; i++) if (s[i] != "") print indent s[i]
      next
    }
    /^#/ { print; next }
    {
      gsub(/@SERVER_NAME@/, "127.0.0.1 localhost"); gsub(/@HTTP_LISTEN@/, http); gsub(/@HTTPS_LISTEN@/, https)
      gsub(/@HTTPS_ORIGIN@/, origin); gsub(/@TLS_CERTIFICATE@/, crt); gsub(/@TLS_CERTIFICATE_KEY@/, key)
      gsub(/@HSTS_MAX_AGE@/, "300"); gsub(/@ACCESS_LOG@/, accesslog); gsub(/@WEB_ROOT@/, webroot)
      gsub(/@PROXY_AUTH_LISTEN@/, proxyauth); gsub(/@HTPASSWD_FILE@/, htpasswd)
      print
    }' "$1"
}

# Adds a user to the htpasswd file of the proxy-auth server, or changes its
# password (read from standard input, one line), hashed with SHA-512 crypt
# (`openssl passwd -6`, which nginx reads through the system's crypt()).
htpasswd_set() { # username
  local user=$1 pw hash tmp
  [[ $user =~ ^[A-Za-z0-9_.-]{3,32}$ ]] || die "htpasswd: $user is not a username (3 to 32 letters, digits, _ . -)"
  command -v openssl >/dev/null || ensure_packages openssl
  IFS= read -r pw || true
  [[ -n $pw ]] || die "htpasswd: no password on standard input"
  hash=$(printf '%s\n' "$pw" | openssl passwd -6 -stdin) || die "openssl passwd failed"
  mkdir -p "$(dirname "$HTPASSWD_FILE")"
  tmp="$HTPASSWD_FILE.new"
  (umask 077
   { [[ -f $HTPASSWD_FILE ]] && awk -F: -v u="$user" '$1 != u' "$HTPASSWD_FILE"; printf '%s:%s\n' "$user" "$hash"; } >"$tmp")
  [[ $(id -u) -eq 0 ]] && id www-data >/dev/null 2>&1 && chgrp www-data "$tmp" && chmod 640 "$tmp"
  mv "$tmp" "$HTPASSWD_FILE"
}

# Starts the rendered nginx in the background, in the foreground of its own
# master process (daemon off), so that $NGINX_PID is the master's pid.
NGINX_PID=""
start_nginx() {
  local dir="$STACK_DIR/nginx"
  "$NGINX_BIN" -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" -g 'daemon off;' &
  NGINX_PID=$!
}

# Starts a built gateway in the background: PORT, and any VAR=value given,
# over the environment; its output goes to the log file. Sets STARTED_PID.
STARTED_PID=""
start_gateway() { # bin port logfile [VAR=value...]
  local bin=$1 port=$2 log=$3
  shift 3
  mkdir -p "$(dirname "$log")"
  env HOST=127.0.0.1 PORT="$port" "$@" "$bin" >>"$log" 2>&1 &
  STARTED_PID=$!
}

# Waits until a URL answers 200 (curl args after the URL), at most the given seconds.
wait_for_200() { # seconds url [curl args...]
  local seconds=$1 url=$2 i
  shift 2
  for ((i = 0; i < seconds * 5; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null) == 200 ]] && return 0
    sleep 0.2
  done
  return 1
}

# Part of scripts/lib.sh (sourced by it, not run): free loopback ports, and
# stopping the processes a script started. The one place for both: scripts/run,
# scripts/bench and tests/scripts/*.sh use these.

# --- ports -----------------------------------------------------------------------

# True when something accepts connections on 127.0.0.1:port.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_ports N: N distinct loopback ports on one line, space-separated, that
# nothing uses now and that no other call of free_ports has handed out within
# the last hour (FREE_PORTS_HOLD).
#
# Choosing a port and binding it are two steps by two processes (this shell
# chooses, nginx or a gateway binds it seconds later), and in between the port
# must go to nobody else. What is chosen, and why:
#   - not the kernel's own choice (bind to port 0, then close): it picks from
#     the ephemeral range (net.ipv4.ip_local_port_range), from which every
#     outgoing connection takes its local port as well (a gateway's to
#     PgBouncer, nginx's to a gateway), so a connection made meanwhile could
#     hold the chosen port and the bind would fail. These ports come from
#     below that range (10000 up to its start), from a random start, skipping
#     every port `ss` lists in any state (listening, connected, TIME_WAIT);
#   - two scripts choosing at once (two checkouts' tests, say) take turns
#     under flock on a ledger in $TMPDIR shared by every checkout, which keeps
#     each port handed out for an hour: neither gets a port the other has
#     chosen but not bound yet, nor one a stopped process of it will bind again.
# What is left: a program that does not ask free_ports binding such a port in
# between; the start on it then fails loudly (address in use), never silently.
FREE_PORTS_LEDGER=${TMPDIR:-/tmp}/homebase-free-ports.$(id -u)
FREE_PORTS_HOLD=3600
free_ports() { # n
  local n=$1 lo hi first last span p t i now lock chosen=() kept=""
  local -A taken=()
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "free_ports: want a count, got '$n'"
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
  first=10000 last=$((lo - 1))
  # An ephemeral range that starts low: above it instead.
  ((last - first >= 1000)) || { first=$((hi + 1)); last=65535; }
  span=$((last - first + 1))
  exec {lock}>>"$FREE_PORTS_LEDGER.lock"
  flock "$lock"
  now=$(date +%s)
  if [[ -f $FREE_PORTS_LEDGER ]]; then
    while read -r p t; do
      [[ $p =~ ^[0-9]+$ && $t =~ ^[0-9]+$ ]] && ((now - t < FREE_PORTS_HOLD)) || continue
      taken[$p]=1
      kept+="$p $t"$'\n'
    done <"$FREE_PORTS_LEDGER"
  fi
  while read -r p; do taken[$p]=1; done < <(ss -Htan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
  p=$((first + (RANDOM * 32768 + RANDOM) % span))
  for ((i = 0; i < span && ${#chosen[@]} < n; i++)); do
    [[ -n ${taken[$p]:-} ]] || chosen+=("$p")
    p=$((p < last ? p + 1 : first))
  done
  if ((${#chosen[@]} == n)); then
    for p in "${chosen[@]}"; do kept+="$p $now"$'\n'; done
    printf '%s' "$kept" >"$FREE_PORTS_LEDGER.new" && mv "$FREE_PORTS_LEDGER.new" "$FREE_PORTS_LEDGER"
  fi
  exec {lock}>&-
  ((${#chosen[@]} == n)) || die "free_ports: no $n free ports in $first..$last"
  printf '%s\n' "${chosen[*]}"
}

# --- processes -------------------------------------------------------------------

# True while the process runs (an exited child waiting to be reaped does not).
pid_alive() { # pid
  [[ -n $1 ]] && kill -0 "$1" 2>/dev/null && [[ $(ps -o stat= -p "$1" 2>/dev/null) != Z* ]]
}

# Stops a process we started (SIGTERM, then SIGKILL after the grace) and reaps it.
stop_pid() { # pid [grace seconds, default 10]
  local pid=$1 grace=${2:-10} i
  # wait reaps an exited child (and answers its status, or 127 for a pid
  # that is not this shell's child): never a failure of stop_pid under set -e.
  pid_alive "$pid" || { [[ -n $pid ]] && { wait "$pid" 2>/dev/null || true; }; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do pid_alive "$pid" || break; sleep 0.1; done
  if pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi # it may exit meanwhile
  wait "$pid" 2>/dev/null || true
}

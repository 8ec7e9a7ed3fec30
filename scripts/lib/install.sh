# Part of scripts/lib.sh (sourced by it, not run): Installing what is missing: Debian packages, Go modules, squawk.

# --- installing what is missing -----------------------------------------------

ensure_packages() { # debian packages...
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages: ${missing[*]} (install them, or run as root)"
  say "installing ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_go_modules() {
  command -v go >/dev/null || die "Go is not installed (https://go.dev/dl/)"
  (cd "$ROOT" && go mod download)
}

# squawk, the migration linter, pinned, from the npm registry into .local/npm
# (never global). Since 2.52.1 squawk-cli has no install script (older ones
# downloaded from GitHub): its optional dependency @squawk-cli/<os>-<cpu>
# holds the prebuilt binary, so only the registry is reached. Prints the path
# of the squawk command.
ensure_squawk() {
  local version=2.66.0 prefix="$LOCAL_DIR/npm" bin
  bin="$prefix/node_modules/.bin/squawk"
  if [[ $("$bin" --version 2>/dev/null) != "squawk $version" ]]; then
    command -v npm >/dev/null || ensure_packages npm
    command -v npm >/dev/null || die "npm is not installed (Debian: apt-get install npm); scripts/test needs it for squawk"
    say "installing squawk-cli@$version into ${prefix#"$ROOT"/}"
    mkdir -p "$prefix"
    npm install --no-save --no-audit --no-fund --include=optional --ignore-scripts --loglevel=error --prefix "$prefix" \
      "squawk-cli@$version" >&2 || die "npm could not install squawk-cli@$version"
    [[ $("$bin" --version 2>/dev/null) == "squawk $version" ]] ||
      die "squawk-cli@$version installed, but $bin does not run (no @squawk-cli package for $(uname -sm)?)"
  fi
  printf '%s\n' "$bin"
}

# Lints tern migrations with squawk and the committed .squawk.toml: only the
# "up" part of each file, above `---- create above / drop below ----` (the
# down part drops things on purpose), fed on stdin under the file's own name
# so findings name the right file and line. tern runs each migration in a
# transaction, so squawk assumes one, except for a file whose up part holds
# tern's `---- tern: disable-tx ----` line (there each statement runs on its
# own). Prints the findings; non-zero if any file has one.
lint_migrations() { # files...
  local squawk f up tx status=0
  squawk=$(ensure_squawk) || return 1
  [[ $# -gt 0 ]] || { say "lint_migrations: no files"; return 1; }
  for f in "$@"; do
    [[ -f $f ]] || { say "lint_migrations: no such file: $f"; status=1; continue; }
    up=$(awk -v m='---- create above / drop below ----' \
      'i = index($0, m) { printf "%s\n", substr($0, 1, i - 1); exit } { print }' "$f")
    if grep -qx -- '---- tern: disable-tx ----' <<<"$up"; then tx=--no-assume-in-transaction; else tx=--assume-in-transaction; fi
    printf '%s\n' "$up" | "$squawk" --config "$ROOT/.squawk.toml" "$tx" --stdin-filepath "$f" || status=1
  done
  return $status
}

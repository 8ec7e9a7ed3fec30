# The assertions of the shell tests in tests/scripts (sourced after
# scripts/lib.sh, not run). Each prints what it found when it fails.

fail() { printf '\033[31mFAIL\033[0m  %s\n' "$*" >&2; exit 1; }
# check description command...: runs the command, stops the script if it fails.
check() {
  local what=$1; shift
  if "$@"; then printf '\033[32mok\033[0m    %s\n' "$what" >&2; else fail "$what"; fi
}
equal() { [[ $1 == "$2" ]] || { printf '      got  %s\n      want %s\n' "$1" "$2" >&2; return 1; }; }
differ() { [[ $1 != "$2" ]] || { printf '      both %s\n' "$1" >&2; return 1; }; }
contains() { [[ $1 == *"$2"* ]] || { printf '      %s\n      does not contain %s\n' "$1" "$2" >&2; return 1; }; }
lacks() { [[ $1 != *"$2"* ]] || { printf '      %s\n      contains %s\n' "$1" "$2" >&2; return 1; }; }
# none what text: true when text is empty, else prints it (at most 20 lines).
none() { [[ -z $2 ]] || { printf '      %s:\n' "$1" >&2; head -20 <<<"$2" | sed 's/^/        /' >&2; return 1; }; }

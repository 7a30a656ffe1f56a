# tools/lib.sh: what the shell scripts of tools/, bench/ and tests/ share.
# Source it from bash: . "$(dirname "$0")/../tools/lib.sh"
# It sets $top (the top of the tree) and defines nothing else outside the
# td_ and TD_ names below; it changes no shell option.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---- root: sudo when we are not root already.
td_sudo=()
[ "$(id -u)" -eq 0 ] || td_sudo=(sudo)

# td_apt_get ARG...: apt-get as root, never asking. The variable is set
# inside sudo: sudo's env_reset drops one set in front of it.
td_apt_get() {
  "${td_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"
}

# td_no_services / td_services_again: no package may start a system service
# while our tools install (prometheus would listen, nginx would bind port
# 80 on every address). invoke-rc.d asks /usr/sbin/policy-rc.d, and exit
# code 101 means "not allowed". td_no_services writes one where there is
# none; td_services_again removes only the one it wrote (call it from an
# EXIT trap too). The tests run their own servers on loopback.
TD_POLICY=/usr/sbin/policy-rc.d
td_policy_made=0
td_no_services() {
  [ -e "$TD_POLICY" ] && return 0
  printf '#!/bin/sh\n# Written by collectd-telemetrydeck'"'"'s tools: no service starts.\nexit 101\n' |
    "${td_sudo[@]}" tee "$TD_POLICY" >/dev/null &&
    "${td_sudo[@]}" chmod 755 "$TD_POLICY" && td_policy_made=1
}
td_services_again() {
  [ "$td_policy_made" -eq 1 ] || return 0
  "${td_sudo[@]}" rm -f "$TD_POLICY" && td_policy_made=0
}

# ---- the sanitizer build (tools/sanitize, tools/stress --asan; tools/fuzz
# adds libFuzzer's coverage): ASan and UBSan, nothing recovered.
TD_SAN_CFLAGS="-g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
TD_SAN_LDFLAGS="-fsanitize=address,undefined"

# td_configure_fresh: runs autoreconf unless configure and Makefile.in are
# newer than their sources (quietly; again with its messages if it fails).
td_configure_fresh() {
  (
    cd "$top" || exit 1
    [ -x configure ] && [ configure -nt configure.ac ] &&
      [ Makefile.in -nt Makefile.am ] && exit 0
    autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
  )
}

# ---- TAP. td_tap STATUS NAME [LOG]: "ok N - NAME" when STATUS is 0, else
# "not ok N - NAME" followed by the last 25 lines of LOG (when given and
# not empty) as comments. td_skip NAME WHY: a skipped check, which passes.
# td_comment TEXT...: each line as a comment. Counts: td_n, td_passed,
# td_failed; td_plan prints "1..N".
td_n=0
td_passed=0
td_failed=0
td_tap() {
  local status=$1 name=$2 log=${3:-}
  td_n=$((td_n + 1))
  if [ "$status" -eq 0 ]; then
    echo "ok $td_n - $name"
    td_passed=$((td_passed + 1))
  else
    echo "not ok $td_n - $name"
    td_failed=$((td_failed + 1))
    if [ -n "$log" ] && [ -s "$log" ]; then
      tail -n 25 "$log" | sed 's/^/# /'
    fi
  fi
}
td_skip() {
  td_n=$((td_n + 1))
  td_passed=$((td_passed + 1))
  echo "ok $td_n - $1 # skip $2"
}
td_comment() {
  printf '%s\n' "$@" | sed 's/^/# /'
}
td_plan() {
  echo "1..$td_n"
}

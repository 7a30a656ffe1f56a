#!/usr/bin/env bash
# selftest.sh - checks the fake TelemetryDeck API end to end: makes the test
# certificates, starts fake_api.py with TLS on ephemeral 127.0.0.1 ports and
# talks to it with the curl CLI. Prints TAP, then "N passed, N failed";
# exits 1 when a check failed, 2 when the fake could not even start.
#
# Needs bash, python3, openssl, curl (apt-get install -y curl).
set -uo pipefail  # no -e: a failed check is counted, not fatal

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
certs_script=$here/../certs/make-certs.sh

for tool in python3 openssl curl; do
    if ! command -v "$tool" >/dev/null; then
        echo "selftest: $tool is missing" >&2
        exit 2
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fake_api_selftest.XXXXXX")
fake_pid=
fake6_pid=

cleanup() {
    # Stop only the fakes this script started, by their pids.
    for pid in "$fake_pid" "$fake6_pid"; do
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # run the EXIT trap on ^C as well

# TAP lines (td_tap, td_comment) and their counts, from tools/lib.sh.
. "$here/../../tools/lib.sh"
ok() { td_tap 0 "$1"; }
not_ok() {
    td_tap 1 "$1"
    shift
    [[ $# -gt 0 ]] && td_comment "$*"
}

# expect NAME WANT GOT
expect() {
    if [[ $3 == "$2" ]]; then
        ok "$1"
    else
        not_ok "$1" "want [$2], got [$3]"
    fi
}

# Tokens are random per run, so "never in any output" is a real check.
rand() { od -An -tx1 -N12 /dev/urandom | tr -d ' \n'; }
tok_main=tdpat_selftest_main_$(rand)
tok_gone=tdpat_selftest_gone_$(rand)
tok_rl=tdpat_selftest_rl_$(rand)
tok_rld=tdpat_selftest_rld_$(rand)
tok_unknown=tdpat_selftest_unknown_$(rand)

# --- certificates ----------------------------------------------------------

if ! bash "$certs_script" "$tmp/certs"; then
    echo "selftest: make-certs.sh failed" >&2
    exit 2
fi
c=$tmp/certs
if openssl verify -CAfile "$c/ca.pem" "$c/server.pem" >/dev/null 2>&1; then
    ok "certs: server.pem verifies against ca.pem"
else
    not_ok "certs: server.pem verifies against ca.pem"
fi
if openssl verify -CAfile "$c/ca.pem" "$c/expired.pem" >/dev/null 2>&1; then
    not_ok "certs: expired.pem is refused"
else
    ok "certs: expired.pem is refused"
fi
if openssl x509 -in "$c/soon.pem" -noout -checkend 86400 >/dev/null &&
    ! openssl x509 -in "$c/soon.pem" -noout -checkend 259200 >/dev/null; then
    ok "certs: soon.pem expires in 1..3 days"
else
    not_ok "certs: soon.pem expires in 1..3 days"
fi

# --- start the fake --------------------------------------------------------

cat >"$tmp/tokens.json" <<EOF
{
  "$tok_main": {"label": "main", "mode": "ok"},
  "$tok_gone": {"label": "gone", "mode": "revoked"},
  "$tok_rl":   {"label": "rl", "mode": "ratelimit_seconds", "retry_after": 7},
  "$tok_rld":  {"label": "rld", "mode": "ratelimit_date", "retry_after": 60}
}
EOF

# start_fake PIDVAR SUFFIX [ARGS...]: starts a fake with TLS and the token
# table, its files named with SUFFIX, its pid in PIDVAR (for cleanup), and
# waits for its API port file, which is written last, once both listeners
# are up.
start_fake() {
    local pidvar=$1 sfx=$2
    shift 2
    python3 "$here/fake_api.py" "$@" --port 0 --port-file "$tmp/api$sfx.port" \
        --control-port 0 --control-port-file "$tmp/ctl$sfx.port" \
        --cert "$c/server.pem" --key "$c/server.key" \
        --config "$tmp/tokens.json" >"$tmp/fake$sfx.out" \
        2>"$tmp/fake$sfx.err" &
    printf -v "$pidvar" %s "$!"
    for _ in $(seq 100); do
        [[ -s $tmp/api$sfx.port ]] && break
        kill -0 "${!pidvar}" 2>/dev/null || break
        sleep 0.1
    done
}

start_fake fake_pid ""
if [[ ! -s $tmp/api.port ]]; then
    echo "selftest: the fake did not start; its log:" >&2
    cat "$tmp/fake.err" >&2
    exit 2
fi
port=$(cat "$tmp/api.port")
cport=$(cat "$tmp/ctl.port")
url=https://127.0.0.1:$port/api/v3/users/info

# api [curl args...]: a request to the fake that trusts only the test CA.
api() { curl -sS --max-time 10 --cacert "$c/ca.pem" "$@"; }
# ctl PATH [curl args...]: a control request.
ctl() { curl -sS --max-time 10 "http://127.0.0.1:$cport$1" "${@:2}"; }
# jq-less JSON reading: json_get DOTTED.PATH < json
json_get() {
    python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k] if isinstance(v, dict) else v[int(k)]
print(json.dumps(v) if not isinstance(v, str) else v)' "$1" 2>/dev/null ||
        echo "<missing $1>"
}
stats_get() { ctl /stats | json_get "$1"; }
auth() { echo "Authorization: Bearer $1"; }

# --- answers ---------------------------------------------------------------

body=$(api -H "$(auth "$tok_main")" "$url" -w '\n%{http_code}')
expect "ok: status 200" 200 "${body##*$'\n'}"
body=${body%$'\n'*}
expect "ok: id" id-main "$(json_get id <<<"$body")"
expect "ok: emailIsVerified" true "$(json_get emailIsVerified <<<"$body")"
expect "ok: organization.name" "Org main" \
    "$(json_get organization.name <<<"$body")"

# localhost is in the certificate too; --resolve keeps the connection on
# 127.0.0.1 (localhost might resolve to ::1 first).
expect "ok: https://localhost verifies (SAN DNS:localhost)" 200 \
    "$(api --resolve "localhost:$port:127.0.0.1" -H "$(auth "$tok_main")" \
        -o /dev/null -w '%{http_code}' \
        "https://localhost:$port/api/v3/users/info/")"

body=$(api -H "$(auth "$tok_gone")" "$url" -w '\n%{http_code}')
expect "revoked: status 401" 401 "${body##*$'\n'}"
expect "revoked: Vapor reason" "User not authenticated." \
    "$(json_get reason <<<"${body%$'\n'*}")"

expect "unknown token: status 401" 401 \
    "$(api -H "$(auth "$tok_unknown")" -o /dev/null -w '%{http_code}' "$url")"
expect "other path: status 404" 404 \
    "$(api -H "$(auth "$tok_main")" -o /dev/null -w '%{http_code}' \
        "https://127.0.0.1:$port/api/v3/no-such-endpoint")"

headers=$(api -H "$(auth "$tok_rl")" -o /dev/null -D - "$url" | tr -d '\r')
expect "ratelimit_seconds: status 429" 429 \
    "$(head -n1 <<<"$headers" | cut -d' ' -f2)"
expect "ratelimit_seconds: Retry-After" "Retry-After: 7" \
    "$(grep -i '^retry-after:' <<<"$headers")"

headers=$(api -H "$(auth "$tok_rld")" -o /dev/null -D - "$url" | tr -d '\r')
ahead=$(grep -i '^retry-after:' <<<"$headers" | cut -d' ' -f2- |
    python3 -c '
import email.utils, sys, time
print(round(email.utils.parsedate_to_datetime(sys.stdin.read().strip())
      .timestamp() - time.time()))' 2>/dev/null)
if [[ $ahead =~ ^[0-9]+$ ]] && ((ahead >= 55 && ahead <= 61)); then
    ok "ratelimit_date: Retry-After is an HTTP date ~60 s ahead"
else
    not_ok "ratelimit_date: Retry-After is an HTTP date ~60 s ahead" \
        "got [$ahead] from: $(grep -i '^retry-after:' <<<"$headers")"
fi

# --- control: switching a label's mode -------------------------------------

ctl /mode -d '{"label": "main", "mode": "revoked"}' >/dev/null
expect "POST /mode main=revoked: status 401" 401 \
    "$(api -H "$(auth "$tok_main")" -o /dev/null -w '%{http_code}' "$url")"
ctl /mode -d '{"label": "main", "mode": "ok"}' >/dev/null
expect "POST /mode main=ok: status 200" 200 \
    "$(api -H "$(auth "$tok_main")" -o /dev/null -w '%{http_code}' "$url")"
expect "POST /mode with an unknown mode is refused" 400 \
    "$(ctl /mode -d '{"label": "main", "mode": "nope"}' -o /dev/null \
        -w '%{http_code}')"

# --- keep-alive ------------------------------------------------------------

# Two URLs in one curl run share one connection; num_connects is 0 for a
# transfer that reused it.
ctl /reset_stats -X POST >/dev/null
expect "keep-alive: curl reused its connection" "1 0 " \
    "$(api -H "$(auth "$tok_main")" -o /dev/null -o /dev/null \
        -w '%{num_connects} ' "$url" "$url")"
expect "keep-alive: stats connections" 1 "$(stats_get connections)"
expect "keep-alive: stats tls_handshakes" 1 "$(stats_get tls_handshakes)"
expect "keep-alive: labels.main.requests" 2 "$(stats_get labels.main.requests)"
expect "keep-alive: labels.main.connections" 1 \
    "$(stats_get labels.main.connections)"

# Connection: close must end the connection after each answer.
expect "Connection: close: curl connected twice" "1 1 " \
    "$(api -H "$(auth "$tok_main")" -H 'Connection: close' -o /dev/null \
        -o /dev/null -w '%{num_connects} ' "$url" "$url")"

# --- auth counting ---------------------------------------------------------

ctl /reset_stats -X POST >/dev/null
api -H "$(auth "$tok_main")" -o /dev/null "$url"
# Attributed to "main" (lenient scheme), but not the exact "Bearer <token>".
api -H "Authorization: bearer  $tok_main" -o /dev/null "$url"
api -H "$(auth "$tok_unknown")" -o /dev/null "$url"
api -o /dev/null "$url"  # no Authorization at all
expect "auth: labels.main.requests" 2 "$(stats_get labels.main.requests)"
expect "auth: labels.main.auth_ok counts only the exact header" 1 \
    "$(stats_get labels.main.auth_ok)"
expect "auth: unknown_auth" 2 "$(stats_get unknown_auth)"
expect "auth: labels.unknown.requests" 2 "$(stats_get labels.unknown.requests)"
expect "auth: requests" 4 "$(stats_get requests)"

# --- addresses -------------------------------------------------------------

# The per-request log line names the client's address: a request from
# 127.0.0.2 says so.
api --interface 127.0.0.2 -H "$(auth "$tok_main")" -o /dev/null "$url"
if grep -q "peer=127.0.0.2 label=main " "$tmp/fake.err"; then
    ok "log: the peer address of a request from 127.0.0.2"
else
    not_ok "log: the peer address of a request from 127.0.0.2"
fi
expect "cert: api.telemetrydeck.test verifies, resolved to 127.0.0.1" 200 \
    "$(api --resolve "api.telemetrydeck.test:$port:127.0.0.1" \
        -H "$(auth "$tok_main")" -o /dev/null -w '%{http_code}' \
        "https://api.telemetrydeck.test:$port/api/v3/users/info")"

# --host ::1: the API listens on IPv6 loopback, its certificate names ::1.
start_fake fake6_pid 6 --host ::1
port6=$(cat "$tmp/api6.port" 2>/dev/null)
expect "--host ::1: https://[::1] answers 200 and verifies" 200 \
    "$(api -H "$(auth "$tok_main")" -o /dev/null -w '%{http_code}' \
        "https://[::1]:${port6:-1}/api/v3/users/info")"
if grep -q "peer=::1 label=main " "$tmp/fake6.err"; then
    ok "--host ::1: the log names the peer ::1"
else
    not_ok "--host ::1: the log names the peer ::1"
fi
kill -TERM "$fake6_pid"
wait "$fake6_pid"
expect "--host ::1: SIGTERM, status 0" 0 "$?"
fake6_pid=

# --- a renewed certificate -------------------------------------------------

# served_enddate: the notAfter of the certificate a new handshake shows.
served_enddate() {
    openssl s_client -connect "127.0.0.1:$port" </dev/null 2>/dev/null |
        openssl x509 -noout -enddate 2>/dev/null
}
expect "certificate: POST /certificate with soon.pem" 200 \
    "$(ctl /certificate -o /dev/null -w '%{http_code}' \
        -d "{\"cert\": \"$c/soon.pem\", \"key\": \"$c/soon.key\"}")"
expect "certificate: a new handshake shows soon.pem" \
    "$(openssl x509 -in "$c/soon.pem" -noout -enddate)" "$(served_enddate)"
expect "certificate: a pair that does not load is refused" 400 \
    "$(ctl /certificate -o /dev/null -w '%{http_code}' \
        -d "{\"cert\": \"$c/server.pem\", \"key\": \"$c/soon.key\"}")"
expect "certificate: and soon.pem is still served" \
    "$(openssl x509 -in "$c/soon.pem" -noout -enddate)" "$(served_enddate)"
ctl /certificate -o /dev/null \
    -d "{\"cert\": \"$c/server.pem\", \"key\": \"$c/server.key\"}"
expect "certificate: back to server.pem, which verifies" 200 \
    "$(api -H "$(auth "$tok_main")" -o /dev/null -w '%{http_code}' "$url")"

# --- secrecy ---------------------------------------------------------------

# A path holding a token must come out scrubbed, too.
api -o /dev/null "https://127.0.0.1:$port/leak/$tok_main" 2>/dev/null
ctl /stats >"$tmp/stats.json"
leaks=0
for tok in "$tok_main" "$tok_gone" "$tok_rl" "$tok_rld" "$tok_unknown"; do
    if grep -qF "$tok" "$tmp/fake.out" "$tmp/fake.err" "$tmp/stats.json" \
        "$tmp/api.port" "$tmp/ctl.port" "$tmp/fake6.out" "$tmp/fake6.err"; then
        leaks=$((leaks + 1))
    fi
done
expect "no token in the fake's stdout, stderr, stats or port files" 0 \
    "$leaks"

# --- shutdown --------------------------------------------------------------

kill -TERM "$fake_pid"
wait "$fake_pid"
expect "SIGTERM: the fake exits with status 0" 0 "$?"
fake_pid=

td_plan
echo "$td_passed passed, $td_failed failed"
if ((td_failed > 0)); then
    echo "--- fake_api log ---"
    cat "$tmp/fake.err"
    exit 1
fi
exit 0

#!/usr/bin/env bash
# make-certs.sh DIR - writes the TLS material the integration tests need.
#
#   ca.pem ca.key                  test CA (the only trust anchor tests use)
#   server.pem server.key          127.0.0.1 + localhost, signed by the CA,
#                                  also ::1 and api.telemetrydeck.test (a
#                                  made-up name the Resolve tests map to
#                                  127.0.0.1)
#   selfsigned.pem selfsigned.key  same names, self-signed (must be refused)
#   expired.pem expired.key        same names, signed by the CA, expired
#                                  30 days ago..1 day ago (must be refused)
#   wrongname.pem wrongname.key    DNS:wrong.example only, signed by the CA
#   soon.pem soon.key              same names as server, signed by the CA,
#                                  expires 2 days from now
#
# Every run builds a fresh, consistent set in a scratch directory and then
# moves it into DIR, so running it again is safe and always leaves a full
# set (a "soon" certificate from last week would no longer be "soon").
# EC P-256 keys keep it fast. Needs only bash, openssl and GNU date.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
out=$1
mkdir -p "$out"
# The scratch directory sits inside DIR so the final mv is a rename on one
# file system.
work=$(mktemp -d "$out/.make-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT
umask 077  # private keys must not be world-readable

# A private config: the system openssl.cnf would add its own extensions
# (and differs between distributions), so none of it is used.
cat >"$work/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost, IP:::1, DNS:api.telemetrydeck.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[selfsigned_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash

[wrongname_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

# Only for the expired certificate: OpenSSL 3.0 (Debian 12) has no
# "x509 -not_before/-not_after", but "openssl ca" takes explicit dates.
[ca]
default_ca = test_ca
[test_ca]
database = $work/index.txt
serial = $work/serial
new_certs_dir = $work
certificate = $work/ca.pem
private_key = $work/ca.key
default_md = sha256
policy = any_name
unique_subject = no
email_in_dn = no
copy_extensions = none
[any_name]
commonName = supplied
EOF
: >"$work/index.txt"
openssl rand -hex 16 >"$work/serial"

conf=(-config "$work/openssl.cnf")

# openssl chatters on stderr even when it succeeds; show it only when a
# step fails, so a failure is never silent.
quiet() {
    if ! "$@" 2>"$work/stderr"; then
        echo "make-certs.sh: failed: $*" >&2
        cat "$work/stderr" >&2
        return 1
    fi
}

newkey() { # NAME: an EC P-256 key in NAME.key
    quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$work/$1.key"
}

csr() { # NAME CN: a certificate request for NAME.key
    quiet openssl req -new "${conf[@]}" -key "$work/$1.key" -subj "/CN=$2" \
        -out "$work/$1.csr"
}

sign() { # NAME EXTENSIONS DAYS: NAME.csr signed by the CA
    quiet openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" \
        -CAkey "$work/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
        -days "$3" -sha256 -extfile "$work/openssl.cnf" -extensions "$2" \
        -out "$work/$1.pem"
}

# The CA.
newkey ca
quiet openssl req -x509 -new "${conf[@]}" -key "$work/ca.key" -sha256 -days 3650 \
    -subj "/CN=collectd-telemetrydeck test CA" -extensions ca_ext \
    -set_serial "0x$(openssl rand -hex 16)" -out "$work/ca.pem"

# The good server certificate.
newkey server
csr server 127.0.0.1
sign server server_ext 825

# Self-signed, same names.
newkey selfsigned
quiet openssl req -x509 -new "${conf[@]}" -key "$work/selfsigned.key" -sha256 \
    -days 825 -subj "/CN=127.0.0.1" -extensions selfsigned_ext \
    -set_serial "0x$(openssl rand -hex 16)" -out "$work/selfsigned.pem"

# Expired: valid from 30 days ago until yesterday.
newkey expired
csr expired 127.0.0.1
quiet openssl ca -batch "${conf[@]}" -name test_ca -notext -rand_serial \
    -startdate "$(date -u -d '30 days ago' +%Y%m%d%H%M%SZ)" \
    -enddate "$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)" \
    -extfile "$work/openssl.cnf" -extensions server_ext \
    -in "$work/expired.csr" -out "$work/expired.pem"

# Right CA, wrong name.
newkey wrongname
csr wrongname wrong.example
sign wrongname wrongname_ext 825

# Valid now, expires in 2 days.
newkey soon
csr soon 127.0.0.1
sign soon server_ext 2

# Check what was made before it replaces anything in DIR.
for name in server soon wrongname; do
    quiet openssl verify -CAfile "$work/ca.pem" "$work/$name.pem" >/dev/null
done
if openssl verify -CAfile "$work/ca.pem" "$work/expired.pem" >/dev/null 2>&1
then
    echo "make-certs.sh: expired.pem is not expired" >&2
    exit 1
fi
quiet openssl x509 -in "$work/soon.pem" -noout -checkend $((24 * 3600)) \
    >/dev/null
if openssl x509 -in "$work/soon.pem" -noout -checkend $((3 * 24 * 3600)) \
    >/dev/null; then
    echo "make-certs.sh: soon.pem lives longer than 2 days" >&2
    exit 1
fi

chmod 644 "$work"/*.pem
chmod 600 "$work"/*.key
for name in ca server selfsigned expired wrongname soon; do
    mv -f "$work/$name.pem" "$work/$name.key" "$out/"
done

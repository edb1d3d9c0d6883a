#!/usr/bin/env bash
# make-test-ca.sh OUTDIR
# Creates a throw-away CA (ca.pem, ca.key) and a server certificate signed by
# it (server.pem, server.key) for DNS:localhost and IP:127.0.0.1, valid 30 days.
# Idempotent: keeps existing files while they still verify and have more than
# a day left; safe to run concurrently (flock on OUTDIR/.lock when available).
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)

if command -v flock >/dev/null 2>&1; then
    exec 9>"$out/.lock"
    flock 9
fi

is_valid() {
    local f
    for f in ca.pem ca.key server.pem server.key; do
        [ -s "$out/$f" ] || return 1
    done
    openssl verify -CAfile "$out/ca.pem" "$out/server.pem" >/dev/null 2>&1 || return 1
    openssl x509 -in "$out/server.pem" -noout -checkend 86400 >/dev/null 2>&1 || return 1
    openssl x509 -in "$out/ca.pem" -noout -checkend 86400 >/dev/null 2>&1 || return 1
    # key matches certificate
    [ "$(openssl x509 -in "$out/server.pem" -noout -pubkey 2>/dev/null)" = \
      "$(openssl pkey -in "$out/server.key" -pubout 2>/dev/null)" ] || return 1
}

if is_valid; then
    exit 0
fi

tmp=$(mktemp -d "$out/.tmp-ca.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
umask 077

cat >"$tmp/ca.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = nhacviec test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF

cat >"$tmp/server.ext" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EXT

openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 30 \
    -config "$tmp/ca.cnf" -keyout "$tmp/ca.key" -out "$tmp/ca.pem" >/dev/null 2>&1

openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
    -keyout "$tmp/server.key" -out "$tmp/server.csr" >/dev/null 2>&1

openssl x509 -req -sha256 -days 30 -in "$tmp/server.csr" \
    -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -extfile "$tmp/server.ext" -out "$tmp/server.pem" >/dev/null 2>&1

openssl verify -CAfile "$tmp/ca.pem" "$tmp/server.pem" >/dev/null

chmod 644 "$tmp/ca.pem" "$tmp/server.pem"
chmod 600 "$tmp/ca.key" "$tmp/server.key"
for f in ca.key ca.pem server.key server.pem; do
    mv -f "$tmp/$f" "$out/$f"
done

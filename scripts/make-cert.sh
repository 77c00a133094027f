#!/bin/sh
# Makes a self-signed certificate for the demo's https:// port (HTTP/2 by ALPN), for localhost and
# 127.0.0.1, valid 30 days. Browsers warn about it once; curl needs -k. Keeps a certificate that is
# still valid for a day, so the browser's exception survives restarts of the demo.
#
#   scripts/make-cert.sh [DIR]     writes DIR/cert.pem and DIR/key.pem (default build/demo)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-$ROOT/build/demo}
mkdir -p "$DIR"
if [ -s "$DIR/cert.pem" ] && [ -s "$DIR/key.pem" ] && openssl x509 -checkend 86400 -noout -in "$DIR/cert.pem" >/dev/null 2>&1; then
    exit 0
fi
umask 077 # the key is readable by its owner only
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
    -keyout "$DIR/key.pem.tmp" -out "$DIR/cert.pem.tmp" >/dev/null 2>&1
mv "$DIR/key.pem.tmp" "$DIR/key.pem"
mv "$DIR/cert.pem.tmp" "$DIR/cert.pem"
chmod 644 "$DIR/cert.pem"
echo "make-cert: wrote $DIR/cert.pem and $DIR/key.pem (self-signed, CN=localhost)" >&2

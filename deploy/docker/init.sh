#!/bin/sh
# One-shot init for docker-compose (runs as root, before the gateway): makes the domain's PMTP and
# DKIM keys and a self-signed TLS certificate if the keys volume has none, and gives the keys, the
# spool and the Maildir volume to the mailbridge user the gateway runs as. Safe to run again.
set -eu
keys=/etc/mailbridge/keys
domain="${MAILBRIDGE_DOMAIN:?set MAILBRIDGE_DOMAIN}"
host="${MAILBRIDGE_HOSTNAME:?set MAILBRIDGE_HOSTNAME}"
public_url="${MAILBRIDGE_PUBLIC_URL:?set MAILBRIDGE_PUBLIC_URL}"
mkdir -p "$keys" /var/spool/mailbridge /var/mail/mailbridge

if [ ! -f "$keys/$domain.pmtp.key" ]; then
  # prints the _pmtp and DKIM TXT records to publish; kept beside the keys for the admin
  node /app/dist/cli/entry.cjs keys generate --domain "$domain" --out "$keys" --endpoint "$public_url" \
    | tee "$keys/dns-records.txt"
fi
if [ ! -f "$keys/tls.crt" ]; then
  pmtp_host=$(echo "$public_url" | sed -e 's|^https://||' -e 's|[:/].*$||')
  # self-signed until a real certificate replaces tls.key/tls.crt (then SIGHUP the gateway)
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$host" \
    -addext "subjectAltName=DNS:$host,DNS:$pmtp_host" \
    -keyout "$keys/tls.key" -out "$keys/tls.crt" 2>/dev/null
  echo "init: wrote a self-signed certificate for $host and $pmtp_host"
fi
chown -R mailbridge:mailbridge "$keys" /var/spool/mailbridge /var/mail/mailbridge
chmod 0700 "$keys"
chmod 0600 "$keys"/*.key
echo "init: keys, spool and Maildir ready for user mailbridge"

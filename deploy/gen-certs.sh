#!/bin/sh
# deploy/gen-certs.sh DIR [SAN] - a small test CA for pgfleet's TLS links.
#
# Writes into DIR (created if needed):
#   ca.crt ca.key               the CA (keep ca.key off the fleet's hosts)
#   collector.crt collector.key the collector's server certificate; its
#                               names (subjectAltName) are SAN, by default
#                               "DNS:localhost,IP:127.0.0.1,DNS:127.0.0.1";
#                               give the names agents dial, e.g.
#                               "DNS:pgfleet.internal". nng 1.5's mbedTLS 2
#                               does not match IP: entries, so an address
#                               dialed by IP needs it as a DNS: entry too
#   agent.crt agent.key         a client certificate for agents
#   cli.crt cli.key             a client certificate for the pgfleet CLI and
#                               HTTP clients (curl --cert/--key)
# Keys are EC P-256, unencrypted, mode 0600; certificates last DAYS days
# (environment, default 365). Existing files are overwritten.
#
# Collector: tls_cert=collector.crt tls_key=collector.key
#            tls_client_ca=ca.crt (clients must then present a certificate
#            signed by this CA: mutual TLS), listen=tls+tcp://0.0.0.0:7450
# Agent:     tls_ca=ca.crt tls_cert=agent.crt tls_key=agent.key
#            collector=tls+tcp://HOST:7450
# CLI:       PGFLEET_TLS_CA=ca.crt PGFLEET_TLS_CERT=cli.crt PGFLEET_TLS_KEY=cli.key
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "$1" = "--help" ]; then
	echo "usage: gen-certs.sh DIR [SAN]   (SAN default: DNS:localhost,IP:127.0.0.1,DNS:127.0.0.1)" >&2
	exit 2
fi
dir=$1
san=${2:-DNS:localhost,IP:127.0.0.1,DNS:127.0.0.1}
days=${DAYS:-365}
command -v openssl >/dev/null 2>&1 || { echo "gen-certs.sh: openssl is not installed" >&2; exit 1; }

mkdir -p "$dir"
# keys are born private: no window where others can read them
umask 077

new_key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
	chmod 600 "$1"
}

# sign NAME SUBJECT EXTENSIONS: NAME.key, NAME.csr -> NAME.crt signed by the CA
sign() {
	name=$1 subject=$2 extensions=$3
	new_key "$dir/$name.key"
	openssl req -new -key "$dir/$name.key" -subj "$subject" -out "$dir/$name.csr"
	printf '%s\n' "$extensions" >"$dir/$name.ext"
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		-CAcreateserial -days "$days" -sha256 -extfile "$dir/$name.ext" \
		-out "$dir/$name.crt" 2>/dev/null
	rm -f "$dir/$name.csr" "$dir/$name.ext"
	chmod 644 "$dir/$name.crt"
}

new_key "$dir/ca.key"
openssl req -x509 -new -key "$dir/ca.key" -subj "/CN=pgfleet test CA" -days "$days" \
	-sha256 -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$dir/ca.crt"
chmod 644 "$dir/ca.crt"

sign collector "/CN=pgfleet-collector" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san"
sign agent "/CN=pgfleet-agent" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
sign cli "/CN=pgfleet-cli" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
rm -f "$dir/ca.srl"
echo "gen-certs.sh: CA, collector ($san), agent and cli certificates in $dir"

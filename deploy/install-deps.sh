#!/usr/bin/env bash
# deploy/install-deps.sh - installs what pgfleet's build, tests and demo need
# on Debian 12 (as root). Skips apt entirely when everything is present.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config
	protobuf-c-compiler libprotobuf-c-dev libnng-dev libpq-dev libsqlite3-dev
	libjansson-dev libsmartcols-dev libcmocka-dev libpg-query-dev
	postgresql-15 postgresql-client-15 pgbouncer postgresql-15-hypopg
	jq sqlite3 valgrind procps
	libmicrohttpd-dev curl prometheus wrk
	faketime
	libgnutls28-dev openssl
	libsystemd-dev systemd yamllint
)

missing=()
for package in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run this as root (or install them)" >&2
	exit 1
fi
# pgfleet's tests and demo make their own clusters: no default cluster on 5432
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/pgfleet-no-main.conf
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

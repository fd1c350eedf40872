#!/usr/bin/env bash
# deploy/demo.sh - pgfleet on a throwaway local fleet, in one command.
#
#   bash deploy/demo.sh        install, build, start a PostgreSQL 15 primary
#                              and streaming replica with pg_stat_statements,
#                              a collector with its SQLite file and an agent
#                              per server, run a short pgbench load on both,
#                              and print the fleet's slow queries
#   bash deploy/demo.sh stop   stop the fleet and remove its folder
#
# Everything lives in $PGFLEET_DEMO_DIR (default /tmp/pgfleet-demo); a new
# run first removes what an earlier one left there.
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE_DIR=$PWD
DEMO_DIR=${PGFLEET_DEMO_DIR:-/tmp/pgfleet-demo}

bash deploy/install-deps.sh
export PGFLEET_BIN_DIR=$SOURCE_DIR/build
source tests/harness/lib.sh

if [ "${1:-}" = stop ]; then
	if [ -d "$DEMO_DIR" ]; then
		harness_teardown_dir "$DEMO_DIR"
		echo "pgfleet demo stopped and $DEMO_DIR removed"
	else
		echo "no pgfleet demo is running in $DEMO_DIR"
	fi
	exit 0
fi

echo "== building pgfleet" >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target pgfleet-agent pgfleet-collector pgfleet >/dev/null

[ -d "$DEMO_DIR" ] && harness_teardown_dir "$DEMO_DIR"
mkdir -p "$DEMO_DIR/run" "$DEMO_DIR/log"
chmod 755 "$DEMO_DIR"
[ "$(id -u)" = 0 ] && chown postgres: "$DEMO_DIR"
HARNESS_DIR=$DEMO_DIR
HARNESS_DETACH=1
# a failure part-way leaves nothing running
trap 'rc=$?; [ $rc = 0 ] || { echo "demo failed; cleaning up" >&2; harness_teardown_dir "$DEMO_DIR"; }' EXIT

echo "== starting the fleet in $DEMO_DIR" >&2
harness_start_primary
harness_start_replica
# HTTP API and /metrics on a free port (7452 may be taken)
COLLECTOR_HTTP_LISTEN=127.0.0.1:$(harness_free_port)
harness_start_collector
harness_start_agent primary "$PRIMARY_PORT" --interval 2s
harness_start_agent replica "$REPLICA_PORT" --interval 2s

echo "== pgbench: 20 s of TPC-B on the primary, select-only on the replica" >&2
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -i -s 5 -q postgres >"$DEMO_DIR/log/pgbench-init.log" 2>&1
harness_wait_for "replica to replay pgbench tables" 30 harness_query_is "$REPLICA_PORT" t \
	"SELECT count(*) > 0 FROM pg_class WHERE relname = 'pgbench_accounts'"
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -c 4 -T 20 postgres \
	>"$DEMO_DIR/log/pgbench-primary.log" 2>&1 &
pgbench_primary=$!
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -c 2 -T 20 -S postgres \
	>"$DEMO_DIR/log/pgbench-replica.log" 2>&1
wait "$pgbench_primary"

has_both() {
	pgfleet_cli slow-queries --json --limit 100 | jq -e \
		'([.[] | select(.instance == "primary" and (.query | test("UPDATE pgbench_accounts")))] | length > 0)
		 and ([.[] | select(.instance == "replica" and (.query | test("pgbench_accounts")))] | length > 0)'
}
harness_wait_for "both servers' statements at the collector" 30 has_both
# the agents' last reports of the load are in when the totals stop moving
total_calls() { pgfleet_cli slow-queries --json --limit 1000 | jq '[.[] | select(.query | test("pgbench")) | .calls] | add'; }
settled() {
	local before
	before=$(total_calls)
	sleep 2.5
	[ "$(total_calls)" = "$before" ]
}
harness_wait_for "the last reports" 30 settled

echo
echo "== the fleet's slow queries (pgfleet slow-queries --limit 10)"
pgfleet_cli slow-queries --limit 10
cat <<MSG

The fleet keeps running in $DEMO_DIR (primary 127.0.0.1:$PRIMARY_PORT, replica 127.0.0.1:$REPLICA_PORT).
Ask it more:  $PGFLEET_BIN_DIR/collector/pgfleet --collector $COLLECTOR_API slow-queries --order mean --json
Over HTTP:    curl 'http://$COLLECTOR_HTTP_LISTEN/api/db/slow-queries?limit=10'   (and /metrics)
Stop it:      bash deploy/demo.sh stop
MSG

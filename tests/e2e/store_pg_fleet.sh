#!/usr/bin/env bash
# e2e: the collector on a PostgreSQL store (store = postgresql://...), fed
# by real agents beside the harness primary and its streaming replica.
# Checked:
#   - the collector creates the store's schema in an empty database and
#     its connections say application_name pgfleet-collector;
#   - `pgfleet fleet`: both instances ok, one cluster, the replica's
#     upstream is the primary;
#   - `pgfleet slow-queries`: statements this test runs on the primary
#     (pg_sleep of 0.2 s, 3 times) show with their calls and mean;
#   - `pgfleet table-stats`, `index-usage`, `bloat-stats`: a table this
#     test creates, with its primary key;
#   - `pgfleet pool-stats`: a session this test opens, by its application;
#   - the collector restarted on the same store keeps the history (the
#     schema is found, not made again);
#   - the store's server restarted under the collector: it connects again
#     and stores and answers as before.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary
harness_start_replica
# the store lives in its own database of the primary (replicated with the
# rest: harmless here)
harness_psql "$PRIMARY_PORT" -c "CREATE DATABASE pgfleet_store" >/dev/null
COLLECTOR_STORE="postgresql://postgres@127.0.0.1:$PRIMARY_PORT/pgfleet_store"
harness_start_collector
harness_start_agent primary "$PRIMARY_PORT"
harness_start_agent replica "$REPLICA_PORT"

store_sql() { harness_psql "$PRIMARY_PORT" -d pgfleet_store -tAc "$1"; }
[ "$(store_sql "SELECT max(version) FROM schema_version")" -ge 1 ] ||
	harness_fail "the collector did not create the store's schema"
[ "$(harness_psql "$PRIMARY_PORT" -tAc "SELECT count(*) FROM pg_stat_activity WHERE datname = 'pgfleet_store' AND application_name = 'pgfleet-collector'")" -ge 2 ] ||
	harness_fail "the collector's writer and reader are not both connected as pgfleet-collector"

fleet_is() { [ "$(pgfleet_cli fleet --json | jq -r "$1")" = true ]; }
harness_wait_for "both instances ok in the fleet" 30 fleet_is \
	'length == 2 and all(.[]; .status == "ok") and ([.[].cluster] | unique | length == 1)'
harness_wait_for "the replica's upstream" 30 fleet_is \
	'any(.[]; .instance == "replica" and .role == "replica" and .upstream == "primary")'
F=$(pgfleet_cli fleet --json)
[ "$(jq -r '.[] | select(.instance == "primary") | .role' <<<"$F")" = primary ] ||
	harness_fail "the primary is not listed as one: $F"
pgfleet_cli fleet | grep -q "^CLUSTER\|cluster" || harness_fail "the fleet table has no header"

# statements this test causes: 3 calls of about 0.2 s
for _ in 1 2 3; do
	harness_psql "$PRIMARY_PORT" -c "SELECT pg_sleep(0.2)" >/dev/null
done
slow() {
	pgfleet_cli slow-queries --json --instance primary --limit 100 |
		jq -e 'any(.[]; (.query | test("pg_sleep")) and .calls >= 3 and .mean_seconds >= 0.2 and .mean_seconds < 2 and .database == "postgres")'
}
harness_wait_for "pg_sleep in slow-queries" 30 slow
# cluster and fleet groupings answer too, with the statement in them
pgfleet_cli slow-queries --json --group cluster --limit 100 |
	jq -e 'any(.[]; (.query | test("pg_sleep")) and .calls >= 3)' >/dev/null ||
	harness_fail "slow-queries --group cluster misses pg_sleep"
pgfleet_cli slow-queries --json --group fleet --order calls --limit 100 |
	jq -e 'length > 0' >/dev/null || harness_fail "slow-queries --group fleet is empty"
# the rows are in the store's tables, keyed by instance
[ "$(store_sql "SELECT count(*) > 0 FROM statement_stats s JOIN instances i USING (instance_id) WHERE i.name = 'primary'")" = t ] ||
	harness_fail "no statement rows in the PostgreSQL store"

# tables: a table this test makes shows in table-stats and index-usage
harness_psql "$PRIMARY_PORT" -c "CREATE TABLE pgs_orders (id int PRIMARY KEY); INSERT INTO pgs_orders SELECT generate_series(1, 500)" >/dev/null
has_table() {
	pgfleet_cli table-stats --json --instance primary --limit 1000 |
		jq -e 'any(.[]; .table == "pgs_orders" and .database == "postgres")' >/dev/null &&
		pgfleet_cli index-usage --json --instance primary --limit 1000 |
		jq -e 'any(.[]; .index == "pgs_orders_pkey" and .is_primary)' >/dev/null &&
		pgfleet_cli bloat-stats --json --instance primary --limit 1000 |
		jq -e 'any(.[]; .table == "pgs_orders")' >/dev/null
}
harness_wait_for "pgs_orders in table-stats, index-usage and bloat-stats" 40 has_table

# pools: a session of an application this test names shows in pool-stats
# (from the server's connections, grouped by application)
PGAPPNAME=pgs_app harness_psql "$PRIMARY_PORT" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
APP_PID=$!
has_app() {
	pgfleet_cli pool-stats --json --instance primary |
		jq -e 'any(.[]; .application == "pgs_app" and .total_connections >= 1 and .source != "")' >/dev/null
}
harness_wait_for "pgs_app in pool-stats" 40 has_app
kill "$APP_PID" 2>/dev/null || true
wait "$APP_PID" 2>/dev/null || true

# a restart on the same store: the history is there at once
REPORTS=$(store_sql "SELECT count(*) FROM reports")
harness_stop collector
harness_start_collector
[ "$(store_sql "SELECT count(*) FROM schema_version")" = 1 ] ||
	harness_fail "the schema version was recorded twice"
slow >/dev/null || harness_fail "the history is gone after a restart"
harness_wait_for "more reports after the restart" 30 \
	bash -c "[ \$($PG_BIN/psql -X -h 127.0.0.1 -p $PRIMARY_PORT -U postgres -d pgfleet_store -tAc 'SELECT count(*) FROM reports') -gt $REPORTS ]"
# the store's server restarts under the collector: its writer and reader
# connect again (the reports meanwhile are retried by the agents)
REPORTS=$(store_sql "SELECT count(*) FROM reports")
as_postgres "$PG_BIN/pg_ctl" -D "$HARNESS_DIR/primary" restart -m fast -w -t 60 >/dev/null ||
	harness_fail "the store's server did not restart"
harness_wait_for "reports stored after the store's restart" 40 \
	bash -c "[ \$($PG_BIN/psql -X -h 127.0.0.1 -p $PRIMARY_PORT -U postgres -d pgfleet_store -tAc 'SELECT count(*) FROM reports') -gt $((REPORTS + 2)) ]"
harness_wait_for "the fleet answered after the store's restart" 20 fleet_is 'length == 2'
# maintenance (rollups and retention) runs on the writer at each idle
# moment after a start: on this store too, without a warning each time
# (but while the store's server restarted above)
grep "WARNING" "$HARNESS_DIR/log/collector.log" | grep -v "unreachable" |
	grep -qi "maintain\|roll.*up\|history\|watermark" &&
	harness_fail "maintenance failed on the PostgreSQL store: $(grep WARNING "$HARNESS_DIR/log/collector.log" | head -3)"
harness_log "PASS"

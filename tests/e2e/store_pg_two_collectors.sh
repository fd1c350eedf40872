#!/usr/bin/env bash
# e2e: two collectors share one PostgreSQL store, each fed by its own
# share of the agents (the primary's agent reports to collector A, the
# replica's to collector B). Checked:
#   - both collectors open the store at once (one creates the schema, the
#     other finds it: one schema version row);
#   - `pgfleet fleet` asked of either collector lists both instances, ok,
#     in one cluster, the replica's upstream the primary;
#   - statements this test runs on the primary show in slow-queries asked
#     of collector B, which never received the primary's reports.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary
harness_start_replica
harness_psql "$PRIMARY_PORT" -c "CREATE DATABASE pgfleet_store" >/dev/null
STORE="postgresql://postgres@127.0.0.1:$PRIMARY_PORT/pgfleet_store"

# collector B first, by hand (the harness starts one collector), then A
B_LISTEN=tcp://127.0.0.1:$(harness_free_port)
B_API=ipc://$HARNESS_DIR/api-b.sock
harness_spawn collector-b "$PGFLEET_BIN_DIR/collector/pgfleet-collector" \
	--listen "$B_LISTEN" --api_listen "$B_API" --store "$STORE" --http_listen "" \
	--action_listen "tcp://127.0.0.1:$(harness_free_port)"
COLLECTOR_STORE=$STORE
harness_start_collector
A_API=$COLLECTOR_API
cli() { "$PGFLEET_BIN_DIR/collector/pgfleet" --collector "$1" --timeout 5s "${@:2}"; }
harness_wait_for "collector B's API" 20 cli "$B_API" fleet
[ "$(harness_psql "$PRIMARY_PORT" -d pgfleet_store -tAc "SELECT count(*) FROM schema_version")" = 1 ] ||
	harness_fail "the schema version was recorded more than once"

harness_start_agent primary "$PRIMARY_PORT"
COLLECTOR_LISTEN=$B_LISTEN harness_start_agent replica "$REPLICA_PORT"

fleet_is() { [ "$(cli "$1" fleet --json | jq -r "$2")" = true ]; }
ONE_FLEET='length == 2 and all(.[]; .status == "ok") and ([.[].cluster] | unique | length == 1) and any(.[]; .instance == "replica" and .upstream == "primary")'
harness_wait_for "one fleet view from collector A" 30 fleet_is "$A_API" "$ONE_FLEET"
harness_wait_for "one fleet view from collector B" 30 fleet_is "$B_API" "$ONE_FLEET"
# each collector stored only its own agent's reports (the agents did not
# fail over): the shared view is the store's, not a copy
grep -q "instance=primary" "$HARNESS_DIR/log/collector-b.log" &&
	harness_fail "collector B heard from the primary's agent"

for _ in 1 2 3; do
	harness_psql "$PRIMARY_PORT" -c "SELECT pg_sleep(0.15)" >/dev/null
done
slow_on_b() {
	cli "$B_API" slow-queries --json --instance primary --limit 100 |
		jq -e 'any(.[]; (.query | test("pg_sleep")) and .calls >= 3)' >/dev/null
}
harness_wait_for "the primary's statements in collector B's slow-queries" 30 slow_on_b
harness_log "PASS"

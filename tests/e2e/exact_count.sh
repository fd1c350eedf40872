#!/usr/bin/env bash
# e2e: a statement run exactly N times on the primary is reported with
# exactly N calls by `pgfleet slow-queries --json`, across
#   - the collector losing the statement's text (it asks for it again),
#   - some runs while the agent is stopped (SIGTERM), then restarted,
#   - some runs while the collector is stopped, then restarted (the agent
#     keeps the unacknowledged reports and resends them),
#   - a kill -9 of the agent right after it made a report,
# and a few more intervals afterwards never double a count. The replica's
# agent reports the replica's own traffic under its own name.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary
harness_start_replica
harness_start_collector
harness_start_agent primary "$PRIMARY_PORT"
harness_start_agent replica "$REPLICA_PORT"

MARKER=exact_count_marker

# calls INSTANCE: the calls the collector reports for the marker statement
calls() {
	pgfleet_cli slow-queries --json --limit 1000 --instance "$1" --since 1h |
		jq --arg m "$MARKER" '[.[] | select(.query | contains($m)) | .calls] | add // 0'
}
calls_are() { [ "$(calls "$1")" = "$2" ]; }
# run_marker PORT COUNT: the marker statement COUNT times in one session
run_marker() {
	local i
	for ((i = 0; i < $2; i++)); do echo "SELECT $i AS $MARKER;"; done |
		harness_psql "$1" >/dev/null
}
# waits until the agent's state file exists: its baseline is taken
baseline_taken() { [ -s "$HARNESS_DIR/state-$1/agent.state" ]; }

harness_wait_for "primary agent baseline" 30 baseline_taken primary
harness_wait_for "replica agent baseline" 30 baseline_taken replica

expected=0
run_marker "$PRIMARY_PORT" 7
expected=$((expected + 7))
harness_wait_for "$expected calls" 30 calls_are primary $expected
harness_log "phase 1: $expected calls seen"

# the collector loses the marker's text: the agent is told, and sends it
# again with the statement's next activity
sqlite3 "$COLLECTOR_STORE" "PRAGMA busy_timeout = 5000; DELETE FROM statement_texts"
run_marker "$PRIMARY_PORT" 1
sleep 2.5 # the report without text, and its ack naming the missing text
run_marker "$PRIMARY_PORT" 1
expected=$((expected + 2))
harness_wait_for "$expected calls and the text back" 30 calls_are primary $expected
harness_log "phase 1b: a lost query text was sent again"

# runs while the agent is stopped
harness_stop agent-primary TERM
run_marker "$PRIMARY_PORT" 5
expected=$((expected + 5))
harness_start_agent primary "$PRIMARY_PORT"
harness_wait_for "$expected calls after agent restart" 30 calls_are primary $expected
harness_log "phase 2: $expected calls seen after an agent restart"

# runs while the collector is stopped: reports pile up in the agent
harness_stop collector TERM
run_marker "$PRIMARY_PORT" 11
expected=$((expected + 11))
sleep 3 # several intervals made and not acknowledged
harness_start_collector
harness_wait_for "$expected calls after collector restart" 30 calls_are primary $expected
harness_log "phase 3: $expected calls seen after a collector restart"

# kill -9 right after the agent made a report that holds new calls
harness_stop collector TERM
run_marker "$PRIMARY_PORT" 4
expected=$((expected + 4))
sleep 2.5
harness_stop agent-primary KILL
run_marker "$PRIMARY_PORT" 2
expected=$((expected + 2))
harness_start_agent primary "$PRIMARY_PORT"
harness_start_collector
harness_wait_for "$expected calls after kill -9" 30 calls_are primary $expected
harness_log "phase 4: $expected calls seen after a kill -9 of the agent"

# nothing doubles later: resends are stored once
sleep 4
got=$(calls primary)
[ "$got" = "$expected" ] || harness_fail "calls changed to $got, expected $expected"

# the replica reports its own traffic under its own name
run_marker "$REPLICA_PORT" 3
harness_wait_for "3 calls on the replica" 30 calls_are replica 3
got=$(calls primary)
[ "$got" = "$expected" ] || harness_fail "primary calls changed to $got after replica traffic"

# cluster-wide, the statement's calls on the primary and the replica add up
# exactly (one queryid in one cluster); fleet-wide by fingerprint, the same
cluster_calls() {
	pgfleet_cli slow-queries --json --limit 1000 --since 1h --group "$1" |
		jq --arg m "$MARKER" '[.[] | select(.query | contains($m))] |
			if length == 1 then .[0].calls else "rows: \(length)" end'
}
got=$(cluster_calls cluster)
[ "$got" = $((expected + 3)) ] || harness_fail "cluster-wide calls $got, expected $((expected + 3))"
got=$(cluster_calls fleet)
[ "$got" = $((expected + 3)) ] || harness_fail "fleet-wide calls $got, expected $((expected + 3))"
harness_log "cluster-wide and fleet-wide: $((expected + 3)) calls"

# the statement's trend adds up to the same calls, bucket by bucket
# (from the server: jq 1.6 reads JSON numbers as doubles, which cannot hold
# every 64-bit queryid)
queryid=$(harness_psql "$PRIMARY_PORT" -tAc \
	"SELECT queryid FROM pg_stat_statements WHERE query LIKE '%$MARKER%' LIMIT 1")
got=$(pgfleet_cli query-trend "$queryid" --json --since 1h --instance primary | jq '[.[].calls] | add')
[ "$got" = "$expected" ] || harness_fail "query-trend adds up to $got calls, expected $expected"
got=$(pgfleet_cli query-trend "$queryid" --json --since 1h --bucket 1m | jq '[.[].calls] | add')
[ "$got" = $((expected + 3)) ] || harness_fail "query-trend over the cluster: $got, expected $((expected + 3))"
pgfleet_cli query-trend "$queryid" --since 1h >"$HARNESS_DIR/trend.txt"
grep -q "mean_sparkline: " "$HARNESS_DIR/trend.txt" || harness_fail "query-trend printed no sparkline"
harness_log "query-trend: $expected calls on the primary, $((expected + 3)) in the cluster"

# the table output names the columns of the guide
pgfleet_cli slow-queries --instance primary >"$HARNESS_DIR/table.txt"
for column in query calls total_seconds mean_seconds max_seconds stddev_seconds rows; do
	grep -q "$column" "$HARNESS_DIR/table.txt" || harness_fail "table has no column $column"
done
harness_log "PASS: exactly $expected calls on the primary, 3 on the replica"

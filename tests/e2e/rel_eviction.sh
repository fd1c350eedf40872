#!/usr/bin/env bash
# e2e (reliability T13, tests/RELIABILITY.md): pg_stat_statements eviction.
# The primary keeps at most 100 statements (pg_stat_statements.max = 100).
# A marker statement (SELECT pg_sleep(S) AS rel_eviction_marker) runs
# once; then, within one agent interval, 300 distinct statements push it
# out and it runs again (three rounds, the last one running it 3 times).
# Every run of the marker must be counted: an entry evicted and created
# again is counted from zero, also when its new count equals or passes the
# old one (the call count alone cannot tell; the agent sees it from the
# min/max times moving inwards, so each round's sleep lies outside the
# previous entry's: 10 ms, then 50, 10, 50 ms). When the new extremes
# happen to span the old ones, PG 13-16 give no signal at all (see
# tests/RELIABILITY.md). pg_stat_statements_info.dealloc reaches the collector
# (`pgfleet fleet --json`: families[statements].dealloc), and no negative
# delta is stored.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"

harness_init
HARNESS_PRIMARY_CONF="pg_stat_statements.max = 100" harness_start_primary
[ "$(harness_psql "$PRIMARY_PORT" -tAc "SHOW pg_stat_statements.max")" = 100 ] ||
	harness_fail "pg_stat_statements.max is not 100"
harness_start_collector
# 3 s intervals: a flood and the marker's new run fit well inside one, so
# the agent sees the marker's old entry, then its new one, never the gap
harness_start_agent primary "$PRIMARY_PORT" --interval 3s

marker_calls() {
	pgfleet_cli slow-queries --json --limit 1000 --instance primary --since 1h |
		jq '[.[] | select(.query | contains("rel_eviction_marker")) | .calls] | add // 0'
}
calls_are() { [ "$(marker_calls)" = "$1" ]; }
# flood: 300 distinct statements (IN lists of 1..300 items: one queryid
# each on PG 15), then the marker RUNS times, in one session
awk 'BEGIN { l = "1"; for (k = 1; k <= 300; k++) { if (k > 1) l = l "," k
	printf "SELECT 1 WHERE 1 IN (%s);\n", l } }' >"$HARNESS_DIR/flood.sql"
marker() { echo "SELECT pg_sleep($1) AS rel_eviction_marker;"; }
flood_then_marker() {
	local runs=$1 sleep=$2 k
	{
		cat "$HARNESS_DIR/flood.sql"
		for ((k = 0; k < runs; k++)); do marker "$sleep"; done
	} | harness_psql "$PRIMARY_PORT" >/dev/null
}
baseline_taken() { [ -s "$HARNESS_DIR/state-primary/agent.state" ]; }
harness_wait_for "agent baseline" 30 baseline_taken

marker 0.01 | harness_psql "$PRIMARY_PORT" >/dev/null
harness_wait_for "the marker's first call" 20 calls_are 1
expected=1
for round in "1 0.05" "1 0.01" "3 0.05"; do
	read -r runs sleep <<<"$round"
	flood_then_marker "$runs" "$sleep"
	expected=$((expected + runs))
	# the marker must be gone and back: its entry is new
	harness_wait_for "marker calls = $expected after a flood (evicted, then run $runs time(s))" 20 \
		calls_are "$expected"
	harness_log "round: marker evicted and run $runs time(s): $expected calls counted"
done
sleep 4 # more intervals must not change it
got=$(marker_calls)
[ "$got" = "$expected" ] || harness_fail "marker calls became $got, expected $expected"

server_dealloc=$(harness_psql "$PRIMARY_PORT" -tAc "SELECT dealloc FROM pg_stat_statements_info")
dealloc_recorded() {
	local d
	d=$(pgfleet_cli fleet --json --instance primary |
		jq '[.[] | .families[]? | select(.family == "statements") | .dealloc] | add // 0')
	echo "$d" >"$HARNESS_DIR/dealloc"
	# 900 new statements in 100 slots: many deallocations (10 entries each)
	[ "$d" -ge 10 ] && [ "$d" -le "$server_dealloc" ]
}
harness_wait_for "dealloc recorded (server: $server_dealloc)" 15 dealloc_recorded
harness_log "dealloc recorded by the collector: $(cat "$HARNESS_DIR/dealloc") (server's counter: $server_dealloc)"
negative=$(sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" \
	"SELECT count(*) FROM statement_stats WHERE calls < 0 OR rows < 0 OR total_exec_time_ms < 0
		OR shared_blks_hit < 0 OR shared_blks_read < 0 OR sum_sq_exec_time_ms2 < 0")
[ "$negative" = 0 ] || harness_fail "$negative negative delta rows"
rows=$(sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" "SELECT count(DISTINCT queryid) FROM statement_stats")
harness_log "PASS: marker evicted 3 times, every call counted ($expected); $rows statements stored, none negative"

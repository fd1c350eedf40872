#!/usr/bin/env bash
# e2e (reliability T12, tests/RELIABILITY.md): pg_stat_statements_reset()
# between two snapshots. A marker statement runs 6 times, the statistics
# are reset, then it runs 4 more times: the collector reports exactly 10
# calls (the post-reset 4 counted from zero, not as a negative delta nor
# as a spike), and no stored delta is negative.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"

harness_init
harness_start_primary
harness_start_collector
harness_start_agent primary "$PRIMARY_PORT"
MARKER=rel_stats_reset_marker

calls() {
	pgfleet_cli slow-queries --json --limit 1000 --instance primary --since 1h |
		jq --arg m "$MARKER" '[.[] | select(.query | contains($m)) | .calls] | add // 0'
}
calls_are() { [ "$(calls)" = "$1" ]; }
run_marker() {
	local i
	for ((i = 0; i < $1; i++)); do echo "SELECT $i AS $MARKER;"; done |
		harness_psql "$PRIMARY_PORT" >/dev/null
}
baseline_taken() { [ -s "$HARNESS_DIR/state-primary/agent.state" ]; }
harness_wait_for "agent baseline" 30 baseline_taken

run_marker 6
harness_wait_for "6 calls before the reset" 30 calls_are 6
harness_psql "$PRIMARY_PORT" -c "SELECT pg_stat_statements_reset()" >/dev/null
run_marker 4
harness_wait_for "10 calls after the reset" 30 calls_are 10
sleep 3 # more intervals must not change it
got=$(calls)
[ "$got" = 10 ] || harness_fail "calls became $got after the reset, expected 10"
negative=$(sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" \
	"SELECT count(*) FROM statement_stats WHERE calls < 0 OR rows < 0 OR total_exec_time_ms < 0")
[ "$negative" = 0 ] || harness_fail "$negative negative delta rows"
harness_log "PASS: 6 + 4 calls across a pg_stat_statements_reset() = 10; no negative delta"

#!/usr/bin/env bash
# e2e: the watched server restarts under the agent (pg_ctl restart -m fast,
# which keeps pg_stat_statements, then -m immediate, which loses it): the
# agent warns, reconnects with backoff, never crashes, and the counts stay
# exact: no negative deltas and no spike from counters starting over.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary
harness_start_collector
harness_start_agent primary "$PRIMARY_PORT"

MARKER=restart_marker
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
restart() {
	as_postgres "$PG_BIN/pg_ctl" -D "$HARNESS_DIR/primary" -m "$1" -w -t 60 restart \
		-l "$HARNESS_DIR/primary/server.log" >/dev/null
}
baseline_taken() { [ -s "$HARNESS_DIR/state-primary/agent.state" ]; }
harness_wait_for "agent baseline" 30 baseline_taken

run_marker 6
harness_wait_for "6 calls" 30 calls_are 6

# a clean restart keeps the statistics (pg_stat_statements.save)
restart fast
run_marker 4
harness_wait_for "10 calls after a fast restart" 40 calls_are 10
harness_log "fast restart: 10 calls"

# a crash loses them: counters start again from zero, and stats_reset moves
restart immediate
run_marker 5
harness_wait_for "15 calls after an immediate restart" 40 calls_are 15
harness_log "immediate restart: 15 calls"

sleep 3
[ "$(calls)" = 15 ] || harness_fail "calls moved to $(calls) afterwards"
kill -0 "${HARNESS_PIDS[agent-primary]}" || harness_fail "the agent died"
grep -q "WARNING: instance=primary could not connect to Postgres\|lost the connection\|statements not collected" \
	"$HARNESS_DIR/log/agent-primary.log" || harness_log "note: the agent saw no outage (restart was quick)"
[ "$(grep -c "connected to Postgres" "$HARNESS_DIR/log/agent-primary.log")" -ge 3 ] ||
	harness_fail "the agent did not reconnect after each restart"
harness_log "PASS: server restarts keep the counts exact"

# tests/e2e/rel_agent_backlog.bash - T6 and T7 (tests/RELIABILITY.md), sourced
# by rel_agent_backlog_kill.sh (SIGNAL=KILL) and rel_agent_backlog_term.sh
# (SIGNAL=TERM).
#
# The collector is frozen (SIGSTOP) while the agent makes N reports into its
# spool (bound: SPOOL_MAX reports); the agent is stopped with SIGNAL and
# started again; the collector resumes. Then the old boot's reports are
# replayed under their old boot id: the stored ones are exactly the newest
# min(N, SPOOL_MAX), and the agent's dropped counter (pgfleet fleet) is
# N - stored.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"

SPOOL_MAX=5
harness_init
harness_start_primary
harness_start_collector --action_listen "" # no action port shared with other tests
# a short ack timeout: the agent's one thread collects between tries
AGENT_FLAGS=(--spool_max_reports $SPOOL_MAX --ack_timeout 500ms)
AGENT_LOG_LEVEL=debug harness_start_agent primary "$PRIMARY_PORT" --action_collector off "${AGENT_FLAGS[@]}"

sql() { sqlite3 "$COLLECTOR_STORE" "PRAGMA busy_timeout = 5000; $1" | tail -n 1; }
agent_known() { [ -s "$HARNESS_DIR/state-primary/agent_id" ]; }
harness_wait_for "agent id" 20 agent_known
AGENT_ID=$(cat "$HARNESS_DIR/state-primary/agent_id")
delivered() { [ "$(sql "SELECT count(*) FROM reports WHERE agent_id = '$AGENT_ID'")" -ge 2 ]; }
harness_wait_for "first reports delivered" 30 delivered
BOOT1=$(sql "SELECT boot_id FROM reports WHERE agent_id = '$AGENT_ID' ORDER BY received_at_us DESC LIMIT 1")

# last_made: the last seq the agent logged as made
last_made() {
	grep -o 'report seq [0-9]* made' "$HARNESS_DIR/log/agent-primary.log" | tail -n 1 |
		awk '{print $3}'
}
kill -STOP "${HARNESS_PIDS[collector]}"
# a failing test must not leave a frozen collector behind (its teardown
# would wait for it forever)
(sleep 30; kill -CONT "${HARNESS_PIDS[collector]}" 2>/dev/null) &
S0=$(sql "SELECT max(seq) FROM reports WHERE agent_id = '$AGENT_ID' AND boot_id = '$BOOT1'")
made_before=$(last_made)
sleep 9 # about 8 intervals made, none acknowledged
harness_stop agent-primary "$SIGNAL"
M=$(last_made)
# reports the collector may have received before it froze count as stored
N=$((M - S0))
[ "$((M - made_before))" -gt "$SPOOL_MAX" ] || harness_fail "only $((M - made_before)) reports made while the collector was frozen"
harness_log "collector frozen: agent made seqs $((S0 + 1))..$M of boot $BOOT1, then $SIGNAL"

AGENT_LOG_LEVEL=debug harness_start_agent primary "$PRIMARY_PORT" --action_collector off "${AGENT_FLAGS[@]}"
kill -CONT "${HARNESS_PIDS[collector]}"
new_boot_seen() {
	[ "$(sql "SELECT count(DISTINCT boot_id) FROM reports WHERE agent_id = '$AGENT_ID'")" -ge 2 ] &&
		[ "$(sql "SELECT count(*) FROM reports WHERE agent_id = '$AGENT_ID' AND boot_id <> '$BOOT1'")" -ge 2 ]
}
harness_wait_for "the new boot's reports" 45 new_boot_seen

stored=$(sql "SELECT count(*) FROM reports WHERE agent_id = '$AGENT_ID' AND boot_id = '$BOOT1' AND seq > $S0")
last=$(sql "SELECT max(seq) FROM reports WHERE agent_id = '$AGENT_ID' AND boot_id = '$BOOT1'")
# The newest reports are kept: all of M-SPOOL_MAX+2..M are stored (the new
# boot's first report, made at start before the backlog drained, may push
# one more old report out of the bound). Older ones were dropped, oldest
# first, and counted; a dropped one may be stored all the same when it was
# the head of the queue while the collector was frozen (its bytes sat in
# the collector's socket buffer), hence "at least N" below.
# with KILL the agent can die after spooling a report and before logging
# it: the newest spooled seq is then one past the newest logged
if [ "$SIGNAL" = KILL ] && [ "$last" = $((M + 1)) ]; then
	harness_log "seq $last was spooled before the KILL but not logged"
	M=$last
	N=$((M - S0))
fi
keep=$((SPOOL_MAX - 1))
newest=$(sql "SELECT count(*) FROM reports WHERE agent_id = '$AGENT_ID' AND boot_id = '$BOOT1' AND seq > $M - $keep")
[ "$last" = "$M" ] || harness_fail "newest stored seq of the old boot is $last, expected $M"
[ "$newest" = "$keep" ] || harness_fail "only $newest of the newest $keep seqs (..$M) stored"
dropped() {
	pgfleet_cli fleet --json | jq '.[] | select(.instance == "primary") | .dropped_reports // 0'
}
accounted() {
	local d
	d=$(dropped)
	[ $((stored + d)) -ge "$N" ] && [ "$d" -ge $((N - SPOOL_MAX)) ] && [ "$d" -le $((N - keep)) ]
}
harness_wait_for "every pre-$SIGNAL report stored or counted as dropped" 15 accounted
harness_log "PASS ($SIGNAL): $N reports made while frozen, $stored stored under the old boot (the newest kept), $(dropped) dropped and counted"

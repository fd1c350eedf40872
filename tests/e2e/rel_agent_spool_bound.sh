#!/usr/bin/env bash
# e2e T8 (tests/RELIABILITY.md): the collector is down for 3x the spool's
# age bound (spool_max_age 3s, interval 1s). The agent drops the oldest
# reports first and counts them; its memory stays flat; once the collector
# is back, the stored reports of the outage are the newest ones, without a
# hole, and `pgfleet fleet` shows the dropped count.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"

harness_init
harness_start_primary
harness_start_collector --action_listen "" # no action port shared with other tests
AGENT_LOG_LEVEL=debug harness_start_agent primary "$PRIMARY_PORT" --action_collector off --spool_max_age 3s --ack_timeout 500ms
sql() { sqlite3 "$COLLECTOR_STORE" "PRAGMA busy_timeout = 5000; $1" | tail -n 1; }
agent_known() { [ -s "$HARNESS_DIR/state-primary/agent_id" ]; }
harness_wait_for "agent id" 20 agent_known
AGENT_ID=$(cat "$HARNESS_DIR/state-primary/agent_id")
delivered() { [ "$(sql "SELECT count(*) FROM reports WHERE agent_id = '$AGENT_ID'")" -ge 3 ]; }
harness_wait_for "first reports delivered" 30 delivered
last_made() {
	grep -o 'report seq [0-9]* made' "$HARNESS_DIR/log/agent-primary.log" | tail -n 1 | awk '{print $3}'
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/${HARNESS_PIDS[agent-primary]}/status"; }

harness_stop collector TERM
S0=$(sql "SELECT max(seq) FROM reports WHERE agent_id = '$AGENT_ID'")
sleep 3
rss_early=$(rss_kb)
sleep 6 # 3 x spool_max_age in all
rss_late=$(rss_kb)
M=$(last_made)
[ $((M - S0)) -ge 6 ] || harness_fail "only $((M - S0)) reports made during the outage"
harness_start_collector --action_listen "" # no action port shared with other tests
caught_up() { [ "$(sql "SELECT max(seq) FROM reports WHERE agent_id = '$AGENT_ID'")" -gt "$M" ]; }
harness_wait_for "reports past seq $M" 30 caught_up

first=$(sql "SELECT min(seq) FROM reports WHERE agent_id = '$AGENT_ID' AND seq > $S0")
last=$(sql "SELECT max(seq) FROM reports WHERE agent_id = '$AGENT_ID'")
# The newest are kept: contiguous from the second stored seq on. The first
# may stand apart: the age bound goes on dropping while the backlog drains,
# oldest first but never the report in flight, so on a slow machine (ASan)
# the head in flight is stored and the next one, aged out meanwhile, is not.
second=$(sql "SELECT min(seq) FROM reports WHERE agent_id = '$AGENT_ID' AND seq > $first")
count=$(sql "SELECT count(*) FROM reports WHERE agent_id = '$AGENT_ID' AND seq BETWEEN $second AND $last")
[ "$count" = $((last - second + 1)) ] || harness_fail "stored seqs $second..$last have holes ($count rows; first $first)"
# reports older than the 3 s bound were dropped: the first ones of the
# outage never arrive
[ "$first" -gt $((S0 + 3)) ] || harness_fail "seq $first of the outage stored: older than the age bound"
dropped() { pgfleet_cli fleet --json | jq '.[] | select(.instance == "primary") | .dropped_reports // 0'; }
counted() { [ "$(dropped)" -ge $((first - S0 - 1)) ] && [ "$(dropped)" -gt 0 ]; }
harness_wait_for "dropped >= $((first - S0 - 1))" 15 counted
# the agent's memory is flat while it drops: no backlog piles up
[ $((rss_late - rss_early)) -lt 2048 ] || harness_fail "agent RSS grew from $rss_early kB to $rss_late kB during the outage"
[ "$rss_late" -lt 65536 ] || harness_fail "agent RSS $rss_late kB is above 64 MiB"
harness_log "PASS: outage seqs $((S0 + 1))..$M made, $((S0 + 1))..$((first - 1)) dropped (oldest first), $first, $second..$last stored, $(dropped) dropped and counted; RSS $rss_early -> $rss_late kB"

#!/usr/bin/env bash
# e2e: an agent with a list of two collectors (A = the harness's own, B =
# a second one with its own SQLite store) fails over and comes back.
# Checked:
#   - sticky: while A acknowledges, every report goes to A, none to B, and
#     actions are polled at A (an explain through A works);
#   - failover: A stopped, reports are stored by B within a bound (below),
#     and the action channel follows (an explain through B works);
#   - return: A started again, the agent goes back to it after
#     collector_return_after, and B stops receiving;
#   - nothing lost: the seqs stored in A and B together cover 1..max with
#     none missing (a report may be in both: a lost ack, separate stores);
#   - the agent logged each move with instance= and both addresses.
source "$(dirname "$0")/../harness/lib.sh"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"

FAILOVER_AFTER_S=2
RETURN_AFTER_S=6
ACK_TIMEOUT_S=2
# A stopped: the exchange in flight (or the next, within the 1 s
# interval) fails after ack_timeout, the next one after a backoff of at
# most 0.5 s and another ack_timeout, by when collector_failover_after has
# passed: about 1 + 2 + 0.5 + 2 = 5.5 s to reach B. The bound leaves room
# for a loaded machine.
FAILOVER_BOUND_S=15

harness_init

# bad lists stop the agent at start with one line naming the culprit
bad_list() {
	local expected=$1 out rc=0
	shift
	out=$("$PGFLEET_BIN_DIR/agent/pgfleet-agent" --state_dir "$HARNESS_DIR/state-bad" \
		--conninfo "host=127.0.0.1 port=1" "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = 2 ] || harness_fail "agent $* exited $rc, expected 2: $out"
	[ "$(wc -l <<<"$out")" = 1 ] || harness_fail "agent $*: expected one line, got: $out"
	grep -qF -- "$expected" <<<"$out" || harness_fail "agent $*: expected \"$expected\", got: $out"
}
mkdir -p "$HARNESS_DIR/state-bad"
bad_list "invalid collector: empty address" --collector "tcp://127.0.0.1:1,,tcp://127.0.0.1:2"
bad_list "address \"tcp://127.0.0.1:1\" is listed twice" --collector "tcp://127.0.0.1:1, tcp://127.0.0.1:1"
bad_list "invalid collector address \"bogus://x\"" --collector "tcp://127.0.0.1:1, bogus://x"
bad_list "invalid action_collector: 3 addresses for 2 collector(s)" \
	--collector "tcp://127.0.0.1:1,tcp://127.0.0.1:2" \
	--action_collector "tcp://127.0.0.1:3,tcp://127.0.0.1:4,tcp://127.0.0.1:5"

harness_start_primary
harness_start_collector
harness_start_collector_named b
A=$COLLECTOR_LISTEN
B=${COLLECTOR_LISTENS[b]}
AGENT_LOG=$HARNESS_DIR/log/agent-fo.log

harness_start_agent fo "$PRIMARY_PORT" --collector "$A, $B" \
	--action_collector "$COLLECTOR_ACTION_LISTEN,${COLLECTOR_ACTION_LISTENS[b]}" \
	--ack_timeout "${ACK_TIMEOUT_S}s" --collector_failover_after "${FAILOVER_AFTER_S}s" \
	--collector_return_after "${RETURN_AFTER_S}s"

# seqs STORE: the seqs stored there, one a line, ascending
seqs() {
	sqlite3 -cmd ".timeout 5000" "$1" "SELECT seq FROM reports ORDER BY seq" 2>/dev/null || true
}
count() { seqs "$1" | wc -l; }
max_seq() { seqs "$1" | tail -n 1; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }
above() { [ "$(max_seq "$1")" -gt "$2" ] 2>/dev/null; }

# 1. sticky: A gets the reports, B none
harness_wait_for "3 reports stored by A" 30 at_least "$COLLECTOR_STORE" 3
harness_wait_for "actions polled at A" 30 pgfleet_cli explain --instance fo "SELECT 1"
sleep 2
[ "$(count "${COLLECTOR_STORES[b]}")" = 0 ] ||
	harness_fail "B stored $(count "${COLLECTOR_STORES[b]}") report(s) while A was up: not sticky"
harness_log "sticky: $(count "$COLLECTOR_STORE") report(s) at A, none at B"

# 2. failover: A stopped, B gets reports within the bound
harness_stop collector
stopped_at=$(date +%s%N)
harness_wait_for "reports stored by B" $((FAILOVER_BOUND_S + 5)) at_least "${COLLECTOR_STORES[b]}" 1
elapsed_ms=$((($(date +%s%N) - stopped_at) / 1000000))
[ "$elapsed_ms" -le $((FAILOVER_BOUND_S * 1000)) ] ||
	harness_fail "B got the first report ${elapsed_ms} ms after A stopped (bound ${FAILOVER_BOUND_S} s)"
harness_log "failover: first report stored by B ${elapsed_ms} ms after A stopped"
grep -q "instance=fo .*collector \"$A\" failing for [0-9]*s: switching to \"$B\"" "$AGENT_LOG" ||
	harness_fail "the agent did not log its switch from $A to $B"
# the action channel follows: a held poll at A is dropped, B gets the next
harness_wait_for "actions polled at B" 30 pgfleet_cli_at b explain --instance fo "SELECT 1"
grep -q "instance=fo actions: switched from ${COLLECTOR_ACTION_LISTEN} to ${COLLECTOR_ACTION_LISTENS[b]}" \
	"$AGENT_LOG" || harness_fail "the action channel did not log its switch"
harness_log "failover: actions answered through B"

# 3. return: A back; after collector_return_after the agent tries A first
# again and stays there
a_before=$(max_seq "$COLLECTOR_STORE")
harness_start_collector
harness_wait_for "reports stored by A again" $((RETURN_AFTER_S + 20)) above "$COLLECTOR_STORE" "$a_before"
grep -q "instance=fo .*back on the first collector \"$A\" (from \"$B\"" "$AGENT_LOG" ||
	harness_fail "the agent did not log its return to $A"
harness_wait_for "actions polled at A again" 30 pgfleet_cli explain --instance fo "SELECT 1"
b_settled=$(max_seq "${COLLECTOR_STORES[b]}")
sleep 3
[ "$(max_seq "${COLLECTOR_STORES[b]}")" = "$b_settled" ] ||
	harness_fail "B still receives reports after the return to A"
harness_log "return: back on A; B's last seq $b_settled"

# 4. nothing lost: A and B together hold every seq from 1 to the last
harness_stop agent-fo
last=$(cat <(seqs "$COLLECTOR_STORE") <(seqs "${COLLECTOR_STORES[b]}") | sort -n | tail -n 1)
union=$(cat <(seqs "$COLLECTOR_STORE") <(seqs "${COLLECTOR_STORES[b]}") | sort -nu | tr '\n' ' ')
expected=$(seq 1 "$last" | tr '\n' ' ')
[ "$union" = "$expected" ] || harness_fail "seqs stored in A and B: $union; expected 1..$last"
both=$(comm -12 <(seqs "$COLLECTOR_STORE" | sort) <(seqs "${COLLECTOR_STORES[b]}" | sort) | wc -l)
[ "$(count "${COLLECTOR_STORES[b]}")" -gt 0 ] && [ "$(count "$COLLECTOR_STORE")" -gt 0 ] ||
	harness_fail "expected reports in both stores"
harness_log "PASS: seqs 1..$last stored across A ($(count "$COLLECTOR_STORE")) and B ($(count "${COLLECTOR_STORES[b]}")), $both in both; failover in ${elapsed_ms} ms"

#!/usr/bin/env bash
# e2e (reliability T25, tests/RELIABILITY.md): kill -9 of the collector in
# the middle of its batched writes, CYCLES times (default 20; the matrix
# asks 100: REL_KILL9_CYCLES=100 for the long run). Four clients keep
# sending reports (resending what was not acknowledged, as agents do) and
# log every acknowledged seq. Each cycle: the collector starts, ingests
# for 20-200 ms, is killed with SIGKILL; then
#   - PRAGMA integrity_check = ok on the file as the kill left it;
# and at the end:
#   - every acknowledged report is stored (acks only after commit);
#   - nothing is stored twice: one row per (agent, boot, seq), and one
#     statement row per report (each carries one statement).
# No Postgres needed: the reports come from tests/tools/rel_client.
source "$(dirname "$0")/../harness/lib.sh"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"
CLIENT=$PGFLEET_BIN_DIR/tests/tools/rel_client
CYCLES=${REL_KILL9_CYCLES:-20}
SENDERS=4

harness_init
harness_start_collector
# (started by the harness, so a failing run stops them too)
for ((s = 1; s <= SENDERS; s++)); do
	: >"$HARNESS_DIR/acked-$s"
	harness_spawn "sender-$s" env REL_DEADLINE_S=300 "$CLIENT" send "$COLLECTOR_LISTEN" \
		"k9-$$-$s" 1 1000000 "$HARNESS_DIR/acked-$s" 500
done
acked_total() { cat "$HARNESS_DIR"/acked-* 2>/dev/null | wc -l; }
acked_above() { [ "$(acked_total)" -gt "$1" ]; }

for ((cycle = 1; cycle <= CYCLES; cycle++)); do
	if [ "$cycle" -gt 1 ]; then
		harness_start_collector
	fi
	# wait until this collector acknowledges something, then kill it
	# 20-200 ms into its write loop
	seen=$(acked_total)
	harness_wait_for "acks in cycle $cycle" 30 acked_above "$seen"
	sleep "0.$(printf '%03d' $((20 + RANDOM % 181)))"
	harness_stop collector KILL
	check=$(sqlite3 "$COLLECTOR_STORE" "PRAGMA integrity_check")
	[ "$check" = ok ] || harness_fail "cycle $cycle: integrity_check: $check"
done
for ((s = 1; s <= SENDERS; s++)); do harness_stop "sender-$s" TERM; done
harness_log "$CYCLES kill -9 cycles, $(acked_total) reports acknowledged, integrity ok every cycle"

# every acknowledged seq is stored, once
for ((s = 1; s <= SENDERS; s++)); do
	agent="k9-$$-$s"
	sort -n "$HARNESS_DIR/acked-$s" | uniq -d | grep -q . && harness_fail "$agent: a seq acked twice"
	sqlite3 "$COLLECTOR_STORE" "SELECT seq FROM reports WHERE agent_id = '$agent'" |
		sort -n >"$HARNESS_DIR/stored-$s"
	missing=$(sort -n "$HARNESS_DIR/acked-$s" | comm -23 - "$HARNESS_DIR/stored-$s" | head -5 | tr '\n' ' ')
	[ -z "$missing" ] || harness_fail "$agent: acknowledged but not stored: $missing"
	rows=$(sqlite3 "$COLLECTOR_STORE" "SELECT count(*), count(DISTINCT seq) FROM reports WHERE agent_id = '$agent'")
	[ "${rows%|*}" = "${rows#*|}" ] || harness_fail "$agent: duplicate reports ($rows)"
	stats=$(sqlite3 "$COLLECTOR_STORE" "SELECT count(*) FROM statement_stats
		JOIN instances USING (instance_id) WHERE name = 'rel-$agent'")
	[ "$stats" = "${rows%|*}" ] || harness_fail "$agent: $stats statement rows for ${rows%|*} reports"
done
dups=$(sqlite3 "$COLLECTOR_STORE" "SELECT count(*) FROM (SELECT 1 FROM reports GROUP BY agent_id, boot_id, seq HAVING count(*) > 1)")
[ "$dups" = 0 ] || harness_fail "$dups duplicate report keys"
reports=$(sqlite3 "$COLLECTOR_STORE" "SELECT count(*) FROM reports WHERE agent_id LIKE 'k9-$$-%'")
harness_log "PASS: $reports reports stored, every acknowledged one present, none twice"

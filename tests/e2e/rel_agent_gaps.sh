#!/usr/bin/env bash
# e2e T5 (tests/RELIABILITY.md): reports out of order and with a gap. A
# client sends seq 1, 2, 4, 3, then 6 (never 5) of one (agent, boot): every
# report is stored once, and `pgfleet fleet` shows the missing seqs as they
# come and go (3 missing after 4, none after 3, 5 missing after 6).
# No Postgres needed: the reports come from tests/tools/rel_client.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"
CLIENT=$PGFLEET_BIN_DIR/tests/tools/rel_client
[ -x "$CLIENT" ] || harness_fail "$CLIENT is not built"

harness_init
harness_start_collector --action_listen "" # no action port shared with other tests
AGENT=gaps$$
LOG=$HARNESS_DIR/acked.log

# send FROM COUNT: seqs FROM..FROM+COUNT-1, each acknowledged
send() { "$CLIENT" send "$COLLECTOR_LISTEN" "$AGENT" "$1" "$2" "$LOG" >/dev/null; }
missing() {
	pgfleet_cli fleet --json | jq --arg i "rel-$AGENT" '.[] | select(.instance == $i) | .missing_reports // 0'
}
stored() {
	sqlite3 "$COLLECTOR_STORE" "PRAGMA busy_timeout = 5000;
		SELECT group_concat(seq, ',') FROM (SELECT seq FROM reports
		WHERE agent_id = '$AGENT' ORDER BY seq)" | tail -n 1
}

send 1 2
send 4 1
[ "$(missing)" = 1 ] || harness_fail "after 1,2,4: missing $(missing), expected 1 (seq 3)"
send 3 1
[ "$(missing)" = 0 ] || harness_fail "after 1,2,4,3: missing $(missing), expected 0"
send 6 1
[ "$(missing)" = 1 ] || harness_fail "after 1,2,4,3,6: missing $(missing), expected 1 (seq 5)"
[ "$(stored)" = "1,2,3,4,6" ] || harness_fail "stored seqs $(stored), expected 1,2,3,4,6"
gap=$(sqlite3 "$COLLECTOR_STORE" "PRAGMA busy_timeout = 5000;
	SELECT first_seq || '-' || last_seq FROM report_gaps WHERE agent_id = '$AGENT'" | tail -n 1)
[ "$gap" = "5-5" ] || harness_fail "gap list '$gap', expected 5-5"
# a resend of a stored seq changes nothing
send 4 1
[ "$(missing)" = 1 ] || harness_fail "a duplicate changed the missing count to $(missing)"
[ "$(wc -l <"$LOG")" = 6 ] || harness_fail "expected 6 acknowledgements, got $(wc -l <"$LOG")"
harness_log "PASS: seqs 1,2,4,3,6 stored once each; seq 5 listed as missing"

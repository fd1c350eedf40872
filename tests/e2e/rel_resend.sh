#!/usr/bin/env bash
# e2e (reliability T4, REQ_RESENDTIME variant, tests/RELIABILITY.md): a
# slow collector and an impatient client. The collector holds every ack
# 500 ms after storing its report (test-only key test_ack_delay); the
# client's nng REQ socket resends an unanswered request every 200 ms, so
# each report arrives 2-3 times while the first copy is still being
# answered. Every report is stored exactly once, every copy is answered
# OK (the later ones as duplicates: no RETRY_AFTER, no REJECTED), and the
# client sees every seq acknowledged.
# No Postgres needed: the reports come from tests/tools/rel_client.
source "$(dirname "$0")/../harness/lib.sh"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"
command -v curl >/dev/null || harness_fail "curl is required"
CLIENT=$PGFLEET_BIN_DIR/tests/tools/rel_client
[ -x "$CLIENT" ] || harness_fail "$CLIENT is not built"
REPORTS=8

harness_init
HTTP_PORT=$(harness_free_port)
COLLECTOR_HTTP_LISTEN="127.0.0.1:$HTTP_PORT" harness_start_collector --action_listen "" \
	--test_ack_delay 500ms
AGENT=resend$$
LOG=$HARNESS_DIR/acked.log
metric() {
	curl -sS "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

started=$SECONDS
REL_RESEND_MS=200 timeout 60 "$CLIENT" send "$COLLECTOR_LISTEN" "$AGENT" 1 "$REPORTS" "$LOG" ||
	harness_fail "the client gave up (rc $?)"
harness_log "$REPORTS reports acknowledged in $((SECONDS - started)) s"
[ "$(sort -n "$LOG" | tr '\n' ' ')" = "$(seq 1 "$REPORTS" | tr '\n' ' ')" ] ||
	harness_fail "acknowledged seqs: $(tr '\n' ' ' <"$LOG")"
# the resent copies still in the collector's queue are answered too
sleep 2
received=$(metric pgfleet_reports_received_total)
stored=$(metric pgfleet_reports_stored_total)
duplicates=$(metric pgfleet_reports_duplicate_total)
rejected=$(metric pgfleet_reports_rejected_total)
retry=$(metric pgfleet_reports_retry_total)
harness_log "collector: received $received, stored $stored, duplicates $duplicates, rejected $rejected, retry $retry"
[ "$stored" = "$REPORTS" ] || harness_fail "stored $stored reports, expected $REPORTS"
[ "$duplicates" -ge "$REPORTS" ] ||
	harness_fail "only $duplicates duplicate copies: the REQ socket did not resend (delay too short?)"
[ "$rejected" = 0 ] && [ "$retry" = 0 ] || harness_fail "copies not answered OK (rejected $rejected, retry $retry)"
[ "$received" = "$((stored + duplicates))" ] ||
	harness_fail "received $received != stored $stored + duplicates $duplicates: a copy was not answered OK"
rows=$(sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" \
	"SELECT count(*), count(DISTINCT seq) FROM reports WHERE agent_id = '$AGENT'")
[ "$rows" = "$REPORTS|$REPORTS" ] || harness_fail "reports rows|distinct seqs = $rows, expected $REPORTS|$REPORTS"
statements=$(sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" \
	"SELECT count(*) FROM statement_stats s JOIN instances i USING (instance_id)
	WHERE i.name = 'rel-$AGENT'")
[ "$statements" = "$REPORTS" ] || harness_fail "$statements statement rows, expected $REPORTS (one per report)"
harness_log "PASS: $received copies of $REPORTS reports, each stored once, every copy answered OK"

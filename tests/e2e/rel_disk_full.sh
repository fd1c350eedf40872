#!/usr/bin/env bash
# e2e (reliability T22, tests/RELIABILITY.md): the collector's disk fills
# up. The store is capped a few pages above its size (test-only key
# store_max_pages: PRAGMA max_page_count), so writes fail with SQLITE_FULL:
#   - reports are answered RETRY_AFTER (never OK, never a crash);
#   - reads are still served (the CLI answers);
#   - PRAGMA integrity_check stays ok;
#   - a client that keeps resending (as the agent does) delivers all of
#     them once the cap is raised (collector restarted without it): every
#     seq stored exactly once, and every seq acked before is there.
# No Postgres needed: the reports come from tests/tools/rel_client.
source "$(dirname "$0")/../harness/lib.sh"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"
CLIENT=$PGFLEET_BIN_DIR/tests/tools/rel_client
AGENT=full-$$
TOTAL=120
PAD=3000 # bytes of query text per report: about a page each

harness_init
harness_start_collector
acked=$HARNESS_DIR/acked
"$CLIENT" send "$COLLECTOR_LISTEN" "$AGENT" 1 5 "$acked" "$PAD" || harness_fail "first reports not acked"
harness_stop collector TERM
pages=$(sqlite3 "$COLLECTOR_STORE" "PRAGMA page_count")
harness_log "store has $pages pages; capping it at $((pages + 10))"
harness_start_collector --store_max_pages $((pages + 10))
pid=${HARNESS_PIDS[collector]}

set +e
out=$(REL_STOP_ON_RETRY=1 REL_DEADLINE_S=30 "$CLIENT" send "$COLLECTOR_LISTEN" "$AGENT" 6 $((TOTAL - 5)) "$acked" "$PAD")
rc=$?
set -e
[ "$rc" -eq 3 ] || harness_fail "expected RETRY_AFTER once the store is full (exit $rc): $out"
harness_log "full: $out ($(wc -l <"$acked") acked before)"
grep -q "full" <<<"$out" || harness_fail "RETRY_AFTER without a disk-full reason: $out"

# the agent keeps resending while the disk is full
next=$(($(wc -l <"$acked") + 1))
REL_DEADLINE_S=50 "$CLIENT" send "$COLLECTOR_LISTEN" "$AGENT" "$next" $((TOTAL - next + 1)) "$acked" "$PAD" \
	>"$HARNESS_DIR/sender.out" 2>&1 &
sender=$!
sleep 3
kill -0 "$pid" 2>/dev/null || harness_fail "collector died on a full disk"
[ "$(wc -l <"$acked")" -eq $((next - 1)) ] || harness_fail "a report was acked while the disk is full"
pgfleet_cli fleet --json >/dev/null || harness_fail "reads not served while the disk is full"
check=$(sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" "PRAGMA integrity_check")
[ "$check" = ok ] || harness_fail "integrity_check while full: $check"
grep -q "RETRY_AFTER\|not stored" "$HARNESS_DIR/log/collector.log" ||
	harness_fail "the collector did not log the refused writes"
harness_log "while full: no ack, reads served, integrity ok"

# raise the limit: everything drains
harness_stop collector TERM
harness_start_collector
wait "$sender" || harness_fail "sender did not finish: $(cat "$HARNESS_DIR/sender.out")"
[ "$(wc -l <"$acked")" -eq "$TOTAL" ] || harness_fail "$(wc -l <"$acked") of $TOTAL acked"
stored=$(sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" \
	"SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM reports WHERE agent_id = '$AGENT'")
[ "$stored" = "$TOTAL|$TOTAL|1|$TOTAL" ] || harness_fail "stored (count|distinct|min|max) $stored"
check=$(sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" "PRAGMA integrity_check")
[ "$check" = ok ] || harness_fail "integrity_check after: $check"
harness_log "PASS: after raising the limit all $TOTAL reports stored once"

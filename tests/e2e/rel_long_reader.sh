#!/usr/bin/env bash
# e2e (reliability T24, tests/RELIABILITY.md): a long reader on the store.
# A sqlite3 session holds a read transaction (BEGIN; SELECT) on the
# collector's file while reports keep coming:
#   - ingest continues: every report acked OK, none RETRY_AFTER (no
#     SQLITE_BUSY reaches an agent), each within the client's deadline;
#   - the WAL grows past the autocheckpoint size while the reader holds it
#     (the checkpoint cannot complete);
#   - after the reader lets go, checkpoints complete again: as much data
#     again leaves the WAL file no bigger (it is reused from the start).
# No Postgres needed: the reports come from tests/tools/rel_client.
source "$(dirname "$0")/../harness/lib.sh"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"
CLIENT=$PGFLEET_BIN_DIR/tests/tools/rel_client
AGENT=reader-$$
N=300
PAD=16000 # 300 x 16 kB: past the 1000-page autocheckpoint

harness_init
# one client sends hundreds of reports a second here: the per-agent rate
# limit (e2e_rel_auth, test_rate_limit) would answer RETRY_AFTER
harness_start_collector --agent_max_reports_per_second 0
acked=$HARNESS_DIR/acked
wal_bytes() { stat -c %s "$COLLECTOR_STORE-wal" 2>/dev/null || echo 0; }

"$CLIENT" send "$COLLECTOR_LISTEN" "$AGENT" 1 1 "$acked" || harness_fail "first report not acked"
# the long reader: holds its snapshot until told to finish
mkfifo "$HARNESS_DIR/reader.in"
sqlite3 "$COLLECTOR_STORE" <"$HARNESS_DIR/reader.in" >"$HARNESS_DIR/reader.out" 2>&1 &
reader=$!
exec 7>"$HARNESS_DIR/reader.in"
echo "BEGIN; SELECT count(*) FROM reports;" >&7
harness_wait_for "reader snapshot" 10 test -s "$HARNESS_DIR/reader.out"
harness_log "reader holds a snapshot of $(cat "$HARNESS_DIR/reader.out") report(s)"

start=$SECONDS
REL_STOP_ON_RETRY=1 REL_DEADLINE_S=50 "$CLIENT" send "$COLLECTOR_LISTEN" "$AGENT" 2 "$N" "$acked" "$PAD" ||
	harness_fail "ingest stalled or answered RETRY_AFTER under a long reader"
held=$(wal_bytes)
harness_log "$N reports acked in $((SECONDS - start)) s under the reader; WAL $held bytes"
[ "$held" -gt $((4 * 1024 * 1024)) ] || harness_fail "WAL only $held bytes: the test wrote too little to matter"
# the reader still sees its old snapshot
echo "SELECT count(*) FROM reports; COMMIT;" >&7
exec 7>&-
wait "$reader"
[ "$(sed -n 2p "$HARNESS_DIR/reader.out")" = "$(sed -n 1p "$HARNESS_DIR/reader.out")" ] ||
	harness_fail "the reader's snapshot moved: $(tr '\n' ' ' <"$HARNESS_DIR/reader.out")"

# released: the next checkpoints complete, and the WAL is reused
REL_STOP_ON_RETRY=1 REL_DEADLINE_S=50 "$CLIENT" send "$COLLECTOR_LISTEN" "$AGENT" $((N + 2)) "$N" "$acked" "$PAD" ||
	harness_fail "ingest after the reader failed"
after=$(wal_bytes)
harness_log "after release and as much data again: WAL $after bytes"
# not reused, it would about double; reused, it stays near its size (the
# last checkpoint cycle may end a little further in)
[ "$after" -le $((held + held / 4)) ] || harness_fail "WAL kept growing after the reader let go ($held -> $after)"
[ "$(wc -l <"$acked")" -eq $((2 * N + 1)) ] || harness_fail "$(wc -l <"$acked") acked"
stored=$(sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" "SELECT count(*) FROM reports WHERE agent_id = '$AGENT'")
[ "$stored" -eq $((2 * N + 1)) ] || harness_fail "$stored stored"
harness_log "PASS"

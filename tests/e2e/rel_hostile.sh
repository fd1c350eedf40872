#!/usr/bin/env bash
# e2e (reliability T1-T4, tests/RELIABILITY.md): hostile input to a live
# collector, from tests/tools/rel_client:
#   T1 a valid report cut at every offset, 1000 random buffers and 1000
#      bit-flips: the collector stays up, counts every rejection it
#      answered, and the same client's next valid report is acked < 1 s;
#   T2 a 32 MiB message (over the 16 MiB NNG_OPT_RECVMAXSZ): no answer,
#      collector peak RSS grows < 50 MiB, another agent's reports still go
#      through meanwhile;
#      a raw TCP client that declares a 2^40-byte message is cut off at
#      once, with nothing allocated to the declared size;
#   T3 10^6 empty statements in 2 MB: refused by the decode budget
#      (REJECTED "too large"), peak RSS grows < budget (64 MiB) + 10 MiB;
#   T4 the same (agent, boot, seq) 3 times: every copy acked OK, the 2nd
#      and 3rd as duplicates, stored once.
# No Postgres needed: the reports come from the test client.
source "$(dirname "$0")/../harness/lib.sh"
command -v curl >/dev/null || harness_fail "curl is required"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"
CLIENT=$PGFLEET_BIN_DIR/tests/tools/rel_client

harness_init
COLLECTOR_HTTP_LISTEN=127.0.0.1:$(harness_free_port)
# one client sends hundreds of reports a second here: the per-agent rate
# limit (e2e_rel_auth, test_rate_limit) would answer RETRY_AFTER
harness_start_collector --agent_max_reports_per_second 0
pid=${HARNESS_PIDS[collector]}

# metric NAME: a collector counter from /metrics
metric() {
	curl -sS "http://$COLLECTOR_HTTP_LISTEN/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
# peak resident set of the collector, KiB
peak_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status"; }
alive() { kill -0 "$pid" 2>/dev/null || harness_fail "collector died: $(tail -5 "$HARNESS_DIR/log/collector.log")"; }
sanitized=false
grep -q '^PGFLEET_SANITIZE:BOOL=ON' "$PGFLEET_BIN_DIR/CMakeCache.txt" && sanitized=true

# T1
before=$(metric pgfleet_reports_rejected_total)
out=$("$CLIENT" garbage "$COLLECTOR_LISTEN") || harness_fail "T1: garbage client: $out"
harness_log "T1: $out"
alive
rejected=$(sed -nE 's/.*rejected=([0-9]+).*/\1/p' <<<"$out")
sent=$(sed -nE 's/.*sent=([0-9]+).*/\1/p' <<<"$out")
okc=$(sed -nE 's/.* ok=([0-9]+).*/\1/p' <<<"$out")
after=$(metric pgfleet_reports_rejected_total)
[ $((after - before)) -eq "$rejected" ] ||
	harness_fail "T1: collector counted $((after - before)) rejections, client saw $rejected"
# every input was answered: rejected, or (a bit-flip that is still a valid
# report) stored
[ $((rejected + okc)) -eq "$sent" ] || harness_fail "T1: $sent sent, $rejected rejected + $okc ok"
[ "$rejected" -gt $((sent / 2)) ] || harness_fail "T1: only $rejected of $sent rejected"
harness_log "T1: $rejected of $sent rejected and counted; valid report acked right after"

# T2: a 32 MiB message, while another agent keeps reporting
hwm=$(peak_kib)
REL_DEADLINE_S=20 "$CLIENT" send "$COLLECTOR_LISTEN" t2-bystander 1 30 "$HARNESS_DIR/t2.acked" &
bystander=$!
out=$("$CLIENT" big "$COLLECTOR_LISTEN" $((32 * 1024 * 1024))) || harness_fail "T2: $out"
wait "$bystander" || harness_fail "T2: the other agent's reports did not go through"
[ "$(wc -l <"$HARNESS_DIR/t2.acked")" -eq 30 ] || harness_fail "T2: bystander acked $(wc -l <"$HARNESS_DIR/t2.acked") of 30"
alive
grown=$(($(peak_kib) - hwm))
[ "$grown" -lt $((50 * 1024)) ] || harness_fail "T2: collector peak RSS grew ${grown} KiB"
harness_log "T2: 32 MiB message refused; peak RSS +${grown} KiB; 30 other reports acked"
# a raw client that declares a 2^40-byte message and stalls: the
# connection is closed at once, nothing allocated to the declared size
hwm=$(peak_kib)
port=${COLLECTOR_LISTEN##*:}
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf '\000SP\000\000\060\000\000' >&3 # SP over TCP, REQ v0
head -c 8 <&3 >/dev/null                   # the collector's REP header
# length 2^40 (big-endian 64-bit), then a few bytes, then silence
printf '\000\000\001\000\000\000\000\000xxxxxxxxxx' >&3
start=$SECONDS
if got=$(timeout 15 head -c 1 <&3 | wc -c) && [ "$got" = 0 ]; then
	out="closed after $((SECONDS - start)) s"
else
	out="still open after 15 s"
fi
exec 3>&-
harness_log "T2: length lie of 2^40 bytes: $out"
[[ $out == closed* ]] || harness_fail "T2: the length-lie connection was not closed: $out"
alive
grown=$(($(peak_kib) - hwm))
[ "$grown" -lt $((50 * 1024)) ] || harness_fail "T2: collector peak RSS grew ${grown} KiB on a length lie"

# T3: 10^6 empty rows
hwm=$(peak_kib)
before=$(metric pgfleet_reports_rejected_total)
out=$("$CLIENT" amplify "$COLLECTOR_LISTEN" 1000000) || harness_fail "T3: $out"
harness_log "T3: $(tr '\n' ' ' <<<"$out")"
alive
[ "$(metric pgfleet_reports_rejected_total)" -eq $((before + 1)) ] || harness_fail "T3: rejection not counted"
grown=$(($(peak_kib) - hwm))
if $sanitized; then
	# AddressSanitizer's redzones and quarantine inflate every allocation
	harness_log "T3: peak RSS +${grown} KiB (not checked under the sanitizer)"
else
	[ "$grown" -lt $(((64 + 10) * 1024)) ] || harness_fail "T3: collector peak RSS grew ${grown} KiB"
	harness_log "T3: peak RSS +${grown} KiB"
fi

# T4
out=$("$CLIENT" dup "$COLLECTOR_LISTEN") || harness_fail "T4: $out"
agent=$(sed -nE 's/^agent=(.*)/\1/p' <<<"$out")
count=$(sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" "SELECT count(*) FROM reports WHERE agent_id = '$agent' AND boot_id = 'boot-1' AND seq = 5")
[ "$count" = 1 ] || harness_fail "T4: stored $count times"
harness_log "T4: 3 copies acked OK (2 as duplicates), stored once"
alive
harness_log "PASS"

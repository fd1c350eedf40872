#!/usr/bin/env bash
# e2e T23 (tests/RELIABILITY.md): the agent's spool fails or is damaged.
#   1. spool_dir under a regular file (can never be created): the agent
#      keeps reports in memory, says so once, and `pgfleet fleet` shows
#      spool_failures = 1; reports keep arriving.
#   2. spool on a 16 KiB tmpfs that fills up (ENOSPC) while the collector is
#      down: memory fallback, counter 1, agent alive, nothing lost.
#   3. a spooled backlog damaged on disk (one record's CRC byte flipped,
#      the last record cut in half): every other record is replayed and
#      corrupt_spool_records = 2.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"
command -v python3 >/dev/null || harness_fail "python3 is required"

harness_init
harness_start_primary
harness_start_collector --action_listen "" # no action port shared with other tests
sql() { sqlite3 "$COLLECTOR_STORE" "PRAGMA busy_timeout = 5000; $1" | tail -n 1; }
field() {
	pgfleet_cli fleet --json | jq --arg i "$1" ".[] | select(.instance == \$i) | .$2 // 0"
}
field_is() { [ "$(field "$1" "$2")" = "$3" ]; }
reports_of() { sql "SELECT count(*) FROM reports r JOIN instances i USING (instance_id) WHERE i.name = '$1'"; }
more_reports() { [ "$(reports_of "$1")" -ge "$2" ]; }

# 1. a spool that cannot exist
touch "$HARNESS_DIR/not-a-dir"
AGENT_SPOOL_DIR="$HARNESS_DIR/not-a-dir/spool" harness_start_agent nodir "$PRIMARY_PORT" --action_collector off
harness_wait_for "nodir reports" 30 more_reports nodir 3
harness_wait_for "nodir spool_failures = 1" 10 field_is nodir spool_failures 1
grep -q 'report spool .* unusable' "$HARNESS_DIR/log/agent-nodir.log" ||
	harness_fail "no warning about the unusable spool"
[ "$(grep -c 'unusable' "$HARNESS_DIR/log/agent-nodir.log")" = 1 ] || harness_fail "the warning was repeated"
harness_stop agent-nodir TERM
harness_log "1: unusable spool directory: memory only, spool_failures = 1"

# 2. a spool on a 16 KiB tmpfs, filled while the collector is down
FULL=$HARNESS_DIR/full
mkdir -p "$FULL"
if mount -t tmpfs -o size=16k tmpfs "$FULL" 2>/dev/null; then
	trap 'umount "$FULL" 2>/dev/null || true' EXIT
	AGENT_SPOOL_DIR=$FULL harness_start_agent full "$PRIMARY_PORT" --action_collector off --ack_timeout 500ms
	harness_wait_for "full reports" 30 more_reports full 2
	harness_stop collector TERM
	spool_failed() { grep -q 'report spool .* unusable' "$HARNESS_DIR/log/agent-full.log"; }
	harness_wait_for "the spool to fill up (ENOSPC)" 40 spool_failed
	grep -q 'No space left on device' "$HARNESS_DIR/log/agent-full.log" ||
		harness_fail "the spool failed, but not with ENOSPC"
	pid=${HARNESS_PIDS[agent-full]}
	kill -0 "$pid" || harness_fail "the agent died when its spool filled up"
	before=$(reports_of full)
	harness_start_collector --action_listen "" # no action port shared with other tests
	harness_wait_for "full reports after the disk filled" 30 more_reports full $((before + 3))
	harness_wait_for "full spool_failures = 1" 10 field_is full spool_failures 1
	harness_stop agent-full TERM
	umount "$FULL"
	trap - EXIT
	harness_log "2: spool disk full: memory fallback, agent alive, spool_failures = 1"
else
	harness_log "2: SKIPPED (cannot mount a tmpfs here: not root or no CAP_SYS_ADMIN)"
fi

# 3. a damaged spool
harness_start_agent dmg "$PRIMARY_PORT" --action_collector off --ack_timeout 500ms
harness_wait_for "dmg reports" 30 more_reports dmg 2
harness_stop collector TERM
sleep 5 # several reports spooled, none acknowledged
harness_stop agent-dmg TERM
# python: list the spool's report records; flip a CRC byte of the second,
# cut the last in half
damage=$(python3 - "$HARNESS_DIR/spool-dmg" <<'PY'
import os, struct, sys
d = sys.argv[1]
segs = sorted(f for f in os.listdir(d) if f.endswith(".log"))
recs = []
for f in segs:
    p = os.path.join(d, f)
    b = open(p, "rb").read()
    at = 0
    while at + 12 <= len(b):
        magic, n, crc = struct.unpack_from("<III", b, at)
        if magic != 0x424F4750:
            break
        if b[at + 12] == 1:
            recs.append((p, at, n))
        at += 12 + n
if len(recs) < 4:
    print("too-few %d" % len(recs)); sys.exit(0)
p, at, n = recs[1]
with open(p, "r+b") as fh:
    fh.seek(at + 8); c = fh.read(1); fh.seek(at + 8); fh.write(bytes([c[0] ^ 0xFF]))
p, at, n = recs[-1]
with open(p, "r+b") as fh:
    fh.truncate(at + 12 + n // 2)
print(len(recs))
PY
)
case $damage in too-few*) harness_fail "the spool held too few records: $damage" ;; esac
spooled=$damage
boot=$(sql "SELECT r.boot_id FROM reports r JOIN instances i USING (instance_id) WHERE i.name = 'dmg' ORDER BY r.received_at_us DESC LIMIT 1")
stored_before=$(sql "SELECT count(*) FROM reports WHERE boot_id = '$boot'")
harness_start_collector --action_listen "" # no action port shared with other tests
harness_start_agent dmg "$PRIMARY_PORT" --action_collector off
harness_wait_for "dmg corrupt_spool_records = 2" 30 field_is dmg corrupt_spool_records 2
replayed() { [ "$(sql "SELECT count(*) FROM reports WHERE boot_id = '$boot'")" -ge $((stored_before + spooled - 2)) ]; }
harness_wait_for "$((spooled - 2)) good records replayed" 30 replayed
grep -q 'corrupt stretch' "$HARNESS_DIR/log/agent-dmg.log" || harness_fail "the corrupt records were not logged"
kill -0 "${HARNESS_PIDS[agent-dmg]}" || harness_fail "the agent died on a damaged spool"
harness_log "PASS: memory fallback counted; of $spooled spooled records, $((spooled - 2)) replayed and 2 counted corrupt"

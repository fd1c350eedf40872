#!/usr/bin/env bash
# e2e T29 (tests/RELIABILITY.md), plain TCP part: a connection flood on the
# agents' listener while a real agent reports every second.
#   - 1000 TCP connections that send nothing: nng 1.5.2 drops each after
#     its 10 s SP negotiation timeout; the collector's descriptor count
#     (/proc/PID/fd) is back to its baseline within 30 s;
#   - 60 connections that complete the SP handshake and then idle, with
#     max_agent_connections = 20: those beyond the cap are closed at once
#     (NNG_PIPE_EV_ADD_PRE) and counted in
#     pgfleet_agent_connections_refused_total;
#   - meanwhile the agent's reports keep being acknowledged: stored with
#     no gap of more than 3 s between two of them.
# The TLS variant (200 completed TLS pipes that never send) is not here:
# it waits for the TLS listener work.
source "$(dirname "$0")/../harness/lib.sh"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"
command -v curl >/dev/null || harness_fail "curl is required"
FLOOD=$PGFLEET_BIN_DIR/tests/tools/conn_flood
CAP=20

harness_init
harness_start_primary
COLLECTOR_HTTP_LISTEN=127.0.0.1:$(harness_free_port)
harness_start_collector --action_listen "" --max_agent_connections $CAP
PID=${HARNESS_PIDS[collector]}
PORT=${COLLECTOR_LISTEN##*:}
harness_start_agent primary "$PRIMARY_PORT" --action_collector off
sql() { sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" "$1"; }
reports() { sql "SELECT count(*) FROM reports"; }
some_reports() { [ "$(reports)" -ge 3 ]; }
harness_wait_for "first reports" 30 some_reports
fds() { ls "/proc/$PID/fd" | wc -l; }
BASELINE=$(fds)
harness_log "collector pid $PID: $BASELINE descriptors at rest"
start_us=$(($(date +%s%N) / 1000))

# 1000 silent connections
"$FLOOD" silent 127.0.0.1 "$PORT" 1000 40 >"$HARNESS_DIR/silent.out" &
flood=$!
peak=0
for _ in $(seq 1 20); do
	n=$(fds)
	[ "$n" -gt "$peak" ] && peak=$n
	[ "$peak" -gt $((BASELINE + 900)) ] && break
	sleep 0.2
done
[ "$peak" -gt $((BASELINE + 500)) ] || harness_fail "the flood did not reach the collector (peak $peak fds)"
flood_started=$SECONDS
back_to_baseline() { [ "$(fds)" -le $((BASELINE + 5)) ]; }
harness_wait_for "descriptors back to the baseline" 30 back_to_baseline
took=$((SECONDS - flood_started))
wait "$flood" || harness_fail "not every flood connection was made: $(cat "$HARNESS_DIR/silent.out")"
out=$(cat "$HARNESS_DIR/silent.out")
grep -q "connected=1000 closed_by_peer=1000" <<<"$out" || harness_fail "silent flood: $out"
harness_log "silent flood: peak $peak fds, back to $(fds) (baseline $BASELINE) within ${took}s; $out"

# idle SP pipes beyond the cap are closed at once
out=$("$FLOOD" sp 127.0.0.1 "$PORT" 60 3)
closed=$(sed -n 's/.*closed_by_peer=\([0-9]*\).*/\1/p' <<<"$out")
# the agent holds one pipe: 60 + 1 - CAP are over the cap
[ "${closed:-0}" -ge $((60 + 1 - CAP)) ] || harness_fail "cap $CAP: only ${closed:-0} of 60 idle pipes closed: $out"
refused=$(curl -sS "http://$COLLECTOR_HTTP_LISTEN/metrics" |
	awk '$1 == "pgfleet_agent_connections_refused_total" {print $2}')
[ "${refused:-0}" -ge $((60 + 1 - CAP)) ] || harness_fail "pgfleet_agent_connections_refused_total is \"$refused\""
grep -q "refused a connection from 127.0.0.1:[0-9]*: $CAP agent connections are open (max_agent_connections)" \
	"$HARNESS_DIR/log/collector.log" || harness_fail "the refused connections were not logged"
harness_wait_for "descriptors back to the baseline after the idle pipes" 30 back_to_baseline
harness_log "idle pipes: $out; $refused refused by the cap"

# the good agent was acknowledged all along
sleep 2
gap=$(sql "SELECT coalesce(max(received_at_us - prev), 0) FROM (SELECT received_at_us,
	lag(received_at_us) OVER (ORDER BY received_at_us) AS prev FROM reports
	WHERE received_at_us >= $start_us) WHERE prev IS NOT NULL")
during=$(sql "SELECT count(*) FROM reports WHERE received_at_us >= $start_us")
[ "$during" -ge 10 ] || harness_fail "only $during reports stored during the flood"
[ "$gap" -le 3000000 ] || harness_fail "a gap of ${gap} us between two acknowledged reports during the flood"
kill -0 "$PID" || harness_fail "collector died"
harness_log "PASS: $during reports acknowledged during the flood, largest gap $((gap / 1000)) ms"

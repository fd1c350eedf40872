#!/usr/bin/env bash
# e2e (reliability T10, tests/RELIABILITY.md): a reconnect storm. 50 agents
# (interval 1 s, all watching the one primary under their own instance
# names) report through tests/tools/tcp_proxy, which logs every connection
# it accepts. The collector is stopped, stays down ~5 s and starts again
# on the same address and store. While it is down, connection attempts
# per second stay below 2 x agents / RECONNMINT (200 ms) = 500/s (the
# agents back off with jitter), and every agent's reports are stored
# again within 60 s of the restart.
source "$(dirname "$0")/../harness/lib.sh"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"
PROXY=$PGFLEET_BIN_DIR/tests/tools/tcp_proxy
AGENTS=${REL_STORM_AGENTS:-50}
RECONNMINT_MS=200 # agent/sender.c

harness_init
harness_start_primary
harness_start_collector --action_listen ""
collector_port=${COLLECTOR_LISTEN##*:}
proxy_port=$(harness_free_port)
harness_spawn proxy "$PROXY" "$proxy_port" "$collector_port" "$HARNESS_DIR/proxy.mode" \
	"$HARNESS_DIR/accepts.log"
sleep 0.3
# statements every second; the other families rarely (after the first
# report, which has them all): 50 agents share two cores
for ((i = 1; i <= AGENTS; i++)); do
	mkdir -p "$HARNESS_DIR/state-s$i"
	harness_spawn "agent-s$i" "$PGFLEET_BIN_DIR/agent/pgfleet-agent" --name "s$i" \
		--conninfo "host=127.0.0.1 port=$PRIMARY_PORT user=postgres dbname=postgres" \
		--collector "tcp://127.0.0.1:$proxy_port" --interval 1s --ack_timeout 2s \
		--activity_interval 60s --replication_interval 60s --tables_interval 300s \
		--indexes_interval 300s --bloat_interval 300s --settings_interval 3600s \
		--action_collector off --state_dir "$HARNESS_DIR/state-s$i" --log_level warning
done
q() { sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" "$1"; }
# instances with a report received after $1 (µs)
reporting_since() {
	q "SELECT count(DISTINCT instance_id) FROM reports WHERE received_at_us > $1
		AND instance_id IN (SELECT instance_id FROM instances WHERE name LIKE 's%')"
}
all_since() { [ "$(reporting_since "$1")" = "$AGENTS" ]; }
now_us() { echo $(($(date +%s%N) / 1000)); }
harness_wait_for "all $AGENTS agents reporting" 60 all_since 0
agent_pids=$(for ((i = 1; i <= AGENTS; i++)); do printf '%s,' "${HARNESS_PIDS[agent-s$i]}"; done)
harness_log "$AGENTS agents reporting; $(ps -o rss= -p "${agent_pids%,}" | awk '{ s += $1 } END { print int(s / 1024) }') MiB RSS in all"

down_ms=$(($(date +%s%N) / 1000000))
harness_stop collector
sleep 5
up_ms=$(($(date +%s%N) / 1000000))
harness_start_collector --action_listen ""
restarted_us=$(now_us)
started=$SECONDS
harness_wait_for "all $AGENTS agents reporting again" 60 all_since "$restarted_us"
harness_log "all $AGENTS agents reconnected $((SECONDS - started)) s after the restart"

# attempts while down: accepted by the proxy, closed at once (no upstream)
read -r total peak < <(awk -v s="$down_ms" -v e="$up_ms" '
	$1 >= s && $1 < e { n++; b[int(($1 - s) / 1000)]++ }
	END { m = 0; for (k in b) if (b[k] > m) m = b[k]; print n + 0, m + 0 }' "$HARNESS_DIR/accepts.log")
limit=$((2 * AGENTS * 1000 / RECONNMINT_MS))
harness_log "while down ($(((up_ms - down_ms) / 1000)) s): $total connection attempts, at most $peak in one second (limit $limit)"
[ "$peak" -lt "$limit" ] || harness_fail "$peak connection attempts in one second (limit $limit)"
[ "$total" -gt 0 ] || harness_fail "no connection attempt while the collector was down: the proxy saw nothing"
for ((i = 1; i <= AGENTS; i++)); do
	kill -0 "${HARNESS_PIDS[agent-s$i]}" 2>/dev/null || harness_fail "agent s$i died"
done
harness_log "PASS: $AGENTS agents, collector restarted: peak $peak attempts/s (< $limit), all back in $((SECONDS - started)) s"

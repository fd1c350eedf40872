#!/usr/bin/env bash
# e2e (reliability T21 and T9, tests/RELIABILITY.md): half-open peers,
# played by tests/tools/tcp_proxy in `blackhole` mode (connections held,
# nothing forwarded).
#   T21 between the agent and Postgres, for BLACKHOLE_S seconds: the
#       agent's client-side deadline (statement_timeout 1s + 2s) ends every
#       round: reports keep reaching the collector (as unreachable) with no
#       gap longer than deadline + connect_timeout + interval + 1 s; after
#       the unblock a report with data comes within a few intervals.
#   T9  between the agent and the collector, for BLACKHOLE_S seconds: the
#       agent keeps collecting (its log says so), and every report made
#       meanwhile is delivered soon after the unblock.
source "$(dirname "$0")/../harness/lib.sh"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"
PROXY=$PGFLEET_BIN_DIR/tests/tools/tcp_proxy
BLACKHOLE_S=${REL_BLACKHOLE_S:-12}

harness_init
harness_start_primary
harness_start_collector
collector_port=${COLLECTOR_LISTEN##*:}
pg_proxy_port=$(harness_free_port)
harness_spawn proxy-pg "$PROXY" "$pg_proxy_port" "$PRIMARY_PORT" "$HARNESS_DIR/pg.mode"
agent_proxy_port=$(harness_free_port)
harness_spawn proxy-collector "$PROXY" "$agent_proxy_port" "$collector_port" "$HARNESS_DIR/collector.mode"
sleep 0.3
# the agent reaches both through the proxies
mkdir -p "$HARNESS_DIR/state-px"
harness_spawn agent-px "$PGFLEET_BIN_DIR/agent/pgfleet-agent" --name px \
	--conninfo "host=127.0.0.1 port=$pg_proxy_port user=postgres dbname=postgres" \
	--collector "tcp://127.0.0.1:$agent_proxy_port" --interval 1s --ack_timeout 2s \
	--statement_timeout 1s --connect_timeout 1s \
	--state_dir "$HARNESS_DIR/state-px" --log_level info
mode() { echo "$2" >"$HARNESS_DIR/$1.mode.tmp" && mv "$HARNESS_DIR/$1.mode.tmp" "$HARNESS_DIR/$1.mode"; }
q() { sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" "$1"; }
reports() { q "SELECT count(*) FROM reports JOIN instances USING (instance_id) WHERE name = 'px'"; }
reports_above() { [ "$(reports)" -gt "$1" ]; }
# collected_at of reports made after $1 (us), one a line, in order
collected_since() {
	q "SELECT collected_at_us FROM reports JOIN instances USING (instance_id)
		WHERE name = 'px' AND collected_at_us > $1 ORDER BY collected_at_us"
}
now_us() { echo $(($(date +%s%N) / 1000)); }
harness_wait_for "first reports through the proxies" 30 reports_above 2

# T21: Postgres half-open
start=$(now_us)
mode pg blackhole
sleep "$BLACKHOLE_S"
mode pg pass
end=$(now_us)
# the agent made reports all along (not hung on the server)
gaps=$(collected_since "$start" | awk -v s="$start" -v e="$end" '
	$1 <= e { if (prev == "") prev = s; if ($1 - prev > max) max = $1 - prev; prev = $1; n++ }
	END { if (prev == "") prev = s; if (e - prev > max) max = e - prev; print n + 0, int(max / 1000) }')
made=${gaps% *}
max_gap_ms=${gaps#* }
harness_log "T21: $made reports during ${BLACKHOLE_S}s of blackholed Postgres, longest gap ${max_gap_ms} ms"
# deadline (1 s + 2 s) + reconnect (connect_timeout 1 s) + interval 1 s + 1 s
[ "$max_gap_ms" -le 6000 ] || harness_fail "T21: the agent stalled ${max_gap_ms} ms on a half-open server"
q "SELECT unreachable_reason FROM instances WHERE name = 'px'" >"$HARNESS_DIR/reason"
# recovers: a report that is not an unreachable one, within a few intervals
recovered() {
	[ -z "$(q "SELECT unreachable_reason FROM instances WHERE name = 'px'")" ] &&
		[ "$(q "SELECT last_collected_us FROM instances WHERE name = 'px'")" -gt "$end" ]
}
harness_wait_for "T21: agent recovers after the unblock" 15 recovered
harness_log "T21: recovered after the unblock"

# T9: collector half-open
before=$(reports)
start=$(now_us)
mode collector blackhole
sleep "$BLACKHOLE_S"
during=$(reports)
mode collector pass
end=$(now_us)
kill -0 "${HARNESS_PIDS[agent-px]}" || harness_fail "T9: agent died"
# delivery resumes within 2 x RECONNMAXT (15 s) of the unblock
delivered_after() { [ -n "$(collected_since "$end" | head -1)" ]; }
harness_wait_for "T9: delivery after the unblock" 30 delivered_after
# the agent kept collecting meanwhile (no gap beyond interval + ack
# timeout + 1 s), and nothing it made was lost: the seqs are contiguous
gaps=$(collected_since "$start" | awk -v s="$start" -v e="$end" '
	$1 <= e { if (prev == "") prev = s; if ($1 - prev > max) max = $1 - prev; prev = $1; n++ }
	END { if (prev == "") prev = s; if (e - prev > max) max = e - prev; print n + 0, int(max / 1000) }')
made=${gaps% *}
max_gap_ms=${gaps#* }
harness_log "T9: $made reports made during ${BLACKHOLE_S}s of blackholed collector ($((during - before)) stored meanwhile), longest gap ${max_gap_ms} ms"
[ "$max_gap_ms" -le 4500 ] || harness_fail "T9: the agent stalled ${max_gap_ms} ms on a half-open collector"
seqs=$(q "SELECT count(*), max(seq) - min(seq) + 1 FROM reports JOIN instances USING (instance_id) WHERE name = 'px'")
[ "${seqs%|*}" = "${seqs#*|}" ] || harness_fail "T9: seqs not contiguous (count|span $seqs)"
harness_log "T9: every report made during the blackhole delivered after it (seqs contiguous: $seqs)"
harness_log "PASS"

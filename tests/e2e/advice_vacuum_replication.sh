#!/usr/bin/env bash
# e2e: vacuum-advice, replication-health and checklist through the
# collector, on a primary with two streaming replicas (r1, r2), an agent
# beside each and one collector:
#   - table v, autovacuum off, 2000 rows analyzed then every second one
#     deleted: 1000 dead of 2000 tuples (50%), more than autovacuum's start
#     point (50 + 0.2 * 2000 = 450): needs_vacuum, high, with the VACUUM to
#     run, and an autovacuum_disabled finding with the RESET to apply;
#   - table ins whose own reloptions say the insert trigger is 100 inserts:
#     500 inserts, no dead tuple: needs_vacuum by the insert variant;
#   - r1's replay paused, then WAL written on the primary: r1's lag grows
#     (trend growing), it is flagged replay_paused; r2 stays ok;
#   - an inactive physical slot reserving WAL (idle_slot), then WAL written:
#     flagged with the WAL it retains, as the primary itself measures it;
#   - the checklist: the evidence the test created (autovacuum off on v
#     and ins: warn; two streaming walsenders: pass; pg_stat_statements);
#   - r2 loses its primary_conninfo: its walreceiver stops, it is flagged
#     not_streaming and its checklist fails "replicas configured".
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary
harness_start_replica r1
harness_start_replica r2
harness_start_collector
FAMILY_FLAGS=(--tables_interval 1s --indexes_interval 1s --bloat_interval 1s
	--replication_interval 1s --settings_interval 1s --activity_interval 1s)
harness_start_agent primary "$PRIMARY_PORT" "${FAMILY_FLAGS[@]}"
harness_start_agent r1 "${REPLICA_PORTS[r1]}" "${FAMILY_FLAGS[@]}"
harness_start_agent r2 "${REPLICA_PORTS[r2]}" "${FAMILY_FLAGS[@]}"

# v: 2000 rows, analyzed (reltuples 2000), then half deleted. One session
# per statement: a session's counters reach the statistics when it ends,
# and ANALYZE must come after them, or they count twice. Nothing reads v
# afterwards, so no page pruning takes dead tuples off the count.
harness_psql "$PRIMARY_PORT" >/dev/null <<'SQL'
CREATE TABLE v (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = off);
CREATE TABLE ins (id int) WITH (autovacuum_enabled = off,
	autovacuum_vacuum_insert_threshold = 100, autovacuum_vacuum_insert_scale_factor = 0);
SQL
harness_psql "$PRIMARY_PORT" -c \
	"INSERT INTO v SELECT g, repeat('x', 50) FROM generate_series(1, 2000) g" >/dev/null
harness_psql "$PRIMARY_PORT" -c "ANALYZE v" >/dev/null
harness_psql "$PRIMARY_PORT" -c "DELETE FROM v WHERE id % 2 = 0" >/dev/null
harness_psql "$PRIMARY_PORT" -c "INSERT INTO ins SELECT generate_series(1, 500)" >/dev/null

# rows COMMAND INSTANCE JQ_SELECT: the JSON rows of COMMAND on INSTANCE
# that JQ_SELECT picks, as one array
rows() {
	pgfleet_cli "$1" --json --limit 1000 --instance "$2" | jq -c "[.[] | select($3)]"
}
# first_row_has COMMAND INSTANCE JQ_SELECT JQ_TEST
first_row_has() {
	local r
	r=$(rows "$1" "$2" "$3") || return 1
	[ "$(jq "(first // null) as \$r | \$r != null and (\$r | $4)" <<<"$r")" = true ]
}
check() {
	local r
	r=$(rows "$1" "$2" "$3") || harness_fail "pgfleet $1 failed"
	[ "$(jq "(first // null) as \$r | \$r != null and (\$r | $4)" <<<"$r")" = true ] ||
		harness_fail "$1: $5 (rows: $r)"
}

# ---- vacuum advice ----
# what the server itself says about v: the figures the advice must show
read -r DEAD LIVE <<<"$(harness_psql "$PRIMARY_PORT" -tAF' ' -c \
	"SELECT n_dead_tup, n_live_tup FROM pg_stat_user_tables WHERE relname = 'v'")"
[ "$DEAD" = 1000 ] && [ "$LIVE" = 1000 ] ||
	harness_fail "the server counts $DEAD dead and $LIVE live tuples in v, not 1000 and 1000"
PERCENT=$(jq -n "($DEAD * 10000 / ($DEAD + $LIVE) | round) / 100")
V='.schema == "public" and .table == "v"'
harness_wait_for "v's 1000 dead tuples in vacuum-advice" 60 \
	first_row_has vacuum-advice primary "$V and .type == \"needs_vacuum\"" ".dead_tuples == $DEAD"
check vacuum-advice primary "$V and .type == \"needs_vacuum\"" \
	".needs_vacuum == true and .dead_tuple_percentage == $PERCENT and .live_tuples == $LIVE
	 and .vacuum_trigger == 450 and .autovacuum_enabled == false and .priority == \"high\"
	 and .recommendation == \"VACUUM (VERBOSE, ANALYZE) public.v;\"
	 and (.evidence | contains(\"1000 dead tuples (50.00% of 2000)\"))
	 and (.evidence | contains(\"reloption autovacuum_enabled is off\"))
	 and .database == \"postgres\"" \
	"v's needs_vacuum finding is wrong"
check vacuum-advice primary "$V and .type == \"autovacuum_disabled\"" \
	'.recommendation == "ALTER TABLE public.v RESET (autovacuum_enabled);"
	 and .priority == "high" and (.evidence | contains("reloption"))' \
	"v's autovacuum_disabled finding is wrong"
harness_wait_for "ins's 500 inserts in vacuum-advice" 30 \
	first_row_has vacuum-advice primary '.table == "ins" and .type == "needs_vacuum"' \
	'.inserts_since_vacuum == 500'
check vacuum-advice primary '.table == "ins" and .type == "needs_vacuum"' \
	'.needs_vacuum == true and .dead_tuples == 0 and .insert_trigger == 100
	 and (.evidence | contains("500 inserts since the last vacuum"))' \
	"ins is not judged by its own insert trigger"
# the most urgent first: v's high findings before anything lower
pgfleet_cli vacuum-advice --json --instance primary |
	jq -e '[.[].priority | {"high": 3, "medium": 2, "low": 1}[.]] as $p | $p == ($p | sort | reverse)' \
		>/dev/null || harness_fail "vacuum-advice is not ordered by priority"
# a standby gets no vacuum advice: it is read-only, counts no dead tuples
# of its own, and its tables are the primary's
harness_wait_for "r1's tables" 30 first_row_has table-stats r1 "$V" 'true'
[ "$(pgfleet_cli vacuum-advice --json --instance r1 | jq length)" = 0 ] ||
	harness_fail "vacuum-advice has findings for the standby r1"
harness_log "vacuum-advice: v needs a vacuum (50% dead), autovacuum off, ins by its insert trigger"

# ---- replication ----
harness_psql "$PRIMARY_PORT" -c \
	"SELECT pg_create_physical_replication_slot('idle_slot', true)" >/dev/null
harness_wait_for "r1 and r2 ok in replication-health" 30 \
	first_row_has replication-health r2 '.type == "replica"' '.status == "ok" and .receiver_status == "streaming"'
harness_psql "${REPLICA_PORTS[r1]}" -c "SELECT pg_wal_replay_pause()" >/dev/null
harness_wait_for "r1's replay paused" 30 harness_query_is "${REPLICA_PORTS[r1]}" t \
	"SELECT pg_is_wal_replay_paused()"
# WAL in steps, so the stored lag history sees it grow
harness_psql "$PRIMARY_PORT" -c "CREATE TABLE w (pad text)" >/dev/null
for step in 1 2 3 4; do
	harness_psql "$PRIMARY_PORT" -c \
		"INSERT INTO w SELECT repeat('w', 500) FROM generate_series(1, 3000)" >/dev/null
	sleep 1.5
done
# r1 has received it all (walreceiver keeps streaming while replay waits)
PRIMARY_LSN=$(harness_psql "$PRIMARY_PORT" -tAc "SELECT pg_current_wal_lsn()")
harness_wait_for "r1 received the WAL" 30 harness_query_is "${REPLICA_PORTS[r1]}" t \
	"SELECT pg_last_wal_receive_lsn() >= '$PRIMARY_LSN'"
R1_LAG=$(harness_psql "${REPLICA_PORTS[r1]}" -tAc \
	"SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::int8")
[ "$R1_LAG" -gt 4000000 ] || harness_fail "r1 is only $R1_LAG bytes behind after the writes"
harness_wait_for "r1's lag ($R1_LAG bytes) in replication-health" 30 \
	first_row_has replication-health r1 '.type == "replica"' ".lag_bytes >= $R1_LAG"
check replication-health r1 '.type == "replica"' \
	".status == \"replay_paused\" and .replay_paused == true and .priority == \"high\"
	 and .trend == \"growing\" and .window_max_lag_bytes >= $R1_LAG
	 and .window_first_lag_bytes < .window_max_lag_bytes and .lag_bytes_per_minute > 0
	 and .receiver_status == \"streaming\" and .upstream == \"primary\"
	 and (.recommendation | contains(\"pg_wal_replay_resume()\"))
	 and (.evidence | contains(\"replay PAUSED\"))" \
	"r1 is not flagged as paused with a growing lag"
check replication-health r2 '.type == "replica"' \
	'.status == "ok" and .replay_paused == false and .lag_bytes < 1048576' \
	"r2 is not ok"
harness_log "replication-health: r1 paused, lag $R1_LAG bytes and growing; r2 ok"

# the slot: what it retains as the primary measures it, between the
# moment before and after the agent's latest reading
SLOT_NOW=$(harness_psql "$PRIMARY_PORT" -tAc "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(),
	restart_lsn)::int8 FROM pg_replication_slots WHERE slot_name = 'idle_slot'")
[ "$SLOT_NOW" -gt 4000000 ] || harness_fail "idle_slot retains only $SLOT_NOW bytes"
harness_wait_for "idle_slot's retained WAL in replication-health" 30 \
	first_row_has replication-health primary '.slot_name == "idle_slot"' \
	".retained_bytes >= $SLOT_NOW"
SLOT_AFTER=$(harness_psql "$PRIMARY_PORT" -tAc "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(),
	restart_lsn)::int8 FROM pg_replication_slots WHERE slot_name = 'idle_slot'")
check replication-health primary '.slot_name == "idle_slot"' \
	".type == \"slot\" and .status == \"inactive_slot\" and .slot_active == false
	 and .retained_bytes <= $SLOT_AFTER and .wal_status == \"reserved\"
	 and (.retained_size | test(\"^[0-9]+ (kB|MB)$\"))
	 and (.recommendation | contains(\"pg_drop_replication_slot('idle_slot')\"))
	 and (.evidence | contains(\"inactive\"))" \
	"idle_slot is not flagged with its retained WAL"
harness_log "replication-health: idle_slot inactive, retains about $SLOT_NOW bytes"

# ---- checklist ----
item() { printf '.item == "%s"' "$1"; }
harness_wait_for "the primary's checklist" 30 \
	first_row_has checklist primary "$(item "bloat monitored")" '.status != ""'
check checklist primary "$(item "autovacuum configured")" \
	'.status == "warn" and (.evidence | contains("off for 2 of"))
	 and (.evidence | contains("postgres.public.v")) and (.evidence | contains("postgres.public.ins"))' \
	"autovacuum configured does not warn about v and ins"
check checklist primary "$(item "pg_stat_statements enabled")" \
	'.status == "pass" and (.evidence | contains("pg_stat_statements"))' \
	"pg_stat_statements enabled does not pass"
check checklist primary "$(item "replicas configured")" \
	'.status == "pass" and (.evidence | contains("2 of 2 walsenders streaming"))' \
	"replicas configured does not see the two replicas"
check checklist primary "$(item "bloat monitored")" \
	'.status == "warn" and (.evidence | contains("postgres.public.v"))' \
	"bloat monitored does not name v, which needs a vacuum"
check checklist primary "$(item "slow query monitoring active")" \
	'.status == "pass"' "slow query monitoring is not active"
check checklist primary "$(item "pool sized")" \
	'.status == "pass" and (.evidence | test("max_connections 100"))' "pool sized is wrong"
check checklist r1 "$(item "replicas configured")" \
	'.status == "pass" and .role == "replica" and (.evidence | contains("walreceiver streaming"))' \
	"r1's replicas configured is wrong"
N=$(pgfleet_cli checklist --json --instance primary | jq length)
[ "$N" = 7 ] || harness_fail "the primary's checklist has $N items, not 7"
# the table output names the items
pgfleet_cli checklist --instance primary >"$HARNESS_DIR/checklist.txt"
grep -q "autovacuum configured" "$HARNESS_DIR/checklist.txt" ||
	harness_fail "the checklist table has no item column"
harness_log "checklist: autovacuum warn (v, ins), replicas pass, pg_stat_statements pass"

# resume r1: it catches up and is ok again
harness_psql "${REPLICA_PORTS[r1]}" -c "SELECT pg_wal_replay_resume()" >/dev/null
harness_wait_for "r1 ok after resume" 30 \
	first_row_has replication-health r1 '.type == "replica"' '.status == "ok" and .replay_paused == false'
harness_log "replication-health: r1 ok after resume"

# r2 stops streaming: without primary_conninfo its walreceiver goes away,
# and the primary's walsender for it with it
harness_psql "${REPLICA_PORTS[r2]}" -c "ALTER SYSTEM SET primary_conninfo = ''" >/dev/null
harness_psql "${REPLICA_PORTS[r2]}" -c "SELECT pg_reload_conf()" >/dev/null
harness_wait_for "r2's walreceiver gone" 30 harness_query_is "${REPLICA_PORTS[r2]}" 0 \
	"SELECT count(*) FROM pg_stat_wal_receiver"
harness_wait_for "r2 not streaming in replication-health" 30 \
	first_row_has replication-health r2 '.type == "replica"' '.status == "not_streaming"'
check replication-health r2 '.type == "replica"' \
	'.priority == "high" and .receiver_status == "" and (.evidence | contains("walreceiver absent"))
	 and (.recommendation | contains("primary_conninfo"))' \
	"r2 is not flagged as not streaming"
harness_wait_for "r2's checklist fails replicas configured" 30 \
	first_row_has checklist r2 "$(item "replicas configured")" \
	'.status == "fail" and (.evidence | contains("walreceiver absent"))'
harness_log "replication-health: r2 stopped streaming, flagged; its checklist fails"

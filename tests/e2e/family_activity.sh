#!/usr/bin/env bash
# e2e: the activity and replication families report what the test caused.
# On the primary:
#   - a session idle in a transaction for 2+ s is listed (with its ages) and
#     counted in its connection group and the totals,
#   - a session waiting for a table another session locked gives one
#     blocking pair (both pids, both queries, the table, the lock mode),
#   - a pg_sleep older than --long_query_threshold 1s is long-running,
#   - the replica's walsender is streaming, and an unused physical slot is
#     inactive and holds back WAL;
# on the replica, with replay paused while the primary writes:
#   - replay is paused, its lag in bytes is positive and grows with more
#     writes, the upstream is the primary; after resuming it catches up.
# No family reports a problem on either server.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary
harness_start_replica

# Background sessions read their SQL from a FIFO the test keeps open, so
# they stay in whatever state the last statement left them (idle in a
# transaction, waiting for a lock) until the FIFO is closed.
declare -A SESSION_PIDS=() SESSION_FDS=()
# session_open NAME: a psql session on the primary with application_name NAME
session_open() {
	local name=$1 fifo=$HARNESS_DIR/session-$1.in fd
	mkfifo "$fifo"
	(
		# not the other sessions' FIFOs: each must see its own EOF
		for fd in "${SESSION_FDS[@]}"; do exec {fd}>&-; done
		PGAPPNAME=$name harness_psql "$PRIMARY_PORT" <"$fifo" \
			>"$HARNESS_DIR/log/session-$name.log" 2>&1
	) &
	SESSION_PIDS[$name]=$!
	exec {fd}>"$fifo"
	SESSION_FDS[$name]=$fd
}
# session_send NAME SQL: SQL to the session, not waiting for it
session_send() { echo "$2" >&"${SESSION_FDS[$1]}"; }
# session_close_all: ends the sessions' backends, then closes every FIFO
# (EOF ends psql) before waiting for any psql
session_close_all() {
	local name fd
	harness_psql "$PRIMARY_PORT" -tAc "SELECT count(pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE application_name IN ('idler', 'blocker', 'waiter', 'sleeper')" \
		>/dev/null || true
	for name in "${!SESSION_FDS[@]}"; do
		fd=${SESSION_FDS[$name]}
		exec {fd}>&-
	done
	for name in "${!SESSION_PIDS[@]}"; do
		wait "${SESSION_PIDS[$name]}" 2>/dev/null || true
	done
	SESSION_FDS=()
	SESSION_PIDS=()
}
# pid_of NAME: the backend pid of session NAME
pid_of() {
	harness_psql "$PRIMARY_PORT" -tAc \
		"SELECT pid FROM pg_stat_activity WHERE application_name = '$1'"
}
# report PORT [flags]: one report as JSON; the agent's stderr goes to a log
# the harness checks for sanitizer reports
report() {
	harness_agent_once "$@" 2>>"$HARNESS_DIR/log/agent-once.log"
}
# check DESCRIPTION JSON JQ_FILTER: the filter must print true
check() {
	local got
	got=$(jq -r "$3" <<<"$2") || harness_fail "$1: jq failed"
	[ "$got" = true ] || {
		jq '{activity, replication}' <<<"$2" >&2
		harness_fail "$1"
	}
}

harness_psql "$PRIMARY_PORT" -c "CREATE TABLE x (i int)" \
	-c "INSERT INTO x SELECT generate_series(1, 100)" >/dev/null

# ---- activity on the primary ----
session_open idler
session_send idler "BEGIN; SELECT 1 AS held;"
session_open blocker
session_send blocker "BEGIN; LOCK TABLE x IN ACCESS EXCLUSIVE MODE;"
harness_wait_for "blocker holding the lock" 20 harness_query_is "$PRIMARY_PORT" t \
	"SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	 WHERE a.application_name = 'blocker' AND l.relation = 'x'::regclass AND l.granted"
session_open waiter
session_send waiter "SELECT count(*) AS waited FROM x;"
session_open sleeper
# a text longer than the smallest max_query_text (64 bytes)
session_send sleeper "SELECT pg_sleep(120) AS sleeper_with_a_query_text_longer_than_sixty_four_bytes;"
harness_wait_for "waiter waiting for the lock" 20 harness_query_is "$PRIMARY_PORT" t \
	"SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE application_name = 'waiter' AND wait_event_type = 'Lock'"
harness_wait_for "idler idle in transaction for 2 s" 20 harness_query_is "$PRIMARY_PORT" t \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'idler'
	 AND state = 'idle in transaction' AND now() - xact_start > interval '2.2 s'"
harness_wait_for "sleeper active for 1.5 s" 20 harness_query_is "$PRIMARY_PORT" t \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'sleeper'
	 AND state = 'active' AND now() - query_start > interval '1.5 s'"
IDLER=$(pid_of idler)
BLOCKER=$(pid_of blocker)
WAITER=$(pid_of waiter)
SLEEPER=$(pid_of sleeper)
MAX_CONNECTIONS=$(harness_psql "$PRIMARY_PORT" -tAc "SHOW max_connections")
harness_log "sessions: idler $IDLER, blocker $BLOCKER, waiter $WAITER, sleeper $SLEEPER"

json=$(report "$PRIMARY_PORT" --long_query_threshold 1s)
check "activity has problems" "$json" '.activity.problems == []'
check "idler not listed idle in transaction for 2+ s" "$json" \
	"[.activity.idle_in_transaction[] | select(.pid == $IDLER and .application_name == \"idler\"
	  and .state == \"idle in transaction\" and .xact_age_seconds >= 2
	  and .state_age_seconds >= 2 and (.query | contains(\"held\")))] | length == 1"
check "idle in transaction list not oldest first" "$json" \
	'[.activity.idle_in_transaction[].xact_age_seconds] as $a | $a == ($a | sort | reverse)'
check "blocker not listed idle in transaction" "$json" \
	"[.activity.idle_in_transaction[] | select(.pid == $BLOCKER)] | length == 1"
check "idler group not counted" "$json" \
	'[.activity.connections[] | select(.application_name == "idler"
	  and .state == "idle in transaction" and .database == "postgres"
	  and .user == "postgres" and .client_addr == "127.0.0.1" and .count == 1
	  and .max_state_age_seconds >= 2)] | length == 1'
check "waiter group not counted as waiting" "$json" \
	'[.activity.connections[] | select(.application_name == "waiter"
	  and .state == "active" and .count == 1 and .waiting == 1)] | length == 1'
check "totals wrong" "$json" \
	'.activity.idle_in_transaction_count >= 2 and .activity.active >= 2
	 and .activity.waiting >= 1 and .activity.total_connections >= 4
	 and .activity.invisible_backends == 0'
check "connection limits wrong" "$json" \
	".activity.max_connections == $MAX_CONNECTIONS and .activity.superuser_reserved_connections == 3"
check "blocking pair missing" "$json" \
	"[.activity.blocking[] | select(.blocked_pid == $WAITER and .blocking_pid == $BLOCKER
	  and (.blocked_query | contains(\"waited\")) and (.blocking_query | contains(\"LOCK TABLE x\"))
	  and .locked_relation == \"x\" and .lock_mode == \"AccessShareLock\"
	  and .blocking_state == \"idle in transaction\" and .blocked_seconds > 0)] | length == 1"
check "blocking has other pairs" "$json" '.activity.blocking | length == 1'
check "sleeper not long-running" "$json" \
	"[.activity.long_running[] | select(.pid == $SLEEPER and (.query | contains(\"pg_sleep\"))
	  and .query_age_seconds >= 1 and .wait_event == \"PgSleep\")] | length == 1"
check "idle backend listed as long-running" "$json" \
	"[.activity.long_running[] | select(.pid == $IDLER or .pid == $BLOCKER)] | length == 0"
check "agent lists itself" "$json" \
	'[.activity.connections[] | select(.application_name == "pgfleet-agent")] | length == 0'
# the default threshold (30 s) names none of these
json=$(report "$PRIMARY_PORT")
check "long_running below the default threshold" "$json" \
	"[.activity.long_running[] | select(.pid == $SLEEPER)] | length == 0"
# the query text is cut at max_query_text bytes
json=$(report "$PRIMARY_PORT" --long_query_threshold 1s --max_query_text 64)
check "long query text not cut at 64 bytes" "$json" \
	"[.activity.long_running[] | select(.pid == $SLEEPER and .query_truncated == true
	  and (.query | length) == 64 and (.query | startswith(\"SELECT pg_sleep(120)\")))] | length == 1"
check "short query text cut" "$json" \
	"[.activity.idle_in_transaction[] | select(.pid == $IDLER and .query_truncated == false)] | length == 1"
# a role without pg_read_all_stats sees the sessions, not what they do
harness_psql "$PRIMARY_PORT" -c "CREATE ROLE plain LOGIN" >/dev/null
json=$(report "$PRIMARY_PORT" --long_query_threshold 1s \
	--conninfo "host=127.0.0.1 port=$PRIMARY_PORT user=plain dbname=postgres")
check "activity has problems for a plain role" "$json" '.activity.problems == []'
check "hidden backends not counted" "$json" \
	'.activity.invisible_backends >= 4 and .activity.total_connections >= 4
	 and ([.activity.connections[] | select(.application_name == "idler" and .state == ""
	       and .user == "postgres" and .count == 1)] | length == 1)
	 and .activity.long_running == [] and .activity.idle_in_transaction == []'
harness_log "activity on the primary: as expected"

# ---- replication on the primary ----
harness_psql "$PRIMARY_PORT" -tAc \
	"SELECT pg_create_physical_replication_slot('idle_slot', true)" >/dev/null
harness_psql "$PRIMARY_PORT" -c "CREATE TABLE y (i int)" \
	-c "INSERT INTO y SELECT generate_series(1, 10000)" >/dev/null
json=$(report "$PRIMARY_PORT")
check "replication has problems" "$json" '.replication.problems == []'
check "no streaming replica" "$json" \
	'[.replication.replicas[] | select(.state == "streaming" and .client_addr == "127.0.0.1"
	  and .replay_lsn > 0 and .sent_lsn >= .replay_lsn and .backend_start_us > 0)] | length == 1'
check "idle_slot wrong" "$json" \
	'[.replication.slots[] | select(.slot_name == "idle_slot" and .slot_type == "physical"
	  and .active == false and .active_pid == 0 and .temporary == false
	  and .restart_lsn > 0 and .wal_status == "reserved"
	  and .retained_bytes > 100000)] | length == 1'
check "primary reports a standby status" "$json" '.replication.standby == null'
check "current_wal_lsn or timeline wrong" "$json" \
	'.replication.current_wal_lsn as $c | $c > 0 and .replication.timeline_id == 1
	 and all(.replication.slots[]; .restart_lsn <= $c)'
harness_log "replication on the primary: as expected"

session_close_all
harness_log "background sessions closed"

# ---- the replica, replay paused ----
# standby_lag: the replica's own view, receive - replay, in bytes
standby_lag() {
	harness_psql "$REPLICA_PORT" -tAc \
		"SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::int8"
}
lag_above() { [ "$(standby_lag)" -gt "$1" ]; }

harness_psql "$REPLICA_PORT" -tAc "SELECT pg_wal_replay_pause()" >/dev/null
harness_wait_for "replay paused" 20 harness_query_is "$REPLICA_PORT" paused \
	"SELECT pg_get_wal_replay_pause_state()"
harness_psql "$PRIMARY_PORT" -c "INSERT INTO y SELECT generate_series(1, 1000)" >/dev/null
harness_wait_for "replica receiving but not replaying" 20 lag_above 0
json=$(report "$REPLICA_PORT")
check "replication has problems on the replica" "$json" '.replication.problems == []'
check "activity has problems on the replica" "$json" '.activity.problems == []'
check "standby status wrong" "$json" \
	".replication.standby.replay_paused == true and .replication.standby.replay_lag_bytes > 0
	 and .replication.standby.receive_lsn > .replication.standby.replay_lsn
	 and .replication.standby.upstream_port == $PRIMARY_PORT
	 and .replication.standby.upstream_host == \"127.0.0.1\"
	 and .replication.standby.receiver_status == \"streaming\"
	 and .replication.standby.last_msg_receipt_us > 0
	 and .replication.timeline_id == 1 and .replication.current_wal_lsn == 0"
lag1=$(jq '.replication.standby.replay_lag_bytes' <<<"$json")

harness_psql "$PRIMARY_PORT" -c "INSERT INTO y SELECT generate_series(1, 1000)" >/dev/null
harness_wait_for "more WAL received" 20 lag_above "$lag1"
json=$(report "$REPLICA_PORT")
check "replay lag did not grow past $lag1" "$json" \
	".replication.standby.replay_paused == true and .replication.standby.replay_lag_bytes > $lag1"
harness_log "replica paused: lag grew from $lag1 to $(jq '.replication.standby.replay_lag_bytes' <<<"$json") bytes"

harness_psql "$REPLICA_PORT" -tAc "SELECT pg_wal_replay_resume()" >/dev/null
harness_wait_for "replica caught up" 20 harness_query_is "$REPLICA_PORT" 0 \
	"SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::int8"
json=$(report "$REPLICA_PORT")
check "standby still paused or behind" "$json" \
	'.replication.standby.replay_paused == false and .replication.standby.replay_lag_bytes == 0
	 and .replication.standby.last_replay_us > 0'
harness_log "PASS: activity and replication families report what the test caused"

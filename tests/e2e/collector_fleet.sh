#!/usr/bin/env bash
# e2e: the collector's fleet model, from real servers and agents.
# Two clusters: the harness primary with its streaming replica, and a lone
# primary initdb'd separately (its own system_identifier). Checked:
#   - `pgfleet fleet`: two clusters, primary first with the replica beside
#     it (same cluster, roles right, the replica's upstream is the
#     primary), every instance ok;
#   - `pgfleet replication`: the replica streaming from the primary, lag in
#     bytes >= 0; with replay paused on the replica while the primary
#     writes, its standby row says replay_paused;
#   - `pgfleet activity`: a session idle in a transaction is listed;
#   - the lone server's agent stopped: its status becomes "stale"; the agent
#     back and Postgres stopped: "down";
#   - failover: the replica promoted becomes a primary of the same cluster
#     (no new cluster) and its role change is dated; the old primary,
#     rebuilt as its standby, comes back as a replica of the same cluster;
#   - the table outputs (no --json) print their headers.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init

# lone_start: a second, unrelated server in $HARNESS_DIR/lone on
# $LONE_PORT, set up like harness_start_primary's.
LONE_DATA=$HARNESS_DIR/lone
lone_start() {
	LONE_PORT=$(harness_free_port)
	as_postgres "$PG_BIN/initdb" -D "$LONE_DATA" -U postgres -A trust --no-sync -E UTF8 \
		>"$HARNESS_DIR/log/initdb-lone.log" 2>&1 || harness_fail "initdb of the lone server failed"
	cat >>"$LONE_DATA/postgresql.conf" <<CONF
port = $LONE_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$HARNESS_DIR'
shared_preload_libraries = 'pg_stat_statements'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
CONF
	as_postgres "$PG_BIN/pg_ctl" -D "$LONE_DATA" -l "$LONE_DATA/server.log" -w -t 60 start \
		>/dev/null || { cat "$LONE_DATA/server.log" >&2; harness_fail "lone server did not start"; }
	harness_log "lone server up on 127.0.0.1:$LONE_PORT"
}
lone_stop() {
	[ -f "$LONE_DATA/postmaster.pid" ] || return 0
	as_postgres "$PG_BIN/pg_ctl" -D "$LONE_DATA" stop -m "${1:-immediate}" -w >/dev/null 2>&1 || true
}
# the harness tears down only its own servers: stop the lone one first,
# keeping the exit status for harness_cleanup
trap 'rc=$?; lone_stop; (exit $rc); harness_cleanup' EXIT

harness_start_primary
harness_start_replica
lone_start
harness_start_collector
harness_start_agent primary "$PRIMARY_PORT"
harness_start_agent replica "$REPLICA_PORT"
harness_start_agent lone "$LONE_PORT"

# check DESCRIPTION JSON JQ_FILTER: the filter must print true
check() {
	local got
	got=$(jq -r "$3" <<<"$2") || harness_fail "$1: jq failed on: $2"
	[ "$got" = true ] || {
		echo "$2" >&2
		harness_fail "$1"
	}
}
fleet() { pgfleet_cli fleet --json; }
# fleet_is JQ_FILTER: the fleet answer satisfies the filter
fleet_is() { [ "$(fleet | jq -r "$1")" = true ]; }
status_is() { fleet_is "any(.[]; .instance == \"$1\" and .status == \"$2\")"; }

harness_wait_for "three instances ok" 30 fleet_is \
	'length == 3 and all(.[]; .status == "ok") and any(.[]; .instance == "replica" and .role == "replica" and .timeline_id > 0)'
harness_wait_for "the replica's upstream" 30 fleet_is \
	'any(.[]; .instance == "replica" and .upstream == "primary")'
F=$(fleet)
CLUSTER=$(jq -r '.[] | select(.instance == "primary") | .cluster' <<<"$F")
LONE_CLUSTER=$(jq -r '.[] | select(.instance == "lone") | .cluster' <<<"$F")
check "two clusters" "$F" '[.[].cluster] | unique | length == 2'
check "primary and replica share a cluster" "$F" \
	"[.[] | select(.cluster == \"$CLUSTER\") | .instance] | sort == [\"primary\", \"replica\"]"
check "the lone server is its own cluster" "$F" \
	"[.[] | select(.cluster == \"$LONE_CLUSTER\") | .instance] == [\"lone\"] and \"$LONE_CLUSTER\" != \"$CLUSTER\""
check "roles" "$F" \
	'(.[] | select(.instance == "primary") | .role == "primary") and (.[] | select(.instance == "lone") | .role == "primary")'
check "the primary comes first in its cluster" "$F" \
	"[.[] | select(.cluster == \"$CLUSTER\") | .instance] == [\"primary\", \"replica\"]"
check "ordered by cluster" "$F" '[.[].cluster] == ([.[].cluster] | sort)'
check "times and versions" "$F" \
	'all(.[]; (.last_seen | test("^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$")) and .last_seen_us > 0 and .first_seen_us > 0 and .server_version != "" and .agent_version != "" and .report_interval_ms == 1000 and .role_changed_us == 0 and .stale == false)'
check "replica lag" "$F" \
	'.[] | select(.instance == "replica") | .replay_lag_bytes >= 0 and .replay_paused == false'
check "--cluster filters" "$(pgfleet_cli fleet --json --cluster "$LONE_CLUSTER")" \
	'[.[].instance] == ["lone"]'
check "--instance filters" "$(pgfleet_cli fleet --json --instance replica)" \
	'[.[].instance] == ["replica"]'
harness_log "fleet: two clusters, roles and upstream right"

# replication, as the primary and the standby see it
replication() { pgfleet_cli replication --json; }
replication_is() { [ "$(replication | jq -r "$1")" = true ]; }
harness_wait_for "the replica streaming in replication" 30 replication_is \
	'any(.[]; .kind == "replica" and .instance == "primary" and .state == "streaming" and .replay_lag_bytes >= 0)'
harness_wait_for "the standby row" 30 replication_is \
	'any(.[]; .kind == "standby" and .instance == "replica" and .upstream == "primary" and .state == "streaming")'
R=$(replication)
check "the walsender is matched to the replica instance" "$R" \
	'any(.[]; .kind == "replica" and .instance == "primary" and .replica == "replica")'
check "the lone server has no replication rows but its own" "$R" \
	'all(.[]; .instance != "lone" or .kind == "slot")'
harness_psql "$REPLICA_PORT" -c "SELECT pg_wal_replay_pause()" >/dev/null
harness_psql "$PRIMARY_PORT" -c "CREATE TABLE fleet_t AS SELECT generate_series(1, 10000) AS i" >/dev/null
harness_wait_for "replay paused in replication" 30 replication_is \
	'any(.[]; .kind == "standby" and .instance == "replica" and .replay_paused == true and .replay_lag_bytes > 0)'
harness_wait_for "replay paused in fleet" 30 fleet_is \
	'any(.[]; .instance == "replica" and .replay_paused == true and .replay_lag_bytes > 0)'
harness_psql "$REPLICA_PORT" -c "SELECT pg_wal_replay_resume()" >/dev/null
harness_wait_for "replay resumed" 30 replication_is \
	'any(.[]; .kind == "standby" and .instance == "replica" and .replay_paused == false)'
harness_log "replication: streaming, paused and resumed"

# activity: a session idle in a transaction
mkfifo "$HARNESS_DIR/idler.in"
(PGAPPNAME=fleet_idler harness_psql "$PRIMARY_PORT" <"$HARNESS_DIR/idler.in" \
	>"$HARNESS_DIR/log/idler.log" 2>&1) &
IDLER_PID=$!
exec {IDLER_FD}>"$HARNESS_DIR/idler.in"
echo "BEGIN; SELECT 'fleet_idle_marker';" >&"$IDLER_FD"
activity_is() { [ "$(pgfleet_cli activity --json | jq -r "$1")" = true ]; }
harness_wait_for "the idle-in-transaction session" 30 activity_is \
	'any(.idle_in_transaction[]; .instance == "primary" and .application_name == "fleet_idler" and (.query | contains("fleet_idle_marker")) and .pid > 0 and .state == "idle in transaction")'
A=$(pgfleet_cli activity --json)
check "activity totals" "$A" \
	'any(.instances[]; .instance == "primary" and .idle_in_transaction >= 1 and .total_connections >= 1 and .max_connections > 0 and .stale == false)'
check "activity groups" "$A" \
	'any(.connections[]; .instance == "primary" and .application_name == "fleet_idler" and .state == "idle in transaction" and .count == 1)'
check "activity lists" "$A" 'has("long_running") and has("blocking")'
check "--database filters activity" "$(pgfleet_cli activity --json --database nosuchdb)" \
	'(.connections | length) == 0 and (.idle_in_transaction | length) == 0'
# the table output, while the session is still there
pgfleet_cli activity >"$HARNESS_DIR/activity.txt"
for word in idle_in_transaction connections fleet_idler; do
	grep -q "$word" "$HARNESS_DIR/activity.txt" || harness_fail "activity output has no $word"
done
exec {IDLER_FD}>&-
wait "$IDLER_PID" || true
harness_log "activity: the idle-in-transaction session is listed"

# the table outputs print their headers
pgfleet_cli fleet >"$HARNESS_DIR/fleet.txt"
for column in cluster instance role status upstream replay_lag_bytes last_seen; do
	grep -q "$column" "$HARNESS_DIR/fleet.txt" || harness_fail "fleet table has no column $column"
done
pgfleet_cli replication >"$HARNESS_DIR/replication.txt"
for column in kind instance replica upstream state replay_lag_bytes replay_paused; do
	grep -q "$column" "$HARNESS_DIR/replication.txt" || harness_fail "replication table has no column $column"
done

# stale: the lone server's agent stops reporting
harness_stop agent-lone TERM
harness_wait_for "lone stale" 15 status_is lone stale
check "stale rows say so" "$(fleet)" \
	'.[] | select(.instance == "lone") | .stale == true'
check "others stay ok" "$(fleet)" \
	'all(.[]; .instance == "lone" or .status == "ok")'
harness_log "fleet: an instance without reports is stale"

# down: the agent reports, Postgres is gone
harness_start_agent lone "$LONE_PORT"
harness_wait_for "lone ok again" 30 status_is lone ok
lone_stop fast
harness_wait_for "lone down" 30 status_is lone down
check "down says why" "$(fleet)" \
	'.[] | select(.instance == "lone") | .unreachable_reason != "" and .role == "primary"'
harness_log "fleet: an unreachable Postgres is down"

# failover: the replica is promoted
as_postgres "$PG_BIN/pg_ctl" -D "$HARNESS_DIR/replica" promote -w >/dev/null ||
	harness_fail "promotion failed"
harness_wait_for "the promoted replica is a primary" 30 fleet_is \
	'any(.[]; .instance == "replica" and .role == "primary")'
F=$(fleet)
check "same cluster after failover" "$F" \
	"[.[] | select(.instance == \"primary\" or .instance == \"replica\") | .cluster] == [\"$CLUSTER\", \"$CLUSTER\"]"
check "still two clusters" "$F" '[.[].cluster] | unique | length == 2'
check "the role change is dated" "$F" \
	'.[] | select(.instance == "replica") | .role_changed_us > 0 and .role_changed != "" and .upstream == "" and .replay_lag_bytes == 0'
check "the primary's role never changed" "$F" \
	'.[] | select(.instance == "primary") | .role_changed_us == 0'
harness_wait_for "no standby row after promotion" 30 replication_is \
	'all(.[]; .kind != "standby")'

# the old primary rejoins as a standby of the promoted one (rebuilt from it
# with pg_basebackup on its old port, as after a failover without
# pg_rewind): same instance, same cluster, its role change dated, its
# upstream the new primary
as_postgres "$PG_BIN/pg_ctl" -D "$HARNESS_DIR/primary" stop -m fast -w >/dev/null ||
	harness_fail "the old primary did not stop"
rm -rf "$HARNESS_DIR/primary"
as_postgres "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres \
	-D "$HARNESS_DIR/primary" -R -X stream --no-sync >"$HARNESS_DIR/log/rejoin.log" 2>&1 ||
	harness_fail "pg_basebackup of the old primary from the promoted one failed"
echo "port = $PRIMARY_PORT" >>"$HARNESS_DIR/primary/postgresql.conf"
as_postgres "$PG_BIN/pg_ctl" -D "$HARNESS_DIR/primary" -l "$HARNESS_DIR/primary/server.log" \
	-w -t 60 start >/dev/null || harness_fail "the old primary did not start as a standby"
harness_wait_for "the old primary reporting as a replica" 40 fleet_is \
	'any(.[]; .instance == "primary" and .role == "replica")'
harness_wait_for "the old primary's upstream" 30 fleet_is \
	'any(.[]; .instance == "primary" and .upstream == "replica")'
F=$(fleet)
check "same cluster after the old primary rejoined" "$F" \
	"[.[] | select(.instance == \"primary\" or .instance == \"replica\") | .cluster] == [\"$CLUSTER\", \"$CLUSTER\"]"
check "still two clusters after the rejoin" "$F" '[.[].cluster] | unique | length == 2'
check "the old primary's role change is dated" "$F" \
	'.[] | select(.instance == "primary") | .role_changed_us > 0 and .role_changed != ""'
harness_log "PASS: fleet, replication, activity, stale, down, failover and the old primary's rejoin"

#!/usr/bin/env bash
# e2e: the pool family reads a real pgbouncer's admin console.
#   - 5 clients sleep through a transaction pool of 3: the agent sees
#     clients waiting, at most 3 server connections active, the pool's
#     settings from SHOW CONFIG, and the queries counted by SHOW STATS;
#   - without --pgbouncer_conninfo the report has no pool family;
#   - with a pgbouncer that is not there, the pool family carries one
#     problem and every other family is still collected.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
PGBOUNCER=$(command -v pgbouncer || ls /usr/sbin/pgbouncer 2>/dev/null || true)
[ -n "$PGBOUNCER" ] || harness_fail "pgbouncer is required (deploy/install-deps.sh installs it)"

harness_init
harness_start_primary

# pgbouncer refuses to run as root: run it as postgres, with setpriv so
# that the pid harness_spawn records is pgbouncer's own (cleanup stops it)
run_pgbouncer() {
	if [ "$(id -u)" = 0 ]; then
		exec setpriv --reuid=postgres --regid=postgres --init-groups "$PGBOUNCER" "$@"
	fi
	exec "$PGBOUNCER" "$@"
}

PGB_PORT=$(harness_free_port)
mkdir -p "$HARNESS_DIR/pgbouncer"
echo '"postgres" ""' >"$HARNESS_DIR/pgbouncer/userlist.txt"
# no logfile and no -d: pgbouncer logs to stderr, which harness_spawn keeps
# in log/pgbouncer.log (shown when the test fails)
cat >"$HARNESS_DIR/pgbouncer/pgbouncer.ini" <<INI
[databases]
postgres = host=127.0.0.1 port=$PRIMARY_PORT dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir = $HARNESS_DIR/pgbouncer
auth_type = trust
auth_file = $HARNESS_DIR/pgbouncer/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = 3
max_client_conn = 50
INI
if [ "$(id -u)" = 0 ]; then
	chown -R postgres: "$HARNESS_DIR/pgbouncer"
fi
harness_spawn pgbouncer run_pgbouncer "$HARNESS_DIR/pgbouncer/pgbouncer.ini"
harness_wait_for "pgbouncer" 20 "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PGB_PORT" -U postgres \
	-d pgbouncer -c "SHOW VERSION"
harness_log "pgbouncer up on 127.0.0.1:$PGB_PORT"
PGB_CONNINFO="host=127.0.0.1 port=$PGB_PORT dbname=pgbouncer user=postgres"

# 5 clients each sleeping 4 s in their own transaction, through a pool of 3:
# the 2 that wait do so for 4 s, time enough for a --once report or two
client_pids=()
for i in 1 2 3 4 5; do
	"$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PGB_PORT" -U postgres -d postgres \
		-c "SELECT pg_sleep(4) AS pool_client_$i" >/dev/null &
	client_pids+=($!)
done

# the postgres pool as the agent reports it
pool_row() { jq -c '[.pool.pools[] | select(.database == "postgres")][0]' "$1"; }

# polls --once reports until one shows a waiting client
seen_waiting=""
deadline=$((SECONDS + 12))
n=0
while [ $SECONDS -lt $deadline ]; do
	n=$((n + 1))
	harness_agent_once "$PRIMARY_PORT" --pgbouncer_conninfo "$PGB_CONNINFO" \
		>"$HARNESS_DIR/busy-$n.json" || harness_fail "agent --once failed"
	row=$(pool_row "$HARNESS_DIR/busy-$n.json")
	if [ "$row" != null ] && [ "$(jq '.cl_waiting' <<<"$row")" -gt 0 ]; then
		seen_waiting=$HARNESS_DIR/busy-$n.json
		break
	fi
	sleep 0.2
done
[ -n "$seen_waiting" ] || harness_fail "no report showed a waiting client ($n tries)"
harness_log "report $n shows: $row"
jq -e '.pool.problems | length == 0' "$seen_waiting" >/dev/null ||
	harness_fail "pool problems: $(jq -c .pool.problems "$seen_waiting")"
jq -e '.cl_active + .cl_waiting >= 5' <<<"$row" >/dev/null ||
	harness_fail "expected 5 clients active or waiting, got $row"
jq -e '.sv_active <= 3 and .sv_active > 0' <<<"$row" >/dev/null ||
	harness_fail "expected 1..3 active server connections, got $row"
jq -e '.user == "postgres" and .pool_mode == "transaction"' <<<"$row" >/dev/null ||
	harness_fail "wrong user or pool_mode in $row"
jq -e '.maxwait_seconds >= 0' <<<"$row" >/dev/null || harness_fail "bad maxwait in $row"
jq -e '.pool.default_pool_size == 3 and .pool.pool_mode == "transaction"
	and .pool.max_client_conn == 50 and .pool.reserve_pool_size == 0
	and .pool.max_db_connections == 0' "$seen_waiting" >/dev/null ||
	harness_fail "wrong config: $(jq -c '.pool | del(.pools, .stats)' "$seen_waiting")"

for pid in "${client_pids[@]}"; do
	wait "$pid" || harness_fail "a client through pgbouncer failed"
done

# after the queries: SHOW STATS counted them (pgbouncer times are in µs)
harness_agent_once "$PRIMARY_PORT" --pgbouncer_conninfo "$PGB_CONNINFO" \
	>"$HARNESS_DIR/after.json" || harness_fail "agent --once failed"
stat=$(jq -c '[.pool.stats[] | select(.database == "postgres")][0]' "$HARNESS_DIR/after.json")
harness_log "stats: $stat"
jq -e '.total_query_count >= 5 and .total_xact_count >= 5' <<<"$stat" >/dev/null ||
	harness_fail "expected at least 5 queries and transactions counted, got $stat"
# five 4 s sleeps: at least 20 s of query time; two of them waited ~4 s
jq -e '.total_query_time_us >= 19000000 and .total_xact_time_us >= 19000000
	and .total_wait_time_us >= 1000000' <<<"$stat" >/dev/null ||
	harness_fail "query, transaction or wait times too small (not µs?): $stat"
jq -e '.total_received > 0 and .total_sent > 0' <<<"$stat" >/dev/null ||
	harness_fail "no bytes counted: $stat"
row=$(pool_row "$HARNESS_DIR/after.json")
jq -e '.cl_waiting == 0 and .sv_active == 0' <<<"$row" >/dev/null ||
	harness_fail "pool still busy after the clients left: $row"
harness_log "PASS: pools, stats and config of a busy pgbouncer"

# without pgbouncer_conninfo: no pool family at all
harness_agent_once "$PRIMARY_PORT" >"$HARNESS_DIR/none.json" || harness_fail "agent --once failed"
jq -e 'has("pool") and .pool == null' "$HARNESS_DIR/none.json" >/dev/null ||
	harness_fail "expected \"pool\": null, got $(jq -c .pool "$HARNESS_DIR/none.json")"
harness_log "PASS: no pool family without pgbouncer_conninfo"

# a pgbouncer that is not there: one problem, the other families unharmed
BAD_PORT=$(harness_free_port)
AGENT_LOG_LEVEL=warning harness_agent_once "$PRIMARY_PORT" \
	--pgbouncer_conninfo "host=127.0.0.1 port=$BAD_PORT dbname=pgbouncer user=postgres" \
	>"$HARNESS_DIR/bad.json" 2>"$HARNESS_DIR/log/bad-agent.log" ||
	harness_fail "agent --once failed with an unreachable pgbouncer"
jq -e '.pool.problems | length == 1' "$HARNESS_DIR/bad.json" >/dev/null ||
	harness_fail "expected one pool problem, got $(jq -c .pool "$HARNESS_DIR/bad.json")"
jq -e '.pool.problems[0].detail | contains("could not connect to pgbouncer")' \
	"$HARNESS_DIR/bad.json" >/dev/null || harness_fail "unexpected problem: $(jq -c .pool.problems "$HARNESS_DIR/bad.json")"
jq -e '(.pool.pools | length) == 0 and (.pool.stats | length) == 0' \
	"$HARNESS_DIR/bad.json" >/dev/null || harness_fail "rows from a missing pgbouncer?"
for family in statements settings activity replication tables; do
	jq -e --arg f "$family" '.[$f] != null' "$HARNESS_DIR/bad.json" >/dev/null ||
		harness_fail "family $family missing when pgbouncer is unreachable"
done
[ "$(grep -c "could not connect to pgbouncer" "$HARNESS_DIR/log/bad-agent.log")" = 1 ] ||
	harness_fail "expected the unreachable pgbouncer logged once: $(cat "$HARNESS_DIR/log/bad-agent.log")"
harness_log "PASS: an unreachable pgbouncer is one problem"

# a running agent keeps its admin console connection between collections;
# when pgbouncer restarts, it connects again instead of reporting the dead
# connection (no collector is needed: reports just stay pending)
COLLECTOR_LISTEN=tcp://127.0.0.1:$(harness_free_port)
harness_start_agent primary "$PRIMARY_PORT" --pgbouncer_conninfo "$PGB_CONNINFO" \
	--pool_interval 1s
# agent_clients: the agent's connections to the admin console
agent_clients() {
	"$PG_BIN/psql" -X -tA -h 127.0.0.1 -p "$PGB_PORT" -U postgres -d pgbouncer \
		-c "SHOW CLIENTS" 2>/dev/null | grep -c pgfleet-agent
}
agent_connected() { [ "$(agent_clients)" = 1 ]; }
harness_wait_for "the agent on the admin console" 20 agent_connected
sleep 2.5 # more collections: still one connection, kept
agent_connected || harness_fail "the agent has $(agent_clients) admin console connections"
harness_stop pgbouncer TERM
harness_spawn pgbouncer run_pgbouncer "$HARNESS_DIR/pgbouncer/pgbouncer.ini"
harness_wait_for "the agent back on the restarted pgbouncer" 20 agent_connected
sleep 1.5
if grep -E "pool: SHOW" "$HARNESS_DIR/log/agent-primary.log"; then
	harness_fail "the agent reported its dead connection instead of reconnecting"
fi
harness_log "PASS: the agent reconnects to a restarted pgbouncer"
harness_log "PASS: family_pool"

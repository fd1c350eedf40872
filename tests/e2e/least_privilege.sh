#!/usr/bin/env bash
# e2e: the agent needs no superuser. deploy/sql/monitor-role.sql creates
# pgfleet_agent (LOGIN, pg_monitor) and pgfleet_actions (pg_signal_backend).
#   - as pgfleet_agent, every family reads other users' data: statements
#     run by postgres reach the collector with their queryid and text, the
#     tables, activity and replication families have rows, and no family
#     reports an insufficient privilege;
#   - as a role with LOGIN only, the agent still exits 0 with a report, and
#     the report says what it could not see (hidden backends or
#     insufficient-privilege problems), while other users' statements stay
#     out of the collector.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
SOURCE_DIR=${PGFLEET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
ROLE_SQL=$SOURCE_DIR/deploy/sql/monitor-role.sql
[ -f "$ROLE_SQL" ] || harness_fail "no $ROLE_SQL"

harness_init
harness_start_primary
harness_start_replica

# the script as a DBA would run it; twice, since it says it can be rerun
harness_psql "$PRIMARY_PORT" -f "$ROLE_SQL" >"$HARNESS_DIR/log/role-sql.log" 2>&1 ||
	harness_fail "monitor-role.sql failed"
harness_psql "$PRIMARY_PORT" -f "$ROLE_SQL" >>"$HARNESS_DIR/log/role-sql.log" 2>&1 ||
	harness_fail "monitor-role.sql failed on a rerun"
harness_query_is "$PRIMARY_PORT" "t|f|f" \
	"SELECT rolcanlogin, rolsuper, pg_has_role('pgfleet_agent', 'pg_signal_backend', 'MEMBER')
	 FROM pg_roles WHERE rolname = 'pgfleet_agent'" ||
	harness_fail "pgfleet_agent is not a plain login role"
harness_query_is "$PRIMARY_PORT" "t|t|f" \
	"SELECT pg_has_role('pgfleet_agent', 'pg_monitor', 'MEMBER'),
	        pg_has_role('pgfleet_actions', 'pg_signal_backend', 'MEMBER'),
	        pg_has_role('pgfleet_actions', 'pg_monitor', 'MEMBER')" ||
	harness_fail "wrong role memberships"
# a role that may only log in (CONNECT comes from PUBLIC)
harness_psql "$PRIMARY_PORT" -c "CREATE ROLE pgfleet_login_only LOGIN" >/dev/null

# data owned by postgres, which the monitoring role has no grant on
harness_psql "$PRIMARY_PORT" -c "CREATE TABLE lp_table (id int PRIMARY KEY, v text)" \
	-c "INSERT INTO lp_table SELECT i, 'x' FROM generate_series(1, 1000) i" \
	-c "ANALYZE lp_table" >/dev/null
# a backend of postgres busy while the agents look
harness_spawn sleeper "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
	-d postgres -c "SELECT pg_sleep(600) AS lp_sleeper"
sleeping() {
	harness_query_is "$PRIMARY_PORT" 1 \
		"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%AS lp_sleeper'
		 AND pid <> pg_backend_pid()"
}
harness_wait_for "the sleeping backend" 20 sleeping

# once_as ROLE: one --once report read as ROLE
once_as() {
	"$PGFLEET_BIN_DIR/agent/pgfleet-agent" --once --name "once-$1" \
		--conninfo "host=127.0.0.1 port=$PRIMARY_PORT user=$1 dbname=postgres" \
		--log_level "${AGENT_LOG_LEVEL:-warning}"
}
# the problems of every family, as one array
PROBLEMS='[.. | objects | select(has("code") and has("detail"))]'

# --- pgfleet_agent: pg_monitor is enough for everything ---------------------
once_as pgfleet_agent >"$HARNESS_DIR/monitor.json" 2>"$HARNESS_DIR/log/once-monitor.log" ||
	harness_fail "agent --once as pgfleet_agent failed"
report=$HARNESS_DIR/monitor.json
jq -e "$PROBLEMS | map(select(.code == \"CODE_INSUFFICIENT_PRIVILEGE\")) | length == 0" \
	"$report" >/dev/null || harness_fail "insufficient privilege as pgfleet_agent: $(jq -c "$PROBLEMS" "$report")"
jq -e '.statements.status != "STATUS_INSUFFICIENT_PRIVILEGE"
	and .statements.status != "STATUS_ERROR"' "$report" >/dev/null ||
	harness_fail "statements as pgfleet_agent: $(jq -c '.statements | del(.statements)' "$report")"
jq -e '[.tables.tables[] | select(.table == "lp_table" and .n_tup_ins == 1000)]
	| length == 1' "$report" >/dev/null ||
	harness_fail "lp_table not in the tables family: $(jq -c '.tables | del(.databases)' "$report" | head -c 2000)"
jq -e '.tables.databases | length >= 1' "$report" >/dev/null ||
	harness_fail "no database sizes as pgfleet_agent"
# postgres's own backend, seen with its state: nothing hidden
jq -e '.activity.invisible_backends == 0
	and ([.activity.connections[] | select(.user == "postgres" and .state == "active")]
	     | length >= 1)' "$report" >/dev/null ||
	harness_fail "activity as pgfleet_agent: $(jq -c .activity "$report")"
jq -e '.replication.replicas | length == 1 and .[0].state == "streaming"
	and .[0].sent_lsn > 0 and .[0].replay_lsn > 0' "$report" >/dev/null ||
	harness_fail "replication as pgfleet_agent: $(jq -c .replication "$report")"
harness_log "PASS: --once as pgfleet_agent reads tables, activity and replication"

# statements: --once only takes a baseline, so run agents against a
# collector. Statements of postgres must arrive with their queryid when
# read as pgfleet_agent, and never when read with login only (the server
# hides their queryid and text).
harness_start_collector
harness_start_agent monitor "$PRIMARY_PORT" \
	--conninfo "host=127.0.0.1 port=$PRIMARY_PORT user=pgfleet_agent dbname=postgres"
harness_start_agent login-only "$PRIMARY_PORT" \
	--conninfo "host=127.0.0.1 port=$PRIMARY_PORT user=pgfleet_login_only dbname=postgres"
baseline_taken() { [ -s "$HARNESS_DIR/state-$1/agent.state" ]; }
harness_wait_for "monitor agent baseline" 30 baseline_taken monitor
harness_wait_for "login-only agent baseline" 30 baseline_taken login-only

MARKER=least_privilege_marker
for i in 1 2 3; do echo "SELECT $i AS $MARKER;"; done | harness_psql "$PRIMARY_PORT" >/dev/null
# marker_rows INSTANCE: the marker statement's rows in the collector
marker_rows() {
	pgfleet_cli slow-queries --json --limit 1000 --instance "$1" --since 1h |
		jq -c --arg m "$MARKER" '[.[] | select(.query | contains($m))]'
}
marker_calls_are() { [ "$(marker_rows "$1" | jq '[.[].calls] | add // 0')" = "$2" ]; }
harness_wait_for "3 marker calls read as pgfleet_agent" 30 marker_calls_are monitor 3
rows=$(marker_rows monitor)
jq -e 'length == 1 and .[0].queryid != 0 and (.[0].query | contains("AS least_privilege_marker"))' \
	<<<"$rows" >/dev/null || harness_fail "marker as pgfleet_agent: $rows"
harness_log "PASS: statements of postgres seen by pgfleet_agent: $rows"
sleep 3 # more intervals of the login-only agent
rows=$(marker_rows login-only)
[ "$rows" = "[]" ] || harness_fail "a login-only role saw other users' statements: $rows"
harness_stop agent-monitor
harness_stop agent-login-only
harness_log "PASS: statements of postgres stay hidden from a login-only role"

# --- LOGIN only: a report anyway, saying what it cannot see --------------
once_as pgfleet_login_only >"$HARNESS_DIR/login-only.json" \
	2>"$HARNESS_DIR/log/once-login-only.log" ||
	harness_fail "agent --once as a login-only role did not exit 0"
report=$HARNESS_DIR/login-only.json
jq -e '.instance.server_version_num >= 130000 and .activity != null and .tables != null
	and .replication != null and .settings != null' "$report" >/dev/null ||
	harness_fail "incomplete report as a login-only role: $(head -c 2000 "$report")"
harness_log "login-only report: invisible_backends=$(jq .activity.invisible_backends "$report"), problems=$(jq -c "$PROBLEMS" "$report")"
# postgres's sleeping backend is hidden from this role: the report must say
# so, as hidden backends counted or as an insufficient-privilege problem
jq -e ".activity.invisible_backends > 0
	or ($PROBLEMS | map(select(.code == \"CODE_INSUFFICIENT_PRIVILEGE\"
	    or (.detail | test(\"privilege\"; \"i\")))) | length > 0)" "$report" >/dev/null ||
	harness_fail "a login-only role's report hides that it could not see postgres's backends: activity=$(jq -c .activity "$report")"
harness_log "PASS: a login-only role gets a report that says what it cannot see"
harness_log "PASS: least_privilege"

#!/usr/bin/env bash
# e2e: actions through the collector (EXPLAIN, EXPLAIN ANALYZE, cancel,
# terminate) on a real primary, with two agents beside it: "primary" allows
# EXPLAIN ANALYZE and terminate, "locked" keeps the defaults (EXPLAIN only).
#   - explain of known queries: a Seq Scan on t for a filter on an unindexed
#     column (and the large-table red flag), an Index Scan on t_pkey for the
#     key;
#   - --analyze of a DELETE hidden in a WITH, of an UPDATE, of two
#     statements, of a function that deletes (passes the parser check, fails
#     in the READ ONLY transaction): every one refused or failed, and t keeps
#     all its rows; a plain EXPLAIN of a DELETE plans it and deletes nothing;
#   - a plain SELECT with --analyze: actual rows where allowed, refused by
#     the "locked" agent; pg_sleep under --analyze ends at the agent's
#     action_statement_timeout;
#   - --queryid: a stored text without parameters is explained; one with $1
#     says why it cannot be on PostgreSQL 15;
#   - terminate: refused where not allowed, refused for a superuser's
#     backend, for the agent's own, for a wrong backend_start; allowed, it
#     ends exactly the right backend;
#   - an explain to a stopped agent fails at once with a clear error, to a
#     stalled agent (SIGSTOP) within the collector's action_timeout;
#   - both sides' audit lines.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary
ACTION_ADDRESS=tcp://127.0.0.1:$(harness_free_port)
ACTION_TIMEOUT_S=4
harness_start_collector --action_listen "$ACTION_ADDRESS" --action_timeout "${ACTION_TIMEOUT_S}s"

harness_psql "$PRIMARY_PORT" >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v int);
INSERT INTO t SELECT g, g % 1000 FROM generate_series(1, 20000) g;
ANALYZE t;
CREATE FUNCTION delete_all() RETURNS bigint LANGUAGE sql
	AS 'WITH d AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM d';
CREATE ROLE victim LOGIN;
GRANT SELECT ON t TO victim;
SQL
harness_psql "$PRIMARY_PORT" -c "CREATE DATABASE app" >/dev/null
harness_psql "$PRIMARY_PORT" -d app -c "CREATE TABLE only_in_app (id int)" >/dev/null
rows() { harness_psql "$PRIMARY_PORT" -tAc "SELECT count(*) FROM t"; }
[ "$(rows)" = 20000 ] || harness_fail "setup: t has $(rows) rows"

harness_start_agent primary "$PRIMARY_PORT" --action_collector "$ACTION_ADDRESS" \
	--allow_explain_analyze=on --allow_terminate=on --allow_cancel=on --action_statement_timeout 2s
harness_start_agent locked "$PRIMARY_PORT" --action_collector "$ACTION_ADDRESS" \
	--exclude_databases app
harness_wait_for "the primary's agent polling for actions" 30 \
	pgfleet_cli explain --instance primary "SELECT 1"
harness_wait_for "the locked agent polling for actions" 30 \
	pgfleet_cli explain --instance locked "SELECT 1"

# explain_json INSTANCE ARGS...: the Explain answer as JSON
explain_json() {
	local instance=$1
	shift
	pgfleet_cli explain --json --instance "$instance" "$@" 2>"$HARNESS_DIR/explain.err"
}
# node_types JSON: every "Node Type" of the plan, one per line
node_types() { jq -r '.plan_json | fromjson | .. | objects | select(has("Node Type")) | ."Node Type"' <<<"$1"; }
# refused INSTANCE PATTERN ARGS...: explain fails with PATTERN in the error
refused() {
	local instance=$1 pattern=$2 out
	shift 2
	if out=$(pgfleet_cli explain --instance "$instance" "$@" 2>&1); then
		harness_fail "explain $* on $instance was not refused: $out"
	fi
	grep -q -- "$pattern" <<<"$out" || harness_fail "explain $*: expected \"$pattern\", got: $out"
	harness_log "refused as expected: $out"
}

# 1. known queries, known plans
out=$(explain_json primary "SELECT * FROM t WHERE v = 5") ||
	harness_fail "explain failed: $(cat "$HARNESS_DIR/explain.err")"
node_types "$out" | grep -qx "Seq Scan" || harness_fail "no Seq Scan in: $out"
[ "$(jq -r '.plan_json | fromjson | .[0].Plan."Relation Name"' <<<"$out")" = t ] ||
	harness_fail "the Seq Scan is not on t: $out"
[ "$(jq '[.flags[] | select(.kind == "seq_scan_large_table")] | length' <<<"$out")" = 1 ] ||
	harness_fail "no large-table red flag for a Seq Scan of 20000 rows: $out"
[ "$(jq '.analyze' <<<"$out")" = false ] || harness_fail "plain explain says analyze: $out"
out=$(explain_json primary "SELECT * FROM t WHERE id = 5") ||
	harness_fail "explain failed: $(cat "$HARNESS_DIR/explain.err")"
node_types "$out" | grep -qx "Index Scan" || harness_fail "no Index Scan in: $out"
[ "$(jq -r '.plan_json | fromjson | .[0].Plan."Index Name"' <<<"$out")" = t_pkey ] ||
	harness_fail "the Index Scan is not on t_pkey: $out"
# --database: the statement runs where it is asked to, and only where the
# agent may read
out=$(explain_json primary --database app "SELECT * FROM only_in_app") ||
	harness_fail "explain failed: $(cat "$HARNESS_DIR/explain.err")"
[ "$(jq -r '.plan_json | fromjson | .[0].Plan."Relation Name"' <<<"$out")" = only_in_app ] ||
	harness_fail "not explained in app: $out"
refused primary "only_in_app\" does not exist" "SELECT * FROM only_in_app"
refused locked "database \"app\" is not one this agent reads" --database app "SELECT 1"
# the text form for people
text=$(pgfleet_cli explain --instance primary "SELECT * FROM t WHERE v = 5")
grep -q "^Seq Scan on t  (cost=" <<<"$text" || harness_fail "no plan text: $text"
grep -q "seq_scan_large_table" <<<"$text" || harness_fail "no red flag in the text: $text"

# 2. writes under --analyze: refused before execution, or rolled back
refused primary "data-modifying" --analyze "WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d"
refused primary "only a SELECT" --analyze "UPDATE t SET v = -1"
refused primary "2 statements" --analyze "SELECT 1; DELETE FROM t"
refused primary "2 statements" "SELECT 1; DELETE FROM t"
refused primary "SELECT INTO" --analyze "SELECT * INTO t_copy FROM t"
refused primary "FOR UPDATE" --analyze "SELECT * FROM t WHERE id = 1 FOR UPDATE"
refused primary "pg_terminate_backend" --analyze \
	"SELECT id FROM t WHERE id IN (SELECT pg_terminate_backend(pid) FROM pg_stat_activity)"
refused primary "DoStmt" 'DO $$BEGIN DELETE FROM t; END$$'
# a function the parser cannot see into: the READ ONLY transaction stops it
refused primary "read-only transaction" --analyze "SELECT delete_all()"
# plain EXPLAIN of a DELETE plans it and runs nothing
out=$(explain_json primary "DELETE FROM t WHERE v < 500") ||
	harness_fail "explain failed: $(cat "$HARNESS_DIR/explain.err")"
node_types "$out" | grep -qx "ModifyTable" || harness_fail "no ModifyTable in: $out"
[ "$(rows)" = 20000 ] || harness_fail "t lost rows: $(rows) left"
harness_log "t still has 20000 rows after every write attempt"

# 3. a SELECT with --analyze: executed where allowed, refused where not
out=$(explain_json primary --analyze "SELECT * FROM t WHERE v = 5") ||
	harness_fail "explain failed: $(cat "$HARNESS_DIR/explain.err")"
[ "$(jq '.analyze' <<<"$out")" = true ] || harness_fail "not analyzed: $out"
[ "$(jq '.plan_json | fromjson | .[0].Plan."Actual Rows"' <<<"$out")" = 20 ] ||
	harness_fail "expected 20 actual rows (v = 5 in 20000 rows, v = id % 1000): $out"
jq -e '.execution_ms > 0' <<<"$out" >/dev/null || harness_fail "no execution time: $out"
jq -e '[.flags[] | select(.kind == "time_spent")] | length >= 1' <<<"$out" >/dev/null ||
	harness_fail "no time_spent flag: $out"
refused locked "allow_explain_analyze = off" --analyze "SELECT * FROM t WHERE v = 5"
# pg_sleep is allowed, bounded by action_statement_timeout (2 s)
start=$SECONDS
refused primary "statement timeout" --analyze "SELECT pg_sleep(30)"
[ $((SECONDS - start)) -le 4 ] || harness_fail "pg_sleep ran $((SECONDS - start)) s (timeout 2 s)"

# 4. --queryid: the fleet's stored texts
for i in 1 2 3; do harness_psql "$PRIMARY_PORT" -tAc "SELECT count(*) FROM t" >/dev/null; done
for i in 1 2 3; do harness_psql "$PRIMARY_PORT" -tAc "SELECT id FROM t WHERE v = $i" >/dev/null; done
# queryid_of TEXT: its queryid, from the server (jq would round an int64)
queryid_of() {
	harness_psql "$PRIMARY_PORT" -tAc "SELECT queryid FROM pg_stat_statements WHERE query = '$1' LIMIT 1"
}
known() {
	pgfleet_cli slow-queries --json --limit 1000 --instance primary |
		jq -e --arg q "$1" '[.[] | select(.query == $q)] | length > 0' >/dev/null
}
harness_wait_for "the statements in slow-queries" 30 known 'SELECT id FROM t WHERE v = $1'
harness_wait_for "the statements in slow-queries" 30 known 'SELECT count(*) FROM t'
out=$(explain_json primary --queryid "$(queryid_of 'SELECT count(*) FROM t')") ||
	harness_fail "explain failed: $(cat "$HARNESS_DIR/explain.err")"
node_types "$out" | grep -qx "Aggregate" || harness_fail "no Aggregate for count(*): $out"
[ "$(jq -r '.database' <<<"$out")" = postgres ] || harness_fail "not the statement's database: $out"
# with a parameter: its generic plan (PostgreSQL 15: PREPARE and a forced
# generic plan; nothing executed), never ANALYZEd
out=$(explain_json primary --queryid "$(queryid_of 'SELECT id FROM t WHERE v = $1')") ||
	harness_fail "explain failed: $(cat "$HARNESS_DIR/explain.err")"
[ "$(jq -r '.plan_json | fromjson | .[0].Plan.Filter' <<<"$out")" = '(v = $1)' ] ||
	harness_fail "not the generic plan of the stored text: $out"
jq -e '.options | test("force_generic_plan")' <<<"$out" >/dev/null || harness_fail "no options: $out"
refused primary "needs values" --analyze --queryid "$(queryid_of 'SELECT id FROM t WHERE v = $1')"
# the prepared statement did not stay behind in the action connection
out=$(explain_json primary --queryid "$(queryid_of 'SELECT id FROM t WHERE v = $1')") ||
	harness_fail "a second generic plan failed: $(cat "$HARNESS_DIR/explain.err")"

# 5. terminate
PGAPPNAME=victim "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PRIMARY_PORT" -U victim -d postgres \
	-c "SELECT pg_sleep(60)" >"$HARNESS_DIR/log/victim.log" 2>&1 &
victim_psql=$!
PGAPPNAME=superuser-sleeper "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres \
	-c "SELECT pg_sleep(60)" >"$HARNESS_DIR/log/sleeper.log" 2>&1 &
sleeper_psql=$!
pid_of() { harness_psql "$PRIMARY_PORT" -tAc "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' AND state = 'active'"; }
has_pid() { [ -n "$(pid_of "$1")" ]; }
harness_wait_for "the victim's backend" 30 has_pid victim
harness_wait_for "the superuser's backend" 30 has_pid superuser-sleeper
victim=$(pid_of victim)
sleeper=$(pid_of superuser-sleeper)
agent_own=$(harness_psql "$PRIMARY_PORT" -tAc "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgfleet-agent' LIMIT 1")
alive() { harness_query_is "$PRIMARY_PORT" 1 "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"; }
# signal_refused INSTANCE PATTERN ARGS...
signal_refused() {
	local instance=$1 pattern=$2 out
	shift 2
	if out=$(pgfleet_cli terminate --instance "$instance" "$@" 2>&1); then
		harness_fail "terminate $* on $instance was not refused: $out"
	fi
	grep -q -- "$pattern" <<<"$out" || harness_fail "terminate $*: expected \"$pattern\", got: $out"
	harness_log "refused as expected: $out"
}
signal_refused locked "allow_terminate = off" --pid "$victim"
if out=$(pgfleet_cli cancel --instance locked --pid "$victim" 2>&1); then
	harness_fail "cancel was not refused (allow_cancel is off): $out"
fi
grep -q "allow_cancel = off" <<<"$out" || harness_fail "cancel: unexpected error: $out"
# cancel: the query ends, the session stays
PGAPPNAME=cancelled "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PRIMARY_PORT" -U victim -d postgres \
	-c "SELECT pg_sleep(60)" -c "SELECT 'still connected'" >"$HARNESS_DIR/log/cancelled.log" 2>&1 &
cancelled_psql=$!
harness_wait_for "the backend to cancel" 30 has_pid cancelled
cancelled=$(pid_of cancelled)
out=$(pgfleet_cli cancel --json --instance primary --pid "$cancelled") || harness_fail "cancel failed: $out"
[ "$(jq '.signalled' <<<"$out")" = true ] || harness_fail "cancel did not signal: $out"
wait "$cancelled_psql" || true
grep -q "canceling statement due to user request" "$HARNESS_DIR/log/cancelled.log" ||
	harness_fail "the query was not cancelled: $(cat "$HARNESS_DIR/log/cancelled.log")"
grep -q "still connected" "$HARNESS_DIR/log/cancelled.log" ||
	harness_fail "the session did not go on after the cancel: $(cat "$HARNESS_DIR/log/cancelled.log")"
signal_refused primary "superuser" --pid "$sleeper"
[ -n "$agent_own" ] && signal_refused primary "agent's own" --pid "$agent_own"
victim_start=$(harness_psql "$PRIMARY_PORT" -tAc \
	"SELECT (extract(epoch FROM backend_start) * 1000000)::int8 FROM pg_stat_activity WHERE pid = $victim")
signal_refused primary "another time" --pid "$victim" --backend-start $((victim_start - 1))
alive "$victim" || harness_fail "the victim died of a refused terminate"
alive "$sleeper" || harness_fail "the superuser's backend died of a refused terminate"
out=$(pgfleet_cli terminate --json --instance primary --pid "$victim" --backend-start "$victim_start") ||
	harness_fail "terminate failed: $out"
[ "$(jq '.signalled and .gone' <<<"$out")" = true ] || harness_fail "terminate did not end it: $out"
[ "$(jq -r '.usename' <<<"$out")" = victim ] || harness_fail "terminated someone else: $out"
alive "$victim" && harness_fail "the victim's backend is still there"
wait "$victim_psql" 2>/dev/null && harness_fail "the victim's psql ended well"
grep -q "terminating connection due to administrator command" "$HARNESS_DIR/log/victim.log" ||
	harness_fail "the victim's psql was not told: $(cat "$HARNESS_DIR/log/victim.log")"
alive "$sleeper" || harness_fail "the superuser's backend died too"
harness_psql "$PRIMARY_PORT" -c "SELECT pg_cancel_backend($sleeper)" >/dev/null
wait "$sleeper_psql" 2>/dev/null || true

# 6. stopped and stalled agents: clear errors within the deadline
harness_stop agent-locked
channel_closed() { grep -q "instance=locked action channel closed by the agent" "$HARNESS_DIR/log/collector.log"; }
harness_wait_for "the collector to see the locked agent go" 10 channel_closed
start=$SECONDS
refused locked "no agent of instance \"locked\"" "SELECT 1"
[ $((SECONDS - start)) -le 2 ] || harness_fail "a stopped agent took $((SECONDS - start)) s to report"
refused nosuch "no agent of instance \"nosuch\"" "SELECT 1"
kill -STOP "${HARNESS_PIDS[agent-primary]}"
start=$SECONDS
refused primary "no answer from the agent of instance \"primary\" within" "SELECT 1"
elapsed=$((SECONDS - start))
kill -CONT "${HARNESS_PIDS[agent-primary]}"
[ $elapsed -ge $((ACTION_TIMEOUT_S - 1)) ] && [ $elapsed -le $((ACTION_TIMEOUT_S + 1)) ] ||
	harness_fail "a stalled agent's error came after $elapsed s (action_timeout ${ACTION_TIMEOUT_S}s)"
# once it runs again, it answers again
harness_wait_for "the primary's agent answering again" 30 \
	pgfleet_cli explain --instance primary "SELECT 1"

# 7. audit lines on both sides
grep -q "action instance=primary requested_by=\"$(id -un)\" terminate pid=$victim: ok" \
	"$HARNESS_DIR/log/collector.log" || harness_fail "no audit line for the terminate in the collector's log"
grep -q "action instance=primary id=[0-9]* requested_by=\"$(id -un)\" terminate pid=$victim: ok" \
	"$HARNESS_DIR/log/agent-primary.log" || harness_fail "no audit line for the terminate in the agent's log"
grep -q "action instance=locked .*terminate pid=$victim: refused" "$HARNESS_DIR/log/agent-locked.log" ||
	harness_fail "no audit line for the refused terminate in the locked agent's log"
grep -q 'explain-analyze .*refused by the agent: EXPLAIN ANALYZE refused: the statement contains a data-modifying' \
	"$HARNESS_DIR/log/collector.log" || harness_fail "no audit line for the refused DELETE"
[ "$(rows)" = 20000 ] || harness_fail "t lost rows: $(rows) left"
harness_log "actions: all checks passed"

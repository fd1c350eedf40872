#!/usr/bin/env bash
# e2e (reliability T26 and T27, tests/RELIABILITY.md): abuse of actions,
# the cases tests/e2e/actions.sh does not already send.
#   T26 EXPLAIN ANALYZE (allowed on "primary", whose agent connects as a
#       superuser): functions acting outside the transaction (sequences,
#       advisory locks, set_config, notify, files, large objects, dblink,
#       query_to_xml, xid), locking clauses, nested EXPLAIN, COPY TO
#       PROGRAM, CALL, several statements, and a user's function (and a
#       view) wrapping pg_terminate_backend, which the parse check cannot
#       see into: each refused before it runs, or failing without effect.
#       After all: t's rows and the sequence unchanged, no advisory lock
#       held, the victim's and a superuser's backends alive, one audit line
#       per attempt in the collector's log.
#   T27 terminate of the victim's pid and backend_start sent to the wrong
#       instance (a replica, whose agent allows terminate too) and to an
#       unknown one: refused, the victim alive, refusals audited.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary
harness_psql "$PRIMARY_PORT" >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v int);
INSERT INTO t SELECT g, g % 10 FROM generate_series(1, 1000) g;
CREATE SEQUENCE s;
SELECT nextval('s');
CREATE ROLE victim LOGIN;
CREATE FUNCTION kill_victims() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	RETURN (SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'victim' AND pg_terminate_backend(pid));
END $$;
CREATE VIEW v_kill AS SELECT kill_victims() AS n;
SQL
harness_start_replica
ACTION_ADDRESS=tcp://127.0.0.1:$(harness_free_port)
harness_start_collector --action_listen "$ACTION_ADDRESS" --action_timeout 4s
harness_start_agent primary "$PRIMARY_PORT" --action_collector "$ACTION_ADDRESS" \
	--allow_explain_analyze=on --allow_terminate=on --action_statement_timeout 2s
harness_start_agent replica "$REPLICA_PORT" --action_collector "$ACTION_ADDRESS" \
	--allow_explain_analyze=on --allow_terminate=on
for i in primary replica; do
	harness_wait_for "the $i agent polling for actions" 30 pgfleet_cli explain --instance "$i" "SELECT 1"
done

PGAPPNAME=victim "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PRIMARY_PORT" -U victim -d postgres \
	-c "SELECT pg_sleep(120)" >"$HARNESS_DIR/log/victim.log" 2>&1 &
PGAPPNAME=sleeper "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres \
	-c "SELECT pg_sleep(120)" >"$HARNESS_DIR/log/sleeper.log" 2>&1 &
pid_of() { harness_psql "$PRIMARY_PORT" -tAc "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' AND state = 'active'"; }
has_pid() { [ -n "$(pid_of "$1")" ]; }
harness_wait_for "the victim's backend" 30 has_pid victim
harness_wait_for "the superuser's backend" 30 has_pid sleeper
victim=$(pid_of victim)
sleeper=$(pid_of sleeper)
alive() { harness_query_is "$PRIMARY_PORT" 1 "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"; }
state() {
	harness_psql "$PRIMARY_PORT" -tAc "SELECT (SELECT count(*) FROM t), (SELECT last_value FROM s),
		(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory')"
}
before=$(state)

attempts=0
# analyze_refused PATTERN SQL: EXPLAIN ANALYZE of SQL on primary fails with
# PATTERN in its error
analyze_refused() {
	local pattern=$1 sql=$2 out
	attempts=$((attempts + 1))
	if out=$(pgfleet_cli explain --instance primary --analyze "$sql" 2>&1); then
		harness_fail "EXPLAIN ANALYZE $sql was not refused: $out"
	fi
	grep -q -- "$pattern" <<<"$out" || harness_fail "EXPLAIN ANALYZE $sql: expected \"$pattern\", got: $out"
	harness_log "refused: $sql -> $out"
}
analyze_refused 'function "nextval" is not allowed' "SELECT nextval('s')"
analyze_refused 'function "setval" is not allowed' "SELECT setval('s', 1000)"
analyze_refused 'function "pg_advisory_lock" is not allowed' "SELECT pg_advisory_lock(42)"
analyze_refused 'function "set_config" is not allowed' \
	"SELECT set_config('transaction_read_only', 'off', true), count(*) FROM t"
analyze_refused 'function "pg_notify" is not allowed' "SELECT pg_notify('c', 'x')"
analyze_refused 'function "pg_read_file" is not allowed' "SELECT pg_read_file('/etc/hostname')"
analyze_refused 'function "lo_import" is not allowed' "SELECT lo_import('/etc/hostname')"
analyze_refused 'function "dblink_exec" is not allowed' \
	"SELECT dblink_exec('dbname=postgres', 'DELETE FROM t')"
analyze_refused 'function "query_to_xml" is not allowed' \
	"SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')"
analyze_refused 'function "txid_current" is not allowed' "SELECT txid_current()"
analyze_refused 'function "pg_cancel_backend" is not allowed' \
	"SELECT count(*) FROM t WHERE v = (SELECT pg_cancel_backend($victim))::int"
analyze_refused "FOR UPDATE/SHARE" "SELECT * FROM t WHERE id = 1 FOR SHARE"
analyze_refused "FOR UPDATE/SHARE" "SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED"
analyze_refused "only a SELECT" "EXPLAIN ANALYZE SELECT 1"
analyze_refused "only a SELECT" "COPY (SELECT 1) TO PROGRAM 'touch $HARNESS_DIR/pwned'"
analyze_refused "only a SELECT" "CALL nosuch()"
analyze_refused "3 statements" "SELECT 1; COMMIT; DELETE FROM t"
# hidden in a user's function and in a view: the parse check sees only
# kill_victims(); the statement runs without the right to signal anyone
analyze_refused "to terminate" "SELECT kill_victims()"
analyze_refused "to terminate" "SELECT * FROM v_kill"

after=$(state)
[ "$after" = "$before" ] || harness_fail "rows|sequence|advisory locks changed: $before -> $after"
[ ! -e "$HARNESS_DIR/pwned" ] || harness_fail "COPY TO PROGRAM ran"
alive "$victim" || harness_fail "the victim's backend was terminated by an EXPLAIN ANALYZE"
alive "$sleeper" || harness_fail "the superuser's backend was terminated by an EXPLAIN ANALYZE"
# the agent's own backends are still the same kind as before: it can still read
out=$(pgfleet_cli explain --json --instance primary --analyze "SELECT count(*) FROM t WHERE v = 3") ||
	harness_fail "a plain SELECT under ANALYZE failed: $out"
[ "$(jq '[.. | objects | select(has("Actual Rows")) | ."Actual Rows"] | max' <<<"$(jq -r '.plan_json' <<<"$out")")" -ge 1 ] ||
	harness_fail "no actual rows for a readable table: $out"
audited=$(grep -c "action instance=primary requested_by=.* explain-analyze" "$HARNESS_DIR/log/collector.log")
[ "$audited" -ge "$((attempts + 1))" ] || harness_fail "$audited audit lines for $((attempts + 1)) EXPLAIN ANALYZE attempts"
harness_log "T26: $attempts abuse cases refused or without effect; $audited audit lines"

# T27: the victim's pid and backend_start, sent to the wrong instance
victim_start=$(harness_psql "$PRIMARY_PORT" -tAc \
	"SELECT (extract(epoch FROM backend_start) * 1000000)::int8 FROM pg_stat_activity WHERE pid = $victim")
for instance in replica nosuch; do
	if out=$(pgfleet_cli terminate --instance "$instance" --pid "$victim" --backend-start "$victim_start" 2>&1); then
		harness_fail "terminate on the wrong instance $instance was not refused: $out"
	fi
	harness_log "T27: terminate on $instance refused: $out"
done
alive "$victim" || harness_fail "the victim's backend was terminated through the wrong instance"
grep -qE "action instance=replica .*terminate pid=$victim: (refused|failed)" "$HARNESS_DIR/log/agent-replica.log" ||
	harness_fail "no audit line for the refused terminate in the replica agent's log"
grep -q "action instance=replica requested_by=.* terminate pid=$victim" "$HARNESS_DIR/log/collector.log" ||
	harness_fail "no audit line for the wrong-instance terminate in the collector's log"
grep -q "action instance=nosuch requested_by=.* terminate pid=$victim" "$HARNESS_DIR/log/collector.log" ||
	harness_fail "no audit line for the unknown-instance terminate in the collector's log"
harness_psql "$PRIMARY_PORT" -c "SELECT pg_cancel_backend($victim), pg_cancel_backend($sleeper)" >/dev/null
harness_log "PASS: T26 abuse cases refused or without effect; T27 wrong-instance terminate refused"

#!/usr/bin/env bash
# e2e: the collector's whole request suite against both store backends
# (issue 9: "the same answers as SQLite for every request").
#
# Real agents beside the harness primary and a streaming replica report to
# tests/tools/report_tee, which hands every report, unchanged, to collector
# A (SQLite file) and collector B (PostgreSQL store, a database of the
# primary) one at a time and answers the agent after both stored it; a
# second collector that does not answer an Ack of the same kind fails the
# test (the tee's MISMATCH lines and exit status). A workload gives every
# answer content: a slow statement, pgbench (pools, a regression: the same
# statement 3x slower after a baseline), a 3 MB table read by sequential
# scans with autovacuum off and dead tuples, an unused and a duplicate
# index, a lock held and waited for (activity), the replica's lag
# (replication), hypopg for the index proposals' cost check.
#
# Then the agents and the tee stop, both stores hold the same reports, and
# every CLI request that reads the store (COMMANDS below: the rows of
# collector/cli_main.c's table but explain/cancel/terminate, which are
# actions, and pool-size, which is arithmetic) is asked of both with
# --json and the same explicit --since/--until, and /metrics over HTTP.
# The answers are asked once every instance is stale on both (staleness is
# computed from now; after that nothing changes with the moment of asking).
# The JSON answers are compared after `jq -S` and the normalisation list
# NORMALISE (the only masking there is: each collector's own receipt times,
# within a tolerance, and its process figures in /metrics); a difference
# prints the command and a diff. Every request is asked and reported before
# the test fails; an empty answer on A fails too (it would compare
# nothing), and so does a subcommand of `pgfleet --help` missing here.
#
# STORE_COMPARE_OUT=DIR keeps every answer and the times they took.
# STORE_COMPARE_ONLY="fleet table-stats" asks only the commands whose first
# word is listed (while the PostgreSQL store learns the rest).
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
command -v curl >/dev/null || harness_fail "curl is required (deploy/install-deps.sh)"
PGBENCH=$PG_BIN/pgbench
[ -x "$PGBENCH" ] || harness_fail "pgbench is required (postgresql-15's client tools)"
TEE=$PGFLEET_BIN_DIR/tests/tools/report_tee
[ -x "$TEE" ] || harness_fail "no $TEE (build the tests)"

harness_init
harness_start_primary
harness_start_replica
harness_psql "$PRIMARY_PORT" -c "CREATE DATABASE pgfleet_store" >/dev/null
harness_psql "$PRIMARY_PORT" -c "CREATE EXTENSION IF NOT EXISTS hypopg" >/dev/null
stamp() { date -u -d "@$1" '+%Y-%m-%d %H:%M:%S'; }
# exact FILE: the CLI's JSON (one value a line) with integers of 16 digits
# or more quoted, so jq (1.6 reads numbers as doubles) keeps queryids exact
exact() {
	sed -E 's/^( *("[^"]+": )?)(-?[0-9]{16,})(,?)$/\1"\3"\4/' "$1"
}
# the window of every question: from before the first report to after the
# last (whole seconds, as the CLI parses them)
SINCE=$(stamp $(($(date +%s) - 1)))

# two collectors; no rollups or retention during the test (windows of
# seconds read raw rows, and both stores must hold the same rows when
# asked); HTTP for /metrics
HTTP_A=$(harness_free_port)
HTTP_B=$(harness_free_port)
harness_start_collector_named a --maintenance_interval 1h --http_listen "127.0.0.1:$HTTP_A"
COLLECTOR_STORES[b]="postgresql://postgres@127.0.0.1:$PRIMARY_PORT/pgfleet_store"
harness_start_collector_named b --maintenance_interval 1h --http_listen "127.0.0.1:$HTTP_B"

# the tee, where the agents dial
TEE_LISTEN=tcp://127.0.0.1:$(harness_free_port)
# (PGFLEET_TEST_WRAPPER, e.g. "valgrind --error-exitcode=1 --leak-check=full",
# runs the tee under it: an error fails the test through its exit status)
harness_spawn tee ${PGFLEET_TEST_WRAPPER:-} "$TEE" "$TEE_LISTEN" "${COLLECTOR_LISTENS[a]}" "${COLLECTOR_LISTENS[b]}"
harness_wait_for "the tee listening" 10 grep -q "listening on" "$HARNESS_DIR/log/tee.log"
# every family every second; the store's database is not watched (its
# writes would only add noise); long-running from 1 s (activity)
AGENT_FLAGS=(--tables_interval 1s --indexes_interval 1s --bloat_interval 1s
	--exclude_databases pgfleet_store --long_query_threshold 1s --ack_timeout 10s)
COLLECTOR_LISTEN=$TEE_LISTEN harness_start_agent primary "$PRIMARY_PORT" "${AGENT_FLAGS[@]}"
COLLECTOR_LISTEN=$TEE_LISTEN harness_start_agent replica "$REPLICA_PORT" "${AGENT_FLAGS[@]}"

fleet_is() { [ "$(pgfleet_cli_at "$1" fleet --json | jq -r "$2")" = true ]; }
BOTH_OK='length == 2 and all(.[]; .status == "ok") and any(.[]; .instance == "replica" and .upstream == "primary")'
harness_wait_for "both instances ok on collector A" 30 fleet_is a "$BOTH_OK"
harness_wait_for "both instances ok on collector B" 30 fleet_is b "$BOTH_OK"

# ---- workload ------------------------------------------------------------------
# a table over 1 MiB read by sequential scans (high_sequential_scans, a
# missing index on customer), with autovacuum off and dead tuples
# (vacuum-advice), an index never scanned and a duplicate of it
harness_psql "$PRIMARY_PORT" >/dev/null <<'SQL'
CREATE TABLE bc_orders (id int PRIMARY KEY, customer int, note text)
	WITH (autovacuum_enabled = off);
INSERT INTO bc_orders SELECT g, g % 500, md5(g::text) FROM generate_series(1, 40000) g;
CREATE INDEX bc_orders_note ON bc_orders (note);
CREATE INDEX bc_orders_note_again ON bc_orders (note);
CREATE TABLE bc_locks (id int);
ANALYZE bc_orders;
SQL
{
	echo "SET enable_indexscan = off; SET enable_bitmapscan = off;"
	for i in $(seq 1 12); do echo "SELECT count(*) FROM bc_orders WHERE customer = $i;"; done
	echo "UPDATE bc_orders SET customer = customer + 1 WHERE id <= 15000;"
} | harness_psql "$PRIMARY_PORT" >/dev/null
# a slow statement of its own queryid, 3 calls
for _ in 1 2 3; do
	harness_psql "$PRIMARY_PORT" -c "SELECT count(*) FROM pg_sleep(0.3)" >/dev/null
done
# a lock held (idle in transaction) and a session waiting for it: activity's
# long-running query, idle in transaction and blocking pair
LOCK_FIFO=$HARNESS_DIR/lock.fifo
mkfifo "$LOCK_FIFO"
"$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres \
	-v ON_ERROR_STOP=1 <"$LOCK_FIFO" >/dev/null 2>&1 &
HOLDER_PID=$!
exec 7>"$LOCK_FIFO"
echo "BEGIN; LOCK TABLE bc_locks IN ACCESS EXCLUSIVE MODE;" >&7
harness_wait_for "the lock held" 10 harness_query_is "$PRIMARY_PORT" 1 \
	"SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE 'LOCK TABLE bc_locks%'"
"$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres \
	-c "SELECT count(*) FROM bc_locks" >/dev/null 2>&1 &
WAITER_PID=$!
# pgbench: a baseline of pg_sleep(0.01) on both servers (pools), then the
# same statement 3x slower on the primary (a regression against it)
echo "SELECT pg_sleep(0.01);" >"$HARNESS_DIR/sleep10.sql"
echo "SELECT pg_sleep(0.03);" >"$HARNESS_DIR/sleep30.sql"
BASE0=$(date +%s)
"$PGBENCH" -n -c 2 -T 3 -f "$HARNESS_DIR/sleep10.sql" -h 127.0.0.1 -p "$REPLICA_PORT" \
	-U postgres postgres >"$HARNESS_DIR/pgbench-replica.out" 2>&1 &
REPLICA_BENCH=$!
"$PGBENCH" -n -c 3 -T 3 -f "$HARNESS_DIR/sleep10.sql" -h 127.0.0.1 -p "$PRIMARY_PORT" \
	-U postgres postgres >"$HARNESS_DIR/pgbench10.out" 2>&1 ||
	{ cat "$HARNESS_DIR/pgbench10.out" >&2; harness_fail "pgbench (10 ms) failed"; }
wait "$REPLICA_BENCH" || { cat "$HARNESS_DIR/pgbench-replica.out" >&2; harness_fail "pgbench on the replica failed"; }
# (the agent dates an interval when it reads it, up to 1 s after its
# calls: the baseline's last interval lands before the window)
sleep 2
REG0=$(date +%s)
"$PGBENCH" -n -c 3 -T 3 -f "$HARNESS_DIR/sleep30.sql" -h 127.0.0.1 -p "$PRIMARY_PORT" \
	-U postgres postgres >"$HARNESS_DIR/pgbench30.out" 2>&1 ||
	{ cat "$HARNESS_DIR/pgbench30.out" >&2; harness_fail "pgbench (30 ms) failed"; }

# wait until collector A shows what the test did (B gets the same reports)
has() { pgfleet_cli_at a "$1" --json --since "$SINCE" --limit 1000 | jq -e "$2" >/dev/null; }
harness_wait_for "the slow statement" 30 has slow-queries \
	'any(.[]; (.query | test("pg_sleep")) and .calls == 3 and .mean_seconds >= 0.3)'
harness_wait_for "bc_orders' dead tuples" 30 has table-stats \
	'any(.[]; .table == "bc_orders" and .instance == "primary" and .dead_tuples >= 15000)'
harness_wait_for "the blocking pair" 30 has activity '.blocking | length > 0'
regressed() {
	pgfleet_cli_at a query-regressions --json --since "$(stamp "$REG0")" --min-extra-seconds 0.1 \
		--baseline-since "$(stamp "$BASE0")" --baseline-until "$(stamp "$REG0")" |
		jq -e 'any(.[]; .query | test("pg_sleep"))' >/dev/null
}
harness_wait_for "the regression" 30 regressed

# ---- both stores hold the same reports from here on ----------------------------
harness_stop agent-primary
harness_stop agent-replica
TEE_RC=0
kill -TERM "${HARNESS_PIDS[tee]}"
wait "${HARNESS_PIDS[tee]}" || TEE_RC=$?
unset "HARNESS_PIDS[tee]"
rm -f "$HARNESS_DIR/run/tee.pid"
harness_log "$(grep "report_tee: forwarded" "$HARNESS_DIR/log/tee.log" || echo "report_tee: no summary (exit $TEE_RC)")"
if grep -q MISMATCH "$HARNESS_DIR/log/tee.log" || [ "$TEE_RC" != 0 ]; then
	grep MISMATCH "$HARNESS_DIR/log/tee.log" | head -n 20 >&2 || true
	harness_fail "collector B did not acknowledge the reports as collector A did (tee exit $TEE_RC)"
fi
# the sessions the test holds end (nothing reports them any more)
exec 7>&-
kill "$WAITER_PID" "$HOLDER_PID" 2>/dev/null || true
wait "$WAITER_PID" "$HOLDER_PID" 2>/dev/null || true
# staleness is computed from now: wait until every instance is stale on
# both, so the answers no longer change with the moment of asking
ALL_STALE='length == 2 and all(.[]; .status == "stale")'
harness_wait_for "both instances stale on A" 30 fleet_is a "$ALL_STALE"
harness_wait_for "both instances stale on B" 30 fleet_is b "$ALL_STALE"
UNTIL=$(stamp $(($(date +%s) + 1)))
W=(--since "$SINCE" --until "$UNTIL")
CLUSTER=$(pgfleet_cli_at a fleet --json | jq -r '.[0].cluster')
pgfleet_cli_at a slow-queries --json "${W[@]}" --instance primary --limit 100 >"$HARNESS_DIR/slow.json"
QUERYID=$(exact "$HARNESS_DIR/slow.json" |
	jq -r '[.[] | select(.query | test("pg_sleep"))] | max_by(.mean_seconds) | .queryid')
[ -n "$QUERYID" ] && [ "$QUERYID" != null ] || harness_fail "no queryid of the slow statement"
TREND_CALLS=$(pgfleet_cli_at a query-trend "$QUERYID" --json "${W[@]}" | jq '[.[].calls] | add')
[ "$TREND_CALLS" = 3 ] || harness_fail "query-trend of the slow statement ($QUERYID) counts $TREND_CALLS calls, not 3"
REG_W=(--since "$(stamp "$REG0")" --until "$UNTIL"
	--baseline-since "$(stamp "$BASE0")" --baseline-until "$(stamp "$REG0")")

# ---- the request suite -----------------------------------------------------------
# One entry a request, the pgfleet arguments after the subcommand; every
# one gets --json. Windows are explicit wherever the command takes one.
COMMANDS=(
	"fleet ${W[*]@Q}"
	"fleet ${W[*]@Q} --instance replica"
	"slow-queries ${W[*]@Q} --limit 100"
	"slow-queries ${W[*]@Q} --limit 100 --order mean --min-duration-ms 1"
	"slow-queries ${W[*]@Q} --limit 100 --order calls --instance primary --database postgres"
	"slow-queries ${W[*]@Q} --limit 100 --group instance"
	"slow-queries ${W[*]@Q} --limit 100 --group cluster"
	"slow-queries ${W[*]@Q} --limit 100 --group fleet"
	"slow-queries ${W[*]@Q} --limit 3 --cluster $CLUSTER"
	"query-trend $QUERYID ${W[*]@Q}"
	"query-trend $QUERYID ${W[*]@Q} --instance primary --bucket 1m"
	"query-trend $QUERYID ${W[*]@Q} --cluster $CLUSTER"
	"table-trend --table public.bc_orders ${W[*]@Q} --instance primary --bucket 1m"
	"table-trend --table bc_orders ${W[*]@Q} --instance replica"
	"replication-trend ${W[*]@Q}"
	"replication-trend ${W[*]@Q} --instance replica --bucket 1m"
	"table-stats ${W[*]@Q} --limit 1000"
	"table-stats ${W[*]@Q} --instance primary --database postgres --limit 5"
	"index-usage ${W[*]@Q} --limit 1000"
	"bloat-stats ${W[*]@Q} --limit 1000"
	"replication ${W[*]@Q}"
	"activity ${W[*]@Q}"
	"activity ${W[*]@Q} --instance primary"
	"index-recommendations ${W[*]@Q} --limit 100"
	"index-recommendations ${W[*]@Q} --instance primary --database postgres"
	"pool-stats ${W[*]@Q} --limit 100"
	"pool-stats ${W[*]@Q} --instance replica"
	"pool-recommendation ${W[*]@Q} --limit 100"
	"pool-recommendation ${W[*]@Q} --buffer 4 --instance primary"
	"query-regressions ${REG_W[*]@Q} --min-extra-seconds 0.1"
	"query-regressions ${REG_W[*]@Q} --min-extra-seconds 0.1 --group cluster"
	"vacuum-advice ${W[*]@Q} --limit 100"
	"replication-health ${W[*]@Q} --limit 100"
	"checklist ${W[*]@Q} --limit 100"
	"checklist ${W[*]@Q} --instance replica"
)
# Every subcommand of the CLI's table is asked, but these: actions (the
# agent answers, not the store) and arithmetic on the numbers given. A
# subcommand added later fails this test until it is compared here.
NOT_STORE_QUESTIONS="explain cancel terminate pool-size"
for sub in $("$PGFLEET_BIN_DIR/collector/pgfleet" --help |
	sed -n '/^Subcommands/,/^Global/p' | awk '/^  [a-z]/ { print $1 }' | sort -u); do
	grep -qw -- "$sub" <<<"$NOT_STORE_QUESTIONS" && continue
	printf '%s\n' "${COMMANDS[@]}" | grep -q "^$sub " ||
		harness_fail "pgfleet $sub reads the store but is not in this test's COMMANDS"
done

# The normalisation list, the only masking there is. Only what legitimately
# differs between the two collectors may be here: figures of the moment a
# collector received a report or was asked (its own clock), or of the
# collector process rather than of the store. Entries:
#   "COMMAND|FIELD|TOLERANCE|why": in COMMAND's answers, wherever FIELD is
#     a key, B's value is taken as A's when the two are within TOLERANCE
#     (numbers, or "YYYY-MM-DD HH:MM:SS" texts in seconds); further apart
#     they stay and differ;
#   "METRICS|NAME_REGEX|-|why": /metrics samples (and their # HELP/TYPE)
#     of the matching families are dropped from both bodies;
#   "METRICS|NAME|TOLERANCE|why": B's sample of family NAME takes A's value
#     (same labels) when the two are within TOLERANCE.
# Beside this list, every answer goes through same_sums (below): fractional
# numbers equal to 1e-12 relative are equal (the order of a sum of doubles).
# The tee gives each report to A, then B, within milliseconds, so the
# receipt times below differ by that much (2 s covers a loaded machine).
NORMALISE=(
	"fleet|first_seen_us|2000000|when each collector first received the instance's report: its own clock"
	"fleet|first_seen|2|the same, as text"
	"fleet|last_seen_us|2000000|when each collector last received a report of the instance: its own clock"
	"fleet|last_seen|2|the same, as text"
	"fleet|clock_skew_seconds|0.5|the collector's clock at receipt minus the agent's: receipt moments differ"
	"METRICS|pgfleet_instance_last_report_timestamp_seconds|2|when each collector last received a report of the instance: its own clock"
	"METRICS|pgfleet_ingest_duration_seconds|-|the time each collector took to store a batch (its own clock, not the store's content)"
	"METRICS|pgfleet_store_(wal_)?size_bytes|-|the size of the store's files: a SQLite file and a PostgreSQL database are not the same bytes"
	"METRICS|pgfleet_collector_start_time_seconds|-|when each collector process started"
)

# same_sums A_FILE B_FILE: B's JSON with each fractional number that is
# within 1e-12 of A's (relative) taken as A's. Not a mask of any field: a
# sum of doubles depends on the order rows are added, SQL defines no order
# for sum(), and the variance step (sum of squares / calls - mean^2)
# magnifies the last bit. A real difference is far larger than 1e-12.
same_sums() {
	jq -n --slurpfile a "$1" --slurpfile b "$2" '
		$a[0] as $A
		| reduce ([$b[0] | paths(type == "number")] | .[]) as $p ($b[0];
		    ($A | try getpath($p) catch null) as $va
		    | getpath($p) as $vb
		    | if ($va | type) == "number" and $va != $vb
		         and ($va - $vb | fabs) <= 1e-12 * ([($va | fabs), ($vb | fabs)] | max)
		      then setpath($p; $va) else . end)'
}

# normalise COMMAND A_FILE B_FILE A_OUT B_OUT: both answers sorted (jq -S),
# B's values within COMMAND's tolerances taken as A's
normalise() {
	local entry name rest field tolerance tolerances pairs=""
	for entry in "${NORMALISE[@]}"; do
		IFS='|' read -r name field tolerance rest <<<"$entry"
		[ "$name" = "$1" ] && pairs="$pairs${pairs:+, }\"$field\": $tolerance"
	done
	tolerances="{$pairs}"
	exact "$2" >"$4.exact"
	exact "$3" >"$5.exact"
	jq -S . "$4.exact" >"$4"
	same_sums "$4.exact" "$5.exact" >"$5.sums"
	mv "$5.sums" "$5.exact"
	if [ "$tolerances" = '{}' ]; then
		jq -S . "$5.exact" >"$5"
		return
	fi
	jq -S -n --slurpfile a "$4.exact" --slurpfile b "$5.exact" --argjson tol "$tolerances" '
		def num: if type == "number" then .
			elif test("^-?[0-9]+$") then tonumber
			else (strptime("%Y-%m-%d %H:%M:%S") | mktime) end;
		$a[0] as $A
		| reduce ([$b[0] | paths] | .[]
			| select(length > 0 and (.[-1] | type) == "string" and $tol[.[-1]] != null)) as $p
		    ($b[0];
		     ($A | try getpath($p) catch null) as $va
		     | getpath($p) as $vb
		     | if $va != null and $vb != null
		          and ((try (($va | num) - ($vb | num) | fabs) catch 1e300) <= $tol[$p[-1]])
		       then setpath($p; $va) else . end)' >"$5"
}
# normalise_metrics A_FILE B_FILE A_OUT B_OUT: the METRICS entries applied
normalise_metrics() {
	local entry name pattern tolerance rest drop="" tolerances=""
	for entry in "${NORMALISE[@]}"; do
		IFS='|' read -r name pattern tolerance rest <<<"$entry"
		[ "$name" = METRICS ] || continue
		if [ "$tolerance" = - ]; then
			drop="$drop${drop:+|}$pattern"
		else
			tolerances="$tolerances $pattern=$tolerance"
		fi
	done
	# a family's # HELP and # TYPE lines go with its samples
	grep -v -E "^(# (HELP|TYPE) )?($drop)" "$1" >"$3" || true
	grep -v -E "^(# (HELP|TYPE) )?($drop)" "$2" |
		awk -v tolerances="$tolerances" -v afile="$3" '
			function family(line) { sub(/[{ ].*/, "", line); return line }
			function series(line) { sub(/ [^ ]*$/, "", line); return line }
			BEGIN {
				n = split(tolerances, t, " ")
				for (i = 1; i <= n; i++) { split(t[i], kv, "="); tol[kv[1]] = kv[2] }
				while ((getline line <afile) > 0)
					if (line !~ /^#/ && family(line) in tol)
						avalue[series(line)] = line
			}
			/^#/ || !(family($0) in tol) { print; next }
			{
				s = series($0); v = $NF
				if (s in avalue) {
					np = split(avalue[s], parts, " "); a = parts[np]
					d = a - v; if (d < 0) d = -d
					if (d <= tol[family($0)]) { print avalue[s]; next }
				}
				print
			}' >"$4"
}

# ask NAME ARGS...: the CLI against collector NAME, with time to answer a
# long question (pgfleet_cli_at gives 5 s); the answer's time goes to
# $CMP/last.ms
ask() {
	local name=$1 start rc=0
	shift
	start=$(date +%s%N)
	"$PGFLEET_BIN_DIR/collector/pgfleet" --collector "${COLLECTOR_APIS[$name]}" --timeout 60s "$@" || rc=$?
	echo $((($(date +%s%N) - start) / 1000000)) >"$CMP/last.ms"
	return $rc
}

CMP=$HARNESS_DIR/compare
mkdir -p "$CMP"
SAME=0
DIFFERENT=()
FAILED=()
EMPTY=()
TOTAL_MS_A=0 TOTAL_MS_B=0
n=0
for request in "${COMMANDS[@]}"; do
	eval "args=($request)"
	sub=${args[0]}
	if [ -n "${STORE_COMPARE_ONLY:-}" ] && ! grep -qw -- "$sub" <<<"$STORE_COMPARE_ONLY"; then
		continue
	fi
	n=$((n + 1))
	rc_a=0 rc_b=0
	ask a "${args[@]}" --json >"$CMP/$n.a.json" 2>"$CMP/$n.a.err" || rc_a=$?
	ms_a=$(cat "$CMP/last.ms")
	ask b "${args[@]}" --json >"$CMP/$n.b.json" 2>"$CMP/$n.b.err" || rc_b=$?
	ms_b=$(cat "$CMP/last.ms")
	TOTAL_MS_A=$((TOTAL_MS_A + ms_a)) TOTAL_MS_B=$((TOTAL_MS_B + ms_b))
	echo "$ms_a $ms_b pgfleet ${args[*]}" >>"$CMP/times.txt"
	# a slow answer is worth knowing (the CLI's default timeout is 30 s)
	if [ "$ms_a" -gt 5000 ] || [ "$ms_b" -gt 5000 ]; then
		harness_log "slow: pgfleet ${args[*]}: A ${ms_a} ms, B ${ms_b} ms"
	fi
	if [ "$rc_a" != 0 ] || [ "$rc_b" != 0 ]; then
		FAILED+=("pgfleet ${args[*]}: A exit $rc_a $(head -c 300 "$CMP/$n.a.err"); B exit $rc_b $(head -c 300 "$CMP/$n.b.err")")
		harness_log "FAILS: pgfleet ${args[*]} (A exit $rc_a, B exit $rc_b: $(head -n 1 "$CMP/$n.b.err"))"
		continue
	fi
	normalise "$sub" "$CMP/$n.a.json" "$CMP/$n.b.json" "$CMP/$n.a.norm" "$CMP/$n.b.norm"
	# an empty answer would compare nothing: the workload gives each content
	# (jq -S puts each object of a list on its own line: "  {")
	if ! grep -qE '^[[:space:]]+[{]$' "$CMP/$n.a.norm"; then
		EMPTY+=("pgfleet ${args[*]}")
		harness_log "EMPTY: pgfleet ${args[*]} answers nothing on A (the workload missed it)"
	fi
	if diff -q "$CMP/$n.a.norm" "$CMP/$n.b.norm" >/dev/null; then
		SAME=$((SAME + 1))
	else
		DIFFERENT+=("pgfleet ${args[*]}")
		harness_log "DIFFERS: pgfleet ${args[*]} --json (A: SQLite, B: PostgreSQL)"
		diff -u --label "A $sub" --label "B $sub" "$CMP/$n.a.norm" "$CMP/$n.b.norm" | cut -c1-200 | head -n 40 >&2 || true
	fi
done

# /metrics over HTTP
if [ -z "${STORE_COMPARE_ONLY:-}" ] || grep -qw metrics <<<"$STORE_COMPARE_ONLY"; then
	rc_a=0 rc_b=0
	curl -sS --fail-with-body "http://127.0.0.1:$HTTP_A/metrics" >"$CMP/metrics.a" 2>&1 || rc_a=$?
	curl -sS --fail-with-body "http://127.0.0.1:$HTTP_B/metrics" >"$CMP/metrics.b" 2>&1 || rc_b=$?
	if [ "$rc_a" != 0 ] || [ "$rc_b" != 0 ]; then
		FAILED+=("GET /metrics: A exit $rc_a $(head -c 300 "$CMP/metrics.a"); B exit $rc_b $(head -c 300 "$CMP/metrics.b")")
		harness_log "FAILS: GET /metrics (A exit $rc_a, B exit $rc_b: $(head -n 1 "$CMP/metrics.b"))"
	else
		normalise_metrics "$CMP/metrics.a" "$CMP/metrics.b" "$CMP/metrics.a.norm" "$CMP/metrics.b.norm"
		if diff -q "$CMP/metrics.a.norm" "$CMP/metrics.b.norm" >/dev/null; then
			SAME=$((SAME + 1))
		else
			DIFFERENT+=("GET /metrics")
			harness_log "DIFFERS: GET /metrics (A: SQLite, B: PostgreSQL)"
			diff -u --label "A /metrics" --label "B /metrics" "$CMP/metrics.a.norm" "$CMP/metrics.b.norm" |
				head -n 40 >&2 || true
		fi
	fi
fi

# STORE_COMPARE_OUT=DIR keeps every answer (N.a.json, N.b.json, .norm, .err)
if [ -n "${STORE_COMPARE_OUT:-}" ]; then
	mkdir -p "$STORE_COMPARE_OUT" && cp -r "$CMP"/. "$STORE_COMPARE_OUT"/
	printf '%s\n' "${COMMANDS[@]}" >"$STORE_COMPARE_OUT/commands.txt"
fi
harness_log "answer times: A (SQLite) ${TOTAL_MS_A} ms, B (PostgreSQL) ${TOTAL_MS_B} ms in all"
harness_log "$SAME requests answered the same, ${#DIFFERENT[@]} differently, ${#FAILED[@]} failed"
for d in "${DIFFERENT[@]}"; do harness_log "  differs: $d"; done
for f in "${FAILED[@]}"; do harness_log "  fails:   $f"; done
for e in "${EMPTY[@]}"; do harness_log "  empty:   $e"; done
[ "${#DIFFERENT[@]}" -eq 0 ] && [ "${#FAILED[@]}" -eq 0 ] && [ "${#EMPTY[@]}" -eq 0 ] ||
	harness_fail "the two stores do not answer alike"
harness_log "PASS: $SAME requests, the same answers from SQLite and PostgreSQL"

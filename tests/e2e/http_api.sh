#!/usr/bin/env bash
# e2e: the collector's HTTP API and /metrics, over real HTTP (curl), from
# agents beside a real primary and its streaming replica. Checked:
#   - every endpoint answers 200 with the guide's field names, and values
#     this test caused: the slow statement it ran (pg_sleep, 3 calls, mean
#     over 0.2 s), the table it created (inserts, live tuples), its index,
#     the replica (fleet, replication, with replay paused), activity (a
#     busy session of the test's), query-trend of the slow statement; the
#     advice, pool and regression endpoints answer arrays; pool-size gives
#     the guide's 15; POST /api/db/explain returns the plan of the test's
#     table, EXPLAIN ANALYZE is refused (the agent's default);
#   - /api/db/slow-queries, table-stats, index-usage, fleet/instances,
#     replication, checklist, index-recommendations and pool-stats give
#     exactly the bytes of `pgfleet ... --json` for the same question;
#   - errors: 404 unknown path, 405 wrong method, 400 a bad parameter (named),
#     404 an unknown instance (named), 413 a body over http_max_body (with
#     Content-Length and chunked), 401 no token / wrong token; /healthz
#     without a token; the server keeps answering after all of them;
#   - /metrics passes `promtool check metrics` and carries the test's table,
#     the replica's paused replay, the statement and the collector's counters.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
command -v curl >/dev/null || harness_fail "curl is required (deploy/install-deps.sh)"
command -v promtool >/dev/null || harness_fail "promtool is required (Debian package prometheus)"

harness_init
harness_start_primary
harness_start_replica
HTTP_PORT=$(harness_free_port)
TOKEN="t0k-$RANDOM$RANDOM"
MAX_BODY=4096
COLLECTOR_HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
# the actions listener's default port would clash with other tests running
# at the same time: a free one, for the collector and the agents
COLLECTOR_FLAGS=()
FAMILY_FLAGS=(--tables_interval 1s --indexes_interval 1s --bloat_interval 1s)
if "$PGFLEET_BIN_DIR/collector/pgfleet-collector" --help | grep -q -- '--action_listen'; then
	ACTION_PORT=$(harness_free_port)
	COLLECTOR_FLAGS=(--action_listen "tcp://127.0.0.1:$ACTION_PORT")
	FAMILY_FLAGS+=(--action_collector "tcp://127.0.0.1:$ACTION_PORT")
fi
harness_start_collector --http_token "$TOKEN" --http_max_body "$MAX_BODY" "${COLLECTOR_FLAGS[@]}"
BASE="http://127.0.0.1:$HTTP_PORT"
harness_start_agent primary "$PRIMARY_PORT" "${FAMILY_FLAGS[@]}"
harness_start_agent replica "$REPLICA_PORT" "${FAMILY_FLAGS[@]}"

# api PATH [curl args]: the body of an authorized GET; fails on a non-200
api() {
	local path=$1
	shift
	curl -sS --fail-with-body -H "Authorization: Bearer $TOKEN" "$@" "$BASE$path"
}
# status EXPECTED_STATUS DESCRIPTION PATH [curl args]: the status is
# EXPECTED_STATUS and the body one JSON line {"error", "code"}; prints it
expect_status() {
	local expected=$1 what=$2 path=$3 out status body
	shift 3
	out=$(curl -sS -o "$HARNESS_DIR/body" -w '%{http_code}' "$@" "$BASE$path") ||
		harness_fail "$what: curl failed"
	body=$(cat "$HARNESS_DIR/body")
	[ "$out" = "$expected" ] || harness_fail "$what: status $out, expected $expected ($body)"
	[ "$(wc -l <"$HARNESS_DIR/body")" = 1 ] || harness_fail "$what: error is not one line: $body"
	jq -e 'keys_unsorted == ["error", "code"] and (.error | length > 0)' <<<"$body" >/dev/null ||
		harness_fail "$what: not an error object: $body"
	echo "$body"
}
AUTH=(-H "Authorization: Bearer $TOKEN")

harness_psql "$PRIMARY_PORT" >/dev/null <<'SQL'
CREATE TABLE http_orders (id int PRIMARY KEY, status text);
INSERT INTO http_orders SELECT g, CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'done' END
	FROM generate_series(1, 2000) g;
CREATE INDEX http_orders_status ON http_orders (status);
SQL
# the slow statement: 3 calls of about 0.25 s
for i in 1 2 3; do
	harness_psql "$PRIMARY_PORT" -c "SELECT pg_sleep(0.25) AS http_api_slow" >/dev/null
done

# ---- the guide's endpoints -------------------------------------------------
SLOW='select(.query | contains("http_api_slow"))'
slow_seen() {
	api "/api/db/slow-queries?instance=primary&min_duration_ms=200&limit=50" |
		jq -e "[.[] | $SLOW] | length == 1 and .[0].calls == 3" >/dev/null
}
harness_wait_for "the slow statement in /api/db/slow-queries" 60 slow_seen
out=$(api "/api/db/slow-queries?instance=primary&min_duration_ms=200&limit=50")
jq -e "[.[] | $SLOW][0] |
	keys_unsorted[0:7] == [\"query\", \"calls\", \"total_seconds\", \"mean_seconds\",
	  \"max_seconds\", \"stddev_seconds\", \"rows\"]
	and .mean_seconds >= 0.25 and .mean_seconds < 1 and .total_seconds >= 0.75
	and .max_seconds >= 0.25 and .rows == 3 and .instance == \"primary\"
	and .database == \"postgres\"" <<<"$out" >/dev/null ||
	harness_fail "slow-queries: wrong row for the slow statement: $out"
jq -e 'all(.[]; .mean_seconds >= 0.2)' <<<"$out" >/dev/null ||
	harness_fail "slow-queries: min_duration_ms=200 let a faster statement through: $out"
# limit, order and group as the CLI takes them
api "/api/db/slow-queries?limit=1&order=calls" | jq -e 'length == 1' >/dev/null ||
	harness_fail "slow-queries?limit=1 did not give one row"
api "/api/db/slow-queries?group=cluster&min_duration_ms=200" |
	jq -e "[.[] | $SLOW] | length == 1" >/dev/null ||
	harness_fail "slow-queries?group=cluster lost the slow statement"
harness_log "GET /api/db/slow-queries: the slow statement, 3 calls, guide's fields"

T='select(.schema == "public" and .table == "http_orders")'
table_seen() {
	api "/api/db/table-stats?instance=primary&limit=1000" |
		jq -e "[.[] | $T] | length == 1 and .[0].inserts == 2000" >/dev/null
}
harness_wait_for "http_orders in /api/db/table-stats" 60 table_seen
api "/api/db/table-stats?instance=primary&database=postgres" | jq -e "[.[] | $T][0] |
	keys_unsorted[0:12] == [\"schema\", \"table\", \"total_size\", \"table_size\",
	  \"indexes_size\", \"seq_scans\", \"seq_tuples_read\", \"index_scans\",
	  \"index_tuples_fetched\", \"inserts\", \"updates\", \"deletes\"]
	and .live_tuples == 2000" >/dev/null || harness_fail "table-stats: wrong http_orders row"
index_seen() {
	api "/api/db/index-usage?instance=primary&limit=1000" |
		jq -e '[.[] | select(.index == "http_orders_status")] | length == 1' >/dev/null
}
harness_wait_for "http_orders_status in /api/db/index-usage" 60 index_seen
api "/api/db/index-usage?instance=primary&limit=1000" |
	jq -e '[.[] | select(.index == "http_orders_status")][0] |
	keys_unsorted[0:8] == ["schema", "table", "index", "scans", "tuples_read",
	  "tuples_fetched", "size", "unused"] and .table == "http_orders"' >/dev/null ||
	harness_fail "index-usage: wrong http_orders_status row"
bloat_seen() {
	api "/api/db/bloat-stats?instance=primary&limit=1000" |
		jq -e "[.[] | $T] | length == 1 and .[0].live_tuples == 2000" >/dev/null
}
harness_wait_for "http_orders in /api/db/bloat-stats" 60 bloat_seen
api "/api/db/bloat-stats?instance=primary&limit=1000" | jq -e "[.[] | $T][0] |
	keys_unsorted[0:9] == [\"schema\", \"table\", \"total_size\", \"dead_tuples\",
	  \"live_tuples\", \"bloat_percentage\", \"last_vacuum\", \"last_autovacuum\",
	  \"needs_vacuum\"]" >/dev/null || harness_fail "bloat-stats: wrong http_orders row"
harness_log "GET table-stats, index-usage, bloat-stats: http_orders and its index"

# the replica: in the fleet, in replication, and paused
fleet_has_replica() {
	api /api/fleet/instances | jq -e 'any(.[]; .instance == "replica" and .role == "replica"
		and .upstream == "primary") and any(.[]; .instance == "primary" and .role == "primary")' >/dev/null
}
harness_wait_for "the replica in /api/fleet/instances" 60 fleet_has_replica
api "/api/fleet/instances?cluster=$(api /api/fleet/instances | jq -r '.[0].cluster')" |
	jq -e 'length == 2' >/dev/null || harness_fail "fleet/instances?cluster= does not list both"
harness_psql "$REPLICA_PORT" -c "SELECT pg_wal_replay_pause()" >/dev/null
harness_psql "$PRIMARY_PORT" -c "CREATE TABLE http_wal AS SELECT generate_series(1, 10000) AS i" >/dev/null
replica_paused() {
	api "/api/db/replication?instance=replica" | jq -e 'any(.[]; .kind == "standby"
		and .instance == "replica" and .upstream == "primary" and .replay_paused == true
		and .replay_lag_bytes > 0)' >/dev/null
}
harness_wait_for "the paused replica in /api/db/replication" 60 replica_paused
api /api/db/replication | jq -e 'any(.[]; .kind == "replica" and .instance == "primary"
	and .replica == "replica")' >/dev/null || harness_fail "replication: no walsender row for the replica"
paused_metric() {
	api /metrics | grep -qx "pgfleet_replication_replay_paused{instance=\"replica\",cluster=\"[0-9]*\"} 1"
}
harness_wait_for "replay paused in /metrics" 30 paused_metric
harness_psql "$REPLICA_PORT" -c "SELECT pg_wal_replay_resume()" >/dev/null
harness_log "GET /api/fleet/instances, /api/db/replication: the replica, paused"

# a session of this test's, busy for a while (killed below)
harness_psql "$PRIMARY_PORT" -c "SELECT pg_sleep(60) AS http_api_busy" >/dev/null 2>&1 &
BUSY_PID=$!
activity_seen() {
	api "/api/db/activity?instance=primary" | jq -e '(.instances | any(.[]; .instance == "primary"
		and .max_connections > 0 and .active >= 1))
		and (.connections | any(.[]; .instance == "primary" and .state == "active"
		  and .application_name == "psql" and .count >= 1))' >/dev/null
}
harness_wait_for "the test's busy session in /api/db/activity" 30 activity_seen
pool_metric() {
	api /metrics | grep -qE '^pgfleet_pool_busy_connections\{instance="primary",cluster="[0-9]+",application_name="psql",datname="postgres"\} [1-9]'
}
harness_wait_for "the busy session in /metrics' pool figures" 30 pool_metric
kill "$BUSY_PID" 2>/dev/null || true
wait "$BUSY_PID" 2>/dev/null || true
# queryid_of JSON_FILE: the slow statement's queryid, from the text (jq 1.6
# reads numbers as doubles: a 64-bit queryid would lose its last digits)
queryid_of() {
	awk '/http_api_slow/ { found = 1 } found && /"queryid":/ { gsub(/[^-0-9]/, ""); print; exit }' "$1"
}
api "/api/db/slow-queries?instance=primary&min_duration_ms=200" >"$HARNESS_DIR/slow.json"
QUERYID=$(queryid_of "$HARNESS_DIR/slow.json")
[ -n "$QUERYID" ] || harness_fail "no queryid for the slow statement"
api "/api/db/query-trend?queryid=$QUERYID&instance=primary&since=1h" |
	jq -e 'map(.calls) | add == 3' >/dev/null || harness_fail "query-trend: not 3 calls"
harness_log "GET /api/db/activity, /api/db/query-trend"

# the advice endpoints answer arrays (their contents are their own tests')
for path in index-recommendations vacuum-advice replication-health checklist pool-stats \
	pool-recommendation query-regressions; do
	api "/api/db/$path?since=1h" | jq -e 'type == "array"' >/dev/null ||
		harness_fail "GET /api/db/$path is not an array: $(api "/api/db/$path" 2>&1 | head -c 300)"
done
api "/api/db/checklist?instance=primary" | jq -e 'length > 0 and all(.[]; .instance == "primary")' \
	>/dev/null || harness_fail "checklist?instance=primary: no rows of the primary"
# the guide's formula: 100 requests/s x 0.05 s + 10 = 15
api "/api/db/pool-size?concurrent_requests=100&avg_query_ms=50&buffer=10" |
	jq -e '.pool_size == 15' >/dev/null || harness_fail "pool-size is not 15"
out=$(expect_status 400 "pool-size without avg_query_ms" \
	"/api/db/pool-size?concurrent_requests=100" "${AUTH[@]}")
jq -e '.error | contains("\"avg_query_ms\"")' <<<"$out" >/dev/null || harness_fail "pool-size: $out"
harness_log "GET the advice endpoints, pool-size"

# POST /api/db/explain, the guide's body, aimed at the primary's agent
EXPLAIN_BODY='{"query": "SELECT * FROM http_orders WHERE status = '"'"'pending'"'"'", "analyze": false, "instance": "primary"}'
explained() {
	api /api/db/explain -X POST -H "Content-Type: application/json" --data "$EXPLAIN_BODY" \
		>"$HARNESS_DIR/explain.json"
}
harness_wait_for "an EXPLAIN through POST /api/db/explain" 30 explained
jq -e '.instance == "primary" and .analyze == false and (.plan_text | contains("http_orders"))' \
	"$HARNESS_DIR/explain.json" >/dev/null || harness_fail "explain: $(cat "$HARNESS_DIR/explain.json")"
out=$(expect_status 405 "GET explain" /api/db/explain "${AUTH[@]}")
out=$(expect_status 400 "explain without a body" /api/db/explain "${AUTH[@]}" -X POST)
jq -e '.error | contains("JSON")' <<<"$out" >/dev/null || harness_fail "explain without a body: $out"
out=$(expect_status 400 "explain with a bad body" /api/db/explain "${AUTH[@]}" -X POST \
	--data '{"query": [1]}')
out=$(expect_status 404 "explain on an unknown instance" /api/db/explain "${AUTH[@]}" -X POST \
	--data '{"query": "SELECT 1", "instance": "nosuch"}')
# EXPLAIN ANALYZE is the agent's choice: off by default, refused with its reason
status=$(curl -sS -o "$HARNESS_DIR/body" -w '%{http_code}' "${AUTH[@]}" -X POST \
	--data '{"query": "SELECT 1", "analyze": true, "instance": "primary"}' "$BASE/api/db/explain")
[ "$status" != 200 ] && jq -e '.error | length > 0' "$HARNESS_DIR/body" >/dev/null ||
	harness_fail "explain analyze was not refused: $status $(cat "$HARNESS_DIR/body")"
harness_log "POST /api/db/explain: a plan of http_orders; analyze refused ($status)"

# ---- the same bytes as the CLI's --json ------------------------------------
# agents stopped, so nothing changes between the two; one absolute window;
# once both instances are stale (3 report intervals), so the answers'
# `stale` cannot flip between the two requests
harness_stop agent-primary
harness_stop agent-replica
all_stale() { api /api/fleet/instances | jq -e 'length == 2 and all(.[]; .stale)' >/dev/null; }
harness_wait_for "both instances stale" 30 all_stale
SINCE=$(date -u -d '-1 hour' '+%Y-%m-%d %H:%M:%S')
api /api/db/slow-queries -G --data-urlencode "since=$SINCE" --data-urlencode "limit=50" \
	>"$HARNESS_DIR/http.json"
pgfleet_cli slow-queries --json --since "$SINCE" --limit 50 >"$HARNESS_DIR/cli.json"
cmp -s "$HARNESS_DIR/http.json" "$HARNESS_DIR/cli.json" ||
	harness_fail "slow-queries: HTTP and CLI JSON differ: $(diff "$HARNESS_DIR/http.json" "$HARNESS_DIR/cli.json" | head -20)"
jq -e "[.[] | $SLOW] | length == 1" "$HARNESS_DIR/http.json" >/dev/null ||
	harness_fail "the compared answer lacks the slow statement"
for question in table-stats index-usage fleet replication checklist index-recommendations \
	pool-stats; do
	path=/api/db/$question
	[ "$question" = fleet ] && path=/api/fleet/instances
	api "$path" -G --data-urlencode "since=$SINCE" >"$HARNESS_DIR/http.json"
	pgfleet_cli "$question" --json --since "$SINCE" >"$HARNESS_DIR/cli.json"
	cmp -s "$HARNESS_DIR/http.json" "$HARNESS_DIR/cli.json" ||
		harness_fail "$question: HTTP and CLI JSON differ: $(diff "$HARNESS_DIR/http.json" "$HARNESS_DIR/cli.json" | head -10)"
done
harness_log "slow-queries, table-stats, index-usage, fleet, replication, checklist, index-recommendations, pool-stats: HTTP JSON = pgfleet --json, byte for byte"

# ---- errors ------------------------------------------------------------------
out=$(expect_status 404 "unknown path" /api/db/nope "${AUTH[@]}")
jq -e '.code == "not_found" and (.error | contains("/api/db/nope"))' <<<"$out" >/dev/null ||
	harness_fail "unknown path: $out"
out=$(expect_status 405 "wrong method" /api/db/slow-queries "${AUTH[@]}" -X DELETE)
jq -e '.code == "method_not_allowed"' <<<"$out" >/dev/null || harness_fail "wrong method: $out"
curl -sS -o /dev/null -D - -X POST "${AUTH[@]}" "$BASE/api/db/table-stats" |
	grep -qi '^Allow: GET' || harness_fail "405 without an Allow header"
out=$(expect_status 400 "bad limit" "/api/db/slow-queries?limit=abc" "${AUTH[@]}")
jq -e '.code == "bad_request" and (.error | contains("\"limit\"") and contains("abc"))' <<<"$out" \
	>/dev/null || harness_fail "bad limit: $out"
out=$(expect_status 400 "bad since" "/api/db/table-stats?since=soon" "${AUTH[@]}")
jq -e '.error | contains("\"since\"")' <<<"$out" >/dev/null || harness_fail "bad since: $out"
out=$(expect_status 400 "unknown parameter" "/api/db/index-usage?colour=red" "${AUTH[@]}")
jq -e '.error | contains("\"colour\"")' <<<"$out" >/dev/null || harness_fail "unknown parameter: $out"
out=$(expect_status 400 "bad order" "/api/db/slow-queries?order=fastest" "${AUTH[@]}")
jq -e '.error | contains("\"order\"")' <<<"$out" >/dev/null || harness_fail "bad order: $out"
out=$(expect_status 404 "unknown instance" "/api/db/table-stats?instance=nosuch" "${AUTH[@]}")
jq -e '.code == "not_found" and .error == "unknown instance \"nosuch\""' <<<"$out" >/dev/null ||
	harness_fail "unknown instance: $out"
# a name that is not UTF-8 is quoted as valid JSON (U+FFFD), not dropped
out=$(expect_status 404 "unknown instance, not UTF-8" "/api/db/table-stats?instance=x%FFy" "${AUTH[@]}")
jq -e '.error == "unknown instance \"x\ufffdy\""' <<<"$out" >/dev/null ||
	harness_fail "unknown instance, not UTF-8: $out"
out=$(expect_status 404 "unknown cluster" "/api/db/slow-queries?cluster=123" "${AUTH[@]}")
jq -e '.error == "unknown cluster \"123\""' <<<"$out" >/dev/null || harness_fail "unknown cluster: $out"
head -c $((MAX_BODY + 1)) /dev/zero | tr '\0' x >"$HARNESS_DIR/big"
out=$(expect_status 413 "body too large" /api/db/slow-queries "${AUTH[@]}" -X POST \
	--data-binary @"$HARNESS_DIR/big")
jq -e '.code == "payload_too_large"' <<<"$out" >/dev/null || harness_fail "413: $out"
out=$(expect_status 413 "chunked body too large" /api/db/slow-queries "${AUTH[@]}" -X POST \
	-H "Transfer-Encoding: chunked" --data-binary @"$HARNESS_DIR/big")
out=$(expect_status 401 "no token" /api/db/slow-queries)
jq -e '.code == "unauthorized"' <<<"$out" >/dev/null || harness_fail "no token: $out"
curl -sS -o /dev/null -D - "$BASE/metrics" | grep -qi '^WWW-Authenticate: Bearer' ||
	harness_fail "401 without WWW-Authenticate"
expect_status 401 "wrong token" /metrics -H "Authorization: Bearer ${TOKEN}x" >/dev/null
expect_status 401 "short token" /api/fleet/instances -H "Authorization: Bearer ${TOKEN:0:3}" >/dev/null
expect_status 401 "not a bearer" /api/fleet/instances -H "Authorization: Basic $TOKEN" >/dev/null
# /healthz needs no token; everything still answers
[ "$(curl -sS "$BASE/healthz")" = '{"status":"ok"}' ] || harness_fail "/healthz is not ok"
api /api/fleet/instances | jq -e 'length == 2' >/dev/null ||
	harness_fail "the server stopped answering after the errors"
harness_log "errors: 404, 405, 400 (named), 404 instance, 413, 401; still serving"

# ---- /metrics ------------------------------------------------------------------
api /metrics >"$HARNESS_DIR/metrics.txt"
promtool check metrics <"$HARNESS_DIR/metrics.txt" ||
	harness_fail "promtool check metrics failed"
metric() {
	grep -E "^$1$" "$HARNESS_DIR/metrics.txt" >/dev/null ||
		harness_fail "/metrics has no line matching \"$1\": $(grep -F "${2:-$1}" "$HARNESS_DIR/metrics.txt" | head -5)"
}
L='instance="primary",cluster="[0-9]+",datname="postgres",schemaname="public",relname="http_orders"'
metric "pg_stat_user_tables_n_live_tup\\{$L\\} 2000" pg_stat_user_tables_n_live_tup
metric "pg_stat_user_tables_n_tup_ins\\{$L\\} 2000" pg_stat_user_tables_n_tup_ins
metric "pg_stat_user_indexes_idx_scan\\{$L,indexrelname=\"http_orders_status\"\\} [0-9]+" pg_stat_user_indexes
metric 'pg_up\{instance="replica",cluster="[0-9]+"\} 1' pg_up
metric 'pg_replication_is_replica\{instance="replica",cluster="[0-9]+"\} 1' pg_replication_is_replica
metric 'pg_replication_is_replica\{instance="primary",cluster="[0-9]+"\} 0' pg_replication_is_replica
metric 'pg_replication_lag_seconds\{instance="replica",cluster="[0-9]+"\} [0-9.e+-]+' pg_replication_lag_seconds
metric 'pg_stat_replication_pg_wal_lsn_diff\{instance="primary",.*\} [0-9]+' pg_stat_replication
metric 'pg_stat_activity_connections\{instance="primary",.*\} [0-9]+' pg_stat_activity_connections
metric "pg_stat_statements_calls_total\\{instance=\"primary\",cluster=\"[0-9]+\",datname=\"postgres\",queryid=\"$QUERYID\"\\} 3" pg_stat_statements_calls_total
metric 'pgfleet_reports_received_total [1-9][0-9]*' pgfleet_reports
metric 'pgfleet_reports_rejected_total 0' pgfleet_reports
metric 'pgfleet_ingest_duration_seconds_count [1-9][0-9]*' pgfleet_ingest
metric 'pgfleet_store_size_bytes [1-9][0-9]*' pgfleet_store
harness_log "PASS: HTTP API and /metrics ($(grep -vc '^#' "$HARNESS_DIR/metrics.txt") samples, promtool ok)"

#!/usr/bin/env bash
# e2e: table-stats, index-usage and bloat-stats through the collector, from
# agents beside a primary and its replica (tables, indexes and bloat every
# second):
#   - the guide's JSON field names, exactly, and sizes as pg_size_pretty
#     writes them;
#   - a table with autovacuum off: 1000 inserts, 300 updates leaving 300
#     dead tuples, which is more than autovacuum's start point (50 + 0.2 *
#     1000 after ANALYZE), so needs_vacuum; after a VACUUM no dead tuples,
#     no need, and a last_vacuum time;
#   - an index scanned 5 times, an index never scanned (unused), and the
#     primary key's index, never scanned but needed (not unused);
#   - a table three quarters deleted and vacuumed: the bloat family's
#     estimate (from statistics) is joined to its row;
#   - the replica's tables under the replica's name;
#   - the table output (no --json) has the guide's columns.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary
harness_start_replica
harness_start_collector
FAMILY_FLAGS=(--tables_interval 1s --indexes_interval 1s --bloat_interval 1s)
harness_start_agent primary "$PRIMARY_PORT" "${FAMILY_FLAGS[@]}"
harness_start_agent replica "$REPLICA_PORT" "${FAMILY_FLAGS[@]}"

harness_psql "$PRIMARY_PORT" >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = off);
INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;
CREATE INDEX t_v_idx ON t (v);
CREATE INDEX t_unused ON t (id, v);
SQL
# exactly 5 scans of t_v_idx, in one session that then ends (its counters
# are flushed at exit)
{
	echo "SET enable_seqscan = off; SET enable_bitmapscan = off;"
	for i in 1 2 3 4 5; do echo "SELECT id FROM t WHERE v = $i;"; done
} | harness_psql "$PRIMARY_PORT" >/dev/null
# ANALYZE before the update: reltuples is exactly 1000 (the trigger is 250),
# and ANALYZE resets the dead tuple count to its own estimate. The update
# changes an indexed column: no HOT update, so no read prunes a dead tuple
# away from the count; it reads the table without an index (t_pkey keeps 0
# scans).
harness_psql "$PRIMARY_PORT" -c "ANALYZE t" >/dev/null
harness_psql "$PRIMARY_PORT" >/dev/null <<'SQL'
SET enable_indexscan = off;
SET enable_bitmapscan = off;
UPDATE t SET v = v + 1000 WHERE id <= 300;
SQL
# b: three rows in four deleted and vacuumed, the pages kept: bloat. One
# session per statement: a session's counters reach the statistics when it
# ends, and VACUUM must come after them, or it counts them again.
harness_psql "$PRIMARY_PORT" -c "CREATE TABLE b AS
	SELECT g AS id, repeat('x', 100) AS pad FROM generate_series(1, 20000) g" >/dev/null
harness_psql "$PRIMARY_PORT" -c "DELETE FROM b WHERE id % 4 <> 0" >/dev/null
harness_psql "$PRIMARY_PORT" -c "VACUUM ANALYZE b" >/dev/null

# row COMMAND INSTANCE JQ_SELECT: the JSON object of the one row of
# `pgfleet COMMAND --json --instance INSTANCE` that JQ_SELECT picks
row() {
	pgfleet_cli "$1" --json --limit 1000 --instance "$2" | jq -c "[.[] | select($3)] | first // empty"
}
# row_has COMMAND INSTANCE JQ_SELECT JQ_TEST: that row exists and passes
row_has() {
	local r
	r=$(row "$1" "$2" "$3") || return 1
	[ -n "$r" ] && [ "$(jq "$4" <<<"$r")" = true ]
}
# check COMMAND INSTANCE JQ_SELECT JQ_TEST DESCRIPTION: fails, showing the
# row, unless it passes
check() {
	local r
	r=$(row "$1" "$2" "$3") || harness_fail "pgfleet $1 failed"
	[ -n "$r" ] || harness_fail "$1: no row for $3 on $2"
	[ "$(jq "$4" <<<"$r")" = true ] || harness_fail "$1: $5 (row: $r)"
}
T='.schema == "public" and .table == "t"'

harness_wait_for "t with 300 dead tuples in table-stats" 60 \
	row_has table-stats primary "$T" '.dead_tuples == 300 and .inserts == 1000'
harness_wait_for "t_v_idx with 5 scans in index-usage" 60 \
	row_has index-usage primary '.index == "t_v_idx"' '.scans == 5'
harness_wait_for "t with 300 dead tuples in bloat-stats" 60 \
	row_has bloat-stats primary "$T" '.dead_tuples == 300 and .live_tuples == 1000'
harness_log "the collector answers with the primary's table t"

# table-stats: the guide's fields first, in the guide's order
check table-stats primary "$T" \
	'keys_unsorted[0:12] == ["schema", "table", "total_size", "table_size",
	  "indexes_size", "seq_scans", "seq_tuples_read", "index_scans",
	  "index_tuples_fetched", "inserts", "updates", "deletes"]' \
	"the guide's fields are not the first, in order"
check table-stats primary "$T" \
	'(.total_size | test("^[0-9]+ kB$")) and (.table_size | test("^[0-9]+ kB$"))
	 and (.indexes_size | test("^[0-9]+ kB$"))' "sizes are not pg_size_pretty kB"
check table-stats primary "$T" \
	'.inserts == 1000 and .updates == 300 and .deletes == 0 and .live_tuples == 1000
	 and .index_scans == 5 and .instance == "primary" and .database == "postgres"
	 and .total_bytes > 0 and (.collected_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}$"))' \
	"wrong counters"
# ordered by total_bytes, largest first
pgfleet_cli table-stats --json --instance primary |
	jq -e '[.[].total_bytes] as $b | $b == ($b | sort | reverse)' >/dev/null ||
	harness_fail "table-stats is not ordered by total_bytes"

# index-usage
check index-usage primary '.index == "t_v_idx"' \
	'keys_unsorted[0:8] == ["schema", "table", "index", "scans", "tuples_read",
	  "tuples_fetched", "size", "unused"]' "the guide's fields are not the first, in order"
check index-usage primary '.index == "t_v_idx"' \
	'.table == "t" and .scans == 5 and .unused == false and (.size | test("^[0-9]+ kB$"))
	 and (.definition | contains("t_v_idx"))' "t_v_idx is wrong"
check index-usage primary '.index == "t_unused"' \
	'.scans == 0 and .unused == true' "t_unused is not unused"
check index-usage primary '.index == "t_pkey"' \
	'.scans == 0 and .unused == false and .is_primary == true and .constraint_type == "p"' \
	"t_pkey is wrong (it backs the primary key: not unused)"
# unused first
pgfleet_cli index-usage --json --instance primary |
	jq -e '[.[].unused] as $u | $u == ($u | sort | reverse)' >/dev/null ||
	harness_fail "index-usage does not list unused indexes first"

# bloat-stats, before a VACUUM
check bloat-stats primary "$T" \
	'keys_unsorted[0:9] == ["schema", "table", "total_size", "dead_tuples", "live_tuples",
	  "bloat_percentage", "last_vacuum", "last_autovacuum", "needs_vacuum"]' \
	"the guide's fields are not the first, in order"
check bloat-stats primary "$T" \
	'.bloat_percentage == 30 and .needs_vacuum == true and .last_vacuum == ""
	 and .last_autovacuum == "" and .autovacuum_enabled == false
	 and .vacuum_trigger == 250 and (.total_size | test("^[0-9]+ kB$"))' \
	"t before VACUUM is wrong"
harness_wait_for "b's bloat estimate" 60 row_has bloat-stats primary '.table == "b"' \
	'.estimated_bloat_bytes > 0 and .dead_tuples == 0'
check bloat-stats primary '.table == "b"' \
	'.estimated_bloat_percentage > 50 and .estimated_bloat_percentage < 100
	 and .estimate_unreliable == false and .dead_tuples == 0 and .live_tuples == 5000' \
	"b's bloat estimate is wrong"
harness_log "table-stats, index-usage and bloat-stats agree with the primary"

# the replica's own tables, under its name
harness_wait_for "t on the replica" 60 row_has table-stats replica "$T" '.instance == "replica"'
harness_wait_for "t_v_idx on the replica" 60 \
	row_has index-usage replica '.index == "t_v_idx"' '.instance == "replica"'
# and a filter on the primary shows none of them
pgfleet_cli table-stats --json --instance primary |
	jq -e 'all(.[]; .instance == "primary")' >/dev/null ||
	harness_fail "table-stats --instance primary shows another instance"

# VACUUM: no dead tuples left, no need, a last_vacuum time
harness_psql "$PRIMARY_PORT" -c "VACUUM t" >/dev/null
harness_wait_for "t vacuumed in bloat-stats" 60 \
	row_has bloat-stats primary "$T" '.dead_tuples == 0 and .last_vacuum != ""'
check bloat-stats primary "$T" \
	'.needs_vacuum == false and .bloat_percentage == 0
	 and (.last_vacuum | test("^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}$"))' \
	"t after VACUUM is wrong"
harness_log "after VACUUM t: no dead tuples, needs_vacuum false"

# the table output names the guide's columns
pgfleet_cli table-stats --instance primary >"$HARNESS_DIR/table-stats.txt"
for column in schema table total_size table_size indexes_size seq_scans seq_tuples_read \
	index_scans index_tuples_fetched inserts updates deletes; do
	grep -qw "$column" "$HARNESS_DIR/table-stats.txt" ||
		harness_fail "table-stats table has no column $column"
done
pgfleet_cli index-usage --instance primary >"$HARNESS_DIR/index-usage.txt"
for column in schema table index scans tuples_read tuples_fetched size unused; do
	grep -qw "$column" "$HARNESS_DIR/index-usage.txt" ||
		harness_fail "index-usage table has no column $column"
done
pgfleet_cli bloat-stats --instance primary >"$HARNESS_DIR/bloat-stats.txt"
for column in schema table total_size dead_tuples live_tuples bloat_percentage \
	last_vacuum last_autovacuum needs_vacuum; do
	grep -qw "$column" "$HARNESS_DIR/bloat-stats.txt" ||
		harness_fail "bloat-stats table has no column $column"
done
harness_log "PASS: table-stats, index-usage and bloat-stats"

# table-trend: t on two instances needs --instance; on the primary, the
# latest bucket (a week wide, so the whole test is in it) saw the 300 dead
# tuples, and after the VACUUM its last snapshot has none
out=$(pgfleet_cli table-trend --table public.t 2>&1) &&
	harness_fail "table-trend answered for a table on two instances: $out"
grep -q "name an instance: table public.t exists on primary, replica" <<<"$out" ||
	harness_fail "table-trend without --instance: wrong error: $out"
trend=$(pgfleet_cli table-trend --table public.t --instance primary --since 1h \
	--bucket 7d --json) || harness_fail "table-trend failed"
jq -e 'length >= 1 and (last | .max_dead_tup == 300 and .n_dead_tup == 0
	and .total_bytes > 0 and (.total_size | test("^[0-9]+ kB$"))
	and (.bucket | test("^[0-9]{4}-[0-9]{2}-[0-9]{2} 00:00:00$")))' <<<"$trend" >/dev/null ||
	harness_fail "table-trend of t is wrong: $trend"
pgfleet_cli table-trend --table t --instance primary >"$HARNESS_DIR/table-trend.txt" ||
	harness_fail "table-trend (table output) failed"
for line in "size_sparkline:" "dead_tuples_sparkline:" "bucket_width: 1h00m" "instance: primary"; do
	grep -q "$line" "$HARNESS_DIR/table-trend.txt" ||
		harness_fail "table-trend output has no \"$line\": $(cat "$HARNESS_DIR/table-trend.txt")"
done
pgfleet_cli table-trend --table nosuch --instance primary 2>/dev/null &&
	harness_fail "table-trend answered for a table that does not exist"
harness_log "table-trend: t's dead tuples at 300 in the latest bucket"

# replication-trend: the replica's own lag, one row per bucket
harness_wait_for "the replica in replication-trend" 60 sh -c \
	"\"\$0\" --collector \"\$1\" --timeout 5s replication-trend --since 1h --json |
	 jq -e 'any(.[]; .instance == \"replica\" and .max_replay_lag_bytes >= 0 and (.bucket | test(\"^[0-9]{4}-\")))' >/dev/null" \
	"$PGFLEET_BIN_DIR/collector/pgfleet" "$COLLECTOR_API"
pgfleet_cli replication-trend --since 1h >"$HARNESS_DIR/replication-trend.txt" ||
	harness_fail "replication-trend (table output) failed"
grep -q "lag_sparkline:" "$HARNESS_DIR/replication-trend.txt" ||
	harness_fail "replication-trend output has no sparkline"
harness_log "PASS: table-trend and replication-trend"

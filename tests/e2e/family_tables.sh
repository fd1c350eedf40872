#!/usr/bin/env bash
# e2e: the tables and indexes families report what the test did, in every
# database of the server:
#   - a table with autovacuum turned off and its own scale factor: exactly
#     the dead tuples 300 updates left, the effective autovacuum settings
#     and the dead-tuple count at which autovacuum would start;
#   - a table in a second database `shop` (every database is read), and a
#     row per database with its size and freeze age;
#   - an index scanned exactly 7 times, with its key columns; the primary
#     key's index and the constraint it backs; a partial index's predicate;
#     a foreign key with its columns and referenced table;
# and the replica reports the same tables with its own statistics (3 index
# scans run on the replica, none of the primary's 7).
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary
harness_start_replica

harness_psql "$PRIMARY_PORT" -c "CREATE DATABASE shop" >/dev/null
harness_psql "$PRIMARY_PORT" -d shop >/dev/null <<'SQL'
CREATE TABLE orders (id int PRIMARY KEY, note text);
INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 10) g;
SQL
harness_psql "$PRIMARY_PORT" >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v int)
	WITH (autovacuum_enabled = off, autovacuum_vacuum_scale_factor = 0.05);
INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;
CREATE INDEX t_v_idx ON t (v);
CREATE INDEX t_big_idx ON t (id) WHERE v > 500;
ALTER TABLE t ADD CONSTRAINT t_id_v_key UNIQUE (id, v);
-- columns listed in another order than the table's, to see conkey order
CREATE TABLE t_child (id int PRIMARY KEY, t_id int, t_v int,
	CONSTRAINT t_child_t_fk FOREIGN KEY (t_v, t_id) REFERENCES t (v, id));
SQL

# exactly 7 scans of t_v_idx, in one session that then ends (its counters
# are flushed at exit); before the update, so no read prunes its dead tuples
{
	echo "SET enable_seqscan = off; SET enable_bitmapscan = off;"
	for i in 1 2 3 4 5 6 7; do echo "SELECT id FROM t WHERE v = $i;"; done
} | harness_psql "$PRIMARY_PORT" >/dev/null
# ANALYZE first: reltuples is exactly 1000, and ANALYZE resets the dead
# tuple count to its estimate, so it must not run after the update
harness_psql "$PRIMARY_PORT" -c "ANALYZE t" >/dev/null
harness_psql "$PRIMARY_PORT" -c "UPDATE t SET v = v + 1000 WHERE id <= 300" >/dev/null

harness_wait_for "300 dead tuples in t" 30 harness_query_is "$PRIMARY_PORT" 300 \
	"SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 't'"
harness_wait_for "7 scans of t_v_idx" 30 harness_query_is "$PRIMARY_PORT" 7 \
	"SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 't_v_idx'"

harness_agent_once "$PRIMARY_PORT" >"$HARNESS_DIR/primary.json" ||
	harness_fail "pgfleet-agent --once failed on the primary"

# check FILE JQ_FILTER DESCRIPTION: fails unless the filter is true on
# FILE, showing what the filter's last step looked at
check() {
	local file=$1 filter=$2 what=$3
	jq -e "$filter" "$file" >/dev/null ||
		harness_fail "$what (in $file: $(jq -c "${filter% |*}" "$file" 2>/dev/null | head -c 2000))"
}
P=$HARNESS_DIR/primary.json
T='.tables.tables[] | select(.database == "postgres" and .table == "t")'
I() { echo ".indexes.indexes[] | select(.database == \"postgres\" and .index == \"$1\")"; }

check "$P" '(.tables.problems // []) | length == 0' "tables family has problems"
check "$P" '(.indexes.problems // []) | length == 0' "indexes family has problems"
check "$P" "[$T] | length == 1" "table t is reported once"
check "$P" "$T | .schema == \"public\" and .relid > 0" "t's schema and relid"
check "$P" "$T | .n_dead_tup == 300" "t has 300 dead tuples"
check "$P" "$T | .n_live_tup == 1000" "t has 1000 live tuples"
check "$P" "$T | .n_tup_ins == 1000 and .n_tup_upd == 300" "t's insert and update counts"
check "$P" "$T | .reltuples == 1000" "t's reltuples is 1000 after ANALYZE"
check "$P" "$T | .analyze_count == 1 and .last_analyze_us > 0" "t's manual analyze"
check "$P" "$T | .autovacuum_enabled == false" "autovacuum is off for t"
check "$P" "$T | .autovacuum_vacuum_scale_factor == 0.05" "t's own scale factor"
check "$P" "$T | .autovacuum_vacuum_threshold == 50" "the server's threshold for t"
check "$P" "$T | .autovacuum_analyze_scale_factor == 0.1 and .autovacuum_analyze_threshold == 50" \
	"the server's analyze settings for t"
check "$P" "$T | .autovacuum_vacuum_trigger == 50 + 0.05 * .reltuples" \
	"t's vacuum trigger is 50 + 0.05 * reltuples"
check "$P" "$T | .autovacuum_analyze_trigger == 50 + 0.1 * .reltuples" \
	"t's analyze trigger is 50 + 0.1 * reltuples"
check "$P" "$T | .table_bytes > 0 and .indexes_bytes > 0 and .total_bytes >= .table_bytes + .indexes_bytes" \
	"t's sizes"
check "$P" "$T | .relfrozenxid_age > 0" "t's freeze age"
check "$P" '.tables.tables[] | select(.table == "t_child") | .autovacuum_enabled == true' \
	"autovacuum is on for a table without options"
check "$P" '[.tables.tables[] | select(.database == "shop" and .table == "orders")] | length == 1' \
	"table orders of database shop is reported"
check "$P" '[.tables.tables[] | select(.schema == "pg_catalog" or .schema == "information_schema")] | length == 0' \
	"no catalog tables"
check "$P" '[.tables.databases[].database] | (index("postgres") != null and index("shop") != null)' \
	"a row for databases postgres and shop"
check "$P" '.tables.databases[] | select(.database == "shop") | .size_bytes > 0 and .datfrozenxid_age > 0' \
	"shop's size and freeze age"
check "$P" '.tables.autovacuum_freeze_max_age == 200000000' "autovacuum_freeze_max_age"

check "$P" "$(I t_v_idx) | .idx_scan == 7" "t_v_idx was scanned 7 times"
check "$P" "$(I t_v_idx) | .columns == [\"v\"] and .access_method == \"btree\"" "t_v_idx's columns"
check "$P" "$(I t_v_idx) | .constraint_type == \"\" and .is_primary == false and .is_valid and .is_ready" \
	"t_v_idx backs no constraint"
check "$P" "$(I t_v_idx) | .definition == \"CREATE INDEX t_v_idx ON public.t USING btree (v)\"" \
	"t_v_idx's definition"
check "$P" "$(I t_v_idx) | .size_bytes > 0 and .table == \"t\" and .relid > 0 and .indexrelid > 0" \
	"t_v_idx's size and table"
check "$P" "$(I t_pkey) | .constraint_type == \"p\" and .constraint_name == \"t_pkey\" and .is_primary and .is_unique" \
	"t_pkey backs the primary key"
check "$P" "$(I t_pkey) | .columns == [\"id\"]" "t_pkey's columns"
check "$P" "$(I t_big_idx) | .predicate == \"v > 500\" and .columns == [\"id\"]" \
	"t_big_idx's predicate"
check "$P" "$(I t_v_idx) | .last_idx_scan_us == 0" "no last_idx_scan before PostgreSQL 16"
check "$P" "$(I t_id_v_key) | .constraint_type == \"u\" and .constraint_name == \"t_id_v_key\" and .columns == [\"id\", \"v\"]" \
	"t_id_v_key backs the unique constraint"
F='.indexes.foreign_keys[] | select(.database == "postgres" and .name == "t_child_t_fk")'
check "$P" "$F | .schema == \"public\" and .table == \"t_child\" and .referenced_table == \"public.t\"" \
	"the foreign key and its tables"
check "$P" "$F | .columns == [\"t_v\", \"t_id\"]" "the foreign key's columns in key order"
check "$P" '[.indexes.indexes[] | select(.database == "shop" and .index == "orders_pkey")] | length == 1' \
	"the index of database shop is reported"
harness_log "primary: tables and indexes as expected"

# the replica: the same tables in every database, with its own counters
# caught up by WAL position: reading t on the replica would count scans
PRIMARY_LSN=$(harness_psql "$PRIMARY_PORT" -tAc "SELECT pg_current_wal_lsn()")
harness_wait_for "replica replays $PRIMARY_LSN" 30 harness_query_is "$REPLICA_PORT" t \
	"SELECT pg_last_wal_replay_lsn() >= '$PRIMARY_LSN'"
{
	echo "SET enable_seqscan = off; SET enable_bitmapscan = off;"
	for i in 1 2 3; do echo "SELECT id FROM t WHERE v = $i;"; done
} | harness_psql "$REPLICA_PORT" >/dev/null
harness_wait_for "3 scans of t_v_idx on the replica" 30 harness_query_is "$REPLICA_PORT" 3 \
	"SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 't_v_idx'"

harness_agent_once "$REPLICA_PORT" >"$HARNESS_DIR/replica.json" ||
	harness_fail "pgfleet-agent --once failed on the replica"
R=$HARNESS_DIR/replica.json
check "$R" '(.tables.problems // []) | length == 0' "replica: tables family has problems"
check "$R" '(.indexes.problems // []) | length == 0' "replica: indexes family has problems"
check "$R" "[$T] | length == 1" "replica: table t is reported"
check "$R" "$T | .n_dead_tup == 0 and .n_tup_upd == 0" "replica: its own counters for t"
check "$R" "$T | .autovacuum_enabled == false and .autovacuum_vacuum_scale_factor == 0.05" \
	"replica: t's reloptions"
check "$R" '[.tables.tables[] | select(.database == "shop" and .table == "orders")] | length == 1' \
	"replica: table orders of database shop is reported"
check "$R" "$(I t_v_idx) | .idx_scan == 3" "replica: its own 3 scans of t_v_idx"
check "$R" '[.indexes.foreign_keys[] | select(.name == "t_child_t_fk")] | length == 1' \
	"replica: the foreign key"
harness_log "replica: tables and indexes as expected"

# An ACCESS EXCLUSIVE lock (as VACUUM FULL or ALTER TABLE take) on t_child:
# the families must neither wait for it until lock_timeout (losing the
# whole database) nor fail; t_child's sizes are estimated instead and a
# problem says so. The lock is replayed on the replica too.
PGAPPNAME=lock_holder harness_psql "$PRIMARY_PORT" \
	-c "BEGIN" -c "LOCK TABLE t_child IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(120)" \
	>/dev/null 2>&1 &
LOCK_HOLDER=$!
harness_wait_for "t_child locked" 30 harness_query_is "$PRIMARY_PORT" t \
	"SELECT count(*) > 0 FROM pg_locks WHERE relation = 't_child'::regclass AND granted"
harness_agent_once "$PRIMARY_PORT" >"$HARNESS_DIR/locked.json" ||
	harness_fail "pgfleet-agent --once failed while t_child was locked"
L=$HARNESS_DIR/locked.json
check "$L" '[.tables.problems[] | select(.database == "postgres" and .code == "CODE_TIMEOUT")] | length == 1' \
	"locked: one problem about estimated table sizes"
check "$L" '[.indexes.problems[] | select(.database == "postgres" and .code == "CODE_TIMEOUT")] | length == 1' \
	"locked: one problem about the locked indexes"
check "$L" "$T | .n_dead_tup == 300 and .table_bytes > 0" "locked: t is still read"
check "$L" '[.tables.tables[] | select(.table == "t_child")] | length == 1' "locked: t_child is listed"
check "$L" "$(I t_child_pkey) | .definition == \"\" and .columns == []" \
	"locked: t_child_pkey without definition"
check "$L" "$(I t_v_idx) | .idx_scan == 7 and .columns == [\"v\"]" "locked: t_v_idx is still read"
check "$L" '[.tables.tables[] | select(.database == "shop")] | length == 1' "locked: shop is still read"
# the replica's startup process holds the replayed lock; a synchronous
# commit flushes the lock's WAL record now rather than at the next
# running-transactions record
harness_psql "$PRIMARY_PORT" -c "SET synchronous_commit = on" -c "SELECT pg_current_xact_id()" \
	>/dev/null
harness_wait_for "t_child locked on the replica" 30 harness_query_is "$REPLICA_PORT" t \
	"SELECT count(*) > 0 FROM pg_locks WHERE relation = 't_child'::regclass AND mode = 'AccessExclusiveLock'"
harness_agent_once "$REPLICA_PORT" >"$HARNESS_DIR/replica-locked.json" ||
	harness_fail "pgfleet-agent --once failed on the replica while t_child was locked"
RL=$HARNESS_DIR/replica-locked.json
check "$RL" '[.tables.problems[] | select(.database == "postgres" and .code == "CODE_TIMEOUT")] | length == 1' \
	"replica locked: one problem about estimated table sizes"
check "$RL" "$T | .table_bytes > 0" "replica locked: t is still read"
check "$RL" "$(I t_v_idx) | .idx_scan == 3" "replica locked: t_v_idx is still read"
check "$RL" '[.tables.tables[] | select(.table == "t_child")] | length == 1' \
	"replica locked: t_child is listed"
harness_psql "$PRIMARY_PORT" -c \
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lock_holder'" \
	>/dev/null
wait "$LOCK_HOLDER" 2>/dev/null || true
harness_log "locked: sizes estimated, nothing waited"

harness_log "PASS: tables and indexes of every database, on the primary and the replica"

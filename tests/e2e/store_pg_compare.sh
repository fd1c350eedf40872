#!/usr/bin/env bash
# e2e: the PostgreSQL store answers like the SQLite store.
# A real PostgreSQL 15 server from the harness holds an empty database;
# tests/unit/test_store_pg.c (built as test_store_pg) writes the same
# synthetic reports into it and into a SQLite file and compares every
# answer the PostgreSQL store gives, byte for byte (see that file).
source "$(dirname "$0")/../harness/lib.sh"

harness_init
harness_start_primary
harness_psql "$PRIMARY_PORT" -c "CREATE DATABASE pgfleet_store" >/dev/null

TEST_BIN=$PGFLEET_BIN_DIR/tests/test_store_pg
[ -x "$TEST_BIN" ] || harness_fail "$TEST_BIN is not built"
# PGFLEET_TEST_WRAPPER: e.g. "valgrind --error-exitcode=1 --leak-check=full"
# shellcheck disable=SC2086
PGFLEET_TEST_PG="postgresql://postgres@127.0.0.1:$PRIMARY_PORT/pgfleet_store" \
	${PGFLEET_TEST_WRAPPER:-} "$TEST_BIN" ||
	harness_fail "test_store_pg failed"
# deploy/sql/citus-distribute.sql names every table of the schema once,
# and each table it distributes has instance_id first in its primary key
CITUS_SQL=$(dirname "$0")/../../deploy/sql/citus-distribute.sql
store_sql() { harness_psql "$PRIMARY_PORT" -d pgfleet_store -tAc "$1"; }
listed=$(grep -oE "create_(distributed|reference)_table\('[a-z_]+'" "$CITUS_SQL" |
	sed -E "s/.*\('//; s/'$//" | sort)
tables=$(store_sql "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 1" | sort)
[ "$listed" = "$tables" ] || {
	diff <(echo "$listed") <(echo "$tables") >&2 || true
	harness_fail "citus-distribute.sql and the schema name different tables (< file, > schema)"
}
for t in $(grep -oE "create_distributed_table\('[a-z_]+'" "$CITUS_SQL" | sed -E "s/.*\('//; s/'$//"); do
	first=$(store_sql "SELECT a.attname FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0] WHERE x.indrelid = '$t'::regclass AND x.indisprimary")
	[ "$first" = instance_id ] || harness_fail "$t is distributed but its primary key starts with \"$first\""
done
# the store's sessions said who they are
harness_query_is "$PRIMARY_PORT" t \
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'pgfleet-collector'" ||
	harness_fail "a store connection was left open"
harness_log "PASS"

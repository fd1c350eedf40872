#!/usr/bin/env bash
# e2e: pgfleet index-recommendations on a primary with two replicas (r1,
# r2), an agent on each, one collector (tables and indexes every second):
#   - a missing index behind a hot filtered query: 120 lookups by
#     customer_id on a 100000-row table without an index on it are
#     high_sequential_scans (seq_scans counted over the window) and get a
#     missing_index proposal on (customer_id), which the primary's agent
#     checks with hypopg: the cost drops and the plan uses the index;
#   - an index unused on the primary but scanned on r1 is NOT proposed for
#     dropping; an index unused on all three is (with the window stated);
#   - in a database without hypopg the proposal says so;
#   - a duplicate pair is reported, and a foreign key without an index;
#   - the table output has the guide's columns.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
[ -f /usr/share/postgresql/15/extension/hypopg.control ] ||
	harness_fail "hypopg is not installed (apt-get install postgresql-15-hypopg)"

harness_init
harness_start_primary
harness_psql "$PRIMARY_PORT" >/dev/null <<'SQL'
CREATE EXTENSION hypopg;
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
	note text NOT NULL);
INSERT INTO orders SELECT g, g % 5000, CASE WHEN g % 10 = 0 THEN 'open' ELSE 'done' END,
	'note ' || g FROM generate_series(1, 100000) g;
-- scanned on r1 only
CREATE INDEX orders_status_idx ON orders (status);
-- scanned nowhere
CREATE INDEX orders_note_idx ON orders (note);
CREATE TABLE items (id int PRIMARY KEY, sku text);
CREATE INDEX items_sku_a ON items (sku);
CREATE INDEX items_sku_b ON items (sku);
CREATE TABLE order_lines (id int PRIMARY KEY, order_id int REFERENCES orders (id));
VACUUM ANALYZE orders;
SQL
# a database without hypopg: its proposal says so
harness_psql "$PRIMARY_PORT" -c "CREATE DATABASE nohypo" >/dev/null
harness_psql "$PRIMARY_PORT" -d nohypo >/dev/null <<'SQL'
CREATE TABLE events (id int PRIMARY KEY, kind int NOT NULL, payload text NOT NULL);
INSERT INTO events SELECT g, g % 1000, 'event ' || g FROM generate_series(1, 100000) g;
VACUUM ANALYZE events;
SQL
# the base backups' checkpoint then has nothing left to write (a spread
# checkpoint of the fresh table would take minutes)
harness_psql "$PRIMARY_PORT" -c "CHECKPOINT" >/dev/null
harness_start_replica r1
harness_start_replica r2
harness_start_collector
FLAGS=(--tables_interval 1s --indexes_interval 1s --bloat_interval 1h)
harness_start_agent primary "$PRIMARY_PORT" "${FLAGS[@]}"
harness_start_agent r1 "${REPLICA_PORTS[r1]}" "${FLAGS[@]}"
harness_start_agent r2 "${REPLICA_PORTS[r2]}" "${FLAGS[@]}"

# recs: the answer as JSON rows
recs() { pgfleet_cli index-recommendations --json --limit 1000; }
# rec JQ_SELECT: the first row JQ_SELECT picks
rec() { recs | jq -c "[.[] | select($1)] | first // empty"; }
rec_has() {
	local r
	r=$(rec "$1") || return 1
	[ -n "$r" ] && [ "$(jq "$2" <<<"$r")" = true ]
}
check() {
	local r
	r=$(rec "$1") || harness_fail "pgfleet index-recommendations failed"
	[ -n "$r" ] || harness_fail "no recommendation $1 (answer: $(recs))"
	[ "$(jq "$2" <<<"$r")" = true ] || harness_fail "$3 (row: $r)"
}
index_seen() { # INSTANCE INDEX: the collector has two snapshots of it
	[ "$(pgfleet_cli index-usage --json --limit 1000 --instance "$1" |
		jq "[.[] | select(.index == \"$2\")] | length")" = 1 ]
}

# every member's first snapshot of the indexes and of orders, before any
# scan the test makes: the window's deltas start from them
for member in primary r1 r2; do
	harness_wait_for "$member's indexes" 60 index_seen "$member" orders_note_idx
done
harness_wait_for "orders in the primary's table history" 60 bash -c \
	"[ \"\$(\"$PGFLEET_BIN_DIR/collector/pgfleet\" --collector '$COLLECTOR_API' table-stats --json --instance primary | jq '[.[] | select(.table == \"orders\")] | length')\" = 1 ]"
sleep 2

# r1 reads orders_status_idx 5 times (in one session, counted at its end)
{
	echo "SET enable_seqscan = off; SET enable_bitmapscan = off;"
	for i in 1 2 3 4 5; do echo "SELECT count(*) FROM orders WHERE status = 'open';"; done
} | harness_psql "${REPLICA_PORTS[r1]}" >/dev/null
# the hot filtered query on the primary: 120 lookups, each a sequential
# scan of 100000 rows
{
	for i in $(seq 1 120); do echo "SELECT * FROM orders WHERE customer_id = $i;"; done
} | harness_psql "$PRIMARY_PORT" >/dev/null
{
	for i in $(seq 1 20); do echo "SELECT * FROM events WHERE kind = $i;"; done
} | harness_psql "$PRIMARY_PORT" -d nohypo >/dev/null
harness_log "load done: 120 sequential lookups on the primary, 5 index scans on r1"

HOT='.type == "high_sequential_scans" and .table == "orders" and .instance == "primary"'
harness_wait_for "orders flagged for sequential scans" 60 \
	rec_has "$HOT" '.seq_scans >= 120 and .seq_tuples_read >= 12000000'
check "$HOT" '.priority == "high" and .schema == "public" and .database == "postgres"
	and .seq_scans == 120 and .seq_tuples_read == 12000000 and .avg_tuples_per_scan == 100000
	and .recommendation == "Consider adding indexes to table public.orders"
	and (.window | length) > 0' \
	"high_sequential_scans: counts over the window, the guide's text"
check "$HOT" 'keys_unsorted[0:9] == ["type", "schema", "table", "seq_scans",
	"seq_tuples_read", "index_scans", "avg_tuples_per_scan", "recommendation", "priority"]' \
	"the guide's fields come first, in the guide's order"

# since the server started, orders had more sequential scans (the index
# builds read it): the recommendation counts only the window's
since_start=$(pgfleet_cli table-stats --json --limit 1000 --instance primary |
	jq '.[] | select(.table == "orders") | .seq_scans')
[ "$since_start" -gt 120 ] || harness_fail "expected more than 120 scans since start, got $since_start"

MISSING='.type == "missing_index" and .table == "orders" and .instance == "primary"'
check "$MISSING" '.columns == ["customer_id"]
	and .ddl == "CREATE INDEX CONCURRENTLY idx_orders_customer_id ON public.orders (customer_id);"
	and (.query | test("customer_id = \\$1")) and .priority == "high"' \
	"the proposal is an index on customer_id for the hot statement"
harness_wait_for "hypopg's check of the proposal" 60 rec_has "$MISSING" '.hypopg_check == "ok"'
check "$MISSING" '.cost_before > 0 and .cost_after > 0 and .cost_after * 10 < .cost_before
	and .hypothetical_index_used == true and (.evidence | test("hypopg"))' \
	"hypopg: the planner's cost drops by 10x or more with the hypothetical index"
harness_log "missing index: $(rec "$MISSING" | jq -r '"cost \(.cost_before) -> \(.cost_after)"')"
# the check left nothing behind on the primary
[ "$(harness_psql "$PRIMARY_PORT" -tAc "SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'")" = 3 ] ||
	harness_fail "the check changed the primary's indexes"

NOHYPO='.type == "missing_index" and .database == "nohypo" and .table == "events"'
harness_wait_for "the proposal in the database without hypopg" 60 rec_has "$NOHYPO" \
	'.hypopg_check == "not_installed"'
check "$NOHYPO" '.columns == ["kind"] and .cost_before == 0
	and (.evidence | test("CREATE EXTENSION hypopg"))' "hypopg not installed: said, no costs"

# unused: wait until every member has a snapshot after the scans
harness_wait_for "r1's 5 scans of orders_status_idx" 60 bash -c \
	"[ \"\$(\"$PGFLEET_BIN_DIR/collector/pgfleet\" --collector '$COLLECTOR_API' index-usage --json --instance r1 | jq '.[] | select(.index == \"orders_status_idx\") | .scans')\" = 5 ]"
UNUSED='.type == "unused" and .index == "orders_note_idx"'
harness_wait_for "orders_note_idx unused on all three" 60 rec_has "$UNUSED" 'true'
check "$UNUSED" '.ddl == "DROP INDEX CONCURRENTLY public.orders_note_idx;"
	and (.instance | split(",") | sort) == ["primary", "r1", "r2"]
	and (.evidence | test("0 scans on all 3 member")) and .window_seconds > 0
	and (. as $r | $r.evidence | test("over the last " + $r.window))' \
	"the index unused everywhere is proposed for dropping, with the window stated"
[ -z "$(rec '.type == "unused" and .index == "orders_status_idx"')" ] ||
	harness_fail "orders_status_idx is used on r1 but was proposed for dropping"
[ -z "$(rec '.type == "unused" and (.index == "orders_pkey" or .index == "items_pkey")')" ] ||
	harness_fail "an index backing a primary key was proposed for dropping"
harness_log "unused: orders_note_idx dropped, orders_status_idx (used on r1) kept"

check '.type == "duplicate" and .table == "items"' \
	'.index == "items_sku_b" and .ddl == "DROP INDEX CONCURRENTLY public.items_sku_b;"
	and (.evidence | test("items_sku_a"))' "the duplicate pair is reported once"
check '.type == "foreign_key_without_index" and .table == "order_lines"' \
	'.ddl == "CREATE INDEX CONCURRENTLY ON public.order_lines (order_id);"' \
	"the foreign key without an index"

# the table output
out=$(pgfleet_cli index-recommendations) || harness_fail "table output failed"
for column in TYPE SCHEMA TABLE SEQ_SCANS PRIORITY; do
	grep -qi "$column" <<<"$out" || harness_fail "table output lacks $column: $out"
done
grep -q "high_sequential_scans" <<<"$out" || harness_fail "table output lacks the rows: $out"
harness_log "PASS"

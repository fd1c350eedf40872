#!/usr/bin/env bash
# e2e: the settings and bloat families report what the harness and the test
# set up on a real server:
#   settings - shared_preload_libraries names pg_stat_statements,
#     pg_stat_statements.track is `all` from the configuration file (the
#     harness sets both), max_connections is there with its value; the
#     extensions of every database: pg_stat_statements in postgres, hstore
#     in a second database `shop`; the server version and start time;
#   bloat - a table that lost two rows of three everywhere (VACUUM frees the
#     space inside its pages but keeps them) is estimated over 40% bloated,
#     its btree index has an estimate of its own, a freshly loaded and
#     analyzed table is under 20%, and a table vacuumed but never analyzed
#     (no column statistics) is flagged unreliable; the estimates in `shop`
#     come from `shop`.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary

harness_psql "$PRIMARY_PORT" -c "CREATE DATABASE shop" >/dev/null
harness_psql "$PRIMARY_PORT" -d shop >/dev/null <<'SQL'
CREATE EXTENSION hstore;
CREATE TABLE orders (id int, note text) WITH (autovacuum_enabled = off);
INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 5000) g;
ANALYZE orders;
SQL
# autovacuum is off for every test table, so nothing analyzes or truncates
# them behind the test's back
harness_psql "$PRIMARY_PORT" >/dev/null <<'SQL'
CREATE TABLE b (id int, pad text) WITH (autovacuum_enabled = off, fillfactor = 100);
INSERT INTO b SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g;
CREATE INDEX b_id_idx ON b (id);
ANALYZE b;
-- spread over every page, so VACUUM has no empty tail to truncate
DELETE FROM b WHERE id % 3 <> 0;
VACUUM b;
ANALYZE b;

CREATE TABLE compact (id int, pad text) WITH (autovacuum_enabled = off);
INSERT INTO compact SELECT g, repeat('y', 50) FROM generate_series(1, 50000) g;
ANALYZE compact;

-- VACUUM counts pages and rows but leaves no column statistics
CREATE TABLE never_analyzed (id int, pad text) WITH (autovacuum_enabled = off);
INSERT INTO never_analyzed SELECT g, repeat('z', 80) FROM generate_series(1, 5000) g;
VACUUM never_analyzed;
SQL

harness_agent_once "$PRIMARY_PORT" >"$HARNESS_DIR/once.json" ||
	harness_fail "pgfleet-agent --once failed"

# check FILTER DESCRIPTION: fails unless the jq filter is true on the report
check() {
	jq -e "$1" "$HARNESS_DIR/once.json" >/dev/null ||
		harness_fail "$2; got: $(jq -c "${3:-.}" "$HARNESS_DIR/once.json" | head -c 2000)"
}

# ---- settings ----
S='.settings.settings'
check ".settings != null" "the settings family is in a --once report" '.settings'
check "[$S[] | select(.name == \"shared_preload_libraries\") | .setting
	| split(\",\") | map(gsub(\" \"; \"\")) | index(\"pg_stat_statements\")] == [0]" \
	"shared_preload_libraries names pg_stat_statements" "$S"
check "[$S[] | select(.name == \"pg_stat_statements.track\")] | length == 1
	and .[0].setting == \"all\" and .[0].source == \"configuration file\"" \
	"pg_stat_statements.track is all, from the configuration file" "$S"
check "[$S[] | select(.name == \"max_connections\") | .setting | tonumber > 0] == [true]" \
	"max_connections is reported" "$S"
check "[$S[] | select(.name == \"shared_buffers\")] | .[0].setting == \"4096\" and .[0].unit == \"8kB\"" \
	"shared_buffers is the harness's 32MB in 8kB pages, with its unit" "$S"
check "[$S[] | select(.name == \"block_size\")] | .[0].setting == \"8192\"" \
	"block_size is reported" "$S"
check "[$S[] | .name] | (length == (unique | length)) and length >= 40" \
	"every setting once, and about all of the list" "[$S[] | .name]"
E='.settings.extensions'
check "[$E[] | select(.database == \"postgres\" and .name == \"pg_stat_statements\")
	| .version | length > 0] == [true]" \
	"pg_stat_statements in database postgres, with its version" "$E"
check "[$E[] | select(.database == \"shop\" and .name == \"hstore\")] | length == 1" \
	"hstore in database shop" "$E"
check "[$E[] | select(.database == \"postgres\" and .name == \"hstore\")] | length == 0" \
	"hstore only where it was created" "$E"
version=$(harness_psql "$PRIMARY_PORT" -tAc "SHOW server_version")
check ".settings.server_version == \"$version\"" "server_version is the server's" \
	'.settings.server_version'
# start time within the last hour, as microseconds since the epoch
now_us=$(($(date +%s) * 1000000))
check ".settings.postmaster_start_time_us > $now_us - 3600000000
	and .settings.postmaster_start_time_us <= $now_us + 60000000" \
	"postmaster start time is recent, in microseconds" '.settings.postmaster_start_time_us'
check ".settings.bgwriter_stats_reset_us > 0" "bgwriter stats reset is known" \
	'.settings.bgwriter_stats_reset_us'
# pg_stat_statements_info exists from 14 on (the harness runs 15)
check ".settings.statements_stats_reset_us > 0" "statements stats reset is known" \
	'.settings.statements_stats_reset_us'
check "(.settings.fingerprint // 0) != 0" "a fingerprint is set" '.settings.fingerprint'
check "(.settings.problems // []) | length == 0" "no settings problems" '.settings.problems'

# ---- bloat ----
# est DATABASE TABLE INDEX: the estimate of one relation ("" for the table)
est() {
	printf '[.bloat.estimates[] | select(.database == "%s" and .schema == "public"
		and .table == "%s" and (.index // "") == "%s")]' "$1" "$2" "$3"
}
check "$(est postgres b '') | length == 1 and .[0].bloat_ratio > 0.4
	and .[0].bloat_bytes > 0 and (.[0].is_estimate_unreliable // false) == false
	and .[0].real_bytes == .[0].expected_bytes + .[0].bloat_bytes" \
	"b, two thirds deleted, is estimated over 40% bloated" "$(est postgres b '')"
pages=$(harness_psql "$PRIMARY_PORT" -tAc "SELECT relpages::int8 * 8192 FROM pg_class WHERE relname = 'b'")
check "$(est postgres b '') | .[0].real_bytes == $pages" "b's real size is its pages" \
	"$(est postgres b '')"
check "$(est postgres b b_id_idx) | length == 1 and .[0].real_bytes > 0
	and .[0].expected_bytes > 0 and (.[0].bloat_ratio // 0) > 0.4" \
	"b's btree index has an estimate (a third of its entries left)" "$(est postgres b b_id_idx)"
check "$(est postgres compact '') | length == 1 and (.[0].bloat_ratio // 0) < 0.2
	and (.[0].is_estimate_unreliable // false) == false" \
	"a freshly loaded and analyzed table is under 20%" "$(est postgres compact '')"
check "$(est postgres never_analyzed '') | length == 1 and .[0].is_estimate_unreliable == true" \
	"a table never analyzed is flagged unreliable" "$(est postgres never_analyzed '')"
check "$(est shop orders '') | length == 1 and (.[0].is_estimate_unreliable // false) == false" \
	"the table in shop is estimated from shop" "$(est shop orders '')"
check "[.bloat.estimates[] | select((.bloat_bytes // 0) < 0 or (.bloat_ratio // 0) < 0
		or (.bloat_ratio // 0) > 1)]
	| length == 0" "no negative bloat, no ratio over 1" '.bloat.estimates'
check "(.bloat.problems // []) | length == 0" "no bloat problems" '.bloat.problems'

harness_log "PASS: settings, extensions of every database and bloat estimates"

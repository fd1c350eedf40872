#!/usr/bin/env bash
# bench: what one full collection costs with pgfleet-agent, next to
# prometheus-postgres-exporter, on the same throwaway server. Not a ctest
# test: it prints figures and a PASS/MISS line against the target (agent
# CPU and peak RSS at most one fifth of the exporter's), and exits 0 either
# way unless something failed to run.
#
# The server: PostgreSQL 15 from tests/harness/lib.sh (pg_stat_statements
# preloaded, max 10000, track = all), two databases bench_a and bench_b
# with 250 tables each (primary key + one secondary index, 20 rows,
# ANALYZEd), and 5,000 distinct statements in pg_stat_statements (2,500
# per database: 250 tables x 10 select lists; constants are normalized
# away and aliases are not part of the query id, so the shapes differ).
# Setup itself runs with pg_stat_statements.track = none.
#
# What is measured, and how:
#   agent --once     `pgfleet-agent --once` (every family once, JSON on
#                    stdout) under /usr/bin/time -v, RUNS times: user+sys
#                    CPU and max RSS. It starts cold (process start, connect,
#                    JSON rendering); its statements family is only a
#                    baseline (no deltas, no texts).
#   agent live       pgfleet-agent against a pgfleet-collector (SQLite):
#                    seq 1 is made at start with every family (statements:
#                    baseline); then the 5,000 statements run again and seq
#                    2 carries all 5,000 statement deltas with their texts
#                    (the worst interval: every text is new); they run once
#                    more and seq 3 is the steady state (deltas, texts
#                    already sent). Family cadences are set to 1h so seq 2
#                    and 3 are statements only; "1st full" = seq 1 + seq 2.
#                    Bytes: the packed protobuf size the agent logs at
#                    debug level ("report seq N made (B bytes)"). CPU:
#                    utime+stime from /proc/PID/stat; peak RSS: VmHWM.
#   exporter         prometheus-postgres-exporter (Debian's), with
#                    --auto-discover-databases and a queries.yaml of the
#                    per-database table/index statistics and sizes plus
#                    pg_stat_statements (PG 15 column names), next to its
#                    default metrics. One cold scrape, then RUNS warm
#                    scrapes, with Accept-Encoding: gzip as Prometheus
#                    sends it. CPU: /proc/PID/stat before/after a scrape;
#                    peak RSS: VmHWM (a long-running process: its idle RSS
#                    counts); bytes: the /metrics body, raw and gzipped.
#   server time      sum(total_exec_time + total_plan_time) over
#                    pg_stat_statements, before and after; nothing else
#                    runs on the server, so the difference (the measuring
#                    query's own entry left out) is the server time of the
#                    tool's statements. Connection start-up is not in it.
# CPU figures have the kernel's tick resolution (10 ms) and suffer from
# neighbours on a shared machine, hence RUNS repeats and their median.
#
# Usage: PGFLEET_BIN_DIR=<build dir> bash tests/bench/agent_vs_exporter.sh
# Use a build without sanitizers (-DCMAKE_BUILD_TYPE=Release): sanitizers
# multiply CPU and RSS. RUNS (default 3) sets the repeats.
source "$(dirname "$0")/../harness/lib.sh"

RUNS=${RUNS:-3}
# the live agent's statements interval: the workload (about 2 s) must fit
BENCH_INTERVAL_S=${BENCH_INTERVAL_S:-20}
TABLES_PER_DB=250
DATABASES="bench_a bench_b"
EXPORTER=${EXPORTER:-prometheus-postgres-exporter}
CLK_TCK=$(getconf CLK_TCK)

# Packages the benchmark needs and a developer machine may lack.
need_package() {
	local command=$1 package=$2
	command -v "$command" >/dev/null 2>&1 && return 0
	harness_log "installing $package"
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y "$package" >/dev/null 2>&1 ||
			{ apt-get update >/dev/null 2>&1 &&
			  DEBIAN_FRONTEND=noninteractive apt-get install -y "$package" >/dev/null 2>&1; } ||
			harness_fail "could not install $package"
	else
		harness_fail "$command is missing: apt-get install $package"
	fi
}
need_package jq jq
need_package curl curl
[ -x /usr/bin/time ] || need_package /usr/bin/time time
need_package "$EXPORTER" prometheus-postgres-exporter

AGENT=$PGFLEET_BIN_DIR/agent/pgfleet-agent
[ -x "$AGENT" ] || harness_fail "no $AGENT: build pgfleet-agent (Release) and set PGFLEET_BIN_DIR"
[ -x "$PGFLEET_BIN_DIR/collector/pgfleet-collector" ] ||
	harness_fail "no pgfleet-collector in $PGFLEET_BIN_DIR/collector"
if ldd "$AGENT" 2>/dev/null | grep -qE 'libasan|libubsan'; then
	harness_log "WARNING: $AGENT is built with sanitizers: its CPU and RSS are inflated"
fi

# --- helpers -----------------------------------------------------------

# Prints utime+stime of PID in milliseconds (fields 14 and 15 of
# /proc/PID/stat, counted after the parenthesised command name).
proc_cpu_ms() {
	local rest
	rest=$(sed 's/^.*) //' "/proc/$1/stat")
	awk -v tck="$CLK_TCK" '{ printf "%d\n", ($12 + $13) * 1000 / tck }' <<<"$rest"
}

# Prints the peak resident set size of PID in kB.
proc_hwm_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# Prints the server time spent so far by every tracked statement but this
# reading's own (query id METER_QUERYID), in ms: a reading over 5,000
# entries costs about as much as what it measures, so it must not count
# itself. pg_stat_statements(false): no texts, which cost more still.
server_ms() {
	harness_psql "$PRIMARY_PORT" -tAc \
		"SELECT round(coalesce(sum(total_exec_time + total_plan_time), 0)::numeric, 3)
		 FROM pg_stat_statements(false) WHERE queryid <> '${METER_QUERYID:-0}'::int8"
}

# server_delta BEFORE AFTER: the server time between two server_ms readings.
server_delta() {
	awk -v a="$1" -v b="$2" 'BEGIN { d = b - a; if (d < 0) d = 0; printf "%.1f\n", d }'
}

# pgss_snapshot FILE: every statement's server time so far, as
# "queryid dbid userid ms calls" lines, but the meter's and its own.
pgss_snapshot() {
	harness_psql "$PRIMARY_PORT" -tA -F ' ' -c \
		"SELECT queryid, dbid, userid, total_exec_time + total_plan_time, calls
		 FROM pg_stat_statements(false)
		 WHERE queryid NOT IN ('${METER_QUERYID:-0}'::int8, '${SNAPSHOT_QUERYID:-0}'::int8)" >"$1"
	if [ -z "${SNAPSHOT_QUERYID:-}" ]; then
		SNAPSHOT_QUERYID=$(harness_psql "$PRIMARY_PORT" -tAc \
			"SELECT queryid FROM pg_stat_statements
			 WHERE query LIKE 'SELECT queryid, dbid, userid, total_exec_time + total_plan_time,%'")
		[[ "$SNAPSHOT_QUERYID" =~ ^-?[0-9]+$ ]] ||
			harness_fail "could not find the snapshot's query id: \"$SNAPSHOT_QUERYID\""
	fi
}

# pgss_top BEFORE AFTER COUNT: the COUNT statements that took the most
# server time between two snapshots, with their database, the start of
# their text and the first statistics view they read.
pgss_top() {
	local queryid dbid ms calls
	awk 'NR == FNR { before[$1 " " $2 " " $3] = $4; calls[$1 " " $2 " " $3] = $5; next }
		{ k = $1 " " $2 " " $3; d = $4 - before[k]
		  if (d > 0) printf "%s %s %.1f %d\n", $1, $2, d, $5 - calls[k] }' "$1" "$2" |
		sort -k3,3 -g -r | head -n "$3" |
		while read -r queryid dbid ms calls; do
			printf '    %8.1f ms %5d calls  %s\n' "$ms" "$calls" "$(harness_psql "$PRIMARY_PORT" -tAc \
				"SELECT d.datname || ': ' || left(regexp_replace(s.query, '\s+', ' ', 'g'), 70)
					|| coalesce(' ... FROM ' || coalesce(substring(s.query FROM 'pg_stat\w*'),
						substring(s.query FROM 'pg_class')), '')
				 FROM pg_stat_statements(true) s JOIN pg_database d ON d.oid = s.dbid
				 WHERE s.queryid = '$queryid'::int8 AND s.dbid = $dbid LIMIT 1")"
		done
}

# median VALUE...: the middle value (the mean of the two middle ones for
# an even count); robust against a neighbour stealing the CPU for a while.
median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2];
			else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# calc EXPRESSION: floating point arithmetic through awk.
calc() { awk "BEGIN { printf \"%.2f\n\", $1 }"; }

# ratio A B: A / B with two decimals, "n/a" when B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "n/a" }'; }

# Runs the benchmark's statements in one session per database.
run_workload() {
	local db
	for db in $DATABASES; do
		harness_psql "$PRIMARY_PORT" -d "$db" -f "$HARNESS_DIR/workload.sql" >/dev/null
	done
}

# --- the server ---------------------------------------------------------

harness_init
harness_start_primary
for db in $DATABASES; do
	harness_psql "$PRIMARY_PORT" -c "CREATE DATABASE $db" >/dev/null
	harness_psql "$PRIMARY_PORT" -d "$db" >/dev/null <<SQL
SET pg_stat_statements.track = 'none';
DO \$\$
BEGIN
	FOR i IN 0..$((TABLES_PER_DB - 1)) LOOP
		EXECUTE format('CREATE TABLE t_%s (id int PRIMARY KEY, c1 int, c2 int, c3 text)', i);
		EXECUTE format('CREATE INDEX t_%s_c1 ON t_%s (c1)', i, i);
		EXECUTE format('INSERT INTO t_%s SELECT g, g %% 7, g * 3, ''row '' || g
			FROM generate_series(1, 20) g', i);
	END LOOP;
END
\$\$;
ANALYZE;
SQL
done
harness_log "created $TABLES_PER_DB tables in each of: $DATABASES"

# 10 select lists x 250 tables: 2,500 query ids per database.
select_lists=("c1" "c2" "c3" "id, c1" "id, c2" "c1, c2" "c1, c3" "c2, c3" "id, c1, c2" "c1, c2, c3")
{
	n=0
	for ((v = 0; v < ${#select_lists[@]}; v++)); do
		for ((t = 0; t < TABLES_PER_DB; t++)); do
			echo "SELECT ${select_lists[$v]} AS x_$n FROM t_$t WHERE id = 1;"
			n=$((n + 1))
		done
	done
} >"$HARNESS_DIR/workload.sql"
run_workload
statements=$(harness_psql "$PRIMARY_PORT" -tAc "SELECT count(*) FROM pg_stat_statements")
[ "$statements" -ge 5000 ] || harness_fail "only $statements statements in pg_stat_statements, expected >= 5000"
harness_log "$statements statements in pg_stat_statements"

# The query id of server_ms's own statement (constants are normalized and
# a quoted literal becomes an int8 constant whatever the digits, so it does
# not depend on the id written in it).
server_ms >/dev/null
METER_QUERYID=$(harness_psql "$PRIMARY_PORT" -tAc \
	"SELECT queryid FROM pg_stat_statements
	 WHERE query LIKE 'SELECT round(coalesce(sum(total_exec_time + total_plan_time)%'")
[[ "$METER_QUERYID" =~ ^-?[0-9]+$ ]] || harness_fail "could not find the meter's query id: \"$METER_QUERYID\""
a=$(server_ms)
b=$(server_ms)
harness_log "two readings of the server time in a row differ by $(server_delta "$a" "$b") ms"
pgss_snapshot /dev/null # learns its own query id, before anything is measured

# --- agent --once -------------------------------------------------------

once_cpus=()
once_rss_max=0
once_servers=()
pgss_snapshot "$HARNESS_DIR/pgss-once-before.txt"
for ((i = 1; i <= RUNS; i++)); do
	before=$(server_ms)
	/usr/bin/time -v -o "$HARNESS_DIR/once-time.txt" "$AGENT" --once --name bench-once \
		--conninfo "host=127.0.0.1 port=$PRIMARY_PORT user=postgres dbname=postgres" \
		--log_level warning >"$HARNESS_DIR/once.json" 2>"$HARNESS_DIR/log/once.log" ||
		harness_fail "pgfleet-agent --once failed: $(tail -n 3 "$HARNESS_DIR/log/once.log")"
	after=$(server_ms)
	user=$(awk -F': ' '/User time \(seconds\)/ { print $2 }' "$HARNESS_DIR/once-time.txt")
	sys=$(awk -F': ' '/System time \(seconds\)/ { print $2 }' "$HARNESS_DIR/once-time.txt")
	rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$HARNESS_DIR/once-time.txt")
	cpu=$(calc "($user + $sys) * 1000")
	server=$(server_delta "$before" "$after")
	harness_log "agent --once run $i: cpu ${cpu} ms, max rss ${rss} kB, server ${server} ms"
	once_cpus+=("$cpu")
	once_servers+=("$server")
	[ "$rss" -le "$once_rss_max" ] || once_rss_max=$rss
done
pgss_snapshot "$HARNESS_DIR/pgss-once-after.txt"
ONCE_TOP=$(pgss_top "$HARNESS_DIR/pgss-once-before.txt" "$HARNESS_DIR/pgss-once-after.txt" 6)
ONCE_CPU=$(median "${once_cpus[@]}")
ONCE_SERVER=$(median "${once_servers[@]}")
ONCE_RSS=$once_rss_max
ONCE_JSON_BYTES=$(wc -c <"$HARNESS_DIR/once.json")
jq -e . "$HARNESS_DIR/once.json" >/dev/null || harness_fail "agent --once printed no JSON"

# Which families had data: any non-empty list, non-zero number, true or
# non-empty text (problems and the statements status aside).
FAMILY_SUMMARY=$(jq -r '
	def has_data: [to_entries[]
		| select(.key | IN("problems", "status", "status_detail", "interval_start_us",
			"interval_end_us") | not)
		| .value
		| select((type == "array" and length > 0) or (type == "number" and . != 0)
			or (type == "boolean" and .) or (type == "object")
			or (type == "string" and . != ""))] | length > 0;
	. as $report
	| ["statements", "tables", "indexes", "bloat", "activity", "replication", "settings", "pool"][]
	| . as $name | $report[$name] as $f
	| if $f == null then "  \($name): absent"
	  else "  \($name): "
		+ (if $name == "statements" and $f.status == "STATUS_BASELINE"
			then "baseline snapshot (deltas start with the next interval)"
			elif ($f | has_data) then "data" else "NO DATA" end)
		+ " [" + ([$f | to_entries[] | select(.value | type == "array")
			| "\(.key)=\(.value | length)"] | join(" ")) + "]"
	  end' "$HARNESS_DIR/once.json")

# --- agent live, against a collector ------------------------------------

# seq_bytes N: the packed size of report seq N, from the agent's log.
seq_bytes() {
	sed -n "s/.*report seq $1 made (\([0-9]*\) bytes).*/\1/p" \
		"$HARNESS_DIR/log/agent-bench.log" | head -n 1
}
seq_made() { [ -n "$(seq_bytes "$1")" ]; }

# live_interval N: runs the workload (every statement moves), then waits
# for report seq N; sets SEQ_BYTES, SEQ_CPU (ms of agent CPU since the
# previous reading in LIVE_CPU_READ) and SEQ_SERVER (ms).
live_interval() {
	local before cpu
	run_workload
	# the workload must be over before the collection starts
	! seq_made "$1" ||
		harness_fail "the workload outlasted the agent's interval: raise BENCH_INTERVAL"
	before=$(server_ms)
	harness_wait_for "agent report seq $1" $((BENCH_INTERVAL_S + 30)) seq_made "$1"
	sleep 1 # let it send the report before reading its counters
	SEQ_BYTES=$(seq_bytes "$1")
	cpu=$(proc_cpu_ms "$AGENT_PID")
	SEQ_CPU=$((cpu - LIVE_CPU_READ))
	LIVE_CPU_READ=$cpu
	SEQ_SERVER=$(server_delta "$before" "$(server_ms)")
	harness_log "agent seq $1: $SEQ_BYTES bytes, cpu ${SEQ_CPU} ms, server ${SEQ_SERVER} ms"
}

harness_start_collector
before=$(server_ms)
AGENT_LOG_LEVEL=debug harness_start_agent bench "$PRIMARY_PORT" --interval "${BENCH_INTERVAL_S}s" \
	--tables_interval 1h --indexes_interval 1h --bloat_interval 1h \
	--activity_interval 1h --replication_interval 1h --settings_interval 1h \
	--pool_interval 1h
AGENT_PID=${HARNESS_PIDS[agent-bench]}
harness_wait_for "agent report seq 1" 60 seq_made 1
sleep 1
LIVE_SEQ1_BYTES=$(seq_bytes 1)
LIVE_SEQ1_CPU=$(proc_cpu_ms "$AGENT_PID")
LIVE_CPU_READ=$LIVE_SEQ1_CPU
LIVE_SEQ1_SERVER=$(server_delta "$before" "$(server_ms)")
harness_log "agent seq 1: $LIVE_SEQ1_BYTES bytes, cpu ${LIVE_SEQ1_CPU} ms since start, server ${LIVE_SEQ1_SERVER} ms"

# seq 2: every statement's first delta, with its text
live_interval 2
LIVE_SEQ2_BYTES=$SEQ_BYTES LIVE_SEQ2_CPU=$SEQ_CPU LIVE_SEQ2_SERVER=$SEQ_SERVER
# seq 3: the steady state, texts already sent
live_interval 3
LIVE_SEQ3_BYTES=$SEQ_BYTES LIVE_SEQ3_CPU=$SEQ_CPU LIVE_SEQ3_SERVER=$SEQ_SERVER
LIVE_HWM=$(proc_hwm_kb "$AGENT_PID")
harness_log "agent VmHWM ${LIVE_HWM} kB"
# what the collector got: statements with calls in the last hour
LIVE_STATEMENTS=$(pgfleet_cli slow-queries --json --limit 10000 --instance bench --since 1h |
	jq 'length') || LIVE_STATEMENTS="?"
harness_stop agent-bench TERM
harness_stop collector TERM

# --- prometheus-postgres-exporter --------------------------------------

# The exporter's own defaults plus what the agent's families read: per
# database table and index statistics and sizes, and pg_stat_statements
# once per server (master: true). The Debian example file still uses the
# PG 12 pg_stat_statements column names.
cat >"$HARNESS_DIR/queries.yaml" <<'YAML'
pg_stat_user_tables:
  query: |
    SELECT current_database() datname, schemaname, relname, seq_scan, seq_tup_read,
      idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd,
      n_live_tup, n_dead_tup, n_mod_since_analyze, n_ins_since_vacuum,
      extract(epoch FROM COALESCE(last_vacuum, '1970-01-01Z')) AS last_vacuum,
      extract(epoch FROM COALESCE(last_autovacuum, '1970-01-01Z')) AS last_autovacuum,
      extract(epoch FROM COALESCE(last_analyze, '1970-01-01Z')) AS last_analyze,
      extract(epoch FROM COALESCE(last_autoanalyze, '1970-01-01Z')) AS last_autoanalyze,
      vacuum_count, autovacuum_count, analyze_count, autoanalyze_count,
      pg_table_size(relid) AS table_bytes, pg_indexes_size(relid) AS indexes_bytes,
      pg_total_relation_size(relid) AS total_bytes
    FROM pg_stat_user_tables
  metrics:
    - datname: {usage: "LABEL", description: "database"}
    - schemaname: {usage: "LABEL", description: "schema"}
    - relname: {usage: "LABEL", description: "table"}
    - seq_scan: {usage: "COUNTER", description: "seq_scan"}
    - seq_tup_read: {usage: "COUNTER", description: "seq_tup_read"}
    - idx_scan: {usage: "COUNTER", description: "idx_scan"}
    - idx_tup_fetch: {usage: "COUNTER", description: "idx_tup_fetch"}
    - n_tup_ins: {usage: "COUNTER", description: "n_tup_ins"}
    - n_tup_upd: {usage: "COUNTER", description: "n_tup_upd"}
    - n_tup_del: {usage: "COUNTER", description: "n_tup_del"}
    - n_tup_hot_upd: {usage: "COUNTER", description: "n_tup_hot_upd"}
    - n_live_tup: {usage: "GAUGE", description: "n_live_tup"}
    - n_dead_tup: {usage: "GAUGE", description: "n_dead_tup"}
    - n_mod_since_analyze: {usage: "GAUGE", description: "n_mod_since_analyze"}
    - n_ins_since_vacuum: {usage: "GAUGE", description: "n_ins_since_vacuum"}
    - last_vacuum: {usage: "GAUGE", description: "last_vacuum"}
    - last_autovacuum: {usage: "GAUGE", description: "last_autovacuum"}
    - last_analyze: {usage: "GAUGE", description: "last_analyze"}
    - last_autoanalyze: {usage: "GAUGE", description: "last_autoanalyze"}
    - vacuum_count: {usage: "COUNTER", description: "vacuum_count"}
    - autovacuum_count: {usage: "COUNTER", description: "autovacuum_count"}
    - analyze_count: {usage: "COUNTER", description: "analyze_count"}
    - autoanalyze_count: {usage: "COUNTER", description: "autoanalyze_count"}
    - table_bytes: {usage: "GAUGE", description: "pg_table_size"}
    - indexes_bytes: {usage: "GAUGE", description: "pg_indexes_size"}
    - total_bytes: {usage: "GAUGE", description: "pg_total_relation_size"}

pg_statio_user_tables:
  query: |
    SELECT current_database() datname, schemaname, relname, heap_blks_read, heap_blks_hit,
      idx_blks_read, idx_blks_hit, toast_blks_read, toast_blks_hit, tidx_blks_read,
      tidx_blks_hit
    FROM pg_statio_user_tables
  metrics:
    - datname: {usage: "LABEL", description: "database"}
    - schemaname: {usage: "LABEL", description: "schema"}
    - relname: {usage: "LABEL", description: "table"}
    - heap_blks_read: {usage: "COUNTER", description: "heap_blks_read"}
    - heap_blks_hit: {usage: "COUNTER", description: "heap_blks_hit"}
    - idx_blks_read: {usage: "COUNTER", description: "idx_blks_read"}
    - idx_blks_hit: {usage: "COUNTER", description: "idx_blks_hit"}
    - toast_blks_read: {usage: "COUNTER", description: "toast_blks_read"}
    - toast_blks_hit: {usage: "COUNTER", description: "toast_blks_hit"}
    - tidx_blks_read: {usage: "COUNTER", description: "tidx_blks_read"}
    - tidx_blks_hit: {usage: "COUNTER", description: "tidx_blks_hit"}

pg_stat_user_indexes:
  query: |
    SELECT current_database() datname, schemaname, relname, indexrelname, idx_scan,
      idx_tup_read, idx_tup_fetch, pg_relation_size(indexrelid) AS size_bytes
    FROM pg_stat_user_indexes
  metrics:
    - datname: {usage: "LABEL", description: "database"}
    - schemaname: {usage: "LABEL", description: "schema"}
    - relname: {usage: "LABEL", description: "table"}
    - indexrelname: {usage: "LABEL", description: "index"}
    - idx_scan: {usage: "COUNTER", description: "idx_scan"}
    - idx_tup_read: {usage: "COUNTER", description: "idx_tup_read"}
    - idx_tup_fetch: {usage: "COUNTER", description: "idx_tup_fetch"}
    - size_bytes: {usage: "GAUGE", description: "pg_relation_size"}

pg_stat_statements:
  query: |
    SELECT r.rolname, d.datname, s.queryid::text AS queryid, s.calls,
      s.total_exec_time / 1000 AS total_time_seconds,
      s.min_exec_time / 1000 AS min_time_seconds,
      s.max_exec_time / 1000 AS max_time_seconds,
      s.mean_exec_time / 1000 AS mean_time_seconds,
      s.stddev_exec_time / 1000 AS stddev_time_seconds,
      s.rows, s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied,
      s.shared_blks_written, s.local_blks_hit, s.local_blks_read, s.local_blks_dirtied,
      s.local_blks_written, s.temp_blks_read, s.temp_blks_written,
      s.blk_read_time / 1000 AS blk_read_time_seconds,
      s.blk_write_time / 1000 AS blk_write_time_seconds
    FROM pg_stat_statements(false) s
      JOIN pg_roles r ON s.userid = r.oid
      JOIN pg_database d ON s.dbid = d.oid
  master: true
  metrics:
    - rolname: {usage: "LABEL", description: "user"}
    - datname: {usage: "LABEL", description: "database"}
    - queryid: {usage: "LABEL", description: "query id"}
    - calls: {usage: "COUNTER", description: "calls"}
    - total_time_seconds: {usage: "COUNTER", description: "total time"}
    - min_time_seconds: {usage: "GAUGE", description: "min time"}
    - max_time_seconds: {usage: "GAUGE", description: "max time"}
    - mean_time_seconds: {usage: "GAUGE", description: "mean time"}
    - stddev_time_seconds: {usage: "GAUGE", description: "stddev time"}
    - rows: {usage: "COUNTER", description: "rows"}
    - shared_blks_hit: {usage: "COUNTER", description: "shared_blks_hit"}
    - shared_blks_read: {usage: "COUNTER", description: "shared_blks_read"}
    - shared_blks_dirtied: {usage: "COUNTER", description: "shared_blks_dirtied"}
    - shared_blks_written: {usage: "COUNTER", description: "shared_blks_written"}
    - local_blks_hit: {usage: "COUNTER", description: "local_blks_hit"}
    - local_blks_read: {usage: "COUNTER", description: "local_blks_read"}
    - local_blks_dirtied: {usage: "COUNTER", description: "local_blks_dirtied"}
    - local_blks_written: {usage: "COUNTER", description: "local_blks_written"}
    - temp_blks_read: {usage: "COUNTER", description: "temp_blks_read"}
    - temp_blks_written: {usage: "COUNTER", description: "temp_blks_written"}
    - blk_read_time_seconds: {usage: "COUNTER", description: "blk_read_time"}
    - blk_write_time_seconds: {usage: "COUNTER", description: "blk_write_time"}
YAML

EXPORTER_PORT=$(harness_free_port)
EXPORTER_URL=http://127.0.0.1:$EXPORTER_PORT
harness_spawn exporter env \
	DATA_SOURCE_NAME="host=127.0.0.1 port=$PRIMARY_PORT user=postgres dbname=postgres sslmode=disable" \
	"$EXPORTER" --web.listen-address="127.0.0.1:$EXPORTER_PORT" \
	--auto-discover-databases --extend.query-path="$HARNESS_DIR/queries.yaml" \
	--log.level=warn
EXPORTER_PID=${HARNESS_PIDS[exporter]}
# the landing page answers without touching the server
harness_wait_for "exporter listening" 20 curl -sf -o /dev/null "$EXPORTER_URL/"
EXPORTER_VERSION=$("$EXPORTER" --version 2>&1 | head -n 1)

# scrape NAME: one scrape of /metrics, measured; sets SCRAPE_CPU (ms),
# SCRAPE_SERVER (ms), SCRAPE_RAW and SCRAPE_GZIP (bytes).
scrape() {
	local cpu_before server_before gzip
	cpu_before=$(proc_cpu_ms "$EXPORTER_PID")
	server_before=$(server_ms)
	gzip=$(curl -sS --fail --compressed --max-time 120 -o "$HARNESS_DIR/$1.prom" \
		-w '%{size_download}' "$EXPORTER_URL/metrics") || harness_fail "scrape $1 failed"
	sleep 0.5 # garbage collection after the response belongs to the scrape
	SCRAPE_CPU=$(($(proc_cpu_ms "$EXPORTER_PID") - cpu_before))
	SCRAPE_SERVER=$(server_delta "$server_before" "$(server_ms)")
	SCRAPE_RAW=$(wc -c <"$HARNESS_DIR/$1.prom")
	SCRAPE_GZIP=$gzip
	harness_log "exporter $1: cpu ${SCRAPE_CPU} ms, server ${SCRAPE_SERVER} ms, $SCRAPE_RAW bytes ($SCRAPE_GZIP gzipped)"
}

scrape cold
COLD_CPU=$SCRAPE_CPU
COLD_SERVER=$SCRAPE_SERVER
warm_cpus=()
warm_servers=()
pgss_snapshot "$HARNESS_DIR/pgss-warm-before.txt"
for ((i = 1; i <= RUNS; i++)); do
	scrape "warm-$i"
	warm_cpus+=("$SCRAPE_CPU")
	warm_servers+=("$SCRAPE_SERVER")
done
pgss_snapshot "$HARNESS_DIR/pgss-warm-after.txt"
WARM_TOP=$(pgss_top "$HARNESS_DIR/pgss-warm-before.txt" "$HARNESS_DIR/pgss-warm-after.txt" 6)
WARM_CPU=$(median "${warm_cpus[@]}")
WARM_SERVER=$(median "${warm_servers[@]}")
EXPORTER_RAW=$SCRAPE_RAW
EXPORTER_GZIP=$SCRAPE_GZIP
EXPORTER_HWM=$(proc_hwm_kb "$EXPORTER_PID")
prom=$HARNESS_DIR/warm-$RUNS.prom
exporter_series=$(grep -vc '^#' "$prom")
exporter_statements=$(grep -c '^pg_stat_statements_calls{' "$prom" || true)
exporter_tables=$(grep -c '^pg_stat_user_tables_seq_scan{' "$prom" || true)
exporter_indexes=$(grep -c '^pg_stat_user_indexes_idx_scan{' "$prom" || true)
exporter_settings=$(grep -c '^pg_settings_' "$prom" || true)
[ "$exporter_statements" -ge 5000 ] ||
	harness_log "WARNING: the exporter reported only $exporter_statements statements"
harness_stop exporter TERM

# --- the figures ----------------------------------------------------------

FIRST_CPU=$((LIVE_SEQ1_CPU + LIVE_SEQ2_CPU))
FIRST_SERVER=$(calc "$LIVE_SEQ1_SERVER + $LIVE_SEQ2_SERVER")
FIRST_BYTES=$((LIVE_SEQ1_BYTES + LIVE_SEQ2_BYTES))

# row LABEL ONCE FIRST STEADY COLD WARM: one line of the table
row() { printf '%-22s %12s %14s %13s %14s %14s\n' "$@"; }

cat <<EOF2

=== pgfleet-agent vs $EXPORTER_VERSION ===
server: PostgreSQL $(harness_psql "$PRIMARY_PORT" -tAc "SHOW server_version"), databases postgres + $DATABASES ($TABLES_PER_DB tables each), $statements statements in pg_stat_statements
agent: $AGENT

What each side collects:
  agent --once, every family (arrays and their lengths):
$FAMILY_SUMMARY
  agent live: seq 1 = every family as above; seq 2 and seq 3 = statement
    deltas after all $((2 * $(grep -c . "$HARNESS_DIR/workload.sql"))) benchmark statements ran again (seq 2 with
    their texts, seq 3 without: texts go once); the collector holds $LIVE_STATEMENTS statements
  exporter: its default metrics (pg_stat_database, pg_stat_bgwriter, pg_locks,
    pg_stat_activity, pg_stat_replication, pg_replication_slots, pg_settings,
    database sizes ...) on every database (--auto-discover-databases), plus
    pg_stat_user_tables/pg_statio_user_tables/pg_stat_user_indexes with sizes
    per database and pg_stat_statements (no texts) once per scrape:
    $exporter_series series: $exporter_statements statements, $exporter_tables tables, $exporter_indexes indexes, $exporter_settings pg_settings

"first full" = live seq 1 (from process start, every family) + seq 2 (all
statement deltas, with texts); "steady" = live seq 3 (statement deltas).
EOF2
row "" "agent --once" "agent 1st full" "agent steady" "exporter cold" "exporter warm"
row "CPU (ms)" "$ONCE_CPU" "$FIRST_CPU" "$LIVE_SEQ3_CPU" "$COLD_CPU" "$WARM_CPU"
row "peak RSS (kB)" "$ONCE_RSS" "$LIVE_HWM" "$LIVE_HWM" "$EXPORTER_HWM" "$EXPORTER_HWM"
row "server time (ms)" "$ONCE_SERVER" "$FIRST_SERVER" "$LIVE_SEQ3_SERVER" "$COLD_SERVER" "$WARM_SERVER"
row "bytes sent" "(json $ONCE_JSON_BYTES)" "$FIRST_BYTES" "$LIVE_SEQ3_BYTES" "-" "$EXPORTER_RAW"
row "bytes sent, gzip" "-" "-" "-" "-" "$EXPORTER_GZIP"
cat <<EOF2
  (agent CPU: --once median of $RUNS runs, live seq 1 $LIVE_SEQ1_CPU + seq 2 $LIVE_SEQ2_CPU ms; server: seq 1 $LIVE_SEQ1_SERVER + seq 2 $LIVE_SEQ2_SERVER ms;
   bytes: packed protobuf, seq 1 $LIVE_SEQ1_BYTES + seq 2 $LIVE_SEQ2_BYTES, not compressed; exporter warm: median of $RUNS scrapes;
   peak RSS: /usr/bin/time max RSS for --once, VmHWM of the live agent and of the exporter)

Ratios, agent / exporter warm scrape (lower is better for the agent):
                        --once  1st full  steady
EOF2
printf '  %-20s %7s %9s %7s\n' "CPU" "$(ratio "$ONCE_CPU" "$WARM_CPU")" \
	"$(ratio "$FIRST_CPU" "$WARM_CPU")" "$(ratio "$LIVE_SEQ3_CPU" "$WARM_CPU")"
printf '  %-20s %7s %9s %7s\n' "peak RSS" "$(ratio "$ONCE_RSS" "$EXPORTER_HWM")" \
	"$(ratio "$LIVE_HWM" "$EXPORTER_HWM")" "$(ratio "$LIVE_HWM" "$EXPORTER_HWM")"
printf '  %-20s %7s %9s %7s\n' "server time" "$(ratio "$ONCE_SERVER" "$WARM_SERVER")" \
	"$(ratio "$FIRST_SERVER" "$WARM_SERVER")" "$(ratio "$LIVE_SEQ3_SERVER" "$WARM_SERVER")"
printf '  %-20s %7s %9s %7s\n' "bytes (raw body)" "-" \
	"$(ratio "$FIRST_BYTES" "$EXPORTER_RAW")" "$(ratio "$LIVE_SEQ3_BYTES" "$EXPORTER_RAW")"
printf '  %-20s %7s %9s %7s\n' "bytes (gzip body)" "-" \
	"$(ratio "$FIRST_BYTES" "$EXPORTER_GZIP")" "$(ratio "$LIVE_SEQ3_BYTES" "$EXPORTER_GZIP")"

cat <<EOF2

Where the server time goes (all $RUNS runs together):
  agent --once:
$ONCE_TOP
  exporter warm scrapes:
$WARM_TOP
EOF2

# verdict WHAT AGENT EXPORTER: PASS when AGENT is at most EXPORTER / 5.
verdict() {
	awk -v a="$2" -v b="$3" -v what="$1" 'BEGIN {
		r = (b > 0 && a * 5 <= b) ? "PASS" : "MISS";
		printf "  %s  %-28s %10s vs %10s (at most %.1f)\n", r, what, a, b, b / 5 }'
}
echo
echo "Target: agent CPU and peak RSS at most 1/5 of the exporter's (warm scrape)"
verdict "CPU, --once" "$ONCE_CPU" "$WARM_CPU"
verdict "peak RSS, --once (kB)" "$ONCE_RSS" "$EXPORTER_HWM"
echo "  and for the live agent (the statement deltas --once cannot show):"
verdict "CPU, live 1st full" "$FIRST_CPU" "$WARM_CPU"
verdict "CPU, live steady" "$LIVE_SEQ3_CPU" "$WARM_CPU"
verdict "peak RSS, live (kB)" "$LIVE_HWM" "$EXPORTER_HWM"

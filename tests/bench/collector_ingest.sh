#!/usr/bin/env bash
# bench: how fast pgfleet-collector stores reports, next to what SQLite
# itself does with the same rows on the same disk, and how fast it answers
# slow-queries and query-trend over 30 days of a 1,000-instance fleet. Not a
# ctest test: it prints figures and PASS/MISS lines against the targets
# (ingest at least half the raw ceiling; both questions under 100 ms at the
# median) and exits 0 either way unless something failed to run. Loopback
# only; everything lives in a temporary folder removed on exit. About 6 to
# 7 minutes on 2 otherwise idle cores with the defaults for SQLite alone;
# about 30 at a load average of 12 (the rollup of the history dominates).
#
# Backends (BENCH_BACKENDS, default "sqlite postgresql"): every step below
# runs for each, and one table at the end puts them side by side. For
# postgresql the store is a database on a PostgreSQL server of the harness
# (harness_start_primary) on the same disk, with the settings a server has
# out of the box where they matter for writes: fsync, synchronous_commit,
# full_page_writes on and shared_buffers 128MB (the harness's test
# defaults turn the first three off and shrink the last, which would
# flatter the figures); pg_stat_statements stays loaded, as on any server
# pgfleet watches. Its figures add the PostgreSQL server's CPU (postmaster
# and every backend: utime+stime of the live ones plus the postmaster's
# cutime+cstime, which holds the exited ones).
# BENCH_QUICK=1: smaller sizes (a few minutes for both backends), for
# checking that the bench runs; its figures are not the ones to quote.
#
# What is measured, and how (bench_collector_ingest, tests/bench/collector_ingest.c):
#   ceiling   CEILING_ROWS statement rows inserted straight into
#             statement_stats of a store made by the collector's code: one
#             prepared INSERT, WAL, synchronous=FULL, the collector's page
#             cache. Nothing else. Run twice: CEILING_BATCH reports (of
#             STATEMENTS x CHANGED rows) per transaction, the most the
#             collector puts in one (INGEST_SERVER_MAX_BATCH), which is the
#             ceiling the ratio uses; and one report per transaction, for
#             reference. On PostgreSQL: the collector's own statement
#             through libpq, each report's rows in one INSERT of arrays
#             (unnest), the same transactions, each in a fresh database;
#             plus, 64 reports a transaction, for reference, one prepared
#             INSERT a row (pipelined, as the collector sent them before
#             2026-11-27 16:00 UTC) and COPY.
#   ingest    INGEST_AGENTS simulated agents, each with its own REQ socket
#             and identity, send to a real collector and wait for each Ack
#             (INGEST_THREADS in flight, by default one per agent as real
#             agents do; figures before 2026-11-27 had 4). A report: STATEMENTS x CHANGED statement deltas
#             (half a hot set, half rotating through the rest), a tables
#             family of TABLES tables every 5th report; simulated time
#             moves 60 s per report. A statement's text goes with the first
#             report that carries it; a warm-up run sends every text first
#             (not timed: first contact is a one-off), then INGEST_REPORTS
#             reports per agent are timed. Collector CPU: utime+stime from
#             /proc/PID/stat over the timed run; peak RSS: VmHWM. The
#             collector's maintenance is held off (maintenance_interval 1d)
#             so the run measures storing only.
#   history   HISTORY_INSTANCES instances x HISTORY_DAYS days, compressed:
#             one report per instance per HISTORY_STEP_S of simulated time
#             (not 60 s), each with HISTORY_CHANGED deltas out of
#             HISTORY_STATEMENTS statements, no tables. Then the collector
#             is restarted with maintenance_interval 1s and left to roll up
#             (hourly, daily) and prune raw rows past raw_retention (7d) until
#             rollup_state reaches the end; the figures say how many rows
#             the 30-day window holds and how many a real fleet would.
#             On PostgreSQL the same, when its store answers maintain;
#             while it does not (the collector logs "does not answer
#             maintain"), the questions read the raw rows and the figures
#             say so.
#   questions `pgfleet slow-queries --since 30d` and `pgfleet query-trend
#             QUERYID --since 30d` (QUERYID: a statement every instance
#             reports every time), QUESTION_RUNS times each, wall time of the
#             CLI process (start, connect, ask, print); median and max.
#
# Usage: PGFLEET_BIN_DIR=<build dir> bash tests/bench/collector_ingest.sh
# Use a build without sanitizers (RelWithDebInfo or Release). Sizes are
# the variables below, overridable from the environment.
source "$(dirname "$0")/../harness/lib.sh"

BENCH_BACKENDS=${BENCH_BACKENDS:-sqlite postgresql}
if [ -n "${BENCH_QUICK:-}" ]; then
	CEILING_ROWS=${CEILING_ROWS:-50000}
	INGEST_AGENTS=${INGEST_AGENTS:-10}
	INGEST_REPORTS=${INGEST_REPORTS:-10}
	HISTORY_INSTANCES=${HISTORY_INSTANCES:-100}
	QUESTION_RUNS=${QUESTION_RUNS:-5}
fi
CEILING_ROWS=${CEILING_ROWS:-300000}
CEILING_BATCH=${CEILING_BATCH:-64}
STATEMENTS=${STATEMENTS:-5000}
CHANGED=${CHANGED:-0.1}
TABLES=${TABLES:-500}
INGEST_AGENTS=${INGEST_AGENTS:-20}
INGEST_REPORTS=${INGEST_REPORTS:-30}
INGEST_THREADS=${INGEST_THREADS:-$INGEST_AGENTS}
HISTORY_INSTANCES=${HISTORY_INSTANCES:-1000}
HISTORY_DAYS=${HISTORY_DAYS:-30}
HISTORY_STEP_S=${HISTORY_STEP_S:-86400}
HISTORY_STATEMENTS=${HISTORY_STATEMENTS:-500}
HISTORY_CHANGED=${HISTORY_CHANGED:-100}
# distinct statements a real instance (5,000 statements, 10% changed every
# minute) leaves in one day's rollup: every one of them
REAL_DAILY_STATEMENTS=${REAL_DAILY_STATEMENTS:-5000}
QUESTION_RUNS=${QUESTION_RUNS:-11}
# stop repeating a question after this long (at least 3 runs each)
QUESTION_BUDGET_S=${QUESTION_BUDGET_S:-120}
# generous: on a loaded machine the rollup of the history took 15 minutes
ROLLUP_TIMEOUT_S=${ROLLUP_TIMEOUT_S:-1800}
CLK_TCK=$(getconf CLK_TCK)
BENCH=$PGFLEET_BIN_DIR/tests/bench_collector_ingest
COLLECTOR=$PGFLEET_BIN_DIR/collector/pgfleet-collector

[ -x "$BENCH" ] || harness_fail "no $BENCH: build the bench_collector_ingest target and set PGFLEET_BIN_DIR"
[ -x "$COLLECTOR" ] || harness_fail "no $COLLECTOR"
for backend in $BENCH_BACKENDS; do
	case $backend in
	sqlite) command -v sqlite3 >/dev/null || harness_fail "sqlite3 is missing: apt-get install sqlite3" ;;
	postgresql) [ -x "$PG_BIN/initdb" ] || harness_fail "no PostgreSQL binaries in \"$PG_BIN\" (install postgresql-15)" ;;
	*) harness_fail "BENCH_BACKENDS: unknown backend \"$backend\" (sqlite, postgresql)" ;;
	esac
done
if ldd "$COLLECTOR" 2>/dev/null | grep -qE 'libasan|libubsan'; then
	harness_log "WARNING: $COLLECTOR is built with sanitizers: its figures are inflated"
fi

# harness_init without its PostgreSQL check: with SQLite alone this
# benchmark needs no server. Same folder, owner file and cleanup traps.
bench_init() {
	HARNESS_DIR=$(mktemp -d "${HARNESS_PREFIX}XXXXXX")
	echo $$ >"$HARNESS_DIR/owner"
	mkdir -p "$HARNESS_DIR/run" "$HARNESS_DIR/log"
	trap harness_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	export HARNESS_DIR
}

# --- helpers -----------------------------------------------------------

proc_cpu_ms() {
	local rest
	rest=$(sed 's/^.*) //' "/proc/$1/stat")
	awk -v tck="$CLK_TCK" '{ printf "%d\n", ($12 + $13) * 1000 / tck }' <<<"$rest"
}

proc_hwm_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# CPU the PostgreSQL server has used, in ms: the postmaster's own and its
# exited children's (cutime+cstime: the postmaster waits for each), plus
# every live child's (backends, checkpointer, WAL writer, autovacuum...).
pg_server_cpu_ms() {
	local postmaster child ticks=0 t
	postmaster=$(head -n 1 "$HARNESS_DIR/primary/postmaster.pid")
	ticks=$(sed 's/^.*) //' "/proc/$postmaster/stat" | awk '{ print $12 + $13 + $14 + $15 }')
	for child in $(ps -o pid= --ppid "$postmaster"); do
		# a child may exit meanwhile: then its time is the postmaster's
		t=$(sed 's/^.*) //' "/proc/$child/stat" 2>/dev/null | awk '{ print $12 + $13 }') || t=0
		ticks=$((ticks + ${t:-0}))
	done
	awk -v t="$ticks" -v tck="$CLK_TCK" 'BEGIN { printf "%d\n", t * 1000 / tck }'
}

# field LINE KEY: the value of KEY=VALUE in a line of the bench program.
field() {
	tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'
}

calc() { awk "BEGIN { printf \"%.2f\n\", $1 }"; }

median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2];
			else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

maximum() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# --- stores: a SQLite file or a database of the PostgreSQL server ------

# store_new BACKEND NAME: makes an empty store, prints its spec.
store_new() {
	case $1 in
	sqlite) echo "$HARNESS_DIR/$2.db" ;;
	postgresql)
		harness_psql "$PRIMARY_PORT" -c "CREATE DATABASE pgfleet_$2" >/dev/null ||
			harness_fail "could not create the database pgfleet_$2"
		echo "postgresql://postgres@127.0.0.1:$PRIMARY_PORT/pgfleet_$2"
		;;
	esac
}

# store_drop BACKEND NAME: removes it; with HARNESS_KEEP set the history
# store is kept with the harness's folder and server, for a look at the
# questions' plans.
store_drop() {
	[ -z "${HARNESS_KEEP:-}" ] || [ "$2" != history ] || return 0
	case $1 in
	sqlite) rm -f "$HARNESS_DIR/$2".db* ;;
	postgresql) harness_psql "$PRIMARY_PORT" -c "DROP DATABASE pgfleet_$2" >/dev/null ;;
	esac
}

# store_sql BACKEND NAME SQL: the one value SQL reads from a store (the
# collector may be writing: a SQLite reader waits for its lock).
store_sql() {
	case $1 in
	sqlite) sqlite3 -readonly "$HARNESS_DIR/$2.db" "PRAGMA busy_timeout = 5000; $3" | tail -n 1 ;;
	postgresql) harness_psql "$PRIMARY_PORT" -d "pgfleet_$2" -tAc "$3" ;;
	esac
}

# Bytes a store's data takes. SQLite: its pages as SQLite sees them (WAL
# included) less free pages; the file itself keeps the WAL's high water and
# freed pages until a checkpoint or VACUUM. PostgreSQL: the database's size
# (tables, indexes, TOAST, free space maps; not the server's WAL).
store_bytes() {
	case $1 in
	sqlite)
		store_sql "$1" "$2" "SELECT ((SELECT page_count FROM pragma_page_count)
		      - (SELECT freelist_count FROM pragma_freelist_count))
		     * (SELECT page_size FROM pragma_page_size)"
		;;
	postgresql) store_sql "$1" "$2" "SELECT pg_database_size(current_database())" ;;
	esac
}

# start_collector NAME STORE [flags]: a collector of its own on free ports.
start_collector() {
	local name=$1 store=$2
	shift 2
	COLLECTOR_LISTEN=tcp://127.0.0.1:$(harness_free_port)
	COLLECTOR_API=ipc://$HARNESS_DIR/$name.sock
	# no integrity check at start: on the history store it takes minutes
	# and is not what is measured
	harness_spawn "$name" "$COLLECTOR" --listen "$COLLECTOR_LISTEN" \
		--api_listen "$COLLECTOR_API" --store "$store" --log_level warning \
		--store_check_at_start off "$@"
	harness_wait_for "collector $name" 20 pgfleet_cli fleet
}

# CLI with a timeout that a slow answer does not hit.
pgfleet_cli() {
	"$PGFLEET_BIN_DIR/collector/pgfleet" --collector "$COLLECTOR_API" --timeout 120s "$@"
}

# watermark BACKEND NAME ROLLUP
watermark() {
	store_sql "$1" "$2" "SELECT until_us FROM rollup_state WHERE name = '$3'"
}

# rollup_done BACKEND NAME: true when maintenance is done: the hourly
# rollup has passed LAST_US, the daily one has reached the hourly's day, no
# raw row is left past raw retention.
rollup_done() {
	local hourly daily old
	hourly=$(watermark "$1" "$2" hourly)
	daily=$(watermark "$1" "$2" daily)
	old=$(store_sql "$1" "$2" "SELECT count(*) FROM (SELECT 1 FROM statement_stats
		 WHERE ts_us < $(date +%s)000000 - 7 * 86400000000 LIMIT 1) AS old")
	[ "$hourly" -gt "$LAST_US" ] && [ "$daily" -eq $((hourly - hourly % 86400000000)) ] &&
		[ "$old" = 0 ]
}

# time_ms COMMAND...: wall time of COMMAND in ms (its output discarded).
time_ms() {
	local start end
	start=$(date +%s%N)
	"$@" >/dev/null || harness_fail "$* failed"
	end=$(date +%s%N)
	awk -v ns=$((end - start)) 'BEGIN { printf "%.1f\n", ns / 1e6 }'
}

# the machine may be shared: its load goes with the figures
load_average() { cut -d' ' -f1-3 /proc/loadavg; }

# Results, by "KEY BACKEND".
declare -A R=()

# --- ceiling -----------------------------------------------------------

# ceiling_run BACKEND REPORTS_PER_COMMIT [METHOD]: rows/s into a fresh store.
ceiling_run() {
	local spec out
	spec=$(store_new "$1" ceiling)
	out=$("$BENCH" ceiling --store "$spec" --rows "$CEILING_ROWS" \
		--statements "$STATEMENTS" --changed "$CHANGED" --reports-per-commit "$2" \
		${3:+--method "$3"} 2>>"$HARNESS_DIR/log/ceiling.log") ||
		harness_fail "the $1 ceiling run failed"
	store_drop "$1" ceiling
	field "$out" rows_per_s
}

run_ceiling() {
	local b=$1
	harness_log "$b ceiling: $CEILING_ROWS rows straight into the store"
	R[ceiling $b]=$(ceiling_run "$b" "$CEILING_BATCH")
	R[ceiling_one $b]=$(ceiling_run "$b" 1)
	if [ "$b" = postgresql ]; then
		R[ceiling_row $b]=$(ceiling_run "$b" "$CEILING_BATCH" insert)
		R[ceiling_copy $b]=$(ceiling_run "$b" "$CEILING_BATCH" copy)
	fi
}

# --- ingest ------------------------------------------------------------

CHANGED_COUNT=$(awk -v s="$STATEMENTS" -v c="$CHANGED" 'BEGIN { printf "%d\n", s * c + 0.5 }')
HOT=$((CHANGED_COUNT / 2))
# reports until every statement has appeared once (and sent its text)
WARMUP=$(((STATEMENTS - HOT + CHANGED_COUNT - HOT - 1) / (CHANGED_COUNT - HOT)))

run_ingest() {
	local b=$1 spec pid nonce start_us warm_bytes warm_rows cpu_before cpu_after
	local pg_before=0 pg_after=0 ingest days
	nonce=$((($(date +%s) << 20) + RANDOM))
	start_us=$(($(date +%s) * 1000000 - (WARMUP + INGEST_REPORTS) * 60000000))
	local send=("$BENCH" send --agents "$INGEST_AGENTS" --statements "$STATEMENTS"
		--changed "$CHANGED" --tables "$TABLES" --tables-every 5 --step-us 60000000
		--start-us "$start_us" --nonce "$nonce" --prefix ingest --threads "$INGEST_THREADS")

	spec=$(store_new "$b" ingest)
	start_collector "ingest-$b" "$spec" --maintenance_interval 1d
	pid=${HARNESS_PIDS[ingest-$b]}
	harness_log "$b ingest: warm-up, $INGEST_AGENTS agents x $WARMUP reports (every text once)"
	"${send[@]}" --collector "$COLLECTOR_LISTEN" --reports-per-agent "$WARMUP" \
		>/dev/null 2>>"$HARNESS_DIR/log/send.log" || harness_fail "the $b warm-up failed"
	harness_log "$b ingest: $INGEST_AGENTS agents x $INGEST_REPORTS reports, timed"
	warm_bytes=$(store_bytes "$b" ingest)
	warm_rows=$(store_sql "$b" ingest "SELECT count(*) FROM statement_stats")
	cpu_before=$(proc_cpu_ms "$pid")
	[ "$b" != postgresql ] || pg_before=$(pg_server_cpu_ms)
	ingest=$("${send[@]}" --collector "$COLLECTOR_LISTEN" --first-report "$WARMUP" \
		--reports-per-agent "$INGEST_REPORTS" 2>>"$HARNESS_DIR/log/send.log") ||
		harness_fail "the $b ingest run failed"
	[ "$b" != postgresql ] || pg_after=$(pg_server_cpu_ms)
	cpu_after=$(proc_cpu_ms "$pid")
	R[hwm $b]=$(proc_hwm_kb "$pid")
	harness_stop "ingest-$b"
	R[ingest $b]=$ingest
	R[rate $b]=$(field "$ingest" statement_rows_per_s)
	R[cpu $b]=$((cpu_after - cpu_before))
	R[server_cpu $b]=$((pg_after - pg_before))
	# growth over the timed run (texts were stored by the warm-up), per
	# simulated instance-day: agents x reports x 60 s
	R[bytes $b]=$(($(store_bytes "$b" ingest) - warm_bytes))
	R[all_rows $b]=$(($(store_sql "$b" ingest "SELECT count(*) FROM statement_stats") - warm_rows))
	days=$(awk -v a="$INGEST_AGENTS" -v r="$INGEST_REPORTS" 'BEGIN { printf "%.6f\n", a * r * 60 / 86400 }')
	R[days $b]=$days
	store_drop "$b" ingest
}

# --- history -----------------------------------------------------------

HISTORY_REPORTS=$((HISTORY_DAYS * 86400 / HISTORY_STEP_S))
NOW_S=$(date +%s)
HISTORY_START_US=$(((NOW_S - HISTORY_DAYS * 86400) * 1000000))
LAST_US=$((HISTORY_START_US + (HISTORY_REPORTS - 1) * HISTORY_STEP_S * 1000000))
QUERYID=

# window_rows BACKEND: the rows a 30-day question reads, from whichever
# level holds each interval.
window_rows() {
	local since_us=$((($(date +%s) - 30 * 86400) * 1000000)) greatest=max
	[ "$1" = sqlite ] || greatest=greatest
	store_sql "$1" history "
	WITH w AS (SELECT (SELECT until_us FROM rollup_state WHERE name = 'hourly') AS h,
	                  (SELECT until_us FROM rollup_state WHERE name = 'daily') AS d)
	SELECT (SELECT count(*) FROM statement_stats, w WHERE ts_us >= $greatest(h, $since_us))
	     + (SELECT count(*) FROM statement_stats_hourly, w
	        WHERE bucket_us >= $greatest(d, $since_us) AND bucket_us < h)
	     + (SELECT count(*) FROM statement_stats_daily, w
	        WHERE bucket_us >= $since_us AND bucket_us < d)"
}

# maintain_answered: false when the collector of the history logged that
# its store does not answer maintain (the PostgreSQL store until its
# rollups are written); waits for the first maintenance to have run.
maintain_answered() {
	local log=$HARNESS_DIR/log/history-$1.log deadline=$((SECONDS + 10))
	while [ $SECONDS -lt $deadline ]; do
		grep -q "does not answer maintain" "$log" && return 1
		# a rollup watermark moved: it answers
		[ "$(watermark "$1" history hourly)" = 0 ] || return 0
		sleep 0.5
	done
	! grep -q "does not answer maintain" "$log"
}

run_history() {
	local b=$1 spec start history slow=() trend=()
	spec=$(store_new "$b" history)
	start_collector "history-$b" "$spec" --maintenance_interval 1d
	harness_log "$b history: $HISTORY_INSTANCES instances x $HISTORY_REPORTS reports ($HISTORY_DAYS days, one per ${HISTORY_STEP_S}s)"
	history=$("$BENCH" send --collector "$COLLECTOR_LISTEN" --agents "$HISTORY_INSTANCES" \
		--reports-per-agent "$HISTORY_REPORTS" --statements "$HISTORY_STATEMENTS" \
		--changed-count "$HISTORY_CHANGED" --tables 0 --step-us $((HISTORY_STEP_S * 1000000)) \
		--start-us "$HISTORY_START_US" --prefix fleet 2>>"$HARNESS_DIR/log/send.log") ||
		harness_fail "sending the $b history failed"
	R[history $b]=$history
	harness_stop "history-$b"
	R[loaded_bytes $b]=$(store_bytes "$b" history)
	# the log of this run only: maintain_answered reads it
	: >"$HARNESS_DIR/log/history-$b.log"
	start_collector "history-$b" "$spec" --maintenance_interval 1s
	if maintain_answered "$b"; then
		harness_log "$b history: rolling up"
		start=$SECONDS
		harness_wait_for "the $b rollups" "$ROLLUP_TIMEOUT_S" rollup_done "$b" history
		R[rollup_s $b]=$((SECONDS - start))
		R[levels $b]="raw, hourly and daily rows"
	else
		harness_log "$b history: this store does not answer maintain: no rollups, the questions read raw rows"
		R[rollup_s $b]="-"
		R[levels $b]="raw rows only: this build's $b store does not answer maintain"
	fi
	R[history_bytes $b]=$(store_bytes "$b" history)
	if [ "$b" = sqlite ]; then
		R[free_bytes $b]=$(store_sql "$b" history "SELECT (SELECT freelist_count FROM pragma_freelist_count) * (SELECT page_size FROM pragma_page_size)")
	fi
	R[window_rows $b]=$(window_rows "$b")
	# a statement every instance reports every time: the same queryid
	# on every backend (the bench's queryids are fixed)
	if [ -z "$QUERYID" ]; then
		QUERYID=$(store_sql "$b" history "SELECT queryid FROM statement_stats
			GROUP BY queryid ORDER BY count(*) DESC, queryid LIMIT 1")
	fi

	# --- questions ---------------------------------------------------
	harness_log "$b questions: $QUESTION_RUNS runs each (query-trend $QUERYID)"
	pgfleet_cli slow-queries --since 30d --limit 5 >"$HARNESS_DIR/log/slow-queries-$b.out" ||
		harness_fail "slow-queries failed on the $b store"
	pgfleet_cli query-trend "$QUERYID" --since 30d >"$HARNESS_DIR/log/query-trend-$b.out" ||
		harness_fail "query-trend failed on the $b store"
	start=$SECONDS
	for ((i = 0; i < QUESTION_RUNS; i++)); do
		if [ $i -ge 3 ] && [ $((SECONDS - start)) -ge "$QUESTION_BUDGET_S" ]; then
			harness_log "$b questions: stopping after $i runs (QUESTION_BUDGET_S=$QUESTION_BUDGET_S)"
			break
		fi
		slow+=("$(time_ms pgfleet_cli slow-queries --since 30d)")
		trend+=("$(time_ms pgfleet_cli query-trend "$QUERYID" --since 30d)")
	done
	harness_stop "history-$b"
	R[runs $b]=${#slow[@]}
	R[slow_median $b]=$(median "${slow[@]}")
	R[slow_max $b]=$(maximum "${slow[@]}")
	R[trend_median $b]=$(median "${trend[@]}")
	R[trend_max $b]=$(maximum "${trend[@]}")
	store_drop "$b" history
}

# --- run ---------------------------------------------------------------

case " $BENCH_BACKENDS " in
*" postgresql "*) harness_init ;;
*) bench_init ;;
esac
LOAD_START=$(load_average)
PG_VERSION=
for backend in $BENCH_BACKENDS; do
	if [ "$backend" = postgresql ]; then
		# the defaults of a fresh server where writes are concerned (the
		# harness turns them off for tests: see the header)
		HARNESS_PRIMARY_CONF="fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 128MB" harness_start_primary
		PG_VERSION=$(harness_psql "$PRIMARY_PORT" -tAc "SELECT version()" | cut -d' ' -f1-2)
	fi
	run_ceiling "$backend"
	run_ingest "$backend"
	run_history "$backend"
done

# --- report ------------------------------------------------------------

REAL_WINDOW_ROWS=$((HISTORY_INSTANCES * 30 * REAL_DAILY_STATEMENTS))
for b in $BENCH_BACKENDS; do
	R[ratio $b]=$(awk -v a="${R[rate $b]}" -v c="${R[ceiling $b]}" 'BEGIN { printf "%.2f\n", a / c }')
done

describe_store() {
	case $1 in
	sqlite) echo "SQLite (one file, WAL, synchronous=FULL; $(sqlite3 --version | cut -d' ' -f1) sqlite3 CLI)" ;;
	postgresql) echo "PostgreSQL ($PG_VERSION on 127.0.0.1, fsync/synchronous_commit/full_page_writes on, shared_buffers 128MB)" ;;
	esac
}

echo
echo "pgfleet collector benchmark ($(nproc) CPUs; stores on $(df --output=source "$HARNESS_DIR" | tail -n 1)${BENCH_QUICK:+; BENCH_QUICK sizes})"
echo "load average (1, 5, 15 min) at the start: $LOAD_START; at the end: $(load_average)"
for b in $BENCH_BACKENDS; do
	ingest=${R[ingest $b]}
	echo
	echo "=== $(describe_store "$b")"
	echo "Ingest: $INGEST_AGENTS agents over nng ($INGEST_THREADS in flight), $INGEST_REPORTS reports each (after a warm-up of $WARMUP that sent every text);"
	echo "  a report = $CHANGED_COUNT of $STATEMENTS statements changed, $TABLES tables every 5th report, 60 s of simulated time"
	seconds=$(field "$ingest" seconds)
	reports=$(field "$ingest" reports)
	printf '  %-34s %12s\n' "reports/s" "$(field "$ingest" reports_per_s)"
	printf '  %-34s %12s\n' "statement rows/s" "${R[rate $b]}"
	printf '  %-34s %12s\n' "all rows/s (statements + tables)" "$(field "$ingest" all_rows_per_s)"
	printf '  %-34s %12s\n' "ack latency p50 / p99 ms" "$(field "$ingest" ack_p50_ms) / $(field "$ingest" ack_p99_ms)"
	printf '  %-34s %12s\n' "collector CPU (ms per s of run)" "${R[cpu $b]} ($(calc "${R[cpu $b]} / $seconds"))"
	printf '  %-34s %12s\n' "collector CPU per report, ms" "$(calc "${R[cpu $b]} / $reports")"
	if [ "$b" = postgresql ]; then
		printf '  %-34s %12s\n' "PG server CPU (ms per s of run)" "${R[server_cpu $b]} ($(calc "${R[server_cpu $b]} / $seconds"))"
		printf '  %-34s %12s\n' "PG server CPU per report, ms" "$(calc "${R[server_cpu $b]} / $reports")"
	fi
	printf '  %-34s %12s\n' "collector peak RSS (VmHWM), MB" "$(calc "${R[hwm $b]} / 1024")"
	printf '  %-34s %12s\n' "report size, kB" "$(calc "$(field "$ingest" bytes) / $reports / 1024")"
	printf '  %-34s %12s\n' "store bytes per statement row" "$(calc "${R[bytes $b]} / ${R[all_rows $b]}")"
	printf '  %-34s %12s\n' "store MB per instance-day (raw)" "$(calc "${R[bytes $b]} / ${R[days $b]} / 1048576")"
	echo "    (growth over the timed run: raw rows at the 60 s cadence, tables included, before
     rollups; raw rows are kept 7 days)"
	echo "Ceiling: the same statement rows straight into the store, durable commits"
	printf '  %-34s %12s\n' "rows/s, $CEILING_BATCH reports a transaction" "${R[ceiling $b]}"
	printf '  %-34s %12s\n' "rows/s, 1 report a transaction" "${R[ceiling_one $b]}"
	if [ "$b" = postgresql ]; then
		printf '  %-34s %12s\n' "rows/s, one INSERT a row, $CEILING_BATCH a txn" "${R[ceiling_row $b]}"
		printf '  %-34s %12s\n' "rows/s by COPY, $CEILING_BATCH a transaction" "${R[ceiling_copy $b]}"
	fi
	printf '  %-34s %12s\n' "ingest / ceiling ($CEILING_BATCH a txn)" "${R[ratio $b]}"
	history=${R[history $b]}
	echo "History (compressed): $HISTORY_INSTANCES instances x $HISTORY_DAYS days, one report per instance every ${HISTORY_STEP_S} s of"
	echo "  simulated time ($HISTORY_REPORTS each), $HISTORY_CHANGED statement deltas of $HISTORY_STATEMENTS per report, no tables"
	printf '  %-34s %12s\n' "reports/s while loading" "$(field "$history" reports_per_s)"
	printf '  %-34s %12s\n' "statement rows/s while loading" "$(field "$history" statement_rows_per_s)"
	printf '  %-34s %12s\n' "rows sent" "$(field "$history" statement_rows)"
	printf '  %-34s %12s\n' "rollup + 7d raw pruning, s" "${R[rollup_s $b]}"
	printf '  %-34s %12s\n' "store MB before / after rollup" "$(calc "${R[loaded_bytes $b]} / 1048576") / $(calc "${R[history_bytes $b]} / 1048576")"
	if [ -n "${R[free_bytes $b]:-}" ]; then
		printf '  %-34s %12s\n' "  of which free pages, MB" "$(calc "${R[free_bytes $b]} / 1048576")"
	fi
	printf '  %-34s %12s\n' "store kB per instance-day" "$(calc "${R[history_bytes $b]} / ($HISTORY_INSTANCES * $HISTORY_DAYS) / 1024")"
	printf '  %-34s %12s\n' "rows in the 30-day window" "${R[window_rows $b]}"
	echo "    (${R[levels $b]}; a real fleet of $HISTORY_INSTANCES: at least $REAL_WINDOW_ROWS daily rows,"
	echo "     $REAL_DAILY_STATEMENTS statements per instance-day, $(calc "$REAL_WINDOW_ROWS / ${R[window_rows $b]}") times this window)"
	echo "Questions over that history, ${R[runs $b]} runs each, wall time of the CLI, ms:"
	printf '  %-40s median %8s   max %8s\n' "slow-queries --since 30d" "${R[slow_median $b]}" "${R[slow_max $b]}"
	printf '  %-40s median %8s   max %8s\n' "query-trend $QUERYID --since 30d" "${R[trend_median $b]}" "${R[trend_max $b]}"
done

echo
echo "Side by side (statement rows/s; ceiling: $CEILING_BATCH reports a transaction; questions: median ms over 30 days of $HISTORY_INSTANCES instances):"
printf '  %-11s | %9s | %9s | %5s | %19s | %18s\n' backend rows/s ceiling ratio "slow-queries median" "query-trend median"
for b in $BENCH_BACKENDS; do
	printf '  %-11s | %9s | %9s | %5s | %19s | %18s\n' "$b" "${R[rate $b]}" "${R[ceiling $b]}" \
		"${R[ratio $b]}" "${R[slow_median $b]}" "${R[trend_median $b]}"
done
for b in $BENCH_BACKENDS; do
	[ "${R[rollup_s $b]}" != "-" ] || echo "  ($b: ${R[levels $b]})"
done

echo
echo "Targets:"
verdict() { if [ "$1" = 1 ]; then echo PASS; else echo MISS; fi; }
for b in $BENCH_BACKENDS; do
	echo "  $(verdict "$(awk -v r="${R[ratio $b]}" 'BEGIN { print (r >= 0.5) }')")  $b: ingest at least half the raw ceiling (${R[ratio $b]})"
	echo "  $(verdict "$(awk -v m="${R[slow_median $b]}" 'BEGIN { print (m < 100) }')")  $b: slow-queries --since 30d under 100 ms at the median (${R[slow_median $b]} ms)"
	echo "  $(verdict "$(awk -v m="${R[trend_median $b]}" 'BEGIN { print (m < 100) }')")  $b: query-trend --since 30d under 100 ms at the median (${R[trend_median $b]} ms)"
done
echo "  (the question targets on a window smaller than a real fleet's: see each history's ratio)"

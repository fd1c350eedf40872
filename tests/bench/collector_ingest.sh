#!/usr/bin/env bash
# bench: how fast pgfleet-collector stores reports, next to what SQLite
# itself does with the same rows on the same disk, and how fast it answers
# slow-queries and query-trend over 30 days of a 1,000-instance fleet. Not a
# ctest test: it prints figures and PASS/MISS lines against the targets
# (ingest at least half the raw ceiling; both questions under 100 ms at the
# median) and exits 0 either way unless something failed to run. Loopback
# only, no PostgreSQL; everything lives in a temporary folder removed on
# exit. About 6 to 7 minutes on 2 otherwise idle cores with the defaults;
# about 30 at a load average of 12 (the rollup of the history dominates).
#
# What is measured, and how (bench_collector_ingest, tests/bench/collector_ingest.c):
#   ceiling   CEILING_ROWS statement rows inserted straight into
#             statement_stats of a store made by the collector's code: one
#             prepared INSERT, WAL, synchronous=FULL, the collector's page
#             cache. Nothing else. Run twice: CEILING_BATCH reports (of
#             STATEMENTS x CHANGED rows) per transaction, the most the
#             collector puts in one (INGEST_SERVER_MAX_BATCH), which is the
#             ceiling the ratio uses; and one report per transaction, for
#             reference.
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
#   questions `pgfleet slow-queries --since 30d` and `pgfleet query-trend
#             QUERYID --since 30d` (QUERYID: a statement every instance
#             reports every time), QUESTION_RUNS times each, wall time of the
#             CLI process (start, connect, ask, print); median and max.
#
# Usage: PGFLEET_BIN_DIR=<build dir> bash tests/bench/collector_ingest.sh
# Use a build without sanitizers (RelWithDebInfo or Release). Sizes are
# the variables below, overridable from the environment.
source "$(dirname "$0")/../harness/lib.sh"

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
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is missing: apt-get install sqlite3"
if ldd "$COLLECTOR" 2>/dev/null | grep -qE 'libasan|libubsan'; then
	harness_log "WARNING: $COLLECTOR is built with sanitizers: its figures are inflated"
fi

# harness_init without its PostgreSQL check: this benchmark needs no
# server. Same folder, owner file and cleanup traps.
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

# Bytes a store's data takes: its pages as SQLite sees them (WAL
# included) less free pages. The file itself keeps the WAL's high water and
# freed pages until a checkpoint or VACUUM.
store_bytes() {
	sqlite3 -readonly "$1" "PRAGMA busy_timeout = 5000;
		SELECT ((SELECT page_count FROM pragma_page_count)
		      - (SELECT freelist_count FROM pragma_freelist_count))
		     * (SELECT page_size FROM pragma_page_size)" | tail -n 1
}

# start_collector NAME STORE [flags]: a collector of its own on free ports.
start_collector() {
	local name=$1 store=$2
	shift 2
	COLLECTOR_LISTEN=tcp://127.0.0.1:$(harness_free_port)
	COLLECTOR_API=ipc://$HARNESS_DIR/$name.sock
	COLLECTOR_STORE=$store
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

watermark() {
	sqlite3 -readonly "$COLLECTOR_STORE" \
		"PRAGMA busy_timeout = 5000; SELECT until_us FROM rollup_state WHERE name = '$1'" |
		tail -n 1
}

# True when maintenance is done: the hourly rollup has passed LAST_US,
# the daily one has reached the hourly's day, no raw row is left past
# raw retention.
rollup_done() {
	local hourly daily old
	hourly=$(watermark hourly)
	daily=$(watermark daily)
	old=$(sqlite3 -readonly "$COLLECTOR_STORE" "PRAGMA busy_timeout = 5000;
		SELECT count(*) FROM (SELECT 1 FROM statement_stats
		 WHERE ts_us < $(date +%s)000000 - 7 * 86400000000 LIMIT 1)" | tail -n 1)
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

bench_init
# the machine may be shared: its load goes with the figures
load_average() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_START=$(load_average)

# --- ceiling -----------------------------------------------------------

harness_log "ceiling: $CEILING_ROWS rows straight into SQLite"
ceiling() {
	"$BENCH" ceiling --store "$HARNESS_DIR/ceiling.db" --rows "$CEILING_ROWS" \
		--statements "$STATEMENTS" --changed "$CHANGED" --reports-per-commit "$1" \
		2>>"$HARNESS_DIR/log/ceiling.log" || harness_fail "the ceiling run failed"
	rm -f "$HARNESS_DIR"/ceiling.db*
}
CEILING=$(ceiling "$CEILING_BATCH")
CEILING_RATE=$(field "$CEILING" rows_per_s)
CEILING_ONE=$(ceiling 1)
CEILING_ONE_RATE=$(field "$CEILING_ONE" rows_per_s)
rm -f "$HARNESS_DIR"/ceiling.db*

# --- ingest ------------------------------------------------------------

CHANGED_COUNT=$(awk -v s="$STATEMENTS" -v c="$CHANGED" 'BEGIN { printf "%d\n", s * c + 0.5 }')
HOT=$((CHANGED_COUNT / 2))
# reports until every statement has appeared once (and sent its text)
WARMUP=$(((STATEMENTS - HOT + CHANGED_COUNT - HOT - 1) / (CHANGED_COUNT - HOT)))
NONCE=$((($(date +%s) << 20) + RANDOM))
START_US=$(($(date +%s) * 1000000 - (WARMUP + INGEST_REPORTS) * 60000000))
SEND=("$BENCH" send --agents "$INGEST_AGENTS" --statements "$STATEMENTS" --changed "$CHANGED"
	--tables "$TABLES" --tables-every 5 --step-us 60000000 --start-us "$START_US"
	--nonce "$NONCE" --prefix ingest --threads "$INGEST_THREADS")

start_collector ingest "$HARNESS_DIR/ingest.db" --maintenance_interval 1d
PID=${HARNESS_PIDS[ingest]}
harness_log "ingest: warm-up, $INGEST_AGENTS agents x $WARMUP reports (every text once)"
WARM=$("${SEND[@]}" --collector "$COLLECTOR_LISTEN" --reports-per-agent "$WARMUP" \
	2>>"$HARNESS_DIR/log/send.log") || harness_fail "the warm-up failed"
harness_log "ingest: $INGEST_AGENTS agents x $INGEST_REPORTS reports, timed"
WARM_BYTES=$(store_bytes "$HARNESS_DIR/ingest.db")
WARM_ROWS=$(sqlite3 -readonly "$HARNESS_DIR/ingest.db" "SELECT count(*) FROM statement_stats")
CPU_BEFORE=$(proc_cpu_ms "$PID")
INGEST=$("${SEND[@]}" --collector "$COLLECTOR_LISTEN" --first-report "$WARMUP" \
	--reports-per-agent "$INGEST_REPORTS" 2>>"$HARNESS_DIR/log/send.log") ||
	harness_fail "the ingest run failed"
CPU_AFTER=$(proc_cpu_ms "$PID")
INGEST_HWM=$(proc_hwm_kb "$PID")
harness_stop ingest
INGEST_SECONDS=$(field "$INGEST" seconds)
INGEST_ROWS=$(field "$INGEST" statement_rows)
INGEST_RATE=$(field "$INGEST" statement_rows_per_s)
INGEST_CPU_MS=$((CPU_AFTER - CPU_BEFORE))
# growth over the timed run (texts were stored by the warm-up), per
# simulated instance-day: agents x reports x 60 s
INGEST_BYTES=$(($(store_bytes "$HARNESS_DIR/ingest.db") - WARM_BYTES))
INGEST_DAYS=$(awk -v a="$INGEST_AGENTS" -v r="$INGEST_REPORTS" \
	'BEGIN { printf "%.6f\n", a * r * 60 / 86400 }')
INGEST_ALL_ROWS=$(($(sqlite3 "$HARNESS_DIR/ingest.db" "SELECT count(*) FROM statement_stats") - WARM_ROWS))
rm -f "$HARNESS_DIR"/ingest.db*

# --- history -----------------------------------------------------------

HISTORY_REPORTS=$((HISTORY_DAYS * 86400 / HISTORY_STEP_S))
NOW_S=$(date +%s)
HISTORY_START_US=$(((NOW_S - HISTORY_DAYS * 86400) * 1000000))
LAST_US=$((HISTORY_START_US + (HISTORY_REPORTS - 1) * HISTORY_STEP_S * 1000000))
start_collector history "$HARNESS_DIR/history.db" --maintenance_interval 1d
harness_log "history: $HISTORY_INSTANCES instances x $HISTORY_REPORTS reports ($HISTORY_DAYS days, one per ${HISTORY_STEP_S}s)"
HISTORY=$("$BENCH" send --collector "$COLLECTOR_LISTEN" --agents "$HISTORY_INSTANCES" \
	--reports-per-agent "$HISTORY_REPORTS" --statements "$HISTORY_STATEMENTS" \
	--changed-count "$HISTORY_CHANGED" --tables 0 --step-us $((HISTORY_STEP_S * 1000000)) \
	--start-us "$HISTORY_START_US" --prefix fleet 2>>"$HARNESS_DIR/log/send.log") ||
	harness_fail "sending the history failed"
harness_stop history
HISTORY_LOADED_BYTES=$(store_bytes "$HARNESS_DIR/history.db")
start_collector history "$HARNESS_DIR/history.db" --maintenance_interval 1s
harness_log "history: rolling up"
ROLLUP_START=$SECONDS
harness_wait_for "the rollups" "$ROLLUP_TIMEOUT_S" rollup_done
ROLLUP_SECONDS=$((SECONDS - ROLLUP_START))
HISTORY_BYTES=$(store_bytes "$HARNESS_DIR/history.db")
FREE_BYTES=$(sqlite3 -readonly "$HARNESS_DIR/history.db" "PRAGMA busy_timeout = 5000;
	SELECT (SELECT freelist_count FROM pragma_freelist_count) * (SELECT page_size FROM pragma_page_size)" |
	tail -n 1)
SINCE_US=$((($(date +%s) - 30 * 86400) * 1000000))
WINDOW_ROWS=$(sqlite3 -readonly "$HARNESS_DIR/history.db" "
	WITH w AS (SELECT (SELECT until_us FROM rollup_state WHERE name = 'hourly') AS h,
	                  (SELECT until_us FROM rollup_state WHERE name = 'daily') AS d)
	SELECT (SELECT count(*) FROM statement_stats, w WHERE ts_us >= max(h, $SINCE_US))
	     + (SELECT count(*) FROM statement_stats_hourly, w
	        WHERE bucket_us >= max(d, $SINCE_US) AND bucket_us < h)
	     + (SELECT count(*) FROM statement_stats_daily, w
	        WHERE bucket_us >= $SINCE_US AND bucket_us < d)")
QUERYID=$(sqlite3 -readonly "$HARNESS_DIR/history.db" \
	"SELECT queryid FROM statement_stats_daily GROUP BY queryid ORDER BY count(*) DESC LIMIT 1")

# --- questions ---------------------------------------------------------

harness_log "questions: $QUESTION_RUNS runs each (query-trend $QUERYID)"
pgfleet_cli slow-queries --since 30d --limit 5 >"$HARNESS_DIR/log/slow-queries.out" ||
	harness_fail "slow-queries failed"
pgfleet_cli query-trend "$QUERYID" --since 30d >"$HARNESS_DIR/log/query-trend.out" ||
	harness_fail "query-trend failed"
SLOW=()
TREND=()
QUESTION_START=$SECONDS
for ((i = 0; i < QUESTION_RUNS; i++)); do
	if [ $i -ge 3 ] && [ $((SECONDS - QUESTION_START)) -ge "$QUESTION_BUDGET_S" ]; then
		harness_log "questions: stopping after $i runs (QUESTION_BUDGET_S=$QUESTION_BUDGET_S)"
		break
	fi
	SLOW+=("$(time_ms pgfleet_cli slow-queries --since 30d)")
	TREND+=("$(time_ms pgfleet_cli query-trend "$QUERYID" --since 30d)")
done
harness_stop history

# --- report ------------------------------------------------------------

RATIO=$(awk -v a="$INGEST_RATE" -v b="$CEILING_RATE" 'BEGIN { printf "%.2f\n", a / b }')
SLOW_MEDIAN=$(median "${SLOW[@]}")
TREND_MEDIAN=$(median "${TREND[@]}")
REAL_WINDOW_ROWS=$((HISTORY_INSTANCES * 30 * REAL_DAILY_STATEMENTS))

echo
echo "pgfleet collector benchmark ($(nproc) CPUs, $(sqlite3 --version | cut -d' ' -f1) sqlite3 CLI; store on $(df --output=source "$HARNESS_DIR" | tail -n 1))"
echo "load average (1, 5, 15 min) at the start: $LOAD_START; at the end: $(load_average)"
echo
echo "Ingest: $INGEST_AGENTS agents over nng ($INGEST_THREADS in flight), $INGEST_REPORTS reports each (after a warm-up of $WARMUP that sent every text);"
echo "  a report = $CHANGED_COUNT of $STATEMENTS statements changed, $TABLES tables every 5th report, 60 s of simulated time"
printf '  %-34s %12s\n' "reports/s" "$(field "$INGEST" reports_per_s)"
printf '  %-34s %12s\n' "statement rows/s" "$INGEST_RATE"
printf '  %-34s %12s\n' "all rows/s (statements + tables)" "$(field "$INGEST" all_rows_per_s)"
printf '  %-34s %12s\n' "ack latency p50 / p99 ms" "$(field "$INGEST" ack_p50_ms) / $(field "$INGEST" ack_p99_ms)"
printf '  %-34s %12s\n' "collector CPU (ms per s of run)" "$INGEST_CPU_MS ($(calc "$INGEST_CPU_MS / $INGEST_SECONDS"))"
printf '  %-34s %12s\n' "collector CPU per report, ms" "$(calc "$INGEST_CPU_MS / $(field "$INGEST" reports)")"
printf '  %-34s %12s\n' "collector peak RSS (VmHWM), MB" "$(calc "$INGEST_HWM / 1024")"
printf '  %-34s %12s\n' "report size, kB" "$(calc "$(field "$INGEST" bytes) / $(field "$INGEST" reports) / 1024")"
printf '  %-34s %12s\n' "store bytes per statement row" "$(calc "$INGEST_BYTES / $INGEST_ALL_ROWS")"
printf '  %-34s %12s\n' "store MB per instance-day (raw)" "$(calc "$INGEST_BYTES / $INGEST_DAYS / 1048576")"
echo "    (growth over the timed run: raw rows at the 60 s cadence, tables included, before
     rollups; raw rows are kept 7 days)"
echo
echo "Ceiling: the same statement rows straight into SQLite, synchronous=FULL"
printf '  %-34s %12s\n' "rows/s, $CEILING_BATCH reports a transaction" "$CEILING_RATE"
printf '  %-34s %12s\n' "rows/s, 1 report a transaction" "$CEILING_ONE_RATE"
printf '  %-34s %12s\n' "ingest / ceiling ($CEILING_BATCH a txn)" "$RATIO"
echo
echo "History (compressed): $HISTORY_INSTANCES instances x $HISTORY_DAYS days, one report per instance every ${HISTORY_STEP_S} s of"
echo "  simulated time ($HISTORY_REPORTS each), $HISTORY_CHANGED statement deltas of $HISTORY_STATEMENTS per report, no tables"
printf '  %-34s %12s\n' "reports/s while loading" "$(field "$HISTORY" reports_per_s)"
printf '  %-34s %12s\n' "statement rows/s while loading" "$(field "$HISTORY" statement_rows_per_s)"
printf '  %-34s %12s\n' "rows sent" "$(field "$HISTORY" statement_rows)"
printf '  %-34s %12s\n' "rollup + 7d raw pruning, s" "$ROLLUP_SECONDS"
printf '  %-34s %12s\n' "store MB before / after rollup" "$(calc "$HISTORY_LOADED_BYTES / 1048576") / $(calc "$HISTORY_BYTES / 1048576")"
printf '  %-34s %12s\n' "  of which free pages, MB" "$(calc "$FREE_BYTES / 1048576")"
printf '  %-34s %12s\n' "store kB per instance-day" "$(calc "$HISTORY_BYTES / ($HISTORY_INSTANCES * $HISTORY_DAYS) / 1024")"
printf '  %-34s %12s\n' "rows in the 30-day window" "$WINDOW_ROWS"
echo "    (a real fleet of $HISTORY_INSTANCES: at least $REAL_WINDOW_ROWS daily rows, $REAL_DAILY_STATEMENTS statements per instance-day;"
echo "     $(calc "$REAL_WINDOW_ROWS / $WINDOW_ROWS") times this window)"
echo
echo "Questions over that history, ${#SLOW[@]} runs each, wall time of the CLI, ms:"
printf '  %-40s median %8s   max %8s\n' "slow-queries --since 30d" "$SLOW_MEDIAN" "$(maximum "${SLOW[@]}")"
printf '  %-40s median %8s   max %8s\n' "query-trend $QUERYID --since 30d" "$TREND_MEDIAN" "$(maximum "${TREND[@]}")"
echo
echo "Targets:"
verdict() { if [ "$1" = 1 ]; then echo PASS; else echo MISS; fi; }
echo "  $(verdict "$(awk -v r="$RATIO" 'BEGIN { print (r >= 0.5) }')")  ingest at least half the raw ceiling ($RATIO)"
echo "  $(verdict "$(awk -v m="$SLOW_MEDIAN" 'BEGIN { print (m < 100) }')")  slow-queries --since 30d under 100 ms at the median ($SLOW_MEDIAN ms)"
echo "  $(verdict "$(awk -v m="$TREND_MEDIAN" 'BEGIN { print (m < 100) }')")  query-trend --since 30d under 100 ms at the median ($TREND_MEDIAN ms)"
echo "  (the question targets on a window $(calc "$REAL_WINDOW_ROWS / $WINDOW_ROWS") times smaller than a real fleet's)"

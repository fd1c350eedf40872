#!/usr/bin/env bash
# bench: /api/db/slow-queries over HTTP next to the same question over the
# CLI's nng socket, on a store holding HISTORY_INSTANCES instances of
# history. Not a ctest test: it prints figures and exits 0 unless something
# failed to run. Loopback only, no PostgreSQL; everything lives in a
# temporary folder removed on exit. About a minute or two on 2 cores.
#
# How:
#   history   bench_collector_ingest (tests/bench/collector_ingest.c) sends
#             HISTORY_INSTANCES simulated agents' reports to a real
#             collector: HISTORY_DAYS days, one report per instance every
#             HISTORY_STEP_S s of simulated time ending now, each with
#             HISTORY_CHANGED of HISTORY_STATEMENTS statements changed.
#   http      wrk (Debian's wrk) against GET /api/db/slow-queries (the
#             default window: the last 24 hours; the default limit, 10),
#             one connection for DURATION_S (latency, one at a time), then
#             WRK_CONNECTIONS connections (throughput); without wrk, a curl
#             loop of REQUESTS requests.
#   socket    bench_http_api_client (tests/bench/http_api_client.c): the same
#             question (since = now - 24h) over nng to api_listen, REQUESTS
#             times, one at a time, on one connection.
#   The ratio is HTTP / socket for requests/s at one connection, and for the
#   median latency. The collector serves HTTP with http_threads threads and
#   the nng API with one.
#
# Usage: PGFLEET_BIN_DIR=<build dir> bash tests/bench/http_api.sh
# Use a build without sanitizers. Sizes below are overridable.
source "$(dirname "$0")/../harness/lib.sh"

HISTORY_INSTANCES=${HISTORY_INSTANCES:-100}
HISTORY_DAYS=${HISTORY_DAYS:-7}
HISTORY_STEP_S=${HISTORY_STEP_S:-10800}
HISTORY_STATEMENTS=${HISTORY_STATEMENTS:-200}
HISTORY_CHANGED=${HISTORY_CHANGED:-50}
DURATION_S=${DURATION_S:-15}
REQUESTS=${REQUESTS:-30}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-4}
HTTP_THREADS=${HTTP_THREADS:-2}
BENCH=$PGFLEET_BIN_DIR/tests/bench_collector_ingest
CLIENT=$PGFLEET_BIN_DIR/tests/bench_http_api_client
COLLECTOR=$PGFLEET_BIN_DIR/collector/pgfleet-collector

for program in "$BENCH" "$CLIENT" "$COLLECTOR"; do
	[ -x "$program" ] || harness_fail "no $program: build it and set PGFLEET_BIN_DIR"
done
command -v curl >/dev/null || harness_fail "curl is missing: apt-get install curl"
if ldd "$COLLECTOR" 2>/dev/null | grep -qE 'libasan|libubsan'; then
	harness_log "WARNING: $COLLECTOR is built with sanitizers: its figures are inflated"
fi

# harness_init without its PostgreSQL check: no server is needed.
HARNESS_DIR=$(mktemp -d "${HARNESS_PREFIX}XXXXXX")
echo $$ >"$HARNESS_DIR/owner"
mkdir -p "$HARNESS_DIR/run" "$HARNESS_DIR/log"
trap harness_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export HARNESS_DIR

median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2];
			else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
# wrk's latency figures are "1.23ms", "850.00us" or "1.02s": in ms
wrk_ms() {
	awk -v t="$1" 'BEGIN { v = t + 0; if (t ~ /us$/) v /= 1000; else if (t ~ /ms$/) v *= 1;
		else if (t ~ /s$/) v *= 1000; printf "%.3f\n", v }'
}

# --- history -------------------------------------------------------------------

HTTP_PORT=$(harness_free_port)
COLLECTOR_LISTEN=tcp://127.0.0.1:$(harness_free_port)
COLLECTOR_API=ipc://$HARNESS_DIR/api.sock
COLLECTOR_STORE=$HARNESS_DIR/history.db
EXTRA=()
if "$COLLECTOR" --help | grep -q -- '--action_listen'; then
	EXTRA=(--action_listen "tcp://127.0.0.1:$(harness_free_port)")
fi
harness_spawn collector "$COLLECTOR" --listen "$COLLECTOR_LISTEN" --api_listen "$COLLECTOR_API" \
	--store "$COLLECTOR_STORE" --log_level warning --maintenance_interval 1d \
	--http_listen "127.0.0.1:$HTTP_PORT" --http_threads "$HTTP_THREADS" "${EXTRA[@]}"
BASE="http://127.0.0.1:$HTTP_PORT"
harness_wait_for "the collector's HTTP" 20 curl -sf "$BASE/healthz"
REPORTS=$((HISTORY_DAYS * 86400 / HISTORY_STEP_S))
START_US=$((($(date +%s) - HISTORY_DAYS * 86400) * 1000000))
harness_log "history: $HISTORY_INSTANCES instances x $REPORTS reports ($HISTORY_DAYS days, one per ${HISTORY_STEP_S}s), $HISTORY_CHANGED of $HISTORY_STATEMENTS statements each"
LOAD=$("$BENCH" send --collector "$COLLECTOR_LISTEN" --agents "$HISTORY_INSTANCES" \
	--reports-per-agent "$REPORTS" --statements "$HISTORY_STATEMENTS" \
	--changed-count "$HISTORY_CHANGED" --tables 0 --step-us $((HISTORY_STEP_S * 1000000)) \
	--start-us "$START_US" --prefix fleet 2>>"$HARNESS_DIR/log/send.log") ||
	harness_fail "sending the history failed"
ROWS=$(field "$LOAD" statement_rows)
INSTANCES=$(curl -sf "$BASE/api/fleet/instances" | jq length)
[ "$INSTANCES" = "$HISTORY_INSTANCES" ] || harness_fail "the fleet has $INSTANCES instances, not $HISTORY_INSTANCES"
URL="$BASE/api/db/slow-queries"
curl -sf "$URL" >"$HARNESS_DIR/answer.json" || harness_fail "GET /api/db/slow-queries failed"
ANSWER_ROWS=$(jq length "$HARNESS_DIR/answer.json")
ANSWER_BYTES=$(wc -c <"$HARNESS_DIR/answer.json")

# --- HTTP -------------------------------------------------------------------------

# http_measure URL CONNECTIONS SECONDS: sets RPS, P50, P99 (ms) for GETs of
# URL, with wrk, or with a curl loop of REQUESTS requests (one connection)
http_measure() {
	local url=$1 connections=$2 seconds=$3 out times=() t0 t1
	if [ -n "$HAVE_WRK" ]; then
		out=$(wrk -t"$((connections > 1 ? 2 : 1))" -c"$connections" -d"${seconds}s" \
			--timeout 60s --latency "$url") || harness_fail "wrk failed"
		echo "$out" >>"$HARNESS_DIR/log/wrk.log"
		grep -qE "Non-2xx|Socket errors" <<<"$out" && harness_fail "wrk saw errors: $out"
		RPS=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
		P50=$(wrk_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
		P99=$(wrk_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
		return
	fi
	t0=$(date +%s%N)
	for ((i = 0; i < REQUESTS; i++)); do
		times+=("$(curl -sf -o /dev/null -w '%{time_total}' "$url" | awk '{ printf "%.3f\n", $1 * 1000 }')")
	done
	t1=$(date +%s%N)
	RPS=$(awk -v n="$REQUESTS" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f\n", n / (ns / 1e9) }')
	P50=$(median "${times[@]}")
	P99=$(printf '%s\n' "${times[@]}" | sort -g | awk -v n="$REQUESTS" 'NR == int(n * 0.99) + 1')
}
HAVE_WRK=
HTTP_TOOL="curl loop (no wrk: apt-get install wrk)"
if command -v wrk >/dev/null; then
	HAVE_WRK=1
	HTTP_TOOL="wrk"
fi
harness_log "http: slow-queries, 1 connection, ${DURATION_S}s ($HTTP_TOOL)"
http_measure "$URL" 1 "$DURATION_S"
HTTP_RPS=$RPS HTTP_P50=$P50 HTTP_P99=$P99
HTTP_RPS_N="-" HTTP_P50_N="-"
if [ -n "$HAVE_WRK" ]; then
	harness_log "http: slow-queries, $WRK_CONNECTIONS connections, ${DURATION_S}s"
	http_measure "$URL" "$WRK_CONNECTIONS" "$DURATION_S"
	HTTP_RPS_N=$RPS HTTP_P50_N=$P50
fi
harness_log "http: fleet/instances, 1 connection, ${DURATION_S}s"
http_measure "$BASE/api/fleet/instances" 1 "$DURATION_S"
FLEET_HTTP_RPS=$RPS FLEET_HTTP_P50=$P50
harness_log "http: healthz, 1 connection, 3s"
http_measure "$BASE/healthz" 1 3
HEALTHZ_RPS=$RPS HEALTHZ_P50=$P50
FLEET_BYTES=$(curl -sf "$BASE/api/fleet/instances" | wc -c)
METRICS_TIMES=()
for ((i = 0; i < 3; i++)); do
	METRICS_TIMES+=("$(curl -sf -o "$HARNESS_DIR/metrics.txt" -w '%{time_total}' "$BASE/metrics" |
		awk '{ printf "%.3f\n", $1 * 1000 }')")
done
METRICS_SAMPLES=$(grep -vc '^#' "$HARNESS_DIR/metrics.txt")

# --- CLI socket ------------------------------------------------------------------

harness_log "socket: $REQUESTS slow-queries requests one at a time"
SINCE_US=$((($(date +%s) - 86400) * 1000000))
SOCKET=$("$CLIENT" --collector "$COLLECTOR_API" --requests "$REQUESTS" --since-us "$SINCE_US") ||
	harness_fail "the socket client failed"
SOCKET_RPS=$(field "$SOCKET" requests_per_s)
SOCKET_P50=$(field "$SOCKET" p50_ms)
SOCKET_P99=$(field "$SOCKET" p99_ms)
harness_log "socket: fleet, $((REQUESTS * 10)) requests one at a time"
SOCKET=$("$CLIENT" --collector "$COLLECTOR_API" --requests $((REQUESTS * 10)) --question fleet) ||
	harness_fail "the socket client failed"
FLEET_SOCKET_RPS=$(field "$SOCKET" requests_per_s)
FLEET_SOCKET_P50=$(field "$SOCKET" p50_ms)
# and a whole `pgfleet` process per question, for scale
CLI_TIMES=()
for ((i = 0; i < 5; i++)); do
	T0=$(date +%s%N)
	"$PGFLEET_BIN_DIR/collector/pgfleet" --collector "$COLLECTOR_API" --timeout 120s \
		slow-queries --json >/dev/null || harness_fail "pgfleet slow-queries failed"
	T1=$(date +%s%N)
	CLI_TIMES+=("$(awk -v ns=$((T1 - T0)) 'BEGIN { printf "%.3f\n", ns / 1e6 }')")
done
harness_stop collector

# --- report ------------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "-" }'; }
echo
echo "pgfleet HTTP API benchmark ($(nproc) CPUs): GET /api/db/slow-queries (last 24 h, 10 rows, $ANSWER_BYTES bytes of JSON)"
echo "  store: $INSTANCES instances x $HISTORY_DAYS days, $ROWS statement rows ($HISTORY_CHANGED of $HISTORY_STATEMENTS statements per report, a report per ${HISTORY_STEP_S}s)"
echo "  the answer has $ANSWER_ROWS rows; HTTP: $HTTP_TOOL, $HTTP_THREADS server threads; socket: nng REQ to api_listen (ipc)"
echo
printf '  %-36s %14s %14s %8s\n' "" "HTTP" "CLI socket" "ratio"
printf '  %-36s %14s %14s %8s\n' "requests/s, one at a time" "$HTTP_RPS" "$SOCKET_RPS" "$(ratio "$HTTP_RPS" "$SOCKET_RPS")"
printf '  %-36s %14s %14s %8s\n' "median latency, ms" "$HTTP_P50" "$SOCKET_P50" "$(ratio "$HTTP_P50" "$SOCKET_P50")"
printf '  %-36s %14s %14s %8s\n' "p99 latency, ms" "$HTTP_P99" "$SOCKET_P99" "$(ratio "$HTTP_P99" "$SOCKET_P99")"
printf '  %-36s %14s %14s\n' "requests/s, $WRK_CONNECTIONS connections" "$HTTP_RPS_N" "(one thread)"
printf '  %-36s %14s\n' "median latency, $WRK_CONNECTIONS connections, ms" "$HTTP_P50_N"
printf '  %-36s %14s %14s %8s\n' "fleet/instances: requests/s" "$FLEET_HTTP_RPS" "$FLEET_SOCKET_RPS" "$(ratio "$FLEET_HTTP_RPS" "$FLEET_SOCKET_RPS")"
printf '  %-36s %14s %14s %8s\n' "fleet/instances: median latency, ms" "$FLEET_HTTP_P50" "$FLEET_SOCKET_P50" "$(ratio "$FLEET_HTTP_P50" "$FLEET_SOCKET_P50")"
echo "  (fleet/instances: $INSTANCES rows, a cheap answer. HTTP renders it as JSON, $FLEET_BYTES bytes,
   in the server; the socket client gets protobuf and renders nothing, as the CLI would
   render on its side. HTTP alone, GET /healthz: $HEALTHZ_RPS requests/s, median $HEALTHZ_P50 ms)"
printf '  %-36s %14s\n' "a pgfleet slow-queries --json process, median ms" "$(median "${CLI_TIMES[@]}")"
printf '  %-36s %14s\n' "GET /metrics ($METRICS_SAMPLES samples), median ms" "$(median "${METRICS_TIMES[@]}")"

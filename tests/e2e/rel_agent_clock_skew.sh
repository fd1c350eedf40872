#!/usr/bin/env bash
# e2e T11 (tests/RELIABILITY.md): agents whose clocks are 2 hours ahead and
# 2 hours behind (faketime). Their reports are stored, `pgfleet fleet` flags
# them (clock_skewed, clock_skew_seconds about +/-7200) and not a correct
# one; their statement trend has no bucket in the future or 2 h in the past:
# the collector moved their agent-clock times by the measured skew.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"
# libfaketime, preloaded directly (the faketime binary forks: the harness
# would stop the wrapper and leave the agent running)
LIBFAKETIME=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n 1 || true)
if [ -z "$LIBFAKETIME" ]; then
	echo "SKIP: faketime is not installed (deploy/install-deps.sh installs it)"
	exit 0
fi

harness_init
harness_start_primary
harness_start_collector --action_listen "" # no action port shared with other tests
# start_skewed NAME OFFSET: an agent whose clock is OFFSET away
start_skewed() {
	mkdir -p "$HARNESS_DIR/state-$1"
	# ASan (sanitizer builds) must accept a library preloaded before it
	harness_spawn "agent-$1" env LD_PRELOAD="$LIBFAKETIME" FAKETIME="$2" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$PGFLEET_BIN_DIR/agent/pgfleet-agent" \
		--name "$1" --conninfo "host=127.0.0.1 port=$PRIMARY_PORT user=postgres dbname=postgres" \
		--collector "$COLLECTOR_LISTEN" --interval 1s --ack_timeout 2s \
		--state_dir "$HARNESS_DIR/state-$1" --spool_dir "$HARNESS_DIR/spool-$1" --action_collector off
}
start_skewed ahead "+2h"
start_skewed behind "-2h"
harness_start_agent right "$PRIMARY_PORT" --action_collector off

field() { pgfleet_cli fleet --json | jq -r --arg i "$1" ".[] | select(.instance == \$i) | .$2"; }
reported() { [ "$(field "$1" clock_skewed)" = true ] || [ "$(field "$1" clock_skewed)" = false ]; }
for name in ahead behind right; do harness_wait_for "$name in the fleet" 30 reported $name; done

MARKER=clock_skew_marker
for i in 1 2 3 4 5; do echo "SELECT $i AS $MARKER;"; done | harness_psql "$PRIMARY_PORT" >/dev/null
sleep 3 # the statement's calls reach every agent's next report

[ "$(field ahead clock_skewed)" = true ] || harness_fail "the +2h agent is not flagged"
[ "$(field behind clock_skewed)" = true ] || harness_fail "the -2h agent is not flagged"
[ "$(field right clock_skewed)" = false ] || harness_fail "the agent with a right clock is flagged"
ahead=$(field ahead clock_skew_seconds)
behind=$(field behind clock_skew_seconds)
awk -v a="$ahead" -v b="$behind" 'BEGIN { exit !(a > 7100 && a < 7300 && b < -7100 && b > -7300) }' ||
	harness_fail "skews $ahead / $behind, expected about +7200 / -7200"

# every stored time of every agent within a minute of the collector's
now_us=$(($(date +%s) * 1000000))
far=$(sqlite3 "$COLLECTOR_STORE" "PRAGMA busy_timeout = 5000;
	SELECT count(*) FROM reports WHERE abs(collected_at_us - $now_us) > 60000000" | tail -n 1)
[ "$far" = 0 ] || harness_fail "$far reports stored with a collected_at over a minute off"
queryid=$(harness_psql "$PRIMARY_PORT" -tAc \
	"SELECT queryid FROM pg_stat_statements WHERE query LIKE '%$MARKER%' LIMIT 1")
for name in ahead behind right; do
	trend=$(pgfleet_cli query-trend "$queryid" --json --since 1h --instance "$name")
	calls=$(jq '[.[].calls] | add // 0' <<<"$trend")
	[ "$calls" = 5 ] || harness_fail "$name: the trend holds $calls calls over the last hour, expected 5"
	future=$(jq --argjson now "$now_us" '[.[] | select((.bucket_start_us | tonumber) > $now + 60000000)] | length' <<<"$trend")
	[ "$future" = 0 ] || harness_fail "$name: $future trend bucket(s) in the future"
done
harness_log "PASS: +2h and -2h agents flagged (skew $ahead s / $behind s), their 5 calls in the last hour's trend, none in the future"

#!/usr/bin/env bash
# bench: the round trip of `pgfleet explain` on an idle fleet (collector and
# agent on this machine, one PostgreSQL 15 primary), next to the server's
# own EXPLAIN time for the same statement. Not a ctest test: it prints
# figures and a PASS/MISS line against the target (the median round trip at
# most 50 ms above the server's median) and exits 0 either way unless
# something failed to run. About 20 seconds.
#
# What is measured:
#   server    ROUNDS x `EXPLAIN (FORMAT JSON) <statement>` in one psql session
#             with \timing (the client's time for the one round trip: parse,
#             plan, send), median;
#   round trip  ROUNDS explain Requests over one API connection
#             (bench_explain_roundtrip, tests/bench/explain_roundtrip.c): the
#             collector handing the request to the agent's held poll, the
#             agent's BEGIN READ ONLY / SET LOCAL / EXPLAIN / table sizes /
#             ROLLBACK on its own connection, the result back on the next
#             poll, median. This is the figure the target is about;
#   pgfleet   ROUNDS x `pgfleet explain --json --instance primary
#             "<statement>"`, wall time of the whole command: the round trip
#             plus the CLI's process start and connection, median; next to
#             it `pgfleet --version` (process start alone) for scale;
#   agent     the agent's own time for the action (agent_ms in the answer).
# Usage: bash tests/bench/explain_roundtrip.sh [ROUNDS] (PGFLEET_BIN_DIR: the
# build folder, default build/).
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
ROUNDS=${1:-50}
STATEMENT="SELECT t.id, u.v FROM t JOIN u ON u.id = t.id WHERE t.v = 5 ORDER BY t.id LIMIT 10"

harness_init
harness_start_primary
ACTION_ADDRESS=tcp://127.0.0.1:$(harness_free_port)
COLLECTOR_LOG_LEVEL=warning harness_start_collector --action_listen "$ACTION_ADDRESS"
harness_psql "$PRIMARY_PORT" >/dev/null <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, v int);
CREATE TABLE u (id int PRIMARY KEY, v int);
INSERT INTO t SELECT g, g % 1000 FROM generate_series(1, 100000) g;
INSERT INTO u SELECT g, g FROM generate_series(1, 100000) g;
ANALYZE t;
ANALYZE u;
SQL
AGENT_LOG_LEVEL=warning harness_start_agent primary "$PRIMARY_PORT" \
	--action_collector "$ACTION_ADDRESS" --interval 60s
harness_wait_for "the agent polling for actions" 30 \
	pgfleet_cli explain --instance primary "SELECT 1"

median() { sort -n | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# the server's own time, one session, \timing per statement
server=$(
	{
		echo '\timing on'
		for _ in $(seq "$ROUNDS"); do echo "EXPLAIN (FORMAT JSON) $STATEMENT;"; done
	} | harness_psql "$PRIMARY_PORT" -o /dev/null 2>&1 |
		sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | median
)

# pgfleet explain, whole command
: >"$HARNESS_DIR/roundtrip.ms"
: >"$HARNESS_DIR/agent.ms"
for _ in $(seq "$ROUNDS"); do
	start=$(date +%s%N)
	out=$(pgfleet_cli explain --json --instance primary "$STATEMENT") ||
		harness_fail "pgfleet explain failed"
	end=$(date +%s%N)
	echo "scale=3; ($end - $start) / 1000000" | bc >>"$HARNESS_DIR/roundtrip.ms"
	jq -r '.agent_ms' <<<"$out" >>"$HARNESS_DIR/agent.ms"
done
command=$(median <"$HARNESS_DIR/roundtrip.ms")
agent=$(median <"$HARNESS_DIR/agent.ms")
: >"$HARNESS_DIR/version.ms"
for _ in $(seq "$ROUNDS"); do
	start=$(date +%s%N)
	"$PGFLEET_BIN_DIR/collector/pgfleet" --version >/dev/null
	end=$(date +%s%N)
	echo "scale=3; ($end - $start) / 1000000" | bc >>"$HARNESS_DIR/version.ms"
done
version=$(median <"$HARNESS_DIR/version.ms")
"$PGFLEET_BIN_DIR/tests/bench_explain_roundtrip" "$COLLECTOR_API" primary "$ROUNDS" "$STATEMENT" \
	>"$HARNESS_DIR/client.ms" || harness_fail "bench_explain_roundtrip failed"
roundtrip=$(median <"$HARNESS_DIR/client.ms")
above=$(echo "scale=3; $roundtrip - $server" | bc)

printf '\nexplain round trip, %d rounds, medians (ms)\n' "$ROUNDS"
printf '  %-44s %10s\n' "server's own EXPLAIN (psql \\timing)" "$server"
printf '  %-44s %10s\n' "agent's time for the action (agent_ms)" "$agent"
printf '  %-44s %10s\n' "explain round trip (one API connection)" "$roundtrip"
printf '  %-44s %10s\n' "  above the server's" "$above"
printf '  %-44s %10s\n' "pgfleet explain, whole command" "$command"
printf '  %-44s %10s\n' "pgfleet --version (process start alone)" "$version"
printf '  load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$(echo "$above < 50" | bc)" = 1 ]; then
	echo "PASS: the explain round trip is $above ms above the server's EXPLAIN at the median (target < 50 ms)"
else
	echo "MISS: the explain round trip is $above ms above the server's EXPLAIN at the median (target < 50 ms)"
fi

#!/usr/bin/env bash
# e2e: an unreachable Postgres and an unreachable collector give a one-line
# warning each and retries with backoff: the agent neither crashes nor
# spins, and stops cleanly on SIGTERM. When both come back, reports flow.
source "$(dirname "$0")/../harness/lib.sh"
harness_init

dead_pg_port=$(harness_free_port)
COLLECTOR_LISTEN=tcp://127.0.0.1:$(harness_free_port)
export COLLECTOR_LISTEN
harness_start_agent lonely "$dead_pg_port"
sleep 6

pid=${HARNESS_PIDS[agent-lonely]}
kill -0 "$pid" || harness_fail "agent died with Postgres unreachable"
# CPU time in clock ticks: a busy loop would burn ~600 in 6 s
ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
[ "$ticks" -lt 60 ] || harness_fail "agent used $ticks ticks of CPU while waiting: a busy loop"
warnings=$(grep -c "WARNING: instance=lonely could not connect to Postgres" "$HARNESS_DIR/log/agent-lonely.log" || true)
[ "$warnings" = 1 ] || harness_fail "expected one warning about Postgres, saw $warnings"

# now Postgres comes up, but no collector yet: reports are kept
harness_stop agent-lonely TERM
harness_start_primary
harness_start_agent lonely "$PRIMARY_PORT"
harness_wait_for "a collector warning" 20 grep -q "could not deliver a report" "$HARNESS_DIR/log/agent-lonely.log"
sleep 3
pid=${HARNESS_PIDS[agent-lonely]}
ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
[ "$ticks" -lt 60 ] || harness_fail "agent used $ticks ticks of CPU with no collector: a busy loop"
warnings=$(grep -c "could not deliver a report" "$HARNESS_DIR/log/agent-lonely.log" || true)
[ "$warnings" = 1 ] || harness_fail "expected one warning about the collector, saw $warnings"

# the collector comes up: the backlog is delivered
harness_start_collector
harness_wait_for "reports delivered" 40 grep -q "reached again" "$HARNESS_DIR/log/agent-lonely.log"
harness_psql "$PRIMARY_PORT" -c "SELECT 42 AS came_back" >/dev/null
harness_wait_for "the instance's statements" 30 \
	bash -c "\"$PGFLEET_BIN_DIR/collector/pgfleet\" --collector \"$COLLECTOR_API\" slow-queries --json --limit 1000 | grep -q came_back"
harness_stop agent-lonely TERM
grep -q "stopping" "$HARNESS_DIR/log/agent-lonely.log" || harness_fail "agent did not stop cleanly"
harness_log "PASS: unreachable Postgres and collector"

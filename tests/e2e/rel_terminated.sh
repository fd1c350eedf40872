#!/usr/bin/env bash
# e2e (reliability T15, tests/RELIABILITY.md): the agent's backend is
# terminated in the middle of a collection. A session holds an ACCESS
# EXCLUSIVE lock on pg_settings, so the settings family (the first of
# each collection) waits (lock_timeout 5 s, as the agent sets it); while
# it waits, every backend with application_name pgfleet-agent is ended
# with pg_terminate_backend. The report of that collection must say so:
# settings as an error ("terminating connection ..."), and every family
# due after it as "skipped" (not left out as if it was not due), all in
# that one report. The agent stays alive, reconnects at the next interval
# (where the still-held lock makes settings a "timeout"), and once the
# lock is gone every family is ok again.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary
harness_start_collector
# every family every second, so each collection carries all of them
harness_start_agent primary "$PRIMARY_PORT" --lock_timeout 5s --statement_timeout 10s \
	--settings_interval 1s --tables_interval 1s --indexes_interval 1s --bloat_interval 1s

fleet_families() { pgfleet_cli fleet --json --instance primary | jq -c '.[0].families'; }
status_of() { fleet_families | jq -r --arg f "$1" '.[] | select(.family == $f) | .status'; }
all_ok() {
	local f
	for f in statements settings activity replication tables indexes bloat; do
		[ "$(status_of "$f")" = ok ] || return 1
	done
}
harness_wait_for "every family ok" 30 all_ok
agent_pids() {
	harness_psql "$PRIMARY_PORT" -tAc "SELECT string_agg(pid::text, ',' ORDER BY pid)
		FROM pg_stat_activity WHERE application_name = 'pgfleet-agent'"
}

# the lock, held for 12 s by a session of its own
harness_psql "$PRIMARY_PORT" -c "BEGIN; LOCK TABLE pg_catalog.pg_settings IN ACCESS EXCLUSIVE MODE;
	SELECT pg_sleep(12); COMMIT" >/dev/null 2>&1 &
locker=$!
agent_waits() {
	harness_query_is "$PRIMARY_PORT" t "SELECT count(*) > 0 FROM pg_stat_activity
		WHERE application_name = 'pgfleet-agent' AND wait_event_type = 'Lock'"
}
harness_wait_for "the agent waiting on the lock" 15 agent_waits
killed=$(agent_pids)
terminated_at_us=$(($(date +%s%N) / 1000))
harness_psql "$PRIMARY_PORT" -tAc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	WHERE application_name = 'pgfleet-agent'" >/dev/null
harness_log "terminated the agent's backends ($killed) during the settings family"

# the terminated collection's report: settings an error, the rest skipped
reported() {
	local families
	families=$(fleet_families)
	echo "$families" >"$HARNESS_DIR/families.json"
	jq -e '.[] | select(.family == "settings") | .last_problem | test("terminating connection")' \
		<<<"$families" >/dev/null
}
harness_wait_for "the report of the terminated collection" 15 reported
families=$(cat "$HARNESS_DIR/families.json")
settings_at=$(jq '.[] | select(.family == "settings") | .last_problem_at_us' <<<"$families")
[ "$settings_at" -le "$terminated_at_us" ] ||
	harness_fail "settings' error is dated after the termination ($settings_at > $terminated_at_us)"
for f in activity replication tables indexes bloat; do
	got=$(jq -r --arg f "$f" '.[] | select(.family == $f) | "\(.last_problem_at_us) \(.last_problem)"' \
		<<<"$families")
	case $got in
	"$settings_at skipped: "*) ;;
	*) harness_fail "$f is not marked skipped in the terminated report (settings at $settings_at): $got" ;;
	esac
done
harness_log "terminated report: settings error, activity replication tables indexes bloat skipped"

# the agent lives and reconnects (a new backend) while the lock is held
kill -0 "${HARNESS_PIDS[agent-primary]}" || harness_fail "the agent died"
reconnected() { local now; now=$(agent_pids); [ -n "$now" ] && [ "$now" != "$killed" ]; }
harness_wait_for "the agent's new connection" 15 reconnected
timed_out() { [ "$(status_of settings)" = timeout ]; }
harness_wait_for "settings: lock timeout while the lock is held" 15 timed_out
wait "$locker" || true
harness_wait_for "every family ok after the lock is gone" 30 all_ok
kill -0 "${HARNESS_PIDS[agent-primary]}" || harness_fail "the agent died"
grep -q "lost the connection during the settings family" "$HARNESS_DIR/log/agent-primary.log" ||
	harness_fail "the agent did not log the lost connection"
harness_log "PASS: a backend terminated mid-collection is reported (error + skipped), the agent reconnects"

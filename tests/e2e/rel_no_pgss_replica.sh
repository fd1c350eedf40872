#!/usr/bin/env bash
# e2e (reliability T17, tests/RELIABILITY.md): a replica started without
# pg_stat_statements preloaded (shared_preload_libraries = '' in its
# postgresql.conf after pg_basebackup; the extension is still in its
# catalog, replicated from the primary). Its agent stays alive, reports
# the statements family "unavailable" with the server's reason and
# SQLSTATE 55000, and every other family as usual; `pgfleet fleet --json`
# shows that per instance (families[]), and the primary's statements ok.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"

harness_init
harness_start_primary
HARNESS_REPLICA_CONF="shared_preload_libraries = ''" harness_start_replica
[ -z "$(harness_psql "$REPLICA_PORT" -tAc "SHOW shared_preload_libraries")" ] ||
	harness_fail "the replica preloads $(harness_psql "$REPLICA_PORT" -tAc "SHOW shared_preload_libraries")"
harness_start_collector
harness_start_agent primary "$PRIMARY_PORT"
harness_start_agent replica "$REPLICA_PORT"

# family NAME FIELD for instance INSTANCE, from the fleet API
family() {
	pgfleet_cli fleet --json --instance "$1" |
		jq -r --arg f "$2" --arg k "$3" '.[0].families[]? | select(.family == $f) | .[$k]'
}
statements_unavailable() {
	[ "$(family replica statements status)" = unavailable ]
}
harness_wait_for "replica: statements unavailable" 30 statements_unavailable
detail=$(family replica statements detail)
harness_log "replica statements: unavailable: $detail"
case $detail in
*shared_preload_libraries*"SQLSTATE 55000"*) ;;
*) harness_fail "the reason does not name shared_preload_libraries and SQLSTATE 55000: $detail" ;;
esac
# every other family of the replica arrives, ok (the first report has all)
others_ok() {
	local f
	for f in settings activity replication tables indexes bloat; do
		[ "$(family replica "$f" status)" = ok ] || return 1
	done
}
harness_wait_for "replica: the other families ok" 30 others_ok
primary_ok() { [ "$(family primary statements status)" = ok ]; }
harness_wait_for "primary: statements ok" 30 primary_ok
# the replica is a replica, with a live agent, several intervals on
sleep 3
kill -0 "${HARNESS_PIDS[agent-replica]}" || harness_fail "the replica's agent died"
row=$(pgfleet_cli fleet --json --instance replica)
[ "$(jq -r '.[0].role' <<<"$row")" = replica ] || harness_fail "role: $(jq -r '.[0].role' <<<"$row")"
[ "$(jq -r '.[0].status' <<<"$row")" = ok ] || harness_fail "status: $(jq -r '.[0].status' <<<"$row")"
[ "$(jq -r '.[0].families[] | select(.family == "statements") | .problem_reports' <<<"$row")" -ge 3 ] ||
	harness_fail "the unavailable statements were not counted in every report"
# the table form still prints (families are JSON only)
pgfleet_cli fleet >/dev/null || harness_fail "pgfleet fleet (table) failed"
harness_log "PASS: replica without pg_stat_statements: statements unavailable (55000), other families ok, agent alive"

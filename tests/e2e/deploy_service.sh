#!/usr/bin/env bash
# e2e: what deploy/'s units and SQL rely on, without systemd itself.
#   - deploy/sql/monitor-role.sql: pgfleet_agent gets pg_monitor and
#     pg_stat_statements is created; pg_signal_backend (through
#     pgfleet_actions) only with -v allow_signal=on, taken back by a rerun
#     without it; no warning on a rerun;
#   - Type=notify: both programs send READY=1 once they serve, RELOADING=1
#     then READY=1 around a SIGHUP reload, and STOPPING=1 on SIGTERM, on
#     $NOTIFY_SOCKET (a datagram socket this test binds, as systemd does);
#     checked only when built with libsystemd (`--version` says so);
#   - ExecReload (SIGHUP): a reloadable key changes its effect at once
#     (log_level info -> debug: per-report debug lines start to appear, in
#     the collector and in the agent), the log says how many keys changed
#     and names those that need a restart (listen, collector), a broken
#     file keeps the running configuration;
#   - KillSignal (SIGTERM): a graceful stop with exit status 0.
source "$(dirname "$0")/../harness/lib.sh"
command -v python3 >/dev/null || harness_fail "python3 is required"

AGENT=$PGFLEET_BIN_DIR/agent/pgfleet-agent
COLLECTOR=$PGFLEET_BIN_DIR/collector/pgfleet-collector
NOTIFY=1
"$COLLECTOR" --version | grep -q "libsystemd" && ! "$COLLECTOR" --version | grep -q "no libsystemd" ||
	NOTIFY=0
[ "$NOTIFY" = 1 ] || harness_log "built without libsystemd: sd_notify checks skipped"

harness_init
harness_start_primary

# --- deploy/sql/monitor-role.sql: the roles, the extension, actions opt-in --
ROLE_SQL=${PGFLEET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/deploy/sql/monitor-role.sql
harness_psql "$PRIMARY_PORT" -c "DROP EXTENSION IF EXISTS pg_stat_statements" >/dev/null
harness_psql "$PRIMARY_PORT" -v allow_signal=on -f "$ROLE_SQL" >"$HARNESS_DIR/log/role-sql.log" 2>&1 ||
	harness_fail "monitor-role.sql -v allow_signal=on failed: $(cat "$HARNESS_DIR/log/role-sql.log")"
harness_query_is "$PRIMARY_PORT" "t|t|t|f" \
	"SELECT pg_has_role('pgfleet_agent', 'pg_monitor', 'MEMBER'),
	        pg_has_role('pgfleet_agent', 'pg_signal_backend', 'MEMBER'),
	        EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_stat_statements'),
	        rolsuper FROM pg_roles WHERE rolname = 'pgfleet_agent'" ||
	harness_fail "allow_signal=on: wrong roles or no pg_stat_statements"
# rerun without: the membership is taken back, nothing else changes
harness_psql "$PRIMARY_PORT" -f "$ROLE_SQL" >>"$HARNESS_DIR/log/role-sql.log" 2>&1 ||
	harness_fail "monitor-role.sql rerun failed: $(cat "$HARNESS_DIR/log/role-sql.log")"
harness_query_is "$PRIMARY_PORT" "t|f|t" \
	"SELECT pg_has_role('pgfleet_agent', 'pg_monitor', 'MEMBER'),
	        pg_has_role('pgfleet_agent', 'pg_signal_backend', 'MEMBER'),
	        pg_has_role('pgfleet_actions', 'pg_signal_backend', 'MEMBER')" ||
	harness_fail "a rerun without allow_signal kept the agent's pg_signal_backend"
! grep -qi "warning\|error" "$HARNESS_DIR/log/role-sql.log" ||
	harness_fail "monitor-role.sql complained: $(cat "$HARNESS_DIR/log/role-sql.log")"
harness_log "PASS: monitor-role.sql: pg_monitor, pg_stat_statements, pg_signal_backend only with allow_signal=on"

# notify_listener NAME: a datagram socket like systemd's; each message it
# receives becomes one line of $HARNESS_DIR/notify-NAME
notify_listener() {
	harness_spawn "notify-$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
        out.flush()
' "$HARNESS_DIR/notify-$1.sock" "$HARNESS_DIR/notify-$1"
	harness_wait_for "notify socket $1" 10 test -S "$HARNESS_DIR/notify-$1.sock"
}
# notified NAME LINE...: the listener received these lines, in this order
# (others may come between)
notified() {
	local name=$1
	shift
	[ "$NOTIFY" = 1 ] || return 0
	python3 -c '
import sys
lines = open(sys.argv[1]).read().split("\n")
want = sys.argv[2:]
for line in lines:
    if want and line == want[0]:
        want.pop(0)
sys.exit(1 if want else 0)
' "$HARNESS_DIR/notify-$name" "$@"
}
# log_after NAME MARK PATTERN: PATTERN in NAME's log after the first line
# matching MARK
log_after() {
	sed -n "/$2/,\$p" "$HARNESS_DIR/log/$1.log" | grep -q -- "$3"
}
notify_listener collector
notify_listener agent
touch "$HARNESS_DIR/notify-collector" "$HARNESS_DIR/notify-agent"

# --- collector ------------------------------------------------------------
COLLECTOR_LISTEN=tcp://127.0.0.1:$(harness_free_port)
COLLECTOR_API=ipc://$HARNESS_DIR/api.sock
conf=$HARNESS_DIR/collector.conf
write_collector_conf() {
	printf 'listen = %s\napi_listen = %s\nstore = %s/pgfleet.db\nhttp_listen =\naction_listen =\nlog_level = %s\nraw_retention = %s\n' \
		"$1" "$COLLECTOR_API" "$HARNESS_DIR" "$2" "$3" >"$conf"
}
write_collector_conf "$COLLECTOR_LISTEN" info 7d
NOTIFY_SOCKET=$HARNESS_DIR/notify-collector.sock harness_spawn collector "$COLLECTOR" --config "$conf"
harness_wait_for "collector READY=1" 20 notified collector READY=1
harness_wait_for "collector API" 20 pgfleet_cli slow-queries --limit 1
harness_log "PASS: collector ready (notify=$NOTIFY)"

# --- agent ----------------------------------------------------------------
aconf=$HARNESS_DIR/agent.conf
write_agent_conf() {
	printf 'name = svc\nconninfo = host=127.0.0.1 port=%s user=postgres dbname=postgres\ncollector = %s\ninterval = 1s\nack_timeout = 2s\nstate_dir = %s/state-svc\naction_collector = off\nlog_level = %s\n' \
		"$PRIMARY_PORT" "$1" "$HARNESS_DIR" "$2" >"$aconf"
}
mkdir -p "$HARNESS_DIR/state-svc"
write_agent_conf "$COLLECTOR_LISTEN" info
NOTIFY_SOCKET=$HARNESS_DIR/notify-agent.sock harness_spawn agent "$AGENT" --config "$aconf"
harness_wait_for "agent READY=1" 20 notified agent READY=1
reports_stored() {
	pgfleet_cli fleet --json | grep -q '"svc"'
}
harness_wait_for "reports of the agent" 30 reports_stored
sleep 2
# at info, neither program logs a line per report
! grep -q "report seq" "$HARNESS_DIR/log/collector.log" ||
	harness_fail "collector logged per-report debug lines at log_level info"
! grep -q "report seq" "$HARNESS_DIR/log/agent.log" ||
	harness_fail "agent logged per-report debug lines at log_level info"

# --- SIGHUP: the reloadable keys take effect, the others are named ----------
write_collector_conf "tcp://127.0.0.1:1" debug 2d
kill -HUP "${HARNESS_PIDS[collector]}"
harness_wait_for "collector reload" 10 grep -q \
	"configuration reloaded: 2 key(s) changed; these need a restart: listen" \
	"$HARNESS_DIR/log/collector.log"
harness_wait_for "collector debug lines after the reload" 15 \
	log_after collector "configuration reloaded" "DEBUG: instance=svc .*report seq"
harness_wait_for "collector RELOADING=1, READY=1" 10 notified collector READY=1 RELOADING=1 READY=1
harness_log "PASS: collector SIGHUP: log_level and raw_retention reloaded, listen needs a restart"

write_agent_conf "tcp://127.0.0.1:1" debug
kill -HUP "${HARNESS_PIDS[agent]}"
harness_wait_for "agent reload" 10 grep -q \
	"configuration reloaded: 1 key(s) changed; these need a restart: collector" \
	"$HARNESS_DIR/log/agent.log"
harness_wait_for "agent debug lines after the reload" 15 \
	log_after agent "configuration reloaded" "DEBUG: instance=svc report seq"
harness_wait_for "agent RELOADING=1, READY=1" 10 notified agent READY=1 RELOADING=1 READY=1
# the agent still reports to the collector it started with
before=$(grep -c "DEBUG: instance=svc .*report seq" "$HARNESS_DIR/log/collector.log")
more_reports() {
	[ "$(grep -c "DEBUG: instance=svc .*report seq" "$HARNESS_DIR/log/collector.log")" -gt "$before" ]
}
harness_wait_for "reports after the agent's reload" 15 more_reports
harness_log "PASS: agent SIGHUP: log_level reloaded, collector needs a restart and is kept"

# a broken file: the running configuration stays, and READY=1 follows
printf 'log_level = loud\n' >"$conf"
kill -HUP "${HARNESS_PIDS[collector]}"
harness_wait_for "refused reload" 10 grep -q \
	'configuration not reloaded: .*collector.conf:1: invalid value for key "log_level"' \
	"$HARNESS_DIR/log/collector.log"
harness_wait_for "collector READY=1 after a refused reload" 10 \
	notified collector READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1
before=$(grep -c "DEBUG: instance=svc .*report seq" "$HARNESS_DIR/log/collector.log")
harness_wait_for "debug lines after the refused reload" 15 more_reports
harness_log "PASS: a broken file keeps the running configuration"

# --- SIGTERM: graceful stop, exit 0 ------------------------------------------
# stop_gracefully NAME: TERM, then the exit status must be 0
stop_gracefully() {
	local pid=${HARNESS_PIDS[$1]} rc=0
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	unset "HARNESS_PIDS[$1]"
	rm -f "$HARNESS_DIR/run/$1.pid"
	[ "$rc" = 0 ] || harness_fail "$1 exited $rc on SIGTERM"
}
stop_gracefully agent
grep -q "stopping:" "$HARNESS_DIR/log/agent.log" || harness_fail "agent did not say it stops"
notified agent READY=1 STOPPING=1 || harness_fail "agent sent no STOPPING=1: $(cat "$HARNESS_DIR/notify-agent")"
stop_gracefully collector
grep -q "collector stopping:" "$HARNESS_DIR/log/collector.log" ||
	harness_fail "collector did not say it stops"
notified collector READY=1 STOPPING=1 ||
	harness_fail "collector sent no STOPPING=1: $(cat "$HARNESS_DIR/notify-collector")"
harness_log "notify messages: collector: $(tr '\n' ' ' <"$HARNESS_DIR/notify-collector"); agent: $(tr '\n' ' ' <"$HARNESS_DIR/notify-agent")"
harness_log "PASS: deploy_service"

# tests/harness/lib.sh - a throwaway PostgreSQL fleet for pgfleet's tests.
#
# Source it from bash, then:
#   harness_init              temporary folder $HARNESS_DIR, cleanup on exit
#   harness_start_primary     PostgreSQL 15 with pg_stat_statements on a free
#                             loopback port: $PRIMARY_PORT; HARNESS_PRIMARY_CONF
#                             (postgresql.conf lines) is appended last
#   harness_start_replica     streaming replica of it (pg_basebackup -R):
#                             $REPLICA_PORT; HARNESS_REPLICA_CONF is appended
#                             to its postgresql.conf before it starts
#   harness_start_collector   pgfleet-collector with a SQLite store; sets
#                             $COLLECTOR_LISTEN and $COLLECTOR_API; HTTP
#                             only when $COLLECTOR_HTTP_LISTEN is set
#                             (its default port would clash between tests)
#   harness_start_collector_named NAME  another collector with its own
#                             ports and store (pgfleet_cli_at NAME ...)
#   harness_start_agent NAME PORT   pgfleet-agent (interval 1s) for a server,
#                             spooling to $HARNESS_DIR/spool-NAME (set
#                             AGENT_SPOOL_DIR="" for memory only)
#   harness_agent_once PORT [flags] one report of every family, as JSON
#   harness_stop NAME [SIGNAL]      stop a started program (default TERM)
#   harness_wait_for DESCRIPTION TIMEOUT_S COMMAND...  poll until COMMAND succeeds
#                             (TIMEOUT_S times HARNESS_WAIT_SCALE)
#
# As root, servers run as the `postgres` OS user (runuser). Everything lives
# under $HARNESS_DIR and is torn down on exit, on Ctrl-C and on TERM; a run
# killed with -9 leaves its folder behind, and the next harness_init stops
# and removes such orphans.
set -euo pipefail

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
PGFLEET_BIN_DIR=${PGFLEET_BIN_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build" && pwd)}
# sanitizer builds: leaks that are nng's, not ours (tests/lsan.supp says which)
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lsan.supp}
HARNESS_PREFIX=${TMPDIR:-/tmp}/pgfleet-harness.
# Waits are bounds, not targets: in a sanitizer build (2-3x slower, run
# after the plain one on the same 2 cores) each is doubled, so a loaded
# machine does not fail a test whose timing the plain build already held
# to the stated bound.
if [ -z "${HARNESS_WAIT_SCALE:-}" ]; then
	HARNESS_WAIT_SCALE=1
	if ldd "$PGFLEET_BIN_DIR/collector/pgfleet-collector" 2>/dev/null | grep -q libasan; then
		HARNESS_WAIT_SCALE=2
	fi
fi
declare -A HARNESS_PIDS=()

harness_log() { printf '[harness %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
harness_fail() { harness_log "FAIL: $*"; exit 1; }

# Runs a command as the postgres OS user when we are root.
as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Stops the servers and programs of a harness folder and removes it.
harness_teardown_dir() {
	local dir=$1 data pidfile
	for pidfile in "$dir"/run/*.pid; do
		[ -f "$pidfile" ] || continue
		kill -9 "$(cat "$pidfile")" 2>/dev/null || true
	done
	# replicas (standby.signal) first, then any other server in the folder
	for data in "$dir"/*/standby.signal "$dir"/*/postmaster.pid; do
		data=${data%/*}
		[ -f "$data/postmaster.pid" ] || continue
		as_postgres "$PG_BIN/pg_ctl" -D "$data" stop -m immediate -w >/dev/null 2>&1 || true
	done
	rm -rf "$dir"
}

harness_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "${HARNESS_DIR:-}" ] && [ -d "$HARNESS_DIR" ]; then
		# stop our programs first, so sanitizer reports at exit are written
		local name
		for name in "${!HARNESS_PIDS[@]}"; do
			kill -TERM "${HARNESS_PIDS[$name]}" 2>/dev/null || true
			wait "${HARNESS_PIDS[$name]}" 2>/dev/null || true
		done
		# a sanitizer report in any program's log fails the test
		if grep -lE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" \
			"$HARNESS_DIR"/log/*.log >/dev/null 2>&1; then
			harness_log "FAIL: sanitizer report in $(grep -lE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$HARNESS_DIR"/log/*.log | tr '\n' ' ')"
			[ "$rc" != 0 ] || rc=1
		fi
		if [ "$rc" != 0 ]; then
			harness_log "test failed (exit $rc); logs follow"
			for f in "$HARNESS_DIR"/log/*.log "$HARNESS_DIR"/*/log/*.log; do
				[ -f "$f" ] || continue
				echo "----- $f (last 40 lines)" >&2
				tail -n 40 "$f" >&2
			done
		fi
		if [ -n "${HARNESS_KEEP:-}" ]; then
			harness_log "keeping $HARNESS_DIR (HARNESS_KEEP is set)"
		else
			harness_teardown_dir "$HARNESS_DIR"
		fi
	fi
	exit "$rc"
}

harness_init() {
	local orphan
	[ -x "$PG_BIN/initdb" ] || harness_fail "no PostgreSQL binaries in \"$PG_BIN\" (install postgresql-15)"
	# folders of runs that died without cleaning up
	for orphan in "$HARNESS_PREFIX"*; do
		[ -d "$orphan" ] || continue
		if [ -f "$orphan/owner" ]; then
			kill -0 "$(cat "$orphan/owner")" 2>/dev/null && continue
		else
			# another test may be between mktemp and writing its
			# owner file: only an old folder without one is an orphan
			[ -n "$(find "$orphan" -maxdepth 0 -mmin +10)" ] || continue
		fi
		harness_log "removing orphaned harness folder $orphan"
		harness_teardown_dir "$orphan"
	done
	HARNESS_DIR=$(mktemp -d "${HARNESS_PREFIX}XXXXXX")
	chmod 755 "$HARNESS_DIR"
	echo $$ >"$HARNESS_DIR/owner"
	mkdir -p "$HARNESS_DIR/run" "$HARNESS_DIR/log"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$HARNESS_DIR"
	fi
	trap harness_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	export HARNESS_DIR
}

# Prints a TCP port on 127.0.0.1 that nothing listens on, below Linux's
# ephemeral range (32768-60999): tests running beside this one open
# thousands of outgoing connections (rel_flood), whose local ports would
# otherwise take a port picked here before its server binds it.
harness_free_port() {
	local port tries=0
	while [ $tries -lt 200 ]; do
		port=$((20000 + RANDOM % 12700))
		tries=$((tries + 1))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			# also keep clear of ports handed out earlier in this run
			if ! grep -qx "$port" "$HARNESS_DIR/ports" 2>/dev/null; then
				echo "$port" >>"$HARNESS_DIR/ports"
				echo "$port"
				return 0
			fi
		fi
	done
	harness_fail "no free port found"
}

harness_psql() {
	local port=$1
	shift
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

# harness_query_is PORT EXPECTED SQL: true when SQL prints exactly EXPECTED.
harness_query_is() {
	local out
	out=$(harness_psql "$1" -tAc "$3" 2>/dev/null) || return 1
	[ "$out" = "$2" ]
}

harness_start_primary() {
	local data=$HARNESS_DIR/primary
	PRIMARY_PORT=$(harness_free_port)
	as_postgres "$PG_BIN/initdb" -D "$data" -U postgres -A trust --no-sync -E UTF8 \
		>"$HARNESS_DIR/log/initdb.log" 2>&1 || harness_fail "initdb failed"
	cat >>"$data/postgresql.conf" <<CONF
port = $PRIMARY_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$HARNESS_DIR'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.max = 10000
track_io_timing = on
wal_level = replica
max_wal_senders = 5
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
CONF
	# a test's own settings (HARNESS_PRIMARY_CONF, lines of postgresql.conf)
	# come last, so they win over the defaults above
	if [ -n "${HARNESS_PRIMARY_CONF:-}" ]; then
		printf '%s\n' "$HARNESS_PRIMARY_CONF" >>"$data/postgresql.conf"
	fi
	echo "host replication all 127.0.0.1/32 trust" >>"$data/pg_hba.conf"
	as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null ||
		{ cat "$data/server.log" >&2; harness_fail "primary did not start"; }
	harness_psql "$PRIMARY_PORT" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
	export PRIMARY_PORT
	harness_log "primary up on 127.0.0.1:$PRIMARY_PORT"
}

# harness_start_replica [NAME]: a streaming replica of the primary in
# $HARNESS_DIR/NAME (default "replica"); its port is in REPLICA_PORT (the
# last one started) and in REPLICA_PORTS[NAME], so a test can start two.
declare -A REPLICA_PORTS=()
harness_start_replica() {
	local name=${1:-replica}
	local data=$HARNESS_DIR/$name
	REPLICA_PORT=$(harness_free_port)
	REPLICA_PORTS[$name]=$REPLICA_PORT
	as_postgres "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$data" \
		-R -X stream --no-sync >"$HARNESS_DIR/log/basebackup.log" 2>&1 ||
		harness_fail "pg_basebackup failed"
	cat >>"$data/postgresql.conf" <<CONF
port = $REPLICA_PORT
hot_standby = on
CONF
	# a test's own settings for its replicas (HARNESS_REPLICA_CONF, lines
	# of postgresql.conf), after the primary's copied ones: they win
	if [ -n "${HARNESS_REPLICA_CONF:-}" ]; then
		printf '%s\n' "$HARNESS_REPLICA_CONF" >>"$data/postgresql.conf"
	fi
	as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null ||
		{ cat "$data/server.log" >&2; harness_fail "replica did not start"; }
	harness_wait_for "$name streaming" 30 harness_query_is "$REPLICA_PORT" t \
		"SELECT status = 'streaming' FROM pg_stat_wal_receiver"
	export REPLICA_PORT
	harness_log "$name up on 127.0.0.1:$REPLICA_PORT"
}

# Starts a program in the background, logging to log/NAME.log.
# With HARNESS_DETACH set (the demo), it outlives the calling script.
harness_spawn() {
	local name=$1
	shift
	if [ -n "${HARNESS_DETACH:-}" ]; then
		set -- setsid "$@"
	fi
	"$@" >>"$HARNESS_DIR/log/$name.log" 2>&1 </dev/null &
	HARNESS_PIDS[$name]=$!
	echo $! >"$HARNESS_DIR/run/$name.pid"
}

# harness_has_flag FLAG ARGS...: true when ARGS give FLAG (--flag V or
# --flag=V).
harness_has_flag() {
	local flag=$1 arg
	shift
	for arg in "$@"; do
		case $arg in "$flag" | "$flag"=*) return 0 ;; esac
	done
	return 1
}

harness_start_collector() {
	local action=()
	COLLECTOR_LISTEN=${COLLECTOR_LISTEN:-tcp://127.0.0.1:$(harness_free_port)}
	COLLECTOR_API=${COLLECTOR_API:-ipc://$HARNESS_DIR/api.sock}
	COLLECTOR_STORE=${COLLECTOR_STORE:-$HARNESS_DIR/pgfleet.db}
	# actions on a port of this harness's own (the default 7453 would be
	# shared by tests running at once), unless the test chose one
	if ! harness_has_flag --action_listen "$@"; then
		COLLECTOR_ACTION_LISTEN=${COLLECTOR_ACTION_LISTEN:-tcp://127.0.0.1:$(harness_free_port)}
		action=(--action_listen "$COLLECTOR_ACTION_LISTEN")
		export COLLECTOR_ACTION_LISTEN
	fi
	harness_spawn collector "$PGFLEET_BIN_DIR/collector/pgfleet-collector" \
		--listen "$COLLECTOR_LISTEN" --api_listen "$COLLECTOR_API" \
		--store "$COLLECTOR_STORE" --log_level "${COLLECTOR_LOG_LEVEL:-info}" \
		--http_listen "${COLLECTOR_HTTP_LISTEN:-}" "${action[@]}" "$@"
	export COLLECTOR_LISTEN COLLECTOR_API COLLECTOR_STORE
	harness_wait_for "collector API" 20 pgfleet_cli slow-queries --limit 1
}

# harness_start_collector_named NAME [extra flags]: one more collector
# beside the harness's own (tests with several collectors), with its own
# listen and action ports, API socket and SQLite store, in
# COLLECTOR_LISTENS[NAME], COLLECTOR_ACTION_LISTENS[NAME],
# COLLECTOR_APIS[NAME] and COLLECTOR_STORES[NAME]; logs to
# log/collector-NAME.log. Started again after harness_stop collector-NAME,
# it keeps its addresses and store. pgfleet_cli_at NAME ... asks it.
declare -A COLLECTOR_LISTENS=() COLLECTOR_ACTION_LISTENS=() COLLECTOR_APIS=() COLLECTOR_STORES=()
harness_start_collector_named() {
	local name=$1
	shift
	COLLECTOR_LISTENS[$name]=${COLLECTOR_LISTENS[$name]:-tcp://127.0.0.1:$(harness_free_port)}
	COLLECTOR_ACTION_LISTENS[$name]=${COLLECTOR_ACTION_LISTENS[$name]:-tcp://127.0.0.1:$(harness_free_port)}
	COLLECTOR_APIS[$name]=${COLLECTOR_APIS[$name]:-ipc://$HARNESS_DIR/api-$name.sock}
	COLLECTOR_STORES[$name]=${COLLECTOR_STORES[$name]:-$HARNESS_DIR/pgfleet-$name.db}
	harness_spawn "collector-$name" "$PGFLEET_BIN_DIR/collector/pgfleet-collector" \
		--listen "${COLLECTOR_LISTENS[$name]}" --api_listen "${COLLECTOR_APIS[$name]}" \
		--store "${COLLECTOR_STORES[$name]}" --log_level "${COLLECTOR_LOG_LEVEL:-info}" \
		--http_listen "" --action_listen "${COLLECTOR_ACTION_LISTENS[$name]}" "$@"
	harness_wait_for "collector $name API" 20 pgfleet_cli_at "$name" slow-queries --limit 1
}

# pgfleet_cli_at NAME ...: the CLI against collector NAME of
# harness_start_collector_named.
pgfleet_cli_at() {
	local name=$1
	shift
	"$PGFLEET_BIN_DIR/collector/pgfleet" --collector "${COLLECTOR_APIS[$name]}" --timeout 5s "$@"
}

# harness_start_agent NAME PORT [extra flags]
harness_start_agent() {
	local name=$1 port=$2 action=()
	shift 2
	# the action channel goes to this harness's collector (or nowhere)
	if ! harness_has_flag --action_collector "$@"; then
		action=(--action_collector "${COLLECTOR_ACTION_LISTEN:-off}")
	fi
	mkdir -p "$HARNESS_DIR/state-$name"
	harness_spawn "agent-$name" "$PGFLEET_BIN_DIR/agent/pgfleet-agent" \
		--name "$name" \
		--conninfo "host=127.0.0.1 port=$port user=postgres dbname=postgres" \
		--collector "$COLLECTOR_LISTEN" --interval 1s --ack_timeout 2s \
		--state_dir "$HARNESS_DIR/state-$name" --log_level "${AGENT_LOG_LEVEL:-info}" \
		--spool_dir "${AGENT_SPOOL_DIR-$HARNESS_DIR/spool-$name}" "${action[@]}" "$@"
}

# harness_agent_once PORT [extra flags]: one report with every family from
# the server on PORT, as JSON on stdout (pgfleet-agent --once).
harness_agent_once() {
	local port=$1
	shift
	"$PGFLEET_BIN_DIR/agent/pgfleet-agent" --once --name "once-$port" \
		--conninfo "host=127.0.0.1 port=$port user=postgres dbname=postgres" \
		--log_level "${AGENT_LOG_LEVEL:-warning}" "$@"
}

# harness_stop NAME [SIGNAL]: signals a program and waits for it to exit.
harness_stop() {
	local name=$1 signal=${2:-TERM} pid=${HARNESS_PIDS[$1]:-}
	[ -n "$pid" ] || harness_fail "nothing called $name was started"
	kill "-$signal" "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "HARNESS_PIDS[$name]"
	rm -f "$HARNESS_DIR/run/$name.pid"
}

# The CLI against this harness's collector.
pgfleet_cli() {
	"$PGFLEET_BIN_DIR/collector/pgfleet" --collector "$COLLECTOR_API" --timeout 5s "$@"
}

# harness_wait_for DESCRIPTION TIMEOUT_S COMMAND...: polls every 0.2 s for
# up to TIMEOUT_S times HARNESS_WAIT_SCALE seconds.
harness_wait_for() {
	local what=$1 timeout=$(($2 * HARNESS_WAIT_SCALE)) deadline
	shift 2
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || harness_fail "timed out after ${timeout}s waiting for $what"
		sleep 0.2
	done
}

#!/usr/bin/env bash
# e2e: bad configuration is refused with one line naming the file, the line
# and the key, and a non-zero exit, by every program; nothing starts.
source "$(dirname "$0")/../harness/lib.sh"
harness_init

AGENT=$PGFLEET_BIN_DIR/agent/pgfleet-agent
COLLECTOR=$PGFLEET_BIN_DIR/collector/pgfleet-collector
CLI=$PGFLEET_BIN_DIR/collector/pgfleet

# expect_error EXPECTED_EXIT PATTERN COMMAND...: exit code and one stderr
# line matching PATTERN
expect_error() {
	local want=$1 pattern=$2 rc=0 err
	shift 2
	err=$("$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = "$want" ] || harness_fail "\"$*\" exited $rc, expected $want: $err"
	[ "$(printf '%s\n' "$err" | grep -c .)" -le 2 ] ||
		harness_fail "\"$*\" printed more than a line or two: $err"
	printf '%s\n' "$err" | grep -qE "$pattern" ||
		harness_fail "\"$*\" said \"$err\", expected /$pattern/"
	harness_log "ok: $(printf '%s' "$err" | head -n 1)"
}

conf=$HARNESS_DIR/agent.conf
printf '# agent\nconninfo = host=127.0.0.1\nintervall = 10s\n' >"$conf"
expect_error 2 "agent.conf:3: unknown key \"intervall\"" "$AGENT" --config "$conf"

printf 'interval = soon\n' >"$conf"
expect_error 2 "agent.conf:1: invalid value for key \"interval\": \"soon\"" "$AGENT" --config "$conf"

printf 'max_query_text = 5\n' >"$conf"
expect_error 2 "agent.conf:1: invalid value for key \"max_query_text\"" "$AGENT" --config "$conf"

printf 'this is not a setting\n' >"$conf"
expect_error 2 "agent.conf:1: syntax error" "$AGENT" --config "$conf"

expect_error 2 "could not open configuration file \"$HARNESS_DIR/missing.conf\"" \
	"$AGENT" --config "$HARNESS_DIR/missing.conf"

expect_error 2 "PGFLEET_INTERVAL" env PGFLEET_INTERVAL=never "$AGENT"
expect_error 2 "unknown option \"--no-such-key\"" "$AGENT" --no-such-key=1
expect_error 2 "invalid collector address" "$AGENT" --collector "bogus://x" \
	--state_dir "$HARNESS_DIR/state" --conninfo "host=127.0.0.1 port=1"

printf 'store = %s/x.db\nlog_level = loud\n' "$HARNESS_DIR" >"$HARNESS_DIR/collector.conf"
expect_error 2 "collector.conf:2: invalid value for key \"log_level\": \"loud\"" \
	"$COLLECTOR" --config "$HARNESS_DIR/collector.conf"

# a store from a newer collector is refused, not guessed at
sqlite3_cmd=$(command -v sqlite3 || true)
if [ -n "$sqlite3_cmd" ]; then
	"$sqlite3_cmd" "$HARNESS_DIR/newer.db" "PRAGMA user_version = 99"
	expect_error 1 "schema version 99, newer than this collector" \
		"$COLLECTOR" --store "$HARNESS_DIR/newer.db" --listen "ipc://$HARNESS_DIR/a.sock" \
		--api_listen "ipc://$HARNESS_DIR/b.sock"
fi

expect_error 2 "unknown subcommand \"slow-quries\"" "$CLI" slow-quries
expect_error 2 "invalid --limit \"many\"" "$CLI" slow-queries --limit many
expect_error 2 "invalid --since \"yesterday\"" "$CLI" slow-queries --since yesterday
expect_error 1 "could not connect to collector" "$CLI" --collector "ipc://$HARNESS_DIR/none.sock" slow-queries
"$CLI" --help | grep "slow-queries" >/dev/null || harness_fail "pgfleet --help lists no subcommand"
"$AGENT" --version | grep "pgfleet-agent" >/dev/null || harness_fail "no agent version"
# SIGHUP: reloadable keys change, others are named as needing a restart,
# and a broken file keeps the running configuration
conf=$HARNESS_DIR/running.conf
printf 'log_level = info\ncollector = tcp://127.0.0.1:1\nconninfo = host=127.0.0.1 port=1\nstate_dir = %s/state-hup\n' \
	"$HARNESS_DIR" >"$conf"
harness_spawn hup "$AGENT" --config "$conf"
sleep 1
printf 'log_level = debug\ncollector = tcp://127.0.0.1:2\nconninfo = host=127.0.0.1 port=1\nstate_dir = %s/state-hup\n' \
	"$HARNESS_DIR" >"$conf"
kill -HUP "${HARNESS_PIDS[hup]}"
harness_wait_for "a reload" 10 grep -q "configuration reloaded: 1 key(s) changed; these need a restart: collector" \
	"$HARNESS_DIR/log/hup.log"
printf 'log_level = chatty\n' >"$conf"
kill -HUP "${HARNESS_PIDS[hup]}"
harness_wait_for "a refused reload" 10 grep -q 'configuration not reloaded: .*running.conf:1: invalid value for key "log_level"' \
	"$HARNESS_DIR/log/hup.log"
kill -0 "${HARNESS_PIDS[hup]}" || harness_fail "the agent died on a bad reload"
harness_stop hup
harness_log "PASS: configuration errors"

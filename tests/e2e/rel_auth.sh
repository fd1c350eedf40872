#!/usr/bin/env bash
# e2e (tests/RELIABILITY.md, "nothing let in"): tokens, the admin token and
# the store check at start.
#   1. token files others can read are refused (agent and collector);
#   2. an agent whose token is not the one agent_tokens_file lists for its
#      instance, and one with no token at all, have nothing stored: each
#      report is REJECTED "unauthorized", counted in /metrics, logged with
#      instance= and agent=; the agent keeps its backlog and says why;
#   3. once the tokens file is fixed and the collector reloads it (SIGHUP),
#      every report the agent made is delivered: seqs 1..N of its boot,
#      none missing, none twice;
#   4. with admin_token_file: the CLI without its token gets "unauthorized"
#      (exit 1), with --token-file or PGFLEET_ADMIN_TOKEN_FILE an answer;
#      HTTP without/with a wrong bearer gets 401, with the admin token or
#      http_token 200, /healthz stays open;
#   5. the collector refuses to start with api_listen or http_listen on
#      0.0.0.0 and no admin token;
#   6. a store with bytes overwritten in the middle is refused at start
#      with one line (store_check_at_start = full).
source "$(dirname "$0")/../harness/lib.sh"
command -v sqlite3 >/dev/null || harness_fail "sqlite3 is required"
command -v curl >/dev/null || harness_fail "curl is required"
COLLECTOR=$PGFLEET_BIN_DIR/collector/pgfleet-collector
AGENT=$PGFLEET_BIN_DIR/agent/pgfleet-agent
CLI=$PGFLEET_BIN_DIR/collector/pgfleet

harness_init
harness_start_primary

secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
GOOD=$(secret)
WRONG=$(secret)
ADMIN=$(secret)
HTTP_TOKEN=$(secret)
umask 077
echo "$GOOD" >"$HARNESS_DIR/agent.token"
printf '# fleet tokens\nprimary %s\nsomeone-else %s\n' "$WRONG" "$GOOD" >"$HARNESS_DIR/tokens"
echo "$ADMIN" >"$HARNESS_DIR/admin.token"
umask 022
sql() { sqlite3 -cmd ".timeout 5000" "$COLLECTOR_STORE" "$1"; }

# expect_refusal PATTERN COMMAND...: exits non-zero with PATTERN in one line
expect_refusal() {
	local pattern=$1 rc=0 err
	shift
	err=$(timeout 20 "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" != 0 ] || harness_fail "\"$*\" started, expected a refusal"
	printf '%s\n' "$err" | grep -qE "$pattern" ||
		harness_fail "\"$*\" said \"$err\", expected /$pattern/"
	harness_log "refused as expected: $(printf '%s' "$err" | grep -E "$pattern" | head -n 1)"
}

# 1. secrets others can read
cp "$HARNESS_DIR/tokens" "$HARNESS_DIR/tokens-world"
chmod 644 "$HARNESS_DIR/tokens-world"
expect_refusal "agent tokens file \".*tokens-world\" has permissions 0644: others can read it" \
	"$COLLECTOR" --store "$HARNESS_DIR/x.db" --listen "ipc://$HARNESS_DIR/x1.sock" \
	--api_listen "ipc://$HARNESS_DIR/x2.sock" --action_listen "" \
	--agent_tokens_file "$HARNESS_DIR/tokens-world"
cp "$HARNESS_DIR/agent.token" "$HARNESS_DIR/agent.token-world"
chmod 604 "$HARNESS_DIR/agent.token-world"
expect_refusal "token file \".*agent.token-world\" has permissions 0604: others can read it" \
	"$AGENT" --name x --conninfo "host=127.0.0.1 port=$PRIMARY_PORT user=postgres" \
	--state_dir "$HARNESS_DIR/state-x" --token_file "$HARNESS_DIR/agent.token-world"

# 2. wrong token, no token: nothing stored, backlog kept
COLLECTOR_HTTP_LISTEN=127.0.0.1:$(harness_free_port)
harness_start_collector --agent_tokens_file "$HARNESS_DIR/tokens"
AGENT_LOG_LEVEL=debug harness_start_agent primary "$PRIMARY_PORT" \
	--token_file "$HARNESS_DIR/agent.token"
harness_start_agent stranger "$PRIMARY_PORT" --action_collector off
agent_known() { [ -s "$HARNESS_DIR/state-primary/agent_id" ] && [ -s "$HARNESS_DIR/state-stranger/agent_id" ]; }
harness_wait_for "agent ids" 20 agent_known
AGENT_ID=$(cat "$HARNESS_DIR/state-primary/agent_id")
STRANGER_ID=$(cat "$HARNESS_DIR/state-stranger/agent_id")
refused_logged() {
	grep -q "instance=primary agent=$AGENT_ID report refused: unauthorized (the agent's token is not the instance's)" \
		"$HARNESS_DIR/log/collector.log" &&
		grep -q "instance=stranger agent=$STRANGER_ID report refused: unauthorized (the instance has no line" \
			"$HARNESS_DIR/log/collector.log"
}
harness_wait_for "refusals logged by the collector" 20 refused_logged
sleep 5 # a few more intervals made and refused
grep -q "refused this agent: unauthorized (its token_file does not hold" "$HARNESS_DIR/log/agent-primary.log" ||
	harness_fail "the agent did not say why it is refused"
grep -q "refused this agent: unauthorized (no token_file is set)" "$HARNESS_DIR/log/agent-stranger.log" ||
	harness_fail "the agent without a token did not say why it is refused"
[ "$(grep -c "agent=$AGENT_ID report refused" "$HARNESS_DIR/log/collector.log")" = 1 ] ||
	harness_fail "the refusal was logged more than once a minute"
stored=$(sql "SELECT count(*) FROM reports")
[ "$stored" = 0 ] || harness_fail "$stored report(s) stored without a valid token"
metrics=$(curl -sS "http://$COLLECTOR_HTTP_LISTEN/metrics")
unauthorized=$(awk '$1 == "pgfleet_agent_unauthorized_total" {print $2}' <<<"$metrics")
rejected=$(awk '$1 == "pgfleet_reports_rejected_total" {print $2}' <<<"$metrics")
[ "${unauthorized:-0}" -ge 2 ] || harness_fail "pgfleet_agent_unauthorized_total is \"$unauthorized\""
# reports count as rejected too (polls only as unauthorized)
[ "${rejected:-0}" -ge 2 ] || harness_fail "pgfleet_reports_rejected_total is \"$rejected\""
# its action polls are refused too: no command reaches it
grep -q "instance=primary agent=$AGENT_ID action poll refused: unauthorized" "$HARNESS_DIR/log/collector.log" ||
	harness_fail "the refused action poll was not logged"
rc=0
err=$(pgfleet_cli explain --instance primary "SELECT 1" 2>&1 >/dev/null) || rc=$?
[ "$rc" = 1 ] && grep -q "no agent of instance \"primary\" is connected" <<<"$err" ||
	harness_fail "an action reached an agent with a wrong token: exit $rc, \"$err\""
made=$(grep -o 'report seq [0-9]* made' "$HARNESS_DIR/log/agent-primary.log" | tail -n 1 | awk '{print $3}')
[ "${made:-0}" -ge 5 ] || harness_fail "the agent made only ${made:-0} reports"
harness_log "refused: nothing stored, $rejected report(s) rejected, $unauthorized refusal(s) counted, agent holds $made report(s)"

# 3. the file fixed and reloaded: the whole backlog arrives
umask 077
printf '# fixed\nprimary %s\n' "$GOOD" >"$HARNESS_DIR/tokens.new"
umask 022
mv "$HARNESS_DIR/tokens.new" "$HARNESS_DIR/tokens"
kill -HUP "${HARNESS_PIDS[collector]}"
all_delivered() {
	local got
	got=$(sql "SELECT count(*) >= $made AND count(*) = max(seq) AND min(seq) = 1 AND count(DISTINCT boot_id) = 1 FROM reports WHERE agent_id = '$AGENT_ID'")
	[ "$got" = 1 ]
}
harness_wait_for "the backlog delivered after the fix" 40 all_delivered
dup=$(sql "SELECT count(*) - count(DISTINCT seq) FROM reports WHERE agent_id = '$AGENT_ID'")
[ "$dup" = 0 ] || harness_fail "$dup report(s) stored twice"
[ "$(sql "SELECT count(*) FROM reports WHERE agent_id = '$STRANGER_ID'")" = 0 ] ||
	harness_fail "the agent without a token got reports stored"
grep -q "collector accepts this agent again" "$HARNESS_DIR/log/agent-primary.log" ||
	harness_fail "the agent did not log that it is accepted again"
harness_log "after SIGHUP: seqs 1..$(sql "SELECT max(seq) FROM reports WHERE agent_id = '$AGENT_ID'") delivered once each (>= $made made while refused)"
# and its next action poll (after its receive timeout) is held: EXPLAIN works
explain_ok() { pgfleet_cli explain --instance primary "SELECT 1" | grep -qi "result"; }
harness_wait_for "an action answered once the token is right" 45 explain_ok
harness_stop agent-stranger
harness_stop agent-primary
harness_stop collector

# 4. the admin token: CLI and HTTP
export PGFLEET_ADMIN_TOKEN_FILE=$HARNESS_DIR/admin.token # the harness's CLI uses it too
harness_start_collector --action_listen "" --admin_token_file "$HARNESS_DIR/admin.token" \
	--http_token "$HTTP_TOKEN"
unset PGFLEET_ADMIN_TOKEN_FILE
rc=0
err=$("$CLI" --collector "$COLLECTOR_API" --timeout 5s fleet 2>&1 >/dev/null) || rc=$?
[ "$rc" = 1 ] && grep -q "unauthorized" <<<"$err" || harness_fail "CLI without token: exit $rc, \"$err\""
echo "$WRONG" >"$HARNESS_DIR/wrong.token"
chmod 600 "$HARNESS_DIR/wrong.token"
rc=0
err=$("$CLI" --collector "$COLLECTOR_API" --token-file "$HARNESS_DIR/wrong.token" fleet 2>&1 >/dev/null) || rc=$?
[ "$rc" = 1 ] && grep -q "unauthorized" <<<"$err" || harness_fail "CLI with a wrong token: exit $rc, \"$err\""
"$CLI" --collector "$COLLECTOR_API" --token-file "$HARNESS_DIR/admin.token" fleet --json >/dev/null ||
	harness_fail "CLI with --token-file was refused"
"$CLI" --collector "$COLLECTOR_API" --token-file="$HARNESS_DIR/admin.token" fleet --json >/dev/null ||
	harness_fail "CLI with --token-file=PATH was refused"
PGFLEET_ADMIN_TOKEN_FILE=$HARNESS_DIR/admin.token "$CLI" --collector "$COLLECTOR_API" fleet --json >/dev/null ||
	harness_fail "CLI with PGFLEET_ADMIN_TOKEN_FILE was refused"
chmod 644 "$HARNESS_DIR/wrong.token"
expect_refusal "others can read it" "$CLI" --collector "$COLLECTOR_API" --token-file "$HARNESS_DIR/wrong.token" fleet
http_status() {
	curl -s -o /dev/null -w '%{http_code}' "$@"
}
base=http://$COLLECTOR_HTTP_LISTEN
[ "$(http_status "$base/api/fleet/instances")" = 401 ] || harness_fail "HTTP without a token is not 401"
[ "$(http_status -H "Authorization: Bearer $WRONG" "$base/api/fleet/instances")" = 401 ] ||
	harness_fail "HTTP with a wrong token is not 401"
[ "$(http_status -H "Authorization: Bearer $ADMIN" "$base/metrics")" = 200 ] ||
	harness_fail "HTTP with the admin token is not 200"
[ "$(http_status -H "Authorization: Bearer $HTTP_TOKEN" "$base/metrics")" = 200 ] ||
	harness_fail "HTTP with http_token is not 200"
[ "$(http_status "$base/healthz")" = 200 ] || harness_fail "/healthz needs a token"
grep -q "refused an API request: missing or wrong admin token" "$HARNESS_DIR/log/collector.log" ||
	harness_fail "the refused CLI request was not logged"
harness_log "admin token: CLI and HTTP refused without it, answered with it"
harness_stop collector

# 5. beyond loopback without an admin token
expect_refusal "api_listen \"tcp://0.0.0.0:[0-9]+\" is reachable beyond loopback and no admin_token_file is set" \
	"$COLLECTOR" --store "$COLLECTOR_STORE" --listen "ipc://$HARNESS_DIR/x1.sock" \
	--api_listen "tcp://0.0.0.0:$(harness_free_port)" --action_listen ""
expect_refusal "http_listen \"0.0.0.0:[0-9]+\" is reachable beyond loopback and no admin_token_file is set" \
	"$COLLECTOR" --store "$COLLECTOR_STORE" --listen "ipc://$HARNESS_DIR/x1.sock" \
	--api_listen "ipc://$HARNESS_DIR/x2.sock" --http_listen "0.0.0.0:$(harness_free_port)" --action_listen ""

# 6. a damaged store is refused at start
pages=$(sql "PRAGMA page_count")
page_size=$(sql "PRAGMA page_size")
[ -f "$COLLECTOR_STORE-wal" ] && [ -s "$COLLECTOR_STORE-wal" ] && harness_fail "the store was not checkpointed at stop"
dd if=/dev/urandom of="$COLLECTOR_STORE" bs="$page_size" seek=$((pages / 3)) count=$((pages / 3 + 1)) \
	conv=notrunc status=none
expect_refusal "store \"$COLLECTOR_STORE\" failed its integrity check: .*; restore a backup or move the file away" \
	"$COLLECTOR" --store "$COLLECTOR_STORE" --listen "ipc://$HARNESS_DIR/x1.sock" \
	--api_listen "ipc://$HARNESS_DIR/x2.sock" --action_listen ""
harness_log "PASS: tokens, admin token, loopback refusal and store check"

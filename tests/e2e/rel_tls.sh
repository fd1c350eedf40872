#!/usr/bin/env bash
# e2e T28 (tests/RELIABILITY.md): transport security. With the test CA of
# deploy/gen-certs.sh, the collector listens for agents, actions and the CLI
# on tls+tcp:// with mutual TLS, and serves HTTPS with client certificates.
#   - a good agent delivers reports (rows stored) and answers an EXPLAIN
#     over the TLS action channel; the CLI works over tls+tcp:// (options
#     and PGFLEET_TLS_* environment) and curl over https with a certificate;
#   - each bad client fails the handshake: a certificate of another CA, no
#     certificate, an expired certificate, a plain tcp:// agent on the TLS
#     port, a collector certificate without the name the agent checks. None
#     stores a row; the collector counts the refused handshakes
#     (tls_handshake_failures, from nng's listener statistics: nng 1.5 makes
#     no pipe of them, so pipe callbacks never see them) and keeps serving
#     the good agent and new good clients;
#   - a world-readable key and a tls+tcp:// address without certificates
#     stop the start with one line;
#   - T2's TLS part: a TLS peer declaring a 2^40-byte message is cut off
#     at once (an honest length with the same stall is held);
#   - T29's TLS part: 200 completed TLS pipes that never send; those over
#     the connection cap are closed at once, the good agent keeps being
#     acked, and the descriptors come back when the flood leaves.
source "$(dirname "$0")/../harness/lib.sh"
for tool in openssl faketime curl sqlite3 jq; do
	command -v "$tool" >/dev/null || harness_fail "$tool is required (deploy/install-deps.sh)"
done
SOURCE_DIR=${PGFLEET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
COLLECTOR_BIN=$PGFLEET_BIN_DIR/collector/pgfleet-collector
CLI_BIN=$PGFLEET_BIN_DIR/collector/pgfleet

harness_init
CERTS=$HARNESS_DIR/certs
OTHER=$HARNESS_DIR/other-ca
sh "$SOURCE_DIR/deploy/gen-certs.sh" "$CERTS" >/dev/null
sh "$SOURCE_DIR/deploy/gen-certs.sh" "$OTHER" >/dev/null
[ "$(stat -c %a "$CERTS/agent.key")" = 600 ] || harness_fail "gen-certs.sh left agent.key $(stat -c %a "$CERTS/agent.key")"
# an expired agent certificate from the right CA: signed "ten days ago"
# for one day
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$CERTS/expired.key" 2>/dev/null
chmod 600 "$CERTS/expired.key"
openssl req -new -key "$CERTS/expired.key" -subj "/CN=expired-agent" -out "$CERTS/expired.csr"
faketime -f -10d openssl x509 -req -in "$CERTS/expired.csr" -CA "$CERTS/ca.crt" \
	-CAkey "$CERTS/ca.key" -CAcreateserial -days 1 -sha256 -out "$CERTS/expired.crt" 2>/dev/null
if openssl x509 -in "$CERTS/expired.crt" -noout -checkend 0 >/dev/null; then
	harness_fail "the expired certificate is not expired"
fi
openssl verify -CAfile "$CERTS/ca.crt" -no_check_time "$CERTS/expired.crt" >/dev/null ||
	harness_fail "the expired certificate is not signed by the test CA"

INGEST_PORT=$(harness_free_port)
API_PORT=$(harness_free_port)
ACTION_PORT=$(harness_free_port)
HTTP_PORT=$(harness_free_port)
TLS_FLAGS=(--tls_cert "$CERTS/collector.crt" --tls_key "$CERTS/collector.key"
	--tls_client_ca "$CERTS/ca.crt")

# --- start-up refusals: one line, exit 2, nothing listening -------------
refused() {
	local what=$1 expect=$2 out rc=0
	shift 2
	out=$("$COLLECTOR_BIN" --store "$HARNESS_DIR/refused.db" --http_listen "" \
		--api_listen "ipc://$HARNESS_DIR/refused.sock" "$@" 2>&1 </dev/null) || rc=$?
	[ "$rc" = 2 ] || harness_fail "$what: exit $rc, expected 2 ($out)"
	[ "$(wc -l <<<"$out")" = 1 ] || harness_fail "$what: not one line: $out"
	grep -qF -- "$expect" <<<"$out" || harness_fail "$what: '$out' does not say '$expect'"
	harness_log "refused as expected ($what): $out"
}
cp "$CERTS/collector.key" "$HARNESS_DIR/open.key"
chmod 644 "$HARNESS_DIR/open.key"
refused "world-readable key" "others can read it" --listen "tls+tcp://127.0.0.1:$INGEST_PORT" \
	--tls_cert "$CERTS/collector.crt" --tls_key "$HARNESS_DIR/open.key" --action_listen ""
refused "tls+tcp:// without certificates" "asks for TLS but no TLS certificates" \
	--listen "tls+tcp://127.0.0.1:$INGEST_PORT" --action_listen ""
refused "certificates with a remote plain address" "is plain tcp://" \
	--listen "tcp://0.0.0.0:$INGEST_PORT" --action_listen "" "${TLS_FLAGS[@]}"
refused "http key others can read" "http_tls_key file" --listen "tls+tcp://127.0.0.1:$INGEST_PORT" \
	--action_listen "" "${TLS_FLAGS[@]}" --http_listen "127.0.0.1:$HTTP_PORT" \
	--http_tls_cert "$CERTS/collector.crt" --http_tls_key "$HARNESS_DIR/open.key"
out=$("$PGFLEET_BIN_DIR/agent/pgfleet-agent" --conninfo "host=127.0.0.1" \
	--state_dir "$HARNESS_DIR" --collector "tls+tcp://127.0.0.1:$INGEST_PORT" \
	--tls_ca "$CERTS/ca.crt" --tls_cert "$CERTS/agent.crt" --tls_key "$HARNESS_DIR/open.key" 2>&1) &&
	harness_fail "the agent started with a world-readable key"
grep -q "tls_key file .* others can read it" <<<"$out" || harness_fail "agent: $out"

# --- the TLS collector ----------------------------------------------------
COLLECTOR_LISTEN=tls+tcp://127.0.0.1:$INGEST_PORT
COLLECTOR_ACTION_LISTEN=tls+tcp://127.0.0.1:$ACTION_PORT
COLLECTOR_HTTP_LISTEN=127.0.0.1:$HTTP_PORT
export COLLECTOR_ACTION_LISTEN
TLS_API=tls+tcp://127.0.0.1:$API_PORT
# (a cap of CAP agent connections for the TLS flood at the end)
CAP=40
harness_start_collector "${TLS_FLAGS[@]}" --action_listen "$COLLECTOR_ACTION_LISTEN" \
	--max_agent_connections "$CAP" \
	--api_listen "ipc://$HARNESS_DIR/api.sock,$TLS_API" \
	--http_tls_cert "$CERTS/collector.crt" --http_tls_key "$CERTS/collector.key" \
	--http_tls_ca "$CERTS/ca.crt"
harness_start_primary

agent_id() { cat "$HARNESS_DIR/state-$1/agent_id" 2>/dev/null || echo none; }
rows() {
	sqlite3 "$COLLECTOR_STORE" "PRAGMA busy_timeout = 5000;
		SELECT count(*) FROM reports WHERE agent_id = '$(agent_id "$1")'" | tail -n 1
}
# the collector's count of refused handshakes (logged every 2 s on change)
failures() {
	grep -o 'tls_handshake_failures=[0-9]*' "$HARNESS_DIR/log/collector.log" |
		tail -n 1 | cut -d= -f2 | grep . || echo 0
}
# polled by harness_wait_for: the counts are read at each try
rows_at_least() { [ "$(rows "$1")" -ge "$2" ]; }
failures_above() { [ "$(failures)" -gt "$1" ]; }
good_flags=(--tls_ca "$CERTS/ca.crt" --tls_cert "$CERTS/agent.crt" --tls_key "$CERTS/agent.key")

harness_start_agent good "$PRIMARY_PORT" "${good_flags[@]}"
harness_wait_for "the good agent's reports over mutual TLS" 30 rows_at_least good 2
harness_log "good agent: $(rows good) report(s) stored over $COLLECTOR_LISTEN"
[ "$(failures)" = 0 ] || harness_fail "handshake failures before any bad client: $(failures)"

# actions over the TLS action channel: EXPLAIN through the agent
harness_wait_for "an EXPLAIN through the TLS action channel" 20 \
	pgfleet_cli explain --instance good "SELECT 1"
harness_log "EXPLAIN answered over $COLLECTOR_ACTION_LISTEN"

# --- bad agents: each refused at the handshake, nothing stored ----------
# bad_agent NAME DESCRIPTION FLAGS...: runs the agent for a few seconds
bad_agent() {
	local name=$1 what=$2 before good_before
	shift 2
	before=$(failures)
	good_before=$(rows good)
	harness_start_agent "$name" "$PRIMARY_PORT" --action_collector off "$@"
	sleep 4
	harness_stop "agent-$name"
	[ "$(rows "$name")" = 0 ] || harness_fail "$what: $(rows "$name") report(s) stored"
	grep -q "starting: collector" "$HARNESS_DIR/log/agent-$name.log" ||
		harness_fail "$what: the agent did not start"
	# a TLS agent says TLS is why, not just "timed out"
	if [ -z "${PLAIN:-}" ]; then
		grep -q "tls: [0-9]* handshake(s) with collector" "$HARNESS_DIR/log/agent-$name.log" ||
			harness_fail "$what: the agent did not report the failed handshakes"
	fi
	# the good agent kept delivering meanwhile
	[ "$(rows good)" -gt "$good_before" ] ||
		harness_fail "$what: the good agent stopped delivering ($(rows good) rows)"
	if [ -n "${CLIENT_SIDE:-}" ]; then
		harness_log "refused: $what (no rows; failures $before -> $(failures))"
	else
		harness_wait_for "$what counted as a refused handshake" 10 failures_above "$before"
		harness_log "refused: $what (no rows; tls_handshake_failures $before -> $(failures))"
	fi
}
bad_agent wrongca "a certificate of another CA" --tls_ca "$CERTS/ca.crt" \
	--tls_cert "$OTHER/agent.crt" --tls_key "$OTHER/agent.key"
bad_agent nocert "no client certificate" --tls_ca "$CERTS/ca.crt"
bad_agent expired "an expired certificate" --tls_ca "$CERTS/ca.crt" \
	--tls_cert "$CERTS/expired.crt" --tls_key "$CERTS/expired.key"
PLAIN=1 bad_agent plain "a plain tcp:// agent on the TLS port" --collector "tcp://127.0.0.1:$INGEST_PORT"
# the name check happens in the agent: it refuses the collector
CLIENT_SIDE=1 bad_agent wrongname "a collector certificate without the name checked" \
	"${good_flags[@]}" --tls_server_name other.example

# --- the CLI over tls+tcp:// ---------------------------------------------
cli_tls() { "$CLI_BIN" --collector "$TLS_API" --timeout 5s "$@"; }
fleet=$(cli_tls --tls_ca "$CERTS/ca.crt" --tls_cert "$CERTS/cli.crt" --tls_key "$CERTS/cli.key" \
	fleet --json) || harness_fail "pgfleet fleet over tls+tcp:// failed"
jq -e 'map(.instance) | index("good") != null' <<<"$fleet" >/dev/null ||
	harness_fail "pgfleet fleet over TLS does not list the good agent: $fleet"
jq -e 'map(.instance) | (index("wrongca") == null and index("nocert") == null and index("expired") == null and index("plain") == null and index("wrongname") == null)' \
	<<<"$fleet" >/dev/null || harness_fail "a refused agent is in the fleet: $fleet"
PGFLEET_TLS_CA=$CERTS/ca.crt PGFLEET_TLS_CERT=$CERTS/cli.crt PGFLEET_TLS_KEY=$CERTS/cli.key \
	cli_tls slow-queries --limit 1 >/dev/null || harness_fail "the CLI with PGFLEET_TLS_* failed"
before=$(failures)
if out=$(cli_tls --tls_ca "$CERTS/ca.crt" --tls_cert "$OTHER/cli.crt" --tls_key "$OTHER/cli.key" \
	fleet 2>&1); then
	harness_fail "the CLI with another CA's certificate got an answer: $out"
fi
grep -q "could not connect to collector" <<<"$out" || harness_fail "CLI (other CA): $out"
if out=$(cli_tls --tls_ca "$CERTS/ca.crt" fleet 2>&1); then
	harness_fail "the CLI without a certificate got an answer: $out"
fi
if out=$(cli_tls fleet 2>&1); then
	harness_fail "the CLI without TLS settings got an answer: $out"
fi
grep -q "asks for TLS" <<<"$out" || harness_fail "CLI without a CA: $out"
harness_wait_for "the refused CLIs counted" 10 failures_above "$before"
harness_log "CLI: answered over $TLS_API with its certificate; refused with another CA's or none"

# --- HTTPS with client certificates ---------------------------------------
BASE=https://127.0.0.1:$HTTP_PORT
body=$(curl -sS --fail-with-body --cacert "$CERTS/ca.crt" --cert "$CERTS/cli.crt" \
	--key "$CERTS/cli.key" "$BASE/api/fleet/instances") || harness_fail "https with a certificate: $body"
grep -q '"good"' <<<"$body" || harness_fail "https fleet does not list the good agent: $body"
status=$(curl -sS -o "$HARNESS_DIR/https.body" -w '%{http_code}' --cacert "$CERTS/ca.crt" \
	"$BASE/api/fleet/instances") || harness_fail "https without a certificate: curl failed"
[ "$status" = 403 ] || harness_fail "https without a client certificate: status $status"
grep -q '"client_certificate"' "$HARNESS_DIR/https.body" || harness_fail "403 body: $(cat "$HARNESS_DIR/https.body")"
status=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CERTS/ca.crt" --cert "$OTHER/cli.crt" \
	--key "$OTHER/cli.key" "$BASE/api/fleet/instances") || true
[ "$status" = 403 ] || harness_fail "https with another CA's certificate: status $status"
status=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CERTS/ca.crt" --cert "$CERTS/expired.crt" \
	--key "$CERTS/expired.key" "$BASE/api/fleet/instances") || true
[ "$status" = 403 ] || harness_fail "https with an expired certificate: status $status"
if curl -sS -o /dev/null --max-time 5 "http://127.0.0.1:$HTTP_PORT/api/fleet/instances" 2>/dev/null; then
	harness_fail "plain http was answered on the https port"
fi
harness_log "HTTPS: answered with a client certificate; 403 without, with another CA's, expired"

# --- still serving: a new good agent connects after all the refusals -----
harness_start_agent late "$PRIMARY_PORT" --action_collector off "${good_flags[@]}"
harness_wait_for "a new good agent after the refused handshakes" 30 rows_at_least late 1

# --- T29, TLS part: 200 completed TLS pipes that never send ---------------
# Pipes exist only after the handshake, so the cap (ADD_PRE) is what
# bounds them: the connections over CAP are closed at once, the rest are
# held by the flood until it leaves, and then the descriptors come back.
COLLECTOR_PID=${HARNESS_PIDS[collector]}
fds() { ls "/proc/$COLLECTOR_PID/fd" | wc -l; }
refused_connections() {
	curl -sS --cacert "$CERTS/ca.crt" --cert "$CERTS/cli.crt" --key "$CERTS/cli.key" \
		"$BASE/metrics" | awk '$1 == "pgfleet_agent_connections_refused_total" { print $2 }'
}
FD_BASELINE=$(fds)
REFUSED_BEFORE=$(refused_connections)
GOOD_BEFORE=$(rows good)
# the flood holds until it is told to leave (SIGTERM) or FLOOD_SECONDS:
# 200 handshakes (and nng's redials) take ~10 s under ASan on a busy
# machine, so the wait is long and the test only pays what it needs
FLOOD_SECONDS=120
"$PGFLEET_BIN_DIR/tests/tools/tls_flood" "$COLLECTOR_LISTEN" "$CERTS/ca.crt" "$CERTS/agent.crt" \
	"$CERTS/agent.key" 200 "$FLOOD_SECONDS" >"$HARNESS_DIR/tls_flood.out" 2>&1 &
FLOOD_PID=$!
over_cap_refused() { [ "$(refused_connections)" -ge $((REFUSED_BEFORE + 200 - CAP)) ]; }
harness_wait_for "the TLS pipes over the cap closed" 45 over_cap_refused
FD_PEAK=$(fds)
# the good agent is acked throughout (its reports keep being stored)
sleep 3
[ "$(rows good)" -gt "$GOOD_BEFORE" ] || harness_fail "the good agent stopped delivering during the TLS flood"
kill -TERM "$FLOOD_PID" 2>/dev/null || true
wait "$FLOOD_PID" || harness_fail "tls_flood: $(cat "$HARNESS_DIR/tls_flood.out")"
fds_back() { [ "$(fds)" -le $((FD_BASELINE + 5)) ]; }
harness_wait_for "descriptors back to the baseline after the TLS flood" 30 fds_back
GOOD_MID=$(rows good)
harness_wait_for "the good agent after the TLS flood" 10 rows_at_least good $((GOOD_MID + 1))
harness_log "TLS flood: $(cat "$HARNESS_DIR/tls_flood.out"); refused $REFUSED_BEFORE -> $(refused_connections) (cap $CAP); fds $FD_BASELINE -> $FD_PEAK -> $(fds)"

# --- T2, TLS part: a TLS peer declaring a 2^40-byte message, then stalling
# After the handshake and nng's SP header (REQ, protocol 0x30), a message
# length of 2^40: over the receive limit, so the collector closes the pipe
# at once instead of waiting for (or allocating) the declared size.
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$COLLECTOR_PID/status"; }
# tls_peer NAME LENGTH_BYTES: a TLS peer that sends the SP header and a
# message length (8 bytes, big-endian, as printf escapes), then stalls
tls_peer() {
	mkfifo "$HARNESS_DIR/$1.fifo"
	(printf "\x00SP\x00\x00\x30\x00\x00$2"; sleep 30) >"$HARNESS_DIR/$1.fifo" &
	FEEDER_PID=$!
	timeout 40 openssl s_client -quiet -connect "127.0.0.1:${COLLECTOR_LISTEN##*:}" \
		-CAfile "$CERTS/ca.crt" -cert "$CERTS/agent.crt" -key "$CERTS/agent.key" \
		<"$HARNESS_DIR/$1.fifo" >"$HARNESS_DIR/$1.out" 2>&1 &
	PEER_PID=$!
}
# the control: an honest 16-byte length and a stall is held (the 10 s
# limit is nng's for a message that never comes, not a refusal)
tls_peer honest '\x00\x00\x00\x00\x00\x00\x00\x10'
sleep 3
kill -0 "$PEER_PID" 2>/dev/null || harness_fail "the collector closed a TLS peer that declared 16 bytes: $(head -c 400 "$HARNESS_DIR/honest.out")"
kill "$PEER_PID" "$FEEDER_PID" 2>/dev/null || true
RSS_BEFORE=$(rss_kb)
LIE_START=$SECONDS
tls_peer lie '\x00\x00\x01\x00\x00\x00\x00\x00'
LIAR_PID=$PEER_PID
lie_ended() { ! kill -0 "$LIAR_PID" 2>/dev/null; }
harness_wait_for "the collector to cut off the 2^40-byte TLS message" 15 lie_ended
LIE_TOOK=$((SECONDS - LIE_START))
kill "$FEEDER_PID" 2>/dev/null || true
grep -q "verify return:1\|depth=0" "$HARNESS_DIR/lie.out" ||
	harness_fail "the lying TLS client never completed its handshake: $(head -c 400 "$HARNESS_DIR/lie.out")"
RSS_AFTER=$(rss_kb)
[ $((RSS_AFTER - RSS_BEFORE)) -lt 51200 ] ||
	harness_fail "collector RSS grew $((RSS_AFTER - RSS_BEFORE)) kB for a declared 2^40-byte message"
GOOD_NOW=$(rows good)
harness_wait_for "the good agent after the length lie" 10 rows_at_least good $((GOOD_NOW + 1))
harness_log "T2 over TLS: a declared 2^40-byte message cut off within ${LIE_TOOK}s; RSS ${RSS_BEFORE} -> ${RSS_AFTER} kB"

harness_log "PASS: mutual TLS on agents, actions, CLI and HTTPS; $(failures) refused handshake(s) counted, none stored"

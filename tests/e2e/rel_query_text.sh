#!/usr/bin/env bash
# e2e (reliability T19, tests/RELIABILITY.md): huge and non-UTF-8 query
# texts.
#   - a 1 MiB IN-list (its normalized text is several MiB): the agent,
#     set to the largest max_query_text (1 MiB), cuts it to 1 MiB; the
#     report stays under the collector's limits (never rejected) and the
#     slow-queries JSON says query_truncated;
#   - a SQL_ASCII database running SELECT ... /* \xff\xfe */: the bytes
#     reach the collector as they are and leave it as valid UTF-8 (U+FFFD
#     in their place); the CLI's JSON and the HTTP API's JSON parse with
#     jq and python3 and decode as strict UTF-8.
source "$(dirname "$0")/../harness/lib.sh"
command -v jq >/dev/null || harness_fail "jq is required"
command -v curl >/dev/null || harness_fail "curl is required"
command -v python3 >/dev/null || harness_fail "python3 is required"

harness_init
harness_start_primary
as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -E SQL_ASCII \
	-T template0 --locale=C rel_ascii || harness_fail "createdb SQL_ASCII failed"
harness_psql "$PRIMARY_PORT" -d rel_ascii -c "CREATE EXTENSION pg_stat_statements" >/dev/null
HTTP_PORT=$(harness_free_port)
COLLECTOR_HTTP_LISTEN="127.0.0.1:$HTTP_PORT" harness_start_collector
harness_start_agent primary "$PRIMARY_PORT" --max_query_text 1048576

baseline_taken() { [ -s "$HARNESS_DIR/state-primary/agent.state" ]; }
harness_wait_for "agent baseline" 30 baseline_taken
# 1 MiB of "1," in one IN list
python3 -c 'import sys; sys.stdout.write("SELECT 1 AS rel_qt_big WHERE 1 IN (" + ",".join(["1"] * 524288) + ");\n")' \
	>"$HARNESS_DIR/big.sql"
[ "$(stat -c %s "$HARNESS_DIR/big.sql")" -gt 1048576 ] || harness_fail "the statement is not 1 MiB"
harness_psql "$PRIMARY_PORT" -f "$HARNESS_DIR/big.sql" >/dev/null
# a comment with bytes that are not UTF-8, in a SQL_ASCII database
printf 'SELECT 1 AS rel_qt_ascii /* \xff\xfe */;\n' | harness_psql "$PRIMARY_PORT" -d rel_ascii >/dev/null

slow_json() { pgfleet_cli slow-queries --json --limit 1000 --since 1h; }
both_seen() {
	slow_json >"$HARNESS_DIR/slow.json" || return 1
	grep -q rel_qt_big "$HARNESS_DIR/slow.json" && grep -q rel_qt_ascii "$HARNESS_DIR/slow.json"
}
harness_wait_for "both statements in slow-queries" 45 both_seen
# strict UTF-8 and valid JSON, by two parsers
utf8_json() {
	python3 -c 'import json, sys; json.loads(sys.stdin.buffer.read().decode("utf-8", "strict"))'
}
utf8_json <"$HARNESS_DIR/slow.json" || harness_fail "the CLI's JSON is not valid UTF-8 JSON"
jq empty <"$HARNESS_DIR/slow.json" || harness_fail "jq cannot parse the CLI's JSON"

big=$(jq -c '[.[] | select(.query | contains("rel_qt_big"))][0]
	| {len: (.query | utf8bytelength), truncated: .query_truncated}' "$HARNESS_DIR/slow.json")
harness_log "1 MiB IN-list: $big"
[ "$(jq .truncated <<<"$big")" = true ] || harness_fail "the 1 MiB statement is not flagged truncated: $big"
len=$(jq .len <<<"$big")
[ "$len" -le 1048576 ] && [ "$len" -gt 1000000 ] ||
	harness_fail "the 1 MiB statement's stored text is $len bytes (expected cut at 1 MiB)"
if grep -q "rejected report" "$HARNESS_DIR/log/collector.log" "$HARNESS_DIR/log/agent-primary.log"; then
	harness_fail "a report was rejected: $(grep -h "rejected report" "$HARNESS_DIR"/log/*.log | head -3)"
fi

ascii=$(jq -r '[.[] | select(.query | contains("rel_qt_ascii"))][0] | .query' "$HARNESS_DIR/slow.json")
harness_log "SQL_ASCII statement as the API shows it: $ascii"
case $ascii in
*$'\xef\xbf\xbd\xef\xbf\xbd'*) ;;
*) harness_fail "the bytes \\xff\\xfe were not replaced by U+FFFD: $(printf %s "$ascii" | od -c | head -3)" ;;
esac
# the HTTP API: the same, over HTTP
curl -sS --fail-with-body "http://127.0.0.1:$HTTP_PORT/api/db/slow-queries?limit=1000&since=1h" \
	>"$HARNESS_DIR/http.json" || harness_fail "GET /api/db/slow-queries failed"
utf8_json <"$HARNESS_DIR/http.json" || harness_fail "the HTTP API's JSON is not valid UTF-8 JSON"
jq -e '[.. | strings | select(contains("rel_qt_ascii"))] | length > 0' "$HARNESS_DIR/http.json" >/dev/null ||
	harness_fail "the SQL_ASCII statement is not in the HTTP answer"
# the store holds no invalid UTF-8 either (SQLite would hand it out as is)
invalid=$(python3 - "$COLLECTOR_STORE" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=5)
db.text_factory = bytes
bad = 0
for (q,) in db.execute("SELECT query FROM statement_texts"):
    try:
        q.decode("utf-8", "strict")
    except UnicodeDecodeError:
        bad += 1
print(bad)
PY
)
[ "$invalid" = 0 ] || harness_fail "$invalid stored texts are not valid UTF-8"
harness_log "PASS: 1 MiB text cut to $len bytes and flagged; \\xff\\xfe replaced; JSON valid UTF-8 (CLI, HTTP, store)"

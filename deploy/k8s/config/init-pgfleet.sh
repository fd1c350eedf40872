#!/bin/bash
# Runs once, when the official postgres image initialises an empty data
# directory (/docker-entrypoint-initdb.d): the pgfleet roles of
# monitor-role.sql (a copy of deploy/sql/monitor-role.sql; tests/deploy_lint.sh
# checks they are the same), pg_stat_statements in the database the agent
# reads, and the agent's password from the Secret pgfleet-agent-password.
set -euo pipefail
psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
	-f /docker-entrypoint-initdb.d/monitor-role.sql.in
# the password through a psql variable: never on a command line
psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
	-v password="$PGFLEET_AGENT_PASSWORD" <<'SQL'
ALTER ROLE pgfleet_agent PASSWORD :'password';
SQL

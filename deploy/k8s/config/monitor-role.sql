-- deploy/sql/monitor-role.sql - the least-privileged roles pgfleet needs.
--
-- Run once per cluster as a superuser (roles are cluster-wide), connected
-- to the database the agent's conninfo names (pg_stat_statements is
-- created there):
--     psql -X -v ON_ERROR_STOP=1 -d postgres -f deploy/sql/monitor-role.sql
-- To let the agent carry out the cancel/terminate actions its owner allows
-- (allow_cancel, allow_terminate in agent.conf), add -v allow_signal=on:
-- pgfleet_agent then becomes a member of pgfleet_actions (below).
-- It can be run again: existing roles are kept and the GRANTs repeated.
-- Passwords are not set here (they would end up in files and shell
-- histories): set one with \password pgfleet_agent, or allow the agent's
-- host in pg_hba.conf with another method (peer, cert, scram-sha-256).
--
-- The agent never needs a superuser: everything it reads is open to
-- pg_monitor, and it writes nothing (its sessions are read-only).

-- pgfleet_agent: the role in the agent's conninfo.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pgfleet_agent') THEN
		CREATE ROLE pgfleet_agent LOGIN;
	END IF;
END
$$;
-- Never more than the agent uses: no superuser, no right to create
-- anything, no replication connections. (It opens the main session plus
-- one per database it reads, closed when idle.)
ALTER ROLE pgfleet_agent NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    NOBYPASSRLS INHERIT;

-- pg_monitor is the one grant the agent needs. It contains:
--   pg_read_all_stats: every backend's row of pg_stat_activity (query
--     texts, states, wait events), pg_stat_replication's LSNs and lags,
--     and every user's statements in pg_stat_statements with their queryid
--     and text (without it, other users' rows have a NULL queryid and
--     "<insufficient privilege>" as text); database sizes of databases the
--     role may not connect to;
--   pg_read_all_settings: settings that are superuser-only to read
--     (e.g. data_directory, shared_preload_libraries details);
--   pg_stat_scan_tables: functions that scan relations for statistics
--     (pgstattuple_approx for the bloat estimate, when installed).
-- The pg_stat_statements functions themselves are executable by PUBLIC;
-- pg_stat_statements_reset() is not, and the agent never calls it.
GRANT pg_monitor TO pgfleet_agent;

-- pg_stat_statements: the agent's first source. The library must be in
-- shared_preload_libraries (a restart); the extension must exist in the
-- database the agent connects to. Created here when it can be; otherwise
-- a NOTICE says what is missing (the agent reports it too).
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_available_extensions
	               WHERE name = 'pg_stat_statements') THEN
		RAISE NOTICE 'pg_stat_statements is not installed on this server (Debian: it is part of postgresql-NN)';
	ELSE
		CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
		IF current_setting('shared_preload_libraries') !~ 'pg_stat_statements' THEN
			RAISE NOTICE 'add pg_stat_statements to shared_preload_libraries and restart the server';
		END IF;
	END IF;
END
$$;

-- CONNECT on each database is granted to PUBLIC by default, which is all
-- the per-database views need. Where a database has revoked it, grant it
-- back for the agent (or list that database in exclude_databases):
--     GRANT CONNECT ON DATABASE mydb TO pgfleet_agent;
-- Per-table and per-index statistics views show every table of the
-- database without any privilege on the tables themselves.

-- pgfleet_actions: a separate role for acting on backends (cancelling a
-- runaway query, terminating an idle-in-transaction session), kept apart
-- so that a monitoring-only agent cannot disturb the server. Give it to
-- whoever acts, and only there:
--     GRANT pgfleet_actions TO some_login_role;
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pgfleet_actions') THEN
		CREATE ROLE pgfleet_actions NOLOGIN;
	END IF;
END
$$;
ALTER ROLE pgfleet_actions NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    NOBYPASSRLS;
-- pg_signal_backend allows pg_cancel_backend() and pg_terminate_backend()
-- on other roles' backends, except superusers' (which stay out of reach
-- on purpose). It gives no right to read anything.
GRANT pg_signal_backend TO pgfleet_actions;

-- The agent acts through its own connection: with -v allow_signal=on it
-- may signal backends (only what agent.conf's allow_* keys let the
-- collector ask for); without, any earlier membership is taken back, so
-- rerunning the script is how the owner withdraws it.
\if :{?allow_signal}
\else
\set allow_signal off
\endif
SELECT :'allow_signal'::boolean AS pgfleet_allow_signal \gset
\if :pgfleet_allow_signal
GRANT pgfleet_actions TO pgfleet_agent;
\else
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_auth_members
	           WHERE roleid = 'pgfleet_actions'::regrole AND member = 'pgfleet_agent'::regrole) THEN
		REVOKE pgfleet_actions FROM pgfleet_agent;
	END IF;
END
$$;
\endif

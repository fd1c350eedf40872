-- store_pg_schema.sql - the PostgreSQL store's schema, as forward migrations.
--
-- Embedded into pgfleet-collector at build time (collector/CMakeLists.txt);
-- store_pg.c runs each "-- version N" section once, in order, in one
-- transaction under an advisory lock (several collectors may open one
-- store at once), and records N in schema_version. Never edit a released
-- section: add a new one.
--
-- Layout, ready for Citus (deploy/sql/citus-distribute.sql):
--   * every history table has instance_id first in its primary key, so it
--     can be distributed by instance_id and one instance's rows live
--     together;
--   * small tables (instances, rollup_state) are reference tables;
--   * text that answers are ordered by is COLLATE "C": byte order, as the
--     SQLite store orders, whatever the database's default collation.
-- The columns mirror the SQLite store's (store_sqlite*.c) so that both
-- answer every question the same; flags are booleans here.

-- version 1
CREATE TABLE instances (
  instance_id bigserial PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  system_identifier text COLLATE "C" NOT NULL DEFAULT '',
  host text COLLATE "C" NOT NULL DEFAULT '',
  port bigint NOT NULL DEFAULT 0,
  server_version_num bigint NOT NULL DEFAULT 0,
  server_version text COLLATE "C" NOT NULL DEFAULT '',
  role text COLLATE "C" NOT NULL DEFAULT 'unknown',
  agent_id text COLLATE "C" NOT NULL DEFAULT '',
  agent_version text COLLATE "C" NOT NULL DEFAULT '',
  first_seen_us bigint NOT NULL,
  last_seen_us bigint NOT NULL,
  last_collected_us bigint NOT NULL DEFAULT 0,
  unreachable_reason text COLLATE "C" NOT NULL DEFAULT '',
  report_interval_ms bigint NOT NULL DEFAULT 0,
  upstream_host text COLLATE "C" NOT NULL DEFAULT '',
  upstream_port bigint NOT NULL DEFAULT 0,
  timeline_id bigint NOT NULL DEFAULT 0
);
-- the dedupe key is (agent_id, boot_id, seq); one boot of an agent reports
-- one instance, so keying by instance first keeps it (and lets Citus
-- enforce it per shard)
CREATE TABLE reports (
  instance_id bigint NOT NULL REFERENCES instances,
  agent_id text COLLATE "C" NOT NULL,
  boot_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  collected_at_us bigint NOT NULL,
  received_at_us bigint NOT NULL,
  PRIMARY KEY (instance_id, agent_id, boot_id, seq)
);
CREATE TABLE statement_texts (
  instance_id bigint NOT NULL REFERENCES instances,
  queryid bigint NOT NULL,
  query text COLLATE "C" NOT NULL,
  truncated boolean NOT NULL,
  fingerprint text COLLATE "C" NOT NULL DEFAULT '',
  PRIMARY KEY (instance_id, queryid)
);
CREATE TABLE statement_stats (
  instance_id bigint NOT NULL REFERENCES instances,
  ts_us bigint NOT NULL,
  id bigserial,
  interval_start_us bigint NOT NULL,
  queryid bigint NOT NULL,
  dbid bigint NOT NULL,
  datname text COLLATE "C" NOT NULL,
  userid bigint NOT NULL,
  username text COLLATE "C" NOT NULL,
  toplevel boolean NOT NULL,
  calls bigint NOT NULL,
  total_exec_time_ms double precision NOT NULL,
  sum_sq_exec_time_ms2 double precision NOT NULL,
  max_exec_time_ms double precision NOT NULL,
  min_exec_time_ms double precision NOT NULL,
  rows bigint NOT NULL,
  shared_blks_hit bigint NOT NULL,
  shared_blks_read bigint NOT NULL,
  shared_blks_dirtied bigint NOT NULL,
  shared_blks_written bigint NOT NULL,
  local_blks_hit bigint NOT NULL DEFAULT 0,
  local_blks_read bigint NOT NULL DEFAULT 0,
  local_blks_dirtied bigint NOT NULL DEFAULT 0,
  local_blks_written bigint NOT NULL DEFAULT 0,
  temp_blks_read bigint NOT NULL,
  temp_blks_written bigint NOT NULL,
  blk_read_time_ms double precision NOT NULL,
  blk_write_time_ms double precision NOT NULL,
  wal_bytes bigint NOT NULL,
  total_plan_time_ms double precision NOT NULL,
  PRIMARY KEY (instance_id, ts_us, id)
);
CREATE INDEX statement_stats_by_time ON statement_stats (ts_us);
-- rollups: the same layout as the SQLite store's; until maintenance runs
-- here the watermarks stay at 0 and every question reads the raw rows
CREATE TABLE statement_stats_hourly (
  instance_id bigint NOT NULL,
  bucket_us bigint NOT NULL,
  dbid bigint NOT NULL,
  queryid bigint NOT NULL,
  datname text COLLATE "C" NOT NULL,
  calls bigint NOT NULL,
  total_exec_time_ms double precision NOT NULL,
  sum_sq_exec_time_ms2 double precision NOT NULL,
  max_exec_time_ms double precision NOT NULL,
  rows bigint NOT NULL,
  PRIMARY KEY (instance_id, bucket_us, dbid, queryid)
);
CREATE TABLE statement_stats_daily (LIKE statement_stats_hourly INCLUDING ALL);
CREATE INDEX statement_stats_hourly_by_query ON statement_stats_hourly (queryid, bucket_us);
CREATE INDEX statement_stats_daily_by_query ON statement_stats_daily (queryid, bucket_us);
CREATE TABLE rollup_state (name text PRIMARY KEY, until_us bigint NOT NULL);
INSERT INTO rollup_state VALUES ('hourly', 0), ('daily', 0), ('thinned', 0);

-- the fleet's live state (store_pg_fleet.c; store_sqlite_fleet.c's
-- migration 2). id columns stand for SQLite's rowid where an answer needs
-- one row told from another.
CREATE TABLE role_history (
  instance_id bigint NOT NULL REFERENCES instances,
  id bigserial,
  since_us bigint NOT NULL,
  role text COLLATE "C" NOT NULL,
  previous_role text COLLATE "C" NOT NULL,
  system_identifier text COLLATE "C" NOT NULL,
  timeline_id bigint NOT NULL,
  PRIMARY KEY (instance_id, id)
);
CREATE INDEX role_history_by_instance_time ON role_history (instance_id, since_us);
CREATE TABLE activity_latest (
  instance_id bigint PRIMARY KEY REFERENCES instances,
  ts_us bigint NOT NULL,
  total bigint NOT NULL,
  active bigint NOT NULL,
  idle bigint NOT NULL,
  idle_in_transaction bigint NOT NULL,
  waiting bigint NOT NULL,
  max_connections bigint NOT NULL,
  superuser_reserved_connections bigint NOT NULL,
  invisible_backends bigint NOT NULL
);
CREATE TABLE activity_connections (
  instance_id bigint NOT NULL REFERENCES instances,
  id bigserial,
  datname text COLLATE "C" NOT NULL,
  username text COLLATE "C" NOT NULL,
  application_name text COLLATE "C" NOT NULL,
  client_addr text COLLATE "C" NOT NULL,
  state text COLLATE "C" NOT NULL,
  count bigint NOT NULL,
  waiting bigint NOT NULL,
  max_state_age_seconds double precision NOT NULL,
  PRIMARY KEY (instance_id, id)
);
CREATE TABLE activity_sessions (
  instance_id bigint NOT NULL REFERENCES instances,
  id bigserial,
  kind text COLLATE "C" NOT NULL,
  pid bigint NOT NULL,
  datname text COLLATE "C" NOT NULL,
  username text COLLATE "C" NOT NULL,
  application_name text COLLATE "C" NOT NULL,
  client_addr text COLLATE "C" NOT NULL,
  state text COLLATE "C" NOT NULL,
  wait_event_type text COLLATE "C" NOT NULL,
  wait_event text COLLATE "C" NOT NULL,
  backend_type text COLLATE "C" NOT NULL,
  backend_start_us bigint NOT NULL,
  xact_start_us bigint NOT NULL,
  query_start_us bigint NOT NULL,
  state_change_us bigint NOT NULL,
  query_age_seconds double precision NOT NULL,
  xact_age_seconds double precision NOT NULL,
  state_age_seconds double precision NOT NULL,
  query text COLLATE "C" NOT NULL,
  query_truncated boolean NOT NULL,
  PRIMARY KEY (instance_id, id)
);
CREATE TABLE activity_blocking (
  instance_id bigint NOT NULL REFERENCES instances,
  id bigserial,
  blocked_pid bigint NOT NULL,
  blocking_pid bigint NOT NULL,
  blocked_query text COLLATE "C" NOT NULL,
  blocking_query text COLLATE "C" NOT NULL,
  blocked_seconds double precision NOT NULL,
  blocking_state text COLLATE "C" NOT NULL,
  locked_relation text COLLATE "C" NOT NULL,
  lock_mode text COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, id)
);
CREATE TABLE activity_history (
  instance_id bigint NOT NULL REFERENCES instances,
  ts_us bigint NOT NULL,
  id bigserial,
  total bigint NOT NULL,
  active bigint NOT NULL,
  idle bigint NOT NULL,
  idle_in_transaction bigint NOT NULL,
  waiting bigint NOT NULL,
  max_connections bigint NOT NULL,
  PRIMARY KEY (instance_id, ts_us, id)
);
CREATE TABLE replication_latest (
  instance_id bigint PRIMARY KEY REFERENCES instances,
  ts_us bigint NOT NULL,
  timeline_id bigint NOT NULL,
  current_wal_lsn bigint NOT NULL,
  is_standby boolean NOT NULL,
  receiver_status text COLLATE "C" NOT NULL,
  receive_lsn bigint NOT NULL,
  replay_lsn bigint NOT NULL,
  replay_lag_bytes bigint NOT NULL,
  replay_delay_seconds double precision NOT NULL,
  replay_paused boolean NOT NULL,
  upstream_host text COLLATE "C" NOT NULL,
  upstream_port bigint NOT NULL,
  slot_name text COLLATE "C" NOT NULL,
  last_msg_receipt_us bigint NOT NULL,
  last_replay_us bigint NOT NULL
);
CREATE TABLE replication_replicas (
  instance_id bigint NOT NULL REFERENCES instances,
  id bigserial,
  pid bigint NOT NULL,
  username text COLLATE "C" NOT NULL,
  application_name text COLLATE "C" NOT NULL,
  client_addr text COLLATE "C" NOT NULL,
  state text COLLATE "C" NOT NULL,
  sync_state text COLLATE "C" NOT NULL,
  sent_lsn bigint NOT NULL,
  write_lsn bigint NOT NULL,
  flush_lsn bigint NOT NULL,
  replay_lsn bigint NOT NULL,
  replay_lag_bytes bigint NOT NULL,
  write_lag_seconds double precision NOT NULL,
  flush_lag_seconds double precision NOT NULL,
  replay_lag_seconds double precision NOT NULL,
  backend_start_us bigint NOT NULL,
  slot_name text COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, id)
);
CREATE TABLE replication_slots (
  instance_id bigint NOT NULL REFERENCES instances,
  id bigserial,
  slot_name text COLLATE "C" NOT NULL,
  slot_type text COLLATE "C" NOT NULL,
  datname text COLLATE "C" NOT NULL,
  plugin text COLLATE "C" NOT NULL,
  active boolean NOT NULL,
  active_pid bigint NOT NULL,
  restart_lsn bigint NOT NULL,
  confirmed_flush_lsn bigint NOT NULL,
  retained_bytes bigint NOT NULL,
  wal_status text COLLATE "C" NOT NULL,
  temporary boolean NOT NULL,
  PRIMARY KEY (instance_id, id)
);
CREATE TABLE replica_lag_history (
  instance_id bigint NOT NULL REFERENCES instances,
  ts_us bigint NOT NULL,
  id bigserial,
  application_name text COLLATE "C" NOT NULL,
  client_addr text COLLATE "C" NOT NULL,
  slot_name text COLLATE "C" NOT NULL,
  replay_lag_bytes bigint NOT NULL,
  replay_lag_seconds double precision NOT NULL,
  PRIMARY KEY (instance_id, ts_us, id)
);
CREATE TABLE standby_lag_history (
  instance_id bigint NOT NULL REFERENCES instances,
  ts_us bigint NOT NULL,
  id bigserial,
  replay_lag_bytes bigint NOT NULL,
  replay_delay_seconds double precision NOT NULL,
  replay_paused boolean NOT NULL,
  PRIMARY KEY (instance_id, ts_us, id)
);

-- delivery per (agent, boot): highest seq, missing seq ranges, the
-- agent's counters, clock skew (store_pg_gaps.c; store_sqlite_gaps.c)
CREATE TABLE report_boots (
  instance_id bigint NOT NULL REFERENCES instances,
  agent_id text COLLATE "C" NOT NULL,
  boot_id text COLLATE "C" NOT NULL,
  max_seq bigint NOT NULL,
  dropped_reports bigint NOT NULL DEFAULT 0,
  corrupt_spool_records bigint NOT NULL DEFAULT 0,
  spool_failures bigint NOT NULL DEFAULT 0,
  last_received_us bigint NOT NULL,
  PRIMARY KEY (instance_id, agent_id, boot_id)
);
CREATE TABLE report_gaps (
  instance_id bigint NOT NULL REFERENCES instances,
  agent_id text COLLATE "C" NOT NULL,
  boot_id text COLLATE "C" NOT NULL,
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  PRIMARY KEY (instance_id, agent_id, boot_id, first_seq)
);
CREATE TABLE clock_skew (
  instance_id bigint PRIMARY KEY REFERENCES instances,
  skew_us bigint NOT NULL,
  measured_us bigint NOT NULL
);

-- version 2
-- tables, indexes and bloat (store_pg_tables.c; store_sqlite_tables.c's
-- migration 3): one row per relation per family snapshot, ts_us being the
-- report's collected_at; the primary keys' (instance_id, ts_us) find an
-- instance's newest snapshot in one seek
CREATE TABLE table_stats (
  instance_id bigint NOT NULL REFERENCES instances,
  ts_us bigint NOT NULL,
  id bigserial,
  datname text COLLATE "C" NOT NULL,
  schemaname text COLLATE "C" NOT NULL,
  relname text COLLATE "C" NOT NULL,
  relid bigint NOT NULL,
  table_bytes bigint NOT NULL,
  indexes_bytes bigint NOT NULL,
  toast_bytes bigint NOT NULL,
  total_bytes bigint NOT NULL,
  n_live_tup bigint NOT NULL,
  n_dead_tup bigint NOT NULL,
  seq_scan bigint NOT NULL,
  seq_tup_read bigint NOT NULL,
  idx_scan bigint NOT NULL,
  idx_tup_fetch bigint NOT NULL,
  n_tup_ins bigint NOT NULL,
  n_tup_upd bigint NOT NULL,
  n_tup_hot_upd bigint NOT NULL,
  n_tup_del bigint NOT NULL,
  last_vacuum_us bigint NOT NULL,
  last_autovacuum_us bigint NOT NULL,
  last_analyze_us bigint NOT NULL,
  last_autoanalyze_us bigint NOT NULL,
  vacuum_count bigint NOT NULL,
  autovacuum_count bigint NOT NULL,
  analyze_count bigint NOT NULL,
  autoanalyze_count bigint NOT NULL,
  n_mod_since_analyze bigint NOT NULL,
  n_ins_since_vacuum bigint NOT NULL,
  relfrozenxid_age bigint NOT NULL,
  reltuples double precision NOT NULL,
  autovacuum_enabled boolean NOT NULL,
  autovacuum_vacuum_threshold bigint NOT NULL,
  autovacuum_vacuum_scale_factor double precision NOT NULL,
  autovacuum_analyze_threshold bigint NOT NULL,
  autovacuum_analyze_scale_factor double precision NOT NULL,
  autovacuum_vacuum_trigger double precision NOT NULL,
  autovacuum_analyze_trigger double precision NOT NULL,
  PRIMARY KEY (instance_id, ts_us, id)
);
CREATE TABLE index_stats (
  instance_id bigint NOT NULL REFERENCES instances,
  ts_us bigint NOT NULL,
  id bigserial,
  datname text COLLATE "C" NOT NULL,
  schemaname text COLLATE "C" NOT NULL,
  relname text COLLATE "C" NOT NULL,
  indexrelname text COLLATE "C" NOT NULL,
  indexrelid bigint NOT NULL,
  idx_scan bigint NOT NULL,
  idx_tup_read bigint NOT NULL,
  idx_tup_fetch bigint NOT NULL,
  size_bytes bigint NOT NULL,
  is_unique boolean NOT NULL,
  is_primary boolean NOT NULL,
  is_valid boolean NOT NULL,
  constraint_type text COLLATE "C" NOT NULL,
  last_idx_scan_us bigint NOT NULL,
  PRIMARY KEY (instance_id, ts_us, id)
);
CREATE TABLE index_definitions (
  instance_id bigint NOT NULL REFERENCES instances,
  datname text COLLATE "C" NOT NULL,
  schemaname text COLLATE "C" NOT NULL,
  indexrelname text COLLATE "C" NOT NULL,
  definition text COLLATE "C" NOT NULL,
  access_method text COLLATE "C" NOT NULL,
  predicate text COLLATE "C" NOT NULL,
  updated_us bigint NOT NULL,
  PRIMARY KEY (instance_id, datname, schemaname, indexrelname)
);
CREATE TABLE bloat_estimates (
  instance_id bigint NOT NULL REFERENCES instances,
  ts_us bigint NOT NULL,
  id bigserial,
  datname text COLLATE "C" NOT NULL,
  schemaname text COLLATE "C" NOT NULL,
  relname text COLLATE "C" NOT NULL,
  indexrelname text COLLATE "C" NOT NULL,
  real_bytes bigint NOT NULL,
  expected_bytes bigint NOT NULL,
  bloat_bytes bigint NOT NULL,
  bloat_ratio double precision NOT NULL,
  unreliable boolean NOT NULL,
  PRIMARY KEY (instance_id, ts_us, id)
);
CREATE INDEX bloat_estimates_by_relation ON bloat_estimates
  (instance_id, ts_us, datname, schemaname, relname, indexrelname);

-- version 3
-- maintenance (store_pg_rollup.c; store_sqlite_rollup.c's migrations 4, 6
-- and 12): the rollup levels' time indexes (pruning takes the oldest
-- bucket), statement totals (each statement's figures over everything
-- rolled up: bounds for slow-queries over long windows) and the
-- fleet-wide levels, the per-instance rows added up across instances by
-- (queryid, bucket, database name) for query-trend over the whole fleet.
-- The fleet levels have no instance: Citus reference tables.
CREATE INDEX statement_stats_hourly_by_time ON statement_stats_hourly (bucket_us);
CREATE INDEX statement_stats_daily_by_time ON statement_stats_daily (bucket_us);
CREATE TABLE statement_totals (
  instance_id bigint NOT NULL,
  dbid bigint NOT NULL,
  queryid bigint NOT NULL,
  calls bigint NOT NULL,
  total_exec_time_ms double precision NOT NULL,
  max_exec_time_ms double precision NOT NULL,
  PRIMARY KEY (instance_id, dbid, queryid)
);
CREATE TABLE statement_fleet_hourly (
  queryid bigint NOT NULL,
  bucket_us bigint NOT NULL,
  datname text COLLATE "C" NOT NULL,
  calls bigint NOT NULL,
  total_exec_time_ms double precision NOT NULL,
  rows bigint NOT NULL,
  PRIMARY KEY (queryid, bucket_us, datname)
);
CREATE TABLE statement_fleet_daily (LIKE statement_fleet_hourly INCLUDING ALL);
CREATE INDEX statement_fleet_hourly_by_time ON statement_fleet_hourly (bucket_us);
CREATE INDEX statement_fleet_daily_by_time ON statement_fleet_daily (bucket_us);
-- what is rolled up already (nothing before this version, which brought
-- maintenance: kept for a store whose levels were filled by hand)
INSERT INTO statement_totals (instance_id, dbid, queryid, calls, total_exec_time_ms,
  max_exec_time_ms)
SELECT instance_id, dbid, queryid, sum(calls), sum(total_exec_time_ms), max(max_exec_time_ms)
FROM (SELECT instance_id, dbid, queryid, calls, total_exec_time_ms, max_exec_time_ms
      FROM statement_stats_hourly
      WHERE bucket_us >= (SELECT until_us FROM rollup_state WHERE name = 'daily')
        AND bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'hourly')
      UNION ALL
      SELECT instance_id, dbid, queryid, calls, total_exec_time_ms, max_exec_time_ms
      FROM statement_stats_daily
      WHERE bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'daily')) s
GROUP BY 1, 2, 3;
INSERT INTO statement_fleet_hourly
SELECT queryid, bucket_us, datname, sum(calls), sum(total_exec_time_ms), sum(rows)
FROM statement_stats_hourly GROUP BY 1, 2, 3;
INSERT INTO statement_fleet_daily
SELECT queryid, bucket_us, datname, sum(calls), sum(total_exec_time_ms), sum(rows)
FROM statement_stats_daily GROUP BY 1, 2, 3;

-- version 4
-- pools, settings and family statuses (store_pg_pools.c and
-- store_pg_families.c; store_sqlite_pools.c, store_sqlite_advice.c and
-- store_sqlite_families.c on SQLite). Regressions read the statement
-- history and need no table of their own.
--   pool_app_samples   per activity snapshot: each (application,
--                      database)'s client connections, held, busy, idle,
--                      waiting (the groups of a snapshot added up)
--   pooler_samples     per pool family: each pgbouncer pool (SHOW POOLS)
--                      with SHOW CONFIG's pool sizes
--   family_status      the latest status of each family per instance
--   advice_instance    per instance: when its settings and tables families
--                      were last stored, and autovacuum_freeze_max_age
--   advice_settings    the latest settings family (name -> setting)
--   advice_extensions  the latest extensions per database
--   advice_table_options the insert variant of the autovacuum trigger per
--                      table, from the latest tables family
-- The advice_* tables and family_status hold the latest state only.
CREATE TABLE pool_app_samples (
  instance_id bigint NOT NULL REFERENCES instances,
  ts_us bigint NOT NULL,
  application_name text COLLATE "C" NOT NULL,
  datname text COLLATE "C" NOT NULL,
  total bigint NOT NULL,
  busy bigint NOT NULL,
  idle bigint NOT NULL,
  waiting bigint NOT NULL,
  PRIMARY KEY (instance_id, ts_us, application_name, datname)
);
CREATE TABLE pooler_samples (
  instance_id bigint NOT NULL REFERENCES instances,
  ts_us bigint NOT NULL,
  id bigserial,
  database text COLLATE "C" NOT NULL,
  username text COLLATE "C" NOT NULL,
  cl_active bigint NOT NULL,
  cl_waiting bigint NOT NULL,
  sv_active bigint NOT NULL,
  sv_idle bigint NOT NULL,
  sv_used bigint NOT NULL,
  sv_tested bigint NOT NULL,
  sv_login bigint NOT NULL,
  maxwait_seconds double precision NOT NULL,
  default_pool_size bigint NOT NULL,
  reserve_pool_size bigint NOT NULL,
  PRIMARY KEY (instance_id, ts_us, id)
);
CREATE TABLE family_status (
  instance_id bigint NOT NULL REFERENCES instances,
  family text COLLATE "C" NOT NULL,
  status text COLLATE "C" NOT NULL,
  detail text COLLATE "C" NOT NULL,
  updated_at_us bigint NOT NULL,
  last_problem text COLLATE "C" NOT NULL DEFAULT '',
  last_problem_at_us bigint NOT NULL DEFAULT 0,
  problem_reports bigint NOT NULL DEFAULT 0,
  dealloc bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (instance_id, family)
);
CREATE TABLE advice_instance (
  instance_id bigint PRIMARY KEY REFERENCES instances,
  settings_ts_us bigint NOT NULL DEFAULT 0,
  tables_ts_us bigint NOT NULL DEFAULT 0,
  freeze_max_age bigint NOT NULL DEFAULT 0
);
CREATE TABLE advice_settings (
  instance_id bigint NOT NULL REFERENCES instances,
  name text COLLATE "C" NOT NULL,
  setting text COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, name)
);
CREATE TABLE advice_extensions (
  instance_id bigint NOT NULL REFERENCES instances,
  datname text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  version text COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, datname, name)
);
CREATE TABLE advice_table_options (
  instance_id bigint NOT NULL REFERENCES instances,
  datname text COLLATE "C" NOT NULL,
  schemaname text COLLATE "C" NOT NULL,
  relname text COLLATE "C" NOT NULL,
  insert_threshold bigint NOT NULL,
  insert_scale_factor double precision NOT NULL,
  PRIMARY KEY (instance_id, datname, schemaname, relname)
);

-- version 5
-- index advice facts (store_pg_indexes.c; store_sqlite_indexes.c's
-- migrations 7 and 13): each index's latest key columns (joined with
-- U+001F), each instance's latest foreign keys, every statistics reset
-- reported, hypopg's verdicts on proposed indexes, and how many tables
-- snapshots an instance sent since its proposals were last worked out
CREATE TABLE index_columns (
  instance_id bigint NOT NULL REFERENCES instances,
  datname text COLLATE "C" NOT NULL,
  schemaname text COLLATE "C" NOT NULL,
  indexrelname text COLLATE "C" NOT NULL,
  columns text COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, datname, schemaname, indexrelname)
);
CREATE TABLE foreign_keys (
  instance_id bigint NOT NULL REFERENCES instances,
  datname text COLLATE "C" NOT NULL,
  schemaname text COLLATE "C" NOT NULL,
  relname text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  columns text COLLATE "C" NOT NULL,
  referenced_table text COLLATE "C" NOT NULL,
  PRIMARY KEY (instance_id, datname, schemaname, relname, name)
);
CREATE TABLE database_stats_resets (
  instance_id bigint NOT NULL REFERENCES instances,
  datname text COLLATE "C" NOT NULL,
  stats_reset_us bigint NOT NULL,
  PRIMARY KEY (instance_id, datname, stats_reset_us)
);
CREATE TABLE index_checks (
  instance_id bigint NOT NULL REFERENCES instances,
  datname text COLLATE "C" NOT NULL,
  queryid bigint NOT NULL,
  index_statement text COLLATE "C" NOT NULL,
  checked_us bigint NOT NULL,
  status integer NOT NULL,
  cost_before double precision NOT NULL,
  cost_after double precision NOT NULL,
  index_used boolean NOT NULL,
  detail text COLLATE "C" NOT NULL,
  estimated_bytes bigint NOT NULL,
  PRIMARY KEY (instance_id, datname, queryid, index_statement)
);
CREATE TABLE index_check_state (
  instance_id bigint PRIMARY KEY REFERENCES instances,
  snapshots bigint NOT NULL
);

-- version 6
-- /metrics (store_pg_metrics.c; store_sqlite_metrics.c's migration 14):
-- statement_counters, each statement's running totals per (instance,
-- database name, queryid) of everything that reached the hourly level.
-- Triggers on statement_stats_hourly keep it: a new hourly row is added,
-- a row that grows (a late report) adds what it gained; retention deletes
-- nothing here, so pg_stat_statements_*_total never go down. It starts
-- from what is rolled up already (each interval once). The advice facts
-- (store_pg_advice.c) read version 4's advice_* tables: nothing here.
CREATE TABLE statement_counters (
  instance_id bigint NOT NULL,
  datname text COLLATE "C" NOT NULL,
  queryid bigint NOT NULL,
  calls bigint NOT NULL,
  total_exec_time_ms double precision NOT NULL,
  rows bigint NOT NULL,
  PRIMARY KEY (instance_id, datname, queryid)
);
CREATE INDEX statement_counters_by_total ON statement_counters (total_exec_time_ms);
-- the schema the store was created in, whatever a session's search_path
CREATE FUNCTION statement_counters_add() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $body$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO statement_counters AS c (instance_id, datname, queryid, calls,
      total_exec_time_ms, rows)
    VALUES (NEW.instance_id, NEW.datname, NEW.queryid, NEW.calls, NEW.total_exec_time_ms,
      NEW.rows)
    ON CONFLICT (instance_id, datname, queryid) DO UPDATE SET calls = c.calls + excluded.calls,
      total_exec_time_ms = c.total_exec_time_ms + excluded.total_exec_time_ms,
      rows = c.rows + excluded.rows;
  ELSE
    INSERT INTO statement_counters AS c (instance_id, datname, queryid, calls,
      total_exec_time_ms, rows)
    VALUES (NEW.instance_id, NEW.datname, NEW.queryid, NEW.calls - OLD.calls,
      NEW.total_exec_time_ms - OLD.total_exec_time_ms, NEW.rows - OLD.rows)
    ON CONFLICT (instance_id, datname, queryid) DO UPDATE SET calls = c.calls + excluded.calls,
      total_exec_time_ms = c.total_exec_time_ms + excluded.total_exec_time_ms,
      rows = c.rows + excluded.rows;
  END IF;
  RETURN NULL;
END
$body$;
CREATE TRIGGER statement_counters_insert AFTER INSERT ON statement_stats_hourly
  FOR EACH ROW EXECUTE FUNCTION statement_counters_add();
CREATE TRIGGER statement_counters_update AFTER UPDATE OF calls, total_exec_time_ms, rows
  ON statement_stats_hourly FOR EACH ROW EXECUTE FUNCTION statement_counters_add();
INSERT INTO statement_counters (instance_id, datname, queryid, calls, total_exec_time_ms, rows)
SELECT instance_id, datname, queryid, sum(calls), sum(total_exec_time_ms), sum(rows)
FROM (SELECT instance_id, datname, queryid, calls, total_exec_time_ms, rows
      FROM statement_stats_hourly
      WHERE bucket_us >= (SELECT until_us FROM rollup_state WHERE name = 'daily')
      UNION ALL
      SELECT instance_id, datname, queryid, calls, total_exec_time_ms, rows
      FROM statement_stats_daily
      WHERE bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'daily')) s
GROUP BY 1, 2, 3;

-- version 7
-- slow-queries pruned by the statement totals' bounds (store_pg_slow.c,
-- slow_answer.h; store_sqlite_rollup.c's totals schema has the same
-- indexes): the totals in the order of each bound, and one statement's
-- rows of a rollup level, for the few statements a question adds up
CREATE INDEX statement_totals_by_total ON statement_totals (total_exec_time_ms);
CREATE INDEX statement_totals_by_calls ON statement_totals (calls);
CREATE INDEX statement_totals_by_max ON statement_totals (max_exec_time_ms);
CREATE INDEX statement_stats_hourly_by_pair ON statement_stats_hourly
  (instance_id, queryid, bucket_us);
CREATE INDEX statement_stats_daily_by_pair ON statement_stats_daily
  (instance_id, queryid, bucket_us);

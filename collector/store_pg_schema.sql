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

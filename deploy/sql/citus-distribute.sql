-- citus-distribute.sql - spread pgfleet's PostgreSQL store over a Citus
-- cluster, once, after the collector has created the schema.
--
--   1. On the Citus coordinator: CREATE DATABASE pgfleet; CREATE EXTENSION
--      citus; add the workers (citus_add_node).
--   2. Start one pgfleet-collector with store = postgresql://...@coordinator/pgfleet
--      so it creates the schema (store_pg_schema.sql), then stop it.
--   3. psql -h coordinator -d pgfleet -f citus-distribute.sql
--   4. Start the collectors again (any number, each with its share of
--      the agents).
--
-- Layout: every history table's primary key starts with instance_id, so
-- each is distributed by instance_id and all of them are co-located (one
-- instance's statements, texts, reports and lag history live on one
-- shard; a per-instance question runs on one worker). The small tables
-- (the instance list, the rollup watermarks, the schema version) and the
-- "latest state" tables (one small set of rows per instance, joined
-- across instances by the fleet and replication answers: a standby's
-- upstream is another instance) are reference tables, copied to every
-- worker, so those joins stay local.
--
-- WHAT WAS TESTED AND WHAT WAS NOT (be honest with yourself before you
-- rely on it):
--   tested here, on plain PostgreSQL 15: the schema, its migrations, the
--     writes and every answer the PostgreSQL store gives, compared byte
--     for byte with the SQLite store's (tests/e2e/store_pg_compare.sh,
--     which also checks that this file names every table of the schema
--     and that each distributed one has instance_id first in its primary
--     key), the collector fed by real agents (tests/e2e/store_pg_fleet.sh)
--     and two collectors sharing one store
--     (tests/e2e/store_pg_two_collectors.sh).
--   NOT tested: anything on Citus. Citus could not be installed where
--     pgfleet is developed, so this file has never been run. On paper:
--     - the primary keys and unique constraints include instance_id, as
--       Citus requires of distributed tables; foreign keys go from
--       distributed tables to the reference table instances, which Citus
--       allows;
--     - bigserial id columns of distributed tables take their values from
--       sequences Citus propagates (Citus 11+);
--     - slow-queries over a whole cluster or the fleet groups by columns
--       other than instance_id and uses string_agg(DISTINCT ...): Citus
--       may plan it by pulling the window's rows to the coordinator, which
--       is correct but not fast; per-instance questions push down;
--     - every report writes the reference tables (instances, the latest
--       state): a write to all workers per report. Fine for hundreds of
--       instances; measure before thousands.
--   Run the comparison test against a Citus coordinator
--   (PGFLEET_TEST_PG=postgresql://... test_store_pg, after this file) to
--   find out; report what breaks.

BEGIN;

-- reference tables: small, joined from everywhere
SELECT create_reference_table('instances');
SELECT create_reference_table('rollup_state');
SELECT create_reference_table('schema_version');
SELECT create_reference_table('role_history');
SELECT create_reference_table('activity_latest');
SELECT create_reference_table('activity_connections');
SELECT create_reference_table('activity_sessions');
SELECT create_reference_table('activity_blocking');
SELECT create_reference_table('replication_latest');
SELECT create_reference_table('replication_replicas');
SELECT create_reference_table('replication_slots');
SELECT create_reference_table('report_boots');
SELECT create_reference_table('report_gaps');
SELECT create_reference_table('clock_skew');
-- the fleet-wide statement rollups: keyed by statement, not instance
-- (written by maintenance, a bucket's sums across every instance); as
-- reference tables every write goes to all workers: fine for rollups
-- written once an hour, measure before a very large fleet
SELECT create_reference_table('statement_fleet_hourly');
SELECT create_reference_table('statement_fleet_daily');

-- history tables: distributed by instance, co-located with each other
SELECT create_distributed_table('reports', 'instance_id');
SELECT create_distributed_table('statement_texts', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('statement_stats', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('statement_stats_hourly', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('statement_stats_daily', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('statement_totals', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('activity_history', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('replica_lag_history', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('standby_lag_history', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('table_stats', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('index_stats', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('index_definitions', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('bloat_estimates', 'instance_id', colocate_with => 'reports');
-- index advice facts (store_pg_indexes.c): only ever joined on instance_id
SELECT create_distributed_table('index_columns', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('foreign_keys', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('database_stats_resets', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('index_checks', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('index_check_state', 'instance_id', colocate_with => 'reports');
-- pools, settings and family statuses: per instance, only ever joined on
-- instance_id (latest-state tables too, but never across instances)
SELECT create_distributed_table('pool_app_samples', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('pooler_samples', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('family_status', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('advice_instance', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('advice_settings', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('advice_extensions', 'instance_id', colocate_with => 'reports');
SELECT create_distributed_table('advice_table_options', 'instance_id', colocate_with => 'reports');
-- /metrics' statement counters (store_pg_metrics.c), kept by triggers on
-- statement_stats_hourly: co-located with it, so each trigger's write is
-- local to the shard. On paper: Citus runs triggers on distributed tables
-- only with citus.enable_unsafe_triggers = on (Citus 11+) and co-located
-- tables; check before relying on it.
SELECT create_distributed_table('statement_counters', 'instance_id', colocate_with => 'reports');

COMMIT;

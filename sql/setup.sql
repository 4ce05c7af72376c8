-- Prepares a database for pg_crashcache; safe to run again. scripts/run and the Docker image
-- run it.
CREATE EXTENSION IF NOT EXISTS pg_crashcache;
-- A database made by an earlier version is brought to the installed one (a no-op if it is).
ALTER EXTENSION pg_crashcache UPDATE;

-- A first project, so that there is a DSN to give an SDK.
SELECT id, key, dsn FROM crashcache.create_project('default')
WHERE NOT EXISTS (SELECT FROM crashcache.project WHERE name = 'default');

\ir roles.sql

-- The periodic jobs (retention, dictionary training), when pg_cron is preloaded for this
-- database (scripts/cluster.conf); without it they are the operator's to run.
SELECT coalesce('pg_cron' = ANY (regexp_split_to_array(current_setting('shared_preload_libraries'), '\s*,\s*'))
                AND current_setting('cron.database_name', true) = current_database(), false) AS have_pg_cron \gset
\if :have_pg_cron
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT job_name, schedule FROM crashcache.schedule_maintenance();
\endif

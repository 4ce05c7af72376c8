-- Prepares a database for pg_crashcache; safe to run again. scripts/run runs it.
CREATE EXTENSION IF NOT EXISTS pg_crashcache;
-- A database made by an earlier version is brought to the installed one (a no-op if it is).
ALTER EXTENSION pg_crashcache UPDATE;

-- A first project, so that there is a DSN to give an SDK.
SELECT id, key, dsn FROM crashcache.create_project('default')
WHERE NOT EXISTS (SELECT FROM crashcache.project WHERE name = 'default');

\ir roles.sql

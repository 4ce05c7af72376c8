-- Roles for people and dashboards; safe to run again.
--   crashcache_reader  read-only: the views and tables of schema crashcache (Metabase)
--   crashcache_ingest  what the ingest proxy needs: crashcache.ingest() and the project functions
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crashcache_reader') THEN
        CREATE ROLE crashcache_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crashcache_ingest') THEN
        CREATE ROLE crashcache_ingest NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA crashcache TO crashcache_reader, crashcache_ingest;
GRANT SELECT ON ALL TABLES IN SCHEMA crashcache TO crashcache_reader;
-- Reading the full event JSON back from the archive.
GRANT EXECUTE ON FUNCTION crashcache.event_json(int, uuid), crashcache.archive_payload(bigint),
    crashcache.stats(), crashcache.list_projects() TO crashcache_reader;

-- ingest() runs with its caller's rights: it reads keys, stores archives and enqueues them.
GRANT SELECT ON crashcache.project, crashcache.project_key TO crashcache_ingest;
GRANT SELECT, INSERT ON crashcache.archive, crashcache.queue TO crashcache_ingest;
GRANT SELECT ON crashcache.queue_error, crashcache.issue TO crashcache_ingest;

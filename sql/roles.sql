-- Roles for the tracker's parts; safe to run again (scripts/run runs it on every start).
--   crashcache_reader  read-only: the views and tables of schema crashcache (Metabase)
--   crashcache_ingest  what the ingest proxy may do, and nothing else: call ingest_batch(),
--                      ingest() and stats(). Those run with their owner's rights, so the role
--                      holds no right on any table: it cannot read keys, archives or events.
--   crashcache_proxy   the proxy's login, a member of crashcache_ingest. It has no password
--                      until one is set (scripts/run does), and cannot log in without one.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crashcache_reader') THEN
        CREATE ROLE crashcache_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crashcache_ingest') THEN
        CREATE ROLE crashcache_ingest NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crashcache_proxy') THEN
        CREATE ROLE crashcache_proxy LOGIN IN ROLE crashcache_ingest;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA crashcache TO crashcache_reader, crashcache_ingest;
GRANT SELECT ON ALL TABLES IN SCHEMA crashcache TO crashcache_reader;
-- Reading the full event JSON back from the archive.
GRANT EXECUTE ON FUNCTION crashcache.event_json(int, uuid), crashcache.archive_payload(bigint),
    crashcache.stats(), crashcache.list_projects() TO crashcache_reader;

-- Earlier versions of this file granted table rights; ingest no longer needs them.
REVOKE ALL ON ALL TABLES IN SCHEMA crashcache FROM crashcache_ingest;
GRANT EXECUTE ON FUNCTION
    crashcache.ingest_batch(int[], text[], bytea[], text[], text[], inet[], int, int),
    crashcache.ingest(int, text, bytea, text, text, int, int, inet),
    crashcache.stats()
TO crashcache_ingest;

-- Roles for the tracker's parts; safe to run again (scripts/run runs it on every start). Each
-- can do its job and nothing else (tests/test_roles.py and test_security.py show both):
--   crashcache_reader       read-only, for people and dashboards: the curated views of
--                           schema crashcache (views.sql, retention.sql), event_json() and
--                           stats(). No table: not the archive's raw payloads, not the keys.
--   crashcache_metabase     Metabase's login, a member of crashcache_reader.
--   crashcache_ingest       what the ingest proxy may do: call ingest_batch(), ingest() and
--                           stats(). Those run with their owner's rights, so the role holds no
--                           right on any table: it cannot read keys, archives or events.
--   crashcache_proxy        the proxy's login, a member of crashcache_ingest.
--   crashcache_api          what the proxy's Web API (/api/0/) may do: call the api_*
--                           functions (web_api.sql), which read and triage with their
--                           owner's rights; no table, no ingest, no administration.
--   crashcache_api_proxy    the Web API's login, a member of crashcache_api.
--   crashcache_ui           what the web UI may do: call the ui_* functions (ui.sql: users,
--                           sign-in, pages, alert settings) and the api_* ones it shares with
--                           the Web API; no table, no ingest, no administration.
--   crashcache_ui_proxy     the web UI's login, a member of crashcache_ui.
--   crashcache_alerts       what alert delivery may do: call the alerts_* functions
--                           (alerts.sql: periodic checks, claiming and recording deliveries).
--   crashcache_alerts_proxy alert delivery's login, a member of crashcache_alerts.
--   crashcache_admin        operators: projects and keys, triage, retention, ruminate,
--                           export and import; reads and writes every table's rows, and
--                           cannot change the schema.
--   crashcache_maintenance  what pg_cron's jobs run as (maintenance.sql): retention and
--                           dictionary training, nothing else.
-- The logins have no password until one is set (scripts/run and docker-initdb.sh do), and
-- cannot log in without one; crashcache_maintenance never gets one: pg_cron's background
-- workers need no password, and PostgreSQL 15 lets them run only as a role that may log in.
DO $$
DECLARE
    wanted record;
BEGIN
    FOR wanted IN
        VALUES ('crashcache_reader', 'NOLOGIN', NULL), ('crashcache_metabase', 'LOGIN', 'crashcache_reader'),
               ('crashcache_ingest', 'NOLOGIN', NULL), ('crashcache_proxy', 'LOGIN', 'crashcache_ingest'),
               ('crashcache_api', 'NOLOGIN', NULL), ('crashcache_api_proxy', 'LOGIN', 'crashcache_api'),
               ('crashcache_ui', 'NOLOGIN', NULL), ('crashcache_ui_proxy', 'LOGIN', 'crashcache_ui'),
               ('crashcache_alerts', 'NOLOGIN', NULL), ('crashcache_alerts_proxy', 'LOGIN', 'crashcache_alerts'),
               ('crashcache_admin', 'NOLOGIN', 'crashcache_reader'), ('crashcache_maintenance', 'LOGIN', NULL)
    LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = wanted.column1) THEN
            EXECUTE format('CREATE ROLE %I %s', wanted.column1, wanted.column2);
        END IF;
        IF wanted.column3 IS NOT NULL AND NOT pg_has_role(wanted.column1, wanted.column3, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', wanted.column3, wanted.column1);
        END IF;
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA crashcache
TO crashcache_reader, crashcache_ingest, crashcache_api, crashcache_ui, crashcache_alerts, crashcache_admin,
   crashcache_maintenance;

-- Earlier versions of this file granted table rights to readers and ingest; neither needs
-- them now.
REVOKE ALL ON ALL TABLES IN SCHEMA crashcache FROM crashcache_reader, crashcache_ingest;
-- Every view of the schema is a curated one.
DO $$
DECLARE
    curated regclass;
BEGIN
    FOR curated IN SELECT c.oid FROM pg_class c
                   WHERE c.relnamespace = 'crashcache'::regnamespace AND c.relkind = 'v' LOOP
        EXECUTE format('GRANT SELECT ON %s TO crashcache_reader', curated);
    END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION crashcache.event_json(int, uuid), crashcache.stats() TO crashcache_reader;
-- Granted by earlier versions of this file; they read raw payloads and keys.
REVOKE EXECUTE ON FUNCTION crashcache.archive_payload(bigint), crashcache.list_projects()
FROM crashcache_reader;

GRANT EXECUTE ON FUNCTION
    crashcache.ingest_batch(int[], text[], bytea[], text[], text[], inet[], int, int),
    crashcache.ingest(int, text, bytea, text, text, int, int, inet),
    crashcache.stats()
TO crashcache_ingest;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA crashcache TO crashcache_admin;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA crashcache TO crashcache_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA crashcache TO crashcache_admin;
GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA crashcache TO crashcache_admin;

-- Each serving role calls the functions of its prefix: the Web API api_* (web_api.sql, 0.1.2
-- on), the web UI ui_* and api_* (ui.sql, 0.1.4 on), alert delivery alerts_* (alerts.sql, 0.1.4
-- on). A database at an earlier version has none of the later ones to grant.
DO $$
DECLARE
    grant_to record;
BEGIN
    FOR grant_to IN SELECT p.oid::regprocedure AS endpoint, r.role
                    FROM pg_proc p
                    JOIN (VALUES ('api\_%', 'crashcache_api'), ('api\_%', 'crashcache_ui'),
                                 ('ui\_%', 'crashcache_ui'), ('alerts\_%', 'crashcache_alerts'))
                         AS r(prefix, role) ON p.proname LIKE r.prefix
                    WHERE p.pronamespace = 'crashcache'::regnamespace LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', grant_to.endpoint, grant_to.role);
    END LOOP;
END
$$;

-- Retention came with version 0.1.2: a database still at an earlier version (before its ALTER
-- EXTENSION ... UPDATE) has nothing of it to grant.
DO $$
BEGIN
    IF to_regprocedure('crashcache._expire_batch(int)') IS NOT NULL THEN
        GRANT EXECUTE ON FUNCTION crashcache._expire_batch(int), crashcache.retrain_dictionary()
        TO crashcache_maintenance;
        GRANT EXECUTE ON PROCEDURE crashcache.run_retention(int, bigint, double precision)
        TO crashcache_maintenance;
    END IF;
END
$$;

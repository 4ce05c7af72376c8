-- pg_crashcache 0.1.1 -> 0.1.2: retention, pg_cron maintenance, least-privilege readers,
-- Sentry's Web API.
--
-- * crashcache.retention holds each project's retention and the default's (schema.sql);
--   set_retention(), set_hard_max_age(), CALL run_retention() apply it (retention.sql).
-- * issue.expired_events: the events retention removed, which ruminate counts from.
-- * An index on archive (project_id, received_at) for retention. Building it holds ingest
--   back while it runs: on a large archive, update at a quiet time.
-- * schedule_maintenance() / unschedule_maintenance(): the pg_cron jobs (maintenance.sql).
-- * ruminate() empties the digested tables of one list (_digested_tables()).
-- * event_json() runs with its owner's rights, so readers need no right on the archive; more
--   curated views (projects, spans, check_ins, logs, user_feedback, attachments,
--   client_outcomes) for them.
-- * The Web API (web_api.sql): project slugs, per-project issue short ids, issue status
--   details, issue_activity (notes and status changes), api_token; the issues view shows
--   the status an ignored issue has now (_current_status()).
-- * pg_dump keeps issue_user, issue_activity and api_token too (backup.sql).

ALTER TABLE crashcache.issue ADD COLUMN expired_events bigint NOT NULL DEFAULT 0;

-- How long what is received is kept (retention.sql). The row with project_id NULL is every
-- project's default, and the only one with a hard maximum age, which bounds every project.
CREATE TABLE crashcache.retention (
    project_id            int UNIQUE NULLS NOT DISTINCT REFERENCES crashcache.project ON DELETE CASCADE,
    max_age_days          int CHECK (max_age_days > 0),
    max_events_per_issue  int CHECK (max_events_per_issue >= 2),
    hard_max_age_days     int CHECK (hard_max_age_days > 0),
    CHECK (project_id IS NULL OR hard_max_age_days IS NULL)
);
SELECT pg_catalog.pg_extension_config_dump('crashcache.retention', '');
-- An issue's users are counted still when retention has removed their events: pg_dump keeps them.
SELECT pg_catalog.pg_extension_config_dump('crashcache.issue_user', '');

CREATE INDEX archive_project_received_idx ON crashcache.archive (project_id, received_at);

-- ===================================================================== retention.sql
-- Retention: what is received is kept for a project's maximum age and no longer, and an issue
-- keeps at most a maximum number of events. CALL crashcache.run_retention() applies it in
-- short batches (pg_cron runs it every 10 minutes, maintenance.sql); the space it frees is
-- reused by what comes next once autovacuum has passed, so the database stops growing.
--
-- The age is counted from when the tracker received a payload (the archive's received_at),
-- not from the SDK's clock, which may be wrong. A payload past its age goes with everything
-- digested from it. An issue whose last event went that way goes too; issues that keep
-- events keep their counts: event_count stays the number of events seen.

-- Sets the retention of one project, or with project_id NULL the default of every project:
-- payloads are kept max_age_days after they were received, and an issue keeps at most
-- max_events_per_issue events, its first half and its latest half. NULL is no limit (for a
-- project: the default's).
CREATE FUNCTION crashcache.set_retention(max_age_days int, max_events_per_issue int DEFAULT NULL,
                                         project_id int DEFAULT NULL)
RETURNS void LANGUAGE sql VOLATILE AS $$
    INSERT INTO crashcache.retention AS r (project_id, max_age_days, max_events_per_issue)
    VALUES (set_retention.project_id, set_retention.max_age_days, set_retention.max_events_per_issue)
    ON CONFLICT (project_id) DO UPDATE
    SET max_age_days = excluded.max_age_days, max_events_per_issue = excluded.max_events_per_issue
$$;

-- Sets the age nothing outlives, whatever a project's own retention says (privacy rules).
-- NULL removes it.
CREATE FUNCTION crashcache.set_hard_max_age(days int)
RETURNS void LANGUAGE sql VOLATILE AS $$
    INSERT INTO crashcache.retention AS r (project_id, hard_max_age_days) VALUES (NULL, days)
    ON CONFLICT (project_id) DO UPDATE SET hard_max_age_days = excluded.hard_max_age_days
$$;

-- The retention in force for each project.
CREATE VIEW crashcache.retention_policies AS
SELECT p.id AS project_id, p.name AS project,
       least(coalesce(own.max_age_days, dflt.max_age_days), dflt.hard_max_age_days) AS max_age_days,
       coalesce(own.max_events_per_issue, dflt.max_events_per_issue) AS max_events_per_issue
FROM crashcache.project p
LEFT JOIN crashcache.retention own ON own.project_id = p.id
LEFT JOIN crashcache.retention dflt ON dflt.project_id IS NULL;

-- The tables of what is digested from a payload: each row names its archive_id and
-- project_id. ruminate() empties them and retention deletes from them by archive.
CREATE FUNCTION crashcache._digested_tables()
RETURNS SETOF regclass LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    VALUES ('crashcache.event'::regclass), ('crashcache.transaction'), ('crashcache.span'),
           ('crashcache.session'), ('crashcache.session_aggregate'), ('crashcache.check_in'),
           ('crashcache.log'), ('crashcache.attachment'), ('crashcache.client_outcome'),
           ('crashcache.feedback')
$$;

-- Deletes archives with everything digested from them, and counts their events as expired
-- in their issues. A worker digesting one of them is waited for (its queue row is locked),
-- so that no row it writes outlives its archive.
CREATE FUNCTION crashcache._delete_archives(archives bigint[])
RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    expired_issues bigint[];
    digested regclass;
BEGIN
    PERFORM FROM crashcache.queue q WHERE q.archive_id = ANY(archives) ORDER BY q.archive_id FOR UPDATE;
    WITH gone AS (DELETE FROM crashcache.event e WHERE e.archive_id = ANY(archives) RETURNING e.issue_id)
    SELECT array_agg(g.issue_id) INTO expired_issues FROM gone g;
    -- The archives go before the issues are locked: the digest waits for an issue's lock, so
    -- it is held for as little of the batch as can be. Their queue and queue_error rows go
    -- with them (ON DELETE CASCADE).
    DELETE FROM crashcache.archive a WHERE a.id = ANY(archives);
    -- In id order, as the digest takes them, so that neither deadlocks the other; before the
    -- rows the digest writes after its issues (sessions, check-ins), for the same reason.
    PERFORM FROM crashcache.issue i WHERE i.id = ANY(expired_issues) ORDER BY i.id FOR NO KEY UPDATE;
    UPDATE crashcache.issue i SET expired_events = i.expired_events + c.events
    FROM (SELECT u.issue_id, count(*) AS events FROM unnest(expired_issues) u(issue_id) GROUP BY u.issue_id) c
    WHERE i.id = c.issue_id;
    FOR digested IN SELECT t FROM crashcache._digested_tables() t WHERE t <> 'crashcache.event'::regclass LOOP
        EXECUTE format('DELETE FROM %s WHERE archive_id = ANY($1)', digested) USING archives;
    END LOOP;
END
$$;

-- One batch of retention, at most batch_size archives or issues, in this order: payloads
-- past their age; then events past their issue's maximum, oldest first after the first half,
-- each with its payload; then issues past their age with no event left. Returns how many
-- archives or issues it deleted: 0 when nothing is left to do.
CREATE FUNCTION crashcache._expire_batch(batch_size int)
RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    archives bigint[];
    issues bigint[];
BEGIN
    archives := ARRAY(
        SELECT a.id FROM crashcache.retention_policies r
        CROSS JOIN LATERAL (
            SELECT a.id FROM crashcache.archive a
            WHERE a.project_id = r.project_id
              AND a.received_at < now() - make_interval(days => r.max_age_days)
            ORDER BY a.received_at LIMIT batch_size) a
        WHERE r.max_age_days IS NOT NULL
        LIMIT batch_size);

    IF cardinality(archives) = 0 THEN
        -- An event is trimmed with its payload, so that ruminate does not bring it back; an
        -- event whose payload carries what else must stay (a session update, a transaction)
        -- is kept, and its issue keeps one more event than its maximum.
        archives := ARRAY(
            SELECT e.archive_id
            -- Only the projects with a maximum, and only their issues over it, are counted.
            FROM (SELECT p.project_id, p.max_events_per_issue FROM crashcache.retention_policies p
                  WHERE p.max_events_per_issue IS NOT NULL OFFSET 0) r
            JOIN crashcache.issue i ON i.project_id = r.project_id
                                   AND i.event_count - i.expired_events > r.max_events_per_issue
            CROSS JOIN LATERAL (SELECT count(*) AS kept FROM crashcache.event e WHERE e.issue_id = i.id) n
            CROSS JOIN LATERAL (
                SELECT e.archive_id FROM crashcache.event e WHERE e.issue_id = i.id
                ORDER BY e.timestamp DESC, e.id DESC
                OFFSET r.max_events_per_issue - r.max_events_per_issue / 2
                LIMIT greatest(n.kept - r.max_events_per_issue, 0)) e
            WHERE NOT EXISTS (SELECT FROM crashcache.transaction t WHERE t.archive_id = e.archive_id)
              AND NOT EXISTS (SELECT FROM crashcache.span s WHERE s.archive_id = e.archive_id)
              AND NOT EXISTS (SELECT FROM crashcache.session s WHERE s.archive_id = e.archive_id)
              AND NOT EXISTS (SELECT FROM crashcache.session_aggregate s WHERE s.archive_id = e.archive_id)
              AND NOT EXISTS (SELECT FROM crashcache.check_in c WHERE c.archive_id = e.archive_id)
              AND NOT EXISTS (SELECT FROM crashcache.log l WHERE l.archive_id = e.archive_id)
            LIMIT batch_size);
    END IF;

    IF cardinality(archives) > 0 THEN
        PERFORM crashcache._delete_archives(archives);
        RETURN cardinality(archives);
    END IF;

    -- last_seen is NULL while ruminate rebuilds an issue, so a rebuild loses none.
    issues := ARRAY(
        SELECT i.id FROM crashcache.issue i
        JOIN crashcache.retention_policies r ON r.project_id = i.project_id
        WHERE i.last_seen < now() - make_interval(days => r.max_age_days)
          AND NOT EXISTS (SELECT FROM crashcache.event e WHERE e.issue_id = i.id)
        ORDER BY i.id LIMIT batch_size
        FOR UPDATE OF i SKIP LOCKED);
    DELETE FROM crashcache.issue i WHERE i.id = ANY(issues);
    RETURN cardinality(issues);
END
$$;

REVOKE EXECUTE ON FUNCTION crashcache._delete_archives(bigint[]), crashcache._expire_batch(int) FROM PUBLIC;

-- Applies retention to every project, one committed batch after another, while ingest and
-- digest go on: no batch holds its row locks longer than it takes to delete batch_size
-- payloads. Returns how many archives and issues it deleted and how long the longest batch
-- took. Call it on its own (CALL, not inside BEGIN ... COMMIT).
CREATE PROCEDURE crashcache.run_retention(batch_size int DEFAULT 1000,
                                          INOUT deleted bigint DEFAULT 0,
                                          INOUT longest_batch_ms double precision DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    done bigint;
    started timestamptz;
    conflicts int := 0;
BEGIN
    deleted := 0;
    longest_batch_ms := 0;
    LOOP
        started := clock_timestamp();
        BEGIN
            done := crashcache._expire_batch(batch_size);
        EXCEPTION WHEN deadlock_detected OR serialization_failure THEN
            -- A digest worker took the same rows the other way round: try the batch again
            -- (at most 10 times in a row).
            conflicts := conflicts + 1;
            IF conflicts > 10 THEN
                RAISE;
            END IF;
            done := -1;
        END;
        COMMIT;
        IF done >= 0 THEN
            conflicts := 0;
        END IF;
        longest_batch_ms := greatest(longest_batch_ms,
                                     extract(epoch FROM clock_timestamp() - started) * 1000);
        EXIT WHEN done = 0;
        deleted := deleted + greatest(done, 0);
    END LOOP;
END
$$;

-- ===================================================================== maintenance.sql
-- The tracker's periodic work, as pg_cron jobs. pg_cron is optional: these functions are the
-- only ones that need it, and say so when it is missing. The jobs run as role
-- crashcache_maintenance (sql/roles.sql), which may run them and nothing else.

-- Every job: retention every 10 minutes, a new zstd dictionary every week (payloads change
-- with the applications that send them), and pg_cron's own run history pruned every day.
CREATE FUNCTION crashcache._maintenance_jobs()
RETURNS TABLE (job_name text, schedule text, command text) LANGUAGE sql IMMUTABLE AS $$
    VALUES ('crashcache-retention', '*/10 * * * *', 'CALL crashcache.run_retention()'),
           ('crashcache-dictionary', '17 3 * * 0', 'SELECT crashcache.retrain_dictionary()'),
           ('crashcache-cron-history', '37 4 * * *',
            $job$DELETE FROM cron.job_run_details WHERE end_time < now() - interval '14 days'$job$)
$$;

CREATE FUNCTION crashcache._require_pg_cron()
RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
            USING ERRCODE = 'feature_not_supported',
                  HINT = format('Install postgresql-15-cron, add pg_cron to shared_preload_libraries, '
                                'set cron.database_name = %L, restart, and run CREATE EXTENSION pg_cron.',
                                current_database());
    END IF;
END
$$;

-- Registers every job with pg_cron, to run as crashcache_maintenance in this database. A job
-- that is registered already as it should be is left alone: a second call changes nothing.
-- Returns the jobs.
CREATE FUNCTION crashcache.schedule_maintenance()
RETURNS TABLE (job_name text, schedule text, command text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM crashcache._require_pg_cron();
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crashcache_maintenance') THEN
        RAISE EXCEPTION 'role crashcache_maintenance does not exist'
            USING HINT = 'Run sql/roles.sql first.';
    END IF;
    -- Its job pruning the run history deletes its own runs' rows (pg_cron's row policy).
    GRANT USAGE ON SCHEMA cron TO crashcache_maintenance;
    PERFORM cron.schedule_in_database(j.job_name, j.schedule, j.command, current_database(),
                                      'crashcache_maintenance')
    FROM crashcache._maintenance_jobs() j
    WHERE NOT EXISTS (
        SELECT FROM cron.job c
        WHERE c.jobname = j.job_name AND c.username = 'crashcache_maintenance'
          AND c.schedule = j.schedule AND c.command = j.command
          AND c.database = current_database() AND c.active);
    RETURN QUERY SELECT j.job_name, j.schedule, j.command FROM crashcache._maintenance_jobs() j;
END
$$;

-- Removes the jobs schedule_maintenance() registered. Returns how many there were.
CREATE FUNCTION crashcache.unschedule_maintenance()
RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    removed bigint;
BEGIN
    PERFORM crashcache._require_pg_cron();
    SELECT count(*) INTO removed FROM (
        SELECT cron.unschedule(c.jobid) FROM cron.job c
        WHERE c.username = 'crashcache_maintenance'
          AND c.jobname IN (SELECT j.job_name FROM crashcache._maintenance_jobs() j)) u;
    RETURN removed;
END
$$;

-- Trains a new dictionary from the latest payloads (train_dictionary()), when there are
-- enough of them. Returns its id, or NULL when the archive is too small.
CREATE FUNCTION crashcache.retrain_dictionary()
RETURNS int LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (SELECT count(*) FROM (SELECT FROM crashcache.archive LIMIT 100) enough) < 100 THEN
        RETURN NULL;
    END IF;
    RETURN crashcache.train_dictionary();
END
$$;

REVOKE EXECUTE ON FUNCTION crashcache.schedule_maintenance(), crashcache.unschedule_maintenance(),
    crashcache.retrain_dictionary() FROM PUBLIC;

-- ===================================================================== admin.sql
-- Rebuilds everything derived from the archive of one project (or all): deletes the derived
-- rows, re-enqueues every archived payload (also those that failed before) and lets the
-- workers digest them again. Issues keep their id and status, so triage survives; their
-- counts restart from the events retention removed (and first_seen and users are kept for
-- those) and fill up again as the workers go. Returns the payloads enqueued.
CREATE OR REPLACE FUNCTION crashcache.ruminate(project_id int DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    only_project int := ruminate.project_id;
    digested regclass;
    enqueued bigint;
BEGIN
    FOR digested IN SELECT t FROM crashcache._digested_tables() t LOOP
        EXECUTE format('DELETE FROM %s WHERE $1 IS NULL OR project_id = $1', digested) USING only_project;
    END LOOP;
    DELETE FROM crashcache.issue_user u USING crashcache.issue i
    WHERE u.issue_id = i.id AND i.expired_events = 0
      AND (only_project IS NULL OR i.project_id = only_project);
    UPDATE crashcache.issue i
    SET event_count = i.expired_events,
        user_count = CASE WHEN i.expired_events = 0 THEN 0
                          ELSE (SELECT count(*) FROM crashcache.issue_user u WHERE u.issue_id = i.id) END,
        first_seen = CASE WHEN i.expired_events = 0 THEN NULL ELSE i.first_seen END,
        last_seen = NULL
    WHERE only_project IS NULL OR i.project_id = only_project;
    DELETE FROM crashcache.queue_error e WHERE only_project IS NULL OR e.project_id = only_project;

    INSERT INTO crashcache.queue (archive_id)
    SELECT a.id FROM crashcache.archive a
    WHERE only_project IS NULL OR a.project_id = only_project
    ORDER BY a.id
    ON CONFLICT (archive_id) DO NOTHING;
    GET DIAGNOSTICS enqueued = ROW_COUNT;
    PERFORM crashcache._wake_workers();
    RETURN enqueued;
END
$$;

-- The status an issue has now: an issue ignored until a time, a number of events or of users
-- is unresolved again once it is reached. Used by the issues view and the Web API.
CREATE FUNCTION crashcache._current_status(i crashcache.issue)
RETURNS crashcache.issue_status LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN i.status = 'ignored' AND (
                    (i.status_details->>'ignoreUntil')::timestamptz <= now()
                 OR i.event_count >= (i.status_details->>'_eventsAtIgnore')::bigint
                                     + (i.status_details->>'ignoreCount')::bigint
                 OR i.user_count >= (i.status_details->>'_usersAtIgnore')::bigint
                                    + (i.status_details->>'ignoreUserCount')::bigint)
                THEN 'unresolved'::crashcache.issue_status
                ELSE i.status END
$$;

-- The full JSON of a digested event (exception, stack trace, breadcrumbs, contexts), read
-- back from the archive. With its owner's rights, so that readers (Metabase) need no right on
-- the archive, whose other payloads and raw bodies they may not read.
CREATE OR REPLACE FUNCTION crashcache.event_json(project_id int, event_id uuid)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT crashcache.item_json(i.payload)
    FROM crashcache.event e
    JOIN crashcache.archive a ON a.id = e.archive_id
    CROSS JOIN LATERAL crashcache.payload_items(crashcache.unpack(a.codec, a.body), a.kind) i
    WHERE e.project_id = event_json.project_id AND e.event_id = event_json.event_id
      AND i.item_type = 'event'
    LIMIT 1
$$;

REVOKE EXECUTE ON FUNCTION crashcache.event_json(int, uuid) FROM PUBLIC;

-- ===================================================================== views.sql
-- Issues with their project, newest activity first.
CREATE OR REPLACE VIEW crashcache.issues AS
SELECT i.id, i.project_id, p.name AS project, i.title, i.culprit, i.level,
       crashcache._current_status(i) AS status,
       i.event_count, i.user_count, i.first_seen, i.last_seen, i.fingerprint, i.grouping_method
FROM crashcache.issue i
JOIN crashcache.project p ON p.id = i.project_id
WHERE i.event_count > 0;

-- Projects, without their keys.
CREATE VIEW crashcache.projects AS
SELECT p.id, p.name, p.created_at FROM crashcache.project p;

-- Spans of transactions.
CREATE VIEW crashcache.spans AS
SELECT s.id, s.project_id, s.trace_id, s.span_id, s.parent_span_id, s.transaction_event_id,
       s.op, s.description, s.status, s.start_time, s.end_time, s.duration_ms
FROM crashcache.span s;

-- Every check-in of every monitor.
CREATE VIEW crashcache.check_ins AS
SELECT c.project_id, m.slug AS monitor, c.check_in_id, c.status, c.duration, c.timestamp,
       rel.name AS release, env.name AS environment
FROM crashcache.check_in c
JOIN crashcache.monitor m ON m.id = c.monitor_id
LEFT JOIN crashcache.dim_release rel ON rel.id = c.release_id
LEFT JOIN crashcache.dim_environment env ON env.id = c.environment_id;

-- Log records with their release and environment.
CREATE VIEW crashcache.logs AS
SELECT l.id, l.project_id, l.timestamp, l.level, l.severity_number, l.body, l.trace_id,
       rel.name AS release, env.name AS environment, l.attributes
FROM crashcache.log l
LEFT JOIN crashcache.dim_release rel ON rel.id = l.release_id
LEFT JOIN crashcache.dim_environment env ON env.id = l.environment_id;

-- User feedback.
CREATE VIEW crashcache.user_feedback AS
SELECT f.id, f.project_id, f.event_id, f.name, f.email, f.message, f.timestamp
FROM crashcache.feedback f;

-- Attachments (what they are; their bytes stay in the archive).
CREATE VIEW crashcache.attachments AS
SELECT a.id, a.project_id, a.event_id, a.filename, a.content_type, a.attachment_type, a.size
FROM crashcache.attachment a;

-- What SDKs reported they dropped, per day.
CREATE VIEW crashcache.client_outcomes AS
SELECT o.project_id, date_trunc('day', o.timestamp) AS day, o.outcome, o.reason, o.category,
       sum(o.quantity) AS quantity
FROM crashcache.client_outcome o
GROUP BY 1, 2, 3, 4, 5;

-- ===================================================================== the Web API's model
ALTER TABLE crashcache.project ADD COLUMN slug text;
ALTER TABLE crashcache.project ADD COLUMN last_short_id bigint NOT NULL DEFAULT 0;
ALTER TABLE crashcache.issue ADD COLUMN short_id bigint;
ALTER TABLE crashcache.issue ADD COLUMN status_details jsonb NOT NULL DEFAULT '{}';
-- What people did to an issue: notes, and status changes through the Web API. Not derived
-- from the archive: ruminate keeps it and pg_dump dumps it.
CREATE TABLE crashcache.issue_activity (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    project_id  int NOT NULL REFERENCES crashcache.project ON DELETE CASCADE,
    issue_id    bigint NOT NULL REFERENCES crashcache.issue ON DELETE CASCADE,
    type        text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    -- The API token's name, or the database role, that did it.
    actor       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX issue_activity_issue_idx ON crashcache.issue_activity (issue_id, id DESC);

-- Tokens of the Web API. Only a token's SHA-256 is kept: the secret is shown once.
CREATE TABLE crashcache.api_token (
    id          int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    token_hash  bytea NOT NULL UNIQUE,
    scopes      text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
SELECT pg_catalog.pg_extension_config_dump('crashcache.issue_activity', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.api_token', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.issue_activity', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.api_token', 'id'), '');

-- The Web API's functions written in Rust (pg_crashcache/src/web_api.rs).
CREATE FUNCTION "_parse_issue_query"("query" TEXT) RETURNS jsonb
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'parse_issue_query_wrapper';
CREATE FUNCTION "_parse_stats_period"("period" TEXT) RETURNS bigint
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'parse_stats_period_wrapper';
CREATE FUNCTION "_api_event_body"("raw" jsonb) RETURNS jsonb
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'api_event_body_wrapper';

-- ===================================================================== web_api.sql
-- Sentry's Web API (/api/0/), one function per endpoint: each takes the request's parameters
-- and returns the JSON the client reads, so that psql can call them too. The proxy's router
-- (ingest-proxy/src/web_api/) maps routes to them and turns errors into statuses:
--   no_data_found (P0002) 404, insufficient_privilege (42501) 403, invalid_authorization_
--   specification (28000) 401, anything in class 22 (bad input) 400.
-- Shapes follow what the clients parse (../shared/docs/sentry-web-api.md): ids as strings,
-- times in RFC 3339 UTC ending in Z, count as a string, permalink an absolute URL, regionUrl "".
-- A list returns {"items": [...], "next": cursor or null}; the router turns "next" into a Link
-- header. Cursors are keyset positions ("value:id:0"), so new rows never shift a page.
-- The functions named api_* are the API: they run with their owner's rights, and only
-- crashcache_api (sql/roles.sql) may call them.

-- ===================================================================== model upkeep
-- A project's slug from its name: lowercase, other characters than [a-z0-9] as '-'.
CREATE FUNCTION crashcache._slug(name text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(trim(BOTH '-' FROM left(trim(BOTH '-' FROM
               regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g')), 50)), ''), 'project')
$$;

-- The slug a new project named `name` gets: its name's, or with -2, -3… when that is taken.
CREATE FUNCTION crashcache._free_slug(name text)
RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    base text := crashcache._slug(name);
    candidate text := base;
    n int := 1;
BEGIN
    WHILE EXISTS (SELECT FROM crashcache.project p WHERE p.slug = candidate) LOOP
        n := n + 1;
        candidate := left(base, 49 - length(n::text)) || '-' || n;
    END LOOP;
    RETURN candidate;
END
$$;

CREATE FUNCTION crashcache._project_defaults()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.slug IS NULL THEN
        NEW.slug := crashcache._free_slug(NEW.name);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER project_defaults BEFORE INSERT ON crashcache.project
FOR EACH ROW EXECUTE FUNCTION crashcache._project_defaults();

-- A new issue takes its project's next number. The project's row stays locked until the
-- digest batch commits; batches create issues in project order, so none waits in a circle.
CREATE FUNCTION crashcache._issue_short_id()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.short_id IS NULL THEN
        UPDATE crashcache.project p SET last_short_id = p.last_short_id + 1
        WHERE p.id = NEW.project_id RETURNING p.last_short_id INTO NEW.short_id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER issue_short_id BEFORE INSERT ON crashcache.issue
FOR EACH ROW EXECUTE FUNCTION crashcache._issue_short_id();

-- ===================================================================== tokens
-- The scopes a token may have, as Sentry names them, and what each one also grants.
CREATE FUNCTION crashcache._api_scopes()
RETURNS TABLE (scope text, grants text[]) LANGUAGE sql IMMUTABLE AS $$
    VALUES ('org:read', '{org:read}'::text[]),
           ('org:write', '{org:read,org:write}'),
           ('org:admin', '{org:read,org:write,org:admin}'),
           ('project:read', '{project:read}'),
           ('project:write', '{project:read,project:write}'),
           ('project:admin', '{project:read,project:write,project:admin}'),
           ('event:read', '{event:read}'),
           ('event:write', '{event:read,event:write,comment:write}'),
           ('event:admin', '{event:read,event:write,event:admin,comment:write}'),
           ('issue:read', '{event:read}'),
           ('issue:write', '{event:read,event:write,comment:write}'),
           ('comment:write', '{comment:write}')
$$;

-- Makes a token with the given scopes and returns it; only its hash is kept, so this is the
-- one time it can be read. It has Sentry's organization-token form, sntrys_<claims>_<secret>,
-- whose claims (base64 JSON) give clients the URL and organization.
CREATE FUNCTION crashcache.create_api_token(name text, scopes text[])
RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    unknown text;
    token text;
BEGIN
    SELECT s INTO unknown FROM unnest(scopes) s
    WHERE s NOT IN (SELECT a.scope FROM crashcache._api_scopes() a) LIMIT 1;
    IF unknown IS NOT NULL OR cardinality(scopes) IS NULL OR cardinality(scopes) = 0 THEN
        RAISE EXCEPTION 'unknown scope %', coalesce(quote_literal(unknown), '(none given)')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Scopes: ' || (SELECT string_agg(a.scope, ', ') FROM crashcache._api_scopes() a);
    END IF;
    token := 'sntrys_'
        || translate(encode(convert_to(jsonb_build_object(
               'iat', extract(epoch FROM now())::bigint,
               'url', rtrim(current_setting('crashcache.public_url'), '/'),
               'region_url', rtrim(current_setting('crashcache.public_url'), '/'),
               'org', current_setting('crashcache.organization_slug'))::text, 'UTF8'), 'base64'), E'\n', '')
        -- 32 random bytes in unpadded base64, as Sentry's: sentry-cli reads the claims only then.
        || '_' || rtrim(encode(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'),
                               'base64'), '=');
    INSERT INTO crashcache.api_token (name, token_hash, scopes)
    VALUES (create_api_token.name, sha256(convert_to(token, 'UTF8')), create_api_token.scopes);
    RETURN token;
END
$$;

-- Revokes a token: requests with it get 401 from then on. Returns whether it existed.
CREATE FUNCTION crashcache.revoke_api_token(name text)
RETURNS boolean LANGUAGE sql VOLATILE AS $$
    WITH revoked AS (
        UPDATE crashcache.api_token t SET revoked_at = coalesce(t.revoked_at, now())
        WHERE t.name = revoke_api_token.name RETURNING 1)
    SELECT EXISTS (SELECT FROM revoked)
$$;

CREATE FUNCTION crashcache.list_api_tokens()
RETURNS TABLE (name text, scopes text[], created_at timestamptz, revoked_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT t.name, t.scopes, t.created_at, t.revoked_at FROM crashcache.api_token t ORDER BY t.id
$$;

-- The token of a request, if it is valid and grants `needed` (NULL: any valid token). The
-- token is compared by its SHA-256, looked up in a unique index: the secret itself is never
-- compared, so its time says nothing about it.
CREATE FUNCTION crashcache.api_authenticate(token text, needed text DEFAULT NULL)
RETURNS TABLE (token_id int, name text, scopes text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found crashcache.api_token;
BEGIN
    SELECT * INTO found FROM crashcache.api_token t
    WHERE t.token_hash = sha256(convert_to(coalesce(token, ''), 'UTF8')) AND t.revoked_at IS NULL;
    IF found IS NULL THEN
        RAISE EXCEPTION 'Invalid token' USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    IF needed IS NOT NULL AND NOT EXISTS (
        SELECT FROM crashcache._api_scopes() a
        WHERE a.scope = ANY(found.scopes) AND needed = ANY(a.grants)) THEN
        RAISE EXCEPTION 'You do not have permission to perform this action: the token lacks scope %', needed
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN QUERY SELECT found.id, found.name, found.scopes;
END
$$;

-- ===================================================================== shapes
CREATE FUNCTION crashcache._api_time(t timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE FUNCTION crashcache._api_base_url()
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT rtrim(current_setting('crashcache.public_url'), '/')
$$;

-- 404 unless `org` is this installation's organization (NULL: a route without one).
CREATE FUNCTION crashcache._api_check_org(org text)
RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF org IS DISTINCT FROM current_setting('crashcache.organization_slug') AND org IS NOT NULL THEN
        RAISE EXCEPTION 'The requested resource does not exist: no organization %', quote_literal(org)
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

CREATE FUNCTION crashcache._api_organization_json()
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', '1', 'slug', current_setting('crashcache.organization_slug'),
        'name', current_setting('crashcache.organization_slug'),
        'dateCreated', crashcache._api_time(coalesce((SELECT min(p.created_at) FROM crashcache.project p), now())),
        'status', jsonb_build_object('id', 'active', 'name', 'active'),
        'links', jsonb_build_object('organizationUrl', crashcache._api_base_url(), 'regionUrl', ''),
        'features', '[]'::jsonb, 'isEarlyAdopter', false, 'require2FA', false,
        'requireEmailVerification', false,
        'avatar', jsonb_build_object('avatarType', 'letter_avatar', 'avatarUuid', NULL))
$$;

CREATE FUNCTION crashcache._api_project_json(p crashcache.project)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', p.id::text, 'slug', p.slug, 'name', p.name, 'platform', NULL,
        'dateCreated', crashcache._api_time(p.created_at), 'status', 'active',
        'isMember', true, 'hasAccess', true, 'isBookmarked', false, 'features', '[]'::jsonb,
        'firstEvent', (SELECT crashcache._api_time(min(i.first_seen)) FROM crashcache.issue i WHERE i.project_id = p.id),
        'environments', coalesce((SELECT jsonb_agg(DISTINCT env.name) FROM crashcache.dim_environment env
                                  WHERE env.id IN (SELECT e.environment_id FROM crashcache.event e
                                                   WHERE e.project_id = p.id ORDER BY e.timestamp DESC LIMIT 1000)), '[]'),
        'organization', jsonb_build_object('id', '1', 'slug', current_setting('crashcache.organization_slug'),
                                           'name', current_setting('crashcache.organization_slug')))
$$;

-- An issue as lists and the issue detail show it.
CREATE FUNCTION crashcache._api_issue_json(i crashcache.issue, p crashcache.project)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', i.id::text, 'shortId', upper(p.slug) || '-' || i.short_id,
        'title', i.title, 'culprit', i.culprit,
        'permalink', crashcache._api_base_url() || '/organizations/'
                     || current_setting('crashcache.organization_slug') || '/issues/' || i.id || '/',
        'logger', NULL, 'level', i.level, 'status', s.status,
        'statusDetails', CASE WHEN s.status = i.status AND s.status <> 'unresolved'
                              THEN i.status_details - '_eventsAtIgnore' - '_usersAtIgnore' ELSE '{}'::jsonb END,
        'substatus', CASE s.status WHEN 'unresolved' THEN 'ongoing'
                                   WHEN 'ignored' THEN CASE WHEN i.status_details - '_eventsAtIgnore' - '_usersAtIgnore' = '{}'
                                                            THEN 'archived_forever' ELSE 'archived_until_condition_met' END
                     END,
        'isUnhandled', false, 'platform', NULL,
        'project', jsonb_build_object('id', p.id::text, 'name', p.name, 'slug', p.slug, 'platform', NULL),
        'type', 'error', 'issueType', 'error', 'issueCategory', 'error',
        'metadata', jsonb_build_object('title', i.title),
        'numComments', (SELECT count(*) FROM crashcache.issue_activity a WHERE a.issue_id = i.id AND a.type = 'note'),
        'assignedTo', NULL, 'isBookmarked', false, 'isPublic', false, 'isSubscribed', false,
        'hasSeen', false, 'annotations', '[]'::jsonb, 'shareId', NULL,
        'count', i.event_count::text, 'userCount', i.user_count,
        'firstSeen', crashcache._api_time(coalesce(i.first_seen, i.last_seen, now())),
        'lastSeen', crashcache._api_time(coalesce(i.last_seen, i.first_seen, now())))
    FROM (SELECT crashcache._current_status(i) AS status) s
$$;

-- The tags that are dimensions, with the column of the events view that holds each; any
-- other tag key is one of the event's own tags (event.tags).
CREATE FUNCTION crashcache._api_tag_columns()
RETURNS TABLE (key text, view_column text) LANGUAGE sql IMMUTABLE AS $$
    VALUES ('level', 'level::text'), ('environment', 'environment'), ('release', 'release'),
           ('os', 'os'), ('runtime', 'runtime'), ('browser', 'browser'), ('device', 'device'),
           ('server_name', 'server_name'), ('transaction', 'transaction'), ('logger', 'logger'),
           ('user', 'user_key')
$$;

-- The tags of an event as the API lists them: the dimensions, then the event's own tags.
CREATE FUNCTION crashcache._api_event_tags(e crashcache.events)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('key', t.key, 'value', t.value) ORDER BY t.ord), '[]')
    FROM (
        SELECT 0 AS ord, d.key, d.value FROM (VALUES
            ('level', e.level::text), ('environment', e.environment), ('release', e.release),
            ('os', e.os), ('runtime', e.runtime), ('browser', e.browser), ('device', e.device),
            ('server_name', e.server_name), ('transaction', e.transaction), ('logger', e.logger),
            ('user', e.user_key)) d(key, value)
        WHERE d.value IS NOT NULL
        UNION ALL
        SELECT 1, o.key, o.value FROM jsonb_each_text(CASE WHEN jsonb_typeof(e.tags) = 'object' THEN e.tags END) o
        WHERE o.key NOT IN (SELECT c.key FROM crashcache._api_tag_columns() c)
    ) t
$$;

-- An event as lists show it (no archive read).
CREATE FUNCTION crashcache._api_event_item(e crashcache.events)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', replace(e.event_id::text, '-', ''), 'eventID', replace(e.event_id::text, '-', ''),
        'groupID', e.issue_id::text, 'projectID', e.project_id::text,
        'title', e.title, 'message', coalesce(e.message, ''), 'culprit', e.culprit, 'location', NULL,
        'dateCreated', crashcache._api_time(e.timestamp), 'dateReceived', crashcache._api_time(e.received_at),
        'platform', e.platform, 'type', 'error', 'event.type', 'error',
        'tags', crashcache._api_event_tags(e),
        'user', CASE WHEN e.user_data IS NOT NULL OR e.user_key IS NOT NULL THEN jsonb_build_object(
                    'id', e.user_data->>'id', 'email', e.user_data->>'email',
                    'username', e.user_data->>'username', 'ip_address', e.user_data->>'ip_address',
                    'name', e.user_data->>'name') END,
        'metadata', jsonb_build_object('title', e.title), 'crashFile', NULL)
$$;

-- An event in full: the list's fields, what the SDK sent shaped as clients read it
-- (entries, contexts, user, sdk: _api_event_body() in Rust), and its neighbours in its issue.
CREATE FUNCTION crashcache._api_event_json(e crashcache.events)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT body || (item - 'user' - 'message')
           || jsonb_build_object(
                'message', coalesce(body->>'message', item->>'message'),
                'user', coalesce(body->'user', item->'user'),
                'previousEventID', (SELECT replace(p.event_id::text, '-', '') FROM crashcache.event p
                                    WHERE p.issue_id = e.issue_id AND (p.timestamp, p.id) < (e.timestamp, e.id)
                                    ORDER BY p.timestamp DESC, p.id DESC LIMIT 1),
                'nextEventID', (SELECT replace(n.event_id::text, '-', '') FROM crashcache.event n
                                WHERE n.issue_id = e.issue_id AND (n.timestamp, n.id) > (e.timestamp, e.id)
                                ORDER BY n.timestamp, n.id LIMIT 1),
                'userReport', NULL)
    FROM (SELECT crashcache._api_event_item(e) AS item,
                 crashcache._api_event_body(coalesce(crashcache.event_json(e.project_id, e.event_id), '{}')) AS body) x
$$;

CREATE FUNCTION crashcache._api_activity_json(a crashcache.issue_activity)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id::text, 'type', a.type, 'data', a.data, 'dateCreated', crashcache._api_time(a.created_at),
        'user', jsonb_build_object('id', a.actor, 'name', a.actor, 'username', a.actor, 'email', ''))
$$;

-- ===================================================================== lookups
CREATE FUNCTION crashcache._api_project(org text, project text)
RETURNS crashcache.project LANGUAGE plpgsql STABLE AS $$
DECLARE
    found crashcache.project;
BEGIN
    PERFORM crashcache._api_check_org(org);
    SELECT * INTO found FROM crashcache.project p
    WHERE p.slug = lower(project) OR p.id = CASE WHEN project ~ '^[0-9]{1,9}$' THEN project::int END;
    IF found IS NULL THEN
        RAISE EXCEPTION 'The requested resource does not exist: no project %', quote_literal(project)
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN found;
END
$$;

-- An issue by its id (digits) or its short id (SLUG-12), with events.
CREATE FUNCTION crashcache._api_issue(org text, issue text)
RETURNS crashcache.issue LANGUAGE plpgsql STABLE AS $$
DECLARE
    found crashcache.issue;
BEGIN
    PERFORM crashcache._api_check_org(org);
    IF issue ~ '^[0-9]{1,18}$' THEN
        SELECT * INTO found FROM crashcache.issue i WHERE i.id = issue::bigint AND i.event_count > 0;
    ELSIF issue ~ '^.+-[0-9]{1,18}$' THEN
        SELECT i.* INTO found FROM crashcache.issue i JOIN crashcache.project p ON p.id = i.project_id
        WHERE p.slug = lower(substring(issue FROM '^(.+)-[0-9]+$'))
          AND i.short_id = substring(issue FROM '-([0-9]+)$')::bigint AND i.event_count > 0;
    END IF;
    IF found IS NULL THEN
        RAISE EXCEPTION 'The requested resource does not exist: no issue %', quote_literal(issue)
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN found;
END
$$;

-- A page's size: `limit` or `per_page`, 1 to 100, 100 when not given.
CREATE FUNCTION crashcache._api_page_size(page_size int)
RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN page_size IS NULL THEN 100 ELSE least(greatest(page_size, 1), 100) END
$$;

-- A cursor's position: "value:id:0", both integers.
CREATE FUNCTION crashcache._api_cursor(cursor text)
RETURNS bigint[] LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF cursor IS NULL OR cursor = '' THEN
        RETURN NULL;
    END IF;
    IF cursor !~ '^-?[0-9]{1,19}:-?[0-9]{1,19}:[01]$' THEN
        RAISE EXCEPTION 'Invalid cursor parameter.' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN ARRAY[split_part(cursor, ':', 1)::bigint, split_part(cursor, ':', 2)::bigint];
END
$$;

CREATE FUNCTION crashcache._api_micros(t timestamptz)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (extract(epoch FROM t) * 1000000)::bigint
$$;

CREATE FUNCTION crashcache._api_from_micros(us bigint)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_timestamp(us / 1000000.0)
$$;

-- A parsed search (_parse_issue_query(), in Rust; its JSON shape is documented in
-- crashcache-core/src/web_api/search.rs) becomes a SQL condition, with its values quoted in:
-- plain comparisons the planner sees through, so that a list filters with index scans and no
-- function call per row. Each list means any of; the "negated" lists mean none of.

-- The text of a JSON array of strings as a SQL array literal of `type`, or NULL when empty.
CREATE FUNCTION crashcache._api_sql_list(list jsonb, type text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('%L::%s[]', ARRAY(SELECT jsonb_array_elements_text(list)), type)
    WHERE jsonb_typeof(list) = 'array' AND jsonb_array_length(list) > 0
$$;

-- A search term as a LIKE pattern that finds it literally anywhere.
CREATE FUNCTION crashcache._api_like(term text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '%' || replace(replace(replace(term, '\', '\\'), '%', '\%'), '_', '\_') || '%'
$$;

-- The condition on events `e` (a row of crashcache.event) for the event-level terms: tags,
-- environments, releases and an event id; with `own_terms`, also levels and free text (for
-- event lists: an issue has its own).
CREATE FUNCTION crashcache._api_event_filter(q jsonb, own_terms boolean)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    sql text := 'TRUE';
    list text;
    tag jsonb;
    tag_column text;
    dimension record;
BEGIN
    FOR dimension IN VALUES ('environments', 'dim_environment', 'environment_id'),
                            ('releases', 'dim_release', 'release_id') LOOP
        list := crashcache._api_sql_list(q->dimension.column1, 'text');
        IF list IS NOT NULL THEN
            sql := sql || format(' AND e.%s IN (SELECT d.id FROM crashcache.%s d WHERE d.name = ANY(%s) AND d.version = %L)',
                                 dimension.column3, dimension.column2, list, '');
        END IF;
        list := crashcache._api_sql_list(q->'negated'->dimension.column1, 'text');
        IF list IS NOT NULL THEN
            sql := sql || format(' AND (e.%1$s IS NULL OR e.%1$s <> ALL (ARRAY(SELECT d.id FROM crashcache.%2$s d WHERE d.name = ANY(%3$s) AND d.version = %4$L)))',
                                 dimension.column3, dimension.column2, list, '');
        END IF;
    END LOOP;
    IF q->>'event_id' IS NOT NULL THEN
        sql := sql || format(' AND e.event_id = %L::uuid', q->>'event_id');
    END IF;
    FOR tag IN SELECT t FROM jsonb_array_elements(coalesce(q->'tags', '[]')) t LOOP
        SELECT c.view_column INTO tag_column FROM crashcache._api_tag_columns() c WHERE c.key = tag->>'key';
        list := coalesce(crashcache._api_sql_list(tag->'values', 'text'), 'ARRAY[]::text[]');
        sql := sql || CASE WHEN coalesce((tag->>'negated')::boolean, false) THEN ' AND NOT ' ELSE ' AND ' END
            || CASE WHEN tag_column IS NULL
                    THEN format('coalesce(e.tags->>%L = ANY(%s), false)', tag->>'key', list)
                    ELSE format('EXISTS (SELECT FROM crashcache.events v WHERE v.id = e.id AND v.%s = ANY(%s))',
                                tag_column, list) END;
    END LOOP;
    IF own_terms THEN
        sql := sql || crashcache._api_common_filter(q, 'e', 'concat_ws('' '', e.title, e.message, e.culprit)');
    END IF;
    RETURN sql;
END
$$;

-- The terms an issue and an event both have: levels (of `alias`), and free text in `haystack`.
CREATE FUNCTION crashcache._api_common_filter(q jsonb, alias text, haystack text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    sql text := '';
    list text;
BEGIN
    list := crashcache._api_sql_list(q->'levels', 'crashcache.level');
    IF list IS NOT NULL THEN
        sql := sql || format(' AND %s.level = ANY(%s)', alias, list);
    END IF;
    list := crashcache._api_sql_list(q->'negated'->'levels', 'crashcache.level');
    IF list IS NOT NULL THEN
        sql := sql || format(' AND %s.level <> ALL(%s)', alias, list);
    END IF;
    list := crashcache._api_sql_list((SELECT jsonb_agg(crashcache._api_like(w)) FROM jsonb_array_elements_text(q->'text') w), 'text');
    IF list IS NOT NULL THEN
        sql := sql || format(' AND %s ILIKE ALL(%s)', haystack, list);
    END IF;
    list := crashcache._api_sql_list((SELECT jsonb_agg(crashcache._api_like(w)) FROM jsonb_array_elements_text(q->'negated'->'text') w), 'text');
    IF list IS NOT NULL THEN
        sql := sql || format(' AND NOT (%s ILIKE ANY(%s))', haystack, list);
    END IF;
    RETURN sql;
END
$$;

-- The condition on issues `i`: status, level, counts and ages, free text on title and
-- culprit; the event-level terms hold when one of the issue's events has them, as in Sentry.
CREATE FUNCTION crashcache._api_issue_filter(q jsonb)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    sql text := 'TRUE';
    list text;
    events text;
    bound record;
BEGIN
    IF coalesce((q->>'matches_none')::boolean, false) THEN
        RETURN 'FALSE';
    END IF;
    list := crashcache._api_sql_list(q->'statuses', 'crashcache.issue_status');
    IF list IS NOT NULL THEN
        sql := sql || format(' AND crashcache._current_status(i) = ANY(%s)', list);
    END IF;
    list := crashcache._api_sql_list(q->'negated'->'statuses', 'crashcache.issue_status');
    IF list IS NOT NULL THEN
        sql := sql || format(' AND crashcache._current_status(i) <> ALL(%s)', list);
    END IF;
    sql := sql || crashcache._api_common_filter(q, 'i', 'concat_ws('' '', i.title, i.culprit)');
    FOR bound IN VALUES ('times_seen_min', 'i.event_count >= %s'), ('times_seen_max', 'i.event_count <= %s'),
                        ('first_seen_max_age', 'i.first_seen >= now() - make_interval(secs => %s)'),
                        ('first_seen_min_age', 'i.first_seen <= now() - make_interval(secs => %s)'),
                        ('last_seen_max_age', 'i.last_seen >= now() - make_interval(secs => %s)'),
                        ('last_seen_min_age', 'i.last_seen <= now() - make_interval(secs => %s)') LOOP
        IF q->>bound.column1 IS NOT NULL THEN
            sql := sql || ' AND ' || format(bound.column2, (q->>bound.column1)::bigint);
        END IF;
    END LOOP;
    events := crashcache._api_event_filter(q, false);
    IF events <> 'TRUE' THEN
        sql := sql || format(' AND EXISTS (SELECT FROM crashcache.event e WHERE e.issue_id = i.id AND e.project_id = i.project_id AND %s)', events);
    END IF;
    RETURN sql;
END
$$;

-- ===================================================================== endpoints
-- GET /api/0/: what sentry-cli checks a token with.
CREATE FUNCTION crashcache.api_root(token_id int)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('version', '0',
        'auth', jsonb_build_object('scopes', to_jsonb(t.scopes)),
        'user', jsonb_build_object('id', t.id::text, 'name', t.name, 'username', t.name, 'email', ''))
    FROM crashcache.api_token t WHERE t.id = api_root.token_id
$$;

-- GET /api/0/auth/: who the token is.
CREATE FUNCTION crashcache.api_auth(token_id int)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('id', t.id::text, 'name', t.name, 'username', t.name, 'email', '',
                              'isActive', true, 'dateJoined', crashcache._api_time(t.created_at))
    FROM crashcache.api_token t WHERE t.id = api_auth.token_id
$$;

-- GET /api/0/organizations/
CREATE FUNCTION crashcache.api_organizations()
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('items', jsonb_build_array(crashcache._api_organization_json()), 'next', NULL)
$$;

-- GET /api/0/organizations/{org}/
CREATE FUNCTION crashcache.api_organization(org text)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM crashcache._api_check_org(org);
    RETURN crashcache._api_organization_json();
END
$$;

-- GET /api/0/organizations/{org}/projects/ (and /api/0/projects/): `query` matches name or slug.
CREATE FUNCTION crashcache.api_projects(org text, query text DEFAULT NULL, page_size int DEFAULT NULL,
                                        cursor text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    after bigint[] := crashcache._api_cursor(cursor);
    size int := crashcache._api_page_size(page_size);
    page jsonb;
    last_id int;
    more boolean;
BEGIN
    PERFORM crashcache._api_check_org(org);
    SELECT coalesce(jsonb_agg(crashcache._api_project_json(p) ORDER BY p.id), '[]'), max(p.id), count(*) > size
    INTO page, last_id, more
    FROM (SELECT * FROM crashcache.project p
          WHERE (after IS NULL OR p.id > after[2])
            AND (query IS NULL OR query = '' OR p.name ILIKE '%' || query || '%' OR p.slug ILIKE '%' || query || '%')
          ORDER BY p.id LIMIT size + 1) p;
    IF more THEN
        page := page - size;
        last_id := (page->-1->>'id')::int;
    END IF;
    RETURN jsonb_build_object('items', page, 'next', CASE WHEN more THEN '0:' || last_id || ':0' END);
END
$$;

-- GET /api/0/projects/{org}/{project}/
CREATE FUNCTION crashcache.api_project(org text, project text)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT crashcache._api_project_json(crashcache._api_project(org, project))
$$;

-- GET /api/0/projects/{org}/{project}/issues/ and /api/0/organizations/{org}/issues/.
-- `query` NULL means is:unresolved (Sentry's default); '' means every issue. `projects` are
-- ids or slugs (-1: all). `stats_period` (org route) keeps issues seen within it. Sorts:
-- date (last seen, the default), new (first seen), freq (events), user (users).
CREATE FUNCTION crashcache.api_issues(org text, project text DEFAULT NULL, projects text[] DEFAULT NULL,
                                      query text DEFAULT NULL, sort text DEFAULT NULL,
                                      stats_period text DEFAULT NULL, page_size int DEFAULT NULL,
                                      cursor text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    q jsonb := crashcache._parse_issue_query(coalesce(query, 'is:unresolved'));
    period_seconds bigint := crashcache._parse_stats_period(coalesce(stats_period, ''));
    after bigint[] := crashcache._api_cursor(cursor);
    size int := crashcache._api_page_size(page_size);
    only_projects int[];
    sort_key text;
    sort_value text;
    rows jsonb;
BEGIN
    PERFORM crashcache._api_check_org(org);
    IF project IS NOT NULL THEN
        only_projects := ARRAY[(crashcache._api_project(org, project)).id];
    ELSIF projects IS NOT NULL AND NOT '-1' = ANY(projects) THEN
        only_projects := ARRAY(SELECT (crashcache._api_project(org, x)).id FROM unnest(projects) x);
    END IF;
    sort_key := CASE coalesce(nullif(sort, ''), 'date')
        WHEN 'date' THEN 'last_seen' WHEN 'new' THEN 'first_seen'
        WHEN 'freq' THEN 'event_count' WHEN 'user' THEN 'user_count'
        -- Sentry's other orders need data we do not have: the most recent first.
        WHEN 'priority' THEN 'last_seen' WHEN 'recommended' THEN 'last_seen'
        WHEN 'trends' THEN 'last_seen' WHEN 'inbox' THEN 'last_seen'
    END;
    IF sort_key IS NULL THEN
        RAISE EXCEPTION 'Invalid sort: %', quote_literal(sort) USING ERRCODE = 'invalid_parameter_value',
            HINT = 'date, new, freq or user';
    END IF;
    -- The cursor holds the sort value as an integer: a time in microseconds, or a count.
    sort_value := CASE WHEN sort_key LIKE '%\_seen' THEN format('crashcache._api_micros(i.%s)', sort_key)
                       ELSE 'i.' || sort_key END;
    EXECUTE format($q$
        SELECT jsonb_agg(jsonb_build_object('issue', crashcache._api_issue_json(s.found, p), 'key', s.key,
                                            'id', (s.found).id) ORDER BY s.n)
        FROM (SELECT i AS found, %2$s AS key, row_number() OVER (ORDER BY i.%1$s DESC, i.id DESC) AS n
              FROM crashcache.issue i
              WHERE i.event_count > 0 AND i.last_seen IS NOT NULL
                AND ($1 IS NULL OR i.project_id = ANY($1))
                AND ($2 IS NULL OR i.last_seen >= now() - make_interval(secs => $2))
                AND ($3 IS NULL OR (i.%1$s, i.id) < (%3$s, $3[2]))
                AND %4$s
              ORDER BY i.%1$s DESC, i.id DESC LIMIT $4 + 1) s
        JOIN crashcache.project p ON p.id = (s.found).project_id $q$,
        sort_key, sort_value,
        CASE WHEN sort_key LIKE '%\_seen' THEN 'crashcache._api_from_micros($3[1])' ELSE '$3[1]' END,
        crashcache._api_issue_filter(q))
    INTO rows USING only_projects, period_seconds, after, size;
    rows := coalesce(rows, '[]');
    RETURN jsonb_build_object(
        'items', coalesce((SELECT jsonb_agg(r->'issue' ORDER BY n) FROM jsonb_array_elements(rows) WITH ORDINALITY x(r, n)
                           WHERE n <= size), '[]'),
        'next', CASE WHEN jsonb_array_length(rows) > size
                     THEN (rows->(size - 1)->>'key') || ':' || (rows->(size - 1)->>'id') || ':0' END);
END
$$;

-- GET /api/0/issues/{issue}/ and /api/0/organizations/{org}/issues/{issue}/ (id or short id):
-- the issue with its latest activity.
CREATE FUNCTION crashcache.api_issue(org text, issue text)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT crashcache._api_issue_json(i, p)
           || jsonb_build_object(
                'activity', coalesce((SELECT jsonb_agg(crashcache._api_activity_json(a) ORDER BY a.id DESC)
                                      FROM (SELECT * FROM crashcache.issue_activity a WHERE a.issue_id = i.id
                                            ORDER BY a.id DESC LIMIT 100) a), '[]'),
                'seenBy', '[]'::jsonb, 'participants', '[]'::jsonb, 'pluginActions', '[]'::jsonb,
                'pluginIssues', '[]'::jsonb, 'firstRelease', NULL, 'lastRelease', NULL,
                'userReportCount', (SELECT count(*) FROM crashcache.feedback f
                                    WHERE f.project_id = i.project_id
                                      AND f.event_id IN (SELECT e.event_id FROM crashcache.event e WHERE e.issue_id = i.id)))
    FROM crashcache._api_issue(org, issue) i
    JOIN crashcache.project p ON p.id = i.project_id
$$;

-- The status change a PUT body asks for, checked: (status, details) or NULL for none.
CREATE FUNCTION crashcache._api_status_change(i crashcache.issue, body jsonb)
RETURNS TABLE (status crashcache.issue_status, details jsonb, activity text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    asked text := body->>'status';
    given jsonb := coalesce(body->'statusDetails', '{}');
    ignore jsonb;
BEGIN
    IF jsonb_typeof(body) <> 'object' THEN
        RAISE EXCEPTION 'The body must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF body ? 'assignedTo' AND body->'assignedTo' <> 'null' AND body->>'assignedTo' <> '' THEN
        RAISE EXCEPTION 'Assigning issues is not supported' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF body ? 'merge' OR body ? 'discard' THEN
        RAISE EXCEPTION 'Merging and discarding issues are not supported' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF asked IS NULL AND body->>'substatus' LIKE 'archived%' THEN
        asked := 'ignored';
    END IF;
    IF jsonb_typeof(given) <> 'object' THEN
        RAISE EXCEPTION 'statusDetails must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    CASE asked
    WHEN 'resolved' THEN
        IF coalesce((given->>'inNextRelease')::boolean, false) THEN
            RETURN QUERY SELECT 'resolved'::crashcache.issue_status, jsonb_build_object('inNextRelease', true),
                                'set_resolved_in_release';
        ELSIF given ? 'inRelease' THEN
            RETURN QUERY SELECT 'resolved'::crashcache.issue_status, jsonb_build_object('inRelease', given->>'inRelease'),
                                'set_resolved_in_release';
        ELSE
            RETURN QUERY SELECT 'resolved'::crashcache.issue_status, '{}'::jsonb, 'set_resolved';
        END IF;
    WHEN 'resolvedInNextRelease' THEN
        RETURN QUERY SELECT 'resolved'::crashcache.issue_status, jsonb_build_object('inNextRelease', true),
                            'set_resolved_in_release';
    WHEN 'unresolved' THEN
        RETURN QUERY SELECT 'unresolved'::crashcache.issue_status, '{}'::jsonb, 'set_unresolved';
    WHEN 'ignored', 'muted', 'archived' THEN
        -- The conditions may come in statusDetails or at the top of the body (both are sent).
        ignore := jsonb_strip_nulls(jsonb_build_object(
            'ignoreDuration', coalesce(given->'ignoreDuration', body->'ignoreDuration', body->'snoozeDuration'),
            'ignoreCount', coalesce(given->'ignoreCount', body->'ignoreCount'),
            'ignoreWindow', coalesce(given->'ignoreWindow', body->'ignoreWindow'),
            'ignoreUserCount', coalesce(given->'ignoreUserCount', body->'ignoreUserCount'),
            'ignoreUserWindow', coalesce(given->'ignoreUserWindow', body->'ignoreUserWindow')));
        IF EXISTS (SELECT FROM jsonb_each(ignore) c WHERE jsonb_typeof(c.value) <> 'number' OR (c.value #>> '{}')::numeric <= 0) THEN
            RAISE EXCEPTION 'ignoreDuration, ignoreCount, ignoreWindow, ignoreUserCount and ignoreUserWindow must be positive numbers'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF ignore ? 'ignoreDuration' THEN
            ignore := ignore || jsonb_build_object('ignoreUntil',
                crashcache._api_time(now() + make_interval(mins => (ignore->>'ignoreDuration')::int)));
        END IF;
        IF ignore ? 'ignoreCount' THEN
            ignore := ignore || jsonb_build_object('_eventsAtIgnore', i.event_count);
        END IF;
        IF ignore ? 'ignoreUserCount' THEN
            ignore := ignore || jsonb_build_object('_usersAtIgnore', i.user_count);
        END IF;
        RETURN QUERY SELECT 'ignored'::crashcache.issue_status, ignore, 'set_ignored';
    ELSE
        IF asked IS NOT NULL THEN
            RAISE EXCEPTION 'Unknown status %', quote_literal(asked) USING ERRCODE = 'invalid_parameter_value',
                HINT = 'resolved, resolvedInNextRelease, unresolved, ignored or muted';
        END IF;
    END CASE;
END
$$;

-- Applies a status change to one issue, with its activity row. Returns whether it changed.
CREATE FUNCTION crashcache._api_set_status(i crashcache.issue, body jsonb, actor text)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    change record;
BEGIN
    SELECT * INTO change FROM crashcache._api_status_change(i, body);
    IF change.status IS NULL THEN
        RETURN false;
    END IF;
    UPDATE crashcache.issue u
    SET status = change.status, status_details = change.details,
        status_changed_at = CASE WHEN u.status = change.status AND u.status_details = change.details
                                 THEN u.status_changed_at ELSE now() END
    WHERE u.id = i.id;
    INSERT INTO crashcache.issue_activity (project_id, issue_id, type, data, actor)
    VALUES (i.project_id, i.id, change.activity, change.details - '_eventsAtIgnore' - '_usersAtIgnore', actor);
    RETURN true;
END
$$;

-- PUT /api/0/issues/{issue}/ and /api/0/organizations/{org}/issues/{issue}/: returns the issue.
CREATE FUNCTION crashcache.api_update_issue(org text, issue text, body jsonb, actor text)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found crashcache.issue := crashcache._api_issue(org, issue);
BEGIN
    PERFORM FROM crashcache.issue i WHERE i.id = found.id FOR NO KEY UPDATE;
    PERFORM crashcache._api_set_status(found, coalesce(body, '{}'), actor);
    RETURN crashcache.api_issue(org, found.id::text);
END
$$;

-- PUT /api/0/projects/{org}/{project}/issues/ (sentry-cli's resolve, unresolve and mute): the
-- issues given by `ids`, else those `query` finds (is:unresolved unless given, as Sentry does;
-- `status` narrows it to one status), at most 1,000. Returns the fields changed.
CREATE FUNCTION crashcache.api_bulk_update_issues(org text, project text, ids text[] DEFAULT NULL,
                                                  status text DEFAULT NULL, query text DEFAULT NULL,
                                                  body jsonb DEFAULT '{}', actor text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p crashcache.project := crashcache._api_project(org, project);
    q jsonb := crashcache._parse_issue_query(concat_ws(' ', coalesce(query, CASE WHEN status IS NULL THEN 'is:unresolved' END),
                                                       'is:' || status));
    target crashcache.issue;
    changed jsonb;
BEGIN
    IF ids IS NOT NULL AND EXISTS (SELECT FROM unnest(ids) x WHERE x !~ '^[0-9]{1,18}$') THEN
        RAISE EXCEPTION 'Issue ids must be numbers' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR target IN EXECUTE format(
        'SELECT i.* FROM crashcache.issue i WHERE i.project_id = $1 AND i.event_count > 0 AND %s
         ORDER BY i.id LIMIT 1000 FOR NO KEY UPDATE',
        CASE WHEN ids IS NOT NULL THEN 'i.id = ANY($2::bigint[])' ELSE crashcache._api_issue_filter(q) END)
        USING p.id, ids
    LOOP
        PERFORM crashcache._api_set_status(target, coalesce(body, '{}'), actor);
    END LOOP;
    SELECT jsonb_build_object('status', s.status, 'statusDetails', s.details - '_eventsAtIgnore' - '_usersAtIgnore')
    INTO changed
    FROM crashcache._api_status_change((SELECT i FROM crashcache.issue i WHERE i.project_id = p.id LIMIT 1), coalesce(body, '{}')) s;
    RETURN coalesce(changed, '{}');
END
$$;

-- A page of events, newest first: the events `filter` finds, after the cursor.
CREATE FUNCTION crashcache._api_event_page(only_issue bigint, only_project int, q jsonb, period_seconds bigint,
                                           cursor text, page_size int, full_events boolean)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    after bigint[] := crashcache._api_cursor(cursor);
    size int := crashcache._api_page_size(page_size);
    rows jsonb;
BEGIN
    -- The page is found in the event table; only its rows are then read through the events
    -- view (one lookup each), which a join would read whole.
    EXECUTE format($q$
        SELECT jsonb_agg(jsonb_build_object(
                   'event', CASE WHEN $6 THEN crashcache._api_event_json(x.v) ELSE crashcache._api_event_item(x.v) END,
                   'key', crashcache._api_micros(x.timestamp), 'id', x.id)
                   ORDER BY x.timestamp DESC, x.id DESC)
        FROM (SELECT page.id, page.timestamp, (SELECT v FROM crashcache.events v WHERE v.id = page.id) AS v
              FROM (SELECT e.id, e.timestamp FROM crashcache.event e
                    WHERE ($1 IS NULL OR e.issue_id = $1)
                      AND ($2 IS NULL OR e.project_id = $2)
                      AND ($3 IS NULL OR e.timestamp >= now() - make_interval(secs => $3))
                      AND ($4 IS NULL OR (e.timestamp, e.id) < (crashcache._api_from_micros($4[1]), $4[2]))
                      AND %s
                    ORDER BY e.timestamp DESC, e.id DESC LIMIT $5 + 1) page) x $q$,
        crashcache._api_event_filter(q, true))
    INTO rows USING only_issue, only_project, period_seconds, after, size, full_events;
    rows := coalesce(rows, '[]');
    RETURN jsonb_build_object(
        'items', coalesce((SELECT jsonb_agg(r->'event' ORDER BY n) FROM jsonb_array_elements(rows) WITH ORDINALITY x(r, n)
                           WHERE n <= size), '[]'),
        'next', CASE WHEN jsonb_array_length(rows) > size
                     THEN (rows->(size - 1)->>'key') || ':' || (rows->(size - 1)->>'id') || ':0' END);
END
$$;

-- GET /api/0/(organizations/{org}/)issues/{issue}/events/
CREATE FUNCTION crashcache.api_issue_events(org text, issue text, query text DEFAULT NULL,
                                            stats_period text DEFAULT NULL, page_size int DEFAULT NULL,
                                            cursor text DEFAULT NULL, full_events boolean DEFAULT false)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT crashcache._api_event_page((crashcache._api_issue(org, issue)).id, NULL,
                                      crashcache._parse_issue_query(coalesce(query, '')),
                                      crashcache._parse_stats_period(coalesce(stats_period, '')),
                                      cursor, page_size, coalesce(full_events, false))
$$;

-- GET /api/0/projects/{org}/{project}/events/
CREATE FUNCTION crashcache.api_project_events(org text, project text, query text DEFAULT NULL,
                                              stats_period text DEFAULT NULL, page_size int DEFAULT NULL,
                                              cursor text DEFAULT NULL, full_events boolean DEFAULT false)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT crashcache._api_event_page(NULL, (crashcache._api_project(org, project)).id,
                                      crashcache._parse_issue_query(coalesce(query, '')),
                                      crashcache._parse_stats_period(coalesce(stats_period, '')),
                                      cursor, page_size, coalesce(full_events, false))
$$;

-- An event id in the forms clients send: 32 hex digits, with or without dashes.
CREATE FUNCTION crashcache._api_event_id(event text)
RETURNS uuid LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF event !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' THEN
        RAISE EXCEPTION 'Invalid event id %: 32 hexadecimal digits expected', quote_literal(event)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN event::uuid;
END
$$;

-- GET /api/0/(organizations/{org}/)issues/{issue}/events/{latest|oldest|recommended|event id}/
CREATE FUNCTION crashcache.api_issue_event(org text, issue text, event text)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    i crashcache.issue := crashcache._api_issue(org, issue);
    found crashcache.events;
BEGIN
    IF event IN ('latest', 'recommended') THEN
        SELECT * INTO found FROM crashcache.events e WHERE e.issue_id = i.id ORDER BY e.timestamp DESC, e.id DESC LIMIT 1;
    ELSIF event = 'oldest' THEN
        SELECT * INTO found FROM crashcache.events e WHERE e.issue_id = i.id ORDER BY e.timestamp, e.id LIMIT 1;
    ELSE
        SELECT * INTO found FROM crashcache.events e
        WHERE e.project_id = i.project_id AND e.event_id = crashcache._api_event_id(event) AND e.issue_id = i.id;
    END IF;
    IF found.id IS NULL THEN
        RAISE EXCEPTION 'The requested resource does not exist: no event % in issue %', quote_literal(event), i.id
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN crashcache._api_event_json(found);
END
$$;

-- GET /api/0/projects/{org}/{project}/events/{event id}/
CREATE FUNCTION crashcache.api_project_event(org text, project text, event text)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p crashcache.project := crashcache._api_project(org, project);
    found crashcache.events;
BEGIN
    SELECT * INTO found FROM crashcache.events e
    WHERE e.project_id = p.id AND e.event_id = crashcache._api_event_id(event);
    IF found.id IS NULL THEN
        RAISE EXCEPTION 'The requested resource does not exist: no event %', quote_literal(event)
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN crashcache._api_event_json(found);
END
$$;

-- Every tag value of an issue's events with its count and first and last time: what the tag
-- endpoints aggregate. One grouped scan per dimension (the events view joins only the
-- dimension asked for), and one over the events' own tags.
CREATE FUNCTION crashcache._api_issue_tag_values(issue_id bigint, only_key text DEFAULT NULL)
RETURNS TABLE (key text, value text, count bigint, first_seen timestamptz, last_seen timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    dimension record;
BEGIN
    FOR dimension IN SELECT c.key, c.view_column FROM crashcache._api_tag_columns() c
                     WHERE only_key IS NULL OR c.key = only_key LOOP
        RETURN QUERY EXECUTE format(
            'SELECT %L::text, e.%s, count(*), min(e.timestamp), max(e.timestamp) FROM crashcache.events e
             WHERE e.issue_id = $1 AND e.%s IS NOT NULL GROUP BY 2', dimension.key, dimension.view_column,
            dimension.view_column)
        USING issue_id;
    END LOOP;
    RETURN QUERY
        SELECT t.key, t.value, count(*), min(e.timestamp), max(e.timestamp)
        FROM crashcache.event e
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(e.tags) = 'object' THEN e.tags END) t
        WHERE e.issue_id = _api_issue_tag_values.issue_id
          AND (only_key IS NULL OR t.key = only_key)
          AND t.key NOT IN (SELECT c.key FROM crashcache._api_tag_columns() c)
        GROUP BY 1, 2;
END
$$;

CREATE FUNCTION crashcache._api_tag_json(key text, tag_values jsonb, total bigint)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('key', key, 'name', key, 'totalValues', total,
                              'uniqueValues', jsonb_array_length(tag_values),
                              'topValues', coalesce((SELECT jsonb_agg(v) FROM (
                                  SELECT v FROM jsonb_array_elements(tag_values) v LIMIT 9) top), '[]'))
$$;

CREATE FUNCTION crashcache._api_tag_value_json(key text, value text, count bigint, first_seen timestamptz,
                                               last_seen timestamptz)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('key', key, 'name', value, 'value', value, 'count', count,
                              'firstSeen', crashcache._api_time(first_seen),
                              'lastSeen', crashcache._api_time(last_seen))
$$;

-- GET /api/0/(organizations/{org}/)issues/{issue}/tags/
CREATE FUNCTION crashcache.api_issue_tags(org text, issue text)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(jsonb_agg(crashcache._api_tag_json(k.key, k.tag_values, k.total) ORDER BY k.total DESC, k.key), '[]')
    FROM (SELECT v.key, sum(v.count)::bigint AS total,
                 jsonb_agg(crashcache._api_tag_value_json(v.key, v.value, v.count, v.first_seen, v.last_seen)
                           ORDER BY v.count DESC, v.value) AS tag_values
          FROM crashcache._api_issue_tag_values((crashcache._api_issue(org, issue)).id) v
          GROUP BY v.key) k
$$;

-- GET /api/0/(organizations/{org}/)issues/{issue}/tags/{key}/
CREATE FUNCTION crashcache.api_issue_tag(org text, issue text, key text)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found jsonb;
BEGIN
    SELECT crashcache._api_tag_json(api_issue_tag.key, jsonb_agg(crashcache._api_tag_value_json(v.key, v.value, v.count, v.first_seen, v.last_seen)
                                                       ORDER BY v.count DESC, v.value), sum(v.count)::bigint)
    INTO found
    FROM crashcache._api_issue_tag_values((crashcache._api_issue(org, issue)).id, api_issue_tag.key) v
    HAVING count(*) > 0;
    IF found IS NULL THEN
        RAISE EXCEPTION 'The requested resource does not exist: no tag % on this issue', quote_literal(key)
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN found;
END
$$;

-- GET /api/0/(organizations/{org}/)issues/{issue}/tags/{key}/values/
CREATE FUNCTION crashcache.api_issue_tag_values(org text, issue text, key text, page_size int DEFAULT NULL)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('items', coalesce(jsonb_agg(j.v ORDER BY j.n), '[]'), 'next', NULL)
    FROM (SELECT crashcache._api_tag_value_json(v.key, v.value, v.count, v.first_seen, v.last_seen) AS v,
                 row_number() OVER (ORDER BY v.count DESC, v.value) AS n
          FROM crashcache._api_issue_tag_values((crashcache._api_issue(org, issue)).id, api_issue_tag_values.key) v
          ORDER BY v.count DESC, v.value LIMIT crashcache._api_page_size(page_size)) j
$$;

-- GET /api/0/(organizations/{org}/)issues/{issue}/(notes|comments)/, newest first.
CREATE FUNCTION crashcache.api_issue_notes(org text, issue text, page_size int DEFAULT NULL, cursor text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    i crashcache.issue := crashcache._api_issue(org, issue);
    after bigint[] := crashcache._api_cursor(cursor);
    size int := crashcache._api_page_size(page_size);
    rows jsonb;
BEGIN
    SELECT jsonb_agg(crashcache._api_activity_json(a) ORDER BY a.id DESC) INTO rows
    FROM (SELECT * FROM crashcache.issue_activity a
          WHERE a.issue_id = i.id AND a.type = 'note' AND (after IS NULL OR a.id < after[2])
          ORDER BY a.id DESC LIMIT size + 1) a;
    rows := coalesce(rows, '[]');
    RETURN jsonb_build_object(
        'items', CASE WHEN jsonb_array_length(rows) > size THEN rows - size ELSE rows END,
        'next', CASE WHEN jsonb_array_length(rows) > size THEN '0:' || (rows->(size - 1)->>'id') || ':0' END);
END
$$;

-- POST /api/0/(organizations/{org}/)issues/{issue}/(notes|comments)/ with {"text": ...}: the
-- note, as Sentry answers it (201). The same text from the same token within an hour is
-- refused, as Sentry does.
CREATE FUNCTION crashcache.api_add_issue_note(org text, issue text, body jsonb, actor text)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    i crashcache.issue := crashcache._api_issue(org, issue);
    note text := CASE WHEN jsonb_typeof(body) = 'object' THEN coalesce(body->>'text', body->'data'->>'text') END;
    added crashcache.issue_activity;
BEGIN
    IF note IS NULL OR btrim(note) = '' THEN
        RAISE EXCEPTION 'A note needs a text: {"text": "..."}' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF length(note) > 10000 THEN
        RAISE EXCEPTION 'A note is at most 10000 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM crashcache.issue_activity a
               WHERE a.issue_id = i.id AND a.type = 'note' AND a.actor = api_add_issue_note.actor
                 AND a.data->>'text' = note AND a.created_at > now() - interval '1 hour') THEN
        RAISE EXCEPTION 'You have already posted that comment.' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO crashcache.issue_activity (project_id, issue_id, type, data, actor)
    VALUES (i.project_id, i.id, 'note', jsonb_build_object('text', note), actor)
    RETURNING * INTO added;
    RETURN crashcache._api_activity_json(added);
END
$$;

-- GET /api/0/(organizations/{org}/)issues/{issue}/activities/: notes and status changes,
-- newest first, and when the issue was first seen.
CREATE FUNCTION crashcache.api_issue_activities(org text, issue text)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('activity',
        coalesce((SELECT jsonb_agg(crashcache._api_activity_json(a) ORDER BY a.id DESC)
                  FROM (SELECT * FROM crashcache.issue_activity a WHERE a.issue_id = i.id
                        ORDER BY a.id DESC LIMIT 100) a), '[]')
        || jsonb_build_array(jsonb_build_object('id', 'first-seen-' || i.id, 'type', 'first_seen', 'data', '{}'::jsonb,
                                                'dateCreated', crashcache._api_time(i.first_seen), 'user', NULL)))
    FROM crashcache._api_issue(org, issue) i
$$;

-- Only the API's role calls the API (sql/roles.sql grants it).
DO $$
DECLARE
    endpoint regprocedure;
BEGIN
    FOR endpoint IN SELECT p.oid FROM pg_proc p
                    WHERE p.pronamespace = 'crashcache'::regnamespace AND p.proname LIKE 'api\_%' LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', endpoint);
    END LOOP;
END
$$;

-- Existing projects get their slugs, one after the other so that each sees the ones before;
-- existing issues their numbers, in the order they were made.
DO $$
DECLARE
    named record;
BEGIN
    FOR named IN SELECT p.id, p.name FROM crashcache.project p ORDER BY p.id LOOP
        UPDATE crashcache.project p SET slug = crashcache._free_slug(named.name) WHERE p.id = named.id;
    END LOOP;
END
$$;
UPDATE crashcache.issue i SET short_id = n.short_id
FROM (SELECT id, row_number() OVER (PARTITION BY project_id ORDER BY id) AS short_id FROM crashcache.issue) n
WHERE i.id = n.id;
UPDATE crashcache.project p SET last_short_id = coalesce((SELECT max(i.short_id) FROM crashcache.issue i
                                                         WHERE i.project_id = p.id), 0);
ALTER TABLE crashcache.project ALTER COLUMN slug SET NOT NULL;
ALTER TABLE crashcache.project ADD CONSTRAINT project_slug_key UNIQUE (slug);
ALTER TABLE crashcache.project ADD CONSTRAINT project_slug_check CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,49}$');
ALTER TABLE crashcache.issue ALTER COLUMN short_id SET NOT NULL;
ALTER TABLE crashcache.issue ADD CONSTRAINT issue_project_id_short_id_key UNIQUE (project_id, short_id);

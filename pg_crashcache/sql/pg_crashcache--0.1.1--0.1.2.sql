-- pg_crashcache 0.1.1 -> 0.1.2: retention, pg_cron maintenance, least-privilege readers.
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
    -- In id order, as the digest takes them, so that neither deadlocks the other.
    PERFORM FROM crashcache.issue i WHERE i.id = ANY(expired_issues) ORDER BY i.id FOR NO KEY UPDATE;
    UPDATE crashcache.issue i SET expired_events = i.expired_events + c.events
    FROM (SELECT u.issue_id, count(*) AS events FROM unnest(expired_issues) u(issue_id) GROUP BY u.issue_id) c
    WHERE i.id = c.issue_id;
    FOR digested IN SELECT t FROM crashcache._digested_tables() t WHERE t <> 'crashcache.event'::regclass LOOP
        EXECUTE format('DELETE FROM %s WHERE archive_id = ANY($1)', digested) USING archives;
    END LOOP;
    -- Their queue and queue_error rows go with them (ON DELETE CASCADE).
    DELETE FROM crashcache.archive a WHERE a.id = ANY(archives);
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
            FROM crashcache.issue i
            JOIN crashcache.retention_policies r ON r.project_id = i.project_id
            CROSS JOIN LATERAL (SELECT count(*) AS kept FROM crashcache.event e WHERE e.issue_id = i.id) n
            CROSS JOIN LATERAL (
                SELECT e.archive_id FROM crashcache.event e WHERE e.issue_id = i.id
                ORDER BY e.timestamp DESC, e.id DESC
                OFFSET r.max_events_per_issue - r.max_events_per_issue / 2
                LIMIT greatest(n.kept - r.max_events_per_issue, 0)) e
            WHERE r.max_events_per_issue IS NOT NULL
              AND i.event_count - i.expired_events > r.max_events_per_issue
              AND NOT EXISTS (SELECT FROM crashcache.transaction t WHERE t.archive_id = e.archive_id)
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
            -- A digest worker took the same rows the other way round: try the batch again.
            conflicts := conflicts + 1;
            IF conflicts > 10 THEN
                RAISE;
            END IF;
            done := -1;
        END;
        COMMIT;
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

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
-- in their issues and their issues' hours (which keep counting them). A worker digesting
-- one of them is waited for (its queue row is locked), so that no row it writes outlives its
-- archive.
CREATE FUNCTION crashcache._delete_archives(archives bigint[])
RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    expired_issues bigint[];
    expired_hours timestamptz[];
    digested regclass;
BEGIN
    PERFORM FROM crashcache.queue q WHERE q.archive_id = ANY(archives) ORDER BY q.archive_id FOR UPDATE;
    WITH gone AS (DELETE FROM crashcache.event e WHERE e.archive_id = ANY(archives)
                  RETURNING e.issue_id, date_trunc('hour', e.timestamp, 'UTC') AS hour)
    SELECT array_agg(g.issue_id), array_agg(g.hour) INTO expired_issues, expired_hours FROM gone g;
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
    UPDATE crashcache.issue_hour h SET expired_events = h.expired_events + c.events
    FROM (SELECT u.issue_id, u.hour, count(*) AS events FROM unnest(expired_issues, expired_hours) u(issue_id, hour)
          GROUP BY u.issue_id, u.hour) c
    WHERE h.issue_id = c.issue_id AND h.hour = c.hour;
    FOR digested IN SELECT t FROM crashcache._digested_tables() t WHERE t <> 'crashcache.event'::regclass LOOP
        EXECUTE format('DELETE FROM %s WHERE archive_id = ANY($1)', digested) USING archives;
    END LOOP;
END
$$;

-- One batch of retention, at most batch_size archives or issues, in this order: payloads
-- past their age; then events past their issue's maximum, oldest first after the first half,
-- each with its payload; then issues' hours that ended before their project's age; then
-- issues past their age with no event left. Returns how many archives, hours or issues it
-- deleted: 0 when nothing is left to do.
CREATE FUNCTION crashcache._expire_batch(batch_size int)
RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    archives bigint[];
    issues bigint[];
    deleted_hours bigint;
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

    -- Hours go by event time, not by arrival: an event an SDK sent long after it happened
    -- may outlive its hour (ruminate counts it again). Hours the digest is counting into are
    -- skipped, so that neither waits for the other; the next run takes them.
    DELETE FROM crashcache.issue_hour h
    WHERE (h.issue_id, h.hour) IN (
        SELECT o.issue_id, o.hour FROM crashcache.retention_policies r
        CROSS JOIN LATERAL (
            SELECT h.issue_id, h.hour FROM crashcache.issue_hour h
            WHERE h.project_id = r.project_id
              AND h.hour < now() - make_interval(days => r.max_age_days) - interval '1 hour'
            LIMIT batch_size FOR UPDATE SKIP LOCKED) o
        WHERE r.max_age_days IS NOT NULL
        LIMIT batch_size);
    GET DIAGNOSTICS deleted_hours = ROW_COUNT;
    IF deleted_hours > 0 THEN
        RETURN deleted_hours;
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

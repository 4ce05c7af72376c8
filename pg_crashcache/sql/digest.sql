-- The SQL half of digesting: claiming queued payloads and writing the rows the workers made
-- of them. Rows arrive typed: one composite type per kind of row (_event_row, ...), whose
-- columns are those its Rust row writes, in the same order (crashcache-core's digest::rows;
-- the extension's contract test compares the two). The worker unnests one typed array per
-- column into an array of the composite type and calls the kind's _store_* function, in the
-- order of crashcache-core's digest::visit_tables. Dimension values arrive as ids, made by
-- _dimension_ids() first; times are settled (clock skew, arrival time) and {{auto}} addresses
-- resolved in Rust.
--
-- Every function here runs with jit = off: their estimates come from arrays and small,
-- often never-analyzed tables, and compiling a plan costs far more than running it.

-- Takes up to batch_size payloads off the queue (or only the given one), oldest first,
-- skipping those another worker holds, and no more than max_bytes of decoded payload (but
-- always at least one), so that a run of huge envelopes cannot exhaust a worker's memory.
-- The rows stay claimed until the transaction ends.
CREATE FUNCTION crashcache._claim(batch_size int, max_bytes bigint, only_archive bigint DEFAULT NULL)
RETURNS TABLE (archive_id bigint, kind text, codec smallint, body bytea, content_hash bytea,
               project_id int, received_at timestamptz, client_ip text)
-- SQL, planned for each call: a generic plan (PL/pgSQL's, after five calls) joins the whole
-- archive instead of looking up the claimed payloads, which took nearly all of a worker's
-- CPU once the archive was large.
LANGUAGE sql VOLATILE SET jit = off AS $$
    WITH locked AS (
        SELECT c.archive_id FROM crashcache.queue c
        WHERE only_archive IS NULL OR c.archive_id = only_archive
        ORDER BY c.archive_id
        LIMIT batch_size
        FOR UPDATE SKIP LOCKED
    ), sized AS (
        SELECT l.archive_id,
               sum(a.raw_size::bigint) OVER (ORDER BY l.archive_id) - a.raw_size AS before
        FROM locked l JOIN crashcache.archive a ON a.id = l.archive_id
    ), claimed AS (
        DELETE FROM crashcache.queue q
        WHERE q.archive_id IN (SELECT s.archive_id FROM sized s WHERE s.before < max_bytes)
        RETURNING q.archive_id)
    SELECT a.id, a.kind, a.codec, a.body, a.content_hash, a.project_id, a.received_at,
           host(a.client_ip)
    FROM claimed JOIN crashcache.archive a ON a.id = claimed.archive_id
    ORDER BY a.id
$$;

-- Moves a payload to the error queue (the archive stays): one that could not be digested,
-- or whose rows the database refused.
CREATE FUNCTION crashcache._fail_payload(archive_id bigint, reason text)
RETURNS void LANGUAGE sql VOLATILE AS $$
    DELETE FROM crashcache.queue q WHERE q.archive_id = _fail_payload.archive_id;
    INSERT INTO crashcache.queue_error (archive_id, project_id, reason)
    SELECT a.id, a.project_id, reason FROM crashcache.archive a WHERE a.id = _fail_payload.archive_id
    ON CONFLICT (archive_id) DO UPDATE SET reason = EXCLUDED.reason, failed_at = now();
$$;

-- The ids of dimension values (dim_tables[i] names the table of names[i], versions[i]),
-- inserting those that are new; n is i. Rows another worker inserts at the same time are
-- waited for by ON CONFLICT and seen by the next statement: race-free. The values go in one
-- total order (table, name, version), so that two workers inserting the same new values
-- wait for each other in the same order instead of deadlocking. The worker keeps the ids it
-- learns once its transaction commits: a dimension row never changes and is never deleted.
CREATE FUNCTION crashcache._dimension_ids(dim_tables text[], names text[], versions text[])
RETURNS TABLE (n bigint, id int) LANGUAGE plpgsql VOLATILE SET jit = off AS $$
DECLARE
    d record;
BEGIN
    FOR d IN
        SELECT v.dim, array_agg(v.n ORDER BY v.name, v.version) AS ns,
               array_agg(v.name ORDER BY v.name, v.version) AS names,
               array_agg(v.version ORDER BY v.name, v.version) AS versions
        FROM unnest(dim_tables, names, versions) WITH ORDINALITY AS v(dim, name, version, n)
        GROUP BY v.dim
        ORDER BY v.dim
    LOOP
        IF d.dim !~ '^dim_[a-z_]+$' THEN
            RAISE EXCEPTION 'not a dimension table: %', d.dim USING ERRCODE = 'invalid_parameter_value';
        END IF;
        EXECUTE format(
            'INSERT INTO crashcache.%I (name, version)
             SELECT u.name, u.version
             FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(name, version, o)
             WHERE NOT EXISTS (SELECT FROM crashcache.%I d WHERE d.name = u.name AND d.version = u.version)
             ORDER BY u.o
             ON CONFLICT (name, version) DO NOTHING', d.dim, d.dim)
        USING d.names, d.versions;
        RETURN QUERY EXECUTE format(
            'SELECT u.n, d.id
             FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(n, name, version)
             JOIN crashcache.%I d ON d.name = u.name AND d.version = u.version', d.dim)
        USING d.ns, d.names, d.versions;
    END LOOP;
END
$$;

-- ===================================================================== events and issues
CREATE TYPE crashcache._event_row AS (
    project_id int, archive_id bigint, received_at timestamptz, event_id uuid,
    timestamp timestamptz, level crashcache.level, title text, message text, culprit text,
    release_id int, environment_id int, platform_id int, os_id int, runtime_id int,
    browser_id int, device_id int, sdk_id int, server_name_id int, exception_type_id int,
    transaction_id int, logger_id int, user_key text, user_data jsonb, tags jsonb,
    fingerprint text, grouping_method text
);

-- What one batch adds to one issue.
CREATE TYPE crashcache._issue_count AS (
    issue_id bigint, events bigint, first_seen timestamptz, last_seen timestamptz,
    last_received timestamptz, latest_level crashcache.level, users bigint
);

-- Whether events of the batch (`rows`) regress resolved issue `i`, received after it was
-- resolved. Resolved in a release (inRelease, or inNextRelease: after the release of its
-- latest event then), only an event of a newer release does: release ids count up in the
-- order releases are first seen. Otherwise any does.
CREATE FUNCTION crashcache._regressed_by(i crashcache.issue, rows crashcache._event_row[])
RETURNS boolean LANGUAGE sql STABLE AS $$
    WITH bound AS (
        SELECT CASE WHEN i.status_details ? 'inRelease' THEN
                        (SELECT d.id - 1 FROM crashcache.dim_release d
                         WHERE d.name = i.status_details->>'inRelease' AND d.version = '')
                    ELSE (SELECT e.release_id FROM crashcache.event e
                          WHERE e.issue_id = i.id AND e.received_at <= i.status_changed_at
                          ORDER BY e.timestamp DESC LIMIT 1) END AS release_id
    )
    SELECT EXISTS (
        SELECT FROM unnest(rows) r, bound b
        WHERE r.project_id = i.project_id AND r.fingerprint = i.fingerprint
          AND r.received_at > i.status_changed_at
          AND (NOT (i.status_details ? 'inRelease' OR i.status_details ? 'inNextRelease')
               OR (b.release_id IS NULL AND NOT i.status_details ? 'inRelease')
               OR r.release_id > b.release_id))
$$;

-- Stored last of a batch: it locks the issues it counts into until the batch commits. The
-- issues it creates, regresses and brings back from an ignore go to alert detection in the
-- same transaction, when a rule of the batch's projects may want them (alerts.sql).
CREATE FUNCTION crashcache._store_events(rows crashcache._event_row[])
RETURNS void LANGUAGE plpgsql VOLATILE SET jit = off AS $$
DECLARE
    counts crashcache._issue_count[];
    hours crashcache.issue_hour[];
    created bigint[];
    regressed bigint[];
    unignored bigint[];
BEGIN
    -- New issues take the title and culprit of their earliest event in the batch.
    WITH inserted AS (
        INSERT INTO crashcache.issue (project_id, fingerprint, grouping_method, title, culprit, level)
        SELECT DISTINCT ON (r.project_id, r.fingerprint)
               r.project_id, r.fingerprint, r.grouping_method, r.title, r.culprit, r.level
        FROM unnest(rows) r
        WHERE NOT EXISTS (SELECT FROM crashcache.issue i
                          WHERE i.project_id = r.project_id AND i.fingerprint = r.fingerprint)
        ORDER BY r.project_id, r.fingerprint, r.timestamp
        ON CONFLICT (project_id, fingerprint) DO NOTHING
        RETURNING id)
    SELECT array_agg(n.id) INTO created FROM inserted n;

    -- Insert the events (an event id seen before is skipped), then count only those inserted
    -- into their issues.
    WITH inserted AS (
        INSERT INTO crashcache.event (
            project_id, event_id, issue_id, archive_id, timestamp, received_at, level, title,
            message, culprit, release_id, environment_id, platform_id, os_id, runtime_id,
            browser_id, device_id, sdk_id, server_name_id, exception_type_id, transaction_id,
            logger_id, user_key, user_data, tags)
        SELECT r.project_id, r.event_id, i.id, r.archive_id, r.timestamp, r.received_at, r.level,
               r.title, r.message, r.culprit, r.release_id, r.environment_id, r.platform_id,
               r.os_id, r.runtime_id, r.browser_id, r.device_id, r.sdk_id, r.server_name_id,
               r.exception_type_id, r.transaction_id, r.logger_id, r.user_key, r.user_data,
               coalesce(r.tags, '{}')
        FROM unnest(rows) r
        JOIN crashcache.issue i ON i.project_id = r.project_id AND i.fingerprint = r.fingerprint
        -- In key order, as every insert that may wait for another worker's rows.
        ORDER BY r.project_id, r.event_id
        ON CONFLICT (project_id, event_id) DO NOTHING
        RETURNING issue_id, project_id, timestamp, received_at, level, user_key
    ), new_users AS (
        INSERT INTO crashcache.issue_user (issue_id, user_key)
        SELECT DISTINCT n.issue_id, n.user_key FROM inserted n WHERE n.user_key IS NOT NULL
        ORDER BY n.issue_id, n.user_key
        ON CONFLICT DO NOTHING
        RETURNING issue_id
    )
    SELECT (SELECT array_agg(ROW(c.issue_id, c.events, c.first_seen, c.last_seen, c.last_received,
                                 c.latest_level, c.users)::crashcache._issue_count)
            FROM (SELECT n.issue_id, count(*) AS events, min(n.timestamp) AS first_seen,
                         max(n.timestamp) AS last_seen, max(n.received_at) AS last_received,
                         (array_agg(n.level ORDER BY n.timestamp DESC))[1] AS latest_level,
                         (SELECT count(*) FROM new_users u WHERE u.issue_id = n.issue_id) AS users
                  FROM inserted n GROUP BY n.issue_id) c),
           (SELECT array_agg(ROW(h.issue_id, h.hour, h.project_id, h.events, 0)::crashcache.issue_hour)
            FROM (SELECT n.issue_id, date_trunc('hour', n.timestamp, 'UTC') AS hour, n.project_id,
                         count(*) AS events
                  FROM inserted n GROUP BY 1, 2, 3) h)
    INTO counts, hours;

    -- Two workers counting into the same issues take their locks in the same order, so that
    -- one waits for the other instead of deadlocking.
    PERFORM FROM crashcache.issue i
    WHERE i.id IN (SELECT c.issue_id FROM unnest(counts) c)
    ORDER BY i.id FOR NO KEY UPDATE;

    -- Under the issues' locks, so that the hours' rows are taken in their issues' order too.
    INSERT INTO crashcache.issue_hour AS h (issue_id, hour, project_id, events)
    SELECT c.issue_id, c.hour, c.project_id, c.events FROM unnest(hours) c
    ORDER BY c.issue_id, c.hour
    ON CONFLICT (issue_id, hour) DO UPDATE SET events = h.events + EXCLUDED.events;

    -- An issue is unresolved again when a resolved one is regressed by the batch's events, or
    -- when the events reach the end of an ignore (a time, or a number of events or users).
    -- Events received before the status changed (ruminate digests them again) leave it.
    WITH decided AS (
        SELECT c.*, i.status AS old_status,
               CASE WHEN i.status = 'resolved' AND c.last_received > i.status_changed_at
                         AND crashcache._regressed_by(i, rows) THEN 'unresolved'
                    WHEN i.status = 'ignored' AND c.last_received > i.status_changed_at
                         AND crashcache._ignore_ran_out(i.status_details, i.event_count + c.events, i.user_count + c.users)
                         THEN 'unresolved'
                    ELSE i.status END::crashcache.issue_status AS new_status
        FROM unnest(counts) c JOIN crashcache.issue i ON i.id = c.issue_id
    ), updated AS (
        UPDATE crashcache.issue i
        SET event_count = i.event_count + d.events,
            user_count = i.user_count + d.users,
            first_seen = least(i.first_seen, d.first_seen),
            last_seen = greatest(i.last_seen, d.last_seen),
            level = CASE WHEN i.last_seen IS NULL OR d.last_seen >= i.last_seen THEN d.latest_level ELSE i.level END,
            status = d.new_status,
            status_changed_at = CASE WHEN d.new_status <> d.old_status THEN now() ELSE i.status_changed_at END
        FROM decided d
        WHERE i.id = d.issue_id
        RETURNING i.id, d.old_status, d.new_status
    )
    SELECT array_agg(u.id) FILTER (WHERE u.old_status = 'resolved' AND u.new_status = 'unresolved'),
           array_agg(u.id) FILTER (WHERE u.old_status = 'ignored' AND u.new_status = 'unresolved')
    INTO regressed, unignored
    FROM updated u;

    -- Without a rule in the batch's projects, this is the whole cost of alerting.
    IF (created IS NOT NULL OR regressed IS NOT NULL OR unignored IS NOT NULL)
       AND EXISTS (SELECT FROM crashcache.alert_rule a
                   WHERE a.enabled AND a.project_id IN (SELECT r.project_id FROM unnest(rows) r)) THEN
        PERFORM crashcache._alerts_on_events(rows, created, regressed, unignored);
    END IF;
END
$$;

-- ===================================================================== transactions and spans
CREATE TYPE crashcache._transaction_row AS (
    project_id int, archive_id bigint, event_id uuid, transaction_id int, op text, status text,
    trace_id uuid, span_id text, start_time timestamptz, end_time timestamptz,
    duration_ms double precision, release_id int, environment_id int, platform_id int,
    sdk_id int, server_name_id int, user_key text, tags jsonb, span_count int
);

CREATE FUNCTION crashcache._store_transactions(rows crashcache._transaction_row[])
RETURNS void LANGUAGE plpgsql VOLATILE SET jit = off AS $$
BEGIN
    INSERT INTO crashcache.transaction (
        project_id, event_id, archive_id, transaction_id, op, status, trace_id, span_id,
        start_time, end_time, duration_ms, release_id, environment_id, platform_id, sdk_id,
        server_name_id, user_key, tags, span_count)
    SELECT r.project_id, r.event_id, r.archive_id, r.transaction_id, r.op, r.status, r.trace_id,
           r.span_id, r.start_time, r.end_time, r.duration_ms, r.release_id, r.environment_id,
           r.platform_id, r.sdk_id, r.server_name_id, r.user_key, coalesce(r.tags, '{}'),
           r.span_count
    FROM unnest(rows) r
    ORDER BY r.project_id, r.event_id
    ON CONFLICT (project_id, event_id) DO NOTHING;
END
$$;

CREATE TYPE crashcache._span_row AS (
    project_id int, archive_id bigint, trace_id uuid, span_id text, parent_span_id text,
    transaction_event_id uuid, op text, description text, status text,
    start_time timestamptz, end_time timestamptz, duration_ms double precision
);

CREATE FUNCTION crashcache._store_spans(rows crashcache._span_row[])
RETURNS void LANGUAGE plpgsql VOLATILE SET jit = off AS $$
BEGIN
    INSERT INTO crashcache.span (
        project_id, archive_id, trace_id, span_id, parent_span_id, transaction_event_id, op,
        description, status, start_time, end_time, duration_ms)
    SELECT r.project_id, r.archive_id, r.trace_id, r.span_id, r.parent_span_id,
           r.transaction_event_id, r.op, r.description, r.status, r.start_time, r.end_time,
           r.duration_ms
    FROM unnest(rows) r;
END
$$;

-- ===================================================================== release health
CREATE TYPE crashcache._session_row AS (
    project_id int, archive_id bigint, sid text, did text, seq bigint, started timestamptz,
    updated_at timestamptz, duration double precision, status text, errors bigint,
    release_id int, environment_id int, ip_address text, user_agent text
);

CREATE FUNCTION crashcache._store_sessions(rows crashcache._session_row[])
RETURNS void LANGUAGE plpgsql VOLATILE SET jit = off AS $$
BEGIN
    -- Of several updates of one session, the highest seq (then the latest) wins, and a session
    -- that has ended (exited, crashed, abnormal) keeps its final state.
    INSERT INTO crashcache.session AS cur (
        project_id, sid, archive_id, did, seq, started, updated_at, duration, status, errors,
        release_id, environment_id, ip_address, user_agent)
    SELECT DISTINCT ON (r.project_id, r.sid)
           r.project_id, r.sid, r.archive_id, r.did, r.seq, r.started, r.updated_at, r.duration,
           r.status, r.errors, r.release_id, r.environment_id, r.ip_address, r.user_agent
    FROM unnest(rows) r
    ORDER BY r.project_id, r.sid, r.seq DESC, r.updated_at DESC
    ON CONFLICT (project_id, sid) DO UPDATE
    SET archive_id = EXCLUDED.archive_id, did = coalesce(EXCLUDED.did, cur.did),
        seq = EXCLUDED.seq, updated_at = EXCLUDED.updated_at,
        duration = coalesce(EXCLUDED.duration, cur.duration), status = EXCLUDED.status,
        errors = greatest(cur.errors, EXCLUDED.errors),
        ip_address = coalesce(EXCLUDED.ip_address, cur.ip_address),
        user_agent = coalesce(EXCLUDED.user_agent, cur.user_agent)
    WHERE cur.status NOT IN ('exited', 'crashed', 'abnormal')
      AND (EXCLUDED.seq, EXCLUDED.updated_at) >= (cur.seq, cur.updated_at);
END
$$;

CREATE TYPE crashcache._session_aggregate_row AS (
    project_id int, archive_id bigint, item_index int, bucket_index int, started timestamptz,
    did text, release_id int, environment_id int, exited bigint, errored bigint,
    abnormal bigint, crashed bigint
);

CREATE FUNCTION crashcache._store_session_aggregates(rows crashcache._session_aggregate_row[])
RETURNS void LANGUAGE plpgsql VOLATILE SET jit = off AS $$
BEGIN
    INSERT INTO crashcache.session_aggregate (
        archive_id, item_index, bucket_index, project_id, started, did, release_id,
        environment_id, exited, errored, abnormal, crashed)
    SELECT r.archive_id, r.item_index, r.bucket_index, r.project_id, r.started, r.did,
           r.release_id, r.environment_id, r.exited, r.errored, r.abnormal, r.crashed
    FROM unnest(rows) r
    ON CONFLICT DO NOTHING;
END
$$;

-- ===================================================================== crons
CREATE TYPE crashcache._check_in_row AS (
    project_id int, archive_id bigint, check_in_id uuid, monitor_slug text, monitor_config jsonb,
    status text, duration double precision, release_id int, environment_id int,
    timestamp timestamptz
);

-- A check-in the batch wrote with status error.
CREATE TYPE crashcache._failed_check_in AS (
    project_id int, check_in_id uuid, monitor_id bigint, status text, environment_id int,
    timestamp timestamptz
);

CREATE FUNCTION crashcache._store_check_ins(rows crashcache._check_in_row[])
RETURNS void LANGUAGE plpgsql VOLATILE SET jit = off AS $$
DECLARE
    failed crashcache._failed_check_in[];
BEGIN
    -- A check-in that carries monitor_config (upsert) updates the monitor's schedule.
    INSERT INTO crashcache.monitor AS m (project_id, slug, config)
    SELECT DISTINCT ON (r.project_id, r.monitor_slug) r.project_id, r.monitor_slug, r.monitor_config
    FROM unnest(rows) r
    ORDER BY r.project_id, r.monitor_slug, (r.monitor_config IS NULL), r.archive_id DESC
    ON CONFLICT (project_id, slug) DO UPDATE SET config = EXCLUDED.config
    WHERE EXCLUDED.config IS NOT NULL AND EXCLUDED.config IS DISTINCT FROM m.config;

    WITH written AS (
    INSERT INTO crashcache.check_in AS cur (
        project_id, check_in_id, monitor_id, archive_id, status, duration, release_id,
        environment_id, timestamp)
    SELECT DISTINCT ON (r.project_id, r.check_in_id)
           r.project_id, r.check_in_id, m.id, r.archive_id, r.status, r.duration, r.release_id,
           r.environment_id, r.timestamp
    FROM unnest(rows) r
    JOIN crashcache.monitor m ON m.project_id = r.project_id AND m.slug = r.monitor_slug
    ORDER BY r.project_id, r.check_in_id, r.archive_id DESC
    ON CONFLICT (project_id, check_in_id) DO UPDATE
    SET archive_id = EXCLUDED.archive_id, status = EXCLUDED.status,
        duration = coalesce(EXCLUDED.duration, cur.duration), timestamp = EXCLUDED.timestamp
    WHERE EXCLUDED.archive_id > cur.archive_id
    RETURNING cur.project_id, cur.check_in_id, cur.monitor_id, cur.status, cur.environment_id, cur.timestamp)
    SELECT array_agg(ROW(w.project_id, w.check_in_id, w.monitor_id, w.status, w.environment_id, w.timestamp)::crashcache._failed_check_in)
    INTO failed
    FROM written w WHERE w.status = 'error';

    -- Failed check-ins go to alert detection in the same transaction, when a rule may want them.
    IF failed IS NOT NULL
       AND EXISTS (SELECT FROM crashcache.alert_rule a
                   WHERE a.enabled AND a.project_id IN (SELECT f.project_id FROM unnest(failed) f)) THEN
        PERFORM crashcache._alerts_on_check_ins(failed);
    END IF;
END
$$;

-- ===================================================================== logs, attachments, reports, feedback
CREATE TYPE crashcache._log_row AS (
    project_id int, archive_id bigint, timestamp timestamptz, level text, severity_number int,
    body text, trace_id uuid, release_id int, environment_id int, attributes jsonb
);

CREATE FUNCTION crashcache._store_logs(rows crashcache._log_row[])
RETURNS void LANGUAGE plpgsql VOLATILE SET jit = off AS $$
BEGIN
    INSERT INTO crashcache.log (project_id, archive_id, timestamp, level, severity_number, body,
                                trace_id, release_id, environment_id, attributes)
    SELECT r.project_id, r.archive_id, r.timestamp, r.level, r.severity_number, r.body,
           r.trace_id, r.release_id, r.environment_id, r.attributes
    FROM unnest(rows) r;
END
$$;

CREATE TYPE crashcache._attachment_row AS (
    project_id int, archive_id bigint, item_index int, event_id uuid, filename text,
    content_type text, attachment_type text, size bigint
);

CREATE FUNCTION crashcache._store_attachments(rows crashcache._attachment_row[])
RETURNS void LANGUAGE plpgsql VOLATILE SET jit = off AS $$
BEGIN
    INSERT INTO crashcache.attachment (project_id, archive_id, item_index, event_id, filename,
                                       content_type, attachment_type, size)
    SELECT r.project_id, r.archive_id, r.item_index, r.event_id, r.filename, r.content_type,
           r.attachment_type, r.size
    FROM unnest(rows) r
    ON CONFLICT (archive_id, item_index) DO NOTHING;
END
$$;

CREATE TYPE crashcache._outcome_row AS (
    project_id int, archive_id bigint, timestamp timestamptz, outcome text, reason text,
    category text, quantity bigint
);

CREATE FUNCTION crashcache._store_outcomes(rows crashcache._outcome_row[])
RETURNS void LANGUAGE plpgsql VOLATILE SET jit = off AS $$
BEGIN
    INSERT INTO crashcache.client_outcome (project_id, archive_id, timestamp, outcome, reason,
                                           category, quantity)
    SELECT r.project_id, r.archive_id, r.timestamp, r.outcome, r.reason, r.category, r.quantity
    FROM unnest(rows) r;
END
$$;

CREATE TYPE crashcache._feedback_row AS (
    project_id int, archive_id bigint, event_id uuid, name text, email text, message text,
    timestamp timestamptz
);

CREATE FUNCTION crashcache._store_feedback(rows crashcache._feedback_row[])
RETURNS void LANGUAGE plpgsql VOLATILE SET jit = off AS $$
BEGIN
    INSERT INTO crashcache.feedback (project_id, archive_id, event_id, name, email, message, timestamp)
    SELECT r.project_id, r.archive_id, r.event_id, r.name, r.email, r.message, r.timestamp
    FROM unnest(rows) r;
END
$$;

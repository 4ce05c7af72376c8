-- pg_crashcache 0.1.2 -> 0.1.3: the digest's rows reach SQL typed.
--
-- * The worker binds each kind of row as one typed array per column and unnests them into a
--   composite type that mirrors its Rust row (_event_row, _transaction_row, ...), one
--   _store_<kind>(rows) function per kind, instead of one JSON document read by
--   jsonb_to_recordset (_store_digest(jsonb) and the functions it called are gone).
-- * Dimension values arrive as ids, which the worker learns from _dimension_ids() and keeps;
--   the dimension joins of the store statements are gone.
-- * The arrival-time rules (clock skew, missing times) and {{auto}} addresses are settled in
--   Rust: _event_time() and _ts() are gone; _claim() also returns each payload's project,
--   arrival time and client address.
-- * Every function of the digest runs with jit = off.
-- * ingest_batch() runs without sequential scans: the foreign-key checks' plans, made in it and
--   kept for the session, scanned the whole archive when first made at an empty one.
-- * stats(), which the proxy calls every second, reads no table that grows with the data:
--   issues is the statistics' estimate now, and the oldest queued payload comes from the
--   queue's primary key.
-- Workers of this build digest into an older schema until this update has run.

DROP FUNCTION crashcache._store_digest(jsonb);
DROP FUNCTION crashcache._store_events(jsonb);
DROP FUNCTION crashcache._store_transactions(jsonb);
DROP FUNCTION crashcache._store_sessions(jsonb);
DROP FUNCTION crashcache._store_check_ins(jsonb);
DROP FUNCTION crashcache._store_records(jsonb);
DROP FUNCTION crashcache._batch_dimensions(jsonb);
DROP FUNCTION crashcache._ensure_dimensions(crashcache._dim_value[]);
DROP TYPE crashcache._dim_value;
DROP TYPE crashcache._event_input;
DROP FUNCTION crashcache._event_time(bigint, timestamptz);
DROP FUNCTION crashcache._ts(bigint);
DROP FUNCTION crashcache._claim(int, bigint, bigint);

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

-- Stored last of a batch: it locks the issues it counts into until the batch commits.
CREATE FUNCTION crashcache._store_events(rows crashcache._event_row[])
RETURNS void LANGUAGE plpgsql VOLATILE SET jit = off AS $$
DECLARE
    counts crashcache._issue_count[];
BEGIN
    -- New issues take the title and culprit of their earliest event in the batch.
    INSERT INTO crashcache.issue (project_id, fingerprint, grouping_method, title, culprit, level)
    SELECT DISTINCT ON (r.project_id, r.fingerprint)
           r.project_id, r.fingerprint, r.grouping_method, r.title, r.culprit, r.level
    FROM unnest(rows) r
    WHERE NOT EXISTS (SELECT FROM crashcache.issue i
                      WHERE i.project_id = r.project_id AND i.fingerprint = r.fingerprint)
    ORDER BY r.project_id, r.fingerprint, r.timestamp
    ON CONFLICT (project_id, fingerprint) DO NOTHING;

    -- Insert the events (an event id seen before is skipped), then count only those inserted
    -- into their issues. A resolved issue that receives a new event is unresolved again; events
    -- received before it was resolved (ruminate digests them again) leave it resolved.
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
        RETURNING issue_id, timestamp, received_at, level, user_key
    ), new_users AS (
        INSERT INTO crashcache.issue_user (issue_id, user_key)
        SELECT DISTINCT n.issue_id, n.user_key FROM inserted n WHERE n.user_key IS NOT NULL
        ORDER BY n.issue_id, n.user_key
        ON CONFLICT DO NOTHING
        RETURNING issue_id
    )
    SELECT array_agg(ROW(c.issue_id, c.events, c.first_seen, c.last_seen, c.last_received,
                         c.latest_level, c.users)::crashcache._issue_count) INTO counts
    FROM (SELECT n.issue_id, count(*) AS events, min(n.timestamp) AS first_seen,
                 max(n.timestamp) AS last_seen, max(n.received_at) AS last_received,
                 (array_agg(n.level ORDER BY n.timestamp DESC))[1] AS latest_level,
                 (SELECT count(*) FROM new_users u WHERE u.issue_id = n.issue_id) AS users
          FROM inserted n GROUP BY n.issue_id) c;

    -- Two workers counting into the same issues take their locks in the same order, so that
    -- one waits for the other instead of deadlocking.
    PERFORM FROM crashcache.issue i
    WHERE i.id IN (SELECT c.issue_id FROM unnest(counts) c)
    ORDER BY i.id FOR NO KEY UPDATE;

    UPDATE crashcache.issue i
    SET event_count = i.event_count + c.events,
        user_count = i.user_count + c.users,
        first_seen = least(i.first_seen, c.first_seen),
        last_seen = greatest(i.last_seen, c.last_seen),
        level = CASE WHEN i.last_seen IS NULL OR c.last_seen >= i.last_seen THEN c.latest_level ELSE i.level END,
        status = CASE WHEN i.status = 'resolved' AND c.last_received > i.status_changed_at
                      THEN 'unresolved' ELSE i.status END,
        status_changed_at = CASE WHEN i.status = 'resolved' AND c.last_received > i.status_changed_at
                                 THEN now() ELSE i.status_changed_at END
    FROM unnest(counts) c
    WHERE i.id = c.issue_id;
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

CREATE FUNCTION crashcache._store_check_ins(rows crashcache._check_in_row[])
RETURNS void LANGUAGE plpgsql VOLATILE SET jit = off AS $$
BEGIN
    -- A check-in that carries monitor_config (upsert) updates the monitor's schedule.
    INSERT INTO crashcache.monitor AS m (project_id, slug, config)
    SELECT DISTINCT ON (r.project_id, r.monitor_slug) r.project_id, r.monitor_slug, r.monitor_config
    FROM unnest(rows) r
    ORDER BY r.project_id, r.monitor_slug, (r.monitor_config IS NULL), r.archive_id DESC
    ON CONFLICT (project_id, slug) DO UPDATE SET config = EXCLUDED.config
    WHERE EXCLUDED.config IS NOT NULL AND EXCLUDED.config IS DISTINCT FROM m.config;

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
    WHERE EXCLUDED.archive_id > cur.archive_id;
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

-- ===================================================================== stats
CREATE OR REPLACE FUNCTION crashcache.stats()
RETURNS TABLE (
    queued bigint, oldest_queued_age interval, errors bigint,
    archives_estimate bigint, events_estimate bigint, issues bigint,
    running_workers bigint, digested_since_start bigint, failed_since_start bigint,
    over_capacity text)
-- With its owner's rights, so that the proxy's /health needs no right on any table. The
-- proxy calls it every second: nothing here may read a table that grows with the data
-- (archives, events and issues are the statistics' estimates; the oldest queued payload is
-- the one with the lowest id, read from the queue's primary key).
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off AS $$
    SELECT (SELECT count(*) FROM crashcache.queue),
           (SELECT now() - q.enqueued_at FROM crashcache.queue q ORDER BY q.archive_id LIMIT 1),
           (SELECT count(*) FROM crashcache.queue_error),
           pg_stat_get_live_tuples('crashcache.archive'::regclass),
           pg_stat_get_live_tuples('crashcache.event'::regclass),
           pg_stat_get_live_tuples('crashcache.issue'::regclass),
           w.running_workers, w.digested_since_start, w.failed_since_start,
           crashcache._over_capacity()
    FROM crashcache._worker_stats() w
$$;

-- ===================================================================== ingest
CREATE OR REPLACE FUNCTION crashcache.ingest_batch(
    project_ids int[],
    public_keys text[],
    bodies bytea[],
    content_encodings text[],
    kinds text[],
    client_ips inet[],
    max_compressed_bytes int DEFAULT NULL,
    max_decompressed_bytes int DEFAULT NULL
) RETURNS SETOF crashcache.ingest_result
-- A generic plan, planned once per session: a custom plan, made for the arrays at hand, costs
-- more than a millisecond per request in a batch of a few hundred. Never JIT: a generic
-- plan's estimates (10,000 rows from unnest, tables never analyzed) put it above jit_above_cost,
-- and compiling it took 85 ms a call. No sequential scans: every table it reads is read by key,
-- and the plans made in it are kept for the session, the foreign-key checks' too; made at an
-- empty archive, the check of each queue row scanned the whole archive as it grew (a tenth of
-- the ingest's CPU in a 15 s burst from a fresh database). It runs with its owner's rights, so
-- that the proxy's role needs no right on any table (sql/roles.sql); hence the fixed
-- search_path.
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET plan_cache_mode = force_generic_plan SET search_path = pg_catalog, pg_temp SET jit = off
SET enable_seqscan = off AS $$
DECLARE
    -- The disk guard (crashcache.max_database_size, crashcache.max_queued): past a bound,
    -- every request is refused with 429 and the reason, and nothing is stored.
    over_capacity text := crashcache._over_capacity();
BEGIN
    IF over_capacity IS NOT NULL THEN
        RETURN QUERY
        SELECT 429, 'over_capacity', NULL::text, q.project_id, NULL::bigint, over_capacity
        FROM unnest(project_ids) WITH ORDINALITY AS q(project_id, n)
        ORDER BY q.n;
        RETURN;
    END IF;
    RETURN QUERY
    WITH request AS (
        SELECT q.n, q.project_id AS path_project, q.kind, q.client_ip, p.*,
               -- The envelope header's dsn stands in only for a key the request lacks.
               coalesce(nullif(q.public_key, ''), p.dsn_key) AS key
        FROM unnest(project_ids, public_keys, bodies, content_encodings, kinds, client_ips)
             WITH ORDINALITY AS q(project_id, public_key, body, content_encoding, kind, client_ip, n)
        CROSS JOIN LATERAL crashcache._prepare_payload(
            q.body, q.content_encoding, q.kind, max_compressed_bytes, max_decompressed_bytes,
            (SELECT max(d.id) FROM crashcache.dictionary d)) p
    ),
    judged AS (
        -- Key errors come before body errors, except that an envelope that cannot be read
        -- cannot give its dsn either.
        SELECT r.*, k.project_id AS key_project,
            CASE
                WHEN r.key IS NULL AND r.error_code IS NOT NULL AND r.kind = 'envelope' THEN 'bad_body'
                WHEN r.key IS NULL THEN 'missing_key'
                WHEN k.project_id IS NULL OR NOT k.active THEN 'unknown_key'
                WHEN r.path_project IS NOT NULL AND r.path_project <> k.project_id THEN 'wrong_project'
                WHEN r.error_code IS NOT NULL THEN 'bad_body'
                ELSE 'ok'
            END AS verdict
        FROM request r
        LEFT JOIN crashcache.project_key k ON k.public_key = r.key
    ),
    first_of_payload AS (
        SELECT DISTINCT ON (j.key_project, j.content_hash) j.*
        FROM judged j WHERE j.verdict = 'ok'
        ORDER BY j.key_project, j.content_hash, j.n
    ),
    stored AS (
        INSERT INTO crashcache.archive (project_id, content_hash, kind, raw_size, client_ip, codec, body)
        SELECT f.key_project, f.content_hash, f.kind, f.raw_size, f.client_ip, f.codec, f.stored
        FROM first_of_payload f ORDER BY f.n
        ON CONFLICT ON CONSTRAINT archive_project_id_content_hash_key DO NOTHING
        RETURNING id, archive.project_id, content_hash
    ),
    queued AS (
        INSERT INTO crashcache.queue (archive_id) SELECT s.id FROM stored s ORDER BY s.id
    )
    SELECT
        CASE j.verdict
            WHEN 'ok' THEN 200 WHEN 'bad_body' THEN j.http_status
            WHEN 'missing_key' THEN 401 ELSE 403
        END,
        CASE j.verdict
            WHEN 'ok' THEN CASE WHEN s.id IS NOT NULL AND f.n = j.n THEN 'accepted' ELSE 'duplicate' END
            WHEN 'bad_body' THEN j.error_code
            ELSE j.verdict
        END,
        CASE WHEN j.verdict = 'ok' THEN j.event_id END,
        CASE WHEN j.verdict IN ('ok', 'bad_body') THEN coalesce(j.key_project, j.path_project)
             ELSE j.path_project END,
        CASE WHEN j.verdict = 'ok' THEN coalesce(s.id,
            (SELECT a.id FROM crashcache.archive a
             WHERE a.project_id = j.key_project AND a.content_hash = j.content_hash)) END,
        CASE j.verdict
            WHEN 'bad_body' THEN j.detail
            WHEN 'missing_key' THEN 'no public key (sentry_key) was given'
            WHEN 'unknown_key' THEN 'unknown or revoked public key'
            WHEN 'wrong_project' THEN 'the public key does not belong to project ' || j.path_project
        END
    FROM judged j
    LEFT JOIN first_of_payload f
           ON f.key_project = j.key_project AND f.content_hash = j.content_hash
    LEFT JOIN stored s ON s.project_id = j.key_project AND s.content_hash = j.content_hash
    ORDER BY j.n;
    -- Takes effect at commit.
    PERFORM crashcache._wake_workers();
END
$$;

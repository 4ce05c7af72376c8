-- pg_crashcache 0.1.0 -> 0.1.1
--
-- Digest workers no longer deadlock each other: every dimension value a batch refers to is
-- made to exist in one pass, in one total order, before anything else is written
-- (_batch_dimensions, _store_digest), instead of in five passes in hash order; inserts that
-- may wait for another worker's rows go in key order.
--
-- Ingest and stats() run with their owner's rights and a fixed search_path, executable only
-- by the roles granted them, so that the proxy's role needs no right on any table; ingest
-- never JIT-compiles (85 ms a call when a generic plan's estimates crossed jit_above_cost).
-- The disk guard: past crashcache.max_database_size or crashcache.max_queued, ingest answers
-- 429 (over_capacity), and stats() says why. _prepare_payload and unpack are stable, as
-- functions that read settings and tables are.
--
-- pg_dump keeps the tables nothing else can rebuild (see backup.sql).

-- Makes sure the given dimension values exist. Rows another worker inserts at the same time
-- are waited for by ON CONFLICT, and the caller's next statement sees them: race-free. The
-- values go in one total order (table, name, version), so that two workers inserting the
-- same new values wait for each other in the same order instead of deadlocking.
CREATE OR REPLACE FUNCTION crashcache._ensure_dimensions(dim_values crashcache._dim_value[])
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    d record;
BEGIN
    FOR d IN
        SELECT v.dim, array_agg(v.name ORDER BY v.name, v.version) AS names,
               array_agg(v.version ORDER BY v.name, v.version) AS versions
        FROM (SELECT DISTINCT u.dim, u.name, coalesce(u.version, '') AS version
              FROM unnest(dim_values) u WHERE u.name IS NOT NULL) v
        GROUP BY v.dim
        ORDER BY v.dim
    LOOP
        IF d.dim !~ '^dim_[a-z_]+$' THEN
            RAISE EXCEPTION 'not a dimension table: %', d.dim;
        END IF;
        EXECUTE format(
            'INSERT INTO crashcache.%I (name, version)
             SELECT u.name, u.version
             FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(name, version, n)
             WHERE NOT EXISTS (SELECT FROM crashcache.%I d WHERE d.name = u.name AND d.version = u.version)
             ORDER BY u.n
             ON CONFLICT (name, version) DO NOTHING', d.dim, d.dim)
        USING d.names, d.versions;
    END LOOP;
END
$$;

-- Every dimension value one batch refers to, by the kind of row it comes from. The digest
-- makes them all exist in one sorted pass before it writes anything else (_store_digest):
-- values made in several passes could be waited for in opposite orders by two workers.
CREATE FUNCTION crashcache._batch_dimensions(batch jsonb)
RETURNS crashcache._dim_value[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(ROW(x.dim, x.name, x.version)::crashcache._dim_value), '{}')
    FROM (
        SELECT v.dim, v.name, v.version
        FROM jsonb_to_recordset(batch) AS p(events jsonb)
        CROSS JOIN LATERAL jsonb_to_recordset(p.events) AS e(release text, environment text,
            platform text, server_name text, logger text, transaction text, os jsonb,
            runtime jsonb, browser jsonb, sdk jsonb, device_model text, exception_type text)
        CROSS JOIN LATERAL (VALUES
            ('dim_release', e.release, ''), ('dim_environment', e.environment, ''),
            ('dim_platform', e.platform, ''), ('dim_os', e.os->>'name', e.os->>'version'),
            ('dim_runtime', e.runtime->>'name', e.runtime->>'version'),
            ('dim_browser', e.browser->>'name', e.browser->>'version'),
            ('dim_device', e.device_model, ''), ('dim_sdk', e.sdk->>'name', e.sdk->>'version'),
            ('dim_server_name', e.server_name, ''), ('dim_exception_type', e.exception_type, ''),
            ('dim_transaction', e.transaction, ''), ('dim_logger', e.logger, ''))
            AS v(dim, name, version)
        WHERE p.events IS NOT NULL
        UNION ALL
        SELECT v.dim, v.name, v.version
        FROM jsonb_to_recordset(batch) AS p(transactions jsonb)
        CROSS JOIN LATERAL jsonb_to_recordset(p.transactions) AS t(name text, release text,
            environment text, platform text, server_name text, sdk jsonb)
        CROSS JOIN LATERAL (VALUES
            ('dim_transaction', t.name, ''), ('dim_release', t.release, ''),
            ('dim_environment', t.environment, ''), ('dim_platform', t.platform, ''),
            ('dim_server_name', t.server_name, ''), ('dim_sdk', t.sdk->>'name', t.sdk->>'version'))
            AS v(dim, name, version)
        WHERE p.transactions IS NOT NULL
        UNION ALL
        -- Sessions, session aggregates, check-ins and logs have a release and an environment.
        SELECT v.dim, v.name, ''
        FROM jsonb_to_recordset(batch)
             AS p(sessions jsonb, session_aggregates jsonb, check_ins jsonb, logs jsonb)
        CROSS JOIN LATERAL (SELECT * FROM jsonb_array_elements(coalesce(p.sessions, '[]'))
                            UNION ALL SELECT * FROM jsonb_array_elements(coalesce(p.session_aggregates, '[]'))
                            UNION ALL SELECT * FROM jsonb_array_elements(coalesce(p.check_ins, '[]'))
                            UNION ALL SELECT * FROM jsonb_array_elements(coalesce(p.logs, '[]'))) AS r(item)
        CROSS JOIN LATERAL (VALUES ('dim_release', r.item->>'release'),
                                   ('dim_environment', r.item->>'environment')) AS v(dim, name)
    ) x
    WHERE x.name IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION crashcache._store_events(batch jsonb)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    rows crashcache._event_input[];
    counts crashcache._issue_count[];
BEGIN
    rows := ARRAY(
        SELECT ROW(p.archive_id, a.project_id, a.received_at, e.event_id::uuid,
                   crashcache._event_time(e.timestamp, a.received_at),
                   e.level::crashcache.level, e.title, e.message, e.culprit,
                   e.release, e.environment, e.platform, e.server_name, e.logger, e.transaction,
                   e.os->>'name', e.os->>'version', e.runtime->>'name', e.runtime->>'version',
                   e.browser->>'name', e.browser->>'version', e.sdk->>'name', e.sdk->>'version',
                   e.device_model, e.exception_type,
                   coalesce(e.tags::jsonb, '{}'),
                   CASE WHEN e."user"->>'ip_address' = '{{auto}}' AND a.client_ip IS NOT NULL
                        THEN jsonb_set(e."user"::jsonb, '{ip_address}', to_jsonb(host(a.client_ip)))
                        ELSE e."user"::jsonb END,
                   coalesce(e.user_key, CASE WHEN e."user"->>'ip_address' = '{{auto}}' THEN host(a.client_ip) END),
                   e.fingerprint->>'hash', e.fingerprint->>'method')::crashcache._event_input
        FROM jsonb_to_recordset(batch) AS p(archive_id bigint, events jsonb)
        JOIN crashcache.archive a ON a.id = p.archive_id
        CROSS JOIN LATERAL jsonb_to_recordset(p.events) AS e(
            event_id text, timestamp bigint, level text, platform text, title text, message text,
            culprit text, release text, environment text, server_name text, logger text,
            transaction text, os jsonb, runtime jsonb, browser jsonb, sdk jsonb, device_model text,
            exception_type text, tags jsonb, "user" jsonb, user_key text, fingerprint jsonb)
        WHERE p.events IS NOT NULL);
    IF cardinality(rows) = 0 THEN
        RETURN;
    END IF;


    -- New issues take the title and culprit of their earliest event in the batch.
    INSERT INTO crashcache.issue (project_id, fingerprint, grouping_method, title, culprit, level)
    SELECT DISTINCT ON (r.project_id, r.fingerprint)
           r.project_id, r.fingerprint, r.grouping_method, r.title, r.culprit, r.level
    FROM unnest(rows) r
    WHERE NOT EXISTS (SELECT FROM crashcache.issue i
                      WHERE i.project_id = r.project_id AND i.fingerprint = r.fingerprint)
    ORDER BY r.project_id, r.fingerprint, r.ts
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
        SELECT r.project_id, r.event_id, i.id, r.archive_id, r.ts, r.received_at, r.level,
               r.title, r.message, r.culprit, d_rel.id, d_env.id, d_plat.id, d_os.id, d_rt.id,
               d_br.id, d_dev.id, d_sdk.id, d_srv.id, d_exc.id, d_txn.id, d_log.id,
               r.user_key, r.user_data, r.tags
        FROM unnest(rows) r
        JOIN crashcache.issue i ON i.project_id = r.project_id AND i.fingerprint = r.fingerprint
        LEFT JOIN crashcache.dim_release d_rel ON d_rel.name = r.release AND d_rel.version = ''
        LEFT JOIN crashcache.dim_environment d_env ON d_env.name = r.environment AND d_env.version = ''
        LEFT JOIN crashcache.dim_platform d_plat ON d_plat.name = r.platform AND d_plat.version = ''
        LEFT JOIN crashcache.dim_os d_os ON d_os.name = r.os_name AND d_os.version = coalesce(r.os_version, '')
        LEFT JOIN crashcache.dim_runtime d_rt ON d_rt.name = r.runtime_name AND d_rt.version = coalesce(r.runtime_version, '')
        LEFT JOIN crashcache.dim_browser d_br ON d_br.name = r.browser_name AND d_br.version = coalesce(r.browser_version, '')
        LEFT JOIN crashcache.dim_device d_dev ON d_dev.name = r.device AND d_dev.version = ''
        LEFT JOIN crashcache.dim_sdk d_sdk ON d_sdk.name = r.sdk_name AND d_sdk.version = coalesce(r.sdk_version, '')
        LEFT JOIN crashcache.dim_server_name d_srv ON d_srv.name = r.server_name AND d_srv.version = ''
        LEFT JOIN crashcache.dim_exception_type d_exc ON d_exc.name = r.exception_type AND d_exc.version = ''
        LEFT JOIN crashcache.dim_transaction d_txn ON d_txn.name = r.txn AND d_txn.version = ''
        LEFT JOIN crashcache.dim_logger d_log ON d_log.name = r.logger AND d_log.version = ''
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
CREATE OR REPLACE FUNCTION crashcache._store_transactions(batch jsonb)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO crashcache.transaction (
        project_id, event_id, archive_id, transaction_id, op, status, trace_id, span_id,
        start_time, end_time, duration_ms, release_id, environment_id, platform_id, sdk_id,
        server_name_id, user_key, tags, span_count)
    SELECT a.project_id, t.event_id::uuid, a.id, d_txn.id, t.op, t.status, t.trace_id::uuid,
           t.span_id, crashcache._ts(t.start_us), crashcache._event_time(t.end_us, a.received_at),
           (t.end_us - t.start_us) / 1000.0, d_rel.id, d_env.id, d_plat.id, d_sdk.id, d_srv.id,
           t.user_key, coalesce(t.tags::jsonb, '{}'), t.span_count
    FROM jsonb_to_recordset(batch) AS p(archive_id bigint, transactions jsonb)
    JOIN crashcache.archive a ON a.id = p.archive_id
    CROSS JOIN LATERAL jsonb_to_recordset(p.transactions) AS t(event_id text, name text, op text,
        status text, trace_id text, span_id text, start_us bigint, end_us bigint, release text,
        environment text, platform text, server_name text, sdk jsonb, tags jsonb, user_key text,
        span_count int)
    LEFT JOIN crashcache.dim_transaction d_txn ON d_txn.name = t.name AND d_txn.version = ''
    LEFT JOIN crashcache.dim_release d_rel ON d_rel.name = t.release AND d_rel.version = ''
    LEFT JOIN crashcache.dim_environment d_env ON d_env.name = t.environment AND d_env.version = ''
    LEFT JOIN crashcache.dim_platform d_plat ON d_plat.name = t.platform AND d_plat.version = ''
    LEFT JOIN crashcache.dim_server_name d_srv ON d_srv.name = t.server_name AND d_srv.version = ''
    LEFT JOIN crashcache.dim_sdk d_sdk ON d_sdk.name = t.sdk->>'name' AND d_sdk.version = coalesce(t.sdk->>'version', '')
    WHERE p.transactions IS NOT NULL
    ORDER BY a.project_id, t.event_id
    ON CONFLICT (project_id, event_id) DO NOTHING;

    INSERT INTO crashcache.span (
        project_id, archive_id, trace_id, span_id, parent_span_id, transaction_event_id, op,
        description, status, start_time, end_time, duration_ms)
    SELECT a.project_id, a.id, s.trace_id::uuid, s.span_id, s.parent_span_id,
           s.transaction_event_id::uuid, s.op, s.description, s.status,
           crashcache._ts(s.start_us), crashcache._ts(s.end_us), (s.end_us - s.start_us) / 1000.0
    FROM jsonb_to_recordset(batch) AS p(archive_id bigint, spans jsonb)
    JOIN crashcache.archive a ON a.id = p.archive_id
    CROSS JOIN LATERAL jsonb_to_recordset(p.spans) AS s(trace_id text, span_id text,
        parent_span_id text, transaction_event_id text, op text, description text, status text,
        start_us bigint, end_us bigint)
    WHERE p.spans IS NOT NULL;
END
$$;

-- ===================================================================== release health
CREATE OR REPLACE FUNCTION crashcache._store_sessions(batch jsonb)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- Of several updates of one session, the highest seq (then the latest) wins, and a session
    -- that has ended (exited, crashed, abnormal) keeps its final state.
    INSERT INTO crashcache.session AS cur (
        project_id, sid, archive_id, did, seq, started, updated_at, duration, status, errors,
        release_id, environment_id, ip_address, user_agent)
    SELECT DISTINCT ON (a.project_id, s.sid)
           a.project_id, s.sid, a.id, s.did, s.seq,
           coalesce(crashcache._ts(s.started_us), crashcache._ts(s.timestamp_us), a.received_at),
           coalesce(crashcache._ts(s.timestamp_us), a.received_at), s.duration, s.status, s.errors,
           d_rel.id, d_env.id,
           CASE WHEN s.ip_address = '{{auto}}' THEN host(a.client_ip) ELSE s.ip_address END,
           s.user_agent
    FROM jsonb_to_recordset(batch) AS p(archive_id bigint, sessions jsonb)
    JOIN crashcache.archive a ON a.id = p.archive_id
    CROSS JOIN LATERAL jsonb_to_recordset(p.sessions) AS s(sid text, did text, seq bigint,
        started_us bigint, timestamp_us bigint, duration float8, status text, errors bigint,
        release text, environment text, ip_address text, user_agent text)
    JOIN crashcache.dim_release d_rel ON d_rel.name = s.release AND d_rel.version = ''
    LEFT JOIN crashcache.dim_environment d_env ON d_env.name = s.environment AND d_env.version = ''
    WHERE p.sessions IS NOT NULL
    ORDER BY a.project_id, s.sid, s.seq DESC, coalesce(s.timestamp_us, 0) DESC
    ON CONFLICT (project_id, sid) DO UPDATE
    SET archive_id = EXCLUDED.archive_id, did = coalesce(EXCLUDED.did, cur.did),
        seq = EXCLUDED.seq, updated_at = EXCLUDED.updated_at,
        duration = coalesce(EXCLUDED.duration, cur.duration), status = EXCLUDED.status,
        errors = greatest(cur.errors, EXCLUDED.errors),
        ip_address = coalesce(EXCLUDED.ip_address, cur.ip_address),
        user_agent = coalesce(EXCLUDED.user_agent, cur.user_agent)
    WHERE cur.status NOT IN ('exited', 'crashed', 'abnormal')
      AND (EXCLUDED.seq, EXCLUDED.updated_at) >= (cur.seq, cur.updated_at);

    INSERT INTO crashcache.session_aggregate (
        archive_id, item_index, bucket_index, project_id, started, did, release_id,
        environment_id, exited, errored, abnormal, crashed)
    SELECT a.id, s.item_index, s.bucket_index, a.project_id,
           coalesce(crashcache._ts(s.started_us), a.received_at), s.did, d_rel.id, d_env.id,
           s.exited, s.errored, s.abnormal, s.crashed
    FROM jsonb_to_recordset(batch) AS p(archive_id bigint, session_aggregates jsonb)
    JOIN crashcache.archive a ON a.id = p.archive_id
    CROSS JOIN LATERAL jsonb_to_recordset(p.session_aggregates) AS s(item_index int,
        bucket_index int, started_us bigint, did text, exited bigint, errored bigint,
        abnormal bigint, crashed bigint, release text, environment text)
    JOIN crashcache.dim_release d_rel ON d_rel.name = s.release AND d_rel.version = ''
    LEFT JOIN crashcache.dim_environment d_env ON d_env.name = s.environment AND d_env.version = ''
    WHERE p.session_aggregates IS NOT NULL
    ON CONFLICT DO NOTHING;
END
$$;

-- ===================================================================== crons
CREATE OR REPLACE FUNCTION crashcache._store_check_ins(batch jsonb)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- A check-in that carries monitor_config (upsert) updates the monitor's schedule.
    INSERT INTO crashcache.monitor AS m (project_id, slug, config)
    SELECT DISTINCT ON (a.project_id, c.monitor_slug) a.project_id, c.monitor_slug, c.monitor_config::jsonb
    FROM jsonb_to_recordset(batch) AS p(archive_id bigint, check_ins jsonb)
    JOIN crashcache.archive a ON a.id = p.archive_id
    CROSS JOIN LATERAL jsonb_to_recordset(p.check_ins) AS c(monitor_slug text, monitor_config jsonb)
    WHERE p.check_ins IS NOT NULL
    ORDER BY a.project_id, c.monitor_slug, (c.monitor_config IS NULL), a.id DESC
    ON CONFLICT (project_id, slug) DO UPDATE SET config = EXCLUDED.config
    WHERE EXCLUDED.config IS NOT NULL AND EXCLUDED.config IS DISTINCT FROM m.config;

    INSERT INTO crashcache.check_in AS cur (
        project_id, check_in_id, monitor_id, archive_id, status, duration, release_id,
        environment_id, timestamp)
    SELECT DISTINCT ON (a.project_id, c.check_in_id)
           a.project_id, c.check_in_id::uuid, m.id, a.id, c.status, c.duration, d_rel.id, d_env.id,
           crashcache._event_time(c.timestamp_us, a.received_at)
    FROM jsonb_to_recordset(batch) AS p(archive_id bigint, check_ins jsonb)
    JOIN crashcache.archive a ON a.id = p.archive_id
    CROSS JOIN LATERAL jsonb_to_recordset(p.check_ins) AS c(check_in_id text, monitor_slug text,
        status text, duration float8, release text, environment text, timestamp_us bigint)
    JOIN crashcache.monitor m ON m.project_id = a.project_id AND m.slug = c.monitor_slug
    LEFT JOIN crashcache.dim_release d_rel ON d_rel.name = c.release AND d_rel.version = ''
    LEFT JOIN crashcache.dim_environment d_env ON d_env.name = c.environment AND d_env.version = ''
    WHERE p.check_ins IS NOT NULL
    ORDER BY a.project_id, c.check_in_id, a.id DESC
    ON CONFLICT (project_id, check_in_id) DO UPDATE
    SET archive_id = EXCLUDED.archive_id, status = EXCLUDED.status,
        duration = coalesce(EXCLUDED.duration, cur.duration), timestamp = EXCLUDED.timestamp
    WHERE EXCLUDED.archive_id > cur.archive_id;
END
$$;

-- ===================================================================== logs, attachments, reports, feedback
CREATE OR REPLACE FUNCTION crashcache._store_records(batch jsonb)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO crashcache.log (project_id, archive_id, timestamp, level, severity_number, body,
                                trace_id, release_id, environment_id, attributes)
    SELECT a.project_id, a.id, crashcache._event_time(l.timestamp_us, a.received_at), l.level,
           l.severity_number, l.body, l.trace_id::uuid, d_rel.id, d_env.id, l.attributes::jsonb
    FROM jsonb_to_recordset(batch) AS p(archive_id bigint, logs jsonb)
    JOIN crashcache.archive a ON a.id = p.archive_id
    CROSS JOIN LATERAL jsonb_to_recordset(p.logs) AS l(timestamp_us bigint, level text,
        severity_number int, body text, trace_id text, release text, environment text,
        attributes jsonb)
    LEFT JOIN crashcache.dim_release d_rel ON d_rel.name = l.release AND d_rel.version = ''
    LEFT JOIN crashcache.dim_environment d_env ON d_env.name = l.environment AND d_env.version = ''
    WHERE p.logs IS NOT NULL;

    INSERT INTO crashcache.attachment (project_id, archive_id, item_index, event_id, filename,
                                       content_type, attachment_type, size)
    SELECT a.project_id, a.id, t.item_index, t.event_id::uuid, t.filename, t.content_type,
           t.attachment_type, t.size
    FROM jsonb_to_recordset(batch) AS p(archive_id bigint, attachments jsonb)
    JOIN crashcache.archive a ON a.id = p.archive_id
    CROSS JOIN LATERAL jsonb_to_recordset(p.attachments) AS t(item_index int, event_id text,
        filename text, content_type text, attachment_type text, size bigint)
    WHERE p.attachments IS NOT NULL
    ON CONFLICT (archive_id, item_index) DO NOTHING;

    INSERT INTO crashcache.client_outcome (project_id, archive_id, timestamp, outcome, reason,
                                           category, quantity)
    SELECT a.project_id, a.id, crashcache._event_time(o.timestamp_us, a.received_at), o.outcome,
           o.reason, o.category, o.quantity
    FROM jsonb_to_recordset(batch) AS p(archive_id bigint, outcomes jsonb)
    JOIN crashcache.archive a ON a.id = p.archive_id
    CROSS JOIN LATERAL jsonb_to_recordset(p.outcomes) AS o(timestamp_us bigint, outcome text,
        reason text, category text, quantity bigint)
    WHERE p.outcomes IS NOT NULL;

    INSERT INTO crashcache.feedback (project_id, archive_id, event_id, name, email, message, timestamp)
    SELECT a.project_id, a.id, f.event_id::uuid, f.name, f.email, f.message,
           crashcache._event_time(f.timestamp_us, a.received_at)
    FROM jsonb_to_recordset(batch) AS p(archive_id bigint, feedback jsonb)
    JOIN crashcache.archive a ON a.id = p.archive_id
    CROSS JOIN LATERAL jsonb_to_recordset(p.feedback) AS f(event_id text, name text, email text,
        message text, timestamp_us bigint)
    WHERE p.feedback IS NOT NULL;
END
$$;

-- ===================================================================== one batch
-- Writes everything one digest batch produced.
CREATE OR REPLACE FUNCTION crashcache._store_digest(batch jsonb)
RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO crashcache.queue_error (archive_id, project_id, reason)
    SELECT a.id, a.project_id, p.error
    FROM jsonb_to_recordset(batch) AS p(archive_id bigint, error text)
    JOIN crashcache.archive a ON a.id = p.archive_id
    WHERE p.error IS NOT NULL
    ON CONFLICT (archive_id) DO UPDATE SET reason = EXCLUDED.reason, failed_at = now();

    -- First, in one sorted pass: every dimension value the rows below refer to.
    PERFORM crashcache._ensure_dimensions(crashcache._batch_dimensions(batch));
    PERFORM crashcache._store_transactions(batch);
    PERFORM crashcache._store_sessions(batch);
    PERFORM crashcache._store_check_ins(batch);
    PERFORM crashcache._store_records(batch);
    -- Last: it locks the issues it counts into until the batch commits.
    PERFORM crashcache._store_events(batch);
END
$$;

-- The disk guard's measure, written in Rust (crashcache.max_database_size, max_queued).
CREATE FUNCTION "_over_capacity"() RETURNS text
STRICT VOLATILE PARALLEL RESTRICTED
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'over_capacity_wrapper';

-- Ingests many requests in one statement and one transaction: an HTTP front end that gathers
-- concurrent requests pays for one round trip and one commit instead of one per request.
-- The arrays are parallel (element i of each is request i); results come back in request
-- order. For each request it checks the key, decodes and checks the body under the size
-- limits, stores it compressed and content-addressed, enqueues it, and wakes the digest
-- workers on commit. A payload already stored for its project (or earlier in the same batch)
-- is answered `duplicate` and not digested again.
--   project_ids             from the URL; NULL for the legacy /api/store/ (taken from the key)
--   public_keys             the DSN's public key, however the client sent it; NULL to take it
--                           from the envelope header's dsn (browser tunnels)
--   bodies                  the request bodies as received
--   content_encodings       the Content-Encoding headers (identity, gzip, deflate, br, zstd)
--   kinds                   'envelope' or 'store' (a single JSON event)
--   client_ips              the senders' addresses, used where a payload says "{{auto}}"
--   max_compressed_bytes    override of crashcache.max_compressed_bytes
--   max_decompressed_bytes  override of crashcache.max_decompressed_bytes
-- (A name of its own rather than an overload of ingest(): with untyped parameters, as
-- drivers send them, an overload would be ambiguous.)
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
-- and compiling it took 85 ms a call. It runs with its owner's rights, so that the proxy's role
-- needs no right on any table (sql/roles.sql); hence the fixed search_path.
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET plan_cache_mode = force_generic_plan SET search_path = pg_catalog, pg_temp SET jit = off AS $$
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

ALTER FUNCTION crashcache.ingest(int, text, bytea, text, text, int, int, inet)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- They read settings and the dictionary table: stable, and not for parallel workers.
ALTER FUNCTION crashcache._prepare_payload(bytea, text, text, int, int, int) STABLE PARALLEL RESTRICTED;
ALTER FUNCTION crashcache.unpack(smallint, bytea) STABLE PARALLEL RESTRICTED;

-- A column more (over_capacity): the function is made anew, and sql/roles.sql grants it again.
DROP FUNCTION crashcache.stats();
-- The tracker's vital signs, cheap enough to poll every second: queue and error counts are
-- exact (both stay small when digest keeps up); the large tables' sizes are PostgreSQL's
-- running estimates; over_capacity says why ingest refuses new payloads (the disk guard),
-- NULL while it does not.
CREATE FUNCTION crashcache.stats()
RETURNS TABLE (
    queued bigint, oldest_queued_age interval, errors bigint,
    archives_estimate bigint, events_estimate bigint, issues bigint,
    running_workers bigint, digested_since_start bigint, failed_since_start bigint,
    over_capacity text)
-- With its owner's rights, so that the proxy's /health needs no right on any table.
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT (SELECT count(*) FROM crashcache.queue),
           (SELECT now() - min(q.enqueued_at) FROM crashcache.queue q),
           (SELECT count(*) FROM crashcache.queue_error),
           pg_stat_get_live_tuples('crashcache.archive'::regclass),
           pg_stat_get_live_tuples('crashcache.event'::regclass),
           (SELECT count(*) FROM crashcache.issue WHERE event_count > 0),
           w.running_workers, w.digested_since_start, w.failed_since_start,
           crashcache._over_capacity()
    FROM crashcache._worker_stats() w
$$;
REVOKE EXECUTE ON FUNCTION
    crashcache.ingest_batch(int[], text[], bytea[], text[], text[], inet[], int, int),
    crashcache.ingest(int, text, bytea, text, text, int, int, inet),
    crashcache.stats()
FROM PUBLIC;

-- One statement each: every call rewrites the extension's catalog row.
SELECT pg_catalog.pg_extension_config_dump('crashcache.project', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.project_key', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.dictionary', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.archive', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.issue', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.project', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.dictionary', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.archive', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.issue', 'id'), '');

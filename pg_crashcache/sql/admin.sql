-- Operating the tracker: rebuilding, watching the queue, triaging issues, reading payloads.

-- Rebuilds everything derived from the archive of one project (or all): deletes the derived
-- rows, re-enqueues every archived payload (also those that failed before) and lets the
-- workers digest them again. Issues keep their id and status, so triage survives; their
-- counts restart from the events retention removed (and first_seen and users are kept for
-- those) and fill up again as the workers go. Returns the payloads enqueued.
CREATE FUNCTION crashcache.ruminate(project_id int DEFAULT NULL)
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
    -- Hours count from their expired events as issues do, after the issues' locks.
    DELETE FROM crashcache.issue_hour h
    WHERE h.expired_events = 0 AND (only_project IS NULL OR h.project_id = only_project);
    UPDATE crashcache.issue_hour h SET events = h.expired_events
    WHERE only_project IS NULL OR h.project_id = only_project;
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

-- Sends the payloads that failed to digest through the digest again (after an upgrade that
-- fixes what made them fail). Returns how many were re-enqueued.
CREATE FUNCTION crashcache.retry_errors(project_id int DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    enqueued bigint;
BEGIN
    WITH retried AS (
        DELETE FROM crashcache.queue_error e
        WHERE retry_errors.project_id IS NULL OR e.project_id = retry_errors.project_id
        RETURNING e.archive_id)
    INSERT INTO crashcache.queue (archive_id) SELECT r.archive_id FROM retried r
    ON CONFLICT (archive_id) DO NOTHING;
    GET DIAGNOSTICS enqueued = ROW_COUNT;
    PERFORM crashcache._wake_workers();
    RETURN enqueued;
END
$$;

-- Every archive of one project (or all) as a JSON document, for crashcache.import_archive()
-- on another server: the stored body stays compressed, in base64. A body packed with a
-- dictionary is exported as sent, since the other server does not have the dictionary.
CREATE FUNCTION crashcache.export_archives(project_id int DEFAULT NULL)
RETURNS SETOF jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
               'project_id', a.project_id, 'content_hash', encode(a.content_hash, 'hex'),
               'kind', a.kind, 'received_at', a.received_at, 'raw_size', a.raw_size,
               'client_ip', host(a.client_ip), 'codec', p.codec,
               'body', translate(encode(p.body, 'base64'), E'\n', ''))
    FROM crashcache.archive a
    CROSS JOIN LATERAL (
        SELECT 0::smallint AS codec, crashcache.unpack(a.codec, a.body) AS body WHERE a.codec = 2
        UNION ALL
        SELECT a.codec, a.body WHERE a.codec <> 2
    ) p
    WHERE export_archives.project_id IS NULL OR a.project_id = export_archives.project_id
    ORDER BY a.id
$$;

-- Trains a zstd dictionary on the latest `samples` payloads of the archive (all projects) and
-- makes it the one ingest packs new payloads with. Returns its id. Worth running again (from
-- pg_cron, say weekly) when the events change; earlier payloads keep their dictionary.
CREATE FUNCTION crashcache.train_dictionary(samples int DEFAULT 2000, max_bytes int DEFAULT 65536)
RETURNS int LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    payloads bytea[] := ARRAY(
        SELECT crashcache.unpack(a.codec, a.body)
        FROM crashcache.archive a ORDER BY a.id DESC LIMIT samples);
    new_id int;
BEGIN
    IF cardinality(payloads) < 100 THEN
        RAISE EXCEPTION 'the archive has % payloads: a dictionary needs at least 100', cardinality(payloads);
    END IF;
    new_id := nextval(pg_get_serial_sequence('crashcache.dictionary', 'id'));
    INSERT INTO crashcache.dictionary (id, samples, dict)
    VALUES (new_id, cardinality(payloads), crashcache._train_dictionary(payloads, max_bytes, new_id));
    RETURN new_id;
END
$$;

-- Adds an archive exported by crashcache.export_archives() and enqueues it; an archive that
-- exists already is skipped. The body must match its content hash. Returns whether it was added.
CREATE FUNCTION crashcache.import_archive(doc jsonb)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    stored bytea := decode(doc->>'body', 'base64');
    hash bytea := decode(doc->>'content_hash', 'hex');
    new_archive bigint;
BEGIN
    IF sha256(crashcache.unpack((doc->>'codec')::smallint, stored)) IS DISTINCT FROM hash THEN
        RAISE EXCEPTION 'archive % does not match its content hash', doc->>'content_hash';
    END IF;
    IF NOT EXISTS (SELECT FROM crashcache.project p WHERE p.id = (doc->>'project_id')::int) THEN
        RAISE EXCEPTION 'project % does not exist: create it first', doc->>'project_id';
    END IF;
    INSERT INTO crashcache.archive (project_id, content_hash, kind, received_at, raw_size, client_ip, codec, body)
    VALUES ((doc->>'project_id')::int, hash, doc->>'kind',
            coalesce((doc->>'received_at')::timestamptz, now()), (doc->>'raw_size')::int,
            (doc->>'client_ip')::inet, (doc->>'codec')::smallint, stored)
    ON CONFLICT ON CONSTRAINT archive_project_id_content_hash_key DO NOTHING
    RETURNING id INTO new_archive;
    IF new_archive IS NULL THEN
        RETURN false;
    END IF;
    INSERT INTO crashcache.queue (archive_id) VALUES (new_archive);
    PERFORM crashcache._wake_workers();
    RETURN true;
END
$$;

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

REVOKE EXECUTE ON FUNCTION crashcache.stats() FROM PUBLIC;

-- Whether an ignore (an issue's status_details) has run out: its time has come, or the issue
-- has `events` events or `users` users since it was ignored, as many as it was ignored for.
CREATE FUNCTION crashcache._ignore_ran_out(details jsonb, events bigint, users bigint)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce((details->>'ignoreUntil')::timestamptz <= now()
                 OR events >= (details->>'_eventsAtIgnore')::bigint + (details->>'ignoreCount')::bigint
                 OR users >= (details->>'_usersAtIgnore')::bigint + (details->>'ignoreUserCount')::bigint, false)
$$;

-- The status an issue has now: an issue ignored until a time, a number of events or of users
-- is unresolved again once it is reached. Used by the issues view and the Web API. (The
-- digest also stores the change when an event comes after it.)
CREATE FUNCTION crashcache._current_status(i crashcache.issue)
RETURNS crashcache.issue_status LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN i.status = 'ignored' AND crashcache._ignore_ran_out(i.status_details, i.event_count, i.user_count)
                THEN 'unresolved'::crashcache.issue_status
                ELSE i.status END
$$;

-- Marks an issue resolved, ignored or unresolved. A resolved issue that gets a new event is
-- unresolved again by the digest. Returns whether the issue exists.
CREATE FUNCTION crashcache.set_issue_status(issue_id bigint, status crashcache.issue_status)
RETURNS boolean LANGUAGE sql VOLATILE AS $$
    WITH changed AS (
        UPDATE crashcache.issue i
        SET status = set_issue_status.status,
            status_changed_at = CASE WHEN i.status = set_issue_status.status THEN i.status_changed_at ELSE now() END
        WHERE i.id = set_issue_status.issue_id RETURNING 1)
    SELECT EXISTS (SELECT FROM changed)
$$;

-- The payload of an archive as the SDK sent it (decoded).
CREATE FUNCTION crashcache.archive_payload(archive_id bigint)
RETURNS bytea LANGUAGE sql STABLE AS $$
    SELECT crashcache.unpack(a.codec, a.body) FROM crashcache.archive a WHERE a.id = archive_id
$$;

-- The full JSON of a digested event (exception, stack trace, breadcrumbs, contexts), read
-- back from the archive. With its owner's rights, so that readers (Metabase) need no right on
-- the archive, whose other payloads and raw bodies they may not read.
CREATE FUNCTION crashcache.event_json(project_id int, event_id uuid)
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

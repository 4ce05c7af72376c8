-- The ingest fast path: one call per HTTP request, one short transaction.

-- What ingest answers. status is the HTTP status the proxy should answer with; outcome says
-- what happened: accepted, duplicate (stored before, not digested again), or an error code
-- (missing_key, unknown_key, wrong_project, too_large, unsupported_encoding, undecodable,
-- malformed).
CREATE TYPE crashcache.ingest_result AS (
    status      int,
    outcome     text,
    event_id    text,
    project_id  int,
    archive_id  bigint,
    detail      text
);

-- Checks the key, decodes and checks the body under the size limits, stores it compressed
-- and content-addressed, enqueues it and wakes the digest workers on commit.
--   project_id              from the URL; NULL for the legacy /api/store/ (taken from the key)
--   public_key              the DSN's public key, however the client sent it; NULL to take it
--                           from the envelope header's dsn (browser tunnels)
--   body                    the request body as received
--   content_encoding        the Content-Encoding header (identity, gzip, deflate, br, zstd)
--   kind                    'envelope' or 'store' (a single JSON event)
--   max_compressed_bytes    override of crashcache.max_compressed_bytes
--   max_decompressed_bytes  override of crashcache.max_decompressed_bytes
--   client_ip               the sender's address, used where a payload says "{{auto}}"
CREATE FUNCTION crashcache.ingest(
    project_id int,
    public_key text,
    body bytea,
    content_encoding text DEFAULT NULL,
    kind text DEFAULT 'envelope',
    max_compressed_bytes int DEFAULT NULL,
    max_decompressed_bytes int DEFAULT NULL,
    client_ip inet DEFAULT NULL
) RETURNS crashcache.ingest_result
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    key text := nullif(ingest.public_key, '');
    key_project int;
    key_active boolean;
    prepared record;
    is_prepared boolean := false;
    new_archive bigint;
BEGIN
    -- Without a key in the request, an envelope may carry one in its header's dsn: decode first.
    IF key IS NULL AND kind = 'envelope' THEN
        SELECT * INTO prepared FROM crashcache._prepare_payload(
            body, content_encoding, kind, max_compressed_bytes, max_decompressed_bytes);
        is_prepared := true;
        key := prepared.dsn_key;
    END IF;
    IF key IS NULL THEN
        -- (Nested: PL/pgSQL reads prepared's fields even when is_prepared is false.)
        IF is_prepared THEN
            IF prepared.error_code IS NOT NULL THEN
                RETURN (prepared.http_status, prepared.error_code, NULL, project_id, NULL, prepared.detail)::crashcache.ingest_result;
            END IF;
        END IF;
        RETURN (401, 'missing_key', NULL, project_id, NULL, 'no public key (sentry_key) was given')::crashcache.ingest_result;
    END IF;

    SELECT k.project_id, k.active INTO key_project, key_active
    FROM crashcache.project_key k WHERE k.public_key = key;
    IF key_project IS NULL OR NOT key_active THEN
        RETURN (403, 'unknown_key', NULL, project_id, NULL, 'unknown or revoked public key')::crashcache.ingest_result;
    END IF;
    IF ingest.project_id IS NOT NULL AND ingest.project_id <> key_project THEN
        RETURN (403, 'wrong_project', NULL, project_id, NULL, 'the public key does not belong to project ' || ingest.project_id)::crashcache.ingest_result;
    END IF;

    IF NOT is_prepared THEN
        SELECT * INTO prepared FROM crashcache._prepare_payload(
            body, content_encoding, kind, max_compressed_bytes, max_decompressed_bytes);
    END IF;
    IF prepared.error_code IS NOT NULL THEN
        RETURN (prepared.http_status, prepared.error_code, NULL, key_project, NULL, prepared.detail)::crashcache.ingest_result;
    END IF;

    INSERT INTO crashcache.archive (project_id, content_hash, kind, raw_size, client_ip, codec, body)
    VALUES (key_project, prepared.content_hash, kind, prepared.raw_size, client_ip, prepared.codec, prepared.stored)
    ON CONFLICT ON CONSTRAINT archive_project_id_content_hash_key DO NOTHING
    RETURNING id INTO new_archive;
    IF new_archive IS NULL THEN
        SELECT a.id INTO new_archive FROM crashcache.archive a
        WHERE a.project_id = key_project AND a.content_hash = prepared.content_hash;
        RETURN (200, 'duplicate', prepared.event_id, key_project, new_archive, NULL)::crashcache.ingest_result;
    END IF;

    INSERT INTO crashcache.queue (archive_id) VALUES (new_archive);
    PERFORM crashcache._wake_workers();
    RETURN (200, 'accepted', prepared.event_id, key_project, new_archive, NULL)::crashcache.ingest_result;
END
$$;

-- The same for many requests at once, in one transaction: an HTTP front end that gathers the
-- requests of a few milliseconds pays for one commit instead of one per request. The arrays
-- are parallel (element i of each is request i); results come back in request order. (A name
-- of its own rather than an overload: with untyped parameters, as drivers send them, an
-- overload of ingest() would be ambiguous.)
CREATE FUNCTION crashcache.ingest_batch(
    project_ids int[],
    public_keys text[],
    bodies bytea[],
    content_encodings text[],
    kinds text[],
    client_ips inet[],
    max_compressed_bytes int DEFAULT NULL,
    max_decompressed_bytes int DEFAULT NULL
) RETURNS SETOF crashcache.ingest_result
LANGUAGE sql VOLATILE AS $$
    SELECT r.*
    FROM unnest(project_ids, public_keys, bodies, content_encodings, kinds, client_ips)
         WITH ORDINALITY AS q(project_id, public_key, body, content_encoding, kind, client_ip, n)
    CROSS JOIN LATERAL crashcache.ingest(q.project_id, q.public_key, q.body, q.content_encoding,
                                         q.kind, max_compressed_bytes, max_decompressed_bytes,
                                         q.client_ip) AS r
    ORDER BY q.n
$$;

-- The ingest fast path: one statement and one short transaction for one HTTP request or for
-- a batch of them.

-- What ingest answers. status is the HTTP status the proxy should answer with; outcome says
-- what happened: accepted, duplicate (stored before, not digested again), or an error code
-- (missing_key, unknown_key, wrong_project, too_large, unsupported_encoding, undecodable,
-- malformed, over_capacity).
CREATE TYPE crashcache.ingest_result AS (
    status      int,
    outcome     text,
    event_id    text,
    project_id  int,
    archive_id  bigint,
    detail      text
);

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

-- One request: ingest_batch with one element, for callers with one payload at a time.
--   (arguments as for ingest_batch, one value each)
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
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM crashcache.ingest_batch(
        ARRAY[project_id], ARRAY[public_key], ARRAY[body], ARRAY[content_encoding], ARRAY[kind],
        ARRAY[client_ip], max_compressed_bytes, max_decompressed_bytes)
$$;

-- Only the roles granted it may ingest (sql/roles.sql): both run with their owner's rights.
REVOKE EXECUTE ON FUNCTION
    crashcache.ingest_batch(int[], text[], bytea[], text[], text[], inet[], int, int),
    crashcache.ingest(int, text, bytea, text, text, int, int, inet)
FROM PUBLIC;

-- The web UI's detail pages: an issue with its event, release health, performance and a
-- transaction's spans, crons, logs and the status page. Each ui_* function here feeds one page
-- (or one part of one) with a single call; role crashcache_ui may call them (sql/roles.sql).
-- Errors follow web_api.sql's SQLSTATEs (no_data_found 404, class 22 400, insufficient_
-- privilege 403), which the UI turns into its error pages. Every read is bounded: pages look
-- at a period (`period`, the API's statsPeriod syntax: 24h, 14d) or at the latest rows only,
-- through the tables' indexes, so that a page costs the same at a million events.

-- ===================================================================== helpers
-- The project a page's ?project= names (slug or id); the first project when none is given.
CREATE FUNCTION crashcache._ui_pages_project(project text)
RETURNS crashcache.project LANGUAGE plpgsql STABLE AS $$
DECLARE
    found crashcache.project;
BEGIN
    IF project IS NOT NULL AND project <> '' THEN
        RETURN crashcache._api_project(NULL, project);
    END IF;
    SELECT * INTO found FROM crashcache.project p ORDER BY p.id LIMIT 1;
    IF found IS NULL THEN
        RAISE EXCEPTION 'There is no project yet' USING ERRCODE = 'no_data_found';
    END IF;
    RETURN found;
END
$$;

-- A page's period in seconds: `period` in the API's syntax, `fallback` when not given.
CREATE FUNCTION crashcache._ui_pages_period(period text, fallback text)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT crashcache._parse_stats_period(coalesce(nullif(period, ''), fallback))
$$;

-- A trace id in the forms SDKs send (32 hex digits), NULL when it is not one.
CREATE FUNCTION crashcache._ui_pages_trace_id(trace text)
RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
    SELECT trace::uuid WHERE trace ~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$'
$$;

-- A dimension's text as the events view shows it: name and version.
CREATE FUNCTION crashcache._ui_pages_dimension(key text, id int)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE key
        WHEN 'release' THEN (SELECT d.name FROM crashcache.dim_release d WHERE d.id = _ui_pages_dimension.id)
        WHEN 'environment' THEN (SELECT d.name FROM crashcache.dim_environment d WHERE d.id = _ui_pages_dimension.id)
        WHEN 'os' THEN (SELECT concat_ws(' ', d.name, nullif(d.version, '')) FROM crashcache.dim_os d WHERE d.id = _ui_pages_dimension.id)
        WHEN 'runtime' THEN (SELECT concat_ws(' ', d.name, nullif(d.version, '')) FROM crashcache.dim_runtime d WHERE d.id = _ui_pages_dimension.id)
        WHEN 'browser' THEN (SELECT concat_ws(' ', d.name, nullif(d.version, '')) FROM crashcache.dim_browser d WHERE d.id = _ui_pages_dimension.id)
        WHEN 'device' THEN (SELECT d.name FROM crashcache.dim_device d WHERE d.id = _ui_pages_dimension.id)
        WHEN 'server_name' THEN (SELECT d.name FROM crashcache.dim_server_name d WHERE d.id = _ui_pages_dimension.id)
        WHEN 'transaction' THEN (SELECT d.name FROM crashcache.dim_transaction d WHERE d.id = _ui_pages_dimension.id)
        WHEN 'logger' THEN (SELECT d.name FROM crashcache.dim_logger d WHERE d.id = _ui_pages_dimension.id)
    END
$$;

-- ===================================================================== issue page
-- How many of an issue's latest events its tag distribution and releases are read from: the
-- page costs the same for an issue with a million events.
CREATE FUNCTION crashcache._ui_pages_issue_sample()
RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 2000 $$;

-- The tag distribution of an issue's latest events: per key its top values with their counts,
-- in the order of the API's tags (dimensions first), and how many events were read.
-- In PL/pgSQL with custom plans: planned for the issue at hand, the sample is read backwards
-- along event_issue_time_idx; a generic plan would sort every event of a hot issue.
CREATE FUNCTION crashcache._ui_pages_issue_tags(issue_id bigint)
RETURNS jsonb LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan AS $$
BEGIN
    RETURN (WITH recent AS (
        SELECT e.level, e.release_id, e.environment_id, e.os_id, e.runtime_id, e.browser_id,
               e.device_id, e.server_name_id, e.transaction_id, e.logger_id, e.user_key, e.tags
        FROM crashcache.event e WHERE e.issue_id = _ui_pages_issue_tags.issue_id
        ORDER BY e.timestamp DESC LIMIT crashcache._ui_pages_issue_sample()),
    dimensions AS MATERIALIZED (
        SELECT d.key, d.ord, d.id, count(*) AS n FROM recent r
        CROSS JOIN LATERAL (VALUES ('environment', 1, r.environment_id), ('release', 2, r.release_id),
                                   ('os', 3, r.os_id), ('runtime', 4, r.runtime_id), ('browser', 5, r.browser_id),
                                   ('device', 6, r.device_id), ('server_name', 7, r.server_name_id),
                                   ('transaction', 8, r.transaction_id), ('logger', 9, r.logger_id)) d(key, ord, id)
        WHERE d.id IS NOT NULL GROUP BY 1, 2, 3),
    counted AS (
        SELECT d.key, d.ord, crashcache._ui_pages_dimension(d.key, d.id) AS value, d.n FROM dimensions d
        UNION ALL
        SELECT 'level', 0, r.level::text, count(*) FROM recent r GROUP BY r.level
        UNION ALL
        SELECT 'user', 10, r.user_key, count(*) FROM recent r WHERE r.user_key IS NOT NULL GROUP BY r.user_key
        UNION ALL
        SELECT t.key, 11, t.value, count(*) FROM recent r
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(r.tags) = 'object' THEN r.tags END) t
        WHERE t.key NOT IN (SELECT c.key FROM crashcache._api_tag_columns() c)
        GROUP BY t.key, t.value),
    ranked AS (
        SELECT c.*, row_number() OVER (PARTITION BY c.key ORDER BY c.n DESC, c.value) AS rank,
               count(*) OVER (PARTITION BY c.key) AS unique_values,
               sum(c.n) OVER (PARTITION BY c.key) AS total
        FROM counted c WHERE c.value IS NOT NULL)
    SELECT jsonb_build_object(
        'sampled', (SELECT count(*) FROM recent),
        'keys', coalesce((SELECT jsonb_agg(k.j ORDER BY k.ord, k.key) FROM (
            SELECT r.key, min(r.ord) AS ord,
                   jsonb_build_object('key', r.key, 'total', max(r.total), 'unique', max(r.unique_values),
                                      'top', jsonb_agg(jsonb_build_object('value', r.value, 'count', r.n) ORDER BY r.rank)) AS j
            FROM ranked r WHERE r.rank <= 5 GROUP BY r.key) k), '[]')));
END
$$;

-- The issue page's header: the issue as the API shows it, with the releases of its first and
-- last event, the releases of its latest events, its tag distribution, its events per hour of
-- the last day and per day of the last 14 days (each
-- counted up to a cap), and its activity (notes, status changes).
CREATE FUNCTION crashcache.ui_issue(issue text)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    i crashcache.issue := crashcache._api_issue(NULL, issue);
BEGIN
    RETURN (crashcache.api_issue(NULL, i.id::text) - 'activity')
        || jsonb_build_object(
            'fingerprint', i.fingerprint, 'groupingMethod', i.grouping_method,
            'firstRelease', (SELECT r.name FROM crashcache.event e JOIN crashcache.dim_release r ON r.id = e.release_id
                             WHERE e.issue_id = i.id ORDER BY e.timestamp, e.id LIMIT 1),
            'lastRelease', (SELECT r.name FROM crashcache.event e JOIN crashcache.dim_release r ON r.id = e.release_id
                            WHERE e.issue_id = i.id ORDER BY e.timestamp DESC, e.id DESC LIMIT 1),
            'releases', coalesce((SELECT jsonb_agg(r.name ORDER BY s.last_seen DESC) FROM (
                                     SELECT e.release_id, max(e.timestamp) AS last_seen
                                     FROM (SELECT x.release_id, x.timestamp FROM crashcache.event x WHERE x.issue_id = i.id
                                           ORDER BY x.timestamp DESC LIMIT crashcache._ui_pages_issue_sample()) e
                                     WHERE e.release_id IS NOT NULL GROUP BY e.release_id) s
                                 JOIN crashcache.dim_release r ON r.id = s.release_id), '[]'),
            'tags', crashcache._ui_pages_issue_tags(i.id),
            -- The digest's hourly counts (ui.sql), as the issue list's sparklines.
            'hourly', crashcache._ui_issue_spark(i.id, interval '1 hour', 24),
            'daily', crashcache._ui_issue_spark(i.id, interval '1 day', 14),
            'activity', crashcache.api_issue_activities(NULL, i.id::text)->'activity');
END
$$;

-- One event of an issue (an event id, latest or oldest) as the API shows it, with what the
-- page adds: the issue's oldest and latest event ids (navigation), the event's attachments,
-- how it was grouped (crashcache.grouping() of what the SDK sent, beside the issue's
-- fingerprint), and the transaction of its trace, if one was received.
CREATE FUNCTION crashcache.ui_issue_event(issue text, event text)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    i crashcache.issue := crashcache._api_issue(NULL, issue);
    shown jsonb := crashcache.api_issue_event(NULL, i.id::text, event);
    event_uuid uuid := (shown->>'eventID')::uuid;
    trace uuid := crashcache._ui_pages_trace_id(shown->'contexts'->'trace'->>'trace_id');
BEGIN
    RETURN jsonb_build_object(
        'event', shown,
        'oldestEventID', (SELECT replace(e.event_id::text, '-', '') FROM crashcache.event e
                          WHERE e.issue_id = i.id ORDER BY e.timestamp, e.id LIMIT 1),
        'latestEventID', (SELECT replace(e.event_id::text, '-', '') FROM crashcache.event e
                          WHERE e.issue_id = i.id ORDER BY e.timestamp DESC, e.id DESC LIMIT 1),
        'attachments', coalesce((SELECT jsonb_agg(jsonb_build_object('id', a.id, 'filename', a.filename,
                                                                      'contentType', a.content_type,
                                                                      'type', a.attachment_type, 'size', a.size)
                                                  ORDER BY a.id)
                                 FROM crashcache.attachment a
                                 WHERE a.project_id = i.project_id AND a.event_id = event_uuid), '[]'),
        'grouping', crashcache.grouping(coalesce(crashcache.event_json(i.project_id, event_uuid), '{}'))
                    || jsonb_build_object('issueFingerprint', i.fingerprint, 'issueMethod', i.grouping_method),
        'traceID', replace(trace::text, '-', ''),
        'transactionEventID', (SELECT replace(s.transaction_event_id::text, '-', '') FROM crashcache.span s
                               WHERE s.project_id = i.project_id AND s.trace_id = trace
                                 AND s.transaction_event_id IS NOT NULL LIMIT 1),
        'projectSlug', (SELECT p.slug FROM crashcache.project p WHERE p.id = i.project_id));
END
$$;

-- What the SDK sent of one event of an issue, for the raw JSON download.
CREATE FUNCTION crashcache.ui_event_json(issue text, event text)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    i crashcache.issue := crashcache._api_issue(NULL, issue);
    found jsonb;
BEGIN
    SELECT crashcache.event_json(e.project_id, e.event_id) INTO found FROM crashcache.event e
    WHERE e.project_id = i.project_id AND e.event_id = crashcache._api_event_id(event) AND e.issue_id = i.id;
    IF found IS NULL THEN
        RAISE EXCEPTION 'No event % in issue %', quote_literal(event), i.id USING ERRCODE = 'no_data_found';
    END IF;
    RETURN found;
END
$$;

-- The Web API's body for one of the issue page's actions: resolve, resolve_next_release,
-- ignore (for `ignore_minutes`, or forever when NULL) and reopen.
CREATE FUNCTION crashcache._ui_pages_status_body(action text, ignore_minutes int)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    CASE action
    WHEN 'resolve' THEN RETURN '{"status": "resolved"}';
    WHEN 'resolve_next_release' THEN RETURN '{"status": "resolved", "statusDetails": {"inNextRelease": true}}';
    WHEN 'reopen' THEN RETURN '{"status": "unresolved"}';
    WHEN 'ignore' THEN
        IF ignore_minutes IS NULL THEN
            RETURN '{"status": "ignored"}';
        END IF;
        IF ignore_minutes <= 0 OR ignore_minutes > 366 * 24 * 60 THEN
            RAISE EXCEPTION 'An issue is ignored for 1 minute to a year, or forever' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN jsonb_build_object('status', 'ignored', 'statusDetails', jsonb_build_object('ignoreDuration', ignore_minutes));
    ELSE
        RAISE EXCEPTION 'Unknown action %', quote_literal(action) USING ERRCODE = 'invalid_parameter_value',
            HINT = 'resolve, resolve_next_release, ignore or reopen';
    END CASE;
END
$$;

-- Resolves, ignores or reopens an issue from its page; the activity names the user. Returns
-- the issue as the API shows it.
CREATE FUNCTION crashcache.ui_set_issue_status(acting_user int, issue text, action text, ignore_minutes int DEFAULT NULL)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT crashcache.api_update_issue(NULL, issue, crashcache._ui_pages_status_body(action, ignore_minutes),
                                       crashcache._ui_actor(acting_user))
$$;

-- Adds a comment to an issue, by the user (the Web API's note). Returns the note.
CREATE FUNCTION crashcache.ui_add_issue_comment(acting_user int, issue text, comment text)
RETURNS jsonb LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT crashcache.api_add_issue_note(NULL, issue, jsonb_build_object('text', comment),
                                         crashcache._ui_actor(acting_user))
$$;

-- An attachment for download: its name, type and bytes, read from its archive.
CREATE FUNCTION crashcache.ui_attachment(attachment_id bigint)
RETURNS TABLE (filename text, content_type text, body bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY
        SELECT a.filename, a.content_type, item.payload
        FROM crashcache.attachment a
        JOIN crashcache.archive ar ON ar.id = a.archive_id
        CROSS JOIN LATERAL crashcache.payload_items(crashcache.unpack(ar.codec, ar.body), ar.kind) item
        WHERE a.id = attachment_id AND item.item_index = a.item_index;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No attachment %', attachment_id USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

-- ===================================================================== release health
-- The release health page reads per release at most this many of its latest sessions (and as
-- many pre-aggregated buckets): the rates of a busy release are those of its latest sessions.
CREATE FUNCTION crashcache._ui_pages_session_window()
RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 500 $$;

-- Per release and environment of a project, over the period (default 14 days), for the 20
-- releases with the latest sessions: sessions, crash-free session and user rates (crashed
-- and abnormal sessions are not crash-free), adoption (the release's share of its
-- environment's sessions), sessions per 24th of the period, whether the release's figures
-- come from its latest sessions only (`sampled`), and the issues whose first event came with
-- it. Release ids come from session_release_idx, one probe each (a loose index scan).
CREATE FUNCTION crashcache.ui_release_health(project text, period text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan SET work_mem = '32MB' AS $$
DECLARE
    p crashcache.project := crashcache._ui_pages_project(project);
    seconds bigint := crashcache._ui_pages_period(period, '14d');
    since timestamptz := now() - make_interval(secs => seconds);
    cap int := crashcache._ui_pages_session_window();
    rows jsonb;
BEGIN
    WITH RECURSIVE known AS (
        (SELECT s.release_id FROM crashcache.session s WHERE s.project_id = p.id ORDER BY s.release_id LIMIT 1)
        UNION ALL
        SELECT (SELECT s.release_id FROM crashcache.session s WHERE s.project_id = p.id AND s.release_id > k.release_id
                ORDER BY s.release_id LIMIT 1)
        FROM known k WHERE k.release_id IS NOT NULL),
    known_aggregated AS (
        (SELECT a.release_id FROM crashcache.session_aggregate a WHERE a.project_id = p.id ORDER BY a.release_id LIMIT 1)
        UNION ALL
        SELECT (SELECT a.release_id FROM crashcache.session_aggregate a WHERE a.project_id = p.id AND a.release_id > k.release_id
                ORDER BY a.release_id LIMIT 1)
        FROM known_aggregated k WHERE k.release_id IS NOT NULL),
    releases AS (
        SELECT r.release_id,
               greatest((SELECT max(s.started) FROM crashcache.session s
                         WHERE s.project_id = p.id AND s.release_id = r.release_id AND s.started >= since),
                        (SELECT max(a.started) FROM crashcache.session_aggregate a
                         WHERE a.project_id = p.id AND a.release_id = r.release_id AND a.started >= since)) AS last_session
        FROM (SELECT release_id FROM known WHERE release_id IS NOT NULL
              UNION SELECT release_id FROM known_aggregated WHERE release_id IS NOT NULL) r),
    top AS (SELECT * FROM releases WHERE last_session IS NOT NULL ORDER BY last_session DESC LIMIT 20),
    sessions AS (
        SELECT t.release_id, x.environment_id, x.started, x.total, x.crashed, x.errored, x.did
        FROM top t
        CROSS JOIN LATERAL (
            SELECT s.environment_id, s.started, 1::bigint AS total,
                   (s.status IN ('crashed', 'abnormal'))::int::bigint AS crashed,
                   (s.errors > 0 AND s.status NOT IN ('crashed', 'abnormal'))::int::bigint AS errored, s.did
            FROM crashcache.session s
            WHERE s.project_id = p.id AND s.release_id = t.release_id AND s.started >= since
            ORDER BY s.started DESC LIMIT cap) x
        UNION ALL
        SELECT t.release_id, y.environment_id, y.started, y.exited + y.errored + y.abnormal + y.crashed,
               y.crashed + y.abnormal, y.errored, y.did
        FROM top t
        CROSS JOIN LATERAL (
            SELECT a.* FROM crashcache.session_aggregate a
            WHERE a.project_id = p.id AND a.release_id = t.release_id AND a.started >= since
            ORDER BY a.started DESC LIMIT cap) y),
    per_release AS (
        SELECT s.release_id, s.environment_id, sum(s.total) AS sessions, sum(s.crashed) AS crashed,
               sum(s.errored) AS errored, count(DISTINCT s.did) AS users,
               count(DISTINCT s.did) FILTER (WHERE s.crashed > 0) AS crashed_users,
               max(s.started) AS last_session
        FROM sessions s GROUP BY 1, 2),
    adopted AS (
        SELECT r.*, round(100.0 * r.sessions / nullif(sum(r.sessions) OVER (PARTITION BY r.environment_id), 0), 2)
                    AS adoption
        FROM per_release r),
    sampled AS (
        SELECT s.release_id, sum(s.total) >= cap AS capped FROM sessions s GROUP BY 1),
    trend AS (
        SELECT x.release_id, x.environment_id, jsonb_agg(coalesce(c.n, 0) ORDER BY x.bucket) AS counts
        FROM (SELECT r.release_id, r.environment_id, b AS bucket FROM per_release r, generate_series(1, 24) b) x
        LEFT JOIN (SELECT s.release_id, coalesce(s.environment_id, 0) AS environment_id,
                          width_bucket(extract(epoch FROM s.started), extract(epoch FROM since),
                                       extract(epoch FROM now()) + 1e-6, 24) AS bucket, sum(s.total) AS n
                   FROM sessions s GROUP BY 1, 2, 3) c
               ON c.release_id = x.release_id AND c.environment_id = coalesce(x.environment_id, 0) AND c.bucket = x.bucket
        GROUP BY 1, 2),
    new_issues AS (
        SELECT first.release_id, count(*) AS n
        FROM (SELECT i.id FROM crashcache.issue i
              WHERE i.project_id = p.id AND i.last_seen >= since AND i.first_seen >= since AND i.event_count > 0
              ORDER BY i.last_seen DESC LIMIT 1000) i
        CROSS JOIN LATERAL (SELECT e.release_id FROM crashcache.event e WHERE e.issue_id = i.id
                            ORDER BY e.timestamp, e.id LIMIT 1) first
        GROUP BY 1)
    SELECT jsonb_agg(jsonb_build_object(
               'release', rel.name, 'environment', env.name, 'sessions', r.sessions,
               'sampled', sp.capped,
               'crashed', r.crashed, 'errored', r.errored, 'users', r.users,
               'crashFreeSessions', round(100.0 * (1 - r.crashed::numeric / nullif(r.sessions, 0)), 2),
               'crashFreeUsers', round(100.0 * (1 - r.crashed_users::numeric / nullif(r.users, 0)), 2),
               'adoption', r.adoption, 'lastSession', crashcache._api_time(r.last_session), 'trend', tr.counts,
               'newIssues', coalesce(n.n, 0))
           ORDER BY t.last_session DESC, rel.name, r.sessions DESC, env.name)
    INTO rows
    FROM adopted r
    JOIN top t ON t.release_id = r.release_id
    JOIN sampled sp ON sp.release_id = r.release_id
    JOIN trend tr ON tr.release_id = r.release_id AND tr.environment_id IS NOT DISTINCT FROM r.environment_id
    JOIN crashcache.dim_release rel ON rel.id = r.release_id
    LEFT JOIN crashcache.dim_environment env ON env.id = r.environment_id
    LEFT JOIN new_issues n ON n.release_id = r.release_id;
    RETURN jsonb_build_object('project', jsonb_build_object('id', p.id, 'slug', p.slug, 'name', p.name),
                              'periodSeconds', seconds, 'sessionWindow', cap, 'releases', coalesce(rows, '[]'));
END
$$;

-- ===================================================================== performance
-- How many of a period's latest transactions the performance page reads at most: a busy
-- project's figures are those of its latest transactions, at a bounded cost.
CREATE FUNCTION crashcache._ui_pages_transaction_window()
RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 10000 $$;

-- Per transaction name of a project, over the period (default 24 hours): count, p50, p95 and
-- p99 duration, failure rate (statuses other than ok, cancelled and unknown, as Sentry
-- counts), and counts per 24th of the period; the busiest first, at most 200 names. Read from
-- the period's latest transactions (`sampled` of them; `complete` when that is all of them).
CREATE FUNCTION crashcache.ui_performance(project text, period text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET work_mem = '32MB' AS $$
DECLARE
    p crashcache.project := crashcache._ui_pages_project(project);
    seconds bigint := crashcache._ui_pages_period(period, '24h');
    since timestamptz := now() - make_interval(secs => seconds);
    sampled bigint;
    rows jsonb;
BEGIN
    WITH recent AS MATERIALIZED (
        SELECT t.transaction_id, t.duration_ms, t.status,
               width_bucket(extract(epoch FROM t.end_time), extract(epoch FROM since), extract(epoch FROM now()) + 1e-6, 24) AS bucket
        FROM crashcache.transaction t
        WHERE t.project_id = p.id AND t.end_time >= since
        ORDER BY t.end_time DESC LIMIT crashcache._ui_pages_transaction_window()),
    per_name AS (
        SELECT r.transaction_id, count(*) AS n,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY r.duration_ms) AS pct,
               count(*) FILTER (WHERE coalesce(r.status, 'ok') NOT IN ('ok', 'cancelled', 'unknown')) AS failed
        FROM recent r GROUP BY r.transaction_id ORDER BY count(*) DESC LIMIT 200),
    trend AS (
        SELECT x.transaction_id, jsonb_agg(coalesce(c.n, 0) ORDER BY x.bucket) AS counts
        FROM (SELECT n.transaction_id, b AS bucket FROM per_name n, generate_series(1, 24) b) x
        LEFT JOIN (SELECT r.transaction_id, r.bucket, count(*) AS n FROM recent r GROUP BY 1, 2) c
               ON c.transaction_id IS NOT DISTINCT FROM x.transaction_id AND c.bucket = x.bucket
        GROUP BY x.transaction_id)
    SELECT (SELECT count(*) FROM recent),
           jsonb_agg(jsonb_build_object(
               'transaction', coalesce(d.name, ''), 'count', s.n, 'p50', s.pct[1], 'p95', s.pct[2], 'p99', s.pct[3],
               'failureRate', round(100.0 * s.failed / s.n, 2), 'trend', t.counts) ORDER BY s.n DESC, d.name)
    INTO sampled, rows
    FROM per_name s
    JOIN trend t ON t.transaction_id IS NOT DISTINCT FROM s.transaction_id
    LEFT JOIN crashcache.dim_transaction d ON d.id = s.transaction_id;
    RETURN jsonb_build_object('project', jsonb_build_object('id', p.id, 'slug', p.slug, 'name', p.name),
                              'periodSeconds', seconds, 'sampled', coalesce(sampled, 0),
                              'complete', coalesce(sampled, 0) < crashcache._ui_pages_transaction_window(),
                              'transactions', coalesce(rows, '[]'));
END
$$;

-- The latest 50 events of one transaction name in a project over the period (default 14 days).
CREATE FUNCTION crashcache.ui_transaction_events(project text, name text, period text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p crashcache.project := crashcache._ui_pages_project(project);
    seconds bigint := crashcache._ui_pages_period(period, '14d');
    rows jsonb;
BEGIN
    SELECT jsonb_agg(jsonb_build_object(
               'eventID', replace(t.event_id::text, '-', ''), 'traceID', replace(t.trace_id::text, '-', ''),
               'op', t.op, 'status', t.status, 'durationMs', t.duration_ms, 'spanCount', t.span_count,
               'endTime', crashcache._api_time(t.end_time), 'release', rel.name, 'environment', env.name)
           ORDER BY t.end_time DESC, t.id DESC)
    INTO rows
    FROM (SELECT * FROM crashcache.transaction t
          WHERE t.project_id = p.id AND t.end_time >= now() - make_interval(secs => seconds)
            AND t.transaction_id IN (SELECT d.id FROM crashcache.dim_transaction d WHERE d.name = ui_transaction_events.name)
          ORDER BY t.end_time DESC, t.id DESC LIMIT 50) t
    LEFT JOIN crashcache.dim_release rel ON rel.id = t.release_id
    LEFT JOIN crashcache.dim_environment env ON env.id = t.environment_id;
    RETURN jsonb_build_object('project', jsonb_build_object('id', p.id, 'slug', p.slug, 'name', p.name),
                              'transaction', name, 'periodSeconds', seconds, 'events', coalesce(rows, '[]'));
END
$$;

-- One transaction with its spans (at most 1,000, by start), for the waterfall. The spans come
-- from the transaction's own payload (its archive), so no other project's span can join.
CREATE FUNCTION crashcache.ui_transaction_spans(project text, event text)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p crashcache.project := crashcache._ui_pages_project(project);
    t crashcache.transaction;
BEGIN
    SELECT * INTO t FROM crashcache.transaction x
    WHERE x.project_id = p.id AND x.event_id = crashcache._api_event_id(event);
    IF t IS NULL THEN
        RAISE EXCEPTION 'No transaction % in project %', quote_literal(event), p.slug USING ERRCODE = 'no_data_found';
    END IF;
    RETURN jsonb_build_object(
        'project', jsonb_build_object('id', p.id, 'slug', p.slug, 'name', p.name),
        'transaction', jsonb_build_object(
            'eventID', replace(t.event_id::text, '-', ''), 'traceID', replace(t.trace_id::text, '-', ''),
            'name', (SELECT d.name FROM crashcache.dim_transaction d WHERE d.id = t.transaction_id),
            'op', t.op, 'status', t.status, 'spanID', t.span_id,
            'startTime', crashcache._api_time(t.start_time), 'endTime', crashcache._api_time(t.end_time),
            'durationMs', t.duration_ms,
            'release', (SELECT d.name FROM crashcache.dim_release d WHERE d.id = t.release_id),
            'environment', (SELECT d.name FROM crashcache.dim_environment d WHERE d.id = t.environment_id)),
        'spans', coalesce((SELECT jsonb_agg(jsonb_build_object(
                               'spanID', s.span_id, 'parentSpanID', s.parent_span_id, 'op', s.op,
                               'description', s.description, 'status', s.status,
                               'offsetMs', extract(epoch FROM s.start_time - t.start_time) * 1000,
                               'durationMs', s.duration_ms) ORDER BY s.start_time, s.id)
                           FROM (SELECT * FROM crashcache.span x
                                 WHERE x.archive_id = t.archive_id AND x.project_id = t.project_id
                                   AND x.transaction_event_id = t.event_id
                                 ORDER BY x.start_time, x.id LIMIT 1000) s), '[]'));
END
$$;

-- The transaction a trace id leads to in a project (the first one with spans of that trace).
CREATE FUNCTION crashcache.ui_trace_transaction(project text, trace text)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p crashcache.project := crashcache._ui_pages_project(project);
    trace_uuid uuid := crashcache._ui_pages_trace_id(trace);
    found uuid;
BEGIN
    IF trace_uuid IS NULL THEN
        RAISE EXCEPTION 'Invalid trace id %: 32 hexadecimal digits expected', quote_literal(trace)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT s.transaction_event_id INTO found FROM crashcache.span s
    WHERE s.project_id = p.id AND s.trace_id = trace_uuid AND s.transaction_event_id IS NOT NULL
    ORDER BY s.start_time LIMIT 1;
    IF found IS NULL THEN
        RAISE EXCEPTION 'No transaction of trace % in project %', trace, p.slug USING ERRCODE = 'no_data_found';
    END IF;
    RETURN jsonb_build_object('project', p.slug, 'eventID', replace(found::text, '-', ''));
END
$$;

-- ===================================================================== crons
-- How many of a monitor's latest check-ins in the period the crons page counts.
CREATE FUNCTION crashcache._ui_pages_check_in_window()
RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 500 $$;

-- The monitors of a project: schedule, last check-in and its status, the check-ins of the
-- period (default 14 days; at most the latest 500) by status, and the statuses of the latest
-- 20 check-ins.
CREATE FUNCTION crashcache.ui_crons(project text, period text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p crashcache.project := crashcache._ui_pages_project(project);
    seconds bigint := crashcache._ui_pages_period(period, '14d');
    rows jsonb;
BEGIN
    SELECT jsonb_agg(jsonb_build_object(
               'slug', m.slug, 'config', m.config,
               'lastStatus', latest.statuses->0->>'status', 'lastCheckIn', latest.statuses->0->>'timestamp',
               'lastDurationMs', latest.statuses->0->'duration',
               'counts', coalesce(counts.by_status, '{}'), 'recent', coalesce(latest.statuses, '[]'))
           ORDER BY m.slug)
    INTO rows
    FROM crashcache.monitor m
    CROSS JOIN LATERAL (
        SELECT jsonb_agg(jsonb_build_object('status', c.status, 'timestamp', crashcache._api_time(c.timestamp),
                                            'duration', c.duration) ORDER BY c.timestamp DESC) AS statuses
        FROM (SELECT * FROM crashcache.check_in c WHERE c.monitor_id = m.id ORDER BY c.timestamp DESC LIMIT 20) c) latest
    CROSS JOIN LATERAL (
        SELECT jsonb_object_agg(s.status, s.n) AS by_status
        FROM (SELECT c.status, count(*) AS n
              FROM (SELECT x.status FROM crashcache.check_in x
                    WHERE x.monitor_id = m.id AND x.timestamp >= now() - make_interval(secs => seconds)
                    ORDER BY x.timestamp DESC LIMIT crashcache._ui_pages_check_in_window()) c
              GROUP BY c.status) s) counts
    WHERE m.project_id = p.id;
    RETURN jsonb_build_object('project', jsonb_build_object('id', p.id, 'slug', p.slug, 'name', p.name),
                              'periodSeconds', seconds, 'monitors', coalesce(rows, '[]'));
END
$$;

-- ===================================================================== logs
-- How many log records one page of a search reads at most: a search that finds few rows
-- answers with what the latest rows held and a cursor to read on.
CREATE FUNCTION crashcache._ui_pages_log_window()
RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 10000 $$;

-- A page of a project's log records, newest first: those with the level, the text (in the
-- body, case-insensitive) and the trace id given, after the cursor ("micros:id:0").
-- `scanned_to` says where the search stopped when it read its window without filling the page.
CREATE FUNCTION crashcache.ui_logs(project text, level text DEFAULT NULL, q text DEFAULT NULL,
                                   trace text DEFAULT NULL, cursor text DEFAULT NULL, page_size int DEFAULT 50)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p crashcache.project := crashcache._ui_pages_project(project);
    after bigint[] := crashcache._api_cursor(cursor);
    size int := least(greatest(coalesce(page_size, 50), 1), 200);
    trace_uuid uuid := crashcache._ui_pages_trace_id(trace);
    pattern text := CASE WHEN q IS NOT NULL AND q <> '' THEN crashcache._api_like(q) END;
    found jsonb;
    scanned int;
    last_scanned text;
BEGIN
    IF trace IS NOT NULL AND trace <> '' AND trace_uuid IS NULL THEN
        RAISE EXCEPTION 'Invalid trace id %: 32 hexadecimal digits expected', quote_literal(trace)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH window_rows AS (
        SELECT l.* FROM crashcache.log l
        WHERE l.project_id = p.id
          AND (after IS NULL OR (l.timestamp, l.id) < (crashcache._api_from_micros(after[1]), after[2]))
        ORDER BY l.timestamp DESC, l.id DESC LIMIT crashcache._ui_pages_log_window()),
    matched AS (
        SELECT w.* FROM window_rows w
        WHERE (nullif(ui_logs.level, '') IS NULL OR w.level = lower(ui_logs.level))
          AND (pattern IS NULL OR w.body ILIKE pattern)
          AND (trace_uuid IS NULL OR w.trace_id = trace_uuid)
        ORDER BY w.timestamp DESC, w.id DESC LIMIT size + 1)
    SELECT (SELECT jsonb_agg(jsonb_build_object(
                       'id', m.id, 'timestamp', crashcache._api_time(m.timestamp), 'level', m.level,
                       'severityNumber', m.severity_number, 'body', m.body,
                       'traceID', replace(m.trace_id::text, '-', ''), 'attributes', m.attributes,
                       'release', (SELECT d.name FROM crashcache.dim_release d WHERE d.id = m.release_id),
                       'environment', (SELECT d.name FROM crashcache.dim_environment d WHERE d.id = m.environment_id),
                       'key', crashcache._api_micros(m.timestamp)) ORDER BY m.timestamp DESC, m.id DESC)
            FROM matched m),
           (SELECT count(*) FROM window_rows),
           (SELECT crashcache._api_micros(w.timestamp) || ':' || w.id || ':0' FROM window_rows w
            ORDER BY w.timestamp, w.id LIMIT 1)
    INTO found, scanned, last_scanned;
    found := coalesce(found, '[]');
    RETURN jsonb_build_object(
        'project', jsonb_build_object('id', p.id, 'slug', p.slug, 'name', p.name),
        'logs', CASE WHEN jsonb_array_length(found) > size THEN found - size ELSE found END,
        'next', CASE WHEN jsonb_array_length(found) > size
                     THEN (found->(size - 1)->>'key') || ':' || (found->(size - 1)->>'id') || ':0'
                     WHEN scanned >= crashcache._ui_pages_log_window() THEN last_scanned END,
        'windowExhausted', jsonb_array_length(found) <= size AND scanned >= crashcache._ui_pages_log_window());
END
$$;

-- ===================================================================== status
-- The tracker's vital signs (crashcache.stats()) and the latest 100 payloads that failed to
-- digest, with their reasons.
CREATE FUNCTION crashcache.ui_status()
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'stats', (SELECT to_jsonb(s) || jsonb_build_object('oldest_queued_seconds', extract(epoch FROM s.oldest_queued_age))
                  FROM crashcache.stats() s),
        'errors', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                'archiveID', e.archive_id, 'project', p.slug, 'failedAt', crashcache._api_time(e.failed_at),
                                'reason', e.reason, 'kind', a.kind, 'rawSize', a.raw_size,
                                'receivedAt', crashcache._api_time(a.received_at)) ORDER BY e.failed_at DESC, e.archive_id DESC)
                            FROM (SELECT * FROM crashcache.queue_error x ORDER BY x.failed_at DESC, x.archive_id DESC LIMIT 100) e
                            LEFT JOIN crashcache.project p ON p.id = e.project_id
                            LEFT JOIN crashcache.archive a ON a.id = e.archive_id), '[]'))
$$;

-- Sends every payload that failed to digest through the digest again (admin.sql's
-- retry_errors), for an admin only. Returns how many were re-enqueued.
CREATE FUNCTION crashcache.ui_retry_errors(acting_user int)
RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM crashcache._ui_check_admin(acting_user);
    RETURN crashcache.retry_errors(NULL);
END
$$;

-- Only the UI's role calls the pages' functions (sql/roles.sql grants them).
DO $$
DECLARE
    page regprocedure;
BEGIN
    FOR page IN SELECT p.oid FROM pg_proc p
                WHERE p.pronamespace = 'crashcache'::regnamespace AND p.proname LIKE 'ui\_%' LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', page);
    END LOOP;
END
$$;

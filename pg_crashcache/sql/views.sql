-- Curated views for people and dashboards (Metabase): dimension ids resolved to names.

-- Issues with their project, newest activity first.
CREATE VIEW crashcache.issues AS
SELECT i.id, i.project_id, p.name AS project, i.title, i.culprit, i.level,
       crashcache._current_status(i) AS status,
       i.event_count, i.user_count, i.first_seen, i.last_seen, i.fingerprint, i.grouping_method
FROM crashcache.issue i
JOIN crashcache.project p ON p.id = i.project_id
WHERE i.event_count > 0;

-- Events with every dimension as text.
CREATE VIEW crashcache.events AS
SELECT e.id, e.project_id, e.event_id, e.issue_id, e.timestamp, e.received_at, e.level,
       e.title, e.message, e.culprit,
       rel.name AS release, env.name AS environment, plat.name AS platform,
       nullif(concat_ws(' ', os.name, nullif(os.version, '')), '') AS os,
       nullif(concat_ws(' ', rt.name, nullif(rt.version, '')), '') AS runtime,
       nullif(concat_ws(' ', br.name, nullif(br.version, '')), '') AS browser,
       dev.name AS device, nullif(concat_ws(' ', sdk.name, nullif(sdk.version, '')), '') AS sdk,
       srv.name AS server_name, exc.name AS exception_type, txn.name AS transaction,
       lg.name AS logger, e.user_key, e.user_data, e.tags, e.archive_id
FROM crashcache.event e
LEFT JOIN crashcache.dim_release rel ON rel.id = e.release_id
LEFT JOIN crashcache.dim_environment env ON env.id = e.environment_id
LEFT JOIN crashcache.dim_platform plat ON plat.id = e.platform_id
LEFT JOIN crashcache.dim_os os ON os.id = e.os_id
LEFT JOIN crashcache.dim_runtime rt ON rt.id = e.runtime_id
LEFT JOIN crashcache.dim_browser br ON br.id = e.browser_id
LEFT JOIN crashcache.dim_device dev ON dev.id = e.device_id
LEFT JOIN crashcache.dim_sdk sdk ON sdk.id = e.sdk_id
LEFT JOIN crashcache.dim_server_name srv ON srv.id = e.server_name_id
LEFT JOIN crashcache.dim_exception_type exc ON exc.id = e.exception_type_id
LEFT JOIN crashcache.dim_transaction txn ON txn.id = e.transaction_id
LEFT JOIN crashcache.dim_logger lg ON lg.id = e.logger_id;

-- Transactions with their name, release and environment.
CREATE VIEW crashcache.transactions AS
SELECT t.id, t.project_id, t.event_id, txn.name AS transaction, t.op, t.status, t.trace_id,
       t.start_time, t.end_time, t.duration_ms, rel.name AS release, env.name AS environment,
       t.span_count, t.tags
FROM crashcache.transaction t
LEFT JOIN crashcache.dim_transaction txn ON txn.id = t.transaction_id
LEFT JOIN crashcache.dim_release rel ON rel.id = t.release_id
LEFT JOIN crashcache.dim_environment env ON env.id = t.environment_id;

-- Release health: sessions per release and environment, from single sessions and
-- pre-aggregated buckets together.
CREATE VIEW crashcache.release_health AS
WITH sessions AS (
    SELECT s.project_id, s.release_id, s.environment_id, 1::bigint AS total,
           (s.status = 'crashed')::int::bigint AS crashed,
           (s.status = 'abnormal')::int::bigint AS abnormal,
           (s.errors > 0 AND s.status NOT IN ('crashed', 'abnormal'))::int::bigint AS errored,
           s.did
    FROM crashcache.session s
    UNION ALL
    SELECT a.project_id, a.release_id, a.environment_id,
           a.exited + a.errored + a.abnormal + a.crashed, a.crashed, a.abnormal, a.errored, a.did
    FROM crashcache.session_aggregate a
)
SELECT s.project_id, rel.name AS release, env.name AS environment,
       sum(s.total) AS sessions, sum(s.crashed) AS crashed, sum(s.abnormal) AS abnormal,
       sum(s.errored) AS errored, count(DISTINCT s.did) AS users,
       round(100.0 * (1 - sum(s.crashed + s.abnormal)::numeric / nullif(sum(s.total), 0)), 2)
           AS crash_free_sessions_pct
FROM sessions s
JOIN crashcache.dim_release rel ON rel.id = s.release_id
LEFT JOIN crashcache.dim_environment env ON env.id = s.environment_id
GROUP BY s.project_id, rel.name, env.name;

-- Cron monitors with their latest check-in.
CREATE VIEW crashcache.monitors AS
SELECT m.id, m.project_id, m.slug, m.config, c.status AS last_status,
       c.timestamp AS last_check_in, c.duration AS last_duration
FROM crashcache.monitor m
LEFT JOIN LATERAL (
    SELECT ci.status, ci.timestamp, ci.duration FROM crashcache.check_in ci
    WHERE ci.monitor_id = m.id ORDER BY ci.timestamp DESC LIMIT 1) c ON true;

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

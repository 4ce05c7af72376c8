-- Alerts: rules and channels kept in tables, detection that writes an outbox in the same
-- transaction as the digest (or the periodic check), and the alerts_* functions a delivering
-- process calls to claim outbox rows and record what happened (role crashcache_alerts,
-- sql/roles.sql).
--
-- The contract with the delivering process (ingest-proxy, role crashcache_alerts):
--
--   alert_channel (id, project_id NULL: any project, name UNIQUE, kind, config, created_at,
--                  last_attempt_at, last_status 'delivered' | 'retrying' | 'failed' | NULL,
--                  last_http_status, last_error)
--     kind    'webhook' | 'slack' | 'discord' | 'mattermost' | 'teams' | 'ntfy' | 'email'
--     config  webhook: {"url", "secret"} (the secret is made here when not given: 64 hex)
--             slack, discord, mattermost, teams: {"url"}
--             ntfy: {"url", "token"?} (url is the topic's URL)
--             email: {"to": ["a@example.com", ...]}
--   alert_rule (id, project_id, name, trigger, params, environments text[] NULL: any,
--               min_level NULL: any, tags jsonb {key: value} all must match, cooldown_minutes,
--               enabled, created_at); alert_rule_channel (rule_id, channel_id) links them.
--     trigger new_issue, regression, unignored (params {}); issue_volume, project_volume
--             ({"events": N} or {"users": N}, "minutes": M); cron_failed, cron_missed
--             ({"monitor": slug} or {} for all); crash_free_rate ({"threshold": percent,
--             "min_sessions": N, "minutes": M, default 1440}).
--   alert_outbox (id, rule_id NULL: a test, channel_id, project_id, issue_id, fired_at, message,
--                 state 'pending' | 'sending' | 'delivered' | 'failed', attempts, due_at,
--                 lease_until, delivered_at, last_http_status, last_response)
--
--   alerts_claim(max int, lease_seconds int)
--     RETURNS TABLE (outbox_id bigint, channel_id int, kind text, config jsonb, message jsonb,
--                    attempts int)
--     The due rows (pending, or sending with a lapsed lease), oldest first, taken with FOR
--     UPDATE SKIP LOCKED: marked 'sending' until now() + lease_seconds, attempts counted.
--   alerts_record(outbox_id bigint, delivered boolean, http_status int, response text,
--                 retry boolean DEFAULT true) RETURNS text (the row's new state)
--     delivered: 'delivered'. Not delivered: 'pending' again after 30 s, 1, 2, 4 min...
--     (_alerts_backoff) until the 6th attempt (_alerts_max_attempts), then 'failed' with the
--     status and the response (first 2,000 characters); retry = false fails at once (a target
--     the outbound rules refuse). Updates the channel's last_* columns. A row no longer
--     'sending' (its lease lapsed and another process took it) is left alone: returns its state.
--   alerts_check() RETURNS int
--     The periodic check (every 30 s or so is right): cron monitors missed or timed out, issue
--     and project volume, crash-free rate. Idempotent, and safe from several processes: one runs at a
--     time (an advisory transaction lock), the others return 0. Returns the outbox rows written.
--   ui_alert_send_test(channel_id int, actor text) RETURNS bigint: a test message's outbox id.
--   NOTIFY crashcache_alerts (no payload) when a transaction that wrote outbox rows commits.
--
--   message (channel-agnostic jsonb; the delivering process formats it for its channel):
--     {"title": "New issue: ValueError: bad", "reason": "A new issue was seen in project web.",
--      "trigger": "new_issue", "rule": "rule name" (null for a test), "project": "web",
--      "level": "error" (null when none), "url": "<crashcache.public_url>/issues/<id>" (an issue)
--      or "<public_url>/projects/<slug>" (the others),
--      "issue": {"id", "short_id", "title", "culprit", "events", "users", "first_seen",
--                "last_seen"} or null, "fields": [["Environment", "production"], ...],
--      "held_back": 3 (how many alerts the cooldown held back since the last message), "test": false}
--
-- Detection of new issues, regressions and ignores that ran out is in the digest's
-- transaction (_store_events calls _alerts_on_events); of failed check-ins too
-- (_store_check_ins calls _alerts_on_check_ins). A batch that creates, regresses or
-- unignores nothing costs nothing more; one that does costs one lookup of the rules of its
-- projects. Cooldowns (alert_state) are per rule and subject: an issue, a monitor, a release,
-- or the project.
--
-- Set up from SQL (as crashcache_admin), for example a Slack message for each new issue of
-- project 1 in production, at most one per issue an hour:
--   INSERT INTO crashcache.alert_channel (name, kind, config)
--   VALUES ('team slack', 'slack', '{"url": "https://hooks.slack.com/services/..."}');
--   INSERT INTO crashcache.alert_rule (project_id, name, trigger, environments)
--   VALUES (1, 'new in production', 'new_issue', '{production}');
--   INSERT INTO crashcache.alert_rule_channel VALUES (currval('crashcache.alert_rule_id_seq'),
--                                                   currval('crashcache.alert_channel_id_seq'));

-- ===================================================================== channels and rules
CREATE TABLE crashcache.alert_channel (
    id                int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    -- NULL: rules of any project may use it.
    project_id        int REFERENCES crashcache.project ON DELETE CASCADE,
    name              text NOT NULL UNIQUE CHECK (name <> ''),
    kind              text NOT NULL CHECK (kind IN ('webhook', 'slack', 'discord', 'mattermost', 'teams', 'ntfy', 'email')),
    config            jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    -- The last delivery's result, for the UI.
    last_attempt_at   timestamptz,
    last_status       text,
    last_http_status  int,
    last_error        text
);

CREATE TABLE crashcache.alert_rule (
    id                int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    project_id        int NOT NULL REFERENCES crashcache.project ON DELETE CASCADE,
    name              text NOT NULL CHECK (name <> ''),
    trigger           text NOT NULL CHECK (trigger IN ('new_issue', 'regression', 'unignored', 'issue_volume',
                                                       'project_volume', 'cron_failed', 'cron_missed',
                                                       'crash_free_rate')),
    -- issue_volume, project_volume: {"events": N} or {"users": N}, and {"minutes": M};
    -- cron_failed, cron_missed: {"monitor": slug}, or {} for every monitor;
    -- crash_free_rate: {"threshold": percent, "min_sessions": N, "minutes": M (default 1440)}.
    params            jsonb NOT NULL DEFAULT '{}',
    -- Filters on the events that fire it (the issue triggers and volume): NULL is any.
    environments      text[],
    min_level         crashcache.level,
    tags              jsonb NOT NULL DEFAULT '{}',
    -- Per rule and issue (or monitor, or release): one message per cooldown, what it held back
    -- counted into the next.
    cooldown_minutes  int NOT NULL DEFAULT 60 CHECK (cooldown_minutes >= 0),
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
-- The digest looks up the enabled rules of a batch's projects by it.
CREATE INDEX alert_rule_project_idx ON crashcache.alert_rule (project_id) WHERE enabled;

CREATE TABLE crashcache.alert_rule_channel (
    rule_id     int NOT NULL REFERENCES crashcache.alert_rule ON DELETE CASCADE,
    channel_id  int NOT NULL REFERENCES crashcache.alert_channel ON DELETE CASCADE,
    PRIMARY KEY (rule_id, channel_id)
);
CREATE INDEX alert_rule_channel_channel_idx ON crashcache.alert_rule_channel (channel_id);

-- The cooldown of a rule for one subject ('issue:12', 'monitor:3', 'release:7', 'project').
CREATE TABLE crashcache.alert_state (
    rule_id         int NOT NULL REFERENCES crashcache.alert_rule ON DELETE CASCADE,
    subject         text NOT NULL,
    last_fired_at   timestamptz NOT NULL,
    cooldown_until  timestamptz NOT NULL,
    -- Held back since the last message, and what the last message reported.
    held_back       int NOT NULL DEFAULT 0,
    reported        int NOT NULL DEFAULT 0,
    -- What the subject fired for last, when one slot must fire once (a missed cron's slot).
    last_key        text,
    PRIMARY KEY (rule_id, subject)
);
-- The periodic check forgets the cooldowns that ended long ago by it.
CREATE INDEX alert_state_cooldown_idx ON crashcache.alert_state (cooldown_until);

-- ===================================================================== the outbox
CREATE TABLE crashcache.alert_outbox (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL: a test message (ui_alert_send_test), or a rule deleted since.
    rule_id           int REFERENCES crashcache.alert_rule ON DELETE SET NULL,
    channel_id        int NOT NULL REFERENCES crashcache.alert_channel ON DELETE CASCADE,
    project_id        int REFERENCES crashcache.project ON DELETE CASCADE,
    issue_id          bigint REFERENCES crashcache.issue ON DELETE SET NULL,
    fired_at          timestamptz NOT NULL DEFAULT now(),
    message           jsonb NOT NULL,
    state             text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts          int NOT NULL DEFAULT 0,
    due_at            timestamptz NOT NULL DEFAULT now(),
    lease_until       timestamptz,
    delivered_at      timestamptz,
    last_http_status  int,
    last_response     text
);
-- alerts_claim reads the due rows by it; it holds only the undelivered ones.
CREATE INDEX alert_outbox_due_idx ON crashcache.alert_outbox (due_at) WHERE state IN ('pending', 'sending');
CREATE INDEX alert_outbox_channel_idx ON crashcache.alert_outbox (channel_id, id DESC);
CREATE INDEX alert_outbox_issue_idx ON crashcache.alert_outbox (issue_id) WHERE issue_id IS NOT NULL;
CREATE INDEX alert_outbox_rule_idx ON crashcache.alert_outbox (rule_id) WHERE rule_id IS NOT NULL;
-- The periodic check removes the outbox's old rows by it.
CREATE INDEX alert_outbox_fired_idx ON crashcache.alert_outbox (fired_at);

-- Wakes the delivering processes (LISTEN crashcache_alerts) when the transaction that wrote
-- outbox rows commits: once per statement, and PostgreSQL sends one per transaction.
CREATE FUNCTION crashcache._alert_outbox_notify()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('crashcache_alerts', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_outbox_notify AFTER INSERT ON crashcache.alert_outbox
FOR EACH STATEMENT EXECUTE FUNCTION crashcache._alert_outbox_notify();

-- ===================================================================== checking what is stored
-- Every write of a channel goes through here, from the UI or plain SQL: a config the delivering
-- process could not use is refused with a message that says what is wrong.
CREATE FUNCTION crashcache._alert_channel_check()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    allowed text[] := CASE NEW.kind WHEN 'webhook' THEN ARRAY['url', 'secret'] WHEN 'ntfy' THEN ARRAY['url', 'token']
                                    WHEN 'email' THEN ARRAY['to'] ELSE ARRAY['url'] END;
    unknown text;
BEGIN
    IF jsonb_typeof(NEW.config) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'the config of a channel must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT k INTO unknown FROM jsonb_object_keys(NEW.config) k WHERE k <> ALL (allowed) LIMIT 1;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'a % channel has no setting %', NEW.kind, quote_literal(unknown)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Its settings: ' || array_to_string(allowed, ', ');
    END IF;
    IF NEW.kind = 'email' THEN
        IF jsonb_typeof(NEW.config->'to') IS DISTINCT FROM 'array' OR jsonb_array_length(NEW.config->'to') = 0
           OR EXISTS (SELECT FROM jsonb_array_elements(NEW.config->'to') a
                      WHERE jsonb_typeof(a) <> 'string' OR a #>> '{}' !~ '^[^@\s<>,]+@[^@\s<>,]+$') THEN
            RAISE EXCEPTION 'an email channel needs "to": a list of addresses (name@example.com)'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    ELSIF jsonb_typeof(NEW.config->'url') IS DISTINCT FROM 'string' OR NEW.config->>'url' !~ '^https?://[^/\s]+\S*$' THEN
        RAISE EXCEPTION 'a % channel needs "url": an http:// or https:// address', NEW.kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.kind = 'webhook' THEN
        IF NOT NEW.config ? 'secret' THEN
            -- 244 random bits: two version-4 UUIDs.
            NEW.config := NEW.config || jsonb_build_object('secret',
                replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));
        ELSIF jsonb_typeof(NEW.config->'secret') <> 'string' OR length(NEW.config->>'secret') < 16 THEN
            RAISE EXCEPTION 'a webhook''s "secret" must be a string of at least 16 characters'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF NEW.kind = 'ntfy' AND NEW.config ? 'token' AND jsonb_typeof(NEW.config->'token') <> 'string' THEN
        RAISE EXCEPTION 'an ntfy "token" must be a string' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER alert_channel_check BEFORE INSERT OR UPDATE ON crashcache.alert_channel
FOR EACH ROW EXECUTE FUNCTION crashcache._alert_channel_check();

-- Whether a JSON value is a whole number of at least 1.
CREATE FUNCTION crashcache._alert_positive_int(v jsonb)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_typeof(v) = 'number' AND (v #>> '{}')::numeric >= 1
                    AND (v #>> '{}')::numeric = trunc((v #>> '{}')::numeric)
                    AND (v #>> '{}')::numeric <= 2147483647, false)
$$;

-- Every write of a rule goes through here: the params its trigger needs, and filters of the
-- right shape.
CREATE FUNCTION crashcache._alert_rule_check()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p jsonb := NEW.params;
    allowed text[] := CASE
        WHEN NEW.trigger IN ('issue_volume', 'project_volume') THEN ARRAY['events', 'users', 'minutes']
        WHEN NEW.trigger IN ('cron_failed', 'cron_missed') THEN ARRAY['monitor']
        WHEN NEW.trigger = 'crash_free_rate' THEN ARRAY['threshold', 'min_sessions', 'minutes']
        ELSE ARRAY[]::text[] END;
    unknown text;
BEGIN
    IF jsonb_typeof(p) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'the params of a rule must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT k INTO unknown FROM jsonb_object_keys(p) k WHERE k <> ALL (allowed) LIMIT 1;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION '% rules have no param %', NEW.trigger, quote_literal(unknown)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE WHEN cardinality(allowed) = 0 THEN 'It takes none.' ELSE 'Its params: ' || array_to_string(allowed, ', ') END;
    END IF;
    IF NEW.trigger IN ('issue_volume', 'project_volume')
       AND ((p ? 'events') = (p ? 'users') OR NOT crashcache._alert_positive_int(coalesce(p->'events', p->'users'))
            OR NOT crashcache._alert_positive_int(p->'minutes') OR (p->>'minutes')::int > 10080) THEN
        RAISE EXCEPTION '% rules need "events" or "users" (a whole number of at least 1) and "minutes" (1 to 10080)', NEW.trigger
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.trigger IN ('cron_failed', 'cron_missed') AND p ? 'monitor' AND jsonb_typeof(p->'monitor') <> 'string' THEN
        RAISE EXCEPTION '"monitor" must be a monitor''s slug' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.trigger = 'crash_free_rate'
       AND (jsonb_typeof(p->'threshold') IS DISTINCT FROM 'number' OR (p->>'threshold')::numeric <= 0
            OR (p->>'threshold')::numeric > 100 OR NOT crashcache._alert_positive_int(p->'min_sessions')
            OR (p ? 'minutes' AND NOT crashcache._alert_positive_int(p->'minutes'))) THEN
        RAISE EXCEPTION 'crash_free_rate rules need "threshold" (a percentage above 0, at most 100), "min_sessions" (at least 1) and optionally "minutes" (default 1440)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(NEW.tags) IS DISTINCT FROM 'object'
       OR EXISTS (SELECT FROM jsonb_each(NEW.tags) t WHERE jsonb_typeof(t.value) <> 'string') THEN
        RAISE EXCEPTION 'the tags of a rule must be a JSON object of strings: {"key": "value"}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cardinality(NEW.environments) = 0 THEN
        RAISE EXCEPTION 'environments must name at least one, or be NULL for any'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER alert_rule_check BEFORE INSERT OR UPDATE ON crashcache.alert_rule
FOR EACH ROW EXECUTE FUNCTION crashcache._alert_rule_check();

-- A rule sends only to channels of its project, or of any project.
CREATE FUNCTION crashcache._alert_rule_channel_check()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM crashcache.alert_rule r JOIN crashcache.alert_channel c ON c.id = NEW.channel_id
               WHERE r.id = NEW.rule_id AND c.project_id IS DISTINCT FROM r.project_id AND c.project_id IS NOT NULL) THEN
        RAISE EXCEPTION 'channel % belongs to another project than rule %', NEW.channel_id, NEW.rule_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER alert_rule_channel_check BEFORE INSERT OR UPDATE ON crashcache.alert_rule_channel
FOR EACH ROW EXECUTE FUNCTION crashcache._alert_rule_channel_check();

-- ===================================================================== messages and cooldowns
-- One alert a detection found: the rule, what it is about (its cooldown's subject), the slot
-- that must fire once (a missed cron's expected time) and the message without held_back.
CREATE TYPE crashcache._alert_candidate AS (
    rule_id int, subject text, slot text, issue_id bigint, message jsonb
);

-- Whether an event (its environment's name, level and tags) passes a rule's filters.
CREATE FUNCTION crashcache._alert_matches(r crashcache.alert_rule, environment text, level crashcache.level, tags jsonb)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (r.environments IS NULL OR environment = ANY (r.environments))
       AND (r.min_level IS NULL OR level >= r.min_level)
       AND (r.tags = '{}' OR coalesce(tags, '{}') @> r.tags)
$$;

-- The channel-agnostic message (alerts.sql's header has its shape). `fields` are [name, value]
-- pairs; those without a value are left out.
CREATE FUNCTION crashcache._alert_message(r crashcache.alert_rule, title text, reason text,
                                          level crashcache.level, issue_id bigint, fields jsonb)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'title', _alert_message.title, 'reason', _alert_message.reason, 'trigger', r.trigger, 'rule', r.name,
        'project', p.name, 'level', _alert_message.level,
        'url', crashcache._api_base_url() || CASE WHEN i.id IS NOT NULL THEN '/issues/' || i.id ELSE '/projects/' || p.slug END,
        'issue', CASE WHEN i.id IS NOT NULL THEN jsonb_build_object(
                     'id', i.id, 'short_id', upper(p.slug) || '-' || i.short_id, 'title', i.title,
                     'culprit', i.culprit, 'events', i.event_count, 'users', i.user_count,
                     'first_seen', crashcache._api_time(i.first_seen), 'last_seen', crashcache._api_time(i.last_seen)) END,
        'fields', coalesce((SELECT jsonb_agg(f.pair ORDER BY f.n) FROM jsonb_array_elements(_alert_message.fields) WITH ORDINALITY AS f(pair, n)
                            WHERE f.pair->1 IS NOT NULL AND f.pair->1 <> 'null'), '[]'),
        'test', false)
    FROM crashcache.project p
    LEFT JOIN crashcache.issue i ON i.id = _alert_message.issue_id
    WHERE p.id = r.project_id
$$;

-- Writes the candidates that their cooldown lets through to the outbox, one row per channel
-- of their rule; those it holds back are counted into the next message. A slot that fired (or
-- was held back) already is skipped. Returns the outbox rows written.
CREATE FUNCTION crashcache._alerts_fire(candidates crashcache._alert_candidate[])
RETURNS int LANGUAGE plpgsql VOLATILE SET jit = off AS $$
DECLARE
    written int;
BEGIN
    WITH c AS (
        SELECT DISTINCT ON (c.rule_id, c.subject) c.*, r.project_id, r.cooldown_minutes
        FROM unnest(candidates) c JOIN crashcache.alert_rule r ON r.id = c.rule_id
        ORDER BY c.rule_id, c.subject
    ), state AS (
        -- In key order, so that two transactions firing the same rules wait instead of deadlocking.
        INSERT INTO crashcache.alert_state AS s (rule_id, subject, last_fired_at, cooldown_until, last_key)
        SELECT c.rule_id, c.subject, now(), now() + make_interval(mins => c.cooldown_minutes), c.slot
        FROM c ORDER BY c.rule_id, c.subject
        ON CONFLICT (rule_id, subject) DO UPDATE
        SET last_fired_at = CASE WHEN s.cooldown_until <= now() THEN now() ELSE s.last_fired_at END,
            reported = CASE WHEN s.cooldown_until <= now() THEN s.held_back ELSE s.reported END,
            held_back = CASE WHEN s.cooldown_until <= now() THEN 0 ELSE s.held_back + 1 END,
            cooldown_until = CASE WHEN s.cooldown_until <= now() THEN EXCLUDED.cooldown_until ELSE s.cooldown_until END,
            last_key = EXCLUDED.last_key
        WHERE EXCLUDED.last_key IS NULL OR EXCLUDED.last_key IS DISTINCT FROM s.last_key
        -- Fired now: reset to nothing held back at this transaction's time.
        RETURNING s.rule_id, s.subject, s.reported, s.held_back = 0 AND s.last_fired_at = now() AS fired
    )
    INSERT INTO crashcache.alert_outbox (rule_id, channel_id, project_id, issue_id, message)
    SELECT c.rule_id, rc.channel_id, c.project_id, c.issue_id,
           c.message || jsonb_build_object('held_back', state.reported)
    FROM state
    JOIN c ON c.rule_id = state.rule_id AND c.subject = state.subject
    JOIN crashcache.alert_rule_channel rc ON rc.rule_id = c.rule_id
    WHERE state.fired
    ORDER BY c.rule_id, c.subject, rc.channel_id;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$$;

-- ===================================================================== detection in the digest
-- The issue triggers of one digest batch (_store_events): the issues it created, regressed
-- and brought back from an ignore, and its event rows, whose latest event of each issue that
-- passes a rule's filters is the one that fires it. Returns the outbox rows written.
CREATE FUNCTION crashcache._alerts_on_events(rows crashcache._event_row[], created bigint[], regressed bigint[],
                                             unignored bigint[])
RETURNS int LANGUAGE sql VOLATILE SET jit = off AS $$
    -- Materialized, each from its small array: the issues by their ids, then the batch's events
    -- of those issues. Left to itself, the planner (never-analyzed tables, arrays it guesses at
    -- ten rows) looked the issues up by project once per event and rule.
    WITH changed AS MATERIALIZED (
        SELECT i, c.trigger
        FROM (SELECT u.id, 'new_issue' AS trigger FROM unnest(created) u(id)
              UNION ALL SELECT u.id, 'regression' FROM unnest(regressed) u(id)
              UNION ALL SELECT u.id, 'unignored' FROM unnest(unignored) u(id)) c
        JOIN crashcache.issue i ON i.id = c.id
    ), events AS MATERIALIZED (
        SELECT ch.i, ch.trigger, ev.level, ev.tags, ev.timestamp, env.name AS environment, rel.name AS release
        FROM changed ch
        JOIN unnest(rows) ev ON ev.project_id = (ch.i).project_id AND ev.fingerprint = (ch.i).fingerprint
        LEFT JOIN crashcache.dim_environment env ON env.id = ev.environment_id
        LEFT JOIN crashcache.dim_release rel ON rel.id = ev.release_id
    ), fired AS (
        SELECT DISTINCT ON (r.id, (e.i).id) r, e.i, e.trigger, e.level, e.environment, e.release
        FROM events e
        JOIN crashcache.alert_rule r ON r.project_id = (e.i).project_id AND r.trigger = e.trigger AND r.enabled
        WHERE crashcache._alert_matches(r, e.environment, e.level, e.tags)
        ORDER BY r.id, (e.i).id, e.timestamp DESC
    )
    SELECT coalesce(crashcache._alerts_fire(array_agg(ROW(
        (f.r).id, 'issue:' || (f.i).id, NULL, (f.i).id,
        crashcache._alert_message(f.r,
            CASE f.trigger WHEN 'new_issue' THEN 'New issue: ' WHEN 'regression' THEN 'Regression: '
                           ELSE 'Back from ignored: ' END || (f.i).title,
            CASE f.trigger
                WHEN 'new_issue' THEN format('A new issue was seen in project %s.', p.name)
                WHEN 'regression' THEN format('A resolved issue got a new event%s.', ' of release ' || f.release)
                ELSE 'An ignored issue got an event after its ignore ran out.' END
            || format(' (rule %s)', (f.r).name),
            f.level, (f.i).id,
            jsonb_build_array(jsonb_build_array('Environment', f.environment), jsonb_build_array('Release', f.release),
                              jsonb_build_array('Level', f.level), jsonb_build_array('Culprit', (f.i).culprit)))
    )::crashcache._alert_candidate)), 0)
    FROM fired f JOIN crashcache.project p ON p.id = (f.r).project_id
$$;

-- The failed check-ins of one digest batch (_store_check_ins), for the cron_failed rules.
CREATE FUNCTION crashcache._alerts_on_check_ins(failed crashcache._failed_check_in[])
RETURNS int LANGUAGE sql VOLATILE SET jit = off AS $$
    WITH fired AS (
        SELECT DISTINCT ON (r.id, m.id) r, m, f.timestamp, env.name AS environment
        FROM unnest(failed) f
        JOIN crashcache.monitor m ON m.id = f.monitor_id
        JOIN crashcache.alert_rule r ON r.project_id = f.project_id AND r.trigger = 'cron_failed' AND r.enabled
                                    AND (NOT r.params ? 'monitor' OR r.params->>'monitor' = m.slug)
        LEFT JOIN crashcache.dim_environment env ON env.id = f.environment_id
        WHERE r.environments IS NULL OR env.name = ANY (r.environments)
        ORDER BY r.id, m.id, f.timestamp DESC
    )
    SELECT coalesce(crashcache._alerts_fire(array_agg(ROW(
        (f.r).id, 'monitor:' || (f.m).id, NULL, NULL,
        crashcache._alert_message(f.r, 'Cron job failed: ' || (f.m).slug,
            format('Monitor %s checked in with status error at %s (rule %s).', (f.m).slug,
                   crashcache._api_time(f.timestamp), (f.r).name),
            'error', NULL,
            jsonb_build_array(jsonb_build_array('Monitor', (f.m).slug), jsonb_build_array('Environment', f.environment)))
    )::crashcache._alert_candidate)), 0)
    FROM fired f
$$;

-- ===================================================================== delivery (crashcache_alerts)
-- How many times a message is tried before it is kept as failed, and how long after the n-th
-- failed attempt the next one is due: 30 s, doubling, at most an hour.
CREATE FUNCTION crashcache._alerts_max_attempts()
RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 6 $$;

CREATE FUNCTION crashcache._alerts_backoff(attempts int)
RETURNS interval LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT make_interval(secs => least(30 * power(2, greatest(attempts, 1) - 1), 3600))
$$;

-- The outbox rows due for delivery (see the header), claimed for lease_seconds. A row whose
-- lease lapsed after its last attempt (its process died while sending) is kept as failed.
CREATE FUNCTION crashcache.alerts_claim(max int DEFAULT 20, lease_seconds int DEFAULT 60)
RETURNS TABLE (outbox_id bigint, channel_id int, kind text, config jsonb, message jsonb, attempts int)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = crashcache, pg_catalog SET jit = off AS $$
BEGIN
    IF max IS NULL OR max NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max must be 1 to 1000, not %', coalesce(max::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lease_seconds IS NULL OR lease_seconds NOT BETWEEN 1 AND 3600 THEN
        RAISE EXCEPTION 'lease_seconds must be 1 to 3600, not %', coalesce(lease_seconds::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE crashcache.alert_outbox o
    SET state = 'failed', lease_until = NULL,
        last_response = coalesce(o.last_response || E'\n', '') || 'the delivering process did not report its last attempt'
    WHERE o.id IN (SELECT d.id FROM crashcache.alert_outbox d
                   WHERE d.state = 'sending' AND d.due_at <= now() AND d.lease_until <= now()
                     AND d.attempts >= crashcache._alerts_max_attempts()
                   FOR UPDATE SKIP LOCKED);
    RETURN QUERY
    WITH due AS (
        SELECT d.id FROM crashcache.alert_outbox d
        WHERE d.state IN ('pending', 'sending') AND d.due_at <= now()
          AND (d.state = 'pending' OR d.lease_until <= now())
        ORDER BY d.due_at, d.id
        LIMIT max
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE crashcache.alert_outbox o
        SET state = 'sending', attempts = o.attempts + 1, lease_until = now() + make_interval(secs => lease_seconds)
        FROM due WHERE o.id = due.id
        RETURNING o.id, o.channel_id, o.message, o.attempts, o.due_at
    )
    SELECT c.id, c.channel_id, ch.kind, ch.config, c.message, c.attempts
    FROM claimed c JOIN crashcache.alert_channel ch ON ch.id = c.channel_id
    ORDER BY c.due_at, c.id;
END
$$;

-- What became of a claimed row (see the header). Returns the row's state.
CREATE FUNCTION crashcache.alerts_record(outbox_id bigint, delivered boolean, http_status int, response text,
                                         retry boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = crashcache, pg_catalog SET jit = off AS $$
DECLARE
    o crashcache.alert_outbox;
    next_state text;
BEGIN
    IF delivered IS NULL THEN
        RAISE EXCEPTION 'delivered must be true or false' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO o FROM crashcache.alert_outbox d WHERE d.id = outbox_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no outbox row %', outbox_id USING ERRCODE = 'no_data_found';
    END IF;
    IF o.state <> 'sending' THEN
        RETURN o.state;
    END IF;
    next_state := CASE WHEN delivered THEN 'delivered'
                       WHEN coalesce(retry, true) AND o.attempts < crashcache._alerts_max_attempts() THEN 'pending'
                       ELSE 'failed' END;
    UPDATE crashcache.alert_outbox d
    SET state = next_state, lease_until = NULL,
        delivered_at = CASE WHEN delivered THEN now() END,
        due_at = CASE WHEN next_state = 'pending' THEN now() + crashcache._alerts_backoff(o.attempts) ELSE d.due_at END,
        last_http_status = http_status, last_response = left(response, 2000)
    WHERE d.id = o.id;
    UPDATE crashcache.alert_channel c
    SET last_attempt_at = now(),
        last_status = CASE next_state WHEN 'pending' THEN 'retrying' ELSE next_state END,
        last_http_status = http_status,
        last_error = CASE WHEN NOT delivered THEN left(response, 500) END
    WHERE c.id = o.channel_id;
    RETURN next_state;
END
$$;

-- ===================================================================== cron schedules
-- The values one field of a crontab allows, from lo to hi: '*', a number, a range 'a-b', each
-- with an optional step '/n', and lists of those; month and weekday names (jan, mon) too.
CREATE FUNCTION crashcache._cron_field(field text, lo int, hi int)
RETURNS int[] LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    names text[] := CASE WHEN hi = 12 THEN ARRAY['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
                         WHEN hi = 7 THEN ARRAY['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] END;
    part text;
    m text[];
    first int;
    last int;
    allowed int[] := '{}';
BEGIN
    field := lower(field);
    FOR n IN 1 .. coalesce(cardinality(names), 0) LOOP
        field := replace(field, names[n], (n - CASE WHEN hi = 7 THEN 1 ELSE 0 END)::text);
    END LOOP;
    FOREACH part IN ARRAY string_to_array(field, ',') LOOP
        m := regexp_match(part, '^(?:(\*)|(\d{1,2})(?:-(\d{1,2}))?)(?:/(\d{1,2}))?$');
        IF m IS NULL THEN
            RAISE EXCEPTION 'not a crontab field: %', quote_literal(part) USING ERRCODE = 'invalid_parameter_value';
        END IF;
        first := coalesce(m[2]::int, lo);
        last := coalesce(m[3]::int, CASE WHEN m[1] IS NOT NULL OR m[4] IS NOT NULL THEN hi ELSE first END);
        IF first < lo OR last > hi OR first > last OR m[4]::int = 0 THEN
            RAISE EXCEPTION 'crontab field % is out of range % to %', quote_literal(part), lo, hi
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        allowed := allowed || ARRAY(SELECT generate_series(first, last, coalesce(m[4]::int, 1)));
    END LOOP;
    RETURN ARRAY(SELECT DISTINCT a FROM unnest(allowed) a ORDER BY a);
END
$$;

-- The first time after `after` that crontab `expr` (five fields, or @hourly, @daily, @weekly,
-- @monthly, @yearly) names, read in time zone `tz`. As cron does, when both the day of the
-- month and the weekday are restricted, a day matching either one matches. NULL when no time
-- in the next five years matches (February 30th).
CREATE FUNCTION crashcache._cron_next(expr text, after timestamptz, tz text)
RETURNS timestamptz LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    f text[] := regexp_split_to_array(trim(CASE lower(trim(expr))
        WHEN '@hourly' THEN '0 * * * *' WHEN '@daily' THEN '0 0 * * *' WHEN '@midnight' THEN '0 0 * * *'
        WHEN '@weekly' THEN '0 0 * * 0' WHEN '@monthly' THEN '0 0 1 * *'
        WHEN '@yearly' THEN '0 0 1 1 *' WHEN '@annually' THEN '0 0 1 1 *' ELSE expr END), '\s+');
    minutes int[];
    hours int[];
    days int[];
    months int[];
    weekdays int[];
    any_day boolean;
    any_weekday boolean;
    local_day date;
    found timestamptz;
BEGIN
    IF cardinality(f) <> 5 THEN
        RAISE EXCEPTION 'a crontab has five fields (minute hour day month weekday), not %', quote_literal(expr)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    minutes := crashcache._cron_field(f[1], 0, 59);
    hours := crashcache._cron_field(f[2], 0, 23);
    days := crashcache._cron_field(f[3], 1, 31);
    months := crashcache._cron_field(f[4], 1, 12);
    -- Sunday is 0 or 7.
    weekdays := ARRAY(SELECT DISTINCT w % 7 FROM unnest(crashcache._cron_field(f[5], 0, 7)) w);
    any_day := f[3] LIKE '*%';
    any_weekday := f[5] LIKE '*%';
    -- Day by day in local time from the day of `after`; the first matching day usually has it.
    FOR local_day IN
        SELECT d::date FROM generate_series((after AT TIME ZONE tz)::date, (after AT TIME ZONE tz)::date + 1830, interval '1 day') d
        WHERE extract(month FROM d)::int = ANY (months)
          AND CASE WHEN any_day AND any_weekday THEN true
                   WHEN any_day THEN extract(dow FROM d)::int = ANY (weekdays)
                   WHEN any_weekday THEN extract(day FROM d)::int = ANY (days)
                   ELSE extract(day FROM d)::int = ANY (days) OR extract(dow FROM d)::int = ANY (weekdays) END
    LOOP
        SELECT min((local_day + make_time(h, m, 0)) AT TIME ZONE tz) INTO found
        FROM unnest(hours) h, unnest(minutes) m
        WHERE (local_day + make_time(h, m, 0)) AT TIME ZONE tz > after;
        IF found IS NOT NULL THEN
            RETURN found;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- When a monitor (its config as the SDK sends it: schedule crontab or interval, timezone)
-- expects its next check-in after one at `last`. NULL for a schedule it cannot read: that
-- monitor is not checked (its check-ins are stored as they come).
CREATE FUNCTION crashcache._monitor_next(config jsonb, last timestamptz)
RETURNS timestamptz LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN CASE config #>> '{schedule,type}'
        WHEN 'crontab' THEN crashcache._cron_next(config #>> '{schedule,value}', last, coalesce(config->>'timezone', 'UTC'))
        WHEN 'interval' THEN last + ((config #>> '{schedule,value}')::int || ' ' || (config #>> '{schedule,unit}'))::interval
        END;
EXCEPTION WHEN data_exception OR invalid_parameter_value THEN
    RETURN NULL;
END
$$;

-- ===================================================================== the periodic check
-- Missed cron check-ins: a monitor whose next check-in was due (its schedule after its last
-- check-in, plus checkin_margin minutes, default 1) and has not come. One alert per slot.
CREATE FUNCTION crashcache._alerts_check_crons()
RETURNS int LANGUAGE sql VOLATILE SET jit = off AS $$
    WITH due AS (
        SELECT r, m, last.timestamp AS last_seen, crashcache._monitor_next(m.config, last.timestamp) AS expected
        FROM crashcache.alert_rule r
        JOIN crashcache.monitor m ON m.project_id = r.project_id
                                 AND (NOT r.params ? 'monitor' OR r.params->>'monitor' = m.slug)
        CROSS JOIN LATERAL (SELECT c.timestamp FROM crashcache.check_in c WHERE c.monitor_id = m.id
                            ORDER BY c.timestamp DESC LIMIT 1) last
        WHERE r.enabled AND r.trigger = 'cron_missed' AND m.config IS NOT NULL
    )
    SELECT coalesce(crashcache._alerts_fire(array_agg(ROW(
        (d.r).id, 'monitor:' || (d.m).id, crashcache._api_time(d.expected), NULL,
        crashcache._alert_message(d.r, 'Cron job missed: ' || (d.m).slug,
            format('Monitor %s expected a check-in at %s and has had none since %s (rule %s).', (d.m).slug,
                   crashcache._api_time(d.expected), crashcache._api_time(d.last_seen), (d.r).name),
            'error', NULL,
            jsonb_build_array(jsonb_build_array('Monitor', (d.m).slug),
                              jsonb_build_array('Schedule', (d.m).config #>> '{schedule,value}'),
                              jsonb_build_array('Last check-in', crashcache._api_time(d.last_seen))))
    )::crashcache._alert_candidate)), 0)
    FROM due d
    WHERE d.expected + make_interval(mins => coalesce(((d.m).config->>'checkin_margin')::int, 1)) < now()
$$;

-- Cron jobs that never finished: a monitor whose latest check-in is still in_progress after
-- its max_runtime minutes (default 30, as Sentry's) fails, for the cron_failed rules. Once
-- per check-in.
CREATE FUNCTION crashcache._alerts_check_timeouts()
RETURNS int LANGUAGE sql VOLATILE SET jit = off AS $$
    WITH late AS (
        SELECT r, m, last.check_in_id, last.timestamp, env.name AS environment
        FROM crashcache.alert_rule r
        JOIN crashcache.monitor m ON m.project_id = r.project_id
                                 AND (NOT r.params ? 'monitor' OR r.params->>'monitor' = m.slug)
        CROSS JOIN LATERAL (SELECT c.check_in_id, c.status, c.timestamp, c.environment_id
                            FROM crashcache.check_in c WHERE c.monitor_id = m.id
                            ORDER BY c.timestamp DESC LIMIT 1) last
        LEFT JOIN crashcache.dim_environment env ON env.id = last.environment_id
        WHERE r.enabled AND r.trigger = 'cron_failed' AND last.status = 'in_progress'
          AND (r.environments IS NULL OR env.name = ANY (r.environments))
          AND last.timestamp + make_interval(mins => coalesce((m.config->>'max_runtime')::int, 30)) < now()
    )
    SELECT coalesce(crashcache._alerts_fire(array_agg(ROW(
        (l.r).id, 'monitor:' || (l.m).id, l.check_in_id::text, NULL,
        crashcache._alert_message(l.r, 'Cron job timed out: ' || (l.m).slug,
            format('Monitor %s started at %s and has not finished within %s minutes (rule %s).', (l.m).slug,
                   crashcache._api_time(l.timestamp), coalesce((l.m).config->>'max_runtime', '30'), (l.r).name),
            'error', NULL,
            jsonb_build_array(jsonb_build_array('Monitor', (l.m).slug), jsonb_build_array('Environment', l.environment)))
    )::crashcache._alert_candidate)), 0)
    FROM late l
$$;

-- Issue and project volume: at least N events (or users) in the last M minutes, of events
-- that pass the rule's filters.
CREATE FUNCTION crashcache._alerts_check_volume()
RETURNS int LANGUAGE sql VOLATILE SET jit = off AS $$
    WITH counted AS (
        SELECT r, CASE WHEN r.trigger = 'issue_volume' THEN e.issue_id END AS issue_id,
               count(*) AS events, count(DISTINCT e.user_key) AS users,
               (array_agg(e.level ORDER BY e.timestamp DESC))[1] AS level
        FROM crashcache.alert_rule r
        JOIN crashcache.event e ON e.project_id = r.project_id
                               AND e.timestamp > now() - make_interval(mins => (r.params->>'minutes')::int)
        LEFT JOIN crashcache.dim_environment env ON env.id = e.environment_id
        WHERE r.enabled AND r.trigger IN ('issue_volume', 'project_volume')
          AND crashcache._alert_matches(r, env.name, e.level, e.tags)
        GROUP BY r.id, 2
    ), over AS (
        SELECT c.*, CASE WHEN (c.r).params ? 'events' THEN 'events' ELSE 'users' END AS measure,
               coalesce((c.r).params->>'events', (c.r).params->>'users')::bigint AS threshold
        FROM counted c
    )
    SELECT coalesce(crashcache._alerts_fire(array_agg(ROW(
        (o.r).id, coalesce('issue:' || o.issue_id, 'project'), NULL, o.issue_id,
        crashcache._alert_message(o.r,
            format('%s %s in %s minutes: ', CASE o.measure WHEN 'events' THEN o.events ELSE o.users END, o.measure,
                   (o.r).params->>'minutes')
            || coalesce((SELECT i.title FROM crashcache.issue i WHERE i.id = o.issue_id), 'project ' || p.name),
            format('%s had %s %s in the last %s minutes, at least %s (rule %s).',
                   CASE WHEN o.issue_id IS NULL THEN 'Project ' || p.name ELSE 'An issue' END,
                   CASE o.measure WHEN 'events' THEN o.events ELSE o.users END, o.measure,
                   (o.r).params->>'minutes', o.threshold, (o.r).name),
            o.level, o.issue_id,
            jsonb_build_array(jsonb_build_array('Events', o.events), jsonb_build_array('Users', o.users),
                              jsonb_build_array('Window', ((o.r).params->>'minutes') || ' minutes')))
    )::crashcache._alert_candidate)), 0)
    FROM over o JOIN crashcache.project p ON p.id = (o.r).project_id
    WHERE CASE o.measure WHEN 'events' THEN o.events ELSE o.users END >= o.threshold
$$;

-- Release health: the crash-free rate of a release's sessions started in the last M minutes
-- (default a day), individual and aggregated, once it has min_sessions of them.
CREATE FUNCTION crashcache._alerts_check_crash_free()
RETURNS int LANGUAGE sql VOLATILE SET jit = off AS $$
    WITH sessions AS (
        SELECT r, s.release_id, count(*) AS total, count(*) FILTER (WHERE s.status = 'crashed') AS crashed
        FROM crashcache.alert_rule r
        JOIN crashcache.session s ON s.project_id = r.project_id
                                 AND s.started > now() - make_interval(mins => coalesce((r.params->>'minutes')::int, 1440))
        LEFT JOIN crashcache.dim_environment env ON env.id = s.environment_id
        WHERE r.enabled AND r.trigger = 'crash_free_rate' AND (r.environments IS NULL OR env.name = ANY (r.environments))
        GROUP BY r.id, s.release_id
        UNION ALL
        SELECT r, a.release_id, sum(a.exited + a.errored + a.abnormal + a.crashed), sum(a.crashed)
        FROM crashcache.alert_rule r
        JOIN crashcache.session_aggregate a ON a.project_id = r.project_id
                                           AND a.started > now() - make_interval(mins => coalesce((r.params->>'minutes')::int, 1440))
        LEFT JOIN crashcache.dim_environment env ON env.id = a.environment_id
        WHERE r.enabled AND r.trigger = 'crash_free_rate' AND (r.environments IS NULL OR env.name = ANY (r.environments))
        GROUP BY r.id, a.release_id
    ), rates AS (
        SELECT (s.r).id AS rule_id, s.release_id, sum(s.total) AS total, sum(s.crashed) AS crashed,
               round(100 * (1 - sum(s.crashed)::numeric / sum(s.total)), 2) AS rate
        FROM sessions s GROUP BY (s.r).id, s.release_id
    )
    SELECT coalesce(crashcache._alerts_fire(array_agg(ROW(
        r.id, 'release:' || x.release_id, NULL, NULL,
        crashcache._alert_message(r, format('Crash-free sessions at %s%%: %s', x.rate, rel.name),
            format('Release %s has %s%% crash-free sessions (%s of %s crashed), below %s%% (rule %s).',
                   rel.name, x.rate, x.crashed, x.total, r.params->>'threshold', r.name),
            'fatal', NULL,
            jsonb_build_array(jsonb_build_array('Release', rel.name), jsonb_build_array('Sessions', x.total),
                              jsonb_build_array('Crashed', x.crashed)))
    )::crashcache._alert_candidate)), 0)
    FROM rates x
    JOIN crashcache.alert_rule r ON r.id = x.rule_id
    JOIN crashcache.dim_release rel ON rel.id = x.release_id
    WHERE x.total >= (r.params->>'min_sessions')::bigint AND x.rate < (r.params->>'threshold')::numeric
$$;

-- What no message needs any more: deliveries older than 30 days (the UI shows the recent ones),
-- and cooldowns that ended a day ago with nothing held back and no slot to remember. A few
-- thousand rows a call, so that one call never takes long.
CREATE FUNCTION crashcache._alerts_forget()
RETURNS void LANGUAGE sql VOLATILE SET jit = off AS $$
    DELETE FROM crashcache.alert_outbox o
    WHERE o.id IN (SELECT d.id FROM crashcache.alert_outbox d
                   WHERE d.fired_at < now() - interval '30 days' AND d.state IN ('delivered', 'failed')
                   ORDER BY d.fired_at LIMIT 5000);
    DELETE FROM crashcache.alert_state s
    WHERE s.cooldown_until < now() - interval '1 day' AND s.held_back = 0 AND s.last_key IS NULL;
$$;

-- The periodic check (see the header).
CREATE FUNCTION crashcache.alerts_check()
RETURNS int LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = crashcache, pg_catalog SET jit = off AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('crashcache.alerts_check')) THEN
        RETURN 0;
    END IF;
    PERFORM crashcache._alerts_forget();
    RETURN crashcache._alerts_check_crons() + crashcache._alerts_check_timeouts() + crashcache._alerts_check_volume()
         + crashcache._alerts_check_crash_free();
END
$$;

-- ===================================================================== the web UI (crashcache_ui)
-- Channels, rules and deliveries for the UI's alert settings. Each checks what it is given
-- (the tables' triggers say what is wrong, as invalid_parameter_value) and answers
-- no_data_found for an id that does not exist.

-- A channel as the UI shows it, with its last delivery's result. An ntfy token is not shown.
CREATE FUNCTION crashcache._alert_channel_json(c crashcache.alert_channel)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'project_id', c.project_id, 'name', c.name, 'kind', c.kind,
        'config', CASE WHEN c.config ? 'token' THEN c.config || '{"token": "********"}' ELSE c.config END,
        'created_at', crashcache._api_time(c.created_at),
        'last_attempt_at', crashcache._api_time(c.last_attempt_at), 'last_status', c.last_status,
        'last_http_status', c.last_http_status, 'last_error', c.last_error)
$$;

CREATE FUNCTION crashcache._alert_rule_json(r crashcache.alert_rule)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', r.id, 'project_id', r.project_id, 'name', r.name, 'trigger', r.trigger, 'params', r.params,
        'environments', to_jsonb(r.environments), 'min_level', r.min_level, 'tags', r.tags,
        'cooldown_minutes', r.cooldown_minutes, 'enabled', r.enabled,
        'channel_ids', coalesce((SELECT jsonb_agg(rc.channel_id ORDER BY rc.channel_id)
                                 FROM crashcache.alert_rule_channel rc WHERE rc.rule_id = r.id), '[]'),
        'created_at', crashcache._api_time(r.created_at))
$$;

-- The channels (of one project and those of any project, or all): [channel, ...].
CREATE FUNCTION crashcache.ui_alert_channels(project_id int DEFAULT NULL)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = crashcache, pg_catalog AS $$
    SELECT coalesce(jsonb_agg(crashcache._alert_channel_json(c) ORDER BY c.name), '[]')
    FROM crashcache.alert_channel c
    WHERE ui_alert_channels.project_id IS NULL OR c.project_id IS NULL OR c.project_id = ui_alert_channels.project_id
$$;

-- A new channel (project_id NULL: for any project). A webhook without a secret gets one.
CREATE FUNCTION crashcache.ui_alert_channel_create(project_id int, name text, kind text, config jsonb)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = crashcache, pg_catalog AS $$
DECLARE
    c crashcache.alert_channel;
BEGIN
    IF kind IS NULL OR kind NOT IN ('webhook', 'slack', 'discord', 'mattermost', 'teams', 'ntfy', 'email') THEN
        RAISE EXCEPTION 'unknown channel kind %', coalesce(quote_literal(kind), 'NULL') USING ERRCODE = 'invalid_parameter_value',
            HINT = 'webhook, slack, discord, mattermost, teams, ntfy or email';
    END IF;
    PERFORM crashcache._alert_check_project(project_id);
    INSERT INTO crashcache.alert_channel (project_id, name, kind, config)
    VALUES (project_id, crashcache._alert_name(name), kind, coalesce(config, '{}'))
    RETURNING * INTO c;
    RETURN crashcache._alert_channel_json(c);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'a channel named % exists already', quote_literal(name) USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- Changes a channel's name or config (NULL keeps it). A config replaces the whole config; a
-- webhook's secret is kept when the new config has none.
CREATE FUNCTION crashcache.ui_alert_channel_update(channel_id int, name text DEFAULT NULL, config jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = crashcache, pg_catalog AS $$
DECLARE
    c crashcache.alert_channel;
BEGIN
    UPDATE crashcache.alert_channel a
    SET name = coalesce(crashcache._alert_name(ui_alert_channel_update.name), a.name),
        config = CASE WHEN ui_alert_channel_update.config IS NULL THEN a.config
                      WHEN a.kind = 'webhook' AND NOT ui_alert_channel_update.config ? 'secret'
                           AND jsonb_typeof(ui_alert_channel_update.config) = 'object'
                      THEN ui_alert_channel_update.config || jsonb_build_object('secret', a.config->'secret')
                      ELSE ui_alert_channel_update.config END
    WHERE a.id = channel_id
    RETURNING * INTO c;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no alert channel %', channel_id USING ERRCODE = 'no_data_found';
    END IF;
    RETURN crashcache._alert_channel_json(c);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'a channel named % exists already', quote_literal(name) USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- Deletes a channel, its links to rules and its deliveries. Returns whether it existed.
CREATE FUNCTION crashcache.ui_alert_channel_delete(channel_id int)
RETURNS boolean LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = crashcache, pg_catalog AS $$
    WITH deleted AS (DELETE FROM crashcache.alert_channel c WHERE c.id = channel_id RETURNING 1)
    SELECT EXISTS (SELECT FROM deleted)
$$;

-- The rules (of one project, or all): [rule, ...], each with its channel ids.
CREATE FUNCTION crashcache.ui_alert_rules(project_id int DEFAULT NULL)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = crashcache, pg_catalog AS $$
    SELECT coalesce(jsonb_agg(crashcache._alert_rule_json(r) ORDER BY r.project_id, r.name), '[]')
    FROM crashcache.alert_rule r
    WHERE ui_alert_rules.project_id IS NULL OR r.project_id = ui_alert_rules.project_id
$$;

-- A name as given, refused when empty.
CREATE FUNCTION crashcache._alert_name(name text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF name IS NOT NULL AND trim(name) = '' THEN
        RAISE EXCEPTION 'a name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN trim(name);
END
$$;

CREATE FUNCTION crashcache._alert_check_project(project_id int)
RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF project_id IS NOT NULL AND NOT EXISTS (SELECT FROM crashcache.project p WHERE p.id = project_id) THEN
        RAISE EXCEPTION 'no project %', project_id USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

-- Sets a rule's fields from a UI form's body: name, trigger, params, environments (a list or
-- null), min_level (or null), tags, cooldown_minutes, enabled and channel_ids (a list); the
-- fields it lacks keep their value. Returns the rule.
CREATE FUNCTION crashcache._alert_rule_save(rule crashcache.alert_rule, body jsonb)
RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    unknown text;
BEGIN
    IF jsonb_typeof(body) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'the body must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT k INTO unknown FROM jsonb_object_keys(body) k
    WHERE k NOT IN ('name', 'trigger', 'params', 'environments', 'min_level', 'tags', 'cooldown_minutes', 'enabled', 'channel_ids')
    LIMIT 1;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'a rule has no field %', quote_literal(unknown) USING ERRCODE = 'invalid_parameter_value',
            HINT = 'name, trigger, params, environments, min_level, tags, cooldown_minutes, enabled, channel_ids';
    END IF;
    BEGIN
        rule.name := CASE WHEN body ? 'name' THEN crashcache._alert_name(body->>'name') ELSE rule.name END;
        rule.trigger := CASE WHEN body ? 'trigger' THEN body->>'trigger' ELSE rule.trigger END;
        rule.params := CASE WHEN body ? 'params' THEN body->'params' ELSE rule.params END;
        rule.environments := CASE WHEN NOT body ? 'environments' THEN rule.environments
                                  WHEN body->'environments' = 'null' THEN NULL
                                  ELSE ARRAY(SELECT jsonb_array_elements_text(body->'environments')) END;
        rule.min_level := CASE WHEN body ? 'min_level' THEN (body->>'min_level')::crashcache.level ELSE rule.min_level END;
        rule.tags := CASE WHEN body ? 'tags' THEN body->'tags' ELSE rule.tags END;
        rule.cooldown_minutes := CASE WHEN body ? 'cooldown_minutes' THEN (body->>'cooldown_minutes')::int ELSE rule.cooldown_minutes END;
        rule.enabled := CASE WHEN body ? 'enabled' THEN (body->>'enabled')::boolean ELSE rule.enabled END;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'a rule field has the wrong type: %', SQLERRM USING ERRCODE = 'invalid_parameter_value',
            HINT = 'environments a list of names, min_level one of debug, info, warning, error, fatal, cooldown_minutes a number, enabled true or false';
    END;
    IF rule.trigger IS NULL OR rule.trigger NOT IN ('new_issue', 'regression', 'unignored', 'issue_volume', 'project_volume',
                                                    'cron_failed', 'cron_missed', 'crash_free_rate') THEN
        RAISE EXCEPTION 'unknown trigger %', coalesce(quote_literal(rule.trigger), 'NULL') USING ERRCODE = 'invalid_parameter_value',
            HINT = 'new_issue, regression, unignored, issue_volume, project_volume, cron_failed, cron_missed or crash_free_rate';
    END IF;
    IF rule.name IS NULL OR rule.cooldown_minutes IS NULL OR rule.cooldown_minutes < 0 OR rule.enabled IS NULL OR rule.params IS NULL OR rule.tags IS NULL THEN
        RAISE EXCEPTION 'a rule needs a name, and cooldown_minutes of at least 0' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF body ? 'channel_ids' AND (jsonb_typeof(body->'channel_ids') <> 'array'
        OR EXISTS (SELECT FROM jsonb_array_elements(body->'channel_ids') c
                   WHERE jsonb_typeof(c) <> 'number'
                      OR NOT EXISTS (SELECT FROM crashcache.alert_channel a WHERE a.id::numeric = (c #>> '{}')::numeric))) THEN
        RAISE EXCEPTION 'channel_ids must be a list of the ids of existing channels' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF rule.id IS NULL THEN
        INSERT INTO crashcache.alert_rule (project_id, name, trigger, params, environments, min_level, tags, cooldown_minutes, enabled)
        VALUES (rule.project_id, rule.name, rule.trigger, rule.params, rule.environments, rule.min_level, rule.tags,
                rule.cooldown_minutes, rule.enabled)
        RETURNING * INTO rule;
    ELSE
        UPDATE crashcache.alert_rule r
        SET name = rule.name, trigger = rule.trigger, params = rule.params, environments = rule.environments,
            min_level = rule.min_level, tags = rule.tags, cooldown_minutes = rule.cooldown_minutes, enabled = rule.enabled
        WHERE r.id = rule.id;
    END IF;
    IF body ? 'channel_ids' THEN
        DELETE FROM crashcache.alert_rule_channel rc
        WHERE rc.rule_id = rule.id AND rc.channel_id NOT IN (SELECT (c #>> '{}')::int FROM jsonb_array_elements(body->'channel_ids') c);
        INSERT INTO crashcache.alert_rule_channel (rule_id, channel_id)
        SELECT DISTINCT rule.id, (c #>> '{}')::int FROM jsonb_array_elements(body->'channel_ids') c
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN crashcache._alert_rule_json(rule);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'the project has a rule named % already', quote_literal(rule.name) USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- A new rule of a project, from a UI form's body (_alert_rule_save); trigger and name needed.
CREATE FUNCTION crashcache.ui_alert_rule_create(project_id int, body jsonb)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = crashcache, pg_catalog AS $$
DECLARE
    rule crashcache.alert_rule;
BEGIN
    IF project_id IS NULL THEN
        RAISE EXCEPTION 'a rule belongs to a project: project_id is needed' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM crashcache._alert_check_project(project_id);
    rule.project_id := project_id;
    rule.params := '{}';
    rule.tags := '{}';
    rule.cooldown_minutes := 60;
    rule.enabled := true;
    RETURN crashcache._alert_rule_save(rule, body);
END
$$;

-- Changes the fields of a rule its body names (_alert_rule_save).
CREATE FUNCTION crashcache.ui_alert_rule_update(rule_id int, body jsonb)
RETURNS jsonb LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = crashcache, pg_catalog AS $$
DECLARE
    rule crashcache.alert_rule;
BEGIN
    SELECT * INTO rule FROM crashcache.alert_rule r WHERE r.id = rule_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no alert rule %', rule_id USING ERRCODE = 'no_data_found';
    END IF;
    RETURN crashcache._alert_rule_save(rule, body);
END
$$;

-- Deletes a rule (its deliveries stay, with no rule). Returns whether it existed.
CREATE FUNCTION crashcache.ui_alert_rule_delete(rule_id int)
RETURNS boolean LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = crashcache, pg_catalog AS $$
    WITH deleted AS (DELETE FROM crashcache.alert_rule r WHERE r.id = rule_id RETURNING 1)
    SELECT EXISTS (SELECT FROM deleted)
$$;

-- The latest deliveries (of one channel, or all), newest first: [{id, rule_id, rule,
-- channel_id, channel, issue_id, fired_at, title, state, attempts, due_at, delivered_at,
-- last_http_status, last_response}, ...].
CREATE FUNCTION crashcache.ui_alert_deliveries(channel_id int DEFAULT NULL, max int DEFAULT 50)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = crashcache, pg_catalog AS $$
BEGIN
    IF max IS NULL OR max NOT BETWEEN 1 AND 500 THEN
        RAISE EXCEPTION 'max must be 1 to 500' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'id', o.id, 'rule_id', o.rule_id, 'rule', r.name, 'channel_id', o.channel_id, 'channel', c.name,
                'issue_id', o.issue_id, 'fired_at', crashcache._api_time(o.fired_at), 'title', o.message->>'title',
                'trigger', o.message->>'trigger', 'state', o.state, 'attempts', o.attempts,
                'due_at', crashcache._api_time(o.due_at), 'delivered_at', crashcache._api_time(o.delivered_at),
                'last_http_status', o.last_http_status, 'last_response', o.last_response) ORDER BY o.id DESC), '[]')
            FROM (SELECT * FROM crashcache.alert_outbox d
                  WHERE ui_alert_deliveries.channel_id IS NULL OR d.channel_id = ui_alert_deliveries.channel_id
                  ORDER BY d.id DESC LIMIT max) o
            JOIN crashcache.alert_channel c ON c.id = o.channel_id
            LEFT JOIN crashcache.alert_rule r ON r.id = o.rule_id);
END
$$;

-- A test message to one channel, due now. Returns its outbox id.
CREATE FUNCTION crashcache.ui_alert_send_test(channel_id int, actor text)
RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = crashcache, pg_catalog AS $$
DECLARE
    c crashcache.alert_channel;
    new_id bigint;
BEGIN
    SELECT * INTO c FROM crashcache.alert_channel a WHERE a.id = ui_alert_send_test.channel_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no alert channel %', channel_id USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO crashcache.alert_outbox (channel_id, project_id, message)
    VALUES (c.id, c.project_id, jsonb_build_object(
        'title', 'Test message from pg_crashcache',
        'reason', format('%s sent a test message to channel %s.', coalesce(nullif(actor, ''), 'Someone'), c.name),
        'trigger', 'test', 'rule', NULL,
        'project', (SELECT p.name FROM crashcache.project p WHERE p.id = c.project_id),
        'level', NULL, 'url', crashcache._api_base_url(), 'issue', NULL,
        'fields', jsonb_build_array(jsonb_build_array('Channel', c.name), jsonb_build_array('Kind', c.kind)),
        'held_back', 0, 'test', true))
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

-- Only their roles call the endpoints (sql/roles.sql grants alerts_* to crashcache_alerts, ui_*
-- to crashcache_ui): they run with their owner's rights.
DO $$
DECLARE
    endpoint regprocedure;
BEGIN
    FOR endpoint IN SELECT p.oid FROM pg_proc p
                    WHERE p.pronamespace = 'crashcache'::regnamespace
                      AND (p.proname LIKE 'alerts\_%' OR p.proname LIKE 'ui\_alert\_%') LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', endpoint);
    END LOOP;
END
$$;

-- ===================================================================== backups
-- Rules and channels are settings nothing can rebuild: pg_dump keeps them (backup.sql says
-- why this is needed). The outbox and the cooldowns are left out: a restore must not send
-- old alerts again.
SELECT pg_catalog.pg_extension_config_dump('crashcache.alert_channel', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.alert_rule', '');
SELECT pg_catalog.pg_extension_config_dump('crashcache.alert_rule_channel', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.alert_channel', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('crashcache.alert_rule', 'id'), '');

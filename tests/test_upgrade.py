"""ALTER EXTENSION pg_crashcache UPDATE from the first release, 0.1.0, on a cluster of its own.

The 0.1.0 install script is the stored copy in pg_crashcache/sql/released/. The database is
filled through the real path (the real Python SDK and envelopes through the proxy, digested by
this build's workers, which must digest into the old schema until the update runs), an issue
is triaged, and then the update runs while the proxy keeps going. Nothing may be lost, the
upgraded schema must be the schema a fresh install makes, and the upgraded tracker must keep
ingesting and digesting."""
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from e2e import (REPO, Cluster, Sql, as_uuid, assert_accepted, create_project, envelope, new_event_id,
                 new_session, start_proxy)
from test_python_sdk import CASES_WITH_EVENTS, run_sender

RELEASED = REPO / "pg_crashcache" / "sql" / "released"
FIRST_RELEASE = "0.1.0"

# Every object of schema crashcache with its definition, in an order that does not depend on
# how it came to be (columns by name: an upgrade adds columns at the end of a table; rights
# sorted: their order is the order they were granted in).
SCHEMA = """
SELECT kind, name, definition FROM (
    SELECT 'function' AS kind, p.oid::regprocedure::text AS name,
           pg_get_functiondef(p.oid) || array_to_string(ARRAY(SELECT unnest(p.proacl)::text ORDER BY 1), ',')
               AS definition
    FROM pg_proc p WHERE p.pronamespace = 'crashcache'::regnamespace AND p.prokind IN ('f', 'p')
    UNION ALL
    SELECT 'column', c.table_name || '.' || c.column_name,
           concat_ws(' ', c.data_type, c.udt_name, c.is_nullable, c.column_default, c.is_identity)
    FROM information_schema.columns c WHERE c.table_schema = 'crashcache'
    UNION ALL
    SELECT 'type attribute', a.udt_name || '.' || a.attribute_name, a.data_type
    FROM information_schema.attributes a WHERE a.udt_schema = 'crashcache'
    UNION ALL
    SELECT 'enum', t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
    FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
    WHERE t.typnamespace = 'crashcache'::regnamespace GROUP BY t.typname
    UNION ALL
    SELECT 'index', i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'crashcache'
    UNION ALL
    SELECT 'constraint', c.conrelid::regclass::text || '.' || c.conname, pg_get_constraintdef(c.oid)
    FROM pg_constraint c WHERE c.connamespace = 'crashcache'::regnamespace
    UNION ALL
    SELECT 'view', v.viewname, v.definition FROM pg_views v WHERE v.schemaname = 'crashcache'
    UNION ALL
    SELECT 'relation', c.relname,
           c.relkind::text || ' ' || array_to_string(ARRAY(SELECT unnest(c.relacl)::text ORDER BY 1), ',')
    FROM pg_class c WHERE c.relnamespace = 'crashcache'::regnamespace
    UNION ALL
    SELECT 'extension member', classid::regclass::text, count(*)::text
    FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_crashcache')
      AND deptype = 'e' GROUP BY classid
    UNION ALL
    SELECT 'configuration table', unnest(extconfig)::regclass::text, ''
    FROM pg_extension WHERE extname = 'pg_crashcache'
) objects ORDER BY kind, name
"""

COUNTS = """
SELECT (SELECT count(*) FROM crashcache.project) AS projects,
       (SELECT count(*) FROM crashcache.project_key) AS keys,
       (SELECT count(*) FROM crashcache.archive) AS archives,
       (SELECT count(*) FROM crashcache.event) AS events,
       (SELECT count(*) FROM crashcache.transaction) AS transactions,
       (SELECT count(*) FROM crashcache.session) AS sessions,
       (SELECT count(*) FROM crashcache.check_in) AS check_ins,
       (SELECT count(*) FROM crashcache.queue_error) AS errors,
       (SELECT json_agg(json_build_object('id', id, 'status', status, 'events', event_count,
                                          'users', user_count) ORDER BY id)
        FROM crashcache.issue) AS issues
"""

# The hours the sparklines read, and what they must be: the stored events of each issue and hour.
HOURS = "SELECT issue_id, hour, events FROM crashcache.issue_hour ORDER BY 1, 2"
HOURS_OF_EVENTS = """
SELECT issue_id, date_trunc('hour', timestamp, 'UTC') AS hour, count(*)::int AS events FROM crashcache.event
GROUP BY 1, 2 ORDER BY 1, 2
"""


def extension_dir() -> Path:
    sharedir = subprocess.run(["/usr/lib/postgresql/15/bin/pg_config", "--sharedir"], capture_output=True,
                              text=True, check=True).stdout.strip()
    return Path(sharedir) / "extension"


def default_version() -> str:
    control = (extension_dir() / "pg_crashcache.control").read_text()
    return next(line.split("'")[1] for line in control.splitlines() if line.startswith("default_version"))


@pytest.fixture
def first_release_installed():
    """The stored 0.1.0 install script where PostgreSQL looks for it (installing 0.1.0 next to
    the current build, as a user's machine has it after installing the new package)."""
    target = extension_dir() / f"pg_crashcache--{FIRST_RELEASE}.sql"
    source = RELEASED / f"pg_crashcache--{FIRST_RELEASE}.sql"
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    return target


def send_some(http, proxy, project, n: int, tag: str) -> list[str]:
    ids = []
    for i in range(n):
        eid = new_event_id()
        body = envelope({"event_id": eid}, ({"type": "event"}, {
            "message": f"upgrade {tag} {i % 3}", "level": "error", "release": f"app@{tag}",
            "user": {"id": f"u{i % 4}"}, "tags": {"phase": tag}}))
        r = http.post(f"{proxy.url}/api/{project.id}/envelope/", data=body, timeout=10,
                      headers={"Content-Type": "application/x-sentry-envelope", **project.auth_header()})
        assert_accepted(r, eid)
        ids.append(eid)
    return ids


def test_update_from_the_first_release(workdir, first_release_installed):
    current = default_version()
    assert current != FIRST_RELEASE, "the build is the first release: nothing to upgrade from"
    cluster = Cluster("upgrade").init(extension_version=FIRST_RELEASE)
    proxy = None
    try:
        sql = Sql(cluster.url())
        assert sql.scalar("SELECT extversion FROM pg_extension WHERE extname = 'pg_crashcache'") == FIRST_RELEASE
        project = create_project(sql, "upgrade")
        # 0.1.0's ingest runs with its caller's rights: its proxy connected as the superuser.
        proxy = start_proxy(cluster, workdir, DATABASE_URL=cluster.url())
        http = new_session()

        # Filled at 0.1.0 through the real path: the real SDK and envelopes.
        report, _ = run_sender(project.dsn(proxy), "upgrade-" + uuid.uuid4().hex[:8])
        before_ids = send_some(http, proxy, project, 30, "before") + [
            report["event_ids"][case] for case in CASES_WITH_EVENTS]
        sql.wait_digested(project.id, timeout=60)
        assert sql.queue_errors(project.id) == []
        resolved = sql.scalar("SELECT id FROM crashcache.issue WHERE project_id = %s ORDER BY id LIMIT 1",
                              (project.id,))
        sql.scalar("SELECT crashcache.set_issue_status(%s, 'resolved')", (resolved,))
        counts_before = sql.one(COUNTS)

        sql.scalar("ALTER EXTENSION pg_crashcache UPDATE")
        # As sql/setup.sql does after every update: the roles' grants for this version.
        cluster.apply_roles("crashcache")
        assert sql.scalar("SELECT extversion FROM pg_extension WHERE extname = 'pg_crashcache'") == current

        # Nothing lost, nothing changed by the update itself.
        assert sql.one(COUNTS) == counts_before
        stored = {r["event_id"] for r in sql.rows("SELECT event_id FROM crashcache.event WHERE project_id = %s",
                                                  (project.id,))}
        assert {as_uuid(e) for e in before_ids} <= stored
        # The update counted the events already stored into their hours.
        assert sql.rows(HOURS) == sql.rows(HOURS_OF_EVENTS) != []

        # The upgraded schema is a fresh install's.
        cluster.psql("postgres", "CREATE DATABASE fresh")
        cluster.create_extension("fresh")
        fresh = Sql(cluster.url("fresh"))
        try:
            upgraded_schema = [tuple(r.values()) for r in sql.rows(SCHEMA)]
            fresh_schema = [tuple(r.values()) for r in fresh.rows(SCHEMA)]
        finally:
            fresh.close()
        missing = sorted(set(fresh_schema) - set(upgraded_schema))
        extra = sorted(set(upgraded_schema) - set(fresh_schema))
        assert not missing and not extra, (
            "the upgraded schema differs from a fresh install:\n"
            f"only in a fresh install: {json.dumps(missing, indent=1)[:3000]}\n"
            f"only after the update: {json.dumps(extra, indent=1)[:3000]}")

        # And it goes on, with the proxy on its own role now that ingest needs no table rights:
        # new events are digested and counted into their issues.
        proxy.stop()
        proxy = start_proxy(cluster, workdir)
        after_ids = send_some(http, proxy, project, 30, "after")
        sql.wait_digested(project.id, timeout=60)
        assert sql.queue_errors(project.id) == []
        stored = {r["event_id"] for r in sql.rows("SELECT event_id FROM crashcache.event WHERE project_id = %s",
                                                  (project.id,))}
        assert {as_uuid(e) for e in after_ids} <= stored
        issue_events = sql.scalar("SELECT sum(event_count) FROM crashcache.issue WHERE project_id = %s",
                                  (project.id,))
        assert issue_events == sql.scalar("SELECT count(*) FROM crashcache.event WHERE project_id = %s",
                                          (project.id,))
        assert sql.rows(HOURS) == sql.rows(HOURS_OF_EVENTS)
        sql.close()
    finally:
        if proxy:
            proxy.stop()
        cluster.destroy()

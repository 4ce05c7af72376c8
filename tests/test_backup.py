"""A backup the way every PostgreSQL user makes one, restored into a new cluster, as the
README's backup section says: pg_dump of a filled tracker (the real SDK and envelopes through
the proxy, issues triaged, a key revoked, a zstd dictionary trained and used), pg_restore in
one transaction into a new cluster, sql/roles.sql, crashcache.ruminate(). The same projects,
keys, issues with their status and counts, and events come back, and ids go on after the
highest restored one."""
import subprocess
import uuid

from e2e import (PG_BIN, Cluster, Sql, create_project, envelope, new_event_id, new_session,
                 start_proxy, assert_accepted)
from test_python_sdk import run_sender

SNAPSHOT = {
    "projects": "SELECT id, name FROM crashcache.project ORDER BY id",
    "keys": "SELECT public_key, project_id, active FROM crashcache.project_key ORDER BY public_key",
    "issues": "SELECT id, project_id, fingerprint, title, status, event_count, user_count, first_seen, last_seen"
              " FROM crashcache.issue ORDER BY id",
    "events": "SELECT project_id, event_id, issue_id, title, timestamp FROM crashcache.event"
              " ORDER BY project_id, event_id",
    "archives": "SELECT id, project_id, content_hash, codec FROM crashcache.archive ORDER BY id",
    "dictionaries": "SELECT id, md5(dict) FROM crashcache.dictionary ORDER BY id",
    "transactions": "SELECT count(*) FROM crashcache.transaction",
    "sessions": "SELECT count(*) FROM crashcache.session",
    # Derived, not dumped: ruminate counts them again.
    "hours": "SELECT issue_id, hour, events, expired_events FROM crashcache.issue_hour ORDER BY issue_id, hour",
}


def snapshot(sql: Sql) -> dict:
    return {name: sql.rows(query) for name, query in SNAPSHOT.items()}


def send(http, proxy, project, n: int, tag: str):
    for i in range(n):
        eid = new_event_id()
        body = envelope({"event_id": eid}, ({"type": "event"}, {
            "message": f"backup {tag} {i % 4}", "level": "error", "user": {"id": f"u{i % 3}"},
            "release": "app@1", "extra": {"pad": "lorem ipsum dolor sit amet " * 20}}))
        r = http.post(f"{proxy.url}/api/{project.id}/envelope/", data=body, timeout=10,
                      headers={"Content-Type": "application/x-sentry-envelope", **project.auth_header()})
        assert_accepted(r, eid)


def test_dump_restore_ruminate(workdir, tmp_path):
    source, target = Cluster("backup-source"), Cluster("backup-target")
    proxies = []
    try:
        source.init()
        sql = Sql(source.url())
        a, b = create_project(sql, "backup-a"), create_project(sql, "backup-b")
        extra_key = sql.scalar("SELECT crashcache.create_project_key(%s)", (b.id,))
        revoked = sql.scalar("SELECT public_key FROM crashcache.project_key WHERE project_id = %s"
                             " AND public_key <> %s", (b.id, b.key))
        sql.scalar("SELECT crashcache.revoke_project_key(%s)", (revoked,))
        assert extra_key
        proxy = start_proxy(source, workdir)
        proxies.append(proxy)
        http = new_session()
        run_sender(a.dsn(proxy), "backup-" + uuid.uuid4().hex[:8])
        send(http, proxy, a, 120, "a")
        sql.wait_digested(a.id, timeout=60)
        sql.scalar("SELECT crashcache.train_dictionary()")
        send(http, proxy, b, 20, "b")  # packed with the dictionary
        sql.wait_digested(b.id, timeout=60)
        assert sql.scalar("SELECT count(*) FROM crashcache.archive WHERE codec = 2") >= 20
        issues = [r["id"] for r in sql.rows("SELECT id FROM crashcache.issue ORDER BY id")]
        sql.scalar("SELECT crashcache.set_issue_status(%s, 'resolved')", (issues[0],))
        sql.scalar("SELECT crashcache.set_issue_status(%s, 'ignored')", (issues[1],))
        before = snapshot(sql)
        assert before["events"] and before["dictionaries"] and before["transactions"][0]["count"] > 0

        dump = tmp_path / "crashcache.dump"
        subprocess.run([str(PG_BIN / "pg_dump"), "-Fc", "-f", str(dump), source.url()], check=True, timeout=120)
        sql.close()

        # A new cluster with an empty database crashcache, then the README's steps.
        target.init(with_extension=False)
        subprocess.run([str(PG_BIN / "pg_restore"), "--no-privileges", "--single-transaction",
                        "--exit-on-error", "-d", target.url(), str(dump)], check=True, timeout=300,
                       capture_output=True)
        target.apply_roles("crashcache")
        target.set_proxy_password()
        restored = Sql(target.url())
        enqueued = restored.scalar("SELECT crashcache.ruminate()")
        assert enqueued == len(before["archives"])
        for project in (a, b):
            restored.wait_digested(project.id, timeout=120)
        after = snapshot(restored)
        for name in SNAPSHOT:
            assert after[name] == before[name], f"{name} differ after the restore"

        # Ids go on after the restored ones: a new project, archive and issue.
        c = create_project(restored, "backup-c")
        assert c.id > max(p["id"] for p in before["projects"])
        proxy = start_proxy(target, workdir)
        proxies.append(proxy)
        send(new_session(), proxy, c, 1, "c")
        restored.wait_digested(c.id)
        assert restored.scalar("SELECT min(id) FROM crashcache.archive WHERE project_id = %s", (c.id,)) \
            > max(r["id"] for r in before["archives"])
        assert restored.scalar("SELECT min(id) FROM crashcache.issue WHERE project_id = %s", (c.id,)) \
            > max(issues)
        restored.close()
    finally:
        for p in proxies:
            p.stop()
        source.destroy()
        target.destroy()


def test_a_dump_holds_the_rows(cluster, sql, project, tmp_path):
    """The finding that started it: pg_dump wrote the schema and no row."""
    out = subprocess.run([str(PG_BIN / "pg_dump"), "--data-only", cluster.url()], check=True, timeout=120,
                         capture_output=True, text=True).stdout
    for table in ("project", "project_key", "archive", "issue", "dictionary"):
        assert f"COPY crashcache.{table} " in out, table
    assert project.key in out
    # What ruminate rebuilds is left out.
    for table in ("event", "issue_hour"):
        assert f"COPY crashcache.{table} " not in out, table

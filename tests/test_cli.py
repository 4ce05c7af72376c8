"""The proxy's command line, as an operator uses it: create a project and send to the DSN it
prints, list and delete projects, export and re-import the archive, ruminate."""
import json
import re
import subprocess
import uuid

from e2e import PROXY_BIN, assert_accepted, envelope, new_event_id, proxy_env, run_cli

DSN = re.compile(r"^http://([0-9a-f]{32})@127\.0\.0\.1:(\d+)/(\d+)$")


def ok(p: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert p.returncode == 0, f"{p.args} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    return p


def test_project_create_list_delete(cluster, proxy, sql, http, wait_digested):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = ok(run_cli(cluster, "project", "create", "--name", name, PUBLIC_URL=proxy.url))
    dsn = created.stdout.strip()
    m = DSN.match(dsn)
    assert m, f"`project create` printed no DSN on stdout: {created.stdout!r}"
    key, port, project_id = m.group(1), int(m.group(2)), int(m.group(3))
    assert port == proxy.port, "the DSN must use PUBLIC_URL"

    # The DSN works for a store request, sent exactly where the DSN says.
    eid = new_event_id()
    r = http.post(f"http://127.0.0.1:{port}/api/{project_id}/store/?sentry_key={key}&sentry_version=7",
                  data=json.dumps({"event_id": eid, "message": "from the cli's project"}),
                  headers={"Content-Type": "application/json"}, timeout=10)
    assert_accepted(r, eid)
    wait_digested(project_id)
    assert sql.event(project_id, eid)["title"] == "from the cli's project"

    listed = ok(run_cli(cluster, "project", "list", PUBLIC_URL=proxy.url)).stdout
    row = [line for line in listed.splitlines() if line.split("\t")[:2] == [str(project_id), name]]
    assert row and dsn in row[0], f"`project list` does not show {project_id} {name} {dsn}:\n{listed}"

    # A chosen key.
    chosen = uuid.uuid4().hex
    created2 = ok(run_cli(cluster, "project", "create", "--name", name + "-b", "--key", chosen,
                          PUBLIC_URL=proxy.url))
    assert DSN.match(created2.stdout.strip()).group(1) == chosen

    deleted = ok(run_cli(cluster, "project", "delete", project_id))
    assert str(project_id) in deleted.stdout + deleted.stderr
    assert sql.scalar("SELECT count(*) FROM crashcache.project WHERE id = %s", (project_id,)) == 0
    assert sql.scalar("SELECT count(*) FROM crashcache.event WHERE project_id = %s", (project_id,)) == 0
    assert str(project_id) + "\t" + name + "\t" not in ok(run_cli(cluster, "project", "list")).stdout
    # Deleting it again is an error, not a silent success.
    again = run_cli(cluster, "project", "delete", project_id)
    assert again.returncode != 0 and str(project_id) in again.stderr, (again.stdout, again.stderr)


def test_archive_export_import_and_ruminate(cluster, proxy, sql, project, http, wait_digested, tmp_path):
    eid = new_event_id()
    sid = str(uuid.uuid4())
    body = envelope({"event_id": eid},
                    ({"type": "event"}, {"event_id": eid, "message": "archived", "level": "error",
                                         "release": "cli@1", "user": {"id": "u1"}}),
                    ({"type": "session"}, {"sid": sid, "did": "u1", "init": True, "status": "crashed",
                                           "errors": 1, "started": "2026-01-01T00:00:00Z",
                                           "timestamp": "2026-01-01T00:00:05Z",
                                           "attrs": {"release": "cli@1", "environment": "prod"}}))
    assert_accepted(http.post(f"{proxy.url}/api/{project.id}/envelope/", data=body,
                              headers=project.auth_header(), timeout=10), eid)
    wait_digested(project.id)
    issue_before = sql.one("SELECT id, status FROM crashcache.issue WHERE project_id = %s", (project.id,))
    sql.scalar("SELECT crashcache.set_issue_status(%s, 'ignored')", (issue_before["id"],))
    archives = sql.scalar("SELECT count(*) FROM crashcache.archive")

    # Export to a file, import it back into the same database: everything is skipped.
    out = tmp_path / "archive.jsonl"
    exported = ok(run_cli(cluster, "archive", "export", "-o", out))
    docs = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert len(docs) == archives, (len(docs), archives, exported.stderr)
    assert any(d["project_id"] == project.id for d in docs)
    imported = ok(run_cli(cluster, "archive", "import", "-i", out))
    said = imported.stdout + imported.stderr
    assert re.search(r"\badded 0\b", said) and re.search(rf"\bskipped {archives}\b", said), said

    # The same through stdout and stdin.
    exported = ok(run_cli(cluster, "archive", "export"))
    assert len(exported.stdout.splitlines()) == archives
    piped = ok(subprocess.run([str(PROXY_BIN), "archive", "import"], env=proxy_env(cluster, DATABASE_URL=cluster.url()),
                              input=exported.stdout, capture_output=True, text=True, timeout=60))
    assert re.search(rf"\bskipped {archives}\b", piped.stdout + piped.stderr), piped.stdout + piped.stderr
    assert sql.scalar("SELECT count(*) FROM crashcache.archive") == archives

    # Ruminate one project, then everything: the data is rebuilt, triage survives.
    for args in (["ruminate", "--project", project.id], ["ruminate"]):
        ok(run_cli(cluster, *args))
        wait_digested(project.id)
        ev = sql.event(project.id, eid)
        assert ev is not None and ev["title"] == "archived", ev
        issue = sql.one("SELECT * FROM crashcache.issue WHERE project_id = %s", (project.id,))
        assert issue["id"] == issue_before["id"] and issue["status"] == "ignored", issue
        assert issue["event_count"] == 1 and issue["user_count"] == 1, issue
        s = sql.one("SELECT status, errors FROM crashcache.session WHERE project_id = %s AND sid = %s",
                    (project.id, uuid.UUID(sid).hex))  # sids are stored as 32 hex digits
        assert s == {"status": "crashed", "errors": 1}, f"the session did not survive ruminate: {s}"
        assert sql.queue_errors(project.id) == []

"""The proxy's command line: projects, archive export and import, ruminate."""
import json
import subprocess

from e2e import PROXY_BIN, assert_accepted, new_event_id, new_session, proxy_env, run_cli


def test_project_commands_and_the_printed_dsn(cluster, proxy, sql):
    created = run_cli(cluster, "project", "create", "--name", "cli-made", PUBLIC_URL=proxy.url)
    assert created.returncode == 0, created.stderr
    dsn = created.stdout.strip().splitlines()[-1]
    assert dsn.startswith("http://") and f"@127.0.0.1:{proxy.port}/" in dsn, dsn
    key, project_id = dsn.split("://", 1)[1].split("@")[0], int(dsn.rsplit("/", 1)[1])
    event_id = new_event_id()
    resp = new_session().post(f"{proxy.url}/api/{project_id}/store/?sentry_key={key}",
                              json={"event_id": event_id, "message": "from the cli project"})
    assert_accepted(resp, event_id)

    listed = run_cli(cluster, "project", "list")
    assert listed.returncode == 0 and "cli-made" in listed.stdout, listed.stdout

    sql.wait_digested(project_id)
    exported = run_cli(cluster, "archive", "export")
    assert exported.returncode == 0, exported.stderr
    docs = [json.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    assert any(d["project_id"] == project_id for d in docs)
    imported = subprocess.run([str(PROXY_BIN), "archive", "import"], env=proxy_env(cluster),
                              input=exported.stdout, capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    assert "added 0" in imported.stdout + imported.stderr, imported.stdout + imported.stderr

    rum = run_cli(cluster, "ruminate", "--project", project_id)
    assert rum.returncode == 0, rum.stderr
    sql.wait_digested(project_id)
    assert sql.event(project_id, event_id) is not None

    deleted = run_cli(cluster, "project", "delete", project_id)
    assert deleted.returncode == 0, deleted.stderr
    assert sql.scalar("SELECT count(*) FROM crashcache.project WHERE id = %s", (project_id,)) == 0


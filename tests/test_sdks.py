"""The real Python SDK and the curl / Logstash store requests of the SDK harness, through the
proxy, checked in SQL as a user would."""
import json
import os
import subprocess
import uuid

from e2e import HARNESS, clean_env

SDK_PYTHON = os.environ.get("CRASHCACHE_SDK_PYTHON", "python3")


def run_sender(argv, dsn: str, run: str) -> tuple[dict, str]:
    p = subprocess.run(argv, env=clean_env(SENTRY_DSN=dsn, HARNESS_RUN=run, HARNESS_EXTRAS="1"),
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"{argv} failed:\n{p.stdout}\n{p.stderr}"
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stdout


def test_real_python_sdk(proxy, project, sql):
    run = "py-" + uuid.uuid4().hex[:8]
    report, _ = run_sender([SDK_PYTHON, str(HARNESS / "send_python.py")], project.dsn(proxy), run)
    ids = report["event_ids"]
    sql.wait_digested(project.id)
    assert sql.queue_errors(project.id) == []

    release = f"sdkharness-python@1.0.0+{run}"
    for case in ("exception", "message", "user_event", "attachment"):
        e = sql.event(project.id, ids[case])
        assert e is not None, f"{case} event {ids[case]} not digested"
        assert e["tags"]["harness_run"] == run
        assert e["tags"]["harness_sdk"] == "python"
        assert e["tags"]["harness_case"] == case
        assert e["release"] == release
        assert e["environment"] == "harness"
        assert e["sdk"] == "sentry.python 2.75.0"

    # Four different bugs, four issues, each with its event.
    issues = sql.rows("SELECT i.title, i.event_count FROM crashcache.event e"
                      " JOIN crashcache.issue i ON i.id = e.issue_id WHERE e.project_id = %s",
                      (project.id,))
    assert len({r["title"] for r in issues}) == 4
    exc = sql.event(project.id, ids["exception"])
    assert exc["title"] == "ValueError: invalid literal for int() with base 10: 'not-a-number'"
    assert exc["exception_type"] == "ValueError"

    user = sql.event(project.id, ids["user_event"])
    assert user["tags"]["color"] == "blue"
    assert user["user_data"]["id"] == f"harness-{run}"
    assert user["user_data"]["email"] == "harness@example.com"
    assert user["user_key"] == f"harness-{run}"

    tx = sql.one("SELECT * FROM crashcache.transactions WHERE project_id = %s", (project.id,))
    assert tx["transaction"] == f"harness-transaction {run}"
    assert tx["event_id"] == uuid.UUID(ids["transaction"])
    assert tx["op"] == "harness.run"
    assert tx["span_count"] == 2
    session = sql.one("SELECT * FROM crashcache.session WHERE project_id = %s", (project.id,))
    assert session["did"] == f"harness-{run}"
    assert session["status"] == "exited"
    assert session["errors"] >= 2
    monitor = sql.one("SELECT * FROM crashcache.monitors WHERE project_id = %s", (project.id,))
    assert monitor["slug"] == f"harness-{run}"
    assert monitor["last_status"] == "ok"
    assert sql.scalar("SELECT count(*) FROM crashcache.log WHERE project_id = %s AND body LIKE %s",
                      (project.id, f"%{run}%")) == 1
    assert sql.scalar("SELECT count(*) FROM crashcache.attachment WHERE project_id = %s"
                      " AND filename = %s", (project.id, f"harness-{run}.txt")) == 1


def test_curl_and_logstash_store_requests(proxy, project, sql):
    run = "curl-" + uuid.uuid4().hex[:8]
    report, stdout = run_sender(["bash", str(HARNESS / "send_curl_store.sh")], project.dsn(proxy), run)
    # The raw Logstash event (no event_id, not Sentry-shaped) is kept as a message event:
    # every request answers 200.
    statuses = [line.rsplit("HTTP ", 1)[1] for line in stdout.splitlines() if "-> HTTP" in line]
    assert statuses == ["200"] * 5, stdout
    sql.wait_digested(project.id)
    assert sql.queue_errors(project.id) == []
    for case, event_id in report["event_ids"].items():
        e = sql.event(project.id, event_id)
        assert e is not None, case
        assert e["tags"]["harness_case"] == case
        assert e["tags"]["harness_sdk"] == "curl"
        assert e["title"] == f"harness curl {case} {run}"
        if case != "store_logstash_sentry_plugin":  # that plugin sends no release
            assert e["release"] == f"sdkharness-curl@1.0.0+{run}"
            assert e["environment"] == "harness"
    raw = sql.one("SELECT * FROM crashcache.events WHERE project_id = %s AND title = %s",
                  (project.id, f"harness curl store_raw_logstash_event {run}"))
    assert raw is not None and raw["tags"]["harness_run"] == run
    assert raw["server_name"] == "harness-host"

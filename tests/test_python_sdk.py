"""The real Python SDK (sentry-sdk 2.75.0, unmodified) through the harness sender
send_python.py, against the real proxy: what a Python user sends must all be digested."""
import json
import subprocess
import sys
import uuid

from e2e import HARNESS, as_uuid, clean_env

CASES_WITH_EVENTS = ("exception", "message", "user_event", "attachment")


def run_sender(dsn: str, run: str) -> tuple[dict, str]:
    script = HARNESS / "send_python.py"
    assert script.exists(), f"the SDK harness is missing: {script}"
    p = subprocess.run(
        [sys.executable, str(script)],
        env=clean_env(SENTRY_DSN=dsn, HARNESS_RUN=run, HARNESS_EXTRAS="1", HARNESS_DEBUG="1"),
        capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"send_python.py failed ({p.returncode}):\n{p.stdout}\n{p.stderr[-4000:]}"
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    assert lines, f"send_python.py printed no JSON line:\n{p.stdout}\n{p.stderr[-4000:]}"
    return json.loads(lines[-1]), p.stderr


def test_python_sdk_events_are_digested(proxy, sql, project, wait_digested):
    run = "py-" + uuid.uuid4().hex[:12]
    report, sdk_log = run_sender(project.dsn(proxy), run)
    ids = report["event_ids"]
    release = f"sdkharness-python@1.0.0+{run}"
    assert report["release"] == release
    assert report["sdk_version"] == "2.75.0"
    assert set(ids) >= set(CASES_WITH_EVENTS) | {"transaction", "check_in"}, ids

    # The SDK logs every answer it did not like (4xx/5xx, rate limits): there must be none.
    for bad in ("Unexpected status code", "Rate-limited", "HTTP 413", "Internal error in sentry_sdk",
                "Discarded"):
        assert bad not in sdk_log, f"the SDK complained ({bad!r}):\n{sdk_log[-4000:]}"

    wait_digested(project.id)
    assert sql.queue_errors(project.id) == []

    # ------------------------------------------------------------------ events
    events = {}
    for case in CASES_WITH_EVENTS:
        ev = sql.event(project.id, ids[case])
        assert ev is not None, f"{case} event {ids[case]} was not digested in project {project.id}"
        events[case] = ev
        assert ev["tags"].get("harness_run") == run, ev["tags"]
        assert ev["tags"].get("harness_sdk") == "python", ev["tags"]
        assert ev["tags"].get("harness_case") == case, ev["tags"]
        assert ev["release"] == release
        assert ev["environment"] == "harness"
        assert ev["platform"] == "python"
        assert ev["sdk"] == "sentry.python 2.75.0"
    # The same event ids must not land in another project.
    assert sql.scalar("SELECT count(*) FROM crashcache.event WHERE event_id = ANY(%s)",
                      ([as_uuid(ids[c]) for c in CASES_WITH_EVENTS],)) == len(CASES_WITH_EVENTS)

    assert events["exception"]["level"] == "error"
    assert events["exception"]["exception_type"] == "ValueError"
    assert "ValueError" in events["exception"]["title"]
    assert events["attachment"]["exception_type"] == "ZeroDivisionError"
    assert events["message"]["level"] == "warning"
    assert events["message"]["title"] == f"harness message {run}"
    assert events["user_event"]["level"] == "info"
    assert events["user_event"]["tags"].get("color") == "blue"
    user = events["user_event"]["user_data"]
    assert user.get("id") == f"harness-{run}" and user.get("email") == "harness@example.com", user
    assert events["user_event"]["user_key"] == f"harness-{run}"

    # ------------------------------------------------------------------ issues: one per bug
    issue_ids = {case: ev["issue_id"] for case, ev in events.items()}
    assert len(set(issue_ids.values())) == 4, issue_ids
    issues = {r["id"]: r for r in sql.rows(
        "SELECT * FROM crashcache.issue WHERE project_id = %s", (project.id,))}
    assert set(issues) == set(issue_ids.values()), issues
    for case, issue_id in issue_ids.items():
        issue = issues[issue_id]
        assert issue["event_count"] == 1, (case, issue)
        assert issue["status"] == "unresolved"
        assert issue["first_seen"] is not None and issue["last_seen"] is not None
    assert "ValueError" in issues[issue_ids["exception"]]["title"]
    assert "ZeroDivisionError" in issues[issue_ids["attachment"]]["title"]
    assert issues[issue_ids["user_event"]]["user_count"] == 1

    # ------------------------------------------------------------------ attachment
    att = sql.rows("SELECT * FROM crashcache.attachment WHERE project_id = %s", (project.id,))
    assert [(a["filename"], a["event_id"]) for a in att] == \
        [(f"harness-{run}.txt", as_uuid(ids["attachment"]))], att
    assert att[0]["size"] == len(f"harness attachment for run {run}\n")

    # ------------------------------------------------------------------ transaction and spans
    tx = sql.one("SELECT * FROM crashcache.transactions WHERE project_id = %s AND event_id = %s",
                 (project.id, as_uuid(ids["transaction"])))
    assert tx is not None, "the transaction was not digested"
    assert tx["transaction"] == f"harness-transaction {run}"
    assert tx["op"] == "harness.run"
    assert tx["release"] == release and tx["environment"] == "harness"
    assert tx["duration_ms"] is not None and tx["duration_ms"] >= 0
    assert tx["span_count"] == 2
    spans = sql.rows("SELECT * FROM crashcache.span WHERE project_id = %s AND transaction_event_id = %s"
                     " ORDER BY start_time", (project.id, as_uuid(ids["transaction"])))
    assert [s["description"] for s in spans] == ["step one", "step two"], spans
    assert all(s["op"] == "harness.step" and s["trace_id"] == tx["trace_id"] for s in spans), spans

    # ------------------------------------------------------------------ release health
    sessions = sql.rows(
        "SELECT s.*, r.name AS release FROM crashcache.session s"
        " JOIN crashcache.dim_release r ON r.id = s.release_id WHERE s.project_id = %s", (project.id,))
    assert len(sessions) == 1, sessions
    s = sessions[0]
    assert s["did"] == f"harness-{run}" and s["status"] == "exited" and s["errors"] >= 2, s
    assert s["release"] == release
    health = sql.one("SELECT * FROM crashcache.release_health WHERE project_id = %s", (project.id,))
    assert health["release"] == release and health["sessions"] == 1 and health["errored"] == 1, health

    # ------------------------------------------------------------------ check-in and log
    mon = sql.one("SELECT * FROM crashcache.monitors WHERE project_id = %s", (project.id,))
    assert mon is not None and mon["slug"] == f"harness-{run}" and mon["last_status"] == "ok", mon
    assert sql.scalar("SELECT count(*) FROM crashcache.check_in WHERE project_id = %s AND check_in_id = %s",
                      (project.id, as_uuid(ids["check_in"]))) == 1
    logs = sql.rows("SELECT * FROM crashcache.log WHERE project_id = %s", (project.id,))
    assert len(logs) == 1, logs
    assert logs[0]["body"] == f"harness log {run}" and logs[0]["level"] == "info", logs

    # Nothing failed to digest, and every archive of the project was digested.
    assert sql.queue_errors(project.id) == []
    assert sql.queued(project.id) == 0

"""Legacy store requests the way curl and log shippers (Logstash) send them: the harness's
send_curl_store.sh against the real proxy, plus the answers a log shipper reads."""
import gzip
import json
import re
import subprocess
import uuid

from e2e import HARNESS, HEX32, as_uuid, assert_accepted, clean_env, new_event_id

SENTRY_SHAPED = ("store_header_noproject", "store_query", "store_header_gzip",
                 "store_logstash_sentry_plugin")


def run_curl_sender(dsn: str, run: str) -> tuple[dict, dict, str]:
    script = HARNESS / "send_curl_store.sh"
    assert script.exists(), f"the SDK harness is missing: {script}"
    p = subprocess.run(["bash", str(script)], env=clean_env(SENTRY_DSN=dsn, HARNESS_RUN=run),
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"send_curl_store.sh failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    statuses = {m.group(1): int(m.group(2))
                for m in re.finditer(r"^(\S+)\s+-> HTTP (\d+)$", p.stdout, re.M)}
    report = json.loads([line for line in p.stdout.splitlines() if line.startswith("{")][-1])
    return statuses, report, p.stdout


def test_curl_store_requests_are_digested(proxy, sql, project, wait_digested):
    run = "curl-" + uuid.uuid4().hex[:12]
    statuses, report, out = run_curl_sender(project.dsn(proxy), run)
    assert set(statuses) == set(SENTRY_SHAPED) | {"store_raw_logstash_event"}, out
    for case in SENTRY_SHAPED:
        assert statuses[case] == 200, out
    # A raw Logstash event (no event_id, not Sentry-shaped) may be kept or clearly refused.
    assert statuses["store_raw_logstash_event"] in (200, 400), out

    wait_digested(project.id)
    ids = report["event_ids"]
    for case in SENTRY_SHAPED:
        ev = sql.event(project.id, ids[case])
        assert ev is not None, f"{case} ({ids[case]}) was not digested in project {project.id}"
        assert ev["tags"].get("harness_run") == run, ev["tags"]
        assert ev["tags"].get("harness_sdk") == "curl", ev["tags"]
        assert ev["tags"].get("harness_case") == case, ev["tags"]
        assert ev["level"] == "error"
        assert ev["title"] == f"harness curl {case} {run}"
        assert ev["server_name"] == "harness-host"
        if case != "store_logstash_sentry_plugin":  # the plugin's event has no release
            assert ev["release"] == f"sdkharness-curl@1.0.0+{run}"
            assert ev["environment"] == "harness"
            assert ev["logger"] == "logstash"
    assert sql.event(project.id, ids["store_logstash_sentry_plugin"])["platform"] == "logstash"

    raw = sql.rows("SELECT * FROM crashcache.events WHERE project_id = %s AND message LIKE %s",
                   (project.id, f"%store_raw_logstash_event {run}%"))
    if statuses["store_raw_logstash_event"] == 200:
        # What pg_crashcache does today: it keeps the raw event as a message event, with an id
        # made from its content hash, and reads Logstash's "key:value" tag strings as tags.
        assert len(raw) == 1, raw
        assert raw[0]["title"] == f"harness curl store_raw_logstash_event {run}"
        assert raw[0]["tags"].get("harness_run") == run, raw[0]["tags"]
    else:
        assert raw == []
    # Either way it broke nothing: everything else is digested and nothing failed.
    assert sql.queue_errors(project.id) == []
    assert sql.scalar("SELECT count(*) FROM crashcache.event WHERE project_id = %s",
                      (project.id,)) == len(SENTRY_SHAPED) + len(raw)


def test_store_answers_the_event_id(proxy, sql, project, http, wait_digested):
    """A log shipper reads the answer: it must be the event's own id, not a hash of the body."""
    eid = new_event_id()
    event = {"event_id": eid, "message": "store answer check", "level": "warning",
             "tags": {"case": "store_answer"}}
    r = http.post(f"{proxy.url}/api/{project.id}/store/", data=json.dumps(event),
                  headers={"Content-Type": "application/json", **project.auth_header()}, timeout=10)
    assert_accepted(r, eid)

    # Hyphenated ids are the same id.
    eid2 = str(uuid.uuid4())
    r = http.post(f"{proxy.url}/api/store/", data=gzip.compress(json.dumps(
        {"event_id": eid2, "message": "store answer check 2"}).encode()),
        headers={"Content-Encoding": "gzip", **project.auth_header()}, timeout=10)
    assert_accepted(r, eid2)

    # A raw event without any id: the answered id is the digested event's id.
    raw = {"@timestamp": "2026-01-01T00:00:00Z", "message": f"raw line {uuid.uuid4().hex}"}
    r = http.post(f"{proxy.url}/api/{project.id}/store/?sentry_key={project.key}",
                  data=json.dumps(raw), headers={"Content-Type": "application/json"}, timeout=10)
    raw_id = None
    if r.status_code == 200:
        raw_id = r.json().get("id")
        assert raw_id and HEX32.match(raw_id), r.text
    else:
        assert r.status_code == 400 and r.json().get("detail"), r.text

    wait_digested(project.id)
    assert sql.event(project.id, eid)["title"] == "store answer check"
    assert sql.event(project.id, eid2)["title"] == "store answer check 2"
    if raw_id:
        ev = sql.event(project.id, raw_id)
        assert ev is not None and raw["message"] in ev["title"], ev
    assert sql.queue_errors(project.id) == []


def test_same_payload_twice_is_stored_once(proxy, sql, project, http, wait_digested):
    """A log shipper retries after a timeout: the second copy must not make a second event."""
    eid = new_event_id()
    body = json.dumps({"event_id": eid, "message": "sent twice"})
    for _ in range(2):
        r = http.post(f"{proxy.url}/api/{project.id}/store/", data=body,
                      headers={"Content-Type": "application/json", **project.auth_header()}, timeout=10)
        assert_accepted(r, eid)
    wait_digested(project.id)
    assert sql.scalar("SELECT count(*) FROM crashcache.event WHERE project_id = %s AND event_id = %s",
                      (project.id, as_uuid(eid))) == 1
    assert sql.scalar("SELECT event_count FROM crashcache.issue WHERE project_id = %s",
                      (project.id,)) == 1

"""The disk guard, on a cluster of its own without digest workers, so that the queue only
grows: past crashcache.max_queued or crashcache.max_database_size, ingest answers 429 with
Retry-After and X-Sentry-Rate-Limits (which SDKs obey) and stores nothing, /health and
crashcache.stats() say why, and ingest goes on once the bound is raised."""
import json
import re
import time

import pytest

from e2e import Cluster, Sql, assert_accepted, assert_sentry_error, create_project, envelope, new_event_id, \
    new_session, start_proxy


@pytest.fixture(scope="module")
def rig(workdir):
    cluster = Cluster("guard", workers=0).init()
    sql = Sql(cluster.url())
    proxy = start_proxy(cluster, workdir, HEALTH_REFRESH_MS=200)
    yield cluster, sql, proxy
    proxy.stop()
    sql.close()
    cluster.destroy()


def send(http, proxy, project):
    eid = new_event_id()
    body = envelope({"event_id": eid}, ({"type": "event"}, {"message": "guarded"}))
    r = http.post(f"{proxy.url}/api/{project.id}/envelope/", data=body, timeout=10,
                  headers={"Content-Type": "application/x-sentry-envelope", **project.auth_header()})
    return eid, r


def set_bound(cluster, name: str, value):
    cluster.psql("crashcache", f"ALTER SYSTEM SET crashcache.{name} = '{value}'")
    cluster.psql("crashcache", "SELECT pg_reload_conf()")
    time.sleep(0.3)  # backends read the new value at their next statement


def wait_refused(http, proxy, project, timeout=10.0):
    """The queue's depth comes from table statistics, which lag by about a second."""
    deadline = time.monotonic() + timeout
    while True:
        _, r = send(http, proxy, project)
        if r.status_code == 429:
            return r
        assert r.status_code == 200, r.text
        assert time.monotonic() < deadline, "never refused"
        time.sleep(0.2)


def assert_guarded(r, reason: str):
    body = assert_sentry_error(r, 429)
    assert re.match(reason, body["detail"]), body
    assert r.headers["Retry-After"] == "60"
    assert r.headers["X-Sentry-Rate-Limits"] == "60::organization:over_capacity"


def test_a_full_queue_refuses_then_recovers(rig):
    cluster, sql, proxy = rig
    http = new_session()
    project = create_project(sql, "guard-queue")
    set_bound(cluster, "max_queued", 20)
    try:
        for _ in range(20):
            eid, r = send(http, proxy, project)
            assert_accepted(r, eid)
        refused = wait_refused(http, proxy, project)
        # The depth is read from statistics flushed about once a second: a few more got in.
        assert_guarded(refused, r"\d+ payloads wait to be digested, at the bound crashcache.max_queued of 20: ")
        assert 20 <= int(refused.json()["detail"].split()[0]) <= 100, refused.json()
        # Each of the proxy's connections reads the depth at most every 500 ms, from statistics
        # flushed about once a second: once those have passed, every connection refuses.
        time.sleep(1.6)
        queued = sql.scalar("SELECT count(*) FROM crashcache.queue")
        # Refused means not stored.
        for _ in range(5):
            assert send(http, proxy, project)[1].status_code == 429
        assert sql.scalar("SELECT count(*) FROM crashcache.queue") == queued
        assert re.match(r"\d+ payloads wait", sql.one("SELECT over_capacity FROM crashcache.stats()")["over_capacity"])
        time.sleep(0.5)
        health = http.get(proxy.url + "/health", timeout=5)
        assert health.status_code == 200
        assert health.json()["status"] == "over_capacity"
        assert re.match(r"\d+ payloads wait", health.json()["over_capacity"])
    finally:
        set_bound(cluster, "max_queued", 0)
    eid, r = send(http, proxy, project)
    assert_accepted(r, eid)
    assert sql.one("SELECT over_capacity FROM crashcache.stats()")["over_capacity"] is None


def test_a_full_database_refuses(rig):
    cluster, sql, proxy = rig
    http = new_session()
    project = create_project(sql, "guard-size")
    size_mb = sql.scalar("SELECT pg_database_size(current_database()) / (1024 * 1024)")
    set_bound(cluster, "max_database_size", f"{max(1, size_mb - 1)}MB")
    try:
        _, r = send(http, proxy, project)
        assert_guarded(r, r"the database holds \d+ MB, at its bound crashcache.max_database_size of \d+ MB: ")
        assert json.loads(r.text)["detail"].endswith("new payloads are refused until retention or an operator "
                                                     "makes room")
    finally:
        set_bound(cluster, "max_database_size", 0)
    eid, r = send(http, proxy, project)
    assert_accepted(r, eid)

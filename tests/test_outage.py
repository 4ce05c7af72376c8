"""The database going away while requests stream in, on a cluster of its own: answers stay
fast (503, never a hang), the proxy recovers by itself, and no event answered 200 is lost."""
import threading
import time

import requests

from e2e import Cluster, Sql, create_project, new_event_id, new_session, start_proxy

STREAM_SECONDS = 20
MAX_REQUESTS = 600


def test_database_outage_and_recovery(workdir):
    cluster = Cluster("outage").init()
    try:
        sql = Sql(cluster.url())
        project = create_project(sql, "outage")
        proxy = start_proxy(cluster, workdir, HEALTH_REFRESH_MS=200, DATABASE_ACQUIRE_TIMEOUT_MS=500,
                            DATABASE_CONNECT_TIMEOUT_MS=500)
        try:
            run_outage(cluster, sql, project, proxy)
        finally:
            proxy.stop()
            sql.close()
    finally:
        cluster.destroy()


def run_outage(cluster, sql, project, proxy):
    http = new_session()
    url = f"{proxy.url}/api/{project.id}/store/"
    accepted, statuses, slowest = [], [], 0.0
    phase = {"name": "before"}
    health_seen = set()
    done = threading.Event()

    def watch_health():
        s = new_session()
        while not done.is_set():
            try:
                health_seen.add((phase["name"], s.get(proxy.url + "/health", timeout=2).status_code))
            except requests.RequestException:
                pass
            time.sleep(0.1)

    watcher = threading.Thread(target=watch_health, daemon=True)
    watcher.start()

    def outage():
        time.sleep(3)
        phase["name"] = "down"
        cluster.stop("fast")
        time.sleep(4)
        cluster.start()
        phase["name"] = "back"

    stopper = threading.Thread(target=outage)
    stopper.start()
    start = time.monotonic()
    recovered_at = None
    for _ in range(MAX_REQUESTS):
        if time.monotonic() - start > STREAM_SECONDS:
            break
        event_id = new_event_id()
        t0 = time.monotonic()
        try:
            resp = http.post(url, json={"event_id": event_id, "message": "during an outage"},
                             headers=project.auth_header(), timeout=10)
        except requests.RequestException as e:
            raise AssertionError(f"request failed instead of answering: {e}")
        took = time.monotonic() - t0
        slowest = max(slowest, took)
        statuses.append((phase["name"], resp.status_code))
        if resp.status_code == 200:
            accepted.append(event_id)
            if phase["name"] == "back" and recovered_at is None:
                recovered_at = time.monotonic()
        else:
            assert resp.status_code == 503, (resp.status_code, resp.text)
            assert resp.json().get("detail") and resp.headers.get("X-Sentry-Error")
        time.sleep(0.02)
    stopper.join()
    done.set()
    watcher.join(timeout=5)

    assert any(p == "down" and s == 503 for p, s in statuses), statuses
    assert slowest < 3.0, f"a request took {slowest:.1f}s"
    assert recovered_at is not None, "the proxy never answered 200 after the database came back"
    assert ("down", 503) in health_seen and ("back", 200) in health_seen, health_seen

    # Nothing answered 200 is lost.
    sql.wait_digested(project.id)
    stored = {str(r["event_id"]).replace("-", "") for r in sql.rows(
        "SELECT event_id FROM crashcache.event WHERE project_id = %s", (project.id,))}
    missing = [e for e in accepted if e not in stored]
    assert not missing, f"{len(missing)} acknowledged events are not in the database"

"""The database going away while requests stream in, on a cluster of its own so the rest of the
suite is not disturbed: every request is answered quickly (503 while the database is down, never
a hang), /health follows, the proxy recovers by itself once the database is back, and no event
that was answered 200 is lost."""
import threading
import time

import requests

from concurrent.futures import ThreadPoolExecutor

from e2e import (Cluster, Sql, as_uuid, assert_sentry_error, create_project, free_port, new_event_id,
                 new_session, start_proxy)

STREAM_SECONDS = 25      # the whole stream is bounded in time ...
MAX_REQUESTS = 800       # ... and in count
DOWN_AFTER = 3.0         # seconds of normal traffic before the database stops
DOWN_FOR = 4.0           # seconds the database stays down
SLOWEST_ALLOWED = 3.0    # an answer must never take longer than this
RECOVERY_ALLOWED = 10.0  # seconds after the restart by which 200s must be back


def test_database_outage_and_recovery(workdir):
    cluster = Cluster("outage").init()
    try:
        sql = Sql(cluster.url())
        project = create_project(sql, "outage")
        proxy = start_proxy(cluster, workdir, HEALTH_REFRESH_MS=200, DATABASE_ACQUIRE_TIMEOUT_MS=500,
                            DATABASE_CONNECT_TIMEOUT_MS=500)
        try:
            stream_through_an_outage(cluster, sql, project, proxy)
        except BaseException:
            print(f"--- ingest-proxy ---\n{proxy.log_text(60)}")
            raise
        finally:
            proxy.stop()
            sql.close()
    finally:
        cluster.destroy()


def stream_through_an_outage(cluster, sql, project, proxy):
    http = new_session()
    url = f"{proxy.url}/api/{project.id}/store/"
    state = {"phase": "before", "stopped_at": None, "restarted_at": None, "error": None}
    health = []  # (phase, status)
    done = threading.Event()

    def watch_health():
        s = new_session()
        while not done.is_set():
            try:
                health.append((state["phase"], s.get(proxy.url + "/health", timeout=3).status_code))
            except requests.RequestException as e:
                health.append((state["phase"], repr(e)))
            done.wait(0.1)

    def outage():
        try:
            time.sleep(DOWN_AFTER)
            state["phase"] = "stopping"
            cluster.stop("fast")
            state["phase"], state["stopped_at"] = "down", time.monotonic()
            time.sleep(DOWN_FOR)
            state["phase"] = "starting"
            cluster.start()
            state["phase"], state["restarted_at"] = "back", time.monotonic()
        except Exception as e:  # reported by the main thread
            state["error"] = e

    watcher = threading.Thread(target=watch_health, daemon=True)
    stopper = threading.Thread(target=outage, daemon=True)
    watcher.start()
    stopper.start()

    answers = []  # (phase, status, seconds, event_id)
    start = time.monotonic()
    try:
        for _ in range(MAX_REQUESTS):
            now = time.monotonic()
            if now - start > STREAM_SECONDS:
                break
            # Once the database is back and has served for a few seconds, stop.
            if state["restarted_at"] and now - state["restarted_at"] > RECOVERY_ALLOWED / 2 and \
                    any(p == "back" and s == 200 for p, s, _, _ in answers[-5:]):
                break
            eid = new_event_id()
            phase = state["phase"]
            t0 = time.monotonic()
            try:
                r = http.post(url, data=f'{{"event_id":"{eid}","message":"during an outage"}}',
                              headers={"Content-Type": "application/json", **project.auth_header()},
                              timeout=10)
            except requests.RequestException as e:
                raise AssertionError(f"request in phase {phase} got no answer: {e!r}") from e
            took = time.monotonic() - t0
            answers.append((phase, r.status_code, took, eid))
            if r.status_code == 200 and phase == "back" and "recovered_at" not in state:
                state["recovered_at"] = time.monotonic()
            if r.status_code != 200:
                assert_sentry_error(r, 503)
            time.sleep(0.02)
    finally:
        stopper.join(timeout=90)
        done.set()
        watcher.join(timeout=5)
    assert state["error"] is None, f"stopping or starting the cluster failed: {state['error']}"
    assert state["restarted_at"], "the cluster was not restarted within the stream"

    summary = {}
    for phase, status, _, _ in answers:
        summary[(phase, status)] = summary.get((phase, status), 0) + 1
    slowest = max(took for _, _, took, _ in answers)
    print(f"{len(answers)} requests, slowest {slowest:.2f}s, by phase and status: {summary}")

    assert summary.get(("before", 200)), summary
    assert summary.get(("down", 503)), f"no 503 while the database was down: {summary}"
    assert not summary.get(("down", 200)), f"200 while the database was down: {summary}"
    assert slowest < SLOWEST_ALLOWED, f"an answer took {slowest:.2f}s: {summary}"
    first_back = next((i for i, (p, s, _, _) in enumerate(answers) if p == "back" and s == 200), None)
    assert first_back is not None, f"no 200 after the database came back: {summary}"
    recovery = state["recovered_at"] - state["restarted_at"]
    print(f"200 again {recovery:.2f}s after the database was back")
    assert recovery < RECOVERY_ALLOWED, f"200 again only {recovery:.1f}s after the restart"
    # Once it serves again, it keeps serving.
    later = [s for p, s, _, _ in answers[first_back:]]
    assert set(later) == {200}, f"errors after recovery: {later}"

    # /health: 200, then 503 while down, then 200 again, without restarting the proxy.
    health_phases = [(p, s) for p, s in health]
    assert ("before", 200) in health_phases, health_phases
    assert ("down", 503) in health_phases, health_phases
    assert ("back", 200) in health_phases, health_phases

    # Nothing answered 200 is lost.
    accepted = [eid for _, status, _, eid in answers if status == 200]
    sql.wait_digested(project.id)
    stored = {r["event_id"] for r in sql.rows(
        "SELECT event_id FROM crashcache.event WHERE project_id = %s", (project.id,))}
    missing = [e for e in accepted if as_uuid(e) not in stored]
    assert not missing, f"{len(missing)} of {len(accepted)} acknowledged events are missing: {missing[:5]}"
    assert sql.queue_errors(project.id) == []


class NoCluster:
    """Stands in for a cluster that is not there: its port has no server."""

    def __init__(self):
        self.port = free_port()

    def url(self, db="crashcache", role="postgres"):
        return f"postgres://{role}@127.0.0.1:{self.port}/{db}"


def test_proxy_starts_without_a_database(workdir):
    """A proxy started before its database answers 503 quickly (SDKs drop, shippers retry) and
    /health says 503; it does not crash or hang."""
    proxy = start_proxy(NoCluster(), workdir, DATABASE_CONNECT_TIMEOUT_MS=500,
                        DATABASE_ACQUIRE_TIMEOUT_MS=500, HEALTH_REFRESH_MS=200)
    try:
        http = new_session()
        key = "0123456789abcdef0123456789abcdef"
        for _ in range(3):
            t0 = time.monotonic()
            r = http.post(f"{proxy.url}/api/1/store/?sentry_key={key}", data=b'{"message":"x"}', timeout=10)
            assert time.monotonic() - t0 < 3.0
            assert_sentry_error(r, 503)
        assert http.get(proxy.url + "/health", timeout=5).status_code == 503
        assert proxy.proc.poll() is None, "the proxy died without its database"
    finally:
        proxy.stop()


def test_small_pool_under_concurrency(proxy_factory, project, sql, wait_digested):
    """20 senders at once through a pool of 2 connections: every request is answered within a
    few seconds, with 200 or a clean 503, and every 200 is stored."""
    proxy = proxy_factory(DATABASE_POOL_SIZE=2, DATABASE_ACQUIRE_TIMEOUT_MS=2000)

    def sender(n):
        http = new_session()
        out = []
        for _ in range(10):
            eid = new_event_id()
            t0 = time.monotonic()
            r = http.post(f"{proxy.url}/api/{project.id}/store/", timeout=15,
                          data=f'{{"event_id":"{eid}","message":"pool {n}"}}',
                          headers={"Content-Type": "application/json", **project.auth_header()})
            out.append((eid, r, time.monotonic() - t0))
        return out

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = [x for chunk in pool.map(sender, range(20)) for x in chunk]
    slowest = max(t for _, _, t in results)
    assert slowest < 5.0, f"an answer took {slowest:.1f}s"
    for _, r, _ in results:
        if r.status_code != 200:
            assert_sentry_error(r, 503)
    accepted = [as_uuid(e) for e, r, _ in results if r.status_code == 200]
    assert len(accepted) >= len(results) * 0.9, f"only {len(accepted)} of {len(results)} accepted"
    wait_digested(project.id)
    stored = sql.scalar("SELECT count(*) FROM crashcache.event WHERE project_id = %s AND event_id = ANY(%s)",
                        (project.id, accepted))
    assert stored == len(accepted)

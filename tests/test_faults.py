"""Faults under load, on a cluster of its own: while several clients stream envelopes and record
every answer, the proxy is killed and restarted, PostgreSQL is stopped immediately and started,
a digest worker is killed, PostgreSQL is restarted fast. Each time:

  * every event answered 200 is in crashcache.event once the queue has drained, stored once;
  * no issue's event_count differs from the number of its events;
  * the proxy answers 200 again within seconds of the fault's end, without being restarted
    (except in the test that kills it), and keeps answering 200;
  * while the fault lasts every request still gets the one answer it should: a clean 503 while
    the database cannot be reached, a refused connection while no proxy listens.

Bounded: each stream stops after a time and a number of requests; every wait has a deadline.
"""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import Counter
from datetime import datetime, timezone

import psycopg
import pytest
import requests

from e2e import (Cluster, Project, Proxy, Sql, as_uuid, create_project, new_event_id, new_session,
                 proxy_env, start_proxy, tail)

CLIENTS = 4               # client threads, each with its own session
REQUEST_TIMEOUT = 5.0     # seconds a client waits for one answer
CLIENT_PAUSE = 0.005      # seconds between two requests of a client
ERROR_PAUSE = 0.05        # ... after one that was not a 200 (refusals and 503s are instant)
MAX_REQUESTS = 6000       # requests of one stream, at most
BEFORE_FAULT = 2.0        # seconds of normal traffic before the fault
AFTER_FAULT = 3.5         # seconds of traffic after the fault ended ...
AFTER_RECOVERY = 2.0      # ... and at least this long after the first 200 that followed it
RECOVERY_ALLOWED = 10.0   # seconds after the fault ended by which 200s must be back
DOWN_FOR = 1.5            # seconds the proxy or the database stays down
DRAIN_ALLOWED = 60.0      # seconds for the digest workers to empty the queue afterwards
WORKERS = 2               # digest workers of the cluster
WORKER_TYPE = "pg_crashcache digest"  # their backend_type (digest/worker.rs, set_type)
PROXY_SETTINGS = dict(HEALTH_REFRESH_MS=200, DATABASE_CONNECT_TIMEOUT_MS=500,
                      DATABASE_ACQUIRE_TIMEOUT_MS=500)
MESSAGES = ("alpha", "bravo", "charlie", "delta", "echo")  # a few issues, updated concurrently


# --------------------------------------------------------------------------- the rig
@dataclasses.dataclass
class Rig:
    cluster: Cluster
    sql: Sql
    project: Project
    proxy: Proxy
    workdir: object
    proxies: list  # every proxy started, for the logs and the teardown


@pytest.fixture(scope="module")
def rig(workdir):
    cluster = Cluster("faults", workers=WORKERS)
    try:
        cluster.init()
        sql = Sql(cluster.url())
        project = create_project(sql, "faults")
        proxy = start_proxy(cluster, workdir, **PROXY_SETTINGS)
    except BaseException:
        cluster.destroy()
        raise
    r = Rig(cluster, sql, project, proxy, workdir, [proxy])
    try:
        yield r
    finally:
        for p in r.proxies:
            p.stop()
        sql.close()
        cluster.destroy()


@pytest.fixture
def faults(rig, request):
    """The rig, checked ready before each test (the database up with all its digest workers,
    the proxy answering /health 200); the logs are printed when the test failed."""
    if not rig.cluster.running():  # an earlier test failed with the database down
        rig.cluster.start()
    if rig.proxy.proc.poll() is not None:  # ... or with no proxy
        rig.proxy = start_proxy(rig.cluster, rig.workdir, **PROXY_SETTINGS)
        rig.proxies.append(rig.proxy)
    wait_for(lambda: len(worker_pids(rig.cluster)) == WORKERS, 30, "the digest workers to run")
    http = new_session()
    try:
        wait_for(lambda: health(http, rig.proxy) == 200, 15, "the proxy's /health to say 200")
    except AssertionError as e:
        try:
            last = http.get(rig.proxy.url + "/health", timeout=2).text[:300]
        except requests.RequestException as why:
            last = repr(why)
        raise AssertionError(f"{e}; it says {last}\n--- ingest-proxy ---\n{tail(rig.proxy.log, 30)}"
                             f"\n--- postgres log ---\n{tail(rig.cluster.log, 30)}") from None
    yield rig
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        for p in rig.proxies[-2:]:
            print(f"--- ingest-proxy {p.url} (pid {p.proc.pid}) ---\n{tail(p.log, 40)}")
        print(f"--- postgres log ---\n{tail(rig.cluster.log, 60)}")


def wait_for(check, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (psycopg.Error, RuntimeError, requests.RequestException):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting {timeout}s for {what}")
        time.sleep(every)


def health(http, proxy) -> int | None:
    try:
        return http.get(proxy.url + "/health", timeout=2).status_code
    except requests.RequestException:
        return None


def worker_pids(cluster: Cluster) -> list[int]:
    """The digest workers' pids, through a connection of its own (the cluster may be
    restarting, and psql would wait for it)."""
    with psycopg.connect(cluster.url(), connect_timeout=2, autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = %s ORDER BY pid", (WORKER_TYPE,))]


def postmaster_started(cluster: Cluster) -> str:
    return cluster.psql("crashcache", "SELECT pg_postmaster_start_time()").strip()


# --------------------------------------------------------------------------- the stream
@dataclasses.dataclass
class Answer:
    client: int
    event_id: str
    sent: float            # time.monotonic() when the request was sent ...
    done: float            # ... and when its answer (or its failure) came
    status: int | None     # None: no answer (refused, reset, timed out)
    error: str | None      # the exception's class when there was no answer
    detail: str            # what is wrong with an answer that is not what the status promises
    reason: str = ""       # an error answer's `detail`


class Stream:
    """CLIENTS threads posting one-event envelopes with fresh event ids to the proxy's envelope
    endpoint until stopped (or MAX_REQUESTS in all), each recording every answer."""

    def __init__(self, port: int, project: Project, label: str):
        self.url = f"http://127.0.0.1:{port}/api/{project.id}/envelope/"
        self.headers = {"Content-Type": "application/x-sentry-envelope", **project.auth_header()}
        self.label = label
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(n,), daemon=True)
                         for n in range(CLIENTS)]

    def start(self) -> "Stream":
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=REQUEST_TIMEOUT + 5)
        assert not any(t.is_alive() for t in self._threads), "a client thread did not end"

    def finished(self) -> bool:
        return not any(t.is_alive() for t in self._threads)

    def body(self, n: int, i: int, event_id: str) -> bytes:
        word = MESSAGES[(n + i) % len(MESSAGES)]
        event = {"event_id": event_id, "timestamp": time.time(), "platform": "python",
                 "level": "error", "logger": "faults", "message": f"faults {self.label} {word} failed",
                 "tags": {"client": str(n), "fault": self.label}}
        sent_at = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        header = {"event_id": event_id, "sent_at": sent_at,
                  "sdk": {"name": "pytest.faults", "version": "1.0"}}
        item = json.dumps(event).encode()
        return b"\n".join([json.dumps(header).encode(),
                           json.dumps({"type": "event", "length": len(item)}).encode(), item]) + b"\n"

    def _client(self, n: int):
        http = new_session()
        i = 0
        try:
            while not self._stop.is_set():
                with self._lock:
                    if len(self.answers) >= MAX_REQUESTS:
                        return
                event_id = new_event_id()
                body = self.body(n, i, event_id)
                i += 1
                sent = time.monotonic()
                status, error, detail, reason = None, None, "", ""
                try:
                    r = http.post(self.url, data=body, headers=self.headers, timeout=REQUEST_TIMEOUT)
                    status, detail = r.status_code, check_answer(r, event_id)
                    if status != 200:
                        reason = r.text[:300]
                except requests.RequestException as e:
                    error = type(e).__name__
                done = time.monotonic()
                with self._lock:
                    self.answers.append(Answer(n, event_id, sent, done, status, error, detail, reason))
                self._stop.wait(CLIENT_PAUSE if status == 200 else ERROR_PAUSE)
        finally:
            http.close()

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    def first_200_sent_after(self, t: float) -> Answer | None:
        oks = [a for a in self.snapshot() if a.status == 200 and a.sent >= t]
        return min(oks, key=lambda a: a.done) if oks else None


def reasons(answers: list[Answer]) -> list:
    """The commonest error answers among `answers`, with their counts."""
    return Counter(a.reason or a.error for a in answers if a.status != 200).most_common(3)


def check_answer(r: requests.Response, event_id: str) -> str:
    """'' when the answer is well formed for its status, else what is wrong with it: a 200 says
    {"id": event_id}; an error is the protocol's (JSON detail and the X-Sentry-Error header)."""
    try:
        body = r.json()
    except ValueError:
        return f"not JSON: {r.text[:200]!r}"
    if r.status_code == 200:
        return "" if body == {"id": event_id} else f"200 with {body!r}"
    if not (isinstance(body, dict) and body.get("detail") and r.headers.get("X-Sentry-Error")):
        return f"malformed error: {r.headers} {r.text[:200]!r}"
    return ""


# --------------------------------------------------------------------------- one fault
@dataclasses.dataclass
class Run:
    answers: list[Answer]
    marks: dict             # name -> time.monotonic(): fault_start, fault_end, maybe down_from/until
    recovered: Answer | None  # the first 200 among the requests sent after the fault ended

    def phase_of(self, a: Answer) -> str:
        m = self.marks
        if a.done <= m["fault_start"]:
            return "before"
        if "down_from" in m and a.sent >= m["down_from"] and a.done <= m["down_until"]:
            return "down"
        if a.sent >= m["fault_end"]:
            return "after"
        return "fault"

    def summary(self) -> dict:
        out: dict = {}
        for a in self.answers:
            c = out.setdefault(self.phase_of(a), Counter())
            c["requests"] += 1
            c[str(a.status) if a.status is not None else a.error] += 1
        return {phase: dict(c) for phase, c in out.items()}

    def describe(self) -> str:
        m = self.marks
        t0 = m["fault_start"]
        marks = ", ".join(f"{k} {v - t0:+.2f}s" for k, v in sorted(m.items(), key=lambda kv: kv[1]))
        rec = (f"first 200 {self.recovered.done - m['fault_end']:.2f}s after the fault ended"
               if self.recovered else "no 200 after the fault ended")
        return f"{len(self.answers)} requests; marks: {marks}; {rec}; by phase: {self.summary()}"


def run_fault(rig: Rig, label: str, inject) -> Run:
    """Streams, calls inject(marks) after BEFORE_FAULT seconds (it records 'fault_end', and
    'down_from'/'down_until' when it has a window in which nothing can succeed), keeps
    streaming until 200s are back and AFTER_FAULT has passed (bounded), stops."""
    stream = Stream(rig.proxy.port, rig.project, label).start()
    marks: dict = {}
    try:
        time.sleep(BEFORE_FAULT)
        marks["fault_start"] = time.monotonic()
        inject(marks)
        marks.setdefault("fault_end", time.monotonic())
        end = marks["fault_end"]
        while not stream.finished():
            now = time.monotonic()
            rec = stream.first_200_sent_after(end)
            if rec and now >= max(end + AFTER_FAULT, rec.done + AFTER_RECOVERY):
                break
            if now > end + RECOVERY_ALLOWED + 1:
                break
            time.sleep(0.1)
    finally:
        stream.stop()
    run = Run(stream.snapshot(), marks, stream.first_200_sent_after(marks.get("fault_end", 0)))
    print(f"{label}: {run.describe()}")
    return run


# --------------------------------------------------------------------------- the checks
def check_run(rig: Rig, run: Run, *, answered_during_fault: bool):
    """The checks every fault shares. answered_during_fault: the proxy kept running, so every
    request got an HTTP answer."""
    where = run.describe()
    answers = run.answers
    assert answers, "the stream sent nothing"
    assert len(answers) < MAX_REQUESTS, f"the stream hit its bound of {MAX_REQUESTS} requests: {where}"
    summary = run.summary()

    # The answers are what their status promises (a 200 names the event; errors are the protocol's).
    malformed = [(a.status, a.detail) for a in answers if a.detail]
    assert not malformed, f"{len(malformed)} malformed answers, e.g. {malformed[:3]}: {where}"
    # Before the fault, everything is accepted.
    before = [a for a in answers if run.phase_of(a) == "before"]
    assert before and all(a.status == 200 for a in before), f"not all 200 before the fault: {where}"
    # The proxy stayed up: no request went unanswered, and every refusal is a 503.
    if answered_during_fault:
        unanswered = Counter(a.error for a in answers if a.status is None)
        assert not unanswered, f"requests without an answer while the proxy ran: {dict(unanswered)}: {where}"
        refused = Counter(a.status for a in answers if a.status not in (None, 200))
        assert set(refused) <= {503}, f"refusals other than 503: {dict(refused)}: {where}"

    # 200s are back within seconds of the fault's end, and stay.
    assert run.recovered is not None, \
        f"no 200 within {RECOVERY_ALLOWED}s after the fault ended: {where}"
    recovery = run.recovered.done - run.marks["fault_end"]
    assert recovery < RECOVERY_ALLOWED, f"200 again only {recovery:.1f}s after the fault ended: {where}"
    later = [a for a in answers if a.sent >= run.recovered.done]
    not_ok = Counter(str(a.status) if a.status is not None else a.error for a in later if a.status != 200)
    assert later and not not_ok, \
        f"{sum(not_ok.values())} of {len(later)} answers after the first 200 were not 200: " \
        f"{dict(not_ok)}, e.g. {reasons(later)}: {where}"

    # Every event answered 200 is digested, once; issue counts agree with their events.
    sql, project = rig.sql, rig.project
    waited = drain(sql, project.id)
    accepted = {a.event_id for a in answers if a.status == 200}
    stored = {r["event_id"].hex for r in sql.rows(
        "SELECT event_id FROM crashcache.event WHERE project_id = %s AND event_id = ANY(%s)",
        (project.id, [as_uuid(e) for e in accepted]))}
    missing = sorted(accepted - stored)
    if missing:
        lost = [a for a in answers if a.event_id in set(missing)]
        phases = Counter(run.phase_of(a) for a in lost)
        raise AssertionError(
            f"{len(missing)} of {len(accepted)} events answered 200 are not in crashcache.event "
            f"(by phase of their request: {dict(phases)}), e.g. {missing[:5]}; "
            f"queue_error: {sql.queue_errors(project.id)[:3]}: {where}")
    twice = sql.rows("SELECT event_id, count(*) AS n FROM crashcache.event WHERE project_id = %s"
                     " GROUP BY event_id HAVING count(*) > 1 LIMIT 5", (project.id,))
    assert not twice, f"events stored more than once: {twice}"
    off = sql.rows(
        "SELECT i.id, i.title, i.event_count, count(e.id) AS events"
        " FROM crashcache.issue i LEFT JOIN crashcache.event e ON e.issue_id = i.id"
        " WHERE i.project_id = %s GROUP BY i.id HAVING i.event_count <> count(e.id)", (project.id,))
    assert not off, f"issues whose event_count differs from their events: {off}"
    assert sql.queue_errors(project.id) == []
    assert health(new_session(), rig.proxy) == 200, "the proxy's /health is not 200 after the fault"
    print(f"{len(accepted)} accepted events all stored; the queue drained in {waited:.1f}s")


def drain(sql: Sql, project_id: int) -> float:
    """Waits (bounded) until nothing of the project is queued; the connection may have died
    with the server, so errors count as not yet."""
    start = time.monotonic()
    last = None
    while time.monotonic() - start < DRAIN_ALLOWED:
        try:
            last = sql.queued(project_id)
            if last == 0:
                return time.monotonic() - start
        except psycopg.Error as e:
            last = repr(e)
        time.sleep(0.2)
    raise AssertionError(f"the queue did not drain within {DRAIN_ALLOWED}s (left: {last}); "
                         f"stats: {sql.rows('SELECT * FROM crashcache.stats()')}")


# --------------------------------------------------------------------------- the faults
def test_proxy_killed_and_restarted(faults):
    """SIGKILL to the proxy mid-stream, a new proxy on the same port: what the old one answered
    200 is stored; requests while no proxy listens are refused; the new one answers 200."""
    rig = faults
    old = rig.proxy
    port = old.port
    after = rig.workdir / "after-kill"
    after.mkdir(exist_ok=True)

    def inject(marks):
        old.proc.kill()
        old.proc.wait(timeout=10)
        old.stop()  # closes its log
        marks["down_from"] = time.monotonic()
        time.sleep(DOWN_FOR)
        marks["down_until"] = time.monotonic()
        rig.proxy = Proxy(proxy_env(rig.cluster, port=port, **PROXY_SETTINGS), after)
        rig.proxies.append(rig.proxy)
        marks["fault_end"] = time.monotonic()  # the new proxy answers /health

    run = run_fault(rig, "proxy-kill", inject)
    where = run.describe()
    down = [a for a in run.answers if run.phase_of(a) == "down"]
    assert down and all(a.status is None and a.error == "ConnectionError" for a in down), \
        f"requests while no proxy listened were not all refused: {where}"
    # Every request sent once the new proxy was ready is answered 200.
    after_restart = [a for a in run.answers if run.phase_of(a) == "after"]
    not_ok = Counter(str(a.status) if a.status is not None else a.error
                     for a in after_restart if a.status != 200)
    assert after_restart and not not_ok, \
        f"not every answer of the restarted proxy is 200: {dict(not_ok)}, " \
        f"e.g. {reasons(after_restart)}: {where}"
    check_run(rig, run, answered_during_fault=False)


def test_postgres_stopped_immediately_and_started(faults):
    """pg_ctl stop -m immediate (a crash, for what is on disk) mid-stream, start again: the
    proxy, not restarted, answers 503 meanwhile and 200 again once the database is back."""
    rig = faults

    def inject(marks):
        rig.cluster.stop("immediate")
        marks["down_from"] = time.monotonic()
        time.sleep(DOWN_FOR)
        marks["down_until"] = time.monotonic()
        rig.cluster.start()
        marks["fault_end"] = time.monotonic()

    proxy_pid = rig.proxy.proc.pid
    run = run_fault(rig, "pg-immediate", inject)
    where = run.describe()
    down = [a for a in run.answers if run.phase_of(a) == "down"]
    assert down and all(a.status == 503 for a in down), \
        f"requests while the database was stopped were not all answered 503: {where}"
    assert rig.proxy.proc.pid == proxy_pid and rig.proxy.proc.poll() is None, "the proxy did not survive"
    check_run(rig, run, answered_during_fault=True)


def test_digest_worker_killed(faults):
    """SIGKILL to a digest worker mid-stream: the postmaster ends every backend and recovers;
    the workers come back, the proxy reconnects by itself and nothing answered 200 is lost."""
    rig = faults
    before = worker_pids(rig.cluster)
    assert len(before) == WORKERS, before

    killed = []

    def inject(marks):
        killed.append(rig.cluster.kill_worker())
        marks["killed"] = time.monotonic()

        def new_workers():
            pids = worker_pids(rig.cluster)
            return len(pids) == WORKERS and not set(pids) & set(before)
        # The fault ends when the crash cycle is over: every worker running again, new ones.
        wait_for(new_workers, 30, "new digest workers after the crash")
        marks["fault_end"] = time.monotonic()

    proxy_pid = rig.proxy.proc.pid
    run = run_fault(rig, "worker-kill", inject)
    assert killed and killed[0] in before, (killed, before)
    assert "terminated by signal 9" in tail(rig.cluster.log, 400), \
        "the postmaster did not log the killed worker"
    assert rig.proxy.proc.pid == proxy_pid and rig.proxy.proc.poll() is None, "the proxy did not survive"
    check_run(rig, run, answered_during_fault=True)


def test_postgres_fast_restart(faults):
    """pg_ctl restart -m fast mid-stream: the proxy, not restarted, answers 503 while the
    database restarts and 200 again after."""
    rig = faults
    started = postmaster_started(rig.cluster)

    def inject(marks):
        rig.cluster.restart("fast")
        marks["fault_end"] = time.monotonic()

    proxy_pid = rig.proxy.proc.pid
    run = run_fault(rig, "pg-restart", inject)
    assert postmaster_started(rig.cluster) != started, "the postmaster was not restarted"
    assert rig.proxy.proc.pid == proxy_pid and rig.proxy.proc.poll() is None, "the proxy did not survive"
    check_run(rig, run, answered_during_fault=True)


def test_crash_recovery_is_kept_short(faults):
    """Recovery replays the WAL since the last checkpoint and first syncs the data directory:
    the clusters of the tracker checkpoint every minute, compress full-page images and sync with
    syncfs (scripts/cluster.conf). With PostgreSQL's defaults a crash after six minutes of
    ingest took 9 s to recover; scripts/soak measures it after a long run."""
    settings = {r["name"]: r["setting"] for r in faults.sql.rows(
        "SELECT name, setting FROM pg_settings WHERE name IN ('checkpoint_timeout', 'wal_compression',"
        " 'recovery_init_sync_method', 'max_wal_size')")}
    assert settings == {"checkpoint_timeout": "60", "wal_compression": "lz4",
                        "recovery_init_sync_method": "syncfs", "max_wal_size": "512"}, settings

"""Two digest workers on batches that share many new dimension values (releases, environments,
server names, SDKs, OS and browsers, each event naming them in its own order), on a cluster of
its own with small batches so that the workers' batches overlap. The workers once inserted
such values in hash order, five passes a batch, and deadlocked: the log said "deadlock
detected" and the batch was retried one payload at a time, which then logged an error every
second on an empty queue. Now: every event digested, no deadlock, no error in the log."""
import random
import threading
import time

from e2e import Cluster, Sql, as_uuid, create_project, envelope, new_event_id, new_session, start_proxy

CLIENTS = 4
EVENTS_PER_CLIENT = 150
VALUES = 12  # of each dimension, all new to the database


def event(rng: random.Random, run: str) -> dict:
    pick = lambda name: f"{name}-{run}-{rng.randrange(VALUES)}"  # noqa: E731
    return {
        "message": f"overlap {rng.randrange(5)}", "level": "error", "platform": "python",
        "release": pick("rel"), "environment": pick("env"), "server_name": pick("host"),
        "transaction": pick("/route"), "logger": pick("log"),
        "sdk": {"name": pick("sdk"), "version": "1.0"},
        "contexts": {"os": {"name": pick("os"), "version": "1"}, "browser": {"name": pick("br"), "version": "2"},
                     "runtime": {"name": pick("rt"), "version": "3"}},
        "exception": {"values": [{"type": pick("Error"), "value": "x"}]},
    }


def test_workers_do_not_deadlock_on_shared_new_values(workdir):
    cluster = Cluster("concurrency", workers=2)
    cluster.init()
    proxy = None
    try:
        cluster.psql("crashcache", "ALTER SYSTEM SET crashcache.batch_size = 8")
        cluster.psql("crashcache", "SELECT pg_reload_conf()")
        sql = Sql(cluster.url())
        project = create_project(sql, "concurrency")
        proxy = start_proxy(cluster, workdir)
        run = new_event_id()[:8]
        accepted: list[str] = []
        failures: list[str] = []

        def client(seed: int):
            rng = random.Random(seed)
            http = new_session()
            for _ in range(EVENTS_PER_CLIENT):
                eid = new_event_id()
                body = envelope({"event_id": eid}, ({"type": "event"}, {"event_id": eid, **event(rng, run)}))
                r = http.post(f"{proxy.url}/api/{project.id}/envelope/", data=body, timeout=10,
                              headers={"Content-Type": "application/x-sentry-envelope", **project.auth_header()})
                (accepted if r.status_code == 200 else failures).append(eid if r.status_code == 200 else r.text)

        threads = [threading.Thread(target=client, args=(seed,)) for seed in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert failures == [], failures[:3]
        assert len(accepted) == CLIENTS * EVENTS_PER_CLIENT
        sql.wait_digested(project.id, timeout=90)
        time.sleep(1.5)  # a worker stuck in a loop would log again within a second

        stored = {r["event_id"] for r in sql.rows("SELECT event_id FROM crashcache.event WHERE project_id = %s",
                                                  (project.id,))}
        assert stored == {as_uuid(e) for e in accepted}
        assert sql.queue_errors(project.id) == []
        # Each dimension value exists once, however many workers met it first.
        assert sql.scalar("SELECT count(*) FROM crashcache.dim_release WHERE name LIKE %s", (f"rel-{run}-%",)) \
            == VALUES
        log = cluster.log.read_text(errors="replace")
        for bad in ("deadlock detected", "rolled back", "SpiTupleTable", "ERROR"):
            assert bad not in log, f"{bad!r} in the server log:\n" + "\n".join(
                line for line in log.splitlines() if bad in line)[:3000]
        sql.close()
    finally:
        if proxy:
            proxy.stop()
        cluster.destroy()

"""Retention (pg_crashcache/sql/retention.sql), as an operator sets it and a user sees it.

Payloads are sent through the proxy and digested, then made old the only way a test can: their
archive's received_at is moved back (and the events carry old timestamps, as an SDK's would).
Then CALL crashcache.run_retention() applies the policy, as pg_cron does every 10 minutes."""
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from e2e import Cluster, Sql, assert_accepted, create_project, envelope, new_event_id, new_session, start_proxy
from test_envelopes import post

DAY = 86400
DIGESTED_TABLES = ("event", "transaction", "span", "session", "session_aggregate", "check_in", "log",
                   "attachment", "client_outcome", "feedback")


def send_event(http, proxy, project, message: str, at: float, user: str = "u", *extra_items) -> str:
    eid = new_event_id()
    body = envelope({"event_id": eid}, ({"type": "event"}, {
        "message": message, "level": "error", "timestamp": at, "user": {"id": user},
        "release": "shop@1", "environment": "prod"}), *extra_items)
    assert_accepted(post(http, proxy, project, body), eid)
    return eid


def send_one_of_each(http, proxy, project, at: float, tag: str) -> None:
    """An event with an attachment and a session, a transaction with a span, a check-in, a log,
    a client report, user feedback and session aggregates: every table retention covers."""
    eid = send_event(http, proxy, project, f"only then {tag}", at, "ann",
                     ({"type": "attachment", "filename": "dump.txt"}, b"core dump\n"),
                     ({"type": "session"}, {"sid": str(uuid.uuid4()), "init": True, "status": "exited",
                                            "started": at, "attrs": {"release": "shop@1"}}))
    tx_id = new_event_id()
    trace = uuid.uuid4().hex
    tx = {"event_id": tx_id, "type": "transaction", "transaction": "GET /cart", "start_timestamp": at,
          "timestamp": at + 0.25, "contexts": {"trace": {"trace_id": trace, "span_id": "a" * 16, "op": "http"}},
          "spans": [{"span_id": "b" * 16, "parent_span_id": "a" * 16, "trace_id": trace, "op": "db",
                     "start_timestamp": at, "timestamp": at + 0.1}]}
    assert_accepted(post(http, proxy, project, envelope({"event_id": tx_id}, ({"type": "transaction"}, tx))), tx_id)
    bodies = [
        envelope({}, ({"type": "check_in"}, {"check_in_id": uuid.uuid4().hex, "monitor_slug": "nightly",
                                             "status": "ok", "duration": 2.0})),
        envelope({}, ({"type": "log"}, {"items": [{"timestamp": at, "level": "warn", "body": f"low stock {tag}"}]})),
        envelope({}, ({"type": "client_report"}, {"timestamp": at, "discarded_events": [
            {"reason": "ratelimit_backoff", "category": "error", "quantity": 2}]})),
        envelope({}, ({"type": "sessions"}, {"aggregates": [{"started": at, "exited": 3}],
                                            "attrs": {"release": "shop@1"}})),
    ]
    for body in bodies:
        assert_accepted(post(http, proxy, project, body), None)
    feedback = envelope({"event_id": eid}, ({"type": "user_report"}, {"event_id": eid, "name": "Ann",
                                                                      "comments": "broke"}))
    assert_accepted(post(http, proxy, project, feedback), eid)


def make_old(sql: Sql, project_id: int, up_to_archive: int, days: float) -> None:
    sql.rows("UPDATE crashcache.archive SET received_at = received_at - make_interval(secs => %s)"
             " WHERE project_id = %s AND id <= %s", (days * DAY, project_id, up_to_archive))


def last_archive(sql: Sql, project_id: int) -> int:
    return sql.scalar("SELECT coalesce(max(id), 0) FROM crashcache.archive WHERE project_id = %s", (project_id,))


def rows_per_table(sql: Sql, project_id: int, archives: str = "TRUE") -> dict:
    return {t: sql.scalar(f"SELECT count(*) FROM crashcache.{t} WHERE project_id = %s AND {archives}",
                          (project_id,)) for t in DIGESTED_TABLES}


def run_retention(cluster, batch_size: int = 1000) -> dict:
    # CALL commits between batches: it needs a connection outside a transaction block.
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        return dict(zip(("deleted", "longest_batch_ms"),
                        conn.execute("CALL crashcache.run_retention(%s)", (batch_size,)).fetchone()))


STATE = {
    "issues": "SELECT id, title, status, event_count, user_count, expired_events, first_seen, last_seen"
              " FROM crashcache.issue WHERE project_id = %s ORDER BY id",
    "events": "SELECT event_id, issue_id, timestamp FROM crashcache.event WHERE project_id = %s ORDER BY event_id",
    "archives": "SELECT id FROM crashcache.archive WHERE project_id = %s ORDER BY id",
    "hours": "SELECT issue_id, hour, events, expired_events FROM crashcache.issue_hour WHERE project_id = %s"
             " ORDER BY issue_id, hour",
}


def state(sql: Sql, project_id: int) -> dict:
    out = {name: sql.rows(q, (project_id,)) for name, q in STATE.items()}
    out["rows"] = rows_per_table(sql, project_id)
    return out


def ruminate(sql: Sql, project_id: int) -> None:
    sql.scalar("SELECT crashcache.ruminate(%s)", (project_id,))
    sql.wait_digested(project_id, timeout=60)


def test_payloads_past_their_age_go_with_everything_digested_from_them(cluster, sql, proxy, http):
    kept_30, unlimited = create_project(sql, "ret-30"), create_project(sql, "ret-none")
    sql.scalar("SELECT crashcache.set_retention(max_age_days => 30, project_id => %s)", (kept_30.id,))
    then = time.time() - 40 * DAY
    last_old = {}
    for project in (kept_30, unlimited):
        send_one_of_each(http, proxy, project, then, "old")
        send_event(http, proxy, project, "then and now", then, "bob")
        sql.wait_digested(project.id, timeout=60)
        last_old[project.id] = last_archive(sql, project.id)
        make_old(sql, project.id, last_old[project.id], 40)
        send_one_of_each(http, proxy, project, time.time(), "new")
        send_event(http, proxy, project, "then and now", time.time(), "cy")
        sql.wait_digested(project.id, timeout=60)
        assert sql.queue_errors(project.id) == []
    old_30 = f"archive_id <= {last_old[kept_30.id]}"
    before = rows_per_table(sql, kept_30.id)
    assert all(before.values()), before
    untouched = state(sql, unlimited.id)

    result = run_retention(cluster)
    assert result["deleted"] >= 9, result

    # The old payloads are gone with every row digested from them; the new ones are all kept.
    assert rows_per_table(sql, kept_30.id, old_30) == dict.fromkeys(DIGESTED_TABLES, 0)
    assert sql.scalar("SELECT count(*) FROM crashcache.archive WHERE project_id = %s AND id <= %s",
                      (kept_30.id, last_old[kept_30.id])) == 0
    after = rows_per_table(sql, kept_30.id)
    assert all(after.values()), after
    # The issue only old events had is gone; the one with a new event keeps all its counts.
    issues = {i["title"]: i for i in sql.rows(STATE["issues"], (kept_30.id,))}
    assert "only then old" not in issues and "only then new" in issues, issues
    both = issues["then and now"]
    assert (both["event_count"], both["user_count"], both["expired_events"]) == (2, 2, 1), both
    assert both["first_seen"].timestamp() == pytest.approx(then, abs=1)
    # The old events' hours are gone with them; the new hour counts its event.
    hours = sql.rows(STATE["hours"], (kept_30.id,))
    assert all(h["hour"].timestamp() > time.time() - 31 * DAY for h in hours), hours
    assert sum(h["events"] for h in hours) == sql.scalar(
        "SELECT count(*) FROM crashcache.event WHERE project_id = %s", (kept_30.id,))
    # A monitor is configuration: it stays, with its new check-in.
    assert sql.scalar("SELECT count(*) FROM crashcache.monitors WHERE project_id = %s", (kept_30.id,)) == 1
    # A project without retention keeps everything.
    assert state(sql, unlimited.id) == untouched

    # Ruminate after retention rebuilds the same, smaller state.
    expired = state(sql, kept_30.id)
    ruminate(sql, kept_30.id)
    assert state(sql, kept_30.id) == expired

    # A hard maximum age bounds every project, whatever its own retention says.
    sql.scalar("SELECT crashcache.set_hard_max_age(20)")
    try:
        policies = {r["project_id"]: r["max_age_days"] for r in sql.rows("SELECT * FROM crashcache.retention_policies")}
        assert (policies[kept_30.id], policies[unlimited.id]) == (20, 20)
        run_retention(cluster)
        titles = [i["title"] for i in sql.rows(STATE["issues"], (unlimited.id,))]
        assert sorted(titles) == ["only then new", "then and now"], titles
    finally:
        sql.scalar("SELECT crashcache.set_hard_max_age(NULL)")


def test_an_issue_keeps_its_first_and_latest_events(cluster, sql, proxy, http):
    project = create_project(sql, "ret-per-issue")
    sql.scalar("SELECT crashcache.set_retention(NULL, max_events_per_issue => 4, project_id => %s)", (project.id,))
    start = time.time() - 3600
    ids = []
    for i in range(10):
        # The sixth event came with a session update: its payload must stay, and so it does.
        extra = [({"type": "session"}, {"sid": str(uuid.uuid4()), "init": True, "status": "ok",
                                        "started": start, "attrs": {"release": "shop@1"}})] if i == 5 else []
        ids.append(send_event(http, proxy, project, "checkout failed", start + 60 * i, f"user{i}", *extra))
    sql.wait_digested(project.id, timeout=60)

    run_retention(cluster)
    kept = [r["event_id"].hex for r in sql.rows(
        "SELECT event_id FROM crashcache.event WHERE project_id = %s ORDER BY timestamp", (project.id,))]
    assert kept == [ids[0], ids[1], ids[5], ids[8], ids[9]]
    issue = sql.one(STATE["issues"], (project.id,))
    assert (issue["event_count"], issue["user_count"], issue["expired_events"]) == (10, 10, 5), issue
    assert sql.scalar("SELECT count(*) FROM crashcache.archive WHERE project_id = %s", (project.id,)) == 5
    assert sql.scalar("SELECT count(*) FROM crashcache.session WHERE project_id = %s", (project.id,)) == 1
    assert run_retention(cluster)["deleted"] == 0  # nothing left to do
    # The sparkline shows the events received, as event_count counts them: the hours count the
    # trimmed events as expired and keep showing them.
    hours = sql.rows(STATE["hours"], (project.id,))
    assert (sum(h["events"] for h in hours), sum(h["expired_events"] for h in hours)) == (10, 5), hours
    listed = sql.scalar("SELECT crashcache.ui_issue_list(%s, '', 'all', 'date', '', '24h', 25)", (str(project.id),))
    assert sum(listed["items"][0]["spark"]) == 10

    expired = state(sql, project.id)
    ruminate(sql, project.id)
    assert state(sql, project.id) == expired


def test_policies_are_checked(sql):
    with pytest.raises(psycopg.errors.CheckViolation):
        sql.scalar("SELECT crashcache.set_retention(0)")
    with pytest.raises(psycopg.errors.CheckViolation):
        sql.scalar("SELECT crashcache.set_retention(NULL, max_events_per_issue => 1)")


def tracker_bytes(sql: Sql) -> int:
    """The tables this test's payloads fill, with their indexes and TOAST: the suite's other
    tests share the cluster, and their tables must not blur the figure."""
    return sql.scalar("SELECT sum(pg_total_relation_size(t))::bigint FROM unnest(ARRAY["
                      "'crashcache.archive'::regclass, 'crashcache.event', 'crashcache.queue']) t")


def ingest_many(proxy, project, n: int, tag: str) -> None:
    local = threading.local()

    def one(i: int) -> None:
        if not hasattr(local, "http"):
            local.http = new_session()
        send_event(local.http, proxy, project, f"flat {tag} {i % 50}", time.time(), f"u{i % 200}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(n)))


@pytest.fixture
def own_tracker(workdir):
    """A cluster and proxy of this test's own: the suite's other tests leave rows and dead
    space in the shared one, which would blur what this one measures."""
    cluster = Cluster("retention-flat").init()
    sql = Sql(cluster.url())
    proxy = start_proxy(cluster, workdir)
    yield cluster, sql, proxy
    proxy.stop()
    sql.close()
    cluster.destroy()


def test_the_database_stops_growing(own_tracker):
    """Ingest, expire, ingest again: once retention has deleted and (auto)vacuum has passed,
    new payloads take the space the old ones left, and the tracker's tables stop growing while
    ingest goes on through retention's batches."""
    cluster, sql, proxy = own_tracker
    project = create_project(sql, "ret-flat")
    sql.scalar("SELECT crashcache.set_retention(1, project_id => %s)", (project.id,))
    sizes, batches = [tracker_bytes(sql)], []
    for cycle in range(4):
        ingest_many(proxy, project, 2000, str(cycle))
        sql.wait_digested(project.id, timeout=120)
        sizes.append(tracker_bytes(sql))
        make_old(sql, project.id, last_archive(sql, project.id), 2)
        # Ingest goes on while retention runs.
        during = threading.Thread(target=ingest_many, args=(proxy, project, 200, f"during {cycle}"))
        during.start()
        batches.append(run_retention(cluster, batch_size=500)["longest_batch_ms"])
        during.join()
        sql.wait_digested(project.id, timeout=60)
        # What autovacuum does on its own once a fifth of a table is dead rows: the suite
        # does not wait for it.
        sql.rows("VACUUM")
    print("tracker bytes before and after each ingest:", sizes, "longest batches (ms):", batches)
    # Without retention each cycle would add as much as the first. With it, the first cycles
    # leave free space behind (index pages are recycled a vacuum later), and from then on new
    # payloads fill what retention freed: the last two cycles add less than half of one, and
    # four cycles hold less than two and a half.
    cycle = sizes[1] - sizes[0]
    assert sizes[4] - sizes[2] < 0.5 * cycle, (sizes, batches)
    assert sizes[4] - sizes[0] < 2.5 * cycle, (sizes, batches)
    assert max(batches) < 5000, batches
    assert sql.queue_errors(project.id) == []
    # The events sent during the last run are all there.
    assert sql.scalar("SELECT count(*) FROM crashcache.event WHERE project_id = %s AND title LIKE 'flat during 3 %%'",
                      (project.id,)) == 200

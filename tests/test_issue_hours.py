"""Hourly counts (crashcache.issue_hour): what the issue list's sparklines and the projects page's
trends read. Events go through the real proxy with SDK timestamps over the last three weeks and
are digested by the real workers; their hours, the sparklines and the trend must say what was
sent, and ruminate must rebuild the same hours."""
import time

from e2e import assert_accepted, create_project, envelope, new_event_id
from test_envelopes import post

HOUR = 3600
# Hours before now of each event, per issue: several in one hour, the edges of both sparklines
# (23 h, 13 days) and one older than both.
SENT = {
    "cart is empty": [0, 0, 0, 1, 5, 23, 24, 30, 24 * 3 + 2, 24 * 13 + 1, 24 * 20],
    "payment declined": [0, 2, 2, 24 * 6],
}


def send(http, proxy, project, message: str, at: float) -> None:
    eid = new_event_id()
    body = envelope({"event_id": eid}, ({"type": "event"}, {"message": message, "level": "error",
                                                            "timestamp": at}))
    assert_accepted(post(http, proxy, project, body), eid)


def expected_spark(times: list[float], now_hour: float, bucket_hours: int, buckets: int) -> list[int]:
    """Buckets of whole UTC hours, the last ending with the current hour."""
    spark = [0] * buckets
    for at in times:
        ago = int((now_hour - at // HOUR * HOUR) // (bucket_hours * HOUR))
        if 0 <= ago < buckets:
            spark[buckets - 1 - ago] += 1
    return spark


def hours(sql, project_id: int) -> list[dict]:
    return sql.rows("SELECT issue_id, hour, events, expired_events FROM crashcache.issue_hour"
                    " WHERE project_id = %s ORDER BY issue_id, hour", (project_id,))


def pages(sql, project) -> dict:
    """The sparklines of both periods and the project's trend, with the hour they were read in."""
    return sql.one(
        "SELECT crashcache.ui_issue_list(%(p)s, '', 'all', 'freq', '', '24h', 25) AS day,"
        "       crashcache.ui_issue_list(%(p)s, '', 'all', 'freq', '', '14d', 25) AS fortnight,"
        "       (SELECT p->'trend' FROM jsonb_array_elements(crashcache.ui_projects()) p"
        "        WHERE (p->>'id')::int = %(id)s) AS trend,"
        "       extract(epoch FROM date_trunc('hour', now(), 'UTC'))::float8 AS now_hour",
        {"p": project.name, "id": project.id})


def test_sent_events_are_counted_per_hour_and_rebuilt_by_ruminate(sql, proxy, http):
    project = create_project(sql, "hours")
    now = time.time()
    times = {title: [now - h * HOUR - 5 for h in offsets] for title, offsets in SENT.items()}
    for title, ats in times.items():
        for at in ats:
            send(http, proxy, project, title, at)
    sql.wait_digested(project.id, timeout=60)
    assert sql.queue_errors(project.id) == []

    # Each hour counts the events stored in it, issue by issue.
    counted = hours(sql, project.id)
    assert [(h["issue_id"], h["hour"], h["events"]) for h in counted] == [
        (r["issue_id"], r["hour"], r["n"]) for r in sql.rows(
            "SELECT issue_id, date_trunc('hour', timestamp, 'UTC') AS hour, count(*) AS n FROM crashcache.event"
            " WHERE project_id = %s GROUP BY 1, 2 ORDER BY 1, 2", (project.id,))]
    assert sum(h["events"] for h in counted) == sum(len(t) for t in times.values())

    # The sparklines and the trend show them, hour by hour and day by day.
    shown = pages(sql, project)
    day = {i["title"]: i["spark"] for i in shown["day"]["items"]}
    fortnight = {i["title"]: i["spark"] for i in shown["fortnight"]["items"]}
    for title, ats in times.items():
        assert day[title] == expected_spark(ats, shown["now_hour"], 1, 24), title
        assert fortnight[title] == expected_spark(ats, shown["now_hour"], 24, 14), title
    assert shown["trend"] == expected_spark([t for ats in times.values() for t in ats], shown["now_hour"], 1, 24)
    assert day["cart is empty"][-1] == 3

    # Ruminate deletes them with the events and counts them again: the same hours.
    sql.scalar("SELECT crashcache.ruminate(%s)", (project.id,))
    sql.wait_digested(project.id, timeout=60)
    assert hours(sql, project.id) == counted
    again = pages(sql, project)
    if again["now_hour"] == shown["now_hour"]:
        assert again == shown

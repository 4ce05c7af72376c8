"""Alert detection (pg_crashcache/sql/alerts.sql): what the real Python SDK sends through the real
proxy, digested by the real workers, writes the outbox rows a user's rules ask for, once, and
the delivery functions hand each row to one process and keep its retries and failures.

The outbox is what is asserted on: delivering it is the proxy's part (test_alerts_delivery.py).
Where a test needs time to pass (a cron that stopped checking in, a cooldown that ended) it
moves the stored times back, as if the minutes had gone by."""
import datetime
import json
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest

from e2e import Cluster, Sql, clean_env, create_project, envelope, new_event_id, new_session
from test_envelopes import post

# The real SDK, one client per run: `actions` are messages ({"message", "level", "fingerprint",
# "tags"}) and check-ins ({"checkin", "status", "config"}).
SENDER = r"""
import json, os, sys
import sentry_sdk
from sentry_sdk.crons import capture_checkin
sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], environment=os.environ.get("ENVIRONMENT") or None,
                release=os.environ.get("RELEASE") or None, default_integrations=False)
for a in json.loads(os.environ["ACTIONS"]):
    if "checkin" in a:
        capture_checkin(monitor_slug=a["checkin"], status=a["status"], monitor_config=a.get("config"))
        continue
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = [a["fingerprint"]]
        for k, v in a.get("tags", {}).items():
            scope.set_tag(k, v)
        sentry_sdk.capture_message(a["message"], level=a.get("level", "error"))
sentry_sdk.flush(timeout=20)
"""


def send(proxy, project, actions, environment="production", release="shop@1.0.0"):
    p = subprocess.run([sys.executable, "-c", SENDER], capture_output=True, text=True, timeout=90,
                       stdin=subprocess.DEVNULL,
                       env=clean_env(SENTRY_DSN=project.dsn(proxy), ACTIONS=json.dumps(actions),
                                     ENVIRONMENT=environment, RELEASE=release))
    assert p.returncode == 0, f"the SDK sender failed:\n{p.stdout}\n{p.stderr[-3000:]}"


def message(fingerprint, level="error", **tags):
    return {"message": f"alerting {fingerprint}", "level": level, "fingerprint": fingerprint, "tags": tags}


def channel(sql, name, kind="webhook", config=None, project=None):
    config = config or ({"to": ["ops@example.com"]} if kind == "email" else {"url": f"https://{name}.example/hook"})
    return sql.scalar("INSERT INTO crashcache.alert_channel (project_id, name, kind, config)"
                      " VALUES (%s, %s, %s, %s) RETURNING id",
                      (project.id if project else None, name, kind, json.dumps(config)))


def rule(sql, project, trigger, channels, **fields):
    """A rule as an admin writes it in SQL: a row, and its links to channels."""
    fields = {"params": {}, "tags": {}, **fields}
    rule_id = sql.scalar(
        "INSERT INTO crashcache.alert_rule (project_id, name, trigger, params, environments, min_level, tags,"
        " cooldown_minutes) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (project.id, f"{trigger}-{len(channels)}-{time.monotonic_ns()}", trigger, json.dumps(fields["params"]),
         fields.get("environments"), fields.get("min_level"), json.dumps(fields["tags"]),
         fields.get("cooldown_minutes", 60)))
    for c in channels:
        sql.rows("INSERT INTO crashcache.alert_rule_channel (rule_id, channel_id) VALUES (%s, %s)", (rule_id, c))
    return rule_id


def outbox(sql, rule_id):
    return sql.rows("SELECT * FROM crashcache.alert_outbox WHERE rule_id = %s ORDER BY id", (rule_id,))


def issue_of(sql, project, fingerprint_message):
    return sql.one("SELECT * FROM crashcache.issue WHERE project_id = %s AND title = %s",
                   (project.id, fingerprint_message))


def api_status(sql, issue_id, body):
    sql.scalar("SELECT crashcache.api_update_issue(current_setting('crashcache.organization_slug'), %s, %s, 'pytest')",
               (str(issue_id), json.dumps(body)))


# --------------------------------------------------------------------------- issue triggers
def test_a_new_issue_alerts_once_then_a_regression(proxy, sql, wait_digested):
    project = create_project(sql, "alerts-new")
    hook, slack = channel(sql, f"hook-{project.id}"), channel(sql, f"slack-{project.id}", "slack", project=project)
    new_rule = rule(sql, project, "new_issue", [hook, slack])
    regression_rule = rule(sql, project, "regression", [hook])

    send(proxy, project, [message("checkout-failed")])
    wait_digested(project.id)
    issue = issue_of(sql, project, "alerting checkout-failed")
    rows = outbox(sql, new_rule)
    assert [r["channel_id"] for r in rows] == sorted([hook, slack])
    for r in rows:
        m = r["message"]
        assert r["issue_id"] == issue["id"] and r["state"] == "pending" and r["attempts"] == 0
        assert m["trigger"] == "new_issue" and m["title"] == "New issue: alerting checkout-failed"
        assert m["reason"].startswith(f"A new issue was seen in project {project.name}.")
        assert m["url"].endswith(f"/issues/{issue['id']}") and m["url"].startswith("http")
        assert m["project"] == project.name and m["level"] == "error" and m["held_back"] == 0
        assert m["issue"]["short_id"] == f"{project.name.upper()}-1" and m["issue"]["events"] == 1
        assert ["Environment", "production"] in m["fields"] and ["Release", "shop@1.0.0"] in m["fields"]

    # Its next events alert nobody.
    send(proxy, project, [message("checkout-failed"), message("checkout-failed")])
    wait_digested(project.id)
    assert len(outbox(sql, new_rule)) == 2 and outbox(sql, regression_rule) == []

    # Resolved, then seen again: a regression, once.
    api_status(sql, issue["id"], {"status": "resolved"})
    send(proxy, project, [message("checkout-failed")])
    wait_digested(project.id)
    regressed = outbox(sql, regression_rule)
    assert len(regressed) == 1 and regressed[0]["channel_id"] == hook
    assert regressed[0]["message"]["title"] == "Regression: alerting checkout-failed"
    assert regressed[0]["message"]["reason"].startswith("A resolved issue got a new event of release shop@1.0.0.")
    assert sql.scalar("SELECT status FROM crashcache.issue WHERE id = %s", (issue["id"],)) == "unresolved"
    assert len(outbox(sql, new_rule)) == 2


def test_resolved_in_the_next_release_regresses_on_a_newer_release_only(proxy, sql, wait_digested):
    project = create_project(sql, "alerts-release")
    regression_rule = rule(sql, project, "regression", [channel(sql, f"hook-{project.id}")], cooldown_minutes=0)
    send(proxy, project, [message("cart-empty")], release="shop@1.0.0")
    wait_digested(project.id)
    issue = issue_of(sql, project, "alerting cart-empty")
    api_status(sql, issue["id"], {"status": "resolvedInNextRelease"})

    send(proxy, project, [message("cart-empty")], release="shop@1.0.0")
    wait_digested(project.id)
    assert outbox(sql, regression_rule) == []
    assert sql.scalar("SELECT status FROM crashcache.issue WHERE id = %s", (issue["id"],)) == "resolved"

    send(proxy, project, [message("cart-empty")], release="shop@1.1.0")
    wait_digested(project.id)
    rows = outbox(sql, regression_rule)
    assert len(rows) == 1 and ["Release", "shop@1.1.0"] in rows[0]["message"]["fields"], rows


def test_an_ignored_issue_coming_back_alerts_unignored(proxy, sql, wait_digested):
    project = create_project(sql, "alerts-ignored")
    back = rule(sql, project, "unignored", [channel(sql, f"hook-{project.id}")])
    send(proxy, project, [message("flaky-db")])
    wait_digested(project.id)
    issue = issue_of(sql, project, "alerting flaky-db")
    api_status(sql, issue["id"], {"status": "ignored", "statusDetails": {"ignoreCount": 2}})

    send(proxy, project, [message("flaky-db")])
    wait_digested(project.id)
    assert outbox(sql, back) == []
    send(proxy, project, [message("flaky-db")])
    wait_digested(project.id)
    rows = outbox(sql, back)
    assert len(rows) == 1 and rows[0]["message"]["trigger"] == "unignored", rows
    assert rows[0]["message"]["title"] == "Back from ignored: alerting flaky-db"
    assert sql.scalar("SELECT status FROM crashcache.issue WHERE id = %s", (issue["id"],)) == "unresolved"
    # Unresolved now: more events are only events.
    send(proxy, project, [message("flaky-db")])
    wait_digested(project.id)
    assert len(outbox(sql, back)) == 1


def test_an_issue_ignored_for_a_while_comes_back_with_its_next_event(proxy, sql, wait_digested):
    project = create_project(sql, "alerts-snoozed")
    back = rule(sql, project, "unignored", [channel(sql, f"hook-{project.id}")])
    send(proxy, project, [message("slow-page")])
    wait_digested(project.id)
    issue = issue_of(sql, project, "alerting slow-page")
    api_status(sql, issue["id"], {"status": "ignored", "statusDetails": {"ignoreDuration": 30}})
    send(proxy, project, [message("slow-page")])
    wait_digested(project.id)
    assert outbox(sql, back) == []
    # Half an hour later: the ignore ran out, and the next event brings the issue back.
    sql.rows("UPDATE crashcache.issue SET status_details = status_details || jsonb_build_object('ignoreUntil',"
             " crashcache._api_time(now() - interval '1 second')) WHERE id = %s", (issue["id"],))
    send(proxy, project, [message("slow-page")])
    wait_digested(project.id)
    assert [r["message"]["trigger"] for r in outbox(sql, back)] == ["unignored"]


def test_filters_on_environment_level_and_tags_apply_to_the_event_that_fired(proxy, sql, wait_digested):
    project = create_project(sql, "alerts-filters")
    picky = rule(sql, project, "new_issue", [channel(sql, f"hook-{project.id}")],
                 environments=["production"], min_level="error", tags={"team": "payments"})
    send(proxy, project, [message("only-a-warning", "warning", team="payments"),
                          message("wrong-team", "error", team="search"),
                          message("wanted", "fatal", team="payments")])
    send(proxy, project, [message("in-staging", "error", team="payments")], environment="staging")
    wait_digested(project.id)
    assert sql.scalar("SELECT count(*) FROM crashcache.issue WHERE project_id = %s", (project.id,)) == 4
    assert [r["message"]["title"] for r in outbox(sql, picky)] == ["New issue: alerting wanted"]


def test_no_rule_of_another_project_fires(proxy, sql, wait_digested):
    mine, other = create_project(sql, "alerts-mine"), create_project(sql, "alerts-other")
    theirs = rule(sql, other, "new_issue", [channel(sql, f"hook-{other.id}")])
    send(proxy, mine, [message("not-theirs")])
    wait_digested(mine.id)
    assert outbox(sql, theirs) == []


# --------------------------------------------------------------------------- volume
def test_a_burst_trips_the_volume_rule_once_per_cooldown(proxy, sql, wait_digested):
    project = create_project(sql, "alerts-burst")
    burst = rule(sql, project, "issue_volume", [channel(sql, f"hook-{project.id}")],
                 params={"events": 5, "minutes": 10}, cooldown_minutes=30)
    whole = rule(sql, project, "project_volume", [channel(sql, f"all-{project.id}")],
                 params={"events": 8, "minutes": 10})
    send(proxy, project, [message("storm")] * 6 + [message("drizzle")] * 2)
    wait_digested(project.id)
    sql.scalar("SELECT crashcache.alerts_check()")
    rows = outbox(sql, burst)
    assert len(rows) == 1, rows
    assert rows[0]["message"]["trigger"] == "issue_volume" and rows[0]["message"]["held_back"] == 0
    assert rows[0]["message"]["title"] == "6 events in 10 minutes: alerting storm"
    assert rows[0]["issue_id"] == issue_of(sql, project, "alerting storm")["id"]
    assert [r["message"]["title"] for r in outbox(sql, whole)] == [f"8 events in 10 minutes: project {project.name}"]

    # The storm goes on: the cooldown holds it back, and counts it.
    send(proxy, project, [message("storm")] * 6)
    wait_digested(project.id)
    sql.scalar("SELECT crashcache.alerts_check()")
    sql.scalar("SELECT crashcache.alerts_check()")
    assert len(outbox(sql, burst)) == 1

    # Half an hour later the next message says what was held back.
    sql.rows("UPDATE crashcache.alert_state SET cooldown_until = now() - interval '1 second' WHERE rule_id = %s",
             (burst,))
    sql.scalar("SELECT crashcache.alerts_check()")
    rows = outbox(sql, burst)
    assert len(rows) == 2 and rows[1]["message"]["held_back"] == 2, rows
    assert rows[1]["message"]["title"] == "12 events in 10 minutes: alerting storm"


# --------------------------------------------------------------------------- release health
def sessions(proxy, project, release, statuses):
    http = new_session()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for status in statuses:
        body = envelope({}, ({"type": "session"}, {
            "sid": str(uuid.uuid4()), "did": str(uuid.uuid4()), "init": True, "status": status,
            "errors": int(status == "crashed"), "started": now, "timestamp": now,
            "attrs": {"release": release, "environment": "production"}}))
        assert post(http, proxy, project, body).status_code == 200


def test_a_release_below_its_crash_free_threshold_alerts(proxy, sql, wait_digested):
    project = create_project(sql, "alerts-health")
    health = rule(sql, project, "crash_free_rate", [channel(sql, f"hook-{project.id}")],
                  params={"threshold": 90, "min_sessions": 8})
    sessions(proxy, project, "app@2.0", ["exited"] * 6 + ["crashed"] * 2)  # 75 %, enough sessions
    sessions(proxy, project, "app@1.9", ["exited"] * 2 + ["crashed"] * 3)  # 40 %, too few sessions
    sessions(proxy, project, "app@1.8", ["exited"] * 19 + ["crashed"])  # 95 %
    wait_digested(project.id)
    sql.scalar("SELECT crashcache.alerts_check()")
    sql.scalar("SELECT crashcache.alerts_check()")
    rows = outbox(sql, health)
    assert [r["message"]["title"] for r in rows] == ["Crash-free sessions at 75.00%: app@2.0"], rows
    assert rows[0]["message"]["reason"].startswith("Release app@2.0 has 75.00% crash-free sessions (2 of 8 crashed)")


# --------------------------------------------------------------------------- crons
INTERVAL = {"schedule": {"type": "interval", "value": 5, "unit": "minute"}, "checkin_margin": 2}
CRONTAB = {"schedule": {"type": "crontab", "value": "30 3 * * *"}, "timezone": "Europe/Paris", "checkin_margin": 5}


def test_a_cron_that_stops_checking_in_is_missed_once(proxy, sql, wait_digested):
    project = create_project(sql, "alerts-cron")
    missed = rule(sql, project, "cron_missed", [channel(sql, f"hook-{project.id}")], params={"monitor": "nightly"})
    send(proxy, project, [{"checkin": "nightly", "status": "ok", "config": INTERVAL},
                          {"checkin": "hourly-other", "status": "ok", "config": INTERVAL}])
    wait_digested(project.id)
    sql.scalar("SELECT crashcache.alerts_check()")
    assert outbox(sql, missed) == []

    # Six minutes on: due after five, but within its two minutes of margin.
    age_check_ins(sql, project, "6 minutes")
    sql.scalar("SELECT crashcache.alerts_check()")
    assert outbox(sql, missed) == []
    # Eight minutes on: missed, once however often the check runs; the other monitor has no rule.
    age_check_ins(sql, project, "2 minutes")
    sql.scalar("SELECT crashcache.alerts_check()")
    sql.scalar("SELECT crashcache.alerts_check()")
    rows = outbox(sql, missed)
    assert len(rows) == 1, rows
    assert rows[0]["message"]["trigger"] == "cron_missed" and rows[0]["message"]["title"] == "Cron job missed: nightly"

    # It checks in again, on a crontab in Paris time, and misses the next 03:30.
    send(proxy, project, [{"checkin": "nightly", "status": "ok", "config": CRONTAB}])
    wait_digested(project.id)
    sql.scalar("SELECT crashcache.alerts_check()")
    assert len(outbox(sql, missed)) == 1
    age_check_ins(sql, project, "25 hours")
    sql.rows("UPDATE crashcache.alert_state SET cooldown_until = now() WHERE rule_id = %s", (missed,))
    sql.scalar("SELECT crashcache.alerts_check()")
    rows = outbox(sql, missed)
    assert len(rows) == 2, rows
    expected = sql.scalar(
        "SELECT crashcache._api_time(crashcache._cron_next('30 3 * * *', max(c.timestamp), 'Europe/Paris'))"
        " FROM crashcache.check_in c WHERE c.project_id = %s", (project.id,))
    assert f"expected a check-in at {expected}" in rows[1]["message"]["reason"]
    assert expected[11:16] in ("01:30", "02:30"), expected  # 03:30 in Paris is UTC+1 or +2


def age_check_ins(sql, project, by):
    sql.rows("UPDATE crashcache.check_in SET timestamp = timestamp - %s::interval WHERE project_id = %s",
             (by, project.id))


def test_a_failed_check_in_alerts_cron_failed(proxy, sql, wait_digested):
    project = create_project(sql, "alerts-cron-failed")
    failed = rule(sql, project, "cron_failed", [channel(sql, f"hook-{project.id}")])
    send(proxy, project, [{"checkin": "backup", "status": "ok", "config": INTERVAL}])
    wait_digested(project.id)
    assert outbox(sql, failed) == []
    send(proxy, project, [{"checkin": "backup", "status": "error"}])
    wait_digested(project.id)
    rows = outbox(sql, failed)
    assert len(rows) == 1 and rows[0]["message"]["title"] == "Cron job failed: backup", rows


def test_a_cron_that_never_finishes_times_out(proxy, sql, wait_digested):
    project = create_project(sql, "alerts-cron-timeout")
    failed = rule(sql, project, "cron_failed", [channel(sql, f"hook-{project.id}")], params={"monitor": "report"})
    send(proxy, project, [{"checkin": "report", "status": "in_progress", "config": {**INTERVAL, "max_runtime": 10}}])
    wait_digested(project.id)
    sql.scalar("SELECT crashcache.alerts_check()")
    assert outbox(sql, failed) == []
    age_check_ins(sql, project, "11 minutes")
    sql.scalar("SELECT crashcache.alerts_check()")
    sql.scalar("SELECT crashcache.alerts_check()")
    rows = outbox(sql, failed)
    assert [r["message"]["title"] for r in rows] == ["Cron job timed out: report"], rows
    assert "has not finished within 10 minutes" in rows[0]["message"]["reason"]


CRON_CASES = [
    ("* * * * *", "UTC", "2026-03-07 10:17:30+00", "2026-03-07 10:18:00+00"),
    ("*/15 * * * *", "UTC", "2026-03-07 10:17:30+00", "2026-03-07 10:30:00+00"),
    ("0 9 * * *", "Europe/Paris", "2026-03-07 10:17:30+00", "2026-03-08 08:00:00+00"),
    ("0 9 * * *", "Europe/Paris", "2026-07-07 10:17:30+00", "2026-07-08 07:00:00+00"),
    ("0 12 * * mon-fri", "UTC", "2026-03-07 10:17:30+00", "2026-03-09 12:00:00+00"),
    ("5,10 8-9 * * 0", "UTC", "2026-03-08 08:07:00+00", "2026-03-08 08:10:00+00"),
    ("0 0 1 * *", "UTC", "2026-03-07 10:17:30+00", "2026-04-01 00:00:00+00"),
    ("0 0 29 2 *", "UTC", "2026-03-07 10:17:30+00", "2028-02-29 00:00:00+00"),
    ("0 0 13 * 5", "UTC", "2026-03-14 00:00:00+00", "2026-03-20 00:00:00+00"),  # the 13th or a Friday
    ("@daily", "Asia/Tokyo", "2026-03-07 10:17:30+00", "2026-03-07 15:00:00+00"),
    ("0 0 31 2 *", "UTC", "2026-03-07 10:17:30+00", None),
]


@pytest.mark.parametrize("expr,tz,after,expected", CRON_CASES, ids=[f"{c[0]} {c[1]} {c[2]}" for c in CRON_CASES])
def test_next_expected_time_of_a_crontab(sql, expr, tz, after, expected):
    got = sql.scalar("SELECT crashcache._cron_next(%s, %s::timestamptz, %s) = %s::timestamptz", (expr, after, tz, expected))
    assert got is (None if expected is None else True), (expr, tz, after, expected)


@pytest.mark.parametrize("expr", ["61 * * * *", "* * * *", "a b c d e", "*/0 * * * *", "5-1 * * * *"])
def test_a_crontab_that_is_not_one_is_refused(sql, expr):
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        sql.scalar("SELECT crashcache._cron_next(%s, now(), 'UTC')", (expr,))


# --------------------------------------------------------------------------- what is refused
BAD_RULES = [
    ("issue_volume", {"events": 0, "minutes": 5}, '"events" or "users"'),
    ("issue_volume", {"events": 5}, '"minutes"'),
    ("project_volume", {"events": 5, "users": 5, "minutes": 5}, '"events" or "users"'),
    ("new_issue", {"events": 5}, "new_issue rules have no param 'events'"),
    ("crash_free_rate", {"threshold": 120, "min_sessions": 10}, '"threshold"'),
]


@pytest.mark.parametrize("trigger,params,refusal", BAD_RULES, ids=[f"{t} {p}" for t, p, _ in BAD_RULES])
def test_a_rule_the_check_cannot_use_is_refused(sql, trigger, params, refusal):
    project = create_project(sql, "alerts-bad")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=refusal):
        sql.rows("INSERT INTO crashcache.alert_rule (project_id, name, trigger, params) VALUES (%s, 'x', %s, %s)",
                 (project.id, trigger, json.dumps(params)))


BAD_CHANNELS = [
    ("slack", {"url": "ftp://x.example"}, 'needs "url"'),
    ("webhook", {"url": "https://x.example", "secret": "short"}, "at least 16"),
    ("email", {"to": []}, 'needs "to"'),
    ("email", {"to": ["not-an-address"]}, 'needs "to"'),
    ("teams", {"url": "https://x.example", "channel": "x"}, "teams channel has no setting 'channel'"),
]


@pytest.mark.parametrize("kind,config,refusal", BAD_CHANNELS, ids=[f"{k} {c}" for k, c, _ in BAD_CHANNELS])
def test_a_channel_delivery_cannot_use_is_refused(sql, kind, config, refusal):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=refusal):
        channel(sql, f"bad-{time.monotonic_ns()}", kind, config)


def test_a_webhook_gets_a_secret_of_its_own(sql):
    a, b = (channel(sql, f"signed-{time.monotonic_ns()}") for _ in range(2))
    secrets = [sql.scalar("SELECT config->>'secret' FROM crashcache.alert_channel WHERE id = %s", (c,)) for c in (a, b)]
    assert all(len(s) == 64 for s in secrets) and secrets[0] != secrets[1], secrets


# --------------------------------------------------------------------------- delivery, on a cluster of its own
@pytest.fixture(scope="module")
def delivery():
    """A cluster with no proxy, so that nothing else claims its outbox, and the alerts role."""
    c = Cluster("alerts-delivery").init()
    try:
        su = Sql(c.url())
        su.rows("SET crashcache.public_url = 'http://tracker.example'")
        alerts = Sql(c.url(role="crashcache_alerts_proxy"))
        ui = Sql(c.url(role="crashcache_ui_proxy"))
        yield c, su, alerts, ui
        for s in (su, alerts, ui):
            s.close()
    finally:
        c.destroy()


def test_two_claims_never_take_the_same_row(delivery):
    c, su, alerts, _ = delivery
    hook = channel(su, "claimed")
    made = {su.scalar("SELECT crashcache.ui_alert_send_test(%s, 'pytest')", (hook,)) for _ in range(30)}
    first = psycopg.connect(c.url(role="crashcache_alerts_proxy"))
    second = psycopg.connect(c.url(role="crashcache_alerts_proxy"))
    try:
        taken_first = {r[0] for r in first.execute("SELECT outbox_id FROM crashcache.alerts_claim(20, 60)")}
        # The first still holds its rows (its transaction is open): the second skips them.
        taken_second = {r[0] for r in second.execute("SELECT outbox_id FROM crashcache.alerts_claim(20, 60)")}
        second.commit()
        first.commit()
        assert len(taken_first) == 20 and taken_first.isdisjoint(taken_second)
        assert taken_first | taken_second == made
        # Leased: claimed by nobody until the lease lapses.
        assert list(second.execute("SELECT outbox_id FROM crashcache.alerts_claim(100, 60)")) == []
        second.commit()
    finally:
        first.close()
        second.close()

    # Many processes at once, each in its own transaction: every row once.
    for outbox_id in made:
        su.rows("UPDATE crashcache.alert_outbox SET state = 'pending' WHERE id = %s", (outbox_id,))
    got, errors = [], []

    def claim_all():
        try:
            with psycopg.connect(c.url(role="crashcache_alerts_proxy"), autocommit=True) as conn:
                while rows := conn.execute("SELECT outbox_id FROM crashcache.alerts_claim(3, 60)").fetchall():
                    got.extend(r[0] for r in rows)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=claim_all) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and sorted(got) == sorted(made)


def test_a_written_alert_wakes_the_listeners(delivery):
    c, su, alerts, _ = delivery
    hook = channel(su, "awake")
    with psycopg.connect(c.url(role="crashcache_alerts_proxy"), autocommit=True) as listener:
        listener.execute("LISTEN crashcache_alerts")
        outbox_id = su.scalar("SELECT crashcache.ui_alert_send_test(%s, 'pytest')", (hook,))
        woken = next(listener.notifies(timeout=10), None)
        assert woken is not None and woken.channel == "crashcache_alerts"
    assert [r["outbox_id"] for r in alerts.rows("SELECT * FROM crashcache.alerts_claim(100, 60)")] == [outbox_id]
    assert alerts.scalar("SELECT crashcache.alerts_record(%s, true, 200, 'ok')", (outbox_id,)) == "delivered"


def test_a_lapsed_lease_gives_the_row_back(delivery):
    _, su, alerts, _ = delivery
    hook = channel(su, "lapsed")
    outbox_id = su.scalar("SELECT crashcache.ui_alert_send_test(%s, 'pytest')", (hook,))
    assert [r["outbox_id"] for r in alerts.rows("SELECT * FROM crashcache.alerts_claim(100, 1)")] == [outbox_id]
    time.sleep(1.2)
    again = alerts.rows("SELECT * FROM crashcache.alerts_claim(100, 60)")
    assert [(r["outbox_id"], r["attempts"]) for r in again] == [(outbox_id, 2)]
    assert alerts.scalar("SELECT crashcache.alerts_record(%s, true, 200, 'ok')", (outbox_id,)) == "delivered"


def test_record_retries_with_backoff_then_keeps_the_failure(delivery):
    _, su, alerts, _ = delivery
    hook = channel(su, "flaky")
    outbox_id = su.scalar("SELECT crashcache.ui_alert_send_test(%s, 'pytest')", (hook,))
    claimed = alerts.rows("SELECT * FROM crashcache.alerts_claim(100, 60)")
    assert [(r["outbox_id"], r["kind"], r["attempts"]) for r in claimed] == [(outbox_id, "webhook", 1)]
    assert claimed[0]["config"]["url"] == "https://flaky.example/hook" and len(claimed[0]["config"]["secret"]) == 64
    assert claimed[0]["message"]["test"] is True and claimed[0]["message"]["url"] == "http://tracker.example"
    waits = []
    for attempt in range(1, 7):
        if attempt > 1:
            # As if the backoff had gone by.
            su.rows("UPDATE crashcache.alert_outbox SET due_at = now() WHERE id = %s", (outbox_id,))
            assert [r["attempts"] for r in alerts.rows("SELECT * FROM crashcache.alerts_claim(100, 60)")] == [attempt]
        state = alerts.scalar("SELECT crashcache.alerts_record(%s, false, 503, %s)", (outbox_id, "x" * 5000))
        row = su.one("SELECT o.*, extract(epoch FROM o.due_at - c.last_attempt_at) AS wait, c.last_status,"
                     " c.last_http_status AS channel_status, c.last_error"
                     " FROM crashcache.alert_outbox o JOIN crashcache.alert_channel c ON c.id = o.channel_id"
                     " WHERE o.id = %s", (outbox_id,))
        if attempt < 6:
            assert state == "pending" and row["last_status"] == "retrying"
            waits.append(float(row["wait"]))
            assert alerts.rows("SELECT * FROM crashcache.alerts_claim(100, 60)") == []  # not due yet
    assert waits == [30, 60, 120, 240, 480]
    assert state == "failed" and row["state"] == "failed" and row["attempts"] == 6
    assert row["last_http_status"] == 503 and row["last_response"] == "x" * 2000
    assert row["last_status"] == "failed" and row["channel_status"] == 503 and row["last_error"] == "x" * 500
    assert alerts.rows("SELECT * FROM crashcache.alerts_claim(100, 60)") == []
    # Recording again changes nothing.
    assert alerts.scalar("SELECT crashcache.alerts_record(%s, true, 200, 'late')", (outbox_id,)) == "failed"

    refused = su.scalar("SELECT crashcache.ui_alert_send_test(%s, 'pytest')", (hook,))
    alerts.rows("SELECT * FROM crashcache.alerts_claim(100, 60)")
    assert alerts.scalar("SELECT crashcache.alerts_record(%s, false, NULL, 'private address', false)", (refused,)) == "failed"

    delivered = su.scalar("SELECT crashcache.ui_alert_send_test(%s, 'pytest')", (hook,))
    alerts.rows("SELECT * FROM crashcache.alerts_claim(100, 60)")
    assert alerts.scalar("SELECT crashcache.alerts_record(%s, true, 204, '')", (delivered,)) == "delivered"
    ch = su.one("SELECT * FROM crashcache.alert_channel WHERE id = %s", (hook,))
    assert (ch["last_status"], ch["last_http_status"], ch["last_error"]) == ("delivered", 204, None)
    assert su.one("SELECT delivered_at IS NOT NULL AS done FROM crashcache.alert_outbox WHERE id = %s",
                  (delivered,)) == {"done": True}


def test_bad_claim_and_record_arguments_are_refused(delivery):
    _, _, alerts, _ = delivery
    for statement in ("SELECT * FROM crashcache.alerts_claim(0, 60)", "SELECT * FROM crashcache.alerts_claim(10, 0)"):
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            alerts.rows(statement)
    with pytest.raises(psycopg.errors.NoDataFound):
        alerts.scalar("SELECT crashcache.alerts_record(-1, true, 200, '')")


def test_the_ui_manages_channels_and_rules(delivery):
    _, su, _, ui = delivery
    project = create_project(su, "alerts-ui")
    made = ui.scalar("SELECT crashcache.ui_alert_channel_create(%s, 'pager', 'ntfy', %s)",
                     (project.id, json.dumps({"url": "https://ntfy.example/ops", "token": "tk_secret"})))
    assert made["config"] == {"url": "https://ntfy.example/ops", "token": "********"} and made["last_status"] is None
    hook = ui.scalar("SELECT crashcache.ui_alert_channel_create(NULL, 'ui-hook', 'webhook', %s)",
                     (json.dumps({"url": "https://h.example/in"}),))
    secret = hook["config"]["secret"]
    renamed = ui.scalar("SELECT crashcache.ui_alert_channel_update(%s, 'ui-hook-2', %s)",
                        (hook["id"], json.dumps({"url": "https://h.example/v2"})))
    assert renamed["name"] == "ui-hook-2" and renamed["config"] == {"url": "https://h.example/v2", "secret": secret}

    body = {"name": "payments down", "trigger": "issue_volume", "params": {"users": 3, "minutes": 15},
            "environments": ["production"], "min_level": "error", "tags": {"team": "payments"},
            "cooldown_minutes": 10, "channel_ids": [made["id"], hook["id"]]}
    created = ui.scalar("SELECT crashcache.ui_alert_rule_create(%s, %s)", (project.id, json.dumps(body)))
    assert {k: created[k] for k in body} == {**body, "channel_ids": sorted(body["channel_ids"])}
    updated = ui.scalar("SELECT crashcache.ui_alert_rule_update(%s, %s)",
                        (created["id"], json.dumps({"enabled": False, "channel_ids": [hook["id"]], "environments": None})))
    assert (updated["enabled"], updated["channel_ids"], updated["environments"]) == (False, [hook["id"]], None)
    assert [r["id"] for r in ui.scalar("SELECT crashcache.ui_alert_rules(%s)", (project.id,))] == [created["id"]]
    assert {c["name"] for c in ui.scalar("SELECT crashcache.ui_alert_channels(%s)", (project.id,))} >= {"pager", "ui-hook-2"}

    test_id = ui.scalar("SELECT crashcache.ui_alert_send_test(%s, 'ann@example.com')", (hook["id"],))
    deliveries = ui.scalar("SELECT crashcache.ui_alert_deliveries(%s)", (hook["id"],))
    assert deliveries[0]["id"] == test_id and deliveries[0]["trigger"] == "test" and deliveries[0]["state"] == "pending"
    assert su.scalar("SELECT message->>'reason' FROM crashcache.alert_outbox WHERE id = %s", (test_id,)) \
        == "ann@example.com sent a test message to channel ui-hook-2."

    refusals = [
        ("SELECT crashcache.ui_alert_rule_create(%s, %s)", (project.id, json.dumps({"name": "x", "trigger": "sometimes"})),
         psycopg.errors.InvalidParameterValue, "unknown trigger 'sometimes'"),
        ("SELECT crashcache.ui_alert_rule_create(%s, %s)", (project.id, json.dumps({**body, "channel_ids": []})),
         psycopg.errors.InvalidParameterValue, "has a rule named 'payments down' already"),
        ("SELECT crashcache.ui_alert_rule_create(%s, %s)", (project.id, json.dumps({"name": "y", "trigger": "new_issue", "min_level": "loud"})),
         psycopg.errors.InvalidParameterValue, "wrong type"),
        ("SELECT crashcache.ui_alert_rule_create(%s, %s)", (project.id, json.dumps({"name": "z", "trigger": "new_issue", "channel_ids": [999999]})),
         psycopg.errors.InvalidParameterValue, "existing channels"),
        ("SELECT crashcache.ui_alert_channel_create(NULL, 'pager', 'ntfy', %s)", (json.dumps({"url": "https://n.example/x"}),),
         psycopg.errors.InvalidParameterValue, "exists already"),
        ("SELECT crashcache.ui_alert_channel_create(NULL, 'irc', 'irc', '{}')", (),
         psycopg.errors.InvalidParameterValue, "unknown channel kind 'irc'"),
        ("SELECT crashcache.ui_alert_rule_update(999999, '{}')", (), psycopg.errors.NoDataFound, "no alert rule"),
        ("SELECT crashcache.ui_alert_send_test(999999, 'x')", (), psycopg.errors.NoDataFound, "no alert channel"),
    ]
    for statement, params, error, refusal in refusals:
        with pytest.raises(error, match=refusal):
            ui.scalar(statement, params)

    assert ui.scalar("SELECT crashcache.ui_alert_rule_delete(%s)", (created["id"],)) is True
    assert ui.scalar("SELECT crashcache.ui_alert_channel_delete(%s)", (made["id"],)) is True
    assert ui.scalar("SELECT crashcache.ui_alert_channel_delete(%s)", (made["id"],)) is False


ALERTS_REFUSED = [
    ("SELECT * FROM crashcache.alert_outbox", "permission denied for table alert_outbox"),
    ("SELECT * FROM crashcache.alert_channel", "permission denied for table alert_channel"),
    ("UPDATE crashcache.alert_rule SET enabled = false", "permission denied for table alert_rule"),
    ("SELECT crashcache.ui_alert_channels()", "permission denied for function ui_alert_channels"),
    ("SELECT crashcache.ui_alert_send_test(1, 'x')", "permission denied for function ui_alert_send_test"),
    ("SELECT crashcache.api_issues('crashcache')", "permission denied for function api_issues"),
    ("SELECT crashcache._alerts_fire('{}')", "permission denied for table"),
    ("SELECT * FROM crashcache.issue", "permission denied for table issue"),
]


@pytest.mark.parametrize("statement,refusal", ALERTS_REFUSED, ids=[s for s, _ in ALERTS_REFUSED])
def test_the_alerts_role_is_refused_the_rest(delivery, statement, refusal):
    _, _, alerts, _ = delivery
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refusal):
        alerts.rows(statement)


def test_the_alerts_role_runs_the_check_and_the_ui_role_cannot_claim(delivery):
    _, _, alerts, ui = delivery
    assert alerts.scalar("SELECT crashcache.alerts_check()") >= 0
    for statement in ("SELECT * FROM crashcache.alerts_claim(1, 60)", "SELECT crashcache.alerts_check()"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            ui.rows(statement)


def test_one_check_at_a_time(delivery):
    c, su, _, _ = delivery
    with psycopg.connect(c.url(role="crashcache_alerts_proxy")) as holder:
        holder.execute("SELECT crashcache.alerts_check()")  # holds the lock until it commits
        with psycopg.connect(c.url(role="crashcache_alerts_proxy"), autocommit=True) as other:
            started = time.monotonic()
            assert other.execute("SELECT crashcache.alerts_check()").fetchone()[0] == 0
            assert time.monotonic() - started < 10  # it did not wait for the holder
        holder.rollback()


# --------------------------------------------------------------------------- the digest's cost
def test_digest_cost_with_and_without_rules(proxy, sql, wait_digested, capsys):
    """Not a timing assert: prints how long the workers take to digest a batch of events of a
    project without rules and of one with three (run with -s to read it), and checks that the
    three rules fired as they should."""
    http = new_session()
    figures = {}
    for rules in (0, 3, 0, 3):
        project = create_project(sql, f"alerts-cost{rules}")
        if rules:
            hook = channel(sql, f"cost-{project.id}")
            new_rule = rule(sql, project, "new_issue", [hook], environments=["production"])
            rule(sql, project, "regression", [hook])
            rule(sql, project, "unignored", [hook])
        bodies = []
        for n in range(400):
            eid = new_event_id()
            bodies.append(envelope({"event_id": eid}, ({"type": "event"}, {
                "message": f"cost {n % 40}", "level": "error", "environment": "production",
                "fingerprint": [f"cost-{n % 40}"], "release": "cost@1"})))
        # Queue them all first, then let the workers digest them in batches, as after a burst.
        started = time.monotonic()
        for body in bodies:
            assert post(http, proxy, project, body).status_code == 200
        sent = time.monotonic()
        wait_digested(project.id, timeout=120)
        done = time.monotonic()
        figures.setdefault(rules, []).append((sent - started, done - started))
        assert sql.scalar("SELECT count(*) FROM crashcache.event WHERE project_id = %s", (project.id,)) == 400
        if rules:
            assert len(outbox(sql, new_rule)) == 40
    with capsys.disabled():
        for rules, runs in figures.items():
            print(f"\ndigest of 400 events in 40 issues, {rules} rules: "
                  + ", ".join(f"posted in {p:.2f} s, digested after {d:.2f} s" for p, d in runs))


BATCH_TIMES = """
CREATE FUNCTION pg_temp.rows(project int, n int, fresh boolean) RETURNS crashcache._event_row[] LANGUAGE sql AS $$
    SELECT array_agg(ROW(project, 1, now(), gen_random_uuid(), now(), 'error', 'cost ' || g % 20, NULL, NULL,
                         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'u' || g % 7,
                         NULL, '{}', CASE WHEN fresh THEN gen_random_uuid()::text ELSE 'cost-' || g % 20 END,
                         'test')::crashcache._event_row)
    FROM generate_series(1, n) g
$$;
CREATE FUNCTION pg_temp.batch_ms(projects int[], fresh boolean, reps int) RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE
    total float8[] := array_fill(0::float8, ARRAY[cardinality(projects)]);
    r crashcache._event_row[];
    t0 timestamptz;
BEGIN
    FOR i IN 1 .. reps LOOP
        FOR p IN 1 .. cardinality(projects) LOOP
            r := pg_temp.rows(projects[p], 100, fresh);
            t0 := clock_timestamp();
            PERFORM crashcache._store_events(r);
            total[p] := total[p] + extract(epoch FROM clock_timestamp() - t0) * 1000;
        END LOOP;
    END LOOP;
    RETURN ARRAY(SELECT t / reps FROM unnest(total) t);
END
$$;
"""


def test_digest_sql_cost_with_and_without_rules(cluster, capsys):
    """Not a timing assert: the time _store_events takes for batches of 100 events, in turns for
    a project without rules and one with three, so that both see the same machine (run with -s
    to read it); rolled back. Steady: the batch's 20 issues exist. Fresh: every event a new
    issue, so the rules write 100 alerts a batch."""
    with psycopg.connect(cluster.url()) as conn:
        conn.execute(BATCH_TIMES)
        bare, ruled = (create_project(Sql(cluster.url()), f"alerts-sqlcost{n}") for n in (0, 3))
        hook = conn.execute("INSERT INTO crashcache.alert_channel (name, kind, config) VALUES (%s, 'webhook', %s)"
                            " RETURNING id", (f"sqlcost-{ruled.id}", json.dumps({"url": "https://x.example/h"}))).fetchone()[0]
        for trigger in ("new_issue", "regression", "unignored"):
            conn.execute("WITH r AS (INSERT INTO crashcache.alert_rule (project_id, name, trigger) VALUES (%s, %s, %s)"
                         " RETURNING id) INSERT INTO crashcache.alert_rule_channel SELECT r.id, %s FROM r",
                         (ruled.id, trigger, trigger, hook))
        conn.execute("SELECT pg_temp.batch_ms(%s, false, 3)", ([bare.id, ruled.id],))  # their issues exist now
        steady = conn.execute("SELECT pg_temp.batch_ms(%s, false, 100)", ([bare.id, ruled.id],)).fetchone()[0]
        fresh = conn.execute("SELECT pg_temp.batch_ms(%s, true, 30)", ([bare.id, ruled.id],)).fetchone()[0]
        alerts = conn.execute("SELECT count(*) FROM crashcache.alert_outbox WHERE project_id = %s", (ruled.id,)).fetchone()[0]
        conn.rollback()
    assert alerts == 20 + 30 * 100
    with capsys.disabled():
        print(f"\n_store_events, ms a batch of 100 events: steady {steady[0]:.1f} without rules, {steady[1]:.1f} with 3;"
              f" every event a new issue {fresh[0]:.1f} without rules, {fresh[1]:.1f} with 3 (100 alerts)")

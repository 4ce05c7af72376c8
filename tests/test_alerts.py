"""Alert delivery (ingest-proxy/src/alerts/): the real Python SDK sends through the real proxy, the
real workers detect and write the outbox, and the real proxy (ALERTS_DATABASE_URL) delivers to
real receivers on loopback: an HTTP server checking the webhook signature and recording each
chat service's body, and an SMTP sink. Rules and channels are rows an admin inserts in SQL.

On a cluster of its own, so that no other test's proxy claims these outbox rows and no rule of
another test is delivered here. Where retries need their backoff to pass, the test moves the
rows' due time back, as if the minutes had gone by."""
import itertools
import json

import pytest

from alert_receivers import HttpReceiver, SmtpSink, verify_signature, wait_for
from e2e import Cluster, Sql, alerts_env, create_project, start_proxy
from test_alerts_detect import message, rule, send

KINDS = ("webhook", "slack", "discord", "mattermost", "teams", "ntfy", "email")
NAMES = itertools.count(1)


@pytest.fixture(scope="module")
def env(workdir):
    cluster = Cluster("alerts").init()
    receiver, sink = HttpReceiver().start(), SmtpSink().start()
    su = Sql(cluster.url())
    # Loopback is allowed only as the receiver's own address and port: a name that resolves to
    # loopback, and every other private address, stays refused.
    settings = {**alerts_env(cluster, f"127.0.0.1:{receiver.port}"),
                "SMTP_URL": sink.url(), "SMTP_FROM": "Crashcache <alerts@tracker.example>"}
    proxy = start_proxy(cluster, workdir, **settings)
    try:
        yield cluster, su, proxy, receiver, sink, settings
    finally:
        proxy.stop()
        su.close()
        receiver.stop()
        sink.stop()
        cluster.destroy()


def add_channel(su, project, kind, config) -> int:
    return su.scalar("INSERT INTO crashcache.alert_channel (project_id, name, kind, config)"
                     " VALUES (%s, %s, %s, %s) RETURNING id",
                     (project.id, f"{kind}-{project.id}-{next(NAMES)}", kind, json.dumps(config)))


def outbox(su, channel_id) -> list[dict]:
    return su.rows("SELECT * FROM crashcache.alert_outbox WHERE channel_id = %s ORDER BY id", (channel_id,))


def wait_settled(su, channel_ids, timeout=30.0) -> list[dict]:
    """Waits until no outbox row of these channels is pending or being sent."""
    def settled():
        rows = su.rows("SELECT * FROM crashcache.alert_outbox WHERE channel_id = ANY(%s) ORDER BY id",
                       (list(channel_ids),))
        return rows if rows and all(r["state"] in ("delivered", "failed") for r in rows) else None
    return wait_for(f"the outbox rows of channels {channel_ids} delivered or failed", settled, timeout)


def test_a_new_issue_alerts_every_channel_once_in_its_format_then_a_regression(env):
    _, su, proxy, receiver, sink, _ = env
    project = create_project(su, "deliver")
    paths = {kind: f"/{kind}/{project.id}" for kind in KINDS if kind != "email"}
    channels = {kind: add_channel(su, project, kind, {"url": receiver.url(path)}) for kind, path in paths.items()
                if kind not in ("webhook", "ntfy")}
    channels["webhook"] = add_channel(su, project, "webhook", {"url": receiver.url(paths["webhook"])})
    channels["ntfy"] = add_channel(su, project, "ntfy", {"url": receiver.url(paths["ntfy"]), "token": "tk_pytest"})
    channels["email"] = add_channel(su, project, "email", {"to": ["ops@example.com", "dev@example.com"]})
    secret = su.scalar("SELECT config->>'secret' FROM crashcache.alert_channel WHERE id = %s", (channels["webhook"],))
    receiver.secrets[paths["webhook"]] = secret
    new_rule = rule(su, project, "new_issue", list(channels.values()))
    regression_rule = rule(su, project, "regression", [channels["webhook"]])

    send(proxy, project, [message("payment-declined")])
    su.wait_digested(project.id)
    issue = su.one("SELECT * FROM crashcache.issue WHERE project_id = %s", (project.id,))
    rows = wait_settled(su, channels.values())
    assert [r["state"] for r in rows] == ["delivered"] * len(KINDS), rows
    issue_url = rows[0]["message"]["url"]
    assert issue_url.endswith(f"/issues/{issue['id']}")

    # The signed webhook: our JSON, verified with the channel's secret.
    [hook] = receiver.at(paths["webhook"])
    assert hook.signed is True and hook.headers["content-type"] == "application/json"
    body = hook.json()
    assert body["trigger"] == "new_issue" and body["url"] == issue_url and body["project"] == project.name
    assert body["title"] == "New issue: alerting payment-declined"
    assert body["reason"].startswith("A new issue was seen") and body["issue"]["events"] == 1
    assert body["delivery_id"] == int(hook.headers["x-crashcache-delivery"])
    assert body["delivery_id"] in [r["id"] for r in rows]
    assert not verify_signature("another secret", hook.headers["x-crashcache-signature"], hook.body)

    # Each chat service gets its own format, linking the issue and saying why.
    [slack] = receiver.at(paths["slack"])
    slack = slack.json()
    assert slack["text"].startswith("New issue: alerting payment-declined (A new issue was seen")
    assert slack["blocks"][0]["text"] == {"type": "mrkdwn",
                                          "text": f"*<{issue_url}|New issue: alerting payment-declined>*"}
    assert any(b["type"] == "actions" and b["elements"][0]["url"] == issue_url for b in slack["blocks"])

    [discord] = receiver.at(paths["discord"])
    discord = discord.json()
    embed = discord["embeds"][0]
    assert embed["url"] == issue_url and embed["title"] == "New issue: alerting payment-declined"
    assert embed["description"].startswith("A new issue was seen") and discord["allowed_mentions"] == {"parse": []}
    assert {"name": "Project", "value": project.name, "inline": True} in embed["fields"]

    [mattermost] = receiver.at(paths["mattermost"])
    attachment = mattermost.json()["attachments"][0]
    assert attachment["title_link"] == issue_url and attachment["text"].startswith("A new issue was seen")

    [teams] = receiver.at(paths["teams"])
    teams = teams.json()
    card = teams["attachments"][0]
    assert teams["type"] == "message" and card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["version"] == "1.4"
    assert card["content"]["actions"] == [{"type": "Action.OpenUrl", "title": "Open issue", "url": issue_url}]
    assert card["content"]["body"][1]["text"].startswith("A new issue was seen")

    [ntfy] = receiver.at(paths["ntfy"])
    assert ntfy.headers["title"] == "New issue: alerting payment-declined"
    assert ntfy.headers["click"] == issue_url and ntfy.headers["priority"] == "4"
    assert ntfy.headers["authorization"] == "Bearer tk_pytest"
    assert ntfy.headers["tags"] == "rotating_light,new_issue"
    assert "A new issue was seen" in ntfy.body.decode() and issue_url in ntfy.body.decode()

    [(sender, recipients, mail)] = sink.messages
    assert sender == "alerts@tracker.example" and sorted(recipients) == ["dev@example.com", "ops@example.com"]
    assert mail["Subject"] == f"[crashcache] {project.name}: New issue: alerting payment-declined"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert f"Open the issue: {issue_url}" in text and "A new issue was seen" in text
    assert f'href="{issue_url}"' in html

    # Its next events alert nobody: nothing new in the outbox once they are digested, nothing
    # new at the receivers.
    send(proxy, project, [message("payment-declined"), message("payment-declined")])
    su.wait_digested(project.id)
    assert len(wait_settled(su, channels.values())) == len(KINDS)
    assert len(receiver.at(paths["webhook"])) == 1 and len(sink.messages) == 1

    # Resolved, then seen again: a regression, on the webhook only.
    su.scalar("SELECT crashcache.api_update_issue(current_setting('crashcache.organization_slug'), %s, %s, 'pytest')",
              (str(issue["id"]), json.dumps({"status": "resolved"})))
    send(proxy, project, [message("payment-declined")])
    su.wait_digested(project.id)
    regressed = wait_for("the regression at the webhook", lambda: receiver.at(paths["webhook"])[1:])
    assert len(regressed) == 1 and regressed[0].signed is True
    assert regressed[0].json()["trigger"] == "regression"
    assert regressed[0].json()["title"] == "Regression: alerting payment-declined"
    assert [r["state"] for r in wait_settled(su, channels.values())] == ["delivered"] * (len(KINDS) + 1)
    assert len(sink.messages) == 1 and len(receiver.at(paths["slack"])) == 1
    assert su.scalar("SELECT count(*) FROM crashcache.alert_outbox WHERE rule_id = %s", (regression_rule,)) == 1
    assert su.scalar("SELECT count(*) FROM crashcache.alert_outbox WHERE rule_id = %s", (new_rule,)) == len(KINDS)


def test_a_failing_receiver_gets_retries_then_a_recorded_failure(env):
    _, su, _, receiver, _, _ = env
    project = create_project(su, "failing")
    path = f"/fail/{project.id}"
    hook = add_channel(su, project, "slack", {"url": receiver.url(path)})
    outbox_id = su.scalar("SELECT crashcache.ui_alert_send_test(%s, 'pytest')", (hook,))
    attempts = 0
    for _ in range(10):
        row = wait_for(f"attempt {attempts + 1} recorded", lambda: su.one(
            "SELECT * FROM crashcache.alert_outbox WHERE id = %s AND attempts > %s AND state IN ('pending', 'failed')",
            (outbox_id, attempts)))
        attempts = row["attempts"]
        assert row["last_http_status"] == 500 and row["last_response"] == "receiver broke: try later"
        if row["state"] == "failed":
            break
        # The backoff's minutes pass.
        su.rows("UPDATE crashcache.alert_outbox SET due_at = now() WHERE id = %s AND state = 'pending'", (outbox_id,))
    assert row["state"] == "failed" and attempts == 6, row
    assert len(receiver.at(path)) == 6
    channel = su.one("SELECT * FROM crashcache.alert_channel WHERE id = %s", (hook,))
    assert channel["last_status"] == "failed" and channel["last_http_status"] == 500
    assert channel["last_error"] == "receiver broke: try later"


def test_two_server_processes_deliver_each_alert_exactly_once(env, workdir):
    cluster, su, _, receiver, _, settings = env
    second = start_proxy(cluster, workdir, **settings)
    try:
        project = create_project(su, "twice")
        # A slow receiver keeps both processes' deliveries in flight at once.
        path = f"/slow/{project.id}"
        hook = add_channel(su, project, "webhook", {"url": receiver.url(path)})
        made = {su.scalar("SELECT crashcache.ui_alert_send_test(%s, 'pytest')", (hook,)) for _ in range(80)}
        rows = wait_settled(su, [hook], timeout=60)
        assert {r["id"] for r in rows} == made and {r["state"] for r in rows} == {"delivered"}
        got = sorted(int(r.headers["x-crashcache-delivery"]) for r in receiver.at(path))
        assert got == sorted(made)
        assert {r["attempts"] for r in rows} == {1}
    finally:
        second.stop()
    assert "alert delivered" in second.log.read_text()


def test_a_webhook_to_a_private_address_is_refused_with_the_reason(env):
    _, su, _, receiver, _, _ = env
    project = create_project(su, "private")
    refused = {
        "http://10.20.30.40/hook": "refused: 10.20.30.40 is a private address",
        "http://169.254.169.254/latest/meta-data/": "refused: 169.254.169.254 is a cloud metadata address",
        "http://[::1]:9/hook": "refused: ::1 is a loopback address",
        # A name is checked on what it resolves to, when connecting.
        f"http://localhost:{receiver.port}/private/{project.id}":
            "refused: localhost resolves only to addresses that are not public (",
        # The allowed receiver's address on another port.
        f"http://127.0.0.1:{receiver.port % 65535 + 1}/hook":
            f"refused: 127.0.0.1 is allowed on port {receiver.port} only",
    }
    channels = {url: add_channel(su, project, "webhook", {"url": url}) for url in refused}
    for url, channel_id in channels.items():
        su.scalar("SELECT crashcache.ui_alert_send_test(%s, 'pytest')", (channel_id,))
    rows = wait_settled(su, channels.values())
    for url, channel_id in channels.items():
        [row] = [r for r in rows if r["channel_id"] == channel_id]
        # Refused at once: no retry can change it.
        assert row["state"] == "failed" and row["attempts"] == 1 and row["last_http_status"] is None, row
        assert row["last_response"].startswith(refused[url]), (url, row["last_response"])
        assert "localhost" not in url or "is loopback" in row["last_response"], row["last_response"]
    assert receiver.at(f"/private/{project.id}") == []


def test_send_a_test_arrives(env, workdir):
    cluster, su, _, receiver, _, _ = env
    project = create_project(su, "test-message")
    path = f"/webhook/test-{project.id}"
    hook = add_channel(su, project, "webhook", {"url": receiver.url(path)})
    receiver.secrets[path] = su.scalar("SELECT config->>'secret' FROM crashcache.alert_channel WHERE id = %s", (hook,))
    # As the web UI does it, with its own role.
    ui = Sql(cluster.url(role="crashcache_ui_proxy"))
    try:
        outbox_id = ui.scalar("SELECT crashcache.ui_alert_send_test(%s, 'alice')", (hook,))
    finally:
        ui.close()
    [got] = wait_for("the test message", lambda: receiver.at(path))
    body = got.json()
    assert got.signed is True and body["delivery_id"] == outbox_id
    assert body["trigger"] == "test" and body["test"] is True and body["issue"] is None
    assert body["reason"].startswith("alice sent a test message")
    [row] = wait_settled(su, [hook])
    assert row["state"] == "delivered" and row["last_http_status"] == 200 and row["last_response"] == "ok"
    channel = su.one("SELECT * FROM crashcache.alert_channel WHERE id = %s", (hook,))
    assert channel["last_status"] == "delivered" and channel["last_error"] is None

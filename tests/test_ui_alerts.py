"""The web UI's alert settings (web_ui/pages/alerts.rs) in a real browser (Debian's chromium through
Playwright) on a proxy that delivers alerts: an admin creates a webhook channel, sends a test
that a real receiver on loopback gets signed, sees the channel's last delivery and the delivery
with its answer, and creates, disables and deletes a rule. What a person would check: what the
page shows, what arrives, and the rows in SQL."""
import pytest

from alert_receivers import HttpReceiver, wait_for
from e2e import alerts_env, create_project
from ui import screenshot, sign_in


@pytest.fixture
def receiver():
    r = HttpReceiver().start()
    yield r
    r.stop()


def test_an_admin_sets_up_a_webhook_sends_a_test_and_manages_a_rule(cluster, sql, proxy_factory, chromium, admin,
                                                                     receiver):
    proxy = proxy_factory(**alerts_env(cluster, f"127.0.0.1:{receiver.port}"))
    project = create_project(sql, "ui-alerts")
    slug = sql.scalar("SELECT slug FROM crashcache.project WHERE id = %s", (project.id,))
    context = chromium.new_context(base_url=proxy.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        sign_in(page, admin, f"/alerts?project={slug}")
        assert page.url.endswith(f"/alerts?project={slug}")

        # A channel, from the form.
        page.click("text=New channel")
        page.select_option("#channel-kind", "webhook")
        page.fill("#channel-name", f"ops hook {project.id}")
        page.fill("#channel-url", receiver.url(f"/ui/{project.id}"))
        with page.expect_navigation():
            page.click("text=Create channel")
        channel = sql.one("SELECT * FROM crashcache.alert_channel WHERE name = %s", (f"ops hook {project.id}",))
        assert channel["project_id"] == project.id and channel["kind"] == "webhook"
        row = page.locator("table.channels tr", has_text=f"ops hook {project.id}")
        # The URL's path (often the secret) is not shown.
        assert f"http://127.0.0.1:{receiver.port}/…" in row.inner_text()
        assert "never used" in row.inner_text()
        receiver.secrets[f"/ui/{project.id}"] = channel["config"]["secret"]

        # Send a test: it arrives, signed, and the page shows it delivered.
        with page.expect_navigation():
            row.locator("text=Send a test").click()
        [got] = wait_for("the test message", lambda: receiver.at(f"/ui/{project.id}"))
        assert got.signed is True and got.json()["trigger"] == "test"
        assert got.json()["reason"].startswith("Ada Admin sent a test message")

        def shown_delivered():
            page.reload()
            text = page.locator("table.channels tr", has_text=f"ops hook {project.id}").inner_text()
            return "delivered" in text and "HTTP 200" in text
        wait_for("the channel's last delivery on the page", shown_delivered, timeout=20, every=0.5)
        delivery = page.locator("table.deliveries tbody tr").first.inner_text()
        assert "Test message from pg_crashcache" in delivery and "delivered" in delivery and "ok" in delivery

        # A rule, from the form: enabled, then disabled, then deleted.
        page.click("text=New rule")
        page.fill("#rule-name", "every new issue")
        page.select_option("#rule-trigger", "new_issue")
        page.fill("#rule-environments", "production")
        page.select_option("#rule-level", "error")
        page.fill("#rule-cooldown", "15")
        page.check(f"input[name=channel_ids][value='{channel['id']}']")
        with page.expect_navigation():
            page.click("text=Create rule")
        rule = sql.one("SELECT * FROM crashcache.alert_rule WHERE project_id = %s", (project.id,))
        assert (rule["name"], rule["trigger"], rule["environments"], rule["min_level"], rule["cooldown_minutes"],
                rule["enabled"]) == ("every new issue", "new_issue", ["production"], "error", 15, True)
        assert sql.scalar("SELECT array_agg(channel_id) FROM crashcache.alert_rule_channel WHERE rule_id = %s",
                          (rule["id"],)) == [channel["id"]]
        rule_row = page.locator("table.rules tr", has_text="every new issue")
        assert "enabled" in rule_row.inner_text() and f"ops hook {project.id}" in rule_row.inner_text()
        screenshot(page, "alerts")
        with page.expect_navigation():
            rule_row.locator("text=Disable").click()
        assert sql.scalar("SELECT enabled FROM crashcache.alert_rule WHERE id = %s", (rule["id"],)) is False
        assert "disabled" in page.locator("table.rules tr", has_text="every new issue").inner_text()
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_navigation():
            page.locator("table.rules tr", has_text="every new issue").locator("text=Delete").click()
        assert sql.scalar("SELECT count(*) FROM crashcache.alert_rule WHERE id = %s", (rule["id"],)) == 0
    finally:
        context.close()

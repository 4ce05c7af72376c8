"""The web UI's detail pages in a real browser (Debian's chromium through Playwright) against
the real proxy, on what the real Python SDK sent (tests/ui_pages_sender.py): the issue page
with its chained exception, stack trace, local variables and breadcrumbs, its actions and
comments; release health from the SDK's sessions; a transaction's spans as a waterfall; a
cron monitor's check-ins; a log search; the status page and the retry of failed payloads.
Bad input gets a clear 4xx page. Screenshots go to .run/screenshots/."""
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from e2e import as_uuid, clean_env, create_project, new_session
from ui import SESSION_COOKIE, screenshot, session_cookie

SENDER = Path(__file__).with_name("ui_pages_sender.py")


@pytest.fixture(scope="module")
def shop(proxy, sql):
    """A project with one run of tests/ui_pages_sender.py, digested: (project, run, report)."""
    project = create_project(sql, "shop")
    run = "r" + uuid.uuid4().hex[:8]
    p = subprocess.run([sys.executable, str(SENDER)], env=clean_env(SENTRY_DSN=project.dsn(proxy), UI_RUN=run),
                       capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"ui_pages_sender.py failed ({p.returncode}):\n{p.stdout}\n{p.stderr[-4000:]}"
    report = json.loads(p.stdout.strip().splitlines()[-1])
    sql.wait_digested(project.id)
    assert sql.queue_errors(project.id) == []
    slug = sql.scalar("SELECT slug FROM crashcache.project WHERE id = %s", (project.id,))
    return project, slug, run, report


def issue_id(sql, project, event_id: str) -> int:
    return sql.scalar("SELECT issue_id FROM crashcache.event WHERE project_id = %s AND event_id = %s",
                      (project.id, as_uuid(event_id)))


def signed_in_session(page):
    s = new_session()
    s.cookies.set(SESSION_COOKIE, session_cookie(page.context))
    return s


# --------------------------------------------------------------------------- the issue page
def test_issue_page_shows_the_chained_exception_frames_and_breadcrumbs(ui_page, shop, sql):
    project, slug, run, report = shop
    issue = issue_id(sql, project, report["event_ids"]["exception"])
    ui_page.goto(f"/issues/{issue}")
    assert ui_page.locator("h1").inner_text().endswith(f"RuntimeError: order 42 could not be loaded ({run})")
    exceptions = ui_page.locator(".exceptions")
    # The exception raised first, then its cause.
    titles = exceptions.locator(".exception-title").all_text_contents()
    assert titles == [f"RuntimeError: order 42 could not be loaded ({run})",
                      "ValueError: invalid literal for int() with base 10: 'three'"], titles
    assert exceptions.locator(".exception").nth(1).locator(".chain").text_content() == "Caused by"
    # The most recent in-app frame is open with its source line highlighted and its locals.
    first = exceptions.locator("details.frame.in-app[open]").first
    assert "load_order" in first.locator("summary").inner_text()
    assert "raise RuntimeError" in first.locator(".line.current").inner_text()
    cause = exceptions.locator("details.frame.in-app > summary", has_text="in parse_quantity at line")
    cause.click()
    frame = exceptions.locator("details.frame.in-app", has=ui_page.locator("summary", has_text="in parse_quantity at line"))
    variables = frame.locator("table.vars").inner_text()
    assert f"'quantity-{run}'" in variables and "'three'" in variables, variables
    crumbs = ui_page.locator(".breadcrumbs").inner_text()
    assert "GET /orders/42" in crumbs and f"SELECT * FROM orders -- {run}" in crumbs and "token refreshed" in crumbs
    assert "shop" in ui_page.locator(".tag-distribution").inner_text()
    ui_page.locator(".grouping summary").click()
    grouping = ui_page.locator(".grouping").inner_text()
    assert "Grouped by stacktrace" in grouping and "frame:__main__|parse_quantity" in grouping, grouping
    # The event's trace leads to its transaction's waterfall.
    ui_page.locator(".trace a", has_text="spans").click()
    ui_page.wait_for_url("**/performance/events/**")
    assert ui_page.locator(".span-row").count() == 4
    ui_page.go_back()
    screenshot(ui_page, "issue")


def test_resolve_ignore_and_reopen_from_the_page(ui_page, shop, sql, admin):
    project, _, _, report = shop
    issue = issue_id(sql, project, report["event_ids"]["exception"])
    status = lambda: sql.scalar("SELECT status::text FROM crashcache.issue WHERE id = %s", (issue,))  # noqa: E731
    ui_page.goto(f"/issues/{issue}")
    with ui_page.expect_navigation():
        ui_page.get_by_role("button", name="Resolve", exact=True).click()
    assert status() == "resolved"
    assert "resolved" in ui_page.locator(".facts").inner_text()
    with ui_page.expect_navigation():
        ui_page.get_by_role("button", name="Reopen").click()
    assert status() == "unresolved"
    ui_page.select_option("#ignore-for", label="1 hour")
    with ui_page.expect_navigation():
        ui_page.get_by_role("button", name="Ignore").click()
    row = sql.one("SELECT status::text, status_details FROM crashcache.issue WHERE id = %s", (issue,))
    assert row["status"] == "ignored" and row["status_details"]["ignoreDuration"] == 60, row
    assert "until" in ui_page.locator(".facts").inner_text()
    with ui_page.expect_navigation():
        ui_page.get_by_role("button", name="Reopen").click()
    assert status() == "unresolved"
    actors = sql.rows("SELECT type, actor FROM crashcache.issue_activity WHERE issue_id = %s ORDER BY id", (issue,))
    assert [a["type"] for a in actors][-4:] == ["set_resolved", "set_unresolved", "set_ignored", "set_unresolved"]
    assert {a["actor"] for a in actors} == {admin.name}


def test_a_comment_shows_in_the_activity(ui_page, shop, sql, admin):
    project, _, run, report = shop
    issue = issue_id(sql, project, report["event_ids"]["exception"])
    ui_page.goto(f"/issues/{issue}")
    ui_page.fill("#comment", f"looking into it <b>{run}</b>")
    with ui_page.expect_navigation():
        ui_page.get_by_role("button", name="Add comment").click()
    activity = ui_page.locator("#activity ol.activity")
    assert f"{admin.name} commented:\nlooking into it <b>{run}</b>" in activity.inner_text()
    assert sql.scalar("SELECT data->>'text' FROM crashcache.issue_activity WHERE issue_id = %s AND type = 'note'"
                      " ORDER BY id DESC LIMIT 1", (issue,)) == f"looking into it <b>{run}</b>"


def test_event_navigation_and_raw_json(ui_page, shop, sql):
    project, _, _, report = shop
    event = report["event_ids"]["exception"]
    issue = issue_id(sql, project, event)
    ui_page.goto(f"/issues/{issue}?event_id={event}")
    assert ui_page.url.endswith(f"/issues/{issue}/events/{event}")
    with ui_page.expect_download() as download:
        ui_page.get_by_role("link", name="Raw JSON").click()
    raw = json.loads(Path(download.value.path()).read_text())
    assert raw["event_id"] == event and raw["exception"]["values"][0]["type"] == "ValueError"


# --------------------------------------------------------------------------- the other pages
def test_release_health_shows_the_crash_free_rate(ui_page, shop):
    _, slug, run, report = shop
    ui_page.goto(f"/releases?project={slug}")
    row = ui_page.locator("table.releases tbody tr", has_text=report["release"])
    cells = row.locator("td").all_inner_texts()
    # One crashed and one exited session of one user: 50% of sessions, 0% of users crash-free.
    assert cells[1:6] == ["production", "2", "50%", "0%", "100%"], cells
    screenshot(ui_page, "release-health")


def test_performance_lists_the_transaction_and_its_waterfall(ui_page, shop):
    _, slug, run, _ = shop
    ui_page.goto(f"/performance?project={slug}")
    ui_page.get_by_role("link", name=f"checkout {run}").click()
    ui_page.locator("table.list tbody tr a").first.click()
    ui_page.wait_for_url("**/performance/events/**")
    rows = ui_page.locator(".span-row")
    labels = rows.all_inner_texts()
    assert len(labels) == 4, labels
    assert "http.server" in labels[0] and "load cart" in labels[1] and "SELECT * FROM cart" in labels[2] \
        and "charge card" in labels[3], labels
    assert [rows.nth(i).get_attribute("data-depth") for i in range(4)] == ["0", "1", "2", "1"]
    screenshot(ui_page, "performance-waterfall")


def test_crons_show_the_check_ins(ui_page, shop):
    _, slug, run, _ = shop
    ui_page.goto(f"/crons?project={slug}")
    cells = ui_page.locator("table.list tbody tr", has_text=f"nightly-{run}").locator("td").all_inner_texts()
    assert cells[2] == "ok" and cells[4:7] == ["1", "1", "0"], cells
    screenshot(ui_page, "crons")


def test_logs_search_finds_a_log(ui_page, shop):
    _, slug, run, _ = shop
    ui_page.goto(f"/logs?project={slug}")
    ui_page.fill("input[name=q]", f"payment {run}")
    ui_page.select_option("select[name=level]", "error")
    with ui_page.expect_navigation():
        ui_page.get_by_role("button", name="Search").click()
    messages = ui_page.locator("table.logs td.message").all_inner_texts()
    assert messages == [f"payment {run} declined"], messages
    screenshot(ui_page, "logs")
    ui_page.goto(f"/logs?project={slug}&level=info&q=payment+{run}")
    assert "No log record matches." in ui_page.locator("main").inner_text()


def test_status_shows_a_failed_payload_and_retry_empties_queue_error(ui_page, shop, sql):
    project, _, run, report = shop
    # A digest failure, simulated on a payload that digests fine: the retry must then clear it.
    archive = sql.scalar("SELECT archive_id FROM crashcache.event WHERE project_id = %s AND event_id = %s",
                         (project.id, as_uuid(report["event_ids"]["exception"])))
    sql.rows("INSERT INTO crashcache.queue_error (archive_id, project_id, reason) VALUES (%s, %s, %s) RETURNING 1",
             (archive, project.id, f"simulated failure {run}"))
    ui_page.goto("/status")
    assert f"simulated failure {run}" in ui_page.locator("table.list").inner_text()
    screenshot(ui_page, "status")
    with ui_page.expect_navigation():
        ui_page.get_by_role("button", name="Retry all failed payloads").click()
    sql.wait_digested(project.id)
    assert sql.scalar("SELECT count(*) FROM crashcache.queue_error") == 0
    assert "None: every payload received was digested." in ui_page.locator("main").inner_text()


# --------------------------------------------------------------------------- bad input
def test_bad_ids_get_clear_pages(ui_page, shop, sql, proxy):
    project, slug, _, report = shop
    issue = issue_id(sql, project, report["event_ids"]["exception"])
    # An event of another project, by URL, under this project's issue.
    other = create_project(sql, "other")
    other_event = uuid.uuid4().hex
    r = new_session().post(f"{proxy.url}/api/{other.id}/store/", headers=other.auth_header(),
                           json={"event_id": other_event, "message": "another project's event"}, timeout=10)
    assert r.status_code == 200, r.text
    sql.wait_digested(other.id)
    other_tx = sql.scalar("SELECT replace(event_id::text, '-', '') FROM crashcache.transaction WHERE project_id = %s",
                          (project.id,))
    for path, status in ((f"/issues/{issue}/events/{other_event}", 404),
                         (f"/issues/{issue}/events/{other_event}/json", 404),
                         ("/issues/999999999", 404),
                         ("/issues/not-an-issue", 404),
                         (f"/issues/{issue}/events/zzz", 400),
                         (f"/performance/events/{other_tx}?project={other.id}", 404),
                         ("/attachments/999999999", 404),
                         (f"/logs?project={slug}&trace_id=nothex", 400),
                         (f"/releases?project={slug}&period=5x", 400),
                         ("/crons?project=no-such-project", 404)):
        response = ui_page.goto(path)
        assert response.status == status, (path, response.status, ui_page.locator("main").inner_text())
        assert ui_page.locator("h1").inner_text().startswith(str(status)), path
    ui_page.goto("/issues/999999999")
    screenshot(ui_page, "issue-not-found")


def test_forged_forms_are_refused(ui_page, shop, sql, proxy):
    project, _, _, report = shop
    issue = issue_id(sql, project, report["event_ids"]["exception"])
    s = signed_in_session(ui_page)
    before = sql.scalar("SELECT count(*) FROM crashcache.issue_activity WHERE issue_id = %s", (issue,))
    for path, form in ((f"/issues/{issue}/status", {"action": "resolve", "csrf": "forged"}),
                       (f"/issues/{issue}/comments", {"comment": "forged", "csrf": "forged"}),
                       ("/status/retry", {"csrf": "forged"})):
        r = s.post(proxy.url + path, data=form, allow_redirects=False, timeout=10)
        assert r.status_code == 403, (path, r.status_code, r.text[:300])
    assert sql.scalar("SELECT count(*) FROM crashcache.issue_activity WHERE issue_id = %s", (issue,)) == before

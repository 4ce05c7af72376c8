"""The web UI in a real browser (Debian's chromium through Playwright) against the real proxy,
on issues the real Python SDK made: signing in and its limits, the issue list with its search
and bulk triage, the projects pages with their keys, and forms refused without the session's
CSRF token. What a person would check: what the pages show, and the rows in SQL."""
import re
import secrets
import subprocess
import uuid

import pytest
import requests

from e2e import PROXY_BIN, create_project, new_session, proxy_env
from test_python_sdk import run_sender
from ui import SESSION_COOKIE, User, create_user, screenshot, session_cookie, sign_in


@pytest.fixture(scope="module")
def sdk_project(proxy, sql):
    """A project with the events of one run of the real Python SDK, digested."""
    project = create_project(sql, "ui")
    run = "ui-" + uuid.uuid4().hex[:10]
    report, _ = run_sender(project.dsn(proxy), run)
    sql.wait_digested(project.id)
    return project, run, report


def issue_of(sql, project, case: str) -> dict:
    return sql.one("SELECT i.id, i.title, i.status::text FROM crashcache.issue i JOIN crashcache.event e"
                   " ON e.issue_id = i.id WHERE i.project_id = %s AND e.tags->>'harness_case' = %s",
                   (project.id, case))


def signed_in_session(page) -> requests.Session:
    """A requests session with the browser's session cookie (to post what a browser would not)."""
    s = new_session()
    s.cookies.set(SESSION_COOKIE, session_cookie(page.context))
    return s


# --------------------------------------------------------------------------- signing in
def test_sign_in_refuses_a_wrong_password(ui_context, admin, proxy):
    page = ui_context.new_page()
    page.goto("/signin")
    assert page.title() == "Sign in · crashcache"
    screenshot(page, "signin")
    page.fill("#email", admin.email)
    page.fill("#password", admin.password + "x")
    with page.expect_navigation() as nav:
        page.click("button[type=submit]")
    assert nav.value.status == 401
    assert page.get_by_role("alert").inner_text() == "Wrong email or password."
    assert session_cookie(ui_context) is None
    # The right one lets in, to where the page was going.
    page.goto("/projects")
    assert page.url.endswith("/signin?next=%2Fprojects")
    page.fill("#email", admin.email.upper())
    page.fill("#password", admin.password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == proxy.url + "/projects"
    assert page.locator(".account .user").inner_text().startswith("Ada Admin")


def test_repeated_wrong_passwords_are_rate_limited(cluster, ui_context, sql):
    user = create_user(cluster)
    page = ui_context.new_page()
    for _ in range(5):
        page.goto("/signin")
        page.fill("#email", user.email)
        page.fill("#password", "wrong password")
        with page.expect_navigation() as nav:
            page.click("button[type=submit]")
        assert nav.value.status == 401
    # Now even the right password waits, and an address nobody has reads the same.
    for email, password in ((user.email, user.password), (f"nobody-{secrets.token_hex(4)}@example.com", "x" * 10)):
        if "nobody" in email:
            for _ in range(5):
                page.goto("/signin")
                page.fill("#email", email)
                page.fill("#password", password)
                with page.expect_navigation():
                    page.click("button[type=submit]")
        page.goto("/signin")
        page.fill("#email", email)
        page.fill("#password", password)
        with page.expect_navigation() as nav:
            page.click("button[type=submit]")
        assert nav.value.status == 429, email
        message = page.get_by_role("alert").inner_text()
        assert re.fullmatch(r"Too many failed sign-ins for this address or from this network\. "
                            r"Try again in 1[45] minutes\.", message), message
        assert session_cookie(ui_context) is None
    assert sql.scalar("SELECT count(*) FROM crashcache.ui_sign_in_failure WHERE email = %s", (user.email,)) == 5
    assert sql.scalar("SELECT DISTINCT host(client) FROM crashcache.ui_sign_in_failure WHERE email = %s",
                      (user.email,)) == "127.0.0.1"
    # They count against 127.0.0.1 too, where every test signs in from: forget them.
    sql.rows("DELETE FROM crashcache.ui_sign_in_failure WHERE email IN (%s, %s)", (user.email, email))


def test_pages_without_a_session_go_to_sign_in(proxy, http):
    r = http.get(proxy.url + "/issues?project=web&query=level%3Aerror", allow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=%2Fissues%3Fproject%3Dweb%26query%3Dlevel%253Aerror"
    assert http.get(proxy.url + "/", allow_redirects=False).headers["location"] == "/issues"
    r = http.post(proxy.url + "/issues/bulk", data={"action": "ignore", "ids": "1"}, allow_redirects=False)
    assert r.status_code == 403
    # A forged cookie is no session either.
    r = http.get(proxy.url + "/projects", cookies={SESSION_COOKIE: "0" * 64}, allow_redirects=False)
    assert r.status_code == 303


def test_two_sign_in_tabs_both_work(ui_context, admin, proxy):
    first, second = ui_context.new_page(), ui_context.new_page()
    first.goto("/signin")
    second.goto("/signin")
    first.fill("#email", admin.email)
    first.fill("#password", admin.password)
    with first.expect_navigation() as nav:
        first.click("button[type=submit]")
    assert nav.value.status == 200 and first.url == proxy.url + "/issues"


def test_sign_in_never_sends_elsewhere(ui_context, admin, proxy):
    page = ui_context.new_page()
    sign_in(page, admin, next_path="//evil.example.com/")
    assert page.url == proxy.url + "/issues"


def test_cookies_and_security_headers(ui_page, proxy):
    cookie = next(c for c in ui_page.context.cookies() if c["name"] == SESSION_COOKIE)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # PUBLIC_URL is http here
    r = signed_in_session(ui_page).get(proxy.url + "/issues")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["cache-control"] == "no-store"
    css = re.search(r'href="(/static/ui-[0-9a-f]{12}\.css)"', r.text).group(1)
    asset = requests.get(proxy.url + css)
    assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/css")
    assert "immutable" in asset.headers["cache-control"]
    assert requests.get(proxy.url + "/static/ui-000000000000.css").status_code == 404


# --------------------------------------------------------------------------- issues
def test_the_sdks_issue_is_listed_searched_and_bulk_ignored(ui_page, sql, sdk_project):
    project, run, _ = sdk_project
    slug = project.name
    exception = issue_of(sql, project, "exception")
    message = issue_of(sql, project, "message")
    page = ui_page
    page.goto(f"/issues?project={slug}")
    rows = page.locator("table.issues tbody tr")
    titles = rows.locator("a.title").all_inner_texts()
    assert exception["title"] in titles and message["title"] in titles, titles
    assert rows.count() == 4
    # Each row has its sparkline, with the events of the last 24 hours.
    assert page.locator("table.issues svg.spark").count() == 4
    screenshot(page, "issues")

    # Search by tag, in the API's syntax.
    page.fill("#query", "harness_case:exception")
    with page.expect_navigation():
        page.press("#query", "Enter")
    assert page.locator("table.issues a.title").all_inner_texts() == [exception["title"]]

    # Tick it and ignore it.
    page.check(f"input[name=ids][value='{exception['id']}']")
    with page.expect_navigation():
        page.click("button[value=ignore]")
    assert sql.scalar("SELECT status::text FROM crashcache.issue WHERE id = %s", (exception["id"],)) == "ignored"
    assert sql.scalar("SELECT actor FROM crashcache.issue_activity WHERE issue_id = %s ORDER BY id DESC LIMIT 1",
                      (exception["id"],)) == "Ada Admin"
    # Back on the same search: unresolved has it no more; the ignored tab has it.
    assert "harness_case%3Aexception" in page.url
    assert page.locator("table.issues").count() == 0
    page.click("nav.tabs >> text=Ignored")
    assert page.locator("table.issues a.title").all_inner_texts() == [exception["title"]]

    # Select all on the page, reopen.
    page.check("input[data-select-all]")
    with page.expect_navigation():
        page.click("button[value=unresolve]")
    assert sql.scalar("SELECT status::text FROM crashcache.issue WHERE id = %s", (exception["id"],)) == "unresolved"


def test_the_list_reads_on_a_phone_and_in_the_dark(chromium, admin, proxy, sdk_project):
    project, _, _ = sdk_project
    context = chromium.new_context(base_url=proxy.url, viewport={"width": 390, "height": 844},
                                   color_scheme="dark", is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        sign_in(page, admin, next_path=f"/issues%3Fproject%3D{project.name}")
        # The sections fold into the menu button; the rows stack, each cell labelled.
        assert page.locator("nav.sections").is_visible() is False
        assert page.locator("table.issues thead").is_visible() is False
        assert page.locator("table.issues tbody tr").count() == 4
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width}px"
        screenshot(page, "issues-phone-dark")
        page.click("label.nav-button")
        assert page.locator("nav.sections").is_visible()
        assert page.locator("nav.sections a[aria-current=page]").inner_text() == "Issues"
    finally:
        context.close()


def test_the_list_across_projects_pages_by_cursor(ui_page, sql, sdk_project):
    page = ui_page
    page.goto("/issues?status=all&sort=new&spark=14d")
    assert page.locator("table.issues svg.spark").count() >= 4
    # Pages of 25 at most, each with a working next/previous when there are more.
    issues = sql.scalar("SELECT count(*) FROM crashcache.issue WHERE event_count > 0")
    shown = page.locator("table.issues tbody tr").count()
    assert shown == min(issues, 25)
    if issues > 25:
        first = page.locator("table.issues a.title").first.inner_text()
        page.click("a[rel=next]")
        assert page.locator("table.issues tbody tr").count() >= 1
        page.click("a[rel=prev]")
        assert page.locator("table.issues a.title").first.inner_text() == first


def test_bad_searches_and_other_projects_ids_are_refused(ui_page, sql, sdk_project, proxy):
    project, _, _ = sdk_project
    other = create_project(sql, "ui-other")
    s = signed_in_session(ui_page)
    r = s.get(proxy.url + "/issues?sort=sideways")
    assert r.status_code == 400 and "Unknown sort" in r.text
    r = s.get(proxy.url + "/issues?project=no-such-project")
    assert r.status_code == 404
    r = s.get(proxy.url + "/issues?cursor=abc")
    assert r.status_code == 400
    # An issue of this project posted as if it were the other one's.
    issue = issue_of(sql, project, "message")
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', s.get(proxy.url + "/issues").text).group(1)
    r = s.post(proxy.url + "/issues/bulk", data={"csrf": csrf, "action": "resolve", "ids": str(issue["id"]),
                                                  "project": other.name}, allow_redirects=False)
    assert r.status_code == 400 and "other projects" in r.text
    r = s.post(proxy.url + "/issues/bulk", data={"csrf": csrf, "action": "resolve", "ids": "999999999"},
               allow_redirects=False)
    assert r.status_code == 404
    assert sql.scalar("SELECT status::text FROM crashcache.issue WHERE id = %s", (issue["id"],)) == "unresolved"


def test_forged_form_posts_are_refused(ui_page, sql, sdk_project, proxy):
    project, _, _ = sdk_project
    issue = issue_of(sql, project, "user_event")
    s = signed_in_session(ui_page)
    for csrf in (None, "", "0" * 64, secrets.token_hex(32)):
        data = {"action": "resolve", "ids": str(issue["id"])}
        if csrf is not None:
            data["csrf"] = csrf
        r = s.post(proxy.url + "/issues/bulk", data=data, allow_redirects=False)
        assert r.status_code == 403, csrf
        assert "CSRF" in r.text
    keys = sql.scalar("SELECT count(*) FROM crashcache.project_key WHERE project_id = %s", (project.id,))
    r = s.post(proxy.url + f"/projects/{project.name}/keys", data={"csrf": "0" * 64}, allow_redirects=False)
    assert r.status_code == 403
    assert sql.scalar("SELECT count(*) FROM crashcache.project_key WHERE project_id = %s", (project.id,)) == keys
    assert sql.scalar("SELECT status::text FROM crashcache.issue WHERE id = %s", (issue["id"],)) == "unresolved"


# --------------------------------------------------------------------------- projects
def test_projects_show_the_dsn_and_rotate_keys(ui_page, sql, sdk_project, proxy):
    project, _, _ = sdk_project
    page = ui_page
    dsn = project.dsn(proxy)
    page.goto("/projects")
    row = page.locator("table.projects tr", has_text=project.name)
    assert row.locator("code.dsn").inner_text() == dsn
    assert row.locator("svg.spark").count() == 1

    page.click(f"a[href='/projects/{project.name}']")
    assert page.locator("table.keys code.dsn").all_inner_texts() == [dsn]
    # The setup snippets have the DSN filled in.
    for tab in ("Python", "JavaScript (browser)", "JavaScript (Node)", "Rust"):
        page.click(f"label:text-is('{tab}')")
        assert dsn in page.locator(".snippet:visible pre").inner_text(), tab
    page.click("label:text-is('Python')")
    screenshot(page, "project")

    # Rotate: a new key, then the old one revoked.
    with page.expect_navigation():
        page.click("button:text-is('New key')")
    keys = sql.rows("SELECT public_key, active FROM crashcache.project_key WHERE project_id = %s ORDER BY created_at",
                    (project.id,))
    assert [k["active"] for k in keys] == [True, True]
    assert page.locator("table.keys code.dsn").count() == 2
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.locator("table.keys tr", has_text=project.key).locator("button:text-is('Revoke')").click()
    assert sql.scalar("SELECT active FROM crashcache.project_key WHERE public_key = %s", (project.key,)) is False
    new_dsn = page.locator("table.keys code.dsn").all_inner_texts()
    assert len(new_dsn) == 1 and new_dsn[0] != dsn and new_dsn[0].endswith(f"/{project.id}")
    # The revoked key is refused by ingest from now on.
    r = requests.post(proxy.url + f"/api/{project.id}/store/", json={"message": "x"},
                      headers=project.auth_header())
    assert r.status_code == 403


def test_an_admin_creates_a_project_and_others_may_not(ui_page, sql, cluster, chromium, proxy):
    page = ui_page
    name = f"Made in the UI {secrets.token_hex(3)}"
    page.goto("/projects/new")
    page.fill("#name", name)
    with page.expect_navigation():
        page.click("button:text-is('Create project')")
    made = sql.one("SELECT id, slug FROM crashcache.project WHERE name = %s", (name,))
    assert page.url == proxy.url + f"/projects/{made['slug']}"
    assert page.locator("table.keys code.dsn").inner_text().endswith(f"/{made['id']}")

    user = create_user(cluster, name="Not An Admin")
    context = chromium.new_context(base_url=proxy.url)
    try:
        other = context.new_page()
        sign_in(other, user)
        assert other.locator("a:text-is('New project')").count() == 0
        response = other.goto("/projects/new")
        assert response.status == 403
        s = signed_in_session(other)
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', s.get(proxy.url + "/projects").text).group(1)
        r = s.post(proxy.url + "/projects/new", data={"csrf": csrf, "name": "not allowed"}, allow_redirects=False)
        assert r.status_code == 403
        r = s.post(proxy.url + f"/projects/{made['slug']}/keys", data={"csrf": csrf}, allow_redirects=False)
        assert r.status_code == 403
        assert sql.scalar("SELECT count(*) FROM crashcache.project WHERE name = 'not allowed'") == 0
        # Another session's CSRF token is refused in this one.
        r = signed_in_session(page).post(proxy.url + "/issues/bulk",
                                         data={"csrf": csrf, "action": "resolve", "ids": "1"},
                                         allow_redirects=False)
        assert r.status_code == 403
    finally:
        context.close()


def test_an_admin_adds_a_user_who_signs_in(ui_page, sql, chromium, proxy):
    page = ui_page
    page.click(".account a:text-is('Users')")
    assert page.url == proxy.url + "/users"
    assert "Ada Admin" in page.locator("table.users").inner_text()
    email = f"added-{secrets.token_hex(4)}@example.com"
    page.fill("#new-name", "Added In The UI")
    page.fill("#new-email", email)
    page.fill("#new-password", "short")
    # The browser's own check (minlength) stops a short password; the server's says why too.
    page.eval_on_selector("#new-password", "e => e.removeAttribute('minlength')")
    with page.expect_navigation() as nav:
        page.click("button:text-is('Add user')")
    assert nav.value.status == 400
    assert page.get_by_role("alert").inner_text() == "a password has 8 to 1024 characters"
    page.fill("#new-name", "Added In The UI")
    page.fill("#new-email", email)
    page.fill("#new-password", "long enough password")
    with page.expect_navigation():
        page.click("button:text-is('Add user')")
    assert email in page.locator("table.users").inner_text()
    assert sql.scalar("SELECT is_admin FROM crashcache.ui_user WHERE email = %s", (email,)) is False
    context = chromium.new_context(base_url=proxy.url)
    try:
        other = context.new_page()
        sign_in(other, User(email, "long enough password", "Added In The UI"))
        assert other.url == proxy.url + "/issues"
        assert other.locator(".account a:text-is('Users')").count() == 0
        assert other.goto("/users").status == 403
    finally:
        context.close()


# --------------------------------------------------------------------------- signing out
def test_sign_out_ends_the_session(ui_page, sql, proxy):
    page = ui_page
    token = session_cookie(page.context)
    page.goto("/projects")
    with page.expect_navigation():
        page.click("button:text-is('Sign out')")
    assert page.url == proxy.url + "/signin"
    assert session_cookie(page.context) is None
    # The old cookie signs nobody in any more.
    r = new_session().get(proxy.url + "/projects", cookies={SESSION_COOKIE: token}, allow_redirects=False)
    assert r.status_code == 303
    assert sql.scalar("SELECT count(*) FROM crashcache.ui_session WHERE token_sha256 = sha256(%s::bytea)",
                      (token.encode(),)) == 0


# --------------------------------------------------------------------------- the command line
def test_create_user_from_the_command_line(cluster, sql):
    def run(*args, password="a long enough password"):
        return subprocess.run([str(PROXY_BIN), "create-user", *args], env=proxy_env(cluster),
                              input=password + "\n", capture_output=True, text=True, timeout=60)

    email = f"Cli-{secrets.token_hex(4)}@Example.com"
    made = run("--email", email, "--name", "From The CLI")
    assert made.returncode == 0, made.stderr
    assert made.stderr.strip().splitlines()[-1] == f"created a user: {email.lower()}"
    user = sql.one("SELECT name, is_admin, password_hash FROM crashcache.ui_user WHERE email = %s", (email.lower(),))
    assert user["name"] == "From The CLI" and user["is_admin"] is False
    assert user["password_hash"].startswith("$argon2id$v=19$") and "a long enough" not in user["password_hash"]
    again = run("--email", email.lower(), "--name", "Twice")
    assert again.returncode == 1 and "There is a user with the email address" in again.stderr
    short = run("--email", "short@example.com", "--name", "S", password="short")
    assert short.returncode == 1 and "a password has 8 to 1024 characters" in short.stderr
    # scripts/run's first admin: nothing happens once the UI has a user.
    first = run("--email", "first@example.com", "--name", "First", "--admin", "--if-no-users")
    assert first.returncode == 0 and "has users already" in first.stderr
    assert sql.scalar("SELECT count(*) FROM crashcache.ui_user WHERE email = 'first@example.com'") == 0
    without_ui = subprocess.run([str(PROXY_BIN), "create-user", "--email", "x@example.com", "--name", "X"],
                                env={k: v for k, v in proxy_env(cluster).items() if k != "UI_DATABASE_URL"},
                                input="a long enough password\n", capture_output=True, text=True, timeout=60)
    assert without_ui.returncode == 1 and "UI_DATABASE_URL" in without_ui.stderr

"""The web UI's test helpers and fixtures (tests/test_ui*.py import them): Debian's chromium
driven by Playwright (never a browser download), users made with the real `ingest-proxy
create-user`, signing in through the real form, screenshots under .run/screenshots/.

Fixtures (conftest.py registers this module as a plugin, so every test module has them):
  chromium   a headless /usr/bin/chromium for the session
  admin      an admin user of the shared cluster (User: email, password, name)
  ui_page    a Playwright page signed in as `admin` on the shared proxy, base URL set
Helpers: create_user(), sign_in(), screenshot(), session_cookie().
"""
import dataclasses
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from e2e import PROXY_BIN, REPO, Proxy, proxy_env

CHROMIUM = Path(os.environ.get("CRASHCACHE_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = REPO / ".run" / "screenshots"
SESSION_COOKIE = "crashcache_session"


@dataclasses.dataclass
class User:
    email: str
    password: str
    name: str


def create_user(cluster, admin: bool = False, name: str = "Test User", email: str | None = None,
                password: str | None = None) -> User:
    """A user made by `ingest-proxy create-user` (as the UI's role), the password on stdin."""
    user = User(email or f"u-{secrets.token_hex(5)}@example.com", password or secrets.token_urlsafe(12), name)
    args = [str(PROXY_BIN), "create-user", "--email", user.email, "--name", user.name]
    if admin:
        args.append("--admin")
    p = subprocess.run(args, env=proxy_env(cluster), input=user.password + "\n", capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, f"create-user failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return user


def sign_in(page, user: User, next_path: str = "") -> None:
    """Signs in through the form and waits for the page it leads to."""
    page.goto("/signin" + (f"?next={next_path}" if next_path else ""))
    page.fill("#email", user.email)
    page.fill("#password", user.password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def screenshot(page, name: str) -> Path:
    """Saves the whole page as .run/screenshots/<name>.png (CI keeps them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def session_cookie(context) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == SESSION_COOKIE), None)


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: tests/run.sh installs Debian's chromium")
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    # As root (CI), chromium's sandbox cannot start; /dev/shm may be small in containers.
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=["--no-sandbox", "--disable-dev-shm-usage"])
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture(scope="session")
def admin(cluster) -> User:
    return create_user(cluster, admin=True, name="Ada Admin")


@pytest.fixture
def ui_context(chromium, proxy: Proxy):
    context = chromium.new_context(base_url=proxy.url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def ui_page(ui_context, admin):
    page = ui_context.new_page()
    sign_in(page, admin)
    yield page

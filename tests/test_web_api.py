"""Sentry's Web API (/api/0/) against the facts of ../shared/docs/sentry-web-api.md: the shapes
clients parse, search, pagination, status changes, notes, tokens and their scopes, and an
error with a JSON detail for every bad input. Issues come from the real Python SDK and from
envelopes through the proxy; test_web_api_clients.py drives the real clients."""
import re
import time
import uuid

import psycopg
import pytest

from e2e import Sql, as_uuid, assert_accepted, create_project, envelope, new_event_id, new_session
from test_envelopes import post
from test_python_sdk import run_sender

ORG = "crashcache"
QUEUES = ("alpha", "beta", "gamma")
ALL_SCOPES = ["org:read", "project:read", "event:read", "event:write", "comment:write"]
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def make_token(sql: Sql, proxy, scopes=ALL_SCOPES) -> str:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    return sql.scalar("SELECT crashcache.create_api_token(%s, %s)"
                      " FROM (SELECT set_config('crashcache.public_url', %s, false)) s",
                      (name, scopes, proxy.url))


class Api:
    def __init__(self, proxy, token: str):
        self.base = proxy.url + "/api/0"
        self.http = new_session()
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, expect: int = 200, **kw):
        headers = {**self.headers, **kw.pop("headers", {})}
        r = self.http.request(method, self.base + path, headers=headers, timeout=30, **kw)
        assert r.headers.get("Content-Type", "").startswith("application/json"), (path, r.headers, r.text[:300])
        assert r.status_code == expect, (method, path, r.status_code, r.text[:1000])
        if expect >= 400:
            assert isinstance(r.json()["detail"], str) and r.json()["detail"], r.text
        return r

    def get(self, path: str, expect: int = 200, **params):
        return self.call("GET", path, expect, params=params).json()


@pytest.fixture(scope="module")
def api(sql, proxy):
    return Api(proxy, make_token(sql, proxy))


@pytest.fixture(scope="module")
def sdk_project(proxy, sql):
    """A project with the real Python SDK's issues (an exception with a stack trace, a message,
    a user's event) and envelopes of our own: several issues, environments and levels."""
    project = create_project(sql, "webapi")
    report, _ = run_sender(project.dsn(proxy), "webapi-" + uuid.uuid4().hex[:8])
    ids = report["event_ids"]
    http = new_session()
    for i in range(6):
        eid = new_event_id()
        body = envelope({"event_id": eid}, ({"type": "event"}, {
            "message": f"queue {QUEUES[i % 3]} is stuck", "level": ["error", "warning"][i % 2],
            "environment": ["production", "staging"][i % 2], "release": "shop@2.0",
            "tags": {"region": ["eu", "us"][i % 2]}, "user": {"id": f"u{i}"}, "timestamp": time.time() - 60 * i}))
        assert_accepted(post(http, proxy, project, body), eid)
    sql.wait_digested(project.id, timeout=60)
    slug = sql.scalar("SELECT slug FROM crashcache.project WHERE id = %s", (project.id,))
    return project, slug, ids


def issue_of(sql, project_id: int, title_like: str) -> dict:
    return sql.one("SELECT i.id, i.short_id, p.slug FROM crashcache.issue i JOIN crashcache.project p ON p.id = i.project_id"
                   " WHERE i.project_id = %s AND i.title LIKE %s", (project_id, title_like))


def test_root_auth_and_organizations(api):
    root = api.get("/")
    assert root["version"] == "0" and set(ALL_SCOPES) <= set(root["auth"]["scopes"]) and root["user"]["id"]
    me = api.get("/auth/")
    assert isinstance(me["id"], str) and isinstance(me["email"], str)
    r = api.call("GET", "/organizations/")
    (org,) = r.json()
    assert org["slug"] == ORG and org["id"] == "1" and org["links"]["regionUrl"] == ""
    assert TIME.match(org["dateCreated"]) and org["features"] == [] and org["require2FA"] is False
    assert 'rel="next"; results="false"' in r.headers["Link"]
    assert api.get(f"/organizations/{ORG}/")["slug"] == ORG
    api.get("/organizations/other/", 404)


def test_projects(api, sdk_project):
    project, slug, _ = sdk_project
    listed = {p["slug"]: p for p in api.get(f"/organizations/{ORG}/projects/", query=slug)}
    assert listed[slug]["id"] == str(project.id) and listed[slug]["name"] == project.name
    assert api.get(f"/projects/{ORG}/{slug}/")["id"] == str(project.id)
    assert {p["slug"] for p in api.get("/projects/", query=slug)} == {slug}
    api.get(f"/projects/{ORG}/no-such-project/", 404)


def test_issue_lists_have_the_shapes_clients_parse(api, sdk_project, sql):
    project, slug, _ = sdk_project
    issues = api.get(f"/projects/{ORG}/{slug}/issues/")
    assert len(issues) == 4 + 3, [i["title"] for i in issues]  # the SDK's 4 and the 3 queues
    for issue in issues:
        assert issue["id"].isdigit() and re.match(rf"^{slug.upper()}-\d+$", issue["shortId"]), issue
        assert isinstance(issue["count"], str) and isinstance(issue["userCount"], int)
        assert issue["permalink"] == f"{api.base[:-6]}/organizations/{ORG}/issues/{issue['id']}/"
        assert TIME.match(issue["firstSeen"]) and TIME.match(issue["lastSeen"])
        assert issue["status"] == "unresolved" and issue["level"] and issue["title"]
        assert "culprit" in issue and issue["project"]["slug"] == slug
    # Newest activity first.
    assert [i["lastSeen"] for i in issues] == sorted((i["lastSeen"] for i in issues), reverse=True)
    by_org = api.get(f"/organizations/{ORG}/issues/", project=str(project.id), query="is:unresolved",
                     statsPeriod="30d", limit=10, sort="freq")
    assert {i["id"] for i in by_org} == {i["id"] for i in issues}
    counts = [int(i["count"]) for i in by_org]
    assert counts == sorted(counts, reverse=True)


def test_an_issue_by_id_and_short_id(api, sdk_project, sql):
    project, slug, _ = sdk_project
    issue = issue_of(sql, project.id, "queue beta is stuck")
    short = f"{slug.upper()}-{issue['short_id']}"
    by_id = api.get(f"/issues/{issue['id']}/")
    by_short = api.get(f"/organizations/{ORG}/issues/{short}/")
    assert by_id["id"] == by_short["id"] == str(issue["id"]) and by_id["shortId"] == short
    assert by_id["count"] == "2" and by_id["userCount"] == 2 and by_id["activity"] == []
    api.get("/issues/999999999999/", 404)
    api.get(f"/organizations/{ORG}/issues/{slug.upper()}-999999/", 404)
    api.get("/issues/not-an-issue/", 404)


def test_search(api, sdk_project, sql):
    project, slug, ids = sdk_project
    path = f"/projects/{ORG}/{slug}/issues/"
    titles = lambda **q: sorted(i["title"] for i in api.get(path, **q))
    assert titles(query="queue stuck level:warning") == ["queue beta is stuck"]
    assert titles(query="environment:staging") == ["queue alpha is stuck", "queue beta is stuck", "queue gamma is stuck"]
    assert titles(query="region:eu queue") == ["queue alpha is stuck", "queue beta is stuck", "queue gamma is stuck"]
    # An issue matches when one of its events does, as in Sentry.
    assert titles(query='!environment:staging "queue beta"') == ["queue beta is stuck"]
    assert titles(query="queue !environment:staging !environment:production") == []
    assert len(titles(query="")) == 7
    event_id = ids["message"]
    (found,) = api.get(path, query=event_id)
    assert found["id"] == str(sql.scalar("SELECT issue_id FROM crashcache.event WHERE project_id = %s AND event_id = %s",
                                         (project.id, as_uuid(event_id))))
    for bad in ({"query": "is:nonsense"}, {"query": 'title:"open'}, {"sort": "sideways"},
                {"cursor": "not-a-cursor"}, {"limit": "many"}):
        api.get(path, 400, **bad)
    api.get(f"/organizations/{ORG}/issues/", 400, statsPeriod="forever")


def test_pages_neither_skip_nor_repeat_while_ingest_goes_on(api, proxy, sql):
    project = create_project(sql, "webapi-pages")
    slug = sql.scalar("SELECT slug FROM crashcache.project WHERE id = %s", (project.id,))
    http = new_session()

    def send(message: str, at: float):
        eid = new_event_id()
        assert_accepted(post(http, proxy, project, envelope({"event_id": eid}, ({"type": "event"}, {
            "message": message, "timestamp": at}))), eid)

    words = ("one", "two", "three", "four", "five", "six", "seven")
    for n, word in enumerate(words):
        send(f"page test {word}", time.time() - 3600 + n)
    sql.wait_digested(project.id)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = api.call("GET", f"/projects/{ORG}/{slug}/issues/", params=params)
        seen += [i["title"] for i in r.json()]
        pages += 1
        # New issues arrive between pages: they belong on the first page, not on a later one.
        send(f"arrived while paging {words[pages]}", time.time())
        sql.wait_digested(project.id)
        link = r.headers["Link"]
        nxt = re.search(r'rel="next"; results="(true|false)"; cursor="([^"]+)"', link)
        if nxt.group(1) == "false":
            break
        cursor = nxt.group(2)
    assert pages == 3
    assert seen == [f"page test {word}" for word in reversed(words)]


def test_status_changes(api, sdk_project, sql):
    project, slug, _ = sdk_project
    issue = issue_of(sql, project.id, "queue gamma is stuck")
    path = f"/organizations/{ORG}/issues/{issue['id']}/"
    resolved = api.call("PUT", path, json={"status": "resolved"}).json()
    assert resolved["status"] == "resolved" and resolved["id"] == str(issue["id"]) and resolved["shortId"]
    assert sql.scalar("SELECT status FROM crashcache.issue WHERE id = %s", (issue["id"],)) == "resolved"
    assert api.get(f"/projects/{ORG}/{slug}/issues/", query="is:resolved")[0]["id"] == str(issue["id"])
    next_release = api.call("PUT", path, json={"status": "resolvedInNextRelease"}).json()
    assert next_release["status"] == "resolved" and next_release["statusDetails"] == {"inNextRelease": True}
    ignored = api.call("PUT", path, json={"status": "ignored", "statusDetails": {"ignoreDuration": 30}}).json()
    assert ignored["status"] == "ignored" and TIME.match(ignored["statusDetails"]["ignoreUntil"])
    assert ignored["substatus"] == "archived_until_condition_met"
    # Ignored until one more event: the next one makes it unresolved again.
    counted = api.call("PUT", path, json={"status": "ignored", "ignoreCount": 1}).json()
    assert counted["status"] == "ignored" and counted["statusDetails"] == {"ignoreCount": 1}
    eid = new_event_id()
    assert_accepted(post(new_session(), api_proxy(api), project, envelope({"event_id": eid}, ({"type": "event"}, {
        "message": "queue gamma is stuck", "level": "error", "environment": "production", "release": "shop@2.0",
        "tags": {"region": "eu"}, "user": {"id": "u2"}}))), eid)
    sql.wait_digested(project.id)
    assert api.get(path)["status"] == "unresolved"
    muted = api.call("PUT", path, json={"status": "muted"}).json()
    assert muted["status"] == "ignored" and muted["substatus"] == "archived_forever"
    assert api.call("PUT", path, json={"status": "unresolved"}).json()["status"] == "unresolved"
    activity = api.get(f"/issues/{issue['id']}/activities/")["activity"]
    assert [a["type"] for a in activity][:3] == ["set_unresolved", "set_ignored", "set_ignored"], activity
    assert activity[-1]["type"] == "first_seen"
    for bad in ({"status": "deleted"}, {"assignedTo": "user:1"}, {"status": "ignored", "ignoreDuration": -5}):
        api.call("PUT", path, 400, json=bad)
    api.call("PUT", path, 400, data="{not json", headers={"Content-Type": "application/json"})


def api_proxy(api):
    class P:
        url = api.base[:-len("/api/0")]
    return P


def test_bulk_status_change(api, sdk_project, sql):
    project, slug, _ = sdk_project
    a, b = issue_of(sql, project.id, "queue alpha is stuck"), issue_of(sql, project.id, "queue beta is stuck")
    r = api.call("PUT", f"/projects/{ORG}/{slug}/issues/", params=[("id", a["id"]), ("id", b["id"])],
                 json={"status": "resolved"}).json()
    assert r == {"status": "resolved", "statusDetails": {}}
    assert sql.scalar("SELECT array_agg(status::text ORDER BY id) FROM crashcache.issue WHERE id IN (%s, %s)",
                      (a["id"], b["id"])) == ["resolved", "resolved"]
    api.call("PUT", f"/projects/{ORG}/{slug}/issues/", params={"status": "resolved"}, json={"status": "unresolved"})
    assert sql.scalar("SELECT count(*) FROM crashcache.issue WHERE project_id = %s AND status = 'resolved'",
                      (project.id,)) == 0


def test_events_and_their_shapes(api, sdk_project, sql):
    project, slug, ids = sdk_project
    exception_issue = sql.scalar("SELECT issue_id FROM crashcache.event WHERE project_id = %s AND event_id = %s",
                                 (project.id, as_uuid(ids["exception"])))
    for path in (f"/issues/{exception_issue}/events/latest/", f"/organizations/{ORG}/issues/{exception_issue}/events/oldest/",
                 f"/organizations/{ORG}/issues/{exception_issue}/events/{ids['exception']}/",
                 f"/projects/{ORG}/{slug}/events/{ids['exception']}/"):
        event = api.get(path)
        assert event["eventID"] == ids["exception"] and event["groupID"] == str(exception_issue), path
        assert event["type"] == "error" and TIME.match(event["dateCreated"]) and "message" in event
        (exc,) = [e for e in event["entries"] if e["type"] == "exception"]
        frames = exc["data"]["values"][-1]["stacktrace"]["frames"]
        assert frames and all(isinstance(f["inApp"], bool) for f in frames)
        assert any(f["context"] for f in frames) and all("lineNo" in f and "absPath" in f for f in frames)
        assert {t["key"] for t in event["tags"]} >= {"level"}
    listed = api.get(f"/issues/{exception_issue}/events/")
    assert [e["eventID"] for e in listed] == [ids["exception"]]
    assert listed[0]["tags"] and "entries" not in listed[0]
    assert "entries" in api.get(f"/issues/{exception_issue}/events/", full="true")[0]
    project_events = api.get(f"/projects/{ORG}/{slug}/events/")
    assert set(ids[c] for c in ("exception", "message")) <= {e["eventID"] for e in project_events}
    api.get(f"/projects/{ORG}/{slug}/events/{uuid.uuid4().hex}/", 404)
    api.get(f"/projects/{ORG}/{slug}/events/not-an-id/", 400)


def test_tags(api, sdk_project, sql):
    project, slug, _ = sdk_project
    issue = issue_of(sql, project.id, "queue alpha is stuck")
    tags = {t["key"]: t for t in api.get(f"/issues/{issue['id']}/tags/")}
    assert tags["region"]["totalValues"] >= 2 and tags["region"]["topValues"][0]["value"] in ("eu", "us")
    env = api.get(f"/organizations/{ORG}/issues/{issue['id']}/tags/environment/")
    assert env["key"] == "environment" and {v["value"] for v in env["topValues"]} == {"production", "staging"}
    values = api.get(f"/issues/{issue['id']}/tags/level/values/")
    assert all(TIME.match(v["lastSeen"]) and v["count"] >= 1 for v in values)
    api.get(f"/issues/{issue['id']}/tags/no-such-tag/", 404)


def test_notes(api, sdk_project, sql):
    project, slug, _ = sdk_project
    issue = issue_of(sql, project.id, "queue alpha is stuck")
    note = api.call("POST", f"/organizations/{ORG}/issues/{issue['id']}/notes/", 201, json={"text": "looking into it"}).json()
    assert note["type"] == "note" and note["data"] == {"text": "looking into it"} and TIME.match(note["dateCreated"])
    api.call("POST", f"/issues/{issue['id']}/comments/", 400, json={"text": "looking into it"})  # the same, again
    api.call("POST", f"/issues/{issue['id']}/comments/", 201, json={"text": "found it"})
    api.call("POST", f"/issues/{issue['id']}/comments/", 400, json={"text": ""})
    listed = api.get(f"/issues/{issue['id']}/comments/")
    assert [n["data"]["text"] for n in listed] == ["found it", "looking into it"]
    assert api.get(f"/issues/{issue['id']}/")["numComments"] == 2
    assert sql.scalar("SELECT count(*) FROM crashcache.issue_activity WHERE issue_id = %s AND type = 'note'",
                      (issue["id"],)) == 2


def test_tokens_and_scopes(api, proxy, sql, sdk_project):
    project, slug, _ = sdk_project
    http = new_session()
    url = proxy.url + f"/api/0/projects/{ORG}/{slug}/issues/"
    for headers in ({}, {"Authorization": "Bearer sntrys_bogus_0000"}, {"Authorization": "Basic eHl6"}):
        r = http.get(url, headers=headers, timeout=10)
        assert r.status_code == 401 and r.headers["Content-Type"] == "application/json" and r.json()["detail"]
    read_only = Api(proxy, make_token(sql, proxy, ["org:read", "project:read"]))
    read_only.get(f"/organizations/{ORG}/projects/")
    read_only.get(f"/projects/{ORG}/{slug}/issues/", 403)
    writer = make_token(sql, proxy, ["event:read"])
    issue = issue_of(sql, project.id, "queue alpha is stuck")
    Api(proxy, writer).call("PUT", f"/issues/{issue['id']}/", 403, json={"status": "resolved"})
    # Revoked: refused from the next request on.
    name = sql.scalar("SELECT name FROM crashcache.api_token ORDER BY id DESC LIMIT 1")
    assert sql.scalar("SELECT crashcache.revoke_api_token(%s)", (name,)) is True
    Api(proxy, writer).get("/", 401)
    # The token carries the URL and organization, as Sentry's organization tokens do.
    import base64, json
    claims = json.loads(base64.b64decode(make_token(sql, proxy).split("_")[1]))
    assert claims["org"] == ORG and claims["url"] == proxy.url
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown scope"):
        sql.scalar("SELECT crashcache.create_api_token('bad', ARRAY['root'])")
    assert sql.scalar("SELECT count(*) FROM crashcache.api_token WHERE token_hash::text LIKE '%%sntrys%%'") == 0


def test_the_api_role_can_call_the_api_and_nothing_else(cluster, sql):
    api_role = Sql(cluster.url(role="crashcache_api_proxy"))
    try:
        assert api_role.scalar("SELECT crashcache.api_organizations()")["items"][0]["slug"] == ORG
        for statement in ("SELECT * FROM crashcache.issue", "SELECT * FROM crashcache.api_token",
                          "SELECT * FROM crashcache.ingest(1, 'k', 'x'::bytea)",
                          "SELECT crashcache.create_api_token('mine', ARRAY['org:read'])",
                          "SELECT * FROM crashcache.create_project('mine')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                api_role.rows(statement)
    finally:
        api_role.close()


def test_the_command_line_makes_lists_and_revokes_tokens(cluster, proxy):
    from e2e import run_cli
    name = f"cli-{uuid.uuid4().hex[:8]}"
    made = run_cli(cluster, "token", "create", "--name", name, "--scopes", "org:read,event:read",
                   PUBLIC_URL=proxy.url)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("sntrys_") and "shown only now" in made.stderr
    api = Api(proxy, token)
    assert api.get("/")["auth"]["scopes"] == ["org:read", "event:read"]
    listed = run_cli(cluster, "token", "list")
    assert f"{name}\tactive\t" in listed.stdout and token not in listed.stdout
    assert run_cli(cluster, "token", "revoke", name).returncode == 0
    api.get("/", 401)
    missing = run_cli(cluster, "token", "revoke", name + "-nope")
    assert missing.returncode != 0 and "there is no token" in missing.stderr

"""Envelopes the way @sentry/node 11 and browser SDKs send them, byte for byte: auth only in the
query string, no Content-Type, chunked bodies, JSON items without `length`, float timestamps,
captureMessage's synthetic exception, 32-hex session ids, streamed v2 spans; browser requests
with CORS; and browser tunnels, where the envelope's own `dsn` is the only auth."""
import json
import time
import uuid
from datetime import datetime, timezone

import pytest

from e2e import as_uuid, assert_accepted, envelope, new_event_id

NODE_CLIENT = "sentry.javascript.node%2F11.12.0"
NODE_SDK = {"name": "sentry.javascript.node", "version": "11.12.0",
            "packages": [{"name": "npm:@sentry/node", "version": "11.12.0"}]}


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def chunked(body: bytes, size: int = 97):
    """A generator body: requests sends it with Transfer-Encoding: chunked, as Node does."""
    for i in range(0, len(body), size):
        yield body[i:i + size]


def node_post(http, proxy, project, body: bytes, **kw):
    url = (f"{proxy.url}/api/{project.id}/envelope/?sentry_key={project.key}"
           f"&sentry_version=7&sentry_client={NODE_CLIENT}")
    r = http.post(url, data=chunked(body), timeout=10, **kw)
    sent = r.request.headers
    assert "Content-Type" not in sent and sent.get("Transfer-Encoding") == "chunked", sent
    return r


def message_event(run: str, message: str, function: str, t: float) -> dict:
    """What captureMessage sends with attachStacktrace: a synthetic exception without a type."""
    return {
        "event_id": new_event_id(), "timestamp": t, "platform": "node", "level": "info",
        "message": message,
        "exception": {"values": [{
            "value": message,
            "stacktrace": {"frames": [
                {"filename": "node:internal/main/run_main_module", "function": "run", "in_app": False},
                {"filename": "/app/src/index.js", "module": "index", "function": function,
                 "lineno": 12, "colno": 5, "in_app": True},
            ]},
            "mechanism": {"type": "generic", "handled": True, "synthetic": True},
        }]},
        "release": f"node-style@1.0.0+{run}", "environment": "production",
        "server_name": "node-host", "sdk": NODE_SDK,
        "tags": {"harness_run": run, "harness_sdk": "node"},
        "contexts": {"runtime": {"name": "node", "version": "v22.11.0"},
                     "os": {"name": "Linux", "version": "6.1.0"},
                     "trace": {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16]}},
    }


def test_node_envelopes_are_digested(proxy, sql, project, http, wait_digested):
    run = "node-" + uuid.uuid4().hex[:12]
    now = time.time()
    release = f"node-style@1.0.0+{run}"
    head = lambda eid=None: {**({"event_id": eid} if eid else {}), "sent_at": iso(time.time()),  # noqa: E731
                             "sdk": {"name": NODE_SDK["name"], "version": NODE_SDK["version"]}}

    # Two captureMessage calls with the same message from different code: one issue.
    # A different message from the same code: another issue.
    # Numbers in a message are parameters: "Order 1234 failed" and "Order 98 failed" are one issue.
    msg = f"node says hello {run}"
    events = [message_event(run, msg, "main", now - 3.25),
              message_event(run, msg, "otherPlace", now - 2.5),
              message_event(run, f"node says goodbye {run}", "main", now - 1.75),
              message_event(run, f"Order 1234 failed for user 77 {run}", "checkout", now - 1.5),
              message_event(run, f"Order 98 failed for user 5 {run}", "checkout", now - 1.25)]
    for ev in events:
        body = envelope(head(ev["event_id"]), ({"type": "event"}, ev), with_length=False)
        assert_accepted(node_post(http, proxy, project, body), ev["event_id"])

    # A session: 32-hex sid, ISO times, no seq; first the init update, then the end.
    sid = uuid.uuid4().hex
    session = {"sid": sid, "init": True, "started": iso(now - 5), "timestamp": iso(now - 5),
               "status": "ok", "errors": 0, "did": f"node-{run}", "duration": 0,
               "attrs": {"release": release, "environment": "production"}}
    end = {**session, "init": False, "timestamp": iso(now), "status": "exited", "errors": 1,
           "duration": 5.0}
    for s in (session, end):
        r = node_post(http, proxy, project, envelope(head(), ({"type": "session"}, s), with_length=False))
        assert_accepted(r, None)

    # A transaction with float timestamps.
    trace_id, root_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    tx = {"event_id": new_event_id(), "type": "transaction", "platform": "node",
          "transaction": f"GET /node/{run}", "transaction_info": {"source": "route"},
          "start_timestamp": now - 1.0, "timestamp": now - 0.5,
          "contexts": {"trace": {"trace_id": trace_id, "span_id": root_span, "op": "http.server",
                                 "status": "ok"}},
          "spans": [{"trace_id": trace_id, "span_id": uuid.uuid4().hex[:16],
                     "parent_span_id": root_span, "op": "db", "description": "SELECT 1",
                     "start_timestamp": now - 0.9, "timestamp": now - 0.8, "status": "ok"}],
          "release": release, "environment": "production", "sdk": NODE_SDK,
          "tags": {"harness_run": run}}
    r = node_post(http, proxy, project, envelope(head(tx["event_id"]), ({"type": "transaction"}, tx),
                                                 with_length=False))
    assert_accepted(r, tx["event_id"])

    # A streamed v2 span item (Node 11 streams spans by default).
    span_id = uuid.uuid4().hex[:16]
    span_item = {"version": 2, "items": [{
        "trace_id": trace_id, "span_id": span_id, "parent_span_id": root_span,
        "name": f"node-span {run}", "start_timestamp": now - 0.4, "end_timestamp": now - 0.1,
        "status": "ok", "is_segment": False,
        "attributes": {
            "sentry.op": {"type": "string", "value": "http.client"},
            "sentry.release": {"type": "string", "value": release},
            "sentry.environment": {"type": "string", "value": "production"},
            "http.response.status_code": {"type": "integer", "value": 200},
            "harness_run": {"type": "string", "value": run},
        }}]}
    r = node_post(http, proxy, project, envelope(
        {"sent_at": iso(time.time()), "trace": {"trace_id": trace_id, "release": release}},
        ({"type": "span", "item_count": 1,
          "content_type": "application/vnd.sentry.items.span.v2+json"}, span_item),
        with_length=False))
    assert_accepted(r, None)

    wait_digested(project.id)
    assert sql.queue_errors(project.id) == []

    rows = [sql.event(project.id, ev["event_id"]) for ev in events]
    assert all(rows), f"not every Node event was digested: {rows}"
    for row, ev in zip(rows, events, strict=True):
        assert row["title"] == ev["message"], row  # the message, not "Error" or "<unknown>"
        assert row["level"] == "info"
        assert row["release"] == release and row["environment"] == "production"
        assert row["platform"] == "node" and row["sdk"] == "sentry.javascript.node 11.12.0"
        assert row["tags"].get("harness_run") == run
        assert row["runtime"] == "node v22.11.0" and row["os"] == "Linux 6.1.0", row
        assert row["exception_type"] is None, "a synthetic exception has no type"
        # Float epoch timestamps, kept to the millisecond.
        assert abs(row["timestamp"].timestamp() - ev["timestamp"]) < 0.002, (row["timestamp"], ev["timestamp"])
    assert rows[0]["issue_id"] == rows[1]["issue_id"], "same message, other stack: must be one issue"
    assert rows[0]["issue_id"] != rows[2]["issue_id"], "other message: must be another issue"
    assert rows[3]["issue_id"] == rows[4]["issue_id"], "messages that differ in numbers only: one issue"
    assert len({r["issue_id"] for r in rows}) == 3
    issue = sql.one("SELECT * FROM crashcache.issue WHERE id = %s", (rows[0]["issue_id"],))
    assert issue["event_count"] == 2 and issue["title"] == msg, issue
    assert issue["grouping_method"] == "message", issue

    s = sql.one("SELECT * FROM crashcache.session WHERE project_id = %s AND sid = %s", (project.id, sid))
    assert s is not None, "the 32-hex session was not digested"
    assert s["status"] == "exited" and s["errors"] == 1 and s["did"] == f"node-{run}", s

    t = sql.one("SELECT * FROM crashcache.transactions WHERE project_id = %s AND event_id = %s",
                (project.id, as_uuid(tx["event_id"])))
    assert t is not None, "the Node transaction was not digested"
    assert t["transaction"] == f"GET /node/{run}" and t["op"] == "http.server", t
    assert abs(t["duration_ms"] - 500) < 1, t

    span = sql.one("SELECT * FROM crashcache.span WHERE project_id = %s AND span_id = %s",
                   (project.id, span_id))
    assert span is not None, "the streamed v2 span was not digested"
    assert span["trace_id"] == uuid.UUID(trace_id) and span["parent_span_id"] == root_span, span
    assert span["status"] == "ok" and span["op"] == "http.client", span
    assert f"node-span {run}" in (span["description"] or ""), span
    assert abs(span["duration_ms"] - 300) < 1, span


def test_browser_simple_request_gets_cors_headers(proxy, sql, project, http, wait_digested):
    eid = new_event_id()
    ev = {"event_id": eid, "timestamp": time.time(), "platform": "javascript", "level": "error",
          "exception": {"values": [{"type": "TypeError", "value": "x is undefined",
                                    "mechanism": {"type": "onerror", "handled": False}}]},
          "request": {"url": "http://localhost:5173/", "headers": {"User-Agent": "Mozilla/5.0"}},
          "sdk": {"name": "sentry.javascript.browser", "version": "11.12.0"}}
    body = envelope({"event_id": eid, "sent_at": iso(time.time())}, ({"type": "event"}, ev),
                    with_length=False)
    origin = "http://localhost:5173"
    r = http.post(f"{proxy.url}/api/{project.id}/envelope/?sentry_key={project.key}&sentry_version=7"
                  "&sentry_client=sentry.javascript.browser%2F11.12.0", data=body,
                  headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": origin}, timeout=10)
    assert_accepted(r, eid)
    assert r.headers.get("Access-Control-Allow-Origin") in ("*", origin), r.headers
    exposed = {h.strip().lower() for h in r.headers.get("Access-Control-Expose-Headers", "").split(",")}
    assert {"x-sentry-rate-limits", "retry-after"} <= exposed, r.headers
    wait_digested(project.id)
    assert sql.event(project.id, eid)["exception_type"] == "TypeError"


@pytest.mark.parametrize("path", ["/api/{id}/envelope/", "/api/{id}/store/", "/api/store/"])
def test_cors_preflight(proxy, project, http, path):
    origin = "https://app.example.com"
    r = http.options(proxy.url + path.format(id=project.id), timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-sentry-auth"})
    assert 200 <= r.status_code < 300, (r.status_code, r.headers, r.text)
    assert r.headers.get("Access-Control-Allow-Origin") in ("*", origin), r.headers
    methods = r.headers.get("Access-Control-Allow-Methods", "")
    assert methods == "*" or "POST" in [m.strip().upper() for m in methods.split(",")], r.headers
    allowed = {h.strip().lower() for h in r.headers.get("Access-Control-Allow-Headers", "").split(",")}
    assert "*" in allowed or {"content-type", "x-sentry-auth", "sentry-trace", "baggage"} <= allowed, r.headers


def test_tunnel_envelope_dsn_is_the_only_auth(proxy, sql, project, http, wait_digested):
    eid = new_event_id()
    ev = {"event_id": eid, "message": "sent through a tunnel", "level": "error", "platform": "javascript"}
    body = envelope({"event_id": eid, "dsn": project.dsn(proxy), "sent_at": iso(time.time())},
                    ({"type": "event"}, ev), with_length=False)
    r = http.post(f"{proxy.url}/api/{project.id}/envelope/", data=body,
                  headers={"Content-Type": "application/x-sentry-envelope"}, timeout=10)
    assert_accepted(r, eid)
    wait_digested(project.id)
    assert sql.event(project.id, eid)["title"] == "sent through a tunnel"


def test_auth_forms_and_paths(proxy, sql, project, http, wait_digested):
    """Every documented way to pass the key, on every path, with and without the trailing slash."""
    ids = []

    def send(path, headers=None, query="", kind="store"):
        eid = new_event_id()
        ids.append(eid)
        if kind == "store":
            body = json.dumps({"event_id": eid, "message": f"auth form {len(ids)}"}).encode()
        else:
            body = envelope({"event_id": eid}, ({"type": "event"}, {"event_id": eid,
                                                                   "message": f"auth form {len(ids)}"}))
        r = http.post(proxy.url + path + query, data=body, headers=headers or {}, timeout=10)
        assert_accepted(r, eid)

    pid, key = project.id, project.key
    for slash in ("/", ""):
        send(f"/api/{pid}/envelope{slash}", project.auth_header(), kind="envelope")
        send(f"/api/{pid}/store{slash}", project.auth_header())
        send(f"/api/store{slash}", project.auth_header())
        send(f"/api/{pid}/envelope{slash}", query=f"?sentry_key={key}&sentry_version=7", kind="envelope")
    send(f"/api/{pid}/store/", {"Authorization": f"Sentry sentry_key={key}, sentry_version=7"})
    send(f"/api/{pid}/store/", {"X-Sentry-Auth": f"sentry sentry_key={key},sentry_version=7"})
    send(f"/api/{pid}/store/", {"X-Sentry-Auth": f"Sentry sentry_version=5,sentry_client=raven-ruby/3.1,"
                                                  f"sentry_timestamp={int(time.time())},sentry_key={key},"
                                                  "sentry_secret=s3cr3t"})
    wait_digested(project.id)
    missing = [e for e in ids if sql.event(project.id, e) is None]
    assert missing == [], f"{len(missing)} of {len(ids)} events missing"

"""Envelopes the way @sentry/node 11 and browser SDKs send them, byte for byte in the ways
that matter: query-string auth, no Content-Type, chunked bodies, JSON items without `length`,
float timestamps, a synthetic exception from captureMessage, 32-hex session ids, span v2
items, CORS, and the envelope header's dsn as the only credential (tunnels)."""
import time
import uuid

from e2e import assert_accepted, envelope, new_event_id

NODE_CLIENT = "sentry.javascript.node/11.12.0"


def chunked(data: bytes, size: int = 700):
    """A generator body: requests sends it with Transfer-Encoding: chunked."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


def node_url(proxy, project) -> str:
    return (f"{proxy.url}/api/{project.id}/envelope/?sentry_key={project.key}"
            f"&sentry_version=7&sentry_client={NODE_CLIENT.replace('/', '%2F')}")


def node_message_event(event_id: str, message: str) -> dict:
    now = time.time()
    return {
        "event_id": event_id, "timestamp": now, "platform": "node", "level": "info",
        "message": message, "release": "node-app@2.0.0", "environment": "staging",
        "sdk": {"name": "sentry.javascript.node", "version": "11.12.0"},
        "contexts": {"runtime": {"name": "node", "version": "v20.20.2"},
                     "os": {"name": "Linux", "version": "6.1.0"}},
        "tags": {"route": "/checkout"},
        # captureMessage with attachStacktrace: a synthetic exception without a type.
        "exception": {"values": [{"value": message, "mechanism": {"type": "generic", "synthetic": True},
                                  "stacktrace": {"frames": [{"filename": "/app/index.js", "function": "main",
                                                             "lineno": 3, "in_app": True}]}}]},
    }


def test_node_envelopes(proxy, project, sql, http):
    event_id = new_event_id()
    sid = uuid.uuid4().hex
    now = time.time()
    env = envelope(
        {"event_id": event_id, "sent_at": "2026-11-22T10:00:00.000Z",
         "sdk": {"name": "sentry.javascript.node", "version": "11.12.0"}},
        ({"type": "event"}, node_message_event(event_id, "Order 1234 failed for user 77")),
        ({"type": "session"}, {"sid": sid, "init": True, "started": now - 5, "timestamp": now,
                               "status": "ok", "errors": 0, "did": "user-77",
                               "attrs": {"release": "node-app@2.0.0", "environment": "staging"}}),
        with_length=False,
    )
    resp = http.post(node_url(proxy, project), data=chunked(env))
    assert "chunked" in resp.request.headers.get("Transfer-Encoding", "")
    assert "Content-Type" not in resp.request.headers
    assert_accepted(resp, event_id)

    # A second message with other numbers: the same issue (grouped by the parameterised
    # message, not by the synthetic exception).
    second = new_event_id()
    resp = http.post(node_url(proxy, project), data=chunked(envelope(
        {"event_id": second}, ({"type": "event"}, node_message_event(second, "Order 98 failed for user 5")),
        with_length=False)))
    assert_accepted(resp, second)

    tx_id = new_event_id()
    trace_id = uuid.uuid4().hex
    tx = {"type": "transaction", "event_id": tx_id, "transaction": "GET /checkout",
          "start_timestamp": now - 0.25, "timestamp": now, "platform": "node",
          "release": "node-app@2.0.0", "environment": "staging",
          "contexts": {"trace": {"trace_id": trace_id, "span_id": "a1b2c3d4e5f60718",
                                 "op": "http.server", "status": "ok"}},
          "spans": []}
    span_v2 = {"version": 2, "items": [{
        "trace_id": trace_id, "span_id": "0123456789abcdef", "parent_span_id": "a1b2c3d4e5f60718",
        "name": "SELECT orders", "start_timestamp": now - 0.2, "end_timestamp": now - 0.1,
        "status": "ok", "is_segment": False,
        "attributes": {"sentry.op": {"value": "db.query", "type": "string"}}}]}
    resp = http.post(node_url(proxy, project), data=chunked(envelope(
        {"event_id": tx_id},
        ({"type": "transaction"}, tx),
        ({"type": "span", "item_count": 1, "content_type": "application/vnd.sentry.items.span.v2+json"}, span_v2),
        with_length=False)))
    assert_accepted(resp, tx_id)

    sql.wait_digested(project.id)
    assert sql.queue_errors(project.id) == []
    first = sql.event(project.id, event_id)
    assert first["release"] == "node-app@2.0.0"
    assert first["runtime"] == "node v20.20.2"
    assert first["exception_type"] is None, "a synthetic exception has no type"
    assert first["issue_id"] == sql.event(project.id, second)["issue_id"]
    assert sql.scalar("SELECT grouping_method FROM crashcache.issue WHERE id = %s",
                      (first["issue_id"],)) == "message"
    session = sql.one("SELECT sid, status, did FROM crashcache.session WHERE project_id = %s", (project.id,))
    assert session == {"sid": sid, "status": "ok", "did": "user-77"}
    assert sql.one("SELECT transaction, op FROM crashcache.transactions WHERE project_id = %s",
                   (project.id,)) == {"transaction": "GET /checkout", "op": "http.server"}
    span = sql.one("SELECT op, description, trace_id FROM crashcache.span WHERE project_id = %s", (project.id,))
    assert span == {"op": "db.query", "description": "SELECT orders", "trace_id": uuid.UUID(trace_id)}


def test_browser_cors_and_preflight(proxy, project, sql, http):
    event_id = new_event_id()
    body = envelope({"event_id": event_id}, ({"type": "event"}, {"message": "browser says hi",
                                                                 "platform": "javascript"}))
    resp = http.post(node_url(proxy, project), data=body,
                     headers={"Content-Type": "text/plain;charset=UTF-8",
                              "Origin": "https://shop.example.com"})
    assert_accepted(resp, event_id)
    assert resp.headers["Access-Control-Allow-Origin"] in ("*", "https://shop.example.com")
    exposed = resp.headers["Access-Control-Expose-Headers"].lower()
    assert "x-sentry-rate-limits" in exposed and "retry-after" in exposed

    pre = http.options(f"{proxy.url}/api/{project.id}/envelope/",
                       headers={"Origin": "https://shop.example.com",
                                "Access-Control-Request-Method": "POST",
                                "Access-Control-Request-Headers": "content-type,x-sentry-auth"})
    assert 200 <= pre.status_code < 300, pre.text
    assert pre.headers["Access-Control-Allow-Origin"] in ("*", "https://shop.example.com")
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    allowed = pre.headers["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed and "x-sentry-auth" in allowed
    sql.wait_digested(project.id)
    assert sql.event(project.id, event_id)["title"] == "browser says hi"


def test_tunnel_with_the_key_only_in_the_envelope_dsn(proxy, project, sql, http):
    event_id = new_event_id()
    body = envelope({"event_id": event_id, "dsn": project.dsn(proxy)},
                    ({"type": "event"}, {"message": "through a tunnel"}))
    resp = http.post(f"{proxy.url}/api/{project.id}/envelope/", data=body,
                     headers={"Content-Type": "application/x-sentry-envelope"})
    assert_accepted(resp, event_id)
    sql.wait_digested(project.id)
    assert sql.event(project.id, event_id) is not None

"""Envelope shapes other than one event: what the Rust SDK and server-mode SDKs send, envelopes
with no event at all (the old system answered them 400, so SDKs counted drops), unknown item
types, and the per-envelope session limit."""
import time
import uuid

from e2e import as_uuid, assert_accepted, assert_sentry_error, envelope, new_event_id


def post(http, proxy, project, body, **headers):
    return http.post(f"{proxy.url}/api/{project.id}/envelope/", data=body, timeout=10,
                     headers={"Content-Type": "application/x-sentry-envelope", **project.auth_header(),
                              **headers})


def test_envelopes_without_an_event_answer_empty(proxy, sql, project, http, wait_digested):
    now = time.time()
    report = {"timestamp": now, "discarded_events": [
        {"reason": "ratelimit_backoff", "category": "error", "quantity": 3}]}
    assert_accepted(post(http, proxy, project, envelope({}, ({"type": "client_report"}, report))), None)

    check_in_id = uuid.uuid4().hex
    slug = f"nightly-{uuid.uuid4().hex[:6]}"
    for status in ("in_progress", "error"):
        body = envelope({}, ({"type": "check_in"}, {"check_in_id": check_in_id, "monitor_slug": slug,
                                                    "status": status, "duration": 1.5,
                                                    "environment": "prod"}))
        assert_accepted(post(http, proxy, project, body), None)
        time.sleep(0.05)

    aggregates = {"aggregates": [{"started": "2026-11-22T10:00:00Z", "did": "u-1", "exited": 5,
                                  "errored": 2, "abnormal": 0, "crashed": 1}],
                  "attrs": {"release": "server@1.0", "environment": "prod"}}
    assert_accepted(post(http, proxy, project, envelope({}, ({"type": "sessions"}, aggregates))), None)

    # Item types this server does not know are skipped, never a reason to refuse.
    body = envelope({}, ({"type": "profile_chunk"}, {"chunk": "x"}), ({"type": "replay_video"}, b"\x00\x01"))
    assert_accepted(post(http, proxy, project, body), None)

    wait_digested(project.id)
    assert sql.queue_errors(project.id) == []
    out = sql.rows("SELECT outcome, reason, category, quantity FROM crashcache.client_outcome"
                   " WHERE project_id = %s", (project.id,))
    assert out == [{"outcome": "discarded_events", "reason": "ratelimit_backoff", "category": "error",
                    "quantity": 3}], out
    mon = sql.one("SELECT slug, last_status, last_duration FROM crashcache.monitors WHERE project_id = %s",
                  (project.id,))
    assert mon == {"slug": slug, "last_status": "error", "last_duration": 1.5}, mon
    health = sql.one("SELECT * FROM crashcache.release_health WHERE project_id = %s", (project.id,))
    assert health["release"] == "server@1.0" and health["sessions"] == 8 and health["crashed"] == 1, health


def test_rust_style_mixed_envelopes(proxy, sql, project, http, wait_digested):
    """Rust: a hyphenated envelope event_id, no `timestamp` in the session, nanosecond strings,
    [event, session, attachment] in one envelope; an unknown item next to the event."""
    eid = uuid.uuid4()
    sid = str(uuid.uuid4())
    event = {"event_id": eid.hex, "timestamp": time.time(), "platform": "native", "level": "fatal",
             "exception": {"values": [{"type": "panic", "value": "index out of bounds: the len is 3 but the index is 7",
                                       "mechanism": {"type": "panic", "handled": False}}]},
             "release": "rusty@0.3.1", "environment": "prod",
             "sdk": {"name": "sentry.rust", "version": "0.49.5"}}
    session = {"sid": sid, "did": "rust-user", "init": True, "status": "crashed", "errors": 1,
               "started": "2026-11-22T10:00:00.123456789Z",
               "attrs": {"release": "rusty@0.3.1", "environment": "prod"}}
    body = envelope({"event_id": str(eid), "sdk": {"name": "sentry.rust", "version": "0.49.5"}},
                    ({"type": "event"}, event), ({"type": "session"}, session),
                    ({"type": "attachment", "filename": "core.txt", "content_type": "text/plain"}, b"panic dump\n"),
                    ({"type": "something_new"}, {"x": 1}))
    assert_accepted(post(http, proxy, project, body), eid.hex)

    tx_id = new_event_id()
    tx = {"event_id": tx_id, "type": "transaction", "transaction": "rust-job",
          "start_timestamp": "2026-11-22T10:00:00.000000000Z", "timestamp": "2026-11-22T10:00:01.250000000Z",
          "contexts": {"trace": {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16], "op": "task"}}}
    report = {"timestamp": time.time(), "discarded_events": [
        {"reason": "sample_rate", "category": "transaction", "quantity": 1}]}
    body = envelope({"event_id": tx_id}, ({"type": "transaction"}, tx), ({"type": "client_report"}, report))
    assert_accepted(post(http, proxy, project, body), tx_id)

    wait_digested(project.id)
    assert sql.queue_errors(project.id) == []
    ev = sql.event(project.id, eid.hex)
    assert ev is not None and ev["level"] == "fatal" and ev["exception_type"] == "panic", ev
    s = sql.one("SELECT status, errors, did FROM crashcache.session WHERE project_id = %s", (project.id,))
    assert s == {"status": "crashed", "errors": 1, "did": "rust-user"}, s
    att = sql.one("SELECT filename, size, event_id FROM crashcache.attachment WHERE project_id = %s", (project.id,))
    assert att == {"filename": "core.txt", "size": 11, "event_id": eid}, att
    t = sql.one("SELECT transaction, duration_ms FROM crashcache.transactions WHERE project_id = %s AND event_id = %s",
                (project.id, as_uuid(tx_id)))
    assert t == {"transaction": "rust-job", "duration_ms": 1250.0}, t


def test_too_many_sessions_in_one_envelope(proxy, sql, project, http):
    def sessions(n):
        return [({"type": "session"}, {"sid": str(uuid.uuid4()), "init": True, "status": "exited",
                                       "started": "2026-11-22T10:00:00Z", "attrs": {"release": "many@1"}})
                for _ in range(n)]
    assert_accepted(post(http, proxy, project, envelope({}, *sessions(100))), None)
    assert_sentry_error(post(http, proxy, project, envelope({}, *sessions(101))), 400, 413)


def test_the_id_answered_is_the_id_stored(proxy, sql, project, http, wait_digested):
    """Sentry's precedence, one rule for ingest's answer and the digest: the envelope header's
    id, else the event's own, else one made from the payload."""
    header_id, own_id = new_event_id(), new_event_id()
    disagree = envelope({"event_id": header_id}, ({"type": "event"}, {"event_id": own_id, "message": "a"}))
    only_own = envelope({}, ({"type": "event"}, {"event_id": own_id, "message": "b"}))
    # No ids at all, and the event not the first item: the id is made up, the same on both sides.
    made_up = envelope({}, ({"type": "attachment", "filename": "a.txt"}, b"abc"),
                       ({"type": "event"}, {"message": f"no id {uuid.uuid4()}"}))
    answers = []
    for body, expected in ((disagree, header_id), (only_own, own_id), (made_up, None)):
        r = post(http, proxy, project, body)
        assert r.status_code == 200, r.text
        answered = r.json()["id"]
        if expected is not None:
            assert answered == expected
        answers.append(answered)
    wait_digested(project.id)
    assert sql.queue_errors(project.id) == []
    stored = {r["event_id"] for r in sql.rows(
        "SELECT event_id FROM crashcache.event WHERE project_id = %s", (project.id,))}
    assert stored == {as_uuid(a) for a in answers}


def test_an_envelope_carries_one_event(proxy, sql, project, http, wait_digested):
    """Ten thousand events without ids in one envelope were answered 200 and 256 of them kept.
    Sentry's envelopes carry one event or transaction: more is a clear 400 and nothing stored."""
    items = [({"type": "event"}, {"message": f"item {i}"}) for i in range(10_000)]
    r = post(http, proxy, project, envelope({}, *items))
    body = assert_sentry_error(r, 400)
    assert "10000 event items" in body["detail"], body
    r = post(http, proxy, project, envelope({"event_id": new_event_id()}, ({"type": "event"}, {"message": "e"}),
                                            ({"type": "transaction"}, {"transaction": "/", "start_timestamp": 1,
                                                                       "timestamp": 2})))
    assert "2 event items (event, transaction)" in assert_sentry_error(r, 400)["detail"]
    wait_digested(project.id)
    assert sql.queue_errors(project.id) == []
    assert sql.scalar("SELECT count(*) FROM crashcache.event WHERE project_id = %s", (project.id,)) == 0

"""Every error answer, from real requests: the status an SDK or log shipper acts on, a JSON
{"detail": ...} body, the X-Sentry-Error header and CORS. And bad configuration: the proxy
refuses to start and names the variable."""
import gzip
import json
import os
import socket
import subprocess
import time
import zlib

import pytest

from e2e import (PROXY_BIN, assert_accepted, assert_sentry_error, envelope, new_event_id, new_session,
                 proxy_env)

COMPRESSED_LIMIT = 64 * 1024
DECOMPRESSED_LIMIT = 1024 * 1024


def event_envelope(message: str = "error test", event_id: str | None = None) -> tuple[str, bytes]:
    eid = event_id or new_event_id()
    return eid, envelope({"event_id": eid}, ({"type": "event"}, {"event_id": eid, "message": message}))


def post_envelope(http, proxy, project_id, body, headers=None, query=""):
    return http.post(f"{proxy.url}/api/{project_id}/envelope/{query}", data=body,
                     headers={"Content-Type": "application/x-sentry-envelope", **(headers or {})},
                     timeout=30)


@pytest.fixture
def small_proxy(proxy_factory):
    """A proxy with low body limits, given as the expressions an operator would write."""
    return proxy_factory(MAX_COMPRESSED_PAYLOAD_BYTES="64 * 1024",
                         MAX_UNCOMPRESSED_PAYLOAD_BYTES="1024 * 1024")


# --------------------------------------------------------------------------- authentication
@pytest.mark.parametrize("path", ["/api/{id}/envelope/", "/api/{id}/store/", "/api/store/"])
def test_401_without_key(proxy, project, http, path):
    eid, body = event_envelope()
    if "store" in path:
        body = json.dumps({"event_id": eid, "message": "no key"}).encode()
    r = http.post(proxy.url + path.format(id=project.id), data=body, timeout=10,
                  headers={"Content-Type": "application/json"})
    assert_sentry_error(r, 401)


def test_403_unknown_key(proxy, project, http):
    _, body = event_envelope()
    r = post_envelope(http, proxy, project.id, body,
                      {"X-Sentry-Auth": "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7"})
    assert_sentry_error(r, 403)
    r = http.post(f"{proxy.url}/api/store/?sentry_key=0123456789abcdef0123456789abcdef",
                  data=b'{"message":"x"}', timeout=10)
    assert_sentry_error(r, 403)


def test_403_key_of_another_project(proxy, make_project, sql, http):
    a, b = make_project(), make_project()
    eid, body = event_envelope("wrong project")
    r = post_envelope(http, proxy, a.id, body, b.auth_header())
    assert_sentry_error(r, 403)
    r = post_envelope(http, proxy, a.id, body, query=f"?sentry_key={b.key}")
    assert_sentry_error(r, 403)
    # A tunnel envelope whose dsn names another project than the path.
    tunnel = envelope({"event_id": eid, "dsn": f"http://{b.key}@127.0.0.1:{proxy.port}/{b.id}"},
                      ({"type": "event"}, {"event_id": eid, "message": "x"}))
    assert_sentry_error(post_envelope(http, proxy, a.id, tunnel), 403)
    assert sql.scalar("SELECT count(*) FROM crashcache.archive WHERE project_id IN (%s, %s)",
                      (a.id, b.id)) == 0


def test_403_revoked_key(proxy, project, sql, http):
    _, body = event_envelope("before revoke")
    assert post_envelope(http, proxy, project.id, body, project.auth_header()).status_code == 200
    assert sql.scalar("SELECT crashcache.revoke_project_key(%s)", (project.key,)) is True
    _, body = event_envelope("after revoke")
    assert_sentry_error(post_envelope(http, proxy, project.id, body, project.auth_header()), 403)


# --------------------------------------------------------------------------- malformed bodies
def test_400_truncated_envelope(proxy, project, sql, http):
    eid = new_event_id()
    payload = json.dumps({"event_id": eid, "message": "truncated"}).encode()
    body = (json.dumps({"event_id": eid}).encode() + b"\n"
            + json.dumps({"type": "event", "length": len(payload) + 100}).encode() + b"\n" + payload)
    body_json = assert_sentry_error(post_envelope(http, proxy, project.id, body, project.auth_header()), 400)
    assert isinstance(body_json["detail"], str)
    assert sql.scalar("SELECT count(*) FROM crashcache.archive WHERE project_id = %s", (project.id,)) == 0


def test_400_broken_json(proxy, project, http):
    r = http.post(f"{proxy.url}/api/{project.id}/store/", data=b'{"message": "unterminated',
                  headers={"Content-Type": "application/json", **project.auth_header()}, timeout=10)
    assert_sentry_error(r, 400)
    r = post_envelope(http, proxy, project.id, b"this is not an envelope\n", project.auth_header())
    assert_sentry_error(r, 400)


def test_400_body_not_in_its_declared_encoding(proxy, project, http):
    _, body = event_envelope()
    r = post_envelope(http, proxy, project.id, body, {"Content-Encoding": "gzip", **project.auth_header()})
    assert_sentry_error(r, 400)


def test_415_unsupported_encoding(proxy, project, http):
    _, body = event_envelope()
    r = post_envelope(http, proxy, project.id, body, {"Content-Encoding": "lzma", **project.auth_header()})
    assert_sentry_error(r, 415, 400)


def test_supported_encodings_pass(proxy, project, sql, http, wait_digested):
    ids = []
    for name, encode in (("identity", lambda b: b), ("gzip", gzip.compress), ("deflate", zlib.compress),
                         ("gzip, deflate", lambda b: zlib.compress(gzip.compress(b)))):
        eid, body = event_envelope(f"encoded {name}")
        ids.append(eid)
        r = post_envelope(http, proxy, project.id, encode(body),
                          {"Content-Encoding": name, **project.auth_header()})
        assert_accepted(r, eid)
    wait_digested(project.id)
    assert all(sql.event(project.id, e) for e in ids)


# --------------------------------------------------------------------------- sizes
def test_413_over_the_compressed_limit(small_proxy, project, sql, http, wait_digested):
    # Just under the limit passes (the old system refused uncompressed browser bodies > 50 KiB).
    eid = new_event_id()
    ok_body = envelope({"event_id": eid}, ({"type": "event"}, {
        "event_id": eid, "message": "big but fine", "extra": {"blob": "x" * (COMPRESSED_LIMIT - 1024)}}))
    assert len(ok_body) < COMPRESSED_LIMIT
    assert_accepted(post_envelope(http, small_proxy, project.id, ok_body, project.auth_header()), eid)

    # Oversized requests on one keep-alive session: the proxy reads what the client is still
    # sending, so the 413 arrives and the connection stays usable.
    big_eid = new_event_id()
    big = envelope({"event_id": big_eid}, ({"type": "event"}, {
        "event_id": big_eid, "message": "too big", "extra": {"blob": os.urandom(COMPRESSED_LIMIT).hex()}}))
    with new_session() as s:
        assert_sentry_error(post_envelope(s, small_proxy, project.id, big, project.auth_header()), 413)
        # The same, chunked (no Content-Length to judge it by).
        r = s.post(f"{small_proxy.url}/api/{project.id}/envelope/", timeout=30, headers=project.auth_header(),
                   data=(big[i:i + 8192] for i in range(0, len(big), 8192)))
        assert_sentry_error(r, 413)
        # Gzip does not help random data under the limit either.
        r = post_envelope(s, small_proxy, project.id, gzip.compress(big),
                          {"Content-Encoding": "gzip", **project.auth_header()})
        assert_sentry_error(r, 413)
        after_eid = new_event_id()
        after = envelope({"event_id": after_eid}, ({"type": "event"}, {"event_id": after_eid, "message": "after"}))
        assert_accepted(post_envelope(s, small_proxy, project.id, after, project.auth_header()), after_eid)

    wait_digested(project.id)
    assert sql.event(project.id, eid) is not None
    assert sql.event(project.id, big_eid) is None


def test_413_closes_the_connection_cleanly(small_proxy, project):
    """HTTP/1.1 keep-alive: a server that will close the connection after answering must say
    `Connection: close` in that answer (RFC 9112, 9.6); otherwise the next request of the client
    goes out on a connection that is being closed and fails with a reset."""
    body = os.urandom(COMPRESSED_LIMIT * 3)
    with socket.create_connection(("127.0.0.1", small_proxy.port), timeout=5) as sk:
        sk.sendall(f"POST /api/{project.id}/envelope/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"X-Sentry-Auth: Sentry sentry_key={project.key}, sentry_version=7\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        answer, closed = b"", False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = sk.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            answer += chunk
            if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                sk.settimeout(1)  # the whole answer is in: is the connection closed after it?
    head = answer.split(b"\r\n\r\n", 1)[0].decode(errors="replace").lower()
    assert head.startswith("http/1.1 413"), answer[:300]
    if closed:
        assert "connection: close" in head, f"closed after a 413 without saying so:\n{head}"


def test_413_gzip_bomb(small_proxy, project, sql, http):
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), 9)
    assert len(bomb) < COMPRESSED_LIMIT
    r = post_envelope(http, small_proxy, project.id, bomb, {"Content-Encoding": "gzip", **project.auth_header()})
    assert_sentry_error(r, 413)
    r = http.post(f"{small_proxy.url}/api/{project.id}/store/", data=bomb, timeout=30,
                  headers={"Content-Encoding": "gzip", **project.auth_header()})
    assert_sentry_error(r, 413)
    # A compressible but honest event envelope above the decompressed limit is refused too.
    eid = new_event_id()
    body = envelope({"event_id": eid}, ({"type": "event"}, {
        "event_id": eid, "message": "expands", "extra": {"blob": "a" * (DECOMPRESSED_LIMIT + 1)}}))
    r = post_envelope(http, small_proxy, project.id, gzip.compress(body),
                      {"Content-Encoding": "gzip", **project.auth_header()})
    assert_sentry_error(r, 413)
    assert sql.scalar("SELECT count(*) FROM crashcache.archive WHERE project_id = %s", (project.id,)) == 0


def test_413_event_over_one_mib_with_default_limits(proxy, project, http):
    eid = new_event_id()
    body = envelope({"event_id": eid}, ({"type": "event"}, {
        "event_id": eid, "message": "huge event", "extra": {"blob": "b" * (1024 * 1024 + 10)}}))
    r = post_envelope(http, proxy, project.id, gzip.compress(body),
                      {"Content-Encoding": "gzip", **project.auth_header()})
    assert_sentry_error(r, 413)


def test_large_bodies_pass_with_default_limits(proxy, project, sql, http, wait_digested, tmp_path):
    """The old system's 50 KiB limit refused uncompressed browser events. With the default limits
    a 900 KiB uncompressed event passes, and so does a 5 MiB attachment sent by curl (which
    sends `Expect: 100-continue` for large bodies)."""
    eid = new_event_id()
    body = envelope({"event_id": eid}, ({"type": "event"}, {
        "event_id": eid, "message": "900 KiB event", "extra": {"blob": os.urandom(450 * 1024).hex()}}))
    r = http.post(f"{proxy.url}/api/{project.id}/envelope/?sentry_key={project.key}", data=body,
                  headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://localhost"}, timeout=30)
    assert_accepted(r, eid)

    eid2 = new_event_id()
    blob = os.urandom(5 * 1024 * 1024)
    path = tmp_path / "big.envelope"
    path.write_bytes(envelope({"event_id": eid2},
                              ({"type": "event"}, {"event_id": eid2, "message": "with a big attachment"}),
                              ({"type": "attachment", "filename": "big.bin",
                                "content_type": "application/octet-stream"}, blob)))
    p = subprocess.run(["curl", "-sS", "--noproxy", "*", "-o", "-", "-w", "\n%{http_code}", "-X", "POST",
                        "-H", "Content-Type: application/x-sentry-envelope",
                        "-H", f"X-Sentry-Auth: Sentry sentry_key={project.key}, sentry_version=7",
                        "--data-binary", f"@{path}", f"{proxy.url}/api/{project.id}/envelope/"],
                       capture_output=True, text=True, timeout=60)
    answer, status = p.stdout.rsplit("\n", 1)
    assert status == "200" and json.loads(answer) == {"id": eid2}, (p.stdout, p.stderr)

    wait_digested(project.id)
    assert sql.event(project.id, eid) is not None and sql.event(project.id, eid2) is not None
    att = sql.one("SELECT filename, size FROM crashcache.attachment WHERE project_id = %s", (project.id,))
    assert att == {"filename": "big.bin", "size": len(blob)}, att


# --------------------------------------------------------------------------- configuration
BAD_CONFIG = [
    ("CRASH_CACHE_PORT", "not-a-port"),
    ("CRASH_CACHE_PORT", "70000"),
    ("DATABASE_POOL_SIZE", "many"),
    ("DATABASE_ACQUIRE_TIMEOUT_MS", "soon"),
    ("DATABASE_CONNECT_TIMEOUT_MS", "-1"),
    ("MAX_COMPRESSED_PAYLOAD_BYTES", "200 *"),
    ("MAX_UNCOMPRESSED_PAYLOAD_BYTES", "lots"),
    ("RATE_LIMIT_GLOBAL_PER_SECOND", "fast"),
    ("RATE_LIMIT_PER_IP_PER_SECOND", "-3"),
    ("RATE_LIMIT_PER_PROJECT_PER_SECOND", "1e"),
    ("RATE_LIMIT_BURST_MULTIPLIER", "double"),
    ("TRUSTED_PROXIES", "not-an-address"),
    ("HEALTH_REFRESH_MS", "often"),
]


@pytest.mark.parametrize("name,value", BAD_CONFIG, ids=[f"{n}={v}" for n, v in BAD_CONFIG])
def test_bad_config_exits_naming_the_variable(cluster, name, value):
    env = proxy_env(cluster, **{name: value})
    try:
        p = subprocess.run([str(PROXY_BIN), "serve"], env=env, capture_output=True, text=True,
                           timeout=15, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{name}={value!r} was accepted: the proxy kept running ({e.stdout!r} {e.stderr!r})")
    assert p.returncode != 0, (p.stdout, p.stderr)
    assert name in p.stdout + p.stderr, f"the message does not name {name}: {p.stdout!r} {p.stderr!r}"


# --------------------------------------------------------------------------- other answers
def test_health_answers_cached_figures(proxy, http):
    r = http.get(proxy.url + "/health", timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body.get("database") == "up", body
    assert {"queued", "errors", "running_workers"} <= set(body), body


def test_unknown_routes_and_methods_answer_json(proxy, project, http):
    assert_sentry_error(http.get(f"{proxy.url}/nope", timeout=5), 404)
    assert_sentry_error(http.get(f"{proxy.url}/api/{project.id}/envelope/", timeout=5), 405)
    assert_sentry_error(http.post(f"{proxy.url}/api/not-a-number/envelope/", data=b"x", timeout=5,
                                  headers=project.auth_header()), 400, 404)

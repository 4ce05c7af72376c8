"""Rate limits, each on a proxy of its own: a burst gets 429 with Retry-After and
X-Sentry-Rate-Limits (which SDKs obey), what was refused is not stored, and after waiting
requests pass again. "Per second" means per second (the old system gave one token every N
seconds), and X-Forwarded-For counts only from trusted proxies."""
import json
import re
import socket
import time

import pytest

from e2e import as_uuid, assert_sentry_error, new_event_id

RATE_LIMITS_HEADER = re.compile(r"^(\d+):([a-z_;]*):(organization|project|key)(:[a-z_]+)?$")


def store(http, proxy, project, path=None, headers=None, timeout=10):
    eid = new_event_id()
    url = proxy.url + (path or f"/api/{project.id}/store/")
    r = http.post(url, data=json.dumps({"event_id": eid, "message": "rate limit test"}),
                  headers={"Content-Type": "application/json", **project.auth_header(), **(headers or {})},
                  timeout=timeout)
    assert r.status_code in (200, 429), (r.status_code, r.text)
    return eid, r


def burst(http, proxy, project, n, **kw):
    """n requests back to back (bounded: n is small, each request times out)."""
    return [store(http, proxy, project, **kw) for _ in range(n)]


def assert_rate_limited(r, scope: str | None = None) -> int:
    assert_sentry_error(r, 429)
    retry_after = r.headers.get("Retry-After", "")
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60, r.headers
    limits = r.headers.get("X-Sentry-Rate-Limits", "")
    m = RATE_LIMITS_HEADER.match(limits)
    assert m, f"X-Sentry-Rate-Limits is not <seconds>:<categories>:<scope>: {limits!r}"
    assert 1 <= int(m.group(1)) <= 60
    categories = [c for c in m.group(2).split(";") if c]
    assert categories == [] or "error" in categories, limits
    if scope:
        assert m.group(3) == scope, limits
    exposed = r.headers.get("Access-Control-Expose-Headers", "").lower()
    assert "x-sentry-rate-limits" in exposed and "retry-after" in exposed, r.headers
    return int(retry_after)


def passes_again_after_waiting(http, proxy, project, retry_after: int, **kw):
    time.sleep(min(retry_after, 2) + 0.1)
    eid, r = store(http, proxy, project, **kw)
    assert r.status_code == 200, f"still refused after waiting {retry_after}s: {r.status_code} {r.text}"
    return eid, r


def assert_only_accepted_stored(sql, project, results):
    sql.wait_digested(project.id)
    accepted = {as_uuid(e) for e, r in results if r.status_code == 200}
    stored = {r["event_id"] for r in sql.rows(
        "SELECT event_id FROM crashcache.event WHERE project_id = %s", (project.id,))}
    assert stored == accepted, (len(stored), len(accepted))


def test_global_limit(proxy_factory, make_project, sql, http):
    proxy = proxy_factory(RATE_LIMIT_GLOBAL_PER_SECOND=1)
    a, b = make_project(), make_project()
    t0 = time.monotonic()
    results = burst(http, proxy, a, 8)
    elapsed = time.monotonic() - t0
    codes = [r.status_code for _, r in results]
    limited = [r for _, r in results if r.status_code == 429]
    assert limited, f"no 429 in a burst of 8 against 1/s (took {elapsed:.2f}s): {codes}"
    # Burst capacity: 1/s times the default multiplier 2, plus what refilled meanwhile.
    assert codes.count(200) <= 2 + elapsed + 1, codes
    # The global limit covers every project.
    other = [store(http, proxy, b)[1].status_code for _ in range(3)]
    assert 429 in other, f"another project escaped the global limit: {other}"
    retry = assert_rate_limited(limited[0], "organization")
    passes_again_after_waiting(http, proxy, b, retry)
    assert_only_accepted_stored(sql, a, results)


def test_per_second_means_per_second(proxy_factory, project, http):
    proxy = proxy_factory(RATE_LIMIT_GLOBAL_PER_SECOND=5, RATE_LIMIT_BURST_MULTIPLIER=1)
    first = [r.status_code for _, r in burst(http, proxy, project, 10)]
    assert 429 in first, first
    time.sleep(1.05)
    t0 = time.monotonic()
    again = [r.status_code for _, r in burst(http, proxy, project, 10)]
    elapsed = time.monotonic() - t0
    # One second refills five tokens, not one.
    assert 4 <= again.count(200) <= 5 + 5 * elapsed + 1, (again, elapsed)


def test_per_ip_limit_and_forwarded_for(proxy_factory, project, sql, http):
    # Behind a trusted proxy (here: ourselves), each forwarded client has its own bucket.
    proxy = proxy_factory(RATE_LIMIT_PER_IP_PER_SECOND=2, TRUSTED_PROXIES="127.0.0.1")
    xff1 = {"X-Forwarded-For": "203.0.113.7"}
    xff2 = {"X-Forwarded-For": "198.51.100.23"}
    results = burst(http, proxy, project, 10, headers=xff1)
    limited = [r for _, r in results if r.status_code == 429]
    assert limited, [r.status_code for _, r in results]
    retry = assert_rate_limited(limited[0], "key")
    _, other = store(http, proxy, project, headers=xff2)
    assert other.status_code == 200, "another client behind the trusted proxy must not be limited"
    passes_again_after_waiting(http, proxy, project, retry, headers=xff1)

    # From an untrusted peer, X-Forwarded-For is ignored: a forged header gets no fresh bucket.
    untrusting = proxy_factory(RATE_LIMIT_PER_IP_PER_SECOND=2)
    t0 = time.monotonic()
    codes = [store(http, untrusting, project, headers={"X-Forwarded-For": f"192.0.2.{i}"})[1].status_code
             for i in range(1, 11)]
    elapsed = time.monotonic() - t0
    assert 429 in codes, f"a forged X-Forwarded-For escaped the per-IP limit: {codes}"
    assert codes.count(200) <= 4 + 2 * elapsed + 1, codes


def test_per_project_limit(proxy_factory, make_project, sql, http):
    proxy = proxy_factory(RATE_LIMIT_PER_PROJECT_PER_SECOND=2)
    a, b = make_project(), make_project()
    results = burst(http, proxy, a, 10)
    limited = [r for _, r in results if r.status_code == 429]
    assert limited, [r.status_code for _, r in results]
    retry = assert_rate_limited(limited[0], "key")
    # Another project is not affected.
    assert [r.status_code for _, r in burst(http, proxy, b, 3)] == [200] * 3
    results.append(passes_again_after_waiting(http, proxy, a, retry))
    assert_only_accepted_stored(sql, a, results)


def test_per_project_limit_holds_across_paths(proxy_factory, project, http):
    """/api/{id}/store/, /api/store/ and /api/{id}/envelope/ are the same project: one bucket."""
    proxy = proxy_factory(RATE_LIMIT_PER_PROJECT_PER_SECOND=2)
    t0 = time.monotonic()
    codes = []
    for i in range(12):
        path = (f"/api/{project.id}/store/", "/api/store/")[i % 2]
        codes.append(store(http, proxy, project, path=path)[1].status_code)
    elapsed = time.monotonic() - t0
    assert codes.count(200) <= 4 + 2 * elapsed + 1, \
        f"alternating paths got past the per-project limit of 2/s (burst 4): {codes} in {elapsed:.2f}s"


def test_refused_keys_do_not_use_up_a_projects_quota(proxy_factory, project, http):
    """Whoever knows only a project's id (it is in every URL) must not be able to lock out its
    real senders by posting with a wrong key."""
    proxy = proxy_factory(RATE_LIMIT_PER_PROJECT_PER_SECOND=2)
    bad = {"X-Sentry-Auth": "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7"}
    codes = [http.post(f"{proxy.url}/api/{project.id}/store/", data=b'{"message":"x"}', headers=bad,
                       timeout=10).status_code for _ in range(10)]
    assert set(codes) <= {403, 429}, codes
    _, r = store(http, proxy, project)
    assert r.status_code == 200, f"wrong-key requests {codes} used up the project's quota: {r.status_code} {r.text}"


def test_refusals_keep_the_connection(proxy_factory, project):
    """An SDK sends its next envelope on the connection a 429 came back on. Every refusal,
    with a body still arriving after the headers, must leave that connection usable: one
    socket carries a burst of rate-limited requests, a bad project id and an unknown path,
    and every answer arrives on it, none saying it closes."""
    proxy = proxy_factory(RATE_LIMIT_GLOBAL_PER_SECOND=1, RATE_LIMIT_BURST_MULTIPLIER=1)
    body = json.dumps({"message": "keep-alive", "extra": {"pad": "x" * 20000}}).encode()
    auth = f"X-Sentry-Auth: Sentry sentry_key={project.key}, sentry_version=7\r\n"
    paths = [f"/api/{project.id}/store/"] * 30 + ["/api/abc/store/", "/nope", f"/api/{project.id}/store/"]
    statuses = []
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sk:
        reader = sk.makefile("rb")
        t0 = time.monotonic()
        for path in paths:
            # Headers first, the body a moment later: the refusal is decided before it arrives.
            sk.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                       f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode())
            time.sleep(0.002)
            sk.sendall(body)
            status, headers = read_response(reader)
            assert "close" not in headers.get("connection", ""), (path, status, headers)
            statuses.append(status)
        elapsed = time.monotonic() - t0
    assert statuses[-3:-1] == [400, 404], statuses
    limited = statuses[:30] + statuses[-1:]
    assert limited[0] == 200, statuses
    # One token a second, burst one: at most one more request passes per second elapsed.
    assert limited.count(200) <= 1 + elapsed + 1, (statuses, elapsed)
    assert set(limited) == {200, 429}, statuses


def read_response(reader) -> tuple[int, dict]:
    """One HTTP/1.1 response with a Content-Length from a socket's reader."""
    status_line = reader.readline()
    assert status_line.startswith(b"HTTP/1.1 "), f"no answer on the connection: {status_line!r}"
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    reader.read(int(headers["content-length"]))
    return int(status_line.split()[1]), headers

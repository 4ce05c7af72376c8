"""Every error status from a real request, each answered in Sentry's shape: JSON `detail`,
`X-Sentry-Error`, CORS. Plus the rate limits and refused configuration."""
import gzip
import subprocess
import time

from e2e import PROXY_BIN, assert_accepted, assert_sentry_error, envelope, new_event_id, proxy_env

EVENT = {"message": "hello"}


def store_url(proxy, project_id) -> str:
    return f"{proxy.url}/api/{project_id}/store/"


def test_auth_errors(proxy, project, make_project, http):
    body = b'{"message":"x"}'
    assert_sentry_error(http.post(store_url(proxy, project.id), data=body), 401)
    assert_sentry_error(http.post(store_url(proxy, project.id), data=body,
                                  headers={"X-Sentry-Auth": "Sentry sentry_key=0000deadbeef0000, sentry_version=7"}), 403)
    other = make_project()
    # A valid key, but of another project than the one in the path.
    assert_sentry_error(http.post(store_url(proxy, project.id), data=body,
                                  headers=other.auth_header()), 403)


def test_malformed_and_unsupported_bodies(proxy, project, http):
    truncated = envelope({"event_id": new_event_id()}, ({"type": "event"}, EVENT))[:-8]
    resp = http.post(f"{proxy.url}/api/{project.id}/envelope/", data=truncated, headers=project.auth_header())
    assert_sentry_error(resp, 400)
    resp = http.post(store_url(proxy, project.id), data=b"{not json", headers=project.auth_header())
    assert_sentry_error(resp, 400)
    resp = http.post(store_url(proxy, project.id), data=b'{"message":"x"}',
                     headers={**project.auth_header(), "Content-Encoding": "lzma"})
    assert_sentry_error(resp, 415, 400)
    resp = http.post(store_url(proxy, project.id), data=b"not gzip at all",
                     headers={**project.auth_header(), "Content-Encoding": "gzip"})
    assert_sentry_error(resp, 400)
    resp = http.post(f"{proxy.url}/api/abc/store/", data=b"{}", headers=project.auth_header())
    assert_sentry_error(resp, 400, 404)


def test_too_large_compressed_and_decompressed(proxy_factory, project, sql, http):
    small = proxy_factory(MAX_COMPRESSED_PAYLOAD_BYTES="64 * 1024",
                          MAX_UNCOMPRESSED_PAYLOAD_BYTES="1024 * 1024")
    big = b'{"message":"' + b"x" * (100 * 1024) + b'"}'
    assert_sentry_error(http.post(store_url(small, project.id), data=big, headers=project.auth_header()), 413)
    # The same without Content-Length (chunked): refused while reading.
    assert_sentry_error(http.post(store_url(small, project.id), data=iter([big[:50000], big[50000:]]),
                                  headers=project.auth_header()), 413)
    # A gzip bomb: 40 KiB on the wire, 40 MiB once inflated; refused at the decoded limit.
    bomb = gzip.compress(b"\0" * (40 << 20), compresslevel=9)
    assert len(bomb) < 64 * 1024
    resp = http.post(f"{small.url}/api/{project.id}/envelope/", data=bomb,
                     headers={**project.auth_header(), "Content-Encoding": "gzip"})
    assert_sentry_error(resp, 413)
    assert sql.scalar("SELECT count(*) FROM crashcache.archive WHERE project_id = %s", (project.id,)) == 0


def burst(http, url, headers, n=30) -> list:
    return [http.post(url, data=b'{"message":"burst"}', headers=headers) for _ in range(n)]


def assert_rate_limited(responses, scope: str):
    limited = [r for r in responses if r.status_code == 429]
    assert limited, [r.status_code for r in responses]
    assert any(r.status_code == 200 for r in responses)
    for r in limited:
        assert_sentry_error(r, 429)
        assert int(r.headers["Retry-After"]) >= 1
        assert r.headers["X-Sentry-Rate-Limits"].endswith(f":{scope}"), r.headers


def test_global_rate_limit(proxy_factory, project, http):
    p = proxy_factory(RATE_LIMIT_GLOBAL_PER_SECOND=5, RATE_LIMIT_BURST_MULTIPLIER=1)
    assert_rate_limited(burst(http, store_url(p, project.id), project.auth_header()), "organization")
    time.sleep(1.2)
    assert http.post(store_url(p, project.id), data=b'{"message":"later"}',
                     headers=project.auth_header()).status_code == 200


def test_per_ip_rate_limit_trusts_forwarded_for_only_from_trusted_proxies(proxy_factory, project, http):
    p = proxy_factory(RATE_LIMIT_PER_IP_PER_SECOND=5, RATE_LIMIT_BURST_MULTIPLIER=1,
                      TRUSTED_PROXIES="127.0.0.1")
    url = store_url(p, project.id)
    a = {**project.auth_header(), "X-Forwarded-For": "198.51.100.1"}
    assert_rate_limited(burst(http, url, a), "key")
    # Another client behind the same trusted proxy has a bucket of its own.
    b = {**project.auth_header(), "X-Forwarded-For": "198.51.100.2"}
    assert http.post(url, data=b'{"message":"b"}', headers=b).status_code == 200

    untrusting = proxy_factory(RATE_LIMIT_PER_IP_PER_SECOND=5, RATE_LIMIT_BURST_MULTIPLIER=1)
    # Without trust, spoofed addresses do not buy new buckets.
    spoofed = [http.post(store_url(untrusting, project.id), data=b'{"message":"s"}',
                         headers={**project.auth_header(), "X-Forwarded-For": f"203.0.113.{i}"})
               for i in range(30)]
    assert_rate_limited(spoofed, "key")


def test_per_project_rate_limit(proxy_factory, project, make_project, http):
    p = proxy_factory(RATE_LIMIT_PER_PROJECT_PER_SECOND=5, RATE_LIMIT_BURST_MULTIPLIER=1)
    assert_rate_limited(burst(http, store_url(p, project.id), project.auth_header()), "key")
    other = make_project()
    assert http.post(store_url(p, other.id), data=b'{"message":"o"}',
                     headers=other.auth_header()).status_code == 200


def test_success_answers(proxy, project, http):
    event_id = new_event_id()
    resp = http.post(f"{proxy.url}/api/{project.id}/store", json={"event_id": event_id, **EVENT},
                     headers=project.auth_header())
    assert_accepted(resp, event_id)
    # An envelope without an event answers {}.
    resp = http.post(f"{proxy.url}/api/{project.id}/envelope", headers=project.auth_header(),
                     data=envelope({}, ({"type": "client_report"}, {"timestamp": time.time(), "discarded_events": []})))
    assert_accepted(resp, None)
    assert resp.json() == {}


def test_bad_configuration_stops_start_up_naming_the_variable(cluster):
    for name, value in [("MAX_COMPRESSED_PAYLOAD_BYTES", "20 * "), ("CRASH_CACHE_PORT", "http"),
                        ("RATE_LIMIT_PER_IP_PER_SECOND", "-1")]:
        env = proxy_env(cluster, **{name: value})
        p = subprocess.run([str(PROXY_BIN), "serve"], env=env, capture_output=True, text=True,
                           timeout=20, stdin=subprocess.DEVNULL)
        assert p.returncode != 0
        assert name in p.stderr + p.stdout, (name, p.stderr)

"""Hostile requests, each with its one right answer, on a proxy with small limits: framing that
lies (truncated, huge or negative lengths, headers that are not JSON), SQL and header
injection in keys, ids and paths, and decompression bombs in every encoding and in layers.
Nothing of it is stored, the database is untouched, and a normal request passes after each.
(Payloads that are odd but must be digested are in test_hostile_payloads.py; slow, half-sent
and idle connections in test_connections.py.)"""
import gzip
import json
import socket
import zlib

import brotli
import pytest
import zstandard

from e2e import assert_accepted, assert_sentry_error, envelope, new_event_id

COMPRESSED_LIMIT = 64 * 1024
DECOMPRESSED_LIMIT = 1024 * 1024
BOMB = b"\0" * (64 * 1024 * 1024)


@pytest.fixture(scope="module")
def small(cluster, workdir):
    from e2e import start_proxy
    p = start_proxy(cluster, workdir, MAX_COMPRESSED_PAYLOAD_BYTES=str(COMPRESSED_LIMIT),
                    MAX_UNCOMPRESSED_PAYLOAD_BYTES=str(DECOMPRESSED_LIMIT))
    yield p
    p.stop()


def post(http, proxy, project, body: bytes, path: str = "envelope", **headers):
    return http.post(f"{proxy.url}/api/{project.id}/{path}/", data=body, timeout=30,
                     headers={"Content-Type": "application/x-sentry-envelope", **project.auth_header(), **headers})


def still_serves(http, proxy, project):
    eid = new_event_id()
    assert_accepted(post(http, proxy, project, envelope({"event_id": eid}, ({"type": "event"}, {"message": "ok"}))),
                    eid)


FRAMING = [
    pytest.param(b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"', id="header_line_cut"),
    pytest.param(b'{}\n{"type":"event","length":50}\n{"message":"short"}\n', id="length_past_the_end"),
    pytest.param(b'{}\n{"type":"event","length":18446744073709551616}\n{}\n', id="length_beyond_u64"),
    pytest.param(b'{}\n{"type":"event","length":9223372036854775807}\n{}\n', id="length_i64_max"),
    pytest.param(b'{}\n{"type":"event","length":-5}\n{}\n', id="negative_length"),
    pytest.param(b'{}\n{"type":"event","length":"12"}\n{}\n', id="length_as_a_string"),
    pytest.param(b'{}\nnot json\n{}\n', id="item_header_not_json"),
    pytest.param(b'{}\n["type","event"]\n{}\n', id="item_header_an_array"),
    pytest.param(b'[]\n{"type":"event"}\n{}\n', id="envelope_header_an_array"),
    pytest.param(b'{}\n{"type":"event"}\n' + b"[" * 100_000 + b"\n", id="item_nested_100000_deep"),
]


@pytest.mark.parametrize("body", FRAMING)
def test_broken_framing_is_400(proxy, project, sql, http, body):
    assert_sentry_error(post(http, proxy, project, body), 400)
    assert sql.scalar("SELECT count(*) FROM crashcache.archive WHERE project_id = %s", (project.id,)) == 0
    still_serves(http, proxy, project)


INJECTED_KEYS = [
    "'; DROP TABLE crashcache.event; --",
    "0123456789abcdef0123456789abcdef' OR '1'='1",
    "$1",
    "\\x00",
]


@pytest.mark.parametrize("key", INJECTED_KEYS)
def test_sql_in_the_key_is_403(proxy, project, sql, http, key):
    body = envelope({}, ({"type": "event"}, {"message": "injected"}))
    r = http.post(f"{proxy.url}/api/{project.id}/envelope/", data=body, timeout=10,
                  params={"sentry_key": key, "sentry_version": "7"})
    assert assert_sentry_error(r, 403)["detail"] == "unknown or revoked public key"
    assert sql.scalar("SELECT to_regclass('crashcache.event') IS NOT NULL")
    still_serves(http, proxy, project)


def test_sql_in_the_path_is_400(proxy, project, http):
    for path in ("/api/1;DROP TABLE crashcache.event/envelope/", "/api/1%27%20OR%201=1/store/"):
        r = http.post(proxy.url + path, data=b"{}", headers=project.auth_header(), timeout=10)
        assert "project id" in assert_sentry_error(r, 400)["detail"], path


def test_sql_in_an_event_id_gets_an_id_of_its_own(proxy, project, sql, http, wait_digested):
    """An id that is not 32 hex digits is not an id: the event is kept under one made from its
    payload, and the text stays data."""
    evil = "'); DELETE FROM crashcache.event; --"
    body = envelope({"event_id": evil}, ({"type": "event"}, {"event_id": evil, "message": evil}))
    r = post(http, proxy, project, body)
    assert r.status_code == 200, r.text
    made_up = r.json()["id"]
    assert len(made_up) == 32 and all(c in "0123456789abcdef" for c in made_up), made_up
    wait_digested(project.id)
    row = sql.event(project.id, made_up)
    assert row is not None and row["message"] == evil, row


def test_header_injection_in_the_auth_header_is_one_unknown_key(proxy, project, sql):
    """CR LF inside X-Sentry-Auth ends the header: what follows is a header of its own (here a
    second X-Sentry-Auth with the real key), never part of the key; the first one counts, and
    its key is unknown."""
    body = envelope({}, ({"type": "event"}, {"message": "crlf"}))
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sk:
        sk.sendall(f"POST /api/{project.id}/envelope/ HTTP/1.1\r\nHost: x\r\n"
                   f"X-Sentry-Auth: Sentry sentry_key=abc\r\nX-Sentry-Auth: Sentry sentry_key={project.key}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        answer = sk.recv(65536)
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403"), answer[:300]
    assert json.loads(rest)["detail"] == "unknown or revoked public key"
    assert sql.scalar("SELECT count(*) FROM crashcache.archive WHERE project_id = %s", (project.id,)) == 0


def zstd_compress(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=19).compress(data)


BOMBS = [
    pytest.param("gzip", lambda b: gzip.compress(b, 9), id="gzip"),
    pytest.param("deflate", lambda b: zlib.compress(b, 9), id="deflate"),
    pytest.param("br", lambda b: brotli.compress(b, quality=11), id="br"),
    pytest.param("zstd", zstd_compress, id="zstd"),
    pytest.param("gzip, gzip", lambda b: gzip.compress(gzip.compress(b, 9), 9), id="gzip_in_gzip"),
    pytest.param("zstd, br, deflate", lambda b: zlib.compress(brotli.compress(zstd_compress(b))),
                 id="three_layers"),
]


@pytest.mark.parametrize("encoding,compress", BOMBS)
def test_bombs_in_every_encoding_are_413(small, project, sql, http, encoding, compress):
    bomb = compress(BOMB)
    assert len(bomb) < COMPRESSED_LIMIT, len(bomb)
    for path in ("envelope", "store"):
        r = post(http, small, project, bomb, path=path, **{"Content-Encoding": encoding})
        detail = assert_sentry_error(r, 413)["detail"]
        assert str(DECOMPRESSED_LIMIT) in detail, detail
    assert sql.scalar("SELECT count(*) FROM crashcache.archive WHERE project_id = %s", (project.id,)) == 0
    still_serves(http, small, project)


def test_an_unknown_encoding_in_a_list_is_415(proxy, project, http):
    body = gzip.compress(envelope({}, ({"type": "event"}, {"message": "x"})))
    r = post(http, proxy, project, body, **{"Content-Encoding": "gzip, x-evil"})
    assert "x-evil" in assert_sentry_error(r, 415)["detail"]

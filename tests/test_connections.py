"""What slow, idle or numerous clients get, each on a proxy of its own with short bounds: idle
connections are closed, headers and bodies that do not arrive in time are refused (408 for a
body), a connection over the cap and a body over the receiving budget get 503 in Sentry's shape,
and a normal request keeps being served throughout. A database that cannot be reached is
tried a few times a second at most, not once per request."""
import json
import socket
import threading
import time

from e2e import assert_accepted, assert_sentry_error, new_event_id


def open_socket(proxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=10)


def closed_within(sk: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sk` (reading and dropping any answer), None if not."""
    start = time.monotonic()
    sk.settimeout(seconds)
    try:
        while sk.recv(65536):
            pass
    except socket.timeout:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def raw_answer(sk: socket.socket, seconds: float = 5) -> bytes:
    """Everything the server sends until it closes."""
    sk.settimeout(seconds)
    out = b""
    try:
        while chunk := sk.recv(65536):
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def store(http, proxy, project):
    eid = new_event_id()
    r = http.post(f"{proxy.url}/api/{project.id}/store/", data=json.dumps({"event_id": eid, "message": "ok"}),
                  headers={"Content-Type": "application/json", **project.auth_header()}, timeout=10)
    assert_accepted(r, eid)


def request_head(project, length: int) -> bytes:
    return (f"POST /api/{project.id}/store/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"X-Sentry-Auth: Sentry sentry_key={project.key}, sentry_version=7\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()


def test_idle_and_slow_header_connections_are_closed(proxy_factory, project, http):
    proxy = proxy_factory(HTTP_IDLE_TIMEOUT_MS=1000)
    idle = open_socket(proxy)
    slow = open_socket(proxy)
    slow.sendall(b"POST /api/1/store/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    # A slowloris: one header byte every 200 ms never completes the headers in time.
    stop = threading.Event()

    def drip():
        try:
            while not stop.wait(0.2):
                slow.sendall(b"X")
        except OSError:
            pass

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    try:
        store(http, proxy, project)  # served meanwhile
        idle_closed = closed_within(idle, 5)
        slow_closed = closed_within(slow, 5)
    finally:
        stop.set()
        dripper.join(2)
        idle.close()
        slow.close()
    assert idle_closed is not None and idle_closed < 3, idle_closed
    assert slow_closed is not None and slow_closed < 3, slow_closed
    store(http, proxy, project)


def test_a_body_that_does_not_arrive_is_408(proxy_factory, project, sql, http):
    proxy = proxy_factory(HTTP_BODY_TIMEOUT_MS=1000)
    body = json.dumps({"event_id": new_event_id(), "message": "half sent"}).encode()
    with open_socket(proxy) as sk:
        sk.sendall(request_head(project, len(body)) + body[: len(body) // 2])
        started = time.monotonic()
        answer = raw_answer(sk)
        elapsed = time.monotonic() - started
    head = answer.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert head.startswith("http/1.1 408"), answer[:300]
    assert "connection: close" in head, head
    assert b'"detail":"the request body did not arrive within 1 s"' in answer, answer
    assert elapsed < 3, elapsed
    store(http, proxy, project)


def test_connections_over_the_cap_get_503(proxy_factory, project, http):
    proxy = proxy_factory(MAX_CONNECTIONS=2, HTTP_IDLE_TIMEOUT_MS=5000)
    held = [open_socket(proxy) for _ in range(2)]
    try:
        time.sleep(0.2)  # both are accepted and counted
        with open_socket(proxy) as extra:
            extra.sendall(request_head(project, 2) + b"{}")
            answer = raw_answer(extra)
        head, _, body = answer.partition(b"\r\n\r\n")
        head = head.decode().lower()
        assert head.startswith("http/1.1 503"), answer[:300]
        assert "retry-after: 1" in head and "x-sentry-error:" in head, head
        assert json.loads(body)["detail"] == "the proxy is busy (too many connections), try again later"
    finally:
        for sk in held:
            sk.close()
    time.sleep(0.2)  # the held connections are let go
    store(http, proxy, project)


def test_bodies_over_the_receiving_budget_get_503(proxy_factory, project, http):
    proxy = proxy_factory(MAX_RECEIVING_BYTES=256 * 1024)
    # One upload holds 200 KiB of the budget while it arrives ...
    uploading = open_socket(proxy)
    uploading.sendall(request_head(project, 200 * 1024) + b"{")
    time.sleep(0.2)
    try:
        # ... so a second one that would take another 200 KiB is refused, on a usable connection.
        big = json.dumps({"message": "x" * (200 * 1024)})
        r = http.post(f"{proxy.url}/api/{project.id}/store/", data=big, timeout=10,
                      headers={"Content-Type": "application/json", **project.auth_header()})
        body = assert_sentry_error(r, 503)
        assert body["detail"].startswith("the proxy is busy (it is receiving 262144 bytes"), body
        store(http, proxy, project)
    finally:
        uploading.close()
    time.sleep(0.2)
    r = http.post(f"{proxy.url}/api/{project.id}/store/", data=big, timeout=10,
                  headers={"Content-Type": "application/json", **project.auth_header()})
    assert r.status_code == 200, r.text


def test_an_unreachable_database_is_tried_a_few_times_a_second(proxy_factory, project, http, cluster):
    """A listener that accepts and closes at once stands for a database that refuses: the
    proxy must answer every request 503 at once, yet open only a few connections a second."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted = []
    stop = threading.Event()

    def refuse():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            accepted.append(time.monotonic())
            conn.close()

    t = threading.Thread(target=refuse, daemon=True)
    t.start()
    port = listener.getsockname()[1]
    proxy = proxy_factory(DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/crashcache",
                          HEALTH_REFRESH_MS=60000)
    try:
        time.sleep(0.5)  # the health check's first attempt
        accepted.clear()
        started = time.monotonic()
        statuses, slowest = [], 0.0
        while time.monotonic() - started < 3:
            t0 = time.monotonic()
            r = http.post(f"{proxy.url}/api/{project.id}/store/", data=b'{"message":"x"}', timeout=10,
                          headers=project.auth_header())
            slowest = max(slowest, time.monotonic() - t0)
            statuses.append(r.status_code)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        t.join(2)
        listener.close()
    assert set(statuses) == {503}, statuses
    assert len(statuses) > 100, len(statuses)
    assert slowest < 1, slowest
    # The back-off doubles from 100 ms to 2 s: about 5 attempts in 3 s, not one per request.
    assert len(accepted) <= 10, (len(accepted), elapsed, len(statuses))


def test_many_idle_connections_do_not_stop_service(proxy_factory, project, http):
    proxy = proxy_factory(HTTP_IDLE_TIMEOUT_MS=5000)
    idle = [open_socket(proxy) for _ in range(300)]
    try:
        for _ in range(5):
            store(http, proxy, project)
    finally:
        for sk in idle:
            sk.close()

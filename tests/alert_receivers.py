"""Real receivers on loopback for alert delivery (tests/test_alerts.py, bench/alert-delay): an HTTP
server that records every POST and checks the webhook signature the way the README tells
receivers to, and an SMTP sink (aiosmtpd) that keeps every message."""
import hashlib
import hmac
import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from e2e import free_port

# How old a signed webhook may be before a receiver rejects it as a replay.
TOLERANCE_SECONDS = 300


def verify_signature(secret: str, header: str | None, body: bytes, now: float | None = None) -> bool:
    """The README's verification: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    if not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - t) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass
class Receipt:
    path: str
    headers: dict
    body: bytes
    at: float
    signed: bool | None  # None: the path has no secret to check

    def json(self):
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """POSTs to /fail/... get 500, to /slow/... wait 200 ms; a path with a secret in `secrets`
    must carry a valid signature (else 401, as a careful receiver answers)."""
    secrets: dict = field(default_factory=dict)
    receipts: list = field(default_factory=list)

    def start(self) -> "HttpReceiver":
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                secret = receiver.secrets.get(self.path)
                signed = None if secret is None else verify_signature(
                    secret, headers.get("x-crashcache-signature"), body)
                with receiver.lock:
                    receiver.receipts.append(Receipt(self.path, headers, body, time.time(), signed))
                if self.path.startswith("/slow/"):
                    time.sleep(0.2)
                status, answer = (500, b"receiver broke: try later") if self.path.startswith("/fail/") \
                    else (401, b"bad signature") if signed is False else (200, b"ok")
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list:
        with self.lock:
            return [r for r in self.receipts if r.path == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """An SMTP server on loopback (no TLS, no auth) that keeps each message it accepts."""

    def __init__(self):
        self.messages: list[tuple[str, list, EmailMessage]] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        parsed = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def start(self) -> "SmtpSink":
        self.controller.start()
        return self

    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def stop(self):
        self.controller.stop()


def wait_for(what: str, predicate, timeout: float = 30.0, every: float = 0.1):
    """Polls `predicate` until it returns something true (bounded); returns that."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(every)

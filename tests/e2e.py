"""Helpers of the end-to-end suite: the PostgreSQL cluster, the SQL helper, projects, the
ingest-proxy process, and checks every test shares. conftest.py turns them into fixtures.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pwd
import re
import shutil
import signal
import secrets
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import requests
from psycopg.rows import dict_row

REPO = Path(__file__).resolve().parent.parent
HARNESS = Path(os.environ.get("CRASHCACHE_SDK_HARNESS", REPO.parent / "shared" / "sdk-harness"))
PG_BIN = Path(os.environ.get("CRASHCACHE_PG_BIN", "/usr/lib/postgresql/15/bin"))
PROXY_BIN = Path(os.environ.get("CRASHCACHE_PROXY_BIN", REPO / "target" / "release" / "ingest-proxy"))
# The settings, authentication and roles every cluster of the tracker gets (scripts/run's too).
CLUSTER_CONF = REPO / "scripts" / "cluster.conf"
PG_HBA_CONF = REPO / "scripts" / "pg_hba.conf"
ROLES_SQL = REPO / "sql" / "roles.sql"

# Environment variables the proxy reads: never inherited from the caller's environment.
PROXY_VARS = (
    "CRASH_CACHE_HOST", "CRASH_CACHE_PORT", "DATABASE_URL", "DATABASE_POOL_SIZE",
    "DATABASE_ACQUIRE_TIMEOUT_MS", "DATABASE_CONNECT_TIMEOUT_MS", "MAX_COMPRESSED_PAYLOAD_BYTES",
    "MAX_UNCOMPRESSED_PAYLOAD_BYTES", "RATE_LIMIT_GLOBAL_PER_SECOND", "RATE_LIMIT_PER_IP_PER_SECOND",
    "RATE_LIMIT_PER_PROJECT_PER_SECOND", "RATE_LIMIT_BURST_MULTIPLIER", "TRUSTED_PROXIES",
    "PUBLIC_URL", "HEALTH_REFRESH_MS", "DATABASE_QUERY_TIMEOUT_MS", "LOG_FORMAT", "RUST_LOG",
)
HEX32 = re.compile(r"^[0-9a-f]{32}$")


# --------------------------------------------------------------------------- small helpers
def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict:
    """The caller's environment without proxy settings (HTTP or ingest-proxy) plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if k not in PROXY_VARS and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"<cannot read {path}: {e}>"


def new_session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # never route loopback traffic through an HTTP proxy of the environment
    return s


def new_event_id() -> str:
    return uuid.uuid4().hex


def as_uuid(event_id: str) -> uuid.UUID:
    return uuid.UUID(event_id)


# --------------------------------------------------------------------------- PostgreSQL
class Cluster:
    """A PostgreSQL 15 cluster of its own, loopback only, with pg_crashcache preloaded.

    `preload` adds libraries to the shared_preload_libraries of scripts/cluster.conf (e.g.
    auto_explain); `settings` adds lines to postgresql.conf, after everything else."""

    def __init__(self, name: str, workers: int = 2, preload: tuple[str, ...] = (),
                 settings: dict | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix=f"crashcache-{name}-"))
        self.pgdata = self.dir / "pgdata"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.workers = workers
        self.preload = tuple(preload)
        self.settings = dict(settings or {})
        # Every role logs in with a password over TCP (scripts/pg_hba.conf): the superuser for
        # the suite's own SQL, crashcache_proxy for the proxy.
        self.passwords = {"postgres": secrets.token_hex(16), "crashcache_proxy": secrets.token_hex(16)}
        self._root = os.geteuid() == 0
        if self._root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def _run(self, *cmd, timeout=120, check=True, stdin: str | None = None) -> subprocess.CompletedProcess:
        argv = [str(c) for c in cmd]
        if self._root:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.dir,
                           env=clean_env(PGPASSWORD=self.passwords["postgres"]), input=stdin)
        if check and p.returncode != 0:
            raise RuntimeError(f"{argv} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}\n"
                               f"--- postgres log ---\n{tail(self.log)}")
        return p

    def init(self, extension_version: str | None = None, with_extension: bool = True) -> "Cluster":
        """Creates, configures and starts the cluster, with database `crashcache` and the
        extension in it (at `extension_version` if given, else the default version), or an
        empty database `crashcache` (`with_extension=False`, to restore a dump into)."""
        pwfile = self.dir / "superuser.password"
        pwfile.write_text(self.passwords["postgres"] + "\n")
        if self._root:
            pw = pwd.getpwnam("postgres")
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        pwfile.chmod(0o600)
        self._run(PG_BIN / "initdb", "-D", self.pgdata, "-U", "postgres", "--pwfile", pwfile,
                  "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        pwfile.unlink()
        (self.pgdata / "pg_hba.conf").write_text(PG_HBA_CONF.read_text())
        owner = "postgres" if self._root else pwd.getpwuid(os.geteuid()).pw_name
        (self.pgdata / "pg_ident.conf").write_text(f"owner {owner} postgres\n")
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# pg_crashcache end-to-end tests\n"
                + CLUSTER_CONF.read_text()
                + "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.dir}'\n"
                f"crashcache.workers = {self.workers}\n"
                "max_connections = 100\n"
                + self._extra_conf()
            )
        self.start()
        self.psql("postgres", "CREATE DATABASE crashcache")
        if with_extension:
            self.create_extension("crashcache", extension_version)
            self.set_proxy_password()
            if extension_version is None:
                for login in ("crashcache_api_proxy", "crashcache_ui_proxy", "crashcache_alerts_proxy"):
                    self.set_password(login)
        return self

    def _extra_conf(self) -> str:
        """The lines `preload` and `settings` add to postgresql.conf (a later line wins)."""
        settings = dict(self.settings)
        if self.preload:
            found = re.search(r"^shared_preload_libraries\s*=\s*'([^']*)'", CLUSTER_CONF.read_text(), re.M)
            assert found, f"{CLUSTER_CONF} sets no shared_preload_libraries"
            settings = {"shared_preload_libraries": ",".join([found.group(1), *self.preload]), **settings}
        lines = []
        for name, value in settings.items():
            quoted = str(value).replace("'", "''")
            lines.append(f"{name} = '{quoted}'\n")
        return "".join(lines)

    def set_proxy_password(self):
        self.set_password("crashcache_proxy")

    def set_password(self, role: str) -> str:
        """Gives a login role a password (a new one unless it has one here) so that url(role=)
        connects as it."""
        password = self.passwords.setdefault(role, secrets.token_hex(16))
        self.psql("crashcache", f"ALTER ROLE {role} PASSWORD '{password}'")
        return password

    def create_extension(self, db: str, version: str | None = None):
        """The extension in `db` (at `version`, else the default one) with the roles' grants."""
        self.psql(db, "CREATE EXTENSION pg_crashcache" + (f" VERSION '{version}'" if version else ""))
        self.apply_roles(db)

    def apply_roles(self, db: str):
        """sql/roles.sql in `db`, as sql/setup.sql runs it after an install or an update."""
        self._run(*self._psql(db), "-f", "-", stdin=ROLES_SQL.read_text())

    def start(self):
        self._run(PG_BIN / "pg_ctl", "-D", self.pgdata, "-l", self.log, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast"):
        self._run(PG_BIN / "pg_ctl", "-D", self.pgdata, "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return self._run(PG_BIN / "pg_ctl", "-D", self.pgdata, "status", check=False).returncode == 0

    def _psql(self, db: str) -> tuple:
        """psql as the superuser on `db`, stopping at the first error."""
        return (PG_BIN / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", self.port,
                "-U", "postgres", "-d", db)

    def psql(self, db: str, command: str) -> str:
        return self._run(*self._psql(db), "-tAc", command).stdout

    def url(self, db: str = "crashcache", role: str = "postgres") -> str:
        """A connection URL for `role`: the superuser (the suite's own SQL), crashcache_proxy,
        or a role given a password by set_password()."""
        return f"postgres://{role}:{self.passwords[role]}@127.0.0.1:{self.port}/{db}"

    def destroy(self):
        try:
            if self.pgdata.exists() and self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ faults (test_faults.py)
    def restart(self, mode: str = "fast"):
        """`pg_ctl restart -m MODE`, waiting (bounded) until the server accepts connections."""
        self._run(PG_BIN / "pg_ctl", "-D", self.pgdata, "-l", self.log, "-m", mode, "-w", "-t", "60",
                  "restart")

    def backend_pids(self, backend_type: str) -> list[int]:
        """The pids pg_stat_activity shows for `backend_type` (e.g. 'pg_crashcache digest')."""
        literal = "'" + backend_type.replace("'", "''") + "'"
        out = self.psql("crashcache", "SELECT pid FROM pg_stat_activity"
                                      f" WHERE backend_type = {literal} ORDER BY pid")
        return [int(line) for line in out.split()]

    def kill_worker(self, sig: int = signal.SIGKILL) -> int:
        """Sends `sig` to one digest worker and returns its pid. SIGKILL makes the postmaster
        end every backend and go through crash recovery, as after any crashed backend."""
        pids = self.backend_pids("pg_crashcache digest")
        assert pids, "no digest worker in pg_stat_activity"
        os.kill(pids[0], sig)
        return pids[0]


class Sql:
    """psycopg in autocommit, rows as dicts; reconnects after the server went away."""

    def __init__(self, url: str):
        self.url = url
        self._conn = None

    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row,
                                         connect_timeout=5)
        return self._conn

    def rows(self, query: str, params=()) -> list[dict]:
        for attempt in (1, 2):
            try:
                with self.conn().cursor() as cur:
                    cur.execute(query, params)
                    return cur.fetchall() if cur.description else []
            except psycopg.OperationalError:
                if attempt == 2:
                    raise
                self.close()
        raise AssertionError("unreachable")

    def one(self, query: str, params=()) -> dict | None:
        r = self.rows(query, params)
        assert len(r) <= 1, f"expected at most one row, got {len(r)}: {r}"
        return r[0] if r else None

    def scalar(self, query: str, params=()):
        r = self.rows(query, params)
        return next(iter(r[0].values())) if r else None

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
        self._conn = None

    # ------------------------------------------------------------------ what tests ask often
    def queued(self, project_id: int) -> int:
        return self.scalar(
            "SELECT count(*) FROM crashcache.queue q JOIN crashcache.archive a ON a.id = q.archive_id"
            " WHERE a.project_id = %s", (project_id,))

    def wait_digested(self, project_id: int, timeout: float = 30.0) -> float:
        """Waits (bounded) until no payload of the project is queued; returns the seconds taken."""
        start = time.monotonic()
        while True:
            left = self.queued(project_id)
            if left == 0:
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                stats = self.rows("SELECT * FROM crashcache.stats()")
                raise AssertionError(f"project {project_id}: {left} payloads still queued after "
                                     f"{timeout}s; stats: {stats}")
            time.sleep(0.1)

    def queue_errors(self, project_id: int) -> list[dict]:
        return self.rows("SELECT archive_id, reason FROM crashcache.queue_error WHERE project_id = %s"
                         " ORDER BY archive_id", (project_id,))

    def event(self, project_id: int, event_id: str) -> dict | None:
        return self.one("SELECT * FROM crashcache.events WHERE project_id = %s AND event_id = %s",
                        (project_id, as_uuid(event_id)))


# --------------------------------------------------------------------------- projects
@dataclasses.dataclass
class Project:
    id: int
    key: str
    name: str

    def dsn(self, proxy: "Proxy") -> str:
        return f"http://{self.key}@127.0.0.1:{proxy.port}/{self.id}"

    def auth_header(self, client: str = "pytest/1.0") -> dict:
        return {"X-Sentry-Auth": f"Sentry sentry_key={self.key}, sentry_version=7, sentry_client={client}"}


def create_project(sql: Sql, prefix: str = "e2e") -> Project:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    r = sql.one("SELECT * FROM crashcache.create_project(%s)", (name,))
    assert r and HEX32.match(r["key"]), r
    return Project(id=r["id"], key=r["key"], name=name)


# --------------------------------------------------------------------------- the proxy
class Proxy:
    def __init__(self, env: dict, workdir: Path, ready_timeout: float = 20.0):
        self.port = int(env["CRASH_CACHE_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log = workdir / f"ingest-proxy-{self.port}.log"
        self._log_file = open(self.log, "wb")
        self.proc = subprocess.Popen([str(PROXY_BIN), "serve"], env=env, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float):
        deadline = time.monotonic() + timeout
        s = new_session()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ingest-proxy exited with {self.proc.returncode} before "
                                   f"answering:\n{self.log_text()}")
            try:
                s.get(self.url + "/health", timeout=1)
                return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ingest-proxy did not answer on {self.url} within {timeout}s:\n"
                                   f"{self.log_text()}")
            time.sleep(0.1)

    def log_text(self, lines: int = 80) -> str:
        self._log_file.flush()
        return tail(self.log, lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log_file.close()


def proxy_env(cluster: Cluster, port: int | None = None, **overrides) -> dict:
    port = port or free_port()
    env = clean_env(
        CRASH_CACHE_HOST="127.0.0.1",
        CRASH_CACHE_PORT=port,
        # The proxy's own role, never the superuser.
        DATABASE_URL=cluster.url(role="crashcache_proxy"),
        PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    # The Web API's role, when the cluster's extension has the API (0.1.2 on).
    # The Web API's and the web UI's roles, when the cluster has them. Alert delivery is off
    # unless a test turns it on (`alerts_env`): a delivering proxy shared by the suite would
    # claim the outbox rows that the detection tests assert on.
    passwords = getattr(cluster, "passwords", {})
    for login, setting in (("crashcache_api_proxy", "API_DATABASE_URL"),
                           ("crashcache_ui_proxy", "UI_DATABASE_URL")):
        if login in passwords:
            env[setting] = cluster.url(role=login)
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def alerts_env(cluster: Cluster, allowed_targets: str = "127.0.0.1/32") -> dict:
    """The settings that make a proxy deliver alerts, reaching loopback receivers only (the
    other private addresses stay refused)."""
    return {"ALERTS_DATABASE_URL": cluster.url(role="crashcache_alerts_proxy"),
            "ALERTS_ALLOWED_TARGETS": allowed_targets}


def start_proxy(cluster: Cluster, workdir: Path, **overrides) -> Proxy:
    if not PROXY_BIN.exists():
        raise RuntimeError(f"{PROXY_BIN} is missing: build it with "
                           "`cargo build --release -p ingest-proxy` (tests/run.sh does)")
    last = None
    for _ in range(3):  # a free port can be taken between free_port() and the bind: retry
        try:
            return Proxy(proxy_env(cluster, **overrides), workdir)
        except RuntimeError as e:
            last = e
            if "in use" not in str(e).lower():
                raise
    raise last


def run_cli(cluster: Cluster, *args, timeout: float = 60, **env) -> subprocess.CompletedProcess:
    """Runs `ingest-proxy ARGS` against the cluster and returns the finished process. The
    commands manage projects and archives: they connect as the superuser, as an operator does."""
    e = proxy_env(cluster, **{"DATABASE_URL": cluster.url(), **env})
    return subprocess.run([str(PROXY_BIN), *map(str, args)], env=e, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)




# --------------------------------------------------------------------------- shared checks
def assert_sentry_error(resp: requests.Response, *statuses: int) -> dict:
    """An error answer as the protocol wants it: one of `statuses`, JSON {"detail": ...}, an
    X-Sentry-Error header and the CORS header. Returns the JSON body."""
    where = f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.headers} {resp.text[:300]!r}"
    assert resp.status_code in statuses, where
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError(f"error answer is not JSON: {where}") from None
    assert isinstance(body, dict) and body.get("detail"), where
    assert resp.headers.get("X-Sentry-Error"), f"no X-Sentry-Error header: {where}"
    assert resp.headers.get("Access-Control-Allow-Origin"), f"no CORS header on an error: {where}"
    return body


def assert_accepted(resp: requests.Response, event_id: str | None) -> None:
    """A success answer: 200 with {"id": event_id} or {} when the payload holds no event."""
    where = f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text[:300]!r}"
    assert resp.status_code == 200, where
    body = resp.json()
    if event_id is None:
        assert body.get("id") is None, where
    else:
        assert body == {"id": event_id.replace("-", "")}, where


def envelope(header: dict, *items: tuple[dict, bytes | dict], with_length: bool = True) -> bytes:
    """Frames an envelope. Each item is (item header, payload); a dict payload is JSON-encoded.
    with_length=False leaves `length` out of JSON item headers, as @sentry/node does."""
    out = [json.dumps(header).encode()]
    for item_header, payload in items:
        h = dict(item_header)
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
            if with_length:
                h["length"] = len(payload)
        else:
            h["length"] = len(payload)
        out.append(json.dumps(h).encode())
        out.append(payload)
    return b"\n".join(out) + b"\n"
